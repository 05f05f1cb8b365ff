"""Small dense-array helpers shared by every layer (a leaf module: it imports only numpy and
its numba kernel, :mod:`factorlab._kernels.grid`)."""

from __future__ import annotations

import numpy as np

from factorlab._kernels.grid import column_cells_nb, column_gather_nb, ffill_rows_nb

__all__ = ["ColumnCells", "ffill_rows", "prev_valid_rows"]


def ffill_rows(x: np.ndarray) -> np.ndarray:
    """Forward-fill NaN down each column of a (T, N) array (leading NaN stay NaN)."""
    if x.ndim == 2 and x.dtype == np.float64:  # one pass, no (T, N) index temporary
        out = np.empty(x.shape)
        ffill_rows_nb(x, out, False)
        return out
    idx = np.where(np.isnan(x), 0, np.arange(x.shape[0])[:, None])
    np.maximum.accumulate(idx, axis=0, out=idx)
    return x[idx, np.arange(x.shape[1])[None, :]]


def prev_valid_rows(x: np.ndarray) -> np.ndarray:
    """For each row, the last non-NaN value strictly before it in the column (NaN if none)."""
    if x.ndim == 2 and x.dtype == np.float64:
        out = np.empty(x.shape)
        ffill_rows_nb(x, out, True)
        return out
    out = np.full_like(x, np.nan)
    out[1:] = ffill_rows(x)[:-1]
    return out


class ColumnCells:
    """The True cells of a (T, N) boolean mask in column-major order (``np.nonzero(mask.T)``'s
    order: column by column, rows ascending), and gathers of (T, N) float64 grids at them.

    Built and gathered in row-major passes over the grids (numba): the same values as
    ``rows, cols = np.nonzero(mask.T)[::-1]`` and ``grid[rows, cols]``, without a strided
    read per element (one cache line, and one page, per element on a date-major grid of
    thousands of assets).
    """

    def __init__(self, mask: np.ndarray) -> None:
        self.mask = np.ascontiguousarray(mask, dtype=np.bool_)
        counts = self.mask.sum(axis=0)
        self.starts = np.zeros(counts.shape[0], dtype=np.int64)
        np.cumsum(counts[:-1], out=self.starts[1:])
        self.size = int(counts.sum())
        self.rows = np.empty(self.size, dtype=np.int64)
        self.cols = np.empty(self.size, dtype=np.int64)
        column_cells_nb(self.mask, self.starts, self.rows, self.cols)

    def gather(self, grid: np.ndarray) -> np.ndarray:
        """`grid` (T, N) at the cells, in their order."""
        if grid.dtype != np.float64 or grid.shape != self.mask.shape:
            return grid[self.rows, self.cols]
        out = np.empty(self.size)
        column_gather_nb(np.ascontiguousarray(grid), self.mask, self.starts, out)
        return out
