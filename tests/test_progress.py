"""The one ``progress=`` option (factorlab/progress.py) as the long functions use it: a callable
sees every stage in order up to the last, ``None`` / ``False`` and ``"auto"`` outside a
terminal are silent, ``True`` shows a tqdm bar or, without tqdm, one stderr line per stage."""

from __future__ import annotations

import logging
import sys

import pytest

from factorlab.calendar import sessions
from factorlab.datasets import synthetic_market
from factorlab.errors import ParameterError
from factorlab.northbound.study import factor_study, factor_sweep
from factorlab.progress import ENV_VAR, Reporter, interactive, reporter, reports_progress

TINY = {"n_assets": 50, "start": "2017-01-01", "end": "2017-02-28"}
SYNTH_STAGES = ["universe", "returns and prices", "pools and indices", "northbound holdings"]
#: The study's stages in the order they first report; a stage timed in two parts (the factors on
#: each side of the participant split's wait, the books on each side of the rank IC, which runs
#: on a thread beside them) reports twice and its seconds add up (``StudyResult.seconds``). The
#: "participant split" stage reports only when a factor reads the split (not nb_hold_value).
STUDY_STAGES = [
    "hygiene",
    "factors",
    "preprocess",
    "price grid",
    "portfolios",
    "rank IC",
    "tables",
]


def _no_tqdm(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)


def test_synthetic_market_reports_every_stage_to_a_callable(tmp_path, capfd, caplog):
    seen: list[str] = []
    with caplog.at_level(logging.INFO, logger="factorlab.datasets"):
        market = synthetic_market(**TINY, cache=tmp_path / "m", progress=seen.append)
    n_sessions = len(sessions("ashare", TINY["start"], TINY["end"]))  # 36: Spring Festival
    assert seen[0] == f"universe: 50 stocks x {n_sessions} sessions"
    stages = [s.split(":")[0] for s in seen]
    assert [s for s in stages if s in SYNTH_STAGES] == SYNTH_STAGES
    assert seen[-1] == f"written: {len(market.names)} tables"  # the final stage is reached
    assert [r.getMessage() for r in caplog.records] == [f"synthetic market: {s}" for s in seen]
    assert capfd.readouterr() == ("", "")  # a callable: nothing shown
    again: list[str] = []
    synthetic_market(**TINY, cache=tmp_path / "m", progress=again.append)
    assert again == []  # read from the cache: no stage runs


@pytest.mark.parametrize("option", [None, False, "auto"])
def test_silent_options_write_nothing(tmp_path, capfd, monkeypatch, option):
    monkeypatch.delenv(ENV_VAR, raising=False)  # "auto": pytest's stderr is not a terminal
    synthetic_market(**TINY, cache=tmp_path / "m", progress=option)
    assert capfd.readouterr() == ("", "")


def test_true_without_tqdm_writes_one_stderr_line_per_stage(tmp_path, capfd, monkeypatch):
    _no_tqdm(monkeypatch)
    seen: list[str] = []
    synthetic_market(**TINY, cache=tmp_path / "a", progress=seen.append)
    synthetic_market(**TINY, cache=tmp_path / "b", progress=True)
    out, err = capfd.readouterr()
    lines = err.splitlines()
    assert out == ""
    assert len(lines) == len(seen) + 1
    assert [line.split("] ", 1)[1] for line in lines[:-1]] == seen
    assert all(line.startswith("synthetic market [") for line in lines[:-1])
    assert lines[-1].startswith("synthetic market: done in ")


def test_true_with_tqdm_shows_a_bar(tmp_path, capfd):
    pytest.importorskip("tqdm")
    seen: list[str] = []
    synthetic_market(**TINY, cache=tmp_path / "a", progress=seen.append)
    synthetic_market(**TINY, cache=tmp_path / "b", progress=True)
    out, err = capfd.readouterr()
    assert out == ""
    last = err.rstrip("\n").split("\r")[-1]  # the bar's final state
    assert last.startswith(f"synthetic market: {len(seen)} stages [")
    assert ", done in " in last


def test_auto_follows_the_environment_variable(tmp_path, capfd, monkeypatch):
    _no_tqdm(monkeypatch)
    monkeypatch.setenv(ENV_VAR, "1")
    assert interactive()
    synthetic_market(**TINY, cache=tmp_path / "m")  # the default is "auto"
    assert "synthetic market: done in" in capfd.readouterr().err
    monkeypatch.setenv(ENV_VAR, "0")
    assert not interactive()


def test_study_stages_in_order_and_cached(small_market, tmp_path):
    seen: list[str] = []
    kwargs = {"factors": ["nb_hold_value"], "pools": ["csi300"], "cache": tmp_path}
    factor_study(small_market, **kwargs, progress=seen.append)
    names = [s.split(":")[0] for s in seen]
    assert list(dict.fromkeys(names)) == STUDY_STAGES  # first reports in order
    assert names[-1] == "tables" and names.count("tables") == 1  # ends with the final stage
    assert all(s.endswith("s") and float(s.split(": ")[1][:-1]) >= 0 for s in seen)
    again: list[str] = []
    factor_study(small_market, **kwargs, progress=again.append)
    assert len(again) == 1 and again[0].startswith("cached study: ")


def test_sweep_reports_each_grid_point(small_market):
    seen: list[str] = []
    factor_sweep(
        small_market, windows=(20,), tops=(0.2,), every=(1, 2), factors=["nb_hold_value"],
        pools=["csi300"], progress=seen.append,
    )  # fmt: skip
    done = [s for s in seen if s.startswith("sweep:")]
    assert sorted(done) == [  # as each point finishes (they run side by side)
        "sweep: window=20 top=0.2 every=1 done",
        "sweep: window=20 top=0.2 every=2 done",
    ]
    assert seen[-1] == done[-1] and seen[0].startswith("hygiene: ")


def test_bad_option_is_a_parameter_error(tmp_path):
    with pytest.raises(ParameterError, match="`progress` must be 'auto', True"):
        synthetic_market(**TINY, cache=tmp_path / "m", progress="yes")


def test_reporter_closes_on_error_and_nests(capfd, monkeypatch):
    _no_tqdm(monkeypatch)
    with pytest.raises(KeyError), reporter(True, desc="job") as say:
        say("first")
        raise KeyError("x")
    err = capfd.readouterr().err.splitlines()
    assert err[0].startswith("job [") and err[0].endswith("] first")
    assert err[1].startswith("job: stopped after ") and err[1].endswith("s (KeyError)")

    @reports_progress("inner")
    def inner(*, progress="auto"):
        progress("inner stage")
        return progress

    seen: list[str] = []
    with reporter(seen.append, desc="outer") as say:
        assert inner(progress=say) is say  # a Reporter passed in is used as is
    assert seen == ["inner stage"] and isinstance(say, Reporter) and say.stages == 1
    with pytest.raises(TypeError, match="keyword-only `progress`"):
        reports_progress("x")(lambda progress=None: None)


def test_tear_sheet_stages_numbers_then_figures(small_market, tmp_path, capfd):
    import polars as pl

    from factorlab.evaluate import tearsheet
    from factorlab.report import write_tearsheet

    px = small_market.prices.select("date", "asset", "open", "close").collect()
    frame = px.select(
        "date", "asset", mom=pl.col("close").pct_change(20).over("asset", order_by="date")
    ).filter(pl.col("date") >= pl.date(2024, 1, 1))
    pools = small_market.pools.filter(pl.col("pool").is_in(["csi300", "liq1500"]))
    seen: list[str] = []
    sheet = tearsheet(frame, ["mom"], prices=px, pools=pools, horizons=(5,), progress=seen.append)
    assert [s.split(":")[0] for s in seen] == [
        "evaluate",  # one evaluate() call builds the panel the sections use (no second build)
        "section mom / csi300",
        "section mom / liq1500",
        "series",
    ]
    drawn: list[str] = []
    path = write_tearsheet(sheet, tmp_path / "out", progress=drawn.append)
    assert drawn[:-1] == ["figures mom / csi300", "figures mom / liq1500"] or drawn == [
        f"html: {path}"  # without matplotlib: no figure stage
    ]
    assert drawn[-1] == f"html: {path}" and path.is_file()
    assert capfd.readouterr() == ("", "")


def test_evaluate_reports_the_panel_then_each_pool_and_factor(small_market):
    import polars as pl

    from factorlab.evaluate import evaluate

    px = small_market.prices.select("date", "asset", "open", "close").collect()
    frame = px.select(
        "date",
        "asset",
        mom=pl.col("close").pct_change(20).over("asset", order_by="date"),
        rev=-pl.col("close").pct_change(5).over("asset", order_by="date"),
    ).filter(pl.col("date") >= pl.date(2024, 1, 1))
    pools = small_market.pools.filter(pl.col("pool").is_in(["csi300", "liq1500"]))
    seen: list[str] = []
    evaluate(frame, ["mom", "rev"], prices=px, pools=pools, horizons=(5,), progress=seen.append)
    n_dates, n_assets = px["date"].n_unique(), px["asset"].n_unique()
    assert seen[0] == f"prices: {n_dates} sessions x {n_assets} assets"
    # the units run on threads: each is reported once as it finishes, counted 1..4 in that order
    units = [m.rsplit(" (", 1) for m in seen[1:]]
    assert [k for _, k in units] == ["1 of 4)", "2 of 4)", "3 of 4)", "4 of 4)"]
    assert sorted(u for u, _ in units) == [
        "csi300 / mom",
        "csi300 / rev",
        "liq1500 / mom",
        "liq1500 / rev",
    ]
