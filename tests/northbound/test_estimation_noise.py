"""The extrapolated move's noise shrinkage (``EstimateParams.noise_window``,
``noise_min_persistence``): the signal share by hand, on its gamma_2 <= 0 branch, continuous
across gamma_2 = 0, and on a simulated AR(1) signal in noise; the parameters' checks; its notes;
the identity at lambda = 1; each step call's history; no look-ahead (what is published after
day d leaves d's estimate unchanged), and no calibrated estimate before the change."""

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


def _share_by_hand(h: np.ndarray, floor: float) -> float:
    """docs/estimation.md §2's lambda from np.correlate's autocovariances."""
    g0, g1, g2 = (_autocov(h, k) for k in (0, 1, 2))
    phi = min(max(g2 / g1, floor), 0.99)
    return min(g1 / phi, g0) / g0


FLOOR = EstimateParams().noise_min_persistence


def test_signal_share_by_hand():
    share = est_module._signal_share
    rng = np.random.default_rng(7)
    h = np.cumsum(rng.normal(size=40)) * 0.1 + rng.normal(size=40) * 0.3
    assert _autocov(h, 2) / _autocov(h, 1) > FLOOR  # the floor does not bind
    assert 0.1 < share(h, FLOOR) < 0.99
    assert share(h, FLOOR) == pytest.approx(_share_by_hand(h, FLOOR), rel=1e-12)
    assert share(h[:19], FLOOR) == 1.0  # fewer than 20 moves: not shrunk
    alternating = np.tile([0.01, -0.01], 15)  # gamma_1 < 0: nothing persists
    assert share(alternating, FLOOR) == 0.0
    assert share(np.zeros(30), FLOOR) == 0.0  # no variance at all
    # an MA(1) (strong lag 1, weak lag 2): gamma_1 / phi exceeds gamma_0, the share is capped
    e = np.random.default_rng(0).normal(size=61)
    ma = e[1:] + e[:-1]
    g0, g1, g2 = (_autocov(ma, k) for k in (0, 1, 2))
    assert g2 > 0 and g1 / max(g2 / g1, FLOOR) > g0
    assert share(ma, FLOOR) == 1.0


def test_signal_share_with_a_lag_2_autocovariance_at_or_below_0():
    """gamma_1 > 0 >= gamma_2 (an MA(1) with a little noise): phi is read at the floor, so
    lambda = rho_1 / floor (capped at 1); without a floor (0) this branch gives 0."""
    rng = np.random.default_rng(5)  # rho_1 0.19, rho_2 -0.15
    e = rng.normal(size=121)
    h = e[1:] + 0.3 * e[:-1] + rng.normal(size=120)
    g0, g1, g2 = (_autocov(h, k) for k in (0, 1, 2))
    assert g1 > 0 >= g2
    assert g1 / g0 > 0.1  # rho_1 is clearly positive
    share = est_module._signal_share
    assert share(h, 0.5) == pytest.approx(min(g1 / g0 / 0.5, 1.0), rel=1e-12)
    assert 0.0 < share(h, 0.5) < 1.0
    assert share(h, FLOOR) == pytest.approx(_share_by_hand(h, FLOOR), rel=1e-12)
    assert share(h, 0.0) == 0.0  # the est21 reading: no floor


def _lag2_crossing() -> tuple[np.ndarray, np.ndarray]:
    """Two move windows on either side of gamma_2 = 0 (within 1e-9), gamma_1 > 0: a mix
    (1 - t) x1 + t x2 of an MA(2) with gamma_2 > 0 and one with gamma_2 < 0 (in white noise,
    so that rho_1 is small), t bisected to a bracket of 2**-36. Not to the last bit: there
    gamma_2 is rounding noise, whose sign may differ between two evaluations of the same window
    (np.correlate's sums depend on the CPU and on the arrays' alignment)."""
    rng = np.random.default_rng(3)
    e, w = rng.normal(size=122), 1.5 * rng.normal(size=120)
    x1 = e[2:] + 0.3 * e[1:-1] + 0.3 * e[:-2] + w
    x2 = e[2:] + 0.3 * e[1:-1] - 0.3 * e[:-2] + w

    def g2(t: float) -> float:
        return _autocov((1 - t) * x1 + t * x2, 2)

    a, b = 0.0, 1.0
    assert g2(a) > 0 > g2(b)
    for _ in range(36):
        m = 0.5 * (a + b)
        a, b = (m, b) if g2(m) > 0 else (a, m)
    return (1 - a) * x1 + a * x2, (1 - b) * x1 + b * x2


def test_the_signal_share_is_continuous_in_the_lag_2_autocovariance():
    lo, hi = _lag2_crossing()
    assert _autocov(lo, 2) > 0 > _autocov(hi, 2) and abs(_autocov(lo, 2)) < 1e-9
    assert min(abs(_autocov(lo, 2)), abs(_autocov(hi, 2))) > 1e-14  # above rounding noise
    assert _autocov(lo, 1) > 0 and _autocov(lo, 1) / _autocov(lo, 0) < 0.5 * FLOOR
    share = est_module._signal_share
    a, b = share(lo, FLOOR), share(hi, FLOOR)
    assert 0.05 < a < 0.95  # interior: rho_1 / floor
    assert a == pytest.approx(b, abs=1e-8)
    assert abs(share(lo, 0.0) - share(hi, 0.0)) == 1.0  # without a floor: a jump from 1 to 0


def test_signal_share_recovers_a_simulated_signal_share():
    """AR(1) signal (phi 0.8, variance 1) plus white noise of variance 1: the share is 0.5."""
    rng = np.random.default_rng(11)
    n, phi = 40_000, 0.8
    eta = rng.normal(scale=np.sqrt(1 - phi * phi), size=n)
    s = np.zeros(n)
    for t in range(1, n):
        s[t] = phi * s[t - 1] + eta[t]
    h = s + rng.normal(size=n)
    assert est_module._signal_share(h, FLOOR) == pytest.approx(0.5, abs=0.03)
    assert est_module._signal_share(s, FLOOR) == pytest.approx(1.0, abs=0.03)  # no noise: kept


def test_bad_noise_window():
    for bad in (2, 19, -1, 1.5, True, "120", float("nan")):
        with pytest.raises(ParameterError, match="noise_window"):
            EstimateParams(noise_window=bad)
    assert EstimateParams(noise_window=20).noise_window == 20
    assert EstimateParams(noise_window=None).noise_window is None
    # without the calibration there is nothing to shrink; allowed, and the notes say so
    assert EstimateParams(calibrate_days=0).noise_window == 120
    for bad in (-0.1, 1.0, float("nan"), True, "0.3", None):
        with pytest.raises(ParameterError, match="noise_min_persistence"):
            EstimateParams(noise_min_persistence=bad)


_STEP = est_module._step


class _Steps:
    """Records every ``_step`` call of a run, in order: the row, the history it read (None:
    off), its lambda and its calibrated move. The first call of each row is its published
    estimate; the later ones are the replays after a re-anchor. `nan_at`: the move of the
    `nan_at`-th estimated row (and of its replays) reads NaN, as when step 1 has no carried
    value to fit."""

    def __init__(self, monkeypatch, nan_at: int | None = None):
        self.calls: list[tuple[int, np.ndarray | None, float, float]] = []
        self.nan_row: int | None = None
        rows: set[int] = set()
        step = _STEP

        def f(inp, prev_row, prev_shares, i, *args):
            day = step(inp, prev_row, prev_shares, i, *args)
            rows.add(i)
            if nan_at is not None and self.nan_row is None and len(rows) == nan_at + 1:
                self.nan_row = i
            if i == self.nan_row:
                day.move = float("nan")
            h = args[-1]
            self.calls.append((i, None if h is None else h.copy(), day.signal_share, day.move))
            return day

        monkeypatch.setattr(est_module, "_step", f)

    def published(self) -> list[tuple[int, np.ndarray | None, float, float]]:
        seen: set[int] = set()
        out = []
        for c in self.calls:
            if c[0] not in seen:
                seen.add(c[0])
                out.append(c)
        return out


def _noisy_prior(monkeypatch, n: int = 400) -> np.ndarray:
    """Replace the calibration year's moves by an AR(1) in noise (signal share 1/3, 12 times
    the estimate's own moves' spread), so lambda is interior on every day and any change of
    the history changes it."""
    rng = np.random.default_rng(2)
    s = np.zeros(n)
    for t in range(1, n):
        s[t] = 0.8 * s[t - 1] + rng.normal(scale=0.6)
    prior = 0.05 * (s + rng.normal(scale=np.sqrt(2.0), size=n))
    calibration = est_module._calibration

    def f(*args):
        line, note, _ = calibration(*args)
        return line, note, prior

    monkeypatch.setattr(est_module, "_calibration", f)
    return prior


def test_the_shrinkage_is_in_the_notes(est_market, monkeypatch):
    steps = _Steps(monkeypatch)
    on = estimate_holdings(est_market, progress=False)
    note = on.notes.filter(pl.col("step").str.contains("noise_window"))
    assert note.height == 1 and note["rows"][0] == on.totals.height
    lam = np.array([c[2] for c in steps.published()])
    assert lam.size == on.totals.height and np.isfinite(lam).all()
    assert note["detail"][0] == (
        f"lambda median {np.median(lam):.2f} ({lam.min():.2f} .. {lam.max():.2f})"
    )
    # the test market's moves persist: capped at 1 on most days, never below 0.9
    assert 0.9 < lam.min() < 0.99 and (lam == 1.0).mean() > 0.5
    truth = estimate_holdings(est_market, total_value="truth", progress=False)
    quiet = truth.notes.filter(pl.col("step").str.contains("noise_window"))
    assert quiet["rows"].to_list() == [0]
    assert quiet["detail"].to_list() == [
        "inactive: total_value='truth' (no calibration in that mode)"
    ]
    uncalibrated = estimate_holdings(
        est_market, params=EstimateParams(calibrate_days=0), progress=False
    ).notes.filter(pl.col("step").str.contains("noise_window"))
    assert uncalibrated["rows"].to_list() == [0]
    assert uncalibrated["detail"].to_list() == ["inactive: the calibration is off (see its note)"]
    off = estimate_holdings(est_market, params=EstimateParams(noise_window=None), progress=False)
    assert not off.notes["step"].str.contains("noise_window").any()


def test_a_share_of_one_is_the_unshrunk_estimator(est_market, monkeypatch):
    off = estimate_holdings(est_market, params=EstimateParams(noise_window=None), progress=False)
    on = estimate_holdings(est_market, progress=False)
    assert not on.totals["value"].equals(off.totals["value"])  # the default shrinks
    monkeypatch.setattr(est_module, "_signal_share", lambda h, floor: 1.0)
    one = estimate_holdings(est_market, progress=False)
    assert one.totals.equals(off.totals)
    assert one.holdings.equals(off.holdings)


def _expected_history(prior: np.ndarray, moves: dict[int, float], r: int, n: int) -> np.ndarray:
    h = np.concatenate([prior, [moves[row] for row in sorted(moves) if row < r]])
    return h[np.isfinite(h)][-(n - 1) :]


def test_each_history_is_the_prior_then_the_latest_moves_before_the_row(est_market, monkeypatch):
    """Every call, published estimate or replay, reads the calibration year's moves followed by
    the latest chain's moves of the rows strictly before its own (the replays run after later
    rows were estimated: those must not enter), the last noise_window - 1 of them; a NaN move
    (a day step 1 could not fit) is left out."""
    n = 300
    prior = _noisy_prior(monkeypatch)
    steps = _Steps(monkeypatch, nan_at=30)
    est = estimate_holdings(est_market, params=EstimateParams(noise_window=n), progress=False)
    moves: dict[int, float] = {}
    after_later_rows = 0
    for r, h, lam, move in steps.calls:
        assert h is not None and np.isfinite(h).all()
        assert np.array_equal(h, _expected_history(prior, moves, r, n))
        if np.isfinite(move):
            assert lam == est_module._signal_share(np.append(h, move), FLOOR)
        after_later_rows += any(row >= r for row in moves)
        moves[r] = move
    # every replay ran after later rows were estimated: the row < r filter is exercised
    assert after_later_rows == len(steps.calls) - est.totals.height > 5
    assert steps.nan_row is not None and not np.isfinite(moves[steps.nan_row])
    lam = np.array([c[2] for c in steps.published()])
    assert len(lam) == est.totals.height
    assert np.isfinite(lam).all() and ((lam > 0.05) & (lam < 0.95)).mean() > 0.95


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
    shuffling what is published later leaves the estimates published by then unchanged, byte
    for byte, and so every step call made until then (the published days' and the replays':
    row, history, lambda); later lambdas move. The calibration year's moves are replaced by a
    noisy series so that lambda is interior on every day (capped at 1 it could not show a
    leak)."""
    _noisy_prior(monkeypatch)
    p = EstimateParams(noise_window=300)
    sa = _Steps(monkeypatch)
    a = estimate_holdings(est_market, params=p, progress=False)
    pub = a.totals.filter(pl.col("date") == dt.date(2023, 5, 16))["published"][0]
    sb = _Steps(monkeypatch)
    b = estimate_holdings(_future_moved(est_market, pub, how), params=p, progress=False)
    keep = pl.col("published") <= pub
    ha, hb = (
        a.holdings.filter(keep).sort("date", "asset"),
        b.holdings.filter(keep).sort("date", "asset"),
    )
    assert ha.height > 1000
    assert ha.equals(hb)
    assert a.totals.filter(keep).equals(b.totals.filter(keep))

    def until_pub(est, steps):
        published = dict(
            zip([c[0] for c in steps.published()], est.totals["published"], strict=True)
        )
        calls = []
        for c in steps.calls:
            if published[c[0]] > pub:
                break
            calls.append(c)
        return calls

    ca, cb = until_pub(a, sa), until_pub(b, sb)
    assert len(ca) == len(cb) > a.totals.filter(keep).height  # replays included
    lam = np.array([c[2] for c in ca])
    assert ((lam > 0.05) & (lam < 0.95)).all()  # interior: a leak would move it
    for x, y in zip(ca, cb, strict=True):
        assert x[0] == y[0] and np.array_equal(x[1], y[1]) and x[2:] == y[2:]
    if how != "drop":  # dropped quantities leave no later days to compare
        later = [c[2] for c in sa.calls[len(ca) :]], [c[2] for c in sb.calls[len(cb) :]]
        assert later[0] != later[1]


def test_no_calibrated_estimate_before_the_change(est_market):
    """The calibration (and the noise shrinkage's first history) is fitted on the daily
    disclosure up to the change: a window that starts on or before it would read the future."""
    for start in ("2022-12-01", "2022-12-30"):
        with pytest.raises(ParameterError, match=r"`start` \(" + start + r".*2023-01-01"):
            estimate_holdings(est_market, start=start, end="2023-02-28", progress=False)
    window = {"start": "2022-12-01", "end": "2023-01-31"}
    raw = estimate_holdings(est_market, params=EstimateParams(calibrate_days=0), **window)
    assert raw.totals["date"].min() == dt.date(2022, 12, 1)
    known = estimate_holdings(est_market, total_value="truth", progress=False, **window)
    assert known.totals.height == raw.totals.height
    after = estimate_holdings(est_market, start="2023-01-02", end="2023-02-28", progress=False)
    assert after.calibration is not None and after.totals["date"].min() > dt.date(2023, 1, 1)
