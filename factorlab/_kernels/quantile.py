"""Per-date quantile assignment on dense grids: ``pd.qcut``-compatible and tie-robust buckets."""

from __future__ import annotations

import numpy as np

from factorlab._kernels.jit import njit
from factorlab._kernels.parallel import empty, split_rows

__all__ = ["qcut_rows", "rank_buckets_nb"]


@njit(cache=True, nogil=True)
def _lerp(a, b, t):
    """numpy's ``_lerp`` (used by ``np.quantile(method="linear")``), bit for bit."""
    diff = b - a
    if t >= 0.5:
        return b - diff * (1.0 - t)
    return a + diff * t


def qcut_rows(values, order, mask, probs):
    """``pd.qcut(x, q, labels=False) + 1`` per row over the cells in ``mask``.

    Equals the ``factor_quantile`` of alphalens' ``get_clean_factor`` (``binning_by_group=False``):
    edges are ``np.quantile(x, probs, method="linear")`` (``probs`` as pandas builds them), bins
    are right-closed with the lowest edge included. A row whose edges are not unique is what
    alphalens drops ("Bin edges must be unique"): all its cells get 0 and ``dropped[t]`` is True.
    Also returns the average ranks of the kept cells (NaN elsewhere), read off the same sorted
    walk: ``(quantile int8 grid, 0 = none; dropped bool per row; ranks float64 grid)``. Blocks
    of rows run on the threads (:func:`factorlab._kernels.parallel.split_rows`).
    """
    n_rows, n_cols = values.shape
    probs = np.ascontiguousarray(probs, dtype=np.float64)
    out = empty((n_rows, n_cols), np.int8)
    ranks = empty((n_rows, n_cols))
    dropped = np.empty(n_rows, np.bool_)
    split_rows(
        _qcut_rows_nb,
        (values, order, mask, probs, out, dropped, ranks),
        (0, 1, 2, 4, 5, 6),
        n_rows,
        n_cols,
        lambda: (np.empty(n_cols), np.empty(n_cols, np.int64), np.empty(probs.shape[0])),
    )
    return out, dropped, ranks


@njit(cache=True, nogil=True)
def _qcut_rows_nb(values, order, mask, probs, out, dropped, ranks, sorted_vals, cells, edges):
    """:func:`qcut_rows` into ``out`` / ``dropped`` / ``ranks``; the last three are scratch
    (float64 and int64 of a row's length, float64 of the edges' length)."""
    n_rows, n_cols = values.shape
    n_edges = probs.shape[0]
    for t in range(n_rows):
        dropped[t] = False
        for j in range(n_cols):
            out[t, j] = 0
            ranks[t, j] = np.nan
        n = 0
        for i in range(n_cols):
            j = order[t, i]
            if mask[t, j]:
                cells[n] = j
                sorted_vals[n] = values[t, j]
                n += 1
        if n == 0:
            continue
        for k in range(n_edges):
            virtual = (n - 1) * probs[k]
            if virtual >= n - 1:
                edges[k] = sorted_vals[n - 1]
            else:
                lo = int(np.floor(virtual))
                edges[k] = _lerp(sorted_vals[lo], sorted_vals[lo + 1], virtual - lo)
        unique = True
        for k in range(1, n_edges):
            if edges[k] == edges[k - 1]:
                unique = False
        if not unique and n_edges != 2:
            dropped[t] = True
            continue
        k = 0
        for i in range(n):
            x = sorted_vals[i]
            while k < n_edges and edges[k] < x:
                k += 1
            out[t, cells[i]] = max(k, 1)
        i = 0
        while i < n:
            e = i + 1
            while e < n and sorted_vals[e] == sorted_vals[i]:
                e += 1
            r = (i + 1 + e) / 2.0
            for m in range(i, e):
                ranks[t, cells[m]] = r
            i = e


@njit(cache=True, nogil=True)
def rank_buckets_nb(ranks, counts, n_buckets):
    """Tie-robust buckets from per-row average ranks: ``max(1, ceil(q * (r - 1) / (n - 1)))``.

    Tied values share their average rank and hence a bucket; no row is dropped. Without ties this
    is ``pd.qcut``'s assignment with exact (not floating-point) edges. Integer arithmetic on
    doubled ranks keeps it exact. A row with one valid cell puts it in bucket 1. ``ranks`` is NaN
    outside the valid cells; ``counts[t]`` is the number of valid cells of row t.
    """
    n_rows, n_cols = ranks.shape
    out = np.zeros((n_rows, n_cols), np.int8)
    for t in range(n_rows):
        n = counts[t]
        if n == 0:
            continue
        den = 2 * (n - 1)
        for j in range(n_cols):
            r = ranks[t, j]
            if r == r:
                if n == 1:
                    out[t, j] = 1
                else:
                    num = n_buckets * (int(2.0 * r) - 2)
                    out[t, j] = max(1, (num + den - 1) // den)
    return out
