"""Attribution of estimated northbound flows (seed 002 §2.5): the market total against CSI 800,
the style 2 x 2 (large / small x value / growth), CITIC industries and the top stocks."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from factorlab.calendar import to_date
from factorlab.errors import ParameterError
from factorlab.market import Market
from factorlab.northbound.estimation.estimator import HoldingsEstimate

__all__ = ["FlowAttribution", "flow_attribution"]

#: The style buckets, in display order.
STYLES = ("large value", "large growth", "small value", "small growth", "unclassified")


@dataclass(frozen=True)
class FlowAttribution:
    """Estimated net inflow (yuan) over one window, split four ways.

    Attributes
    ----------
    market
        date, net_inflow, cum_inflow, csi800 (index level; null without ``indices``).
    style
        date, style, net_inflow, cum_inflow: each day's stocks split at the median total cap
        (large / small) and the median point-in-time book-to-price (value = high B/P) of the
        stocks held that day; "unclassified" holds the flows of stocks without a price or a
        book-to-price yet (so the styles add up to the market total).
    industry
        industry, net_inflow, n_stocks; sorted by net inflow.
    top
        side ("inflow" / "outflow"), rank, asset, name, industry, net_inflow.
    start, end
        The window.
    """

    market: pl.DataFrame
    style: pl.DataFrame
    industry: pl.DataFrame
    top: pl.DataFrame
    start: dt.date
    end: dt.date


def _window(
    estimate: HoldingsEstimate, start: dt.date | str | None, end: dt.date | str | None
) -> pl.DataFrame:
    h = estimate.holdings
    if h.is_empty():
        raise ParameterError("the estimate has no holdings rows to attribute.")
    lo = to_date(start, "start") if start is not None else h["date"].min()
    hi = to_date(end, "end") if end is not None else h["date"].max()
    out = h.filter(pl.col("date").is_between(lo, hi))
    if out.is_empty():
        raise ParameterError(
            f"no estimated holdings in {lo} .. {hi}; the estimate covers "
            f"{h['date'].min()} .. {h['date'].max()}."
        )
    return out


def _styles(market: Market, h: pl.DataFrame) -> pl.DataFrame:
    """(date, asset, style) for the held stocks: size from total cap on the day, value from the
    last month-end book-to-price on or before it (point in time)."""
    px = market.prices.select("date", "asset", "close", "total_shares")
    cap = (
        h.select("date", "asset")
        .lazy()
        .join(px, on=["date", "asset"], how="left")
        .with_columns(cap=pl.col("close") * pl.col("total_shares"))
        .collect()
        .sort("date")
    )
    if market.has("book_to_price"):
        bp = market.book_to_price.select("date", "asset", "book_to_price").collect().sort("date")
        cap = cap.join_asof(bp, on="date", by="asset", strategy="backward", check_sortedness=False)
    else:
        cap = cap.with_columns(book_to_price=pl.lit(None, dtype=pl.Float64))
    big = pl.col("cap") >= pl.col("cap").median().over("date")
    value = pl.col("book_to_price") >= pl.col("book_to_price").median().over("date")
    style = (
        pl.when(pl.col("cap").is_null() | pl.col("book_to_price").is_null())
        .then(None)
        .otherwise(
            pl.when(big).then(pl.lit("large ")).otherwise(pl.lit("small "))
            + pl.when(value).then(pl.lit("value")).otherwise(pl.lit("growth"))
        )
    )
    return cap.select("date", "asset", style.alias("style"))


def flow_attribution(
    market: Market,
    estimate: HoldingsEstimate,
    *,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    top: int = 10,
) -> FlowAttribution:
    """Split the estimated flows of `estimate` over `start` .. `end` (default: all of it).

    Parameters
    ----------
    market
        Needs ``prices`` and ``assets`` (industry, name); ``indices`` (csi800) and
        ``book_to_price`` are used when present (without the latter every style is null).
    estimate
        From :func:`~factorlab.northbound.estimation.estimate_holdings`.
    top
        How many stocks per side in ``top``.
    """
    if top < 1:
        raise ParameterError(f"`top` must be >= 1; got {top}.")
    h = _window(estimate, start, end)
    lo, hi = h["date"].min(), h["date"].max()
    daily = h.group_by("date").agg(net_inflow=pl.col("flow").sum()).sort("date")
    daily = daily.with_columns(cum_inflow=pl.col("net_inflow").cum_sum())
    if market.has("indices"):
        idx = (
            market.indices.filter(pl.col("index") == "csi800")
            .select("date", pl.col("close").alias("csi800"))
            .collect()
        )
        daily = daily.join(idx, on="date", how="left")
    else:
        daily = daily.with_columns(csi800=pl.lit(None, dtype=pl.Float64))
    styles = _styles(market, h)
    st = (
        h.select("date", "asset", "flow")
        .join(styles, on=["date", "asset"], how="left")
        .with_columns(pl.col("style").fill_null("unclassified"))
        .group_by("date", "style")
        .agg(net_inflow=pl.col("flow").sum())
    )
    grid = daily.select("date").join(pl.DataFrame({"style": list(STYLES)}), how="cross")
    st = (
        grid.join(st, on=["date", "style"], how="left")
        .with_columns(pl.col("net_inflow").fill_null(0.0))
        .sort("style", "date")
        .with_columns(cum_inflow=pl.col("net_inflow").cum_sum().over("style"))
        .sort("date", "style")
    )
    market.require("assets", purpose="industry attribution")
    assets = market.assets.select("asset", "name", "industry").collect()
    per = (
        h.group_by("asset")
        .agg(net_inflow=pl.col("flow").sum())
        .join(assets, on="asset", how="left")
    )
    ind = (
        per.group_by(pl.col("industry").fill_null("(unknown)"))
        .agg(net_inflow=pl.col("net_inflow").sum(), n_stocks=pl.len())
        .sort("net_inflow", descending=True)
    )
    ranked = per.select("asset", "name", "industry", "net_inflow")
    inflow = ranked.sort("net_inflow", descending=True).head(top)
    outflow = ranked.sort("net_inflow").head(top)
    tops = pl.concat(
        [
            inflow.with_columns(side=pl.lit("inflow"), rank=pl.int_range(1, inflow.height + 1)),
            outflow.with_columns(side=pl.lit("outflow"), rank=pl.int_range(1, outflow.height + 1)),
        ]
    ).select("side", "rank", "asset", "name", "industry", "net_inflow")
    return FlowAttribution(daily, st, ind, tops, lo, hi)
