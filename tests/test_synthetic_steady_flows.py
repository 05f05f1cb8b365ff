"""The steadier-flow strengths of GENERATOR_VERSION 9 (docs/calibration.md, dynamic turnover):
``allocation_bursts`` (allocation money's industry bursts), ``trading_baskets`` and
``basket_size`` (trading money's industry baskets and their tilt to size). Each moves its own
kind of money only; at 1 (planted) the output is the one pinned in test_synthetic_pinned."""

from __future__ import annotations

import polars as pl
import pytest

from factorlab.datasets import CALIBRATED, Strengths

pytestmark = pytest.mark.slow  # four 150-stock markets per seed, ~3 s each

LEVERS = ("allocation_bursts", "trading_baskets", "basket_size")


def test_planted_at_one_calibrated_steadier():
    planted = Strengths.planted()
    assert [getattr(planted, n) for n in LEVERS] == [1.0, 1.0, 1.0]
    assert [CALIBRATED[n] for n in LEVERS] == [pytest.approx(1 / 3), 2.2, 0.0]


def _flow_sd(f: pl.DataFrame) -> tuple[float, float]:
    """sd of the daily aggregate net buying of trading and of allocation money (flows_truth)."""
    return float(f["net_buy_trading"].std()), float(f["net_buy_allocation"].std())


@pytest.mark.parametrize("seed", [1, 20240816])
def test_each_lever_moves_its_own_money(planted_flows, seed):
    trading, allocation = _flow_sd(planted_flows(seed))
    # larger baskets: more market-wide trading flows (seeds 1 / 20240816: x1.08 / x1.30 at 2);
    # allocation money is untouched (to rounding)
    t, a = _flow_sd(planted_flows(seed, trading_baskets=2.0))
    assert t > trading and a == pytest.approx(allocation, rel=1e-12)
    # baskets without the size tilt: the large caps, where the market-wide trading flows were,
    # hold less of them (x0.17 / x0.24)
    t, a = _flow_sd(planted_flows(seed, basket_size=0.0))
    assert t < 0.5 * trading and a == pytest.approx(allocation, rel=1e-12)
    # no allocation bursts: steadier allocation flows (x0.73 / x0.73), trading untouched
    t, a = _flow_sd(planted_flows(seed, allocation_bursts=0.0))
    assert a < 0.85 * allocation and t == pytest.approx(trading, rel=1e-12)
