"""Northbound strategies of seeds 000 and 004 on a market, on the one backtester.

- quota-band timing (seed 000, JoinQuant's Bollinger band on the daily quota usage);
- threshold timing by capital type (seed 004 §2.2: all, trading-type, allocation-type flows);
- participant portraits (seed 004 §1.2-1.3, §2.1: turnover, holdings, industries, index
  coverage by participant type);
- industry rotation on the industry net-inflow factor and its ETF version (seed 004 §3);
- :func:`run_strategies`: all of them with their defaults in one call, cached by the market's
  content hash and the parameters; ``factorlab strategies`` prints the headline tables and writes
  the HTML report.

Every choice the seeds leave open is written down in docs/strategies.md and is a parameter.
"""

from __future__ import annotations

from factorlab.northbound.strategies.flows import (
    FLOW_KINDS,
    FlowKind,
    MarketFlows,
    market_flows,
    quota_usage,
)
from factorlab.northbound.strategies.portraits import (
    PORTRAIT_INDICES,
    PORTRAIT_KINDS,
    PORTRAIT_TABLES,
    PortraitParams,
    Portraits,
    portraits,
)
from factorlab.northbound.strategies.quota import (
    QUOTA_COSTS,
    QuotaBandResult,
    quota_band,
    quota_band_index,
    quota_band_signal,
)
from factorlab.northbound.strategies.rotation import (
    ALLOCATION_ROTATION,
    CITIC_LEVEL1,
    LOOKBACKS,
    REBALANCE_WEEKS,
    ROTATION_COSTS,
    ROTATION_EXCLUDED,
    ROTATION_INDUSTRIES,
    SEED_ROTATIONS,
    TOPS,
    TRADING_ROTATION,
    LayeredGroups,
    RotationGrid,
    RotationInputs,
    RotationResult,
    industry_flow_factor,
    industry_returns,
    industry_rotation,
    layered_groups,
    rotation_grid,
    rotation_inputs,
    seed_rotations,
)
from factorlab.northbound.strategies.run import (
    ALL_PARTS,
    NOT_PUBLIC,
    SEED_TIMING_CLAIMS,
    STRATEGY_PARTS,
    StrategiesParams,
    StrategiesResult,
    run_strategies,
)
from factorlab.northbound.strategies.timing import (
    DEFAULT_MS,
    DEFAULT_NS,
    IN_SAMPLE,
    TIMING_BOOKS,
    TIMING_COSTS,
    TIMING_INDICES,
    TimingGrid,
    TimingResult,
    threshold_grid,
    threshold_timing,
    timing_statistics,
)

__all__ = [
    "ALLOCATION_ROTATION",
    "ALL_PARTS",
    "CITIC_LEVEL1",
    "DEFAULT_MS",
    "DEFAULT_NS",
    "FLOW_KINDS",
    "IN_SAMPLE",
    "LOOKBACKS",
    "NOT_PUBLIC",
    "PORTRAIT_INDICES",
    "PORTRAIT_KINDS",
    "PORTRAIT_TABLES",
    "QUOTA_COSTS",
    "REBALANCE_WEEKS",
    "ROTATION_COSTS",
    "ROTATION_EXCLUDED",
    "ROTATION_INDUSTRIES",
    "SEED_ROTATIONS",
    "SEED_TIMING_CLAIMS",
    "STRATEGY_PARTS",
    "TIMING_BOOKS",
    "TIMING_COSTS",
    "TIMING_INDICES",
    "TOPS",
    "TRADING_ROTATION",
    "FlowKind",
    "LayeredGroups",
    "MarketFlows",
    "PortraitParams",
    "Portraits",
    "QuotaBandResult",
    "RotationGrid",
    "RotationInputs",
    "RotationResult",
    "StrategiesParams",
    "StrategiesResult",
    "TimingGrid",
    "TimingResult",
    "industry_flow_factor",
    "industry_returns",
    "industry_rotation",
    "layered_groups",
    "market_flows",
    "portraits",
    "quota_band",
    "quota_band_index",
    "quota_band_signal",
    "quota_usage",
    "rotation_grid",
    "rotation_inputs",
    "run_strategies",
    "seed_rotations",
    "threshold_grid",
    "threshold_timing",
    "timing_statistics",
]
