"""Quota-band timing (seed 000, JoinQuant's 北向资金 Bollinger strategy), exactly as its code.

Every session before the open, from the data up to the previous day: mf = the day's quota used
summed over the links (quota_daily - quota_balance; Shanghai alone before the Shenzhen link
opens), the band = mean +- width x std (ddof 1) of the last `window` days of mf, the latest
included. At the open: mf >= upper -> hold the top `top` stocks by the previous day's published
holding ratio, buying only new names at NAV / top x 0.99 each and selling names that dropped
out; mf <= lower -> sell everything; otherwise hold. Costs 0.03% a side (5 yuan minimum per
order), 0.1% stamp duty on sells; benchmark CSI 300. Choices: docs/strategies.md.

:func:`quota_band_index` is the index version (long the index / flat on the same band) for
markets without per-stock holdings, e.g. the real sample.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
import polars as pl

from factorlab._display import Summary
from factorlab.backtest import BacktestResult, Costs, backtest
from factorlab.calendar import DISCLOSURE_END
from factorlab.errors import DisclosureError, MarketError, ParameterError
from factorlab.grid import AssetGrid, ffill_rows
from factorlab.market import Market
from factorlab.northbound.strategies.flows import quota_usage
from factorlab.northbound.strategies.timing import IN_SAMPLE, timing_statistics
from factorlab.northbound.study import data_description

__all__ = [
    "QUOTA_COSTS",
    "QuotaBandResult",
    "quota_band",
    "quota_band_index",
    "quota_band_signal",
]

Ranking = Literal["published", "recomputed"]
#: Seed 000's costs: 0.03% commission a side, 5 yuan minimum per order, 0.1% stamp duty on sells
#: (the code's fixed ``close_tax=0.001``, not the 2023 cut).
QUOTA_COSTS = Costs(commission=0.0003, min_commission=5.0, stamp_duty=0.001)


def quota_band_signal(
    market: Market, *, window: int = 150, width: float = 2.0
) -> tuple[pl.DataFrame, str]:
    """The band of seed 000's ``get_boll`` for every quota day: ``(frame, definition)``.

    frame: date (a quota day d), mf (quota used on d), mid, upper, lower (mean and mean +-
    `width` std, ddof 1, of the mf of the last `window` quota days up to d, d included; fewer at
    the start; NaN with one day), signal (1: mf >= upper, -1: mf <= lower, 0 otherwise). The
    strategy trades on it at the open of the next session (the data of d are published before
    it).
    """
    if not isinstance(window, int) or window <= 1:
        raise ParameterError(f"`window` must be an integer > 1 (quota days); got {window}.")
    if not np.isfinite(width) or width < 0:
        raise ParameterError(f"`width` must be >= 0 (in std); got {width}.")
    frame, definition = quota_usage(market)
    mf = frame["mf"].cast(pl.Float64).to_numpy()
    n = len(mf)
    mid = np.full(n, np.nan)
    sd = np.full(n, np.nan)
    c1 = np.concatenate([[0.0], np.cumsum(mf)])
    for t in range(n):  # pandas' iloc[-window:] then mean / std(ddof=1)
        lo = max(0, t + 1 - window)
        x = mf[lo : t + 1]
        mid[t] = (c1[t + 1] - c1[lo]) / len(x)
        if len(x) > 1:
            sd[t] = x.std(ddof=1)
    upper, lower = mid + width * sd, mid - width * sd
    signal = np.where(mf >= upper, 1, np.where(mf <= lower, -1, 0))
    out = frame.select("date", "mf").with_columns(
        mid=pl.Series(mid),
        upper=pl.Series(upper),
        lower=pl.Series(lower),
        signal=pl.Series(signal, dtype=pl.Int8),
    )
    return out, definition


@dataclass(frozen=True)
class QuotaBandResult:
    """Seed 000's strategy on a market.

    ``signal``: date (the signal date: the session before the trade), mf, mid, upper, lower
    (the band from the quota days up to it), action (``"hold_top"``, ``"sell_all"`` or
    ``"none"``), position (1 while the book holds stocks after the next open, else 0);
    ``book``: the backtest (daily with benchmark CSI 300, trades, positions, ...); ``stats``:
    returns, Sharpe, drawdown and per-signal statistics per sample (:func:`timing_statistics`
    on the book); ``params``; ``definition``: what mf is; ``data``: what it ran on.
    """

    signal: pl.DataFrame
    book: BacktestResult = field(repr=False)
    stats: pl.DataFrame
    params: dict[str, Any]
    definition: str
    data: dict[str, str] = field(default_factory=dict)

    def _display(self) -> Summary:
        p = self.params
        s = self.book.summary()
        return Summary(
            f"QuotaBandResult: {p['asset']}, band {p['window']} days +- {p['width']} std",
            (
                f"data: {', '.join(f'{k} {v}' for k, v in self.data.items())}",
                f"mf: {self.definition}",
                f"book: {s['rebalances']} rebalances, {s['trades']} trades; benchmark "
                f"{p['benchmark']}",
            ),
            self.stats.filter(pl.col("sample") == "full").select(
                "costs",
                "annual_return",
                "benchmark_annual",
                "annual_excess",
                "sharpe",
                "max_drawdown",
                "win_rate",
            ),
            "statistics over the whole span",
        )

    def __repr__(self) -> str:
        return self._display().text()

    def _repr_html_(self) -> str:
        return self._display().html()


def _band_on_sessions(
    band: pl.DataFrame, sessions: pl.Series, start: dt.date | None, end: dt.date
) -> pl.DataFrame:
    """Per session D (the trade day), the band of the last quota day before D, dated the
    session before D (the signal date)."""
    s = pl.DataFrame({"trade_date": sessions}).sort("trade_date")
    s = s.with_columns(date=pl.col("trade_date").shift(1)).drop_nulls("date")
    s = s.filter(pl.col("date") <= end)
    if start is not None:
        s = s.filter(pl.col("trade_date") >= start)
    # the quota data of calendar days before D: the last quota day <= the session before D
    joined = s.join_asof(
        band.rename({"date": "quota_date"}).sort("quota_date"),
        left_on="date",
        right_on="quota_date",
        strategy="backward",
    )
    return joined.drop_nulls("quota_date")


def _end(market: Market, end: dt.date | None) -> dt.date:
    if end is not None and end > DISCLOSURE_END:
        raise DisclosureError(
            f"`end` = {end} is after the last daily northbound disclosure ({DISCLOSURE_END}): "
            "JoinQuant's STK_ML_QUOTA and STK_HK_HOLD_INFO stop there (quarterly afterwards). "
            f"Pass end <= {DISCLOSURE_END}; post-2024 estimated holdings are not supported by "
            "the quota band."
        )
    return DISCLOSURE_END if end is None else end


def quota_band(
    market: Market,
    *,
    window: int = 150,
    width: float = 2.0,
    top: int = 15,
    ranking: Ranking = "published",
    capital: float = 1_000_000.0,
    lots: int | None = 100,
    costs: Costs = QUOTA_COSTS,
    cash_buffer: float = 0.01,
    benchmark: str = "csi300",
    start: dt.date | None = None,
    end: dt.date | None = None,
    in_sample: tuple[dt.date, dt.date] = IN_SAMPLE,
) -> QuotaBandResult:
    """Seed 000's quota-band strategy, as its JoinQuant code does it.

    Parameters
    ----------
    window, width
        The band: the last `window` quota days (150), mean +- `width` std (2).
    top
        Stocks held (15): the top `top` by the previous session's holding ratio.
    ranking
        ``"published"``: HKEX's published ratio (``northbound.ratio``, JoinQuant's
        share_ratio); ``"recomputed"``: the published shares / float shares of the day.
    capital, lots, costs, cash_buffer
        Starting cash (1,000,000 yuan), 100-share lots, :data:`QUOTA_COSTS`, the code's 0.99
        (each new name is bought at NAV / top x (1 - cash_buffer)).
    benchmark
        An index of the market (CSI 300).
    start, end
        First trade day and last signal day; `end` at most the last daily disclosure.

    Notes
    -----
    Exactly the code's rules, including two of its corners: a session whose previous session
    has no published holdings (an HK holiday) gives an empty top list, so the code sells every
    name (``set(final) != held``); with fewer than `top` names published, each is bought at
    NAV / (names) x 0.99 (the backtester normalizes target weights), where the code would use
    NAV / 15 -- only on markets with fewer than `top` held stocks.

    Raises
    ------
    MarketError
        No ``quotas``, ``northbound`` or ``prices`` table, or not the benchmark index.
    DisclosureError
        `end` after the 2024 disclosure change.
    ParameterError
        `window` <= 1, `width` < 0, `top` < 1, an unknown `ranking`.
    """
    if not isinstance(top, int) or top < 1:
        raise ParameterError(f"`top` must be an integer >= 1 (stocks held); got {top}.")
    if ranking not in get_args(Ranking):
        raise ParameterError(f"`ranking` must be 'published' or 'recomputed'; got {ranking!r}.")
    market.require("prices", "northbound", purpose="quota-band timing (seed 000)")
    end_d = _end(market, end)
    band, definition = quota_band_signal(market, window=window, width=width)
    grid = AssetGrid.from_market(market, kinds=("stock", "index"))
    if benchmark not in grid.assets.to_list():
        raise MarketError(
            f"quota-band timing benchmarks against index `{benchmark}`, which table `indices` "
            "lacks; pass benchmark= one of its indices."
        )
    sessions = pl.Series(grid.dates.astype("datetime64[D]"), dtype=pl.Date)
    sig = _band_on_sessions(band, sessions, start, end_d)
    if ranking == "recomputed":
        floats = market.prices.select("date", "asset", "float_shares")
        held = market.northbound.join(floats, on=["date", "asset"], how="left").select(
            "date", "asset", ratio=pl.col("shares") / pl.col("float_shares")
        )
    else:
        held = market.northbound.select("date", "asset", "ratio")
    buy_days = sig.filter(pl.col("signal") == 1).select("date")
    tops = (
        held.join(buy_days.lazy(), on="date")
        .drop_nulls("ratio")
        .sort(["date", "ratio", "asset"], descending=[False, True, False])
        .group_by("date", maintain_order=True)
        .head(top)
        .collect()
    )
    # the rows the book rebalances on: the top names (weight 1 each, normalized to 1 / names)
    # on buy days, an all-zero row (cash) on sell days and on buy days without published names
    empty_buy = buy_days.join(tops.select("date").unique(), on="date", how="anti")
    sell_days = sig.filter(pl.col("signal") == -1).select("date")
    zero = pl.concat([sell_days, empty_buy]).with_columns(
        asset=pl.lit(benchmark), weight=pl.lit(0.0)
    )
    targets = pl.concat(
        [tops.select("date", "asset", weight=pl.lit(1.0)), zero.select("date", "asset", "weight")]
    ).sort("date", "asset")
    grid_bench = grid
    book = backtest(
        grid_bench,
        targets,
        entry="next_open",
        capital=capital,
        lots=lots,
        rebalance="difference",
        costs=costs,
        benchmark=benchmark,
        cash_buffer=cash_buffer,
    )
    action = (
        pl.when(pl.col("signal") == 1)
        .then(pl.lit("hold_top"))
        .when(pl.col("signal") == -1)
        .then(pl.lit("sell_all"))
        .otherwise(pl.lit("none"))
    )
    reb = book.rebalances.select(pl.col("signal_date").alias("date"), "held")
    signal = (
        sig.select("date", "trade_date", "quota_date", "mf", "mid", "upper", "lower", "signal")
        .with_columns(action=action)
        .join(reb, on="date", how="left", maintain_order="left")
        .with_columns(position=(pl.col("held").forward_fill().fill_null(0) > 0).cast(pl.Int8))
        .drop("held")
    )
    fills = book.rebalances["trade_date"]
    pos = (book.rebalances["held"] > 0).cast(pl.Float64).to_numpy()
    stats = timing_statistics(book.daily, fills, pos, in_sample=in_sample)
    params = {
        "asset": f"top {top} stocks by {ranking} holding ratio", "window": window,
        "width": width, "top": top, "ranking": ranking, "capital": capital, "lots": lots,
        "costs": costs, "cash_buffer": cash_buffer, "benchmark": benchmark,
        "start": start, "end": end_d,
    }  # fmt: skip
    return QuotaBandResult(signal, book, stats, params, definition, data_description(market))


def quota_band_index(
    market: Market,
    *,
    index: str = "csi300",
    window: int = 150,
    width: float = 2.0,
    costs: Costs | None = None,
    tracking_bps: float = 0.0,
    start: dt.date | None = None,
    end: dt.date | None = None,
    in_sample: tuple[dt.date, dt.date] = IN_SAMPLE,
) -> QuotaBandResult:
    """The index version of seed 000's rule: the same band; mf >= upper -> long `index`,
    mf <= lower -> flat, otherwise hold. Indices have closes only, so the book trades at the
    close of the session after the signal date (``next_close``), a fee-free proxy of the index
    (`tracking_bps`); `costs` default: 0.15% a side (the seed 004 ~0.3% round trip).

    For markets without per-stock holdings (the real sample: quota usage where tushare's figure
    means it, net buy after its switch, :func:`~factorlab.northbound.strategies.flows.quota_usage`).
    """
    from factorlab.northbound.strategies.timing import TIMING_COSTS

    costs = TIMING_COSTS if costs is None else costs
    market.require("indices", purpose="quota-band index timing")
    end_d = _end(market, end)
    band, definition = quota_band_signal(market, window=window, width=width)
    ix = market.indices.filter(pl.col("index") == index).collect()
    if not ix.height:
        avail = sorted(market.indices.select("index").unique().collect()["index"].to_list())
        raise MarketError(
            f"quota-band index timing needs index `{index}` in table `indices` (holds {avail})."
        )
    grid = AssetGrid.from_indices(ix, tracking_bps=tracking_bps)
    sessions = pl.Series(grid.dates.astype("datetime64[D]"), dtype=pl.Date)
    sig = _band_on_sessions(band, sessions, start, end_d)
    # the position each signal day calls for: 1 / 0 on crossings, unchanged otherwise
    raw = sig["signal"].to_numpy().astype(float)
    state = np.where(raw == 1, 1.0, np.where(raw == -1, 0.0, np.nan))
    pos = np.nan_to_num(ffill_rows(state[:, None])[:, 0], nan=0.0)
    prev = np.r_[0.0, pos[:-1]]
    change = np.flatnonzero(pos != prev)
    dates = sig["date"].gather(change)
    targets = pl.DataFrame({"date": dates, "asset": [index] * len(change), "weight": pos[change]})
    if not targets.height:
        targets = pl.DataFrame({"date": sessions.head(1), "asset": [index], "weight": [0.0]})
    book = backtest(
        grid, targets, entry="next_close", capital=10_000_000.0, costs=costs, benchmark=index
    )
    signal = sig.select(
        "date", "trade_date", "quota_date", "mf", "mid", "upper", "lower", "signal"
    ).with_columns(
        action=pl.when(pl.col("signal") == 1)
        .then(pl.lit("long"))
        .when(pl.col("signal") == -1)
        .then(pl.lit("flat"))
        .otherwise(pl.lit("none")),
        position=pl.Series(pos, dtype=pl.Float64).cast(pl.Int8),
    )
    fills = book.rebalances["trade_date"]
    stats = timing_statistics(book.daily, fills, pos[change][: len(fills)], in_sample=in_sample)
    params = {
        "asset": f"index {index}", "window": window, "width": width, "costs": costs,
        "benchmark": index, "start": start, "end": end_d, "tracking_bps": tracking_bps,
    }  # fmt: skip
    return QuotaBandResult(signal, book, stats, params, definition, data_description(market))
