"""Trading vs allocation money (交易盘 / 配置盘): the participant split of the strategy report.

Per CCASS participant: daily turnover = sum over stocks |dS| * VWAP / the previous day's holding
value. Minor participants are dropped; the rest are ranked by turnover over the past half year:
the top 40% are trading money, the rest allocation money. Re-classified every May and November
with a buffer, using only data published before the re-classification date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TypeAlias

import numpy as np
import polars as pl

from factorlab._kernels import first_rows_nb, participant_changes_nb, participant_walk_nb
from factorlab.calendar import sessions
from factorlab.errors import MAX_EXAMPLES, MarketError, NullKeyError, ParameterError
from factorlab.frames import check_unique_keys, match_codes
from factorlab.grid import GridIndex, vwap
from factorlab.market import Market
from factorlab.northbound.hygiene import (
    PRE_CREDIT_TOLERANCE,
    BonusChecks,
    bonus_grids,
    checked_events,
    disclosure_end,
    resolve_checks,
)

__all__ = [
    "ParticipantChanges",
    "ParticipantSplit",
    "PriceGrids",
    "classify_participants",
    "participant_changes",
    "participant_daily",
    "participant_flows",
]


@dataclass(frozen=True)
class _Rows:
    """The date-sorted holdings rows in integer ids (day numbers, asset and participant codes,
    shares) and the (days x assets) grids the kernels look up: what every pass over the rows
    reads (:mod:`factorlab._kernels.participants`)."""

    date_num: np.ndarray
    aid: np.ndarray
    pid: np.ndarray
    shares: np.ndarray
    lut: np.ndarray
    lo: int
    ex: np.ndarray
    pending: np.ndarray
    has_bonus: np.ndarray
    close: np.ndarray
    vwap: np.ndarray

    def args(self) -> tuple:
        return (
            self.date_num,
            self.aid,
            self.pid,
            self.shares,
            self.lut,
            self.lo,
            self.ex,
            self.pending,
            self.has_bonus,
            self.close,
            self.vwap,
        )


@dataclass(frozen=True)
class ParticipantChanges:
    """dS per (participant, stock, publication day), in integer ids for speed.

    ``frame`` columns: day, aid, pid (row numbers into ``days``, ``assets``,
    ``participants``), shares (today's basis), d_shares (one basis; null on the first day),
    close, vwap (of the stock that day, :func:`factorlab.grid.vwap`; null if it did not
    trade). ``report``: step, rows, detail, e.g. the holdings rows whose asset has no
    ``prices`` rows (kept, with null close and VWAP).

    The frame (tens of millions of rows on a full market) is built on first access only:
    :func:`participant_daily` and :func:`participant_flows` stream over the source rows
    instead (:mod:`factorlab._kernels.participants`), with the same values.
    """

    days: pl.Series
    assets: pl.Series
    participants: pl.Series
    report: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(
            schema={"step": pl.String, "rows": pl.Int64, "detail": pl.String}
        )
    )
    rows: _Rows | None = field(default=None, repr=False, compare=False)
    daily_grids: tuple[np.ndarray, ...] | None = field(default=None, repr=False, compare=False)

    @cached_property
    def frame(self) -> pl.DataFrame:
        """The change rows: every A-share-session row in source order, then the exits."""
        if self.rows is None:  # pragma: no cover - always set by participant_changes
            raise MarketError("these participant changes hold no rows.")
        n_parts = self.participants.len()
        out = participant_changes_nb(*self.rows.args(), n_parts * self.assets.len(), n_parts)
        names = ("day", "aid", "pid", "shares", "d_shares", "close", "vwap")
        return pl.DataFrame(dict(zip(names, out[:-1], strict=True))).with_columns(
            pl.col("d_shares", "close", "vwap").fill_nan(None)
        )


@dataclass(frozen=True)
class ParticipantSplit:
    """Result of :func:`classify_participants`.

    ``history``: one row per (participant, effective_from): kind ("trading", "allocation" or
    "minor"), turnover (mean daily turnover over the lookback), avg_value, avg_stocks, rank_pct
    (0 = highest turnover). ``daily``: per participant and day: value, stocks, turnover.
    ``changes``: the per-participant share changes (:class:`ParticipantChanges`), reused by
    :func:`participant_flows`.
    """

    history: pl.DataFrame
    daily: pl.DataFrame
    changes: ParticipantChanges


#: Raw close and VWAP grids already built on another index, e.g. by the hygiene, (index,
#: close, vwap), or a function returning them (or None: none available).
PriceGrids: TypeAlias = tuple[GridIndex, np.ndarray, np.ndarray]


def _price_grids(
    market: Market, index: GridIndex, given: Callable[[], PriceGrids | None] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Raw close and VWAP (:func:`factorlab.grid.vwap`) on `index`; NaN where the stock did not
    trade. `given`: grids of the same prices built on another index (every date of ``prices``
    between its first and last date, e.g. the research panel's); when its dates span
    `index`'s, they are placed on `index` (the same values as reading the prices again)."""
    got = given() if given is not None else None
    if got is not None:
        src, close, vwap_grid = got
        del got
        if len(src.dates) and src.dates[0] <= index.dates[0] and index.dates[-1] <= src.dates[-1]:
            return index.reindex(close, src), index.reindex(vwap_grid, src)
        del src, close, vwap_grid  # not usable: freed before the prices are read
    lo, hi = index.dates[0].astype(dt.date), index.dates[-1].astype(dt.date)
    px = (
        # only the holdings' assets: rows off the index would be ignored by the scatter
        market.prices.filter(
            pl.col("date").is_between(lo, hi) & pl.col("asset").is_in(index.assets.implode())
        )
        .select("date", "asset", "close", "low", "high", "amount", "volume")
        .collect()
    )
    cells = index.cells(px)
    # the VWAP on the rows, then two grids (elementwise: the same values as on five grids)
    col = {c: px[c].to_numpy() for c in px.columns[2:]}
    vw = vwap(col["amount"], col["volume"], col["close"], col["low"], col["high"])
    return index.scatter(cells, col["close"]), index.scatter(cells, vw)


def _sorted_codes(cols: pl.DataFrame, name: str) -> tuple[np.ndarray, pl.Series, np.ndarray]:
    """(int32 code of each row, the sorted unique values, rows per value) of the categorical
    column `name` of `cols` (dropped from `cols`): the codes of an Enum of the sorted values,
    from the column's physical codes (each value's string read once, at its first row)."""
    col = cols.drop_in_place(name)
    if col.null_count():
        raise NullKeyError(
            f"column `{name}` of table `participant_holdings` holds {col.null_count()} null(s); "
            "every holding needs its asset and participant. Drop or fill those rows.",
            table="participant_holdings",
            column=name,
        )
    phys = col.to_physical().to_numpy()
    first, count = first_rows_nb(phys, 0, int(phys.max()) + 1 if phys.size else 0)
    present = np.flatnonzero(first >= 0)
    values = col.gather(first[present]).cast(pl.String)
    order = values.arg_sort().to_numpy()
    rank = np.zeros(first.shape[0], dtype=np.int32)
    rank[present[order]] = np.arange(present.size, dtype=np.int32)
    return rank[phys], values.gather(order).alias(name), count[present[order]]


def _unpriced_report(
    market: Market, assets: pl.Series, rows_per_asset: np.ndarray, days: pl.Series
) -> pl.DataFrame:
    """The step report: holdings rows whose asset has no ``prices`` rows in the days' span
    (`assets`: the holdings' sorted unique codes, `rows_per_asset`: their row counts)."""
    lo_d, hi_d = days.min(), days.max()
    priced = (
        market.prices.filter(pl.col("date").is_between(lo_d, hi_d))
        .select(pl.col("asset").unique())
        .collect()["asset"]
    )
    hit = assets.is_in(priced.implode()).to_numpy()
    if not hit.any():  # none matches: match_codes names examples on both sides
        match_codes(assets, priced, table="participant_holdings", against="prices")
    missing = assets.filter(pl.Series(~hit))
    n_rows = int(rows_per_asset[~hit].sum())
    shown = ", ".join(missing.head(MAX_EXAMPLES).to_list())
    return pl.DataFrame(
        [
            {
                "step": "participant_holdings rows whose asset is not in prices (null close, vwap)",
                "rows": n_rows,
                "detail": f"{missing.len()} code(s), e.g. {shown}" if n_rows else "all codes match",
            }
        ],
        schema={"step": pl.String, "rows": pl.Int64, "detail": pl.String},
    )


def participant_changes(
    market: Market,
    *,
    end: dt.date | None = None,
    price_grids: Callable[[], PriceGrids | None] | None = None,
    pre_credit_tolerance: float = PRE_CREDIT_TOLERANCE,
    checks: BonusChecks | None = None,
) -> ParticipantChanges:
    """dS per (participant, stock, publication day) on one share basis, entries and exits
    included, with the stock's close and VWAP.

    Publication days are the A-share sessions with rows up to `end` (default: the market's last
    daily disclosure, :func:`~factorlab.northbound.hygiene.disclosure_end`: its generation
    parameter ``disclosure_change`` on a synthetic market, else HKEX's 2024-08-16): HK calendar
    repeat rows and the later quarterly snapshots are dropped. Shares published between a record
    date and its ex-date are put on the ex-date basis where the stock's published holdings were
    pre-credited (:func:`~factorlab.northbound.hygiene.pre_credited_events`, the research
    panel's check), and differences are taken on the basis of
    the cumulative bonus factor, so a bonus issue is never trading. A holding that disappears is
    an exit (dS = -S on the next publication day). Integer ids and dense lookups keep this fast
    on tens of millions of rows.

    `price_grids`: a function returning raw close and VWAP grids already built on another index
    (:data:`PriceGrids`, e.g. the research panel's: the study hands them over from the hygiene),
    or None; used when their dates span the holdings' days, else ``prices`` is read.

    `pre_credit_tolerance`: the record-date check's tolerance, as the research panel's
    (:func:`~factorlab.northbound.hygiene.bonus_checks`); `checks`: those checks already
    computed (a frame, or a function returning it: the study computes them once for the panel
    and the split).
    """
    market.require("participant_holdings", "prices", purpose="the participant split")
    end = end or disclosure_end(market)
    ph = market.participant_holdings.filter(pl.col("date") <= end)
    # one scan, the codes as categoricals (never held as strings: tens of millions of rows),
    # then numbered by the sorted unique values (the grid's order) with numpy
    cols = ph.select(
        date=pl.col("date").cast(pl.Int32),
        asset=pl.col("asset").cast(pl.String).cast(pl.Categorical),
        participant=pl.col("participant").cast(pl.String).cast(pl.Categorical),
        shares=pl.col("shares").cast(pl.Float64),
    ).collect()
    if cols.height == 0:
        raise MarketError(
            f"table `participant_holdings` has no rows on or before {end}: the participant split "
            "needs daily CCASS holdings."
        )
    if cols.height > 1 and not cols["date"].is_sorted():  # stored date-sorted
        cols = cols.sort("date", maintain_order=True)
    # the columns as numpy arrays (copies of the scan's chunks), each dropped from the frame
    # once converted: the rows are held once while the split runs
    aid, assets, rows_per_asset = _sorted_codes(cols, "asset")
    pid, parts, _ = _sorted_codes(cols, "participant")
    date_num, shares = (cols.drop_in_place(c).to_numpy() for c in ("date", "shares"))
    del cols
    lo_day = int(date_num.min())
    first_day, _ = first_rows_nb(date_num, lo_day, int(date_num.max()) - lo_day + 1)
    all_days = pl.Series(np.flatnonzero(first_day >= 0) + lo_day, dtype=pl.Int32).cast(pl.Date)
    ashare = sessions("ashare", all_days.min(), all_days.max())
    days_s = all_days.filter(all_days.is_in(ashare.implode())).alias("date")
    days = days_s.to_numpy().astype("datetime64[D]")
    report = _unpriced_report(market, assets, rows_per_asset, days_s)
    index = GridIndex(days, assets)
    lo, lut = index.day_lut  # type: ignore[misc]  # sessions: never too sparse for a table
    # the record-date correction only for the events the research panel corrects (the same
    # check, hygiene.bonus_checks): data HKEX did not pre-credit is left as published
    checked = resolve_checks(market, pre_credit_tolerance, checks)
    ex, _ = bonus_grids(checked_events(checked), index)
    _, pending = bonus_grids(checked_events(checked, credited=True), index)
    close, vwap_grid = _price_grids(market, index, price_grids)
    rows = _Rows(
        date_num=date_num,
        aid=aid,
        pid=pid,
        shares=shares,
        lut=lut,
        lo=lo,
        ex=ex,
        pending=pending,
        has_bonus=(ex != 1.0).any(axis=0) | (pending != 1.0).any(axis=0),
        close=close,
        vwap=vwap_grid,
    )
    # one pass: the per-participant daily aggregates, and the duplicate-key check
    n_d, n_p = len(days), parts.len()
    value, traded = np.zeros((n_d, n_p)), np.zeros((n_d, n_p))
    stocks, present = np.zeros((n_d, n_p), np.int64), np.zeros((n_d, n_p), np.bool_)
    first_dup = participant_walk_nb(
        *rows.args(),
        n_p,
        np.zeros((1, 1), np.int8),
        True,
        value,
        stocks,
        traded,
        present,
        np.zeros((1, 1, 1)),
        np.zeros((1, 1), np.bool_),
    )
    if first_dup >= 0:  # the kernel met a (date, asset, participant) key twice: name them
        keyed = pl.DataFrame(
            {
                "date": pl.Series(date_num).cast(pl.Date),
                "asset": assets.gather(aid),
                "participant": parts.gather(pid),
            }
        )
        check_unique_keys(keyed, ["date", "asset", "participant"], table="participant_holdings")
    return ParticipantChanges(
        days=days_s,
        assets=assets,
        participants=parts,
        report=report,
        rows=rows,
        daily_grids=(value, stocks, traded, present),
    )


def participant_daily(changes: ParticipantChanges) -> pl.DataFrame:
    """Per participant and publication day: holding value, stocks held, traded value, turnover.

    turnover_t = sum_i |dS_i,t| * VWAP_i,t / value_{t-1} (the participant's previous day with
    a change row); null when the previous value is 0. Rows: the (participant, day) pairs with
    at least one change row, sorted by participant and day.
    """
    if changes.daily_grids is None:  # pragma: no cover - always set by participant_changes
        raise MarketError("these participant changes hold no daily aggregates.")
    value, stocks, traded, present = changes.daily_grids
    pid, day = np.nonzero(present.T)  # sorted by (participant, day)
    v = value[day, pid]
    prev = np.full(v.shape, np.nan)
    same = np.flatnonzero(pid[1:] == pid[:-1]) + 1
    prev[same] = v[same - 1]
    ok = prev > 0
    turnover = np.full(v.shape, np.nan)
    tr = traded[day, pid]
    turnover[ok] = tr[ok] / prev[ok]
    return pl.DataFrame(
        {
            "participant": changes.participants.gather(pid),
            "date": changes.days.gather(day),
            "value": v,
            "stocks": pl.Series(stocks[day, pid], dtype=pl.UInt32),
            "traded": tr,
            "turnover": turnover,
        }
    ).with_columns(pl.col("turnover").fill_nan(None))


def classify_participants(
    market: Market,
    *,
    months: Sequence[int] = (5, 11),
    lookback_days: int = 126,
    min_history: int = 40,
    trading_share: float = 0.4,
    buffer: float = 0.1,
    min_value: float = 500_000.0,
    min_stocks: float = 6.0,
    changes: ParticipantChanges | None = None,
) -> ParticipantSplit:
    """Classify CCASS participants as trading or allocation money, every May and November.

    On the first A-share session of each month in `months` (the effective date), using the
    `lookback_days` publication days before it (never the effective day itself):

    - **minor**: average holding value < `min_value` (500k RMB) and fewer than `min_stocks` (6)
      stocks on average; excluded from the ranking.
    - the rest ranked by mean daily turnover, highest first; ``rank_pct`` = (rank - 1) / n.
    - **trading** if rank_pct < `trading_share` (top 40%), else **allocation**; with the
      `buffer` (10%), a participant keeps its previous kind unless it moves clearly past the
      cut: trading -> allocation only if rank_pct >= trading_share + buffer, allocation ->
      trading only if rank_pct < trading_share - buffer.

    The first classification happens at the first anchor with at least `min_history`
    publication days before it. `changes` (from :func:`participant_changes` or a previous
    split's ``.changes``) skips recomputing the per-participant share changes.
    """
    if not 0 < trading_share < 1:
        raise ParameterError(f"`trading_share` must be in (0, 1); got {trading_share}.")
    if not 0 <= buffer < min(trading_share, 1 - trading_share):
        raise ParameterError(
            f"`buffer` must be in [0, {min(trading_share, 1 - trading_share)}); got {buffer}."
        )
    if lookback_days < 1 or min_history < 1:
        raise ParameterError("`lookback_days` and `min_history` must be >= 1.")
    if changes is None:
        changes = participant_changes(market)
    daily = participant_daily(changes)
    days = daily["date"].unique().sort()
    anchors = _anchors(days, months)
    rows: list[pl.DataFrame] = []
    previous: dict[str, str] = {}
    for anchor in anchors:
        window_days = days.filter(days < anchor).tail(lookback_days)
        if len(window_days) < min_history:
            continue
        stats = (
            daily.filter(pl.col("date").is_in(window_days.implode()))
            .group_by("participant")
            .agg(
                turnover=pl.col("turnover").mean(),
                avg_value=pl.col("value").mean(),
                avg_stocks=pl.col("stocks").mean(),
            )
            .sort("participant")  # the ordinal rank breaks ties by row: make the row order fixed
            .with_columns(
                minor=(pl.col("avg_value") < min_value) & (pl.col("avg_stocks") < min_stocks)
            )
        )
        ranked = stats.filter(~pl.col("minor") & pl.col("turnover").is_not_null())
        n = ranked.height
        ranked = ranked.with_columns(
            rank_pct=(pl.col("turnover").rank("ordinal", descending=True) - 1) / max(n, 1)
        )
        kinds = []
        for pid, pct in zip(ranked["participant"], ranked["rank_pct"], strict=True):
            prev = previous.get(pid)
            if prev == "trading":
                kind = "allocation" if pct >= trading_share + buffer else "trading"
            elif prev == "allocation":
                kind = "trading" if pct < trading_share - buffer else "allocation"
            else:
                kind = "trading" if pct < trading_share else "allocation"
            kinds.append(kind)
            previous[pid] = kind
        ranked = ranked.with_columns(kind=pl.Series(kinds, dtype=pl.String))
        minors = stats.filter(pl.col("minor") | pl.col("turnover").is_null()).with_columns(
            rank_pct=pl.lit(None, dtype=pl.Float64), kind=pl.lit("minor")
        )
        rows.append(
            pl.concat([ranked, minors.select(ranked.columns)]).with_columns(
                effective_from=pl.lit(anchor)
            )
        )
    if not rows:
        raise ParameterError(
            f"no re-classification date has {min_history} publication days of participant "
            f"history before it (data {days.min()} .. {days.max()}); lower `min_history`."
        )
    history = (
        pl.concat(rows)
        .select(
            "participant",
            "effective_from",
            "kind",
            "turnover",
            "avg_value",
            "avg_stocks",
            "rank_pct",
        )
        .sort("effective_from", "participant")
    )
    return ParticipantSplit(history=history, daily=daily, changes=changes)


KIND_NAMES = ("unclassified", "trading", "allocation")


def _kind_grid(history: pl.DataFrame, days: pl.Series, participants: pl.Series) -> np.ndarray:
    """(days x participants) codes into KIND_NAMES of the kind in effect on each day (minor and
    before the first classification: unclassified)."""
    grid = np.zeros((len(days), len(participants)), dtype=np.int8)
    day_np = days.to_numpy().astype("datetime64[D]")
    h = history.filter(pl.col("participant").is_in(participants.implode())).sort("effective_from")
    code = {"trading": 1, "allocation": 2}
    for (eff,), part in h.group_by(["effective_from"], maintain_order=True):
        row = int(np.searchsorted(day_np, np.datetime64(eff)))
        pid = participants.search_sorted(part["participant"]).to_numpy()
        values = np.array([code.get(k, 0) for k in part["kind"].to_list()], dtype=np.int8)
        grid[row:, pid] = values
    return grid


def _anchors(days: pl.Series, months: Sequence[int]) -> list[dt.date]:
    if not months or any(m < 1 or m > 12 for m in months):
        raise ParameterError(f"`months` must be months 1..12; got {list(months)}.")
    ashare = sessions(
        "ashare", days.min(), min(days.max() + dt.timedelta(days=62), dt.date(2026, 12, 31))
    )
    frame = pl.DataFrame({"date": ashare}).with_columns(
        ym=pl.col("date").dt.strftime("%Y-%m"), m=pl.col("date").dt.month()
    )
    first = frame.filter(pl.col("m").is_in(list(months))).group_by("ym").agg(pl.col("date").min())
    return sorted(d for d in first["date"].to_list() if d <= days.max())


def participant_flows(
    market: Market, split: ParticipantSplit, *, by: str = "asset"
) -> pl.DataFrame:
    """Daily net flows (yuan, sum of dS * VWAP) by participant kind, per `by`.

    `by` = "asset" (one row per date x asset), "industry" (per CITIC industry) or "market". Kinds
    are those in effect on each date (effective_from <= date < next effective_from); days
    before the first classification and minor participants count as ``flow_unclassified``.
    Columns: date, [by], flow_trading, flow_allocation, flow_unclassified, flow_total.
    """
    if by not in ("asset", "industry", "market"):
        raise ParameterError(f"`by` must be 'asset', 'industry' or 'market'; got {by!r}.")
    ch = split.changes
    if ch.rows is None:  # pragma: no cover - always set by participant_changes
        raise MarketError("these participant changes hold no rows.")
    n_d, n_a = len(ch.days), len(ch.assets)
    sums = np.zeros((len(KIND_NAMES), n_d, n_a))
    touched = np.zeros((n_d, n_a), np.bool_)
    participant_walk_nb(
        *ch.rows.args(),
        ch.participants.len(),
        _kind_grid(split.history, ch.days, ch.participants),
        False,
        np.zeros((1, 1)),
        np.zeros((1, 1), np.int64),
        np.zeros((1, 1)),
        np.zeros((1, 1), np.bool_),
        sums,
        touched,
    )
    idx = np.flatnonzero(touched)
    out = pl.DataFrame(
        {
            "date": ch.days.gather(idx // n_a),
            "asset": ch.assets.gather(idx % n_a),
            **{f"flow_{name}": sums[code].ravel()[idx] for code, name in enumerate(KIND_NAMES)},
        }
    ).with_columns(
        flow_total=pl.col("flow_trading") + pl.col("flow_allocation") + pl.col("flow_unclassified")
    )
    out = out.select(
        "date", "asset", "flow_trading", "flow_allocation", "flow_unclassified", "flow_total"
    )
    if by == "asset":
        return out
    keys = ["date"]
    if by == "industry":
        market.require("assets", purpose="participant_flows(by='industry')")
        out = out.join(market.assets.select("asset", "industry").collect(), on="asset")
        keys.append("industry")
    cols = ["flow_trading", "flow_allocation", "flow_unclassified", "flow_total"]
    return out.group_by(keys).agg(pl.col(cols).sum()).sort(keys)
