"""Scatter and gather between long rows and a dense date x asset grid (the grid layer's
:class:`~factorlab.grid.GridIndex`), one pass each with no index temporaries."""

from __future__ import annotations

from numba import njit

__all__ = ["gather_cells_nb", "scatter_cells_nb"]


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

