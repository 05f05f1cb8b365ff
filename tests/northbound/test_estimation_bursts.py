"""Issue 13's last requirement: with single-stock bursts (``Strengths.block_trades``) the
estimator beats the naive baseline on every metric of ``validation_table``; and step 1's
robust loss (``EstimateParams.loss``) by hand (docs/estimation.md §2 and §4)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq, least_squares

from factorlab.datasets import synthetic_market
from factorlab.errors import ParameterError
from factorlab.northbound.estimation import EstimateParams, validation_table
from factorlab.northbound.estimation.estimator import LOSSES, _fit_total

LOWER_IS_BETTER = ("value_tracking_error", "weight_error")


def test_loss_is_a_parameter_with_huber_the_default():
    assert EstimateParams().loss == "huber"
    assert set(LOSSES) == {"linear", "huber", "soft_l1", "cauchy"}
    with pytest.raises(ParameterError, match="`loss`"):
        EstimateParams(loss="l1")


def test_step1_losses_by_hand():
    """Nine printed stocks move by 0.5% and one (a burst) by +300%, equal weights. Least
    squares is the mean, 0.5% + 3.0 / 10 (then clipped to the band); Huber at f = 10% solves
    9 (0.005 - m) + f = 0 in the quadratic zone: m = 0.005 + 0.1 / 9; soft-L1 and Cauchy at
    the roots of their gradients (the redescending Cauchy all but ignores the burst)."""
    x = np.r_[np.full(9, 0.005), 3.0]
    c = np.ones(10)
    wide = {"band": 1.0, "huber": 0.1}
    lin = _fit_total(x, c, EstimateParams(loss="linear", **wide))
    assert lin == pytest.approx(x.mean(), abs=1e-6)
    hub = _fit_total(x, c, EstimateParams(loss="huber", **wide))
    assert hub == pytest.approx(0.005 + 0.1 / 9, abs=1e-6)
    # soft-L1 and Cauchy: the roots of their gradients, sum r_j / sqrt(1 + z_j) and
    # sum r_j / (1 + z_j) (r_j = x_j - m, z_j = (r_j / f)^2), by brentq near the inliers
    f = 0.1

    def grad(m, power):
        r = x - m
        return float((r / (1.0 + (r / f) ** 2) ** power).sum())

    soft = _fit_total(x, c, EstimateParams(loss="soft_l1", **wide))
    assert soft == pytest.approx(brentq(grad, 0.0, 0.1, args=(0.5,)), abs=1e-6)
    cau = _fit_total(x, c, EstimateParams(loss="cauchy", **wide))
    assert cau == pytest.approx(brentq(grad, 0.0, 0.05, args=(1.0,)), abs=1e-6)
    assert abs(cau - 0.005) < 1e-3 < soft - 0.005  # Cauchy all but ignores the burst
    # the default band (3%) bounds least squares
    assert _fit_total(x, c, EstimateParams(loss="linear")) == pytest.approx(0.03, abs=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [20240816, 2])
def test_estimator_beats_the_naive_on_every_metric_with_bursts(seed):
    """`default` (calibrated strengths, change 2023-01-01) with block_trades = 5: the estimator
    ahead of the naive on all eight metrics (docs/estimation.md §4, measured margins in
    comments as seed 20240816 / seed 2; seeds 1 and 3, where it did not hold on every metric
    with the previous defaults, in the doc). The thinnest margins are the excluding-low hit
    rate and the weights.

    The market is the calibrated `default` with version 9's flow levers at their planted 1
    (version 9's steadier flows lift the naive's daily R² to 0.74; the shipped `default`'s own
    table is at the top of docs/estimation.md §4). The margins in the comments were measured at
    GENERATOR_VERSION 8's strengths; version 10's (slow trading money, lower payoffs) apply here
    too, and the test holds at them."""
    m = synthetic_market(
        preset="default",
        seed=seed,
        disclosure_change="2023-01-01",
        block_trades=5.0,
        allocation_bursts=1.0,
        trading_baskets=1.0,
        basket_size=1.0,
        progress=False,
    )
    t = {r["metric"]: r for r in validation_table(m, ablations=False).iter_rows(named=True)}
    # measured with the defaults of issue 13's GENERATOR_VERSION 9 rerun (huber 0.05, step 1
    # by industry, the chain's first-day fix); the previous defaults' margins were +0.006 /
    # +0.094 on r2_daily and -0.001 / -0.002 on the weights
    margin = {
        "r2_daily": 0.1,  # +0.159 / +0.150
        "r2_22d": 0.05,  # +0.089 / +0.090
        "hit_daily": 0.02,  # +0.082 / +0.039
        "hit_22d": 0.02,  # +0.052 / +0.046
        "hit_22d_excl_low": 0.008,  # +0.017 / +0.085
        "r2_level_daily": 0.3,  # +0.422 / +0.415
        "value_tracking_error": 0.005,  # -0.028 / -0.010
        "weight_error": 0.002,  # -0.004 / -0.007
    }
    assert set(margin) == set(t)
    for k, need in margin.items():
        est, naive = t[k]["estimator"], t[k]["naive"]
        gain = naive - est if k in LOWER_IS_BETTER else est - naive
        assert gain > need, (k, est, naive)
    # the naive moved toward the seed's ≈ 0 (0.504 / 0.513 without bursts)
    assert t["r2_daily"]["naive"] < 0.47


@pytest.mark.parametrize("loss", ["linear", "huber", "soft_l1", "cauchy"])
def test_step1_losses_match_scipy_least_squares(loss):
    """Equal weights: step 1's fit is scipy.optimize.least_squares' location with the same
    `loss` and f_scale (inliers at 0.2% +- 0.5%, 5% bursts of +-50..300%)."""
    rng = np.random.default_rng(7)
    x = 0.002 + 0.005 * rng.standard_normal(200)
    burst = rng.random(200) < 0.05
    x[burst] += rng.choice([-1.0, 1.0], burst.sum()) * rng.uniform(0.5, 3.0, burst.sum())
    x[burst] = np.maximum(x[burst], -1.0)  # a sell takes at most the holding
    f = 0.1
    ref = least_squares(lambda m: x - m[0], [0.002], loss=loss, f_scale=f, bounds=(-0.03, 0.03))
    got = _fit_total(x, np.ones(x.size), EstimateParams(loss=loss, huber=f))
    assert got == pytest.approx(ref.x[0], abs=1e-5)
