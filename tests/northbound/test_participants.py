"""The participant split against the synthetic market's true participant types."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from factorlab.errors import AssetCodeError, DuplicateKeyError, ParameterError
from factorlab.market import Market
from factorlab.northbound.participants import (
    classify_participants,
    participant_changes,
    participant_flows,
)


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


# --------------------------------------------------------------------------------------------
# where participant holdings meet prices: keys and codes
# --------------------------------------------------------------------------------------------


def _early(market: Market, **tables: pl.DataFrame) -> tuple[Market, dt.date]:
    """`market` with some tables replaced (not validated: the function's own checks are
    tested) and an `end` two months after the first participant day, to keep them small."""
    end = market.participant_holdings.select(pl.col("date").min()).collect().item()
    end += dt.timedelta(days=60)
    m = Market({**{n: market[n] for n in market.names}, **tables}, validate="none")
    return m, end


def _holdings(market: Market) -> pl.DataFrame:
    first = market.participant_holdings.select(pl.col("date").min()).collect().item()
    return market.participant_holdings.filter(
        pl.col("date") <= first + dt.timedelta(days=60)
    ).collect()


def test_duplicate_participant_keys_are_refused(market):
    ph = _holdings(market)
    extra = ph.slice(5000, 3)
    m, end = _early(market, participant_holdings=pl.concat([ph, extra]))
    first = extra.sort("date", "asset", "participant").row(0, named=True)
    with pytest.raises(
        DuplicateKeyError,
        match=rf"table `participant_holdings` has 3 duplicate \(`date`, `asset`, `participant`\)"
        rf" key\(s\).*e\.g\. \({first['date']}, {first['asset']}, {first['participant']}\)",
    ):
        participant_changes(m, end=end)


def test_participant_codes_are_matched_against_prices(market):
    ph = _holdings(market)
    m, end = _early(market, participant_holdings=ph.with_columns(pl.col("asset").str.slice(0, 6)))
    with pytest.raises(
        AssetCodeError, match=r"0 of \d+ `participant_holdings` rows match an asset of `prices`"
    ):
        participant_changes(m, end=end)
    victim = ph["asset"].sort()[0]
    renamed = ph.with_columns(
        asset=pl.when(pl.col("asset") == victim).then(pl.lit(victim[:6])).otherwise("asset")
    )
    m, end = _early(market, participant_holdings=renamed)
    got = participant_changes(m, end=end)
    ok = participant_changes(_early(market, participant_holdings=ph)[0], end=end)
    # holdings of stocks without a price row in the window (suspended) are counted as well
    unpriced = ok.report["rows"][0]
    priced = market.prices.filter(pl.col("date").is_between(ph["date"].min(), end))
    absent = ph.join(priced.select("asset").unique().collect(), on="asset", how="anti").height
    assert unpriced == absent
    assert got.report["rows"].to_list() == [unpriced + ph.filter(pl.col("asset") == victim).height]
    assert victim[:6] in got.report["detail"][0]


def test_vwap_is_the_grid_definition_with_the_close_at_zero_volume(market):
    """One VWAP (factorlab.grid.vwap): the close on a day without volume (null before)."""
    m, end = _early(market)
    base = participant_changes(m, end=end)
    row = base.frame.filter(pl.col("vwap").is_not_null()).row(0, named=True)
    day, asset = base.days[row["day"]], base.assets[row["aid"]]
    one = (pl.col("asset") == asset) & (pl.col("date") == day)
    px = market.prices.with_columns(volume=pl.when(one).then(0.0).otherwise("volume"))
    m0, _ = _early(market, prices=px)
    got = participant_changes(m0, end=end).frame
    at = (pl.col("day") == row["day"]) & (pl.col("aid") == row["aid"])
    hit = got.filter(at)
    assert hit.height > 0 and (hit["vwap"] == hit["close"]).all()
    assert hit["close"][0] == row["close"]
    assert got.filter(~at).equals(base.frame.filter(~at))
