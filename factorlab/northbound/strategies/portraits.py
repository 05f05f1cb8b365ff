"""Participant portraits (seed 004 §1.2-1.3, §2.1): who trading and allocation money are, what
they hold, where they flow, and how much of the broad indices northbound capital covers.

Everything is read from the participant split of :mod:`factorlab.northbound.participants`
(never recomputed here) and from the published tables, at the dates they were published.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import polars as pl

from factorlab._display import Summary, data_line, join_names, sizes
from factorlab.errors import MarketError, ParameterError
from factorlab.market import Market
from factorlab.northbound.hygiene import bonus_events
from factorlab.northbound.participants import (
    ParticipantSplit,
    classify_participants,
    participant_flows,
)
from factorlab.northbound.study import data_description
from factorlab.progress import reports_progress
from factorlab.typing import ProgressOption

__all__ = [
    "PORTRAIT_INDICES",
    "PORTRAIT_KINDS",
    "PORTRAIT_TABLES",
    "PortraitParams",
    "Portraits",
    "portraits",
]

#: The indices of the coverage figures (seed 004 图13-18), by their ``pools`` / ``indices`` name.
PORTRAIT_INDICES = ("csi300", "csi500", "csi800")
#: The tables :func:`portraits` reads.
PORTRAIT_TABLES = (
    "participant_holdings",
    "participants",
    "prices",
    "assets",
    "pools",
    "indices",
    "northbound",
)
#: Participant kinds of the portraits: the two of the split, and all northbound participants.
PORTRAIT_KINDS = ("trading", "allocation", "all")

CapBasis = Literal["total", "float"]
FlowPeriod = Literal["month", "quarter"]


@dataclass(frozen=True)
class PortraitParams:
    """What defines one portrait run (part of the strategies' cache key)."""

    flow_index: str = "csi800"
    indices: tuple[str, ...] = PORTRAIT_INDICES
    cap: CapBasis = "total"
    flow_period: FlowPeriod = "quarter"


@dataclass(frozen=True)
class Portraits:
    """Result of :func:`portraits`; every frame is tidy (one row per key).

    - ``types`` (表1): per re-classification date (``effective_from``) and kind (trading,
      allocation): participants, the distribution of their mean daily turnover over the
      split's lookback (``turnover_p25`` / ``turnover_median`` / ``turnover_p75`` /
      ``turnover_mean``, fractions per day), ``value_mean`` / ``value_median`` (average
      holding value, yuan) and ``stocks_mean`` / ``stocks_median`` (average stocks held).
    - ``monthly`` (表2): per month and kind: participants, ``turnover_daily`` (median over
      participants of their mean daily turnover in the month), ``turnover_monthly`` (median of
      the month's traded value / the participant's mean holding value in the month),
      ``value_mean`` (mean holding value per participant), ``stocks_mean``, ``value_total``
      (the kind's holding value on the month's last publication day).
    - ``flows`` (图3-6, daily): date, flow_trading, flow_allocation, flow_unclassified,
      flow_total (yuan, :func:`participant_flows` by market), their running sums
      ``cum_trading`` / ``cum_allocation`` / ``cum_unclassified`` / ``cum_total``, and
      ``index_close`` (the `flow_index` level, null where it has none).
    - ``industry`` (表3, 图7-10): per month-end publication day, industry and kind (trading,
      allocation, all): ``value`` (holding value, yuan), ``weight`` (share of the kind's
      holding value), ``market_weight`` (the industry's share of the market's cap that day),
      ``overweight`` = weight - market_weight.
    - ``industry_flows`` (图11-12): per period (``period``: its first day) industry and kind:
      ``flow`` (net flow, yuan).
    - ``coverage`` (图14-18): per month-end publication day and index: ``members``, ``held``
      (members with northbound shares), ``held_share``, ``nb_value`` (northbound holding value
      of the members), ``index_cap`` (the members' cap), ``value_share`` = nb_value /
      index_cap, ``northbound_share`` = nb_value / the whole northbound holding value.
    - ``caps`` (图13): on the last month-end: group ("northbound held", "market" and each index),
      asset, cap (yuan), for the log-cap distributions.
    - ``notes``: step, rows, detail: rows left out and why.
    """

    types: pl.DataFrame
    monthly: pl.DataFrame
    flows: pl.DataFrame
    industry: pl.DataFrame
    industry_flows: pl.DataFrame
    coverage: pl.DataFrame
    caps: pl.DataFrame
    notes: pl.DataFrame
    params: PortraitParams = field(default_factory=PortraitParams)
    #: What data the portraits ran on (source, preset, seed, content hash, path).
    data: dict[str, str] = field(default_factory=dict)

    def industry_table(self, date: dt.date | str | None = None) -> pl.DataFrame:
        """表3 on one month-end (default: the last): one row per industry with value, weight and
        overweight of trading and allocation money side by side, and the market weight; sorted
        by the allocation weight, largest first."""
        ind = self.industry
        if ind.height == 0:
            return ind
        days = ind["date"].unique().sort()
        if date is None:
            day = days[-1]
        else:
            wanted = dt.date.fromisoformat(date) if isinstance(date, str) else date
            on_or_before = days.filter(days <= wanted)
            if on_or_before.len() == 0:
                raise ParameterError(
                    f"`date` {wanted} is before the first month-end of the portraits ({days[0]})."
                )
            day = on_or_before[-1]
        snap = ind.filter(pl.col("date") == day)
        wide = snap.pivot(
            on="kind", index=["industry", "market_weight"], values=["value", "weight", "overweight"]
        )
        order = [
            "industry",
            *(f"{v}_{k}" for k in PORTRAIT_KINDS for v in ("value", "weight", "overweight")),
            "market_weight",
        ]
        present = [c for c in order if c in wide.columns]
        sort_by = "weight_allocation" if "weight_allocation" in wide.columns else present[1]
        return wide.select(present).sort(sort_by, descending=True, nulls_last=True)

    def _display(self) -> Summary:
        p = self.params
        span = (
            f"{self.flows['date'].min()} .. {self.flows['date'].max()}" if self.flows.height else ""
        )
        lines = (
            data_line(self),  # the one rendering of what the data was
            f"flows against {p.flow_index}; coverage of {join_names(p.indices)}; {p.cap} cap; "
            f"{p.flow_period}ly industry flows",
            f"dates: {span}; "
            + sizes({n: getattr(self, n) for n in ("monthly", "industry", "coverage")}),
        )
        last = self.monthly.filter(pl.col("month") == self.monthly["month"].max())
        return Summary(
            "Portraits: trading vs allocation money",
            lines,
            last.select("month", "kind", "participants", "turnover_daily", "value_mean"),
            "last month (表2)",
        )

    def __repr__(self) -> str:
        return self._display().text()

    def _repr_html_(self) -> str:
        return self._display().html()


def _check(market: Market, params: PortraitParams) -> None:
    market.require(
        *PORTRAIT_TABLES,
        purpose="the participant portraits (daily CCASS holdings per participant, prices, "
        "industries, index members and levels, northbound holdings)",
    )
    if params.cap not in ("total", "float"):
        raise ParameterError(f"`cap` must be 'total' or 'float'; got {params.cap!r}.")
    if params.flow_period not in ("month", "quarter"):
        raise ParameterError(
            f"`flow_period` must be 'month' or 'quarter'; got {params.flow_period!r}."
        )
    levels = market.indices.select(pl.col("index").unique()).collect()["index"].to_list()
    if params.flow_index not in levels:
        raise MarketError(
            f"the portraits' flows are drawn against index `{params.flow_index}`, which table "
            f"`indices` lacks (it has {sorted(levels) or 'none'}); pass `flow_index=` one of "
            "those, or add its levels to `indices`."
        )
    if not params.indices:
        raise ParameterError("`indices` is empty; pass at least one index (e.g. 'csi300').")
    pools = market.pools.select(pl.col("pool").unique()).collect()["pool"].to_list()
    missing = [i for i in params.indices if i not in pools]
    if missing:
        raise MarketError(
            f"index coverage needs the point-in-time members of {missing}, which table `pools` "
            f"lacks (it has {sorted(pools) or 'none'}); pass `indices=` a subset of those."
        )


def _kinds(frame: pl.DataFrame, history: pl.DataFrame) -> pl.DataFrame:
    """`frame` (participant, date, ...) with the ``kind`` in effect on each date: the kind of
    the latest classification on or before it ("minor" too), "unclassified" before the first."""
    h = history.select("participant", pl.col("effective_from").alias("date"), "kind").sort("date")
    out = frame.sort("date").join_asof(
        h, on="date", by="participant", strategy="backward", check_sortedness=False
    )
    return out.with_columns(pl.col("kind").fill_null("unclassified"))


def _types(history: pl.DataFrame) -> pl.DataFrame:
    h = history.filter(pl.col("kind").is_in(["trading", "allocation"]))
    return (
        h.group_by("effective_from", "kind")
        .agg(
            participants=pl.len().cast(pl.Int64),
            turnover_p25=pl.col("turnover").quantile(0.25, "linear"),
            turnover_median=pl.col("turnover").median(),
            turnover_p75=pl.col("turnover").quantile(0.75, "linear"),
            turnover_mean=pl.col("turnover").mean(),
            value_mean=pl.col("avg_value").mean(),
            value_median=pl.col("avg_value").median(),
            stocks_mean=pl.col("avg_stocks").mean(),
            stocks_median=pl.col("avg_stocks").median(),
        )
        .sort("effective_from", "kind", descending=[False, True])
    )


def _monthly(daily: pl.DataFrame) -> pl.DataFrame:
    d = daily.filter(pl.col("kind").is_in(["trading", "allocation"])).with_columns(
        month=pl.col("date").dt.truncate("1mo")
    )
    per = d.group_by("month", "kind", "participant").agg(
        turnover_daily=pl.col("turnover").mean(),
        traded=pl.col("traded").sum(),
        value=pl.col("value").mean(),
        stocks=pl.col("stocks").cast(pl.Float64).mean(),
    )
    per = per.with_columns(
        turnover_monthly=pl.when(pl.col("value") > 0).then(pl.col("traded") / pl.col("value"))
    )
    last_day = d.group_by("month").agg(last=pl.col("date").max())
    totals = (
        d.join(last_day, on="month")
        .filter(pl.col("date") == pl.col("last"))
        .group_by("month", "kind")
        .agg(value_total=pl.col("value").sum())
    )
    return (
        per.group_by("month", "kind")
        .agg(
            participants=pl.len().cast(pl.Int64),
            turnover_daily=pl.col("turnover_daily").median(),
            turnover_monthly=pl.col("turnover_monthly").median(),
            value_mean=pl.col("value").mean(),
            stocks_mean=pl.col("stocks").mean(),
        )
        .join(totals, on=["month", "kind"], how="left")
        .with_columns(pl.col("value_total").fill_null(0.0))
        .sort("month", "kind", descending=[False, True])
    )


def _flows(market: Market, split: ParticipantSplit, index: str) -> pl.DataFrame:
    f = participant_flows(market, split, by="market").sort("date")
    level = (
        market.indices.filter(pl.col("index") == index)
        .select("date", index_close=pl.col("close"))
        .collect()
    )
    kinds = ("trading", "allocation", "unclassified", "total")
    return f.with_columns(**{f"cum_{k}": pl.col(f"flow_{k}").cum_sum() for k in kinds}).join(
        level, on="date", how="left", maintain_order="left"
    )


def _month_ends(days: pl.Series) -> list[dt.date]:
    """The last publication day of each month."""
    frame = pl.DataFrame({"date": days}).with_columns(m=pl.col("date").dt.truncate("1mo"))
    return frame.group_by("m").agg(pl.col("date").max())["date"].sort().to_list()


def _caps(market: Market, days: list[dt.date], cap: CapBasis) -> pl.DataFrame:
    """Per snapshot day and listed stock: industry, the last close on or before the day (a
    suspended stock keeps its last close), and its cap (close x total or float shares)."""
    shares = "total_shares" if cap == "total" else "float_shares"
    assets = market.assets.select("asset", "industry", "list_date", "delist_date").collect()
    keys = (
        pl.DataFrame({"date": days})
        .join(assets, how="cross")
        .filter(
            (pl.col("list_date") <= pl.col("date"))
            & (pl.col("delist_date").is_null() | (pl.col("date") < pl.col("delist_date")))
        )
        .select("date", "asset", "industry")
        .sort("date")
    )
    lo, hi = min(days) - dt.timedelta(days=40), max(days)
    px = (
        market.prices.filter(pl.col("date").is_between(lo, hi))
        .select("date", "asset", "close", pl.col(shares).alias("shares_out"))
        .collect()
        .sort("date")
    )
    out = keys.join_asof(px, on="date", by="asset", strategy="backward", check_sortedness=False)
    return out.with_columns(cap=pl.col("close") * pl.col("shares_out")).drop("shares_out")


def _pending(rows: pl.DataFrame, market: Market) -> pl.DataFrame:
    """`rows` (date, asset, shares, ...) with shares published between a bonus issue's record
    date and its ex-date put back on the price basis (divided by 1 + bonus): HKSCC credits the
    bonus shares on the record date, prices adjust on the ex-date."""
    events = bonus_events(market)
    if events.is_empty():
        return rows
    keys = rows.select("date", "asset").unique()
    hits = (
        keys.join(events.select("asset", "record_date", "ex_date", "bonus_ratio"), on="asset")
        .filter((pl.col("record_date") <= pl.col("date")) & (pl.col("date") < pl.col("ex_date")))
        .group_by("date", "asset")
        .agg(factor=(1.0 + pl.col("bonus_ratio")).product())
    )
    return (
        rows.join(hits, on=["date", "asset"], how="left")
        .with_columns(shares=pl.col("shares") / pl.col("factor").fill_null(1.0))
        .drop("factor")
    )


def _industry(
    market: Market, split: ParticipantSplit, snap: pl.DataFrame, days: list[dt.date]
) -> tuple[pl.DataFrame, dict]:
    rows = (
        market.participant_holdings.filter(pl.col("date").is_in(days))
        .select("date", "asset", "participant", pl.col("shares").cast(pl.Float64))
        .collect()
    )
    rows = _pending(rows, market)
    rows = _kinds(rows, split.history)
    valued = rows.join(snap.select("date", "asset", "industry", "close"), on=["date", "asset"])
    unpriced = rows.height - valued.filter(pl.col("close").is_not_null()).height
    valued = valued.filter(pl.col("close").is_not_null()).with_columns(
        value=pl.col("shares") * pl.col("close")
    )
    by_kind = valued.filter(pl.col("kind").is_in(["trading", "allocation"]))
    held = pl.concat(
        [
            by_kind.group_by("date", "industry", "kind").agg(pl.col("value").sum()),
            valued.group_by("date", "industry")
            .agg(pl.col("value").sum())
            .with_columns(kind=pl.lit("all"))
            .select("date", "industry", "kind", "value"),
        ]
    )
    market_w = (
        snap.filter(pl.col("cap").is_not_null())
        .group_by("date", "industry")
        .agg(pl.col("cap").sum())
        .with_columns(market_weight=pl.col("cap") / pl.col("cap").sum().over("date"))
        .drop("cap")
    )
    # every (industry, kind) of a day: an industry the kind does not hold has value 0
    grid = (
        market_w.select("date", "industry")
        .join(pl.DataFrame({"kind": list(PORTRAIT_KINDS)}), how="cross")
        .filter(pl.col("date").is_in(held["date"].unique().implode()))
    )
    out = (
        grid.join(held, on=["date", "industry", "kind"], how="full", coalesce=True)
        .join(market_w, on=["date", "industry"], how="left")
        .with_columns(pl.col("value").fill_null(0.0), pl.col("market_weight").fill_null(0.0))
        .with_columns(weight=pl.col("value") / pl.col("value").sum().over("date", "kind"))
        .with_columns(overweight=pl.col("weight") - pl.col("market_weight"))
        .select("date", "industry", "kind", "value", "weight", "market_weight", "overweight")
        .sort("date", "kind", "industry")
    )
    note = {
        "step": "participant holdings at month-ends without a close on or before the day "
        "(not valued)",
        "rows": unpriced,
        "detail": f"{len(days)} month-end day(s), {rows.height:,} holdings rows",
    }
    return out, note


def _industry_flows(market: Market, split: ParticipantSplit, period: FlowPeriod) -> pl.DataFrame:
    f = participant_flows(market, split, by="industry")
    every = "1q" if period == "quarter" else "1mo"
    cols = {"trading": "flow_trading", "allocation": "flow_allocation", "all": "flow_total"}
    agg = (
        f.with_columns(period=pl.col("date").dt.truncate(every))
        .group_by("period", "industry")
        .agg(pl.col(list(cols.values())).sum())
    )
    return (
        agg.unpivot(index=["period", "industry"], on=list(cols.values()), variable_name="kind")
        .with_columns(
            kind=pl.col("kind").replace_strict({v: k for k, v in cols.items()}),
            flow=pl.col("value"),
        )
        .select("period", "industry", "kind", "flow")
        .sort("period", "kind", "industry")
    )


def _coverage(
    market: Market, snap: pl.DataFrame, days: list[dt.date], indices: Sequence[str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    nb = (
        market.northbound.filter(pl.col("date").is_in(days))
        .select("date", "asset", pl.col("shares").cast(pl.Float64))
        .collect()
    )
    nb = _pending(nb, market)
    held = (
        snap.join(nb, on=["date", "asset"], how="left")
        .with_columns(pl.col("shares").fill_null(0.0))
        .with_columns(nb_value=pl.col("shares") * pl.col("close"))
    )
    total_nb = held.group_by("date").agg(nb_total=pl.col("nb_value").sum())
    members = (
        market.pools.filter(pl.col("date").is_in(days) & pl.col("pool").is_in(list(indices)))
        .select("date", "asset", pl.col("pool").alias("index"))
        .collect()
    )
    m = members.join(held, on=["date", "asset"], how="left")
    cov = (
        m.group_by("date", "index")
        .agg(
            members=pl.len().cast(pl.Int64),
            held=(pl.col("shares") > 0).sum().cast(pl.Int64),
            nb_value=pl.col("nb_value").sum(),
            index_cap=pl.col("cap").sum(),
        )
        .join(total_nb, on="date", how="left")
        .with_columns(
            held_share=pl.col("held") / pl.col("members"),
            value_share=pl.when(pl.col("index_cap") > 0).then(
                pl.col("nb_value") / pl.col("index_cap")
            ),
            northbound_share=pl.when(pl.col("nb_total") > 0).then(
                pl.col("nb_value") / pl.col("nb_total")
            ),
        )
        .select(
            "date",
            "index",
            "members",
            "held",
            "held_share",
            "nb_value",
            "index_cap",
            "value_share",
            "northbound_share",
        )
        .sort("date", "index")
    )
    last = max(days)
    at_last = held.filter((pl.col("date") == last) & pl.col("cap").is_not_null())
    caps = pl.concat(
        [
            at_last.filter(pl.col("shares") > 0).select(
                group=pl.lit("northbound held"), asset="asset", cap="cap"
            ),
            at_last.select(group=pl.lit("market"), asset="asset", cap="cap"),
            members.filter(pl.col("date") == last)
            .join(at_last.select("asset", "cap"), on="asset")
            .select(group="index", asset="asset", cap="cap"),
        ]
    )
    return cov, caps


@reports_progress("participant portraits")
def portraits(
    market: Market,
    *,
    split: ParticipantSplit | None = None,
    flow_index: str = "csi800",
    indices: Sequence[str] | None = None,
    cap: CapBasis = "total",
    flow_period: FlowPeriod = "quarter",
    progress: ProgressOption = "auto",
) -> Portraits:
    """Portraits of trading and allocation money (seed 004 §1.2-1.3) and northbound index
    coverage (§2.1).

    Parameters
    ----------
    market
        Needs ``participant_holdings`` (daily CCASS holdings per participant), ``participants``,
        ``prices``, ``assets`` (industries, listing dates), ``pools`` (point-in-time index
        members), ``indices`` (levels) and ``northbound``.
    split
        The participant split (:func:`~factorlab.northbound.classify_participants`); default:
        computed with its defaults. Pass one to reuse it (the strategies do).
    flow_index
        The index the cumulative flows are drawn against (图3-6: CSI 800).
    indices
        The indices of the coverage figures, by ``pools`` name; default: those of ``csi300``,
        ``csi500``, ``csi800`` the market has (explicitly named ones must exist).
    cap
        Cap basis of the market weights and the index caps: ``"total"`` (A shares, the basis of
        HKEX's holding ratio and the seed's "A股市值") or ``"float"``.
    flow_period
        Period of the industry flows (图11-12: quarterly).
    progress
        See :mod:`factorlab.progress`: one message per part.

    Returns
    -------
    Portraits
        Tidy frames; see :class:`Portraits`. Holdings are valued on each month's last
        publication day at the last close on or before it (a suspended stock keeps its last
        close); shares published between a bonus issue's record and ex-dates are put back on
        the price basis first. Only daily-disclosure days count (up to 2024-08-16).

    Raises
    ------
    MarketError
        A table is missing, `flow_index` has no levels, or an index of `indices` has no members.
    ParameterError
        `cap` or `flow_period` is not one of its choices, or `indices` is empty.
    """
    if indices is None:
        pools = market.pools.select(pl.col("pool").unique()).collect()["pool"].to_list()
        chosen = tuple(i for i in PORTRAIT_INDICES if i in pools)
        indices = chosen or PORTRAIT_INDICES  # none present: _check names them
    params = PortraitParams(
        flow_index=flow_index, indices=tuple(indices), cap=cap, flow_period=flow_period
    )
    _check(market, params)
    if split is None:
        split = classify_participants(market)
        progress("participant split")
    daily = _kinds(split.daily, split.history)
    types = _types(split.history)
    monthly = _monthly(daily)
    progress("types and months (表1/表2)")
    flows = _flows(market, split, flow_index)
    progress(f"cumulative flows against {flow_index} (图3-6)")
    days = _month_ends(split.changes.days)
    snap = _caps(market, days, cap)
    industry, note = _industry(market, split, snap, days)
    industry_flows = _industry_flows(market, split, flow_period)
    progress("industry holdings and flows (表3, 图7-12)")
    coverage, caps = _coverage(market, snap, days, params.indices)
    progress("index coverage (图13-18)")
    report = split.changes.report
    notes = pl.concat([report, pl.DataFrame([note], schema=report.schema)])
    return Portraits(
        types=types,
        monthly=monthly,
        flows=flows,
        industry=industry,
        industry_flows=industry_flows,
        coverage=coverage,
        caps=caps,
        notes=notes,
        params=params,
        data=data_description(market),
    )
