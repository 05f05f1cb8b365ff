"""ETF money flows, two measures side by side: the exact one (net creations / redemptions =
Δ shares outstanding x NAV) and seed 003's heuristic from price change and volume.

Column names say which a number is: ``*_exact`` (from shares outstanding and NAV), ``*_heuristic``
(seed 003's formula); ``flow`` is the exact flow where it exists, else the heuristic one, with
``flow_kind`` naming which. ``change``, ``amount``, ``volume_ratio`` and ``premium`` are observed
bar values, not estimates. See ``docs/etf-flows.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import polars as pl

from factorlab.errors import AbsentDataError, ParameterError
from factorlab.etf.reference import MARKET_CURRENCY, normalize_etf_code, sector_etfs
from factorlab.frames import as_lazy, check_columns, check_numeric, check_positive
from factorlab.market import Market

__all__ = [
    "DIRECTIONS",
    "FlowRules",
    "etf_bars",
    "etf_flows",
    "flow_columns",
    "market_source",
]

#: Seed 003's direction labels, from the strongest outflow to the strongest inflow (the seed
#: shows 强势流入 / 持续流入 / 震荡 / 小幅流出 and an ellipsis: 大幅流出 completes the scale).
DIRECTIONS: tuple[str, ...] = ("大幅流出", "小幅流出", "震荡", "持续流入", "强势流入")

_BAR_COLUMNS = ("date", "etf", "close", "volume", "amount")
_LABELS = ("date", "etf", "sector", "market", "currency")
_NUMBERS = ("close", "volume", "amount", "nav", "shares_outstanding")


def _standard(lf: pl.LazyFrame) -> pl.LazyFrame:
    """The bars in :func:`etf_bars`' column order, numbers as Float64."""
    return lf.select(*_LABELS, *(pl.col(c).cast(pl.Float64) for c in _NUMBERS))


@dataclass(frozen=True)
class FlowRules:
    """Seed 003's heuristic and the thresholds of its stars and direction labels.

    The heuristic, exactly as the seed writes it: a day that is up (``change > 0``) with a
    volume ratio above 1 is an inflow of ``up_share`` x amount; any other day an outflow of
    ``down_share`` x amount. The score is ``change_weight`` x change in percent +
    ``ratio_weight`` x (volume ratio - 1). The seed gives no thresholds for the stars or the
    labels; these defaults reproduce its four example rows (半导体 +2.5% / 1.45 -> score 23.75,
    4 stars, 强势流入; 人工智能 +1.8% / 1.28 -> 14.9, 3, 持续流入; 新能源车 +0.3% / 0.92 -> -3.85,
    2, 震荡; 5G -0.5% / 0.85 -> -7.75, 2, 小幅流出).

    Attributes
    ----------
    up_share, down_share
        Shares of the amount counted as inflow / outflow (seed: 0.5 and 0.3).
    change_weight, ratio_weight
        Score weights (seed: 0.5 per percentage point, 50 per unit of volume ratio).
    star_cuts
        Four increasing scores: stars = 1 + the number of cuts at or below the score (1..5).
    direction_cuts
        Four increasing scores (a, b, c, d): score >= d 强势流入, >= c 持续流入, > b 震荡,
        > a 小幅流出, else 大幅流出.
    volume_window
        Sessions the volume ratio compares with: 1 = today / yesterday (the seed's
        ``kline[-1]['v'] / kline[-2]['v']``); k = today / mean of the k previous sessions.
    """

    up_share: float = 0.5
    down_share: float = 0.3
    change_weight: float = 0.5
    ratio_weight: float = 50.0
    star_cuts: tuple[float, float, float, float] = (-10.0, 10.0, 20.0, 30.0)
    direction_cuts: tuple[float, float, float, float] = (-20.0, -5.0, 5.0, 20.0)
    volume_window: int = 1

    def __post_init__(self) -> None:
        for name in ("up_share", "down_share", "change_weight", "ratio_weight"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ParameterError(f"`{name}` must be a finite number >= 0; got {value!r}.")
        for name in ("star_cuts", "direction_cuts"):
            cuts = tuple(getattr(self, name))
            if len(cuts) != 4 or any(b <= a for a, b in pairwise(cuts)):
                raise ParameterError(f"`{name}` must be 4 increasing scores; got {cuts!r}.")
        if (
            not isinstance(self.volume_window, int)
            or isinstance(self.volume_window, bool)
            or self.volume_window < 1
        ):
            raise ParameterError(
                f"`volume_window` must be an integer >= 1; got {self.volume_window!r}."
            )

    def score(self, change: pl.Expr, volume_ratio: pl.Expr) -> pl.Expr:
        """``change_weight`` x change (in %) + ``ratio_weight`` x (volume ratio - 1)."""
        return self.change_weight * change * 100.0 + self.ratio_weight * (volume_ratio - 1.0)

    def flow(self, change: pl.Expr, volume_ratio: pl.Expr, amount: pl.Expr) -> pl.Expr:
        """The seed's money flow: +up_share x amount if up on rising volume, else -down_share x."""
        inflow = (change > 0) & (volume_ratio > 1)
        known = change.is_not_null() & volume_ratio.is_not_null() & amount.is_not_null()
        return (
            pl.when(~known)
            .then(None)
            .when(inflow)
            .then(self.up_share * amount)
            .otherwise(-self.down_share * amount)
        )

    def stars(self, score: pl.Expr) -> pl.Expr:
        """1..5 stars (Int8)."""
        n = pl.lit(1, dtype=pl.Int8)
        for cut in self.star_cuts:
            n = n + (score >= cut).cast(pl.Int8)
        return pl.when(score.is_null()).then(None).otherwise(n)

    def direction(self, score: pl.Expr) -> pl.Expr:
        """The direction label of a score (see `direction_cuts`)."""
        a, b, c, d = self.direction_cuts
        return (
            pl.when(score.is_null())
            .then(None)
            .when(score >= d)
            .then(pl.lit(DIRECTIONS[4]))
            .when(score >= c)
            .then(pl.lit(DIRECTIONS[3]))
            .when(score > b)
            .then(pl.lit(DIRECTIONS[2]))
            .when(score > a)
            .then(pl.lit(DIRECTIONS[1]))
            .otherwise(pl.lit(DIRECTIONS[0]))
        )


def flow_columns() -> dict[str, str]:
    """What each column of :func:`etf_flows` is: ``observed``, ``exact`` or ``heuristic``.

    Examples
    --------
    >>> flow_columns()["flow_heuristic"]
    'heuristic'
    """
    return {
        "close": "observed",
        "amount": "observed",
        "volume": "observed",
        "change": "observed",
        "volume_ratio": "observed",
        "premium": "observed",
        "flow_exact": "exact",
        "flow_heuristic": "heuristic",
        "score_heuristic": "heuristic",
        "stars_heuristic": "heuristic",
        "direction_heuristic": "heuristic",
        "flow": "exact where flow_kind == 'exact', else heuristic",
        "flow_kind": "label",
    }


def market_source(market: Market) -> str:
    """One line naming the data a result ran on (synthetic preset parameters and seed, content
    hash; or the real source)."""
    meta = market.meta
    parts = [str(meta.get("source") or "user tables")]
    params = meta.get("params")
    if isinstance(params, Mapping):
        parts += [f"{k} {params[k]}" for k in ("n_assets", "start", "end", "seed") if k in params]
    if market.content_hash:
        parts.append(f"content hash {str(market.content_hash)[:16]}")
    return "; ".join(parts)


def etf_bars(market: Market) -> pl.LazyFrame:
    """A market's ETF bars in one shape: ``date, etf, sector, market, currency, close, volume,
    amount, nav, shares_outstanding`` (nav / shares null where the source has none).

    From the ``etfs`` table when the market has it (the synthetic market: NAV and shares
    outstanding; tables without ``market`` / ``currency`` are A-share, CNY), else from
    ``etf_prices`` (the real sample: bars only; ``sector`` from the reference table, else the
    code).

    Raises
    ------
    AbsentDataError
        Neither table is present.
    """
    if market.has("etfs"):
        lf = market.table("etfs")
        schema = lf.collect_schema()
        extra = [] if "market" in schema else [pl.lit("CN").alias("market")]
        if "currency" not in schema:
            extra.append(
                pl.col("market").replace_strict(MARKET_CURRENCY, default=None).alias("currency")
                if "market" in schema
                else pl.lit("CNY").alias("currency")
            )
        return _standard(lf.with_columns(extra))
    if market.has("etf_prices"):
        ref = sector_etfs().select("etf", pl.col("sector").alias("_ref_sector"))
        bars = market.table("etf_prices").join(ref.lazy(), on="etf", how="left")
        return _standard(
            bars.with_columns(
                pl.coalesce("_ref_sector", "etf").alias("sector"),
                pl.lit("CN").alias("market"),
                pl.lit("CNY").alias("currency"),
                pl.lit(None, dtype=pl.Float64).alias("nav"),
                pl.lit(None, dtype=pl.Float64).alias("shares_outstanding"),
            )
        )
    absent = market.meta.get("absent", {}) if isinstance(market.meta, Mapping) else {}
    why = f" ({absent['etfs']})" if isinstance(absent, Mapping) and "etfs" in absent else ""
    raise AbsentDataError(
        f"ETF flows need the `etfs` table (NAV, shares outstanding) or `etf_prices` (bars); this "
        f"market has neither{why}. Tables present: {', '.join(market.names) or 'none'}. Load "
        "ETF bars through factorlab.adapters (tushare fund_daily / fund_share, akshare "
        "fund_etf_hist_em) or use factorlab.synthetic_market()."
    )


def _as_bars(source: Any) -> pl.LazyFrame:
    if isinstance(source, Market):
        return etf_bars(source)
    lf = as_lazy(source, name="etfs")
    schema = lf.collect_schema()
    check_columns(schema, _BAR_COLUMNS, table="etfs")
    check_numeric(schema, [c for c in _NUMBERS if c in schema], table="etfs")
    fill = {
        "sector": pl.col("etf"),
        "market": pl.lit("CN"),
        "currency": pl.lit("CNY"),
        "nav": pl.lit(None, dtype=pl.Float64),
        "shares_outstanding": pl.lit(None, dtype=pl.Float64),
    }
    return _standard(
        lf.with_columns([expr.alias(c) for c, expr in fill.items() if c not in schema])
    )


def etf_flows(
    source: Any,
    *,
    etfs: Sequence[str] | None = None,
    rules: FlowRules | None = None,
) -> pl.DataFrame:
    """Daily flows of every ETF: the exact measure where shares outstanding and NAV are known,
    seed 003's heuristic always.

    Parameters
    ----------
    source
        A :class:`~factorlab.Market` (its ``etfs`` table, else ``etf_prices``) or a long frame
        with ``date, etf, close, volume, amount`` and optionally ``nav``,
        ``shares_outstanding``, ``sector``, ``market``, ``currency``.
    etfs
        Keep these ETF codes (any spelling); None for all.
    rules
        The heuristic's constants and label thresholds (:class:`FlowRules`; default: the
        seed's).

    Returns
    -------
    pl.DataFrame
        One row per (etf, date), sorted: ``date, etf, sector, market, currency`` then

        - observed: ``close``, ``volume``, ``amount`` (local currency), ``change`` (close /
          previous close - 1, a fraction), ``volume_ratio`` (see ``FlowRules.volume_window``),
          ``premium`` (close / NAV - 1; null without NAV);
        - exact: ``flow_exact`` = (shares_t - shares_{t-1}) x NAV_t, the net creation (+) or
          redemption (-) of day t in local currency; null on an ETF's first row and where
          shares outstanding or NAV are missing;
        - heuristic: ``flow_heuristic`` (+0.5 / -0.3 x amount), ``score_heuristic``,
          ``stars_heuristic`` (1..5), ``direction_heuristic`` (:data:`DIRECTIONS`);
        - ``flow`` = ``flow_exact`` where known, else ``flow_heuristic``, and ``flow_kind``
          (``"exact"`` / ``"heuristic"``) saying which.

    Nulls and NaN
    -------------
    An ETF's first row has no change, volume ratio or flows. A previous volume of 0 gives a
    null volume ratio (and a null heuristic). Rows of an ETF without NAV or shares fall back to
    the heuristic, labelled. Gaps (missing dates) are differenced across: the change and the
    creations since the previous row are the day's.

    Raises
    ------
    FactorLabError
        Missing columns, non-numeric values, or a close <= 0 (the errors of factorlab.frames);
        a malformed code in `etfs` (AssetCodeError); no rows left (ParameterError).

    Examples
    --------
    >>> import datetime as dt
    >>> bars = pl.DataFrame({"date": [dt.date(2024, 1, 2), dt.date(2024, 1, 3)],
    ...     "etf": "512480.SH", "close": [1.0, 1.025], "volume": [100.0, 145.0],
    ...     "amount": [100.0, 148.6], "nav": [1.0, 1.02], "shares_outstanding": [1e4, 1.1e4]})
    >>> etf_flows(bars).select(pl.col("change", "score_heuristic").round(4), "volume_ratio",
    ...     "flow_exact", "flow_heuristic", "direction_heuristic", "flow_kind").row(1)
    (0.025, 23.75, 1.45, 1020.0, 74.3, '强势流入', 'exact')
    """
    rules = rules or FlowRules()
    lf = _as_bars(source)
    if etfs is not None:
        codes = [normalize_etf_code(c) for c in etfs]
        lf = lf.filter(pl.col("etf").is_in(codes))
    check_positive(lf, ["close"], table="etfs", show=("date", "etf"))
    bars = lf.collect().sort("etf", "date")
    if bars.height == 0:
        raise ParameterError(
            "`etfs`: no ETF bars to compute flows from (none left after the `etfs` filter "
            f"{list(etfs) if etfs is not None else 'None'}); name ETFs the table holds."
        )
    by = "etf"
    prev_close = pl.col("close").shift(1).over(by)
    k = rules.volume_window
    prev_volume = (
        pl.col("volume").shift(1).over(by)
        if k == 1
        else pl.col("volume").shift(1).rolling_mean(k, min_samples=k).over(by)
    )
    change = pl.col("close") / prev_close - 1.0
    ratio = pl.when(prev_volume > 0).then(pl.col("volume") / prev_volume).otherwise(None)
    d_shares = pl.col("shares_outstanding") - pl.col("shares_outstanding").shift(1).over(by)
    out = bars.with_columns(
        change.alias("change"),
        ratio.alias("volume_ratio"),
        (pl.col("close") / pl.col("nav") - 1.0).alias("premium"),
        (d_shares * pl.col("nav")).alias("flow_exact"),
    ).with_columns(
        rules.flow(pl.col("change"), pl.col("volume_ratio"), pl.col("amount")).alias(
            "flow_heuristic"
        ),
        rules.score(pl.col("change"), pl.col("volume_ratio")).alias("score_heuristic"),
    )
    score = pl.col("score_heuristic")
    exact = pl.col("flow_exact").is_not_null()
    return out.with_columns(
        rules.stars(score).alias("stars_heuristic"),
        rules.direction(score).alias("direction_heuristic"),
        pl.coalesce("flow_exact", "flow_heuristic").alias("flow"),
        pl.when(exact)
        .then(pl.lit("exact"))
        .when(pl.col("flow_heuristic").is_not_null())
        .then(pl.lit("heuristic"))
        .otherwise(None)
        .alias("flow_kind"),
    )
