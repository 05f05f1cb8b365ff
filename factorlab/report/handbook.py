"""The study report's handbook pages: the metrics before and after the handbook's 2021 break,
the excess return per year, and this run's numbers beside the handbook's published ones."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from factorlab.report.tables import TABLE_COLUMNS, format_value

if TYPE_CHECKING:
    from factorlab.northbound.study import StudyResult

__all__ = ["beside_handbook_frame", "period_frame", "yearly_frame"]

#: Header and number format of each study column: the handbook table's (one home).
_METRICS = {c.name: (c.header, c.kind) for c in TABLE_COLUMNS}
_PERIOD_COLUMNS = (
    "long_excess_ann",
    "long_excess_sharpe",
    "long_short_ann",
    "long_short_sharpe",
    "rank_ic_mean_pct",
)


def period_frame(result: StudyResult) -> pl.DataFrame:
    """:meth:`StudyResult.periods` (before / from ``DECAY_DATE``) as strings with display headers:
    Factor, Pool, Period, Days and the gross excess and long-short return and Sharpe and the
    mean rank IC of each period."""
    t = result.periods()
    out: dict[str, list[str]] = {
        "Factor": t["factor"].to_list(),
        "Pool": t["pool"].to_list(),
        "Period": t["period"].to_list(),
        "Days": [str(v) for v in t["days"]],
    }
    for name in _PERIOD_COLUMNS:
        header, kind = _METRICS[name]
        out[header] = [format_value(v, kind) for v in t[name].to_list()]
    return pl.DataFrame(out, schema={k: pl.String for k in out})


def yearly_frame(result: StudyResult) -> pl.DataFrame:
    """The compounded gross long excess return per calendar year (:meth:`StudyResult.years`),
    in percent: Factor, Pool and one column per year (``n/a``: no return that year)."""
    y = result.years()
    if y.height == 0:
        return pl.DataFrame(schema={"Factor": pl.String, "Pool": pl.String})
    wide = y.pivot(on="year", index=["factor", "pool"], values="long_excess", sort_columns=True)
    keys = result.table.select("factor", "pool")
    wide = keys.join(wide, on=["factor", "pool"], how="left", maintain_order="left")
    years = [c for c in wide.columns if c not in ("factor", "pool")]
    out: dict[str, list[str]] = {"Factor": wide["factor"].to_list(), "Pool": wide["pool"].to_list()}
    for year in years:
        out[f"{year} %"] = [format_value(v, "fraction_pct") for v in wide[year].to_list()]
    return pl.DataFrame(out, schema={k: pl.String for k in out})


def beside_handbook_frame(result: StudyResult) -> pl.DataFrame:
    """Each figure the handbook publishes (seed 001 p.8, p.11, §2.2;
    :func:`factorlab.calibration.beside_handbook`) beside this run's for the same factor, pool
    and metric, for the factors and pools this run has: Factor (with its handbook number),
    Pool, Metric, Handbook, This run, Source. Empty when the run has none of them."""
    from factorlab.calibration import beside_handbook  # the report sits beside calibration

    b = beside_handbook(result).filter(pl.col("measured").is_not_null())
    return pl.DataFrame(
        {
            "Factor": [f"#{n} {f}" for n, f in zip(b["number"], b["factor"], strict=True)],
            "Pool": b["pool"].to_list(),
            "Metric": [_METRICS[m][0] for m in b["metric"]],
            "Handbook": [
                format_value(v, _METRICS[m][1])
                for v, m in zip(b["handbook"], b["metric"], strict=True)
            ],
            "This run": [
                format_value(v, _METRICS[m][1])
                for v, m in zip(b["measured"], b["metric"], strict=True)
            ],
            "Source": [f"seed 001 {p}" for p in b["page"]],
        },
        schema={
            k: pl.String for k in ("Factor", "Pool", "Metric", "Handbook", "This run", "Source")
        },
    )
