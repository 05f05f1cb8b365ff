"""Quantile membership turnover on a dense quantile grid."""

from __future__ import annotations

import numpy as np

from factorlab._kernels.jit import njit

__all__ = ["quantile_turnover_nb"]


def quantile_turnover_nb(quantile, n_quantiles, lag):
    """Share of each quantile's names that were not in it ``lag`` rows earlier.

    ``turnover[t, q-1] = |S_t \\ S_{t-lag}| / |S_t|`` with ``S_t`` the assets in quantile ``q``
    at row t (``quantile`` grid, 0 = none). Equals alphalens' ``quantile_turnover(q, lag)`` on
    its date grid: NaN when ``S_t`` or ``S_{t-lag}`` is empty, and for the first ``lag`` rows.
    Returns (n_dates, n_quantiles) float64.
    """
    n_rows = quantile.shape[0]
    size = np.zeros((n_rows, n_quantiles), np.int64)
    new = np.zeros((n_rows, n_quantiles), np.int64)
    out = np.empty((n_rows, n_quantiles))
    _quantile_turnover_nb(quantile, n_quantiles, lag, size, new, out)
    return out


@njit(cache=True, nogil=True)
def _quantile_turnover_nb(quantile, n_quantiles, lag, size, new, out):
    """:func:`quantile_turnover_nb` into ``out``; ``size`` / ``new`` are zeroed int64 counts."""
    n_rows, n_cols = quantile.shape
    for t in range(n_rows):
        for j in range(n_cols):
            q = quantile[t, j]
            if q > 0:
                size[t, q - 1] += 1
                if t >= lag and quantile[t - lag, j] != q:
                    new[t, q - 1] += 1
    for t in range(n_rows):
        for q in range(n_quantiles):
            out[t, q] = np.nan
            if t >= lag and size[t, q] > 0 and size[t - lag, q] > 0:
                out[t, q] = new[t, q] / size[t, q]
