"""``Strengths.trading_speed`` (docs/calibration.md, dynamic turnover):
how far trading holdings move to their target a day (``TRADING_SPEED`` x the strength). Slower
trading money spreads each change of its views over more days, so its daily flows persist from
week to week; allocation money is untouched. Calibrated at 1/4; at 1 (planted) the output is the
one pinned in test_synthetic_pinned."""

from __future__ import annotations

import numpy as np
import pytest

from factorlab.datasets import CALIBRATED, Strengths
from factorlab.datasets.synthetic import MAX_TRADING_SPEED, TRADING_SPEED
from factorlab.errors import ParameterError


def test_planted_at_one_calibrated_at_a_quarter():
    # docs/calibration.md ("Dynamic turnover"): the calibrated trading money moves a quarter as
    # fast (GENERATOR_VERSION 10)
    assert Strengths.planted().trading_speed == 1.0
    assert CALIBRATED["trading_speed"] == pytest.approx(0.25)
    assert Strengths.calibrated().trading_speed == pytest.approx(0.25)
    assert MAX_TRADING_SPEED * TRADING_SPEED == pytest.approx(1.0)


@pytest.mark.parametrize("value", [0.0, -0.5, MAX_TRADING_SPEED * 1.01])
def test_out_of_range_is_a_parameter_error(value):
    with pytest.raises(ParameterError, match="trading_speed"):
        Strengths(trading_speed=value)


def test_at_its_bound_is_accepted():
    assert Strengths(trading_speed=MAX_TRADING_SPEED).trading_speed == MAX_TRADING_SPEED


def _lag1(x: np.ndarray) -> float:
    return float(np.corrcoef(x[1:], x[:-1])[0, 1])


@pytest.mark.slow  # two 150-stock markets per seed, ~3 s each
@pytest.mark.parametrize("seed", [1, 20240816])
def test_slower_trading_money_steadier_flows_allocation_untouched(planted_flows, seed):
    base = planted_flows(seed)
    slow = planted_flows(seed, trading_speed=0.2)
    t0, t1 = (f["net_buy_trading"].to_numpy() for f in (base, slow))
    # 6% of the way a day instead of 30%: each change of the views is bought over more days,
    # a smaller and more persistent daily flow (measured on seeds 1 / 20240816: sd x0.49 /
    # x0.50; lag-1 autocorrelation 0.943 -> 0.960 / 0.914 -> 0.929)
    assert t1.std() < 0.6 * t0.std()
    assert _lag1(t1) > _lag1(t0) + 0.008
    # allocation money's flows are the same to the yuan
    a0, a1 = (f["net_buy_allocation"].to_numpy() for f in (base, slow))
    np.testing.assert_array_equal(a1, a0)
