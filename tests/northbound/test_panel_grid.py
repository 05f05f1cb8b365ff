"""One grid: the research panel's read of the prices also gives the study's stock grid, equal
to :meth:`AssetGrid.from_prices` of the same rows (value for value), and leaves the panel
unchanged."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from factorlab.errors import ValueRangeError
from factorlab.grid import AssetGrid
from factorlab.market import Market
from factorlab.northbound import research_panel

_ARRAYS = ("close", "open", "vwap", "adj", "limit_up", "limit_down", "cap", "kind")


@pytest.fixture(scope="module")
def market(small_market) -> Market:
    return small_market


@pytest.fixture(scope="module")
def both(market):
    return research_panel(market), research_panel(market, price_grid=True)


def test_the_panel_is_the_same_with_or_without_the_grid(both):
    plain, with_grid = both
    assert plain.grid is None
    assert_frame_equal(plain.frame, with_grid.frame, check_exact=True)
    assert_frame_equal(plain.report, with_grid.report)


def test_the_panel_grid_equals_from_prices_of_the_window(market, both):
    _, panel = both
    lo, hi = panel.frame["date"].min(), panel.frame["date"].max()
    ref = AssetGrid.from_prices(
        market.prices.filter(pl.col("date").is_between(lo, hi)), assets=market.assets
    )
    got = panel.grid
    assert got is not None
    assert np.array_equal(got.dates, ref.dates)
    assert got.assets.equals(ref.assets)
    for name in _ARRAYS:
        a, b = getattr(got, name), getattr(ref, name)
        assert a.dtype == b.dtype, name
        # bit for bit: the same arithmetic on the same values, element for element
        assert np.array_equal(a, b, equal_nan=True), name
    assert np.array_equal(got.delist_dates, ref.delist_dates, equal_nan=True)
    assert np.array_equal(got.tracking_bps, ref.tracking_bps)
    # the fixture market has delistings, suspensions and limit moves: the comparison bites
    assert (~np.isnat(got.delist_dates)).any()
    assert np.isnan(got.close).any() and np.isfinite(got.close).any()
    buy, sell = got.tradable("next_vwap")
    assert np.array_equal((buy, sell), ref.tradable("next_vwap"))


def test_a_non_positive_price_is_refused_when_the_grid_is_built(market, both):
    row = both[0].frame.row(1000, named=True)  # a traded stock-day inside the window
    hit = (pl.col("date") == row["date"]) & (pl.col("asset") == row["asset"])
    px = market.prices.with_columns(open=pl.when(hit).then(0.0).otherwise(pl.col("open")))
    bad = Market({**{n: market[n] for n in market.names}, "prices": px}, validate="none")
    with pytest.raises(ValueRangeError, match=rf"column `open` must be finite.*{row['asset']}"):
        research_panel(bad, price_grid=True)
