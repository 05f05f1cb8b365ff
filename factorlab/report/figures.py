"""Figures of the factor study, each a function returning a matplotlib ``Figure``.

matplotlib is the optional ``plot`` extra: it is imported inside the functions that draw, never
when this module is imported, and figures are built on the Agg canvas without ``pyplot`` (no
global figure registry, no backend switch in the caller's process).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from factorlab.northbound.study import StudyResult

__all__ = [
    "correlation_heatmap",
    "coverage_over_time",
    "cumulative_returns",
    "figure_plan",
    "figure_png",
    "ic_bars",
    "quantile_returns",
    "rolling_ic",
    "study_figures",
]

#: Width of one small-multiple panel and height per factor row in horizontal bar charts (inches).
PANEL_WIDTH = 4.2
BAR_ROW_HEIGHT = 0.32
POSITIVE, NEGATIVE = "#2b6cb0", "#c53030"


def require_matplotlib() -> tuple[Any, Any]:
    """``(Figure, FigureCanvasAgg)``, or an ImportError that says how to install matplotlib."""
    try:
        import matplotlib  # noqa: F401  (imported first so a missing package fails here)
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(
            "the report figures need matplotlib: pip install 'factorlab[plot]'"
        ) from exc
    return Figure, FigureCanvasAgg


def _new_figure(width: float, height: float) -> Figure:
    figure_cls, canvas_cls = require_matplotlib()
    fig = figure_cls(figsize=(width, height), layout="constrained")
    canvas_cls(fig)
    return fig


def _factor_colors(factors: Sequence[str]) -> dict[str, Any]:
    """A stable colour per factor: the 10 dark tab20 shades first, then the light ones."""
    from matplotlib import colormaps

    cmap = colormaps["tab20"]
    return {f: cmap((2 * i) % 20 + (i // 10) % 2) for i, f in enumerate(factors)}


def _order(frame: pl.DataFrame, column: str, wanted: Sequence[str] | None) -> list[str]:
    present = frame[column].unique(maintain_order=True).to_list()
    if wanted is None:
        return present
    return [w for w in wanted if w in set(present)]


def _no_data(ax: Axes, what: str = "no data") -> None:
    ax.text(0.5, 0.5, what, ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def _pct_label(top: float) -> str:
    return f"{100 * top:g}%"


def figure_png(fig: Figure, *, dpi: int = 100) -> bytes:
    """The figure as PNG bytes (Agg)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def cumulative_returns(
    daily: pl.DataFrame,
    pool: str,
    *,
    net: bool = False,
    top: float = 0.2,
    factors: Sequence[str] | None = None,
) -> Figure:
    """Cumulative long excess and long-short return of every factor in one pool.

    Two panels: left the long leg (top ``top``) minus the pool benchmark, right top minus bottom,
    each compounded from the daily series of the study's ``daily`` frame (``excess`` /
    ``long_short``, or their ``*_net`` columns with ``net=True``), in percent. One line per
    factor, one shared legend.

    Nulls and NaN: a missing daily return counts as 0.

    Returns
    -------
    matplotlib.figure.Figure
        Two axes.
    """
    sub = daily.filter(pl.col("pool") == pool)
    names = _order(sub, "factor", factors)
    suffix = "_net" if net else ""
    fig = _new_figure(13.0, 4.8)
    colors = _factor_colors(names)
    axes = fig.subplots(1, 2, sharex=True)
    titles = (
        f"long excess: top {_pct_label(top)} minus pool",
        f"long-short: top {_pct_label(top)} minus bottom {_pct_label(top)}",
    )
    for ax, col, title in zip(axes, ("excess", "long_short"), titles, strict=True):
        ax.set_title(f"{pool}: cumulative {title}{' (net of costs)' if net else ''}", fontsize=10)
        if not names:
            _no_data(ax)
            continue
        for name in names:
            s = sub.filter(pl.col("factor") == name).sort("date")
            r = s[col + suffix].cast(pl.Float64).fill_nan(None).fill_null(0.0).to_numpy()
            ax.plot(
                s["date"].to_numpy(),
                100 * (np.cumprod(1.0 + r) - 1.0),
                color=colors[name],
                lw=1.1,
                label=name,
            )
        ax.axhline(0.0, color="0.5", lw=0.7)
        ax.set_ylabel("cumulative return, %")
        ax.grid(alpha=0.3)
    if names:
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside right upper", fontsize=8, frameon=False)
    return fig


def ic_bars(
    table: pl.DataFrame,
    *,
    factors: Sequence[str] | None = None,
    pools: Sequence[str] | None = None,
) -> Figure:
    """Mean weekly rank IC per factor, one panel per pool (horizontal bars, labelled with the
    IC in percent and its t-statistic).

    Reads ``factor``, ``pool``, ``rank_ic_mean_pct`` and (if present) ``rank_ic_t`` of the
    study table. Nulls and NaN: no bar, the label says ``n/a``.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per pool.
    """
    names = _order(table, "factor", factors)
    pool_names = _order(table, "pool", pools)
    height = max(3.0, 1.2 + BAR_ROW_HEIGHT * len(names))
    fig = _new_figure(max(PANEL_WIDTH, PANEL_WIDTH * len(pool_names)), height)
    axes = fig.subplots(1, max(1, len(pool_names)), sharey=True, squeeze=False)[0]
    y = np.arange(len(names))
    for k, (ax, pool) in enumerate(zip(axes, pool_names, strict=False)):
        t = table.filter(pl.col("pool") == pool)
        ic = _lookup(t, names, "rank_ic_mean_pct")
        tstat = _lookup(t, names, "rank_ic_t") if "rank_ic_t" in t.columns else [math.nan] * len(y)
        ax.barh(y, ic, color=[NEGATIVE if v < 0 else POSITIVE for v in np.nan_to_num(ic)])
        for yi, v, tv in zip(y, ic, tstat, strict=True):
            text = "n/a" if not math.isfinite(v) else f"{v:.2f}"
            if math.isfinite(tv):
                text += f" (t {tv:.1f})"
            ax.annotate(
                text,
                (np.nan_to_num(v), yi),
                xytext=(3 if np.nan_to_num(v) >= 0 else -3, 0),
                textcoords="offset points",
                ha="left" if np.nan_to_num(v) >= 0 else "right",
                va="center",
                fontsize=7,
            )
        ax.axvline(0.0, color="0.4", lw=0.7)
        ax.set_title(f"{pool}: mean weekly rank IC", fontsize=10)
        ax.set_xlabel("rank IC, %")
        ax.margins(x=0.35)
        ax.grid(axis="x", alpha=0.3)
        if k == 0:
            ax.set_yticks(y, names, fontsize=8)
    if not pool_names:
        _no_data(axes[0])
    axes[0].invert_yaxis()
    return fig


def _lookup(t: pl.DataFrame, names: Sequence[str], column: str) -> np.ndarray:
    """``column`` of ``t`` in the order of ``names`` (NaN where a factor has no row)."""
    values = dict(zip(t["factor"].to_list(), t[column].cast(pl.Float64).to_list(), strict=True))
    return np.array([np.nan if values.get(n) is None else values[n] for n in names], dtype=float)


def rolling_ic(
    ic: pl.DataFrame,
    *,
    window: int = 26,
    min_samples: int | None = None,
    factors: Sequence[str] | None = None,
    pools: Sequence[str] | None = None,
    ncols: int = 4,
) -> Figure:
    """Rolling mean of the weekly rank IC, one small panel per factor, one line per pool.

    Parameters
    ----------
    ic
        The study's ``ic`` frame (pool, date, factor, ic).
    window, min_samples
        Rolling window in signal dates (26 = half a year of weekly signals) and the fewest
        non-null ICs a window needs (default: half the window).
    ncols
        Panels per row.

    Nulls and NaN: a date without an IC (too few names) is skipped inside the window.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per factor (shared axes, zero line, IC in percent).
    """
    names = _order(ic, "factor", factors)
    pool_names = _order(ic, "pool", pools)
    need = max(1, window // 2) if min_samples is None else min_samples
    rolled = (
        ic.filter(pl.col("factor").is_in(names) & pl.col("pool").is_in(pool_names))
        .sort("factor", "pool", "date")
        .with_columns(
            roll=pl.col("ic")
            .cast(pl.Float64)
            .fill_nan(None)
            .rolling_mean(window, min_samples=need)
            .over("factor", "pool")
        )
    )
    n = max(1, len(names))
    cols = max(1, min(ncols, n))
    rows = math.ceil(n / cols)
    fig = _new_figure(3.4 * cols, 1.2 + 2.1 * rows)
    grid = fig.subplots(rows, cols, sharex=True, sharey=True, squeeze=False).ravel()
    pool_colors = {p: f"C{i}" for i, p in enumerate(pool_names)}
    for ax, name in zip(grid, names, strict=False):
        f = rolled.filter(pl.col("factor") == name)
        for pool in pool_names:
            s = f.filter(pl.col("pool") == pool)
            ax.plot(
                s["date"].to_numpy(),
                100 * s["roll"].to_numpy(),
                color=pool_colors[pool],
                lw=1.0,
                label=pool,
            )
        ax.axhline(0.0, color="0.5", lw=0.7)
        ax.set_title(name, fontsize=9)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
    for i, ax in enumerate(grid[len(names) :], start=len(names)):
        if names:
            fig.delaxes(ax)
            # the panel above an empty slot is the bottom of its column: it keeps its dates
            if i - cols >= 0 and i - cols < len(names):
                grid[i - cols].xaxis.set_tick_params(labelbottom=True)
        else:
            _no_data(ax)
    if names:
        handles, labels = grid[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=len(pool_names), fontsize=8)
        fig.suptitle(f"rank IC, %: rolling mean over {window} signal dates", fontsize=10)
    return fig


def _annual_expr(column: str, annualization: float) -> pl.Expr:
    """Geometric annual return of a daily series (equals ``evaluate.metrics.annual_return``:
    NaN and null count as 0 and in n)."""
    r = pl.col(column).cast(pl.Float64).fill_nan(0.0).fill_null(0.0)
    return ((1.0 + r).log().sum() * (annualization / pl.len())).exp() - 1.0


def quantile_returns(
    daily: pl.DataFrame,
    *,
    top: float = 0.2,
    annualization: float = 252.0,
    factors: Sequence[str] | None = None,
    pools: Sequence[str] | None = None,
) -> Figure:
    """Annualized return of the top leg, the pool benchmark and the bottom leg per factor, one
    panel per pool (the study holds only the two extreme quantiles, not every quantile).

    Each bar is the geometric annual return of the study's daily ``long``, ``bench`` and
    ``short`` series (gross) over that factor's dates.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per pool.
    """
    names = _order(daily, "factor", factors)
    pool_names = _order(daily, "pool", pools)
    ann = daily.group_by("pool", "factor").agg(
        _annual_expr(c, annualization).alias(c) for c in ("long", "bench", "short")
    )
    height = max(3.0, 1.4 + 3 * 0.14 * len(names) + 0.2 * len(names))
    fig = _new_figure(max(PANEL_WIDTH, PANEL_WIDTH * len(pool_names)) + 1.2, height)
    axes = fig.subplots(1, max(1, len(pool_names)), sharey=True, squeeze=False)[0]
    legs = (
        ("long", f"top {_pct_label(top)}", "#2f855a"),
        ("bench", "pool", "0.6"),
        ("short", f"bottom {_pct_label(top)}", "#c05621"),
    )
    y = np.arange(len(names))
    h = 0.27
    for k, (ax, pool) in enumerate(zip(axes, pool_names, strict=False)):
        t = ann.filter(pl.col("pool") == pool)
        for j, (col, label, color) in enumerate(legs):
            ax.barh(y + (j - 1) * h, 100 * _lookup(t, names, col), h, color=color, label=label)
        ax.axvline(0.0, color="0.4", lw=0.7)
        ax.set_title(f"{pool}: annualized return", fontsize=10)
        ax.set_xlabel("annualized return, %")
        ax.grid(axis="x", alpha=0.3)
        if k == 0:
            ax.set_yticks(y, names, fontsize=8)
    if not pool_names:
        _no_data(axes[0])
    else:
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside right upper", fontsize=8, frameon=False)
        fig.suptitle(
            f"top {_pct_label(top)} / pool / bottom {_pct_label(top)} annualized return",
            fontsize=10,
        )
    axes[0].invert_yaxis()
    return fig


def correlation_heatmap(
    correlation: Mapping[str, pl.DataFrame], *, annotate_max: int = 16
) -> Figure:
    """Correlation of the factors' daily long-short returns, one heatmap per pool.

    Factors are numbered in the first panel's labels (``1 nb_hold_value``, ...) and by number on
    the x axes; cells hold the correlation with one decimal when there are at most
    ``annotate_max`` factors. Colour scale -1 (red) to +1 (blue), shared.

    Nulls and NaN: blank cells.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per pool plus the colour bar's axes.
    """
    pools = list(correlation)
    n_max = max([len(c) for c in correlation.values()] or [1])
    side = max(3.2, 0.32 * n_max + 1.0)
    fig = _new_figure(side * max(1, len(pools)) + 2.2, side + 0.6)
    axes = fig.subplots(1, max(1, len(pools)), squeeze=False)[0]
    image = None
    for k, (ax, pool) in enumerate(zip(axes, pools, strict=False)):
        corr = correlation[pool]
        names = [str(n) for n in corr["factor"] if str(n) in corr.columns]
        m = corr.select(names).cast(pl.Float64).fill_null(np.nan).to_numpy()
        image = ax.imshow(
            np.ma.masked_invalid(m), cmap="RdBu", vmin=-1.0, vmax=1.0, interpolation="nearest"
        )
        idx = np.arange(len(names))
        ax.set_xticks(idx, [str(i + 1) for i in idx], fontsize=7)
        ax.set_yticks(
            idx, [f"{i + 1} {n}" for i, n in enumerate(names)] if k == 0 else [], fontsize=7
        )
        ax.set_title(pool, fontsize=10)
        if len(names) <= annotate_max:
            for i in idx:
                for j in idx:
                    if math.isfinite(m[i, j]):
                        ax.text(
                            j,
                            i,
                            f"{m[i, j]:.1f}",
                            ha="center",
                            va="center",
                            fontsize=5.5,
                            color="white" if abs(m[i, j]) > 0.6 else "black",
                        )
    if image is None:
        _no_data(axes[0])
    else:
        fig.colorbar(image, ax=list(axes), shrink=0.8, label="correlation")
        fig.suptitle("correlation of daily long-short returns", fontsize=10)
    return fig


def coverage_over_time(
    coverage: pl.DataFrame,
    *,
    factors: Sequence[str] | None = None,
    pools: Sequence[str] | None = None,
) -> Figure:
    """Share of the pool with a factor value on each signal date, one panel per pool, one line
    per factor (percent).

    Returns
    -------
    matplotlib.figure.Figure
        One axes per pool.
    """
    names = _order(coverage, "factor", factors)
    pool_names = _order(coverage, "pool", pools)
    fig = _new_figure(max(PANEL_WIDTH, PANEL_WIDTH * len(pool_names)) + 2.4, 3.8)
    colors = _factor_colors(names)
    axes = fig.subplots(1, max(1, len(pool_names)), sharey=True, squeeze=False)[0]
    for k, (ax, pool) in enumerate(zip(axes, pool_names, strict=False)):
        sub = coverage.filter(pl.col("pool") == pool).sort("date")
        for name in names:
            s = sub.filter(pl.col("factor") == name)
            ax.plot(
                s["date"].to_numpy(),
                100 * s["coverage"].cast(pl.Float64).to_numpy(),
                color=colors[name],
                lw=1.0,
                label=name,
            )
        ax.set_title(f"{pool}: coverage", fontsize=10)
        ax.set_ylim(-3, 103)
        ax.grid(alpha=0.3)
        ax.tick_params(axis="x", labelsize=7)
        if k == 0:
            ax.set_ylabel("% of pool with a value")
    if not pool_names:
        _no_data(axes[0])
    elif names:
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside right upper", fontsize=8, frameon=False)
    return fig


def figure_plan(result: StudyResult) -> list[tuple[str, str, Callable[[], Figure]]]:
    """What the report draws, in order: ``(file stem, caption, draw)`` per figure; ``draw()``
    builds the figure only when called, so a caller can render and drop one at a time."""
    table = result.table
    factors = table["factor"].unique(maintain_order=True).to_list()
    pools = table["pool"].unique(maintain_order=True).to_list()
    top = float(getattr(result.params, "top", 0.2))
    annualization = float(getattr(result.params, "annualization", 252.0))
    q = _pct_label(top)
    plan: list[tuple[str, str, Callable[[], Figure]]] = []
    for pool in pools:
        plan.append(
            (
                f"cumulative_{pool}",
                f"{pool}: cumulative long excess (top {q} minus the pool benchmark) and "
                f"long-short (top {q} minus bottom {q}) return per factor, gross of costs.",
                lambda pool=pool: cumulative_returns(result.daily, pool, top=top, factors=factors),
            )
        )
    plan += [
        (
            "ic_bars",
            "Mean weekly rank IC per factor and pool (bar labels: IC % and its t-statistic).",
            lambda: ic_bars(table, factors=factors, pools=pools),
        ),
        (
            "rolling_ic",
            "Rank IC, rolling mean over 26 signal dates, one panel per factor, one line per pool.",
            lambda: rolling_ic(result.ic, factors=factors, pools=pools),
        ),
        (
            "quantile_returns",
            f"Top {q} / pool / bottom {q} annualized return per factor (gross; the study "
            "holds only the two extreme legs).",
            lambda: quantile_returns(
                result.daily, top=top, annualization=annualization, factors=factors, pools=pools
            ),
        ),
        (
            "correlation",
            "Correlation of the factors' daily long-short returns per pool.",
            lambda: correlation_heatmap(
                {p: result.correlation[p] for p in pools if p in result.correlation}
            ),
        ),
        (
            "coverage",
            "Coverage over time: share of the pool with a factor value on each signal date.",
            lambda: coverage_over_time(result.coverage, factors=factors, pools=pools),
        ),
    ]
    return plan


def study_figures(result: StudyResult) -> dict[str, Figure]:
    """Every figure of the report, drawn now, by file stem (see :func:`figure_plan`)."""
    return {name: draw() for name, _, draw in figure_plan(result)}
