"""The extrapolation's scale refitted on the published snapshots
(``EstimateParams.snapshot_prior``): the fit by hand, the chains it rescales, and no
look-ahead (a snapshot published after day d does not change the estimate for d)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from factorlab.errors import ParameterError
from factorlab.market import Market
from factorlab.northbound.estimation import EstimateParams, estimate_holdings
from factorlab.northbound.estimation import estimator as est_module


def test_snapshot_scale_by_hand():
    fit = est_module._snapshot_scale
    # two chains: X = (0.02, 0.01), Y = (0.01, 0.01): s = (2e-4 + 1e-4) / (4e-4 + 1e-4) = 0.6
    assert fit([(0.02, 0.01), (0.01, 0.01)], 0.0) == pytest.approx(0.6, abs=1e-12)
    # one pseudo-chain at s = 1 of the chains' mean X^2 (2.5e-4): 5.5e-4 / 7.5e-4
    assert fit([(0.02, 0.01), (0.01, 0.01)], 1.0) == pytest.approx(0.55 / 0.75, abs=1e-12)
    assert fit([(0.01, -0.01)], 0.0) == 0.0  # the truth moved against the extrapolation
    assert fit([(0.01, 0.03)], 0.0) == 1.0  # shrinkage only
    assert fit([(0.0, 0.03)], 0.0) == 1.0  # nothing extrapolated: nothing learnt


def test_bad_snapshot_prior():
    for bad in (-1.0, float("nan"), float("inf"), "1", True):
        with pytest.raises(ParameterError, match="snapshot_prior"):
            EstimateParams(snapshot_prior=bad)
    with pytest.raises(ParameterError, match="industry_prior"):
        EstimateParams(industry_prior="1.5")
    # it rescales the calibration: without one it would silently do nothing
    with pytest.raises(ParameterError, match="calibrate_days"):
        EstimateParams(snapshot_prior=1.0, calibrate_days=0)


def test_the_scales_and_an_inactive_rescaling_are_in_the_notes(est_market):
    """Each refit's scale is reported with its snapshot's publication day; a rescaling that
    cannot apply (the true total given) says so instead of doing nothing silently."""
    on = estimate_holdings(est_market, params=EstimateParams(snapshot_prior=1.0), progress=False)
    note = on.notes.filter(pl.col("step").str.contains("snapshot_prior"))
    assert note.height == 1 and note["rows"][0] >= 1
    first = note["detail"][0].split(", ")[0]
    day, s = first.split(": ")
    published = on.totals.filter(pl.col("estimated"))["date"]
    assert published.min() <= dt.date.fromisoformat(day) <= published.max()
    assert 0.0 <= float(s) <= 1.0
    truth = estimate_holdings(
        est_market, params=EstimateParams(snapshot_prior=1.0), total_value="truth", progress=False
    )
    quiet = truth.notes.filter(pl.col("step").str.contains("snapshot_prior"))
    assert quiet["rows"].to_list() == [0]
    assert quiet["detail"].to_list() == [
        "inactive: total_value='truth' (no calibration in that mode)"
    ]
    off = estimate_holdings(est_market, progress=False)
    assert not off.notes["step"].str.contains("snapshot_prior").any()


@pytest.fixture(scope="module")
def default_estimate(est_market):
    return estimate_holdings(est_market, progress=False)


def _by_hand(track: list[tuple[float, float]], k: float) -> float:
    """docs/estimation.md's s = clip((sum X Y + k S) / (sum X^2 + k S), 0, 1), S = mean X^2."""
    sxy = sum(x * y for x, y in track)
    sxx = sum(x * x for x, _ in track)
    pseudo = k * sxx / len(track)
    return min(1.0, max(0.0, (sxy + pseudo) / (sxx + pseudo)))


def test_the_prior_weighs_k_pseudo_chains_at_one(est_market_of):
    """Seed 3, where the snapshots' own fit is inside (0, 1) after each of the three snapshots
    (0.608, 0.669, 0.390 at k = 0; on seed 11 every fit clips to 1, so there no prior can show):
    k = 1 is the hand-computed fit with one pseudo-chain at s = 1, strictly between the k = 0
    fit and 1, and its estimate differs from both; a dominant prior (k = 1e12) is s = 1, the
    estimator with the rescaling off (None), to rounding. Fails if the prior is ignored (k = 1
    and k = 1e12 then estimate as k = 0) or mis-weighted (e.g. k S taken as k sum X^2). Run
    without the noise shrinkage (``noise_window=None``), the estimator these fits were measured
    on; with it the three fits are 0.612, 0.660 and 0.395, also interior."""
    market = est_market_of(3)
    fit = est_module._snapshot_scale
    seen: dict[float, list] = {}

    def run(k: float | None):
        calls = seen.setdefault(k, [])

        def record(track, prior):
            s = fit(track, prior)
            calls.append((list(track), s))
            return s

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(est_module, "_snapshot_scale", record)
            return estimate_holdings(
                market, params=EstimateParams(snapshot_prior=k, noise_window=None), progress=False
            )

    off, free, one, dominant = run(None), run(0.0), run(1.0), run(1e12)
    assert seen[None] == []
    for k in (0.0, 1.0, 1e12):
        assert [len(t) for t, _ in seen[k]] == [1, 2, 3]  # one refit per snapshot of 2023
        for track, s in seen[k]:
            assert s == pytest.approx(_by_hand(track, k), abs=1e-12)
    s0 = [s for _, s in seen[0.0]]
    s1 = [s for _, s in seen[1.0]]
    # interior fits (0.608, 0.669, 0.390 when written), so the prior can show: not pinned, a
    # change of the market or of step 1 moves them
    assert all(0.05 < s < 0.95 for s in s0), s0
    assert all(a < b < 1.0 for a, b in zip(s0, s1, strict=True))
    assert [s for _, s in seen[1e12]] == pytest.approx([1.0] * 3, abs=1e-9)
    # the notes report the scales the chains ran with
    note = one.notes.filter(pl.col("step").str.contains("snapshot_prior"))["detail"][0]
    assert [float(x.split(": ")[1]) for x in note.split(", ")] == pytest.approx(s1, abs=5e-4)
    # the scales reach the estimate: each k its own after the first snapshot, none before
    first = off.totals["anchor"].min()
    later = pl.col("anchor") > first

    def inflow(r, keep):
        return r.totals.filter(keep)["net_inflow"].to_numpy()

    for r in (free, one, dominant):
        np.testing.assert_array_equal(inflow(r, ~later), inflow(off, ~later))
    assert np.abs(inflow(one, later) - inflow(off, later)).max() > 1e6
    assert np.abs(inflow(one, later) - inflow(free, later)).max() > 1e6
    a, b = off.totals, dominant.totals
    assert a.height > 200 and a.filter(later).height > 100
    np.testing.assert_allclose(b["value"], a["value"], rtol=1e-9)
    np.testing.assert_allclose(b["net_inflow"], a["net_inflow"], rtol=1e-7, atol=1.0)


def test_the_scale_rescales_the_chains_after_the_first_snapshot(
    est_market, default_estimate, monkeypatch
):
    """s = 0 from the first published snapshot on: the first chain is the estimator's, every
    later chain (re-anchored on a snapshot, so independent of the past) is the estimator with
    the calibrated move set to 0 throughout."""
    calls: list[list[tuple[float, float]]] = []

    def zero(track, prior):
        calls.append(list(track))
        return 0.0

    monkeypatch.setattr(est_module, "_snapshot_scale", zero)
    got = estimate_holdings(est_market, params=EstimateParams(snapshot_prior=0.0), progress=False)
    assert len(calls) == 3  # the three snapshots of 2023 that re-anchor a chain
    assert all(x != 0 for x, _ in calls[-1])
    monkeypatch.undo()
    line = default_estimate.calibration
    note = {"step": "step 1 calibration", "rows": 0, "detail": "0"}
    zero_line = ((0.0,) * len(line), note, np.zeros(0))
    monkeypatch.setattr(est_module, "_calibration", lambda *a: zero_line)
    flat = estimate_holdings(est_market, progress=False)
    first = got.totals["anchor"].min()
    cols = ["date", "anchor", "value", "net_inflow"]
    for ref, keep in (
        (default_estimate, pl.col("anchor") == first),
        (flat, pl.col("anchor") > first),
    ):
        a = got.totals.filter(keep).select(cols)
        b = ref.totals.filter(keep).select(cols)
        assert a.height > 50
        np.testing.assert_allclose(a["value"], b["value"], rtol=1e-12)
        np.testing.assert_allclose(a["net_inflow"], b["net_inflow"], rtol=1e-9, atol=1e-3)
    # and the rescaling did something: the later chains differ from the estimator's
    later = pl.col("anchor") > first
    d = got.totals.filter(later)["net_inflow"] - default_estimate.totals.filter(later)["net_inflow"]
    assert d.abs().max() > 1e6


def test_no_look_ahead_of_the_snapshots(est_market):
    """Perturbing a snapshot changes nothing estimated before its publication, and changes the
    scale the later days use."""
    p = EstimateParams(snapshot_prior=0.0)
    nb = est_market.northbound.collect()
    snap = dt.date(2023, 6, 30)
    pub = nb.filter(pl.col("date") == snap)["published"].max()
    assert pub > snap
    tables = {n: est_market[n].collect() for n in est_market.names}
    tables["northbound"] = nb.with_columns(
        shares=pl.when(pl.col("date") == snap)
        .then((pl.col("shares") * 1.3).round())
        .otherwise(pl.col("shares"))
        .cast(nb["shares"].dtype)
    )
    moved = Market(tables, meta=est_market.meta, validate="none")
    tracks: dict[str, list] = {"base": [], "moved": []}
    fit = est_module._snapshot_scale

    def record(into):
        def f(track, prior):
            into.append(list(track))
            return fit(track, prior)

        return f

    mp = pytest.MonkeyPatch()
    try:
        mp.setattr(est_module, "_snapshot_scale", record(tracks["base"]))
        a = estimate_holdings(est_market, params=p, progress=False)
        mp.setattr(est_module, "_snapshot_scale", record(tracks["moved"]))
        b = estimate_holdings(moved, params=p, progress=False)
    finally:
        mp.undo()
    before = pl.col("published") < pub
    ha = a.holdings.filter(before).sort("date", "asset")
    hb = b.holdings.filter(before).sort("date", "asset")
    assert ha.height > 1000
    assert ha.equals(hb)
    assert a.totals.filter(before).equals(b.totals.filter(before))
    # the perturbed snapshot enters the scale's fit (its chain's truth) from its publication on
    assert tracks["base"][0] == tracks["moved"][0]
    assert tracks["base"][1][1][1] != pytest.approx(tracks["moved"][1][1][1], abs=1e-3)
