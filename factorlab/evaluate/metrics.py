"""Performance statistics of daily return series (empyrical-reloaded definitions).

Annual return (geometric, CAGR), annual volatility, Sharpe, max drawdown, Calmar, win rate and
profit/loss ratio; the annualization factor is a parameter (252 default; qlib uses 238).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl

from factorlab.errors import ParameterError

__all__ = [
    "annual_return",
    "annual_volatility",
    "calmar_ratio",
    "max_drawdown",
    "performance_table",
    "profit_loss_ratio",
    "sharpe_ratio",
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
