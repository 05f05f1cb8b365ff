"""The small market the flow-strength tests compare (test_synthetic_steady_flows,
test_synthetic_trading_speed, test_synthetic_interest_quality)."""

from __future__ import annotations

import polars as pl

from factorlab.datasets import PLANTED, synthetic_market


def flows(tmp_path, seed: int, tag: str, **strengths: float) -> pl.DataFrame:
    """The northbound days' flows_truth of a 150-stock market (2017-2018) at PLANTED +
    `strengths`."""
    m = synthetic_market(
        **{**PLANTED, **strengths},
        seed=seed,
        n_assets=150,
        start="2017-01-01",
        end="2018-12-31",
        cache=tmp_path / tag,
        progress=None,
    )
    return m.flows_truth.filter(pl.col("northbound_day")).collect()
