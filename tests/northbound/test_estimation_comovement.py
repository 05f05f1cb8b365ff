"""The generator's `market_concentration` (docs/estimation.md §4): the market-wide flows go
through the large holdings, so the stocks still printed after the disclosure change stop
co-moving with the total while the total moves about as much as before."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from factorlab.northbound.estimation.validation import printed_comovement


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_concentration_decouples_the_printed_stocks_from_the_total(
    seed, tmp_path, est_market_of, make_est_market
):
    """At c = 1 the printed stocks' moves correlate far less with the others' (measured 0.83 ->
    0.32, 0.60 -> 0.14, 0.63 -> -0.17), the naive's R² against the truth falls (0.85 -> 0.33,
    0.39 -> 0.03, 0.52 -> 0.01), and the total's daily volatility moves by under 20%."""
    base = est_market_of(seed)  # c = 0, the planted default
    conc = make_est_market(seed, tmp_path / "m", market_concentration=1.0)
    b, c = (printed_comovement(m).rows_by_key("metric", unique=True) for m in (base, conc))
    # the columns: daily, sum_22d, days
    assert c["corr_moves"][0] < b["corr_moves"][0] - 0.3
    assert c["r2_printed"][0] < b["r2_printed"][0] - 0.3
    assert c["r2_printed"][0] < 0.4
    sd = [m.flows_truth.select(pl.col("net_buy").std()).collect().item() for m in (base, conc)]
    assert 0.8 < sd[1] / sd[0] < 1.25


def test_zero_concentration_is_the_planted_market(tmp_path, est_market, make_est_market):
    """c = 0 is today's generator: the same tables as the fixture (which omits it)."""
    m = make_est_market(11, tmp_path / "m", market_concentration=0.0)
    for name in ("northbound_truth", "flows_truth", "short_sellable"):
        a = getattr(m, name).collect()
        e = getattr(est_market, name).collect()
        assert a.equals(e), name
    assert np.isfinite(m.flows_truth.select("net_buy").collect().to_numpy()).all()
