"""Write a study's report to a folder: a self-contained ``report.html`` (tables, figures embedded
as base64 PNG, parameters, run times, data-hygiene notes), ``summary.md`` and ``figures/*.png``.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import html
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from factorlab._version import __version__
from factorlab.errors import ParameterError
from factorlab.report.figures import figure_plan, figure_png, require_matplotlib
from factorlab.report.handbook import beside_handbook_frame, period_frame, yearly_frame
from factorlab.report.tables import (
    USER_MARK,
    data_sentence,
    estimated_line,
    handbook_table,
    html_table,
    key_findings,
    markdown_table,
    user_factors,
)

if TYPE_CHECKING:
    from factorlab.northbound.study import StudyResult

__all__ = [
    "REPORT_CSS",
    "REPORT_MARKER",
    "check_report_folder",
    "costs_text",
    "figure_html",
    "finish_report_folder",
    "handbook_recommended",
    "page_head",
    "write_report",
]

log = logging.getLogger(__name__)

DEFAULT_TITLE = "Northbound factor study"
#: The file that marks a folder as a factorlab report (and lists the files written into it).
REPORT_MARKER = ".factorlab-report.json"
_REPORT_FILES = frozenset({"report.html", "summary.md", "figures", REPORT_MARKER})
NO_MATPLOTLIB = (
    "matplotlib is not installed, so this report has no figures; install the plot extra "
    "(pip install 'factorlab[plot]') and write the report again to get them."
)

#: The stylesheet of the HTML reports (study, strategies).
REPORT_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px auto;
       max-width: 1500px; padding: 0 16px; color: #1a202c; line-height: 1.45; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #cbd5e0; padding-bottom: 4px;
       margin-top: 2em; } .sub { color: #4a5568; margin-top: 0; }
.scroll { overflow-x: auto; }
table.table { border-collapse: collapse; font-size: 12px; margin: 8px 0 16px; }
table.table th { background: #edf2f7; position: sticky; top: 0; text-align: center;
       padding: 4px 6px; border-bottom: 1px solid #a0aec0; }
table.table td { padding: 3px 6px; border-bottom: 1px solid #e2e8f0; white-space: nowrap; }
table.table tr:nth-child(even) td { background: #f7fafc; }
td.num { text-align: right; font-variant-numeric: tabular-nums; } td.neg { color: #c53030; }
td.txt { text-align: left; }
figure { margin: 16px 0 28px; } figure img { max-width: 100%; border: 1px solid #e2e8f0; }
figcaption { color: #4a5568; font-size: 13px; }
.note { background: #fffaf0; border-left: 4px solid #dd6b20; padding: 8px 12px; }
dl.glossary dt { font-weight: 600; float: left; clear: left; width: 150px; }
dl.glossary dd { margin-left: 160px; }
"""

_GLOSSARY = (
    ("Excess", "long leg (top fraction by factor) minus the pool benchmark, daily."),
    ("L/S", "long-short: top fraction minus bottom fraction, daily."),
    ("ann. %", "geometric annual return in percent."),
    ("max DD %", "size of the maximum drawdown in percent."),
    ("net", "after trading costs (commission, minimum per order, stamp duty, slippage)."),
    (
        "Coverage %",
        "mean share of the pool with a factor value (held by northbound money) on the signal "
        "dates with data.",
    ),
    ("Long Sharpe", "the long leg's own Sharpe, over the risk-free rate (risk_free)."),
    ("Rank IC %", "mean weekly rank IC (Spearman) of the factor with the next holding period."),
    ("IC IR / IC t", "mean / std of the weekly rank IC, and that times sqrt(periods)."),
    ("Turnover %", "mean one-way turnover of the long leg per rebalance."),
    ("Periods", "number of rebalances."),
)


@dataclass(frozen=True)
class _Drawn:
    name: str
    caption: str
    png: bytes | None
    error: str | None = None


def handbook_recommended() -> tuple[str, ...]:
    """The handbook's recommended factors (whose key findings the report and terminal print)."""
    # imported here: the report package sits below the northbound module
    from factorlab.northbound.factors import HANDBOOK_RECOMMENDED

    return HANDBOOK_RECOMMENDED


def _recommended_line(recommended: Sequence[str]) -> str:
    """The line naming `recommended` with their handbook numbers (:func:`handbook_numbers`)."""
    from factorlab.northbound.factors import handbook_numbers

    return (
        f"Handbook-recommended factors ({handbook_numbers(recommended)}): {', '.join(recommended)}."
    )


def _sharpe_caveat(result: StudyResult) -> str:
    """Which risk-free convention each Sharpe of the "Beside the handbook" page uses."""
    p = result.params
    mine = (
        f"over risk_free = {100 * p.risk_free:g}% (excess_risk_free=True)"
        if p.excess_risk_free
        else "with no risk-free rate (mean / std of a self-financing return; "
        "excess_risk_free=False)"
    )
    return (
        "Sharpe conventions: the Handbook column's Sharpes evidently subtract a risk-free rate "
        "even from excess and long-short returns (positive returns with negative Sharpes, e.g. "
        "2.23% / -0.15 and 3.03% / -0.20; the rate is not stated); This run's long excess and "
        f"long-short Sharpes are {mine}, its long-leg Sharpe over risk_free = "
        f"{100 * p.risk_free:g}%."
    )


def _draw_figures(result: StudyResult, fig_dir: Path, dpi: int) -> tuple[list[_Drawn], str | None]:
    """Render every planned figure to ``fig_dir``; ``(figures, note)`` where the note says why
    there are no figures (matplotlib missing)."""
    try:
        require_matplotlib()
    except ImportError:
        log.warning("figures skipped: %s", NO_MATPLOTLIB)
        return [], NO_MATPLOTLIB
    fig_dir.mkdir(parents=True, exist_ok=True)
    drawn = []
    for name, caption, draw in figure_plan(result):
        try:
            png = figure_png(draw(), dpi=dpi)
        except Exception as exc:  # a figure must not cost the user the rest of the report
            log.warning("figure %s could not be drawn (%s: %s)", name, type(exc).__name__, exc)
            log.debug("figure %s", name, exc_info=True)
            drawn.append(_Drawn(name, caption, None, f"{type(exc).__name__}: {exc}"))
            continue
        (fig_dir / f"{name}.png").write_bytes(png)
        drawn.append(_Drawn(name, caption, png))
    return drawn, None


def page_head(title: str) -> list[str]:
    """The first lines of an HTML report page: doctype, head with `title` and
    :data:`REPORT_CSS`, the body's heading."""
    e = html.escape
    return [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title><style>{REPORT_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
    ]


def figure_html(
    name: str, caption: str, png: bytes | None, *, error: str | None = None, file: str | None = None
) -> str:
    """One figure of an HTML report: ``<figure id="fig-NAME">`` with the PNG inlined as base64
    and its caption (and the `file` it was also written to); a note saying why when there is
    no PNG (`error`)."""
    e = html.escape
    if png is None:
        return f'<p class="note">Figure {e(name)} could not be drawn ({e(error or "")}).</p>'
    b64 = base64.b64encode(png).decode("ascii")
    where = f" <code>{e(file)}</code>" if file else ""
    return (
        f'<figure id="fig-{e(name)}"><img alt="{e(name)}" src="data:image/png;base64,{b64}">'
        f"<figcaption>{e(caption)}{where}</figcaption></figure>"
    )


def _pct(rate: float) -> str:
    return f"{100 * rate:.4g}%"


def costs_text(costs: Any) -> str:
    """A :class:`~factorlab.backtest.Costs` in words, e.g. "commission 0.03% per side (min 5
    yuan per order); stamp duty on stock sells: the historical schedule, 0.1% before
    2023-08-28 and 0.05% from then; slippage 0 bps"."""
    from factorlab.backtest.costs import STAMP_AFTER_CUT, STAMP_BEFORE_CUT, STAMP_DUTY_CUT

    if costs.stamp_duty is None:
        stamp = (
            f"the historical schedule, {_pct(STAMP_BEFORE_CUT)} before {STAMP_DUTY_CUT} and "
            f"{_pct(STAMP_AFTER_CUT)} from then"
        )
    else:
        stamp = _pct(costs.stamp_duty)
    return (
        f"commission {_pct(costs.commission)} per side (min {costs.min_commission:g} yuan per "
        f"order); stamp duty on stock sells: {stamp}; slippage {costs.slippage_bps:g} bps"
    )


def _param_rows(params: Any) -> list[tuple[str, str]]:
    if dataclasses.is_dataclass(params) and not isinstance(params, type):
        items = {f.name: getattr(params, f.name) for f in dataclasses.fields(params)}
    else:
        items = dict(vars(params)) if hasattr(params, "__dict__") else {}
    rows = []
    for key, value in items.items():
        if key == "user_factors":  # listed with their definitions in their own section
            continue
        if key == "costs" and hasattr(value, "stamp_duty"):
            text = costs_text(value)
        elif key == "benchmark_weighting" and value is None:
            text = "same as weighting"
        elif key in ("start", "end") and value is None:
            text = "all data"
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            text = ", ".join(
                f"{f.name}={getattr(value, f.name)}" for f in dataclasses.fields(value)
            )
        elif isinstance(value, (tuple, list)):
            text = ", ".join(str(v) for v in value)
        else:
            text = str(value)
        rows.append((key, text))
    return rows


def _params_frame(params: Any) -> pl.DataFrame:
    rows = _param_rows(params)
    return pl.DataFrame(
        {"Parameter": [k for k, _ in rows], "Value": [v for _, v in rows]},
        schema={"Parameter": pl.String, "Value": pl.String},
    )


def _param_line(params: Any) -> str:
    """The parameters in one line, without the factor and pool lists (they are in the table)."""
    return "; ".join(f"{k}: {v}" for k, v in _param_rows(params) if k not in ("factors", "pools"))


def _user_rows(result: StudyResult) -> list[tuple[str, str]]:
    return list(user_factors(result).items())


def _span(result: StudyResult) -> str:
    daily = result.daily
    if len(daily) == 0:
        return "no daily returns"
    lo, hi = daily["date"].min(), daily["date"].max()
    n_f = result.table["factor"].n_unique()
    n_p = result.table["pool"].n_unique()
    return f"{lo} to {hi}, {n_f} factors x {n_p} pools"


def _handbook_pages(result: StudyResult) -> list[tuple[str, str, pl.DataFrame]]:
    """(heading, sentence, table) of the report's handbook pages: this run beside the
    handbook's published figures, before / after 2021, the excess return per year."""
    from factorlab.northbound.study import DECAY_DATE, HANDBOOK_END, HANDBOOK_START

    pages = []
    beside = beside_handbook_frame(result)
    if beside.height:
        pages.append(
            (
                "Beside the handbook",
                "Each figure the handbook publishes (seed 001: the tables of p.8 and p.11, the "
                f"rank ICs of §2.2's text; back-test {HANDBOOK_START} to {HANDBOOK_END}, gross) "
                "next to this run's for the same factor, pool and metric. "
                + _sharpe_caveat(result),
                beside,
            )
        )
    if result.daily.height:
        pages.append(
            (
                f"Before and after {DECAY_DATE.year}",
                "The handbook's main finding is the decay after 2021 (2021年后有效性减弱): gross "
                "long excess and long-short return and Sharpe, and the mean weekly rank IC, "
                f"before {DECAY_DATE} and from it.",
                period_frame(result),
            )
        )
        pages.append(
            (
                "Excess return per year",
                "Compounded gross long excess return (long leg minus the pool) per calendar "
                "year, %.",
                yearly_frame(result),
            )
        )
    return pages


def _strings(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.all().cast(pl.String))


def _seconds_frame(seconds: dict[str, float]) -> pl.DataFrame:
    stages = list(seconds)
    values = [f"{float(seconds[s]):.2f}" for s in stages]
    total = f"{sum(float(v) for v in seconds.values()):.2f}"
    return pl.DataFrame({"Stage": [*stages, "total"], "Seconds": [*values, total]})


def _html(
    result: StudyResult,
    title: str,
    findings: list[str],
    drawn: list[_Drawn],
    note: str | None,
    recommended: Sequence[str],
) -> str:
    e = html.escape
    parts = [
        *page_head(title),
        f'<p class="sub">{e(_span(result))}. factorlab {e(__version__)}, written '
        f"{dt.datetime.now().strftime('%Y-%m-%d %H:%M')}.</p>",
    ]
    parts.append(f'<p class="sub">{e(data_sentence(result))}.</p>')
    if estimated := estimated_line(result):
        parts.append(f'<p class="note">{e(estimated)}</p>')
    parts.append(f'<p class="sub">Parameters: {e(_param_line(result.params))}.</p>')
    if note:
        parts.append(f'<p class="note">{e(note)}</p>')
    parts.append("<h2>Key findings</h2><ul>")
    parts += [f"<li>{e(f)}</li>" for f in findings] or ["<li>no finding: empty table</li>"]
    parts.append("</ul>")
    if recommended:
        parts.append(f"<p>{e(_recommended_line(recommended))}</p>")

    parts.append("<h2>Handbook table</h2>")
    table = handbook_table(result)
    pools = table["Pool"].unique(maintain_order=True).to_list()
    for pool in pools:
        sub = table.filter(pl.col("Pool") == pool)
        parts.append(f"<h3>{e(pool)}</h3><div class='scroll'>{html_table(sub)}</div>")
    parts.append('<dl class="glossary">')
    parts += [f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in _GLOSSARY]
    parts.append("</dl>")
    for heading, text, frame in _handbook_pages(result):
        parts.append(f"<h2>{e(heading)}</h2><p>{e(text)}</p>")
        parts.append(f"<div class='scroll'>{html_table(frame)}</div>")
    users = _user_rows(result)
    if users:
        parts.append(
            f"<h2>User factors</h2><p>Marked {e(USER_MARK)} in the tables: run through the "
            "same preprocessing, portfolios and costs as the handbook factors.</p>"
        )
        frame = pl.DataFrame(
            {"Factor": [k for k, _ in users], "Definition": [v for _, v in users]},
            schema={"Factor": pl.String, "Definition": pl.String},
        )
        parts.append(f"<div class='scroll'>{html_table(frame)}</div>")

    parts.append("<h2>Figures</h2>")
    if note:
        parts.append(f'<p class="note">{e(note)}</p>')
    parts += [figure_html(d.name, d.caption, d.png, error=d.error) for d in drawn]

    parts.append("<h2>Parameters</h2>")
    parts.append(html_table(_params_frame(result.params)))
    parts.append("<h2>Run time per stage</h2>")
    parts.append(html_table(_seconds_frame(result.seconds)))
    parts.append("<h2>Data hygiene and participant split</h2>")
    parts.append(f"<div class='scroll'>{html_table(_strings(result.notes))}</div>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _markdown(
    result: StudyResult,
    title: str,
    findings: list[str],
    drawn: list[_Drawn],
    note: str | None,
    recommended: Sequence[str],
) -> str:
    lines = [f"# {title}", "", f"{_span(result)}; factorlab {__version__}.", ""]
    lines += [f"{data_sentence(result)}.", ""]
    if estimated := estimated_line(result):
        lines += [f"**{estimated}**", ""]
    lines += [f"Parameters: {_param_line(result.params)}.", ""]
    lines += ["## Key findings", ""]
    lines += [f"- {f}" for f in findings] or ["- no finding: empty table"]
    if recommended:
        lines += ["", _recommended_line(recommended)]
    lines += ["", "## Handbook table", ""]
    lines += [markdown_table(handbook_table(result)), ""]
    lines += ["; ".join(f"{k}: {v.rstrip('.')}" for k, v in _GLOSSARY) + ".", ""]
    for heading, text, frame in _handbook_pages(result):
        lines += [f"## {heading}", "", text, "", markdown_table(frame), ""]
    users = _user_rows(result)
    if users:
        lines += ["## User factors", "", f"Marked {USER_MARK} in the table.", ""]
        lines += [f"- {k}: {v}" for k, v in users] + [""]
    lines += ["## Figures", ""]
    if note:
        lines += [note, ""]
    for d in drawn:
        if d.png is None:
            lines += [f"- {d.name}: could not be drawn ({d.error})."]
        else:
            lines += [f"- [{d.name}](figures/{d.name}.png): {d.caption}"]
    lines += ["", "## Run time per stage", "", markdown_table(_seconds_frame(result.seconds))]
    lines += ["", "## Data hygiene and participant split", ""]
    lines += [markdown_table(_strings(result.notes)), ""]
    return "\n".join(lines)


def check_report_folder(out: Path, force: bool) -> set[str]:
    """Refuse to write into `out` unless it is new, empty, or a factorlab report folder (it has
    :data:`REPORT_MARKER`, or holds only report.html, summary.md and figures/*.png); returns
    the files the previous report listed (removed if not written again)."""
    if out.exists() and not out.is_dir():
        raise ParameterError(f"report folder `{out}` exists and is a file; choose another path.")
    if not out.is_dir():
        return set()
    marker = out / REPORT_MARKER
    if marker.is_file():
        try:
            return set(json.loads(marker.read_text(encoding="utf-8")).get("files", []))
        except (OSError, ValueError, AttributeError):
            return set()
    entries = sorted(p.name for p in out.iterdir())
    figures = out / "figures"
    foreign = [n for n in entries if n not in _REPORT_FILES]
    if figures.is_dir():
        foreign += [f"figures/{p.name}" for p in figures.iterdir() if p.suffix != ".png"]
    elif figures.exists():
        foreign.append("figures")
    if foreign and not force:
        raise ParameterError(
            f"report folder `{out}` exists and holds files factorlab did not write (e.g. "
            f"{', '.join(foreign[:3])}); refusing to write into it. Choose another folder, or "
            "pass force=True (command line: --force) to write report.html, summary.md and "
            "figures/ into it anyway (other files are kept)."
        )
    return set()


def write_report(
    result: StudyResult,
    out_dir: str | Path,
    *,
    title: str | None = None,
    recommended: Sequence[str] | None = None,
    dpi: int = 100,
    force: bool = False,
) -> Path:
    """Write the study's report to ``out_dir``.

    Creates ``out_dir/report.html`` (self-contained: the handbook table per pool, key findings,
    every figure embedded as base64 PNG, parameters, run time per stage and the data-hygiene
    notes), ``out_dir/summary.md`` (key findings, the handbook table with one row per factor x
    pool, links to the figures) and ``out_dir/figures/*.png``.

    Parameters
    ----------
    result
        A :class:`~factorlab.northbound.study.StudyResult`.
    out_dir
        Folder to write to: new, empty, or a factorlab report folder (marked by
        :data:`REPORT_MARKER`); its previous report files are replaced, figures the new
        report does not draw are removed. Any other folder is refused (a
        :class:`~factorlab.errors.ParameterError`) unless `force`.
    title
        Heading of both documents (default "Northbound factor study").
    recommended
        Factors whose results the findings single out (default: the handbook's seven,
        :data:`~factorlab.northbound.factors.HANDBOOK_RECOMMENDED`).
    dpi
        Resolution of the PNG figures.
    force
        Write into a folder that holds other files too (they are kept).

    Returns
    -------
    Path
        The path of ``report.html``.

    Notes
    -----
    Without matplotlib (the ``plot`` extra) the HTML and the markdown are written without
    figures and say so; nothing is raised. A figure that fails to draw is logged and replaced by
    a note, so one bad panel does not cost the rest of the report.
    """
    out = Path(out_dir)
    previous = check_report_folder(out, force)
    out.mkdir(parents=True, exist_ok=True)
    heading = title or DEFAULT_TITLE
    rec = tuple(handbook_recommended() if recommended is None else recommended)
    present = set(result.table["factor"].to_list())
    rec = tuple(f for f in rec if f in present)
    findings = key_findings(result, recommended=rec)
    drawn, note = _draw_figures(result, out / "figures", dpi)
    path = out / "report.html"
    path.write_text(_html(result, heading, findings, drawn, note, rec), encoding="utf-8")
    (out / "summary.md").write_text(
        _markdown(result, heading, findings, drawn, note, rec), encoding="utf-8"
    )
    files = {"report.html", "summary.md"} | {
        f"figures/{d.name}.png" for d in drawn if d.png is not None
    }
    finish_report_folder(out, previous, files)
    return path


def finish_report_folder(out: Path, previous: set[str], files: set[str]) -> None:
    """Remove the figures of the previous report in `out` (`previous`, from
    :func:`check_report_folder`) that this one did not write, and mark the folder as a factorlab
    report listing `files` (:data:`REPORT_MARKER`)."""
    for stale in sorted(previous - files):  # a figure of the previous report not drawn now
        target = out / stale
        if stale.startswith("figures/") and stale.endswith(".png") and target.is_file():
            target.unlink()
    (out / REPORT_MARKER).write_text(
        json.dumps({"format": "factorlab-report", "files": sorted(files)}, indent=1),
        encoding="utf-8",
    )
