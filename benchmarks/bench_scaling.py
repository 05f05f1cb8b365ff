"""How factorlab's single-factor work scales with the panel: S, M, L, XL and X10 (10,000 x 2,500).

Usage::

    python benchmarks/bench_scaling.py [--sizes S M L XL X10] [--runs 3] [--cache-dir DIR]

Each size runs ``benchmarks/bench_evaluate.py SIZE --repeat 3`` in ``--runs`` fresh processes
(the stages a-e of the alphalens work; kernels from a private, warmed numba cache) and reports
the medians: warm and cold seconds, nanoseconds per cell (warm / (assets x dates)), peak RSS,
bytes per cell of the analysis (peak RSS minus the RSS before it: the grids, orders, masks) and
of the whole process, and the log-log slope of warm time against cells fitted over the sizes
from M up (S is dominated by fixed per-call costs). A slope of 1.0 is linear.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from bench_evaluate import run_in_process  # noqa: E402
from panels import SIZES  # noqa: E402


def run_size(size: str, runs: int, cache_dir: str, env: dict) -> dict:
    reports = []
    for _ in range(runs):
        reports.append(run_in_process(size, cache_dir, env, "--repeat", "3"))
    n_assets, n_dates = SIZES[size]
    cells = n_assets * n_dates

    def med(get) -> float:
        return statistics.median(get(r) for r in reports)

    warm = med(lambda r: r["warm_median_s"]["total"])
    peak = med(lambda r: r["factorlab_peak_rss_mib"])
    before = med(lambda r: r["factorlab_rss_before_analysis_mib"])
    return {
        "size": size,
        "assets": n_assets,
        "dates": n_dates,
        "cells": cells,
        "warm_s": warm,
        "cold_s": med(lambda r: r["cold_s"]["total"]),
        "warm_cpu_s": med(lambda r: r["warm_median_cpu_s"]["total"]),
        "ns_per_cell": warm / cells * 1e9,
        "peak_rss_mib": peak,
        "analysis_bytes_per_cell": (peak - before) * 2**20 / cells,
        "process_bytes_per_cell": peak * 2**20 / cells,
        "load": [r["load_average_1min"] for r in reports],
    }


def slope(rows: list[dict]) -> float:
    """Least-squares slope of log(warm seconds) on log(cells)."""
    xs = [math.log(r["cells"]) for r in rows]
    ys = [math.log(r["warm_s"]) for r in rows]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per size")
    parser.add_argument(
        "--cache-dir", default=os.path.join(tempfile.gettempdir(), "factorlab-bench-panels")
    )
    args = parser.parse_args(argv)
    env = dict(os.environ)
    env.setdefault("NUMBA_CACHE_DIR", tempfile.mkdtemp(prefix="factorlab-bench-numba-"))
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(HERE), env.get("PYTHONPATH", "")])
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"uptime: {uptime}; threads: {env.get('FACTORLAB_THREADS', 'all CPUs')}")
    run_in_process("S", args.cache_dir, env, "--repeat", "0")  # numba cache, smallest panel
    rows = []
    for size in args.sizes:
        rows.append(run_size(size, args.runs, args.cache_dir, env))
        print(json.dumps(rows[-1]), flush=True)
    fit = [r for r in rows if r["size"] != "S"]
    fitted = slope(fit) if len(fit) >= 2 else float("nan")
    lines = [
        "| size | assets x dates | cells | warm a-e s | ns / cell | cold s | peak RSS MiB | "
        "analysis B / cell | process B / cell | load |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['size']} | {r['assets']:,} x {r['dates']:,} | {r['cells'] / 1e6:.2f}M | "
            f"{r['warm_s']:.3f} | {r['ns_per_cell']:.0f} | {r['cold_s']:.3f} | "
            f"{r['peak_rss_mib']:.0f} | {r['analysis_bytes_per_cell']:.0f} | "
            f"{r['process_bytes_per_cell']:.0f} | {'/'.join(str(x) for x in r['load'])} |"
        )
    lines.append(
        f"log-log slope of warm time on cells ({', '.join(r['size'] for r in fit)}): {fitted:.3f}"
    )
    sys.stdout.write("\n".join(lines) + "\n")
    print(json.dumps({"sizes": rows, "slope": fitted}))


if __name__ == "__main__":
    main()
