"""Trading vs allocation money (交易盘 / 配置盘): the participant split of the strategy report.

Per CCASS participant: daily turnover = sum over stocks |dS| * VWAP / the previous day's holding
value. Minor participants are dropped; the rest are ranked by turnover over the past half year:
the top 40% are trading money, the rest allocation money. Re-classified every May and November
with a buffer, using only data published before the re-classification date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from numba import njit

from factorlab.calendar import DISCLOSURE_END, sessions
from factorlab.errors import MarketError, ParameterError
from factorlab.frames import check_unique_keys, match_codes
from factorlab.grid import GridIndex, vwap
from factorlab.market import Market
from factorlab.northbound.hygiene import bonus_events, bonus_grids

__all__ = [
    "ParticipantChanges",
    "ParticipantSplit",
    "classify_participants",
    "participant_changes",
    "participant_daily",
    "participant_flows",
]


@dataclass(frozen=True)
class ParticipantChanges:
    """dS per (participant, stock, publication day), in integer ids for speed.

    ``frame`` columns: day, aid, pid (row numbers into ``days``, ``assets``,
    ``participants``), shares (today's basis), d_shares (one basis; null on the first day),
    close, vwap (of the stock that day, :func:`factorlab.grid.vwap`; null if it did not
    trade). ``report``: step, rows, detail, e.g. the holdings rows whose asset has no
    ``prices`` rows (kept, with null close and VWAP).
    """

    frame: pl.DataFrame
    days: pl.Series
    assets: pl.Series
    participants: pl.Series
    report: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(
            schema={"step": pl.String, "rows": pl.Int64, "detail": pl.String}
        )
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


def _price_grids(market: Market, index: GridIndex) -> tuple[np.ndarray, np.ndarray]:
    """Raw close and VWAP (:func:`factorlab.grid.vwap`) on `index`; NaN where the stock did not
    trade."""
    lo, hi = index.dates[0].astype(dt.date), index.dates[-1].astype(dt.date)
    px = (
        market.prices.filter(pl.col("date").is_between(lo, hi))
        .select("date", "asset", "close", "low", "high", "amount", "volume")
        .collect()
    )
    cells = index.cells(px)
    g = {name: index.scatter(cells, px[name].to_numpy()) for name in px.columns[2:]}
    return g["close"], vwap(g["amount"], g["volume"], g["close"], g["low"], g["high"])


def _unpriced_report(market: Market, holding_assets: pl.Series, days: pl.Series) -> pl.DataFrame:
    """The step report: holdings rows whose asset has no ``prices`` rows in the days' span."""
    lo_d, hi_d = days.min(), days.max()
    priced = (
        market.prices.filter(pl.col("date").is_between(lo_d, hi_d))
        .select(pl.col("asset").unique())
        .collect()["asset"]
    )
    codes = match_codes(holding_assets, priced, table="participant_holdings", against="prices")
    shown = ", ".join(codes.unmatched_codes)
    return pl.DataFrame(
        [
            {
                "step": "participant_holdings rows whose asset is not in prices (null close, vwap)",
                "rows": codes.unmatched_rows,
                "detail": f"{codes.n_unmatched_codes} code(s), e.g. {shown}"
                if codes.unmatched_rows
                else "all codes match",
            }
        ],
        schema={"step": pl.String, "rows": pl.Int64, "detail": pl.String},
    )


def participant_changes(market: Market, *, end: dt.date | None = None) -> ParticipantChanges:
    """dS per (participant, stock, publication day) on one share basis, entries and exits
    included, with the stock's close and VWAP.

    Publication days are the A-share sessions with rows up to `end` (default 2024-08-16): HK
    calendar repeat rows and post-2024 snapshots are dropped. Shares published between a record
    date and its ex-date are put on the ex-date basis, and differences are taken on the basis of
    the cumulative bonus factor, so a bonus issue is never trading. A holding that disappears is
    an exit (dS = -S on the next publication day). Integer ids and dense lookups keep this fast
    on tens of millions of rows.
    """
    market.require("participant_holdings", "prices", purpose="the participant split")
    end = end or DISCLOSURE_END
    ph = market.participant_holdings.filter(pl.col("date") <= end).collect()
    if ph.is_empty():
        raise MarketError(
            f"table `participant_holdings` has no rows on or before {end}: the participant split "
            "needs daily CCASS holdings."
        )
    all_days = ph["date"].unique().sort()
    ashare = sessions("ashare", all_days.min(), all_days.max())
    days_s = all_days.filter(all_days.is_in(ashare.implode()))
    days = days_s.to_numpy().astype("datetime64[D]")
    assets = ph["asset"].unique().sort()
    parts = ph["participant"].unique().sort()
    cols = ph.select(
        date=pl.col("date").cast(pl.Int32),
        aid=pl.col("asset").cast(pl.Enum(assets)).to_physical().cast(pl.Int32),
        pid=pl.col("participant").cast(pl.Enum(parts)).to_physical().cast(pl.Int32),
        shares=pl.col("shares").cast(pl.Float64),
    )
    report = _unpriced_report(market, ph["asset"], days_s)
    del ph
    date_num = cols["date"].to_numpy()
    if len(date_num) > 1 and (np.diff(date_num) < 0).any():  # the stored table is date-sorted
        cols = cols.sort("date", maintain_order=True)
        date_num = cols["date"].to_numpy()
    index = GridIndex(days, assets)
    lo, lut = index.day_lut  # type: ignore[misc]  # sessions: never too sparse for a table
    ex, pending = bonus_grids(bonus_events(market), index)
    close, vwap_grid = _price_grids(market, index)
    out = _changes_nb(
        date_num,
        cols["aid"].to_numpy(),
        cols["pid"].to_numpy(),
        cols["shares"].to_numpy(),
        lut,
        lo,
        ex,
        pending,
        (ex != 1.0).any(axis=0) | (pending != 1.0).any(axis=0),
        close,
        vwap_grid,
        len(parts) * len(assets),
        len(assets),
    )
    if out[-1] >= 0:  # the kernel met a (date, asset, participant) key twice: name them
        keyed = cols.select(
            date=pl.col("date").cast(pl.Date),
            asset=assets.gather(cols["aid"]),
            participant=parts.gather(cols["pid"]),
        )
        check_unique_keys(keyed, ["date", "asset", "participant"], table="participant_holdings")
    names = ("day", "aid", "pid", "shares", "d_shares", "close", "vwap")
    frame = pl.DataFrame(dict(zip(names, out[:-1], strict=True))).with_columns(
        pl.col("d_shares", "close", "vwap").fill_nan(None)
    )
    return ParticipantChanges(
        frame=frame, days=days_s, assets=assets, participants=parts, report=report
    )


@njit(cache=True, nogil=True)
def _changes_nb(
    date_num, aid, pid, shares, lut, lo, ex, pending, has_bonus, close, vwap, n_keys, n_assets
):  # pragma: no cover - compiled
    """The whole participant-change pipeline in two passes over the date-sorted rows, with no
    temporaries: session lookup (rows off the A-share calendar dropped), record-date basis,
    base shares (/ cumulative ex-date factor), dS against the pair's previous-day row (entries:
    from 0; day 0: NaN), exits (dS = -S the next day), close and VWAP lookups. The last output
    is the first row whose (day, participant, asset) key repeats an earlier row's, or -1."""
    n = len(date_num)
    day = np.empty(n, dtype=np.int32)
    base = np.empty(n)
    for r in range(n):
        x = date_num[r] - lo
        d = lut[x] if 0 <= x < len(lut) else -1
        day[r] = d
        a = aid[r]
        b = shares[r]
        if d >= 0 and has_bonus[a]:
            b = np.round(b / pending[d, a]) / ex[d, a]
        base[r] = b
    last_day = np.full(n_keys, -1, dtype=np.int32)
    last_base = np.zeros(n_keys)
    d_base = np.empty(n)
    is_exit = np.zeros(n, dtype=np.bool_)
    n_exit = 0
    first_dup = -1
    start = 0
    while start < n:
        today = day[start]
        stop = start
        while stop < n and date_num[stop] == date_num[start]:
            stop += 1
        if today >= 0:
            for r in range(start, stop):
                k = pid[r] * n_assets + aid[r]
                if today == 0:
                    d_base[r] = np.nan
                elif last_day[k] == today - 1:
                    d_base[r] = base[r] - last_base[k]
                else:
                    d_base[r] = base[r]
            for r in range(start, stop):
                k = pid[r] * n_assets + aid[r]
                if last_day[k] == today and first_dup < 0:
                    first_dup = r
                last_day[k] = today
                last_base[k] = base[r]
        start = stop
    # exits: a pair seen on day d and not on d + 1 (last_day after d+1's rows is still d)
    start = 0
    n_days = ex.shape[0]
    while start < n:
        today = day[start]
        stop = start
        while stop < n and date_num[stop] == date_num[start]:
            stop += 1
        if 0 <= today < n_days - 1:
            for r in range(start, stop):
                k = pid[r] * n_assets + aid[r]
                if last_day[k] == today:  # never seen again
                    is_exit[r] = True
                    n_exit += 1
        start = stop
    # rows whose pair reappears later but skips d + 1 are exits too: mark in a second sweep
    seen_next = np.full(n_keys, -1, dtype=np.int32)
    stop = n
    while stop > 0:
        start = stop - 1
        while start > 0 and date_num[start - 1] == date_num[stop - 1]:
            start -= 1
        today = day[start]
        if 0 <= today < n_days - 1:
            for r in range(start, stop):
                k = pid[r] * n_assets + aid[r]
                if seen_next[k] > today + 1 and not is_exit[r]:
                    is_exit[r] = True
                    n_exit += 1
        if today >= 0:
            for r in range(start, stop):
                seen_next[pid[r] * n_assets + aid[r]] = today
        stop = start
    m = 0
    for r in range(n):
        if day[r] >= 0:
            m += 1
    total = m + n_exit
    o_day = np.empty(total, dtype=np.int32)
    o_aid = np.empty(total, dtype=np.int32)
    o_pid = np.empty(total, dtype=np.int32)
    o_sh = np.empty(total)
    o_ds = np.empty(total)
    o_close = np.empty(total)
    o_vwap = np.empty(total)
    j = 0
    for r in range(n):
        d = day[r]
        if d < 0:
            continue
        a = aid[r]
        f = ex[d, a] if has_bonus[a] else 1.0
        o_day[j], o_aid[j], o_pid[j] = d, a, pid[r]
        o_sh[j] = base[r] * f
        o_ds[j] = d_base[r] * f
        o_close[j] = close[d, a]
        o_vwap[j] = vwap[d, a]
        j += 1
    for r in range(n):
        if not is_exit[r]:
            continue
        d = day[r] + 1
        a = aid[r]
        f = ex[d, a] if has_bonus[a] else 1.0
        o_day[j], o_aid[j], o_pid[j] = d, a, pid[r]
        o_sh[j] = 0.0
        o_ds[j] = -base[r] * f
        o_close[j] = close[d, a]
        o_vwap[j] = vwap[d, a]
        j += 1
    return o_day, o_aid, o_pid, o_sh, o_ds, o_close, o_vwap, first_dup


def participant_daily(changes: ParticipantChanges) -> pl.DataFrame:
    """Per participant and publication day: holding value, stocks held, traded value, turnover.

    turnover_t = sum_i |dS_i,t| * VWAP_i,t / value_{t-1}; null when the previous value is 0.
    """
    daily = (
        changes.frame.lazy()
        .group_by("pid", "day")
        .agg(
            value=(pl.col("shares") * pl.col("close")).sum(),
            stocks=(pl.col("shares") > 0).sum(),
            traded=(pl.col("d_shares").abs() * pl.col("vwap")).sum(),
        )
        .sort("pid", "day")
        .with_columns(prev_value=pl.col("value").shift(1).over("pid"))
        .with_columns(
            turnover=pl.when(pl.col("prev_value") > 0).then(pl.col("traded") / pl.col("prev_value"))
        )
        .collect()
    )
    return daily.select(
        participant=changes.participants.gather(daily["pid"]),
        date=changes.days.gather(daily["day"]),
        value="value",
        stocks="stocks",
        traded="traded",
        turnover="turnover",
    )


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
    f = ch.frame
    day = f["day"].to_numpy()
    aid = f["aid"].to_numpy()
    kind_code = _kind_grid(split.history, ch.days, ch.participants)[day, f["pid"].to_numpy()]
    flow = np.nan_to_num((f["d_shares"] * f["vwap"]).fill_null(0.0).to_numpy())
    n_d, n_a = len(ch.days), len(ch.assets)
    cell = day.astype(np.int64) * n_a + aid
    touched = np.bincount(cell, minlength=n_d * n_a) > 0
    sums = {
        name: np.bincount(cell, weights=np.where(kind_code == code, flow, 0.0), minlength=n_d * n_a)
        for code, name in enumerate(KIND_NAMES)
    }
    idx = np.flatnonzero(touched)
    out = pl.DataFrame(
        {
            "date": ch.days.gather(idx // n_a),
            "asset": ch.assets.gather(idx % n_a),
            "flow_trading": sums["trading"][idx],
            "flow_allocation": sums["allocation"][idx],
            "flow_unclassified": sums["unclassified"][idx],
        }
    ).with_columns(
        flow_total=pl.col("flow_trading") + pl.col("flow_allocation") + pl.col("flow_unclassified")
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
