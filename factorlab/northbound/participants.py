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

import polars as pl

from factorlab.calendar import sessions
from factorlab.errors import ParameterError
from factorlab.market import Market
from factorlab.northbound.hygiene import (
    DISCLOSURE_END,
    _bonus_events,
    _undo_record_date_jumps,
    _with_bonus_factor,
)

__all__ = [
    "ParticipantSplit",
    "classify_participants",
    "participant_changes",
    "participant_daily",
    "participant_flows",
]


@dataclass(frozen=True)
class ParticipantSplit:
    """Result of :func:`classify_participants`.

    ``history``: one row per (participant, effective_from): kind ("trading", "allocation" or
    "minor"), turnover (mean daily turnover over the lookback), avg_value, avg_stocks, rank_pct
    (0 = highest turnover). ``daily``: per participant and day: value, stocks, turnover.
    """

    history: pl.DataFrame
    daily: pl.DataFrame
    changes: pl.DataFrame  # dS per (date, asset, participant) with VWAP; reused by flows

    def kind_on(self, date_col: str = "date") -> pl.DataFrame:
        """The history as intervals: participant, kind, valid_from, valid_to (exclusive)."""
        return self.history.sort("participant", "effective_from").with_columns(
            valid_to=pl.col("effective_from").shift(-1).over("participant")
        )


def _participant_changes(market: Market, end: dt.date) -> pl.LazyFrame:
    """dS per (participant, asset, day) on one share basis, including entries and exits.

    Rows: date, asset, participant, shares (today's basis), d_shares; on A-share publication
    days up to `end` (HK-calendar repeat rows and post-2024 snapshots dropped).
    """
    ph = market.participant_holdings.filter(pl.col("date") <= end).collect()
    days = ph.select(pl.col("date").unique().sort())["date"]
    ashare = sessions("ashare", days.min(), days.max())
    days = days.filter(days.is_in(ashare.implode()))
    ph = ph.filter(pl.col("date").is_in(days.implode())).with_columns(
        pl.col("shares").cast(pl.Float64)
    )
    bonus = _bonus_events(market)
    ph, _ = _undo_record_date_jumps(ph, bonus)
    day_idx = pl.DataFrame({"date": days, "day": pl.int_range(len(days), eager=True)})
    ph = _with_bonus_factor(ph.join(day_idx, on="date"), bonus).with_columns(
        base=pl.col("shares") / pl.col("bonus_factor")
    )
    # sort once on integer keys (a hash of the pair, then the day): far cheaper than strings
    ph = ph.with_columns(pair=pl.struct("participant", "asset").hash(seed=0)).sort("pair", "day")
    same = pl.col("pair") == pl.col("pair").shift(1)
    same_next = pl.col("pair") == pl.col("pair").shift(-1)
    ph = ph.with_columns(
        prev_day=pl.when(same).then(pl.col("day").shift(1)),
        prev_base=pl.when(same).then(pl.col("base").shift(1)),
        next_day=pl.when(same_next).then(pl.col("day").shift(-1)),
    )
    present = ph.select(
        "participant",
        "asset",
        "day",
        "bonus_factor",
        shares=pl.col("base") * pl.col("bonus_factor"),
        d_shares=(
            pl.col("base")
            - pl.when(pl.col("day") == 0)
            .then(None)  # the first publication day has no previous day to difference against
            .when(pl.col("prev_day") == pl.col("day") - 1)
            .then(pl.col("prev_base"))
            .otherwise(0.0)
        )
        * pl.col("bonus_factor"),
    )
    last_day = len(days) - 1
    exits = (
        ph.filter(
            (pl.col("day") < last_day)
            & (pl.col("next_day").is_null() | (pl.col("next_day") != pl.col("day") + 1))
        )
        .select("participant", "asset", day=pl.col("day") + 1, prev_base=pl.col("base"))
        .join(day_idx, on="day")
    )
    exits = _with_bonus_factor(exits, bonus).select(
        "participant",
        "asset",
        "day",
        "bonus_factor",
        shares=pl.lit(0.0),
        d_shares=-pl.col("prev_base") * pl.col("bonus_factor"),
    )
    return (
        pl.concat([present, exits])
        .join(day_idx, on="day")
        .lazy()
        .select("date", "asset", "participant", "shares", "d_shares")
    )


def participant_changes(market: Market, *, end: dt.date | None = None) -> pl.DataFrame:
    """dS per (date, asset, participant) on one share basis, with close and VWAP joined."""
    market.require("participant_holdings", "prices", purpose="the participant split")
    px = market.prices.select(
        "date",
        "asset",
        "close",
        vwap=pl.when(pl.col("volume") > 0).then(pl.col("amount") / pl.col("volume")),
    )
    return (
        _participant_changes(market, end or DISCLOSURE_END)
        .join(px, on=["date", "asset"], how="left")
        .collect()
    )


def participant_daily(changes: pl.DataFrame) -> pl.DataFrame:
    """Per participant and publication day: holding value, stocks held, traded value, turnover.

    turnover_t = sum_i |dS_i,t| * VWAP_i,t / value_{t-1}; null when the previous value is 0.
    """
    return (
        changes.lazy()
        .group_by("participant", "date")
        .agg(
            value=(pl.col("shares") * pl.col("close")).sum(),
            stocks=(pl.col("shares") > 0).sum(),
            traded=(pl.col("d_shares").abs() * pl.col("vwap")).sum(),
        )
        .sort("participant", "date")
        .with_columns(prev_value=pl.col("value").shift(1).over("participant"))
        .with_columns(
            turnover=pl.when(pl.col("prev_value") > 0).then(pl.col("traded") / pl.col("prev_value"))
        )
        .drop("prev_value")
        .collect()
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
    changes: pl.DataFrame | None = None,
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
    hist = split.history.select("participant", "effective_from", "kind").sort("effective_from")
    changes = (
        split.changes.with_columns(flow=pl.col("d_shares") * pl.col("vwap"))
        .sort("date")
        .join_asof(
            hist,
            left_on="date",
            right_on="effective_from",
            by="participant",
            strategy="backward",
            check_sortedness=False,
        )
        .with_columns(pl.col("kind").replace("minor", None).fill_null("unclassified"))
    )
    keys = ["date"]
    if by == "industry":
        market.require("assets", purpose="participant_flows(by='industry')")
        changes = changes.join(market.assets.select("asset", "industry").collect(), on="asset")
        keys.append("industry")
    elif by == "asset":
        keys.append("asset")
    out = (
        changes.group_by(keys)
        .agg(
            flow_trading=pl.col("flow").filter(pl.col("kind") == "trading").sum(),
            flow_allocation=pl.col("flow").filter(pl.col("kind") == "allocation").sum(),
            flow_unclassified=pl.col("flow").filter(pl.col("kind") == "unclassified").sum(),
            flow_total=pl.col("flow").sum(),
        )
        .sort(keys)
    )
    return out
