"""Sector money flows from ETFs (seed 003) across the A-share, Hong Kong and US markets: the
shipped sector / industry ETF reference table, exact (creation / redemption) and heuristic flows.

See ``docs/etf-flows.md``.
"""

from __future__ import annotations

from factorlab.etf.reference import (
    ETF_MARKETS,
    MARKET_CURRENCY,
    ROTATION_EXCLUDED,
    etf_info,
    industry_etfs,
    normalize_etf_code,
    normalize_etf_codes,
    sector_etfs,
)

__all__ = [
    "ETF_MARKETS",
    "MARKET_CURRENCY",
    "ROTATION_EXCLUDED",
    "etf_info",
    "industry_etfs",
    "normalize_etf_code",
    "normalize_etf_codes",
    "sector_etfs",
]
