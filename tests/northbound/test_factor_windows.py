"""The shared windows of the handbook factors (`northbound_windows`, `windows=True`): computed
once as columns, the factors are the self-contained ones value for value, and the study's factor
stage runs each shared window once instead of once per factor (issue 15 point 4)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import factorlab.ops as ops
from factorlab.northbound import study as study_mod
from factorlab.northbound.factors import (
    NORTHBOUND_FACTORS,
    SPLIT_VARIANTS,
    WINDOW_PREFIX,
    northbound_factors,
    northbound_windows,
)
from factorlab.ops import compute_factors

ALL = (*NORTHBOUND_FACTORS, *SPLIT_VARIANTS)


def _panel(seed: int = 0, n_assets: int = 4, n_days: int = 60) -> pl.DataFrame:
    """A research-panel-shaped frame sorted by (asset, date): holdings with entries, sell-outs
    and a null, a bonus ex-date (share_basis steps), random flows, volumes and returns."""
    rng = np.random.default_rng(seed)
    days = [dt.date(2021, 1, 4) + dt.timedelta(days=i) for i in range(n_days)]
    parts = []
    for a in range(n_assets):
        held = rng.random(n_days) < 0.97
        held[10 + a : 14 + a] = False  # a sell-out and a re-entry
        shares = np.where(held, rng.uniform(1e5, 2e5, n_days).round(), 0.0)
        shares[5] = np.nan if a == 1 else shares[5]
        basis = np.where(np.arange(n_days) >= 30 + a, 1.4, 1.0)
        d_shares = np.r_[np.nan, np.diff(shares)]
        vwap = rng.uniform(9, 11, n_days)
        flow = d_shares * vwap
        parts.append(
            pl.DataFrame(
                {
                    "date": days,
                    "asset": f"A{a}",
                    "shares": shares,
                    "close": vwap * 1.01,
                    "vwap": vwap,
                    "float_shares": 1e7,
                    "amount": rng.uniform(1e6, 2e6, n_days),
                    "volume": rng.uniform(1e5, 2e5, n_days),
                    "ret": np.r_[np.nan, rng.normal(0, 0.02, n_days - 1)],
                    "hold_value": shares * vwap * 1.01,
                    "hold_ratio": shares / 1e7,
                    "d_shares": d_shares,
                    "share_basis": basis,
                    "flow": flow,
                    "flow_trading": 0.6 * flow,
                    "flow_allocation": 0.4 * flow,
                }
            )
        )
    return pl.concat(parts).with_columns(pl.col(pl.Float64).fill_nan(None))


@pytest.mark.parametrize("held", ["window", "any"])
@pytest.mark.parametrize(("window", "short_window", "top_k"), [(20, 5, 3), (3, 2, 2), (4, 4, 1)])
@pytest.mark.parametrize("date_col", ["date", None])
def test_window_columns_give_the_self_contained_factors_exactly(
    held, window, short_window, top_k, date_col
):
    panel = _panel(seed=window)
    spec = {"window": window, "short_window": short_window, "held": held, "date_col": date_col}
    plain = compute_factors(panel, northbound_factors(top_k=top_k, **spec)).collect()
    cols = northbound_windows(**{k: v for k, v in spec.items()})
    with_windows = panel.with_columns(cols.values())
    shared = compute_factors(with_windows, northbound_factors(top_k=top_k, windows=True, **spec))
    got = shared.collect().select(plain.columns)
    assert_frame_equal(got, plain, check_exact=True)
    # the comparison is not vacuous: every factor has values and nulls
    for name in ALL:
        assert 0 < plain[name].null_count() < plain.height, name


def test_held_spans_are_the_rolling_held_rule():
    """Each span mask against a pandas rolling count of held rows, per asset."""
    panel = _panel(seed=3)
    cols = northbound_windows(window=20, short_window=5)
    assert sorted(cols) == [
        WINDOW_PREFIX + k
        for k in sorted(
            (
                "held_span20",
                "held_span21",
                "mean_hold_ratio",
                "sum_flow",
                "sum_amount",
                "mean_shares_one_basis",
                "sum_flow_trading",
                "sum_flow_allocation",
            )
        )
    ]
    got = panel.with_columns(cols.values()).to_pandas()
    for rows in (20, 21):
        held = (got["shares"] > 0).astype(float).where(got["shares"].notna())
        count = held.groupby(got["asset"]).transform(lambda s, n=rows: s.rolling(n).sum())
        want = (count >= rows).where(count.notna())
        mine = got[f"{WINDOW_PREFIX}held_span{rows}"]
        assert (mine.isna() == want.isna()).all()
        assert (mine[mine.notna()].astype(bool) == want[want.notna()].astype(bool)).all()
        assert mine.sum() > 0 and (mine == False).sum() > 0  # noqa: E712
    # a plain window: mean_W(S / share_basis), the pandas way
    s_one = got["shares"] / got["share_basis"]
    want = s_one.groupby(got["asset"]).transform(lambda s: s.rolling(20).mean())
    np.testing.assert_allclose(
        got[f"{WINDOW_PREFIX}mean_shares_one_basis"].to_numpy(dtype=float),
        want.to_numpy(dtype=float),
        rtol=1e-12,
    )


def test_the_factor_stage_runs_each_shared_window_once(monkeypatch):
    """The study's factor computation on a panel: 10 rolling-sum kernel calls for the 14
    factors (2 held spans, mean_W(H), mean_W(R), sum_W(Flow), mean_W(q), sum_W(amount),
    mean_w(dS), mean_W(S), sum_W(trading Flow)), where every factor computing its own
    windows made 27 (sum_W(amount) twice in #11: a ratio reads its denominator twice); the
    values are those of the self-contained factors."""
    calls: list[tuple] = []
    wrapped = ops._runs_batch

    def counting(kernel, *args):
        inner = wrapped(kernel, *args)

        def apply(series):
            calls.append((kernel.__name__, args, series[0].name))
            return inner(series)

        return apply

    monkeypatch.setattr(ops, "_runs_batch", counting)
    panel = _panel(seed=7)
    runs = study_mod._asset_enum(panel, None)
    spec = {"window": 20, "date_col": None, "held": "window"}
    plain = {f.name: f for f in northbound_factors(**spec)}
    windows = northbound_windows(**spec)
    spans = [c for c in windows if "held_span" in c]
    frame = panel.hstack(panel.with_columns(runs).select(windows[c] for c in spans))
    job = study_mod._FactorJob(
        plain,
        frozenset(NORTHBOUND_FACTORS),
        runs,
        {c: e for c, e in windows.items() if c not in spans},
    )
    registry = northbound_factors(**spec, windows=True)
    signals = pl.Series(panel["date"].unique().sort())
    keys = ("date", "asset")
    got = study_mod._signal_factors(
        frame, [registry.get(n) for n in NORTHBOUND_FACTORS], signals, keys, job
    )
    sums = [c for c in calls if c[0] == "run_rolling_sum_nb"]
    assert len(sums) == 10
    calls.clear()
    want = study_mod._signal_factors(
        panel, [plain[n] for n in NORTHBOUND_FACTORS], signals, keys, job
    )
    assert len([c for c in calls if c[0] == "run_rolling_sum_nb"]) == 27
    assert_frame_equal(got, want, check_exact=True)


def test_pandas_is_the_reference_of_mean_ratio():
    """#4 and #6 read the shared mean_W(R): against pandas on one asset."""
    panel = _panel(seed=5, n_assets=1)
    cols = northbound_windows(window=5, short_window=2)
    reg = northbound_factors(window=5, short_window=2, windows=True)
    out = compute_factors(panel.with_columns(cols.values()), reg).collect().to_pandas()
    r = pd.Series(panel["hold_ratio"].to_numpy())
    mean = r.rolling(5).mean()
    held = pd.Series(panel["shares"].to_numpy()) > 0
    want4 = mean.where(held)
    span = held.astype(float).rolling(5).sum() >= 5
    want6 = (r - mean).where(span)
    np.testing.assert_allclose(out["nb_hold_ratio_mean20"], want4, rtol=1e-12)
    np.testing.assert_allclose(out["nb_hold_ratio_dev20"], want6, rtol=1e-12)
