"""Factor-sorted portfolio returns: mean return by quantile, factor-weighted returns, alpha/beta.

All per-date aggregates run in numba kernels over the dense grids of a :class:`CleanFactor`;
definitions follow alphalens-reloaded's ``performance`` module (named in each docstring).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from factorlab._kernels import factor_returns_by_date, quantile_mean_returns
from factorlab.calendar import TRADING_DAYS
from factorlab.errors import ParameterError
from factorlab.evaluate.quantiles import CleanFactor
from factorlab.typing import DateGrid

__all__ = [
    "factor_alpha_beta",
    "factor_returns",
    "mean_return_by_quantile",
    "quantile_spread",
    "rate_of_return",
]


def mean_return_by_quantile(
    clean: CleanFactor,
    *,
    by_date: bool = False,
    demeaned: bool = True,
) -> pl.DataFrame:
    """Mean forward return of each quantile, per date or averaged over dates.

    Equals alphalens' ``mean_return_by_quantile(factor_data, by_date=..., demeaned=...)``:
    with ``demeaned=True`` each return first has the date's equal-weight mean over all used cells
    subtracted. ``by_date=True``: per (quantile, date) mean and standard error = sample std /
    sqrt(count) (null for a single name). ``by_date=False``: the mean over dates of the per-date
    means, and standard error = std across dates (ddof=1) / sqrt(number of dates).

    Returns
    -------
    pl.DataFrame
        ``by_date=True``: ``(quantile, date, horizon, mean_return, std_error, n)`` for
        (quantile, date) pairs with at least one used cell. ``by_date=False``:
        ``(quantile, horizon, mean_return, std_error, n_dates)``.
    """
    date_col = clean.panel.date_col
    parts = []
    for h in clean.horizons:
        mean, std, count = quantile_mean_returns(
            clean.forward.grids[h], clean.quantile, clean.mask, clean.n_quantiles, demeaned
        )
        rows, qs = np.nonzero(count > 0)
        n = count[rows, qs]
        parts.append(
            pl.DataFrame(
                {
                    "quantile": pl.Series(qs + 1, dtype=pl.Int8),
                    date_col: clean.panel.dates.gather(rows),
                    "horizon": pl.Series(np.full(rows.size, h), dtype=pl.Int32),
                    "mean_return": mean[rows, qs],
                    "std_error": std[rows, qs] / np.sqrt(n),
                    "n": n,
                }
            )
        )
    by_day = pl.concat(parts).with_columns(pl.col("std_error").fill_nan(None))
    if by_date:
        return by_day.sort("quantile", date_col, "horizon")
    return (
        by_day.group_by("quantile", "horizon")
        .agg(
            pl.col("mean_return").mean(),
            (pl.col("mean_return").std() / pl.col("mean_return").count().sqrt()).alias("std_error"),
            pl.col("mean_return").count().cast(pl.Int64).alias("n_dates"),
        )
        .sort("quantile", "horizon")
    )


def quantile_spread(
    mean_by_date: pl.DataFrame,
    *,
    upper: int | None = None,
    lower: int | None = None,
    scale: float = 1.0,
) -> pl.DataFrame:
    """Per-date return of top-minus-bottom quantile and its standard error.

    ``spread = scale * (mean_upper - mean_lower)``, ``std_error = scale * sqrt(se_upper^2 +
    se_lower^2)``; ``upper`` / ``lower`` default to the highest / lowest quantile present.
    alphalens-reloaded 0.5.1's ``compute_mean_returns_spread`` is ``scale=0.5`` (a 100% gross
    book); the handbook's top - bottom is ``scale=1``. Input: ``mean_return_by_quantile(...,
    by_date=True)``. Returns ``(date, horizon, spread, std_error)``.
    """
    date_col = mean_by_date.columns[1]
    upper = int(mean_by_date["quantile"].max()) if upper is None else upper
    lower = int(mean_by_date["quantile"].min()) if lower is None else lower
    if upper == lower:
        raise ParameterError(f"`upper` and `lower` must differ; got {upper} and {lower}.")

    def leg(q: int, suffix: str) -> pl.DataFrame:
        return mean_by_date.filter(pl.col("quantile") == q).select(
            date_col,
            "horizon",
            pl.col("mean_return").alias(f"m{suffix}"),
            pl.col("std_error").alias(f"s{suffix}"),
        )

    joined = leg(upper, "u").join(leg(lower, "l"), on=[date_col, "horizon"], how="inner")
    return joined.select(
        date_col,
        "horizon",
        (scale * (pl.col("mu") - pl.col("ml"))).alias("spread"),
        (scale * (pl.col("su") ** 2 + pl.col("sl") ** 2).sqrt()).alias("std_error"),
    ).sort("horizon", date_col)


def _weighted(clean: CleanFactor, demeaned: bool) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    return clean.cached(
        ("factor_returns", demeaned),
        lambda: {
            h: factor_returns_by_date(clean.values, clean.forward.grids[h], clean.mask, demeaned)
            for h in clean.horizons
        },
    )


def factor_returns(
    clean: CleanFactor, *, demeaned: bool = True, grid: DateGrid = "calendar"
) -> pl.DataFrame:
    """Per-date return of the portfolio weighted by factor value, per horizon.

    Equals alphalens' ``factor_returns(factor_data, demeaned=...)``: weights ``f - mean_t f``
    (or ``f`` if not demeaned) divided by their absolute sum, times the forward return, summed
    over the date. Returns ``(date, horizon, factor_return)`` for every calendar date between
    the first and last date with data (null where a date has none), or only the dates with data
    (``grid="observed"``).
    """
    date_col = clean.panel.date_col
    rows = clean.output_rows(grid)
    parts = []
    for h, (fret, _) in _weighted(clean, demeaned).items():
        parts.append(
            pl.DataFrame(
                {
                    date_col: clean.panel.dates.gather(rows),
                    "horizon": pl.Series(np.full(rows.size, h), dtype=pl.Int32),
                    "factor_return": fret[rows],
                }
            )
        )
    return pl.concat(parts).with_columns(pl.col("factor_return").fill_nan(None))


def factor_alpha_beta(clean: CleanFactor, *, demeaned: bool = True) -> pl.DataFrame:
    """Alpha and beta of the factor-weighted portfolio against the equal-weight universe.

    Equals alphalens' ``factor_alpha_beta``: per horizon ``h``, OLS of the factor return on the
    universe's mean forward return over dates where both exist; ``ann_alpha = (1 + alpha) **
    (252 / h) - 1``. Returns ``(horizon, alpha, ann_alpha, beta, n_dates)``; null with fewer
    than 2 dates or a constant universe return.
    """
    rows = []
    for h, (fret, uret) in _weighted(clean, demeaned).items():
        ok = np.isfinite(fret) & np.isfinite(uret)
        x, y = uret[ok], fret[ok]
        alpha = beta = np.nan
        if x.size >= 2:
            dx = x - x.mean()
            sxx = float(dx @ dx)
            if sxx > 0:
                beta = float(dx @ (y - y.mean())) / sxx
                alpha = float(y.mean() - beta * x.mean())
        rows.append(
            {
                "horizon": h,
                "alpha": alpha,
                "ann_alpha": (1.0 + alpha) ** (TRADING_DAYS / h) - 1.0,
                "beta": beta,
                "n_dates": int(x.size),
            }
        )
    frame = pl.DataFrame(
        rows,
        schema={
            "horizon": pl.Int32,
            "alpha": pl.Float64,
            "ann_alpha": pl.Float64,
            "beta": pl.Float64,
            "n_dates": pl.Int64,
        },
    )
    return frame.with_columns(pl.col("alpha", "ann_alpha", "beta").fill_nan(None))


def rate_of_return(
    frame: pl.DataFrame,
    *,
    columns: Sequence[str] = ("mean_return",),
    std_columns: Sequence[str] = ("std_error",),
    base: int = 1,
) -> pl.DataFrame:
    """Convert ``horizon``-row returns to ``base``-row rates, for display across horizons.

    ``(1 + r) ** (base / horizon) - 1`` for ``columns`` and ``s / sqrt(horizon / base)`` for
    ``std_columns`` (alphalens' ``utils.rate_of_return`` / ``std_conversion``). Columns absent
    from ``frame`` are skipped.
    """
    h = pl.col("horizon").cast(pl.Float64)
    exprs = [((1 + pl.col(c)) ** (base / h) - 1).alias(c) for c in columns if c in frame.columns]
    exprs += [(pl.col(c) / (h / base).sqrt()).alias(c) for c in std_columns if c in frame.columns]
    return frame.with_columns(exprs)
