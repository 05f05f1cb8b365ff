"""Data hygiene on the synthetic market's planted quirks, checked against its ground truth."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from factorlab.errors import (
    AssetCodeError,
    DuplicateKeyError,
    MarketError,
    ParameterError,
)
from factorlab.market import Market
from factorlab.northbound import DisclosureError, link_flows, research_panel
from factorlab.northbound.hygiene import bonus_checks


@pytest.fixture(scope="module")
def market(small_market) -> Market:
    return small_market  # the session fixture of tests/conftest.py


@pytest.fixture(scope="module")
def panel(market):
    return research_panel(market)


def test_holdings_equal_the_ground_truth(market, panel):
    truth = market.northbound_truth.collect()
    joined = panel.frame.join(truth, on=["date", "asset"], how="left", suffix="_true")
    joined = joined.with_columns(pl.col("shares_true").fill_null(0))
    # every row within one share (published counts divided by 1 + bonus are rounded), but
    # the record-date rows of the few bonus events whose record-date jump a trade moved away
    # from 1 + bonus (the check reads data up to the record date only: bonus_checks)
    off = joined.filter((pl.col("shares") - pl.col("shares_true")).abs() > 1.0)
    missed = bonus_checks(market).filter(~pl.col("pre_credited"))
    in_missed = off.join(missed, on="asset").filter(
        pl.col("date").is_between(pl.col("record_date"), pl.col("ex_date"), closed="left")
    )
    assert in_missed.height == off.height <= 10
    assert joined.height > 500_000


def test_flows_equal_the_true_net_buy(market, panel):
    flows = (
        panel.frame.group_by("date")
        .agg(pl.col("flow").sum())
        .join(market.flows_truth.collect(), on="date")
    )
    flows = flows.filter(pl.col("date") > panel.frame["date"].min())
    err = (flows["flow"] - flows["net_buy"]).abs()
    assert np.corrcoef(flows["flow"], flows["net_buy"])[0, 1] > 0.9999
    assert err.median() < 1e-4 * flows["net_buy"].abs().median()


def test_bonus_shares_are_never_buying(market, panel):
    ca = market.corporate_actions.filter(pl.col("bonus_ratio") > 0).collect()
    truth = (
        market.northbound_truth.sort("asset", "date")
        .with_columns(prev=pl.col("shares").shift(1).over("asset"))
        .collect()
    )
    # the events the record-date check recognised (the few it missed: test above)
    ca = ca.join(
        bonus_checks(market).filter(pl.col("pre_credited")),
        on=["asset", "record_date", "ex_date"],
        how="semi",
    )
    on_ex = (
        ca.join(panel.frame, left_on=["asset", "ex_date"], right_on=["asset", "date"])
        .join(truth, left_on=["asset", "ex_date"], right_on=["asset", "date"], suffix="_true")
        .filter(pl.col("shares") > 1e5)
    )
    assert on_ex.height >= 5
    # the true trade on the ex-date is S_t - S_{t-1} * (1 + bonus); a naive difference would add
    # bonus_ratio * S_{t-1} of phantom buying
    true_trade = on_ex["shares_true"] - on_ex["prev"] * (1 + on_ex["bonus_ratio"])
    assert (on_ex["d_shares"] - true_trade).abs().max() <= 3.0  # rounding of both series
    phantom = on_ex["bonus_ratio"] * on_ex["prev"]
    assert (phantom > 1e4).all()


def test_report_counts_each_fix(panel):
    report = {r["step"]: r["rows"] for r in panel.report.iter_rows(named=True)}
    assert report["drop HK-calendar repeat rows (mainland holidays)"] > 1000
    assert report["record-date jumps put on the ex-date basis"] > 10
    assert report["no published rows that day (HK holiday) -> carry holdings"] > 0


def test_no_repeat_rows_and_one_row_per_traded_stock_day(market, panel):
    f = panel.frame
    assert f.select(pl.struct("date", "asset").is_unique().all()).item()
    days = f["date"].unique()
    assert not days.is_in([dt.date(2020, 1, 24), dt.date(2020, 10, 1)]).any()
    assert f["date"].max() == dt.date(2024, 8, 16)


def test_ratio_is_recomputed_from_share_counts(panel):
    f = panel.frame.drop_nulls(["shares"])
    assert np.allclose(f["hold_ratio"], f["shares"] / f["float_shares"], rtol=1e-12, atol=0)


def test_publication_lag_is_marked(panel):
    f = panel.frame
    assert (f["usable_from"] > f["date"]).all()
    row = f.filter(pl.col("date") == dt.date(2020, 4, 9)).row(0, named=True)
    assert row["usable_from"] == dt.date(2020, 4, 10)  # Good Friday: A-shares open


def test_dates_after_the_disclosure_change_are_refused(market):
    with pytest.raises(DisclosureError, match="estimated_holdings"):
        research_panel(market, end="2024-12-31")
    truth = market.northbound_truth.filter(pl.col("date") > dt.date(2024, 8, 16))
    extended = research_panel(
        market, start="2024-06-01", end="2024-12-31", estimated_holdings=truth
    )
    assert extended.frame["date"].max() == dt.date(2024, 12, 31)


def test_a_market_entirely_after_the_change_is_a_clear_error(market):
    late = Market(
        {
            "northbound": market.northbound.filter(pl.col("date") > dt.date(2024, 8, 16)),
            "prices": market.prices,
        },
        validate="none",
    )
    with pytest.raises(DisclosureError, match="starts after the 2024-08-16 disclosure change"):
        research_panel(late)


def test_market_without_northbound_is_a_clear_error(market):
    with pytest.raises(MarketError, match=r"needs table.*`northbound`"):
        research_panel(Market({"prices": market.prices}, validate="none"))


def test_link_flows_keep_both_definitions_apart(market):
    f = link_flows(market)
    assert {"quota_inflow", "net_buy"} <= set(f.columns)
    assert (f["quota_inflow"] >= f["net_buy"]).all()


# --------------------------------------------------------------------------------------------
# where data meets data: codes, keys, zero denominators, empty windows
# --------------------------------------------------------------------------------------------


def _with(market: Market, **tables: pl.LazyFrame | pl.DataFrame) -> Market:
    """`market` with some tables replaced and not validated (``validate="none"``), so that
    the research panel's own checks are what is tested."""
    return Market({**{n: market[n] for n in market.names}, **tables}, validate="none")


def test_non_canonical_northbound_codes_are_an_asset_code_error(market):
    bad = _with(market, northbound=market.northbound.with_columns(pl.col("asset").str.slice(0, 6)))
    with pytest.raises(
        AssetCodeError,
        match=r"0 of \d+ `northbound` rows match an asset of `prices`.*e\.g\. \d{6},"
        r".*`prices` has e\.g\. \d{6}\.S[HZ]",
    ):
        research_panel(bad)


def test_a_partial_code_mismatch_is_dropped_and_counted_in_the_report(market, panel):
    nb = market.northbound.collect()
    victim = nb.group_by("asset").len().sort("len", "asset", descending=True)["asset"][0]
    code = victim[:6]
    bad = _with(
        market,
        northbound=nb.with_columns(
            asset=pl.when(pl.col("asset") == victim).then(pl.lit(code)).otherwise("asset")
        ),
    )
    got = research_panel(bad)
    on_sessions = nb.filter(
        (pl.col("asset") == victim) & pl.col("date").is_in(panel.frame["date"].unique().implode())
    ).height
    row = got.report.filter(pl.col("step").str.starts_with("northbound rows whose asset is not"))
    assert row["rows"].to_list() == [on_sessions] and on_sessions > 100
    assert code in row["detail"][0] and "1 code(s)" in row["detail"][0]
    # the other stocks are untouched; the victim's holdings are gone (0), as the report says
    joined = got.frame.join(panel.frame, on=["date", "asset"], suffix="_ok")
    others = joined.filter(pl.col("asset") != victim)
    assert (others["shares"] == others["shares_ok"]).all()
    assert joined.filter(pl.col("asset") == victim)["shares"].max() == 0
    clean = panel.report.filter(pl.col("step").str.starts_with("northbound rows whose asset"))
    assert clean["rows"].to_list() == [0]


def test_duplicate_northbound_keys_are_refused_by_the_panel_itself(market):
    nb = market.northbound.collect()
    dup = pl.concat([nb, nb.slice(1000, 10)])
    first = nb.slice(1000, 10).sort("date", "asset").row(0, named=True)
    with pytest.raises(
        DuplicateKeyError,
        match=rf"table `northbound` has 10 duplicate \(`date`, `asset`\) key\(s\).*"
        rf"e\.g\. \({first['date']}, {first['asset']}\)",
    ):
        research_panel(_with(market, northbound=dup))


def test_zero_float_shares_give_a_null_hold_ratio_not_inf(market, panel):
    held = panel.frame.filter(pl.col("shares") > 0)["asset"][0]
    px = market.prices.with_columns(
        float_shares=pl.when(pl.col("asset") == held).then(0.0).otherwise("float_shares")
    )
    got = research_panel(_with(market, prices=px)).frame
    mine = got.filter(pl.col("asset") == held)
    assert mine.height > 0 and mine["hold_ratio"].null_count() == mine.height
    assert got.select(pl.col(pl.Float64).is_infinite().any()).row(0) == (False,) * len(
        got.select(pl.col(pl.Float64)).columns
    )
    # the other stocks keep their ratios
    rest = got.filter(pl.col("asset") != held).join(panel.frame, on=["date", "asset"])
    assert (rest["hold_ratio"] == rest["hold_ratio_right"]).all()


def test_a_window_without_data_is_a_parameter_error_naming_the_ranges(market):
    cut = dt.date(2018, 12, 31)
    old = _with(
        market,
        northbound=market.northbound.filter(pl.col("date") <= cut),
        prices=market.prices.filter(pl.col("date") <= cut),
    )
    with pytest.raises(
        ParameterError,
        match=r"2020-01-02 .. 2020-06-01 holds no rows of table `prices`.*`northbound` covers "
        r"\d{4}-\d\d-\d\d .. 2018-12-\d\d, `prices` covers \d{4}-\d\d-\d\d .. 2018-12-\d\d",
    ):
        research_panel(old, start="2020-01-02", end="2020-06-01")
    with pytest.raises(ParameterError, match=r"`start` \(2020-01-02\) is after `end`.*covers"):
        research_panel(old, start="2020-01-02")
    first = market.northbound.select(pl.col("date").min()).collect().item()
    with pytest.raises(ParameterError, match=r"holds no rows of table `(prices|northbound)`"):
        research_panel(market, start=first - dt.timedelta(days=60), end=first - dt.timedelta(1))


def test_vwap_is_the_grid_definition_clipped_with_the_close_at_zero_volume(market, panel):
    """One VWAP (factorlab.grid.vwap): amount / volume clipped to [low, high]; a day without
    volume takes the close (it was NaN before the grid layer), and its flow is dS * close."""
    row = panel.frame.filter(pl.col("d_shares").abs() > 0).row(0, named=True)
    day, held = row["date"], row["asset"]
    one = (pl.col("asset") == held) & (pl.col("date") == day)
    px = market.prices.with_columns(
        volume=pl.when(one).then(0.0).otherwise("volume"),
        amount=pl.when(one).then(0.0).otherwise("amount"),
    )
    got = research_panel(_with(market, prices=px)).frame
    hit = got.filter(pl.col("asset") == held, pl.col("date") == day).row(0, named=True)
    assert hit["vwap"] == hit["close"] == row["close"]
    assert hit["flow"] == pytest.approx(row["d_shares"] * row["close"], rel=1e-12)
    # every other row keeps amount / volume (the small market's VWAPs all lie inside the bar)
    rest = got.filter(~((pl.col("asset") == held) & (pl.col("date") == day)))
    expect = rest["amount"] / rest["volume"]
    assert ((rest["vwap"] - expect).abs() <= 1e-9 * expect).all()
