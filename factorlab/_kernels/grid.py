"""Scatter and gather between long rows and a dense date x asset grid (the grid layer's
:class:`~factorlab.grid.GridIndex`), one pass each with no index temporaries."""

from __future__ import annotations

import numpy as np

from factorlab._kernels.jit import njit
from factorlab._kernels.parallel import empty, map_row_blocks

__all__ = [
    "all_finite",
    "copy_finite_nb",
    "ffill_rows_nb",
    "finite_without",
    "gather_cells_nb",
    "nan_cumsum_count_rows_nb",
    "nonfinite_to_nan_nb",
    "repeated_cell_nb",
    "scatter_cells_nb",
    "usable_cells",
    "views_repeated_nb",
]


@njit(cache=True, nogil=True)
def nonfinite_to_nan_nb(values):  # pragma: no cover - compiled
    """Set the non-finite cells of the float64 array ``values`` (1-d) to NaN in place, in one
    pass; returns ``(non-finite cells, infinite cells)``."""
    n_bad = 0
    n_inf = 0
    for i in range(values.shape[0]):
        v = values[i]
        if not np.isfinite(v):
            n_bad += 1
            if np.isinf(v):  # a NaN is left as it is
                n_inf += 1
                values[i] = np.nan
    return n_bad, n_inf


@njit(cache=True, nogil=True)
def copy_finite_nb(src, valid, bit0, out, start):  # pragma: no cover - compiled
    """``out[start:start + len(src)] = src`` (1-d float64) with every null, NaN and infinite
    value as NaN, in one pass; returns ``(non-finite values, infinite values)``, nulls counted
    as non-finite: the copy and the counts of :func:`nonfinite_to_nan_nb` without a second pass.

    ``valid`` is the Arrow validity bitmap (uint8, bit ``bit0 + i`` set = ``src[i]`` not null;
    an empty array: no nulls); a null's value is never read. A NaN is copied as it is."""
    n_bad = 0
    n_inf = 0
    masked = valid.shape[0] > 0
    for i in range(src.shape[0]):
        if masked:
            b = bit0 + i
            if not (valid[b >> 3] >> (b & 7)) & 1:
                n_bad += 1
                out[start + i] = np.nan
                continue
        v = src[i]
        if not np.isfinite(v):
            n_bad += 1
            if np.isinf(v):
                n_inf += 1
                v = np.nan
        out[start + i] = v
    return n_bad, n_inf


@njit(cache=True, nogil=True)
def views_repeated_nb(views, head, start):  # pragma: no cover - compiled
    """Does every row ``i`` of ``views`` equal ``head[(start + i) % len(head)]``? Both are
    (rows, 2) uint64: the 16-byte Arrow string views of a string column (length, then the
    bytes of a string of at most 12 bytes inline). Stops at the first difference."""
    n = head.shape[0]
    k = start % n
    for i in range(views.shape[0]):
        if views[i, 0] != head[k, 0] or views[i, 1] != head[k, 1]:
            return False
        k += 1
        if k == n:
            k = 0
    return True


def usable_cells(values, groups, returns_ok, need_returns):
    """One pass over a clean factor's (T, N) grids: the usable cells and what drops them.

    A cell is usable where ``values`` is finite, ``groups`` is finite (not checked when
    ``groups`` is (0, 0)) and, with ``need_returns``, ``returns_ok`` holds. Returns ``(usable,
    group_null, returns_null)``: ``group_null`` counts the finite cells without a group (only
    those with ``returns_ok`` when ``need_returns``), ``returns_null`` the finite cells without
    ``returns_ok``. Blocks of rows run on the threads
    (:func:`factorlab._kernels.parallel.map_row_blocks`)."""
    n_rows, n_cols = values.shape
    usable = empty((n_rows, n_cols), np.bool_)
    counts = {}

    def run(_, lo, hi):
        counts[lo] = _usable_cells_rows_nb(values, groups, returns_ok, need_returns, usable, lo, hi)

    map_row_blocks(run, (0,), n_rows, values.size)
    group_null = sum(int(c[0]) for c in counts.values())
    returns_null = sum(int(c[1]) for c in counts.values())
    return usable, group_null, returns_null


@njit(cache=True, nogil=True)
def _usable_cells_rows_nb(
    values, groups, returns_ok, need_returns, usable, lo, hi
):  # pragma: no cover - compiled
    """Rows ``lo:hi`` of :func:`usable_cells` into ``usable``; their two counts."""
    n_rows, n_cols = values.shape
    has_groups = groups.shape[0] == n_rows
    group_null = 0
    returns_null = 0
    for t in range(lo, hi):
        for j in range(n_cols):
            ok = np.isfinite(values[t, j])
            if ok:
                r_ok = returns_ok[t, j]
                returns_null += not r_ok
                if has_groups and not np.isfinite(groups[t, j]):
                    group_null += r_ok or not need_returns
                    ok = False
                if need_returns and not r_ok:
                    ok = False
            usable[t, j] = ok
    return group_null, returns_null


def finite_without(values, others):
    """For each grid of ``others`` (same shape as ``values``): the number of cells where
    ``values`` is finite and that grid is not. Every grid cut into blocks of rows on the
    threads (:func:`factorlab._kernels.parallel.map_row_blocks`)."""
    counts = {}

    def run(k, lo, hi):
        counts[k, lo] = _finite_without_rows_nb(values, others[k], lo, hi)

    map_row_blocks(run, range(len(others)), values.shape[0], values.size)
    return [sum(int(c) for (i, _), c in counts.items() if i == k) for k in range(len(others))]


@njit(cache=True, nogil=True)
def _finite_without_rows_nb(values, other, lo, hi):  # pragma: no cover - compiled
    """Rows ``lo:hi`` of :func:`finite_without` for one grid ``other``."""
    n = 0
    for t in range(lo, hi):
        for j in range(values.shape[1]):
            n += np.isfinite(values[t, j]) and not np.isfinite(other[t, j])
    return n


def all_finite(grids):
    """The cells where every grid of ``grids`` (same shape, at least one) is finite, a bool
    grid; blocks of rows on the threads (:func:`factorlab._kernels.parallel.map_row_blocks`)."""
    n_rows, n_cols = grids[0].shape
    ok = empty((n_rows, n_cols), np.bool_)

    def run(_, lo, hi):
        for k, grid in enumerate(grids):
            _and_finite_rows_nb(ok, grid, k == 0, lo, hi)

    map_row_blocks(run, (0,), n_rows, grids[0].size)
    return ok


@njit(cache=True, nogil=True)
def _and_finite_rows_nb(ok, grid, first, lo, hi):  # pragma: no cover - compiled
    """Rows ``lo:hi``: ``ok = isfinite(grid)`` (``first``) or ``ok &= isfinite(grid)``."""
    for t in range(lo, hi):
        for j in range(grid.shape[1]):
            f = np.isfinite(grid[t, j])
            ok[t, j] = f if first else (ok[t, j] and f)


@njit(cache=True, nogil=True)
def scatter_cells_nb(rows, cols, values, out):  # pragma: no cover - compiled
    """``out[rows[i], cols[i]] = values[i]`` for every i on the grid (rows and cols >= 0), in
    order (a repeated cell keeps the last value), as numpy's fancy assignment."""
    for i in range(rows.shape[0]):
        r = rows[i]
        c = cols[i]
        if r >= 0 and c >= 0:
            out[r, c] = values[i]


@njit(cache=True, nogil=True)
def gather_cells_nb(grid, rows, cols, out):  # pragma: no cover - compiled
    """``out[i] = grid[rows[i], cols[i]]`` for every i on the grid; other entries untouched."""
    for i in range(rows.shape[0]):
        r = rows[i]
        c = cols[i]
        if r >= 0 and c >= 0:
            out[i] = grid[r, c]


@njit(cache=True, nogil=True)
def repeated_cell_nb(rows, cols, seen):  # pragma: no cover - compiled
    """Does a cell on the grid (rows and cols >= 0) hold two rows? `seen`: a (T, N) boolean
    grid of False, marked as the rows are read (no flat-index or count temporaries)."""
    for i in range(rows.shape[0]):
        r = rows[i]
        c = cols[i]
        if r >= 0 and c >= 0:
            if seen[r, c]:
                return True
            seen[r, c] = True
    return False


@njit(cache=True, nogil=True)
def ffill_rows_nb(x, out, lag):  # pragma: no cover - compiled
    """Forward fill down each column of the (T, N) `x` into `out`: with ``lag`` False,
    ``out[t, j]`` = the last non-NaN ``x[s, j]`` with s <= t (the numpy ``ffill_rows``); with
    ``lag`` True, with s < t (``prev_valid_rows``); NaN where there is none. One pass over the
    rows, the last values carried in an (N,) buffer: the same values, copied."""
    n_t, n_a = x.shape
    last = np.full(n_a, np.nan)
    for t in range(n_t):
        for j in range(n_a):
            v = x[t, j]
            if lag:
                out[t, j] = last[j]
                if not np.isnan(v):
                    last[j] = v
            else:
                if not np.isnan(v):
                    last[j] = v
                out[t, j] = last[j]


@njit(cache=True, nogil=True)
def nan_cumsum_count_rows_nb(x):  # pragma: no cover - compiled
    """``(np.cumsum(np.nan_to_num(x), axis=0), np.cumsum(~np.isnan(x), axis=0))`` of a (T, N)
    float64 grid, in one pass."""
    n_t, n = x.shape
    s = np.empty((n_t, n))
    c = np.empty((n_t, n), dtype=np.int64)
    big = np.finfo(np.float64).max
    for t in range(n_t):
        for j in range(n):
            v = x[t, j]
            ok = not np.isnan(v)
            if v == np.inf:
                v = big
            elif v == -np.inf:
                v = -big
            if t == 0:
                s[t, j] = v if ok else 0.0
                c[t, j] = 1 if ok else 0
            else:
                s[t, j] = s[t - 1, j] + (v if ok else 0.0)
                c[t, j] = c[t - 1, j] + (1 if ok else 0)
    return s, c
