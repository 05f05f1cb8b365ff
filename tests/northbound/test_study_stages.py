"""The study's staging for speed changes no value: the factors computed on each side of the
participant split's wait, in groups, equal one query over the panel with the flows joined; the
split's integer codes are the Enum codes of the sorted values."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from factorlab.calendar import rebalance_dates
from factorlab.errors import NullKeyError
from factorlab.market import Market
from factorlab.northbound.factors import NORTHBOUND_FACTORS, northbound_factors
from factorlab.northbound.participants import _sorted_codes, participant_changes
from factorlab.northbound.study import (
    StudyParams,
    UserFactor,
    _factor_stage,
    _join_split,
    _panel,
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
        grid=panel.grid,  # the flows placed on the price grid's cells instead of a join
    )
    assert [s.split(":")[0] for s in seen] == ["hygiene", "factors", "participant split", "factors"]
    assert set(timer.seconds) == {"hygiene", "factors", "participant split"}

    again = _panel(small_market, params, _Timer(lambda _: None))
    assert again.grid is not None
    # the reference: the plain left join of the flows on (date, asset)
    frame, notes = _join_split(again.frame, again.notes, *again.split.result())
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


def test_holdings_codes_are_the_enum_codes_of_the_sorted_values():
    values = ["600519.SH", "000001.SZ", "300750.SZ", "000001.SZ", "600519.SH", "688981.SH"]
    cols = pl.DataFrame({"asset": pl.Series(values).cast(pl.Categorical), "x": range(6)})
    codes, names, counts = _sorted_codes(cols, "asset")
    want = sorted(set(values))
    assert names.to_list() == want and names.name == "asset"
    enum = pl.Series(values).cast(pl.Enum(want)).to_physical().to_numpy()
    assert codes.tolist() == enum.tolist() and codes.dtype == np.int32
    assert counts.tolist() == [values.count(v) for v in want]
    assert cols.columns == ["x"]  # the column is dropped once read


def test_a_null_participant_is_a_null_key_error(small_market):
    ph = small_market.participant_holdings.with_columns(
        participant=pl.when(pl.int_range(pl.len()) == 3).then(None).otherwise("participant")
    )
    tables = {**{n: small_market[n] for n in small_market.names}, "participant_holdings": ph}
    bad = Market(tables, validate="none")  # the split's own check
    with pytest.raises(NullKeyError, match=r"column `participant`.*1 null"):
        participant_changes(bad)
