"""Data hygiene on the synthetic market's planted quirks, checked against its ground truth."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from factorlab.datasets import PRESETS, synthetic_market
from factorlab.errors import MarketError
from factorlab.market import Market
from factorlab.northbound import DisclosureError, link_flows, research_panel


@pytest.fixture(scope="module")
def market(tmp_path_factory) -> Market:
    return synthetic_market(**PRESETS["small"], cache=tmp_path_factory.mktemp("h") / "small")


@pytest.fixture(scope="module")
def panel(market):
    return research_panel(market)


def test_holdings_equal_the_ground_truth(market, panel):
    truth = market.northbound_truth.collect()
    joined = panel.frame.join(truth, on=["date", "asset"], how="left", suffix="_true")
    joined = joined.with_columns(pl.col("shares_true").fill_null(0))
    # every row within one share (published counts divided by 1 + bonus are rounded)
    assert (joined["shares"] - joined["shares_true"]).abs().max() <= 1.0
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
