"""The study report: table formatting, figures, the HTML + markdown folder, and the path without
matplotlib. The StudyResult is built by hand (3 factors x 2 pools x 200 days), not by the study.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from factorlab.errors import ParameterError
from factorlab.northbound.study import StudyParams, StudyResult
from factorlab.report import (
    correlation_clusters,
    format_markdown,
    format_table,
    format_value,
    handbook_table,
    key_findings,
    write_report,
)
from factorlab.report import html as report_html

FACTORS = ("nb_hold_value", "nb_trade_amount20", "nb_short_inflow")
POOLS = ("csi300", "csi500")
N_DAYS = 200
# the first row's numbers, chosen so the handbook formatting is checkable by eye
FIRST_ROW = {
    "long_excess_ann": 0.07531,
    "long_excess_sharpe": 0.5812,
    "long_excess_mdd": -0.06,
    "coverage_pct": 99.333,
    "rank_ic_mean_pct": 2.114,
    "turnover_pct": 3.1749,
}
STAT_COLUMNS = (
    "long_excess_ann",
    "long_excess_sharpe",
    "long_excess_mdd",
    "long_excess_ann_net",
    "long_excess_sharpe_net",
    "long_excess_mdd_net",
    "long_short_ann",
    "long_short_sharpe",
    "long_short_mdd",
    "long_short_ann_net",
    "long_short_sharpe_net",
    "long_short_mdd_net",
    "coverage_pct",
    "rank_ic_mean_pct",
    "rank_ic_ir",
    "rank_ic_t",
    "turnover_pct",
)


def _study_result(seed: int = 7) -> StudyResult:
    rng = np.random.default_rng(seed)
    dates = [dt.date(2020, 1, 1) + dt.timedelta(days=i) for i in range(N_DAYS)]
    signal_dates = dates[::5]
    daily_parts, rows, ic_parts, cov_parts = [], [], [], []
    for pool in POOLS:
        bench = rng.normal(0.0003, 0.01, N_DAYS)
        for k, factor in enumerate(FACTORS):
            long = bench + rng.normal(0.0002 * (k + 1), 0.004, N_DAYS)
            short = bench + rng.normal(-0.0001, 0.004, N_DAYS)
            cost = np.where(np.arange(N_DAYS) % 5 == 0, 0.0005, 0.0)
            daily_parts.append(
                pl.DataFrame(
                    {
                        "date": dates,
                        "factor": factor,
                        "pool": pool,
                        "long": long,
                        "long_net": long - cost,
                        "short": short,
                        "bench": bench,
                        "excess": long - bench,
                        "excess_net": long - cost - bench,
                        "long_short": long - short,
                        "long_short_net": long - short - 2 * cost,
                    }
                )
            )
            row = {"factor": factor, "pool": pool}
            row |= {c: float(rng.normal(0.5, 0.3)) for c in STAT_COLUMNS}
            row["coverage_pct"] = float(rng.uniform(80.0, 100.0))
            row["periods"] = 40
            rows.append(row)
            ic = rng.normal(0.02, 0.1, len(signal_dates))
            ic[3] = np.nan
            ic_parts.append(
                pl.DataFrame({"pool": pool, "date": signal_dates, "factor": factor, "ic": ic})
            )
            cov_parts.append(
                pl.DataFrame(
                    {
                        "pool": pool,
                        "date": signal_dates,
                        "factor": factor,
                        "coverage": rng.uniform(0.8, 1.0, len(signal_dates)),
                    }
                )
            )
    rows[0] |= FIRST_ROW
    rows[1]["long_short_sharpe"] = math.nan  # written n/a
    rows[1]["rank_ic_ir"] = None
    daily = pl.concat(daily_parts)
    ic = pl.concat(ic_parts).with_columns(pl.col("ic").fill_nan(None))
    correlation = {}
    for pool in POOLS:
        wide = daily.filter(pl.col("pool") == pool).pivot(
            on="factor", index="date", values="long_short"
        )
        c = np.corrcoef(wide.select(FACTORS).to_numpy(), rowvar=False)
        correlation[pool] = pl.DataFrame(
            {"factor": list(FACTORS), **{f: c[:, i] for i, f in enumerate(FACTORS)}}
        )
    notes = pl.DataFrame(
        {
            "step": ["drop HK-calendar repeat rows (mainland holidays)", "publication lag"],
            "rows": [12, 3400],
            "detail": ["3 dates", "data of t is published after t's close"],
            "source": ["hygiene", "hygiene"],
        }
    )
    return StudyResult(
        table=pl.DataFrame(rows),
        correlation=correlation,
        daily=daily,
        ic=ic,
        coverage=pl.concat(cov_parts),
        notes=notes,
        scores=pl.DataFrame(
            {"pool": "csi300", "date": signal_dates[:1], "asset": "600519.SH"}
            | {f: [0.0] for f in FACTORS}
        ),
        params=StudyParams(factors=FACTORS, pools=POOLS),
        seconds={"hygiene": 1.25, "factors": 0.5, "portfolios": 2.0},
    )


@pytest.fixture(scope="module")
def result() -> StudyResult:
    return _study_result()


@pytest.fixture(scope="module")
def report_dir(result: StudyResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("matplotlib")
    out = tmp_path_factory.mktemp("report")
    path = write_report(result, out, title="Test study", dpi=40)
    assert path == out / "report.html"
    return out


def _markdown_rows(md: str) -> list[list[str]]:
    """Body rows of the handbook table in summary.md."""
    section = md.split("## Handbook table", 1)[1].split("\n## ", 1)[0]
    lines = [ln for ln in section.splitlines() if ln.startswith("|")]
    return [[c.strip() for c in ln.strip("|").split("|")] for ln in lines[2:]]


# --- tables ----------------------------------------------------------------------------------


def test_format_value_follows_the_handbook() -> None:
    assert format_value(0.07531, "fraction_pct") == "7.53"
    assert format_value(-0.06, "drawdown_pct") == "6.00"
    assert format_value(99.333, "pct") == "99.33"
    assert format_value(0.5812, "ratio") == "0.58"
    assert format_value(-0.00001, "fraction_pct") == "0.00"
    assert format_value(float("nan"), "ratio") == "n/a"
    assert format_value(None, "pct") == "n/a"
    assert format_value(float("inf"), "ratio") == "inf"
    assert format_value(378, "count") == "378"


def test_handbook_table_columns_and_net_switch(result: StudyResult) -> None:
    full = handbook_table(result)
    gross = handbook_table(result, net=False)
    assert full.columns[:2] == ["Factor", "Pool"]
    assert len(full.columns) == 2 + len(STAT_COLUMNS) + 1
    assert "Excess Sharpe net" in full.columns and "Excess Sharpe net" not in gross.columns
    assert len(gross.columns) == len(full.columns) - 6
    assert full.height == len(FACTORS) * len(POOLS)


def test_format_table_is_aligned_plain_text(result: StudyResult) -> None:
    text = format_table(result, wide=True)
    lines = text.splitlines()
    assert len(lines) == 2 + len(FACTORS) * len(POOLS)
    assert set(lines[1].replace(" ", "")) == {"-"}
    first = lines[2].split()
    assert first[:5] == ["nb_hold_value", "csi300", "7.53", "0.58", "6.00"]
    assert "n/a" in lines[3]
    assert max(len(ln) for ln in lines) > 200  # every column


def _body(text: str) -> list[list[str]]:
    """Rows of a text table below its dashed rule."""
    lines = text.splitlines()
    rule = next(i for i, ln in enumerate(lines) if set(ln.replace(" ", "")) == {"-"})
    return [ln.split() for ln in lines[rule + 1 :]]


def test_terminal_table_fits_120_columns_with_the_key_columns(result: StudyResult) -> None:
    text = format_table(result)
    assert max(len(ln) for ln in text.splitlines()) <= 120
    rows = _body(text)
    assert len(rows) == len(FACTORS) * len(POOLS)
    # key columns in order: excess ann, Sharpe, ann net, Sharpe net, L/S ann, L/S Sharpe,
    # coverage, rank IC %, IC t, turnover
    assert rows[0][:4] == ["nb_hold_value", "csi300", "7.53", "0.58"]
    assert (rows[0][8], rows[0][9], rows[0][11]) == ("99.33", "2.11", "3.17")
    assert rows[1][7] == "n/a"  # the NaN long-short Sharpe
    header = " ".join(text.splitlines()[:4])
    assert "max DD" not in header and "Periods" not in header
    # long user factor names are shortened to keep the width
    long = result.table.with_columns(
        factor=pl.col("factor") + "_with_a_very_long_name_that_goes_on_and_on_forever"
    )
    narrow = format_table(long)
    assert max(len(ln) for ln in narrow.splitlines()) <= 120
    assert "~" in narrow and format_table(long, wide=True).count("forever") == 6


def _with_user_factor(result: StudyResult) -> StudyResult:
    from factorlab.northbound.study import UserFactor

    users = (UserFactor("nb_short_inflow", "column", "column `x` of a user frame (9 rows)", "d"),)
    return dataclasses.replace(
        result,
        params=dataclasses.replace(result.params, user_factors=users),
        data={
            "source": "factorlab synthetic market",
            "preset": "small",
            "seed": "20240816",
            "content_hash": "ab" * 32,
            "path": "/data/small",
        },
    )


def test_user_factors_are_marked_with_their_definition(tmp_path: Path, result) -> None:
    marked = _with_user_factor(result)
    table = handbook_table(marked)
    assert table["Factor"].to_list()[2] == "nb_short_inflow*"
    assert table["Factor"].to_list()[0] == "nb_hold_value"
    page = write_report(marked, tmp_path).read_text(encoding="utf-8")
    md = (tmp_path / "summary.md").read_text(encoding="utf-8")
    for doc in (page, md):
        assert "User factors" in doc and "column `x` of a user frame (9 rows)" in doc
        assert "factorlab synthetic market, preset small, seed 20240816" in doc
        assert "content hash abababababababab" in doc and "/data/small" in doc
        # the stamp duty in words, not `stamp_duty=None`
        assert "stamp_duty=None" not in doc
        assert "0.1% before 2023-08-28 and 0.05% from then" in doc
        assert "user_factors" not in doc


def test_report_refuses_a_foreign_folder_and_rewrites_its_own(tmp_path: Path, result) -> None:
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep")
    with pytest.raises(ParameterError, match=r"holds files factorlab did not write.*notes.txt"):
        write_report(result, foreign)
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]
    write_report(result, foreign, force=True)
    assert (foreign / "notes.txt").read_text() == "keep" and (foreign / "report.html").is_file()
    ours = tmp_path / "ours"
    write_report(result, ours)
    (ours / "figures").mkdir(exist_ok=True)
    stale = ours / "figures" / "cumulative_csi999.png"
    stale.write_bytes(b"old")
    marker = json.loads((ours / report_html.REPORT_MARKER).read_text())
    marker["files"].append("figures/cumulative_csi999.png")
    (ours / report_html.REPORT_MARKER).write_text(json.dumps(marker))
    write_report(result, ours)  # our own folder: rewritten, the stale figure removed
    assert not stale.exists()


def test_markdown_table_has_one_row_per_factor_and_pool(result: StudyResult) -> None:
    md = format_markdown(result)
    rows = [ln for ln in md.splitlines()[2:]]
    assert len(rows) == len(FACTORS) * len(POOLS)
    assert md.splitlines()[1].startswith("|:---|:---|---:")


def test_correlation_clusters_use_absolute_correlation() -> None:
    c = pl.DataFrame(
        {
            "factor": ["a", "b", "c", "d"],
            "a": [1.0, -0.8, 0.1, 0.0],
            "b": [-0.8, 1.0, 0.2, None],
            "c": [0.1, 0.2, 1.0, 0.75],
            "d": [0.0, None, 0.75, 1.0],
        }
    )
    assert correlation_clusters(c) == [["a", "b"], ["c", "d"]]
    assert correlation_clusters(c, threshold=0.9) == []


def test_key_findings_rank_and_flag(result: StudyResult) -> None:
    table = result.table
    lines = key_findings(result, recommended=("nb_hold_value", "nb_trade_amount20"))
    for pool in POOLS:
        t = table.filter(pl.col("pool") == pool).sort("long_excess_sharpe", descending=True)
        best = next(ln for ln in lines if ln.startswith(f"{pool}: best long excess"))
        assert best.split(": ", 2)[2].startswith(t["factor"][0])
        assert any(
            ln.startswith(f"{pool}: handbook-recommended factors (2 tested)") for ln in lines
        )
    low = result.table.with_columns(
        coverage_pct=pl.when(pl.col("factor") == "nb_short_inflow").then(10.0).otherwise(99.0)
    )
    flagged = key_findings(dataclasses.replace(result, table=low), recommended=())
    assert any("not testable" in ln and "nb_short_inflow" in ln for ln in flagged)


# --- figures ---------------------------------------------------------------------------------


def test_figures_return_figures_with_expected_axes(result: StudyResult) -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    from factorlab.report import figures

    cases = {
        "cumulative": (figures.cumulative_returns(result.daily, "csi300"), 2),
        "cumulative_net": (figures.cumulative_returns(result.daily, "csi500", net=True), 2),
        "ic_bars": (figures.ic_bars(result.table), len(POOLS)),
        "rolling_ic": (figures.rolling_ic(result.ic, window=8), len(FACTORS)),
        "quantile_returns": (figures.quantile_returns(result.daily), len(POOLS)),
        # one heatmap per pool plus the shared colour bar
        "correlation": (figures.correlation_heatmap(result.correlation), len(POOLS) + 1),
        "coverage": (figures.coverage_over_time(result.coverage), len(POOLS)),
    }
    for name, (fig, n_axes) in cases.items():
        assert isinstance(fig, Figure), name
        assert len(fig.axes) == n_axes, name
    lines = cases["cumulative"][0].axes[0].get_lines()
    assert {ln.get_label() for ln in lines} >= set(FACTORS)
    # the curve is the compounded daily excess return, in percent
    ours = next(ln for ln in lines if ln.get_label() == "nb_hold_value").get_ydata()
    r = result.daily.filter((pl.col("pool") == "csi300") & (pl.col("factor") == "nb_hold_value"))
    np.testing.assert_allclose(ours, 100 * (np.cumprod(1 + r["excess"].to_numpy()) - 1))
    png = figures.figure_png(cases["ic_bars"][0], dpi=30)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_quantile_bars_are_annual_returns(result: StudyResult) -> None:
    pytest.importorskip("matplotlib")
    from factorlab.evaluate.metrics import annual_return
    from factorlab.report.figures import quantile_returns

    fig = quantile_returns(result.daily, factors=FACTORS, pools=POOLS)
    ax = fig.axes[0]  # csi300; bars of the top leg come first, one per factor
    widths = [p.get_width() for p in ax.patches[: len(FACTORS)]]
    expected = [
        100
        * annual_return(
            result.daily.filter((pl.col("pool") == "csi300") & (pl.col("factor") == f))["long"]
        )
        for f in FACTORS
    ]
    np.testing.assert_allclose(widths, expected, rtol=1e-10)


def test_importing_the_report_does_not_import_matplotlib() -> None:
    code = "import sys, factorlab.report; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# --- the report folder -----------------------------------------------------------------------


def test_report_files_exist(report_dir: Path, result: StudyResult) -> None:
    assert (report_dir / "report.html").is_file()
    assert (report_dir / "summary.md").is_file()
    pngs = sorted(p.stem for p in (report_dir / "figures").glob("*.png"))
    assert pngs == sorted(
        [f"cumulative_{p}" for p in POOLS]
        + ["ic_bars", "rolling_ic", "quantile_returns", "correlation", "coverage"]
    )


def test_html_is_self_contained(report_dir: Path, result: StudyResult) -> None:
    page = (report_dir / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    for name in (*FACTORS, *POOLS):
        assert name in page
    assert page.count('src="data:image/png;base64,') == len(POOLS) + 5
    assert "<img" in page and 'src="figures/' not in page  # nothing to load from disk
    assert "Test study" in page
    assert "drop HK-calendar repeat rows" in page  # hygiene notes
    assert "next_vwap" in page  # parameters
    assert "portfolios" in page and "3.75" in page  # stage times and their total
    assert "could not be drawn" not in page


def test_markdown_summary_numbers(report_dir: Path) -> None:
    md = (report_dir / "summary.md").read_text(encoding="utf-8")
    rows = _markdown_rows(md)
    assert len(rows) == len(FACTORS) * len(POOLS)
    assert {(r[0], r[1]) for r in rows} == {(f, p) for f in FACTORS for p in POOLS}
    header = md.split("## Handbook table", 1)[1].split("\n")[2]
    cols = [c.strip() for c in header.strip("|").split("|")]
    first = dict(zip(cols, rows[0], strict=True))
    assert (first["Factor"], first["Pool"]) == ("nb_hold_value", "csi300")
    assert first["Excess ann. %"] == "7.53"
    assert first["Excess Sharpe"] == "0.58"
    assert first["Excess max DD %"] == "6.00"
    assert first["Coverage %"] == "99.33"
    assert first["Rank IC %"] == "2.11"
    assert first["Turnover %"] == "3.17"
    assert first["Periods"] == "40"
    second = dict(zip(cols, rows[1], strict=True))
    assert second["L/S Sharpe"] == "n/a" and second["IC IR"] == "n/a"
    assert "## Key findings" in md and "handbook-recommended factors (2 tested)" in md
    assert "figures/ic_bars.png" in md


def test_report_without_matplotlib(
    result: StudyResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now fails
    from factorlab.report.figures import ic_bars

    with pytest.raises(ImportError, match=r"factorlab\[plot\]"):
        ic_bars(result.table)
    path = write_report(result, tmp_path)
    page = path.read_text(encoding="utf-8")
    md = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "matplotlib is not installed" in page and "matplotlib is not installed" in md
    assert "data:image/png" not in page
    assert not (tmp_path / "figures").exists()
    assert len(_markdown_rows(md)) == len(FACTORS) * len(POOLS)
    for name in (*FACTORS, *POOLS):
        assert name in page


def test_a_failing_figure_leaves_a_note(
    result: StudyResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("matplotlib")

    def boom():
        raise ValueError("no good")

    monkeypatch.setattr(report_html, "figure_plan", lambda r: [("broken", "a figure", boom)])
    page = write_report(result, tmp_path).read_text(encoding="utf-8")
    assert "Figure broken could not be drawn (ValueError: no good)" in page
