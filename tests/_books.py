"""Tiny hand-made markets for the backtester tests: dense per-asset price lists -> canonical
long frames (None = no row that day)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path

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


#: The prices of ``synthetic_market(n_assets=60, start="2019-01-01", end="2019-12-31")`` as the
#: generator made them when the retired research reference (``simulate_portfolio``, the research
#: ``MarketGrid``) was run on them: frozen here, so that the pinned reference values stay an
#: oracle when the generator changes (regenerate never; they are the reference's inputs).
RETIRED_REFERENCE_PRICES = Path(__file__).parent / "data" / "retired_reference_prices.parquet"


def retired_reference_prices() -> pl.DataFrame:
    """The frozen prices the retired reference implementations were pinned on."""
    return pl.read_parquet(RETIRED_REFERENCE_PRICES)
