"""Small valid frames for every canonical table, for tests of any module.

``valid_frame(name)`` builds a frame that passes ``factorlab.schema.validate(name, ...)``: keys are
the cross product of a few sessions of the table's calendar and a few ids, values follow the
spec's rules (prices > 0, ratios in [0, 1], some nulls in nullable columns). It is derived from
``TABLES``, so a new table gets a valid frame without touching this file. Import it with
``from _frames import valid_frame`` (pytest puts ``tests/`` on ``sys.path``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import polars as pl

from factorlab.calendar import sessions
from factorlab.schema import TABLES, TableSpec

#: Canonical asset codes used by the frames (Shanghai main board, Shenzhen main board, ChiNext).
ASSETS: tuple[str, ...] = ("600519.SH", "000001.SZ", "300750.SZ")

#: Key values for key columns other than the date column.
KEY_VALUES: dict[str, tuple[str, ...]] = {
    "asset": ASSETS,
    "pool": ("csi300", "csi500"),
    "participant": ("C00019", "B01451"),
    "link": ("SH", "SZ"),
    "etf": ("510300.SH", "159915.SZ"),
    "index": ("csi300", "csi500"),
}

#: Values for string columns that have a meaning.
STRING_VALUES: dict[str, tuple[str, ...]] = {
    "exchange": ("SH", "SZ", "SZ"),
    "kind": ("trading", "allocation"),
    "sector": ("broad", "tech"),
}


def table_sessions(spec: TableSpec, n: int, start: str = "2020-01-02") -> list[dt.date]:
    """The first `n` sessions of the table's calendar from `start` (A-share if it has none)."""
    days = sessions(spec.calendar or "ashare", start, "2026-12-31")
    return days.head(n).to_list()


def _keys(spec: TableSpec, n_dates: int, start: str) -> pl.DataFrame:
    frame = pl.DataFrame()
    for col in spec.key:
        if col == spec.date_column:
            values: Sequence[object] = table_sessions(spec, n_dates, start)
        else:
            values = KEY_VALUES.get(col, tuple(f"{col}_{i}" for i in range(2)))
        part = pl.DataFrame({col: values}, schema={col: spec.columns[col]})
        frame = part if frame.width == 0 else frame.join(part, how="cross")
    return frame


def _column(spec: TableSpec, col: str, n: int, rng: np.random.Generator) -> pl.Series:
    dtype = spec.columns[col]
    if dtype == pl.Float64:
        if col in spec.ratios:
            values = rng.uniform(0.0, 1.0, n)
        elif col in spec.prices:
            values = rng.uniform(1.0, 200.0, n)
        else:
            values = rng.uniform(0.0, 1e8, n)
        series = pl.Series(col, values)
    elif dtype == pl.Int64:
        series = pl.Series(col, rng.integers(0, 10**9, n), dtype=pl.Int64)
    elif dtype == pl.Boolean:
        series = pl.Series(col, rng.random(n) < 0.5)
    elif dtype == pl.Date:
        base = dt.date(2010, 1, 4)
        series = pl.Series(col, [base + dt.timedelta(days=int(k)) for k in range(n)])
    elif dtype == pl.String:
        pool = STRING_VALUES.get(col)
        series = pl.Series(col, [pool[i % len(pool)] if pool else f"{col} {i}" for i in range(n)])
    else:  # pragma: no cover - a new dtype in TABLES needs a branch here
        raise NotImplementedError(f"no generator for dtype {dtype} of `{spec.name}.{col}`")
    if col in spec.nullable:
        series = pl.select(
            pl.when(pl.int_range(n) % 2 == 1).then(pl.lit(series)).otherwise(None).alias(col)
        ).to_series()
    return series


def valid_frame(
    name: str, *, n_dates: int = 4, start: str = "2020-01-02", seed: int = 0
) -> pl.DataFrame:
    """A small frame that satisfies ``TABLES[name]``, columns in spec order.

    Parameters
    ----------
    name
        A key of ``TABLES``.
    n_dates
        Number of sessions in the date key (tables keyed by date).
    start
        First day considered for the sessions.
    seed
        Seed of the value draws.
    """
    spec = TABLES[name]
    rng = np.random.default_rng(seed)
    keys = _keys(spec, n_dates, start)
    n = keys.height
    others = [_column(spec, col, n, rng) for col in spec.columns if col not in spec.key]
    frame = keys.with_columns(others).select(list(spec.columns))
    for low, high in spec.ordered:  # e.g. low <= high of a price bar
        frame = frame.with_columns(
            pl.min_horizontal(low, high).alias(low), pl.max_horizontal(low, high).alias(high)
        )
    return frame
