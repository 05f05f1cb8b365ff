"""The participant split's streaming passes (``participant_walk_nb``: daily aggregates and
per-kind flows, no per-row frame) equal a straightforward Polars computation over the per-row
change frame (``ParticipantChanges.frame``, built by the separate per-row kernel), on the small
synthetic preset (``PRESETS["small"]``)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from factorlab.market import Market
from factorlab.northbound.participants import (
    ParticipantSplit,
    classify_participants,
    participant_daily,
    participant_flows,
)


@pytest.fixture(scope="module")
def split(small_market: Market) -> ParticipantSplit:
    return classify_participants(small_market)


@pytest.fixture(scope="module")
def rows(split: ParticipantSplit) -> pl.DataFrame:
    ch = split.changes
    f = ch.frame
    return f.with_columns(
        date=ch.days.gather(f["day"]),
        asset=ch.assets.gather(f["aid"]),
        participant=ch.participants.gather(f["pid"]),
    )


def _close(got: pl.DataFrame, want: pl.DataFrame, keys: list[str]) -> None:
    assert got.columns == want.columns
    assert got.select(keys).equals(want.select(keys))
    for c in got.columns:
        if c in keys:
            continue
        a, b = got[c].to_numpy().astype(float), want[c].to_numpy().astype(float)
        assert np.array_equal(np.isnan(a), np.isnan(b)), c
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-4, equal_nan=True, err_msg=c)


def test_the_frame_has_rows_exits_and_unpriced_cells(rows: pl.DataFrame) -> None:
    # the comparison below is only worth something if every branch is exercised
    assert rows.height > 100_000
    assert rows.filter(pl.col("shares") == 0).height > 0  # exits
    assert rows["d_shares"].null_count() > 0  # the first day
    assert rows["vwap"].null_count() > 0  # no trade that day


def test_daily_aggregates_equal_a_polars_group_by(split: ParticipantSplit, rows) -> None:
    got = participant_daily(split.changes)
    want = (
        rows.group_by("participant", "date")
        .agg(
            value=(pl.col("shares") * pl.col("close")).sum(),
            stocks=(pl.col("shares") > 0).sum().cast(pl.UInt32),
            traded=(pl.col("d_shares").abs() * pl.col("vwap")).sum(),
        )
        .sort("participant", "date")
        .with_columns(prev=pl.col("value").shift(1).over("participant"))
        .with_columns(turnover=pl.when(pl.col("prev") > 0).then(pl.col("traded") / pl.col("prev")))
        .drop("prev")
    )
    assert got.height == want.height > 1_000
    _close(got, want, ["participant", "date", "stocks"])
    assert got["turnover"].null_count() == want["turnover"].null_count()


def test_flows_equal_a_polars_group_by_on_the_kind_in_effect(
    small_market: Market, split: ParticipantSplit, rows
) -> None:
    got = participant_flows(small_market, split, by="asset")
    kinds = split.history.select(
        "participant", date="effective_from", kind=pl.col("kind").replace("minor", "unclassified")
    ).sort("date")
    keyed = (
        rows.sort("date")
        .join_asof(kinds, on="date", by="participant", strategy="backward", check_sortedness=False)
        .with_columns(
            kind=pl.col("kind").fill_null("unclassified"),
            y=(pl.col("d_shares") * pl.col("vwap")).fill_null(0.0),
        )
    )
    names = ["trading", "allocation", "unclassified"]
    want = (
        keyed.group_by("date", "asset")
        .agg([pl.col("y").filter(pl.col("kind") == k).sum().alias(f"flow_{k}") for k in names])
        .with_columns(
            flow_total=pl.col("flow_trading")
            + pl.col("flow_allocation")
            + pl.col("flow_unclassified")
        )
        .sort("date", "asset")
    )
    assert got.height == want.height > 10_000
    assert (got["flow_trading"] != 0).sum() > 1_000 and (got["flow_allocation"] != 0).sum() > 1_000
    _close(got.sort("date", "asset"), want, ["date", "asset"])
