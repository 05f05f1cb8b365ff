"""The ETF sector-flow figure and files of ``factorlab etf-flows``: each sector's cumulative flow
over time (exact where shares outstanding are known, else seed 003's heuristic, labelled).

matplotlib is the optional ``plot`` extra, imported only when drawing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from factorlab.report.figures import figure_png, require_matplotlib

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from factorlab.etf import SectorFlow

__all__ = ["cumulative_flow_figure", "write_etf_flows"]

#: Most sectors drawn in one figure (the largest |cumulative flow| first).
MAX_LINES = 20
#: Points per line at most (longer histories are thinned evenly; the last day is kept).
MAX_POINTS = 600


def _figure(width: float, height: float) -> Figure:
    figure_cls, canvas_cls = require_matplotlib()
    fig = figure_cls(figsize=(width, height))
    fig.subplots_adjust(left=0.08, right=0.97, bottom=0.1, top=0.92)
    canvas_cls(fig)
    return fig


def _label(etf: str, sector: str) -> str:
    # the default matplotlib fonts have no CJK glyphs: Chinese sector names stay in the tables
    return etf if not sector.isascii() or sector == etf else f"{etf} {sector}"


def cumulative_flow_figure(result: SectorFlow, *, currency_note: str = "") -> Figure:
    """Each sector's cumulative flow (local currency, in units of 1e8 = 亿) by date, one line per
    sector ETF; the legend says which lines are exact and which heuristic.

    Returns
    -------
    matplotlib.figure.Figure
    """
    daily = result.daily
    from matplotlib import colormaps

    fig = _figure(11, 5.5)
    ax = fig.add_subplot(1, 1, 1)
    ends = (
        daily.group_by("etf")
        .agg(
            pl.col("sector").first(), pl.col("cum_flow").last(), pl.col("flow_kind").mode().first()
        )
        .sort(pl.col("cum_flow").abs(), descending=True)
        .head(MAX_LINES)
    )
    cmap = colormaps["tab20"]
    for i, (etf, sector, _, kind) in enumerate(ends.iter_rows()):
        rows = daily.filter(pl.col("etf") == etf)
        step = max(1, rows.height // MAX_POINTS)  # a line of ~MAX_POINTS points, the last kept
        rows = pl.concat([rows.gather_every(step), rows.tail(1)]).unique("date", keep="last")
        rows = rows.sort("date")
        style = "-" if kind == "exact" else "--"
        ax.plot(
            rows["date"].to_list(),
            (rows["cum_flow"] / 1e8).to_list(),
            style,
            color=cmap((2 * i) % 20 + (i // 10) % 2),
            linewidth=1.2,
            label=f"{_label(etf, sector)} ({kind})",
        )
    ax.axhline(0.0, color="0.6", linewidth=0.8)
    ax.set_ylabel(f"cumulative flow, 1e8 local currency{currency_note}")
    ax.set_title(
        "ETF sector flows: solid = exact (creations - redemptions = dShares x NAV), "
        "dashed = seed 003 heuristic",
        fontsize=10,
    )
    ax.legend(fontsize=7, ncols=2, loc="upper left", frameon=False)
    fig.text(0.01, 0.005, f"data: {result.source}", fontsize=7, color="0.35")
    return fig


def write_etf_flows(result: SectorFlow, out: Path) -> list[Path]:
    """Write ``etf_flows.csv`` (the table), ``etf_flows_daily.parquet`` and, with matplotlib,
    ``cumulative_flows.png`` into `out` (created); returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "etf_flows.csv", out / "etf_flows_daily.parquet"]
    result.table.write_csv(written[0])
    result.daily.write_parquet(written[1])
    try:
        require_matplotlib()
    except ImportError:
        return written
    png = out / "cumulative_flows.png"
    png.write_bytes(figure_png(cumulative_flow_figure(result)))
    return [*written, png]
