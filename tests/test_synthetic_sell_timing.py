"""``Strengths.sell_timing`` (docs/calibration.md, "The round after calib9 (calib10)"): how far
trading money times its sells to the stock's high-volume and big-rise days (seed 001 §2.3: an
outflow on such a day is followed by underperformance). At 0 (planted and calibrated) the output
is the one pinned in test_synthetic_pinned."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from factorlab.datasets import CALIBRATED, Strengths
from factorlab.errors import ParameterError


def test_planted_and_calibrated_at_zero():
    assert Strengths.planted().sell_timing == 0.0
    assert "sell_timing" not in CALIBRATED
    assert Strengths.calibrated().sell_timing == 0.0


@pytest.mark.parametrize("value", [-0.5, float("nan"), float("inf")])
def test_out_of_range_is_a_parameter_error(value):
    with pytest.raises(ParameterError, match="sell_timing"):
        Strengths(sell_timing=value)


def _activity(market) -> dict[str, float]:
    """The yuan-weighted mean activity of the northbound net sells and net buys: the day's
    standardized log turnover (what #12 ranks) and return (what #13 ranks), per stock."""
    hold = market.northbound_truth.collect().sort("asset", "date")
    hold = hold.with_columns(ds=pl.col("shares").diff().over("asset"))
    bars = market.prices.select("date", "asset", "volume", "float_shares", "close").collect()
    d = hold.join(bars, on=["date", "asset"]).sort("asset", "date")
    d = d.with_columns(
        lt=(pl.col("volume") / pl.col("float_shares")).log(),
        ret=pl.col("close") / pl.col("close").shift(1).over("asset") - 1,
    ).with_columns(
        zt=(pl.col("lt") - pl.col("lt").mean().over("asset")) / pl.col("lt").std().over("asset"),
        zr=pl.col("ret") / pl.col("ret").std().over("asset"),
    )
    d = d.filter(
        pl.col("zt").is_finite() & pl.col("zr").is_finite() & (pl.col("ds").fill_null(0) != 0)
    )
    out = {}
    for side, mask in (("sell", d["ds"] < 0), ("buy", d["ds"] > 0)):
        s = d.filter(mask)
        w = s["ds"].abs()
        for z in ("zt", "zr"):
            out[f"{side}_{z}"] = float((s[z] * w).sum() / w.sum())
    return out


@pytest.mark.slow  # two 150-stock markets, ~3 s each
def test_zero_is_the_default_output(market150_of):
    base = market150_of(1)
    zero = market150_of(1, sell_timing=0.0)
    for name in ("northbound_truth", "participant_holdings", "prices"):
        a = base.table(name).collect().sort(pl.all())
        b = zero.table(name).collect().sort(pl.all())
        assert a.equals(b), name


@pytest.mark.slow  # two 150-stock markets, ~3 s each
def test_sells_move_to_the_high_volume_and_big_rise_days(market150_of):
    base, timed = market150_of(1), market150_of(1, sell_timing=2.0)
    # prices come before the holdings: the same bars; only the sells' days move
    assert base.prices.collect().equals(timed.prices.collect())
    a0, a2 = _activity(base), _activity(timed)
    # measured on seed 1 (2017-2018): sells' turnover 0.03 -> 0.72 sd, return -0.01 -> 1.07
    # sd; the buys' stay at -0.29 / 0.20 -> -0.30 / 0.16
    assert a2["sell_zt"] > a0["sell_zt"] + 0.4
    assert a2["sell_zr"] > a0["sell_zr"] + 0.6
    assert abs(a2["buy_zt"] - a0["buy_zt"]) < 0.1
    assert abs(a2["buy_zr"] - a0["buy_zr"]) < 0.1
    assert np.isfinite(list(a2.values())).all()
