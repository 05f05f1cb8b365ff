"""Per-book statistics of a timing grid over a slice of rows, one pass per book column."""

from __future__ import annotations

import numpy as np

from factorlab._kernels.jit import njit

__all__ = ["slice_moments_nb"]


@njit(cache=True, nogil=True)
def slice_moments_nb(r, logc, a, z):  # pragma: no cover - compiled
    """Per column j of the (T, B) returns `r` over rows ``a .. z-1``: the sum of r, the sum of
    r^2 and the log of the lowest NAV over its running peak (the max drawdown, in log), the
    peak starting at the NAV of row `a` - 1. `logc` (T + 1, B) is the cumulative log NAV
    (``logc[k]`` = sum of log1p(r) over rows < k). Equals ``r[a:z].sum(0)``,
    ``(r[a:z] ** 2).sum(0)`` and ``(logc[a+1:z+1] - maximum.accumulate(logc[a:z+1])[1:])
    .min(0)`` (tests/northbound/strategies/test_threshold_timing.py pins the statistics)."""
    n_b = r.shape[1]
    s1 = np.zeros(n_b)
    s2 = np.zeros(n_b)
    dd = np.zeros(n_b)
    for j in range(n_b):
        peak = logc[a, j]
        lo = 0.0
        t1 = 0.0
        t2 = 0.0
        for i in range(a, z):
            x = r[i, j]
            t1 += x
            t2 += x * x
            v = logc[i + 1, j]
            if v > peak:
                peak = v
            elif v - peak < lo:
                lo = v - peak
        s1[j] = t1
        s2[j] = t2
        dd[j] = lo
    return s1, s2, dd
