"""GridIndex.check_cells' repeated-cell test (a numba pass over a boolean grid, issue 15 point
4: no flat-index or count temporaries of the grid's size) against the bincount it replaced."""

from __future__ import annotations

import numpy as np
import pytest

from factorlab._kernels import repeated_cell_nb


def _bincount(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> bool:
    ok = (rows >= 0) & (cols >= 0)
    flat = rows[ok] * shape[1] + cols[ok]
    return bool(flat.size and np.bincount(flat).max() > 1)


@pytest.mark.parametrize("seed", range(40))
def test_repeated_cell_agrees_with_bincount(seed):
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(1, 8)), int(rng.integers(1, 8)))
    n = int(rng.integers(0, 12))
    rows = rng.integers(-1, shape[0], n).astype(np.int64)
    cols = rng.integers(-1, shape[1], n).astype(np.int64)
    seen = np.zeros(shape, dtype=np.bool_)
    assert repeated_cell_nb(rows, cols, seen) == _bincount(rows, cols, shape)


def test_rows_off_the_grid_never_repeat():
    rows = np.array([-1, -1, 0, 0], dtype=np.int64)
    cols = np.array([2, 2, -1, -1], dtype=np.int64)
    assert not repeated_cell_nb(rows, cols, np.zeros((3, 3), dtype=np.bool_))
    rows, cols = np.array([1, 2, 1], dtype=np.int64), np.array([0, 0, 0], dtype=np.int64)
    assert repeated_cell_nb(rows, cols, np.zeros((3, 3), dtype=np.bool_))
