"""Figures of the northbound strategies report (:func:`factorlab.northbound.strategies.
run_strategies`), one function per figure the seeds show, each taking the result's frames and
returning a matplotlib ``Figure`` on the Agg canvas (matplotlib imported lazily, as in
:mod:`factorlab.report.figures`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from factorlab.report.figures import NEGATIVE, POSITIVE, require_matplotlib

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from factorlab.northbound.strategies.run import StrategiesResult

__all__ = [
    "FIGURES",
    "INDUSTRY_LABELS",
    "books_figure",
    "cap_distribution_figure",
    "coverage_figure",
    "cumulative_flows_figure",
    "industry_allocation_figure",
    "industry_flows_figure",
    "industry_label",
    "industry_weights_figure",
    "layered_groups_figure",
    "monthly_turnover_figure",
    "nav_vs_index_figure",
    "quota_band_figure",
    "rotation_grid_figure",
    "sharpe_surfaces_figure",
    "strategy_figure_plan",
    "timing_nav_figure",
]

#: Colours of the participant kinds in every figure.
KIND_COLORS = {"trading": "#dd6b20", "allocation": "#2b6cb0", "all": "#4a5568", "total": "#4a5568"}
YI = 1e8  # 亿元: the seeds' unit for flows and holdings
#: English labels of the CITIC level-1 industries for the figures (matplotlib's default fonts
#: have no CJK glyphs); the tables keep the Chinese names.
INDUSTRY_LABELS = {
    "石油石化": "Petroleum & petrochemicals",
    "煤炭": "Coal",
    "有色金属": "Nonferrous metals",
    "电力及公用事业": "Power & utilities",
    "钢铁": "Steel",
    "基础化工": "Basic chemicals",
    "建筑": "Construction",
    "建材": "Building materials",
    "轻工制造": "Light manufacturing",
    "机械": "Machinery",
    "电力设备及新能源": "Power equipment & new energy",
    "国防军工": "Defense",
    "汽车": "Autos",
    "商贸零售": "Retail",
    "消费者服务": "Consumer services",
    "家电": "Home appliances",
    "纺织服装": "Textiles & apparel",
    "医药": "Pharma",
    "食品饮料": "Food & beverage",
    "农林牧渔": "Agriculture",
    "银行": "Banks",
    "非银行金融": "Non-bank financials",
    "房地产": "Real estate",
    "交通运输": "Transportation",
    "电子": "Electronics",
    "通信": "Telecom",
    "计算机": "Computers",
    "传媒": "Media",
    "综合": "Conglomerates",
    "综合金融": "Diversified financials",
    "环保": "Environmental",
}


def industry_label(name: str) -> str:
    """The English label of a CITIC level-1 industry (the name itself if unknown)."""
    return INDUSTRY_LABELS.get(name, name)


def _figure(width: float, height: float) -> Figure:
    """A figure on the Agg canvas with the constrained layout."""
    figure_cls, canvas_cls = require_matplotlib()
    fig = figure_cls(figsize=(width, height), layout="constrained")
    canvas_cls(fig)
    return fig


def _values(frame: pl.DataFrame, column: str) -> np.ndarray:
    return frame.get_column(column).cast(pl.Float64).fill_null(np.nan).to_numpy()


def _growth(frame: pl.DataFrame, column: str) -> np.ndarray:
    """A NAV column (yuan) as growth of 1 from its first value."""
    v = _values(frame, column)
    return v / v[0] if len(v) and v[0] else v


def _no_data(ax: Axes, what: str = "no data") -> None:
    ax.text(0.5, 0.5, what, ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def cumulative_flows_figure(flows: pl.DataFrame, *, index: str = "csi800") -> Figure:
    """图3-6: cumulative net flow of trading and allocation money (亿元), together and each
    against the index level (right axis)."""
    fig = _figure(13.0, 4.2)
    axes = fig.subplots(1, 3)
    if flows.height == 0:
        for ax in axes:
            _no_data(ax)
        return fig
    f = flows.sort("date")
    days = f["date"].to_numpy()
    ax = axes[0]
    for kind, col in (("trading", "cum_trading"), ("allocation", "cum_allocation")):
        ax.plot(days, _values(f, col) / YI, color=KIND_COLORS[kind], lw=1.2, label=kind)
    ax.plot(
        days,
        _values(f, "cum_total") / YI,
        color=KIND_COLORS["all"],
        lw=0.9,
        ls="--",
        label="all participants",
    )
    ax.axhline(0.0, color="0.6", lw=0.7)
    ax.set_title("cumulative net flow by kind (fig. 3)", fontsize=10)
    ax.set_ylabel("100 m yuan")
    ax.legend(fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    level = _values(f, "index_close")
    for ax, kind in zip(axes[1:], ("trading", "allocation"), strict=True):
        ax.plot(days, _values(f, f"cum_{kind}") / YI, color=KIND_COLORS[kind], lw=1.2)
        ax.set_ylabel(f"cumulative {kind} flow, 100 m yuan", color=KIND_COLORS[kind], fontsize=9)
        ax.grid(alpha=0.3)
        twin = ax.twinx()
        twin.plot(days, level, color="0.35", lw=0.9)
        twin.set_ylabel(f"{index} level", fontsize=9)
        ax.set_title(
            f"{kind} money against {index} (fig. {4 if kind == 'trading' else 5})", fontsize=10
        )
    for ax in axes:
        ax.tick_params(axis="x", labelsize=8, rotation=30)
    return fig


def monthly_turnover_figure(monthly: pl.DataFrame) -> Figure:
    """表2 as a picture: the median daily turnover of trading and allocation money by month
    (log scale) and their ratio."""
    fig = _figure(11.0, 3.8)
    ax, ax2 = fig.subplots(1, 2)
    if monthly.height == 0:
        _no_data(ax)
        _no_data(ax2)
        return fig
    for kind in ("trading", "allocation"):
        s = monthly.filter(pl.col("kind") == kind).sort("month")
        ax.plot(
            s["month"].to_numpy(),
            100 * _values(s, "turnover_daily"),
            color=KIND_COLORS[kind],
            lw=1.2,
            label=kind,
        )
    ax.set_yscale("log")
    ax.set_ylabel("median daily turnover, % (log)")
    ax.set_title("turnover by kind and month (table 2)", fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    ax.grid(alpha=0.3, which="both")
    wide = monthly.pivot(on="kind", index="month", values="turnover_daily").sort("month")
    if {"trading", "allocation"} <= set(wide.columns):
        ratio = _values(wide, "trading") / _values(wide, "allocation")
        ax2.plot(wide["month"].to_numpy(), ratio, color="0.3", lw=1.1)
        ax2.axhline(10.0, color=NEGATIVE, lw=0.8, ls="--", label="10x")
        ax2.legend(fontsize=8, frameon=False)
    ax2.set_title("trading / allocation turnover", fontsize=10)
    ax2.grid(alpha=0.3)
    for a in (ax, ax2):
        a.tick_params(axis="x", labelsize=8, rotation=30)
    return fig


def industry_weights_figure(table: pl.DataFrame) -> Figure:
    """图7-8 / 表3: each industry's weight in trading and allocation money's holdings against
    its market-cap weight (left), and the over/underweight (right), on one month-end."""
    fig = _figure(12.0, max(3.5, 0.26 * table.height + 1.2))
    ax, ax2 = fig.subplots(1, 2, sharey=True)
    if table.height == 0:
        _no_data(ax)
        _no_data(ax2)
        return fig
    t = table.sort("market_weight")
    y = np.arange(t.height)
    h = 0.27
    for kind, dy in (("trading", h), ("allocation", 0.0)):
        if f"weight_{kind}" in t.columns:
            ax.barh(
                y + dy,
                100 * _values(t, f"weight_{kind}"),
                height=h,
                color=KIND_COLORS[kind],
                label=kind,
            )
        if f"overweight_{kind}" in t.columns:
            ax2.barh(
                y + dy - h / 2,
                100 * _values(t, f"overweight_{kind}"),
                height=h,
                color=KIND_COLORS[kind],
                label=kind,
            )
    ax.barh(y - h, 100 * _values(t, "market_weight"), height=h, color="0.7", label="market cap")
    ax.set_yticks(y, [industry_label(n) for n in t["industry"].to_list()], fontsize=8)
    ax.set_xlabel("weight, %")
    ax.set_title("industry weights by kind vs market cap (fig. 7-8)", fontsize=10)
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    ax2.axvline(0.0, color="0.4", lw=0.8)
    ax2.set_xlabel("weight minus market weight, pp")
    ax2.set_title("over / underweight (table 3)", fontsize=10)
    for a in (ax, ax2):
        a.grid(alpha=0.3, axis="x")
    return fig


def industry_allocation_figure(industry: pl.DataFrame, *, top: int = 8) -> Figure:
    """图9-10: the industry weights of trading and allocation money over time, for the `top`
    industries by allocation weight on the last month-end (the rest summed as "other")."""
    fig = _figure(13.0, 4.0)
    axes = fig.subplots(1, 2, sharey=True)
    if industry.height == 0:
        for ax in axes:
            _no_data(ax)
        return fig
    last = industry.filter(
        (pl.col("date") == industry["date"].max()) & (pl.col("kind") == "allocation")
    )
    names = last.sort("weight", descending=True)["industry"].head(top).to_list()
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    for ax, kind in zip(axes, ("trading", "allocation"), strict=True):
        sub = industry.filter(pl.col("kind") == kind)
        wide = sub.pivot(on="industry", index="date", values="weight").sort("date").fill_null(0.0)
        days = wide["date"].to_numpy()
        shown = [n for n in names if n in wide.columns]
        stack = [100 * _values(wide, n) for n in shown]
        other = 100 - np.sum(stack, axis=0) if stack else np.full(len(days), 100.0)
        ax.stackplot(
            days,
            *stack,
            other,
            labels=[*map(industry_label, shown), "other"],
            colors=[cmap(i % 10) for i in range(len(shown))] + ["0.85"],
        )
        ax.set_ylim(0, 100)
        ax.set_title(
            f"{kind} money: industry weights (fig. {9 if kind == 'trading' else 10})", fontsize=10
        )
        ax.tick_params(axis="x", labelsize=8, rotation=30)
    axes[0].set_ylabel("weight, %")
    handles, labels = axes[1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right upper", fontsize=8, frameon=False)
    return fig


def industry_flows_figure(industry_flows: pl.DataFrame, *, periods: int = 8) -> Figure:
    """图11-12: net flow by industry of trading and allocation money over the last `periods`
    periods (quarters), as heatmaps (亿元; red = outflow)."""
    fig = _figure(13.0, 6.0)
    axes = fig.subplots(1, 2, sharey=True)
    if industry_flows.height == 0:
        for ax in axes:
            _no_data(ax)
        return fig
    keep = industry_flows["period"].unique().sort().tail(periods)
    sub = industry_flows.filter(pl.col("period").is_in(keep.implode()))
    industries = sorted(sub["industry"].unique().to_list())
    image = None
    # the colour scale stops at the 95th percentile of |flow|: one extreme cell would wash out
    # the rest (cells beyond it show the end colour)
    both = np.abs(_values(sub.filter(pl.col("kind") != "all"), "flow")) / YI
    vmax = float(np.nanpercentile(both, 95)) if np.isfinite(both).any() else 1.0
    vmax = vmax or 1.0
    for ax, kind in zip(axes, ("trading", "allocation"), strict=True):
        wide = sub.filter(pl.col("kind") == kind).pivot(
            on="period", index="industry", values="flow"
        )
        wide = pl.DataFrame({"industry": industries}).join(
            wide, on="industry", how="left", maintain_order="left"
        )
        cols = sorted(c for c in wide.columns if c != "industry")  # periods in time order
        grid = np.column_stack([_values(wide, c) for c in cols]) / YI if cols else np.zeros((0, 0))
        image = ax.imshow(grid, aspect="auto", cmap="RdBu", vmin=-vmax, vmax=vmax)
        ax.set_xticks(range(len(cols)), [c[:7] for c in cols], fontsize=7, rotation=45)
        ax.set_yticks(range(len(industries)), [industry_label(n) for n in industries], fontsize=7)
        ax.set_title(
            f"{kind} money: net flow by industry (fig. {11 if kind == 'trading' else 12})",
            fontsize=10,
        )
    if image is not None:
        fig.colorbar(image, ax=list(axes), label="net flow, 100 m yuan", shrink=0.8)
    return fig


def coverage_figure(coverage: pl.DataFrame) -> Figure:
    """图14-18: per index over time: the share of members northbound money holds, northbound
    value / the index's cap, the members' northbound value, and the index's share of all
    northbound value."""
    fig = _figure(13.0, 7.0)
    axes = fig.subplots(2, 2, sharex=True).ravel()
    panels = (
        ("held_share", 100.0, "members held, % (fig. 14)"),
        ("value_share", 100.0, "northbound value / index cap, % (fig. 15, 18)"),
        ("nb_value", 1 / YI, "northbound value of the members, 100 m yuan (fig. 17)"),
        ("northbound_share", 100.0, "share of all northbound value, % (fig. 16)"),
    )
    indices = coverage["index"].unique().sort().to_list() if coverage.height else []
    for ax, (col, scale, title) in zip(axes, panels, strict=True):
        ax.set_title(title, fontsize=10)
        if not indices:
            _no_data(ax)
            continue
        for i, name in enumerate(indices):
            s = coverage.filter(pl.col("index") == name).sort("date")
            ax.plot(
                s["date"].to_numpy(),
                scale * _values(s, col),
                lw=1.2,
                label=name,
                color=(POSITIVE, NEGATIVE, "#2f855a", "#6b46c1")[i % 4],
            )
        ax.grid(alpha=0.3)
        ax.tick_params(axis="x", labelsize=8, rotation=30)
    if indices:
        axes[0].legend(fontsize=8, frameon=False)
    return fig


def cap_distribution_figure(caps: pl.DataFrame) -> Figure:
    """图13: distribution of log10 market cap of the stocks northbound money holds, of the
    market, and of each index's members, on the last month-end."""
    fig = _figure(8.0, 4.0)
    ax = fig.subplots()
    if caps.height == 0:
        _no_data(ax)
        return fig
    logs = caps.filter(pl.col("cap") > 0).with_columns(lc=pl.col("cap").log10())
    bins = np.linspace(float(logs["lc"].min()), float(logs["lc"].max()), 30)
    for group in logs["group"].unique(maintain_order=True).to_list():
        v = logs.filter(pl.col("group") == group)["lc"].to_numpy()
        ax.hist(v, bins=bins, histtype="step", lw=1.3, density=True, label=f"{group} ({len(v)})")
    ax.set_xlabel("log10 market cap, yuan")
    ax.set_ylabel("density")
    ax.set_title("market cap of northbound holdings vs the indices (fig. 13)", fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    return fig


FigurePlan = list[tuple[str, str, str, Callable[[], "Figure"]]]


GROUP_COLORS = ("#2f855a", "#718096", "#c53030", "#6b46c1", "#dd6b20")


def layered_groups_figure(layered: pl.DataFrame) -> Figure:
    """图38-39: the layered groups' NAV (top row) and excess NAV against the equal-weight
    industries (bottom row), one column per flow kind; group 1 = highest net inflow."""
    flows = layered["flow"].unique(maintain_order=True).to_list() if layered.height else []
    fig = _figure(4.4 * max(len(flows), 1), 6.2)
    axes = fig.subplots(2, max(len(flows), 1), squeeze=False, sharex=True)
    if not flows:
        for ax in axes.ravel():
            _no_data(ax)
        return fig
    for j, flow in enumerate(flows):
        sub = layered.filter(pl.col("flow") == flow)
        for g in sorted(sub["group"].unique().to_list()):
            s = sub.filter(pl.col("group") == g).sort("date")
            color = GROUP_COLORS[(g - 1) % len(GROUP_COLORS)]
            days = s["date"].to_numpy()
            axes[0, j].plot(days, _growth(s, "nav_net"), color=color, lw=1.1, label=f"group {g}")
            axes[1, j].plot(days, _values(s, "excess_nav"), color=color, lw=1.1)
        axes[0, j].set_title(f"{flow} flows: layered groups, NAV (growth of 1)", fontsize=10)
        axes[1, j].set_title(f"{flow} flows: excess NAV vs equal-weight industries", fontsize=10)
        axes[1, j].axhline(1.0, color="0.5", lw=0.7)
        for ax in axes[:, j]:
            ax.grid(alpha=0.3)
            ax.tick_params(axis="x", labelsize=8, rotation=30)
    axes[0, 0].legend(fontsize=8, frameon=False)
    return fig


def books_figure(books: pl.DataFrame, *, what: str = "industry indices") -> Figure:
    """图47 / 图55 / 图57-58: NAV and excess NAV (against the equal-weight average of the
    industries held) of the seed's named rotation books, net of costs and without."""
    fig = _figure(13.0, 4.2)
    ax, ax2 = fig.subplots(1, 2, sharex=True)
    if books.height == 0:
        _no_data(ax)
        _no_data(ax2)
        return fig
    names = books["book"].unique(maintain_order=True).to_list()
    colors = {n: KIND_COLORS.get(n.split("_")[0], "0.3") for n in names}
    bench_drawn = False
    for name in names:
        for costs, ls in ((True, "-"), (False, ":")):
            s = books.filter((pl.col("book") == name) & (pl.col("costs") == costs)).sort("date")
            if s.height == 0:
                continue
            days = s["date"].to_numpy()
            label = f"{name}{'' if costs else ' (no costs)'}"
            ax.plot(days, _growth(s, "nav_net"), color=colors[name], ls=ls, lw=1.1, label=label)
            ax2.plot(days, _values(s, "excess_nav"), color=colors[name], ls=ls, lw=1.1)
            if not bench_drawn:
                bench = np.cumprod(1.0 + np.nan_to_num(_values(s, "benchmark")))
                ax.plot(days, bench, color="0.6", lw=0.9, label="equal-weight industries")
                bench_drawn = True
    ax.set_title(f"rotation books on {what}: NAV (growth of 1)", fontsize=10)
    ax2.set_title("excess NAV vs the equal-weight industries", fontsize=10)
    ax2.axhline(1.0, color="0.5", lw=0.7)
    ax.legend(fontsize=7, frameon=False)
    for a in (ax, ax2):
        a.grid(alpha=0.3)
        a.tick_params(axis="x", labelsize=8, rotation=30)
    return fig


def rotation_grid_figure(
    grid: pl.DataFrame, *, top: int = 5, value: str = "excess_sharpe", costs: bool = True
) -> Figure:
    """图46 / 图53: the rotation grid's excess Sharpe by lookback (rows) x rebalance period
    (columns) at TOP-`top`, one heatmap per flow kind (with costs by default)."""
    sub = grid.filter((pl.col("top") == top) & (pl.col("costs") == costs)) if grid.height else grid
    flows = sub["flow"].unique(maintain_order=True).to_list() if sub.height else []
    fig = _figure(4.4 * max(len(flows), 1) + 1.0, 3.8)
    axes = fig.subplots(1, max(len(flows), 1), squeeze=False)[0]
    if not flows:
        _no_data(axes[0])
        return fig
    vmax = float(np.nanmax(np.abs(_values(sub, value)))) or 1.0
    image = None
    for ax, flow in zip(axes, flows, strict=True):
        s = sub.filter(pl.col("flow") == flow)
        lbs = sorted(s["lookback"].unique().to_list())
        rebs = sorted(s["rebalance"].unique().to_list())
        cells = np.full((len(lbs), len(rebs)), np.nan)
        for row in s.iter_rows(named=True):
            cells[lbs.index(row["lookback"]), rebs.index(row["rebalance"])] = row[value]
        image = ax.imshow(cells, cmap="RdYlGn", vmin=-vmax, vmax=vmax, aspect="auto")
        for i in range(len(lbs)):
            for j in range(len(rebs)):
                if np.isfinite(cells[i, j]):
                    ax.text(j, i, f"{cells[i, j]:.2f}", ha="center", va="center", fontsize=8)
        ax.set_xticks(range(len(rebs)), [f"{w} wk" for w in rebs], fontsize=8)
        ax.set_yticks(range(len(lbs)), [f"{lb} d" for lb in lbs], fontsize=8)
        ax.set_xlabel("rebalance every")
        ax.set_title(f"{flow} flows: {value.replace('_', ' ')}, TOP-{top}", fontsize=10)
    axes[0].set_ylabel("lookback (sessions)")
    if image is not None:
        fig.colorbar(image, ax=list(axes), shrink=0.8)
    return fig


def sharpe_surfaces_figure(
    grid: pl.DataFrame,
    *,
    book: str = "long_only",
    sample: str = "in",
    costs: str = "net",
    stat: str = "sharpe",
) -> Figure:
    """图19-22: the threshold timing's Sharpe over N (days summed, rows) x M (band width,
    columns), one heatmap per index (rows) and flow kind (columns), for one book, sample and
    cost setting."""
    sub = (
        grid.filter(
            (pl.col("book") == book) & (pl.col("sample") == sample) & (pl.col("costs") == costs)
        )
        if grid.height
        else grid
    )
    indices = sub["index"].unique(maintain_order=True).to_list() if sub.height else []
    flows = sub["flow"].unique(maintain_order=True).to_list() if sub.height else []
    fig = _figure(4.2 * max(len(flows), 1) + 1.0, 3.6 * max(len(indices), 1))
    axes = fig.subplots(max(len(indices), 1), max(len(flows), 1), squeeze=False)
    if not indices:
        _no_data(axes[0, 0])
        return fig
    values = _values(sub, stat)
    vmax = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
    image = None
    for i, index in enumerate(indices):
        for j, flow in enumerate(flows):
            ax = axes[i, j]
            s = sub.filter((pl.col("index") == index) & (pl.col("flow") == flow))
            ns = sorted(s["n"].unique().to_list())
            ms = sorted(s["m"].unique().to_list())
            cells = np.full((len(ns), len(ms)), np.nan)
            for row in s.select("n", "m", stat).iter_rows():
                cells[ns.index(row[0]), ms.index(row[1])] = row[2]
            image = ax.imshow(
                cells, cmap="RdYlGn", vmin=-vmax, vmax=vmax, aspect="auto", origin="lower"
            )
            ax.set_xticks(range(len(ms)), [f"{m:g}" for m in ms], fontsize=7)
            step = max(1, len(ns) // 10)
            ax.set_yticks(range(0, len(ns), step), [str(n) for n in ns[::step]], fontsize=7)
            if np.isfinite(cells).any():
                bi, bj = np.unravel_index(np.nanargmax(cells), cells.shape)
                ax.plot(bj, bi, marker="*", color="k", ms=9)
            ax.set_title(f"{index}, {flow} flows", fontsize=10)
            if i == len(indices) - 1:
                ax.set_xlabel("M (band width, std)")
            if j == 0:
                ax.set_ylabel("N (days summed)")
    fig.suptitle(
        f"threshold timing: {stat} by N x M ({book.replace('_', '-')}, {sample}-sample, "
        f"{'net of' if costs == 'net' else 'before'} costs; * = best)",
        fontsize=10,
    )
    if image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8)
    return fig


def timing_nav_figure(daily: pl.DataFrame, *, flows: Sequence[str] = ("all",)) -> Figure:
    """图23-24 (all flows) / 图29-36 (by capital type): NAV of the threshold-timing books
    against the index, one panel per index and book."""
    sub = daily.filter(pl.col("flow").is_in(list(flows))) if daily.height else daily
    indices = sub["index"].unique(maintain_order=True).to_list() if sub.height else []
    books = sub["book"].unique(maintain_order=True).to_list() if sub.height else []
    fig = _figure(6.2 * max(len(books), 1), 3.4 * max(len(indices), 1))
    axes = fig.subplots(max(len(indices), 1), max(len(books), 1), squeeze=False)
    if not indices:
        _no_data(axes[0, 0])
        return fig
    for i, index in enumerate(indices):
        for j, book in enumerate(books):
            ax = axes[i, j]
            bench_drawn = False
            panel = sub.filter((pl.col("index") == index) & (pl.col("book") == book))
            # every curve from the latest first day among them, rebased to 1: comparable
            start = panel.group_by("flow").agg(pl.col("date").min())["date"].max()
            for flow in flows:
                s = panel.filter((pl.col("flow") == flow) & (pl.col("date") >= start)).sort("date")
                if s.height == 0:
                    continue
                days = s["date"].to_numpy()
                ax.plot(
                    days,
                    _growth(s, "nav_net"),
                    color=KIND_COLORS.get(flow, "0.3"),
                    lw=1.1,
                    label=f"{flow} flows",
                )
                if not bench_drawn:
                    bench = np.cumprod(1.0 + np.nan_to_num(_values(s, "benchmark")))
                    ax.plot(days, bench, color="0.6", lw=0.9, label=index)
                    bench_drawn = True
            ax.set_title(
                f"{index}: {book.replace('_', '-')} timing, NAV (net of costs)", fontsize=10
            )
            ax.grid(alpha=0.3)
            ax.tick_params(axis="x", labelsize=8, rotation=30)
            ax.legend(fontsize=8, frameon=False)
    return fig


def quota_band_figure(signal: pl.DataFrame) -> Figure:
    """Seed 000: the daily quota usage mf with its band (mid, upper, lower: mean +- k std of the
    last window days), and the position the rule holds (shaded when invested)."""
    fig = _figure(13.0, 4.6)
    ax = fig.subplots()
    if signal.height == 0:
        _no_data(ax)
        return fig
    s = signal.sort("date")
    days = s["date"].to_numpy()
    ax.plot(days, _values(s, "mf") / YI, color="0.35", lw=0.7, label="mf (quota used)")
    ax.plot(days, _values(s, "mid") / YI, color=POSITIVE, lw=1.0, label="mid")
    ax.plot(days, _values(s, "upper") / YI, color="#2f855a", lw=0.9, ls="--", label="upper")
    ax.plot(days, _values(s, "lower") / YI, color=NEGATIVE, lw=0.9, ls="--", label="lower")
    invested = np.nan_to_num(_values(s, "position")) > 0
    lo, hi = ax.get_ylim()
    ax.fill_between(
        days, lo, hi, where=invested, color="#f6e05e", alpha=0.25, lw=0, label="invested"
    )
    ax.set_ylim(lo, hi)
    ax.set_ylabel("100 m yuan")
    ax.set_title("quota-band timing: mf, its band and the position", fontsize=10)
    ax.legend(fontsize=8, frameon=False, ncol=5, loc="upper left")
    ax.grid(alpha=0.3)
    return fig


def nav_vs_index_figure(
    daily: pl.DataFrame, *, index: str = "csi300", version: str | None = None
) -> Figure:
    """A book's NAV (net of costs, growth of 1) against its benchmark index (the rows of
    `version` when `daily` holds several)."""
    fig = _figure(11.0, 4.0)
    ax = fig.subplots()
    if version is not None and "version" in daily.columns:
        daily = daily.filter(pl.col("version") == version)
    if daily.height == 0:
        _no_data(ax)
        return fig
    d = daily.sort("date")
    days = d["date"].to_numpy()
    ax.plot(days, _growth(d, "nav_net"), color=POSITIVE, lw=1.2, label="strategy (net)")
    if "benchmark" in d.columns:
        bench = np.cumprod(1.0 + np.nan_to_num(_values(d, "benchmark")))
        ax.plot(days, bench, color="0.55", lw=1.0, label=index)
    ax.set_title(f"NAV against {index} (growth of 1)", fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    return fig


#: Every figure of the report, per part in report order: (name, the frame it draws (a table or
#: daily series of the part), the figure function and its keywords, caption).
FIGURES: dict[str, tuple[tuple[str, str, Callable[..., Figure], dict[str, Any], str], ...]] = {
    "quota_band": (
        ("band", "signal", quota_band_figure, {},
         "Seed 000: the daily quota usage mf, its 150-day band (mean +- 2 std) and the position "
         "(shaded while the book holds stocks)."),
        ("nav", "daily", nav_vs_index_figure, {"version": "stocks"},
         "Seed 000: NAV of the quota-band book (top 15 by holding ratio, net of costs) against "
         "CSI 300."),
        ("nav_index", "daily", nav_vs_index_figure, {"version": "index"},
         "The index version of the rule (long CSI 300 / flat on the same band) against CSI 300."),
    ),
    "threshold": (
        ("surfaces_long_only", "grid", sharpe_surfaces_figure, {"book": "long_only"},
         "Threshold timing: in-sample Sharpe (net of costs) over N x M for the long-only book, "
         "per index and flow kind (seed 004 图19-22)."),
        ("surfaces_long_short", "grid", sharpe_surfaces_figure, {"book": "long_short"},
         "The same for the long-short book (图19-22)."),
        ("nav_all_flows", "books_daily", timing_nav_figure, {"flows": ("all",)},
         "NAV of all-flow threshold timing at the in-sample best (N, M) against the index "
         "(图23-24)."),
        ("nav_by_type", "books_daily", timing_nav_figure,
         {"flows": ("trading", "allocation", "all")},
         "NAV of threshold timing by capital type (trading, allocation, all) at each one's "
         "in-sample best (N, M) (图29-36)."),
    ),
    "portraits": (
        ("cumulative_flows", "flows", cumulative_flows_figure, {},
         "Cumulative net flow of trading and allocation money against the flow index (CSI 800 "
         "by default; seed 004 图3-6)."),
        ("monthly_turnover", "monthly", monthly_turnover_figure, {},
         "Median daily turnover of trading and allocation money by month, and their ratio "
         "(表2)."),
        ("industry_weights", "industry_table", industry_weights_figure, {},
         "Industry weights by kind against market-cap weights on the last month-end, and the "
         "over/underweight (图7-8, 表3)."),
        ("industry_allocation", "industry", industry_allocation_figure, {},
         "Industry weights of trading and allocation money over time (图9-10)."),
        ("industry_flows", "industry_flows", industry_flows_figure, {},
         "Net flow by industry of trading and allocation money, last eight periods (图11-12)."),
        ("cap_distribution", "caps", cap_distribution_figure, {},
         "Market-cap distribution of northbound holdings, the market and the index members "
         "(图13)."),
        ("index_coverage", "coverage", coverage_figure, {},
         "Northbound coverage of the indices: members held, value / index cap, value, share of "
         "all northbound value (图14-18)."),
    ),
    "rotation": (
        ("layered_groups", "layered_daily", layered_groups_figure, {},
         "Layered groups of industries by net inflow: NAV and excess NAV against the "
         "equal-weight industries, per flow kind (seed 004 图38-39)."),
        ("seed_books", "books_daily", books_figure, {},
         "The seed's rotations on industry indices: trading-type biweekly TOP-5 on 1-month "
         "flows and allocation-type 6-weekly TOP-5 skipping the latest month; solid with costs, "
         "dotted without (图47, 图55)."),
        ("grid", "grid", rotation_grid_figure, {},
         "Excess Sharpe (with costs) of TOP-5 books over lookback x rebalance period, per flow "
         "kind (图46, 图53)."),
    ),
    "real_data": (
        ("surfaces", "grid", sharpe_surfaces_figure, {"book": "long_only"},
         "Real data: in-sample Sharpe (net of costs) of long-only CSI 300 timing on all "
         "northbound flows over N x M (图19-22's layout)."),
        ("nav", "books_daily", timing_nav_figure, {"flows": ("all",)},
         "Real data: NAV of CSI 300 timing on all flows at the in-sample best (N, M) against "
         "CSI 300."),
        ("quota_band", "quota_signal", quota_band_figure, {},
         "Real data: seed 000's mf, its band and the position of the index version."),
        ("quota_nav", "quota_daily", nav_vs_index_figure, {},
         "Real data: NAV of the quota band's index version against CSI 300."),
    ),
    "etf_rotation": (
        ("seed_books", "books_daily", books_figure, {"what": "industry ETFs"},
         "The seed's two rotations on one ETF per industry: NAV and excess NAV against the "
         "equal-weight ETFs; solid with costs, dotted without (图57-58)."),
    ),
}  # fmt: skip


def strategy_figure_plan(
    result: StrategiesResult, parts: Sequence[str] | None = None
) -> FigurePlan:
    """Every figure of the report: ``(part, name, caption, draw)`` per figure, in report
    order; ``draw()`` returns the Figure."""
    out: FigurePlan = []
    for part in parts or result.parts:
        frames = {**result.tables.get(part, {}), **result.series.get(part, {})}
        for name, key, draw, kwargs, caption in FIGURES.get(part, ()):
            out.append((part, name, caption, functools.partial(draw, frames[key], **kwargs)))
    return out
