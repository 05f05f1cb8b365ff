"""The defect classes the retired research simulator's tests covered (hand-computed drift,
entry conventions, the D3 suspension repro, delisting, empty legs, bad weights, duplicate
targets, unknown codes, bad prices, quantile targets), ported onto ``backtest()``."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from _books import days, prices_frame

import factorlab as fl
from factorlab.backtest import backtest, quantile_targets
from factorlab.errors import (
    AssetCodeError,
    CalendarError,
    DuplicateKeyError,
    FactorLabError,
    ParameterError,
    ValueRangeError,
)
from factorlab.grid import AssetGrid

DAYS = days(6)
A, B, C = "688001.SH", "688002.SH", "688003.SH"  # STAR: 20% limits, so +10% days are tradable
CLOSE = {
    A: [10.0, 11.0, 12.1, 12.1, 13.31, 13.31],
    B: [20.0, 20.0, 22.0, 24.2, 24.2, 26.62],
    C: [5.0, 5.0, 5.5, 5.5, 6.05, 6.05],
}


def _grid(close=CLOSE, open_=None) -> AssetGrid:
    return AssetGrid.from_prices(prices_frame(close, DAYS, open_=open_))


def _targets(rows):
    return pl.DataFrame(
        rows, schema={"date": pl.Date, "asset": pl.String, "weight": pl.Float64}, orient="row"
    )


def test_equal_weight_book_drifts_between_rebalances():
    t = _targets([(DAYS[0], A, 1.0), (DAYS[0], B, 1.0)])
    g = backtest(_grid(), t, entry="close", capital=None).daily["gross"].to_list()
    assert g[0] == pytest.approx(0.0)
    assert g[1] == pytest.approx(0.05)
    assert g[2] == pytest.approx(0.10)
    va, vb = 12.1 / 10, 22.0 / 20
    assert g[3] == pytest.approx(vb / (va + vb) * 0.10)
    assert np.prod(1 + np.array(g)) == pytest.approx((13.31 / 10 + 26.62 / 20) / 2)


def test_next_open_trades_the_day_after_and_marks_old_book_to_entry():
    open_ = {k: list(v) for k, v in CLOSE.items()}
    open_[A][2], open_[B][2] = 11.5, 21.0
    t = _targets([(DAYS[0], A, 1.0), (DAYS[1], B, 1.0)])
    res = backtest(_grid(open_=open_), t, entry="next_open", capital=None)
    assert res.daily["date"][0] == DAYS[1]
    assert res.rebalances["trade_date"].to_list() == [DAYS[1], DAYS[2]]
    g = res.daily["gross"].to_list()
    # day 2: A from close 11 to open 11.5, then B from open 21 to close 22
    assert g[1] == pytest.approx((11.5 / 11) * (22 / 21) - 1, rel=1e-12)
    assert res.rebalances["turnover"].to_list() == pytest.approx([0.5, 1.0])


def _d3_market():
    """reliability.md D3: 600001.SH is suspended on rows 3-5 and trades again on row 6."""
    d = fl.sessions("ashare", "2020-03-02", "2020-03-13").to_list()
    series = {
        "600000.SH": [10 * 1.01**i for i in range(len(d))],
        "600001.SH": [20 * 0.98**i if i not in (3, 4, 5) else None for i in range(len(d))],
    }
    targets = _targets(
        [(d[1], "600000.SH", 1.0), (d[1], "600001.SH", 1.0), (d[3], "600000.SH", 1.0)]
    )
    return d, prices_frame(series, d), targets


def test_d3_suspension_is_not_decided_by_whether_the_stock_trades_again():
    d, prices, targets = _d3_market()
    full = backtest(AssetGrid.from_prices(prices), targets, entry="next_open", capital=None)
    cut_grid = AssetGrid.from_prices(prices.filter(pl.col("date") <= d[5]))
    cut = backtest(cut_grid, targets, entry="next_open", capital=None)
    a = full.daily.filter(pl.col("date") <= d[5])
    b = cut.daily.filter(pl.col("date") <= d[5])
    assert a["date"].to_list() == b["date"].to_list() == d[2:6]
    assert np.array_equal(a["gross"].to_numpy(), b["gross"].to_numpy())
    # 600001.SH is suspended (no delist date): kept, marked flat; on d[5] only 600000.SH earns 1%
    w_suspended = 0.5 / (0.505 * 1.01 + 0.5)
    assert a["gross"][-1] == pytest.approx((1 - w_suspended) * 0.01, rel=1e-12)
    assert full.rebalances["blocked_sells"].to_list() == [0, 1]
    assert (full.trades["side"] != "settle").all()


def test_a_published_delist_date_settles_the_name_from_that_day_on():
    d, prices, targets = _d3_market()
    gone = prices.filter(~((pl.col("asset") == "600001.SH") & (pl.col("date") >= d[3])))
    assets = pl.DataFrame(
        {"asset": ["600000.SH", "600001.SH"], "delist_date": [None, d[3]]},
        schema={"asset": pl.String, "delist_date": pl.Date},
    )
    res = backtest(
        AssetGrid.from_prices(gone, assets=assets), targets, entry="next_open", capital=None
    )
    settle = res.trades.filter(pl.col("side") == "settle")
    assert settle["asset"].to_list() == ["600001.SH"] and settle["date"].to_list() == [d[3]]
    assert res.rebalances["blocked_sells"].to_list() == [0, 0]
    g = res.daily.filter(pl.col("date") > d[4])["gross"].to_numpy()
    assert np.allclose(g, 0.01)
    # without the delist date the same name is suspended: kept, flat, a blocked sell
    kept = backtest(AssetGrid.from_prices(gone), targets, entry="next_open", capital=None)
    assert kept.rebalances["blocked_sells"].to_list() == [0, 1]
    assert kept.daily["gross"][-1] < 0.01


def test_assets_with_foreign_codes_are_an_asset_code_error():
    _, prices, _ = _d3_market()
    assets = pl.DataFrame(
        {"asset": ["600000", "600001"], "delist_date": [None, None]},
        schema={"asset": pl.String, "delist_date": pl.Date},
    )
    with pytest.raises(AssetCodeError, match="600000"):
        AssetGrid.from_prices(prices, assets=assets)


def test_an_empty_leg_is_held_in_cash_and_counted():
    # day 2 is a rebalance whose leg has no name (a zero-weight row, as the study writes it)
    t = _targets([(DAYS[0], A, 1.0), (DAYS[2], A, 0.0), (DAYS[3], B, 1.0)])
    res = backtest(_grid(), t, entry="close", capital=None)
    assert res.rebalances["names"].to_list() == [1, 0, 1]
    assert res.rebalances["empty"].to_list() == [False, True, False]
    g = res.daily["gross"].to_list()
    assert g[2] == pytest.approx(12.1 / 11 - 1)  # A marked to the day-2 close, then sold
    assert g[3] == pytest.approx(0.0)  # in cash on day 3 (B bought at its close)
    assert g[4] == pytest.approx(0.0)  # B flat
    assert res.summary()["empty_rebalances"] == 1


def test_all_empty_legs_stay_in_cash():
    t = _targets([(d, A, 0.0) for d in DAYS[:3]])
    res = backtest(_grid(), t, entry="close", capital=None)
    assert res.rebalances["empty"].all() and res.rebalances.height == 3
    assert res.daily["gross"].to_list() == [0.0] * 6
    assert res.trades.height == 0


def test_targets_with_unknown_codes_are_an_asset_code_error():
    t = _targets([(DAYS[0], A, 1.0), (DAYS[2], "600519", 1.0)])
    with pytest.raises(AssetCodeError, match="600519"):
        backtest(_grid(), t, entry="close", capital=None)


def test_duplicate_targets_are_a_duplicate_key_error():
    t = _targets([(DAYS[0], A, 1.0), (DAYS[0], A, 1.0), (DAYS[0], B, 1.0)])
    with pytest.raises(DuplicateKeyError, match="`targets`"):
        backtest(_grid(), t, entry="close", capital=None)


@pytest.mark.parametrize("weight", [float("nan"), None, float("inf"), -1.0])
def test_bad_weights_are_a_value_range_error_naming_rows(weight):
    t = _targets([(DAYS[0], A, 1.0), (DAYS[0], B, weight)])
    with pytest.raises(ValueRangeError) as info:
        backtest(_grid(), t, entry="close", capital=None)
    assert "`targets`" in str(info.value) and "`weight`" in str(info.value)
    assert info.value.examples[0]["asset"] == B


def test_signals_off_the_calendar_are_a_calendar_error():
    with pytest.raises(CalendarError, match="not sessions"):
        backtest(_grid(), _targets([(DAYS[0].replace(day=4), A, 1.0)]), capital=None)
    with pytest.raises(ParameterError, match="entry"):
        backtest(_grid(), _targets([(DAYS[0], A, 1.0)]), entry="open", capital=None)


@pytest.mark.parametrize("value", [0.0, -10.0, float("inf")])
def test_zero_negative_or_infinite_prices_are_an_error_naming_rows(value):
    d, prices, _ = _d3_market()
    bad = prices.with_columns(
        close=pl.when((pl.col("asset") == "600000.SH") & (pl.col("date") == d[4]))
        .then(value)
        .otherwise(pl.col("close"))
    )
    with pytest.raises(ValueRangeError, match=r"`prices`.*`close`") as info:
        AssetGrid.from_prices(bad)
    assert info.value.examples[0]["asset"] == "600000.SH"


def test_duplicate_price_rows_are_a_duplicate_key_error():
    _, prices, _ = _d3_market()
    twice = pl.concat([prices, prices.head(1).with_columns(close=pl.col("close") * 2)])
    with pytest.raises(DuplicateKeyError, match=r"`prices`.*600000\.SH"):
        AssetGrid.from_prices(twice)


def test_positions_are_the_book_after_each_rebalance():
    close = {k: list(v) for k, v in CLOSE.items()}
    close[A][2] = close[A][3] = None  # A suspended on days 2-3: kept at its drifted weight
    t = _targets([(DAYS[0], A, 1.0), (DAYS[0], B, 1.0), (DAYS[2], C, 1.0)])
    res = backtest(_grid(close=close), t, entry="close", capital=None)
    pos = res.positions.sort("date", "asset")
    assert pos["asset"].to_list() == [A, B, A, C]
    w_a = 0.55 / (0.55 + 0.5 * 22 / 20)
    assert pos["weight"].to_list() == pytest.approx([0.5, 0.5, w_a, 1 - w_a])


def test_quantile_targets_picks_top_fraction_with_ties_and_skips_nan():
    scores = pl.DataFrame(
        {
            "date": [DAYS[0]] * 6,
            "asset": list("ABCDEF"),
            "score": [5.0, 4.0, 4.0, 1.0, None, 0.0],
            "cap": [1.0] * 6,
        }
    )
    assert sorted(quantile_targets(scores, top=0.4)["asset"]) == ["A", "B", "C"]
    assert quantile_targets(scores, top=0.2, side="bottom")["asset"].to_list() == ["F"]
    nan = pl.DataFrame(
        {"date": [DAYS[0]] * 4, "asset": list("ABCD"), "score": [1.0, 2.0, float("nan"), 0.5]}
    )
    assert sorted(quantile_targets(nan, top=0.34)["asset"].to_list()) == ["A", "B"]
    assert quantile_targets(nan, top=0.3)["asset"].to_list() == ["B"]
    for bad in ({"top": 0}, {"side": "middle"}, {"weighting": "float"}):
        with pytest.raises(ParameterError):
            quantile_targets(scores, **bad)


def test_every_error_here_is_a_factorlab_error():
    assert all(
        issubclass(e, FactorLabError)
        for e in (AssetCodeError, CalendarError, DuplicateKeyError, ValueRangeError)
    )
