"""``import factorlab`` stays light: numba (and scipy, which numba imports), matplotlib, pandas
and pyarrow load only when used; the kernels are lazy (``factorlab._kernels.jit``) and still
behave as numba dispatchers: called from Python, called from another kernel, pickled, cached.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

HEAVY = ("numba", "scipy", "matplotlib", "pandas", "pyarrow", "factorlab.report")


def _modules_after(code: str) -> set[str]:
    """Top-level heavy modules present in ``sys.modules`` after running `code` in a fresh
    interpreter (this test's own process has them all loaded)."""
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env
    )
    return set(out.stdout.split())


def test_import_factorlab_loads_no_heavy_module() -> None:
    assert _modules_after("import factorlab") == set()


def test_the_public_submodules_load_no_heavy_module() -> None:
    code = "import factorlab as fl\nfl.evaluate, fl.ops, fl.datasets, fl.preprocess, fl.pools"
    assert _modules_after(code) == set()


def test_the_probe_sees_a_heavy_import() -> None:
    """The check above can fail: a first kernel call imports numba (and with it scipy)."""
    code = (
        "import numpy as np\n"
        "from factorlab._kernels import forward_return_grid\n"
        "forward_return_grid(np.ones((3, 2)), 1, 0)"
    )
    assert {"numba", "scipy"} <= _modules_after(code)


def test_a_lazy_kernel_computes_and_calls_kernels_inside() -> None:
    from factorlab._kernels import ic_rows
    from factorlab._kernels.correlation import _ic_rows_nb
    from factorlab._kernels.jit import LazyKernel
    from factorlab._kernels.rank import row_order

    assert isinstance(_ic_rows_nb, LazyKernel)
    rng = np.random.default_rng(3)
    factor = rng.normal(size=(4, 30))
    returns = rng.normal(size=(4, 30))
    mask = np.ones((4, 30), bool)
    # the kernel calls row_average_ranks_nb and row_pearson_nb, two other lazy kernels
    ic, n = ic_rows(
        factor,
        row_order(factor, mask),
        np.empty((0, 0)),
        mask,
        returns,
        row_order(returns, mask),
        True,
        2,
    )
    ranks = lambda x: np.argsort(np.argsort(x, axis=1), axis=1).astype(float)  # noqa: E731
    expected = [np.corrcoef(a, b)[0, 1] for a, b in zip(ranks(factor), ranks(returns), strict=True)]
    np.testing.assert_allclose(ic, expected, rtol=0, atol=1e-12)
    assert n.tolist() == [30] * 4
    assert _ic_rows_nb.signatures  # a dispatcher attribute, forwarded


def test_threads_at_a_kernels_first_call_share_one_dispatcher(monkeypatch) -> None:
    """Threads that reach a kernel's first call together each build a dispatcher, but all get
    the first one stored back (two would each load the same signature from the cache)."""
    import threading

    import numba

    from factorlab._kernels.jit import LazyKernel

    def twice(x):
        return 2 * x

    kernel = LazyKernel(twice, {"cache": False})
    barrier = threading.Barrier(4)
    real = numba.njit

    def slow_njit(**options):  # every thread builds its own before any stores it
        barrier.wait(timeout=30)
        return real(**options)

    monkeypatch.setattr(numba, "njit", slow_njit)
    got: list = [None] * 4

    def first_call(i: int) -> None:
        got[i] = kernel.dispatcher()

    threads = [threading.Thread(target=first_call, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert all(d is got[0] for d in got) and got[0] is not None
    assert kernel._dispatcher is got[0] and kernel(21) == 42


def test_a_lazy_kernel_pickles_by_reference() -> None:
    from factorlab._kernels.rank import row_average_ranks_nb

    assert pickle.loads(pickle.dumps(row_average_ranks_nb)) is row_average_ranks_nb


def test_warmup_runs_the_evaluation_and_the_cli_command(capsys) -> None:
    from factorlab.cli import main
    from factorlab.evaluate.warmup import Warmup, warmup, warmup_panel

    frame = warmup_panel()
    assert frame.height == 40 * 60 and frame["factor"].null_count() > 0
    result = warmup()
    assert isinstance(result, Warmup) and result.seconds > 0
    assert main(["warmup", "--evaluate-only"]) == 0
    out = capsys.readouterr().out
    assert "kernels ready" in out and "northbound study" not in out


def test_the_study_warmup_leaves_nothing_behind(tmp_path, monkeypatch, capsys) -> None:
    import tempfile

    from factorlab.cli import main

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    cache = tmp_path / "cache"
    monkeypatch.setenv("FACTORLAB_CACHE", str(cache))
    assert main(["warmup"]) == 0
    out = capsys.readouterr().out
    assert "kernels ready" in out and "generator and northbound study: Warmup(" in out
    # the tiny market lived in its own temporary directory, now removed; no cache written
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_the_package_face_is_lazy_and_every_public_name_resolves() -> None:
    """``import factorlab`` loads only its face (PEP 562): no submodule, not even Polars; each
    name of ``__all__`` then resolves to the object its module defines."""
    probe = (
        "import sys, factorlab as fl\n"
        "print(sorted(m for m in sys.modules if m.startswith('factorlab.') or m == 'polars'))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.split() == ["['factorlab._version']"]
    import importlib

    import factorlab as fl

    for name in fl.__all__:
        value = getattr(fl, name)
        if name == "__version__":
            continue
        module = importlib.import_module(fl._LAZY[name])
        assert value is (module if fl._LAZY[name] == f"factorlab.{name}" else getattr(module, name))
    assert set(fl.__all__) == {*fl._LAZY, "__version__"} and set(fl.__all__) <= set(dir(fl))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        fl.nope  # noqa: B018


def _run_fresh(code: str, timeout: float = 120) -> str:
    """`code`'s output in a fresh interpreter, on two threads (whatever CPUs the runner has)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "FACTORLAB_THREADS": "2"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=timeout,
    )
    return out.stdout.strip()


def test_start_numba_loads_it_on_one_thread_and_kernels_still_compute() -> None:
    code = """
import sys, threading
import numpy as np
from factorlab._kernels import jit
from factorlab._kernels.correlation import row_pearson_nb
names = []
start = threading.Thread.start
def counted(self):
    names.append(self.name)
    start(self)
threading.Thread.start = counted
barrier = threading.Barrier(8)
def call():
    barrier.wait()
    jit.start_numba()
callers = [threading.Thread(target=call) for _ in range(8)]
for c in callers:
    c.start()
for c in callers:
    c.join()
jit.start_numba()
t = jit._STARTER.thread
t.join(60)
print(t.name, t.is_alive(), 'numba.np.arraymath' in sys.modules, names.count(t.name))
x = np.array([1.0, 2.0, 4.0])
print(round(row_pearson_nb(x, 2 * x, np.ones(3, np.bool_)), 12))
"""
    first, value = _run_fresh(code).splitlines()
    assert first == "factorlab-numba-start False True 1"  # one starter for nine calls
    assert value == "1.0"


@pytest.mark.parametrize("threads", ["1", " 1 ", "01", "0", "abc"])
def test_start_numba_is_off_on_one_thread_or_a_bad_setting(threads) -> None:
    code = f"""
import os, sys
os.environ['FACTORLAB_THREADS'] = {threads!r}
from factorlab._kernels import jit
jit.start_numba()
print(jit._STARTER.thread is None, 'numba' in sys.modules)
"""
    assert _run_fresh(code) == "True False"


def test_a_first_kernel_call_while_numba_starts_does_not_deadlock() -> None:
    """The main thread builds its first dispatcher (numba's target-context lock, then the
    compiler lock) while the starter runs: the starter must take them in the same order. The
    main thread's context build is slowed to hold its lock while the starter begins."""
    code = """
import threading, time
import numpy as np
from numba.core import cpu
from factorlab._kernels import jit
from factorlab._kernels.correlation import row_pearson_nb
build = cpu.CPUContext.__init__
def slow(self, *args, **kwargs):
    if threading.current_thread() is threading.main_thread():
        time.sleep(0.5)
    build(self, *args, **kwargs)
cpu.CPUContext.__init__ = slow
threading.Timer(0.1, jit.start_numba).start()
x = np.array([1.0, 2.0, 4.0])
print(round(row_pearson_nb(x, 2 * x, np.ones(3, np.bool_)), 12))
"""
    assert _run_fresh(code, timeout=60) == "1.0"


def test_a_fork_right_after_start_numba_waits_for_it_and_the_child_runs_kernels() -> None:
    """The fork hook joins the starting thread: a child must not inherit numba's import or
    compiler lock held by a thread that does not exist there (it would hang at its first
    kernel)."""
    code = """
import os, sys
import numpy as np
from factorlab._kernels import jit
from factorlab._kernels.correlation import row_pearson_nb
jit.start_numba()
pid = os.fork()
if pid == 0:
    x = np.array([1.0, 2.0, 4.0])
    ok = abs(row_pearson_nb(x, -x, np.ones(3, np.bool_)) + 1.0) < 1e-12
    os._exit(0 if ok else 3)
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status), jit._STARTER.thread.is_alive())
"""
    if not hasattr(os, "fork"):
        pytest.skip("no os.fork on this platform")
    assert _run_fresh(code) == "0 False"
