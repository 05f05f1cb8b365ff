"""ColumnCells: the True cells of a (T, N) mask in column-major order and gathers at them, equal
to numpy's ``np.nonzero(mask.T)`` and fancy indexing."""

from __future__ import annotations

import numpy as np
import pytest

from factorlab._arrays import ColumnCells


@pytest.mark.parametrize("shape", [(0, 0), (0, 3), (4, 0), (1, 1), (7, 5), (300, 41)])
@pytest.mark.parametrize("seed", [0, 1])
def test_cells_and_gathers_equal_numpy(shape, seed) -> None:
    rng = np.random.default_rng(seed)
    mask = rng.random(shape) < 0.6
    grid = rng.normal(size=shape)
    grid[rng.random(shape) < 0.1] = np.nan
    cols, rows = np.nonzero(mask.T)
    at = ColumnCells(mask)
    np.testing.assert_array_equal(at.rows, rows)
    np.testing.assert_array_equal(at.cols, cols)
    np.testing.assert_array_equal(at.gather(grid), grid[rows, cols])
    # a non-contiguous float64 view and an integer grid take the same cells
    np.testing.assert_array_equal(at.gather(np.asfortranarray(grid)), grid[rows, cols])
    ints = rng.integers(0, 9, size=shape)
    np.testing.assert_array_equal(at.gather(ints), ints[rows, cols])


def test_all_and_no_cells() -> None:
    grid = np.arange(12.0).reshape(3, 4)
    assert ColumnCells(np.ones((3, 4), bool)).gather(grid).tolist() == grid.T.ravel().tolist()
    none = ColumnCells(np.zeros((3, 4), bool))
    assert none.size == 0 and none.gather(grid).shape == (0,)
