"""Quantile membership turnover on a dense quantile grid."""

from __future__ import annotations

import numpy as np

from factorlab._kernels.jit import njit
from factorlab._kernels.parallel import map_row_blocks

__all__ = ["quantile_turnover_grid", "quantile_turnover_grids"]


def quantile_turnover_grid(quantile, n_quantiles, lag):
    """Share of each quantile's names that were not in it ``lag`` rows earlier.

    ``turnover[t, q-1] = |S_t \\ S_{t-lag}| / |S_t|`` with ``S_t`` the assets in quantile ``q``
    at row t (``quantile`` grid, 0 = none). Equals alphalens' ``quantile_turnover(q, lag)`` on
    its date grid: NaN when ``S_t`` or ``S_{t-lag}`` is empty, and for the first ``lag`` rows.
    Returns (n_dates, n_quantiles) float64.
    """
    return quantile_turnover_grids(quantile, n_quantiles, (lag,))[0]


def quantile_turnover_grids(quantile, n_quantiles, lags):
    """:func:`quantile_turnover_grid` for each of ``lags``: a list of grids, every lag cut into
    blocks of rows on the threads (:func:`factorlab._kernels.parallel.map_row_blocks`)."""
    n_rows = quantile.shape[0]
    outs = [np.empty((n_rows, n_quantiles)) for _ in lags]

    def run(k, lo, hi):
        _quantile_turnover_nb(quantile, n_quantiles, lags[k], outs[k], lo, hi)

    map_row_blocks(run, range(len(lags)), n_rows, quantile.size)
    return outs


@njit(cache=True, nogil=True)
def _quantile_turnover_nb(quantile, n_quantiles, lag, out, lo, hi):
    """Rows ``lo:hi`` of :func:`quantile_turnover_grid` into ``out``: the counts of rows
    ``lo - lag`` to ``hi`` in the block's own scratch."""
    n_cols = quantile.shape[1]
    first = max(0, lo - lag)
    size = np.zeros((hi - first, n_quantiles), np.int64)
    new = np.zeros((hi - first, n_quantiles), np.int64)
    for t in range(first, hi):
        for j in range(n_cols):
            q = quantile[t, j]
            if q > 0:
                size[t - first, q - 1] += 1
                if t >= lo and t >= lag and quantile[t - lag, j] != q:
                    new[t - first, q - 1] += 1
    for t in range(lo, hi):
        for q in range(n_quantiles):
            out[t, q] = np.nan
            if t >= lag and size[t - first, q] > 0 and size[t - lag - first, q] > 0:
                out[t, q] = new[t - first, q] / size[t - first, q]
