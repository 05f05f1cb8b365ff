"""``Strengths.interest_quality`` and ``trading_dispersion`` (docs/calibration.md, the CSI 500
Sharpe ratio at slow trading money): quality's weight in the chance that active money follows a
stock, and the spread of trading money's per-stock weight. At 1 (planted; `interest_quality` is
calibrated at 1.5) the output is the one pinned in test_synthetic_pinned."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from factorlab.datasets import CALIBRATED, Strengths
from factorlab.datasets.synthetic import INTEREST_BIAS, INTEREST_QUALITY, INTEREST_SIZE, _components
from factorlab.errors import ParameterError


def test_planted_at_one_and_calibrated():
    for name in ("interest_quality", "trading_dispersion"):
        assert getattr(Strengths.planted(), name) == 1.0
    # GENERATOR_VERSION 10 calibrates interest_quality (docs/calibration.md); trading_dispersion
    # stays at 1
    assert CALIBRATED["interest_quality"] == 1.5
    assert Strengths.calibrated().interest_quality == 1.5
    assert "trading_dispersion" not in CALIBRATED
    assert Strengths.calibrated().trading_dispersion == 1.0


@pytest.mark.parametrize("name", ["interest_quality", "trading_dispersion"])
@pytest.mark.parametrize("value", [-0.5, float("nan"), float("inf")])
def test_out_of_range_is_a_parameter_error(name, value):
    with pytest.raises(ParameterError, match=name):
        Strengths(**{name: value})


def _followed(interest_quality: float, seed: int = 3, n: int = 20_000):
    """``(interest, quality, zsize)`` drawn by `_components` on a one-day, 4-industry universe."""
    rng = np.random.default_rng(seed)
    zsize = rng.standard_normal(n)
    u = SimpleNamespace(
        industry=np.arange(n) % 4, total_base=np.full(n, 1e8), price0=np.full(n, 10.0), zsize=zsize
    )
    lat = SimpleNamespace(g=rng.standard_normal((3, n)))
    days = np.array(["2018-01-02", "2018-01-03", "2018-01-04"], dtype="datetime64[D]")
    s = Strengths(interest_quality=interest_quality)
    _components(lat, days, u, s, np.random.default_rng(seed + 1))
    return lat.interest, lat.quality, zsize


def _uniforms(seed: int, n: int) -> np.ndarray:
    """The uniform draws `_components` compares with the interest chance (its stream `rc` after
    the flow noise, the two style loadings and the two style returns)."""
    rc = np.random.default_rng(seed + 1)
    rc.standard_normal((3, n))
    rc.standard_normal((2, n))
    rc.standard_t(4.0, 3)
    rc.standard_t(4.0, 3)
    return rc.random(n)


@pytest.mark.parametrize("seed", [3, 4])
def test_interest_quality_sets_the_followed_stocks_quality_tilt(seed):
    gaps = []
    for k in (0.0, 1.0, 2.0):
        interest, q, z = _followed(k, seed)
        # the rule recomputed by hand: sigmoid(bias + size x z + quality weight x k x quality)
        p = 1.0 / (1.0 + np.exp(-(INTEREST_BIAS + INTEREST_SIZE * z + INTEREST_QUALITY * k * q)))
        np.testing.assert_array_equal(interest, _uniforms(seed, len(z)) < p)
        gaps.append(q[interest].mean() - q[~interest].mean())
    # the followed stocks' quality less the others': at 0 quality plays no part (sampling sd
    # ~0.016); measured on seeds 3 / 4 / 5: 0.00 / 0.02 / 0.00, 0.42 / 0.43 / 0.40 at 1,
    # 0.75 / 0.76 / 0.76 at 2
    assert abs(gaps[0]) < 0.06
    assert 0.3 < gaps[1] < 0.55
    assert gaps[2] > gaps[1] + 0.2


@pytest.mark.slow  # two 150-stock markets, ~3 s each
def test_trading_dispersion_moves_trading_flows_only(planted_flows):
    base = planted_flows(1)
    flat = planted_flows(1, trading_dispersion=0.0)
    # the random streams are not shifted: allocation money's flows are the same to the yuan
    np.testing.assert_array_equal(
        flat["net_buy_allocation"].to_numpy(), base["net_buy_allocation"].to_numpy()
    )
    assert not np.array_equal(
        flat["net_buy_trading"].to_numpy(), base["net_buy_trading"].to_numpy()
    )
