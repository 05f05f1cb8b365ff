"""``Strengths.preference`` and ``timing_baskets`` (docs/calibration.md, "The round after v10:
what correlates the L/S returns"): how far allocation money's slow stock preference h moves its
holdings, exp(``PREFERENCE_TILT`` x `preference` x h), and the size of trading money's
market-timing baskets (``TIMING_TILT``, on top of ``market_flow``). At 1 (planted and
calibrated) the output is the one pinned in test_synthetic_pinned."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from factorlab.datasets import CALIBRATED, Strengths
from factorlab.errors import ParameterError


@pytest.mark.parametrize("name", ["preference", "timing_baskets"])
def test_planted_and_calibrated_at_one(name):
    assert getattr(Strengths.planted(), name) == 1.0
    assert name not in CALIBRATED
    assert getattr(Strengths.calibrated(), name) == 1.0


@pytest.mark.parametrize("name", ["preference", "timing_baskets"])
@pytest.mark.parametrize("value", [-0.5, float("nan"), float("inf")])
def test_out_of_range_is_a_parameter_error(name, value):
    with pytest.raises(ParameterError, match=name):
        Strengths(**{name: value})


@pytest.mark.slow  # three 150-stock markets, ~3 s each
def test_preference_moves_allocation_holdings_only(market150_of):
    def holdings(**strengths: float) -> tuple[pl.DataFrame, pl.DataFrame]:
        m = market150_of(1, **strengths)
        flows = m.flows_truth.filter(pl.col("northbound_day")).collect()
        return flows, m.northbound_truth.collect().sort("date", "asset")

    base, base_hold = holdings()
    flat, flat_hold = holdings(preference=0.0)
    steep, steep_hold = holdings(preference=2.0)
    # the random streams are not shifted and prices do not depend on the tilt: trading money's
    # flows are the same (to the rounding of the market-wide sums), allocation money's are not
    for other in (flat, steep):
        np.testing.assert_allclose(
            other["net_buy_trading"].to_numpy(), base["net_buy_trading"].to_numpy(), rtol=1e-12
        )
        assert not np.array_equal(
            other["net_buy_allocation"].to_numpy(), base["net_buy_allocation"].to_numpy()
        )

    # h tilts holdings stock by stock: the day-to-day change of the holdings grows with the tilt
    def churn(hold: pl.DataFrame) -> float:
        d = hold.with_columns(
            chg=(pl.col("shares").log() - pl.col("shares").log().shift(20)).over("asset")
        ).filter(pl.col("chg").is_finite())
        return float(d["chg"].std())

    c0, c1, c2 = churn(flat_hold), churn(base_hold), churn(steep_hold)
    assert c0 < c1 < c2


@pytest.mark.slow  # two 150-stock markets, ~3 s each
def test_timing_baskets_move_trading_flows_only(planted_flows):
    base = planted_flows(1)
    off = planted_flows(1, timing_baskets=0.0)
    # allocation money's flows are the same (to the rounding of the market-wide sums)
    np.testing.assert_allclose(
        off["net_buy_allocation"].to_numpy(), base["net_buy_allocation"].to_numpy(), rtol=1e-12
    )
    # trading money's aggregate flows lose the timing baskets: they vary less from day to day
    sd_base = float(base["net_buy_trading"].std())
    sd_off = float(off["net_buy_trading"].std())
    assert sd_off < sd_base
