"""Performance statistics equal empyrical-reloaded's on the same series (oracle), plus goldens."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factorlab.errors import ParameterError
from factorlab.evaluate.metrics import (
    annual_return,
    annual_volatility,
    calmar_ratio,
    max_drawdown,
    performance_table,
    profit_loss_ratio,
    sharpe_ratio,
    win_rate,
)

empyrical = pytest.importorskip("empyrical")


def _series(seed: int, n: int = 750) -> np.ndarray:
    rng = np.random.default_rng(seed)
    r = rng.standard_t(4, n) * 0.012 + 0.0004
    r[rng.random(n) < 0.02] = np.nan
    return r


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("annualization", [252, 238])
def test_equal_to_empyrical(seed, annualization):
    r = _series(seed)
    kw = {"annualization": annualization}
    assert annual_return(r, **kw) == pytest.approx(empyrical.annual_return(r, **kw), abs=1e-10)
    assert annual_volatility(r, **kw) == pytest.approx(
        empyrical.annual_volatility(r, **kw), abs=1e-10
    )
    assert sharpe_ratio(r, **kw) == pytest.approx(empyrical.sharpe_ratio(r, **kw), abs=1e-10)
    assert max_drawdown(r) == pytest.approx(empyrical.max_drawdown(r), abs=1e-10)
    assert calmar_ratio(r, **kw) == pytest.approx(empyrical.calmar_ratio(r, **kw), abs=1e-10)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-0.2, 0.2, allow_nan=False), min_size=2, max_size=300))
def test_equal_to_empyrical_on_any_series(values):
    r = np.array(values)
    assert max_drawdown(r) == pytest.approx(empyrical.max_drawdown(r), abs=1e-10)
    assert annual_return(r) == pytest.approx(empyrical.annual_return(r), rel=1e-9, abs=1e-10)
    exp = empyrical.sharpe_ratio(r)
    got = sharpe_ratio(r)
    assert (np.isnan(got) and np.isnan(exp)) or got == pytest.approx(exp, rel=1e-9, abs=1e-10)
    assert (np.isnan(got) and np.isnan(exp)) or not (np.isnan(got) or np.isnan(exp))


def test_golden_values():
    r = [0.10, -0.20, 0.05, 0.0, 0.10]
    # curve 1, 1.1, 0.88, 0.924, 0.924, 1.0164 -> worst fall 0.88 / 1.1 - 1 = -0.2
    assert max_drawdown(r) == pytest.approx(-0.2)
    assert annual_return(r, annualization=5) == pytest.approx(1.0164 - 1)
    assert win_rate(r) == pytest.approx(3 / 4)
    assert profit_loss_ratio(r) == pytest.approx((0.25 / 3) / 0.20)


def test_table_and_bad_input():
    t = performance_table({"a": _series(0), "b": _series(1)})
    assert t["series"].to_list() == ["a", "b"]
    assert t.columns[1:] == [
        "annual_return",
        "annual_volatility",
        "sharpe",
        "max_drawdown",
        "calmar",
        "win_rate",
        "profit_loss_ratio",
    ]
    with pytest.raises(ParameterError, match="annualization"):
        annual_return([0.1], annualization=0)
    with pytest.raises(ParameterError, match="one-dimensional"):
        sharpe_ratio(np.zeros((2, 2)))


def test_annual_return_of_a_book_below_zero_is_nan_without_a_warning():
    """A deliberate deviation: empyrical raises a negative ending value to 1/years, which is NaN
    (with a RuntimeWarning) for most lengths and a meaningless huge number when 1/years happens
    to be an integer (3 days at 252: (-1.65)**84 = 1.1e33). No growth rate exists: NaN."""
    import warnings

    r = np.array([0.5, -2.5, 0.1])  # ending value 1.5 * -1.5 * 1.1 < 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(annual_return(r))
        assert np.isnan(annual_return(r[:2]))
    assert empyrical.annual_return(r) > 1e30  # the nonsense this avoids


# --- the empyrical statistics alphalens users expect (issue 10 item 4) -------------------------

from factorlab.evaluate.metrics import (  # noqa: E402
    aggregate_returns,
    alpha_beta,
    capture_ratio,
    conditional_value_at_risk,
    cumulative_returns,
    down_capture,
    downside_risk,
    omega_ratio,
    sortino_ratio,
    stability_of_timeseries,
    tail_ratio,
    up_capture,
    up_down_capture,
    value_at_risk,
)


def _same(got: float, exp: float) -> bool:
    """Equal at 1e-10 (relative for large values), NaN and +-inf equal to themselves."""
    if np.isnan(exp) or np.isnan(got):
        return bool(np.isnan(exp) and np.isnan(got))
    if np.isinf(exp) or np.isinf(got):
        return got == exp
    return abs(got - exp) <= 1e-10 * max(1.0, abs(exp))


_returns = st.lists(st.floats(-0.5, 0.5, allow_nan=False), min_size=0, max_size=200)
_with_nan = st.lists(
    st.one_of(st.floats(-0.5, 0.5, allow_nan=False), st.just(float("nan"))), max_size=200
)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_risk_statistics_equal_empyrical(seed):
    r = _series(seed)
    ok = r[~np.isnan(r)]
    for req in (0.0, 0.001):
        assert _same(sortino_ratio(r, required_return=req), empyrical.sortino_ratio(r, req))
        assert _same(downside_risk(r, required_return=req), empyrical.downside_risk(r, req))
        assert _same(
            sortino_ratio(r, annualization=238), empyrical.sortino_ratio(r, annualization=238)
        )
    for rf, req in ((0.0, 0.0), (0.0001, 0.05), (0.0, -2.0)):
        exp = empyrical.omega_ratio(ok, risk_free=rf, required_return=req)
        assert _same(omega_ratio(ok, risk_free=rf, required_return=req), exp)
    assert _same(tail_ratio(r), empyrical.tail_ratio(r))
    assert _same(stability_of_timeseries(r), empyrical.stability_of_timeseries(r))
    assert _same(value_at_risk(ok), empyrical.value_at_risk(ok))
    assert _same(value_at_risk(ok, cutoff=0.01), empyrical.value_at_risk(ok, cutoff=0.01))
    assert _same(conditional_value_at_risk(r), empyrical.conditional_value_at_risk(r))
    assert _same(
        conditional_value_at_risk(r, cutoff=0.1), empyrical.conditional_value_at_risk(r, 0.1)
    )
    np.testing.assert_allclose(
        cumulative_returns(r), empyrical.cum_returns(r), rtol=1e-12, atol=1e-12
    )
    np.testing.assert_allclose(
        cumulative_returns(r, starting_value=1),
        empyrical.cum_returns(r, starting_value=1),
        rtol=1e-12,
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_benchmark_statistics_equal_empyrical(seed):
    r, b = _series(seed), _series(seed + 10)
    b[np.isnan(b)] = 0.001
    for rf in (0.0, 0.0002):
        a, beta = alpha_beta(r, b, risk_free=rf)
        ea, eb = empyrical.alpha_beta(r, b, risk_free=rf)
        assert _same(a, ea) and _same(beta, eb)
    a, beta = alpha_beta(r, b, annualization=238)
    ea, eb = empyrical.alpha_beta(r, b, annualization=238)
    assert _same(a, ea) and _same(beta, eb)
    ok = ~np.isnan(r)
    assert _same(capture_ratio(r[ok], b[ok]), empyrical.capture(r[ok], b[ok]))
    assert _same(up_capture(r, b), empyrical.up_capture(r, b))
    assert _same(down_capture(r, b), empyrical.down_capture(r, b))
    assert _same(up_down_capture(r, b), empyrical.up_down_capture(r, b))


@settings(max_examples=60, deadline=None)
@given(_with_nan)
def test_single_series_statistics_equal_empyrical_on_any_series(values):
    r = np.array(values, dtype=float)
    ok = r[~np.isnan(r)]
    assert _same(sortino_ratio(r), empyrical.sortino_ratio(r))
    assert _same(downside_risk(r), empyrical.downside_risk(r))
    assert _same(omega_ratio(ok), empyrical.omega_ratio(ok))
    assert _same(tail_ratio(r), empyrical.tail_ratio(r))
    assert _same(stability_of_timeseries(r), empyrical.stability_of_timeseries(r))
    assert _same(conditional_value_at_risk(r), empyrical.conditional_value_at_risk(r))
    if r.size:
        assert _same(value_at_risk(r), empyrical.value_at_risk(r))
        np.testing.assert_allclose(
            cumulative_returns(r, starting_value=1),
            empyrical.cum_returns(r, starting_value=1),
            rtol=1e-12,
        )


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-0.3, 0.3), st.floats(-0.3, 0.3)), min_size=2, max_size=150))
def test_benchmark_statistics_equal_empyrical_on_any_pair(pairs):
    r, b = np.array(pairs).T
    a, beta = alpha_beta(r, b)
    ea, eb = empyrical.alpha_beta(r, b)
    assert _same(beta, eb)
    assert _same(a, ea)
    assert _same(up_capture(r, b), empyrical.up_capture(r, b))
    assert _same(down_capture(r, b), empyrical.down_capture(r, b))


@pytest.mark.parametrize("period", ["weekly", "monthly", "quarterly", "yearly"])
def test_aggregate_returns_equal_empyrical(period):
    import pandas as pd
    import polars as pl

    r = _series(3, n=600)
    days = pd.bdate_range("2021-12-20", periods=r.size)
    exp = empyrical.aggregate_returns(pd.Series(r, index=days), period)
    frame = pl.DataFrame({"date": pl.Series(days.to_numpy()).cast(pl.Date), "return": r})
    got = aggregate_returns(frame, period)
    assert got.height == len(exp)
    np.testing.assert_allclose(got["return"].to_numpy(), exp.to_numpy(), rtol=1e-12, atol=1e-14)
    keys = [tuple(k) if isinstance(k, tuple) else (k,) for k in exp.index]
    assert [tuple(row) for row in got.drop("return").iter_rows()] == keys


def test_empyrical_statistics_goldens_and_bad_input():
    r = np.array([0.1, -0.2, 0.05, -0.05, 0.0])
    # downside: sqrt(mean([0, .04, 0, .0025, 0])) * sqrt(1)
    assert downside_risk(r, annualization=1) == pytest.approx(np.sqrt(0.0425 / 5))
    assert omega_ratio(r, annualization=1) == pytest.approx(0.15 / 0.25)
    assert conditional_value_at_risk(r, cutoff=0.5) == pytest.approx((-0.2 - 0.05 + 0.0) / 3)
    assert sortino_ratio([0.01, 0.02], annualization=1) == np.inf  # no downside period
    with pytest.raises(ParameterError, match="same length"):
        alpha_beta([0.1, 0.2], [0.1])
    import polars as pl

    with pytest.raises(ParameterError, match="convert_to"):
        aggregate_returns(pl.DataFrame({"date": [], "return": []}), "daily")
