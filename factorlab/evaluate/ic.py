"""Information coefficient: per-date rank / Pearson IC, its summary, decay, rolling and by group.

Per-date values come from numba row kernels on the dense grids; summaries are plain Polars on
the resulting long ``(date, horizon, ic)`` frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import get_args

import numpy as np
import polars as pl

from factorlab._kernels import ic_rows
from factorlab.calendar import TRADING_DAYS
from factorlab.errors import ParameterError
from factorlab.evaluate.forward import validate_horizons
from factorlab.evaluate.quantiles import CleanFactor
from factorlab.typing import CorrelationMethod, DateGrid

__all__ = [
    "ic_by_group",
    "ic_decay",
    "ic_summary",
    "information_coefficient",
    "rolling_ic",
]

_NO_RANKS = np.full((0, 0), np.nan)


def _check_method(method: str) -> bool:
    if method not in get_args(CorrelationMethod):
        raise ParameterError(
            f"`method` must be one of {get_args(CorrelationMethod)}; got {method!r}."
        )
    return method == "spearman"


def _check_min_obs(min_obs: int) -> int:
    if isinstance(min_obs, bool) or not isinstance(min_obs, int | np.integer) or min_obs < 2:
        raise ParameterError(f"`min_obs` must be an integer >= 2; got {min_obs!r}.")
    return int(min_obs)


def _non_negative(lag: int) -> int:
    if isinstance(lag, bool) or not isinstance(lag, int | np.integer) or lag < 0:
        raise ParameterError(f"`lags` must be non-negative integers (rows); got {lag!r}.")
    return int(lag)


def _ic_grid(
    clean: CleanFactor,
    returns: np.ndarray,
    r_order: np.ndarray | None,
    rank: bool,
    mask: np.ndarray,
    min_obs: int,
) -> tuple[np.ndarray, np.ndarray]:
    if r_order is None and not rank:
        r_order = clean.order  # unused by the Pearson branch
    # rank with r_order None: each row's used returns are sorted inside the IC kernel
    f_ranks = clean.ranks() if rank and mask is clean.mask else _NO_RANKS
    return ic_rows(clean.values, clean.order, f_ranks, mask, returns, r_order, rank, min_obs)


def information_coefficient(
    clean: CleanFactor,
    *,
    method: CorrelationMethod = "spearman",
    min_obs: int = 2,
    grid: DateGrid = "calendar",
) -> pl.DataFrame:
    """Per-date IC between the factor and each horizon's forward return.

    ``method="spearman"``: rank IC, Pearson correlation of average ranks (ties share the mean
    rank), over the cells used for that horizon. On a clean factor built alphalens' way this
    equals ``alphalens.performance.factor_information_coefficient`` (``scipy.stats.spearmanr``
    per date). ``method="pearson"``: Pearson on the raw values.

    Returns
    -------
    pl.DataFrame
        ``(date, horizon, ic, n)`` for every calendar date between the first and last date with
        data (like alphalens' ``asfreq`` output), or only the dates with data
        (``grid="observed"``); ``ic`` is null with fewer than ``min_obs`` pairs (default 2) or
        zero variance.

    Nulls and NaN
    -------------
    Only cells in the clean mask with a finite return count; NaN results become null.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import date, timedelta
    >>> from factorlab.evaluate import DensePanel, clean_factor, forward_returns
    >>> days = [date(2024, 1, 1) + timedelta(d) for d in range(3)]
    >>> df = pl.DataFrame({
    ...     "date": [d for d in days for _ in range(3)],
    ...     "asset": ["A", "B", "C"] * 3,
    ...     "close": [10.0, 10, 10, 11, 12, 13, 11, 12, 13],
    ...     "factor": [1.0, 2, 3, 3, 2, 1, 1, 1, 1],
    ... })
    >>> panel = DensePanel.from_frame(df, columns=["close"])
    >>> clean = clean_factor(panel, df, forward_returns(panel, [1]))
    >>> information_coefficient(clean)
    shape: (3, 4)
    ┌────────────┬─────────┬──────┬─────┐
    │ date       ┆ horizon ┆ ic   ┆ n   │
    │ ---        ┆ ---     ┆ ---  ┆ --- │
    │ date       ┆ i32     ┆ f64  ┆ i64 │
    ╞════════════╪═════════╪══════╪═════╡
    │ 2024-01-01 ┆ 1       ┆ 1.0  ┆ 3   │
    │ 2024-01-02 ┆ 1       ┆ null ┆ 3   │
    │ 2024-01-03 ┆ 1       ┆ null ┆ 0   │
    └────────────┴─────────┴──────┴─────┘
    """
    rank = _check_method(method)
    min_obs = _check_min_obs(min_obs)
    rows = clean.output_rows(grid)
    parts = []
    for h in clean.horizons:
        r = clean.forward.grids[h]
        # a return order computed once for many factors (evaluate) is walked, not re-sorted:
        # the same ranks, as they depend on the used values alone
        r_order = clean.forward.cached_order(h) if rank else None
        ic, n = _ic_grid(clean, r, r_order, rank, clean.mask, min_obs)
        parts.append(_date_frame(clean, rows, h, ic=ic, n=n))
    return pl.concat(parts).sort("horizon", clean.panel.date_col, maintain_order=True)


def _date_frame(
    clean: CleanFactor, rows: np.ndarray, horizon: int, **cols: np.ndarray
) -> pl.DataFrame:
    frame = pl.DataFrame(
        {
            # the dates taken in numpy (Series.gather of a numpy index holds the GIL)
            clean.panel.date_col: pl.Series(clean.panel.index.dates[rows]),
            "horizon": np.full(rows.size, horizon, dtype=np.int32),
            **{k: v[rows] for k, v in cols.items()},
        }
    )
    floats = [k for k, v in cols.items() if v.dtype.kind == "f"]
    return frame.with_columns(pl.col(floats).fill_nan(None)) if floats else frame


SUMMARY_KEYS = ("factor", "pool", "group")


def ic_summary(ic: pl.DataFrame, *, value_col: str = "ic") -> pl.DataFrame:
    """Summary statistics of a per-date IC frame, one row per horizon (and per factor, pool and
    group when those columns are present: an :class:`~factorlab.evaluate.Evaluation`'s ``ic``
    over several pools or factors is never pooled into one row).

    Columns: the keys present among ``factor``, ``pool``, ``group``, then ``horizon``, ``mean``,
    ``std`` (ddof=1), ``ir`` (mean / std, not annualized), ``ir_annualized`` (ir x
    sqrt(252 / horizon)), ``t_stat`` and ``p_value`` (two-sided one-sample t test of mean 0, as
    ``scipy.stats.ttest_1samp``), ``skew`` and ``kurtosis`` (excess; ``scipy.stats.skew`` /
    ``kurtosis`` with bias, as alphalens' IC table), ``positive`` (share of dates with IC > 0)
    and ``n_dates``.

    Nulls and NaN
    -------------
    Null ICs are ignored. A key with no IC on any date (a constant factor, a horizon past the
    data) still has its row: ``n_dates`` 0 and null statistics.
    """
    keys = [c for c in SUMMARY_KEYS if c in ic.columns] + ["horizon"]
    rows = []
    for key, part in ic.group_by(keys, maintain_order=True):
        x = part.get_column(value_col).drop_nulls().drop_nans().to_numpy()
        rows.append(
            {
                **dict(zip(keys[:-1], key[:-1], strict=True)),
                **ic_stats(x, int(key[-1])),
            }
        )
    schema = {k: ic.schema[k] for k in keys[:-1]} | {
        "horizon": pl.Int32,
        "mean": pl.Float64,
        "std": pl.Float64,
        "ir": pl.Float64,
        "ir_annualized": pl.Float64,
        "t_stat": pl.Float64,
        "p_value": pl.Float64,
        "skew": pl.Float64,
        "kurtosis": pl.Float64,
        "positive": pl.Float64,
        "n_dates": pl.Int64,
    }
    frame = pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema)
    return frame.sort(keys, maintain_order=True).with_columns(pl.selectors.float().fill_nan(None))


def ic_stats(x: np.ndarray, horizon: int, *, moments: bool = True) -> dict[str, float | int]:
    """:func:`ic_summary`'s statistics of one key's ICs ``x`` (no null or NaN), NaN where
    undefined; ``moments=False`` leaves out ``skew`` and ``kurtosis`` (the sweep's summary does
    not report them)."""
    from scipy import stats  # imported here: scipy.stats costs ~0.7 s at import time

    n = x.size
    mean = float(x.mean()) if n else np.nan
    std = float(x.std(ddof=1)) if n > 1 else np.nan
    ir = mean / std if n > 1 and std > 0 else np.nan
    t_stat = ir * np.sqrt(n) if n > 1 else np.nan
    p_value = float(2 * stats.t.sf(abs(t_stat), n - 1)) if np.isfinite(t_stat) else np.nan
    out: dict[str, float | int] = {
        "horizon": horizon,
        "mean": mean,
        "std": std,
        "ir": ir,
        "ir_annualized": ir * np.sqrt(TRADING_DAYS / horizon),
        "t_stat": t_stat,
        "p_value": p_value,
    }
    if moments:
        out["skew"] = float(stats.skew(x)) if n > 2 else np.nan
        out["kurtosis"] = float(stats.kurtosis(x)) if n > 3 else np.nan
    out["positive"] = float((x > 0).mean()) if n else np.nan
    out["n_dates"] = n
    return out


def rolling_ic(
    ic: pl.DataFrame, window: int, *, value_col: str = "ic", min_periods: int | None = None
) -> pl.DataFrame:
    """Rolling mean and IR (mean / std, ddof=1) of the per-date IC over ``window`` dates.

    The window counts rows of the IC frame (calendar dates); null ICs are skipped inside the
    window and the result is null with fewer than ``min_periods`` (default ``window``) values.
    Returns ``(date, horizon, ic_mean, ic_ir)``.
    """
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 2:
        raise ParameterError(f"`window` must be an integer >= 2; got {window!r}.")
    min_periods = window if min_periods is None else min_periods
    date_col = ic.columns[0]
    x = pl.col(value_col)
    mean = x.rolling_mean(window, min_samples=min_periods).over("horizon")
    std = x.rolling_std(window, min_samples=min_periods).over("horizon")
    return (
        ic.sort("horizon", date_col)
        .select(
            date_col,
            "horizon",
            mean.alias("ic_mean"),
            (mean / std).alias("ic_ir"),
        )
        .with_columns(pl.selectors.float().fill_nan(None))
    )


def ic_decay(
    clean: CleanFactor,
    lags: Sequence[int] = tuple(range(10)),
    *,
    horizon: int | None = None,
    method: CorrelationMethod = "spearman",
    min_obs: int = 2,
) -> pl.DataFrame:
    """Mean IC of the factor at t against the ``horizon`` return starting ``lag`` rows later.

    ``lag=0`` is the ordinary IC; growing lags show how fast the signal decays. ``horizon``
    defaults to the smallest horizon of ``clean``. Returns ``(lag, horizon, ic_mean, ic_std,
    n_dates)``.
    """
    rank = _check_method(method)
    min_obs = _check_min_obs(min_obs)
    horizon = clean.horizons[0] if horizon is None else horizon
    if horizon not in clean.forward.grids:
        raise ParameterError(
            f"`horizon` must be one of the forward returns' horizons {clean.horizons}; "
            f"got {horizon!r}."
        )
    lags = [h - 1 for h in validate_horizons([_non_negative(lag) + 1 for lag in lags], "lags")]
    base = clean.forward.grids[horizon]
    rows = []
    for lag in lags:
        shifted = np.full_like(base, np.nan)
        if lag < base.shape[0]:
            shifted[: base.shape[0] - lag] = base[lag:]
        ic, _ = _ic_grid(clean, shifted, None, rank, clean.mask, min_obs)
        ic = ic[np.isfinite(ic)]
        rows.append(
            {
                "lag": lag,
                "horizon": horizon,
                "ic_mean": float(ic.mean()) if ic.size else None,
                "ic_std": float(ic.std(ddof=1)) if ic.size > 1 else None,
                "n_dates": int(ic.size),
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "lag": pl.Int32,
            "horizon": pl.Int32,
            "ic_mean": pl.Float64,
            "ic_std": pl.Float64,
            "n_dates": pl.Int64,
        },
    )


def ic_by_group(
    clean: CleanFactor,
    *,
    method: CorrelationMethod = "spearman",
    min_obs: int = 2,
) -> pl.DataFrame:
    """Per-date IC computed separately within each group (e.g. industry).

    Equals alphalens' ``factor_information_coefficient(by_group=True)`` when ``min_obs=2``
    (alphalens returns NaN for groups with one name). Needs ``clean`` built with a
    ``group_col``. Returns ``(date, group, horizon, ic, n)`` for (date, group) pairs with data.
    """
    rank = _check_method(method)
    min_obs = _check_min_obs(min_obs)
    if clean.groups is None or clean.group_labels is None:
        raise ParameterError(
            "`clean` has no groups; build it with clean_factor(..., group_col='industry')."
        )
    codes = np.where(clean.mask, clean.groups, -1).astype(np.int64)
    date_col = clean.panel.date_col
    parts = []
    for g in range(clean.group_labels.len()):
        in_group = codes == g
        rows = np.flatnonzero(in_group.any(axis=1))
        if rows.size == 0:
            continue
        for h in clean.horizons:
            r = clean.forward.grids[h]
            order = clean.forward.order(h) if rank else None
            ic, n = _ic_grid(clean, r, order, rank, in_group, min_obs)
            parts.append(
                pl.DataFrame(
                    {
                        date_col: clean.panel.dates.gather(rows),
                        "group": clean.group_labels.gather([g] * rows.size),
                        "horizon": pl.Series([h] * rows.size, dtype=pl.Int32),
                        "ic": ic[rows],
                        "n": n[rows],
                    }
                )
            )
    if not parts:
        return pl.DataFrame(
            schema={
                date_col: pl.Date,
                "group": clean.group_labels.dtype,
                "horizon": pl.Int32,
                "ic": pl.Float64,
                "n": pl.Int64,
            }
        )
    out = pl.concat(parts)
    return out.with_columns(pl.col("ic").fill_nan(None)).sort(["horizon", date_col, "group"])
