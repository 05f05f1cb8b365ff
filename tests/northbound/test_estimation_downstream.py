"""Seed 002's estimated holdings downstream (issue 13 point 6): the market flows, the threshold
timing, the industry rotation and ``run_strategies`` run past the disclosure change on them,
every estimated date marked, and nothing at or before a day depends on what is published after
it. Also: ``participant_changes`` stops at the market's own disclosure change."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from factorlab.errors import DisclosureError, ParameterError
from factorlab.market import Market
from factorlab.northbound import research_panel
from factorlab.northbound.estimated import estimated_flows, study_estimates
from factorlab.northbound.estimation import estimate_holdings
from factorlab.northbound.participants import participant_changes
from factorlab.northbound.strategies import (
    industry_flow_factor,
    market_flows,
    rotation_inputs,
    run_strategies,
    threshold_grid,
    threshold_timing,
)

CHANGE = dt.date(2023, 1, 1)
#: a day inside the estimated period (the look-ahead tests cut there)
CUT = dt.date(2023, 6, 14)
TIMING = {"n": 4, "m": 1.0, "window": 60}


@pytest.fixture(scope="module")
def market(est_market: Market) -> Market:
    """200 stocks, daily disclosure until 2023-01-01, then a year of quarterly snapshots
    (tests/northbound/conftest.py)."""
    return est_market


@pytest.fixture(scope="module")
def estimate(market):
    return estimate_holdings(market, progress=False)


def _perturbed(holdings: pl.DataFrame, day: dt.date) -> pl.DataFrame:
    """The estimates with everything published after `day` changed (shares x 1.5, flows x 3)."""
    later = pl.col("published") > day
    return holdings.with_columns(
        shares=pl.when(later).then(pl.col("shares") * 1.5).otherwise("shares"),
        flow=pl.when(later).then(pl.col("flow") * 3.0).otherwise("flow"),
    )


# ---- the market flows ----------------------------------------------------------------------
def test_market_flows_run_past_the_change_on_estimates(market, estimate):
    plain = market_flows(market, kinds=("all",)).series("all")
    mf = market_flows(market, kinds=("all",), estimated_holdings=estimate)
    f = mf.series("all")
    assert mf.estimated_from == CHANGE and "estimated" in mf.source["all"]
    # up to the change: the links' own figures, unchanged
    before = f.filter(pl.col("date") <= CHANGE)
    assert before.equals(plain.filter(pl.col("date") <= CHANGE))
    # after it: per publication day, the sum of the estimator's per-stock flows (computed here
    # from the estimate's own rows)
    ref = (
        estimate.holdings.filter(pl.col("date") > CHANGE)
        .group_by(date="published")
        .agg(ref=pl.col("flow").sum())
    )
    after = f.filter(pl.col("date") > CHANGE).join(ref, on="date", how="full", coalesce=True)
    assert after.height == ref.height > 200
    np.testing.assert_allclose(after["flow"].to_numpy(), after["ref"].to_numpy(), rtol=1e-12)
    # every estimated day is counted on its publication day, after its own date
    first_pub = estimate.totals.filter(pl.col("date") > CHANGE)["published"].min()
    assert f.filter(pl.col("date") > CHANGE)["date"].min() == first_pub > CHANGE


def test_estimated_flows_without_a_flow_column_are_ds_times_vwap(market, estimate):
    """A (date, asset, shares, published) frame: the flows after the change are dS x VWAP,
    checked by hand on stocks without a corporate action, dated on publication."""
    frame = estimate.holdings.select("date", "asset", "shares", "published")
    est = study_estimates(frame)
    assert est.flows is None and est.published.height == estimate.totals.height
    got = estimated_flows(market, est).filter(pl.col("estimated"))
    assert got["date"].min() > CHANGE
    actions = (
        market.corporate_actions.collect()["asset"].unique()
        if market.has("corporate_actions")
        else pl.Series([], dtype=pl.String)
    )
    vwap = (pl.col("amount") / pl.col("volume")).clip(pl.col("low"), pl.col("high"))
    px = market.prices.select("date", "asset", vwap=vwap).collect()
    hand = (
        frame.filter(~pl.col("asset").is_in(actions.implode()))
        .sort("asset", "date")
        .with_columns(ds=pl.col("shares").diff().over("asset"))
        .filter(pl.col("date") > estimate.totals["date"].min())
        .join(px, on=["date", "asset"])
        .select(date="published", asset="asset", hand=pl.col("ds") * pl.col("vwap"))
        .drop_nulls()
    )
    both = hand.join(got, on=["date", "asset"])
    assert both.height > 0.5 * hand.height > 1000
    np.testing.assert_allclose(both["flow"].to_numpy(), both["hand"].to_numpy(), rtol=1e-9)


# ---- the threshold timing ------------------------------------------------------------------
def test_timing_runs_past_the_change_on_estimates(market, estimate):
    plain = threshold_timing(market, **TIMING)
    assert plain.signal["date"].max() <= CHANGE  # the market's own change, not 2024-08-16
    assert plain.estimated_from is None and "estimated" not in plain.signal.columns
    with pytest.raises(DisclosureError, match="estimated_holdings="):
        threshold_timing(market, **TIMING, end=dt.date(2023, 3, 1))
    r = threshold_timing(market, **TIMING, estimated_holdings=estimate)
    s = r.signal
    assert r.estimated_from == CHANGE and "estimated" in repr(r)
    assert s["date"].max() > dt.date(2023, 12, 1)
    assert s["estimated"].to_list() == (s["date"] > CHANGE).to_list()
    # the days up to the change are the plain run's, value for value
    cols = ["date", "flow", "sum", "mid", "upper", "lower", "position"]
    assert s.filter(~pl.col("estimated")).select(cols).equals(plain.signal.select(cols))
    # the book trades on the estimated signals
    assert r.book.daily["date"].max() > dt.date(2023, 12, 1)
    # the grid marks them too; trading / allocation flows stay within the daily disclosure
    g = threshold_grid(market, ns=(4,), ms=(1.0,), window=60, estimated_holdings=estimate)
    assert g.estimated_from == CHANGE
    t = threshold_timing(market, flow="trading", **TIMING, estimated_holdings=estimate)
    assert t.signal["date"].max() <= CHANGE and not t.signal["estimated"].any()


def test_timing_on_estimates_has_no_look_ahead(market, estimate):
    """Everything published after CUT changed: the signal and the book up to CUT are equal."""
    base = threshold_timing(market, **TIMING, estimated_holdings=estimate.holdings)
    moved = threshold_timing(
        market, **TIMING, estimated_holdings=_perturbed(estimate.holdings, CUT)
    )
    upto = pl.col("date") <= CUT
    assert base.signal.filter(upto).equals(moved.signal.filter(upto))
    assert base.book.daily.filter(upto).equals(moved.book.daily.filter(upto))
    assert not base.signal.filter(~upto).equals(moved.signal.filter(~upto))  # it did change


# ---- the rotation --------------------------------------------------------------------------
def test_rotation_on_estimates_has_no_look_ahead(market, estimate):
    base = rotation_inputs(market, flows=["all"], estimated_holdings=estimate)
    moved = rotation_inputs(
        market, flows=["all"], estimated_holdings=_perturbed(estimate.holdings, CUT)
    )
    fb = industry_flow_factor(market, flow="all", lookback=5, inputs=base)
    fm = industry_flow_factor(market, flow="all", lookback=5, inputs=moved)
    upto = pl.col("date") <= CUT
    assert fb["date"].max() > dt.date(2023, 12, 1)
    assert fb.filter(upto).equals(fm.filter(upto))
    assert not fb.filter(~upto).equals(fm.filter(~upto))
    # the rotation reads the estimator's flows (no re-anchoring jumps), each on its publication
    # day: the industry sums of one day equal the estimate's rows published that day
    day = estimate.totals.filter(pl.col("date") > CHANGE)["published"][10]
    panel = research_panel(market, end=estimate.holdings["date"].max(),
                           estimated_holdings=estimate.holdings)  # fmt: skip
    flows = estimated_flows(market, study_estimates(estimate), panel=panel)
    want = estimate.holdings.filter(pl.col("published") == day)["flow"].sum()
    assert flows.filter(pl.col("date") == day)["flow"].sum() == pytest.approx(want, rel=1e-12)


# ---- run_strategies ------------------------------------------------------------------------
_OPTIONS = {
    "threshold": {"ns": (1, 4), "ms": (0.5, 1.0), "window": 60},
    "rotation": {"grid": {"tops": (3,), "rebalances": (1,), "lookbacks": (5,)}},
}


def _run(market, est, cache, parts=("threshold",)):
    options = {p: _OPTIONS[p] for p in parts}
    return run_strategies(
        market, parts=list(parts), options=options, estimated_holdings=est, cache=cache,
        progress=False,
    )  # fmt: skip


def test_run_strategies_marks_every_estimated_date(market, estimate, tmp_path):
    r = _run(market, estimate, tmp_path / "c", parts=("threshold", "rotation"))
    assert r.estimated_from == CHANGE
    assert "holdings after 2023-01-01 are estimated" in repr(r)
    dated = 0
    for group in (r.tables, r.series):
        for part, frames in group.items():
            for name, f in frames.items():
                if "date" not in f.columns:
                    continue
                dated += 1
                assert "estimated" in f.columns, (part, name)
                if part == "threshold" or name == "layered_daily":  # marked by date
                    assert f["estimated"].to_list() == (f["date"] > CHANGE).to_list()
                assert not f.filter(pl.col("date") <= CHANGE)["estimated"].any(), (part, name)
    assert dated >= 5
    sig = r.table("threshold", "signals").filter(pl.col("flow") == "all")
    assert sig["date"].max() > dt.date(2023, 12, 1) and sig["estimated"].any()
    groups = r.table("rotation", "layered_groups").filter(pl.col("flow") == "all")
    assert groups["date"].max() > dt.date(2023, 12, 1) and groups["estimated"].any()
    # the estimates are part of the cache key: a rerun reads back, other estimates do not
    again = _run(market, estimate, tmp_path / "c2")
    other = _run(market, _perturbed(estimate.holdings, CUT), tmp_path / "c2")
    assert again.params.key("h") != other.params.key("h")
    assert not again.table("threshold", "signals").equals(other.table("threshold", "signals"))
    hit = _run(market, estimate, tmp_path / "c2")
    assert hit.estimated_from == CHANGE
    assert hit.table("threshold", "signals").equals(again.table("threshold", "signals"))
    with pytest.raises(ParameterError, match=r"run_strategies\(estimated_holdings="):
        run_strategies(
            market, parts=["threshold"], cache=False, progress=False,
            options={"threshold": {"estimated_holdings": estimate}},
        )  # fmt: skip


def test_strategies_report_says_which_dates_are_estimated(market, estimate, tmp_path):
    from factorlab.report.strategies import write_strategies_report

    path = write_strategies_report(_run(market, estimate, False), tmp_path / "rep", dpi=40)
    line = "Holdings after 2023-01-01 are estimated (seed 002 two-step estimator)."
    assert line in path.read_text()
    assert line in (tmp_path / "rep" / "summary.md").read_text()


# ---- participant_changes -------------------------------------------------------------------
def test_participant_changes_stop_at_the_markets_change(market):
    pc = participant_changes(market)
    assert pc.days.max() <= CHANGE
    # the quarterly snapshots after the change are not daily days
    ph_days = market.participant_holdings.select("date").unique().collect()["date"]
    assert (ph_days > CHANGE).any()
    assert pc.days.equals(participant_changes(market, end=CHANGE).days)


def test_cli_strategies_with_estimates(market, tmp_path, capsys):
    from factorlab.cli import main

    args = ["strategies", "--market", str(market.path), "--parts", "threshold", "--no-cache"]
    assert main([*args, "--out", str(tmp_path / "b"), "--estimate"]) == 0
    out = capsys.readouterr().out
    assert "Holdings after 2023-01-01 are estimated (seed 002 two-step estimator)." in out
    assert "Holdings after 2023-01-01" in (tmp_path / "b" / "report.html").read_text()


def test_timing_grid_point_that_never_crosses(market):
    """A band too wide to cross: that book holds cash, no signal (it used to break the grid's
    statistics; the default grid on a short market has such points)."""
    g = threshold_grid(market, ns=(4,), ms=(1.0, 50.0), window=60, flows=("all",))
    never = g.table.filter(pl.col("m") == 50.0)
    assert never.height == 24 and (never["signals"] == 0).all()  # 2 indices x 2 books x 6
    assert (never.filter(pl.col("days") > 1)["exposure"] == 0).all()
    assert (g.table.filter(pl.col("m") == 1.0)["signals"] > 0).any()
