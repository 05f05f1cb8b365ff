"""Benchmarks: an index series of the grid, or the pool equal- or cap-weighted, weighted
independently of the legs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import polars as pl

from factorlab.backtest.costs import NO_COSTS
from factorlab.backtest.engine import backtest
from factorlab.errors import ParameterError
from factorlab.frames import as_lazy, check_columns, match_codes
from factorlab.grid.market import AssetGrid
from factorlab.typing import Entry

__all__ = ["index_benchmark", "pool_benchmark"]


def index_benchmark(grid: AssetGrid, index: str) -> pl.DataFrame:
    """Daily close-to-close return (date, benchmark) of `index` (any asset of the grid)."""
    return grid.returns(index).rename({"return": "benchmark"})


def pool_benchmark(
    grid: AssetGrid,
    pools: Any,
    *,
    pool: str | None = None,
    weighting: Literal["equal", "cap"] = "equal",
    dates: Sequence[Any] | pl.Series | None = None,
    entry: Entry = "next_vwap",
) -> pl.DataFrame:
    """Daily return (date, benchmark) of the pool held equal- or cap-weighted, rebalanced to
    the pool's members on `dates` (default: every date of `pools`), with no costs.

    `pools` is the canonical ``pools`` table (date, asset, pool); `pool` selects one pool (needed
    when the table has several). Cap weights are the grid's float cap on the signal date
    (members without one get 0). Members that are not in the grid are left out (they cannot be
    priced); none matching is an :class:`~factorlab.errors.AssetCodeError`.
    """
    if weighting not in ("equal", "cap"):
        raise ParameterError(f"`weighting` must be 'equal' or 'cap'; got {weighting!r}.")
    lf = as_lazy(pools, name="pools")
    schema = lf.collect_schema()
    check_columns(schema, ["date", "asset"], table="pools")
    if pool is not None:
        check_columns(schema, ["pool"], table="pools")
        lf = lf.filter(pl.col("pool") == pool)
    elif "pool" in schema:
        names = lf.select(pl.col("pool").unique().sort()).collect().to_series()
        if names.len() > 1:
            raise ParameterError(
                f"table `pools` holds {names.len()} pools ({names.head(5).to_list()}); pass "
                "`pool=` to choose one."
            )
    frame = lf.select(pl.col("date").cast(pl.Date), pl.col("asset").cast(pl.String)).collect()
    if dates is not None:
        frame = frame.filter(pl.col("date").is_in(pl.Series(list(dates), dtype=pl.Date).implode()))
    match_codes(frame["asset"], grid.assets, table="pools", against="grid")
    frame = frame.filter(pl.col("asset").is_in(grid.assets.implode()))
    frame = frame.filter(pl.Series(grid.index.date_rows(frame["date"]) >= 0))
    if weighting == "equal":
        w = np.ones(frame.height)
    else:
        w = np.nan_to_num(grid.index.gather(grid.cap, grid.index.cells(frame)), nan=0.0)
    targets = frame.with_columns(weight=pl.Series(w))
    res = backtest(grid, targets, entry=entry, capital=None, costs=NO_COSTS)
    return res.daily.select("date", benchmark=pl.col("net"))
