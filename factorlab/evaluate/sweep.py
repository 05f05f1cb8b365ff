"""One call for many factors on many pools: :func:`evaluate`.

The price panel and the forward returns are built once and shared by every factor x pool; each
factor x pool is a :func:`~factorlab.evaluate.clean_factor` on the same grids, scored with the
IC, quantile-return, turnover and autocorrelation functions of this package.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from factorlab.errors import MissingColumnError, ParameterError
from factorlab.evaluate.forward import forward_returns, validate_horizons
from factorlab.evaluate.ic import ic_summary, information_coefficient
from factorlab.evaluate.panel import DensePanel
from factorlab.evaluate.quantiles import clean_factor, validate_quantiles
from factorlab.evaluate.returns import mean_return_by_quantile
from factorlab.evaluate.turnover import coverage, factor_rank_autocorrelation, quantile_turnover
from factorlab.typing import Entry, QuantileMode

__all__ = ["Evaluation", "evaluate"]


@dataclass(frozen=True)
class Evaluation:
    """Result of :func:`evaluate`.

    ``summary``: one row per factor x pool x horizon (IC statistics, top / bottom quantile mean
    returns and their spread per period, top-quantile turnover, rank autocorrelation, coverage,
    rows used and lost). ``ic``: per-date IC. ``quantile_returns``: mean return by quantile.
    ``drops``: rows lost per factor x pool, by reason (nothing the caller gave is lost silently).
    """

    summary: pl.DataFrame
    ic: pl.DataFrame
    quantile_returns: pl.DataFrame
    drops: pl.DataFrame


def evaluate(
    frame: pl.DataFrame | pl.LazyFrame,
    factors: Sequence[str],
    *,
    prices: pl.DataFrame | pl.LazyFrame | None = None,
    pools: pl.DataFrame | pl.LazyFrame | Mapping[str, pl.DataFrame] | None = None,
    horizons: Sequence[int] = (1, 5, 10),
    quantiles: int = 5,
    mode: QuantileMode = "rank",
    entry: Entry = "next_open",
    method: str = "spearman",
    price_col: str = "close",
    date_col: str = "date",
    asset_col: str = "asset",
) -> Evaluation:
    """Score many factor columns on many pools in one call.

    Parameters
    ----------
    frame
        Long table (date, asset, factor columns); with ``prices=None`` it also holds the price
        column(s).
    factors
        Factor column names in `frame`.
    prices
        Long price table (date, asset, `price_col`, plus ``open`` / ``vwap`` for those entry
        conventions); default: `frame`.
    pools
        Point-in-time membership ``(date, asset, pool)`` (e.g. ``market.pools``), or a mapping
        pool name -> (date, asset) frame; ``None`` scores the whole universe as pool "all".
    horizons, quantiles, mode, entry, method
        As in :func:`forward_returns`, :func:`clean_factor` (``"rank"`` tie-robust buckets or
        ``"qcut"`` alphalens-compatible) and :func:`information_coefficient`. The default entry
        is ``"next_open"``: a factor known after day t's close trades at t+1's open (pass
        ``entry="close"`` for alphalens' convention, with data known before the close).

    Returns
    -------
    Evaluation

    Raises
    ------
    MissingColumnError
        A factor, key or price column is absent.
    ParameterError
        No factors, bad horizons or quantiles, or a pool with fewer names than `quantiles` on a
        date (named with an example date).
    DtypeError
        A factor or date column of the wrong dtype (e.g. String dates).
    """
    lf = frame.lazy()
    cols = lf.collect_schema().names()
    missing = [c for c in (date_col, asset_col, *factors) if c not in cols]
    if missing:
        raise MissingColumnError(
            f"`evaluate`: column(s) {missing} not in the factor frame (it has {cols}).",
            table="factor",
            column=missing[0],
        )
    if not factors:
        raise ParameterError("`factors` is empty: name at least one factor column.")
    horizons = validate_horizons(horizons)
    quantiles = validate_quantiles(quantiles)
    price_cols = [price_col, *{"next_open": ["open"], "next_vwap": ["vwap"]}.get(entry, [])]
    price_frame = (prices if prices is not None else frame).lazy()
    have = price_frame.collect_schema().names()
    absent = [c for c in (date_col, asset_col, *price_cols) if c not in have]
    if absent:
        raise MissingColumnError(
            f"`evaluate`: price column(s) {absent} not in the price frame (entry {entry!r} needs "
            f"{price_cols}); it has {have}.",
            table="prices",
            column=absent[0],
        )
    panel = DensePanel.from_frame(
        price_frame.select(date_col, asset_col, *price_cols),
        columns=tuple(price_cols),
        date_col=date_col,
        asset_col=asset_col,
    )
    fwd = forward_returns(panel, horizons, entry=entry, price_col=price_col)
    factor_frame = lf.select(date_col, asset_col, *factors).collect()
    members = _pool_members(pools, date_col, asset_col)

    summaries, ics, qrets, drops = [], [], [], []
    for pool, keys in members.items():
        sub = (
            factor_frame
            if keys is None
            else factor_frame.join(keys, on=[date_col, asset_col], how="semi")
        )
        for name in factors:
            f = sub.select(date_col, asset_col, pl.col(name).alias("factor"))
            _check_names_per_date(f, quantiles, name, pool, date_col)
            clean = clean_factor(
                panel,
                f,
                fwd,
                factor_col="factor",
                date_col=date_col,
                asset_col=asset_col,
                quantiles=quantiles,
                mode=mode,
            )
            tag = {"factor": name, "pool": pool}
            ic = information_coefficient(clean, method=method)
            ics.append(ic.with_columns(**{k: pl.lit(v) for k, v in tag.items()}))
            qr = mean_return_by_quantile(clean)
            qrets.append(qr.with_columns(**{k: pl.lit(v) for k, v in tag.items()}))
            drops.append(
                clean.drops.to_frame().with_columns(**{k: pl.lit(v) for k, v in tag.items()})
            )
            summaries.append(_summary(clean, ic, qr, quantiles, tag))
    lead = ["factor", "pool"]
    return Evaluation(
        summary=pl.concat(summaries, how="diagonal_relaxed"),
        ic=pl.concat(ics).select(*lead, pl.exclude(lead)),
        quantile_returns=pl.concat(qrets).select(*lead, pl.exclude(lead)),
        drops=pl.concat(drops).select(*lead, pl.exclude(lead)),
    )


def _check_names_per_date(
    f: pl.DataFrame, quantiles: int, name: str, pool: str, date_col: str
) -> None:
    """Quantile portfolios need at least `quantiles` names with a value on every scored date."""
    counts = (
        f.filter(pl.col("factor").is_not_null() & pl.col("factor").is_not_nan())
        .group_by(date_col)
        .len()
        .filter(pl.col("len") < quantiles)
        .sort(date_col)
    )
    if counts.height:
        first = counts.row(0, named=True)
        raise ParameterError(
            f"pool `{pool}` has fewer names with a `{name}` value than `quantiles` ({quantiles}) "
            f"on {counts.height} date(s), e.g. {first[date_col]} with {first['len']}; use fewer "
            "quantiles, a larger pool, or drop those dates from the factor frame."
        )


def _pool_members(
    pools: pl.DataFrame | pl.LazyFrame | Mapping[str, pl.DataFrame] | None,
    date_col: str,
    asset_col: str,
) -> dict[str, pl.DataFrame | None]:
    if pools is None:
        return {"all": None}
    if isinstance(pools, Mapping):
        for k, v in pools.items():
            names = v.lazy().collect_schema().names()
            if date_col not in names or asset_col not in names:
                raise MissingColumnError(
                    f"pool `{k}` needs columns `{date_col}` and `{asset_col}`; it has {names}.",
                    table="pools",
                    column=asset_col if date_col in names else date_col,
                )
        return {k: v.lazy().select(date_col, asset_col).collect() for k, v in pools.items()}
    p = pools.lazy().collect()
    if "pool" not in p.columns or date_col not in p.columns or asset_col not in p.columns:
        raise MissingColumnError(
            f"`pools` needs columns ({date_col}, {asset_col}, pool); it has {p.columns}.",
            table="pools",
            column="pool",
        )
    return {
        name: part.select(date_col, asset_col)
        for (name,), part in p.group_by(["pool"], maintain_order=True)
    }


def _summary(clean, ic: pl.DataFrame, qr: pl.DataFrame, quantiles: int, tag: dict) -> pl.DataFrame:
    s = ic_summary(ic).select(
        "horizon",
        ic_mean="mean",
        ic_std="std",
        ic_ir="ir",
        ic_t="t_stat",
        ic_p="p_value",
        ic_positive="positive",
        n_dates="n_dates",
    )
    top = qr.filter(pl.col("quantile") == quantiles).select("horizon", top_mean="mean_return")
    bottom = qr.filter(pl.col("quantile") == 1).select("horizon", bottom_mean="mean_return")
    turn = (
        quantile_turnover(clean)
        .filter(pl.col("quantile") == quantiles)
        .group_by("lag")
        .agg(turnover_top=pl.col("turnover").mean())
        .rename({"lag": "horizon"})
    )
    auto = (
        factor_rank_autocorrelation(clean)
        .group_by("lag")
        .agg(rank_autocorr=pl.col("autocorrelation").mean())
        .rename({"lag": "horizon"})
    )
    cov = coverage(clean)["coverage"].mean()
    d = clean.drops
    out = (
        s.join(top, on="horizon", how="left")
        .join(bottom, on="horizon", how="left")
        .with_columns(spread_mean=pl.col("top_mean") - pl.col("bottom_mean"))
        .join(
            turn.with_columns(pl.col("horizon").cast(s.schema["horizon"])), on="horizon", how="left"
        )
        .join(
            auto.with_columns(pl.col("horizon").cast(s.schema["horizon"])), on="horizon", how="left"
        )
        .with_columns(
            coverage=pl.lit(cov if cov is not None else np.nan),
            rows_input=pl.lit(d.n_input),
            rows_clean=pl.lit(d.n_clean),
            loss=pl.lit(d.loss),
        )
    )
    return out.select(
        pl.lit(tag["factor"]).alias("factor"), pl.lit(tag["pool"]).alias("pool"), pl.all()
    )
