"""Time the grid build and the backtester on a seeded synthetic dense random panel.

Usage::

    python benchmarks/bench_backtest.py [--assets 5000] [--days 2460] [--repeat 5]

1. ``grid build``: ``AssetGrid.from_prices`` on a long ``prices`` frame of assets x days rows
   (1% of the cells suspended, i.e. no row), reported separately.
2. ``weekly stock strategy``: every 5th session, the top 20% of a random score, equal weight,
   next-VWAP fills, seed 000's costs (0.03%, 5 yuan minimum, stamp duty schedule), 100-share
   lots, 100 m yuan. Timed: ``backtest(...)`` plus ``.daily`` (target <= 0.2 s warm).
3. ``index timing book``: one index over 2,500 sessions, in or out on random daily signals,
   next-close fills, 0.03% commission, 30 bps/yr tracking cost. Timed: ``backtest(...)`` plus
   ``.daily`` (target <= 5 ms warm, so a 200-point parameter grid runs in <= 1 s).
4. ``200-point grid of timing books``: 200 different random signal series on that index (one
   parameter point each), ``backtest_many(..., by="point")`` plus ``.daily`` of every book
   (target <= 1 s); and the same 200 books as 200 separate ``backtest(...)`` calls.
5. ``fixed overhead per call``: ``backtest(...)`` on one target row of that index (the
   per-call validation and set-up; the book loop is a few microseconds).

Warm = median of `--repeat` runs after one untimed run (numba kernels compiled or loaded).
Prints a table.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import numpy as np
import polars as pl

from factorlab.backtest import Costs, backtest, backtest_many
from factorlab.grid import AssetGrid

SEED = 20240816


def _sessions(n: int) -> np.ndarray:
    days = np.datetime64("2015-01-05", "D") + np.arange(int(n * 1.5) + 10)
    weekday = (days.astype("int64") - 4) % 7  # 1970-01-05 was a Monday
    return days[weekday < 5][:n]


def make_prices(n_assets: int, n_days: int, seed: int = SEED) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    dates = _sessions(n_days)
    ret = rng.normal(0.0003, 0.02, (n_days, n_assets)).clip(-0.095, 0.095)
    close = np.round(10.0 * np.exp(np.cumsum(np.log1p(ret), axis=0)), 2).clip(0.01)
    open_ = np.round(close * (1 + rng.normal(0, 0.005, close.shape)), 2).clip(0.01)
    high = np.maximum(open_, close) * 1.01
    low = np.minimum(open_, close) * 0.99
    volume = rng.uniform(1e5, 1e7, close.shape)
    keep = rng.random(close.shape) >= 0.01
    t, a = np.nonzero(keep)
    codes = np.array(
        [f"{600000 + j:06d}.SH" if j < 4000 else f"{j - 4000:06d}.SZ" for j in range(n_assets)]
    )
    return pl.DataFrame(
        {
            "date": pl.Series(dates[t], dtype=pl.Date),
            "asset": codes[a],
            "open": open_[t, a],
            "high": high[t, a],
            "low": low[t, a],
            "close": close[t, a],
            "volume": volume[t, a],
            "amount": volume[t, a] * (open_[t, a] + close[t, a]) / 2,
            "adj_factor": np.ones(t.size),
            "float_shares": np.full(t.size, 1e8),
            "is_st": np.zeros(t.size, bool),
        }
    )


def weekly_targets(grid: AssetGrid, seed: int = SEED) -> pl.DataFrame:
    rng = np.random.default_rng(seed + 1)
    rows = np.arange(0, grid.shape[0] - 1, 5)
    n = grid.shape[1]
    k = n // 5
    picks = np.argsort(rng.random((rows.size, n)), axis=1)[:, :k]
    return pl.DataFrame(
        {
            "date": pl.Series(np.repeat(grid.dates[rows], k), dtype=pl.Date),
            "asset": grid.assets.gather(picks.ravel()),
            "weight": np.ones(rows.size * k),
        }
    )


def timed(fn, repeat: int) -> tuple[float, float, float]:
    """(first run wall s, warm wall s median, warm CPU s median)."""
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return first, statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=5000)
    parser.add_argument("--days", type=int, default=2460)
    parser.add_argument("--timing-days", type=int, default=2500)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    prices = make_prices(args.assets, args.days)
    t0 = time.perf_counter()
    grid = AssetGrid.from_prices(prices)
    build = time.perf_counter() - t0
    del prices
    tg = weekly_targets(grid)
    costs = Costs()

    def weekly():
        res = backtest(grid, tg, entry="next_vwap", capital=1e8, lots=100, costs=costs)
        return res.daily

    first_w, warm_w, cpu_w = timed(weekly, args.repeat)
    res = backtest(grid, tg, entry="next_vwap", capital=1e8, lots=100, costs=costs)
    n_trades = res.trades.height

    rng = np.random.default_rng(SEED + 2)
    dates = _sessions(args.timing_days)
    level = 4000.0 * np.exp(np.cumsum(rng.normal(0.0002, 0.012, dates.size)))
    igrid = AssetGrid.from_indices(
        pl.DataFrame({"date": pl.Series(dates, dtype=pl.Date), "index": "csi300", "close": level}),
        tracking_bps=30.0,
    )
    signal = (rng.random(dates.size) < 0.5).astype(float)
    itg = pl.DataFrame(
        {"date": pl.Series(dates, dtype=pl.Date), "asset": "csi300", "weight": signal}
    )
    icosts = Costs(commission=0.0003, min_commission=0.0, stamp_duty=0.0)

    def timing():
        return backtest(igrid, itg, entry="next_close", capital=1e6, costs=icosts).daily

    first_i, warm_i, cpu_i = timed(timing, max(args.repeat, 20))

    n_points = 200
    signals = rng.random((n_points, dates.size)) < np.linspace(0.2, 0.8, n_points)[:, None]
    gtg = pl.DataFrame(
        {
            "point": np.repeat(np.arange(n_points), dates.size),
            "date": pl.Series(np.tile(dates, n_points), dtype=pl.Date),
            "asset": "csi300",
            "weight": signals.ravel().astype(float),
        }
    )
    parts = gtg.partition_by("point", include_key=False)

    def grid_many():
        books = backtest_many(igrid, gtg, by="point", entry="next_close", capital=1e6, costs=icosts)
        return [b.daily for b in books.values()]

    def grid_loop():
        return [
            backtest(igrid, p, entry="next_close", capital=1e6, costs=icosts).daily for p in parts
        ]

    first_g, warm_g, cpu_g = timed(grid_many, args.repeat)
    first_l, warm_l, cpu_l = timed(grid_loop, args.repeat)
    one = itg.head(1)

    def overhead():
        return backtest(igrid, one, entry="next_close", capital=1e6, costs=icosts)

    _, warm_o, cpu_o = timed(overhead, 50)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

    print(
        f"panel {args.assets} assets x {args.days} sessions, {tg.height:,} target rows, "
        f"{n_trades:,} trades; peak RSS {peak:,.0f} MiB"
    )
    print("| benchmark | first run | warm wall (median) | warm CPU (median) | target |")
    print("|---|---|---|---|---|")
    print(
        f"| grid build (AssetGrid.from_prices, {args.assets} x {args.days}) "
        f"| {build:.2f} s | - | - | - |"
    )
    print(
        f"| weekly stock strategy (backtest + daily) | {first_w:.3f} s | {warm_w:.3f} s | "
        f"{cpu_w:.3f} s | <= 0.2 s |"
    )
    print(
        f"| index timing book, {args.timing_days} days (backtest + daily) "
        f"| {first_i * 1e3:.1f} ms | "
        f"{warm_i * 1e3:.2f} ms | {cpu_i * 1e3:.2f} ms | <= 5 ms |"
    )
    print(
        f"| {n_points}-point grid of timing books, backtest_many + daily of each "
        f"| {first_g:.3f} s | {warm_g:.3f} s | {cpu_g:.3f} s | <= 1 s |"
    )
    print(
        f"| {n_points}-point grid of timing books, {n_points} backtest calls + daily "
        f"| {first_l:.3f} s | {warm_l:.3f} s | {cpu_l:.3f} s | - |"
    )
    print(
        f"| fixed overhead of one backtest call (1 target row, no .daily) | - "
        f"| {warm_o * 1e3:.2f} ms | {cpu_o * 1e3:.2f} ms | - |"
    )


if __name__ == "__main__":
    main()
