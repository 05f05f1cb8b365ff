"""Factor evaluation: forward returns, IC, quantile portfolios, turnover (portfolios with
trading rules, costs and cash are :mod:`factorlab.backtest`).

Long tidy Polars frames in and out; inside, dense date x asset grids built once per panel
(:class:`DensePanel`, :func:`forward_returns`) and shared by every factor of a sweep.
"""

from __future__ import annotations

from factorlab.evaluate.compat import (
    AlphalensNumbers,
    alphalens_average_cumulative_return_by_quantile,
    alphalens_clean_factor,
    alphalens_common_start_returns,
    alphalens_compute_forward_returns,
    alphalens_date_grid,
    alphalens_quantize,
    alphalens_tearsheet_numbers,
    clean_from_alphalens,
    clean_to_alphalens,
    from_alphalens,
    to_alphalens,
)
from factorlab.evaluate.events import (
    average_cumulative_return_by_quantile,
    event_returns,
)
from factorlab.evaluate.forward import ForwardReturns, forward_returns, schedule_forward_returns
from factorlab.evaluate.ic import (
    ic_by_group,
    ic_decay,
    ic_summary,
    information_coefficient,
    rolling_ic,
)
from factorlab.evaluate.metrics import (
    annual_return,
    annual_volatility,
    calmar_ratio,
    max_drawdown,
    performance_table,
    profit_loss_ratio,
    sharpe_ratio,
    win_rate,
)
from factorlab.evaluate.panel import DensePanel, GridColumns, RowPlacement
from factorlab.evaluate.quantiles import (
    CleanFactor,
    DropReport,
    MaxLossExceededError,
    clean_factor,
    qcut_probabilities,
)
from factorlab.evaluate.returns import (
    factor_alpha_beta,
    factor_returns,
    mean_return_by_quantile,
    quantile_spread,
    rate_of_return,
)
from factorlab.evaluate.sweep import Evaluation, evaluate
from factorlab.evaluate.tears import TearSheet, TearSheetSection, quantile_statistics, tearsheet
from factorlab.evaluate.turnover import coverage, factor_rank_autocorrelation, quantile_turnover

__all__ = [
    "AlphalensNumbers",
    "CleanFactor",
    "DensePanel",
    "DropReport",
    "Evaluation",
    "ForwardReturns",
    "GridColumns",
    "MaxLossExceededError",
    "RowPlacement",
    "TearSheet",
    "TearSheetSection",
    "alphalens_average_cumulative_return_by_quantile",
    "alphalens_clean_factor",
    "alphalens_common_start_returns",
    "alphalens_compute_forward_returns",
    "alphalens_date_grid",
    "alphalens_quantize",
    "alphalens_tearsheet_numbers",
    "annual_return",
    "annual_volatility",
    "average_cumulative_return_by_quantile",
    "calmar_ratio",
    "clean_factor",
    "clean_from_alphalens",
    "clean_to_alphalens",
    "coverage",
    "evaluate",
    "event_returns",
    "factor_alpha_beta",
    "factor_rank_autocorrelation",
    "factor_returns",
    "forward_returns",
    "from_alphalens",
    "ic_by_group",
    "ic_decay",
    "ic_summary",
    "information_coefficient",
    "max_drawdown",
    "mean_return_by_quantile",
    "performance_table",
    "profit_loss_ratio",
    "qcut_probabilities",
    "quantile_spread",
    "quantile_statistics",
    "quantile_turnover",
    "rate_of_return",
    "rolling_ic",
    "schedule_forward_returns",
    "sharpe_ratio",
    "tearsheet",
    "to_alphalens",
    "win_rate",
]
