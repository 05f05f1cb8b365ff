"""The northbound strategies report: headline tables (terminal text, markdown, HTML) and a
self-contained ``report.html`` with every figure of :mod:`factorlab.report.strategies_figures`
(figures inlined as base64 PNG, also written to ``figures/*.png``) and a ``summary.md``.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from factorlab._version import __version__
from factorlab.report.figures import figure_png, require_matplotlib
from factorlab.report.html import (
    check_report_folder,
    figure_html,
    finish_report_folder,
    page_head,
)
from factorlab.report.strategies_figures import industry_label, strategy_figure_plan
from factorlab.report.tables import (
    data_sentence,
    estimated_line,
    format_value,
    html_table,
    markdown_table,
)

if TYPE_CHECKING:
    from factorlab.northbound.strategies.run import StrategiesResult

__all__ = ["PART_TITLES", "headline_tables", "write_strategies_report"]

log = logging.getLogger(__name__)

DEFAULT_TITLE = "Northbound strategies (seeds 000 and 004)"
REPORT_FILE = "report.html"
#: Section heading of each part.
PART_TITLES = {
    "quota_band": "Quota-band timing (seed 000)",
    "threshold": "Threshold timing by capital type (seed 004 §2.2-2.3)",
    "portraits": "Participant portraits (seed 004 §1.2-1.3, §2.1)",
    "rotation": "Industry rotation (seed 004 §3.1-3.4)",
    "etf_rotation": "ETF rotation (seed 004 §3.5)",
    "real_data": "Real data (seed 004 §2.2 and seed 000 on CSI 300, public northbound flows)",
}
NO_MATPLOTLIB = (
    "matplotlib is not installed, so this report has no figures; install the plot extra "
    "(pip install 'factorlab[plot]') and write the report again to get them."
)
YI = 1e8
Frames = dict[str, pl.DataFrame]


def _pct(v: float | None) -> str:
    return format_value(v, "fraction_pct")


def _num(v: float | None, digits: int = 2) -> str:
    if v is None or v != v:
        return "n/a"
    return f"{v:,.{digits}f}"


def _yi(v: float | None) -> str:
    return _num(None if v is None else v / YI, 1)


@dataclass(frozen=True)
class Headline:
    """One headline table: its part, caption, and cells as text (``rows``: how many the
    terminal shows; all of them in the HTML)."""

    part: str
    caption: str
    frame: pl.DataFrame
    rows: int | None = None
    #: False: the HTML and markdown only (too wide or long for a terminal)
    terminal: bool = True


def _portrait_types(t: Frames) -> list[Headline]:
    """Table 1 (表1): the split's participants by kind."""
    out: list[Headline] = []
    types = t["types"]
    if types.height:
        last = types.filter(pl.col("effective_from") == types["effective_from"].max())
        out.append(
            Headline(
                "portraits",
                f"Table 1 (表1): participants by kind at the re-classification of "
                f"{last['effective_from'][0]} (turnover: mean daily over the lookback)",
                pl.DataFrame(
                    {
                        "Kind": last["kind"],
                        "Participants": last["participants"].cast(pl.String),
                        "Turnover %/day p25": [_pct(v) for v in last["turnover_p25"]],
                        "p50": [_pct(v) for v in last["turnover_median"]],
                        "p75": [_pct(v) for v in last["turnover_p75"]],
                        "Value 100m yuan mean": [_yi(v) for v in last["value_mean"]],
                        "median": [_yi(v) for v in last["value_median"]],
                        "Stocks mean": [_num(v, 1) for v in last["stocks_mean"]],
                        "median ": [_num(v, 1) for v in last["stocks_median"]],
                    }
                ),
            )
        )
    return out


def _portrait_monthly(t: Frames) -> list[Headline]:
    """Table 2 (表2): turnover by kind and month."""
    out: list[Headline] = []
    monthly = t["monthly"]
    if monthly.height:
        wide = (
            monthly.pivot(
                on="kind",
                index="month",
                values=["turnover_daily", "turnover_monthly", "value_total"],
            )
            .sort("month", descending=True)
            .head(24)
        )

        def col(name: str) -> list[float | None]:
            return wide[name].to_list() if name in wide.columns else [None] * wide.height

        td, ta = col("turnover_daily_trading"), col("turnover_daily_allocation")
        out.append(
            Headline(
                "portraits",
                "Table 2 (表2): turnover by kind, last 24 months (median over participants; "
                "daily: mean daily turnover in the month; monthly: traded value / mean holding "
                "value)",
                pl.DataFrame(
                    {
                        "Month": [str(m)[:7] for m in wide["month"]],
                        "Trading %/day": [_pct(v) for v in td],
                        "Allocation %/day": [_pct(v) for v in ta],
                        "Ratio": [
                            _num(a / b, 1) if a is not None and b else "n/a"
                            for a, b in zip(td, ta, strict=True)
                        ],
                        "Trading %/month": [_pct(v) for v in col("turnover_monthly_trading")],
                        "Allocation %/month": [_pct(v) for v in col("turnover_monthly_allocation")],
                        "Trading value, 100m": [_yi(v) for v in col("value_total_trading")],
                        "Allocation value, 100m": [_yi(v) for v in col("value_total_allocation")],
                    }
                ),
                rows=12,
            )
        )
    return out


def _portrait_flows(s: Frames) -> list[Headline]:
    """图3's cumulative net flow by kind."""
    out: list[Headline] = []
    flows = s["flows"]
    if flows.height:
        end = flows["date"].max()
        start_2y = end - dt.timedelta(days=730)
        recent = flows.filter(pl.col("date") > start_2y)
        rows = []
        for kind in ("trading", "allocation", "unclassified", "total"):
            rows.append(
                {
                    "Kind": "all participants" if kind == "total" else kind,
                    "Net flow, whole sample, 100m yuan": _yi(flows[f"flow_{kind}"].sum()),
                    "Last two years": _yi(recent[f"flow_{kind}"].sum()),
                }
            )
        out.append(
            Headline(
                "portraits",
                f"Cumulative net flow by kind (图3), {flows['date'].min()} .. {end} and "
                f"{recent['date'].min()} .. {end}",
                pl.DataFrame(rows),
            )
        )
    return out


def _portrait_industry(t: Frames) -> list[Headline]:
    """Table 3 (表3): industry weights by kind against market-cap weights."""
    out: list[Headline] = []
    table = t["industry_table"]
    if table.height:
        day = t["industry"]["date"].max()

        def pp(name: str) -> list[str]:
            if name not in table.columns:
                return ["n/a"] * table.height
            return [_pct(v) for v in table[name]]

        out.append(
            Headline(
                "portraits",
                f"Table 3 (表3): industry weights by kind vs market-cap weights on {day}, by "
                "allocation weight (over = weight - market weight, percentage points)",
                pl.DataFrame(
                    {
                        "Industry": [industry_label(n) for n in table["industry"]],
                        "Trading %": pp("weight_trading"),
                        "over": pp("overweight_trading"),
                        "Allocation %": pp("weight_allocation"),
                        "over ": pp("overweight_allocation"),
                        "All %": pp("weight_all"),
                        "Market %": pp("market_weight"),
                        # last: a terminal pads by characters, not by display width
                        "CITIC name": table["industry"],
                    }
                ),
                rows=10,
            )
        )
    return out


def _portrait_coverage(t: Frames) -> list[Headline]:
    """Index coverage (图14-18) on the last month-end."""
    out: list[Headline] = []
    cov = t["coverage"]
    if cov.height:
        last = cov.filter(pl.col("date") == cov["date"].max())
        out.append(
            Headline(
                "portraits",
                f"Index coverage on {last['date'][0]} (图14-18)",
                pl.DataFrame(
                    {
                        "Index": last["index"],
                        "Members": last["members"].cast(pl.String),
                        "Held": last["held"].cast(pl.String),
                        "Held %": [_pct(v) for v in last["held_share"]],
                        "NB value, 100m yuan": [_yi(v) for v in last["nb_value"]],
                        "NB value / index cap %": [_pct(v) for v in last["value_share"]],
                        "Share of NB value %": [_pct(v) for v in last["northbound_share"]],
                    }
                ),
            )
        )
    return out


def _portrait_tables(result: StrategiesResult) -> list[Headline]:
    t, s = result.tables["portraits"], result.series["portraits"]
    return [
        *_portrait_types(t),
        *_portrait_monthly(t),
        *_portrait_flows(s),
        *_portrait_industry(t),
        *_portrait_coverage(t),
    ]


def _stat_cells(frame: pl.DataFrame) -> dict[str, list[str]]:
    """The seed's statistics columns of a rotation stats frame, as text."""

    def col(name: str, kind: str) -> list[str]:
        if name not in frame.columns:
            return ["n/a"] * frame.height
        return [format_value(v, kind) for v in frame[name].to_list()]  # type: ignore[arg-type]

    return {
        "Ann. %": col("annual_return", "fraction_pct"),
        "Sharpe": col("sharpe", "ratio"),
        "Max DD %": col("max_drawdown", "drawdown_pct"),
        "Excess ann. %": col("excess_annual", "fraction_pct"),
        "Excess Sharpe": col("excess_sharpe", "ratio"),
        "Excess max DD %": col("excess_max_drawdown", "drawdown_pct"),
        "vs index ann. %": col("excess_broad_annual", "fraction_pct"),
        "Turnover /yr": col("turnover", "ratio"),
    }


def _books_table(part: str, books: pl.DataFrame, caption: str) -> Headline:
    return Headline(
        part,
        caption,
        pl.DataFrame(
            {
                "Book": books["book"],
                "Costs": ["0.3% round trip" if c else "none" for c in books["costs"]],
                **_stat_cells(books),
            }
        ),
    )


def _rotation_tables(result: StrategiesResult) -> list[Headline]:
    t = result.tables["rotation"]
    out = []
    lay = t["layered_stats"].sort("flow", "group")
    out.append(
        Headline(
            "rotation",
            "Table 9 (表9): layered groups of industries by net inflow (group 1 = highest; "
            "excess vs the equal-weight industries; vs index: vs CSI 800; no costs)",
            pl.DataFrame(
                {"Flow": lay["flow"], "Group": lay["group"].cast(pl.String), **_stat_cells(lay)}
            ),
        )
    )
    out.append(
        _books_table(
            "rotation",
            t["books"],
            "Tables 12-16 (表12-16): the seed's rotations on industry indices (trading: biweekly "
            "TOP-5 on 1-month flows; allocation: 6-weekly TOP-5 skipping the latest month)",
        )
    )
    grid = t["grid"]
    if grid.height:
        best = (
            grid.filter(pl.col("costs"))
            .sort("excess_sharpe", descending=True, nulls_last=True)
            .group_by("flow", maintain_order=True)
            .first()
            .sort("flow")
        )
        out.append(
            Headline(
                "rotation",
                f"Tables 10-11 (表10-11): the grid ({grid.height} books: TOP-N x rebalance x "
                "lookback x flow, with and without costs), best book per flow by excess Sharpe "
                "with costs",
                pl.DataFrame(
                    {
                        "Flow": best["flow"],
                        "Lookback": best["lookback"].cast(pl.String),
                        "Skip": best["skip"].cast(pl.String),
                        "Rebalance wk": best["rebalance"].cast(pl.String),
                        "TOP": best["top"].cast(pl.String),
                        **_stat_cells(best),
                    }
                ),
            )
        )
        wide = (
            grid.filter(pl.col("costs"))
            .with_columns(col=pl.format("{} wk TOP-{}", "rebalance", "top"))
            .sort("rebalance", "top")
            .pivot(on="col", index=["flow", "lookback", "skip"], values="excess_sharpe")
            .sort("flow", "lookback", "skip")
        )
        out.append(
            Headline(
                "rotation",
                "The whole grid: excess Sharpe with costs by flow, lookback (sessions) and skip "
                "(rows) x rebalance and TOP-N (columns)",
                wide.select(
                    pl.col("flow").alias("Flow"),
                    pl.col("lookback").cast(pl.String).alias("Lookback"),
                    pl.col("skip").cast(pl.String).alias("Skip"),
                    *[
                        pl.col(c).map_elements(lambda v: format_value(v, "ratio"), pl.String)
                        for c in wide.columns[3:]
                    ],
                ),
                terminal=False,
            )
        )
    return out


def _etf_tables(result: StrategiesResult) -> list[Headline]:
    t = result.tables["etf_rotation"]
    etfs = t["etfs"]
    return [
        _books_table(
            "etf_rotation",
            t["books"],
            "Table 18 (表18): the seed's rotations on one ETF per industry (excess vs the "
            "equal-weight ETFs)",
        ),
        Headline(
            "etf_rotation",
            f"The ETFs held ({etfs.height} industries; the reference table: "
            "factorlab.etf.industry_etfs)",
            pl.DataFrame(
                {
                    "ETF": etfs["etf"],
                    "Industry": [industry_label(n) for n in etfs["industry"]],
                    "CITIC name": etfs["industry"],
                }
            ),
            terminal=False,
        ),
    ]


def _timing_cells(frame: pl.DataFrame) -> dict[str, list[str]]:
    """The seed's timing statistics (表4-7 layout) of a :func:`timing_statistics` frame."""

    def col(name: str, kind: str) -> list[str]:
        return [format_value(v, kind) for v in frame[name].to_list()]  # type: ignore[arg-type]

    return {
        "Ann. %": col("annual_return", "fraction_pct"),
        "Index ann. %": col("benchmark_annual", "fraction_pct"),
        "Excess %": col("annual_excess", "fraction_pct"),
        "Sharpe": col("sharpe", "ratio"),
        "Max DD %": col("max_drawdown", "drawdown_pct"),
        "Signals": [str(v) for v in frame["signals"].to_list()],
        "Win %": col("win_rate", "fraction_pct"),
        "P/L": col("profit_loss", "ratio"),
    }


def _quota_tables(result: StrategiesResult) -> list[Headline]:
    stats = result.tables["quota_band"]["stats"].sort("version", descending=True)
    return [
        Headline(
            "quota_band",
            "Seed 000's quota-band timing: the stock book (top 15 by holding ratio, costs "
            "0.03% a side, min 5 yuan, 0.1% stamp duty) and the index version, per sample "
            "(in: 2017-2022) before (gross) and after (net) costs",
            pl.DataFrame(
                {
                    "Version": stats["version"],
                    "Sample": stats["sample"],
                    "Costs": stats["costs"],
                    **_timing_cells(stats),
                }
            ),
        )
    ]


def _threshold_tables(result: StrategiesResult) -> list[Headline]:
    books = result.tables["threshold"]["books"]
    cells = _timing_cells
    out = []
    main = books.filter((pl.col("flow") == "all") & pl.col("sample").is_in(["in", "out"])).sort(
        "index", "book", "sample", "costs"
    )
    out.append(
        Headline(
            "threshold",
            "Tables 4-5 (表4-5): threshold timing on all flows at the in-sample best (N, M), "
            "in and out of sample, before (gross) and after (net) ~0.3% round-trip costs",
            pl.DataFrame(
                {
                    "Index": main["index"],
                    "Book": main["book"],
                    "N": main["n"].cast(pl.String),
                    "M": [f"{m:g}" for m in main["m"]],
                    "Sample": main["sample"],
                    "Costs": main["costs"],
                    **cells(main),
                }
            ),
        )
    )
    typed = books.filter(pl.col("sample").is_in(["in", "out"]) & (pl.col("costs") == "net"))
    typed = typed.sort("index", "book", "flow", "sample")
    out.append(
        Headline(
            "threshold",
            "Tables 6-7 (表6-7): threshold timing by capital type at each one's in-sample best "
            "(N, M), net of costs (seed 004, CSI 300 in sample: trading win 81.8%, allocation "
            "58.8%, all 49.1%)",
            pl.DataFrame(
                {
                    "Index": typed["index"],
                    "Book": typed["book"],
                    "Flow": typed["flow"],
                    "N": typed["n"].cast(pl.String),
                    "M": [f"{m:g}" for m in typed["m"]],
                    "Sample": typed["sample"],
                    **cells(typed),
                }
            ),
        )
    )
    return out


def _real_tables(result: StrategiesResult) -> list[Headline]:
    t = result.tables["real_data"]
    claims = t["claims"].sort("index", "sample", "costs")
    books = t["books"].filter(pl.col("sample").is_in(["in", "out"])).sort("book", "sample", "costs")
    quota = t["quota_stats"].filter(pl.col("sample").is_in(["in", "out"]))
    note = t["notes"].filter(pl.col("step") == "not public")["detail"].to_list()
    out = [
        Headline(
            "real_data",
            "What real data cannot show",
            pl.DataFrame({"Note": note or ["n/a"]}),
        )
    ]
    if claims.height:
        out.append(
            Headline(
                "real_data",
                "Real data against the seed's claims: all-flow long-only timing at the in-sample "
                "best (N, M), in sample (2017-2022) and out of sample",
                pl.DataFrame(
                    {
                        "Index": claims["index"],
                        "Sample": claims["sample"],
                        "Costs": claims["costs"],
                        "N": claims["n"].cast(pl.String),
                        "M": [f"{m:g}" for m in claims["m"]],
                        "Ann. %": [_pct(v) for v in claims["annual_return"]],
                        "Sharpe": [_num(v) for v in claims["sharpe"]],
                        "Seed ann. % (in)": [_pct(v) for v in claims["seed_annual_in_sample"]],
                        "Seed Sharpe (in)": [_num(v) for v in claims["seed_sharpe_in_sample"]],
                    }
                ),
            )
        )
    out.append(
        Headline(
            "real_data",
            "Real data: threshold timing on CSI 300, all northbound flows (表4-5 layout)",
            pl.DataFrame(
                {
                    "Book": books["book"],
                    "N": books["n"].cast(pl.String),
                    "M": [f"{m:g}" for m in books["m"]],
                    "Sample": books["sample"],
                    "Costs": books["costs"],
                    **_timing_cells(books),
                }
            ),
        )
    )
    out.append(
        Headline(
            "real_data",
            "Real data: seed 000's quota band, index version on CSI 300 (mf: quota used where "
            "the source's figure means it, else net buy, detected per day)",
            pl.DataFrame(
                {"Sample": quota["sample"], "Costs": quota["costs"], **_timing_cells(quota)}
            ),
        )
    )
    return out


_TABLES: dict[str, Callable[[StrategiesResult], list[Headline]]] = {
    "quota_band": _quota_tables,
    "threshold": _threshold_tables,
    "portraits": _portrait_tables,
    "rotation": _rotation_tables,
    "etf_rotation": _etf_tables,
    "real_data": _real_tables,
}


def headline_tables(result: StrategiesResult) -> list[Headline]:
    """The headline tables of every part that ran, in report order (cells as text)."""
    out: list[Headline] = []
    for part in result.parts:
        make = _TABLES.get(part)
        if make is not None:
            out += make(result)
    return out


@dataclass(frozen=True)
class _Drawn:
    part: str
    name: str
    caption: str
    png: bytes | None
    error: str | None = None


def _draw(result: StrategiesResult, fig_dir: Path, dpi: int, say) -> list[_Drawn]:
    fig_dir.mkdir(parents=True, exist_ok=True)
    drawn = []
    for part, name, caption, draw in strategy_figure_plan(result):
        stem = f"{part}_{name}"
        try:
            png = figure_png(draw(), dpi=dpi)
        except Exception as exc:  # one bad figure must not cost the rest of the report
            log.warning("figure %s could not be drawn (%s: %s)", stem, type(exc).__name__, exc)
            drawn.append(_Drawn(part, stem, caption, None, f"{type(exc).__name__}: {exc}"))
            continue
        (fig_dir / f"{stem}.png").write_bytes(png)
        drawn.append(_Drawn(part, stem, caption, png))
        say(f"figure {stem}")
    return drawn


def _seconds_frame(seconds: dict[str, float]) -> pl.DataFrame:
    stages = list(seconds)
    return pl.DataFrame(
        {
            "Stage": [*stages, "total"],
            "Seconds": [f"{seconds[s]:.2f}" for s in stages] + [f"{sum(seconds.values()):.2f}"],
        }
    )


def _params_frame(result: StrategiesResult) -> pl.DataFrame:
    rows = []
    for part in result.parts:
        params = result.tables.get(part, {}).get("params")
        if params is not None:
            rows += [(part, p, v) for p, v in params.iter_rows()]
    return pl.DataFrame(
        rows, schema={"Part": pl.String, "Parameter": pl.String, "Value": pl.String}, orient="row"
    )


def _notes_frame(result: StrategiesResult) -> pl.DataFrame:
    frames = []
    for part in result.parts:
        notes = result.tables.get(part, {}).get("notes")
        if notes is not None and notes.height:
            frames.append(notes.select(pl.lit(part).alias("Part"), pl.all().cast(pl.String)))
    if not frames:
        return pl.DataFrame(schema={"Part": pl.String})
    return pl.concat(frames, how="diagonal_relaxed")


def _figure_html(d: _Drawn) -> str:
    return figure_html(d.name, d.caption, d.png, error=d.error, file=f"figures/{d.name}.png")


def _html(result: StrategiesResult, title: str, drawn: list[_Drawn], note: str | None) -> str:
    e = html.escape
    parts = [
        *page_head(title),
        f'<p class="sub">{e(data_sentence(result))}.</p>',
        f'<p class="sub">Parts: {e(", ".join(result.parts))}. factorlab {e(__version__)}, '
        f"written {dt.datetime.now().strftime('%Y-%m-%d %H:%M')}.</p>",
    ]
    if estimated_line(result):
        parts.append(f'<p class="note">{e(estimated_line(result) or "")}</p>')
    if note:
        parts.append(f'<p class="note">{e(note)}</p>')
    tables = headline_tables(result)
    for part in result.parts:
        parts.append(f'<h2 id="{e(part)}">{e(PART_TITLES.get(part, part))}</h2>')
        for t in (t for t in tables if t.part == part):
            parts.append(f"<h3>{e(t.caption)}</h3><div class='scroll'>{html_table(t.frame)}</div>")
        parts += [_figure_html(d) for d in drawn if d.part == part]
    parts.append("<h2>Parameters</h2>")
    parts.append(f"<div class='scroll'>{html_table(_params_frame(result))}</div>")
    parts.append("<h2>Run time per stage</h2>")
    parts.append(html_table(_seconds_frame(result.seconds)))
    parts.append("<h2>Notes: rows left out and why</h2>")
    parts.append(f"<div class='scroll'>{html_table(_notes_frame(result))}</div>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _markdown(result: StrategiesResult, title: str, drawn: list[_Drawn], note: str | None) -> str:
    lines = [f"# {title}", "", f"{data_sentence(result)}; factorlab {__version__}.", ""]
    if estimated_line(result):
        lines += [f"**{estimated_line(result)}**", ""]
    if note:
        lines += [note, ""]
    tables = headline_tables(result)
    for part in result.parts:
        lines += [f"## {PART_TITLES.get(part, part)}", ""]
        for t in (t for t in tables if t.part == part):
            lines += [f"**{t.caption}**", "", markdown_table(t.frame), ""]
        for d in (d for d in drawn if d.part == part):
            if d.png is None:
                lines += [f"- {d.name}: could not be drawn ({d.error})."]
            else:
                lines += [f"- [{d.name}](figures/{d.name}.png): {d.caption}"]
        lines.append("")
    lines += ["## Run time per stage", "", markdown_table(_seconds_frame(result.seconds)), ""]
    return "\n".join(lines)


def write_strategies_report(
    result: StrategiesResult,
    out_dir: str | Path,
    *,
    title: str | None = None,
    dpi: int = 90,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Write the strategies report to `out_dir`: ``report.html`` (self-contained: the data
    it ran on, per part its headline tables and figures, parameters, run times and notes),
    ``summary.md`` and ``figures/*.png``.

    `out_dir` must be new, empty or a factorlab report folder (its previous files are replaced,
    figures not drawn again removed); any other folder is refused unless `force`
    (:func:`factorlab.report.html.check_report_folder`). Without matplotlib the documents are
    written without figures and say so. Returns the path of ``report.html``.
    """
    out = Path(out_dir)
    previous = check_report_folder(out, force)
    out.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda msg: log.info(msg))
    heading = title or DEFAULT_TITLE
    note = None
    try:
        require_matplotlib()
    except ImportError:
        log.warning("figures skipped: %s", NO_MATPLOTLIB)
        note, drawn = NO_MATPLOTLIB, []
    else:
        drawn = _draw(result, out / "figures", dpi, say)
    path = out / REPORT_FILE
    path.write_text(_html(result, heading, drawn, note), encoding="utf-8")
    (out / "summary.md").write_text(_markdown(result, heading, drawn, note), encoding="utf-8")
    files = {REPORT_FILE, "summary.md"} | {
        f"figures/{d.name}.png" for d in drawn if d.png is not None
    }
    finish_report_folder(out, previous, files)
    return path
