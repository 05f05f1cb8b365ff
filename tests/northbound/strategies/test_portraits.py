"""Participant portraits (seed 004 §1.2-1.3, §2.1) against independent pandas computations on a
small synthetic market, a hand-made bonus-issue case, the past not depending on the future, and
bad input."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import polars as pl
import pytest

from factorlab.errors import FactorLabError, MarketError, ParameterError
from factorlab.market import Market
from factorlab.northbound import classify_participants, participant_flows
from factorlab.northbound.strategies.portraits import Portraits, portraits


@pytest.fixture(scope="module")
def split(strat_tiny):
    return classify_participants(strat_tiny)


@pytest.fixture(scope="module")
def port(strat_tiny, split) -> Portraits:
    return portraits(strat_tiny, split=split)


def _kinds_pd(frame: pd.DataFrame, history: pl.DataFrame) -> pd.DataFrame:
    """The kind in effect per (participant, date): pandas merge_asof on the classifications."""
    h = (
        history.select("participant", "effective_from", "kind")
        .to_pandas()
        .rename(columns={"effective_from": "date"})
    )
    h["date"] = pd.to_datetime(h["date"])
    f = frame.copy()
    f["date"] = pd.to_datetime(f["date"])
    out = pd.merge_asof(f.sort_values("date"), h.sort_values("date"), on="date", by="participant")
    out["kind"] = out["kind"].fillna("unclassified")
    return out


def _last_close_pd(market: Market, day: dt.date) -> pd.DataFrame:
    """Per listed asset on `day`: industry, last close on or before it, total shares."""
    a = market.assets.collect().to_pandas()
    ts = pd.Timestamp(day)
    listed = a[(a["list_date"] <= ts) & (a["delist_date"].isna() | (a["delist_date"] > ts))]
    px = (
        market.prices.filter(pl.col("date") <= day)
        .select("date", "asset", "close", "total_shares")
        .collect()
        .to_pandas()
    )
    last = px.sort_values("date").groupby("asset").tail(1).set_index("asset")
    out = listed[["asset", "industry"]].set_index("asset").join(last[["close", "total_shares"]])
    out["cap"] = out["close"] * out["total_shares"]
    return out


def test_monthly_turnover_value_and_counts_match_pandas(port, split):
    d = _kinds_pd(split.daily.to_pandas(), split.history)
    d = d[d["kind"].isin(["trading", "allocation"])].copy()
    d["month"] = d["date"].dt.to_period("M").dt.to_timestamp()
    per = d.groupby(["month", "kind", "participant"]).agg(
        turnover_daily=("turnover", "mean"),
        traded=("traded", "sum"),
        value=("value", "mean"),
        stocks=("stocks", "mean"),
    )
    per["turnover_monthly"] = np.where(per["value"] > 0, per["traded"] / per["value"], np.nan)
    want = per.groupby(["month", "kind"]).agg(
        participants=("value", "size"),
        turnover_daily=("turnover_daily", "median"),
        turnover_monthly=("turnover_monthly", "median"),
        value_mean=("value", "mean"),
        stocks_mean=("stocks", "mean"),
    )
    last = d[d["date"] == d.groupby("month")["date"].transform("max")]
    want["value_total"] = last.groupby(["month", "kind"])["value"].sum()
    want["value_total"] = want["value_total"].fillna(0.0)
    got = port.monthly.to_pandas()
    got["month"] = pd.to_datetime(got["month"])
    got = got.set_index(["month", "kind"]).sort_index()
    want = want.sort_index()
    assert list(got.index) == list(want.index)
    assert (got["participants"].to_numpy() == want["participants"].to_numpy()).all()
    for col in ("turnover_daily", "turnover_monthly", "value_mean", "stocks_mean", "value_total"):
        np.testing.assert_allclose(got[col], want[col], rtol=1e-9, err_msg=col)


def test_trading_money_turns_over_at_least_ten_times_faster(port):
    # the split's point (表2: the ratio stays above 10x): in the typical month of the synthetic
    # market, and trading money turns over faster in every month
    wide = port.monthly.pivot(on="kind", index="month", values="turnover_daily").drop_nulls()
    assert wide.height > 50
    ratio = wide["trading"] / wide["allocation"]
    assert ratio.median() > 10
    assert (ratio > 3).all()


def test_type_table_is_the_distribution_of_the_classification(port, split):
    h = split.history.to_pandas()
    h = h[h["kind"].isin(["trading", "allocation"])]
    g = h.groupby(["effective_from", "kind"])
    got = port.types.to_pandas().set_index(["effective_from", "kind"]).sort_index()
    np.testing.assert_allclose(got["turnover_median"], g["turnover"].median().sort_index())
    np.testing.assert_allclose(got["turnover_p25"], g["turnover"].quantile(0.25).sort_index())
    np.testing.assert_allclose(got["value_mean"], g["avg_value"].mean().sort_index())
    np.testing.assert_allclose(got["stocks_median"], g["avg_stocks"].median().sort_index())
    assert (got["participants"].to_numpy() == g.size().sort_index().to_numpy()).all()


def test_cumulative_flows_are_running_sums_against_the_index(strat_tiny, port, split):
    f = participant_flows(strat_tiny, split, by="market").sort("date").to_pandas()
    got = port.flows.to_pandas()
    for kind in ("trading", "allocation", "total"):
        np.testing.assert_allclose(got[f"cum_{kind}"], f[f"flow_{kind}"].cumsum())
    level = (
        strat_tiny.indices.filter(pl.col("index") == "csi800").collect().to_pandas()
    ).set_index("date")["close"]
    got_level = got.set_index("date")["index_close"]
    both = got_level.dropna().index
    assert len(both) == len(got_level)  # every flow day has a CSI 800 level here
    np.testing.assert_allclose(got_level, level.reindex(both))


@pytest.mark.parametrize("which", [0, -1])
def test_industry_weights_match_pandas_on_a_month_end(strat_tiny, port, split, which):
    day = port.industry["date"].unique().sort()[which]
    caps = _last_close_pd(strat_tiny, day)
    rows = strat_tiny.participant_holdings.filter(pl.col("date") == day).collect().to_pandas()
    rows = _kinds_pd(rows, split.history)
    rows = rows.join(caps[["industry", "close"]], on="asset", how="inner")
    rows = rows[rows["close"].notna()]
    # no bonus issue is pending on these days in this market (the bonus case is its own test)
    ca = strat_tiny.corporate_actions.filter(
        (pl.col("bonus_ratio") > 0) & (pl.col("record_date") <= day) & (pl.col("ex_date") > day)
    )
    assert ca.collect().height == 0
    rows["value"] = rows["shares"] * rows["close"]
    mw = caps.dropna(subset=["cap"]).groupby("industry")["cap"].sum()
    mw = mw / mw.sum()
    got = port.industry.filter(pl.col("date") == day).to_pandas()
    for kind in ("trading", "allocation", "all"):
        sub = rows if kind == "all" else rows[rows["kind"] == kind]
        value = sub.groupby("industry")["value"].sum()
        g = got[got["kind"] == kind].set_index("industry")
        want_value = value.reindex(g.index).fillna(0.0)
        np.testing.assert_allclose(g["value"], want_value, rtol=1e-9, err_msg=kind)
        np.testing.assert_allclose(g["weight"], want_value / value.sum(), rtol=1e-9)
        np.testing.assert_allclose(g["market_weight"], mw.reindex(g.index), rtol=1e-9)
        np.testing.assert_allclose(g["overweight"].sum(), 0.0, atol=1e-12)
    table = port.industry_table(day)
    assert table.height == got["industry"].nunique()
    assert table["weight_allocation"].is_sorted(descending=True)


def test_quarterly_industry_flows_sum_the_daily_flows(strat_tiny, port, split):
    f = participant_flows(strat_tiny, split, by="industry").to_pandas()
    f["period"] = f["date"].dt.to_period("Q").dt.to_timestamp()
    want = f.groupby(["period", "industry"])[["flow_trading", "flow_allocation", "flow_total"]]
    want = want.sum()
    got = port.industry_flows.to_pandas()
    got["period"] = pd.to_datetime(got["period"])
    wide = got.pivot_table(index=["period", "industry"], columns="kind", values="flow")
    wide = wide.reindex(want.index)
    np.testing.assert_allclose(wide["trading"], want["flow_trading"], rtol=1e-9, atol=1e-3)
    np.testing.assert_allclose(wide["allocation"], want["flow_allocation"], rtol=1e-9, atol=1e-3)
    np.testing.assert_allclose(wide["all"], want["flow_total"], rtol=1e-9, atol=1e-3)


def test_index_coverage_matches_pandas(strat_tiny, port):
    day = port.coverage["date"].max()
    caps = _last_close_pd(strat_tiny, day)
    nb = strat_tiny.northbound.filter(pl.col("date") == day).collect().to_pandas()
    nb = nb.set_index("asset")["shares"]
    caps["nb"] = nb.reindex(caps.index).fillna(0.0)
    caps["nb_value"] = caps["nb"] * caps["close"]
    members = strat_tiny.pools.filter(pl.col("date") == day).collect().to_pandas()
    got = port.coverage.filter(pl.col("date") == day).to_pandas().set_index("index")
    assert set(got.index) == {"csi300", "csi800"}  # this market has no csi500 members
    for index in got.index:
        m = caps.loc[members.loc[members["pool"] == index, "asset"]]
        row = got.loc[index]
        assert row["members"] == len(m)
        assert row["held"] == int((m["nb"] > 0).sum())
        np.testing.assert_allclose(row["held_share"], (m["nb"] > 0).mean())
        np.testing.assert_allclose(row["nb_value"], m["nb_value"].sum(), rtol=1e-9)
        np.testing.assert_allclose(row["index_cap"], m["cap"].sum(), rtol=1e-9)
        np.testing.assert_allclose(row["value_share"], m["nb_value"].sum() / m["cap"].sum())
        np.testing.assert_allclose(
            row["northbound_share"], m["nb_value"].sum() / caps["nb_value"].sum()
        )
    held = port.caps.filter(pl.col("group") == "northbound held")
    assert held.height == int((caps["nb"] > 0).sum())


def _with(market: Market, **tables) -> Market:
    frames = {n: market[n] for n in market.names}
    frames.update(tables)
    return Market(
        {k: v for k, v in frames.items() if v is not None}, meta=market.meta, validate="none"
    )


def test_a_pending_bonus_issue_is_valued_on_the_price_basis(strat_tiny, split, port):
    # a hand-made 10-for-10 bonus issue whose record date is before a month-end and whose
    # ex-date is after it: HKSCC already counts the new shares, the price has not adjusted, so
    # the holding is valued at shares / 2
    day = port.industry["date"].unique().sort()[-1]
    rows = strat_tiny.participant_holdings.filter(pl.col("date") == day).collect()
    asset = rows.group_by("asset").agg(pl.col("shares").sum()).sort("shares")["asset"][-1]
    ca = strat_tiny.corporate_actions.collect()
    bonus = pl.DataFrame(
        {
            "asset": [asset],
            "ex_date": [day + dt.timedelta(days=3)],
            "record_date": [day - dt.timedelta(days=1)],
            "bonus_ratio": [1.0],
            "cash_dividend": [0.0],
        }
    )
    market = _with(strat_tiny, corporate_actions=pl.concat([ca, bonus.select(ca.columns)]))
    got = portraits(market, split=split)
    industry = strat_tiny.assets.filter(pl.col("asset") == asset).collect()["industry"][0]

    def value(p):
        return p.industry.filter(
            (pl.col("date") == day) & (pl.col("industry") == industry) & (pl.col("kind") == "all")
        )["value"][0]

    close = (
        strat_tiny.prices.filter((pl.col("date") <= day) & (pl.col("asset") == asset))
        .sort("date")
        .collect()["close"][-1]
    )
    held = rows.filter(pl.col("asset") == asset)["shares"].sum() * close
    np.testing.assert_allclose(value(port) - value(got), held / 2, rtol=1e-9)
    # the day before the record date is untouched
    earlier = port.industry["date"].unique().sort()[-2]
    a = port.industry.filter(pl.col("date") == earlier)
    b = got.industry.filter(pl.col("date") == earlier)
    assert a.select("industry", "kind").equals(b.select("industry", "kind"))
    np.testing.assert_allclose(a["value"], b["value"], rtol=1e-12)


def test_the_portraits_up_to_a_month_end_do_not_depend_on_later_data(strat_tiny, port):
    cut = dt.date(2021, 6, 30)
    dated = {
        "prices": "date",
        "northbound": "date",
        "participant_holdings": "date",
        "pools": "date",
        "indices": "date",
        "quotas": "date",
    }
    tables = {n: strat_tiny[n].filter(pl.col(c) <= cut) for n, c in dated.items()}
    cut_market = _with(strat_tiny, **tables)
    early = portraits(cut_market)
    for name, col in (
        ("monthly", "month"),
        ("types", "effective_from"),
        ("flows", "date"),
        ("industry", "date"),
        ("coverage", "date"),
        ("industry_flows", "period"),
    ):
        full = getattr(port, name).filter(pl.col(col) <= getattr(early, name)[col].max())
        if name == "industry_flows":  # the cut quarter is complete here: 2021-04 .. 06
            full = full.filter(pl.col(col) <= cut)
        part = getattr(early, name).sort(full.columns[:3] if name != "flows" else "date")
        full = full.sort(full.columns[:3] if name != "flows" else "date")
        assert part.height > 10, name
        np.testing.assert_allclose(
            part.select(pl.selectors.numeric()).to_numpy(),
            full.select(pl.selectors.numeric()).to_numpy(),
            rtol=1e-9,
            err_msg=name,
        )


def test_a_market_without_participant_holdings_is_named(strat_tiny):
    market = _with(strat_tiny, participant_holdings=None)
    with pytest.raises(MarketError, match="participant_holdings"):
        portraits(market)


def test_a_market_without_indices_is_named(strat_tiny, split):
    with pytest.raises(MarketError, match="`indices`"):
        portraits(_with(strat_tiny, indices=None), split=split)


def test_an_unknown_flow_index_names_the_indices_present(strat_tiny, split):
    with pytest.raises(MarketError, match=r"`csi1000`.*csi300"):
        portraits(strat_tiny, split=split, flow_index="csi1000")


def test_an_index_without_members_is_named(strat_tiny, split):
    with pytest.raises(MarketError, match=r"\['csi500'\].*pools"):
        portraits(strat_tiny, split=split, indices=("csi300", "csi500"))


def test_empty_participant_holdings_say_what_is_needed(strat_tiny):
    empty = strat_tiny.participant_holdings.filter(pl.lit(False))
    with pytest.raises(MarketError, match="no rows"):
        portraits(_with(strat_tiny, participant_holdings=empty))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cap": "free"}, "`cap`"),
        ({"flow_period": "week"}, "`flow_period`"),
        ({"indices": ()}, "`indices` is empty"),
    ],
)
def test_bad_parameters_are_parameter_errors(strat_tiny, split, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        portraits(strat_tiny, split=split, **kwargs)
    assert issubclass(ParameterError, FactorLabError)


def test_the_repr_names_the_data(port):
    text = repr(port)
    assert "Portraits" in text and "csi800" in text
    assert f"content hash {port.data['content_hash'][:16]}" in text  # as every result says
