"""Sector money flows from ETFs (seed 003) across the A-share, Hong Kong and US markets: the
shipped sector / industry ETF reference table, exact (creation / redemption) and heuristic flows,
the seed's three calls and the sector-flow factor.

See ``docs/etf-flows.md``.
"""

from __future__ import annotations

from factorlab.etf.flows import DIRECTIONS, FlowRules, etf_bars, etf_flows, flow_columns
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
from factorlab.etf.sectors import (
    HeuristicCheck,
    SectorComparison,
    SectorFlow,
    SectorStocks,
    compare_sectors,
    format_flow_table,
    heuristic_accuracy,
    resolve_sectors,
    sector_flow_factor,
    sector_index,
    sector_money_flow,
    sector_stocks,
)

__all__ = [
    "DIRECTIONS",
    "ETF_MARKETS",
    "MARKET_CURRENCY",
    "ROTATION_EXCLUDED",
    "FlowRules",
    "HeuristicCheck",
    "SectorComparison",
    "SectorFlow",
    "SectorStocks",
    "compare_sectors",
    "etf_bars",
    "etf_flows",
    "etf_info",
    "flow_columns",
    "format_flow_table",
    "heuristic_accuracy",
    "industry_etfs",
    "normalize_etf_code",
    "normalize_etf_codes",
    "resolve_sectors",
    "sector_etfs",
    "sector_flow_factor",
    "sector_index",
    "sector_money_flow",
    "sector_stocks",
]
