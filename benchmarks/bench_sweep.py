"""Time a many-factor sweep (``evaluate`` over factors x pools) serial, on threads and on Ray.

Usage::

    python benchmarks/bench_sweep.py [--market small] [--factors 40] [--pools csi300,csi500,csi800]
        [--runs serial,threads2,ray2] [--batch-size 20] [--horizons 1,5,10]

The market is a synthetic preset (``small``, ``default``, ``large``; generated once into the
cache). The factors are lazy expressions on its prices (factor i: the ``2 + i % 40``-session
return plus a 1% hashed noise of seed i), so ``evaluate`` collects them ``--batch-size`` at a
time. Each run is its own process, on the same inputs: ``serial`` (``workers=1`` on one core:
the process pinned to one CPU, ``FACTORLAB_THREADS=1`` and ``POLARS_MAX_THREADS=1``), ``threadsN``
(``workers=N``), ``rayN`` (``engine="ray"`` on a local Ray with N CPUs). A process first warms
up (numba kernels loaded, Ray started and its workers' imports done, on one factor), then times
the sweep; it reports the seconds, its own peak RSS (for Ray, the driver's: the workers' RSS is
sampled and reported apart) and a digest of the summary frame: every run must print the same
digest (results identical to the serial run). Prints a table, the machine's load (``uptime``)
and one JSON line.

The 500-factor x 3-pool sweep on ``large``::

    python benchmarks/bench_sweep.py --market large --factors 500 --runs serial,threads2,ray2
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def factor_frame(market, n_factors: int):
    """The prices (date, asset, open, close) and `n_factors` lazy factor columns."""
    import polars as pl

    prices = market.prices.select("date", "asset", "open", "close").sort("asset", "date")
    close = pl.col("close")
    cols = []
    for i in range(n_factors):
        w = 2 + i % 40
        ret = close / close.shift(w).over("asset") - 1
        noise = close.hash(i).cast(pl.Float64) / 2.0**64 - 0.5
        cols.append((ret + 0.01 * noise).alias(f"f{i:03d}"))
    return prices.with_columns(cols)


class RaySampler:
    """Peak summed RSS of this process' descendants (Ray's head processes and workers),
    sampled every 0.2 s."""

    def __init__(self) -> None:
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for p in me.children(recursive=True):  # Ray's head processes and its workers
                try:
                    total += p.memory_info().rss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
            self.peak = max(self.peak, total / 2**20)
            self._stop.wait(0.2)

    def __enter__(self) -> RaySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def one_run(args: argparse.Namespace) -> dict:
    """The timed sweep of one configuration (run in a child process)."""
    import polars as pl

    from factorlab.datasets import synthetic_market
    from factorlab.evaluate import evaluate

    market = synthetic_market(args.market)
    pools = market.pools.filter(pl.col("pool").is_in(args.pools.split(","))).collect()
    horizons = tuple(int(h) for h in args.horizons.split(","))
    kind = args.run
    engine, workers = "local", 1
    if kind.startswith("threads"):
        workers = int(kind[len("threads") :])
    elif kind.startswith("ray"):
        import ray

        engine, workers = "ray", None
        t0 = time.perf_counter()
        ray.init(num_cpus=int(kind[3:]), include_dashboard=False, log_to_driver=False)
        ray_init = time.perf_counter() - t0
    kw = {"pools": pools, "horizons": horizons, "workers": workers, "engine": engine}
    t0 = time.perf_counter()
    evaluate(factor_frame(market, 2), ["f000", "f001"], **kw, progress=None)  # warm-up
    warm = time.perf_counter() - t0
    frame = factor_frame(market, args.factors)
    names = [f"f{i:03d}" for i in range(args.factors)]
    sampler = RaySampler() if engine == "ray" else None
    t0, c0 = time.perf_counter(), time.process_time()
    if sampler is not None:
        with sampler:
            ev = evaluate(frame, names, batch_size=args.batch_size, **kw, progress=None)
    else:
        ev = evaluate(frame, names, batch_size=args.batch_size, **kw, progress=None)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    digest = hashlib.sha256(ev.summary.write_csv().encode()).hexdigest()[:16]
    out = {
        "run": kind,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "warmup_seconds": round(warm, 2),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "units": len(names) * pools["pool"].n_unique(),
        "results_mib": round(
            sum(
                getattr(ev, f).estimated_size()
                for f in ("summary", "ic", "quantile_returns", "drops")
            )
            / 2**20,
            1,
        ),
        "summary_digest": digest,
        "market": f"synthetic `{args.market}`, content hash {market.content_hash[:12]}",
        "shape": f"{market.prices.select('date').collect().n_unique()} sessions x "
        f"{market.prices.select('asset').collect().n_unique()} assets",
    }
    if engine == "ray":
        out["ray_init_seconds"] = round(ray_init, 2)
        out["ray_workers_peak_rss_mib"] = round(sampler.peak, 1)
    return out


def pin_to_one_cpu() -> None:
    """The child's CPU affinity: the lowest CPU this process may use."""
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--market", default="small", choices=["small", "default", "large"])
    parser.add_argument("--factors", type=int, default=40)
    parser.add_argument("--pools", default="csi300,csi500,csi800")
    parser.add_argument("--horizons", default="1,5,10")
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--runs", default="serial,threads2,ray2")
    parser.add_argument("--run", help=argparse.SUPPRESS)  # one configuration, in a child
    args = parser.parse_args(argv)
    if args.run:
        print(json.dumps(one_run(args)))
        return
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")])}
    rows = []
    for run in args.runs.split(","):
        cmd = [sys.executable, __file__, *(argv if argv is not None else sys.argv[1:])]
        cmd += ["--run", run]
        # serial: one core: pinned to one CPU, the kernels' own threads off
        # (factorlab/_kernels/parallel.py) and Polars' pool one thread, so the speed-up of the
        # other runs is that of all cores over one (unpinned, Polars alone used ~1.3 cores)
        one, pin = {}, None
        if run == "serial":
            one = {"FACTORLAB_THREADS": "1", "POLARS_MAX_THREADS": "1"}
            pin = pin_to_one_cpu
        done = subprocess.run(
            cmd, env={**env, **one}, capture_output=True, text=True, preexec_fn=pin
        )
        if done.returncode:
            sys.stderr.write(done.stderr)
            raise SystemExit(f"run {run} failed")
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    base = rows[0]["seconds"]
    print(f"{rows[0]['market']}: {rows[0]['shape']}; {args.factors} factors x pools "
          f"{args.pools} = {rows[0]['units']} units, horizons {args.horizons}, batch "
          f"{args.batch_size}")  # fmt: skip
    print(f"{'run':<10}{'seconds':>9}{'speed-up':>10}{'s / unit':>10}{'peak MiB':>10}"
          f"{'ray MiB':>9}{'results MiB':>13}  digest")  # fmt: skip
    for r in rows:
        print(
            f"{r['run']:<10}{r['seconds']:>9.2f}{base / r['seconds']:>9.2f}x"
            f"{r['seconds'] / r['units']:>10.3f}{r['peak_rss_mib']:>10.0f}"
            f"{r.get('ray_workers_peak_rss_mib', 0):>9.0f}{r['results_mib']:>13.1f}"
            f"  {r['summary_digest']}"
        )
    same = len({r["summary_digest"] for r in rows}) == 1
    print("summaries identical:", same)
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print("load:", load)
    print("python", sys.version.split()[0], "cores", os.cpu_count())
    print(json.dumps({"rows": rows, "identical": same, "uptime": load}))
    if not same:
        raise SystemExit("the runs' summaries differ")


if __name__ == "__main__":
    main()
