"""The study's staging for speed changes no value: the factors computed on each side of the
participant split's wait, in groups, equal one query over the panel with the flows joined."""

from __future__ import annotations

import polars as pl
from polars.testing import assert_frame_equal

from factorlab.calendar import rebalance_dates
from factorlab.northbound.factors import NORTHBOUND_FACTORS, northbound_factors
from factorlab.northbound.study import (
    StudyParams,
    UserFactor,
    _factor_stage,
    _panel,
    _panel_with_flows,
    _Timer,
)
from factorlab.ops import Factor, compute_factors


def test_factors_around_the_split_wait_equal_one_query_on_the_joined_panel(small_market):
    # a user expression on the split's flows is computed after the wait, with factor 14
    mine = Factor("my_trading_flow", pl.col("flow_trading") * 2.0 + pl.col("hold_ratio"))
    params = StudyParams(
        factors=(*NORTHBOUND_FACTORS, mine.name),
        user_factors=(UserFactor(mine.name, "expression", "test", "digest"),),
    )
    seen: list[str] = []
    timer = _Timer(seen.append)
    panel = _panel(small_market, params, timer)
    assert panel.split is not None  # the small preset has participant holdings
    got = _factor_stage(
        small_market,
        panel.frame,
        panel.notes,
        params,
        timer,
        {mine.name: mine},
        split=panel.split,
    )
    assert [s.split(":")[0] for s in seen] == ["hygiene", "factors", "participant split", "factors"]
    assert set(timer.seconds) == {"hygiene", "factors", "participant split"}

    frame, notes, _ = _panel_with_flows(small_market, params, _Timer(lambda _: None))
    registry = northbound_factors(window=params.window, date_col=None)
    every = [registry.get(n) for n in NORTHBOUND_FACTORS] + [mine]
    signals = rebalance_dates(frame["date"].min(), frame["date"].max(), "weekly")
    want = (
        compute_factors(frame, every)
        .filter(pl.col("date").is_in(signals.implode()))
        .select("date", "asset", "close", "float_shares", *[f.name for f in every])
        .collect()
    )
    assert_frame_equal(got.with_factors, want, check_exact=True)
    assert_frame_equal(got.notes, notes)
    # the comparison bites: factor 14 and the user factor have values
    assert got.with_factors["nb_trading_cum_inflow20"].drop_nulls().len() > 1_000
    assert got.with_factors[mine.name].drop_nulls().len() > 1_000
