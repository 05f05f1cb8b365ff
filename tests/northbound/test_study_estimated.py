"""Estimated holdings feed the factor study (issue 13 point 6): the study runs past the
disclosure change, marks every estimated date, keys its cache on the estimates and leaves the
dates before the change exactly as a run without them."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from factorlab.cli import main
from factorlab.datasets import PLANTED, synthetic_market
from factorlab.errors import DisclosureError, DtypeError, DuplicateKeyError, MissingColumnError
from factorlab.market import Market
from factorlab.northbound.estimation import estimate_holdings
from factorlab.northbound.study import factor_study

CHANGE = dt.date(2023, 1, 1)
LAST_DAILY = dt.date(2022, 12, 30)  # the last session on or before CHANGE
KW = {"factors": ["nb_hold_value", "nb_hold_ratio_chg20"], "pools": ["csi300"], "progress": False}
NOTE = "holdings after 2023-01-01 are estimated (seed 002 two-step estimator)"


@pytest.fixture(scope="module")
def market(tmp_path_factory) -> Market:
    """80 stocks, daily disclosure until 2023-01-01, then two quarterly snapshots."""
    return synthetic_market(
        **PLANTED,
        n_assets=80,
        start="2022-04-01",
        end="2023-06-30",
        seed=11,
        disclosure_change=CHANGE,
        cache=tmp_path_factory.mktemp("est6") / "m",
        progress=False,
    )


@pytest.fixture(scope="module")
def estimate(market):
    return estimate_holdings(market, progress=False)


@pytest.fixture(scope="module")
def with_estimates(market, estimate):
    return factor_study(market, estimated_holdings=estimate, cache=False, **KW)


@pytest.fixture(scope="module")
def without(market):
    return factor_study(market, cache=False, **KW)


def _perturbed(estimate) -> pl.DataFrame:
    """The estimate's (date, asset, shares) with every share count scaled by a random factor
    in [0.5, 1.5] (fixed seed)."""
    h = estimate.holdings.select("date", "asset", "shares")
    rng = np.random.default_rng(3)
    return h.with_columns(shares=pl.col("shares") * pl.Series(rng.uniform(0.5, 1.5, h.height)))


def test_the_study_runs_past_the_change_and_marks_every_estimated_date(with_estimates, estimate):
    r = with_estimates
    last = estimate.holdings["date"].max()
    assert r.daily["date"].max() == last > dt.date(2023, 6, 1)
    for name in ("daily", "ic", "coverage"):
        frame = getattr(r, name)
        assert frame["estimated"].to_list() == [d > CHANGE for d in frame["date"].to_list()]
        assert frame["estimated"].any() and not frame["estimated"].all()
    # the post-change part is real study output: returns and rank ICs on those dates
    post = r.daily.filter(pl.col("estimated"))
    assert post["date"].n_unique() > 100 and post["long"].is_not_null().all()
    assert r.ic.filter(pl.col("estimated"))["ic"].is_not_null().sum() > 20
    assert r.estimated_from == CHANGE
    assert r.data["estimated_holdings"] == "seed 002 two-step estimator"
    assert len(r.data["estimated_hash"]) == 16
    assert NOTE in repr(r)


def test_without_estimates_past_the_change_is_a_disclosure_error(market, without):
    with pytest.raises(DisclosureError, match="estimated_holdings="):
        factor_study(market, end="2023-06-30", cache=False, **KW)
    # without an end the study stops at the last daily disclosure, nothing marked
    assert without.daily["date"].max() == LAST_DAILY
    assert "estimated" not in without.daily.columns and without.estimated_from is None
    assert "estimated" not in repr(without)


def test_dates_before_the_change_equal_a_run_without_estimates(
    market, estimate, with_estimates, without
):
    before = with_estimates.daily.filter(~pl.col("estimated")).drop("estimated")
    assert before["date"].max() == LAST_DAILY
    assert before.equals(without.daily)
    # no look-ahead through the estimates: other estimates change nothing up to the change ...
    other = factor_study(market, estimated_holdings=_perturbed(estimate), cache=False, **KW)
    assert other.daily.filter(~pl.col("estimated")).drop("estimated").equals(without.daily)
    same = with_estimates.ic.filter(~pl.col("estimated"))
    assert other.ic.filter(~pl.col("estimated")).equals(same)
    # ... and do change the factor's output after it (the estimates are used)
    key = ["date", "factor", "pool"]
    a = with_estimates.daily.filter(pl.col("estimated")).sort(key)
    b = other.daily.filter(pl.col("estimated")).sort(key)
    assert a.select(key).equals(b.select(key))
    assert not np.allclose(a["long"].to_numpy(), b["long"].to_numpy())


def test_a_frame_or_a_pandas_frame_gives_the_estimates_result(market, estimate, with_estimates):
    frame = estimate.holdings.select("date", "asset", "shares")
    r = factor_study(market, estimated_holdings=frame, cache=False, **KW)
    assert r.daily.equals(with_estimates.daily) and r.table.equals(with_estimates.table)
    assert r.data["estimated_hash"] == with_estimates.data["estimated_hash"]
    assert r.data["estimated_holdings"] == "supplied estimated_holdings table"
    p = factor_study(market, estimated_holdings=frame.to_pandas(), cache=False, **KW)
    assert p.daily.equals(with_estimates.daily)
    timed = frame.with_columns(pl.col("date").cast(pl.Datetime("us")))
    t = factor_study(market, estimated_holdings=timed, cache=False, **KW)
    assert t.daily.equals(with_estimates.daily)


def test_estimates_outside_the_window_mark_nothing(market, estimate, without):
    r = factor_study(market, estimated_holdings=estimate, end=LAST_DAILY, cache=False, **KW)
    assert r.estimated_from is None and not r.daily["estimated"].any()
    assert r.daily.drop("estimated").equals(without.daily)
    assert "are estimated" not in repr(r)


def test_the_cache_distinguishes_runs_with_different_estimates(market, estimate, tmp_path):
    said: list[str] = []
    kw = {**KW, "cache": tmp_path, "progress": said.append}
    first = factor_study(market, estimated_holdings=estimate, **kw)
    again = factor_study(market, estimated_holdings=estimate, **kw)
    assert any(s.startswith("cached study") for s in said)
    assert again.daily.equals(first.daily) and again.estimated_from == CHANGE
    said.clear()
    other = factor_study(market, estimated_holdings=_perturbed(estimate), **kw)
    assert not any(s.startswith("cached study") for s in said)
    assert not other.daily.equals(first.daily)
    said.clear()
    plain = factor_study(market, **kw)
    assert not any(s.startswith("cached study") for s in said)
    assert "estimated" not in plain.daily.columns and plain.estimated_from is None
    assert len(list(tmp_path.iterdir())) == 3


def test_bad_estimated_holdings_name_the_table(market, estimate):
    frame = estimate.holdings.select("date", "asset", "shares")
    with pytest.raises(MissingColumnError, match=r"estimated_holdings.*shares"):
        factor_study(market, estimated_holdings=frame.drop("shares"), cache=False, **KW)
    with pytest.raises(DtypeError, match="`date` of table `estimated_holdings`"):
        bad = frame.with_columns(pl.col("date").cast(pl.String))
        factor_study(market, estimated_holdings=bad, cache=False, **KW)
    with pytest.raises(DuplicateKeyError, match="estimated_holdings"):
        factor_study(market, estimated_holdings=pl.concat([frame, frame.head(2)]), **KW)


def test_cli_study_with_estimates_marks_the_table_and_the_reports(
    market, estimate, tmp_path, capsys
):
    path = tmp_path / "est.csv"
    estimate.holdings.select("date", "asset", "shares").write_csv(path)
    args = ["study", "--market", str(market.path), "--factors", *KW["factors"]]
    args += ["--pools", "csi300", "--no-cache", "--out", str(tmp_path / "rep")]
    assert main([*args, "--estimated-holdings", str(path)]) == 0
    out = capsys.readouterr().out
    head, table = out.split("Factor", 1)
    assert "Holdings after 2023-01-01 are estimated (supplied estimated_holdings table)." in head
    assert "estimated_hash" in head
    html = (tmp_path / "rep" / "report.html").read_text()
    md = (tmp_path / "rep" / "summary.md").read_text()
    assert "Holdings after 2023-01-01 are estimated" in html
    assert "Holdings after 2023-01-01 are estimated" in md
    assert "2023-06" in html  # the span runs past the change
    # --estimate runs the estimator on the market first: the same numbers
    assert main([*args, "--force", "--estimate"]) == 0
    out2 = capsys.readouterr().out
    assert NOTE[:1].upper() + NOTE[1:] in out2
    assert out2.split("Factor", 1)[1] == table


def test_the_sweep_takes_estimates_as_the_study_does(market, estimate, with_estimates):
    from factorlab.northbound.study import factor_sweep

    kw = {k: v for k, v in KW.items() if k != "progress"}
    swept = factor_sweep(
        market, windows=(20,), tops=(0.2,), every=(1,), estimated_holdings=estimate,
        progress=False, **kw,
    )  # fmt: skip
    assert swept["estimated_from"].unique().to_list() == [CHANGE]
    got = swept.drop("window", "top", "every", "estimated_from")
    want = with_estimates.table.select(got.columns)
    assert got.sort("factor", "pool").equals(want.sort("factor", "pool"))
    # without estimates, as the study: an end past the change is refused, none stops at it
    grid = {"windows": (20,), "tops": (0.2,), "every": (1,), "progress": False}
    with pytest.raises(DisclosureError, match="estimated_holdings="):
        factor_sweep(market, end="2023-06-30", **grid, **kw)
    assert "estimated_from" not in factor_sweep(market, **grid, **kw).columns
