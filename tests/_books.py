"""Tiny hand-made markets for the backtester tests: dense per-asset price lists -> canonical
long frames (None = no row that day)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import polars as pl

from factorlab.calendar import sessions


def days(n: int, start: str = "2020-01-02") -> list[dt.date]:
    return sessions("ashare", start, "2026-12-31").head(n).to_list()


def prices_frame(
    close: Mapping[str, Sequence[float | None]],
    dates: Sequence[dt.date],
    *,
    open_: Mapping[str, Sequence[float | None]] | None = None,
    adj: Mapping[str, Sequence[float]] | None = None,
    is_st: Mapping[str, Sequence[bool]] | None = None,
) -> pl.DataFrame:
    """A ``prices`` frame: open = close unless given, high/low the bar's max/min, VWAP = close
    (amount = close x volume), float_shares 1e6."""
    rows = []
    for asset, values in close.items():
        for j, c in enumerate(values):
            if c is None:
                continue
            o = open_[asset][j] if open_ and asset in open_ else c
            rows.append(
                {
                    "date": dates[j],
                    "asset": asset,
                    "open": o,
                    "high": max(o, c),
                    "low": min(o, c),
                    "close": c,
                    "volume": 1e6,
                    "amount": 1e6 * c,
                    "adj_factor": adj[asset][j] if adj and asset in adj else 1.0,
                    "float_shares": 1e6,
                    "is_st": bool(is_st[asset][j]) if is_st and asset in is_st else False,
                }
            )
    return pl.DataFrame(rows).with_columns(pl.col("date").cast(pl.Date))


def long_frame(name_col: str, close: Mapping[str, Sequence[float | None]], dates) -> pl.DataFrame:
    """An ``etfs`` / ``indices`` style frame (date, <name_col>, close)."""
    rows = [
        {"date": dates[j], name_col: a, "close": c}
        for a, values in close.items()
        for j, c in enumerate(values)
        if c is not None
    ]
    return pl.DataFrame(rows).with_columns(pl.col("date").cast(pl.Date))


def targets(rows) -> pl.DataFrame:
    return pl.DataFrame(
        rows, schema={"date": pl.Date, "asset": pl.String, "weight": pl.Float64}, orient="row"
    )
