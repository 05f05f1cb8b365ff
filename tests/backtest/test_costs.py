"""Costs per order on its yuan value: the per-order minimum, the stamp duty schedule on stock
sells only, slippage, lots (after bonus issues) and the index proxy's tracking cost."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from _books import days, long_frame, prices_frame, targets

from factorlab.backtest import Costs, backtest
from factorlab.grid import AssetGrid

D = days(4, "2023-08-24")  # 08-24, 08-25, 08-28 (stamp duty cut), 08-29
NAMES = [f"6000{j:02d}.SH" for j in range(10)]


def _flat_grid(names, price=10.0, n=4):
    return AssetGrid.from_prices(prices_frame({a: [price] * n for a in names}, D[:n]))


def test_the_minimum_commission_applies_per_order():
    costs = Costs(commission=0.0003, min_commission=5.0, stamp_duty=0.0)
    many = backtest(
        _flat_grid(NAMES),
        targets([(D[0], a, 1.0) for a in NAMES]),
        entry="close",
        capital=100_000.0,
        costs=costs,
    )
    one = backtest(
        _flat_grid(NAMES),
        targets([(D[0], NAMES[0], 1.0)]),
        entry="close",
        capital=100_000.0,
        costs=costs,
    )
    # ten orders of 9,995 yuan: 0.03% is 3.00 yuan, so each pays the 5-yuan minimum; the buys
    # are scaled so that value + commission = the cash: 10 x 9,995 + 10 x 5 = 100,000
    assert many.trades["commission"].to_list() == pytest.approx([5.0] * 10, abs=1e-9)
    assert many.trades["value"].to_list() == pytest.approx([9_995.0] * 10, abs=1e-6)
    assert many.rebalances["cost"][0] == pytest.approx(50.0, abs=1e-9)
    # one order of v: v + 0.0003 v = 100,000
    v = 100_000.0 / 1.0003
    assert one.trades["value"][0] == pytest.approx(v, abs=1e-6)
    assert one.trades["commission"][0] == pytest.approx(0.0003 * v, abs=1e-9)  # 29.99 yuan
    assert many.daily["cash"][0] == pytest.approx(0.0, abs=1e-6)
    assert (many.daily["cash"] >= 0).all() and (one.daily["cash"] >= 0).all()


def test_stamp_duty_only_on_stock_sells_and_on_the_2023_08_28_schedule():
    stocks = prices_frame({"600000.SH": [10.0] * 4, "600001.SH": [10.0] * 4}, D)
    etfs = long_frame("etf", {"510300.SH": [1.0] * 4}, D)
    grid = AssetGrid.combine(AssetGrid.from_prices(stocks), AssetGrid.from_etfs(etfs))
    tg = targets(
        [
            (D[0], "600000.SH", 1.0),
            (D[0], "600001.SH", 1.0),
            (D[0], "510300.SH", 1.0),
            (D[1], "600001.SH", 1.0),
            (D[1], "510300.SH", 1.0),  # 600000.SH sold on 08-25
            (D[2], "600001.SH", 0.0),
        ]  # everything sold on 08-28
    )
    res = backtest(
        grid,
        tg,
        entry="close",
        rebalance="difference",
        capital=300_000.0,
        costs=Costs(commission=0.0, min_commission=0.0),
    )
    sells = res.trades.filter(pl.col("side") == "sell").select(
        "date", "asset", "value", "stamp_duty"
    )
    assert sells.rows() == [
        (D[1], "600000.SH", 100_000.0, pytest.approx(100.0)),  # 0.1% before the cut
        (D[2], "510300.SH", 100_000.0, 0.0),  # no stamp duty on ETFs
        (D[2], "600001.SH", 100_000.0, pytest.approx(50.0)),  # 0.05% from 2023-08-28
    ]
    assert res.trades.filter(pl.col("side") == "buy")["stamp_duty"].to_list() == [0.0, 0.0, 0.0]


def test_slippage_is_paid_on_the_order_value():
    res = backtest(
        _flat_grid(NAMES[:1]),
        targets([(D[0], NAMES[0], 1.0)]),
        entry="close",
        capital=100_000.0,
        costs=Costs(commission=0.0, min_commission=0.0, slippage_bps=10.0),
    )
    v = 100_000.0 / 1.001
    assert res.trades["slippage"][0] == pytest.approx(0.001 * v)
    assert res.daily["cost_yuan"][0] == pytest.approx(0.001 * v)


def test_lots_round_raw_shares_down_after_a_bonus_issue_and_leave_cash():
    # raw 33 yuan, adj 2 after a 1:1 bonus: 100,000 buys 3,030.3 raw shares -> 3,000 (1,500 units)
    px = prices_frame({"600000.SH": [33.0] * 4}, D, adj={"600000.SH": [2.0] * 4})
    res = backtest(
        AssetGrid.from_prices(px),
        targets([(D[0], "600000.SH", 1.0)]),
        entry="close",
        capital=100_000.0,
        lots=100,
    )
    trade = res.trades.row(0, named=True)
    assert (trade["shares"], trade["units"], trade["price"], trade["value"]) == pytest.approx(
        (3_000.0, 1_500.0, 33.0, 99_000.0)
    )
    assert res.daily["cash"].to_list() == pytest.approx([1_000.0] * 4)
    assert res.positions["shares"][0] == pytest.approx(3_000.0)


def test_index_proxy_earns_the_index_return_less_the_stated_tracking_cost():
    level = [4000.0, 4040.0, 3999.6, 4100.0]
    idx = long_frame("index", {"csi300": level}, D)
    r = np.diff(level) / np.array(level[:-1])
    tg = targets([(D[0], "csi300", 1.0)])
    free = backtest(
        AssetGrid.from_indices(idx, tracking_bps=0.0),
        tg,
        entry="close",
        capital=1e6,
        benchmark="csi300",
    )
    np.testing.assert_allclose(free.daily["net"].to_numpy()[1:], r, rtol=0, atol=1e-14)
    np.testing.assert_allclose(free.daily["excess"].to_numpy()[1:], 0.0, atol=1e-14)
    paid = backtest(AssetGrid.from_indices(idx, tracking_bps=50.0), tg, entry="close", capital=1e6)
    daily_fee = 50e-4 / 252
    # each day's fee is 50 bps / 252 of the held value (the first day too: held at the close)
    drag = 1.0 - (1.0 + paid.daily["net"].to_numpy()) / (1.0 + np.concatenate([[0.0], r]))
    np.testing.assert_allclose(drag[1:], daily_fee, rtol=1e-9)
    assert paid.daily["cost_yuan"][0] == pytest.approx(1e6 * daily_fee)
