"""Per-date cross-sectional correlations: rank / Pearson IC and factor rank autocorrelation."""

from __future__ import annotations

import numpy as np

from factorlab._kernels.jit import njit
from factorlab._kernels.parallel import map_row_blocks, split_rows
from factorlab._kernels.rank import row_average_ranks_nb, sort_row_nb

__all__ = ["ic_rows", "rank_autocorrelation", "rank_autocorrelations_by_lag", "row_pearson_nb"]


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


def ic_rows(factor, f_order, f_ranks, mask, returns, r_order, rank, min_obs):
    """Per-date IC between the factor and one horizon's forward returns.

    ``rank=True``: Spearman with average ranks for ties, computed over the cells that are in
    ``mask`` and have a finite return (ranks recomputed on that subset); equals alphalens'
    ``factor_information_coefficient`` (``scipy.stats.spearmanr`` per date). ``rank=False``:
    Pearson on the raw values. ``f_order`` / ``r_order`` sort each row ascending (invalid cells
    last); ``r_order=None`` sorts each row's used returns inside the kernel, on the row's thread
    (one pass, no order grid: the ranks are the same, as they depend on the used values alone);
    ``f_ranks`` are the factor's average ranks over ``mask``, reused on rows where every mask
    cell has a return (pass a (0, 0) array to always recompute). Returns ``(ic, n)`` per date;
    ic is NaN when ``n < min_obs``. Blocks of rows run on the threads
    (:func:`factorlab._kernels.parallel.split_rows`).
    """
    n_rows, n_cols = factor.shape
    ic = np.empty(n_rows)
    counts = np.empty(n_rows, np.int64)
    full = f_ranks.shape[0] == n_rows
    if r_order is None:
        r_order = _NO_ORDER
        bits = np.ascontiguousarray(returns, dtype=np.float64).view(np.uint64)
    else:
        bits = _NO_BITS
    sort = bits.shape[0] == n_rows
    rows = [0, 1, 3, 4] + ([2] if full else []) + ([6] if sort else [5]) + [11, 12]
    split_rows(
        _ic_rows_nb,
        (
            factor,
            f_order,
            f_ranks,
            mask,
            returns,
            r_order,
            bits,
            rank,
            min_obs,
            full,
            sort,
            ic,
            counts,
        ),
        tuple(sorted(rows)),
        n_rows,
        n_cols,
        lambda: (
            np.empty(n_cols, np.bool_),
            np.empty(n_cols),
            np.empty(n_cols),
            np.empty(n_cols, np.int64),
            *_sort_scratch(n_cols if sort else 0),
        ),
    )
    return ic, counts


_NO_ORDER = np.zeros((0, 0), np.int32)
_NO_BITS = np.zeros((0, 0), np.uint64)


def _sort_scratch(n: int) -> tuple:
    """:func:`~factorlab._kernels.rank.sort_row_nb`'s scratch and output row for `n` cells."""
    u64 = np.empty((3, n), np.uint64)
    i32 = np.empty((3, n), np.int32)
    return u64[0], u64[1], i32[0], u64[2], i32[1], np.empty((8, 256), np.int64), i32[2]


@njit(cache=True, nogil=True)
def _ic_rows_nb(
    factor,
    f_order,
    f_ranks,
    mask,
    returns,
    r_order,
    bits,
    rank,
    min_obs,
    full,
    sort,
    ic,
    counts,
    use,
    rf,
    rr,
    buf,
    keys,
    keys0,
    idx,
    tmp_k,
    tmp_i,
    hist,
    ro,
):
    """:func:`ic_rows` into ``ic`` / ``counts``; ``full``: ``f_ranks`` holds the rows' ranks;
    ``sort``: sort the used returns of each row (``bits``, their uint64 view) into ``ro``
    instead of reading ``r_order``; the rest are scratch of a row's length (bool, float64,
    float64, int64, then :func:`~factorlab._kernels.rank.sort_row_nb`'s)."""
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
            if sort:
                sort_row_nb(bits[t], use, ro, keys, keys0, idx, tmp_k, tmp_i, hist)
                row_average_ranks_nb(returns[t], ro, use, rr, buf)
            else:
                row_average_ranks_nb(returns[t], r_order[t], use, rr, buf)
            ic[t] = row_pearson_nb(fr, rr, use)
        else:
            ic[t] = row_pearson_nb(factor[t], returns[t], use)


def rank_autocorrelation(ranks, lag):
    """Correlation of each date's factor ranks with those ``lag`` rows earlier.

    Equals alphalens' ``factor_rank_autocorrelation``: ranks per date over that date's cells
    (NaN = absent), then ``DataFrame.corrwith(shifted, axis=1)``: Pearson over the assets present
    on both dates, ranks not recomputed on the overlap. NaN for the first ``lag`` rows, with fewer
    than 2 common assets, or zero variance.
    """
    return rank_autocorrelations_by_lag(ranks, (lag,))[0]


def rank_autocorrelations_by_lag(ranks, lags):
    """:func:`rank_autocorrelation` for each of ``lags``: a list of (n_dates,) arrays, every
    lag cut into blocks of rows on the threads
    (:func:`factorlab._kernels.parallel.map_row_blocks`)."""
    outs = [np.empty(ranks.shape[0]) for _ in lags]

    def run(k, lo, hi):
        use = np.empty(ranks.shape[1], np.bool_)
        _rank_autocorrelation_nb(ranks, lags[k], outs[k], use, lo, hi)

    map_row_blocks(run, range(len(lags)), ranks.shape[0], ranks.size)
    return outs


@njit(cache=True, nogil=True)
def _rank_autocorrelation_nb(ranks, lag, out, use, lo, hi):
    """Rows ``lo:hi`` of :func:`rank_autocorrelation` into ``out``; ``use`` is bool scratch
    of a row."""
    n_cols = ranks.shape[1]
    for t in range(lo, min(lag, hi)):
        out[t] = np.nan
    for t in range(max(lag, lo), hi):
        for j in range(n_cols):
            use[j] = ranks[t, j] == ranks[t, j] and ranks[t - lag, j] == ranks[t - lag, j]
        out[t] = row_pearson_nb(ranks[t], ranks[t - lag], use)
