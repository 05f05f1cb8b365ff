"""AssetGrid: one VWAP, the real limit rules per kind, published delisting, kinds on one calendar,
and no look-ahead."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from _books import days, long_frame, prices_frame, retired_reference_prices

import factorlab as fl
from factorlab.errors import MissingColumnError, ParameterError, ValueRangeError
from factorlab.grid import CHINEXT_REFORM, AssetGrid, vwap

D = days(4, "2020-08-20")  # 08-20, 08-21, 08-24 (ChiNext reform), 08-25


@pytest.fixture(scope="module")
def market():
    return fl.synthetic_market(
        **fl.datasets.PLANTED, n_assets=60, start="2019-01-01", end="2019-12-31", cache=True
    )


def _col(grid: AssetGrid, asset: str) -> int:
    return int(grid.index.asset_cols(pl.Series([asset]))[0])


def test_vwap_is_amount_over_volume_clipped_with_close_fallback():
    out = vwap(
        amount=np.array([1050.0, np.nan, 500.0, 2000.0, 800.0]),
        volume=np.array([100.0, 100.0, 0.0, 100.0, 100.0]),
        close=np.array([10.0, 10.0, 10.0, 10.0, np.nan]),
        low=np.full(5, 9.0),
        high=np.full(5, 11.0),
    )
    np.testing.assert_array_equal(out, [10.5, 10.0, 10.0, 11.0, np.nan])


def test_limit_prices_follow_board_st_and_the_chinext_reform():
    assert D[2] == CHINEXT_REFORM
    close = {a: [10.0] * 4 for a in ("600000.SH", "300750.SZ", "688001.SH", "000002.SZ")}
    px = prices_frame(close, D, is_st={"000002.SZ": [True] * 4})
    g = AssetGrid.from_prices(px)
    up = {a: g.limit_up[:, _col(g, a)].tolist() for a in close}
    down = {a: g.limit_down[:, _col(g, a)].tolist() for a in close}
    assert np.isnan(up["600000.SH"][0])  # no previous close: no limit known
    assert up["600000.SH"][1:] == [11.0, 11.0, 11.0]
    assert up["300750.SZ"][1:] == [11.0, 12.0, 12.0]  # 10% before 2020-08-24, 20% from it
    assert up["688001.SH"][1:] == [12.0, 12.0, 12.0]  # STAR: 20% always
    assert up["000002.SZ"][1:] == [10.5, 10.5, 10.5]  # ST: 5%
    assert down["000002.SZ"][1:] == [9.5, 9.5, 9.5]


def test_a_bar_at_the_limit_cannot_be_bought_or_sold_at_that_price():
    close = {"600000.SH": [10.0, 10.0, 11.0, 9.9], "000002.SZ": [10.0, 10.0, 9.5, 9.5]}
    g = AssetGrid.from_prices(prices_frame(close, D, is_st={"000002.SZ": [True] * 4}))
    buy, sell = g.tradable("close")
    a, b = _col(g, "600000.SH"), _col(g, "000002.SZ")
    assert (buy[2, a], sell[2, a]) == (False, True)  # limit-up: sells only
    assert (buy[3, a], sell[3, a]) == (True, False)  # 9.9 = limit-down of 11.0
    assert (buy[2, b], sell[2, b]) == (True, False)  # ST limit-down 9.5


def test_previous_close_is_carried_through_a_suspension_onto_todays_share_basis():
    # 10.00 on day 0, suspended day 1, ex a 1:1 bonus on day 2 (adj 2): reference 5.00 -> up 5.50
    close = {"600000.SH": [10.0, None, 5.5, 5.4], "600001.SH": [1.0] * 4}
    px = prices_frame(close, D, adj={"600000.SH": [1.0, 1.0, 2.0, 2.0]})
    g = AssetGrid.from_prices(px)
    assert g.limit_up[2, 0] == pytest.approx(5.5 * 2.0)
    assert g.close[2, 0] == pytest.approx(11.0)  # back-adjusted
    assert not g.tradable("close")[0][2, 0]
    assert not g.tradable("close")[0][1, 0]  # suspended: no price, no trade


def test_etf_limits_are_ten_percent_on_the_tenth_of_a_cent_and_indices_have_none():
    etfs = long_frame("etf", {"510300.SH": [1.234, 1.357, 1.3, 1.2]}, D)
    e = AssetGrid.from_etfs(etfs)
    assert e.limit_up[1, 0] == pytest.approx(1.357)  # round(1.234 * 1.1, 3)
    assert not e.tradable("close")[0][1, 0]
    idx = AssetGrid.from_indices(
        long_frame("index", {"csi300": [4000.0, 4400.0, 4000.0, 3000.0]}, D)
    )
    assert np.isinf(idx.limit_up).all() and idx.tradable("close")[0][1:].all()
    assert np.isnan(idx.tracking_bps).all()  # a benchmark only, until a proxy cost is stated


def test_delisting_is_known_only_from_the_published_date():
    px = prices_frame(
        {"600000.SH": [10.0, 10.0, 10.0, 10.0], "600001.SH": [5.0, 5.0, None, None]}, D
    )
    assets = pl.DataFrame(
        {"asset": ["600000.SH", "600001.SH"], "delist_date": [dt.date(2020, 8, 22), None]}
    )
    g = AssetGrid.from_prices(px, assets=assets)
    assert g.settle_row.tolist() == [2, 4]  # first session on/after 2020-08-22; none published
    buy, sell = g.tradable("close")
    assert buy[:, 0].tolist() == [True, True, False, False]
    assert sell[:, 0].tolist() == [True, True, False, False]


def test_combine_puts_every_kind_on_one_calendar_and_close_only_kinds_refuse_next_open():
    px = prices_frame({"600000.SH": [10.0, 10.0, None, 10.0]}, D)
    etfs = long_frame("etf", {"510300.SH": [1.0, 1.0, 1.0, None]}, D)
    idx = long_frame("index", {"csi300": [4000.0, None, 4000.0, 4000.0]}, D)
    g = AssetGrid.combine(
        AssetGrid.from_prices(px),
        AssetGrid.from_etfs(etfs),
        AssetGrid.from_indices(idx, tracking_bps=30.0),
    )
    assert g.shape == (4, 3)
    assert g.kinds.to_list() == [
        "etf",
        "stock",
        "index",
    ]  # sorted names: 510300.SH, 600000.SH, csi300
    assert g.tracking_bps.tolist() == [0.0, 0.0, 30.0]
    assert np.isnan(g.close[2, 1]) and np.isnan(g.close[1, 2])
    with pytest.raises(
        ParameterError, match=r"etf/index assets have no open.*'510300.SH'.*next_close"
    ):
        g.check_entry("next_open", np.array([0, 2]))
    with pytest.raises(ParameterError, match=r"more than one grid.*600000.SH"):
        AssetGrid.combine(AssetGrid.from_prices(px), AssetGrid.from_prices(px))


#: (finite cells, sum, sum of squares) of each grid of the retired research MarketGrid
#: (factorlab.evaluate.portfolio, removed) on the frozen prices of tests/data; the AssetGrid
#: equalled it exactly.
RESEARCH_GRID = {
    "close": (13806, 224013.8185137874, 5139716.305129519),
    "open": (13806, 223827.2716432422, 5129298.7889801655),
    "vwap": (13806, 223923.98884338356, 5134539.111461395),
    "limit_up": (13746, 245143.17355046925, 6178249.712610787),
    "limit_down": (13746, 200666.08729384086, 4141270.8684970075),
    "cap": (13806, 499474024558329.0, 6.226075472166047e26),
}


def test_stock_grid_equals_the_research_market_grid():
    ours = AssetGrid.from_prices(retired_reference_prices())
    for name, (n, total, squares) in RESEARCH_GRID.items():
        g = getattr(ours, name)
        f = np.isfinite(g)
        assert int(f.sum()) == n, name
        assert g[f].sum() == pytest.approx(total, rel=1e-12), name
        assert (g[f] ** 2).sum() == pytest.approx(squares, rel=1e-12), name


def test_from_market_builds_all_kinds(market):
    g = AssetGrid.from_market(
        market, kinds=("stock", "etf", "index"), tracking_bps={"csi300": 50.0}
    )
    counts = dict(zip(*np.unique(g.kinds.to_numpy(), return_counts=True), strict=True))
    assert counts == {"etf": 41, "index": 4, "stock": 60}
    with pytest.raises(ParameterError, match="`kinds` must be"):
        AssetGrid.from_market(market, kinds=("bond",))


def test_perturbing_prices_after_d_changes_nothing_at_or_before_d(market):
    px = market.prices.collect()
    d = dt.date(2019, 6, 28)
    base = AssetGrid.from_prices(px)
    rng = np.random.default_rng(3)
    later = pl.col("date") > d
    scale = pl.Series(rng.uniform(0.5, 1.5, px.height))
    variants = [
        px.filter(~later),  # dropped
        px.sample(fraction=1.0, shuffle=True, seed=1).filter(
            ~later | (pl.Series(rng.random(px.height)) < 0.5)
        ),
        px.with_columns(  # scaled
            [
                pl.when(later).then(pl.col(c) * scale).otherwise(pl.col(c)).alias(c)
                for c in ("open", "high", "low", "close")
            ]
        ),
    ]
    rows = int(base.index.date_rows(pl.Series([d]))[0]) + 1
    # a stock listed after d has no row on or before d: it is absent when the future is dropped
    listed = ~np.isnan(base.close[:rows]).all(axis=0)
    assert listed.sum() > 0.8 * len(listed)
    for other in variants:
        g = AssetGrid.from_prices(other)
        cols = g.index.asset_cols(base.assets)
        assert (cols[listed] >= 0).all()
        cols, keep = cols[listed], np.flatnonzero(listed)
        for name in ("close", "open", "vwap", "limit_up", "limit_down"):
            np.testing.assert_array_equal(
                getattr(g, name)[:rows, cols], getattr(base, name)[:rows, keep], err_msg=name
            )
        for a, b in zip(g.tradable("next_open"), base.tradable("next_open"), strict=True):
            np.testing.assert_array_equal(a[:rows, cols], b[:rows, keep])


def test_bad_tables_name_the_table_and_column():
    px = prices_frame({"600000.SH": [10.0, 10.0, 10.0, 10.0]}, D)
    with pytest.raises(MissingColumnError, match=r"table `prices` has no column.*`open`"):
        AssetGrid.from_prices(px.drop("open"))
    with pytest.raises(
        ValueRangeError, match=r"table `prices`: column `close` must be finite and > 0.*600000.SH"
    ):
        AssetGrid.from_prices(px.with_columns(close=pl.lit(-1.0)))
    with pytest.raises(ParameterError, match=r"`tracking_bps` names index.*'csi999'"):
        AssetGrid.from_indices(
            long_frame("index", {"csi300": [1.0] * 4}, D), tracking_bps={"csi999": 1.0}
        )
