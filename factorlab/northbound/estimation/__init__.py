"""Northbound holdings and flows after HKEX's 2024 disclosure change (seed 002): the two-step
estimator, its naive baseline, disclosure statistics, validation metrics and flow attribution."""

from __future__ import annotations

from factorlab.northbound.estimation.attribution import FlowAttribution, flow_attribution
from factorlab.northbound.estimation.estimator import (
    EstimateParams,
    HoldingsEstimate,
    TotalValue,
    estimate_holdings,
    naive_flows,
    project_weights,
)
from factorlab.northbound.estimation.inputs import disclosure_end
from factorlab.northbound.estimation.run import EstimationResult, run_estimation
from factorlab.northbound.estimation.validation import (
    SEED_FIGURES,
    disclosure_statistics,
    flow_metrics,
    holding_metrics,
    printed_comovement,
    validation_table,
)

__all__ = [
    "SEED_FIGURES",
    "EstimateParams",
    "EstimationResult",
    "FlowAttribution",
    "HoldingsEstimate",
    "TotalValue",
    "disclosure_end",
    "disclosure_statistics",
    "estimate_holdings",
    "flow_attribution",
    "flow_metrics",
    "holding_metrics",
    "naive_flows",
    "printed_comovement",
    "project_weights",
    "run_estimation",
    "validation_table",
]
