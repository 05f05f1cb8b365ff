"""`factorlab data calibrate` and `calibrate()` end to end on the small synthetic market: every
fact row present, in_band a bool or null with a reason, the data the report ran on named."""

from __future__ import annotations

import contextlib
import io
import math

import polars as pl
import pytest

from factorlab import calibration as cal
from factorlab.cli import main
from factorlab.market import Market

# one cold study of the small market plus the participant split: ~10 s quiet, ~25 s loaded
# one worker runs the module (`--dist loadgroup`): its module fixtures are computed once
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("calibration_cli")]

#: Rows per fact on a market with the three study pools.
ROWS = {
    "coverage": 3,
    "weekly turnover, top 20%": 6,
    "tracking error, top 20%": 3,
    "long-excess Sharpe, gross": 6,
    "L/S correlation < 0.3, non-static": 3,
    "special-period L/S from the short leg": 6,
    "weekly rank IC": 8,
    "trading-type money": 2,
    "minor participants": 2,
    "market": 5,
    "universe": 2,
}


@pytest.fixture(scope="module")
def run(small_market, tmp_path_factory):
    """The command's output and the API's result, sharing one (cached) study."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FACTORLAB_CACHE", str(tmp_path_factory.mktemp("calib_cache")))
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["data", "calibrate", "--market", str(small_market.path), "--no-reference"])
        result = cal.calibrate(small_market, reference=small_market)
    return code, out.getvalue(), result


def test_every_fact_row_is_present_with_a_bool_or_a_reason(run):
    _, _, result = run
    t = result.table
    counts = dict(t.group_by("fact").len().iter_rows())
    assert counts == ROWS
    assert t.select(pl.struct("fact", "group").is_unique().all()).item()
    assert t.schema["in_band"] == pl.Boolean
    unmeasured = t.filter(pl.col("in_band").is_null())
    assert unmeasured["note"].str.len_chars().min() > 0
    # measured values decide in_band by the row's own band
    for row in t.filter(pl.col("measured").is_not_null()).iter_rows(named=True):
        band = cal.Band(row["lo"], row["hi"], row["target"])
        if "not positive" not in (row["note"] or ""):
            assert row["in_band"] == band.contains(row["measured"]), row
    # the facts the issue measures from the study are measured on this market
    cov = t.filter(pl.col("fact") == "coverage")
    assert cov["measured"].is_not_null().all()
    # the study's coverage column has the same definition: equal but for members suspended on
    # a signal date (held, but without a panel row, hence without a factor value)
    study = cov["note"].str.extract(r"the study's coverage column: ([0-9.]+)%").cast(pl.Float64)
    assert study.is_not_null().all()
    assert ((cov["measured"] - study) >= -0.01).all() and ((cov["measured"] - study) < 1.0).all()
    assert t.filter(pl.col("fact").str.starts_with("long-excess"))["measured"].is_not_null().all()


def test_the_reference_market_is_measured_with_the_same_market_functions(run):
    _, _, result = run
    t = result.table
    market = t.filter(pl.col("fact") == "market")
    assert (market["reference"] == market["measured"]).all()  # the same market as reference
    assert t.filter(pl.col("fact") != "market")["reference"].is_null().all()
    assert result.reference["preset"] == "small"


def test_the_result_says_what_data_it_ran_on(run):
    _, _, result = run
    assert result.data["preset"] == "small" and "content_hash" in result.data
    assert (result.start.isoformat(), result.end.isoformat()) == ("2017-01-01", "2023-01-31")
    text = repr(result)
    assert "preset small" in text and "content_hash" in text and "in band" in text
    assert "<table" in result._repr_html_()
    c = result.counts()
    assert sum(c.values()) == result.table.height


def test_the_command_prints_the_table_with_its_data(run, small_market):
    code, out, result = run
    assert code == 0
    assert "preset small" in out and small_market.content_hash[:16] in out
    assert "2017-01-01 .. 2023-01-31" in out
    for fact in ROWS:
        assert fact in out
    assert "Notes" in out and "Sources" in out and "seed 001" in out
    counts = result.counts()
    assert f"{counts['in band']} in band" in out


def test_facts_the_market_cannot_give_are_null_with_the_reason(run, small_market, monkeypatch):
    _, _, result = run
    study = cal.factor_study(small_market, start=cal.HANDBOOK_START, end=cal.HANDBOOK_END)
    monkeypatch.setattr(cal, "factor_study", lambda *a, **k: study)
    keep = [n for n in small_market.names if n not in ("participant_holdings", "indices")]
    reduced = Market({n: small_market[n] for n in keep}, meta=small_market.meta, validate="none")
    t = cal.calibrate(reduced).table
    split = t.filter(pl.col("fact").is_in(["trading-type money", "minor participants"]))
    assert split.height == 4 and split["measured"].is_null().all()
    assert split["in_band"].is_null().all()
    assert split["note"].str.contains("no `participant_holdings`").all()
    vol = t.filter(pl.col("group") == "index_vol").row(0, named=True)
    assert vol["measured"] is None and "no `indices`" in vol["note"]
    # the rest is unchanged
    same = t.filter(
        ~pl.col("fact").is_in(["trading-type money", "minor participants"])
        & (pl.col("group") != "index_vol")
    )
    ref = result.table.join(same.select("fact", "group", m2="measured"), on=["fact", "group"])
    assert ref.height == same.height
    for a, b in ref.select("measured", "m2").iter_rows():
        assert (a is None and b is None) or math.isclose(a, b)


def test_a_bad_window_is_a_clear_error(small_market, capsys):
    code = main(
        [
            "data",
            "calibrate",
            "--market",
            str(small_market.path),
            "--no-reference",
            "--start",
            "2023-01-01",
            "--end",
            "2017-01-01",
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "`start` (2023-01-01) must not be after `end` (2017-01-01)" in err
