"""Flow attribution, the estimation run, its HTML report and ``factorlab estimate``."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from factorlab.cli import main
from factorlab.datasets import PLANTED, synthetic_market
from factorlab.market import Market
from factorlab.northbound.estimation import (
    estimate_holdings,
    flow_attribution,
    run_estimation,
)
from factorlab.report.estimation import write_estimation_report


@pytest.fixture(scope="module")
def market(tmp_path_factory) -> Market:
    return synthetic_market(
        **PLANTED,
        n_assets=120,
        start="2022-01-01",
        end="2023-09-30",
        seed=5,
        disclosure_change="2023-01-01",
        cache=tmp_path_factory.mktemp("estr") / "m",
        progress=False,
    )


def test_attribution_adds_up(market):
    est = estimate_holdings(market, progress=False)
    a = flow_attribution(market, est, start="2023-03-01", top=3)
    h = est.holdings.filter(pl.col("date") >= dt.date(2023, 3, 1))
    total = float(h["flow"].sum())
    assert a.market["cum_inflow"][-1] == pytest.approx(total)
    assert float(a.industry["net_inflow"].sum()) == pytest.approx(total)
    # the style buckets add up to the market total ("unclassified": no price or B/P yet)
    assert set(a.style["style"]) == {
        "large value",
        "large growth",
        "small value",
        "small growth",
        "unclassified",
    }
    assert float(a.style["net_inflow"].sum()) == pytest.approx(total)
    unclassified = a.style.filter(pl.col("style") == "unclassified")["net_inflow"].abs().sum()
    assert unclassified < 0.2 * a.style["net_inflow"].abs().sum()
    # the top stocks are the extremes of the per-stock sums, by hand
    per = h.group_by("asset").agg(pl.col("flow").sum()).sort("flow")
    assert (
        a.top.filter(pl.col("side") == "outflow")["asset"].to_list() == per["asset"][:3].to_list()
    )
    assert a.top.filter(pl.col("side") == "inflow")["asset"].to_list() == (
        per["asset"].reverse()[:3].to_list()
    )
    assert np.isfinite(a.market["csi800"].to_numpy()).all()


def test_style_uses_point_in_time_book_to_price(market):
    est = estimate_holdings(market, progress=False)
    bp = market.book_to_price.collect()
    # a month-end value is used from its own date on, never before
    later = bp.with_columns(
        book_to_price=pl.when(pl.col("date") > dt.date(2023, 5, 31))
        .then(1.0 / pl.col("book_to_price"))
        .otherwise(pl.col("book_to_price"))
    )
    tables = {n: market[n] for n in market.names}
    tables["book_to_price"] = later
    moved = Market(tables, meta=market.meta, validate="none")
    a = flow_attribution(market, est, end="2023-05-31").style
    b = flow_attribution(moved, est, end="2023-05-31").style
    # (sums may differ in the last digit: polars adds in a thread-dependent order)
    assert a.select("date", "style").equals(b.select("date", "style"))
    np.testing.assert_allclose(a["net_inflow"], b["net_inflow"], rtol=1e-9, atol=1e-3)
    c = flow_attribution(moved, est).style  # the perturbed values do change later days
    d = flow_attribution(market, est).style
    assert np.abs(c["net_inflow"].to_numpy() - d["net_inflow"].to_numpy()).max() > 1e6


@pytest.mark.slow
def test_run_report_and_command(market, tmp_path, capsys):
    result = run_estimation(market, progress=False)
    assert result.validation is not None
    assert result.data["disclosure_change"] == "2023-01-01"
    path = write_estimation_report(result, tmp_path / "r")
    text = path.read_text(encoding="utf-8")
    assert "ESTIMATED holdings and flows" in text
    assert "r2_22d" in text and "hit_22d_excl_low" in text
    assert "content hash" in text
    assert main(["estimate", "--market", str(market.path), "--out", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert "Validation against the synthetic ground truth" in out
    assert (tmp_path / "c" / "report.html").is_file()
