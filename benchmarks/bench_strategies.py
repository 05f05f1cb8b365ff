"""The northbound strategies (``run_strategies``: every part with its defaults) on a synthetic
preset: cold run, cached rerun, and the threshold grid alone.

    python benchmarks/bench_strategies.py                  # default preset
    python benchmarks/bench_strategies.py --preset small
    python benchmarks/bench_strategies.py --market DIR     # a saved market (Market.save)

The market is generated (or read from the cache) first and not timed. The strategies run in a
fresh process with an empty strategies cache (cold: the participant split and every part), then
again in another fresh process reading its cache (the rerun). Targets (issue 11): cold <= 30 s
on the default market, cached rerun <= 2 s, the 20 x 10 threshold grid for three flows x two
indices <= 1 s. Prints the table (the lead records quiet-machine figures in RESULTS.md).
"""

from __future__ import annotations

import argparse
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
    import json, resource, sys, time
    from factorlab.datasets import PRESETS, synthetic_market
    from factorlab.market import Market
    from factorlab.northbound import strategies
    kind, source, cache = sys.argv[1:4]
    market = Market.load(source) if kind == "market" else synthetic_market(**PRESETS[source])
    t0 = time.perf_counter()
    result = strategies.run_strategies(market, cache=__import__("pathlib").Path(cache))
    secs = time.perf_counter() - t0
    out = {"seconds": round(secs, 2), "stages": result.seconds, "parts": list(result.parts)}
    if hasattr(strategies, "threshold_grid") and sys.argv[4] == "grid":
        grid_t = []
        for _ in range(3):  # the first call compiles / warms the kernels
            t1 = time.perf_counter()
            g = strategies.threshold_grid(
                market, indices=("csi300", "csi800"), flows=("all", "trading", "allocation"),
                ns=range(1, 21),
            )
            grid_t.append(time.perf_counter() - t1)
        out["grid_seconds"] = [round(t, 3) for t in grid_t]
    out["peak_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(out))
    """
)


def _run(kind: str, source: str, cache: Path, grid: bool) -> dict:
    res = subprocess.run(
        [sys.executable, "-c", CHILD, kind, source, str(cache), "grid" if grid else "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--preset", default="default")
    ap.add_argument("--market", metavar="DIR", default=None, help="a saved market directory")
    args = ap.parse_args()
    from factorlab.datasets import PRESETS, synthetic_market

    if args.market is not None:
        from factorlab.market import Market

        market = Market.load(args.market)
        kind, source = "market", str(Path(args.market).resolve())
        what = f"market {source}, hash {(market.content_hash or 'none')[:8]}"
    else:
        market = synthetic_market(**PRESETS[args.preset])  # generate / cache, untimed
        kind, source = "preset", args.preset
        what = f"preset {args.preset}, hash {(market.content_hash or 'none')[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        cold = _run(kind, source, Path(tmp), grid=True)
        warm = _run(kind, source, Path(tmp), grid=False)
    load = os.getloadavg()
    stages = " | ".join(f"{k} {v:.1f} s" for k, v in cold["stages"].items())
    lines = [
        f"northbound strategies on {what}; parts: {', '.join(cold['parts'])}",
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (timings under load are "
        "indicative only)",
        "",
        "| run | seconds | target | peak MiB |",
        "|---|---:|---:|---:|",
        f"| cold (empty cache) | {cold['seconds']:.2f} | 30 | {cold['peak_mib']} |",
        f"| cached rerun | {warm['seconds']:.2f} | 2 | {warm['peak_mib']} |",
    ]
    if "grid_seconds" in cold:
        g = cold["grid_seconds"]
        lines.append(
            f"| threshold grid 20 x 10 x 3 flows x 2 indices (warm, best of {len(g) - 1}) | "
            f"{min(g[1:]):.3f} | 1 | |"
        )
    else:
        lines.append("| threshold grid | not built on this checkout | 1 | |")
    lines += ["", f"cold stages: {stages}"]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
