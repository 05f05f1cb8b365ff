"""Figures of a factor tear sheet (one :class:`~factorlab.evaluate.TearSheetSection` each), as
matplotlib ``Figure`` objects on the Agg canvas (matplotlib imported lazily, as in
:mod:`factorlab.report.figures`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from factorlab.report.figures import NEGATIVE, POSITIVE, require_matplotlib

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from factorlab.evaluate.tears import TearSheetSection

__all__ = [
    "cumulative_figure",
    "events_figure",
    "ic_decay_figure",
    "ic_distribution_figure",
    "ic_monthly_figure",
    "ic_time_figure",
    "quantile_returns_figure",
    "section_plan",
    "spread_figure",
    "turnover_figure",
]


def _figure(width: float, height: float) -> Figure:
    """A figure on the Agg canvas. Layout: matplotlib's constrained engine costs a second
    draw per figure (half the tear sheet's render time), so fixed margins are used instead."""
    figure_cls, canvas_cls = require_matplotlib()
    fig = figure_cls(figsize=(width, height))
    fig.subplots_adjust(left=0.08, right=0.97, bottom=0.14, top=0.9, wspace=0.25, hspace=0.45)
    canvas_cls(fig)
    return fig


def _dates(frame: pl.DataFrame) -> np.ndarray:
    return frame.get_column(frame.columns[0]).to_numpy()


def _values(frame: pl.DataFrame, column: str) -> np.ndarray:
    return frame.get_column(column).cast(pl.Float64).fill_null(np.nan).to_numpy()


def quantile_returns_figure(s: TearSheetSection) -> Figure:
    """Mean (demeaned) return by quantile per horizon, as a per-session rate in basis points,
    with +-1 standard error bars; the last group is top minus bottom with its 95 % band."""
    qr, ss = s.quantile_returns, s.spread_summary
    assert qr is not None and ss is not None
    horizons = sorted(set(qr["horizon"].to_list()))
    quantiles = sorted(set(qr["quantile"].to_list()))
    fig = _figure(9.0, 3.8)
    ax = fig.subplots()
    width = 0.8 / max(1, len(horizons))
    x = np.arange(len(quantiles) + 1)
    for i, h in enumerate(horizons):
        part = qr.filter(pl.col("horizon") == h).sort("quantile")
        top = ss.filter(pl.col("horizon") == h)
        scale = 1e4 / h  # spread per horizon -> per session (simple), bp
        heights = [*(1e4 * _values(part, "rate")), float(top["mean"][0]) * scale]
        errs = [*(1e4 * _values(part, "rate_se")), float(top["mean"][0] - top["ci_low"][0]) * scale]
        ax.bar(
            x + (i - (len(horizons) - 1) / 2) * width,
            heights,
            width,
            yerr=errs,
            capsize=2,
            label=f"{h} session(s)",
            color=f"C{i}",
        )
    ax.axhline(0.0, color="0.4", lw=0.7)
    ax.set_xticks(x, [*(f"Q{q}" for q in quantiles), "top - bottom\n(95% band)"], fontsize=8)
    ax.set_ylabel("mean return per session, bp")
    ax.set_title(f"{s.factor} / {s.pool}: mean return by quantile (demeaned)", fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return fig


def spread_figure(s: TearSheetSection) -> Figure:
    """Top minus bottom quantile return per date (first horizon) with its 95 % band from the
    per-date standard errors and a 21-session moving mean."""
    sp = s.spread
    assert sp is not None
    h = int(sp["horizon"].min())
    part = sp.filter(pl.col("horizon") == h)
    d, y, se = _dates(part), 1e4 * _values(part, "spread"), 1e4 * _values(part, "std_error")
    fig = _figure(10.0, 3.2)
    ax = fig.subplots()
    ax.fill_between(d, y - 1.96 * se, y + 1.96 * se, color="0.85", lw=0, label="95% band")
    ax.plot(d, y, color="C0", lw=0.5, label="per date")
    roll = pl.Series(y).rolling_mean(21, min_samples=5).to_numpy()
    ax.plot(d, roll, color="C3", lw=1.2, label="21-session mean")
    ax.axhline(0.0, color="0.4", lw=0.7)
    ax.set_ylabel("bp")
    ax.set_title(f"top minus bottom quantile, {h}-session return", fontsize=10)
    ax.legend(fontsize=8, frameon=False, ncols=3)
    ax.grid(alpha=0.3)
    return fig


def cumulative_figure(s: TearSheetSection) -> Figure:
    """Compounded 1-session demeaned return of each quantile, and of the top-minus-bottom book."""
    cum = s.cumulative
    assert cum is not None
    fig = _figure(12.0, 3.8)
    left, right = fig.subplots(1, 2, sharex=True)
    quantiles = sorted(q for q in cum["quantile"].unique().to_list() if q is not None)
    from matplotlib import colormaps

    cmap = colormaps["RdYlGn"]
    for i, q in enumerate(quantiles):
        part = cum.filter(pl.col("quantile") == q)
        left.plot(
            _dates(part),
            100 * _values(part, "cumulative"),
            lw=1.0,
            color=cmap(i / max(1, len(quantiles) - 1)),
            label=f"Q{q}",
        )
    book = cum.filter(pl.col("quantile").is_null())
    right.plot(_dates(book), 100 * _values(book, "cumulative"), color="C0", lw=1.2)
    left.set_title("cumulative return by quantile (1 session, demeaned)", fontsize=10)
    right.set_title("top minus bottom book (1 session)", fontsize=10)
    for ax in (left, right):
        ax.axhline(0.0, color="0.4", lw=0.7)
        ax.set_ylabel("%")
        ax.grid(alpha=0.3)
    left.legend(fontsize=7, frameon=False, ncols=2)
    return fig


def ic_time_figure(s: TearSheetSection) -> Figure:
    """Per-date IC and its 21-session moving mean, one row per horizon."""
    ic = s.ic
    assert ic is not None
    horizons = sorted(set(ic["horizon"].to_list()))
    fig = _figure(10.0, 2.4 * len(horizons) + 0.4)
    axes = np.atleast_1d(fig.subplots(len(horizons), 1, sharex=True, squeeze=False)[:, 0])
    for ax, h in zip(axes, horizons, strict=True):
        part = ic.filter(pl.col("horizon") == h)
        ax.plot(_dates(part), _values(part, "ic"), color="C0", lw=0.5, alpha=0.7, label="IC")
        ax.plot(
            _dates(part), _values(part, "ic_mean_21"), color="C3", lw=1.2, label="21-session mean"
        )
        mean = np.nanmean(_values(part, "ic"))
        ax.axhline(0.0, color="0.4", lw=0.7)
        ax.set_title(f"{h}-session IC (mean {mean:.4f})", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, frameon=False, ncols=2)
    return fig


def ic_distribution_figure(s: TearSheetSection) -> Figure:
    """IC histogram and normal QQ plot (``scipy.stats.probplot``), one row per horizon."""
    from scipy import stats

    ic = s.ic
    assert ic is not None
    horizons = sorted(set(ic["horizon"].to_list()))
    fig = _figure(9.0, 2.6 * len(horizons) + 0.3)
    axes = fig.subplots(len(horizons), 2, squeeze=False)
    for (hist, qq), h in zip(axes, horizons, strict=True):
        x = _values(ic.filter(pl.col("horizon") == h), "ic")
        x = x[np.isfinite(x)]
        if x.size < 2:
            hist.text(0.5, 0.5, "fewer than 2 ICs", ha="center", transform=hist.transAxes)
            continue
        hist.hist(x, bins=min(50, max(5, x.size // 10)), color="C0", alpha=0.8)
        hist.axvline(x.mean(), color="C3", lw=1.0)
        hist.set_title(f"{h}-session IC: mean {x.mean():.4f}, std {x.std(ddof=1):.4f}", fontsize=9)
        (osm, osr), (slope, intercept, _) = stats.probplot(x, dist="norm")
        qq.plot(osm, osr, ".", ms=2, color="C0")
        qq.plot(osm, slope * osm + intercept, color="C3", lw=1.0)
        qq.set_title(f"{h}-session IC: normal QQ", fontsize=9)
        qq.set_xlabel("normal quantile", fontsize=8)
        qq.set_ylabel("observed IC", fontsize=8)
    return fig


def ic_monthly_figure(s: TearSheetSection) -> Figure:
    """Mean IC per year x month (first horizon), a diverging heatmap annotated in percent."""
    m = s.ic_monthly
    assert m is not None
    h = int(m["horizon"].min())
    part = m.filter(pl.col("horizon") == h)
    years = sorted(set(part["year"].to_list()))
    grid = np.full((len(years), 12), np.nan)
    for y, mo, v in part.select("year", "month", "ic_mean").iter_rows():
        grid[years.index(y), mo - 1] = np.nan if v is None else v
    fig = _figure(9.0, 0.9 + 0.32 * len(years))
    ax = fig.subplots()
    lim = float(np.nanmax(np.abs(grid))) if np.isfinite(grid).any() else 1.0
    img = ax.imshow(np.ma.masked_invalid(grid), cmap="RdBu", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_xticks(np.arange(12), [str(i) for i in range(1, 13)], fontsize=7)
    ax.set_yticks(np.arange(len(years)), [str(y) for y in years], fontsize=7)
    if len(years) <= 25:
        for i in range(len(years)):
            for j in range(12):
                if np.isfinite(grid[i, j]):
                    ax.text(j, i, f"{100 * grid[i, j]:.1f}", ha="center", va="center", fontsize=6)
    fig.colorbar(img, ax=ax, shrink=0.8, label="mean IC")
    ax.set_title(f"monthly mean {h}-session IC (cells in %)", fontsize=10)
    return fig


def ic_decay_figure(s: TearSheetSection) -> Figure:
    """Mean IC against the forward return of each horizon, with +-1.96 standard errors."""
    d = s.ic_decay
    assert d is not None
    h = d["horizon"].to_numpy()
    mean = _values(d, "ic_mean")
    se = _values(d, "ic_std") / np.sqrt(np.maximum(d["n_dates"].to_numpy(), 1))
    fig = _figure(6.0, 3.2)
    ax = fig.subplots()
    ax.bar(
        np.arange(h.size),
        mean,
        yerr=1.96 * se,
        capsize=2,
        color=[NEGATIVE if v < 0 else POSITIVE for v in np.nan_to_num(mean)],
    )
    ax.set_xticks(np.arange(h.size), [str(v) for v in h])
    ax.set_xlabel("horizon, sessions")
    ax.set_ylabel("mean IC")
    ax.axhline(0.0, color="0.4", lw=0.7)
    ax.set_title("IC decay over horizons (95% band)", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    return fig


def turnover_figure(s: TearSheetSection) -> Figure:
    """Top and bottom quantile turnover and the factor rank autocorrelation at the first lag."""
    tv, ac = s.turnover, s.autocorrelation
    assert tv is not None and ac is not None
    lag = int(tv["lag"].min()) if tv.height else 1
    fig = _figure(12.0, 3.4)
    left, right = fig.subplots(1, 2, sharex=True)
    qs = sorted(set(tv["quantile"].to_list()))
    for q, color in zip(qs, ("C3", "C2"), strict=False):
        part = tv.filter((pl.col("lag") == lag) & (pl.col("quantile") == q))
        label = f"{'bottom' if q == min(qs) else 'top'} Q{q}"
        left.plot(_dates(part), _values(part, "turnover"), lw=0.7, color=color, label=label)
    left.set_title(f"quantile turnover, lag {lag}", fontsize=10)
    left.legend(fontsize=8, frameon=False)
    part = ac.filter(pl.col("lag") == lag)
    y = _values(part, "autocorrelation")
    right.plot(_dates(part), y, color="C0", lw=0.7)
    right.set_title(
        f"factor rank autocorrelation, lag {lag} (mean {np.nanmean(y):.3f})", fontsize=10
    )
    for ax in (left, right):
        ax.grid(alpha=0.3)
    return fig


def events_figure(s: TearSheetSection) -> Figure:
    """Average cumulative return (demeaned) by quantile before and after the signal date."""
    ev = s.events
    assert ev is not None
    from matplotlib import colormaps

    cmap = colormaps["RdYlGn"]
    quantiles = sorted(set(ev["quantile"].to_list()))
    fig = _figure(8.0, 3.6)
    ax = fig.subplots()
    for i, q in enumerate(quantiles):
        part = ev.filter(pl.col("quantile") == q).sort("offset")
        ax.plot(
            part["offset"].to_numpy(),
            1e4 * _values(part, "mean"),
            marker=".",
            lw=1.0,
            color=cmap(i / max(1, len(quantiles) - 1)),
            label=f"Q{q}",
        )
    ax.axvline(0.0, color="0.4", lw=0.7, ls="--")
    ax.axhline(0.0, color="0.4", lw=0.7)
    ax.set_xlabel("sessions from the signal date (close)")
    ax.set_ylabel("cumulative return vs universe, bp")
    ax.set_title("event study: average cumulative return by quantile", fontsize=10)
    ax.legend(fontsize=7, frameon=False, ncols=2)
    ax.grid(alpha=0.3)
    return fig


def section_plan(
    s: TearSheetSection,
) -> list[tuple[str, str, Callable[[TearSheetSection], Figure]]]:
    """``(key, caption, draw)`` for every figure of a section, in report order."""
    if s.reason is not None or s.ic is None:
        return []
    return [
        (
            "quantile_returns",
            "Mean return by quantile (demeaned, per-session rate, +-1 s.e.) "
            "and top minus bottom with its 95% band.",
            quantile_returns_figure,
        ),
        (
            "spread",
            "Top minus bottom quantile per date with its 95% band and 21-session mean.",
            spread_figure,
        ),
        (
            "cumulative",
            "Cumulative return by quantile and of the top-minus-bottom book "
            "(1-session returns compounded).",
            cumulative_figure,
        ),
        ("ic_time", "IC over time with its 21-session (1-month) moving mean.", ic_time_figure),
        ("ic_distribution", "IC histogram and normal QQ plot.", ic_distribution_figure),
        ("ic_monthly", "Monthly mean IC.", ic_monthly_figure),
        (
            "ic_decay",
            "IC decay: mean IC against the forward return of each horizon.",
            ic_decay_figure,
        ),
        (
            "turnover",
            "Top / bottom quantile turnover and factor rank autocorrelation.",
            turnover_figure,
        ),
        (
            "events",
            "Event study: average cumulative return by quantile around the signal.",
            events_figure,
        ),
    ]
