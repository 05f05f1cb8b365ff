"""The extrapolated move's noise shrinkage (``EstimateParams.noise_window``): the signal share
by hand and on a simulated AR(1) signal in noise, the parameter's checks, its notes, the
identity at lambda = 1, and no look-ahead (what is published after day d leaves d's estimate
unchanged)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from factorlab.errors import ParameterError
from factorlab.market import Market
from factorlab.northbound.estimation import EstimateParams, estimate_holdings
from factorlab.northbound.estimation import estimator as est_module


def _autocov(h: np.ndarray, k: int) -> float:
    """Lag-k autocovariance about the mean, divided by n (np.correlate, not the estimator's
    slicing)."""
    d = h - h.mean()
    return float(np.correlate(d, d, mode="full")[d.size - 1 + k]) / d.size


def test_signal_share_by_hand():
    share = est_module._signal_share
    rng = np.random.default_rng(7)
    h = np.cumsum(rng.normal(size=40)) * 0.1 + rng.normal(size=40) * 0.05
    g0, g1, g2 = (_autocov(h, k) for k in (0, 1, 2))
    phi = min(g2 / g1, 0.99)
    assert share(h) == pytest.approx(min(g1 / phi, g0) / g0, rel=1e-12)
    assert share(h[:19]) == 1.0  # fewer than 20 moves: not shrunk
    alternating = np.tile([0.01, -0.01], 15)  # gamma_1 < 0: nothing persists
    assert share(alternating) == 0.0
    assert share(np.zeros(30)) == 0.0  # no variance at all
    # an MA(1) (strong lag 1, weak lag 2): gamma_1 / phi exceeds gamma_0, the share is capped
    e = np.random.default_rng(0).normal(size=61)
    ma = e[1:] + e[:-1]
    g0, g1, g2 = (_autocov(ma, k) for k in (0, 1, 2))
    assert g2 > 0 and g1 / (g2 / g1) > g0
    assert share(ma) == 1.0


def test_signal_share_recovers_a_simulated_signal_share():
    """AR(1) signal (phi 0.8, variance 1) plus white noise of variance 1: the share is 0.5."""
    rng = np.random.default_rng(11)
    n, phi = 40_000, 0.8
    eta = rng.normal(scale=np.sqrt(1 - phi * phi), size=n)
    s = np.zeros(n)
    for t in range(1, n):
        s[t] = phi * s[t - 1] + eta[t]
    h = s + rng.normal(size=n)
    assert est_module._signal_share(h) == pytest.approx(0.5, abs=0.03)
    assert est_module._signal_share(s) == pytest.approx(1.0, abs=0.03)  # no noise: kept


def test_bad_noise_window():
    for bad in (2, -1, 1.5, True, "120", float("nan")):
        with pytest.raises(ParameterError, match="noise_window"):
            EstimateParams(noise_window=bad)
    assert EstimateParams(noise_window=None).noise_window is None
    # without the calibration there is nothing to shrink; allowed, and the notes say so
    assert EstimateParams(calibrate_days=0).noise_window == 120


def test_the_shrinkage_is_in_the_notes(est_market):
    on = estimate_holdings(est_market, progress=False)
    note = on.notes.filter(pl.col("step").str.contains("noise_window"))
    assert note.height == 1 and note["rows"][0] == on.totals.height
    lo, hi = (float(x) for x in note["detail"][0].split("(")[1].rstrip(")").split(" .. "))
    assert 0.0 <= lo <= hi <= 1.0
    truth = estimate_holdings(est_market, total_value="truth", progress=False)
    quiet = truth.notes.filter(pl.col("step").str.contains("noise_window"))
    assert quiet["rows"].to_list() == [0] and "inactive" in quiet["detail"][0]
    uncalibrated = estimate_holdings(
        est_market, params=EstimateParams(calibrate_days=0), progress=False
    ).notes.filter(pl.col("step").str.contains("noise_window"))
    assert uncalibrated["rows"].to_list() == [0]
    assert "calibration is off" in uncalibrated["detail"][0]
    off = estimate_holdings(est_market, params=EstimateParams(noise_window=None), progress=False)
    assert not off.notes["step"].str.contains("noise_window").any()


def test_a_share_of_one_is_the_unshrunk_estimator(est_market, monkeypatch):
    off = estimate_holdings(est_market, params=EstimateParams(noise_window=None), progress=False)
    on = estimate_holdings(est_market, progress=False)
    assert not on.totals["value"].equals(off.totals["value"])  # the default shrinks
    monkeypatch.setattr(est_module, "_signal_share", lambda h: 1.0)
    one = estimate_holdings(est_market, progress=False)
    assert one.totals.equals(off.totals)
    assert one.holdings.equals(off.holdings)


def _future_moved(market: Market, pub: dt.date, how: str) -> Market:
    """`market` with every short-sellable quantity published after `pub` scaled x3, dropped or
    shuffled across stocks, and the prices after `pub` x1.7."""
    tables = {n: market[n].collect() for n in market.names}
    ss = tables["short_sellable"]
    later = pl.col("date") > pub
    if how == "scale":
        ss = ss.with_columns(
            quantity=pl.when(later).then(pl.col("quantity") * 3).otherwise("quantity")
        )
    elif how == "drop":
        ss = ss.filter(~later)
    else:
        after = ss.filter(later)
        moved = after.with_columns(quantity=after["quantity"].shuffle(seed=3))
        ss = pl.concat([ss.filter(~later), moved])
    tables["short_sellable"] = ss
    tables["northbound"] = tables["northbound"].filter(pl.col("published") <= pub)
    px = tables["prices"]
    tables["prices"] = px.with_columns(
        [
            pl.when(pl.col("date") > pub).then(pl.col(c) * 1.7).otherwise(pl.col(c)).alias(c)
            for c in ("open", "high", "low", "close")
        ]
    )
    return Market(tables, meta=market.meta, validate="none")


@pytest.mark.parametrize("how", ["scale", "drop", "shuffle"])
def test_no_look_ahead_of_the_noise_shrinkage(est_market, how, monkeypatch):
    """The shrinkage reads the calibrated moves up to the day estimated: scaling, dropping or
    shuffling what is published later leaves the estimates (and each day's lambda) published
    by then unchanged, byte for byte; the lambdas of later days move."""
    base = estimate_holdings(est_market, progress=False)
    d = dt.date(2023, 5, 16)
    pub = base.totals.filter(pl.col("date") == d)["published"][0]
    seen: dict[str, list[tuple[int, float]]] = {"base": [], "moved": []}
    share = est_module._signal_share

    def record(into):
        def f(h):
            into.append((h.size, float(h[-1])))
            return share(h)

        return f

    monkeypatch.setattr(est_module, "_signal_share", record(seen["base"]))
    a = estimate_holdings(est_market, progress=False)
    monkeypatch.setattr(est_module, "_signal_share", record(seen["moved"]))
    b = estimate_holdings(_future_moved(est_market, pub, how), progress=False)
    keep = pl.col("published") <= pub
    ha, hb = (
        a.holdings.filter(keep).sort("date", "asset"),
        b.holdings.filter(keep).sort("date", "asset"),
    )
    assert ha.height > 1000
    assert ha.equals(hb)
    assert a.totals.filter(keep).equals(b.totals.filter(keep))
    n = a.totals.filter(keep).height
    assert seen["base"][:n] == seen["moved"][:n]
    if how != "drop":  # dropped quantities leave no later days to compare
        assert seen["base"][n:] != seen["moved"][n:]
