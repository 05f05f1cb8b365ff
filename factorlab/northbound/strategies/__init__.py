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

from factorlab.northbound.strategies.portraits import (
    PORTRAIT_INDICES,
    PORTRAIT_KINDS,
    PortraitParams,
    Portraits,
    portraits,
)
from factorlab.northbound.strategies.run import (
    STRATEGY_PARTS,
    StrategiesParams,
    StrategiesResult,
    run_strategies,
)

__all__ = [
    "PORTRAIT_INDICES",
    "PORTRAIT_KINDS",
    "STRATEGY_PARTS",
    "PortraitParams",
    "Portraits",
    "StrategiesParams",
    "StrategiesResult",
    "portraits",
    "run_strategies",
]
