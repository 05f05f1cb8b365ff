"""The grid layer: one dense date x asset grid under every layer.

:class:`GridIndex` maps long (date, asset) rows to cells and back; :class:`AssetGrid` holds the
market's stocks, ETFs and indices on one calendar with their tradability rules; :func:`vwap` is
the one VWAP definition; :func:`ffill_rows` the one forward fill.
"""

from __future__ import annotations

from factorlab._arrays import ffill_rows, prev_valid_rows
from factorlab.grid.index import Cells, GridIndex, day_numbers
from factorlab.grid.market import (
    CHINEXT_REFORM,
    ETF_LIMIT,
    KINDS,
    AssetGrid,
    AssetKind,
    price_limit_pct,
    stock_rows,
    vwap,
)

__all__ = [
    "CHINEXT_REFORM",
    "ETF_LIMIT",
    "KINDS",
    "AssetGrid",
    "AssetKind",
    "Cells",
    "GridIndex",
    "day_numbers",
    "ffill_rows",
    "prev_valid_rows",
    "price_limit_pct",
    "stock_rows",
    "vwap",
]
