"""A factor placed on a panel, cleaned and bucketed into quantiles per date, with drop accounting.

``clean_factor`` is the dense counterpart of alphalens' ``get_clean_factor``: it decides which
(date, asset) rows enter the analysis, assigns quantiles (``pd.qcut``-compatible or tie-robust),
and reports every dropped row with its reason.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, get_args

import numpy as np
import polars as pl

from factorlab._kernels import average_ranks, qcut_rows, rank_buckets_nb
from factorlab._kernels.grid import finite_without, usable_cells
from factorlab._kernels.rank import row_order
from factorlab.errors import (
    MaxLossExceededError,
    MissingColumnError,
    ParameterError,
    SchemaError,
)
from factorlab.evaluate.forward import ForwardReturns
from factorlab.evaluate.panel import DensePanel, GridColumns, RowPlacement
from factorlab.typing import DateGrid, DropRule, QuantileMode

__all__ = [
    "CleanFactor",
    "DropReport",
    "MaxLossExceededError",
    "clean_factor",
    "qcut_probabilities",
    "validate_quantiles",
]

MAX_QUANTILES = 100


@dataclass(frozen=True)
class DropReport:
    """Rows of the input factor frame that did not enter the analysis, by reason.

    Reasons are disjoint and counted in this order: ``not_in_factor`` (a pool member on a factor
    date with no factor row: only :func:`~factorlab.evaluate.evaluate` with ``pools`` counts
    these, and ``n_input`` then includes them), ``factor_null`` (null or NaN factor),
    ``non_finite`` (+inf or -inf factor: treated as missing, never as a value),
    ``not_in_prices`` (date or asset absent from the price panel), ``missing_return``
    (a forward return is missing; under the ``per_horizon`` rule such rows are kept and only
    ``missing_return_by_horizon`` counts them), ``group_null`` (no group label),
    ``binning`` (rows on dates whose quantile edges are not unique: alphalens drops the date).
    """

    n_input: int
    factor_null: int
    not_in_prices: int
    missing_return: int
    group_null: int
    binning: int
    binning_dates: int
    n_clean: int
    missing_return_by_horizon: dict[int, int] = field(default_factory=dict)
    non_finite: int = 0
    not_in_factor: int = 0

    @property
    def loss(self) -> float:
        """Share of input rows dropped (alphalens' ``tot_loss``)."""
        return (self.n_input - self.n_clean) / self.n_input if self.n_input else 0.0

    @property
    def forward_loss(self) -> float:
        """Share dropped before binning (alphalens' ``fwdret_loss``)."""
        return (self.loss * self.n_input - self.binning) / self.n_input if self.n_input else 0.0

    def to_frame(self) -> pl.DataFrame:
        """``(reason, rows, share)``, one row per reason plus ``clean``."""
        reasons = {
            "not_in_factor": self.not_in_factor,
            "factor_null": self.factor_null,
            "non_finite": self.non_finite,
            "not_in_prices": self.not_in_prices,
            "missing_return": self.missing_return,
            "group_null": self.group_null,
            "binning": self.binning,
            "clean": self.n_clean,
        }
        n = max(self.n_input, 1)
        return pl.DataFrame(
            {
                "reason": list(reasons),
                "rows": list(reasons.values()),
                "share": [v / n for v in reasons.values()],
            },
            schema={"reason": pl.String, "rows": pl.Int64, "share": pl.Float64},
        )


@dataclass(frozen=True, eq=False)
class CleanFactor:
    """One factor on a panel: the cells in the analysis, their quantiles and ranks.

    Attributes
    ----------
    panel, forward:
        The shared panel and forward returns.
    name:
        The factor column's name.
    values:
        (n_dates, n_assets) float64 factor grid (NaN = missing).
    mask:
        Cells in the analysis (have a quantile). A cell is used for horizon ``h`` if it is in
        ``mask`` and its ``h`` return is finite (always true under the ``any_horizon`` rule).
    quantile:
        int8 grid, 1 = lowest, 0 outside ``mask``.
    n_quantiles, mode, rule:
        Settings it was built with.
    order:
        Per-date ascending sort order of the ``mask`` cells (int64 grid).
    groups, group_labels:
        Group code grid (float64, NaN = none) and the labels the codes index, if a group column
        was given.
    drops:
        The :class:`DropReport`.
    """

    panel: DensePanel
    forward: ForwardReturns
    name: str
    values: np.ndarray
    mask: np.ndarray
    quantile: np.ndarray
    n_quantiles: int
    mode: QuantileMode
    rule: DropRule
    order: np.ndarray
    drops: DropReport
    groups: np.ndarray | None = None
    group_labels: pl.Series | None = None
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def horizons(self) -> tuple[int, ...]:
        return self.forward.horizons

    def cached(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The value stored under `key`, computed once by ``compute()`` on first use.

        For results derived from this factor alone (ranks, factor-weighted returns), shared by
        every evaluator function that needs them.
        """
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def ranks(self) -> np.ndarray:
        """Average ranks of the factor per date over the ``mask`` cells (NaN elsewhere)."""
        return self.cached("ranks", lambda: average_ranks(self.values, self.order, self.mask))

    def output_rows(
        self, grid: DateGrid = "calendar", mask: np.ndarray | None = None
    ) -> np.ndarray:
        """Rows per-date results cover: every calendar row between the first and last row with
        cells in ``mask`` (default: the clean mask), or only those rows (``"observed"``)."""
        if grid not in get_args(DateGrid):
            raise ParameterError(f"`grid` must be one of {get_args(DateGrid)}; got {grid!r}.")
        rows = np.flatnonzero((self.mask if mask is None else mask).any(axis=1))
        if grid == "observed" or rows.size == 0:
            return rows
        return np.arange(rows[0], rows[-1] + 1)

    def row_span(self) -> tuple[int, int]:
        """``(first, stop)`` rows spanning the dates that have cells in the analysis."""
        rows = np.flatnonzero(self.mask.any(axis=1))
        if rows.size == 0:
            return (0, 0)
        return (int(rows[0]), int(rows[-1]) + 1)

    def to_frame(self) -> pl.DataFrame:
        """Long frame like alphalens' clean ``factor_data``: ``date, asset, factor,
        factor_quantile`` (Int8), ``group`` if any, and ``forward_return_{h}`` per horizon, sorted
        by (date, asset)."""
        grids = {
            "factor": np.where(self.mask, self.values, np.nan),
            "factor_quantile": np.where(self.mask, self.quantile, np.nan),
        }
        if self.groups is not None:
            grids["group"] = np.where(self.mask, self.groups, np.nan)
        for h in self.horizons:
            grids[f"forward_return_{h}"] = np.where(self.mask, self.forward.grids[h], np.nan)
        frame = _cells_frame(self.panel, grids, self.mask)
        frame = frame.with_columns(pl.col("factor_quantile").cast(pl.Int8))
        if self.groups is not None and self.group_labels is not None:
            frame = frame.with_columns(
                self.group_labels.gather(frame["group"].cast(pl.Int64)).alias("group")
            )
        return frame


def _cells_frame(panel: DensePanel, grids: dict[str, np.ndarray], mask: np.ndarray) -> pl.DataFrame:
    flat = mask.reshape(-1)
    idx = np.flatnonzero(flat)
    n_assets = panel.shape[1]
    return pl.DataFrame(
        {
            panel.date_col: panel.dates.gather(idx // n_assets),
            panel.asset_col: panel.assets.gather(idx % n_assets),
            **{k: v.reshape(-1)[idx] for k, v in grids.items()},
        }
    )


def validate_quantiles(quantiles: int) -> int:
    """``quantiles`` as an int in [2, 100], or a ``ParameterError``."""
    if isinstance(quantiles, bool) or not isinstance(quantiles, int | np.integer):
        raise ParameterError(
            f"`quantiles` must be an integer between 2 and 100; got {quantiles!r}."
        )
    if not 2 <= quantiles <= MAX_QUANTILES:
        raise ParameterError(f"`quantiles` must be between 2 and 100; got {quantiles}.")
    return int(quantiles)


def qcut_probabilities(quantiles: int) -> np.ndarray:
    """The quantile probabilities ``pd.qcut(x, quantiles)`` passes to ``np.quantile``.

    ``np.linspace(0, 1, q + 1)``, nudged up by one ulp where ``q * p`` is not an integer
    (pandas >= 2.2 does this so that, e.g., 0.6 is not rounded below 3/5).
    """
    probs = np.linspace(0, 1, quantiles + 1)
    np.putmask(probs, quantiles * probs != np.arange(quantiles + 1), np.nextafter(probs, 1))
    return probs


def _panel_columns(panel: DensePanel, factor: str, group_col: str | None) -> GridColumns:
    """The factor (and group) columns the panel was built with, as a ``GridColumns``."""
    info = panel.columns
    names = sorted(panel.fields)
    for name, kind in ((factor, "numeric"), (group_col, "label")):
        if name is None:
            continue
        present = info is not None and name in info.values
        is_label = info is not None and name in info.labels
        if not present or is_label != (kind == "label"):
            raise MissingColumnError(
                f"the panel has no {kind} column `{name}`; its columns are {names}. Build it "
                f"with DensePanel.from_frame(..., {'labels' if kind == 'label' else 'columns'}="
                f"[..., {name!r}]) or pass the factor as a frame.",
                table="panel",
                column=name,
            )
    assert info is not None
    keep = [factor] + ([group_col] if group_col is not None else [])
    return GridColumns(
        values={k: info.values[k] for k in keep},
        n_rows=info.n_rows,
        n_null={k: info.n_null[k] for k in keep},
        n_off_grid={k: info.n_off_grid[k] for k in keep},
        labels={k: info.labels[k] for k in keep if k in info.labels},
        n_inf={k: info.n_inf[k] for k in keep if k in info.n_inf},
    )


def clean_factor(
    panel: DensePanel,
    factor: pl.DataFrame | pl.LazyFrame | str,
    forward: ForwardReturns,
    *,
    factor_col: str = "factor",
    group_col: str | None = None,
    date_col: str | None = None,
    asset_col: str | None = None,
    quantiles: int = 5,
    mode: QuantileMode = "rank",
    rule: DropRule = "per_horizon",
    max_loss: float | None = None,
    placement: RowPlacement | None = None,
) -> CleanFactor:
    """Place a factor on the panel, drop unusable rows, and assign quantiles per date.

    With ``mode="qcut", rule="any_horizon"`` and ``max_loss`` set this is alphalens'
    ``get_clean_factor`` (``binning_by_group=False``, ``filter_zscore=None``): rows with a null
    factor, missing from the prices, missing any horizon's return or a group label are dropped;
    quantiles are ``pd.qcut(x, quantiles, labels=False) + 1`` per date over the remaining rows;
    dates with duplicate edges are dropped; more than ``max_loss`` dropped raises.

    Parameters
    ----------
    panel, forward:
        The shared panel and its forward returns.
    factor:
        Long frame with ``date_col``, ``asset_col`` (default: the panel's) and ``factor_col``;
        or the name of a numeric column the panel was built with (a sweep over factors living
        in the price frame: no row mapping per factor), ``factor_col`` then ignored.
    group_col:
        Optional group label column (e.g. industry) of ``factor``, or of the panel's ``labels``
        when ``factor`` is a column name; rows without a group are dropped.
    quantiles:
        Number of quantiles, 2 to 100.
    mode:
        ``"rank"`` (default): tie-robust buckets from average ranks, tied values share a bucket,
        no date is dropped. ``"qcut"``: ``pd.qcut`` semantics (alphalens).
    rule:
        ``"per_horizon"`` (default): a row is kept if its factor is usable and is used for each
        horizon whose return it has; quantiles do not depend on future returns.
        ``"any_horizon"``: alphalens' rule, a row missing any horizon is dropped for all.
    max_loss:
        ``None`` (default): no limit. Else a share in [0, 1]: raise
        :class:`MaxLossExceededError` if more rows were dropped; ``0`` also raises on the first
        date with duplicate quantile edges instead of dropping it (as alphalens does).
    placement:
        With a factor frame: its rows placed once by
        :meth:`~factorlab.evaluate.DensePanel.place_rows` (for many factors sharing those rows,
        as a sweep's factors of one pool), passed to ``DensePanel.to_grid``.

    Nulls and NaN
    -------------
    Null and NaN factor values count as missing (``factor_null``); +inf and -inf too, counted
    apart as ``non_finite`` (one infinite value never turns its date's other values into NaN).

    Raises
    ------
    MissingColumnError, DtypeError
        Unknown column, or a non-numeric factor column.
    SchemaError
        The factor column holds no finite value.
    ParameterError
        ``quantiles`` outside [2, 100]; unknown ``mode`` / ``rule``; ``max_loss`` outside [0, 1].
    MaxLossExceededError
        See ``max_loss``.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import date, timedelta
    >>> from factorlab.evaluate import DensePanel, forward_returns
    >>> days = [date(2024, 1, 1) + timedelta(d) for d in range(3)]
    >>> df = pl.DataFrame({
    ...     "date": [d for d in days for _ in range(4)],
    ...     "asset": ["A", "B", "C", "D"] * 3,
    ...     "close": [10.0, 20, 30, 40, 11, 19, 33, 40, 12, 18, 36, 40],
    ...     "factor": [1.0, 2, 3, 4] * 3,
    ... })
    >>> panel = DensePanel.from_frame(df, columns=["close"])
    >>> clean = clean_factor(panel, df, forward_returns(panel, [1]), quantiles=2)
    >>> clean.quantile
    array([[1, 1, 2, 2],
           [1, 1, 2, 2],
           [1, 1, 2, 2]], dtype=int8)
    >>> clean.drops.missing_return_by_horizon  # kept: quantiles never look at returns
    {1: 4}
    >>> strict = clean_factor(panel, df, forward_returns(panel, [1]), quantiles=2,
    ...                       rule="any_horizon")
    >>> strict.drops.missing_return, int(strict.mask.sum())
    (4, 8)
    """
    quantiles = _check_options(
        panel, forward, quantiles=quantiles, mode=mode, rule=rule, max_loss=max_loss
    )
    if isinstance(factor, str):
        grid = _panel_columns(panel, factor, group_col)
        factor_col = factor
    else:
        grid = panel.to_grid(
            factor,
            [factor_col],
            labels=[group_col] if group_col is not None else [],
            date_col=date_col,
            asset_col=asset_col,
            table="factor",
            placement=placement,
        )
    values = _finite_values(grid, factor_col)
    cells = _usable_cells(grid, values, forward, group_col=group_col, rule=rule)
    order, quantile, mask, dropped, ranks = _assign_quantiles(
        panel, values, cells.base, quantiles=quantiles, mode=mode, max_loss=max_loss
    )
    drops = DropReport(
        n_input=grid.n_rows,
        factor_null=grid.n_null[factor_col] - grid.n_inf.get(factor_col, 0),
        not_in_prices=grid.n_off_grid[factor_col],
        missing_return=cells.missing_return,
        group_null=cells.group_null,
        binning=int(cells.base[dropped].sum()),
        binning_dates=int(dropped.sum()),
        n_clean=int(mask.sum()),
        missing_return_by_horizon=cells.missing_by_horizon,
        non_finite=grid.n_inf.get(factor_col, 0),
    )
    _check_max_loss(drops, max_loss)
    clean = CleanFactor(
        panel=panel,
        forward=forward,
        name=factor_col,
        values=values,
        mask=mask,
        quantile=quantile,
        n_quantiles=quantiles,
        mode=mode,
        rule=rule,
        order=order,
        drops=drops,
        groups=cells.groups,
        group_labels=grid.labels.get(group_col) if group_col is not None else None,
    )
    if ranks is not None:
        clean.cached("ranks", lambda: ranks)
    return clean


def _check_options(
    panel: DensePanel,
    forward: ForwardReturns,
    *,
    quantiles: int,
    mode: QuantileMode,
    rule: DropRule,
    max_loss: float | None,
) -> int:
    """Validate :func:`clean_factor`'s options; the number of quantiles."""
    quantiles = validate_quantiles(quantiles)
    if mode not in get_args(QuantileMode):
        raise ParameterError(f"`mode` must be one of {get_args(QuantileMode)}; got {mode!r}.")
    if rule not in get_args(DropRule):
        raise ParameterError(f"`rule` must be one of {get_args(DropRule)}; got {rule!r}.")
    if max_loss is not None and not (0.0 <= max_loss <= 1.0):
        raise ParameterError(f"`max_loss` must be None or between 0 and 1; got {max_loss!r}.")
    if forward.panel is not panel:
        raise ParameterError("`forward` was computed on a different panel than `panel`.")
    return quantiles


def _finite_values(grid: GridColumns, factor_col: str) -> np.ndarray:
    """The factor's (n_dates, n_assets) grid; raises if it holds no finite value."""
    n_finite = grid.n_rows - grid.n_null[factor_col]
    if n_finite == 0:
        raise SchemaError(
            f"column `{factor_col}` of table `factor` has no finite value "
            f"({grid.n_rows} rows, all null, NaN or infinite).",
            table="factor",
            column=factor_col,
        )
    return grid.values[factor_col]


class _UsableCells(NamedTuple):
    base: np.ndarray  # cells that get a quantile (before duplicate-edge dates are dropped)
    groups: np.ndarray | None
    group_null: int
    missing_return: int
    missing_by_horizon: dict[int, int]


_NO_GROUPS = np.zeros((0, 0))


def _usable_cells(
    grid: GridColumns,
    values: np.ndarray,
    forward: ForwardReturns,
    *,
    group_col: str | None,
    rule: DropRule,
) -> _UsableCells:
    """The cells with a finite factor (and a group, and under ``any_horizon`` every return),
    with the counts of what each condition drops."""
    # one pass per grid, no temporaries (numba)
    groups = grid.values[group_col] if group_col is not None else None
    need_returns = rule == "any_horizon"
    usable, group_null, returns_null = usable_cells(
        values, _NO_GROUPS if groups is None else groups, forward.all_finite(), need_returns
    )
    missing = finite_without(values, [forward.grids[h] for h in forward.horizons])
    by_horizon = dict(zip(forward.horizons, missing, strict=True))
    return _UsableCells(
        usable, groups, int(group_null), int(returns_null) if need_returns else 0, by_horizon
    )


def _assign_quantiles(
    panel: DensePanel,
    values: np.ndarray,
    base: np.ndarray,
    *,
    quantiles: int,
    mode: QuantileMode,
    max_loss: float | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """``(order, quantile, mask, dropped_dates, ranks)`` of the `base` cells per date."""
    order = row_order(values, base)
    dropped = np.zeros(panel.shape[0], bool)
    if mode == "qcut":
        quantile, dropped, ranks = qcut_rows(values, order, base, qcut_probabilities(quantiles))
        if max_loss == 0 and dropped.any():
            day = panel.dates[int(np.flatnonzero(dropped)[0])]
            raise MaxLossExceededError(
                f"quantile edges are not unique on {day} (and {int(dropped.sum()) - 1} more "
                f"dates) for `quantiles={quantiles}`; with max_loss=0 such dates raise. Use "
                "mode='rank', fewer quantiles, or max_loss > 0 to drop those dates."
            )
        return order, quantile, base & ~dropped[:, None], dropped, ranks
    ranks = average_ranks(values, order, base)
    quantile = rank_buckets_nb(ranks, base.sum(axis=1), quantiles)
    return order, quantile, base, dropped, ranks


def _check_max_loss(drops: DropReport, max_loss: float | None) -> None:
    if max_loss is not None and drops.loss > max_loss:
        raise MaxLossExceededError(
            f"{drops.loss:.1%} of factor rows were dropped, more than max_loss={max_loss:.1%}: "
            f"{drops.factor_null} null factor, {drops.non_finite} infinite factor, "
            f"{drops.not_in_prices} not in prices, "
            f"{drops.missing_return} missing a forward return, {drops.group_null} without group, "
            f"{drops.binning} on {drops.binning_dates} dates with duplicate quantile edges. "
            "Raise max_loss or fix the inputs."
        )
