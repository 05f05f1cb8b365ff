"""Fills subject to tradability, the two rebalance modes, long-short, empty rebalances, round
trips and per-signal statistics, benchmarks, and no look-ahead."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from _books import days, long_frame, prices_frame, targets

import factorlab as fl
from factorlab.backtest import Costs, backtest, pool_benchmark
from factorlab.grid import AssetGrid

D = days(6)
A, B, C = "600000.SH", "600001.SH", "600002.SH"


def _run(close, rows, *, assets=None, **kw):
    grid = AssetGrid.from_prices(
        prices_frame(close, D[: len(next(iter(close.values())))]), assets=assets
    )
    kw.setdefault("entry", "close")
    kw.setdefault("capital", 100_000.0)
    return backtest(grid, targets(rows), **kw)


def test_a_limit_up_name_is_not_bought_and_its_weight_goes_to_the_others():
    close = {A: [10.0, 11.0, 11.0], B: [10.0, 10.0, 10.0]}  # A closes at limit-up on day 1
    res = _run(close, [(D[1], A, 1.0), (D[1], B, 1.0)])
    assert res.trades.select("asset", "side").rows() == [(B, "buy")]
    assert res.trades["value"][0] == pytest.approx(100_000.0)
    assert res.rebalances.select("blocked_buys", "blocked_sells", "held").row(0) == (1, 0, 1)


def test_a_limit_down_name_is_not_sold():
    close = {A: [10.0, 10.0, 9.0, 9.0], B: [10.0] * 4, C: [10.0] * 4}  # A at limit-down on day 2
    res = _run(close, [(D[0], A, 1.0), (D[0], C, 1.0), (D[2], B, 1.0)])
    # day 2: A 5,000 x 9 = 45,000 cannot be sold; C's 50,000 goes to B
    assert res.trades.filter(pl.col("date") == D[2]).select("asset", "side", "value").rows() == [
        (C, "sell", pytest.approx(50_000.0)),
        (B, "buy", pytest.approx(50_000.0)),
    ]
    pos = res.positions.filter(pl.col("date") == D[2])
    assert pos.select("asset", "units").rows() == [
        (A, pytest.approx(5_000.0)),
        (B, pytest.approx(5_000.0)),
    ]
    assert res.rebalances["blocked_sells"].to_list() == [0, 1]


def test_a_suspended_name_keeps_its_units_and_is_marked_flat():
    close = {A: [10.0, 10.5, None, None, 10.8], B: [10.0] * 5, C: [10.0, 10.0, 10.0, 10.5, 10.5]}
    res = _run(close, [(D[0], A, 1.0), (D[0], B, 1.0), (D[2], C, 1.0)])
    assert res.trades.filter(pl.col("date") == D[2]).select("asset", "side", "value").rows() == [
        (B, "sell", pytest.approx(50_000.0)),
        (C, "buy", pytest.approx(50_000.0)),
    ]
    a = res.positions.filter((pl.col("asset") == A) & (pl.col("date") == D[2]))
    assert a["units"][0] == pytest.approx(5_000.0) and a["value"][0] == pytest.approx(
        52_500.0
    )  # flat
    nav = res.daily["nav_net"].to_list()
    assert nav[2:] == pytest.approx([102_500.0, 105_000.0, 106_500.0])  # C +5%; A back at 10.8
    assert res.rebalances["blocked_sells"].to_list() == [0, 1]


def test_a_delisted_name_is_settled_at_its_last_close_on_the_published_date():
    close = {A: [10.0, 12.0, None, None, None], B: [10.0] * 5}
    assets = pl.DataFrame({"asset": [A, B], "delist_date": [D[3], None]})
    res = _run(close, [(D[0], A, 1.0), (D[0], B, 1.0)], assets=assets)
    settle = res.trades.filter(pl.col("side") == "settle").row(0, named=True)
    assert (settle["date"], settle["asset"], settle["signal_date"]) == (D[3], A, None)
    assert (settle["shares"], settle["price"], settle["value"], settle["cost"]) == pytest.approx(
        (5_000.0, 12.0, 60_000.0, 0.0)
    )
    assert res.daily["cash"].to_list() == pytest.approx([0.0, 0.0, 0.0, 60_000.0, 60_000.0])
    assert res.daily["nav_net"].to_list() == pytest.approx(
        [100_000.0, 110_000.0, 110_000.0, 110_000.0, 110_000.0]
    )
    # without a published date the name is only suspended: kept, marked flat, never settled
    kept = _run(close, [(D[0], A, 1.0), (D[0], B, 1.0)])
    assert kept.trades.filter(pl.col("side") == "settle").height == 0
    assert kept.daily["cash"][-1] == pytest.approx(0.0)
    trip = res.round_trips.filter(pl.col("asset") == A).row(0, named=True)
    assert (trip["exit_date"], trip["pnl"], trip["holding_days"]) == (
        D[3],
        pytest.approx(10_000.0),
        3,
    )


def test_difference_and_full_rebalance_differ_exactly_in_their_trades():
    close = {A: [10.0, 10.5, 11.0, 11.0], B: [10.0, 9.5, 9.0, 9.0], C: [5.0, 5.0, 5.0, 5.0]}
    rows = [(D[0], A, 1.0), (D[0], B, 1.0), (D[2], B, 1.0), (D[2], C, 1.0)]
    full = _run(close, rows, rebalance="full")
    diff = _run(close, rows, rebalance="difference")
    # day 2 book: A 5,000 x 11 = 55,000, B 5,000 x 9 = 45,000 -> NAV 100,000
    assert full.trades.filter(pl.col("date") == D[2]).select("asset", "side", "value").rows() == [
        (A, "sell", pytest.approx(55_000.0)),
        (B, "buy", pytest.approx(5_000.0)),  # 45,000 -> 50,000
        (C, "buy", pytest.approx(50_000.0)),
    ]
    assert diff.trades.filter(pl.col("date") == D[2]).select("asset", "side", "value").rows() == [
        (A, "sell", pytest.approx(55_000.0)),
        (C, "buy", pytest.approx(50_000.0)),  # NAV / 2; B left untouched at 45,000
    ]
    assert diff.daily["cash"][2] == pytest.approx(5_000.0)
    assert full.trades.filter(pl.col("date") == D[0]).equals(
        diff.trades.filter(pl.col("date") == D[0])
    )


def test_seed_000_buys_new_names_at_nav_over_n_times_0_99():
    close = {A: [10.0] * 3, B: [10.0] * 3, C: [10.0] * 3}
    rows = [(D[0], A, 1.0), (D[0], B, 1.0), (D[1], B, 1.0), (D[1], C, 1.0)]
    res = _run(close, rows, rebalance="difference", cash_buffer=0.01)
    assert res.trades.select("date", "asset", "side", "value").rows() == [
        (D[0], A, "buy", pytest.approx(49_500.0)),
        (D[0], B, "buy", pytest.approx(49_500.0)),
        (D[1], A, "sell", pytest.approx(49_500.0)),  # dropped: sold
        (D[1], C, "buy", pytest.approx(49_500.0)),  # new: NAV / 2 x 0.99; B untouched
    ]
    assert res.daily["cash"].to_list() == pytest.approx([1_000.0, 1_000.0, 1_000.0])


def test_long_short_is_dollar_neutral():
    close = {A: [10.0, 11.0, 11.0], B: [10.0, 10.5, 11.0]}
    res = _run(close, [(D[0], A, 1.0), (D[0], B, -1.0)], book="long_short")
    assert res.positions.select("asset", "weight").rows() == [(A, 1.0), (B, -1.0)]
    assert res.daily["cash"][0] == pytest.approx(
        100_000.0
    )  # + 100,000 short proceeds - 100,000 long
    assert res.daily["nav_net"].to_list() == pytest.approx([100_000.0, 105_000.0, 100_000.0])
    assert res.daily["exposure"][0] == pytest.approx(2.0)


def test_an_empty_rebalance_holds_cash_and_is_counted():
    close = {A: [10.0, 11.0, 11.0, 10.0]}
    res = _run(close, [(D[0], A, 1.0), (D[1], A, 0.0)])
    assert res.rebalances.select("names", "held", "empty").rows() == [(1, 1, False), (0, 0, True)]
    assert res.daily["nav_net"].to_list() == pytest.approx(
        [100_000.0, 110_000.0, 110_000.0, 110_000.0]
    )
    assert res.summary()["empty_rebalances"] == 1


def test_index_timing_book_per_trade_and_per_signal_statistics():
    level = [100.0, 102.0, 101.0, 99.0, 98.0, 100.0]
    grid = AssetGrid.from_indices(long_frame("index", {"csi300": level}, D), tracking_bps=0.0)
    # in on day 0, out on day 2 (+1%), in on day 3, out on day 4 (-1.0101%)
    tg = targets(
        [(D[0], "csi300", 1.0), (D[2], "csi300", 0.0), (D[3], "csi300", 1.0), (D[4], "csi300", 0.0)]
    )
    res = backtest(
        grid,
        tg,
        entry="close",
        capital=1_000_000.0,
        costs=Costs(commission=0.001, min_commission=0.0),
    )
    trips = res.round_trips
    assert trips["entry_date"].to_list() == [D[0], D[3]]
    assert trips["exit_date"].to_list() == [D[2], D[4]]
    assert trips["holding_days"].to_list() == [2, 1]
    first = 1_000_000.0 / 1.001  # bought with the commission paid from the cash
    assert trips["pnl"][0] == pytest.approx(first * 0.01 - 0.001 * first - 0.001 * first * 1.01)
    s = res.summary()
    assert (s["round_trips"], s["trade_win_rate"]) == (2, 0.5)
    assert s["trade_profit_loss"] == pytest.approx(trips["pnl"][0] / -trips["pnl"][1])
    sig = res.signals
    assert sig["invested"].to_list() == [True, False, True, False]
    assert (s["signals"], s["signal_win_rate"]) == (2, 0.5)


def test_pool_benchmark_cap_weighted_is_the_pool_cap_return_and_legs_stay_equal():
    close = {A: [10.0, 11.0, 11.5, 11.0], B: [30.0, 30.0, 31.0, 32.0]}
    grid = AssetGrid.from_prices(prices_frame(close, D[:4]))  # float shares 1e6 each
    pools = pl.DataFrame({"date": [D[0], D[0]], "asset": [A, B], "pool": ["csi300"] * 2})
    bench = pool_benchmark(grid, pools, pool="csi300", weighting="cap", entry="close")
    cap = np.array(close[A]) + np.array(close[B])
    np.testing.assert_allclose(
        bench["benchmark"].to_numpy()[1:], cap[1:] / cap[:-1] - 1.0, rtol=0, atol=1e-14
    )
    res = backtest(
        grid,
        targets([(D[0], A, 1.0), (D[0], B, 1.0)]),
        entry="close",
        capital=None,
        benchmark=bench,
    )
    legs = 0.5 * np.array(close[A]) / 10.0 + 0.5 * np.array(close[B]) / 30.0
    np.testing.assert_allclose(
        res.daily["net"].to_numpy()[1:], legs[1:] / legs[:-1] - 1.0, atol=1e-14
    )
    np.testing.assert_allclose(
        res.daily["excess"], res.daily["net"] - res.daily["benchmark"], atol=0
    )
    equal = pool_benchmark(grid, pools, pool="csi300", weighting="equal", entry="close")
    np.testing.assert_allclose(equal["benchmark"], res.daily["net"], atol=1e-14)


def test_perturbing_prices_after_d_changes_nothing_at_or_before_d():
    market = fl.synthetic_market(
        **fl.datasets.PLANTED, n_assets=60, start="2019-01-01", end="2019-12-31", cache=True
    )
    px = market.prices.collect()
    d = dt.date(2019, 7, 31)
    grid = AssetGrid.from_prices(px)
    sessions = grid.index.date_series()
    weekly = sessions.gather(np.arange(0, sessions.len(), 5))
    tg = px.filter(pl.col("date").is_in(weekly.implode())).select("date", "asset")
    tg = tg.with_columns(weight=pl.Series(np.random.default_rng(1).random(tg.height))).filter(
        pl.col("weight") > 0.7
    )
    kw = dict(entry="next_open", capital=1e6, lots=100, costs=Costs(slippage_bps=5.0))
    base = backtest(grid, tg, **kw)
    later = pl.col("date") > d
    scaled = px.with_columns(
        [
            pl.when(later).then(pl.col(c) * 1.07).otherwise(pl.col(c)).alias(c)
            for c in ("open", "high", "low", "close")
        ]
    )
    early = tg.filter(pl.col("date") < d)  # signals whose fills are at or before d
    for other, t in ((scaled, tg), (px.filter(~later), early)):
        res = backtest(AssetGrid.from_prices(other), t, **kw)
        a = base.daily.filter(pl.col("date") <= d)
        b = res.daily.filter(pl.col("date") <= d)
        assert a.height > 100 and a.equals(b)
        assert base.trades.filter(pl.col("date") <= d).equals(
            res.trades.filter(pl.col("date") <= d)
        )
