"""The full northbound factor study on a synthetic preset: stages, total, peak memory, cached rerun.

    python benchmarks/bench_study.py                 # large preset (5,000 stocks, 2014-11..2024-12)
    python benchmarks/bench_study.py --preset default --no-record
    python benchmarks/bench_study.py --market /tmp/h9_large   # a saved market (Market.save)

The market is generated (or read from the cache) first and not timed. The study runs in a fresh
process with an empty study cache (cold: hygiene, participant split, 14 factors x 3 pools,
preprocessing, portfolios with and without costs), then again in another fresh process reading
its cache (the rerun). Appends the table to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

CHILD = textwrap.dedent(
    """
    import json, os, resource, sys, time
    from factorlab.datasets import PRESETS, synthetic_market
    from factorlab.market import Market
    from factorlab.northbound.study import factor_study
    kind, source, cache = sys.argv[1:4]
    market = Market.load(source) if kind == "market" else synthetic_market(**PRESETS[source])
    t0, c0 = time.perf_counter(), os.times()
    result = factor_study(market, cache=__import__("pathlib").Path(cache))
    secs, c1 = time.perf_counter() - t0, os.times()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": round(secs, 2), "peak_mib": round(peak),
                      "user": round(c1.user - c0.user, 1), "sys": round(c1.system - c0.system, 1),
                      "stages": result.seconds, "rows": result.table.height}))
    """
)


def _run(kind: str, source: str, cache: Path) -> dict:
    res = subprocess.run(
        [sys.executable, "-c", CHILD, kind, source, str(cache)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> int:
    from run import _machine  # the generation runner's machine line

    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--preset", default="large")
    ap.add_argument(
        "--market",
        metavar="DIR",
        default=None,
        help="a saved market directory (Market.load) instead of a preset",
    )
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    import polars as pl

    from factorlab.datasets import PRESETS, synthetic_market

    if args.market is not None:
        from factorlab.market import Market

        market = Market.load(args.market)  # fails early on a bad directory
        kind, source = "market", str(Path(args.market).resolve())
        hash_ = (market.content_hash or "no content hash")[:8]
        what = f"market {source}, {market.meta.get('source') or 'user tables'}, hash {hash_}"
        flag = f"--market {args.market}"
    else:
        synthetic_market(**PRESETS[args.preset])  # generate / cache the market, untimed
        kind, source, what, flag = "preset", args.preset, args.preset, f"--preset {args.preset}"
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        cold = _run(kind, source, Path(tmp))
        warm = _run(kind, source, Path(tmp))
    load = f"{load[0]:.2f} -> {os.getloadavg()[0]:.2f}"
    stages = " | ".join(f"{k} {v:.1f} s" for k, v in cold["stages"].items())
    text = (
        f"### {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC - northbound factor study "
        f"({what})\n\nMachine: {_machine()}; polars {pl.__version__}. Command: `python "
        f"benchmarks/bench_study.py {flag}`. 14 factors x csi300/csi500/liq1500, "
        "weekly, top/bottom 20%, preprocessing, costs on and off; market generation not timed.\n\n"
        "| run | seconds | peak RSS MiB | target (large) |\n|---|---|---|---|\n"
        f"| study, cold (fresh process, empty study cache) | {cold['seconds']} | "
        f"{cold['peak_mib']} | < 60 s, < 8 GB |\n"
        f"| study, rerun (fresh process, cached) | {warm['seconds']} | {warm['peak_mib']} | "
        "< 2 s |\n\n"
        f"Stages (cold): {stages}.\n"
    )
    print(text)
    # the cold run's stages as a table, with its CPU time and the machine's load (1-minute
    # average before and after): the figures to compare runs by on a shared machine
    print("| cold stage | seconds |\n|---|---|")
    for k, v in cold["stages"].items():
        print(f"| {k} | {v:.2f} |")
    print(f"| total (study wall) | {cold['seconds']:.2f} |")
    print(
        f"\nCPU: user {cold['user']} s + sys {cold['sys']} s; peak {cold['peak_mib']} MiB; "
        f"load {load}\n"
    )
    if not args.no_record:
        with (HERE / "RESULTS.md").open("a") as f:
            f.write("\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
