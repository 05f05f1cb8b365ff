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
