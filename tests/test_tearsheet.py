"""The factor tear sheet: its numbers are the evaluator's (and alphalens'), every figure file is
written, the HTML has every section and names its data, and the command line works end to end."""

from __future__ import annotations

import contextlib
import html
import io
import warnings

import numpy as np
import polars as pl
import pytest

from factorlab.cli import main
from factorlab.evaluate import evaluate, tearsheet
from factorlab.report import tearsheet as tearsheet_module
from factorlab.report import write_tearsheet
from factorlab.report.tearsheet import NO_MATPLOTLIB, SECTION_TITLES, safe_stem
from factorlab.report.tearsheet_figures import section_plan


def _frames(seed: int = 3, n_days: int = 90, n_assets: int = 40):
    rng = np.random.default_rng(seed)
    days = np.datetime64("2023-01-02") + np.arange(n_days)
    close = 10 * np.exp(np.cumsum(rng.normal(0, 0.02, (n_days, n_assets)), axis=0))
    opens = close * np.exp(rng.normal(0, 0.005, close.shape))
    signal = rng.normal(size=close.shape)
    nxt = np.zeros_like(close)  # the next_open return the factor predicts: open[t+2] / open[t+1]
    nxt[:-2] = np.log(opens[2:] / opens[1:-1])
    f1 = signal + 20 * nxt
    f2 = rng.normal(size=close.shape)
    f1[rng.random(f1.shape) < 0.03] = np.nan
    t, a = np.meshgrid(np.arange(n_days), np.arange(n_assets), indexing="ij")
    t, a = t.ravel(), a.ravel()
    assets = np.array([f"{600000 + j:06d}.SH" for j in range(n_assets)])
    prices = pl.DataFrame(
        {"date": days[t], "asset": assets[a], "close": close[t, a], "open": opens[t, a]}
    ).with_columns(pl.col("date").cast(pl.Date))
    factors = pl.DataFrame(
        {"date": days[t], "asset": assets[a], "mom": f1[t, a], "noise 1/2": f2[t, a]}
    ).with_columns(pl.col("date").cast(pl.Date), pl.col("mom").fill_nan(None))
    return factors, prices


@pytest.fixture(scope="module")
def frames():
    return _frames()


@pytest.fixture(scope="module")
def sheet(frames):
    factors, prices = frames
    return tearsheet(
        factors,
        ["mom", "noise 1/2"],
        prices=prices,
        horizons=(1, 3),
        event_window=(3, 5),
        source="unit-test frames, seed 3",
    )


def test_numbers_equal_the_evaluator(frames, sheet):
    factors, prices = frames
    ev = evaluate(factors, ["mom", "noise 1/2"], prices=prices, horizons=(1, 3))
    assert sheet.evaluation.summary.equals(ev.summary)
    for name in ("mom", "noise 1/2"):
        s = sheet.section(name)
        theirs_ic = ev.ic.filter(pl.col("factor") == name).drop("factor", "pool")
        ours_ic = s.ic.select(theirs_ic.columns)
        assert ours_ic.equals(theirs_ic)
        theirs_q = ev.quantile_returns.filter(pl.col("factor") == name).drop("factor", "pool")
        assert s.quantile_returns.select(theirs_q.columns).equals(theirs_q)
        row = ev.summary.filter((pl.col("factor") == name) & (pl.col("horizon") == 1))
        top = s.turnover.filter((pl.col("quantile") == 5) & (pl.col("lag") == 1))["turnover"]
        assert top.mean() == pytest.approx(row["turnover_top"].item(), abs=1e-14)
        auto = s.autocorrelation.filter(pl.col("lag") == 1)["autocorrelation"]
        assert auto.mean() == pytest.approx(row["rank_autocorr"].item(), abs=1e-14)
        sp = s.spread_summary.filter(pl.col("horizon") == 1)["mean"].item()
        assert sp == pytest.approx(row["spread_mean"].item(), abs=1e-14)
        assert s.drops.equals(ev.drops.filter(pl.col("factor") == name))
    # the IC decay at the tear sheet's horizons is the IC summary's mean
    s = sheet.section("mom")
    decay = dict(s.ic_decay.select("horizon", "ic_mean").rows())
    for h, mean in s.ic_summary.select("horizon", "mean").rows():
        assert decay[h] == pytest.approx(mean, abs=1e-15)
    assert decay[1] > 0.2  # the planted signal shows


def test_summary_has_one_row_per_factor(sheet):
    assert sheet.summary["factor"].to_list() == ["mom", "noise 1/2"]
    assert sheet.summary["horizon"].to_list() == [1, 1]


def test_cumulative_book_compounds_the_daily_spread(sheet):
    s = sheet.section("mom")
    sp = s.spread.filter(pl.col("horizon") == 1).sort("date")
    book = s.cumulative.filter(pl.col("quantile").is_null()).sort("date")
    joined = book.join(sp, on="date", how="left").with_columns(pl.col("spread").fill_null(0.0))
    expected = np.cumprod(1 + joined["spread"].to_numpy()) - 1
    assert np.allclose(joined["cumulative"].to_numpy(), expected, atol=1e-13)


def test_quantile_statistics_independent(frames, sheet):
    s = sheet.section("mom")
    stats = s.quantile_stats
    factors, _ = frames
    assert stats["count"].sum() == factors.height - factors["mom"].null_count()
    overall = factors["mom"].drop_nulls()
    assert stats["min"].min() == overall.min() and stats["max"].max() == overall.max()
    assert stats["count_pct"].sum() == pytest.approx(100.0)
    assert (np.diff(stats["mean"].to_numpy()) > 0).all()  # per-date buckets: means increase


def test_matches_alphalens(frames):
    """Where alphalens computes the same thing (close entry, qcut, one horizon, no gaps)."""
    pd = pytest.importorskip("pandas")
    pytest.importorskip("alphalens")
    from alphalens import performance as perf
    from alphalens import utils as autils

    factors, prices = frames
    sheet = tearsheet(
        factors, "noise 1/2", prices=prices, horizons=(1,), mode="qcut", entry="close"
    )
    s = sheet.section("noise 1/2")
    wide = prices.to_pandas().pivot(index="date", columns="asset", values="close")
    wide.index = pd.DatetimeIndex(wide.index, name="date")
    fac = factors.to_pandas().set_index(["date", "asset"])["noise 1/2"]
    fac.index = fac.index.set_levels(pd.DatetimeIndex(fac.index.levels[0]), level=0)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fd = autils.get_clean_factor_and_forward_returns(
            fac, wide, quantiles=5, periods=(1,), filter_zscore=None, max_loss=1.0
        )
        ic = perf.factor_information_coefficient(fd)["1D"]
        mr, _ = perf.mean_return_by_quantile(fd)
        turn = perf.quantile_turnover(fd["factor_quantile"], 5, 1)
        auto = perf.factor_rank_autocorrelation(fd, 1)
    ours_ic = s.ic.filter(pl.col("ic").is_not_null())
    assert ours_ic.height == ic.size
    assert np.allclose(ours_ic["ic"].to_numpy(), ic.to_numpy(), atol=1e-10)
    assert np.allclose(
        s.quantile_returns["mean_return"].to_numpy(), mr["1D"].to_numpy(), atol=1e-10
    )
    last = s.ic["date"].max()  # alphalens drops the last date (no 1-day return)
    top = s.turnover.filter((pl.col("quantile") == 5) & (pl.col("date") < last)).sort("date")
    got = top["turnover"].fill_null(np.nan).to_numpy()
    assert np.allclose(got, turn.to_numpy(), atol=1e-10, equal_nan=True)
    ac = s.autocorrelation.filter(pl.col("date") < last).sort("date")
    assert np.allclose(
        ac["autocorrelation"].cast(pl.Float64).fill_null(np.nan).to_numpy(),
        auto.to_numpy(),
        atol=1e-10,
        equal_nan=True,
    )


def test_report_has_every_section_figure_and_the_data(sheet, tmp_path):
    pytest.importorskip("matplotlib")
    path = write_tearsheet(sheet, tmp_path)
    text = path.read_text(encoding="utf-8")
    for title in SECTION_TITLES:
        assert text.count(f"<h3>{title}</h3>") == 2, title
    assert "unit-test frames, seed 3" in text
    assert "3,600 rows" in text  # the frames' sizes are stated
    assert "noise 1/2" in text and "Parameters" in text
    pngs = sorted((tmp_path / "figures").glob("*.png"))
    n_fig = len(section_plan(sheet.sections[0]))
    assert len(pngs) == 2 * n_fig == 18
    assert all(p.stat().st_size > 1000 for p in pngs)
    assert not any("/" in p.name[:-4] or " " in p.name for p in pngs)
    assert text.count("data:image/png;base64,") == 18


def test_without_matplotlib_the_report_says_so(sheet, tmp_path, monkeypatch):
    def missing():
        raise ImportError("no matplotlib")

    monkeypatch.setattr(tearsheet_module, "require_matplotlib", missing)
    text = write_tearsheet(sheet, tmp_path).read_text(encoding="utf-8")
    assert html.escape(NO_MATPLOTLIB) in text
    assert "data:image/png" not in text
    assert not (tmp_path / "figures").exists()


def test_safe_stem_sanitizes_and_never_collides():
    a, b = safe_stem("a/b", "pool"), safe_stem("a_b", "pool")
    assert a != b and "/" not in a
    assert not safe_stem("../..", "x").startswith(".")


def test_cli_end_to_end(frames, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    factors, prices = frames
    factors.write_parquet(tmp_path / "f.parquet")
    prices.write_csv(tmp_path / "p.csv")
    out = tmp_path / "out"
    rc = main(
        [
            "tearsheet",
            "--factors",
            str(tmp_path / "f.parquet"),
            "--prices",
            str(tmp_path / "p.csv"),
            "--factor-cols",
            "mom",
            "--horizons",
            "1",
            "3",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    text = (out / "tearsheet.html").read_text(encoding="utf-8")
    assert "f.parquet (3,600 rows)" in text and "p.csv (3,600 rows" in text
    assert len(list((out / "figures").glob("*.png"))) == 9
    assert "mom / all: IC" in capsys.readouterr().out


def test_cli_bad_files_exit_2(frames, tmp_path, capsys):
    factors, prices = frames
    prices.write_csv(tmp_path / "p.csv")
    rc = main(
        [
            "tearsheet",
            "--factors",
            str(tmp_path / "missing.parquet"),
            "--prices",
            str(tmp_path / "p.csv"),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert rc == 2
    assert "missing.parquet` does not exist" in capsys.readouterr().err
    factors.drop("asset").write_parquet(tmp_path / "noasset.parquet")
    rc = main(
        [
            "tearsheet",
            "--factors",
            str(tmp_path / "noasset.parquet"),
            "--prices",
            str(tmp_path / "p.csv"),
            "--factor-cols",
            "mom",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert rc == 2
    assert "asset" in capsys.readouterr().err
