"""The one backtester: target weights -> orders -> fills subject to tradability -> daily marking
-> cash, for stocks, ETFs and index proxies on an :class:`~factorlab.grid.AssetGrid`.

:func:`backtest` runs a book, :func:`backtest_many` one book per group of a frame;
:class:`Costs` prices each order on its yuan value; :func:`index_benchmark` /
:func:`pool_benchmark` build benchmark series; :func:`quantile_targets` picks the top or bottom
fraction by score. Conventions: ``docs/backtest.md``.
"""

from __future__ import annotations

from factorlab.backtest.benchmark import index_benchmark, pool_benchmark
from factorlab.backtest.costs import NO_COSTS, STAMP_DUTY_CUT, Costs
from factorlab.backtest.engine import BacktestResult, Book, Rebalance, backtest, backtest_many
from factorlab.backtest.targets import quantile_targets

__all__ = [
    "NO_COSTS",
    "STAMP_DUTY_CUT",
    "BacktestResult",
    "Book",
    "Costs",
    "Rebalance",
    "backtest",
    "backtest_many",
    "index_benchmark",
    "pool_benchmark",
    "quantile_targets",
]
