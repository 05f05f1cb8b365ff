"""The flow-estimation report (seed 002): the validation table, disclosure statistics,
attribution tables and figures in a self-contained ``report.html`` (figures inlined as base64
PNG, also in ``figures/*.png``); ``factorlab estimate`` writes it."""

from __future__ import annotations

import base64
import html
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from factorlab._version import __version__
from factorlab.report.estimation_figures import estimation_figure_plan
from factorlab.report.figures import figure_png, require_matplotlib
from factorlab.report.html import REPORT_CSS, check_report_folder, finish_report_folder
from factorlab.report.tables import data_sentence, html_table

if TYPE_CHECKING:
    from factorlab.northbound.estimation.run import EstimationResult

__all__ = ["estimation_tables", "write_estimation_report"]

log = logging.getLogger(__name__)
YI = 1e8
TITLE = "Northbound holdings and flows after the disclosure change (seed 002)"


def _num(v: float | None, digits: int = 3) -> str:
    return "n/a" if v is None or v != v else f"{v:,.{digits}f}"


def validation_frame(result: EstimationResult) -> pl.DataFrame | None:
    """The validation table as strings (None without ground truth)."""
    v = result.validation
    if v is None:
        return None
    cols = [c for c in ("seed", "estimator", "naive", "known_total", "buy_and_hold") if c in v]
    return v.select(
        pl.col("metric").alias("Metric"),
        *[pl.col(c).map_elements(_num, return_dtype=pl.String).alias(c) for c in cols],
        pl.col("days").alias("Days"),
        pl.col("definition").alias("Definition"),
    )


def estimation_tables(result: EstimationResult) -> list[tuple[str, pl.DataFrame]]:
    """``(caption, frame)`` of every table, as the terminal and the report show them."""
    out = []
    vf = validation_frame(result)
    if vf is not None:
        out.append(
            (
                "Validation against the synthetic ground truth: seed figure | this estimator | "
                "naive baseline | ablations (known total value, buy-and-hold). Lower is better "
                "for value_tracking_error and weight_error.",
                vf,
            )
        )
    if result.disclosure is not None and result.disclosure.height:
        d = (
            result.disclosure.group_by("after_change")
            .agg(
                pl.len().alias("days"),
                *[
                    pl.col(c).mean()
                    for c in ("listed_share", "printed_share", "listed_weight", "printed_weight")
                ],
            )
            .sort("after_change")
        )
        out.append(
            (
                "Disclosure statistics, mean over days (seed: 71% of stocks / 98% of weight "
                "printed before; 54% / 10-15% after)",
                d.with_columns(pl.col(pl.Float64).map_elements(_num, return_dtype=pl.String)),
            )
        )
    a = result.attribution
    out.append(
        (
            f"Estimated net inflow by industry, {a.start} .. {a.end} (亿 yuan)",
            a.industry.select("industry", pl.col("net_inflow") / YI, "n_stocks").with_columns(
                pl.col("net_inflow").map_elements(lambda v: _num(v, 1), return_dtype=pl.String)
            ),
        )
    )
    last = a.style.group_by("style").agg(pl.col("net_inflow").sum() / YI).sort("style")
    out.append(
        (
            f"Estimated net inflow by style, {a.start} .. {a.end} (亿 yuan)",
            last.with_columns(
                pl.col("net_inflow").map_elements(lambda v: _num(v, 1), return_dtype=pl.String)
            ),
        )
    )
    out.append(
        (
            f"Top stocks by estimated net inflow and outflow, {a.start} .. {a.end} (亿 yuan; "
            "seed table 3)",
            a.top.with_columns(
                (pl.col("net_inflow") / YI).map_elements(
                    lambda v: _num(v, 2), return_dtype=pl.String
                )
            ),
        )
    )
    return out


def _figure_html(name: str, caption: str, png: bytes | None, error: str | None) -> str:
    e = html.escape
    if png is None:
        return f'<p class="note">Figure {e(name)} could not be drawn ({e(error or "")}).</p>'
    b64 = base64.b64encode(png).decode("ascii")
    return (
        f'<figure id="fig-{e(name)}"><img alt="{e(name)}" src="data:image/png;base64,{b64}">'
        f"<figcaption>{e(caption)} <code>figures/{e(name)}.png</code></figcaption></figure>"
    )


def write_estimation_report(
    result: EstimationResult,
    out_dir: str | Path,
    *,
    dpi: int = 90,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Write ``report.html`` (+ ``figures/*.png``) for `result` to `out_dir`; every estimated
    date is marked as such (the report covers estimates only, published the day after each
    as-of day). `out_dir` must be new, empty or a factorlab report folder unless `force`.
    Without matplotlib the report has no figures and says so. Returns the report's path."""
    out = Path(out_dir)
    previous = check_report_folder(out, force)
    out.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda msg: log.info(msg))
    e = html.escape
    t = result.estimate.totals
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(TITLE)}</title><style>{REPORT_CSS}</style></head><body>",
        f"<h1>{e(TITLE)}</h1>",
        f'<p class="sub">{e(data_sentence(result))}.</p>',
        f'<p class="sub">ESTIMATED holdings and flows: {t.height} days, {t["date"].min()} .. '
        f"{t['date'].max()} (daily disclosure ended {e(result.data.get('disclosure_change', ''))}"
        f"); total value fitted by step 1 ({e(result.estimate.total_value)}). factorlab "
        f"{e(__version__)}.</p>",
    ]
    for caption, frame in estimation_tables(result):
        parts.append(f"<h2>{e(caption)}</h2><div class='scroll'>{html_table(frame)}</div>")
    files = {"report.html"}
    try:
        require_matplotlib()
    except ImportError:
        parts.append(
            '<p class="note">matplotlib is not installed: no figures (pip install '
            "'factorlab[plot]').</p>"
        )
    else:
        fig_dir = out / "figures"
        fig_dir.mkdir(exist_ok=True)
        parts.append("<h2>Figures</h2>")
        for name, caption, draw in estimation_figure_plan(result):
            try:
                png = figure_png(draw(), dpi=dpi)
            except Exception as exc:  # one bad figure must not cost the rest of the report
                log.warning("figure %s could not be drawn (%s)", name, exc)
                parts.append(_figure_html(name, caption, None, f"{type(exc).__name__}: {exc}"))
                continue
            (fig_dir / f"{name}.png").write_bytes(png)
            files.add(f"figures/{name}.png")
            parts.append(_figure_html(name, caption, png, None))
            say(f"figure {name}")
    params = result.estimate.params
    parts.append("<h2>Parameters</h2>")
    parts.append(
        html_table(
            pl.DataFrame(
                {
                    "Parameter": list(params.__dataclass_fields__),
                    "Value": [str(getattr(params, k)) for k in params.__dataclass_fields__],
                }
            )
        )
    )
    notes = result.estimate.notes
    infeasible = int((~result.estimate.totals["feasible"]).sum())
    if infeasible:
        parts.append(
            f'<p class="note">{infeasible} estimated day(s) had step-2 bounds that '
            "could not all hold (see notes).</p>"
        )
    if notes.height:
        parts.append("<h2>Rows left out and why</h2>" + html_table(notes))
    parts.append("<h2>Run time per stage (s)</h2>")
    parts.append(
        html_table(
            pl.DataFrame(
                {
                    "Stage": list(result.seconds),
                    "Seconds": [f"{v:.2f}" for v in result.seconds.values()],
                }
            )
        )
    )
    parts.append("</body></html>")
    path = out / "report.html"
    path.write_text("\n".join(parts), encoding="utf-8")
    finish_report_folder(out, previous, files)
    return path
