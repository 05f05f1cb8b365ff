"""DensePanel.from_frame's fast paths (each chunk's Arrow buffers copied once, labels fixed per
asset written as one repeated row, the dense layout proven on Arrow string views) give what a
plain numpy construction of the same grids gives, and fall back when they prove nothing."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from factorlab.evaluate import DensePanel
from factorlab.evaluate.panel import _is_repeated, _views_repeated

N_DATES, N_ASSETS = 7, 5


def _frame(asset_names: list[str], industries: list[str | None]) -> pl.DataFrame:
    """A dense (date, asset)-sorted frame in 7 chunks (one per date)."""
    rng = np.random.default_rng(3)
    parts = []
    for d in range(N_DATES):
        factor = rng.normal(size=N_ASSETS)
        parts.append(
            pl.DataFrame(
                {
                    "date": [dt.date(2024, 1, 1) + dt.timedelta(days=d)] * N_ASSETS,
                    "asset": asset_names,
                    "close": 10.0 + rng.random(N_ASSETS),
                    "factor": factor,
                    "volume": rng.integers(0, 100, N_ASSETS),
                    "industry": industries,
                }
            )
        )
    frame = pl.concat(parts, rechunk=False)
    # null, NaN, +inf and -inf factor values, in different chunks
    special = {3: None, 11: float("nan"), 22: float("inf"), 30: float("-inf")}
    values = frame["factor"].to_list()
    for i, v in special.items():
        values[i] = v
    factor = pl.Series("factor", values, dtype=pl.Float64)
    frame = frame.with_columns(factor)
    # with_columns may rechunk the new column: split it again, so every column has chunks
    frame = pl.concat([frame.slice(i * N_ASSETS, N_ASSETS) for i in range(N_DATES)], rechunk=False)
    assert frame["factor"].n_chunks() > 1
    return frame


def _expected(frame: pl.DataFrame, column: str) -> np.ndarray:
    values = np.array(
        [np.nan if v is None else float(v) for v in frame[column].to_list()], dtype=np.float64
    )
    values[~np.isfinite(values)] = np.nan
    return values.reshape(N_DATES, N_ASSETS)


SHORT = ["A1", "B22", "C333", "D4444", "E55555"]
LONG = [f"{c}-a-name-longer-than-twelve-bytes" for c in "ABCDE"]


@pytest.mark.parametrize("names", [SHORT, LONG])
def test_dense_frame_in_chunks_gives_the_numpy_grids_and_counts(names: list[str]) -> None:
    industries = ["bank", None, "an-industry-name-over-12-bytes", "bank", "tech"]
    frame = _frame(names, industries)
    panel = DensePanel.from_frame(frame, columns=["close", "factor", "volume"], labels=["industry"])
    assert panel.shape == (N_DATES, N_ASSETS)
    assert panel.assets.to_list() == sorted(names)
    for column in ("close", "factor", "volume"):
        np.testing.assert_array_equal(panel.fields[column], _expected(frame, column))
        assert panel.fields[column].flags.writeable
    info = panel.columns
    assert (info.n_null["factor"], info.n_inf["factor"]) == (4, 2)  # null, NaN, +inf, -inf
    assert (info.n_null["close"], info.n_inf["close"]) == (0, 0)
    assert info.n_off_grid == {"close": 0, "factor": 0, "volume": 0, "industry": 0}
    labels = info.labels["industry"].to_list()
    assert labels == sorted(x for x in set(industries) if x is not None)
    codes = [np.nan if x is None else float(labels.index(x)) for x in industries]
    np.testing.assert_array_equal(panel.fields["industry"], np.tile(codes, (N_DATES, 1)))
    assert info.n_null["industry"] == N_DATES  # one asset without a label, every date
    assert list(panel.fields) == ["close", "factor", "volume", "industry"]


def test_a_label_that_changes_late_is_placed_cell_by_cell() -> None:
    industries = ["bank", "bank", "tech", "tech", "retail"]
    frame = _frame(SHORT, industries)
    late = frame["industry"].to_list()
    late[-2] = "retail"  # the last date's 4th asset moves to another industry
    frame = frame.with_columns(pl.Series("industry", late))
    panel = DensePanel.from_frame(frame, columns=["close"], labels=["industry"])
    labels = panel.columns.labels["industry"].to_list()
    expected = np.array([labels.index(x) for x in late], dtype=np.float64)
    np.testing.assert_array_equal(panel.fields["industry"], expected.reshape(N_DATES, N_ASSETS))


@pytest.mark.parametrize("names", [SHORT, LONG])
def test_assets_out_of_order_on_a_late_date_are_still_placed_right(names: list[str]) -> None:
    frame = _frame(names, ["x"] * N_ASSETS)
    # swap two rows of the last date: not the dense layout any more
    idx = list(range(frame.height))
    idx[-1], idx[-2] = idx[-2], idx[-1]
    shuffled = frame[idx]
    panel = DensePanel.from_frame(shuffled, columns=["factor"])
    np.testing.assert_array_equal(panel.fields["factor"], _expected(frame, "factor"))


def test_string_views_prove_only_what_they_can() -> None:
    short = pl.concat([pl.Series("a", SHORT)] * 4, rechunk=False)
    assert _views_repeated(short, short.head(N_ASSETS))
    assert _is_repeated(short, short.head(N_ASSETS))
    changed = pl.concat([pl.Series("a", SHORT)] * 3 + [pl.Series("a", SHORT[::-1])])
    assert not _views_repeated(changed, changed.head(N_ASSETS))
    assert not _is_repeated(changed, changed.head(N_ASSETS))
    # long strings and nulls: the views prove nothing; the values decide
    long = pl.concat([pl.Series("a", LONG)] * 4, rechunk=False)
    assert not _views_repeated(long, long.head(N_ASSETS))
    assert _is_repeated(long, long.head(N_ASSETS))
    nulls = pl.concat([pl.Series("a", ["x", None, "y"])] * 3, rechunk=False)
    assert not _views_repeated(nulls, nulls.head(3))
    assert _is_repeated(nulls, nulls.head(3))
    assert not _views_repeated(pl.Series("a", [1, 2] * 3), pl.Series("a", [1, 2]))


def _sparse_factor(frame: pl.DataFrame) -> pl.DataFrame:
    """Every other row of `frame` plus one row off the price grid (an unknown asset)."""
    rows = frame.select("date", "asset", "factor").gather_every(2)
    off = pl.DataFrame(
        {"date": [dt.date(2024, 1, 2)], "asset": ["ZZZ"], "factor": [1.5]},
        schema=rows.schema,
    )
    return pl.concat([rows, off])


def test_rows_placed_once_give_the_grid_of_to_grid() -> None:
    frame = _frame(SHORT, ["x"] * N_ASSETS)
    panel = DensePanel.from_frame(frame, columns=["close"])
    factor = _sparse_factor(frame)
    placement = panel.place_rows(factor.select("date", "asset"))
    assert not placement.dense and placement.error is None
    placed = panel.to_grid(factor, ["factor"], placement=placement)
    plain = panel.to_grid(factor, ["factor"])
    np.testing.assert_array_equal(placed.values["factor"], plain.values["factor"])
    assert (placed.n_null, placed.n_inf, placed.n_off_grid, placed.n_rows) == (
        plain.n_null,
        plain.n_inf,
        plain.n_off_grid,
        plain.n_rows,
    )
    assert placed.n_off_grid["factor"] == 1
    dense = panel.place_rows(frame)
    assert dense.dense
    np.testing.assert_array_equal(
        panel.to_grid(frame, ["factor"], placement=dense).values["factor"],
        _expected(frame, "factor"),
    )


def test_a_placement_of_other_rows_or_with_a_duplicate_key_raises() -> None:
    from factorlab.errors import DuplicateKeyError, ParameterError

    frame = _frame(SHORT, ["x"] * N_ASSETS)
    panel = DensePanel.from_frame(frame, columns=["close"])
    factor = _sparse_factor(frame)
    placement = panel.place_rows(factor)
    with pytest.raises(ParameterError, match="place_rows"):
        panel.to_grid(factor.head(3), ["factor"], placement=placement)
    # the same rows in another order, or other rows of the same count: every value would land
    # in another row's cell
    with pytest.raises(ParameterError, match="another order"):
        panel.to_grid(factor.reverse(), ["factor"], placement=placement)
    shifted = factor.with_columns(pl.col("date").shift(1).fill_null(pl.col("date").first()))
    with pytest.raises(ParameterError, match="other keys"):
        panel.to_grid(shifted, ["factor"], placement=placement)
    with pytest.raises(ParameterError, match=r"result of `DensePanel\.place_rows`"):
        panel.to_grid(factor, ["factor"], placement="rows")
    assert_equal = np.testing.assert_array_equal
    assert_equal(
        panel.to_grid(factor, ["factor"], placement=placement).values["factor"],
        panel.to_grid(factor, ["factor"]).values["factor"],
    )
    twice = pl.concat([factor, factor.head(1)])
    kept = panel.place_rows(twice)  # the duplicate is raised where the column is placed
    assert isinstance(kept.error, DuplicateKeyError)
    with pytest.raises(DuplicateKeyError, match="duplicate"):
        panel.to_grid(twice, ["factor"], placement=kept)
