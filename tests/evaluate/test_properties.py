"""Property tests (hypothesis) for the evaluation layer.

Rank IC and rank buckets are invariant under strictly increasing transforms of the factor;
results do not depend on the row order of the inputs; lazy input equals eager input; the
compatible quantiles equal ``pd.qcut`` per date.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factorlab._kernels import qcut_rows
from factorlab._kernels.rank import row_order
from factorlab.evaluate import (
    DensePanel,
    clean_factor,
    factor_rank_autocorrelation,
    forward_returns,
    information_coefficient,
    mean_return_by_quantile,
    qcut_probabilities,
    quantile_turnover,
)

SETTINGS = settings(
    max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


@st.composite
def panels(draw) -> pl.DataFrame:
    """A long frame (date, asset, close, factor) with ties, nulls and missing rows."""
    n_days = draw(st.integers(4, 12))
    n_assets = draw(st.integers(3, 12))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    levels = draw(st.integers(2, 30))
    factor = rng.integers(-levels, levels + 1, size=(n_days, n_assets)) / 8.0
    factor[rng.random(factor.shape) < 0.1] = np.nan
    close = np.round(10 * np.exp(np.cumsum(rng.normal(0, 0.03, (n_days, n_assets)), 0)), 2)
    keep = rng.random(factor.shape) > 0.08
    t, a = np.nonzero(keep)
    days = [date(2022, 1, 3) + timedelta(int(d)) for d in range(n_days)]
    return pl.DataFrame(
        {
            "date": [days[i] for i in t],
            "asset": [f"A{j:02d}" for j in a],
            "close": close[t, a],
            "factor": factor[t, a],
        }
    )


def _evaluate(frame, *, mode="rank", rule="per_horizon", lazy=False):
    source = frame.lazy() if lazy else frame
    panel = DensePanel.from_frame(source, columns=["close"])
    fwd = forward_returns(panel, [1, 2])
    clean = clean_factor(panel, source, fwd, quantiles=3, mode=mode, rule=rule)
    return {
        "ic": information_coefficient(clean),
        "pearson": information_coefficient(clean, method="pearson"),
        "mean": mean_return_by_quantile(clean, by_date=True),
        "turnover": quantile_turnover(clean),
        "autocorr": factor_rank_autocorrelation(clean),
        "quantile": clean.to_frame(),
    }


def _assert_same(a: dict, b: dict, keys=None) -> None:
    for k in keys or a:
        assert a[k].equals(b[k]), k


@SETTINGS
@given(panels(), st.sampled_from(["exp", "cube", "shift"]))
def test_rank_ic_invariant_under_increasing_transform(frame, transform):
    fns = {
        "exp": lambda x: x.exp(),
        "cube": lambda x: x**3 + x,
        "shift": lambda x: x * 4.0 + 1024.0,
    }
    if frame["factor"].drop_nans().drop_nulls().len() == 0:
        return
    moved = frame.with_columns(fns[transform](pl.col("factor")).alias("factor"))
    for mode in ("rank", "qcut"):
        a = _evaluate(frame, mode=mode)
        b = _evaluate(moved, mode=mode)
        _assert_same(a, b, ["ic", "mean", "turnover", "autocorr"])


@SETTINGS
@given(panels(), st.integers(0, 2**16))
def test_results_independent_of_row_order(frame, seed):
    if frame["factor"].drop_nans().drop_nulls().len() == 0:
        return
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=seed)
    for mode, rule in (("rank", "per_horizon"), ("qcut", "any_horizon")):
        _assert_same(
            _evaluate(frame, mode=mode, rule=rule), _evaluate(shuffled, mode=mode, rule=rule)
        )


@SETTINGS
@given(panels())
def test_lazy_equals_eager(frame):
    if frame["factor"].drop_nans().drop_nulls().len() == 0:
        return
    _assert_same(_evaluate(frame), _evaluate(frame, lazy=True))


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    st.lists(st.integers(-6, 6), min_size=1, max_size=40),
    st.integers(2, 10),
    st.sampled_from([1.0, 0.1, 1e-3, 7.3]),
)
def test_qcut_kernel_equals_pd_qcut(ints, q, scale):
    pd = pytest.importorskip("pandas")
    x = np.asarray(ints, dtype=np.float64) * scale
    values = x[None, :].copy()
    mask = np.ones_like(values, dtype=bool)
    quantile, dropped, _ = qcut_rows(values, row_order(values, mask), mask, qcut_probabilities(q))
    try:
        ref = pd.qcut(x, q, labels=False) + 1
    except ValueError:
        assert dropped[0]
        return
    assert not dropped[0]
    np.testing.assert_array_equal(quantile[0], ref)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=2, max_size=60), st.integers(2, 10))
def test_qcut_kernel_equals_pd_qcut_on_floats(xs, q):
    pd = pytest.importorskip("pandas")
    x = np.asarray(xs)
    values = x[None, :].copy()
    mask = np.ones_like(values, dtype=bool)
    quantile, dropped, _ = qcut_rows(values, row_order(values, mask), mask, qcut_probabilities(q))
    try:
        ref = pd.qcut(x, q, labels=False) + 1
    except ValueError:
        assert dropped[0]
        return
    np.testing.assert_array_equal(quantile[0], ref)


@SETTINGS
@given(panels())
def test_rank_buckets_ties_share_and_monotone(frame):
    if frame["factor"].drop_nans().drop_nulls().len() == 0:
        return
    panel = DensePanel.from_frame(frame, columns=["close"])
    clean = clean_factor(panel, frame, forward_returns(panel, [1]), quantiles=4)
    for t in range(panel.shape[0]):
        m = clean.mask[t]
        f, q = clean.values[t][m], clean.quantile[t][m]
        order = np.argsort(f, kind="stable")
        assert np.all(np.diff(q[order]) >= 0)
        for v in np.unique(f):
            assert np.unique(q[f == v]).size == 1
        if m.any():
            assert q.min() >= 1 and q.max() <= 4
