"""The generator's planted industry and allocation effects, found through the rotation (seed
004 §3.2-3.4) and gone at strength 0.

Measured on ``PRESETS["small"]`` (scale "holding", no costs) with GENERATOR_VERSION 6, seeds
20240816 / 1 / 2 / 3 (strength 0 in brackets), excess a year against the equal-weight
industries:

- top - bottom group, all flows of 1 week, weekly: +0.149 / +0.072 / +0.129 / +0.081 (+0.017 /
  +0.002 / +0.006 / +0.022); trading flows of 1 month: +0.203 / +0.208 / +0.177 / +0.130
  (+0.012 / +0.040 / -0.026 / -0.020).
- the allocation book (the two months before the latest one, 6-weekly TOP-5): +0.033 / +0.074 /
  +0.065 / +0.095 (-0.022 / -0.016 / -0.001 / +0.043); the weekly allocation book on the last
  week's flows: -0.054 / -0.108 / +0.044 / -0.023 (-0.002 / -0.031 / -0.030 / +0.004): six
  weeks minus one week +0.087 / +0.182 / +0.021 / +0.118 (-0.020 / +0.015 / +0.029 / -0.039).

The tests use the first seed, the session's market (deterministic).
"""

from __future__ import annotations

import pytest

from factorlab.market import Market
from factorlab.northbound.strategies.rotation import (
    ALLOCATION_ROTATION,
    industry_rotation,
    layered_groups,
    rotation_inputs,
)


@pytest.fixture(scope="module")
def both(strat_market: Market, strat_market_off: Market):
    return {
        "on": (strat_market, rotation_inputs(strat_market)),
        "off": (strat_market_off, rotation_inputs(strat_market_off)),
    }


def _top_minus_bottom(market, inputs, flow: str, lookback: int) -> float:
    stats = layered_groups(market, flow=flow, lookback=lookback, inputs=inputs).stats
    ex = dict(zip(stats["group"].to_list(), stats["excess_annual"].to_list(), strict=True))
    return ex[1] - ex[3]


@pytest.mark.parametrize(("flow", "lookback"), [("all", 5), ("trading", 21)])
def test_top_group_beats_bottom(both, flow, lookback):
    on = _top_minus_bottom(*both["on"], flow, lookback)
    off = _top_minus_bottom(*both["off"], flow, lookback)
    assert on > 0.08, on
    assert abs(off) < 0.05, off
    assert on - off > 0.06


def _excess(market, inputs, **spec) -> float:
    return industry_rotation(market, **spec, costs=None, inputs=inputs).stats["excess_annual"][0]


def test_allocation_pays_at_six_weeks_not_one(both):
    weekly = {"flow": "allocation", "top": 5, "rebalance": 1, "lookback": 5, "skip": 0}
    six = _excess(*both["on"], **ALLOCATION_ROTATION)
    one = _excess(*both["on"], **weekly)
    assert six > 0.02, six
    assert one < 0.0, one
    assert six - one > 0.06, (six, one)
    six_off = _excess(*both["off"], **ALLOCATION_ROTATION)
    one_off = _excess(*both["off"], **weekly)
    assert abs(six_off) < 0.03, six_off
    assert six_off - one_off < 0.03, (six_off, one_off)
