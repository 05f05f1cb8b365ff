"""factorlab._kernels.heap.reuse_freed: freed large grids are reused without page faults."""

from __future__ import annotations

import resource
import sys

import numpy as np
import pytest

from factorlab._kernels.heap import reuse_freed
from factorlab._kernels.parallel import small_pages

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="glibc's mallopt")

SHAPE = (1_000, 8_192)  # 64 MiB: above glibc's largest dynamic mmap threshold (32 MiB)


def _faults(rounds: int) -> int:
    """Minor page faults of `rounds` fresh grids, each filled and freed."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for i in range(rounds):
        a = np.empty(SHAPE)
        a.fill(float(i))
        assert a[-1, -1] == float(i)
        del a
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def test_reuse_freed_skips_the_faults_of_fresh_grids():
    pages = SHAPE[0] * SHAPE[1] * 8 // 4096  # 16,384 small pages per grid
    with small_pages():
        plain = _faults(6)
        with reuse_freed() as applies:
            reused = _faults(6)
        after = _faults(6)
    assert applies
    assert plain >= 5 * pages  # every fresh grid faults its pages in
    assert reused <= 2 * pages  # the first grid faults, the next ones reuse its pages
    assert after >= 5 * pages  # the defaults are back: fresh mmaps again


def test_reuse_freed_nests_and_keeps_values():
    with reuse_freed(), reuse_freed():
        a = np.arange(2_000_000, dtype=np.float64)
    assert a.sum() == 1_999_999 * 2_000_000 / 2
