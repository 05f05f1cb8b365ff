"""Reports of a factor study: the handbook table as markdown / HTML / terminal text, matplotlib
figures (the optional ``plot`` extra, imported lazily) and a self-contained HTML report folder.
"""

from __future__ import annotations

from factorlab.report.figures import (
    correlation_heatmap,
    coverage_over_time,
    cumulative_returns,
    figure_plan,
    figure_png,
    ic_bars,
    quantile_returns,
    rolling_ic,
    study_figures,
)
from factorlab.report.html import write_report
from factorlab.report.tables import (
    correlation_clusters,
    format_markdown,
    format_table,
    format_value,
    handbook_table,
    html_table,
    key_findings,
    markdown_table,
    text_table,
)
from factorlab.report.tearsheet import write_tearsheet

__all__ = [
    "correlation_clusters",
    "correlation_heatmap",
    "coverage_over_time",
    "cumulative_returns",
    "figure_plan",
    "figure_png",
    "format_markdown",
    "format_table",
    "format_value",
    "handbook_table",
    "html_table",
    "ic_bars",
    "key_findings",
    "markdown_table",
    "quantile_returns",
    "rolling_ic",
    "study_figures",
    "text_table",
    "write_report",
    "write_tearsheet",
]
