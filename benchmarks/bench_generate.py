"""Generating a synthetic preset: a stage table, wall / CPU / peak RSS, and the load.

    python benchmarks/bench_generate.py                       # default preset, warm numba cache
    python benchmarks/bench_generate.py --preset large --numba-cold
    python benchmarks/bench_generate.py --preset small --repeat 3
    PYTHONPATH=/path/to/old/checkout python benchmarks/bench_generate.py --serial  # a baseline

Each run is a fresh process generating into an empty directory (no market cache), the way
``synthetic_market()`` does on a first call: ``iter_tables`` streams the tables into a
``MarketWriter``. ``--numba-cold`` gives the child an empty ``NUMBA_CACHE_DIR`` so that the
generator's kernels compile inside the timed run. The stage table has one row per table: the
seconds spent producing it (between the previous yield and this one: the arrays behind it) and
the seconds spent writing it (validation, parquet, hashing: on the writer thread, overlapping
the next table's generation, unless ``--serial``). Prints only; no file is edited.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap

CHILD = textwrap.dedent(
    """
    import json, os, resource, sys, time
    t_imp = time.perf_counter()
    from factorlab.datasets import GENERATOR_VERSION, preset_params
    from factorlab.datasets.synthetic import iter_tables
    from factorlab.market import MarketWriter
    imported = time.perf_counter() - t_imp
    preset, target, mode, n_assets = sys.argv[1:5]
    p = preset_params(preset, **({"n_assets": int(n_assets)} if int(n_assets) else {}))
    meta = {"source": "factorlab synthetic market", "generator": GENERATOR_VERSION,
            "params": p.to_json()}
    stages, order = {}, []
    def add(name, key, secs):
        if name not in stages:
            stages[name] = {"make": 0.0, "write": 0.0, "rows": 0}
            order.append(name)
        stages[name][key] += secs
    def timed(tables):  # the time inside the generator, up to each yield
        it = iter(tables)
        while True:
            t = time.perf_counter()
            try:
                name, frame = next(it)
            except StopIteration:
                return
            add(name, "make", time.perf_counter() - t)
            stages[name]["rows"] += frame.height
            yield name, frame
    class Timed:  # the time inside MarketWriter.add (on the writer thread when overlapped)
        def __init__(self, writer):
            self.writer = writer
        def add(self, name, frame):
            t = time.perf_counter()
            self.writer.add(name, frame)
            add(name, "write", time.perf_counter() - t)
    t0, c0 = time.perf_counter(), os.times()
    from factorlab._kernels.heap import reuse_freed
    from factorlab._kernels.parallel import small_pages
    # the memory switches of factorlab.datasets._generate (what `data synth` and the cache run)
    with small_pages(), reuse_freed(), MarketWriter(target, meta=meta, validate="schema") as writer:
        if mode == "serial":
            for name, frame in timed(iter_tables(p)):
                Timed(writer).add(name, frame)
        else:
            from factorlab.datasets import _write_behind
            _write_behind(Timed(writer), timed(iter_tables(p)))
        t_close = time.perf_counter()
    close = time.perf_counter() - t_close
    secs, c1 = time.perf_counter() - t0, os.times()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": secs, "import": imported, "close": close,
                      "user": c1.user - c0.user, "sys": c1.system - c0.system,
                      "peak_mib": peak, "stages": [[n, stages[n]] for n in order]}))
    """
)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run_once(preset: str, *, numba_cold: bool, serial: bool = False, n_assets: int = 0) -> dict:
    """One fresh child process generating `preset` into an empty directory."""
    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="bench-generate-") as tmp:
        if numba_cold:
            env["NUMBA_CACHE_DIR"] = os.path.join(tmp, "numba")
        env["FACTORLAB_CACHE"] = os.path.join(tmp, "cache")
        before = _load()
        res = subprocess.run(
            [
                sys.executable,
                "-c",
                CHILD,
                preset,
                os.path.join(tmp, "market"),
                "serial" if serial else "overlap",
                str(n_assets),
            ],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if res.returncode != 0:
            raise SystemExit(f"the child failed:\n{res.stderr}")
        out = json.loads(res.stdout.strip().splitlines()[-1])
        out["load"] = f"{before} -> {_load()}"
        return out


def print_run(out: dict, label: str) -> None:
    print(
        f"\n## {label}: {out['seconds']:.2f} s wall (+ {out['import']:.2f} s import), "
        f"user {out['user']:.1f} s, sys {out['sys']:.1f} s, peak RSS {out['peak_mib']:,.0f} MiB, "
        f"load {out['load']}"
    )
    print(f"| {'table':<22} | make s | write s | rows |")
    print(f"|{'-' * 24}|--------|---------|------|")
    make = write = 0.0
    for name, st in out["stages"]:
        make += st["make"]
        write += st["write"]
        print(f"| {name:<22} | {st['make']:6.2f} | {st['write']:7.2f} | {st['rows']:,} |")
    print(f"| {'(total)':<22} | {make:6.2f} | {write:7.2f} | close {out['close']:.2f} s |")


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--preset", default="default")
    ap.add_argument("--n-assets", type=int, default=0, help="override the preset's n_assets")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument(
        "--numba-cold",
        action="store_true",
        help="an empty numba cache in the child: kernels compile inside the run",
    )
    ap.add_argument(
        "--serial",
        action="store_true",
        help="write each table before generating the next (no writer thread)",
    )
    ap.add_argument("--json", action="store_true", help="print the raw results as JSON too")
    args = ap.parse_args()
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    runs = []
    for i in range(args.repeat):
        out = run_once(
            args.preset, numba_cold=args.numba_cold, serial=args.serial, n_assets=args.n_assets
        )
        runs.append(out)
        cache = "numba cold" if args.numba_cold else "numba warm"
        how = "serial writes" if args.serial else "writes overlapped"
        size = f" ({args.n_assets} stocks)" if args.n_assets else ""
        print_run(out, f"{args.preset}{size}, run {i + 1}/{args.repeat}, {cache}, {how}")
    if args.repeat > 1:
        walls = sorted(r["seconds"] for r in runs)
        print(f"\nmedian wall {walls[len(walls) // 2]:.2f} s over {len(walls)} runs")
    if args.json:
        print(json.dumps(runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
