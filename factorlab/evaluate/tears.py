"""The numbers of a factor tear sheet: :func:`tearsheet` scores factors with :func:`evaluate` and
adds the per-date series an alphalens user opens first (no figures here: see
:func:`factorlab.report.write_tearsheet`, which draws and writes them).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import polars as pl

from factorlab._display import Summary, join_names, wrap
from factorlab.evaluate.events import event_returns
from factorlab.evaluate.forward import validate_horizons
from factorlab.evaluate.ic import ic_summary, information_coefficient, rolling_ic
from factorlab.evaluate.quantiles import CleanFactor
from factorlab.evaluate.returns import mean_return_by_quantile, quantile_spread, rate_of_return
from factorlab.evaluate.sweep import Evaluation, evaluate
from factorlab.evaluate.turnover import factor_rank_autocorrelation, quantile_turnover
from factorlab.frames import as_lazy
from factorlab.market import Market
from factorlab.progress import reports_progress
from factorlab.typing import Entry, ProgressOption, QuantileMode

__all__ = [
    "DECAY_HORIZONS",
    "IC_WINDOW",
    "TearSheet",
    "TearSheetSection",
    "quantile_statistics",
    "tearsheet",
]

#: Horizons (sessions) of the IC decay curve, merged with the tear sheet's own horizons.
DECAY_HORIZONS: tuple[int, ...] = (1, 2, 3, 5, 10, 20)
#: The moving mean of the IC over time: 21 sessions, one trading month.
IC_WINDOW = 21
#: z of the two-sided 95 % normal confidence band of the spread.
Z95 = 1.959963984540054


@dataclass(frozen=True, eq=False)
class TearSheetSection:
    """One factor on one pool: every table the tear sheet shows.

    Attributes
    ----------
    factor, pool:
        What the section is about.
    summary:
        The evaluator's summary rows for this factor and pool (one per horizon).
    drops:
        The evaluator's drop report (``horizon, reason, rows, share``).
    reason:
        Why the section has no series (the factor has no finite value in the pool), else None.
    quantile_returns:
        :func:`mean_return_by_quantile` (demeaned) per horizon, with ``rate`` / ``rate_se``: the
        same as a per-session rate (``rate_of_return``, alphalens' "rate of return" display).
    spread:
        Per date, top minus bottom quantile mean return and its standard error, per horizon.
    spread_summary:
        Per horizon: mean spread over dates, its standard error (std / sqrt(n)), the 95 % band
        ``mean +- 1.96 se`` and the number of dates.
    cumulative:
        ``date, quantile, cumulative``: the compounded 1-session demeaned mean return of each
        quantile, and of the top-minus-bottom book (``quantile`` null), per signal date.
    ic:
        Per-date IC per horizon with its 21-session moving mean ``ic_mean_21``.
    ic_summary:
        :func:`ic_summary` of ``ic`` (per horizon).
    ic_monthly:
        Mean IC per ``year, month, horizon``.
    ic_decay:
        Mean IC against the forward return of each horizon of :data:`DECAY_HORIZONS` and the
        tear sheet's horizons (``horizon, ic_mean, ic_std, n_dates``).
    turnover:
        Top and bottom quantile turnover per date and lag (lags = horizons).
    autocorrelation:
        Factor rank autocorrelation per date and lag.
    events:
        :func:`event_returns` (cumulative mode, demeaned): ``quantile, offset, mean, std,
        n_dates``.
    quantile_stats:
        Per quantile: min, max, mean, std of the factor, count and count share (alphalens'
        ``quantile_statistics_table``).
    """

    factor: str
    pool: str
    summary: pl.DataFrame
    drops: pl.DataFrame
    reason: str | None = None
    quantile_returns: pl.DataFrame | None = None
    spread: pl.DataFrame | None = None
    spread_summary: pl.DataFrame | None = None
    cumulative: pl.DataFrame | None = None
    ic: pl.DataFrame | None = None
    ic_summary: pl.DataFrame | None = None
    ic_monthly: pl.DataFrame | None = None
    ic_decay: pl.DataFrame | None = None
    turnover: pl.DataFrame | None = None
    autocorrelation: pl.DataFrame | None = None
    events: pl.DataFrame | None = None
    quantile_stats: pl.DataFrame | None = None


@dataclass(frozen=True, eq=False)
class TearSheet:
    """Result of :func:`tearsheet`.

    Attributes
    ----------
    summary:
        One row per factor x pool at the first horizon (IC, spread, turnover, coverage, loss).
    sections:
        One :class:`TearSheetSection` per factor x pool, in order.
    evaluation:
        The :func:`evaluate` result the numbers come from.
    params:
        The parameters (horizons, quantiles, mode, entry, method, event window, ...).
    source:
        What data it ran on: ``(item, value)`` pairs (synthetic preset / seed / content hash, or
        the user's files and row counts, and the frames' sizes and date span).
    seconds:
        Wall time per stage.
    """

    summary: pl.DataFrame
    sections: tuple[TearSheetSection, ...]
    evaluation: Evaluation
    params: dict[str, Any]
    source: tuple[tuple[str, str], ...]
    seconds: dict[str, float] = field(default_factory=dict)

    def section(self, factor: str, pool: str | None = None) -> TearSheetSection:
        """The section of `factor` (in `pool`; default: the first pool)."""
        for s in self.sections:
            if s.factor == factor and (pool is None or s.pool == pool):
                return s
        raise KeyError(f"no tear sheet section for factor {factor!r}, pool {pool!r}")

    def _display(self) -> Summary:
        names = list(dict.fromkeys(s.factor for s in self.sections))
        pools = list(dict.fromkeys(s.pool for s in self.sections))
        p = self.params
        lines = wrap("data:", [f"{k} {v}" for k, v in self.source] or ["not recorded"])
        lines.append(
            f"factors: {join_names(names)}; pools: {join_names(pools)}; horizons: "
            f"{join_names(p.get('horizons', ()))}; {p.get('quantiles')} quantiles "
            f"({p.get('mode')}), entry {p.get('entry')}"
        )
        total = self.seconds.get("total", sum(self.seconds.values()))
        lines.append(f"sections: {len(self.sections)}; run time {total:.1f} s")
        return Summary(
            f"TearSheet: {len(names)} factor(s) x {len(pools)} pool(s)",
            tuple(lines),
            self.summary,
            "summary (first horizon)",
        )

    def __repr__(self) -> str:
        return self._display().text()

    def _repr_html_(self) -> str:
        return self._display().html()


def _describe_source(source: Any) -> list[tuple[str, str]]:
    """``(item, value)`` lines for what the caller says the data is."""
    if source is None:
        return [("source", "in-memory frames (no source given)")]
    if isinstance(source, str):
        return [("source", source)]
    if isinstance(source, Mapping):
        return [(str(k), str(v)) for k, v in source.items()]
    if isinstance(source, Market):  # the one description of a market (Market.describe)
        from factorlab.datasets import PRESETS

        described = source.describe(presets=PRESETS)
        described.setdefault("content_hash", "not recorded")
        return [(k.replace("_", " "), v) for k, v in described.items()]
    return [("source", str(source))]


def _frame_lines(
    factor_frame: pl.DataFrame, price_data: pl.DataFrame, date_col: str, asset_col: str
) -> list[tuple[str, str]]:
    fd = factor_frame.get_column(date_col)
    pd_ = price_data.get_column(date_col)
    return [
        (
            "factor rows",
            f"{factor_frame.height:,} rows, {fd.n_unique():,} dates "
            f"({fd.min()} to {fd.max()}), {factor_frame.get_column(asset_col).n_unique():,} assets",
        ),
        (
            "price rows",
            f"{price_data.height:,} rows, {pd_.n_unique():,} dates ({pd_.min()} to {pd_.max()}), "
            f"{price_data.get_column(asset_col).n_unique():,} assets",
        ),
    ]


@reports_progress("tear sheet")
def tearsheet(
    frame: Any,
    factors: Sequence[str] | str,
    *,
    prices: Any = None,
    pools: Any = None,
    horizons: Sequence[int] = (1, 5, 10),
    quantiles: int = 5,
    mode: QuantileMode = "rank",
    entry: Entry = "next_open",
    method: str = "spearman",
    price_col: str = "close",
    date_col: str = "date",
    asset_col: str = "asset",
    event_window: tuple[int, int] = (10, 20),
    decay_horizons: Sequence[int] = DECAY_HORIZONS,
    source: Any = None,
    progress: ProgressOption = "auto",
) -> TearSheet:
    """The numbers of a tear sheet for each factor (x pool): the evaluator's summary and drops,
    and the series behind every figure. Write the HTML with
    :func:`factorlab.report.write_tearsheet`.

    Parameters
    ----------
    frame, factors, prices, pools, horizons, quantiles, mode, entry, method, price_col,
    date_col, asset_col
        As :func:`evaluate` (the same checks run first; every error names table, column and
        example rows).
    event_window
        ``(before, after)`` sessions of the event study (:func:`event_returns`).
    decay_horizons
        Horizons of the IC decay curve (added to `horizons`).
    source
        What the data is, for the report's "Data" block: a :class:`~factorlab.market.Market`
        (its source, preset, seed and content hash are stated), a string, or a mapping of
        items. The frames' row counts and date spans are always added.
    progress
        ``"auto"`` (a bar or stderr lines in a terminal or notebook), ``True``, ``None`` /
        ``False`` (silent) or a callable receiving ``evaluate: 0.4s``, ``panel: ...``, one
        ``section FACTOR / POOL`` per section, ``series: ...`` (:mod:`factorlab.progress`).

    Returns
    -------
    TearSheet

    Notes
    -----
    Every number the evaluator also reports (IC, mean return by quantile, turnover, rank
    autocorrelation, drops) comes from the same functions on the same clean factor, so the
    tear sheet equals :func:`evaluate`. The 1-session horizon is always computed (for the
    cumulative returns: compounding 1-session returns avoids overlapping periods); the summary
    and the drop report keep only `horizons`.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import date, timedelta
    >>> days = [date(2024, 1, 1) + timedelta(d) for d in range(30)]
    >>> rows = [(d, a, 10.0 + i + 0.1 * k * (a == "B"), float(k * (a == "B")))
    ...         for i, d in enumerate(days) for k, a in enumerate("ABCDE")]
    >>> df = pl.DataFrame(rows, schema=["date", "asset", "close", "factor"], orient="row")
    >>> sheet = tearsheet(df.with_columns(open=pl.col("close")), "factor", quantiles=2,
    ...                   horizons=[1], event_window=(2, 2))
    >>> sheet.summary.select("factor", "pool", "horizon").row(0)
    ('factor', 'all', 1)
    """
    started = time.perf_counter()
    seconds: dict[str, float] = {}
    names = [factors] if isinstance(factors, str) else list(factors)
    horizons = validate_horizons(horizons)
    before, after = event_window
    # one evaluate() call: the summary's horizons plus the 1-session horizon (the cumulative
    # curves) and the decay horizons; its clean factors feed the per-date series (per horizon,
    # so the extra horizons change no number of the asked ones)
    all_h = validate_horizons([*horizons, 1, *validate_horizons(decay_horizons, "decay_horizons")])
    ev = evaluate(
        frame,
        names,
        prices=prices,
        pools=pools,
        horizons=all_h,
        quantiles=quantiles,
        mode=mode,
        entry=entry,
        method=method,
        price_col=price_col,
        date_col=date_col,
        asset_col=asset_col,
        keep_clean=True,
        progress=False,  # the tear sheet reports this stage itself
    )
    asked = pl.col("horizon").is_in(list(horizons))
    ev = replace(
        ev,
        summary=ev.summary.filter(asked),
        drops=ev.drops.filter(asked),
        ic=ev.ic.filter(asked) if "horizon" in ev.ic.columns else ev.ic,
        quantile_returns=ev.quantile_returns.filter(asked)
        if "horizon" in ev.quantile_returns.columns
        else ev.quantile_returns,
    )
    seconds["evaluate"] = time.perf_counter() - started
    progress(f"evaluate: {seconds['evaluate']:.1f}s")

    t0 = time.perf_counter()
    sections = []
    pool_names = ev.summary.get_column("pool").unique(maintain_order=True).to_list()
    for pool in pool_names:
        for name in names:
            progress(f"section {name} / {pool}")
            summary = ev.summary.filter((pl.col("factor") == name) & (pl.col("pool") == pool))
            drops = ev.drops.filter((pl.col("factor") == name) & (pl.col("pool") == pool))
            reason = summary.get_column("reason")[0] if summary.height else None
            clean = ev.cleans.get((pool, name))
            if clean is None:
                sections.append(TearSheetSection(name, pool, summary, drops, reason=reason))
                continue
            sections.append(
                _section(
                    clean, name, pool, summary, drops, horizons, method, before, after, price_col
                )
            )
    seconds["series"] = time.perf_counter() - t0
    progress(f"series: {seconds['series']:.1f}s")

    head = horizons[0]
    keep = [
        "factor",
        "pool",
        "horizon",
        "ic_mean",
        "ic_ir",
        "ic_t",
        "ic_positive",
        "top_mean",
        "bottom_mean",
        "spread_mean",
        "turnover_top",
        "rank_autocorr",
        "coverage",
        "loss",
        "n_dates",
        "reason",
    ]
    top = ev.summary.filter(pl.col("horizon") == head).select(keep)
    params = {
        "factors": names,
        "pools": pool_names,
        "horizons": list(horizons),
        "quantiles": quantiles,
        "mode": mode,
        "entry": entry,
        "method": method,
        "price_col": price_col,
        "event_window": [before, after],
        "decay_horizons": list(all_h),
        "ic_window": IC_WINDOW,
    }
    keys = [date_col, asset_col]
    lf = as_lazy(frame, name="frame")
    factor_keys = lf.select(keys).collect()
    price_keys = factor_keys if prices is None else as_lazy(prices, name="prices").select(keys)
    src = _describe_source(source) + _frame_lines(
        factor_keys,
        price_keys if isinstance(price_keys, pl.DataFrame) else price_keys.collect(),
        date_col,
        asset_col,
    )
    seconds["total"] = time.perf_counter() - started
    return TearSheet(
        summary=top,
        sections=tuple(sections),
        evaluation=ev,
        params=params,
        source=tuple(src),
        seconds=seconds,
    )


def _section(
    clean: CleanFactor,
    name: str,
    pool: str,
    summary: pl.DataFrame,
    drops: pl.DataFrame,
    horizons: tuple[int, ...],
    method: str,
    before: int,
    after: int,
    price_col: str,
) -> TearSheetSection:
    date_col = clean.panel.date_col
    in_h = pl.col("horizon").is_in(list(horizons))
    ic_all = information_coefficient(clean, method=method)  # type: ignore[arg-type]
    decay = (
        ic_summary(ic_all)
        .select("horizon", ic_mean="mean", ic_std="std", n_dates="n_dates")
        .sort("horizon")
    )
    ic = ic_all.filter(in_h)
    rolled = rolling_ic(ic, IC_WINDOW).select(date_col, "horizon", ic_mean_21="ic_mean")
    ic = ic.join(rolled, on=[date_col, "horizon"], how="left")
    monthly = (
        ic.group_by(
            pl.col(date_col).dt.year().alias("year"),
            pl.col(date_col).dt.month().alias("month"),
            "horizon",
        )
        .agg(ic_mean=pl.col("ic").mean(), n_dates=pl.col("ic").count())
        .sort("horizon", "year", "month")
    )
    qr = mean_return_by_quantile(clean).filter(in_h)
    rates = rate_of_return(qr)
    qr = qr.with_columns(rate=rates["mean_return"], rate_se=rates["std_error"])
    by_date = mean_return_by_quantile(clean, by_date=True)
    spread = quantile_spread(by_date.filter(in_h), upper=clean.n_quantiles, lower=1)
    spread_summary = (
        spread.group_by("horizon")
        .agg(
            mean=pl.col("spread").mean(),
            std_error=pl.col("spread").std() / pl.col("spread").count().sqrt(),
            n_dates=pl.col("spread").count(),
        )
        .with_columns(
            ci_low=pl.col("mean") - Z95 * pl.col("std_error"),
            ci_high=pl.col("mean") + Z95 * pl.col("std_error"),
        )
        .sort("horizon")
    )
    cumulative = _cumulative(by_date, clean.n_quantiles, date_col)
    turnover = quantile_turnover(clean, lags=horizons).filter(
        pl.col("quantile").is_in([1, clean.n_quantiles])
    )
    auto = factor_rank_autocorrelation(clean, lags=horizons)
    events = event_returns(clean, before=before, after=after, prices=price_col)
    return TearSheetSection(
        factor=name,
        pool=pool,
        summary=summary,
        drops=drops,
        reason=None,
        quantile_returns=qr,
        spread=spread,
        spread_summary=spread_summary,
        cumulative=cumulative,
        ic=ic,
        ic_summary=ic_summary(ic),
        ic_monthly=monthly,
        ic_decay=decay,
        turnover=turnover,
        autocorrelation=auto,
        events=events,
        quantile_stats=quantile_statistics(clean),
    )


def _cumulative(by_date: pl.DataFrame, n_quantiles: int, date_col: str) -> pl.DataFrame:
    """Compounded 1-session returns per quantile and of top minus bottom (``quantile`` null).

    A date on which a quantile has no 1-session return counts as 0 for it."""
    one = by_date.filter(pl.col("horizon") == 1)
    dates = one.select(date_col).unique().sort(date_col)
    wide = dates
    for q in range(1, n_quantiles + 1):
        leg = one.filter(pl.col("quantile") == q).select(
            date_col, pl.col("mean_return").alias(str(q))
        )
        wide = wide.join(leg, on=date_col, how="left", maintain_order="left")
    wide = wide.with_columns(pl.exclude(date_col).fill_null(0.0))
    book = wide.select(date_col, (pl.col(str(n_quantiles)) - pl.col("1")).alias("book"))
    parts = [
        wide.select(
            date_col,
            pl.lit(q, pl.Int8).alias("quantile"),
            ((1 + pl.col(str(q))).cum_prod() - 1).alias("cumulative"),
        )
        for q in range(1, n_quantiles + 1)
    ]
    parts.append(
        book.select(
            date_col,
            pl.lit(None, pl.Int8).alias("quantile"),
            ((1 + pl.col("book")).cum_prod() - 1).alias("cumulative"),
        )
    )
    return pl.concat(parts)


def quantile_statistics(clean: CleanFactor) -> pl.DataFrame:
    """Per quantile: ``min, max, mean, std`` (ddof=1) of the factor over the clean cells,
    ``count`` and ``count_pct`` (share of clean cells, %), as alphalens'
    ``plotting.plot_quantile_statistics_table`` (``factor_data.groupby("factor_quantile")
    ["factor"].agg(["min", "max", "mean", "std", "count"])``)."""
    values = clean.values[clean.mask]
    q = clean.quantile[clean.mask]
    rows = []
    total = max(int(values.size), 1)
    for k in range(1, clean.n_quantiles + 1):
        v = values[q == k]
        rows.append(
            {
                "quantile": k,
                "min": float(v.min()) if v.size else None,
                "max": float(v.max()) if v.size else None,
                "mean": float(v.mean()) if v.size else None,
                "std": float(v.std(ddof=1)) if v.size > 1 else None,
                "count": int(v.size),
                "count_pct": 100.0 * v.size / total,
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "quantile": pl.Int8,
            "min": pl.Float64,
            "max": pl.Float64,
            "mean": pl.Float64,
            "std": pl.Float64,
            "count": pl.Int64,
            "count_pct": pl.Float64,
        },
    )
