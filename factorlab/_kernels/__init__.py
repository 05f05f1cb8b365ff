"""numba kernels over dense date x asset float64 grids (NaN = missing).

Private: the public API is :mod:`factorlab.evaluate`. Every kernel is ``@njit(cache=True,
nogil=True)``, never ``fastmath``, and its docstring names the reference result it equals.
The ``_nb`` suffix marks a compiled kernel and only that: the plain Python functions beside the
kernels (they allocate the outputs and cut the rows over threads, :mod:`.parallel`) drop it, and
where the plain name is the public function they serve they name what they return
(``forward_return_grid`` for :func:`~factorlab.evaluate.forward_returns`).
"""

from __future__ import annotations

from factorlab._kernels.correlation import ic_rows, rank_autocorrelation, row_pearson_nb
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
from factorlab._kernels.quantile import qcut_rows, rank_buckets_nb
from factorlab._kernels.rank import average_ranks, row_average_ranks_nb, row_order_nb
from factorlab._kernels.returns import (
    factor_returns_by_date,
    fill_prices,
    forward_return_grid,
    quantile_mean_returns,
)
from factorlab._kernels.rolling import run_rolling_sum_nb, run_shift_nb
from factorlab._kernels.turnover import quantile_turnover_grid

__all__ = [
    "average_ranks",
    "factor_returns_by_date",
    "ffill_rows_nb",
    "fill_prices",
    "first_rows_nb",
    "forward_return_grid",
    "gather_cells_nb",
    "ic_rows",
    "participant_changes_nb",
    "participant_walk_nb",
    "qcut_rows",
    "quantile_mean_returns",
    "quantile_turnover_grid",
    "rank_autocorrelation",
    "rank_buckets_nb",
    "repeated_cell_nb",
    "row_average_ranks_nb",
    "row_order_nb",
    "row_pearson_nb",
    "run_rolling_sum_nb",
    "run_shift_nb",
    "scatter_cells_nb",
]
