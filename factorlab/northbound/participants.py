"""Trading vs allocation money (交易盘 / 配置盘): the participant split of the strategy report.

Per CCASS participant: daily turnover = sum over stocks |dS| * VWAP / the previous day's holding
value. Minor participants are dropped; the rest are ranked by turnover over the past half year:
the top 40% are trading money, the rest allocation money. Re-classified every May and November
with a buffer, using only data published before the re-classification date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from numba import njit

from factorlab.calendar import sessions
from factorlab.errors import ParameterError
from factorlab.market import Market
from factorlab.northbound.hygiene import DISCLOSURE_END, _bonus_events, bonus_grids, day_index

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
    close, vwap (of the stock that day; null if it did not trade).
    """

    frame: pl.DataFrame
    days: pl.Series
    assets: pl.Series
    participants: pl.Series


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


def _price_grids(
    market: Market, days: np.ndarray, assets: pl.Series
) -> tuple[np.ndarray, np.ndarray]:
    """Raw close and VWAP on (days x assets); NaN where the stock did not trade."""
    lo, hi = days[0].astype(dt.date), days[-1].astype(dt.date)
    px = (
        market.prices.filter(pl.col("date").is_between(lo, hi))
        .select(
            "date",
            aid=pl.col("asset").cast(pl.Enum(assets), strict=False).to_physical(),
            close="close",
            vwap=pl.when(pl.col("volume") > 0).then(pl.col("amount") / pl.col("volume")),
        )
        .drop_nulls("aid")
        .collect()
    )
    di = day_index(px["date"], days)
    ok = di >= 0
    ai = px["aid"].to_numpy().astype(np.int64)
    close = np.full((len(days), len(assets)), np.nan)
    vwap = np.full((len(days), len(assets)), np.nan)
    close[di[ok], ai[ok]] = px["close"].to_numpy()[ok]
    vwap[di[ok], ai[ok]] = px["vwap"].fill_null(np.nan).to_numpy()[ok]
    return close, vwap


@njit(cache=True, nogil=True)
def _diff_by_pair_nb(
    day: np.ndarray, key: np.ndarray, base: np.ndarray, n_keys: int
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """One pass over day-sorted rows: dS of each (participant, stock) pair against its row on
    the previous publication day (0 if absent: an entry), NaN on day 0; and the rows whose pair
    is absent the next day (exits: dS = -S on day + 1). No sort: a dense last-seen table."""
    n = len(day)
    last_day = np.full(n_keys, -1, dtype=np.int64)
    last_base = np.zeros(n_keys)
    d = np.empty(n)
    seen_on = np.full(n_keys, -1, dtype=np.int64)
    exits = np.empty(n, dtype=np.int64)
    n_exit = 0
    start = 0
    n_days = day[n - 1] + 1 if n else 0
    while start < n:
        stop = start
        today = day[start]
        while stop < n and day[stop] == today:
            stop += 1
        for r in range(start, stop):
            k = key[r]
            if today == 0:
                d[r] = np.nan
            elif last_day[k] == today - 1:
                d[r] = base[r] - last_base[k]
            else:
                d[r] = base[r]
            seen_on[k] = today
        # rows of the previous day whose pair is not here today exited today
        if start > 0:
            p = start - 1
            prev_day = day[p]
            while p >= 0 and day[p] == prev_day:
                if prev_day == today - 1 and seen_on[key[p]] != today:
                    exits[n_exit] = p
                    n_exit += 1
                p -= 1
        for r in range(start, stop):
            last_day[key[r]] = today
            last_base[key[r]] = base[r]
        start = stop
    _ = n_days
    return d, np.sort(exits[:n_exit])


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
    all_days = ph["date"].unique().sort()
    ashare = sessions("ashare", all_days.min(), all_days.max())
    days_s = all_days.filter(all_days.is_in(ashare.implode()))
    days = days_s.to_numpy().astype("datetime64[D]")
    assets = ph["asset"].unique().sort()
    parts = ph["participant"].unique().sort()
    ph = ph.select(
        "date",
        aid=pl.col("asset").cast(pl.Enum(assets)).to_physical(),
        pid=pl.col("participant").cast(pl.Enum(parts)).to_physical(),
        shares=pl.col("shares").cast(pl.Float64),
    )
    day = day_index(ph["date"], days)
    keep = day >= 0  # HK-calendar repeat rows (mainland holidays) are not A-share sessions
    day = day[keep]
    aid = ph["aid"].to_numpy().astype(np.int64)[keep]
    pid = ph["pid"].to_numpy().astype(np.int64)[keep]
    shares = ph["shares"].to_numpy()[keep]
    ex, pending = bonus_grids(_bonus_events(market), days, assets)
    base = shares.copy()
    touched = np.flatnonzero(((ex != 1.0) | (pending != 1.0)).any(axis=0)[aid])
    base[touched] /= pending[day[touched], aid[touched]] * ex[day[touched], aid[touched]]
    if len(day) > 1 and (np.diff(day) < 0).any():  # the stored table is date-sorted
        order = np.argsort(day, kind="stable")
        day, aid, pid, base = day[order], aid[order], pid[order], base[order]
    d_base, exit_rows = _diff_by_pair_nb(
        day, pid * len(assets) + aid, base, len(parts) * len(assets)
    )
    day_all = np.r_[day, day[exit_rows] + 1]
    aid_all = np.r_[aid, aid[exit_rows]]
    has_bonus = (ex != 1.0).any(axis=0)
    factor = np.ones(len(day_all))
    sel = np.flatnonzero(has_bonus[aid_all])
    factor[sel] = ex[day_all[sel], aid_all[sel]]
    close, vwap = _price_grids(market, days, assets)
    frame = pl.DataFrame(
        {
            "day": day_all.astype(np.int32),
            "aid": aid_all.astype(np.int32),
            "pid": np.r_[pid, pid[exit_rows]].astype(np.int32),
            "shares": np.r_[base, np.zeros(len(exit_rows))] * factor,
            "d_shares": np.r_[d_base, -base[exit_rows]] * factor,
            "close": close[day_all, aid_all],
            "vwap": vwap[day_all, aid_all],
        }
    ).with_columns(pl.col("d_shares", "close", "vwap").fill_nan(None))
    return ParticipantChanges(frame=frame, days=days_s, assets=assets, participants=parts)


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
