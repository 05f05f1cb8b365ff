"""ETF sector flows (issue 14): the ``factorlab etf-flows`` command on a synthetic preset in a
fresh process, and ``sector_money_flow`` over 50 ETFs x 10 years.

    python benchmarks/bench_etf_flows.py                  # default preset
    python benchmarks/bench_etf_flows.py --preset small

The market is generated (or read from the cache) first and not timed. "cold" is a new Python
process running ``python -m factorlab etf-flows`` on the cached market (imports, market load,
flows, table, figure), timed from outside. The second figure is ``sector_money_flow`` over an
in-memory market of 50 A-share ETFs x 10 years of sessions (2,4xx rows each; the best of 5 runs
after one warm-up). Targets: command <= 3 s cold, sector_money_flow <= 0.5 s. Prints the table
and the machine load (the lead records quiet-machine figures in RESULTS.md).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]


def synthetic_etfs(n_etfs: int = 50, years: int = 10, seed: int = 7) -> pl.DataFrame:
    """`n_etfs` A-share ETFs over `years` of sessions (from 2015-01-01): random walks with
    creations in whole baskets (the shape of the ``etfs`` table)."""
    from factorlab.calendar import sessions

    days = sessions("ashare", "2015-01-01", f"{2015 + years - 1}-12-31")
    rng = np.random.default_rng(seed)
    n = len(days)
    frames = []
    for i in range(n_etfs):
        nav = np.round(np.exp(np.cumsum(0.015 * rng.standard_normal(n))), 4)
        shares = np.round(1e9 * np.exp(np.cumsum(0.004 * rng.standard_normal(n))) / 1e6) * 1e6
        volume = np.round(shares * 0.02 * np.exp(0.4 * rng.standard_normal(n)), -2)
        close = np.round(nav * (1 + 0.001 * rng.standard_normal(n)), 3)
        frames.append(
            pl.DataFrame(
                {
                    "date": days,
                    "etf": f"{510000 + i:06d}.SH",
                    "sector": f"sector{i:02d}",
                    "close": close,
                    "nav": nav,
                    "volume": volume,
                    "amount": np.round(volume * close),
                    "shares_outstanding": shares,
                    "market": "CN",
                    "currency": "CNY",
                }
            )
        )
    return pl.concat(frames)


def bench_sector_money_flow(repeat: int = 5) -> tuple[float, int]:
    from factorlab.etf import sector_money_flow
    from factorlab.market import Market

    etfs = synthetic_etfs()
    market = Market({"etfs": etfs})
    sector_money_flow(market, days=5)  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        sector_money_flow(market, days=5)
        times.append(time.perf_counter() - t0)
    return min(times), etfs.height


def bench_command(preset: str) -> float:
    from factorlab.datasets import PRESETS, synthetic_market

    synthetic_market(**PRESETS[preset])  # generate / read the cache, untimed
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "factorlab", "etf-flows", "--preset", preset, "--out", out],
            check=True,
            capture_output=True,
            env=env,
        )
        return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="default")
    args = parser.parse_args()
    command = bench_command(args.preset)
    smf, rows = bench_sector_money_flow()
    load = os.getloadavg()
    print("| what | seconds | target |\n|---|---|---|")
    print(f"| factorlab etf-flows, {args.preset} market, cold process | {command:.2f} | <= 3 |")
    print(f"| sector_money_flow, 50 ETFs x 10 years ({rows:,} rows) | {smf:.3f} | <= 0.5 |")
    print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
