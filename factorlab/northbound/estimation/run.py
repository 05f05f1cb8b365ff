"""Everything of seed 002 in one call: the estimate, the naive baseline, the disclosure
statistics, the validation table (markets with ground truth) and the flow attribution."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

import polars as pl

from factorlab._display import Summary
from factorlab.market import Market
from factorlab.northbound.estimation.attribution import FlowAttribution, flow_attribution
from factorlab.northbound.estimation.estimator import (
    EstimateParams,
    HoldingsEstimate,
    estimate_holdings,
    naive_flows,
)
from factorlab.northbound.estimation.validation import (
    disclosure_statistics,
    true_weights,
    validation_table,
)
from factorlab.northbound.hygiene import disclosure_end
from factorlab.northbound.study import data_description
from factorlab.progress import reports_progress
from factorlab.typing import ProgressOption

__all__ = ["EstimationResult", "run_estimation"]


@dataclass(frozen=True)
class EstimationResult:
    """What ``factorlab estimate`` reports.

    Attributes
    ----------
    estimate, naive
        The two-step estimate and the naive baseline (:class:`HoldingsEstimate`).
    disclosure
        :func:`disclosure_statistics` (null when the market has no holdings to weigh with).
    validation
        :func:`validation_table`, or None without ground truth (real data).
    attribution
        :func:`flow_attribution` over the estimate's window.
    truth
        date, net_buy, value (true holding value) on the estimated days, or None.
    data
        What the market is (source, preset, seed, content hash, disclosure change).
    seconds
        Wall time per stage.
    """

    estimate: HoldingsEstimate
    naive: HoldingsEstimate
    disclosure: pl.DataFrame | None
    validation: pl.DataFrame | None
    attribution: FlowAttribution
    truth: pl.DataFrame | None = None
    data: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def _display(self) -> Summary:
        t = self.estimate.totals
        lines = (
            ", ".join(f"{k} {v}" for k, v in self.data.items()),
            f"estimated {t.height} days, {t['date'].min()} .. {t['date'].max()}",
        )
        table = None if self.validation is None else self.validation.drop("definition")
        return Summary("EstimationResult (seed 002)", lines, table, "validation")

    def __repr__(self) -> str:
        return self._display().text()

    def _repr_html_(self) -> str:
        return self._display().html()


@reports_progress("flow estimation")
def run_estimation(
    market: Market,
    *,
    params: EstimateParams | None = None,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    attribution_start: dt.date | str | None = None,
    ablations: bool = True,
    progress: ProgressOption = "auto",
) -> EstimationResult:
    """Estimate, validate (when ``flows_truth`` / ``northbound_truth`` exist) and attribute.

    `attribution_start` narrows the attribution window (the seed: 2025 to date); the estimate
    itself covers `start` .. `end` (default: after the market's daily disclosure .. its end).
    """
    say = progress
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal t0
        now = time.perf_counter()
        seconds[name] = now - t0
        t0 = now
        say(f"{name}: {seconds[name]:.1f}s")

    est = estimate_holdings(market, params=params, start=start, end=end, progress=say)
    lap("estimate")
    naive = naive_flows(market, start=start, end=end)
    lap("naive baseline")
    disclosure = None
    if market.has("northbound_truth") or market.has("northbound"):
        disclosure = disclosure_statistics(market)
    lap("disclosure statistics")
    validation = truth = None
    if market.has("flows_truth") and market.has("northbound_truth"):
        validation = validation_table(
            market, estimate=est, naive=naive, params=params, ablations=ablations
        )
        values = (
            true_weights(market, est.totals["date"]).group_by("date").agg(value=pl.col("v").sum())
        )
        truth = (
            est.totals.select("date")
            .join(market.flows_truth.select("date", "net_buy").collect(), on="date", how="left")
            .join(values, on="date", how="left")
        )
    lap("validation")
    attribution = flow_attribution(market, est, start=attribution_start)
    lap("attribution")
    data = data_description(market)
    data["disclosure_change"] = str(disclosure_end(market))
    return EstimationResult(est, naive, disclosure, validation, attribution, truth, data, seconds)
