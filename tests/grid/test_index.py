"""GridIndex: long rows <-> dense cells, one lookup."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from factorlab.errors import DuplicateKeyError
from factorlab.grid import GridIndex

D = [dt.date(2020, 1, 2), dt.date(2020, 1, 3), dt.date(2020, 1, 6)]


def _long() -> pl.DataFrame:
    return pl.DataFrame(
        {"date": [D[2], D[0], D[1], D[0]], "asset": ["B", "A", "B", "C"], "x": [3.0, 1.0, 2.0, 4.0]}
    )


def test_scatter_gather_and_back_to_long_in_any_row_order():
    long = _long()
    ix = GridIndex.from_frame(long)
    assert ix.shape == (3, 3)
    assert ix.assets.to_list() == ["A", "B", "C"]
    cells = ix.cells(long)
    grid = ix.scatter(cells, long["x"].to_numpy())
    np.testing.assert_array_equal(
        grid, [[1.0, np.nan, 4.0], [np.nan, 2.0, np.nan], [np.nan, 3.0, np.nan]]
    )
    np.testing.assert_array_equal(ix.gather(grid, cells), long["x"].to_numpy())
    back = ix.to_long({"x": grid}, keep="x")
    assert back.sort("date", "asset").equals(long.sort("date", "asset"))


def test_rows_off_the_grid_are_minus_one():
    ix = GridIndex.from_frame(_long())
    assert ix.date_rows(pl.Series([D[1], dt.date(2020, 1, 4), dt.date(2030, 1, 1)])).tolist() == [
        1,
        -1,
        -1,
    ]
    assert ix.asset_cols(pl.Series(["C", "Z"])).tolist() == [2, -1]
    assert ix.first_row_on_or_after(
        np.array(["2020-01-04", "2020-01-06", "2021-01-01", "NaT"], "datetime64[D]")
    ).tolist() == [2, 2, 3, 3]


def test_two_rows_on_one_cell_raise_the_shared_duplicate_key_error():
    long = pl.concat([_long(), _long().head(1)])
    ix = GridIndex.from_frame(long)
    with pytest.raises(DuplicateKeyError, match=r"table `prices` has 1 duplicate.*2020-01-06, B"):
        ix.check_cells(long, ix.cells(long), table="prices", keys=("date", "asset"))


def test_union_and_reindex_place_a_grid_on_a_wider_index():
    a = GridIndex(np.array(["2020-01-02", "2020-01-06"], "datetime64[D]"), pl.Series(["B"]))
    b = GridIndex(np.array(["2020-01-03"], "datetime64[D]"), pl.Series(["A"]))
    u = GridIndex.union([a, b])
    assert u.shape == (3, 2)
    out = u.reindex(np.array([[1.0], [2.0]]), a)
    np.testing.assert_array_equal(out, [[np.nan, 1.0], [np.nan, np.nan], [np.nan, 2.0]])
