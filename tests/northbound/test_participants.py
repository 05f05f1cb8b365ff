"""The participant split against the synthetic market's true participant types."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from factorlab.errors import ParameterError
from factorlab.market import Market
from factorlab.northbound.participants import classify_participants, participant_flows


@pytest.fixture(scope="module")
def market(small_market) -> Market:
    return small_market  # the session fixture of tests/conftest.py


@pytest.fixture(scope="module")
def split(market):
    return classify_participants(market)


def test_classification_matches_the_true_types(market, split):
    truth = market.participants.select("participant", true="kind").collect()
    h = split.history.filter(pl.col("kind") != "minor").join(truth, on="participant")
    acc = h.group_by("effective_from").agg(acc=(pl.col("kind") == pl.col("true")).mean())
    assert acc["acc"].min() > 0.95
    assert acc.height >= 13  # every May and November from 2017-11 to 2024-05


def test_reclassified_in_may_and_november_on_past_data_only(split):
    dates = split.history["effective_from"].unique().sort()
    assert set(dates.dt.month().to_list()) == {5, 11}
    assert dates[0] == dt.date(2017, 11, 1)  # 2017-05 has < 40 days of history


def test_about_40_percent_trading(split):
    last = split.history.filter(pl.col("effective_from") == split.history["effective_from"].max())
    ranked = last.filter(pl.col("kind") != "minor")
    share = (ranked["kind"] == "trading").mean()
    assert 0.3 <= share <= 0.5


def test_buffer_keeps_kinds_stable(market, split):
    wide = classify_participants(market, buffer=0.25, changes=split.changes)
    none = classify_participants(market, buffer=0.0, changes=split.changes)

    def switches(split):
        h = split.history.filter(pl.col("kind") != "minor").sort("participant", "effective_from")
        return h.with_columns(s=pl.col("kind") != pl.col("kind").shift(1).over("participant"))[
            "s"
        ].sum()

    assert switches(wide) <= switches(none)


def test_turnover_separates_the_types(split):
    med = (
        split.history.filter(pl.col("kind") != "minor")
        .group_by("kind")
        .agg(pl.col("turnover").median())
    )
    t = dict(zip(med["kind"], med["turnover"], strict=True))
    assert t["trading"] > 10 * t["allocation"]


def test_flows_by_type_match_the_truth(market, split):
    f = participant_flows(market, split, by="market").join(market.flows_truth.collect(), on="date")
    f = f.filter(pl.col("date") >= dt.date(2017, 11, 1))
    assert np.corrcoef(f["flow_total"], f["net_buy"])[0, 1] > 0.9999
    assert np.corrcoef(f["flow_trading"], f["net_buy_trading"])[0, 1] > 0.9
    assert np.corrcoef(f["flow_allocation"], f["net_buy_allocation"])[0, 1] > 0.9


def test_flows_by_asset_and_industry_add_up(market, split):
    by_asset = participant_flows(market, split, by="asset")
    by_ind = participant_flows(market, split, by="industry")
    by_mkt = participant_flows(market, split, by="market")
    a = by_asset.group_by("date").agg(pl.col("flow_trading").sum()).sort("date")
    i = by_ind.group_by("date").agg(pl.col("flow_trading").sum()).sort("date")
    assert np.allclose(a["flow_trading"], by_mkt.sort("date")["flow_trading"])
    assert np.allclose(i["flow_trading"], by_mkt.sort("date")["flow_trading"])


def test_bad_parameters(market, split):
    with pytest.raises(ParameterError, match="trading_share"):
        classify_participants(market, trading_share=1.5)
    with pytest.raises(ParameterError, match="buffer"):
        classify_participants(market, buffer=0.5)
    with pytest.raises(ParameterError, match="months"):
        classify_participants(market, months=(13,))
    with pytest.raises(ParameterError, match="`by`"):
        participant_flows(market, split, by="sector")
