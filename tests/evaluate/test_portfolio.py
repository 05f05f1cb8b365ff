"""Holding-period portfolios: hand-computed books with drift, entry conventions, blocked trades
and costs."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from factorlab.errors import ParameterError
from factorlab.evaluate.portfolio import (
    Costs,
    MarketGrid,
    quantile_targets,
    simulate_portfolio,
)

DATES = np.array([np.datetime64(f"2020-01-0{d}") for d in (2, 3, 6, 7, 8, 9)])
DAYS = [dt.date(2020, 1, d) for d in (2, 3, 6, 7, 8, 9)]
ASSETS = pl.Series("asset", ["A", "B", "C"])
#                  A      B      C
CLOSE = np.array(
    [
        [10.0, 20.0, 5.0],
        [11.0, 20.0, 5.0],
        [12.1, 22.0, 5.5],
        [12.1, 24.2, 5.5],
        [13.31, 24.2, 6.05],
        [13.31, 26.62, 6.05],
    ]
)
OPEN = CLOSE * 1.0


def _grid(close=CLOSE, open_=OPEN, up=None, down=None) -> MarketGrid:
    inf = np.full_like(close, np.inf)
    return MarketGrid(
        dates=DATES,
        assets=ASSETS,
        close=close.copy(),
        open=open_.copy(),
        vwap=open_.copy(),
        limit_up=inf if up is None else up,
        limit_down=-inf if down is None else down,
        cap=np.ones_like(close),
    )


def _targets(rows):
    return pl.DataFrame(
        rows, schema={"date": pl.Date, "asset": pl.String, "weight": pl.Float64}, orient="row"
    )


def test_equal_weight_book_drifts_between_rebalances():
    t = _targets([(DAYS[0], "A", 1.0), (DAYS[0], "B", 1.0)])
    res = simulate_portfolio(_grid(), t, entry="close")
    g = res.daily["gross"].to_list()
    # day 0: bought at the close -> 0; day 1: A +10%, B 0 -> +5%
    assert g[0] == pytest.approx(0.0)
    assert g[1] == pytest.approx(0.05)
    # day 2: weights drifted to 11/21 and 10/21: A +10%, B +10% -> +10%
    assert g[2] == pytest.approx(0.10)
    # day 3: A 0, B +10% with B weight 22/(12.1*... ) = value B 22/20 vs A 12.1/10
    va, vb = 12.1 / 10, 22.0 / 20
    assert g[3] == pytest.approx(vb / (va + vb) * 0.10)
    curve = np.prod(1 + np.array(g))
    assert curve == pytest.approx((13.31 / 10 + 26.62 / 20) / 2)


def test_next_open_entry_trades_the_day_after_the_signal():
    open_ = CLOSE.copy()
    open_[1] = [10.5, 20.0, 5.0]  # A opens at 10.5 on day 1, closes 11
    t = _targets([(DAYS[0], "A", 1.0)])
    res = simulate_portfolio(_grid(open_=open_), t, entry="next_open")
    assert res.daily["date"][0] == DAYS[1]
    assert res.daily["gross"][0] == pytest.approx(11 / 10.5 - 1)
    assert res.rebalances["trade_date"][0] == DAYS[1]


def test_rebalance_marks_old_book_to_entry_and_new_book_to_close():
    open_ = CLOSE.copy()
    open_[2] = [11.5, 21.0, 5.2]
    t = _targets([(DAYS[0], "A", 1.0), (DAYS[1], "B", 1.0)])
    res = simulate_portfolio(_grid(open_=open_), t, entry="next_open")
    g = res.daily["gross"].to_list()
    # day 2: A from close 11 to open 11.5, then B from open 21 to close 22
    assert g[1] == pytest.approx((11.5 / 11) * (22 / 21) - 1)
    # sum |w_new - w_drifted| / 2: from cash into A is 0.5, from A into B is 1.0
    assert res.rebalances["turnover"].to_list() == pytest.approx([0.5, 1.0])


def test_limit_up_buy_is_skipped_and_its_weight_goes_to_the_others():
    up = np.full_like(CLOSE, np.inf)
    up[0, 0] = 10.0  # A sealed at limit-up at the entry (close) on day 0
    t = _targets([(DAYS[0], "A", 1.0), (DAYS[0], "B", 1.0)])
    res = simulate_portfolio(_grid(up=up), t, entry="close")
    assert res.rebalances["blocked_buys"][0] == 1
    assert res.daily["gross"][1] == pytest.approx(0.0)  # all in B, flat on day 1


def test_suspended_holding_is_kept_and_carried():
    close = CLOSE.copy()
    close[2:4, 0] = np.nan  # A suspended on days 2-3
    open_ = close.copy()
    t = _targets([(DAYS[0], "A", 1.0), (DAYS[2], "C", 1.0)])
    res = simulate_portfolio(_grid(close=close, open_=open_), t, entry="close")
    assert res.rebalances["blocked_sells"][1] == 1
    g = res.daily["gross"].to_list()
    assert g[2] == pytest.approx(0.0) and g[3] == pytest.approx(0.0)
    # A resumes on day 4 at 13.31 vs its last close 11: +21%
    assert g[4] == pytest.approx(13.31 / 11 - 1)


def test_costs_commission_minimum_stamp_and_slippage():
    t = _targets([(DAYS[0], "A", 1.0), (DAYS[2], "B", 1.0)])
    costs = Costs(
        commission=0.001, min_commission=0.0, stamp_duty=0.002, slippage_bps=10, capital=1e6
    )
    res = simulate_portfolio(_grid(), t, entry="close", costs=costs)
    c = res.rebalances["cost"].to_list()
    # day 0: buy 100%: commission 0.1% + slippage 0.1%
    assert c[0] == pytest.approx(0.002)
    # day 2: sell A 100%, buy B 100%: commission 0.2%, stamp 0.2%, slippage 0.2% of NAV
    assert c[1] == pytest.approx(0.006)
    net = res.daily["net"].to_numpy()
    gross = res.daily["gross"].to_numpy()
    assert np.allclose(gross - net, res.daily["cost"].to_numpy())
    # a minimum commission per order dominates small books
    tiny = Costs(commission=0.0003, min_commission=5.0, stamp_duty=0.0, capital=1000.0)
    r2 = simulate_portfolio(_grid(), t, entry="close", costs=tiny)
    assert r2.rebalances["cost"][0] == pytest.approx(5.0 / 1000.0)


def test_default_stamp_duty_halves_on_2023_08_28():
    s = Costs().stamp_schedule(np.array(["2023-08-25", "2023-08-28"], dtype="datetime64[D]"))
    assert s.tolist() == [0.001, 0.0005]


def test_quantile_targets_picks_top_fraction_with_ties():
    scores = pl.DataFrame(
        {
            "date": [DAYS[0]] * 6,
            "asset": list("ABCDEF"),
            "score": [5.0, 4.0, 4.0, 1.0, None, 0.0],
            "cap": [1.0] * 6,
        }
    )
    top = quantile_targets(scores, top=0.4)
    assert sorted(top["asset"]) == ["A", "B", "C"]  # ceil(0.4 * 5) = 2, tie at the cut kept
    bottom = quantile_targets(scores, top=0.2, side="bottom")
    assert bottom["asset"].to_list() == ["F"]


def test_bad_input():
    with pytest.raises(ParameterError, match="entry"):
        simulate_portfolio(_grid(), _targets([(DAYS[0], "A", 1.0)]), entry="open")
    with pytest.raises(ParameterError, match="not sessions"):
        simulate_portfolio(_grid(), _targets([(dt.date(2020, 1, 4), "A", 1.0)]))
    with pytest.raises(ParameterError, match="top"):
        quantile_targets(pl.DataFrame({"date": [], "asset": [], "score": []}), top=0)


def test_nan_scores_are_missing_not_top():
    scores = pl.DataFrame(
        {"date": [DAYS[0]] * 4, "asset": list("ABCD"), "score": [1.0, 2.0, float("nan"), 0.5]}
    )
    # 3 valid scores: ceil(0.34 * 3) = 2 names, the NaN is neither picked nor counted
    top = quantile_targets(scores, top=0.34)
    assert sorted(top["asset"].to_list()) == ["A", "B"]
    assert quantile_targets(scores, top=0.3)["asset"].to_list() == ["B"]
