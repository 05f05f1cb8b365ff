"""Quantile turnover, factor rank autocorrelation and coverage of a clean factor.

Lags count rows of the panel's calendar; each result covers the dates between the first and last
date with data, as alphalens' results on its inferred trading calendar do.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from factorlab._kernels import quantile_turnover_grid
from factorlab._kernels.correlation import rank_autocorrelations_by_lag
from factorlab._kernels.turnover import quantile_turnover_grids
from factorlab.evaluate.forward import validate_horizons
from factorlab.evaluate.quantiles import CleanFactor
from factorlab.typing import DateGrid

__all__ = ["coverage", "factor_rank_autocorrelation", "quantile_turnover"]


def quantile_turnover(
    clean: CleanFactor, lags: Sequence[int] | None = None, *, grid: DateGrid = "calendar"
) -> pl.DataFrame:
    """Share of each quantile's names that were not in it ``lag`` rows earlier.

    Equals alphalens' ``quantile_turnover(factor_data["factor_quantile"], q, lag)`` for every
    quantile ``q``: ``|S_t - S_{t-lag}| / |S_t|``, null when either set is empty. ``lags``
    defaults to the forward-return horizons (as alphalens' turnover tear sheet). With
    ``grid="calendar"`` lags count rows of the price calendar; with ``"observed"`` they count
    the dates on which the quantile has members (alphalens without a date frequency).

    Returns
    -------
    pl.DataFrame
        ``(date, lag, quantile, turnover)``; for each quantile, every calendar date between its
        first and last date with members (``"calendar"``) or only those dates (``"observed"``).
    """
    lags = clean.horizons if lags is None else validate_horizons(lags, "lags")
    date_col = clean.panel.date_col
    parts = []
    full = {}
    if grid == "calendar":
        full = turnover_grids(clean, lags)
    for q in range(1, clean.n_quantiles + 1):
        rows = clean.output_rows(grid, mask=clean.quantile == q)
        if rows.size == 0:
            continue
        sub = None if grid == "calendar" else np.ascontiguousarray(clean.quantile[rows])
        for lag in lags:
            if sub is None:
                out = full[lag][:, q - 1]
            else:
                out = quantile_turnover_grid(sub, clean.n_quantiles, lag)[:, q - 1]
            parts.append(
                pl.DataFrame(
                    {
                        date_col: clean.panel.dates.gather(rows),
                        "lag": pl.Series(np.full(rows.size, lag), dtype=pl.Int32),
                        "quantile": pl.Series(np.full(rows.size, q), dtype=pl.Int8),
                        "turnover": out[rows] if grid == "calendar" else out,
                    }
                )
            )
    if not parts:
        return pl.DataFrame(
            schema={date_col: pl.Date, "lag": pl.Int32, "quantile": pl.Int8, "turnover": pl.Float64}
        )
    return (
        pl.concat(parts)
        .sort("lag", "quantile", date_col, maintain_order=True)
        .with_columns(pl.col("turnover").fill_nan(None))
    )


def factor_rank_autocorrelation(
    clean: CleanFactor, lags: Sequence[int] | None = None, *, grid: DateGrid = "calendar"
) -> pl.DataFrame:
    """Correlation of each date's factor ranks with the ranks ``lag`` rows earlier.

    Equals alphalens' ``factor_rank_autocorrelation(factor_data, lag)``: average ranks per date
    over the clean cells, Pearson over the assets present on both dates (ranks not recomputed on
    the overlap). ``lags`` defaults to the forward-return horizons; they count calendar rows, or
    dates with data with ``grid="observed"``.

    Returns
    -------
    pl.DataFrame
        ``(date, lag, autocorrelation)`` for every calendar date between the first and last
        date with data (or only those dates); null for the first ``lag`` of them or with fewer
        than 2 common assets.
    """
    lags = clean.horizons if lags is None else validate_horizons(lags, "lags")
    rows, per_lag = rank_autocorrelations(clean, lags, grid)
    date_col = clean.panel.date_col
    parts = []
    for lag, autocorrelation in zip(lags, per_lag, strict=True):
        parts.append(
            pl.DataFrame(
                {
                    date_col: clean.panel.dates.gather(rows),
                    "lag": pl.Series(np.full(rows.size, lag), dtype=pl.Int32),
                    "autocorrelation": autocorrelation,
                }
            )
        )
    return pl.concat(parts).with_columns(pl.col("autocorrelation").fill_nan(None))


def turnover_grids(clean: CleanFactor, lags: Sequence[int]) -> dict[int, np.ndarray]:
    """Lag -> (n_dates, n_quantiles) turnover on the panel's calendar (NaN: undefined)."""
    per_lag = quantile_turnover_grids(clean.quantile, clean.n_quantiles, tuple(lags))
    return dict(zip(lags, per_lag, strict=True))


def rank_autocorrelations(
    clean: CleanFactor, lags: Sequence[int], grid: DateGrid
) -> tuple[np.ndarray, list[np.ndarray]]:
    """The output rows and, per lag, the rank autocorrelation on them (NaN: undefined)."""
    rows = clean.output_rows(grid)
    if grid == "calendar" and rows.size:
        ranks = clean.ranks()[rows[0] : rows[-1] + 1]  # a view: no copy
    else:
        ranks = np.ascontiguousarray(clean.ranks()[rows])
    return rows, rank_autocorrelations_by_lag(ranks, tuple(lags))


def coverage(clean: CleanFactor, *, price_col: str | None = None) -> pl.DataFrame:
    """Per-date counts: assets with a price, with a finite factor, in the analysis.

    ``coverage = n_clean / n_priced``. ``price_col`` defaults to the panel's ``close`` column if
    present, else its first column. Returns ``(date, n_priced, n_factor, n_clean, coverage)``
    for every panel date.
    """
    fields = clean.panel.fields
    if price_col is None:
        price_col = "close" if "close" in fields else next(iter(fields))
    n_priced = np.isfinite(fields[price_col]).sum(axis=1)
    n_clean = clean.mask.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = n_clean / n_priced
    return pl.DataFrame(
        {
            clean.panel.date_col: clean.panel.dates,
            "n_priced": n_priced.astype(np.int64),
            "n_factor": np.isfinite(clean.values).sum(axis=1).astype(np.int64),
            "n_clean": n_clean.astype(np.int64),
            "coverage": share,
        }
    ).with_columns(pl.col("coverage").fill_nan(None))
