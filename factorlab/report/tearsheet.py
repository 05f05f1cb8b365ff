"""Write a factor tear sheet (:func:`factorlab.evaluate.tearsheet`) to a folder: one
self-contained ``tearsheet.html`` (figures inlined as base64 PNG) and ``figures/*.png``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import html
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from factorlab._version import __version__
from factorlab.progress import reports_progress
from factorlab.report.figures import figure_png, require_matplotlib
from factorlab.report.tables import html_table
from factorlab.report.tearsheet_figures import section_plan
from factorlab.typing import ProgressOption

if TYPE_CHECKING:
    from factorlab.evaluate.tears import TearSheet, TearSheetSection

__all__ = ["NO_MATPLOTLIB", "SECTION_TITLES", "safe_stem", "write_tearsheet"]

log = logging.getLogger(__name__)

NO_MATPLOTLIB = (
    "matplotlib is not installed, so this tear sheet has no figures; install the plot extra "
    "(pip install 'factorlab[plot]') and write it again to get them."
)

#: Headings of a section's blocks, in order (tests check that each appears).
SECTION_TITLES = (
    "Summary",
    "Returns by quantile",
    "Per-quantile statistics",
    "Information coefficient",
    "Turnover and autocorrelation",
    "Event study",
    "Drop report",
)

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px auto;
       max-width: 1400px; padding: 0 16px; color: #1a202c; line-height: 1.45; }
h2 { border-bottom: 1px solid #cbd5e0; padding-bottom: 4px; margin-top: 2em; }
.sub { color: #4a5568; } .scroll { overflow-x: auto; }
table.table { border-collapse: collapse; font-size: 12px; margin: 8px 0 16px; }
table.table th { background: #edf2f7; padding: 4px 6px; border-bottom: 1px solid #a0aec0; }
table.table td { padding: 3px 6px; border-bottom: 1px solid #e2e8f0; white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; } td.neg { color: #c53030; }
figure { margin: 12px 0 24px; } figure img { max-width: 100%; border: 1px solid #e2e8f0; }
figcaption { color: #4a5568; font-size: 13px; }
.note { background: #fffaf0; border-left: 4px solid #dd6b20; padding: 8px 12px; }
"""


def safe_stem(*parts: str) -> str:
    """A file-name stem from factor / pool names: characters outside ``[A-Za-z0-9_.-]`` become
    ``_`` (no path separators, no leading dot), plus a short hash of the original names so that
    two names that sanitize alike (``a/b`` and ``a_b``) never share a file."""
    raw = "\x1f".join(parts)
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", "_".join(parts)).strip("._")[:60] or "factor"
    return f"{slug}-{hashlib.sha1(raw.encode('utf-8')).hexdigest()[:8]}"


def _fmt(frame: pl.DataFrame, digits: int = 4) -> pl.DataFrame:
    """Every column as text: floats rounded to `digits` significant decimals, null -> n/a."""
    out = {}
    for name, s in frame.to_dict().items():
        if s.dtype.is_float():
            out[name] = [
                "n/a"
                if v is None or v != v
                else f"{v:.{digits}g}"
                if abs(v) < 1e-3 and v != 0
                else f"{v:.{digits}f}"
                for v in s.to_list()
            ]
        else:
            out[name] = ["n/a" if v is None else str(v) for v in s.to_list()]
    return pl.DataFrame(out, schema={k: pl.String for k in out})


def _table(frame: pl.DataFrame | None, digits: int = 4) -> str:
    if frame is None or frame.height == 0:
        return "<p class='sub'>no rows</p>"
    return f"<div class='scroll'>{html_table(_fmt(frame, digits))}</div>"


class _Drawn:
    __slots__ = ("caption", "error", "key", "png", "stem")

    def __init__(self, key: str, stem: str, caption: str, png: bytes | None, error: str | None):
        self.key, self.stem, self.caption, self.png, self.error = key, stem, caption, png, error


def _draw(s: TearSheetSection, index: int, fig_dir: Path, dpi: int) -> dict[str, _Drawn]:
    drawn = {}
    base = f"{index:02d}_{safe_stem(s.factor, s.pool)}"
    for key, caption, draw in section_plan(s):
        stem = f"{base}_{key}"
        try:
            fig = draw(s)
            png = figure_png(fig, dpi=dpi)
        except Exception as exc:  # one bad panel must not cost the rest of the report
            log.warning("tear sheet figure %s could not be drawn", stem, exc_info=True)
            drawn[key] = _Drawn(key, stem, caption, None, f"{type(exc).__name__}: {exc}")
            continue
        (fig_dir / f"{stem}.png").write_bytes(png)
        drawn[key] = _Drawn(key, stem, caption, png, None)
    return drawn


def _figure_html(d: _Drawn | None) -> str:
    e = html.escape
    if d is None:
        return ""
    if d.png is None:
        return f"<p class='note'>Figure {e(d.stem)} could not be drawn ({e(d.error or '')}).</p>"
    b64 = base64.b64encode(d.png).decode("ascii")
    return (
        f'<figure id="fig-{e(d.stem)}"><img alt="{e(d.key)}" src="data:image/png;base64,{b64}">'
        f"<figcaption>{e(d.caption)} <code>figures/{e(d.stem)}.png</code></figcaption></figure>"
    )


def _section_html(s: TearSheetSection, index: int, drawn: dict[str, _Drawn]) -> str:
    e = html.escape
    anchor = f"s{index}"
    t = SECTION_TITLES
    parts = [f'<h2 id="{anchor}">{e(s.factor)} &middot; pool {e(s.pool)}</h2>']
    parts.append(f"<h3>{t[0]}</h3>")
    parts.append(_table(s.summary.drop("factor", "pool")))
    if s.reason is not None and s.ic is None:
        parts.append(f"<p class='note'>No series: {e(s.reason)}.</p>")
        parts.append(f"<h3>{t[6]}</h3>" + _table(_drops_wide(s.drops)))
        return "\n".join(parts)
    parts.append(f"<h3>{t[1]}</h3>")
    parts.append(
        "<p class='sub'>Mean forward return by quantile, demeaned by the date's "
        "universe mean (alphalens' <code>mean_return_by_quantile</code>); "
        "<code>rate</code> is the same per session.</p>"
    )
    parts.append(_table(s.quantile_returns, 6))
    parts.append(
        "<p class='sub'>Top minus bottom quantile (mean over dates, standard error, "
        "95% band):</p>" + _table(s.spread_summary, 6)
    )
    parts += [_figure_html(drawn.get(k)) for k in ("quantile_returns", "spread", "cumulative")]
    parts.append(f"<h3>{t[2]}</h3>" + _table(s.quantile_stats))
    parts.append(f"<h3>{t[3]}</h3>" + _table(s.ic_summary))
    parts.append("<p class='sub'>IC decay (mean IC per forward-return horizon):</p>")
    parts.append(_table(s.ic_decay))
    parts += [
        _figure_html(drawn.get(k)) for k in ("ic_time", "ic_distribution", "ic_monthly", "ic_decay")
    ]
    parts.append(f"<h3>{t[4]}</h3>")
    parts.append(_table(_turnover_table(s)))
    parts.append(_figure_html(drawn.get("turnover")))
    parts.append(f"<h3>{t[5]}</h3>")
    parts.append(
        "<p class='sub'>Average cumulative close-to-close return from the signal day's "
        "close, by quantile, minus the universe's (<code>event_returns</code>, "
        "cumulative mode).</p>"
    )
    parts.append(_figure_html(drawn.get("events")))
    parts.append(_table(_events_wide(s.events), 5))
    parts.append(f"<h3>{t[6]}</h3>")
    parts.append(
        "<p class='sub'>Input rows by reason, per horizon (the evaluator's "
        "<code>drops</code>; each column sums to the input rows).</p>"
    )
    parts.append(_table(_drops_wide(s.drops)))
    return "\n".join(parts)


def _turnover_table(s: TearSheetSection) -> pl.DataFrame | None:
    if s.turnover is None or s.autocorrelation is None:
        return None
    # sorted: group_by's row order is arbitrary, and the pivot's columns follow it
    tv = (
        s.turnover.group_by("lag", "quantile")
        .agg(mean_turnover=pl.col("turnover").mean())
        .sort("lag", "quantile")
    )
    ac = s.autocorrelation.group_by("lag").agg(
        mean_autocorrelation=pl.col("autocorrelation").mean()
    )
    wide = tv.pivot(on="quantile", index="lag", values="mean_turnover").sort("lag")
    wide = wide.rename({c: f"turnover Q{c}" for c in wide.columns if c != "lag"})
    return wide.join(ac, on="lag", how="left").sort("lag")


def _events_wide(ev: pl.DataFrame | None) -> pl.DataFrame | None:
    if ev is None or ev.height == 0:
        return None
    return (
        ev.pivot(on="quantile", index="offset", values="mean")
        .sort("offset")
        .rename(lambda c: c if c == "offset" else f"Q{c} mean")
    )


def _drops_wide(drops: pl.DataFrame) -> pl.DataFrame:
    if drops.height == 0:
        return drops
    return drops.pivot(on="horizon", index="reason", values="rows", maintain_order=True).rename(
        lambda c: c if c == "reason" else f"h={c}"
    )


def _html(sheet: TearSheet, title: str, drawn: list[dict[str, _Drawn]], note: str | None) -> str:
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f"<p class='sub'>factorlab {e(__version__)}, written "
        f"{dt.datetime.now().strftime('%Y-%m-%d %H:%M')}.</p>",
    ]
    if note:
        parts.append(f"<p class='note'>{e(note)}</p>")
    parts.append('<h2 id="data">Data</h2>')
    src = pl.DataFrame(
        {"item": [k for k, _ in sheet.source], "value": [v for _, v in sheet.source]},
        schema={"item": pl.String, "value": pl.String},
    )
    parts.append(_table(src))
    parts.append('<h2 id="parameters">Parameters</h2>')
    prm = pl.DataFrame(
        {
            "parameter": list(sheet.params),
            "value": [
                ", ".join(map(str, v)) if isinstance(v, list | tuple) else str(v)
                for v in sheet.params.values()
            ],
        }
    )
    parts.append(_table(prm))
    parts.append('<h2 id="summary">Summary</h2>')
    h = sheet.params["horizons"][0]
    parts.append(
        f"<p class='sub'>One row per factor x pool at the {h}-session horizon; sections below.</p>"
    )
    parts.append(_table(sheet.summary))
    links = " | ".join(
        f'<a href="#s{i}">{e(s.factor)} / {e(s.pool)}</a>' for i, s in enumerate(sheet.sections)
    )
    parts.append(f"<p>{links}</p>")
    for i, (s, d) in enumerate(zip(sheet.sections, drawn, strict=True)):
        parts.append(_section_html(s, i, d))
    parts.append("</body></html>")
    return "\n".join(parts)


@reports_progress("tear sheet figures")
def write_tearsheet(
    sheet: TearSheet,
    out_dir: str | Path,
    *,
    title: str | None = None,
    dpi: int = 80,
    progress: ProgressOption = "auto",
) -> Path:
    """Write `sheet` to ``out_dir/tearsheet.html`` and ``out_dir/figures/*.png``.

    The HTML is self-contained (figures as base64 PNG). It starts with the data the sheet ran on
    and the parameters, then the summary table (one row per factor x pool) and one section per
    factor x pool: returns by quantile (table, bars with the top-minus-bottom spread and its
    95 % band, the spread over time, cumulative returns by quantile and of the book),
    per-quantile statistics, IC (table, over time with a 21-session mean, histogram + QQ,
    monthly heatmap, decay over horizons), turnover and rank autocorrelation, the event study
    and the evaluator's drop report. Figure files are named ``NN_<factor>_<pool>-<hash>_<key>
    .png`` from sanitized names (:func:`safe_stem`).

    Without matplotlib the HTML is written without figures and says so (logged, not raised).
    `progress` (:mod:`factorlab.progress`): one ``figures FACTOR / POOL`` stage per section,
    then ``html: PATH``. Returns the path of the HTML file.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fig_dir = out / "figures"
    note = None
    try:
        require_matplotlib()
    except ImportError:
        log.info("matplotlib is not installed; writing the tear sheet without figures")
        note = NO_MATPLOTLIB
        drawn: list[dict[str, _Drawn]] = [{} for _ in sheet.sections]
    else:
        fig_dir.mkdir(parents=True, exist_ok=True)
        drawn = []
        for i, s in enumerate(sheet.sections):
            drawn.append(_draw(s, i, fig_dir, dpi))
            progress(f"figures {s.factor} / {s.pool}")
    names = sorted({s.factor for s in sheet.sections})
    heading = title or (
        "Factor tear sheet: " + ", ".join(names[:5]) + (" ..." if len(names) > 5 else "")
    )
    path = out / "tearsheet.html"
    path.write_text(_html(sheet, heading, drawn, note), encoding="utf-8")
    progress(f"html: {path}")
    return path
