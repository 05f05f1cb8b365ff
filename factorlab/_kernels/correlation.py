"""Per-date cross-sectional correlations: rank / Pearson IC and factor rank autocorrelation."""

from __future__ import annotations

import numpy as np

from factorlab._kernels.jit import njit
from factorlab._kernels.parallel import split_rows
from factorlab._kernels.rank import row_average_ranks_nb

__all__ = ["ic_rows_nb", "rank_autocorrelation_nb", "row_pearson_nb"]


@njit(cache=True, nogil=True)
def row_pearson_nb(x, y, use):
    """Pearson correlation of ``x[use]`` and ``y[use]`` (two-pass, clipped to [-1, 1]).

    NaN if fewer than 2 used cells or either side has zero variance (scipy / pandas give NaN).
    """
    n = 0
    sx = 0.0
    sy = 0.0
    for j in range(x.shape[0]):
        if use[j]:
            n += 1
            sx += x[j]
            sy += y[j]
    if n < 2:
        return np.nan
    mx = sx / n
    my = sy / n
    sxy = 0.0
    sxx = 0.0
    syy = 0.0
    for j in range(x.shape[0]):
        if use[j]:
            dx = x[j] - mx
            dy = y[j] - my
            sxy += dx * dy
            sxx += dx * dx
            syy += dy * dy
    if sxx == 0.0 or syy == 0.0:
        return np.nan
    r = sxy / np.sqrt(sxx * syy)
    return min(1.0, max(-1.0, r))


def ic_rows_nb(factor, f_order, f_ranks, mask, returns, r_order, rank, min_obs):
    """Per-date IC between the factor and one horizon's forward returns.

    ``rank=True``: Spearman with average ranks for ties, computed over the cells that are in
    ``mask`` and have a finite return (ranks recomputed on that subset); equals alphalens'
    ``factor_information_coefficient`` (``scipy.stats.spearmanr`` per date). ``rank=False``:
    Pearson on the raw values. ``f_order`` / ``r_order`` sort each row ascending (invalid cells
    last); ``f_ranks`` are the factor's average ranks over ``mask``, reused on rows where every
    mask cell has a return (pass a (0, 0) array to always recompute). Returns ``(ic, n)`` per
    date; ic is NaN when ``n < min_obs``. Blocks of rows run on the threads
    (:func:`factorlab._kernels.parallel.split_rows`).
    """
    n_rows, n_cols = factor.shape
    ic = np.empty(n_rows)
    counts = np.empty(n_rows, np.int64)
    full = f_ranks.shape[0] == n_rows
    split_rows(
        _ic_rows_nb,
        (factor, f_order, f_ranks, mask, returns, r_order, rank, min_obs, full, ic, counts),
        (0, 1, 2, 3, 4, 5, 9, 10) if full else (0, 1, 3, 4, 5, 9, 10),
        n_rows,
        n_cols,
        lambda: (
            np.empty(n_cols, np.bool_),
            np.empty(n_cols),
            np.empty(n_cols),
            np.empty(n_cols, np.int64),
        ),
    )
    return ic, counts


@njit(cache=True, nogil=True)
def _ic_rows_nb(
    factor,
    f_order,
    f_ranks,
    mask,
    returns,
    r_order,
    rank,
    min_obs,
    full,
    ic,
    counts,
    use,
    rf,
    rr,
    buf,
):
    """:func:`ic_rows_nb` into ``ic`` / ``counts``; ``full``: ``f_ranks`` holds the rows' ranks;
    the last four are scratch of a row's length (bool, float64, float64, int64)."""
    n_rows, n_cols = factor.shape
    for t in range(n_rows):
        ic[t] = np.nan
        n = 0
        n_mask = 0
        for j in range(n_cols):
            m = mask[t, j]
            u = m and np.isfinite(returns[t, j])
            use[j] = u
            n += u
            n_mask += m
        counts[t] = n
        if n < max(min_obs, 2):
            continue
        if rank:
            if n == n_mask and full:
                fr = f_ranks[t]
            else:
                row_average_ranks_nb(factor[t], f_order[t], use, rf, buf)
                fr = rf
            row_average_ranks_nb(returns[t], r_order[t], use, rr, buf)
            ic[t] = row_pearson_nb(fr, rr, use)
        else:
            ic[t] = row_pearson_nb(factor[t], returns[t], use)


def rank_autocorrelation_nb(ranks, lag):
    """Correlation of each date's factor ranks with those ``lag`` rows earlier.

    Equals alphalens' ``factor_rank_autocorrelation``: ranks per date over that date's cells
    (NaN = absent), then ``DataFrame.corrwith(shifted, axis=1)``: Pearson over the assets present
    on both dates, ranks not recomputed on the overlap. NaN for the first ``lag`` rows, with fewer
    than 2 common assets, or zero variance.
    """
    out = np.empty(ranks.shape[0])
    _rank_autocorrelation_nb(ranks, lag, out, np.empty(ranks.shape[1], np.bool_))
    return out


@njit(cache=True, nogil=True)
def _rank_autocorrelation_nb(ranks, lag, out, use):
    """:func:`rank_autocorrelation_nb` into ``out``; ``use`` is bool scratch of a row."""
    n_rows, n_cols = ranks.shape
    for t in range(min(lag, n_rows)):
        out[t] = np.nan
    for t in range(lag, n_rows):
        for j in range(n_cols):
            use[j] = ranks[t, j] == ranks[t, j] and ranks[t - lag, j] == ranks[t - lag, j]
        out[t] = row_pearson_nb(ranks[t], ranks[t - lag], use)
