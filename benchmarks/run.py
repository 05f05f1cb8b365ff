"""Benchmark runner: prints a table and appends it to benchmarks/RESULTS.md.

    python benchmarks/run.py                 # synthetic market generation (large preset) + load
    python benchmarks/run.py --preset default
    python benchmarks/run.py --no-record     # print only

Each measurement runs in a fresh process so its peak RSS (ru_maxrss) is its own. Generation
writes into a temporary directory, so the on-disk cache is neither used nor disturbed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    mode, preset, out = sys.argv[1:4]
    t0 = time.perf_counter()
    if mode == "generate":
        from factorlab.datasets import PRESETS, synthetic_market
        stages = []
        last = [t0]
        def progress(msg):
            now = time.perf_counter()
            stages.append((msg, round(now - last[0], 2)))
            last[0] = now
        m = synthetic_market(**PRESETS[preset], cache=out, progress=progress)
        rows = m.summary()
    else:
        from factorlab.market import Market
        m = Market.load(out)
        rows = m.summary()
    secs = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": round(secs, 2), "peak_mib": round(peak),
                      "rows": int(rows["rows"].sum())}))
    """
)


def _run(mode: str, preset: str, out: Path) -> dict:
    res = subprocess.run(
        [sys.executable, "-c", CHILD, mode, preset, str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(res.stdout.strip().splitlines()[-1])


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, Python {platform.python_version()}"


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--preset", default="large")
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    import numba
    import polars as pl

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "market"
        # warm numba's on-disk cache so the figure is the generator, not the JIT compiler
        _run("generate", "small", Path(tmp) / "warm")
        gen = _run("generate", args.preset, out)
        load = _run("load", args.preset, out)
        size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 2**20
    table = [
        "| benchmark | preset | seconds | peak RSS MiB | rows | target |",
        "|---|---|---|---|---|---|",
        f"| synthetic market: generate + write parquet | {args.preset} | {gen['seconds']} | "
        f"{gen['peak_mib']} | {gen['rows']:,} | < 60 s, < 6 GB (large) |",
        f"| synthetic market: load from cache (+ summary scan) | {args.preset} | "
        f"{load['seconds']} | {load['peak_mib']} | {load['rows']:,} | < 3 s (large) |",
    ]
    header = (
        f"### {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC — synthetic market "
        f"({args.preset})\n\nMachine: {_machine()}; polars {pl.__version__}, numba "
        f"{numba.__version__}. On-disk size {size:.0f} MiB. Command: `python "
        f"benchmarks/run.py --preset {args.preset}`.\n"
    )
    text = header + "\n" + "\n".join(table) + "\n"
    print(text)
    if not args.no_record:
        results = HERE / "RESULTS.md"
        if not results.exists():
            results.write_text(
                "# Benchmark results\n\nAppended by `benchmarks/run.py` and the "
                "other runners in this folder; newest last.\n\n"
            )
        with results.open("a") as f:
            f.write("\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
