"""Threshold timing on northbound net inflows (seed 004 §2.2-2.3): the net inflow of the last N
days against mean +- M x std of its own history; above -> long the index, below -> flat
(long-only) or short (long-short). All, trading-type and allocation-type flows; CSI 300 and
CSI 800; the N x M grid; in and out of sample, with and without costs. Choices:
docs/strategies.md.

Books run on the one backtester (:func:`factorlab.backtest.backtest_many`): the index is held as
a fee-free proxy, the short side as its daily-reset inverse (a long-only book that holds the
index, its inverse or cash), filled at the close after the signal day (the day's flows are
published after its close).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
import polars as pl

from factorlab._display import Summary
from factorlab._kernels.timing import slice_moments_nb
from factorlab.backtest import NO_COSTS, BacktestResult, Costs, backtest_many
from factorlab.calendar import TRADING_DAYS
from factorlab.errors import DisclosureError, MarketError, ParameterError
from factorlab.grid import AssetGrid, ffill_rows
from factorlab.market import Market
from factorlab.northbound.hygiene import disclosure_end
from factorlab.northbound.participants import ParticipantSplit
from factorlab.northbound.strategies.flows import FLOW_KINDS, FlowKind, MarketFlows, market_flows
from factorlab.northbound.study import data_description

__all__ = [
    "DEFAULT_MS",
    "DEFAULT_NS",
    "IN_SAMPLE",
    "TIMING_BOOKS",
    "TIMING_COSTS",
    "TIMING_INDICES",
    "TimingGrid",
    "TimingResult",
    "threshold_grid",
    "threshold_timing",
    "timing_statistics",
]

TimingBook = Literal["long_only", "long_short"]
History = Literal["rolling", "expanding"]
#: long-only: long or flat; long-short: long or short (the daily-reset inverse of the index).
TIMING_BOOKS: tuple[str, ...] = get_args(TimingBook)
#: The seed's indices (the two northbound money covers best, §2.1).
TIMING_INDICES = ("csi300", "csi800")
#: The seed's ~0.3% round trip: 0.15% per side, no minimum, no stamp duty (an index proxy).
TIMING_COSTS = Costs(commission=0.0015, min_commission=0.0, stamp_duty=0.0)
#: The seed's sample: in-sample 2017-01-01 .. 2022-12-31, out-of-sample after.
IN_SAMPLE = (dt.date(2017, 1, 1), dt.date(2022, 12, 31))
#: The grid of the seed's heatmaps (图19-22): N = 1..20 days, M = 0.25 .. 2.5.
DEFAULT_NS = tuple(range(1, 21))
DEFAULT_MS = tuple(round(0.25 * k, 2) for k in range(1, 11))
_STAT_COLUMNS = (
    "days",
    "annual_return",
    "benchmark_annual",
    "annual_excess",
    "sharpe",
    "max_drawdown",
    "exposure",
    "signals",
    "win_rate",
    "profit_loss",
)
_INVERSE = "_inverse"


# -- the rule, vectorized over M ---------------------------------------------------------------


def _band(s: np.ndarray, window: int, history: str) -> tuple[np.ndarray, np.ndarray]:
    """mean and std (ddof 1) of the previous `window` values of `s` (rolling) or of all
    previous values once there are `window` of them (expanding); NaN before. Today is never
    part of its own history; the leading NaN of `s` (the first n - 1 sums) are not history."""
    mid = np.full(len(s), np.nan)
    sd = np.full(len(s), np.nan)
    finite = np.flatnonzero(np.isfinite(s))
    f0 = int(finite[0]) if finite.size else len(s)
    x = s[f0:]
    if len(x) <= window:
        return mid, sd
    if history == "rolling":
        view = np.lib.stride_tricks.sliding_window_view(x[:-1], window)  # view[k] = x[k:k+w]
        mid[f0 + window :] = view.mean(axis=1)
        sd[f0 + window :] = view.std(axis=1, ddof=1)
    else:
        y = x - x[:window].mean()  # shifted for precision
        c1, c2 = np.cumsum(y), np.cumsum(y * y)
        k = np.arange(window, len(x))  # history x[0 .. k-1]
        mean_y = c1[k - 1] / k
        mid[f0 + window :] = x[:window].mean() + mean_y
        var = (c2[k - 1] - k * mean_y**2) / (k - 1)
        sd[f0 + window :] = np.sqrt(np.maximum(var, 0.0))
    return mid, sd


def _positions(
    s: np.ndarray, mid: np.ndarray, sd: np.ndarray, ms: np.ndarray, low: float
) -> np.ndarray:
    """(T, len(ms)) positions: 1 when s > mid + m sd, `low` (0 or -1) when s < mid - m sd, the
    previous position otherwise; 0 before the first crossing."""
    up = s[:, None] > mid[:, None] + ms[None, :] * sd[:, None]
    down = s[:, None] < mid[:, None] - ms[None, :] * sd[:, None]
    raw = np.where(up, 1.0, np.where(down, low, np.nan))
    out = ffill_rows(raw)
    return np.nan_to_num(out, nan=0.0)


def _rolling_sum(x: np.ndarray, n: int) -> np.ndarray:
    c = np.concatenate([[0.0], np.cumsum(x)])
    out = np.full(len(x), np.nan)
    out[n - 1 :] = c[n:] - c[:-n]
    return out


# -- inputs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Inputs:
    dates: dict[str, np.ndarray]  # per kind: datetime64[D] flow days (signal dates)
    flows: dict[str, np.ndarray]
    sources: dict[str, str]
    grid: AssetGrid
    indices: tuple[str, ...]
    data: dict[str, str]
    #: the disclosure change when all-money flows after it are estimated, else None
    estimated_from: dt.date | None = None


def _normalize_index(name: str) -> str:
    return name.strip().lower().replace(" ", "").replace("-", "")


def _inputs(
    market: Market,
    indices: Sequence[str],
    kinds: Sequence[str],
    end: dt.date | None,
    split: ParticipantSplit | None,
    tracking_bps: float,
    flows: MarketFlows | None = None,
    estimated: Any = None,
) -> _Inputs:
    if isinstance(indices, str):
        indices = (indices,)
    names = tuple(_normalize_index(i) for i in indices)
    if not names:
        raise ParameterError("`indices` must name at least one index, e.g. ('csi300',).")
    bad = [k for k in kinds if k not in FLOW_KINDS]
    if bad:
        raise ParameterError(f"`flow` must be among {list(FLOW_KINDS)}; got {bad}.")
    market.require("indices", purpose="threshold timing")
    ix = market.indices.filter(pl.col("index").is_in(list(names))).collect()
    have = set(ix["index"].unique().to_list())
    missing = [n for n in names if n not in have]
    if missing:
        avail = sorted(market.indices.select("index").unique().collect()["index"].to_list())
        raise MarketError(
            f"threshold timing needs index(es) {missing} in table `indices`, which holds "
            f"{avail}; pass indices= among them (or add the index's daily closes)."
        )
    mf = (
        flows
        if flows is not None
        else market_flows(
            market, kinds=tuple(dict.fromkeys(kinds)), split=split, estimated_holdings=estimated
        )
    )
    change = disclosure_end(market)
    est_from = mf.estimated_from if "all" in kinds else None
    if end is not None and end > change and est_from is None:
        raise DisclosureError(
            f"`end` = {end} is after the last daily northbound disclosure ({change}): "
            "daily link turnover and participant holdings stop there. Pass end <= "
            f"{change}, or estimated_holdings= (seed 002's estimate_holdings(market)) for "
            "all-money flows past it."
        )
    last_allowed = (change if est_from is None else dt.date.max) if end is None else end
    sessions = pl.DataFrame({"date": ix["date"].unique().sort()})
    dates, series = {}, {}
    for k in kinds:  # each kind on its own days (that are sessions of the index)
        last = last_allowed if k == "all" else min(last_allowed, change)
        f = mf.series(k).filter(pl.col("date") <= last).join(sessions, on="date", how="semi")
        dates[k] = f["date"].to_numpy().astype("datetime64[D]")
        series[k] = f["flow"].cast(pl.Float64).fill_null(0.0).to_numpy()
    wide = ix.pivot(on="index", index="date", values="close").sort("date")
    rows = []
    for name in names:
        close = wide[name].to_numpy()
        ret = np.r_[0.0, close[1:] / close[:-1] - 1.0]
        inverse = 1000.0 * np.cumprod(1.0 - np.nan_to_num(ret))
        rows.append(pl.DataFrame({"date": wide["date"], "index": name, "close": close}))
        rows.append(
            pl.DataFrame({"date": wide["date"], "index": name + _INVERSE, "close": inverse})
        )
    grid = AssetGrid.from_indices(pl.concat(rows).drop_nulls("close"), tracking_bps=tracking_bps)
    return _Inputs(
        dates=dates,
        flows=series,
        sources={k: mf.source[k] for k in kinds},
        grid=grid,
        indices=names,
        data=data_description(market),
        estimated_from=mf.estimated_from,  # every kind's rows after it marked (types: none)
    )


def _check(n: int, m: float, window: int, n_days: int, history: str, book: str) -> None:
    if not isinstance(window, int) or window <= 1:
        raise ParameterError(f"`window` must be an integer > 1 (days of history); got {window}.")
    if history not in get_args(History):
        raise ParameterError(f"`history` must be 'rolling' or 'expanding'; got {history!r}.")
    if book not in TIMING_BOOKS:
        raise ParameterError(f"`book` must be one of {list(TIMING_BOOKS)}; got {book!r}.")
    if not isinstance(n, int | np.integer) or n < 1:
        raise ParameterError(f"`n` (days summed) must be an integer >= 1; got {n}.")
    if n + window >= n_days:
        raise ParameterError(
            f"`n` = {n} days summed with a history of `window` = {window} values needs more "
            f"than {n + window} flow days; the market has {n_days}. Pass a smaller n or window."
        )
    if not np.isfinite(m) or m < 0:
        raise ParameterError(f"`m` (band width in std) must be >= 0; got {m}.")


# -- statistics ------------------------------------------------------------------------------


def _samples(in_sample: tuple[dt.date, dt.date]) -> dict[str, tuple[dt.date, dt.date]]:
    lo, hi = in_sample
    return {
        "full": (dt.date(1900, 1, 1), dt.date(2999, 12, 31)),
        "in": (lo, hi),
        "out": (hi + dt.timedelta(days=1), dt.date(2999, 12, 31)),
    }


@dataclass(frozen=True)
class _Books:
    """Daily series of B books on one calendar (T rows) as (T, B) arrays: net and gross returns
    (0 before a book's first fill), exposure; the benchmark's return (T,); each book's first
    row of evaluation (``start``); its signals as flat arrays (book, fill row, next fill row,
    position)."""

    dates: np.ndarray
    net: np.ndarray
    gross: np.ndarray
    exposure: np.ndarray
    bench: np.ndarray
    start: np.ndarray
    sig_book: np.ndarray
    sig_start: np.ndarray
    sig_stop: np.ndarray
    sig_pos: np.ndarray


def _books_daily(
    books: Sequence[BacktestResult], n_t: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(net, gross, exposure) as (T, B) column-major arrays on every grid row (0 before a
    book's first fill) and each book's first fill row, from the books' own NAV and cost
    series, stacked: the numbers of ``res.daily`` without building its frame (a grid of
    thousands of books reads them at once)."""
    nav = np.stack([b.run.out[0] for b in books])  # (B, T): each book's row contiguous
    cost = np.stack([b.run.out[2] for b in books])
    exposure = np.stack([b.run.out[4] for b in books])
    capital = np.array([b.run.capital for b in books], dtype=float)
    first = np.array(
        [int(b.run.trade_rows[0]) if len(b.run.trade_rows) else n_t for b in books], np.int64
    )
    prev = np.empty_like(nav)
    prev[:, 1:] = nav[:, :-1]
    prev[:, 0] = capital
    has = np.flatnonzero(first < n_t)
    prev[has, first[has]] = capital[has]  # the day before the first fill
    with np.errstate(invalid="ignore", divide="ignore"):  # in place: the stacks are copies
        gross = np.add(nav, cost, out=cost)
        gross /= prev
        gross -= 1.0
        net = np.divide(nav, prev, out=nav)
        net -= 1.0
    expo = exposure  # NaN (no position) counts as not invested, as 0 does
    for i in np.flatnonzero(first > 0).tolist():  # 0 before the first fill
        net[i, : first[i]] = gross[i, : first[i]] = expo[i, : first[i]] = 0.0
    return net.T, gross.T, expo.T, first


def _table(
    b: _Books, in_sample: tuple[dt.date, dt.date], annualization: float = TRADING_DAYS
) -> pl.DataFrame:
    """The statistics of every book per sample and costs, all books at once in numpy: one
    frame, ``book_id`` (0 .. B-1) then costs x sample rows per book. A book counts from its
    ``start`` row (its returns before it are 0); each sample is a contiguous slice of rows."""
    n_t, n_b = b.net.shape
    log_bench = np.concatenate([[0.0], np.cumsum(np.log1p(np.nan_to_num(b.bench)))])
    invested = np.abs(b.exposure) > 1e-12
    out: dict[tuple[str, str], dict[str, np.ndarray]] = {}
    logc = np.empty((n_t + 1, n_b), order="F")
    logc[0] = 0.0
    spans = {
        sample: (
            int(np.searchsorted(b.dates, np.datetime64(lo))),
            int(np.searchsorted(b.dates, np.datetime64(hi), side="right")),
        )
        for sample, (lo, hi) in _samples(in_sample).items()
    }
    days_in = {k: invested[a:z].sum(axis=0) for k, (a, z) in spans.items()}
    for costs, r in (("gross", b.gross), ("net", b.net)):
        # a book's returns are 0 before its start: plain sums over a slice are its sums
        np.cumsum(np.log1p(r), axis=0, out=logc[1:])
        sig_ret = np.expm1(logc[b.sig_stop, b.sig_book] - logc[b.sig_start, b.sig_book])
        fill_d = b.dates[np.minimum(b.sig_start, n_t - 1)]
        for sample, (lo, hi) in _samples(in_sample).items():
            a, z = spans[sample]
            first = np.clip(b.start, a, max(z, a))  # each book's first row in the sample
            n = np.maximum(z - first, 0)
            total = np.expm1(logc[z] - logc[a]) if z > a else np.zeros(n_b)
            b_total = np.expm1(log_bench[z] - log_bench[first]) if z > a else np.zeros(n_b)
            s1, s2, dd = slice_moments_nb(r, logc, a, z)  # one pass per book
            with np.errstate(invalid="ignore", divide="ignore"):
                ar = (1.0 + total) ** (annualization / n) - 1.0
                br = (1.0 + b_total) ** (annualization / n) - 1.0
                mean = s1 / n
                sd = np.sqrt(np.maximum(s2 - n * mean**2, 0.0) / (n - 1))
                sharpe = np.where(sd > 0, mean / sd * np.sqrt(annualization), np.nan)
                expo = days_in[sample] / n
            # max drawdown inside the slice: the running peak starts at 1 (row a)
            mdd = np.expm1(dd) if z > a else np.full(n_b, np.nan)
            few = n < 2
            sel = (b.sig_pos != 0) & (b.sig_start < n_t)
            sel &= (fill_d >= np.datetime64(lo)) & (fill_d <= np.datetime64(hi))
            bk, rr = b.sig_book[sel], sig_ret[sel]
            cnt = np.bincount(bk, minlength=n_b)
            wins = np.bincount(bk, weights=(rr > 0).astype(float), minlength=n_b)
            losses = np.bincount(bk, weights=(rr < 0).astype(float), minlength=n_b)
            gain = np.bincount(bk, weights=np.where(rr > 0, rr, 0.0), minlength=n_b)
            loss = np.bincount(bk, weights=np.where(rr < 0, -rr, 0.0), minlength=n_b)
            with np.errstate(invalid="ignore", divide="ignore"):
                win_rate = np.where(cnt > 0, wins / cnt, np.nan)
                both = (wins > 0) & (losses > 0)
                pl_ratio = np.where(both, (gain / wins) / (loss / losses), np.nan)
            out[(sample, costs)] = {
                "days": n,
                "annual_return": np.where(few, np.nan, ar),
                "benchmark_annual": np.where(few, np.nan, br),
                "annual_excess": np.where(few, np.nan, ar - br),
                "sharpe": np.where(few, np.nan, sharpe),
                "max_drawdown": np.where(few, np.nan, mdd),
                "exposure": np.where(few, np.nan, expo),
                "signals": cnt,
                "win_rate": win_rate,
                "profit_loss": pl_ratio,
            }
    keys = [(sample, costs) for costs in ("gross", "net") for sample in ("full", "in", "out")]
    cols = {c: np.stack([out[k][c] for k in keys], axis=1).ravel() for c in _STAT_COLUMNS}
    return pl.DataFrame(
        {
            "book_id": np.repeat(np.arange(n_b), len(keys)),
            "sample": pl.Series([s for s, _ in keys]).gather(np.tile(np.arange(len(keys)), n_b)),
            "costs": pl.Series([c for _, c in keys]).gather(np.tile(np.arange(len(keys)), n_b)),
            **cols,
        }
    ).with_columns(pl.col("days", "signals").cast(pl.Int64))


def timing_statistics(
    daily: pl.DataFrame,
    fills: Sequence[dt.date] | pl.Series,
    positions: Sequence[float] | np.ndarray,
    *,
    in_sample: tuple[dt.date, dt.date] = IN_SAMPLE,
    annualization: float = TRADING_DAYS,
) -> pl.DataFrame:
    """The seed's 表4-表7 statistics of one timing book, per costs (gross, net) and sample
    (full, in, out): days, annual return, the benchmark's annual return, annual excess (the
    difference), Sharpe (risk-free 0), max drawdown, exposure (share of days invested), and per
    signal (a position taken, from its fill to the next fill; flat signals are not counted):
    count, win rate, profit/loss ratio (mean gain / mean |loss|).

    `daily`: a backtest's ``daily`` (date, gross, net, benchmark, exposure), from the first
    fill; `fills`: the fill dates of the signals, in order; `positions`: the position each
    took (1, 0 or -1). A signal belongs to the sample its fill date is in.
    """
    dates = daily["date"].to_numpy().astype("datetime64[D]")
    fill_d = np.asarray(pl.Series(fills, dtype=pl.Date).to_numpy(), dtype="datetime64[D]")
    start = np.searchsorted(dates, fill_d).astype(np.int64)
    b = _Books(
        dates=dates,
        net=daily["net"].to_numpy()[:, None],
        gross=daily["gross"].to_numpy()[:, None],
        exposure=daily["exposure"].fill_null(0.0).to_numpy()[:, None],
        bench=daily["benchmark"].fill_null(0.0).to_numpy(),
        start=np.array([0]),
        sig_book=np.zeros(len(start), np.int64),
        sig_start=start,
        sig_stop=np.r_[start[1:], len(dates)].astype(np.int64),
        sig_pos=np.asarray(positions, dtype=float),
    )
    return _table(b, in_sample, annualization).drop("book_id")


def _book_stats(
    grid: AssetGrid,
    books: Sequence[BacktestResult],
    positions: Sequence[np.ndarray],
    benchmarks: Sequence[str],
    in_sample: tuple[dt.date, dt.date],
) -> pl.DataFrame:
    """:func:`timing_statistics` of many books on one grid, from their NAV series directly
    (``book_id`` = the book's position in `books`): each book is evaluated from its first
    fill; its benchmark is the index it times."""
    n_t = len(grid.dates)
    names = list(dict.fromkeys(benchmarks))
    cols = grid.index.asset_cols(pl.Series(names))
    filled = ffill_rows(grid.close[:, cols])  # a day without a close carries the last one
    ret = np.zeros_like(filled)
    ret[1:] = filled[1:] / filled[:-1] - 1.0
    ret = np.nan_to_num(ret)
    dates = grid.dates.astype("datetime64[D]")
    frames = []
    for j, name in enumerate(names):
        ks = [k for k in range(len(books)) if benchmarks[k] == name]
        # column-major: each book's series is written and scanned contiguously
        net, gross, expo, start = _books_daily([books[k] for k in ks], n_t)
        sb, ss, se, sp = [], [], [], []
        for c, k in enumerate(ks):
            rows = books[k].run.trade_rows.astype(np.int64)
            sb.append(np.full(len(rows), c, np.int64))
            ss.append(rows)
            se.append(np.append(rows[1:], n_t))
            pos = np.zeros(len(rows))  # a book that never crossed holds one cash row
            given = np.asarray(positions[k], dtype=float)[: len(rows)]
            pos[: len(given)] = given
            sp.append(pos)
        b = _Books(
            dates=dates,
            net=net,
            gross=gross,
            exposure=expo,
            bench=ret[:, j],
            start=start,
            sig_book=np.concatenate(sb),
            sig_start=np.concatenate(ss),
            sig_stop=np.concatenate(se),
            sig_pos=np.concatenate(sp),
        )
        t = _table(b, in_sample)
        frames.append(t.with_columns(book_id=pl.Series(ks, dtype=pl.Int64).gather(t["book_id"])))
    return pl.concat(frames).sort("book_id", maintain_order=True)


# -- targets -----------------------------------------------------------------------------------


def _changes(pos: np.ndarray) -> np.ndarray:
    """Rows where the position differs from the day before (the first nonzero included)."""
    changed = np.empty(len(pos), bool)
    changed[:1] = pos[:1] != 0.0
    np.not_equal(pos[1:], pos[:-1], out=changed[1:])
    return np.flatnonzero(changed)


def _targets_of(
    dates: np.ndarray, pos: np.ndarray, index: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(signal dates, asset names, weights, positions) of one book: the index for +1, its
    inverse for -1, a 0 weight (cash) for 0."""
    rows = _changes(pos)
    p = pos[rows]
    assets = np.where(p < 0, index + _INVERSE, index)
    return dates[rows], assets, np.where(p != 0, 1.0, 0.0), p


# -- results -----------------------------------------------------------------------------------


def _estimated_lines(estimated_from: dt.date | None) -> tuple[str, ...]:
    if estimated_from is None:
        return ()
    return (f"all-money flows after {estimated_from} are estimated (seed 002 estimated holdings)",)


@dataclass(frozen=True)
class TimingResult:
    """One threshold-timing book.

    ``signal``: date (a flow day), flow (yuan), sum (of the last n days), mid, upper, lower
    (mean and mean +- m std of the sum's history), position (1 long, 0 flat, -1 short; the
    position the day's flows call for, filled at the next close); ``book``: the backtest
    (:class:`~factorlab.backtest.BacktestResult`; daily, trades, signals, ...); ``stats``: the
    seed's statistics per sample and costs (:func:`timing_statistics`); ``params``;
    ``source``: what the flows are; ``data``: what it ran on; ``estimated_from``: the
    disclosure change when the flows after it are estimated (``estimated_holdings=``; the
    signal's ``estimated`` column marks those days), else None.
    """

    signal: pl.DataFrame
    book: BacktestResult = field(repr=False)
    stats: pl.DataFrame
    params: dict[str, Any]
    source: str
    data: dict[str, str] = field(default_factory=dict)
    estimated_from: dt.date | None = None

    def _display(self) -> Summary:
        p = self.params
        return Summary(
            f"TimingResult: {p['flow']} flows, N = {p['n']}, M = {p['m']} on {p['index']} "
            f"({p['book']})",
            (
                f"data: {', '.join(f'{k} {v}' for k, v in self.data.items())}",
                f"flows: {self.source}",
                f"history: {p['history']} window of {p['window']} sums; costs {p['costs']}",
                *_estimated_lines(self.estimated_from),
            ),
            self.stats.filter(pl.col("sample") != "full").select(
                "sample",
                "costs",
                "annual_return",
                "annual_excess",
                "sharpe",
                "max_drawdown",
                "win_rate",
                "profit_loss",
            ),
            "statistics (in-sample / out-of-sample, gross / net of costs)",
        )

    def __repr__(self) -> str:
        return self._display().text()

    def _repr_html_(self) -> str:
        return self._display().html()


@dataclass(frozen=True)
class TimingGrid:
    """Every N x M x flow x index x book of :func:`threshold_grid`: ``table`` (index, flow,
    book, n, m, sample, costs and the statistics of :func:`timing_statistics`), ``params``,
    ``sources`` (flow kind -> what it is), ``data``, ``estimated_from`` (as
    :class:`TimingResult`'s: the out-of-sample rows then include estimated days)."""

    table: pl.DataFrame
    params: dict[str, Any]
    sources: dict[str, str]
    data: dict[str, str] = field(default_factory=dict)
    estimated_from: dt.date | None = None

    def surface(
        self,
        *,
        index: str = "csi300",
        flow: str = "all",
        book: str = "long_only",
        sample: str = "in",
        costs: str = "net",
        stat: str = "sharpe",
    ) -> pl.DataFrame:
        """One statistic as an N (rows) x M (columns) frame: the seed's heatmaps (图19-22)."""
        sub = self.table.filter(
            (pl.col("index") == _normalize_index(index)) & (pl.col("flow") == flow)
            & (pl.col("book") == book) & (pl.col("sample") == sample)
            & (pl.col("costs") == costs)
        )  # fmt: skip
        if not sub.height:
            raise ParameterError(
                f"no grid rows for index={index!r}, flow={flow!r}, book={book!r}, "
                f"sample={sample!r}, costs={costs!r}; the grid holds indices "
                f"{self.params['indices']}, flows {self.params['flows']}, books "
                f"{self.params['books']}."
            )
        return (
            sub.with_columns(pl.col("m").cast(pl.String))
            .pivot(on="m", index="n", values=stat)
            .sort("n")
        )

    def best(self, *, sample: str = "in", costs: str = "net", stat: str = "sharpe") -> pl.DataFrame:
        """Per index x flow x book, the (N, M) with the highest `stat` in `sample`, and that
        point's statistics in every sample (chosen in sample, judged out of sample)."""
        keys = ["index", "flow", "book"]
        pick = (
            self.table.filter((pl.col("sample") == sample) & (pl.col("costs") == costs))
            .sort(stat, descending=True, nulls_last=True)
            .group_by(keys, maintain_order=True)
            .first()
            .select(*keys, "n", "m")
        )
        return (
            self.table.filter(pl.col("costs") == costs)
            .join(pick, on=[*keys, "n", "m"])
            .sort(*keys, "sample")
        )

    def _display(self) -> Summary:
        p = self.params
        best = self.best()
        return Summary(
            f"TimingGrid: {len(p['ns'])} N x {len(p['ms'])} M x {len(p['flows'])} flows x "
            f"{len(p['indices'])} indices x {len(p['books'])} books",
            (
                f"data: {', '.join(f'{k} {v}' for k, v in self.data.items())}",
                f"history: {p['history']} window of {p['window']} sums; costs {p['costs']}",
                *_estimated_lines(self.estimated_from),
            ),
            best.filter(pl.col("sample") == "in").select(
                "index", "flow", "book", "n", "m", "annual_return", "sharpe", "win_rate"
            ),
            "best (N, M) in sample by Sharpe, net of costs",
        )

    def __repr__(self) -> str:
        return self._display().text()

    def _repr_html_(self) -> str:
        return self._display().html()


# -- entry points ------------------------------------------------------------------------------


def threshold_timing(
    market: Market,
    *,
    index: str = "csi300",
    flow: FlowKind = "all",
    n: int = 4,
    m: float = 1.0,
    window: int = 250,
    history: History = "rolling",
    book: TimingBook = "long_only",
    costs: Costs | None = TIMING_COSTS,
    in_sample: tuple[dt.date, dt.date] = IN_SAMPLE,
    end: dt.date | None = None,
    tracking_bps: float = 0.0,
    split: ParticipantSplit | None = None,
    flow_data: MarketFlows | None = None,
    estimated_holdings: Any = None,
) -> TimingResult:
    """Seed 004's threshold timing on one index with one flow.

    On each flow day t: S_t = the net inflow summed over the last `n` flow days (t included);
    mid and std (ddof 1) of S over its previous `window` values (``history="rolling"``) or over
    all previous values once there are `window` (``"expanding"``), never S_t itself. S_t > mid +
    m std -> long the index; S_t < mid - m std -> flat (``book="long_only"``) or short
    (``"long_short"``, the daily-reset inverse of the index); in between the position is kept.
    No position before the history is full. The flows of t are published after its close: the
    book trades at the close of the next session (``entry="next_close"``).

    Parameters
    ----------
    index
        An index of table ``indices`` (``"csi300"``, ``"csi800"``; case and "CSI 300" spelling
        are normalized).
    flow
        ``"all"`` (net buy of the links), ``"trading"`` or ``"allocation"`` (participant split):
        :func:`~factorlab.northbound.strategies.flows.market_flows`.
    n, m, window, history
        Days summed (>= 1), band width in std (>= 0), history length (> 1), its kind.
    costs
        Per order; default :data:`TIMING_COSTS` (0.15% a side, the seed's ~0.3% round trip).
        The statistics are given both gross and net of them.
    in_sample
        The in-sample span (default 2017-01-01 .. 2022-12-31); out of sample is after it.
    end
        Last flow day used; default and latest: the market's last daily disclosure
        (:func:`~factorlab.northbound.hygiene.disclosure_end`, 2024-08-16 on real data), or
        with `estimated_holdings` the last estimated flow day.
    tracking_bps
        Yearly cost of holding the index proxy (bps), 0 by default.
    split, flow_data
        A participant split, or the market's flows
        (:func:`~factorlab.northbound.strategies.flows.market_flows`), computed once and
        reused (the flows of every kind the call needs).
    estimated_holdings
        Holdings after the disclosure change (a
        :class:`~factorlab.northbound.estimation.HoldingsEstimate` or a (date, asset, shares
        [, published, flow]) frame): all-money flows then run past it
        (:func:`~factorlab.northbound.strategies.flows.market_flows`), each estimated day on
        the day it is published; the signal's ``estimated`` column marks them. Trading and
        allocation flows stay within the daily disclosure.

    Raises
    ------
    MarketError
        No ``indices`` table or not the index; no flows of the kind (``quotas`` /
        ``northbound_flows`` for all money, participant holdings for the types).
    DisclosureError
        `end` after the disclosure change without `estimated_holdings`.
    ParameterError
        `n` < 1 or `n` + `window` beyond the data, `window` <= 1, `m` < 0, an unknown book.
    """
    inp = _inputs(
        market, (index,), (flow,), end, split, tracking_bps, flow_data, estimated_holdings
    )
    _check(n, m, window, len(inp.dates[flow]), history, book)
    name = inp.indices[0]
    f = inp.flows[flow]
    s = _rolling_sum(f, n)
    mid, sd = _band(s, window, history)
    low = -1.0 if book == "long_short" else 0.0
    pos = _positions(s, mid, sd, np.array([float(m)]), low)[:, 0]
    dates, assets, weights, p = _targets_of(inp.dates[flow], pos, name)
    targets = pl.DataFrame(
        {
            "point": 0,
            "date": pl.Series(dates, dtype=pl.Date),
            "asset": assets,
            "weight": weights,
        },
        schema_overrides={"asset": pl.String},
    )
    run = _books(inp.grid, targets, costs, name)
    res = run.get(0) or _empty_book(inp.grid, costs, name)
    signal = pl.DataFrame(
        {
            "date": pl.Series(inp.dates[flow], dtype=pl.Date),
            "flow": f,
            "sum": s,
            "mid": mid,
            "upper": mid + m * sd,
            "lower": mid - m * sd,
            "position": pos,
        }
    )
    if inp.estimated_from is not None:
        signal = signal.with_columns(estimated=pl.col("date") > inp.estimated_from)
    stats = _book_stats(inp.grid, [res], [p], [name], in_sample).drop("book_id")
    params = {
        "index": name, "flow": flow, "n": int(n), "m": float(m), "window": window,
        "history": history, "book": book, "costs": _costs_text(costs),
        "in_sample": in_sample, "end": str(inp.dates[flow][-1]) if len(inp.dates[flow]) else None,
        "tracking_bps": tracking_bps,
    }  # fmt: skip
    return TimingResult(signal, res, stats, params, inp.sources[flow], inp.data, inp.estimated_from)


def threshold_grid(
    market: Market,
    *,
    indices: Sequence[str] = TIMING_INDICES,
    flows: Sequence[str] = FLOW_KINDS,
    ns: Iterable[int] = DEFAULT_NS,
    ms: Iterable[float] = DEFAULT_MS,
    books: Sequence[str] = TIMING_BOOKS,
    window: int = 250,
    history: History = "rolling",
    costs: Costs | None = TIMING_COSTS,
    in_sample: tuple[dt.date, dt.date] = IN_SAMPLE,
    end: dt.date | None = None,
    tracking_bps: float = 0.0,
    split: ParticipantSplit | None = None,
    flow_data: MarketFlows | None = None,
    estimated_holdings: Any = None,
) -> TimingGrid:
    """:func:`threshold_timing` for every N x M x flow x index x book: one pass over the flows
    per (flow, N) for all M at once, every book of the grid in one
    :func:`~factorlab.backtest.backtest_many` call. Statistics per sample (full / in / out)
    and costs (gross / net), the seed's 表4-表7 layout; :meth:`TimingGrid.surface` gives the
    heatmaps, :meth:`TimingGrid.best` the in-sample choice judged out of sample.

    Parameters and raises: as :func:`threshold_timing` (`ns`, `ms` each point's n and m;
    `flow_data` holding every kind of `flows`).
    """
    ns = tuple(int(x) for x in ns)
    ms_arr = np.array([float(x) for x in ms])
    flows = tuple(flows)
    books = tuple(books)
    if not ns or not len(ms_arr) or not flows or not books:
        raise ParameterError("`ns`, `ms`, `flows` and `books` must each hold at least one value.")
    inp = _inputs(market, indices, flows, end, split, tracking_bps, flow_data, estimated_holdings)
    for flow in flows:
        for n in ns:
            for m in ms_arr:
                for b in books:
                    _check(n, float(m), window, len(inp.dates[flow]), history, b)
    keys, t_point, t_date, t_asset, t_weight, t_pos = [], [], [], [], [], []
    for flow in flows:
        for n in ns:
            s = _rolling_sum(inp.flows[flow], n)
            mid, sd = _band(s, window, history)
            for b in books:
                pos_all = _positions(s, mid, sd, ms_arr, -1.0 if b == "long_short" else 0.0)
                for j, m in enumerate(ms_arr):
                    for name in inp.indices:
                        d, a, w, p = _targets_of(inp.dates[flow], pos_all[:, j], name)
                        k = len(keys)
                        keys.append((name, flow, b, n, float(m)))
                        t_point.append(np.full(len(d), k))
                        t_date.append(d)
                        t_asset.append(a)
                        t_weight.append(w)
                        t_pos.append(p)
    targets = pl.DataFrame(
        {
            "point": np.concatenate(t_point),
            "date": pl.Series(np.concatenate(t_date), dtype=pl.Date),
            "asset": pl.Series(np.concatenate(t_asset)).cast(inp.grid.index.enum),
            "weight": np.concatenate(t_weight),
        }
    )
    by_index = {}
    for name in inp.indices:
        sel = [k for k, key in enumerate(keys) if key[0] == name]
        by_index[name] = sel
    results: dict[int, BacktestResult] = {}
    for name, sel in by_index.items():
        sub = targets.filter(pl.col("point").is_in(sel))
        results.update(_books(inp.grid, sub, costs, name))
    run = [results.get(k) or _empty_book(inp.grid, costs, key[0]) for k, key in enumerate(keys)]
    stats = _book_stats(inp.grid, run, t_pos, [key[0] for key in keys], in_sample)
    key_frame = pl.DataFrame(
        {
            "book_id": np.arange(len(keys)),
            "index": [k[0] for k in keys],
            "flow": [k[1] for k in keys],
            "book": [k[2] for k in keys],
            "n": pl.Series([k[3] for k in keys], dtype=pl.Int64),
            "m": pl.Series([k[4] for k in keys], dtype=pl.Float64),
        }
    )
    table = stats.join(key_frame, on="book_id", maintain_order="left").select(
        "index", "flow", "book", "n", "m", "sample", "costs", *_STAT_COLUMNS
    )
    params = {
        "indices": inp.indices, "flows": flows, "ns": ns, "ms": tuple(ms_arr.tolist()),
        "books": books, "window": window, "history": history, "costs": _costs_text(costs),
        "in_sample": in_sample, "tracking_bps": tracking_bps,
    }  # fmt: skip
    return TimingGrid(table, params, inp.sources, inp.data, inp.estimated_from)


def _books(
    grid: AssetGrid, targets: pl.DataFrame, costs: Costs | None, index: str
) -> dict[Any, BacktestResult]:
    if not targets.height:
        return {}
    c = NO_COSTS if costs is None else costs
    return backtest_many(
        grid, targets, by="point", entry="next_close", capital=10_000_000.0, costs=c,
        benchmark=index,
    )  # fmt: skip


def _empty_book(grid: AssetGrid, costs: Costs | None, index: str) -> BacktestResult:
    """A book that never trades (no crossing): all cash."""
    first = pl.Series(grid.dates[:1]).cast(pl.Date)  # a list of one datetime64 is not a Date
    t = pl.DataFrame({"point": [0], "date": first, "asset": [index], "weight": [0.0]})
    return _books(grid, t, costs, index)[0]


def _costs_text(costs: Costs | None) -> str:
    if costs is None or costs == NO_COSTS:
        return "none"
    return (
        f"commission {costs.commission:.4%} a side (min {costs.min_commission:g} yuan), stamp "
        f"duty {costs.stamp_duty:.2%} on stock sells, slippage {costs.slippage_bps:g} bps"
    )
