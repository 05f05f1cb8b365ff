"""Calibration report: the stylized facts of a market and of its northbound study, measured
against the handbook's published figures (seed 001) and the real market's (issue 12).

One function per fact returns tidy rows (fact, group, target, lo, hi, measured, unit, in_band,
source, note); :func:`calibrate` runs them all on one market and window. :func:`handbook_figures`
is the handbook's published table as data and :func:`beside_handbook` puts a study's numbers
next to it. See docs/calibration.md for each fact's definition, band and source.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
import polars as pl

from factorlab._display import Summary, wrap
from factorlab.calendar import TRADING_DAYS, rebalance_dates, to_date
from factorlab.errors import MarketError, ParameterError
from factorlab.evaluate.metrics import annual_volatility
from factorlab.frames import check_columns
from factorlab.grid import AssetGrid
from factorlab.market import Market
from factorlab.northbound.factors import NORTHBOUND_FACTORS
from factorlab.northbound.participants import ParticipantSplit, classify_participants
from factorlab.northbound.study import (
    DECAY_DATE,
    HANDBOOK_END,
    HANDBOOK_START,
    STUDY_POOLS,
    StudyResult,
    data_description,
    factor_study,
)
from factorlab.progress import reports_progress
from factorlab.typing import ProgressOption

__all__ = [
    "FACT_SCHEMA",
    "HANDBOOK_END",
    "HANDBOOK_START",
    "TURNOVER_BASIS",
    "Band",
    "Calibration",
    "beside_handbook",
    "calibrate",
    "coverage",
    "excess_sharpe",
    "factor_correlation",
    "handbook_figures",
    "leg_turnover",
    "market_facts",
    "minor_participants",
    "rank_ic",
    "short_leg_share",
    "tracking_error",
    "trading_money",
    "universe",
]

# HANDBOOK_START / HANDBOOK_END (seed 001 §1.5's window) and DECAY_DATE (the 2021 break) are
# the study's (factorlab.northbound.study), re-exported here.

STATIC = NORTHBOUND_FACTORS[:4]  # #1-#4
DYNAMIC = NORTHBOUND_FACTORS[4:11]  # #5-#11
SPECIAL = NORTHBOUND_FACTORS[11:13]  # #12, #13
#: Pairs whose correlation the handbook names as high (p.13): #10/#11 (and the static group).
EXEMPT_PAIRS = frozenset({frozenset(NORTHBOUND_FACTORS[9:11])})

#: Columns (and dtypes) of every fact function's rows.
FACT_SCHEMA: dict[str, pl.DataType] = {
    "fact": pl.String(),
    "group": pl.String(),
    "target": pl.String(),
    "lo": pl.Float64(),
    "hi": pl.Float64(),
    "measured": pl.Float64(),
    "unit": pl.String(),
    "in_band": pl.Boolean(),
    "source": pl.String(),
    "note": pl.String(),
}

_HB = "seed 001 (Everbright northbound factor handbook)"
_SPLIT = "seed 004 §1 (Everbright trading vs allocation money)"
_POOL_COLS = ("date", "asset", "pool")
_MONEY_UNITS = {"value_share": "%", "turnover_ratio": "x"}
_REAL = "factorlab real sample (../shared/realdata), measured by this function"

TurnoverBasis = Literal["names", "value"]
#: How :func:`leg_turnover` reads the handbook's 周度换手率 by default: by count of names
#: (docs/calibration.md, "Choices where the sources are vague").
TURNOVER_BASIS: TurnoverBasis = "names"
_TURNOVER_COLUMNS = dict(
    zip(get_args(TurnoverBasis), ("name_turnover_pct", "turnover_pct"), strict=True)
)


@dataclass(frozen=True)
class Band:
    """A target band ``lo <= x <= hi`` (None: open end), as the issue states it (``text``)."""

    lo: float | None
    hi: float | None
    text: str

    def contains(self, x: float | None) -> bool | None:
        """Whether `x` is in the band; None when `x` is missing or not finite."""
        if x is None or not math.isfinite(x):
            return None
        return (self.lo is None or x >= self.lo) and (self.hi is None or x <= self.hi)


#: The bands of issue 12, per fact and group. Percentages are in percent.
BANDS: dict[str, dict[str, Band]] = {
    "coverage": {
        "csi300": Band(97.0, 100.0, "97-100%"),
        "csi500": Band(45.0, 65.0, "45-65%"),
        "liq1500": Band(65.0, 85.0, "65-85%"),
    },
    "turnover": {"static": Band(2.0, 6.0, "2-6%/week"), "dynamic": Band(6.0, 20.0, "6-20%/week")},
    "tracking_error": {"all": Band(4.0, 10.0, "4-10%/yr")},
    "excess_sharpe": {"best": Band(None, 1.5, "<= 1.5"), "median": Band(None, 0.8, "<= 0.8")},
    "correlation": {"all": Band(50.0, 100.0, "mostly < 0.3 (>= 50% of pairs)")},
    "short_leg": {"all": Band(50.0, None, "short leg > half of L/S")},
    "rank_ic": {
        "static": Band(2.5, 4.5, "~3% (2.5-4.5)"),
        "dynamic": Band(1.0, 4.0, "1-4%"),
        "decay": Band(None, 0.5, "post/pre 2021 < 0.5"),
    },
    "trading_money": {
        "value_share": Band(14.0, 25.0, "14-25%"),
        "turnover_ratio": Band(10.0, None, ">= 10x"),
    },
    "minor": {
        "count_share": Band(15.0, 35.0, "about a quarter (15-35%)"),
        "excluded": Band(100.0, 100.0, "all excluded (100%)"),
    },
    # market bands: index vol from the issue; the others span the real sample's yearly values
    # 2017-2022 (CSI 800 members, measured by market_facts; see docs/calibration.md)
    "market": {
        "index_vol": Band(1.0, 1.8, "1.0-1.8%/day"),
        "dispersion": Band(1.7, 2.6, "1.7-2.6%/day"),
        "limit_up": Band(0.35, 1.15, "0.35-1.15% of days"),
        "limit_down": Band(0.1, 0.5, "0.10-0.50% of days"),
        "suspension": Band(0.1, 3.3, "0.1-3.3% of days"),
    },
    "universe": {
        "listed": Band(3500.0, None, ">= ~3,500 stocks"),
        "liq1500_share": Band(None, 43.0, "<= 43% (1,500 of >= 3,500)"),
    },
}


def _rows(
    fact: str,
    key: str,
    items: Sequence[tuple[str, str, float | None, str]],
    unit: str | dict[str, str],
    source: str,
) -> pl.DataFrame:
    """Rows of one fact: `items` = (band group, row group, measured, note); `unit` one for all
    rows or per band group."""
    out = []
    for band_key, group, value, note in items:
        band = BANDS[key][band_key]
        x = None if value is None or not math.isfinite(value) else float(value)
        if x is None and not note:
            note = "not measurable on this market"
        out.append(
            {
                "fact": fact,
                "group": group,
                "target": band.text,
                "lo": band.lo,
                "hi": band.hi,
                "measured": x,
                "unit": unit if isinstance(unit, str) else unit[band_key],
                "in_band": band.contains(x),
                "source": source,
                "note": note,
            }
        )
    return pl.DataFrame(out, schema=FACT_SCHEMA)


def _unmeasured(
    fact: str,
    key: str,
    groups: Sequence[tuple[str, str]],
    unit: str | dict[str, str],
    source: str,
    reason: str,
) -> pl.DataFrame:
    return _rows(fact, key, [(b, g, None, reason) for b, g in groups], unit, source)


def _check(market: Market, needs: dict[str, Sequence[str]], purpose: str) -> None:
    """The tables `needs` names are present with those columns (a clear error otherwise)."""
    market.require(*needs, purpose=purpose)
    for table, columns in needs.items():
        check_columns(market[table].collect_schema(), columns, table=table)


def _window(start: dt.date | str | None, end: dt.date | str | None) -> tuple[dt.date, dt.date]:
    lo = HANDBOOK_START if start is None else to_date(start, "start")
    hi = HANDBOOK_END if end is None else to_date(end, "end")
    if lo > hi:
        raise ParameterError(f"`start` ({lo}) must not be after `end` ({hi}).")
    return lo, hi


def _range(values: Sequence[float]) -> str:
    v = [x for x in values if x is not None and math.isfinite(x)]
    return f"range {min(v):.2f} .. {max(v):.2f}" if v else "no value"


# ---- facts of the market's tables ------------------------------------------------------------


def coverage(
    market: Market,
    *,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    pools: Sequence[str] = STUDY_POOLS,
    max_staleness_days: int = 7,
) -> pl.DataFrame:
    """Holdings coverage: the share of pool members with northbound holdings.

    On each weekly signal date d of [start, end] (the study's schedule, last session of the
    week), the holdings are the latest published ``northbound`` snapshot dated <= d (at most
    `max_staleness_days` calendar days old, else d has no data); a member is covered when it
    has a row with shares > 0 there. The share of members covered is averaged over the dates
    with data.

    This is not the study's ``coverage_pct``, which is *factor* coverage: the share of members
    with a factor value on d. The two differ by the members suspended on d that hold shares:
    covered here (HKEX lists their holdings), not covered in the study (a suspended stock has
    no row in the research panel, so no value, and cannot be traded). Per date, holdings
    coverage = the study's static-factor coverage + the share of members suspended with
    holdings; the calibration note gives the study's figure beside.
    """
    lo, hi = _window(start, end)
    _check(market, {"pools": _POOL_COLS, "northbound": ("date", "asset", "shares")}, "coverage()")
    groups = [(p, p) for p in pools if p in BANDS["coverage"]]
    signals = rebalance_dates(lo, hi, "weekly")
    snaps = (
        market.northbound.filter(pl.col("date") <= hi)
        .select(pl.col("date").unique().sort().alias("snapshot"))
        .collect()
    )
    if snaps.height == 0:
        return _unmeasured(
            "coverage",
            "coverage",
            groups,
            "%",
            _HB + " p.8/p.11 覆盖度",
            "no northbound snapshot in the window",
        )
    when = (
        pl.DataFrame({"date": signals})
        .join_asof(snaps, left_on="date", right_on="snapshot", strategy="backward")
        .filter(
            pl.col("snapshot").is_not_null()
            & ((pl.col("date") - pl.col("snapshot")).dt.total_days() <= max_staleness_days)
        )
    )
    members = (
        market.pools.filter(pl.col("pool").is_in(list(pools)))
        .select("date", "asset", "pool")
        .collect()
        .join(when, on="date")
    )
    held = (
        market.northbound.filter(pl.col("shares") > 0)
        .select(pl.col("date").alias("snapshot"), "asset", held=pl.lit(True))
        .join(when.lazy().select("snapshot").unique(), on="snapshot")
        .collect()
    )
    per_date = (
        members.join(held, on=["snapshot", "asset"], how="left")
        .group_by("pool", "date")
        .agg(pl.col("held").fill_null(False).mean().alias("covered"))
    )
    by_pool = dict(per_date.group_by("pool").agg(pl.col("covered").mean()).iter_rows())
    n_dates = dict(per_date.group_by("pool").len().iter_rows())
    items = []
    for band_key, pool in groups:
        value = by_pool.get(pool)
        note = (
            f"{n_dates.get(pool, 0)} weekly dates with data; holdings coverage: a member "
            "without a holding row is not covered, a suspended member with one is"
            if value is not None
            else f"pool `{pool}` has no member on a date with northbound data"
        )
        items.append((band_key, pool, None if value is None else 100 * value, note))
    return _rows("coverage", "coverage", items, "%", _HB + " p.8/p.11 覆盖度 (99.33/55.91/75.75)")


def _member_cells(
    market: Market, lo: dt.date, hi: dt.date, pool: str
) -> tuple[AssetGrid, np.ndarray, np.ndarray]:
    """The stock grid over [lo - 20 days, hi] and the (row, col) cells of `pool`'s members on
    the sessions of [lo, hi]."""
    prices = market.prices.filter(pl.col("date").is_between(lo - dt.timedelta(days=20), hi))
    assets = market.assets if market.has("assets") else None
    grid = AssetGrid.from_prices(prices, assets=assets)
    members = (
        market.pools.filter((pl.col("pool") == pool) & pl.col("date").is_between(lo, hi))
        .select("date", "asset")
        .collect()
    )
    cells = grid.index.cells(members)
    ok = cells.ok
    return grid, cells.rows[ok], cells.cols[ok]


def market_facts(
    market: Market,
    *,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    pool: str = "csi800",
    index: str = "csi300",
) -> pl.DataFrame:
    """Daily index volatility, cross-sectional dispersion, limit-up / limit-down and
    suspension frequencies over [start, end].

    - index vol: std of the daily close-to-close return of `index` (``indices``), in %;
    - dispersion: per session, the std (ddof 1) of the members' adjusted daily returns
      (close / previous session's close, both traded), median over sessions, in %;
    - limit-up / limit-down: share of traded member-days whose close is at the limit price
      (:attr:`~factorlab.grid.AssetGrid.limit_up`: 10%, 20% for ChiNext from 2020-08-24 and
      STAR, 5% ST), in %;
    - suspension: share of member-days without a price row between the stock's first and
      last price row of the window (a member without any price in the window is left out),
      in %.

    Members are those of `pool` (CSI 800 by default: the real sample's prices cover CSI
    300 / 500 members only, so both markets are measured on the same kind of stocks).
    """
    lo, hi = _window(start, end)
    fact = "market"
    groups = [(k, k) for k in ("index_vol", "dispersion", "limit_up", "limit_down", "suspension")]
    source = f"issue 12 (index vol); {_REAL} (the others)"
    items: dict[str, tuple[float | None, str]] = {}
    if market.has("indices"):
        _check(market, {"indices": ("date", "index", "close")}, "market_facts()")
        closes = (
            market.indices.filter((pl.col("index") == index) & pl.col("date").is_between(lo, hi))
            .sort("date")
            .select("close")
            .collect()["close"]
            .to_numpy()
        )
        vol = (
            annual_volatility(closes[1:] / closes[:-1] - 1, annualization=1) * 100
            if closes.size > 2
            else None
        )
        items["index_vol"] = (
            vol,
            f"`{index}` close-to-close, {closes.size} sessions"
            if vol is not None
            else f"fewer than 3 `{index}` rows in `indices` in the window",
        )
    else:
        items["index_vol"] = (None, "the market has no `indices` table")
    if market.has("pools"):
        _check(market, {"pools": _POOL_COLS}, "market_facts()")
    members = (
        market.pools.filter((pl.col("pool") == pool) & pl.col("date").is_between(lo, hi))
        .select(pl.len())
        .collect()
        .item()
        if market.has("pools")
        else 0
    )
    if market.has("prices") and members:
        grid, rows, cols = _member_cells(market, lo, hi, pool)
        close = grid.close
        prev = np.vstack([np.full((1, close.shape[1]), np.nan), close[:-1]])
        with np.errstate(invalid="ignore", divide="ignore"):
            ret = close / prev - 1.0
        traded = np.isfinite(close[rows, cols])
        r = ret[rows, cols]
        both = np.isfinite(r)
        disp = (
            pl.DataFrame({"row": rows[both], "r": r[both]})
            .group_by("row")
            .agg(pl.col("r").std(), pl.len())
            .filter(pl.col("len") >= 10)["r"]
        )
        items["dispersion"] = (
            100 * float(disp.median()) if disp.len() else None,
            f"`{pool}` members, {disp.len()} sessions with >= 10 returns",
        )
        eps = 1e-9
        up = close[rows, cols] >= grid.limit_up[rows, cols] * (1 - eps)
        down = close[rows, cols] <= grid.limit_down[rows, cols] * (1 + eps)
        n = int(traded.sum())
        note = f"{n:,} traded `{pool}` member-days"
        items["limit_up"] = (100 * up[traded].mean() if n else None, note)
        items["limit_down"] = (100 * down[traded].mean() if n else None, note)
        have = np.isfinite(close)
        t = np.arange(close.shape[0])[:, None]
        first = np.where(have, t, close.shape[0]).min(axis=0)
        last = np.where(have, t, -1).max(axis=0)
        inside = (rows >= first[cols]) & (rows <= last[cols])
        m = int(inside.sum())
        items["suspension"] = (
            100 * float((~traded[inside]).mean()) if m else None,
            f"{m:,} `{pool}` member-days within each stock's traded span",
        )
    else:
        why = (
            f"no `{pool}` member in the window"
            if market.has("prices") and market.has("pools")
            else "the market has no `prices` / `pools` table"
        )
        for k in ("dispersion", "limit_up", "limit_down", "suspension"):
            items[k] = (None, why)
    return _rows(fact, "market", [(b, g, *items[g]) for b, g in groups], "%", source)


def universe(
    market: Market,
    *,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    pool: str = "liq1500",
) -> pl.DataFrame:
    """Universe size: the mean number of stocks with a price row per session, and `pool`'s mean
    member count as a share of it (liq1500 should be the most liquid 1,500 of >= ~3,500)."""
    lo, hi = _window(start, end)
    _check(market, {"prices": ("date", "asset"), "pools": _POOL_COLS}, "universe()")
    listed = (
        market.prices.filter(pl.col("date").is_between(lo, hi))
        .group_by("date")
        .len()
        .select(pl.col("len").mean())
        .collect()
        .item()
    )
    size = (
        market.pools.filter((pl.col("pool") == pool) & pl.col("date").is_between(lo, hi))
        .group_by("date")
        .len()
        .select(pl.col("len").mean())
        .collect()
        .item()
    )
    share = None if not listed or size is None else 100 * size / listed
    return _rows(
        "universe",
        "universe",
        [
            ("listed", "listed", listed, "mean stocks with a price row per session"),
            (
                "liq1500_share",
                f"{pool} share",
                share,
                f"mean {pool} size {size:,.0f}" if size else f"no `{pool}` member in the window",
            ),
        ],
        {"listed": "stocks", "liq1500_share": "%"},
        "issue 12; real: ~2,800 (2017-01) -> ~4,800 (2023-01) listed A-shares (list dates "
        "of stock_basic 2026-01-30 in ../shared/realdata, survivors only)",
    )


# ---- facts of the study ----------------------------------------------------------------------


def _table_values(study: StudyResult, column: str, factors: Sequence[str], pool: str) -> list:
    t = study.table.filter(pl.col("pool") == pool, pl.col("factor").is_in(list(factors)))
    return [x for x in t[column].to_list() if x is not None and math.isfinite(x)]


def _median(values: Sequence[float]) -> float | None:
    return float(np.median(values)) if len(values) else None


def _check_basis(basis: object, name: str) -> None:
    """:class:`ParameterError` unless `basis` is a :data:`TurnoverBasis`."""
    if not isinstance(basis, str) or basis not in _TURNOVER_COLUMNS:
        raise ParameterError(f"`{name}` must be one of {sorted(_TURNOVER_COLUMNS)}; got {basis!r}.")


def leg_turnover(study: StudyResult, *, basis: TurnoverBasis = TURNOVER_BASIS) -> pl.DataFrame:
    """Weekly turnover of the top-20% leg: the median over the static factors (#1-#4) and over
    the dynamic ones (#5-#11), per pool.

    `basis` (seed 001 does not define its 周度换手率; docs/calibration.md): ``"names"``
    (default) reads the study's ``name_turnover_pct``, the share of the leg's names new since
    the rebalance before (alphalens' ``quantile_turnover``); ``"value"`` reads ``turnover_pct``,
    the backtester's (buys + sells) / 2 / NAV, which adds the trades that bring the drifted
    weights back to equal. Both leave out the first rebalance.

    Parameters
    ----------
    study:
        A :func:`~factorlab.northbound.factor_study` result on the calibration window.
    basis:
        ``"names"`` or ``"value"`` (:data:`TURNOVER_BASIS` by default).

    Returns
    -------
    polars.DataFrame
        The calibration's fact rows (:data:`FACT_SCHEMA`): one per pool and factor group.

    Raises
    ------
    ParameterError
        `basis` is not one of the two.
    """
    _check_basis(basis, "basis")
    column = _TURNOVER_COLUMNS[basis]
    items = []
    for pool in study.params.pools:
        for key, factors in (("static", STATIC), ("dynamic", DYNAMIC)):
            if column not in study.table.columns:
                items.append((key, f"{key} {pool}", None, f"the study table has no `{column}`"))
                continue
            v = _table_values(study, column, factors, pool)
            items.append((key, f"{key} {pool}", _median(v), f"median of `{column}`; {_range(v)}"))
    return _rows(
        "weekly turnover, top 20%",
        "turnover",
        items,
        "%",
        _HB + " p.8/p.11 周度换手率 (static 2.25-4.28, dynamic 8.21-14.18)",
    )


def tracking_error(study: StudyResult) -> pl.DataFrame:
    """Tracking error of the top-20% leg vs its pool benchmark: std(daily excess, ddof 1) x
    sqrt(252), median over the factors, per pool."""
    d = study.daily.filter(pl.col("excess").is_not_null())
    te = d.group_by("pool", "factor").agg(
        (pl.col("excess").std() * math.sqrt(TRADING_DAYS) * 100).alias("te")
    )
    items = []
    for pool in study.params.pools:
        v = [x for x in te.filter(pl.col("pool") == pool)["te"].to_list() if x is not None]
        items.append(("all", pool, _median(v), f"median over factors; {_range(v)}"))
    return _rows("tracking error, top 20%", "tracking_error", items, "%/yr", "issue 12")


def excess_sharpe(study: StudyResult) -> pl.DataFrame:
    """Long-excess Sharpe (top 20% minus the pool, gross): the best factor and the median
    factor, per pool (the study's ``long_excess_sharpe``)."""
    items = []
    for pool in study.params.pools:
        t = study.table.filter(pl.col("pool") == pool)
        v = [x for x in t["long_excess_sharpe"].to_list() if x is not None and math.isfinite(x)]
        best = max(v) if v else None
        who = (
            t.filter(pl.col("long_excess_sharpe") == best)["factor"][0] if best is not None else ""
        )
        items.append(("best", f"best {pool}", best, f"{who}" if who else ""))
        items.append(("median", f"median {pool}", _median(v), f"{len(v)} factors"))
    return _rows(
        "long-excess Sharpe, gross",
        "excess_sharpe",
        items,
        "",
        _HB + " p.8/p.11 夏普比率 (-0.15 .. 1.07)",
    )


def factor_correlation(study: StudyResult, *, threshold: float = 0.3) -> pl.DataFrame:
    """Share of factor pairs whose daily long-short returns correlate below `threshold`, among
    the non-static factors (#5-#14) without the pair the handbook names (#10/#11); the static
    group (#1-#4) is exempt as a whole (seed 001 p.13)."""
    names = [n for n in study.params.factors if n in NORTHBOUND_FACTORS[4:]]
    items = []
    for pool in study.params.pools:
        corr = study.correlation.get(pool)
        have = [n for n in names if corr is not None and n in corr.columns]
        pairs = []
        for i, a in enumerate(have):
            row = corr.filter(pl.col("factor") == a)
            for b in have[i + 1 :]:
                if frozenset((a, b)) in EXEMPT_PAIRS:
                    continue
                c = row[b][0] if row.height else None
                if c is not None and math.isfinite(c):
                    pairs.append((c, a, b))
        if not pairs:
            items.append(("all", pool, None, "fewer than two non-static factors with returns"))
            continue
        share = 100 * sum(c < threshold for c, _, _ in pairs) / len(pairs)
        top = max(pairs)
        note = (
            f"{len(pairs)} pairs, median {np.median([c for c, _, _ in pairs]):.2f}, highest "
            f"{top[1]}/{top[2]} {top[0]:.2f}; exempt: #1-#4 among themselves, #10/#11"
        )
        items.append(("all", pool, share, note))
    return _rows(
        f"L/S correlation < {threshold:g}, non-static",
        "correlation",
        items,
        "% of pairs",
        _HB + " p.13 因子相关性分析",
    )


def short_leg_share(study: StudyResult) -> pl.DataFrame:
    """Where the long-short return of the special-period factors (#12, #13) comes from: the
    short leg's share S / (L + S) of the mean daily long-short return, L = mean(long - bench),
    S = mean(bench - short) (additive: L + S = mean(long - short)), in %. Null (out of band)
    when L + S <= 0."""
    items = []
    for name in SPECIAL:
        for pool in study.params.pools:
            d = study.daily.filter(
                (pl.col("factor") == name) & (pl.col("pool") == pool)
            ).drop_nulls(["long", "short", "bench"])
            if d.height == 0:
                items.append(("all", f"{name} {pool}", None, "no daily returns"))
                continue
            long_ = float((d["long"] - d["bench"]).mean()) * TRADING_DAYS
            short = float((d["bench"] - d["short"]).mean()) * TRADING_DAYS
            total = long_ + short
            note = f"long leg {100 * long_:+.2f}%/yr, short leg {100 * short:+.2f}%/yr"
            if total <= 0:
                items.append(("all", f"{name} {pool}", None, note + "; L/S return not positive"))
            else:
                items.append(("all", f"{name} {pool}", 100 * short / total, note))
    rows = _rows(
        "special-period L/S from the short leg", "short_leg", items, "%", _HB + " §2.3 / p.12"
    )
    # a non-positive long-short return is a measured miss, not an unmeasurable fact
    return rows.with_columns(
        in_band=pl.when(pl.col("note").str.contains("not positive"))
        .then(False)
        .otherwise(pl.col("in_band"))
    )


def rank_ic(study: StudyResult, *, decay_date: dt.date = DECAY_DATE) -> pl.DataFrame:
    """Weekly rank IC (the study's per-date IC): the median over the static factors of their
    mean IC in CSI 300 and liq1500, the median over the dynamic factors (#5-#11) per pool, in
    %; and the decay: mean IC after `decay_date` / before it, all factors pooled, per pool."""
    ic = study.ic.filter(pl.col("ic").is_not_null() & pl.col("ic").is_finite())
    means = ic.group_by("pool", "factor").agg(pl.col("ic").mean())
    items = []
    for pool in study.params.pools:
        sub = means.filter(pl.col("pool") == pool)
        for key, factors in (("static", STATIC), ("dynamic", DYNAMIC)):
            if key == "static" and pool not in ("csi300", "liq1500"):
                continue
            v = sub.filter(pl.col("factor").is_in(list(factors)))["ic"].to_list()
            items.append(
                (
                    key,
                    f"{key} {pool}",
                    None if not v else 100 * _median(v),
                    f"median of factor means; {_range([100 * x for x in v])}",
                )
            )
        p = ic.filter(pl.col("pool") == pool)
        pre = p.filter(pl.col("date") < decay_date)["ic"].mean()
        post = p.filter(pl.col("date") >= decay_date)["ic"].mean()
        if pre is None or post is None or pre <= 0:
            items.append(
                (
                    "decay",
                    f"decay {pool}",
                    None,
                    f"needs a positive mean IC before and some IC after {decay_date}",
                )
            )
        else:
            items.append(
                (
                    "decay",
                    f"decay {pool}",
                    post / pre,
                    f"mean IC {100 * pre:.2f}% before, {100 * post:.2f}% after",
                )
            )
    return _rows(
        "weekly rank IC",
        "rank_ic",
        items,
        {"static": "%", "dynamic": "%", "decay": "ratio"},
        _HB + " §2.1 (>3%), p.11 (1.12-2.11), §2.2 (2.74/2.86/4.12; 2021 decay)",
    )


# ---- facts of the participant split ----------------------------------------------------------


def _with_kinds(split: ParticipantSplit, lo: dt.date, hi: dt.date) -> pl.DataFrame:
    """The split's daily rows in [lo, hi] with the kind in effect that day."""
    hist = split.history.select("participant", "effective_from", "kind").sort("effective_from")
    return (
        split.daily.filter(pl.col("date").is_between(lo, hi))
        .sort("date")
        .join_asof(
            hist,
            left_on="date",
            right_on="effective_from",
            by="participant",
            check_sortedness=False,  # both sides are sorted by date (checked by the sorts)
        )
        .filter(pl.col("kind").is_in(["trading", "allocation"]))
    )


def trading_money(
    split: ParticipantSplit,
    *,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
) -> pl.DataFrame:
    """Trading-type money: its share of the classified participants' holding value (per day,
    averaged over [start, end]), and the ratio of the trading type's mean daily turnover to
    the allocation type's (the monthly ratio is the same)."""
    lo, hi = _window(start, end)
    d = _with_kinds(split, lo, hi)
    share = (
        d.group_by("date")
        .agg(
            (
                pl.col("value").filter(pl.col("kind") == "trading").sum() / pl.col("value").sum()
            ).alias("share")
        )["share"]
        .mean()
    )
    turn = dict(
        d.filter(pl.col("turnover").is_not_null())
        .group_by("kind")
        .agg(pl.col("turnover").mean())
        .iter_rows()
    )
    ratio = (
        turn["trading"] / turn["allocation"]
        if turn.get("trading") is not None and turn.get("allocation")
        else None
    )
    days = d["date"].n_unique()
    items = [
        (
            "value_share",
            "value share",
            None if share is None else 100 * share,
            f"mean over {days} classified days",
        ),
        (
            "turnover_ratio",
            "turnover ratio",
            ratio,
            ""
            if ratio is None
            else f"mean daily turnover {100 * turn['trading']:.2f}% vs "
            f"{100 * turn['allocation']:.3f}%",
        ),
    ]
    return _rows(
        "trading-type money",
        "trading_money",
        items,
        _MONEY_UNITS,
        _SPLIT + " 表3 (14-25% by industry), §1.2 (9% vs 0.07% monthly)",
    )


def minor_participants(
    split: ParticipantSplit,
    *,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    min_value: float = 500_000.0,
    min_stocks: float = 6.0,
) -> pl.DataFrame:
    """Minor participants (average value < `min_value` and < `min_stocks` stocks over the
    look-back): their share by count at each re-classification of [start, end] (averaged),
    and the share of them the split labels ``minor`` (excluded from both types)."""
    lo, hi = _window(start, end)
    h = split.history.filter(pl.col("effective_from").is_between(lo, hi)).with_columns(
        rule=(pl.col("avg_value") < min_value) & (pl.col("avg_stocks") < min_stocks)
    )
    if h.height == 0:
        return _unmeasured(
            "minor participants",
            "minor",
            [("count_share", "count share"), ("excluded", "excluded")],
            "%",
            _SPLIT + " §1.1",
            "no re-classification in the window",
        )
    share = h.group_by("effective_from").agg(pl.col("rule").mean())["rule"].mean()
    minors = h.filter(pl.col("rule"))
    excluded = (minors["kind"] == "minor").mean() if minors.height else None
    items = [
        (
            "count_share",
            "count share",
            100 * share,
            f"{h['effective_from'].n_unique()} re-classifications",
        ),
        (
            "excluded",
            "excluded",
            None if excluded is None else 100 * excluded,
            f"{minors.height} minor rows" if minors.height else "no participant meets the rule",
        ),
    ]
    return _rows("minor participants", "minor", items, "%", _SPLIT + " §1.1 (剔除低影响力机构)")


# ---- the whole report ------------------------------------------------------------------------


@dataclass(frozen=True)
class Calibration:
    """Result of :func:`calibrate`. ``table``: one row per fact and group (:data:`FACT_SCHEMA`
    plus ``reference``: the real sample's value where it was measured). ``data``: what market
    it ran on (source, preset, seed, content hash). ``start`` / ``end``: the window."""

    table: pl.DataFrame
    data: dict[str, str]
    start: dt.date
    end: dt.date
    reference: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        """How many rows are in band, out of band, and not measured."""
        col = self.table["in_band"]
        return {
            "in band": int((col == True).sum()),  # noqa: E712 - a null-aware count
            "out of band": int((col == False).sum()),  # noqa: E712
            "not measured": int(col.is_null().sum()),
        }

    def _display(self) -> Summary:
        c = self.counts()
        shown = [f"{k} {v[:16] if k == 'content_hash' else v}" for k, v in self.data.items()]
        lines = wrap("data:", shown or ["not recorded"])
        lines.append(f"window: {self.start} .. {self.end}")
        if self.reference:
            lines += wrap("reference:", [f"{k} {v}" for k, v in self.reference.items()])
        lines.append(", ".join(f"{v} {k}" for k, v in c.items()))
        return Summary(
            f"Calibration: {self.table.height} facts",
            tuple(lines),
            self.table.select("fact", "group", "target", "measured", "in_band"),
            "stylized facts (target band, measured, in band)",
            html_rows=self.table.height,
        )

    def __repr__(self) -> str:
        return self._display().text()

    def _repr_html_(self) -> str:
        return self._display().html()


@reports_progress("calibration")
def calibrate(
    market: Market,
    *,
    start: dt.date | str | None = HANDBOOK_START,
    end: dt.date | str | None = HANDBOOK_END,
    reference: Market | None = None,
    cache: bool = True,
    turnover_basis: TurnoverBasis = TURNOVER_BASIS,
    progress: ProgressOption = None,
) -> Calibration:
    """Measure every stylized fact of issue 12 on `market` over [start, end].

    Runs :func:`~factorlab.northbound.factor_study` (cached) and the participant split on the
    window, then each fact function of this module. `reference` (e.g.
    :func:`~factorlab.datasets.real_sample`) is measured with the same market functions and
    shown in the ``reference`` column. A fact the market cannot give (no participant data, no
    indices) is a row with ``measured`` null, ``in_band`` null and the reason in ``note``.
    `turnover_basis`: how the leg turnover is counted, by names (default) or by traded value
    (see :func:`leg_turnover`).
    """
    t0 = time.perf_counter()
    _check_basis(turnover_basis, "turnover_basis")
    lo, hi = _window(start, end)
    say: Callable[[str], None] = progress  # type: ignore[assignment]
    market.require("prices", "pools", "northbound", "assets", purpose="calibrate()")
    parts = [coverage(market, start=lo, end=hi)]
    say("coverage")
    study = factor_study(market, start=lo, end=hi, cache=cache, progress=None)
    say("factor study")
    parts[0] = _with_study_coverage(parts[0], study)
    parts += [
        fn(study)
        for fn in (
            functools.partial(leg_turnover, basis=turnover_basis),
            tracking_error,
            excess_sharpe,
            factor_correlation,
            short_leg_share,
            rank_ic,
        )
    ]
    if market.has("participant_holdings"):
        try:
            split = classify_participants(market)
        except (ParameterError, MarketError) as exc:
            split, why = None, f"participant split failed: {exc}"
    else:
        split, why = None, "the market has no `participant_holdings` table"
    if split is not None:
        parts += [
            trading_money(split, start=lo, end=hi),
            minor_participants(split, start=lo, end=hi),
        ]
    else:
        parts += [
            _unmeasured(
                "trading-type money",
                "trading_money",
                [("value_share", "value share"), ("turnover_ratio", "turnover ratio")],
                _MONEY_UNITS,
                _SPLIT,
                why,
            ),
            _unmeasured(
                "minor participants",
                "minor",
                [("count_share", "count share"), ("excluded", "excluded")],
                "%",
                _SPLIT,
                why,
            ),
        ]
    say("participant split")
    parts += [market_facts(market, start=lo, end=hi), universe(market, start=lo, end=hi)]
    table = pl.concat(parts)
    ref_data: dict[str, str] = {}
    if reference is not None:
        ref = _reference_values(reference, lo, hi)
        table = table.join(ref, on=["fact", "group"], how="left")
        ref_data = data_description(reference)
        say("reference")
    else:
        table = table.with_columns(reference=pl.lit(None, pl.Float64))
    cols = [
        "fact",
        "group",
        "target",
        "measured",
        "reference",
        "in_band",
        "unit",
        "lo",
        "hi",
        "source",
        "note",
    ]
    return Calibration(
        table=table.select(cols),
        data=data_description(market),
        start=lo,
        end=hi,
        reference=ref_data,
        seconds=round(time.perf_counter() - t0, 3),
    )


def _with_study_coverage(rows: pl.DataFrame, study: StudyResult) -> pl.DataFrame:
    """The coverage rows with the study's own figure (its ``coverage_pct``, mean over the
    static factors) added to the note: factor coverage, lower than the holdings coverage of
    :func:`coverage` by the members suspended on a signal date with holdings."""
    theirs = (
        study.table.filter(pl.col("factor").is_in(list(STATIC)))
        .group_by("pool")
        .agg(pl.col("coverage_pct").mean().alias("study"))
    )
    return (
        rows.join(theirs, left_on="group", right_on="pool", how="left")
        .with_columns(
            note=pl.when(pl.col("study").is_not_null())
            .then(
                pl.format(
                    "{} (the study's coverage column: {}%, factor coverage: a member suspended "
                    "on a signal date has no value there)",
                    pl.col("note"),
                    pl.col("study").round(2),
                )
            )
            .otherwise(pl.col("note"))
        )
        .drop("study")
    )


def _reference_values(reference: Market, lo: dt.date, hi: dt.date) -> pl.DataFrame:
    """The market facts of `reference`, keyed by fact and group (not its universe: the real
    sample's prices cover CSI 300 / 500 members only)."""
    return market_facts(reference, start=lo, end=hi).select(
        "fact", "group", pl.col("measured").alias("reference")
    )


# ---- the handbook's published figures --------------------------------------------------------

_HB_METRICS = (
    "long_excess_ann",
    "long_excess_sharpe",
    "long_excess_mdd",
    "long_short_ann",
    "long_short_sharpe",
    "long_short_mdd",
    "coverage_pct",
    "rank_ic_mean_pct",
    "turnover_pct",
)
# seed 001 p.8 (static) and p.11 (dynamic) tables: excess ann %, Sharpe, max DD %, L/S ann %,
# L/S Sharpe, L/S max DD %, coverage %, weekly rank IC %, weekly turnover % (None: not given)
_HB_ROWS: tuple[tuple[int, str, tuple[float | None, ...]], ...] = (
    (1, "csi300", (7.53, 0.58, 6.00, 4.98, 0.17, 16.55, 99.33, None, 3.17)),
    (1, "csi500", (2.23, -0.15, 24.52, 4.74, 0.16, 10.47, 55.91, None, 2.25)),
    (1, "liq1500", (5.90, 0.23, 10.30, 5.70, 0.27, 17.34, 75.75, None, 4.09)),
    (2, "csi300", (5.44, 0.19, 14.53, 7.52, 0.62, 9.21, 99.33, None, 3.08)),
    (2, "csi500", (6.75, 0.45, 10.93, 5.36, 0.29, 12.76, 55.91, None, 2.31)),
    (2, "liq1500", (6.60, 0.36, 12.65, 6.73, 0.46, 17.47, 75.75, None, 4.28)),
    (5, "csi300", (5.61, 0.18, 11.02, 3.03, -0.20, None, 99.33, 1.12, 8.21)),
    (5, "csi500", (9.25, 0.92, 6.27, 3.25, -0.19, None, 54.11, 1.75, 8.70)),
    (5, "liq1500", (9.33, 0.69, 7.94, 5.47, 0.52, None, 64.90, 1.83, 9.22)),
    (10, "csi300", (11.97, 1.07, 7.07, 7.28, 0.63, None, 98.67, 2.11, 14.18)),
    # §2.2's text: trade amount ratio weekly rank IC 2.74% / 2.86% / 4.12%
    (11, "csi300", (None, None, None, None, None, None, None, 2.74, None)),
    (11, "csi500", (None, None, None, None, None, None, None, 2.86, None)),
    (11, "liq1500", (None, None, None, None, None, None, None, 4.12, None)),
)
#: Metrics the study stores as fractions (the handbook prints percent); drawdowns as losses.
_FRACTION = {"long_excess_ann", "long_short_ann"}
_DRAWDOWN = {"long_excess_mdd", "long_short_mdd"}


def handbook_figures() -> pl.DataFrame:
    """The handbook's published per-factor figures (seed 001 p.8, p.11 and §2.2's text) in the
    study table's units: returns as fractions (0.0753), drawdowns as negative fractions
    (-0.06), ``*_pct`` in percent, Sharpe ratios as is.

    Columns: factor, number (1-14), pool, metric (a column of the study's table), value, page.

    Examples
    --------
    >>> f = handbook_figures()
    >>> f.filter(pl.col("factor") == "nb_hold_value", pl.col("pool") == "csi500",
    ...          pl.col("metric") == "coverage_pct")["value"].item()
    55.91
    """
    rows = []
    for number, pool, values in _HB_ROWS:
        page = "p.8" if number <= 4 else ("§2.2" if number == 11 else "p.11")
        for metric, v in zip(_HB_METRICS, values, strict=True):
            if v is None:
                continue
            x = v / 100 if metric in _FRACTION else (-v / 100 if metric in _DRAWDOWN else v)
            rows.append((NORTHBOUND_FACTORS[number - 1], number, pool, metric, x, page))
    return pl.DataFrame(
        rows,
        schema={
            "factor": pl.String,
            "number": pl.Int64,
            "pool": pl.String,
            "metric": pl.String,
            "value": pl.Float64,
            "page": pl.String,
        },
        orient="row",
    )


def beside_handbook(study: StudyResult | pl.DataFrame) -> pl.DataFrame:
    """Each handbook figure beside the study's number for the same factor, pool and metric.

    Columns: factor, number, pool, metric, handbook, measured (null where the study lacks the
    factor or pool), page.
    """
    table = study if isinstance(study, pl.DataFrame) else study.table
    metrics = [m for m in _HB_METRICS if m in table.columns]
    ours = table.select("factor", "pool", *metrics).unpivot(
        index=["factor", "pool"], variable_name="metric", value_name="measured"
    )
    return (
        handbook_figures()
        .rename({"value": "handbook"})
        .join(ours, on=["factor", "pool", "metric"], how="left")
        .select("factor", "number", "pool", "metric", "handbook", "measured", "page")
    )
