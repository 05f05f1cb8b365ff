"""Seed 002's two-step holdings estimator: the disclosure regime, exact recovery, ablations,
the naive baseline, no look-ahead, metrics by hand and bad input."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from scipy.optimize import minimize

from factorlab.calendar import sessions
from factorlab.errors import AssetCodeError, DisclosureError, ParameterError, ValueRangeError
from factorlab.market import Market
from factorlab.northbound import research_panel
from factorlab.northbound.estimation import (
    EstimateParams,
    disclosure_end,
    disclosure_statistics,
    estimate_holdings,
    flow_metrics,
    naive_flows,
    printed_comovement,
    project_weights,
    validation_table,
)

CHANGE = dt.date(2023, 1, 1)  # tests/northbound/conftest.py's EST_CHANGE


@pytest.fixture(scope="module")
def market(est_market: Market) -> Market:
    """200 stocks, daily disclosure until 2023-01-01, then a year of quarterly snapshots
    (tests/northbound/conftest.py)."""
    return est_market


@pytest.fixture(scope="module")
def estimate(market):
    return estimate_holdings(market, progress=False)


# ---- point 1: the disclosure regime -----------------------------------------------------------
def test_disclosure_change_is_a_parameter(market):
    assert disclosure_end(market) == CHANGE
    nb = market.northbound.collect()
    after = sorted(nb.filter(pl.col("date") > CHANGE)["date"].unique().to_list())
    # 2023-09-29 is an HK session but a mainland holiday (the row repeats 09-28's holdings)
    assert after == [dt.date(2023, 3, 31), dt.date(2023, 6, 30), dt.date(2023, 9, 29)]
    # each snapshot is published on the 5th northbound session after its quarter end
    for d in after:
        pub = nb.filter(pl.col("date") == d)["published"].unique().to_list()
        q_end = {3: "2023-03-31", 6: "2023-06-30", 9: "2023-09-30"}[d.month]
        nxt = sessions("northbound", q_end, "2024-12-31")
        assert pub == [nxt.filter(nxt > dt.date.fromisoformat(q_end))[4]]
    assert nb.filter(pl.col("date") <= CHANGE)["date"].max() == dt.date(2022, 12, 30)


def test_change_on_a_quarters_last_session_publishes_no_duplicate_snapshot():
    from factorlab.datasets import preset_params
    from factorlab.datasets.synthetic import _publication_dates

    p = preset_params("small", start="2023-06-01", end="2024-06-30", disclosure_change="2023-12-29")
    days = sessions("ashare", p.start, p.end).to_numpy().astype("datetime64[D]")
    asof, _, pub = _publication_dates(p, days)
    assert len(np.unique(asof)) == len(asof)
    snaps = asof[asof > np.datetime64("2023-12-29")]
    assert snaps.tolist() == [dt.date(2024, 3, 28)]  # 2024-03-29 is Good Friday in HK
    assert pub[asof == np.datetime64("2023-12-29")].tolist() == [dt.date(2024, 1, 2)]


def test_short_sellable_follows_the_rules_before_and_after(market):
    ss = market.short_sellable.collect()
    before = ss.filter(pl.col("date") <= CHANGE)
    after = ss.filter(pl.col("date") > CHANGE)
    assert before.height and after.height
    assert before["quantity"].null_count() == 0 and not before["sufficient"].any()
    assert (after["quantity"].is_null() == after["sufficient"]).all()
    assert (after["quantity"].drop_nulls() < 300_000).all()
    # rounding down of 1% of the start-of-day (previous A-share session's: a bonus issue on a
    # mainland-only session counts) true holdings, minus shorts
    t = market.northbound_truth.collect()
    days = sessions("ashare", "2021-07-01", "2023-12-31")
    prev = pl.DataFrame({"date": days[1:], "asof": days[:-1]})
    j = (
        ss.drop_nulls("quantity")
        .join(prev, on="date")
        .join(t.rename({"date": "asof"}), on=["asof", "asset"], how="left")
        .with_columns(pl.col("shares").fill_null(0))
    )
    cap = (0.01 * j["shares"]).floor()
    assert (j["quantity"] <= cap).all()
    assert (j["quantity"] == cap).mean() > 0.9


def test_disclosure_statistics_before_and_after(market):
    st = disclosure_statistics(market)
    means = st.group_by("after_change").agg(pl.col("printed_share", "printed_weight").mean())
    b = means.filter(~pl.col("after_change")).row(0, named=True)
    a = means.filter(pl.col("after_change")).row(0, named=True)
    assert b["printed_share"] > a["printed_share"]
    assert b["printed_weight"] > 0.9  # seed: ~98% before
    # seed: 10-15% after; a 200-stock market holds few giants, and one held under 30m shares moves
    # the weight (GENERATOR_VERSION 7, seed 11: 0.54)
    assert a["printed_weight"] < 0.6
    # counted by hand for one day
    d = st.filter(pl.col("after_change"))["date"][0]
    asof = st.filter(pl.col("date") == d)["asof"][0]
    held = market.northbound_truth.filter((pl.col("date") == asof) & (pl.col("shares") > 0))
    held = held.collect()["asset"]
    printed = market.short_sellable.filter(
        (pl.col("date") == d) & pl.col("quantity").is_not_null()
    ).collect()["asset"]
    n = int(printed.is_in(held.implode()).sum())
    assert st.filter(pl.col("date") == d)["n_printed"][0] == n
    assert st.filter(pl.col("date") == d)["n_held"][0] == held.len()


# ---- point 4: the estimator ------------------------------------------------------------------
def _full_disclosure(market: Market, start: str = "2022-12-01") -> pl.DataFrame:
    """Every stock printed every day, quantity = the exact previous-session holding."""
    days = sessions("northbound", start, "2023-12-31")
    prev = pl.DataFrame({"date": days[1:], "asof": days[:-1]})
    assets = market.assets.select("asset").collect()
    t = market.northbound_truth.collect().rename({"date": "asof"})
    return (
        prev.join(assets, how="cross")
        .join(t, on=["asof", "asset"], how="left")
        .select("date", "asset", quantity=pl.col("shares").fill_null(0), sufficient=pl.lit(False))
    )


def test_exact_recovery_when_everything_is_disclosed_and_the_total_known(market):
    full = _full_disclosure(market)
    p = EstimateParams(allowance=1.0, print_below=1e15, min_quantity=0)
    est = estimate_holdings(
        market, short_sellable=full, params=p, total_value="truth", progress=False
    )
    t = market.northbound_truth.collect()
    j = est.holdings.join(t, on=["date", "asset"], how="full", coalesce=True).with_columns(
        pl.col("shares").fill_null(0.0), pl.col("shares_right").fill_null(0)
    )
    j = j.filter(pl.col("date").is_in(est.totals["date"].implode()))
    assert (j["shares"] - j["shares_right"]).abs().max() <= 1.0
    truth = market.flows_truth.collect()
    f = est.totals.join(truth, on="date")
    err = (f["net_inflow"] - f["net_buy"]).abs().max()
    assert err < 1e-3 * f["net_buy"].abs().max()


def test_calibration_at_zero_is_the_naive_baseline(market, monkeypatch):
    """A calibrated move of 0 leaves every unprinted stock buy-and-hold: the day's flows are
    then exactly the printed stocks' (the naive baseline); the estimator nests it."""
    from factorlab.northbound.estimation import estimator

    zero = ((0.0,), {"step": "step 1 calibration", "rows": 0, "detail": "b = 0"}, np.zeros(0))
    monkeypatch.setattr(estimator, "_calibration", lambda *a: zero)
    est = estimate_holdings(market, progress=False)
    assert est.calibration == (0.0,)
    nv = naive_flows(market).totals.select("date", naive="net_inflow")
    j = est.totals.select("date", "net_inflow").join(nv, on="date").drop_nulls()
    assert j.height > 200
    scale = j["naive"].abs().max()
    # equal up to the few stocks a 'sufficient' lower bound moves (measured: <= 0.4% of scale)
    assert ((j["net_inflow"] - j["naive"]).abs() <= 0.01 * scale).all()
    assert np.corrcoef(j["net_inflow"], j["naive"])[0, 1] > 0.9999


def test_step1_calibration_shrinks_and_uses_only_the_daily_period(market, estimate):
    # on the synthetic market's print rule: a slope within (0.5, 1.5), from ~250 daily days
    assert estimate.calibration is not None
    assert 0.5 < estimate.calibration[0] < 1.5
    note = estimate.notes.filter(pl.col("step").str.contains("calibrated"))
    assert 240 <= note["rows"].item() <= 250 and note["detail"].item().endswith(f"{CHANGE})")
    # off: the seed's unscaled step 1, flagged in the notes
    raw = estimate_holdings(market, params=EstimateParams(calibrate_days=0), progress=False)
    assert raw.calibration is None
    assert "off (calibrate_days=0)" in raw.notes["detail"].to_list()
    assert not raw.totals["value"].equals(estimate.totals["value"])
    # ablations are not calibrated
    assert estimate_holdings(market, total_value="buy_and_hold", progress=False).calibration is None


def test_ablations_behave_as_the_seed_says(market, estimate):
    truth = market.flows_truth.collect()
    known = estimate_holdings(market, total_value="truth", progress=False)
    bh = estimate_holdings(market, total_value="buy_and_hold", progress=False)
    m_fit = flow_metrics(estimate.totals, truth)
    m_known = flow_metrics(known.totals, truth)
    r2 = {
        n: dict(zip(m["metric"], m["value"], strict=True))["r2_daily"]
        for n, m in (("fit", m_fit), ("known", m_known))
    }
    assert r2["known"] > 0.9  # seed: 92%
    assert r2["known"] > r2["fit"] > 0.1
    # buy-and-hold: net inflow about zero
    sd_truth = truth.filter(pl.col("date").is_in(bh.totals["date"].implode()))["net_buy"].std()
    # (GENERATOR_VERSION 7: about zero on most days; the re-anchoring days jump)
    assert (bh.totals["net_inflow"].abs() < 0.2 * sd_truth).mean() > 0.9
    assert estimate.totals["net_inflow"].std() > 0.3 * sd_truth


def test_estimator_beats_the_naive_baseline_on_the_flow_level(market, estimate):
    table = validation_table(market, estimate=estimate, ablations=False)
    row = {r["metric"]: r for r in table.iter_rows(named=True)}
    # the yuan level of daily flows (margin 0.19 on this market, GENERATOR_VERSION 7), and the
    # holding value (0.173 against 0.250)
    assert row["r2_level_daily"]["estimator"] > row["r2_level_daily"]["naive"] + 0.1
    assert row["value_tracking_error"]["estimator"] < row["value_tracking_error"]["naive"] - 0.04
    # the direction metrics: at least as good as the seed's figures
    assert row["hit_daily"]["estimator"] > 0.55
    assert row["hit_22d"]["estimator"] > 0.6


def test_printed_comovement_bounds_what_the_printed_stocks_can_say(market):
    """The truth's printed-stock flows (printed_comovement) against the naive baseline, which
    reads the same stocks through rounded, partly shorted quantities: at most their R² (up to
    noise), and close to it (measured 0.837 against 0.815); the in-sample ceiling is at least
    that."""
    c = {r["metric"]: r for r in printed_comovement(market).iter_rows(named=True)}
    naive = validation_table(market, ablations=False).filter(pl.col("metric") == "r2_daily")
    assert c["r2_printed"]["daily"] - 0.25 < naive["naive"].item() < c["r2_printed"]["daily"] + 0.02
    for col in ("daily", "sum_22d"):
        assert c["r2_printed"][col] - 1e-12 <= c["r2_ceiling"][col] <= 1.0
        assert -1.0 <= c["corr_moves"][col] <= 1.0
    # the seed: 10-15%; GENERATOR_VERSION 7 on this 200-stock market (seed 11): 0.53, one
    # giant holding under 30m shares (see test_disclosure_statistics_before_and_after)
    assert 0.05 < c["printed_value_share"]["daily"] < 0.6


def test_every_snapshot_reanchors_the_chain(market, estimate):
    tot = estimate.totals
    anchors = tot["anchor"].unique().sort().to_list()
    assert anchors == [
        dt.date(2022, 12, 30),
        dt.date(2023, 3, 31),
        dt.date(2023, 6, 30),
        dt.date(2023, 9, 28),
    ]
    # a day's chain starts from a snapshot only once that snapshot is published
    nb = market.northbound.collect()
    pub = dict(nb.group_by("date").agg(pl.col("published").max()).iter_rows())
    pub[dt.date(2023, 9, 28)] = pub[dt.date(2023, 9, 29)]  # the HK-only session's A-share day
    assert all(p >= pub[a] for a, p in tot.select("anchor", "published").iter_rows())
    naive = naive_flows(market).totals
    assert naive.select("date", "anchor").equals(tot.select("date", "anchor"))


def test_no_look_ahead(market, estimate):
    d = dt.date(2023, 5, 16)
    pub = estimate.totals.filter(pl.col("date") == d)["published"][0]
    tables = {n: market[n].collect() for n in market.names}
    ss = tables["short_sellable"]
    tables["short_sellable"] = ss.with_columns(
        quantity=pl.when(pl.col("date") > pub)
        .then(pl.col("quantity") * 3)
        .otherwise(pl.col("quantity"))
    )
    tables["northbound"] = tables["northbound"].filter(pl.col("published") <= pub)
    px = tables["prices"]
    scale = {"open": 1.7, "high": 1.7, "low": 1.7, "close": 1.7, "amount": 2.3, "volume": 0.6}
    tables["prices"] = px.with_columns(
        [
            pl.when(pl.col("date") > d).then(pl.col(c) * k).otherwise(pl.col(c)).alias(c)
            for c, k in scale.items()
        ]
    )
    moved = Market(tables, meta=market.meta, validate="none")
    again = estimate_holdings(moved, progress=False)
    keep = pl.col("date") <= d
    a = estimate.holdings.filter(keep).sort("date", "asset")
    b = again.holdings.filter(keep).sort("date", "asset")
    assert a.height > 1000
    assert a.equals(b)
    later = pl.col("date") > pub
    assert not estimate.totals.filter(later)["value"].equals(again.totals.filter(later)["value"])


def test_estimates_extend_the_research_panel(market, estimate):
    panel = research_panel(market, end="2023-12-29", estimated_holdings=estimate.holdings)
    f = panel.frame.filter(pl.col("date") == dt.date(2023, 6, 1))
    e = estimate.holdings.filter(pl.col("date") == dt.date(2023, 6, 1))
    traded = market.prices.filter(pl.col("date") == dt.date(2023, 6, 1)).collect()["asset"]
    e = e.filter(pl.col("asset").is_in(traded.implode()) & (pl.col("shares") > 0))
    j = f.join(e, on=["date", "asset"])
    assert j.height == e.height > 50
    assert (j["shares"] == j["shares_right"]).all()
    with pytest.raises(DisclosureError, match="2023-01-01"):
        research_panel(market, end="2023-06-30")


def test_daily_factors_run_past_the_change_on_estimates(market, estimate):
    from factorlab.northbound import northbound_factors

    panel = research_panel(market, end="2023-12-29", estimated_holdings=estimate.holdings)
    names = ["nb_hold_ratio", "nb_cum_inflow_ratio20", "nb_short_inflow"]
    f = panel.frame.sort("asset", "date").with_columns(northbound_factors().exprs(names))
    # every row after the change is marked estimated
    after = f.filter(pl.col("date") > dt.date(2023, 2, 15))
    assert after["estimated"].all()
    assert not f.filter(pl.col("date") <= CHANGE)["estimated"].any()
    for n in names:
        assert after[n].drop_nulls().len() > 0.5 * after.height, n
    # the factor on an estimated row is computed from the estimated shares
    row = after.filter(pl.col("estimated") & (pl.col("shares") > 0)).row(0, named=True)
    assert row["nb_hold_ratio"] == pytest.approx(row["shares"] / row["float_shares"])


def test_project_weights_matches_scipy():
    rng = np.random.default_rng(3)
    w_ref = rng.dirichlet(np.ones(30)) * 0.8
    lower = np.where(rng.random(30) < 0.2, w_ref * 1.3, 0.0)
    upper = np.maximum(np.maximum(0.04, w_ref), lower)
    total = 0.75
    w = project_weights(w_ref, total, lower, upper)
    res = minimize(
        lambda x: np.sum((x - w_ref) ** 2 / w_ref),
        w_ref,
        method="SLSQP",
        bounds=list(zip(lower, upper, strict=True)),
        constraints=[{"type": "eq", "fun": lambda x: x.sum() - total}],
        options={"ftol": 1e-14, "maxiter": 500},
    )
    assert res.success
    np.testing.assert_allclose(w, res.x, atol=1e-7)
    assert w.sum() == pytest.approx(total)


# ---- point 5: metrics against hand computations ------------------------------------------------
def test_flow_metrics_by_hand():
    d = [dt.date(2024, 1, 1) + dt.timedelta(days=k) for k in range(6)]
    est = pl.DataFrame({"date": d, "net_inflow": [1.0, -2.0, 3.0, 1.0, -1.0, 2.0]})
    tru = pl.DataFrame({"date": d, "net_buy": [2.0, -1.0, 1.0, -1.0, -2.0, 1.0]})
    m = dict(
        flow_metrics(est, tru, window=3, low_quantile=0.25).select("metric", "value").iter_rows()
    )
    a, b = np.array([1, -2, 3, 1, -1, 2.0]), np.array([2, -1, 1, -1, -2, 1.0])
    cov = ((a - a.mean()) * (b - b.mean())).sum()
    r2 = cov**2 / (((a - a.mean()) ** 2).sum() * ((b - b.mean()) ** 2).sum())
    assert m["r2_daily"] == pytest.approx(r2)
    assert m["hit_daily"] == pytest.approx(5 / 6)  # day 4: +1 vs -1
    # 3-day sums: est 2, 2, 3, 2; truth 2, -1, -2, -2
    assert m["hit_22d"] == pytest.approx(1 / 4)
    # |truth sums| 2, 1, 2, 2: the lowest quarter (|1|) goes; hits among the rest: 1 of 3
    assert m["hit_22d_excl_low"] == pytest.approx(1 / 3)
    sse, sst = ((a - b) ** 2).sum(), ((b - b.mean()) ** 2).sum()
    assert m["r2_level_daily"] == pytest.approx(1 - sse / sst)


# ---- bad input -----------------------------------------------------------------------------------
def test_no_snapshot_before_the_window(market):
    late = market.northbound.filter(pl.col("date") > dt.date(2023, 1, 1))
    with pytest.raises(DisclosureError, match=r"`northbound`.*before the estimation window"):
        estimate_holdings(market, snapshots=late, progress=False)


def test_snapshot_codes_that_match_no_price_asset(market):
    nb = market.northbound.collect()
    bad = nb.with_columns(
        asset=pl.when(pl.col("date") == dt.date(2023, 3, 31))
        .then(pl.col("asset").str.slice(0, 6))
        .otherwise(pl.col("asset"))
    )
    with pytest.raises(AssetCodeError, match=r"2023-03-31.*column `asset`") as info:
        estimate_holdings(market, snapshots=bad, progress=False)
    assert "example rows" in str(info.value)


@pytest.mark.parametrize("value", [-5, 12.5])
def test_short_sellable_negative_or_fractional(market, value):
    ss = market.short_sellable.collect().with_columns(pl.col("quantity").cast(pl.Float64))
    ss = ss.with_columns(
        quantity=pl.when(pl.int_range(pl.len()) == 7).then(value).otherwise(pl.col("quantity"))
    )
    with pytest.raises(ValueRangeError, match=r"`short_sellable`.*`quantity`") as info:
        estimate_holdings(market, short_sellable=ss, progress=False)
    assert str(value) in str(info.value)


def test_window_without_disclosures(market):
    ss = market.short_sellable.filter(pl.col("date") <= CHANGE)
    with pytest.raises(DisclosureError, match="`short_sellable` has no printed quantity"):
        estimate_holdings(market, short_sellable=ss, progress=False)


def test_bad_parameters():
    with pytest.raises(ParameterError, match="`band`"):
        EstimateParams(band=0)
    with pytest.raises(ParameterError, match="`calibrate_on`"):
        EstimateParams(calibrate_on=("move", "volume"))
    with pytest.raises(ParameterError, match="`calibrate_days`"):
        EstimateParams(calibrate_days=-1)
    with pytest.raises(ParameterError, match="`total_value`"):
        estimate_holdings(None, total_value="oracle", progress=False)  # type: ignore[arg-type]


# ---- statistical claims on three seeds ---------------------------------------------------------
@pytest.mark.parametrize("seed", [11, 12, 13])
def test_calibration_seed_figures_and_ablations_on_three_seeds(seed, est_market_of):
    m = est_market_of(seed)
    # point 1: the seed's disclosure figures (71% / 98% before, 54% / 10-15% after), as bands
    st = (
        disclosure_statistics(m)
        .group_by("after_change")
        .agg(pl.col("printed_share", "printed_weight").mean())
    )
    before = st.filter(~pl.col("after_change")).row(0, named=True)
    after = st.filter(pl.col("after_change")).row(0, named=True)
    assert 0.65 <= before["printed_share"] <= 0.85
    assert before["printed_weight"] >= 0.95
    # GENERATOR_VERSION 7 on seeds 11 / 12 / 13 (200 stocks): share 0.57-0.71, weight 0.07-0.54
    # (a market this small has few giants: one big holder moves the weight)
    assert 0.45 <= after["printed_share"] <= 0.75
    assert 0.04 <= after["printed_weight"] <= 0.6
    t = {r["metric"]: r for r in validation_table(m).iter_rows(named=True)}
    # the seed's reported figures: beaten (measured minima over seeds 11-13 in comments)
    assert t["r2_22d"]["estimator"] > 0.3447  # 0.59
    assert t["hit_daily"]["estimator"] > 0.55  # 0.80
    # the seed's 0.68: GENERATOR_VERSION 7 gives 0.62-0.63 on seeds 11 and 13 (stock-specific
    # flows make the total harder to read from the printed small holdings)
    assert t["hit_22d"]["estimator"] > 0.6
    # 0.95-1.00 on seeds 11 / 12; seed 13: 0.693 (0.714 before step 1 by industry)
    assert t["hit_22d_excl_low"]["estimator"] > 0.65
    # the seed's ablations: the known total recovers the flows, buy-and-hold sees none
    assert t["r2_daily"]["known_total"] > 0.9  # seed: 92%
    assert abs(t["r2_level_daily"]["buy_and_hold"]) < 0.05
    # the naive baseline: beaten on the yuan level of the flows (calibrated estimator,
    # GENERATOR_VERSION 7: margin 0.19 / 0.32 / 0.20 on seeds 11 / 12 / 13)
    assert t["r2_level_daily"]["estimator"] > t["r2_level_daily"]["naive"] + 0.1
    # the daily R² against the naive: +0.061 / +0.084 / -0.016 on seeds 11 / 12 / 13. Step 1
    # by industry reads past printed_comovement's market-wide linear ceiling on seed 11 (0.913
    # against 0.854; 0.823 with one market-wide move): the ceiling mixes the printed flows
    # with one market-wide extrapolation, the industries' moves are not in its span
    # (docs/estimation.md §4)
    c = {r["metric"]: r for r in printed_comovement(m).iter_rows(named=True)}
    assert -0.03 < t["r2_daily"]["estimator"] - t["r2_daily"]["naive"] < 0.1
    if seed == 11:
        assert t["r2_daily"]["estimator"] > c["r2_ceiling"]["daily"] + 0.04
    # the stocks crossing the print threshold (printed on one of the two days) carry almost no
    # flow: reading them exactly would not lift the naive (docs/estimation.md §4; measured
    # variance share 0.0017 / 0.0001 / 0.0002, R² change +0.002 / -0.007 / +0.001)
    for col in ("daily", "sum_22d"):
        assert 0.0 < c["crossing_variance_share"][col] < 0.01
        assert abs(c["r2_printed_crossing"][col] - c["r2_printed"][col]) < 0.03
