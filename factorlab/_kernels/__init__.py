"""numba kernels over dense date x asset float64 grids (NaN = missing).

Private: the public API is :mod:`factorlab.evaluate`. Every kernel is ``@njit(cache=True,
nogil=True)``, never ``fastmath``, and its docstring names the reference result it equals.
"""

from __future__ import annotations

from factorlab._kernels.correlation import ic_rows_nb, rank_autocorrelation_nb, row_pearson_nb
from factorlab._kernels.grid import (
    ffill_rows_nb,
    gather_cells_nb,
    repeated_cell_nb,
    scatter_cells_nb,
)
from factorlab._kernels.participants import (
    first_rows_nb,
    participant_changes_nb,
    participant_walk_nb,
)
from factorlab._kernels.quantile import qcut_rows_nb, rank_buckets_nb
from factorlab._kernels.rank import average_ranks_nb, row_average_ranks_nb, row_order_nb
from factorlab._kernels.returns import (
    factor_returns_nb,
    fill_prices_nb,
    forward_returns_nb,
    quantile_mean_returns_nb,
)
from factorlab._kernels.rolling import run_rolling_sum_nb, run_shift_nb
from factorlab._kernels.turnover import quantile_turnover_nb

__all__ = [
    "average_ranks_nb",
    "factor_returns_nb",
    "ffill_rows_nb",
    "fill_prices_nb",
    "first_rows_nb",
    "forward_returns_nb",
    "gather_cells_nb",
    "ic_rows_nb",
    "participant_changes_nb",
    "participant_walk_nb",
    "qcut_rows_nb",
    "quantile_mean_returns_nb",
    "quantile_turnover_nb",
    "rank_autocorrelation_nb",
    "rank_buckets_nb",
    "repeated_cell_nb",
    "row_average_ranks_nb",
    "row_order_nb",
    "row_pearson_nb",
    "run_rolling_sum_nb",
    "run_shift_nb",
    "scatter_cells_nb",
]
