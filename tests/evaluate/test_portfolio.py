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


# --- the trust issue: weights mean what they say, empty is a result, prices are checked ---------


def _price_rows(days, series, skip=()):
    """Canonical price rows for {asset: [close per day]}; (asset, day index) pairs in `skip`
    have no row (suspended)."""
    return pl.DataFrame(
        [
            dict(
                date=d,
                asset=a,
                open=p,
                high=p * 1.05,
                low=p * 0.95,
                close=p,
                volume=1e6,
                amount=p * 1e6,
                adj_factor=1.0,
                float_shares=1e8,
                total_shares=1e8,
                is_st=False,
            )
            for i, d in enumerate(days)
            for a, closes in series.items()
            for p in [closes[i]]
            if (a, i) not in skip
        ]
    )


def _d3_market():
    """reliability.md D3: 600001.SH is suspended on rows 3-5 and trades again on row 6."""
    import factorlab as fl

    days = fl.sessions("ashare", "2020-03-02", "2020-03-13").to_list()
    series = {
        "600000.SH": [10 * 1.01**i for i in range(len(days))],
        "600001.SH": [20 * 0.98**i for i in range(len(days))],
    }
    prices = _price_rows(days, series, skip={("600001.SH", i) for i in (3, 4, 5)})
    targets = pl.DataFrame(
        {
            "date": [days[1], days[1], days[3]],
            "asset": ["600000.SH", "600001.SH", "600000.SH"],
            "weight": [1.0] * 3,
        }
    )
    return days, prices, targets


def test_d3_suspension_is_not_decided_by_whether_the_stock_trades_again():
    days, prices, targets = _d3_market()
    d = days[5]
    full = simulate_portfolio(MarketGrid.from_prices(prices), targets, entry="next_open")
    cut = simulate_portfolio(
        MarketGrid.from_prices(prices.filter(pl.col("date") <= d)), targets, entry="next_open"
    )
    a = full.daily.filter(pl.col("date") <= d)
    b = cut.daily.filter(pl.col("date") <= d)
    assert a["date"].to_list() == b["date"].to_list() == days[2:6]
    assert np.array_equal(a["gross"].to_numpy(), b["gross"].to_numpy())
    # 600001.SH is suspended (no delist date): kept, marked flat; on d only 600000.SH earns 1%
    # (the old kernel sold it at its last close when the data ended at d: gross 0.01)
    w_suspended = 0.5 / (0.505 * 1.01 + 0.5)
    assert a["gross"][-1] == pytest.approx((1 - w_suspended) * 0.01, rel=1e-12)
    assert full.rebalances["blocked_sells"].to_list() == [0, 1]
    assert full.rebalances["delisted"].to_list() == [0, 0]


def test_a_delist_date_releases_the_name_from_that_day_on():
    days, prices, targets = _d3_market()
    gone = prices.filter(~((pl.col("asset") == "600001.SH") & (pl.col("date") >= days[3])))
    assets = pl.DataFrame(
        {"asset": ["600000.SH", "600001.SH"], "delist_date": [None, days[3]]},
        schema={"asset": pl.String, "delist_date": pl.Date},
    )
    res = simulate_portfolio(
        MarketGrid.from_prices(gone, assets=assets), targets, entry="next_open"
    )
    # the second rebalance trades on days[4] >= the delist date: released at its last close
    assert res.rebalances["delisted"].to_list() == [0, 1]
    assert res.rebalances["blocked_sells"].to_list() == [0, 0]
    # from then on the book is all 600000.SH: +1% a day
    g = res.daily.filter(pl.col("date") > days[4])["gross"].to_numpy()
    assert np.allclose(g, 0.01)
    # without the delist date the same name is suspended: kept, flat, a blocked sell
    kept = simulate_portfolio(MarketGrid.from_prices(gone), targets, entry="next_open")
    assert kept.rebalances["blocked_sells"].to_list() == [0, 1]
    assert kept.daily["gross"][-1] < 0.01


def test_assets_with_foreign_codes_are_an_asset_code_error():
    from factorlab.errors import AssetCodeError

    _, prices, _ = _d3_market()
    assets = pl.DataFrame(
        {"asset": ["600000", "600001"], "delist_date": [None, None]},
        schema={"asset": pl.String, "delist_date": pl.Date},
    )
    with pytest.raises(AssetCodeError, match=r"`assets`.*600000.*600000\.SH"):
        MarketGrid.from_prices(prices, assets=assets)


def test_empty_rebalance_holds_cash_and_is_counted():
    # targets on days 0 and 3 only, but day 2 is a scheduled rebalance with no name
    t = _targets([(DAYS[0], "A", 1.0), (DAYS[3], "B", 1.0)])
    res = simulate_portfolio(_grid(), t, entry="close", schedule=[DAYS[0], DAYS[2], DAYS[3]])
    assert res.rebalances["names"].to_list() == [1, 0, 1]
    assert res.empty_rebalances == 1
    g = res.daily["gross"].to_list()
    assert g[2] == pytest.approx(12.1 / 11 - 1)  # A marked to the day-2 close, then sold
    assert g[3] == pytest.approx(0.0)  # in cash on day 3 (B bought at its close)
    assert g[4] == pytest.approx(0.0)  # B flat
    # the empty rebalance sold the whole book
    assert res.rebalances["turnover"].to_list() == pytest.approx([0.5, 0.5, 0.5])


def test_empty_targets_and_empty_dates_do_not_crash():
    # D2: bincount on an empty selection returned int64 and the division could not write floats
    empty = _targets([])
    res = simulate_portfolio(_grid(), empty, entry="close", schedule=DAYS[:3])
    assert res.rebalances["names"].to_list() == [0, 0, 0]
    assert res.empty_rebalances == 3
    assert res.daily["gross"].to_list() == [0.0] * 6
    none = simulate_portfolio(_grid(), empty, entry="close")
    assert none.daily.height == 0 and none.rebalances.height == 0


def test_a_date_whose_codes_match_no_price_is_an_empty_rebalance_counted():
    t = _targets([(DAYS[0], "A", 1.0), (DAYS[2], "Z", 1.0), (DAYS[2], "Y", 1.0)])
    res = simulate_portfolio(_grid(), t, entry="close")
    assert res.rebalances["names"].to_list() == [1, 0]
    assert res.rebalances["unmatched"].to_list() == [0, 2]
    assert res.codes.unmatched_rows == 2 and res.codes.unmatched_codes == ("Y", "Z")
    assert res.daily["gross"][3] == pytest.approx(0.0)


def test_targets_matching_no_price_asset_are_an_asset_code_error():
    from factorlab.errors import AssetCodeError

    t = _targets([(DAYS[0], "600519", 1.0)])
    with pytest.raises(
        AssetCodeError, match=r"0 of 1 `targets` rows.*600519.*`prices` has e\.g\. A"
    ):
        simulate_portfolio(_grid(), t, entry="close")


def test_duplicate_targets_are_a_duplicate_key_error():
    from factorlab.errors import DuplicateKeyError

    t = _targets([(DAYS[0], "A", 1.0), (DAYS[0], "A", 1.0), (DAYS[0], "B", 1.0)])
    with pytest.raises(DuplicateKeyError, match=r"`targets`.*\(2020-01-02, A\)"):
        simulate_portfolio(_grid(), t, entry="close")


@pytest.mark.parametrize(
    ("weight", "rule"),
    [
        (float("nan"), "must be finite"),
        (None, "must be finite"),
        (float("inf"), "must be finite"),
        (-1.0, "must be >= 0 in a long-only book"),
    ],
)
def test_bad_weights_are_a_value_range_error_naming_rows(weight, rule):
    from factorlab.errors import ValueRangeError

    t = _targets([(DAYS[0], "A", 1.0), (DAYS[0], "B", weight)])
    with pytest.raises(ValueRangeError, match=rule) as info:
        simulate_portfolio(_grid(), t, entry="close")
    assert "`targets`" in str(info.value) and "`weight`" in str(info.value)
    assert info.value.examples[0]["asset"] == "B"


def test_zero_sum_weights_need_a_long_short_book():
    from factorlab.errors import ValueRangeError

    zero = _targets([(DAYS[0], "A", 0.0), (DAYS[0], "B", 0.0)])
    with pytest.raises(ValueRangeError, match=r"all 0, e\.g\. \{'date': '2020-01-02'.*schedule"):
        simulate_portfolio(_grid(), zero, entry="close")
    ls = _targets([(DAYS[0], "A", 1.0), (DAYS[0], "B", -1.0)])
    with pytest.raises(ValueRangeError, match="long_short"):
        simulate_portfolio(_grid(), ls, entry="close")
    res = simulate_portfolio(_grid(), ls, entry="close", book="long_short")
    g = res.daily["gross"].to_list()
    # long A 100%, short B 100%: day 1 A +10%, B 0 -> +10%
    assert g[0] == pytest.approx(0.0)
    assert g[1] == pytest.approx(0.10)
    # day 2: A 11 -> 12.1, B 20 -> 22 with drifted weights 1.1 / -1.0 of NAV 1.1
    assert g[2] == pytest.approx((1.1 * 0.1 - 1.0 * 0.1) / 1.1)
    with pytest.raises(ParameterError, match="`book`"):
        simulate_portfolio(_grid(), ls, entry="close", book="short")


def test_long_short_equals_long_minus_short_on_the_first_day():
    ls = _targets([(DAYS[0], "A", 2.0), (DAYS[0], "C", 2.0), (DAYS[0], "B", -3.0)])
    res = simulate_portfolio(_grid(), ls, entry="close", book="long_short")
    long = simulate_portfolio(
        _grid(), _targets([(DAYS[0], "A", 1.0), (DAYS[0], "C", 1.0)]), entry="close"
    )
    short = simulate_portfolio(_grid(), _targets([(DAYS[0], "B", 1.0)]), entry="close")
    assert res.daily["gross"][1] == pytest.approx(long.daily["gross"][1] - short.daily["gross"][1])


def test_pandas_targets_are_accepted():
    t = _targets([(DAYS[0], "A", 1.0), (DAYS[0], "B", 1.0)])
    a = simulate_portfolio(_grid(), t, entry="close")
    b = simulate_portfolio(_grid(), t.to_pandas(), entry="close")
    assert a.daily.equals(b.daily)


def test_schedule_must_hold_every_target_date():
    t = _targets([(DAYS[0], "A", 1.0), (DAYS[1], "B", 1.0)])
    with pytest.raises(ParameterError, match=r"not in `schedule`, e\.g\. 2020-01-03"):
        simulate_portfolio(_grid(), t, entry="close", schedule=[DAYS[0]])


@pytest.mark.parametrize("value", [0.0, -10.0, float("inf")])
def test_zero_negative_or_infinite_prices_are_an_error_naming_rows(value):
    from factorlab.errors import ValueRangeError

    days, prices, _ = _d3_market()
    bad = prices.with_columns(
        close=pl.when((pl.col("asset") == "600000.SH") & (pl.col("date") == days[4]))
        .then(value)
        .otherwise(pl.col("close"))
    )
    with pytest.raises(ValueRangeError, match=r"`prices`: column `close`") as info:
        MarketGrid.from_prices(bad)
    assert info.value.examples[0] == {"date": "2020-03-06", "asset": "600000.SH", "close": value}
    # a grid built by hand is checked too (D7: ZeroDivisionError inside the kernel)
    close = CLOSE.copy()
    close[2, 1] = value
    with pytest.raises(ValueRangeError, match=r"grid `close`.*'asset': 'B'"):
        _grid(close=close)


def test_duplicate_price_rows_are_a_duplicate_key_error():
    from factorlab.errors import DuplicateKeyError

    _, prices, _ = _d3_market()
    twice = pl.concat([prices, prices.head(1).with_columns(close=pl.col("close") * 2)])
    with pytest.raises(
        DuplicateKeyError, match=r"`prices` has 1 duplicate.*\(2020-03-02, 600000\.SH\)"
    ):
        MarketGrid.from_prices(twice)


def test_positions_are_the_book_after_each_rebalance():
    close = CLOSE.copy()
    close[2:4, 0] = np.nan  # A suspended on days 2-3: kept at its drifted weight
    t = _targets([(DAYS[0], "A", 1.0), (DAYS[0], "B", 1.0), (DAYS[2], "C", 1.0)])
    res = simulate_portfolio(_grid(close=close, open_=close), t, entry="close")
    pos = res.positions.sort("trade_date", "asset")
    assert pos["asset"].to_list() == ["A", "B", "A", "C"]
    # day 1: A 10 -> 11, B flat; day 2: A suspended (flat), B 20 -> 22
    w_a = 0.55 / (0.55 + 0.5 * 22 / 20)
    assert pos["weight"].to_list() == pytest.approx([0.5, 0.5, w_a, 1 - w_a])
