"""Shared ``Literal`` aliases for factorlab's options.

Import them for annotations; every alias lists exactly the values the functions accept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import polars as pl

__all__ = [
    "CalendarName",
    "CorrelationMethod",
    "DateGrid",
    "DropRule",
    "Engine",
    "Entry",
    "HeldRule",
    "IntoExpr",
    "PriceFill",
    "Progress",
    "ProgressOption",
    "QuantileMode",
    "SampleName",
]

CalendarName = Literal["ashare", "hkex", "northbound", "nyse"]
"""A shipped trading calendar: A-share (SSE/SZSE), HKEX, Stock Connect northbound days, or NYSE."""

Progress = Callable[[str], None]
"""A progress callback: called with one short message per step of a long computation."""

ProgressOption = Progress | bool | Literal["auto"] | None
"""The ``progress=`` option of long computations (:mod:`factorlab.progress`): ``"auto"`` (shown
in a terminal or a notebook), ``True`` (always shown), ``None`` / ``False`` (silent), or a
:data:`Progress` callback."""

IntoExpr = str | pl.Expr
"""An operator input: a column name or any polars expression."""

QuantileMode = Literal["qcut", "rank"]
"""``"qcut"``: alphalens / ``pd.qcut`` per date (duplicate edges drop the date);
``"rank"``: tie-robust buckets from average ranks (tied values share a bucket, no date dropped)."""

Entry = Literal["close", "next_close", "next_open", "next_vwap"]
"""Where a position opened on signal date t starts (a forward return, an order's fill):
``close`` of t (alphalens), or the ``close`` / ``open`` / ``vwap`` of t+1 (safe when the factor
is published after t's close). ETFs and indices have no open or VWAP in the canonical model: they
trade at ``close`` or ``next_close``."""

PriceFill = Literal["none", "carry", "ffill"]
"""How a missing price (suspension, not listed) enters forward returns: ``"none"`` -> missing
return; ``"carry"`` -> last traded price carried through gaps, never past the asset's last
price; ``"ffill"`` -> pandas ``ffill`` over the whole grid (alphalens, also after delisting)."""

DropRule = Literal["any_horizon", "per_horizon"]
"""``"any_horizon"`` (alphalens): a row missing any horizon's return is dropped for all horizons;
``"per_horizon"``: a row is used for every horizon whose return it has."""

Engine = Literal["local", "ray"]
"""Where a sweep's factor x pool x parameter units run (:mod:`factorlab.parallel`):
``"local"``, threads in this process (every core by default); ``"ray"``, tasks on a Ray cluster
(the ``distributed`` extra; the shared inputs placed once in its object store)."""

CorrelationMethod = Literal["spearman", "pearson"]
"""Rank IC (Spearman, average ranks for ties) or Pearson IC."""

DateGrid = Literal["calendar", "observed"]
"""Which dates per-date results cover and lags count: ``"calendar"``: every row of the price
calendar between the first and last date with data (lags in trading rows); ``"observed"``: only
the dates with data (alphalens, when the factor's dates are not a contiguous run of the price
calendar, e.g. a weekly factor on daily prices)."""

HeldRule = Literal["window", "any"]
"""When a dynamic northbound factor has a value (:func:`factorlab.northbound.northbound_factors`):
``"window"``, the stock held on every row the factor reads (the handbook's coverage);
``"any"``, held on at least one of them (a sell-out keeps its outflow)."""

SampleName = Literal["handbook"]
"""A named sample window of :func:`factorlab.northbound.factor_study` (``"handbook"``: the
Everbright handbook's back-test window, ``HANDBOOK_START`` .. ``HANDBOOK_END``)."""
