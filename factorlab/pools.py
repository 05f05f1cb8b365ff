"""Point-in-time pools (the canonical ``pools`` table: ``date, asset, pool``) from user data.

Three sources, one table: index membership intervals (:func:`from_intervals`), constituent
snapshots such as tushare ``index_weight`` or akshare's CSI constituent frames
(:func:`from_snapshots`, :func:`from_index_weight`, :func:`from_akshare_constituents`), and the
handbook's liquidity pool from prices (:func:`liquidity`; its rule on dense arrays is
:func:`liquidity_members`, which the synthetic generator uses too). :func:`union` joins pools
(csi800 = csi300 | csi500).

Every builder returns a :class:`PoolBuild`: the ``pools`` rows and a ``dropped`` report (rows of
the input left out, by reason, with examples), also logged as a WARNING on the
``factorlab.pools`` logger. Rows are never dropped silently and a file is never refused for a
few odd rows (the real CSI 300 file carries seven 2005-2006 rows with the code ``T00018.SH``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import polars as pl

from factorlab._kernels.grid import nan_cumsum_count_rows_nb
from factorlab.codes import is_beijing_code, normalize_asset_codes
from factorlab.errors import MAX_EXAMPLES, ParameterError, SchemaError
from factorlab.frames import as_lazy

__all__ = [
    "LIQUIDITY_MIN_LISTED",
    "LIQUIDITY_SIZE",
    "LIQUIDITY_WINDOW",
    "PoolBuild",
    "Schedule",
    "from_akshare_constituents",
    "from_index_weight",
    "from_intervals",
    "from_snapshots",
    "liquidity",
    "liquidity_members",
    "review_sessions",
    "union",
]

logger = logging.getLogger("factorlab.pools")

#: The handbook's liquidity pool: this many stocks ...
LIQUIDITY_SIZE = 1500
#: ... with the highest mean daily traded amount over this many sessions ...
LIQUIDITY_WINDOW = 60
#: ... among stocks listed at least this many sessions (one trading year), not ST.
LIQUIDITY_MIN_LISTED = 252

Schedule = Literal["daily", "weekly", "monthly", "quarterly"]

_DROPPED_SCHEMA = {"reason": pl.String, "rows": pl.Int64, "examples": pl.String}


@dataclass(frozen=True)
class PoolBuild:
    """The result of a pool builder.

    Attributes
    ----------
    pools
        Canonical ``pools`` rows ``date, asset, pool`` (each (date, asset, pool) once).
    dropped
        One row per reason input rows were left out: ``reason, rows, examples``.
    source
        What the pools were built from (for reports).
    """

    pools: pl.DataFrame
    dropped: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=_DROPPED_SCHEMA))
    source: str = ""

    @property
    def n_dropped(self) -> int:
        """Input rows left out, all reasons together."""
        return int(self.dropped.get_column("rows").sum()) if self.dropped.height else 0

    def members_per_day(self) -> pl.DataFrame:
        """``pool, date, members``: how many names each pool has on each day."""
        return self.pools.group_by("pool", "date").len("members").sort("pool", "date")

    def __repr__(self) -> str:
        names = sorted(self.pools.get_column("pool").unique().to_list())
        return (
            f"PoolBuild({self.pools.height:,} rows, pools {names}, "
            f"{self.n_dropped} input row(s) dropped; source: {self.source or 'n/a'})"
        )


# ------------------------------------------------------------------------------------------------
# input helpers


def _frame(frame: Any, name: str) -> pl.DataFrame:
    lf = as_lazy(frame, name=name)
    return lf.collect()


def _require(df: pl.DataFrame, columns: Mapping[str, str], table: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        want = "; ".join(f"`{c}` ({columns[c]})" for c in missing)
        raise SchemaError(
            f"table `{table}` lacks column(s) {want}; it has {', '.join(df.columns) or '(none)'}."
            " Pass the column names as keywords (e.g. code='ts_code').",
            table=table,
            column=missing[0],
        )


def _dates(df: pl.DataFrame, column: str, table: str) -> pl.Series:
    s = df.get_column(column)
    if s.dtype == pl.Date:
        return s
    if isinstance(s.dtype, pl.Datetime):
        return s.dt.date()
    text = s.cast(pl.String).str.strip_chars().str.slice(0, 10).str.replace_all(r"[-/]", "")
    parsed = text.str.to_date("%Y%m%d", strict=False)
    bad = s.filter(parsed.is_null() & s.is_not_null())
    if bad.len():
        raise SchemaError(
            f"table `{table}` column `{column}` must hold dates ('20200102', '2020-01-02' or "
            f"date values); got {bad.len()} unparseable value(s), e.g. "
            f"{', '.join(repr(v) for v in bad.head(MAX_EXAMPLES).to_list())}.",
            table=table,
            column=column,
        )
    return parsed


def _codes(df: pl.DataFrame, column: str, source: str) -> tuple[pl.DataFrame, list[dict]]:
    """`df` with canonical `asset` codes; rows whose code is not an A-share code are left out
    and returned as report entries (reason, rows, examples)."""
    raw = df.get_column(column)
    if raw.dtype.is_integer():
        raw = raw.cast(pl.String).str.zfill(6)
    codes = normalize_asset_codes(raw.cast(pl.String), strict=False)
    bad = codes.is_null() & raw.is_not_null()
    null = raw.is_null()
    report: list[dict] = []
    if bool(null.any()):
        report.append({"reason": "null code", "rows": int(null.sum()), "examples": ""})
    if bool(bad.any()):
        bj = raw.filter(bad).to_frame("c").select(is_beijing_code("c")).to_series()
        rows = df.filter(bad).with_columns(bj.alias("_bj"))
        for is_bj, why in (
            (True, "Beijing Stock Exchange code (outside the A-share model)"),
            (False, "not a Shanghai / Shenzhen A-share code"),
        ):
            part = rows.filter(pl.col("_bj") == is_bj).drop("_bj")
            if part.height:
                report.append({"reason": why, "rows": part.height, "examples": _examples(part)})
    out = df.with_columns(codes.alias("asset")).filter(pl.col("asset").is_not_null())
    return out, report


def _examples(df: pl.DataFrame) -> str:
    def show(v: object) -> str:
        return v.isoformat() if isinstance(v, dt.date) else str(v)

    return "; ".join(
        "(" + ", ".join(f"{k}={show(v)}" for k, v in row.items()) + ")"
        for row in df.head(MAX_EXAMPLES).iter_rows(named=True)
    )


def _report(entries: list[dict], source: str, n_input: int) -> pl.DataFrame:
    for e in entries:
        logger.warning(
            "%s: dropped %d of %d row(s): %s%s",
            source,
            e["rows"],
            n_input,
            e["reason"],
            f", e.g. {e['examples']}" if e["examples"] else "",
        )
    return pl.DataFrame(entries, schema=_DROPPED_SCHEMA)


def _days(days: Any) -> pl.Series:
    s = days if isinstance(days, pl.Series) else pl.Series("date", list(days))
    if s.dtype != pl.Date:
        try:
            s = s.cast(pl.Date)
        except Exception:  # strings
            s = _dates(s.to_frame("date"), "date", "days")
    return s.unique().sort().alias("date")


# ------------------------------------------------------------------------------------------------
# membership intervals


def from_intervals(
    intervals: Any,
    pool: str,
    days: Any,
    *,
    code: str = "ts_code",
    start: str = "start_date",
    end: str = "end_date",
) -> PoolBuild:
    """Point-in-time pool rows from index membership intervals (inclusive start and end).

    Every session of `days` within an interval gives one ``(date, asset, pool)`` row; contiguous
    or overlapping intervals of the same stock give each day once; intervals outside `days`
    give nothing. Rows whose code is not a Shanghai / Shenzhen A-share code (e.g. ``T00018.SH``
    in old CSI 300 files, Beijing codes) are left out and counted in ``dropped`` by reason. An
    interval that ends before it starts raises :class:`~factorlab.errors.SchemaError`.

    Parameters
    ----------
    intervals
        A frame (pandas or Polars) with a code and inclusive start / end dates.
    pool
        The pool's name in the output (``"csi300"``).
    days
        The sessions to expand onto (a Series or sequence of dates), e.g.
        ``factorlab.calendar.sessions("ashare", start, end)``.
    code, start, end
        Column names.

    Examples
    --------
    >>> days = pl.Series([dt.date(2020, 1, d) for d in (2, 3, 6)])
    >>> iv = pl.DataFrame({"ts_code": ["600000.SH", "T00018.SH"],
    ...                    "start_date": ["2020-01-03", "2020-01-02"],
    ...                    "end_date": ["2020-01-31", "2020-01-31"]})
    >>> built = from_intervals(iv, "csi300", days)
    >>> built.pools["date"].to_list()
    [datetime.date(2020, 1, 3), datetime.date(2020, 1, 6)]
    >>> built.dropped.select("reason", "rows").row(0)
    ('not a Shanghai / Shenzhen A-share code', 1)
    """
    source = f"membership intervals ({pool})"
    df = _frame(intervals, "intervals")
    _require(
        df,
        {code: "asset code", start: "first day (inclusive)", end: "last day (inclusive)"},
        "intervals",
    )
    n_input = df.height
    df, report = _codes(df, code, source)
    iv = df.select(
        "asset", _dates(df, start, "intervals").alias("s"), _dates(df, end, "intervals").alias("e")
    )
    bad = iv.filter(pl.col("e") < pl.col("s"))
    if bad.height:
        raise SchemaError(
            f"table `intervals`: {bad.height} interval(s) end before they start, "
            f"e.g. {_examples(bad)}.",
            table="intervals",
            column=end,
        )
    open_end = iv.get_column("e").is_null()
    if bool(open_end.any()):  # an open interval: a current member
        iv = iv.with_columns(pl.col("e").fill_null(dt.date.max))
    day_s = _days(days)
    first = day_s.search_sorted(iv.get_column("s"), side="left")
    last = day_s.search_sorted(iv.get_column("e"), side="right")
    spans = (
        iv.select("asset")
        .with_columns(first.alias("i0"), last.alias("i1"))
        .filter(pl.col("i1") > pl.col("i0"))
    )
    merged = _merge_spans(spans).sort("asset", "i0")
    idx = merged.select("asset", pl.int_ranges("i0", "i1").alias("i")).explode("i")
    out = idx.select(
        day_s.gather(idx.get_column("i")).alias("date"), "asset", pl.lit(pool).alias("pool")
    )
    return PoolBuild(out, _report(report, source, n_input), source)


def _merge_spans(spans: pl.DataFrame) -> pl.DataFrame:
    """Merge overlapping or adjacent half-open index spans [i0, i1) per asset, so that expanding
    them yields every (asset, day) once without a costly unique()."""
    s = spans.sort("asset", "i0").with_columns(pl.col("i1").cum_max().over("asset").alias("_r"))
    new = (pl.col("i0") > pl.col("_r").shift(1).over("asset")).fill_null(True)
    return (
        s.with_columns(new.cum_sum().over("asset").alias("_g"))
        .group_by("asset", "_g")
        .agg(pl.col("i0").min(), pl.col("i1").max())
        .select("asset", "i0", "i1")
    )


# ------------------------------------------------------------------------------------------------
# constituent snapshots


def from_snapshots(
    snapshots: Any,
    days: Any,
    *,
    pool: str | None = None,
    date: str = "date",
    code: str = "asset",
    pool_col: str | None = "pool",
    stale_after: int | None = None,
) -> PoolBuild:
    """Point-in-time pool rows from constituent snapshots (a list of members as of a date).

    Each snapshot's members hold from its date (inclusive) to the next snapshot of the same
    pool (exclusive); the last snapshot holds to the end of `days`, or for `stale_after`
    sessions if given (a pool whose snapshots stop is not extended for ever). Sessions before a
    pool's first snapshot have no members. A snapshot date that is not a session takes effect on
    the next session. Codes that are not A-share codes are counted in ``dropped``.

    Parameters
    ----------
    snapshots
        Rows ``(date, code[, pool])``.
    days
        The sessions to expand onto.
    pool
        The pool's name when the frame holds one pool (no `pool_col`).
    date, code, pool_col
        Column names; `pool_col` None (or absent from the frame) uses `pool`.
    stale_after
        Sessions the last snapshot stays valid; None: to the end of `days`.

    Examples
    --------
    >>> days = pl.Series([dt.date(2020, 1, d) for d in (2, 3, 6, 7)])
    >>> snaps = pl.DataFrame({"date": ["20200102", "20200102", "20200106"],
    ...                       "asset": ["600000.SH", "000001.SZ", "600000.SH"]})
    >>> from_snapshots(snaps, days, pool="p").pools.group_by("date").len().sort("date")["len"]
    ... # doctest: +NORMALIZE_WHITESPACE
    shape: (4,)
    Series: 'len' [u32]
    [
        2
        2
        1
        1
    ]
    """
    df = _frame(snapshots, "snapshots")
    has_pool = pool_col is not None and pool_col in df.columns
    if not has_pool and pool is None:
        raise ParameterError(
            "`pool` is required when the snapshots have no pool column "
            f"(`{pool_col}`); pass pool='csi300'."
        )
    _require(df, {date: "snapshot date", code: "member code"}, "snapshots")
    source = f"constituent snapshots ({pool or 'by pool column'})"
    n_input = df.height
    df, report = _codes(df, code, source)
    snap = df.select(
        _dates(df, date, "snapshots").alias("snap"),
        "asset",
        (pl.col(pool_col).cast(pl.String) if has_pool else pl.lit(pool)).alias("pool"),
    ).unique()
    day_s = _days(days)
    n_days = day_s.len()
    dates = (
        snap.select("pool", "snap")
        .unique()
        .sort("pool", "snap")
        .with_columns(
            pl.Series(
                "i0",
                day_s.search_sorted(
                    snap.select("pool", "snap").unique().sort("pool", "snap")["snap"], side="left"
                ),
            )
        )
    )
    # a later snapshot that maps to the same session supersedes an earlier one
    dates = dates.filter(pl.col("i0") < n_days).unique(["pool", "i0"], keep="last")
    dates = dates.sort("pool", "i0").with_columns(
        pl.col("i0").shift(-1).over("pool").fill_null(n_days).alias("i1")
    )
    if stale_after is not None:
        if stale_after < 1:
            raise ParameterError(f"`stale_after` must be at least 1 session; got {stale_after}.")
        last = pl.col("i1") == n_days
        dates = dates.with_columns(
            pl.when(last)
            .then(pl.min_horizontal(pl.col("i0") + stale_after, n_days))
            .otherwise(pl.col("i1"))
            .alias("i1")
        )
    spans = (
        dates.join(snap, on=["pool", "snap"])
        .select("pool", "asset", pl.int_ranges("i0", "i1").alias("i"))
        .explode("i")
        .drop_nulls("i")
    )
    out = spans.select(day_s.gather(spans.get_column("i")).alias("date"), "asset", "pool")
    return PoolBuild(out.sort("pool", "date", "asset"), _report(report, source, n_input), source)


def from_index_weight(
    frame: Any,
    days: Any,
    *,
    names: Mapping[str, str] | None = None,
    stale_after: int | None = None,
) -> PoolBuild:
    """Pools from tushare ``index_weight`` frames (raw: ``index_code, con_code, trade_date,
    weight``) or the canonical ``index_weights`` table (``date, index, asset, weight``).

    tushare publishes the weights monthly; each date's constituents hold until the next date
    (see :func:`from_snapshots`). Index codes map to names by
    ``factorlab.adapters.tushare.INDEX_NAMES`` (000300.SH -> csi300) unless `names` is given.

    Examples
    --------
    >>> raw = pl.DataFrame({"index_code": ["000300.SH"] * 2, "con_code": ["600519.SH",
    ...     "000001.SZ"], "trade_date": ["20200102"] * 2, "weight": [5.1, 1.2]})
    >>> from_index_weight(raw, [dt.date(2020, 1, 2)]).pools.rows()
    [(datetime.date(2020, 1, 2), '000001.SZ', 'csi300'), (datetime.date(2020, 1, 2), '600519.SH', 'csi300')]
    """  # noqa: E501
    df = _frame(frame, "index_weight")
    if {"index_code", "con_code", "trade_date"} <= set(df.columns):
        date, code, index = "trade_date", "con_code", "index_code"
    else:
        _require(
            df,
            {"date": "snapshot date", "index": "index name", "asset": "member code"},
            "index_weights",
        )
        date, code, index = "date", "asset", "index"
    if names is None:
        from factorlab.adapters.tushare import INDEX_NAMES

        names = INDEX_NAMES
    df = df.with_columns(pl.col(index).cast(pl.String).replace(dict(names)).alias("_pool"))
    if "weight" in df.columns:  # a zero weight is not a member
        df = df.filter(pl.col("weight").cast(pl.Float64, strict=False).fill_null(1.0) > 0)
    return from_snapshots(df, days, date=date, code=code, pool_col="_pool", stale_after=stale_after)


#: akshare constituent frames: (date column, code column) by function.
_AKSHARE_COLUMNS = (
    ("日期", "成分券代码"),  # index_stock_cons_csindex / index_stock_cons_weight_csindex
)


def from_akshare_constituents(
    frame: Any,
    pool: str,
    days: Any,
    *,
    stale_after: int | None = None,
) -> PoolBuild:
    """Pools from akshare's CSI constituent frames, ``ak.index_stock_cons_csindex(symbol)`` or
    ``ak.index_stock_cons_weight_csindex(symbol)`` (columns ``日期``, ``成分券代码``, ...), one
    frame per snapshot or several concatenated.

    A single snapshot is point in time only from its date on; ``ak.index_stock_cons`` (with
    ``纳入日期``, inclusion dates of today's members only) is refused: it lists no past members,
    so pools from it would carry survivorship bias.

    Examples
    --------
    >>> raw = pl.DataFrame({"日期": ["2024-01-02"], "指数代码": ["000300"],
    ...                     "成分券代码": ["600519"], "交易所": ["上海证券交易所"]})
    >>> from_akshare_constituents(raw, "csi300", [dt.date(2024, 1, 2)]).pools.rows()
    [(datetime.date(2024, 1, 2), '600519.SH', 'csi300')]
    """
    df = _frame(frame, "akshare constituents")
    for date, code in _AKSHARE_COLUMNS:
        if {date, code} <= set(df.columns):
            df = df.with_columns(pl.col(code).cast(pl.String).str.zfill(6))
            return from_snapshots(
                df, days, pool=pool, date=date, code=code, pool_col=None, stale_after=stale_after
            )
    if "纳入日期" in df.columns:
        raise SchemaError(
            "table `akshare constituents` looks like ak.index_stock_cons (品种代码, 纳入日期): it "
            "lists today's members only, so pools from it are not point in time (survivorship "
            "bias). Use ak.index_stock_cons_csindex snapshots, tushare index_weight, or "
            "membership intervals (from_intervals).",
            table="akshare constituents",
            column="纳入日期",
        )
    _require(df, {"日期": "snapshot date", "成分券代码": "member code"}, "akshare constituents")
    raise AssertionError("unreachable")  # pragma: no cover


def union(builds: Sequence[PoolBuild | pl.DataFrame], name: str) -> PoolBuild:
    """One pool named `name` holding every (date, asset) of any input pool (csi800 = csi300 |
    csi500); reports are concatenated.

    Examples
    --------
    >>> a = pl.DataFrame({"date": [dt.date(2020, 1, 2)] * 2, "asset": ["600000.SH", "000001.SZ"],
    ...                   "pool": "csi300"})
    >>> b = a.with_columns(pool=pl.lit("csi500")).head(1)
    >>> union([a, b], "csi800").pools.height
    2
    """
    frames = [b.pools if isinstance(b, PoolBuild) else b for b in builds]
    dropped = [b.dropped for b in builds if isinstance(b, PoolBuild) and b.dropped.height]
    out = (
        pl.concat([f.select("date", "asset") for f in frames])
        .unique()
        .sort("date", "asset")
        .with_columns(pl.lit(name).alias("pool"))
    )
    report = pl.concat(dropped) if dropped else pl.DataFrame(schema=_DROPPED_SCHEMA)
    return PoolBuild(out, report, f"union of {len(frames)} pool(s)")


# ------------------------------------------------------------------------------------------------
# the liquidity pool


def review_sessions(days: Any, schedule: Schedule = "monthly") -> np.ndarray:
    """Indices into the sorted `days` of the sessions a pool is re-selected on: the first
    session of every day / week (ISO, Monday) / month / quarter, always including index 0.

    Examples
    --------
    >>> review_sessions([dt.date(2020, 1, 30), dt.date(2020, 1, 31), dt.date(2020, 2, 3)])
    array([0, 2])
    """
    d = _days(days)
    if schedule == "daily":
        return np.arange(d.len())
    period = {
        "weekly": d.dt.truncate("1w"),
        "monthly": d.dt.truncate("1mo"),
        "quarterly": d.dt.truncate("1q"),
    }.get(schedule)
    if period is None:
        raise ParameterError(
            f"`schedule` must be 'daily', 'weekly', 'monthly' or 'quarterly'; got {schedule!r}."
        )
    p = period.to_numpy()
    return np.asarray([0, *np.flatnonzero(p[1:] != p[:-1]) + 1], dtype=np.int64)


def rolling_mean_at(cum: np.ndarray, cnt: np.ndarray, t: int, window: int) -> np.ndarray:
    """Mean over rows (t - window, t] of a grid given its cumulative sums and counts."""
    lo = t - window
    s = cum[t] - (cum[lo] if lo >= 0 else 0.0)
    c = cnt[t] - (cnt[lo] if lo >= 0 else 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(c > 0, s / np.maximum(c, 1), np.nan)


def liquidity_members(
    amount: np.ndarray,
    *,
    listed: np.ndarray,
    is_st: np.ndarray,
    list_idx: np.ndarray,
    reviews: Sequence[int] | np.ndarray,
    size: int = LIQUIDITY_SIZE,
    window: int = LIQUIDITY_WINDOW,
    min_listed: int = LIQUIDITY_MIN_LISTED,
) -> np.ndarray:
    """The liquidity-pool rule on dense (session x asset) arrays; a boolean member grid.

    At each review session ``r`` (indices into the sessions, ascending): rank the stocks that
    are listed on ``r``, not ST on ``r - 1``, listed at least `min_listed` sessions by
    ``r - 1`` (or listed on or before session 0: their listing day is before the data) and
    traded at least once in the last `window` sessions, by their mean daily `amount` over
    sessions ``(r - 1 - window, r - 1]`` (days without trading do not count), highest first,
    ties broken by column order; the top `size` are members from ``r`` until the next review.
    A member leaves on a day it is ST or not listed. The ranking uses the previous session's
    data only, except at review 0 (no previous session), which ranks on session 0 itself.

    Parameters
    ----------
    amount
        Traded amount (yuan), NaN where the stock did not trade.
    listed, is_st
        Boolean grids of the same shape.
    list_idx
        Session index of each stock's listing (0: listed on or before the first session).
    reviews
        Review session indices (see :func:`review_sessions`).
    size, window, min_listed
        The rule's parameters (defaults: 1,500 stocks, 60 sessions, 252 sessions).

    Examples
    --------
    >>> amt = np.array([[1.0, 3.0, 2.0], [1.0, 3.0, 2.0], [9.0, 1.0, 2.0]])
    >>> ok = np.ones_like(amt, dtype=bool)
    >>> liquidity_members(amt, listed=ok, is_st=~ok, list_idx=np.zeros(3, int), reviews=[0, 2],
    ...                   size=2, window=2, min_listed=0).astype(int)
    array([[0, 1, 1],
           [0, 1, 1],
           [0, 1, 1]])
    """
    if size < 1 or window < 1 or min_listed < 0:
        raise ParameterError(
            f"`size` and `window` must be at least 1 and `min_listed` at least 0;"
            f" got size={size}, window={window}, min_listed={min_listed}."
        )
    n_t, n = amount.shape
    if amount.dtype == np.float64:  # one pass, the same sums
        cum, cnt = nan_cumsum_count_rows_nb(amount)
    else:
        cum = np.cumsum(np.nan_to_num(amount), axis=0)
        cnt = np.cumsum(~np.isnan(amount), axis=0)
    member = np.zeros((n_t, n), dtype=bool)
    reviews = [int(r) for r in reviews]
    for k, r in enumerate(reviews):
        end = reviews[k + 1] if k + 1 < len(reviews) else n_t
        t_rank = max(r - 1, 0)
        avg = rolling_mean_at(cum, cnt, t_rank, window)
        ok = ((t_rank - list_idx >= min_listed) | (list_idx == 0)) & listed[r]
        ok &= ~is_st[t_rank] & ~np.isnan(avg)
        order = np.argsort(-np.where(ok, avg, -np.inf), kind="stable")
        member[r:end, order[: min(size, int(ok.sum()))]] = True
    return member & ~is_st & listed


def liquidity(
    prices: Any,
    *,
    assets: Any | None = None,
    amount: str | pl.Expr = "amount",
    size: int = LIQUIDITY_SIZE,
    window: int = LIQUIDITY_WINDOW,
    min_listed: int = LIQUIDITY_MIN_LISTED,
    schedule: Schedule = "monthly",
    days: Any | None = None,
    pool: str = "liq1500",
) -> PoolBuild:
    """The handbook's liquidity pool from a ``prices`` table (rule: :func:`liquidity_members`).

    The top `size` stocks by mean daily traded amount over the last `window` sessions,
    excluding ST stocks and stocks listed fewer than `min_listed` sessions, re-selected on the
    first session of every `schedule` period from the previous session's data.

    Parameters
    ----------
    prices
        Rows ``date, asset`` and the amount column (yuan); ``is_st`` optional (False when
        absent; carried forward over days without a row). A missing row means not trading.
    assets
        Optional ``assets`` table: ``list_date`` (and ``delist_date``) give the listing; without
        it a stock is listed from its first to its last price row, and a stock whose first row
        is on the first session counts as listed before the data.
    amount
        The amount column or an expression, e.g. ``factorlab.adapters.amount_proxy()`` for a
        source without traded amount (ask for the proxy by name).
    size, window, min_listed, schedule
        The rule's parameters.
    days
        Sessions (default: every date in `prices`).
    pool
        The output pool name.

    Examples
    --------
    >>> p = pl.DataFrame({"date": [dt.date(2020, 1, d) for d in (2, 3, 2, 3)],
    ...                   "asset": ["600000.SH", "600000.SH", "000001.SZ", "000001.SZ"],
    ...                   "amount": [1.0, 1.0, 2.0, 2.0]})
    >>> liquidity(p, size=1, window=1, min_listed=0).pools.rows()
    [(datetime.date(2020, 1, 2), '000001.SZ', 'liq1500'), (datetime.date(2020, 1, 3), '000001.SZ', 'liq1500')]
    """  # noqa: E501
    amt_expr = pl.col(amount) if isinstance(amount, str) else amount
    lf = as_lazy(prices, name="prices")
    schema = lf.collect_schema()
    for c in ("date", "asset"):
        if c not in schema:
            raise SchemaError(f"table `prices` lacks column `{c}`.", table="prices", column=c)
    st = pl.col("is_st").fill_null(False) if "is_st" in schema else pl.lit(False)
    df = lf.select(
        pl.col("date").cast(pl.Date),
        pl.col("asset").cast(pl.String),
        amt_expr.cast(pl.Float64).fill_nan(None).alias("_amt"),
        st.alias("_st"),
    ).collect()
    if df.height == 0:
        raise SchemaError("table `prices` has no rows.", table="prices")
    day_s = _days(days) if days is not None else _days(df.get_column("date"))
    codes = df.get_column("asset").unique().sort()
    n_t, n = day_s.len(), codes.len()
    ti = day_s.search_sorted(df.get_column("date"), side="left").to_numpy()
    on = ti < n_t
    on[on] &= day_s.to_numpy()[ti[on]] == df.get_column("date").to_numpy()[on]
    df, ti = df.filter(pl.Series(on)), ti[on]
    ji = codes.search_sorted(df.get_column("asset")).to_numpy()
    amt = np.full((n_t, n), np.nan)
    amt[ti, ji] = df.get_column("_amt").fill_null(np.nan).to_numpy()
    st_grid = np.zeros((n_t, n), dtype=np.int8)  # 0 unknown, 1 not ST, 2 ST
    st_grid[ti, ji] = np.where(df.get_column("_st").to_numpy(), 2, 1)
    is_st = (
        pl.DataFrame(st_grid)
        .select(  # carry the last known flag over days without rows
            pl.all().replace(0, None).forward_fill().fill_null(1)
        )
        .to_numpy()
        == 2
    )
    t_idx = np.arange(n_t)[:, None]
    if assets is not None:
        a = _frame(assets, "assets")
        _require(a, {"asset": "code", "list_date": "listing date"}, "assets")
        a = codes.to_frame("asset").join(
            a.select(
                pl.col("asset").cast(pl.String),
                pl.col("list_date").cast(pl.Date),
                (
                    pl.col("delist_date").cast(pl.Date)
                    if "delist_date" in a.columns
                    else pl.lit(None, pl.Date)
                ).alias("delist_date"),
            ),
            on="asset",
            how="left",
        )
        first_row = df.group_by("asset").agg(pl.col("date").min().alias("f"))
        a = a.join(first_row, on="asset", how="left").with_columns(
            pl.coalesce("list_date", "f").alias("list_date")
        )
        list_idx = day_s.search_sorted(a.get_column("list_date"), side="left").to_numpy()
        delist = a.get_column("delist_date")
        end_idx = np.where(
            delist.is_null().to_numpy(),
            n_t,
            day_s.search_sorted(delist.fill_null(dt.date.max), side="left").to_numpy(),
        )
    else:
        seen = ~np.isnan(amt) | (st_grid > 0)
        list_idx = np.argmax(seen, axis=0)
        end_idx = n_t - np.argmax(seen[::-1], axis=0)
    listed = (t_idx >= list_idx[None, :]) & (t_idx < end_idx[None, :])
    member = liquidity_members(
        amt,
        listed=listed,
        is_st=is_st,
        list_idx=list_idx,
        reviews=review_sessions(day_s, schedule),
        size=size,
        window=window,
        min_listed=min_listed,
    )
    tt, jj = np.nonzero(member)
    out = pl.DataFrame(
        {
            "date": day_s.gather(tt),
            "asset": codes.gather(jj),
            "pool": pl.repeat(pool, len(tt), eager=True),
        }
    )
    source = (
        f"liquidity pool from prices: top {size} by mean amount over {window} sessions, "
        f"listed >= {min_listed} sessions, not ST, {schedule} reviews"
    )
    return PoolBuild(out.sort("date", "asset"), pl.DataFrame(schema=_DROPPED_SCHEMA), source)
