"""factorlab._kernels.heap.reuse_freed: freed large grids are reused without page faults."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from factorlab._kernels.heap import reuse_freed

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="glibc's mallopt")

SHAPE = (1_000, 8_192)  # 64 MiB: above glibc's largest dynamic mmap threshold (32 MiB)


#: measured in a fresh interpreter: the allocator's state in the test process depends on the
#: tests before (free heap chunks left resident by a generation serve a 64 MiB grid with no fault)
_PROBE = """
import json, resource
import numpy as np
from factorlab._kernels.heap import reuse_freed
from factorlab._kernels.parallel import small_pages

def faults(rounds):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for i in range(rounds):
        a = np.empty(GRID)
        a.fill(float(i))
        assert a[-1, -1] == float(i)
        del a
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

with small_pages():
    plain = faults(6)
    with reuse_freed() as applies:
        reused = faults(6)
    after = faults(6)
print(json.dumps([applies, plain, reused, after]))
""".replace("GRID", repr(SHAPE))


def test_reuse_freed_skips_the_faults_of_fresh_grids():
    pages = SHAPE[0] * SHAPE[1] * 8 // 4096  # 16,384 small pages per grid
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True
    )
    applies, plain, reused, after = json.loads(done.stdout.strip().splitlines()[-1])
    assert applies
    assert plain >= 5 * pages  # every fresh grid faults its pages in
    assert reused <= 2 * pages  # the first grid faults, the next ones reuse its pages
    assert after >= 5 * pages  # the defaults are back: fresh mmaps again


def test_reuse_freed_nests_and_keeps_values():
    with reuse_freed(), reuse_freed():
        a = np.arange(2_000_000, dtype=np.float64)
    assert a.sum() == 1_999_999 * 2_000_000 / 2


def test_nesting_switches_once_and_back_at_the_last_close_across_threads():
    import threading

    from factorlab._kernels.heap import _Nesting

    calls: list[str] = []
    n = _Nesting()
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        n.open(lambda: calls.append("on"))
        inside.set()
        release.wait(5)
        n.close(lambda: calls.append("off"))

    t = threading.Thread(target=other)
    t.start()
    inside.wait(5)
    n.open(lambda: calls.append("on"))  # already switched by the other thread
    n.close(lambda: calls.append("off"))  # the other thread's block is still open
    assert calls == ["on"]
    release.set()
    t.join(5)
    assert calls == ["on", "off"]


def test_a_forked_child_drops_the_blocks_other_threads_held_open():
    """After a fork only the forking thread lives on: another thread's open block would keep the
    child's thresholds switched for good; the forking thread's own block is kept (it closes it)."""
    import threading

    from factorlab._kernels.heap import _Nesting

    def held_by_other_thread(n: _Nesting) -> threading.Event:
        inside, release = threading.Event(), threading.Event()

        def other() -> None:
            n.open(lambda: None)
            inside.set()
            release.wait(5)

        threading.Thread(target=other, daemon=True).start()
        inside.wait(5)
        return release

    backs: list[str] = []
    n = _Nesting()
    release = held_by_other_thread(n)
    n.after_fork_in_child(lambda: backs.append("back"))  # as the fork hook runs in a child
    assert backs == ["back"] and n._open == {}
    release.set()

    n = _Nesting()
    release = held_by_other_thread(n)
    n.open(lambda: None)  # the forking thread's own block
    n.after_fork_in_child(lambda: backs.append("again"))
    assert backs == ["back"] and n._open == {threading.get_ident(): 1}
    n.close(lambda: backs.append("closed"))
    assert backs == ["back", "closed"]
    release.set()
