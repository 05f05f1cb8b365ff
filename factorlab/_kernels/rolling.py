"""Trailing windows over the assets' row runs of a long (asset, date)-sorted column, the values
of Polars' ``rolling_*(window, min_samples=window).over(asset)`` bit for bit.

The input is one float64 column (NaN = null: the operators' inputs are ``fill_nan(None)``)
cut into runs by ``offsets`` (run i is ``offsets[i]:offsets[i + 1]``, one asset, in time
order). Each run starts from a fresh state, as each ``over`` group does. The output is NaN
where Polars gives null. (No variance here: Polars' rolling variance did not reproduce bit for
bit, so ``ts_std`` stays a Polars window.)
"""

from __future__ import annotations

import numpy as np

from factorlab._kernels.jit import njit

__all__ = ["run_rolling_sum_nb", "run_shift_nb"]


@njit(cache=True, nogil=True)
def run_rolling_sum_nb(x, offsets, window, mean, out, valid):  # pragma: no cover - compiled
    """``out`` = the trailing `window`-row sum (`mean`: the mean) of each run of `x`; NaN
    where the window is not full or holds a missing value. Returns how many results are NaN
    although the window is full (a window holding +inf and -inf), and marks the full windows
    in `valid` when it has one entry per row (else `valid` is not touched).

    Polars' sliding ``SumWindow``: the window ``[max(a, t - window + 1), t + 1)`` of run
    ``a:b`` is updated by subtracting the rows that leave, then adding the rows that enter,
    each side compensated (Kahan) with its own error term; missing rows are skipped (counted),
    infinite ones counted apart (the sum is then +-inf, or NaN when both signs are in); a mean
    is the sum over the number of present rows. The same operations in the same order, so
    the same float64 results."""
    mark = valid.shape[0] == x.shape[0]
    if window == 1:  # each window is one row, summed from a fresh state: 0 + (v - 0)
        for t in range(x.shape[0]):
            v = x[t]
            out[t] = 0.0 + (v - 0.0)
            if mark:
                valid[t] = not np.isnan(v)
        return 0
    n_nan = 0
    for i in range(offsets.shape[0] - 1):
        a = offsets[i]
        b = offsets[i + 1]
        s = 0.0
        err_add = 0.0
        err_sub = 0.0
        n_null = 0
        n_inf = 0
        n_pos = 0
        n_neg = 0
        start = a
        for t in range(a, b):
            lo = t - window + 1
            if lo < a:
                lo = a
            while start < lo:  # the leaving rows
                v = x[start]
                if np.isnan(v):
                    n_null -= 1
                elif np.isinf(v):
                    n_inf -= 1
                    if v > 0:
                        n_pos -= 1
                    else:
                        n_neg -= 1
                else:
                    y = -v - err_sub
                    new = s + y
                    err_sub = (new - s) - y
                    s = new
                start += 1
            v = x[t]  # the entering row
            if np.isnan(v):
                n_null += 1
            elif np.isinf(v):
                n_inf += 1
                if v > 0:
                    n_pos += 1
                else:
                    n_neg += 1
            else:
                y = v - err_add
                new = s + y
                err_add = (new - s) - y
                s = new
            n = t + 1 - lo
            full = n >= window and n_null == 0
            if mark:
                valid[t] = full
            if not full:
                out[t] = np.nan
                continue
            if n_inf == 0:
                total = s
            elif n_inf == n_pos:
                total = np.inf
            elif n_inf == n_neg:
                total = -np.inf
            else:
                total = np.nan
                n_nan += 1
            out[t] = total / n if mean else total
    return n_nan


@njit(cache=True, nogil=True)
def run_shift_nb(x, offsets, periods, out, valid):  # pragma: no cover - compiled
    """``out[t]`` = `x` `periods` rows earlier in t's run (NaN in its first `periods` rows):
    Polars' ``shift(periods).over(asset)``. Returns 0 (a NaN result is always a missing
    value; `valid` is not used: the signature of :func:`run_rolling_sum_nb`)."""
    for i in range(offsets.shape[0] - 1):
        a = offsets[i]
        b = offsets[i + 1]
        for t in range(a, b):
            out[t] = x[t - periods] if t - periods >= a else np.nan
    return 0
