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


def test_date_rows_take_every_date_form_and_nulls_are_off_the_grid():
    ix = GridIndex.from_frame(_long())
    want = [0, -1, 2, -1]
    as_series = pl.Series([D[0], None, D[2], dt.date(2019, 12, 31)], dtype=pl.Date)
    assert ix.date_rows(as_series).tolist() == want
    assert ix.date_rows(as_series.cast(pl.Datetime("us"))).tolist() == want
    as_numpy = np.array(["2020-01-02", "NaT", "2020-01-06", "2019-12-31"], "datetime64[D]")
    assert ix.date_rows(as_numpy).tolist() == want
    day_ints = as_series.to_physical().fill_null(np.iinfo(np.int32).min).to_numpy()
    assert ix.date_rows(day_ints).tolist() == want  # polars' physical Date, as the panel has


def test_the_day_table_equals_searchsorted_on_dense_and_sparse_dates():
    rng = np.random.default_rng(7)
    dense = np.sort(rng.choice(np.arange(17_000, 18_000), 600, replace=False))
    sparse = np.array([-40_000, 0, 17_000, 2_000_000])  # spans too many days for a table
    for days in (dense, sparse):
        ix = GridIndex(days.astype("datetime64[D]"), pl.Series(["A"]))
        assert (ix.day_lut is None) == (days is sparse)
        probe = np.concatenate([days, days + 1, days - 1, [np.iinfo(np.int64).min]])
        pos = np.searchsorted(days, probe).clip(0, days.size - 1)
        want = np.where(days[pos] == probe, pos, -1)
        np.testing.assert_array_equal(ix.date_rows(probe), want)


def test_integer_assets_stay_integer_and_never_match_strings():
    ix = GridIndex(np.array(["2020-01-02"], "datetime64[D]"), pl.Series([30, 10, 20]).sort())
    assert ix.assets.dtype == pl.Int64
    assert ix.asset_cols(pl.Series([20, 5, None, 30])).tolist() == [1, -1, -1, 2]
    assert ix.asset_cols(pl.Series(["20"])).tolist() == [-1]
    strings = GridIndex.from_frame(_long())
    assert strings.asset_cols(pl.Series([1])).tolist() == [-1]
    assert strings.asset_cols(pl.Series(["B", "A"], dtype=pl.Categorical)).tolist() == [1, 0]
