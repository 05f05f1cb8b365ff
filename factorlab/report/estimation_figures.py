"""Figures of the flow-estimation report (seed 002's figures 5-14), one function each; matplotlib
is imported lazily (the ``plot`` extra)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from factorlab.report.figures import require_matplotlib
from factorlab.report.strategies_figures import industry_label

if TYPE_CHECKING:
    from factorlab.northbound.estimation.run import EstimationResult

__all__ = ["estimation_figure_plan"]

YI = 1e8


def _figure(width: float = 9.0, height: float = 3.6, ncols: int = 1) -> tuple[Any, list[Any]]:
    figure_cls, canvas_cls = require_matplotlib()
    fig = figure_cls(figsize=(width, height), layout="constrained")
    canvas_cls(fig)
    axes = fig.subplots(1, ncols)
    return fig, list(np.atleast_1d(axes))


def _dates(frame: pl.DataFrame) -> np.ndarray:
    return frame["date"].to_numpy()


def disclosure_figure(stats: pl.DataFrame, change: str) -> Any:
    """Seed figures 5-6: printed stocks as a share of held stocks, and their northbound weight."""
    fig, (a, b) = _figure(ncols=2)
    d = _dates(stats)
    a.plot(d, stats["listed_share"], lw=0.8, label="on the short-selling list")
    a.plot(d, stats["printed_share"], lw=0.8, label="quantity printed")
    b.plot(d, stats["printed_weight"], lw=0.8, color="C1", label="printed")
    b.plot(d, stats["listed_weight"], lw=0.8, color="C0", label="listed")
    for ax, title in ((a, "share of held stocks"), (b, "share of northbound holding value")):
        ax.axvline(np.datetime64(change), color="grey", ls="--", lw=0.8)
        ax.set_ylim(0, 1.05)
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7)
    return fig


def _scatter(ax: Any, x: np.ndarray, y: np.ndarray, title: str) -> None:
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    ax.scatter(x / YI, y / YI, s=5, alpha=0.5)
    if len(x) > 2 and np.std(x) > 0:
        k, c = np.polyfit(x, y, 1)
        xs = np.linspace(x.min(), x.max(), 10)
        r2 = np.corrcoef(x, y)[0, 1] ** 2
        ax.plot(xs / YI, (k * xs + c) / YI, color="C3", lw=1, label=f"R² = {r2:.3f}")
        ax.legend(fontsize=7)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("estimated (yi yuan)", fontsize=8)
    ax.set_ylabel("true (yi yuan)", fontsize=8)


def naive_figure(result: EstimationResult) -> Any:
    """Seed figures 7-8: the naive baseline against the true total (scatter, cumulative)."""
    fig, (a, b) = _figure(ncols=2)
    j = result.naive.totals.select("date", "net_inflow").join(
        result.truth.select("date", "net_buy"), on="date"
    )
    _scatter(a, j["net_inflow"].to_numpy(), j["net_buy"].to_numpy(), "daily: naive vs true")
    d = _dates(j)
    b.plot(d, np.nancumsum(j["net_inflow"].to_numpy()) / YI, lw=0.9, label="naive (printed only)")
    b.plot(d, np.nancumsum(j["net_buy"].to_numpy()) / YI, lw=0.9, label="true")
    b.set_title("cumulative net inflow (yi yuan)", fontsize=9)
    b.legend(fontsize=7)
    return fig


def value_figure(result: EstimationResult) -> Any:
    """Seed figure 9: estimated against true holding value; snapshot re-anchors marked."""
    fig, (a,) = _figure()
    t = result.estimate.totals
    a.plot(_dates(t), t["value"] / YI, lw=0.9, label="estimated")
    a.plot(_dates(result.truth), result.truth["value"] / YI, lw=0.9, label="true")
    a.plot(
        _dates(result.naive.totals),
        result.naive.totals["value"] / YI,
        lw=0.7,
        ls=":",
        label="naive",
    )
    for anchor in t["anchor"].unique().sort().to_list()[1:]:
        a.axvline(np.datetime64(anchor), color="grey", lw=0.6, ls="--")
    a.set_title("northbound holding value (yi yuan); dashed: snapshot as-of days", fontsize=9)
    a.legend(fontsize=7)
    return fig


def flows_figure(result: EstimationResult) -> Any:
    """Seed figures 10-11: cumulative flows, and the 22-day rolling sums' scatter."""
    fig, (a, b) = _figure(ncols=2)
    j = result.estimate.totals.select("date", "net_inflow").join(
        result.truth.select("date", "net_buy"), on="date"
    )
    d = _dates(j)
    e, t = j["net_inflow"].to_numpy(), j["net_buy"].to_numpy()
    a.plot(d, np.cumsum(e) / YI, lw=0.9, label="estimated")
    a.plot(d, np.cumsum(t) / YI, lw=0.9, label="true")
    a.set_title("cumulative net inflow (yi yuan)", fontsize=9)
    a.legend(fontsize=7)
    if len(e) >= 22:
        k = np.ones(22)
        _scatter(b, np.convolve(e, k, "valid"), np.convolve(t, k, "valid"), "22-day rolling sums")
    return fig


def market_figure(result: EstimationResult) -> Any:
    """Seed figure 12: cumulative estimated net inflow against CSI 800."""
    fig, (a,) = _figure()
    m = result.attribution.market
    a.plot(_dates(m), m["cum_inflow"] / YI, lw=0.9, label="cumulative estimated inflow (yi yuan)")
    a.legend(fontsize=7, loc="upper left")
    if m["csi800"].null_count() < m.height:
        b = a.twinx()
        b.plot(_dates(m), m["csi800"], lw=0.8, color="C1", label="CSI 800 (right)")
        b.legend(fontsize=7, loc="upper right")
    a.set_title("market total", fontsize=9)
    return fig


def style_figure(result: EstimationResult) -> Any:
    """Seed figure 13: cumulative estimated inflow by style (size x book-to-price)."""
    fig, (a,) = _figure()
    st = result.attribution.style
    for name in st["style"].unique(maintain_order=True).to_list():
        s = st.filter(pl.col("style") == name)
        a.plot(_dates(s), s["cum_inflow"] / YI, lw=0.9, label=name)
    a.set_title("cumulative estimated inflow by style (yi yuan)", fontsize=9)
    a.legend(fontsize=7)
    return fig


def industry_figure(result: EstimationResult) -> Any:
    """Seed figure 14: estimated net inflow by CITIC industry over the window."""
    ind = result.attribution.industry.sort("net_inflow")
    fig, (a,) = _figure(height=max(3.0, 0.18 * ind.height))
    a.barh(
        [industry_label(n) for n in ind["industry"]],
        ind["net_inflow"] / YI,
        color=["C3" if v < 0 else "C2" for v in ind["net_inflow"]],
    )
    a.tick_params(axis="y", labelsize=7)
    a.set_title("estimated net inflow by industry (yi yuan)", fontsize=9)
    return fig


def estimation_figure_plan(result: EstimationResult) -> list[tuple[str, str, Callable[[], Any]]]:
    """``(name, caption, draw)`` of every figure the result has data for."""
    plan: list[tuple[str, str, Callable[[], Any]]] = []
    change = result.data.get("disclosure_change", "2024-08-16")
    if result.disclosure is not None and result.disclosure.height:
        plan.append(
            (
                "disclosure",
                "Disclosed stocks and their northbound weight (seed figures "
                "5-6); dashed: the disclosure change.",
                lambda: disclosure_figure(result.disclosure, change),
            )
        )
    if result.truth is not None:
        plan += [
            (
                "naive",
                "Naive baseline: flows of the printed stocks alone vs the true total "
                "(seed figures 7-8).",
                lambda: naive_figure(result),
            ),
            (
                "value",
                "Holding value: two-step estimate, naive, truth (seed figure 9).",
                lambda: value_figure(result),
            ),
            (
                "flows",
                "Estimated vs true net inflow: cumulative and 22-day sums (seed figures 10-11).",
                lambda: flows_figure(result),
            ),
        ]
    plan += [
        (
            "market",
            "Estimated flows against CSI 800 (seed figure 12).",
            lambda: market_figure(result),
        ),
        ("style", "Style 2 x 2 (seed figure 13).", lambda: style_figure(result)),
        ("industry", "CITIC industries (seed figure 14).", lambda: industry_figure(result)),
    ]
    return plan
