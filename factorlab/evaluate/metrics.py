"""Performance statistics of daily return series (empyrical-reloaded definitions).

Annual return (geometric, CAGR), annual volatility, Sharpe, Sortino, downside risk, omega, tail
ratio, stability, VaR / CVaR, max drawdown, Calmar, alpha / beta and capture ratios against a
benchmark, cumulative and aggregated returns, win rate and profit/loss ratio; the annualization
factor is a parameter (252 default; qlib uses 238).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import polars as pl

from factorlab.errors import ParameterError

__all__ = [
    "aggregate_returns",
    "alpha_beta",
    "annual_return",
    "annual_volatility",
    "calmar_ratio",
    "capture_ratio",
    "conditional_value_at_risk",
    "cumulative_returns",
    "down_capture",
    "downside_risk",
    "max_drawdown",
    "omega_ratio",
    "performance_table",
    "profit_loss_ratio",
    "sharpe_ratio",
    "sortino_ratio",
    "stability_of_timeseries",
    "tail_ratio",
    "up_capture",
    "up_down_capture",
    "value_at_risk",
    "win_rate",
]

ReturnsLike = np.ndarray | pl.Series | Sequence[float]


def _arr(returns: ReturnsLike) -> np.ndarray:
    if isinstance(returns, pl.Series):
        out = returns.cast(pl.Float64).fill_null(np.nan).to_numpy()
    else:
        out = np.asarray(returns, dtype=np.float64)
    if out.ndim != 1:
        raise ParameterError(f"`returns` must be one-dimensional; got shape {out.shape}.")
    return out


def _nanmean(x: np.ndarray) -> float:
    """np.nanmean without the empty-slice warning (NaN when every value is NaN)."""
    ok = ~np.isnan(x)
    return float(np.mean(x[ok])) if ok.any() else float("nan")


def _ann(annualization: float) -> float:
    if not np.isfinite(annualization) or annualization <= 0:
        raise ParameterError(f"`annualization` must be a positive number; got {annualization}.")
    return float(annualization)


def annual_return(returns: ReturnsLike, *, annualization: float = 252) -> float:
    """Compounded annual growth rate: (prod(1 + r)) ** (annualization / n) - 1.

    Equals ``empyrical.annual_return``; NaN returns count as 0 in the product (and in n). A
    book that lost more than everything (ending value < 0, possible with shorts) has no growth
    rate: NaN, as empyrical gives.
    """
    r = _arr(returns)
    if len(r) < 1:
        return float("nan")
    ending = np.prod(1.0 + np.nan_to_num(r))
    if ending < 0:
        return float("nan")
    return float(ending ** (_ann(annualization) / len(r)) - 1.0)


def annual_volatility(returns: ReturnsLike, *, annualization: float = 252) -> float:
    """std(r, ddof=1) * sqrt(annualization), ignoring NaN (``empyrical.annual_volatility``)."""
    r = _arr(returns)
    if len(r) < 2:
        return float("nan")
    return float(np.nanstd(r, ddof=1) * np.sqrt(_ann(annualization)))


def sharpe_ratio(
    returns: ReturnsLike, *, risk_free: float = 0.0, annualization: float = 252
) -> float:
    """mean(r - rf) / std(r - rf, ddof=1) * sqrt(annualization), NaN ignored
    (``empyrical.sharpe_ratio``). A constant series has std exactly 0, so its Sharpe is +-inf
    (NaN when the mean is 0 too), not a float-rounding artefact near 1e15."""
    r = _arr(returns) - risk_free
    if len(r) < 2:
        return float("nan")
    std = np.nanstd(r, ddof=1)
    if np.isfinite(std) and np.nanmax(r) == np.nanmin(r):
        std = 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.nanmean(r) / std * np.sqrt(_ann(annualization)))


def max_drawdown(returns: ReturnsLike) -> float:
    """Largest peak-to-trough fall of the compounded curve (a negative number; 0 if none).

    The curve starts at 1 before the first return, so a first-day loss is a drawdown; NaN
    returns count as 0 (``empyrical.max_drawdown``).
    """
    r = _arr(returns)
    if len(r) < 1:
        return float("nan")
    curve = np.concatenate([[1.0], np.cumprod(1.0 + np.nan_to_num(r))])
    peak = np.maximum.accumulate(curve)
    return float(np.min((curve - peak) / peak))


def calmar_ratio(returns: ReturnsLike, *, annualization: float = 252) -> float:
    """annual_return / |max_drawdown|; NaN without a drawdown (``empyrical.calmar_ratio``)."""
    mdd = max_drawdown(returns)
    if not mdd < 0:
        return float("nan")
    out = annual_return(returns, annualization=annualization) / abs(mdd)
    return float(out) if np.isfinite(out) else float("nan")


def win_rate(returns: ReturnsLike) -> float:
    """Share of periods with a positive return among periods with a non-NaN, non-zero return."""
    r = _arr(returns)
    r = r[~np.isnan(r) & (r != 0)]
    return float(np.mean(r > 0)) if len(r) else float("nan")


def profit_loss_ratio(returns: ReturnsLike) -> float:
    """Mean gain of positive periods / mean loss of negative periods (NaN if either is absent)."""
    r = _arr(returns)
    gains, losses = r[r > 0], r[r < 0]
    if len(gains) == 0 or len(losses) == 0:
        return float("nan")
    return float(gains.mean() / -losses.mean())


def performance_table(
    series: Mapping[str, ReturnsLike] | pl.DataFrame,
    *,
    annualization: float = 252,
    risk_free: float = 0.0,
) -> pl.DataFrame:
    """One row per series: annual_return, annual_volatility, sharpe, max_drawdown, calmar,
    win_rate, profit_loss_ratio. A DataFrame input uses every column but ``date``."""
    if isinstance(series, pl.DataFrame):
        series = {c: series[c] for c in series.columns if c != "date"}
    rows = []
    for name, r in series.items():
        rows.append(
            {
                "series": name,
                "annual_return": annual_return(r, annualization=annualization),
                "annual_volatility": annual_volatility(r, annualization=annualization),
                "sharpe": sharpe_ratio(r, risk_free=risk_free, annualization=annualization),
                "max_drawdown": max_drawdown(r),
                "calmar": calmar_ratio(r, annualization=annualization),
                "win_rate": win_rate(r),
                "profit_loss_ratio": profit_loss_ratio(r),
            }
        )
    return pl.DataFrame(rows)


def cumulative_returns(returns: ReturnsLike, *, starting_value: float = 0.0) -> np.ndarray:
    """Compounded returns ``cumprod(1 + r)``, minus 1 (``starting_value=0``) or times
    ``starting_value``; NaN returns count as 0 (``empyrical.cum_returns``; alphalens'
    ``cumulative_returns`` is ``starting_value=1``)."""
    r = np.nan_to_num(_arr(returns), nan=0.0, posinf=np.inf, neginf=-np.inf)
    out = np.cumprod(1.0 + r)
    return out - 1.0 if starting_value == 0 else out * starting_value


AggregatePeriod = Literal["weekly", "monthly", "quarterly", "yearly"]


def aggregate_returns(
    returns: pl.DataFrame,
    convert_to: AggregatePeriod,
    *,
    date_col: str = "date",
    value_col: str = "return",
) -> pl.DataFrame:
    """Compounded return per ISO week, month, quarter or year (``empyrical.aggregate_returns``).

    ``returns`` is a ``(date_col, value_col)`` frame. Returns the period keys (``year`` plus
    ``week`` (ISO year and week), ``month`` or ``quarter``) and ``value_col``, sorted; NaN / null
    returns count as 0, as in empyrical.
    """
    d = pl.col(date_col)
    keys = {
        "weekly": [d.dt.iso_year().alias("year"), d.dt.week().alias("week")],
        "monthly": [d.dt.year().alias("year"), d.dt.month().alias("month")],
        "quarterly": [d.dt.year().alias("year"), d.dt.quarter().alias("quarter")],
        "yearly": [d.dt.year().alias("year")],
    }
    if convert_to not in keys:
        raise ParameterError(f"`convert_to` must be one of {sorted(keys)}; got {convert_to!r}.")
    r = pl.col(value_col).cast(pl.Float64).fill_nan(None).fill_null(0.0)
    names = [k.meta.output_name() for k in keys[convert_to]]
    return (
        returns.sort(date_col)
        .group_by(keys[convert_to], maintain_order=True)
        .agg(((1.0 + r).product() - 1.0).alias(value_col))
        .sort(names)
    )


def downside_risk(
    returns: ReturnsLike, *, required_return: float = 0.0, annualization: float = 252
) -> float:
    """sqrt(mean(min(r - required, 0) ** 2)) * sqrt(annualization), NaN ignored
    (``empyrical.downside_risk``)."""
    r = _arr(returns)
    if len(r) < 1:
        return float("nan")
    down = np.clip(r - required_return, -np.inf, 0)
    with np.errstate(invalid="ignore"):
        return float(np.sqrt(_nanmean(down**2)) * np.sqrt(_ann(annualization)))


def sortino_ratio(
    returns: ReturnsLike, *, required_return: float = 0.0, annualization: float = 252
) -> float:
    """mean(r - required) * annualization / downside_risk (``empyrical.sortino_ratio``); +inf
    without a downside period and a positive mean."""
    r = _arr(returns)
    if len(r) < 2:
        return float("nan")
    ann = _ann(annualization)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(
            np.float64(_nanmean(r - required_return) * ann)
            / downside_risk(r, required_return=required_return, annualization=ann)
        )


def omega_ratio(
    returns: ReturnsLike,
    *,
    risk_free: float = 0.0,
    required_return: float = 0.0,
    annualization: float = 252,
) -> float:
    """Sum of gains over the per-period threshold / sum of losses below it
    (``empyrical.omega_ratio``); the threshold is ``(1 + required_return) ** (1 /
    annualization) - 1``. NaN without losses, with ``required_return <= -1`` or < 2 periods.

    Nulls and NaN: NaN returns are ignored (empyrical's sums skip nothing: they turn the
    comparison false, which ignores them too)."""
    r = _arr(returns)
    if len(r) < 2:
        return float("nan")
    ann = _ann(annualization)
    if ann == 1:
        threshold = required_return
    elif required_return <= -1:
        return float("nan")
    else:
        threshold = (1 + required_return) ** (1.0 / ann) - 1
    x = r - risk_free - threshold
    numer = sum(x[x > 0.0])
    denom = -1.0 * sum(x[x < 0.0])
    return float(numer / denom) if denom > 0.0 else float("nan")


def tail_ratio(returns: ReturnsLike) -> float:
    """|95th percentile| / |5th percentile| of the non-NaN returns (``empyrical.tail_ratio``)."""
    r = _arr(returns)
    r = r[~np.isnan(r)]
    if len(r) < 1:
        return float("nan")
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.abs(np.percentile(r, 95)) / np.abs(np.percentile(r, 5)))


def stability_of_timeseries(returns: ReturnsLike) -> float:
    """R squared of a line fitted to the cumulative log returns against time, NaN returns
    removed (``empyrical.stability_of_timeseries``)."""
    r = _arr(returns)
    if len(r) < 2:
        return float("nan")
    r = r[~np.isnan(r)]
    y = np.log1p(r).cumsum()
    if len(y) < 2:
        return float("nan")
    from scipy import stats  # imported here: scipy.stats costs ~0.7 s at import time

    return float(stats.linregress(np.arange(len(y)), y)[2] ** 2)


def value_at_risk(returns: ReturnsLike, *, cutoff: float = 0.05) -> float:
    """The ``cutoff`` percentile of the returns (``empyrical.value_at_risk``; a NaN return
    makes it NaN, as there)."""
    r = _arr(returns)
    if len(r) < 1:
        return float("nan")
    return float(np.percentile(r, 100 * cutoff))


def conditional_value_at_risk(returns: ReturnsLike, *, cutoff: float = 0.05) -> float:
    """Mean of the lowest ``int((n - 1) * cutoff) + 1`` non-NaN returns (expected shortfall,
    ``empyrical.conditional_value_at_risk``)."""
    r = _arr(returns)
    r = r[~np.isnan(r)]
    if len(r) == 0:
        return float("nan")
    k = int((len(r) - 1) * cutoff)
    return float(np.mean(np.partition(r, k)[: k + 1]))


def _pair(returns: ReturnsLike, benchmark: ReturnsLike) -> tuple[np.ndarray, np.ndarray]:
    r, b = _arr(returns), _arr(benchmark)
    if r.shape != b.shape:
        raise ParameterError(
            f"`returns` and `benchmark` must have the same length; got {r.size} and {b.size}."
        )
    return r, b


def alpha_beta(
    returns: ReturnsLike,
    benchmark: ReturnsLike,
    *,
    risk_free: float = 0.0,
    annualization: float = 252,
) -> tuple[float, float]:
    """``(alpha, beta)`` against a benchmark of the same dates (``empyrical.alpha_beta``).

    beta = cov(b, r) / var(b) over the periods where ``returns`` is not NaN (NaN when var(b)
    < 1e-30); alpha = (1 + mean(r - rf - beta * (b - rf))) ** annualization - 1.
    """
    r, b = _pair(returns, benchmark)
    ann = _ann(annualization)
    if len(r) < 2:
        return float("nan"), float("nan")
    x = np.where(np.isnan(r), np.nan, b)
    with np.errstate(invalid="ignore"):
        res = x - _nanmean(x)
        cov = _nanmean(res * r)
        var = _nanmean(res**2)
    beta = float(cov / var) if var >= 1.0e-30 else float("nan")  # NaN var -> NaN
    with np.errstate(invalid="ignore"):
        alpha = (_nanmean((r - risk_free) - beta * (b - risk_free)) + 1) ** ann - 1
    return float(alpha), beta


def _empyrical_annual_return(r: np.ndarray, ann: float) -> float:
    """empyrical's annual_return as it is (no NaN for an ending value < 0): capture ratios."""
    if len(r) < 1:
        return float("nan")
    with np.errstate(invalid="ignore"):
        return float(np.nanprod(1.0 + r) ** (1 / (len(r) / ann)) - 1)


def capture_ratio(
    returns: ReturnsLike, benchmark: ReturnsLike, *, annualization: float = 252
) -> float:
    """annual_return(returns) / annual_return(benchmark) (``empyrical.capture``)."""
    r, b = _pair(returns, benchmark)
    ann = _ann(annualization)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(
            np.float64(_empyrical_annual_return(r, ann)) / _empyrical_annual_return(b, ann)
        )


def _capture_on(
    returns: ReturnsLike, benchmark: ReturnsLike, sign: int, annualization: float
) -> float:
    r, b = _pair(returns, benchmark)
    keep = ~np.isnan(r) & ~np.isnan(b) & (np.sign(b) == sign)
    return capture_ratio(r[keep], b[keep], annualization=annualization)


def up_capture(
    returns: ReturnsLike, benchmark: ReturnsLike, *, annualization: float = 252
) -> float:
    """Capture ratio over the periods with a positive benchmark return
    (``empyrical.up_capture``)."""
    return _capture_on(returns, benchmark, 1, annualization)


def down_capture(
    returns: ReturnsLike, benchmark: ReturnsLike, *, annualization: float = 252
) -> float:
    """Capture ratio over the periods with a negative benchmark return
    (``empyrical.down_capture``)."""
    return _capture_on(returns, benchmark, -1, annualization)


def up_down_capture(
    returns: ReturnsLike, benchmark: ReturnsLike, *, annualization: float = 252
) -> float:
    """up_capture / down_capture (``empyrical.up_down_capture``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(
            np.float64(up_capture(returns, benchmark, annualization=annualization))
            / down_capture(returns, benchmark, annualization=annualization)
        )
