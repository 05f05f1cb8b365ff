"""Market-level daily northbound flows for the timing strategies: all money from the links'
trades, trading-type and allocation-type money from the participant split.

What a day's figure means matters (seed 000 times quota usage, seed 004 net buying): quota usage
(资金净流入 = quota - balance) counts unfilled buy orders, net buy (成交净买额) does not. On real
data the meaning of tushare's headline figure changes around 2018-08-01 and is detected per day
by the loader (``northbound_flows.flow_definition``; docs/real-data.md); here each series says
which definition it holds.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, get_args

import polars as pl

from factorlab.errors import MarketError, ParameterError
from factorlab.market import Market
from factorlab.northbound.estimated import estimated_flows, study_estimates
from factorlab.northbound.hygiene import disclosure_end
from factorlab.northbound.participants import (
    ParticipantSplit,
    classify_participants,
    participant_flows,
)

__all__ = ["FLOW_KINDS", "FlowKind", "MarketFlows", "market_flows", "quota_usage"]

FlowKind = Literal["all", "trading", "allocation"]
#: The flows a timing rule can follow: all northbound money, trading-type, allocation-type.
FLOW_KINDS: tuple[str, ...] = get_args(FlowKind)


class MarketFlows:
    """Daily market-level flows (yuan) of each kind on their own days, and where they came from.

    ``frames``: kind -> (date, flow) from the kind's first defined day, on the days the kind is
    published (link trading days for all money; participant publication days for the types);
    ``source``: kind -> a sentence naming the table and the definition; ``estimated_from``:
    the disclosure change when the flows were built with estimated holdings (all-money rows
    after it are estimated; the types stop at it), else None.
    """

    def __init__(
        self,
        frames: dict[str, pl.DataFrame],
        source: dict[str, str],
        estimated_from: dt.date | None = None,
    ):
        self.frames = frames
        self.source = source
        self.estimated_from = estimated_from

    def series(self, kind: str) -> pl.DataFrame:
        """date, flow of one kind (a clear error if the market cannot give it)."""
        if kind not in FLOW_KINDS:
            raise ParameterError(f"`flow` must be one of {list(FLOW_KINDS)}; got {kind!r}.")
        if kind not in self.frames:
            raise MarketError(
                f"{kind}-type flows need the participant split (tables `participant_holdings` "
                "and `participants`), which this market lacks; real per-type flows are not "
                "public (docs/strategies.md, Real data). Use flow='all'."
            )
        return self.frames[kind]


def market_flows(
    market: Market,
    *,
    kinds: tuple[str, ...] = FLOW_KINDS,
    split: ParticipantSplit | None = None,
    estimated_holdings: Any = None,
) -> MarketFlows:
    """All / trading-type / allocation-type daily net flows of the whole market.

    - ``all``: net buy = buy - sell turnover summed over the links (table ``quotas``, or on
      real data ``northbound_flows.net_buy``, which the loader takes from buy - sell where
      known and from tushare's figure on days it means net buy). Known after the day's close.
    - ``trading`` / ``allocation``: sum of dS x VWAP of each type's participants
      (:func:`~factorlab.northbound.participants.participant_flows`, ``by="market"``) with the
      May/November split (:func:`~factorlab.northbound.participants.classify_participants`,
      or `split`); defined from the first classification; published the next morning.

    With `estimated_holdings` (a :class:`~factorlab.northbound.estimation.HoldingsEstimate` or
    a (date, asset, shares [, published, flow]) frame, or their checked
    :class:`~factorlab.northbound.estimated.StudyEstimates`), all money runs past the market's
    disclosure change: the link figures up to the change, then the sum over stocks of the
    estimated flows, each estimated date on the day it is published
    (:func:`~factorlab.northbound.estimated.estimated_flows`); ``estimated_from`` is the change.
    The types stay within the daily disclosure (an estimate has no participants).

    Raises
    ------
    MarketError
        No table the asked kinds need (``quotas`` / ``northbound_flows`` for all money;
        ``participant_holdings`` and ``participants`` for the types).
    """
    bad = [k for k in kinds if k not in FLOW_KINDS]
    if bad:
        raise ParameterError(f"`kinds` must be among {list(FLOW_KINDS)}; got {bad}.")
    frames: dict[str, pl.DataFrame] = {}
    source: dict[str, str] = {}
    if "all" in kinds:
        if "quotas" in market.names:
            total = (
                market.quotas.group_by("date")
                .agg(flow=(pl.col("buy_amount") - pl.col("sell_amount")).sum())
                .sort("date")
                .collect()
            )
            source["all"] = "net buy (buy - sell) summed over the links, table `quotas`"
        elif "northbound_flows" in market.names:
            total = (
                market.northbound_flows.group_by("date")
                .agg(flow=pl.col("net_buy").sum())
                .sort("date")
                .collect()
            )
            source["all"] = (
                "net buy summed over the links, table `northbound_flows` (buy - sell where "
                "known, else tushare's figure on days it means net buy)"
            )
        else:
            raise MarketError(
                "all-money timing needs table `quotas` (buy_amount, sell_amount) or "
                "`northbound_flows` (net_buy), which this market lacks; load the link flows "
                "(factorlab.adapters: joinquant.stk_ml_quota, tushare.moneyflow_hsgt)."
            )
        frames["all"] = total
    change = None if estimated_holdings is None else disclosure_end(market)
    if estimated_holdings is not None and "all" in kinds:
        est = study_estimates(estimated_holdings)
        after = (
            estimated_flows(market, est)
            .filter(pl.col("estimated"))
            .group_by("date")
            .agg(pl.col("flow").sum())
        )
        frames["all"] = pl.concat(
            [frames["all"].filter(pl.col("date") <= change), after.filter(pl.col("date") > change)],
            how="vertical_relaxed",
        ).sort("date")
        source["all"] += (
            f"; after {change} the sum over stocks of the estimated holdings' flows (dated on "
            "their publication day)"
        )
    typed = [k for k in kinds if k != "all"]
    if typed and {"participant_holdings", "participants"} <= set(market.names):
        split = split if split is not None else classify_participants(market)
        f = participant_flows(market, split, by="market")
        start = split.history["effective_from"].min()
        f = f.filter(pl.col("date") >= start).sort("date")
        for k in typed:
            source[k] = (
                f"{k}-type net flow (sum of dS x VWAP of the type's participants, the May / "
                "November turnover split), tables `participant_holdings`, `participants`"
            )
            frames[k] = f.select("date", flow=f"flow_{k}")
    return MarketFlows(frames, source, change)


def quota_usage(market: Market) -> tuple[pl.DataFrame, str]:
    """Seed 000's mf: per day, the sum over the links of quota_daily - quota_balance (quota
    used; Shanghai alone before the Shenzhen link opens), ``(frame date, mf; definition)``.

    On real data (no quota columns) the loader's per-day meaning is used: tushare's figure
    where it is quota usage (``flow_definition == "quota_inflow"``), else net buy, so the band
    follows quota usage where it is known and net buy after tushare's switch.
    """
    if "quotas" in market.names:
        frame = (
            market.quotas.group_by("date")
            .agg(mf=(pl.col("quota_daily") - pl.col("quota_balance")).sum())
            .sort("date")
            .collect()
        )
        return frame, "quota used (quota_daily - quota_balance), table `quotas`"
    if "northbound_flows" in market.names:
        nf = market.northbound_flows.collect()
        value = pl.when(pl.col("flow_definition") == "quota_inflow").then("quota_inflow")
        frame = (
            nf.group_by("date")
            .agg(
                mf=value.otherwise(pl.col("net_buy")).sum(),
                quota_days=(pl.col("flow_definition") == "quota_inflow").sum(),
            )
            .sort("date")
        )
        n_q = int((frame["quota_days"] > 0).sum())
        return frame.select("date", "mf"), (
            f"quota used where tushare's figure means it ({n_q:,} days), else net buy, table "
            "`northbound_flows` (meaning detected per day)"
        )
    raise MarketError(
        "quota-band timing needs table `quotas` (quota_daily, quota_balance per link) or "
        "`northbound_flows`, which this market lacks; load them with "
        "factorlab.adapters.joinquant.stk_ml_quota (STK_ML_QUOTA)."
    )
