"""factorlab against its peers as whole processes on the same panel file, A and B alternated.

Usage::

    python benchmarks/bench_peers.py [--sizes M L] [--runs 3] [--alphalens-python PY]
                                     [--alphainspect-python PY] [--no-stages]

The work is alphalens' single-factor analysis (stages a-e of benchmarks/bench_evaluate.py:
clean + forward returns 1/5/10 with qcut 5 quantiles and industry groups, rank IC, demeaned
quantile returns by date, factor returns + alpha/beta, turnover + rank autocorrelation).

- **Panels**: benchmarks/panels.py writes each size once to parquet (panel generation is never
  timed); every process reads that file itself. The peers read it eagerly (their ``prep``);
  factorlab gets ``pl.scan_parquet``'s LazyFrame, the input its API takes, and collects it
  after starting numba on a thread, so its read sits in its ``a_clean`` (``--factorlab-read
  eager``: the same five columns read first, as the peers read the file).
- **Peers** run in their own interpreters, given by flags or the environment:
  ``--alphalens-python`` / ``$PD2PY`` (alphalens-reloaded, best on pandas 2.3.3: build the venv
  from ../shared/peer-bench/env/freeze_peers-venv-pd2.txt) and ``--alphainspect-python`` /
  ``$AIPY`` (alphainspect 0.5.10 + polars_ta 0.5.18). A peer whose interpreter is missing, or
  lacks its package, is skipped with a message. alphainspect has no factor returns / alpha-beta
  (stage d) and its autocorrelation is a within-date computation: its total is a+b+c+e, and
  factorlab's figure next to it is a+b+c+e too.
- **Whole processes**: factorlab's bytecode written first, as an install does (the peers'
  packages are installed with theirs); for each (size, peer), one untimed warm-up of each side
  (page cache, numba cache), then ``--runs`` pairs A B A B ...: wall seconds, user+sys CPU and
  peak RSS from ``os.wait4`` of the child. Reported: medians, the median of the pairwise ratios
  B/A, min-max. Load on a shared machine slows both sides of a pair alike; the 1-minute load
  before and after each block is printed (it counts the measured process itself, ~1.0 while one
  runs).
- **In process** (unless ``--no-stages``): factorlab's stages from bench_evaluate.py in fresh
  processes: cold (first call, kernels from the numba cache), warm (median of 3 further calls)
  and with an empty numba cache (everything compiled).

The children's numba cache is a private directory (``$NUMBA_CACHE_DIR`` if set), warmed by the
warm-up run. Prints markdown tables and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Literal

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from bench_evaluate import PERIODS, QUANTILES, STAGES, Timer, run_in_process  # noqa: E402

#: how factorlab's process reads the panel (`child_factorlab`)
Read = Literal["lazy", "eager"]
#: the panel's columns the single-factor work reads (the file also holds ``mcap``)
USED = ["date", "asset", "close", "factor", "industry"]

PEERS = {
    # name: (package the interpreter must import, env variable, flag, stages in its total)
    "alphalens": ("alphalens", "PD2PY", "alphalens_python", STAGES),
    "alphainspect": ("alphainspect", "AIPY", "alphainspect_python", [*STAGES[:3], STAGES[4]]),
}


# ---------------------------------------------------------------- children -------------------


def _emit(name: str, timer: Timer, extra: dict) -> None:
    print(json.dumps({"who": name, "stages_s": timer.stages, **extra}))


def child_factorlab(panel: str, read: Read = "lazy") -> None:
    """factorlab's process. ``read="lazy"`` (the default): the panel goes in as
    ``pl.scan_parquet``'s LazyFrame, which ``DensePanel.from_frame`` collects after starting
    numba on a thread, so the read overlaps numba's start and is timed inside ``a_clean``
    (``prep`` only opens the scan). ``"eager"`` (``--factorlab-read eager``): the same columns
    read first, as the peers read the file."""
    timer = Timer()
    with timer.stage("import"):
        import polars as pl
        from bench_evaluate import run_factorlab

        import factorlab.evaluate  # noqa: F401  (the import is part of the process' cost)
    with timer.stage("prep"):
        frame = pl.scan_parquet(panel) if read == "lazy" else pl.read_parquet(panel, columns=USED)
    analysis, results = run_factorlab(frame)
    timer.stages.update(analysis.stages)
    ic5 = results["ic"].filter(pl.col("horizon") == 5)["ic"].mean()
    _emit("factorlab", timer, {"n_clean": results["n_clean"], "mean_ic_5": ic5})


def child_alphalens(panel: str) -> None:
    timer = Timer()
    with timer.stage("import"):
        import alphalens.performance  # noqa: F401  (the import is part of the process' cost)
        import pandas  # noqa: F401
        import polars as pl
        from bench_evaluate import alphalens_inputs, alphalens_stages
    with timer.stage("prep"):
        factor, prices, industry = alphalens_inputs(pl.read_parquet(panel))
    tables = alphalens_stages(factor, prices, industry, timer)
    n_clean, ic5 = len(tables["clean"]), float(tables["ic"]["5D"].mean())
    _emit("alphalens", timer, {"n_clean": n_clean, "mean_ic_5": ic5})


def child_alphainspect(panel: str) -> None:
    """alphainspect's own way (its README / examples): polars_ta forward returns, drop rows
    with a null factor or forward return (alphalens' dropna), quantiles per date."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    timer = Timer()
    with timer.stage("import"):
        import polars as pl
        from alphainspect import _QUANTILE_
        from alphainspect.ic import calc_ic
        from alphainspect.portfolio import calc_cum_return_by_quantile
        from alphainspect.turnover import calc_auto_correlation, calc_quantile_turnover
        from alphainspect.utils import with_factor_quantile
        from polars_ta.wq import ts_delay
    with timer.stage("prep"):
        df = pl.read_parquet(panel, columns=["date", "asset", "close", "factor"])
    fwd = [f"RET_{p:02d}" for p in PERIODS]
    with timer.stage("a_clean"):
        df = df.with_columns(
            (
                ts_delay(pl.col("close"), -p).over("asset", order_by="date") / pl.col("close") - 1
            ).alias(c)
            for p, c in zip(PERIODS, fwd, strict=True)
        )
        df = df.drop_nulls(["factor", *fwd])
        df = with_factor_quantile(
            df, "factor", quantiles=QUANTILES, by=["date"], factor_quantile=_QUANTILE_
        )
    with timer.stage("b_ic"):
        ic = calc_ic(df, ["factor"], fwd)
    with timer.stage("c_qret"):
        for c in fwd:
            calc_cum_return_by_quantile(df, c, _QUANTILE_)
    with timer.stage("e_turn"):
        calc_quantile_turnover(df, factor_quantile=_QUANTILE_, periods=PERIODS)
        calc_auto_correlation(df, "factor", periods=PERIODS)
    timer.stages["d_fret"] = 0.0  # not supported by alphainspect
    _emit(
        "alphainspect",
        timer,
        {"n_clean": df.height, "mean_ic_5": float(ic["factor__RET_05"].mean())},
    )


CHILDREN = {
    "factorlab": child_factorlab,
    "factorlab-eager": lambda panel: child_factorlab(panel, read="eager"),
    "alphalens": child_alphalens,
    "alphainspect": child_alphainspect,
}


# ---------------------------------------------------------------- runner ---------------------


def run_process(python: str, who: str, panel: str, env: dict) -> dict:
    """One whole child process: wall, user+sys CPU and peak RSS of that child from ``os.wait4``,
    plus the stage times it prints."""
    cmd = [python, os.path.abspath(__file__), "--child", who, panel]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=HERE)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{who} child failed ({proc.returncode}):\n{stderr[-3000:]}")
    report = json.loads(stdout.strip().splitlines()[-1])
    report.update(
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_mib=usage.ru_maxrss / 1024,
    )
    return report


def peer_python(name: str, args: argparse.Namespace) -> str | None:
    """The peer's interpreter, or None (with a message) when it is missing or lacks the peer."""
    package, env_var, flag, _ = PEERS[name]
    python = getattr(args, flag) or os.environ.get(env_var)
    if not python:
        print(
            f"skipping {name}: no interpreter (pass --{flag.replace('_', '-')} or set ${env_var})"
        )
        return None
    if shutil.which(python) is None and not os.access(python, os.X_OK):
        print(f"skipping {name}: {python} is not an executable python")
        return None
    probe = subprocess.run([python, "-c", f"import {package}"], capture_output=True, check=False)
    if probe.returncode != 0:
        print(f"skipping {name}: {python} cannot import {package}")
        return None
    return python


def analysis_total(report: dict, stages: list[str]) -> float:
    return sum(report["stages_s"].get(s, 0.0) for s in stages)


def compare(
    size: str, peer: str, peer_py: str, panel: str, runs: int, env: dict, read: Read = "lazy"
) -> dict:
    """Alternate factorlab (A, reading the panel as `read` says) and the peer (B): one warm-up
    each, then `runs` pairs."""
    child = "factorlab" if read == "lazy" else "factorlab-eager"
    stages = PEERS[peer][3]
    load_before = os.getloadavg()[0]
    run_process(sys.executable, child, panel, env)
    run_process(peer_py, peer, panel, env)
    pairs = []
    for _ in range(runs):
        a = run_process(sys.executable, child, panel, env)
        b = run_process(peer_py, peer, panel, env)
        pairs.append((a, b))
    load_after = os.getloadavg()[0]

    def med(side: int, key) -> float:
        return statistics.median(key(p[side]) for p in pairs)

    ratios = [b["wall_s"] / a["wall_s"] for a, b in pairs]
    return {
        "size": size,
        "peer": peer,
        "factorlab_read": read,
        "runs": runs,
        "factorlab_wall_s": med(0, lambda r: r["wall_s"]),
        "peer_wall_s": med(1, lambda r: r["wall_s"]),
        "ratio_wall": statistics.median(ratios),
        "ratio_min_max": [min(ratios), max(ratios)],
        "factorlab_cpu_s": med(0, lambda r: r["cpu_s"]),
        "peer_cpu_s": med(1, lambda r: r["cpu_s"]),
        "factorlab_peak_rss_mib": med(0, lambda r: r["peak_rss_mib"]),
        "peer_peak_rss_mib": med(1, lambda r: r["peak_rss_mib"]),
        "factorlab_analysis_s": med(0, lambda r: analysis_total(r, stages)),
        "peer_analysis_s": med(1, lambda r: analysis_total(r, stages)),
        "ratio_analysis": statistics.median(
            analysis_total(b, stages) / analysis_total(a, stages) for a, b in pairs
        ),
        "factorlab_import_prep_s": med(
            0, lambda r: r["stages_s"]["import"] + r["stages_s"]["prep"]
        ),
        "peer_import_prep_s": med(1, lambda r: r["stages_s"]["import"] + r["stages_s"]["prep"]),
        "n_clean": [pairs[0][0]["n_clean"], pairs[0][1]["n_clean"]],
        "mean_ic_5": [pairs[0][0]["mean_ic_5"], pairs[0][1]["mean_ic_5"]],
        "load_before_after": [round(load_before, 2), round(load_after, 2)],
    }


def in_process_stages(size: str, env: dict, cache_dir: str) -> dict:
    """bench_evaluate.py in fresh processes: cold + 3 warm (cached kernels), then compile-cold."""
    return {
        "cached": run_in_process(size, cache_dir, env, "--repeat", "3"),
        "empty_cache": run_in_process(size, cache_dir, env, "--repeat", "1", "--compile"),
    }


def print_tables(rows: list[dict], stages: dict[str, dict]) -> None:
    lines = [
        "| size | peer (B) | factorlab wall s | peer wall s | **B / A wall** (min-max) | "
        "CPU s A / B | peak RSS MiB A / B | analysis s A / B (ratio) | import+read s A / B | "
        "load before -> after |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lo, hi = r["ratio_min_max"]
        lines.append(
            f"| {r['size']} | {r['peer']} | {r['factorlab_wall_s']:.3f} | {r['peer_wall_s']:.3f} | "
            f"**{r['ratio_wall']:.1f}x** ({lo:.1f}-{hi:.1f}) | "
            f"{r['factorlab_cpu_s']:.2f} / {r['peer_cpu_s']:.2f} | "
            f"{r['factorlab_peak_rss_mib']:.0f} / {r['peer_peak_rss_mib']:.0f} | "
            f"{r['factorlab_analysis_s']:.3f} / {r['peer_analysis_s']:.3f} "
            f"({r['ratio_analysis']:.1f}x) | "
            f"{r['factorlab_import_prep_s']:.2f} / {r['peer_import_prep_s']:.2f} | "
            f"{r['load_before_after'][0]} -> {r['load_before_after'][1]} |"
        )
    for r in rows:
        lines.append(
            f"- {r['size']} vs {r['peer']}: n_clean {r['n_clean'][0]:,} / {r['n_clean'][1]:,}, "
            f"mean 5D rank IC {r['mean_ic_5'][0]:.6f} / {r['mean_ic_5'][1]:.6f}; factorlab's "
            f"read {r['factorlab_read']}"
            + (
                " (inside its analysis time, not its import+read)"
                if r["factorlab_read"] == "lazy"
                else ""
            )
        )
    if stages:
        lines += [
            "",
            "factorlab in process (s; cold = first call, kernels from the numba cache; warm = "
            "median of 3 more; empty cache = first call compiling every kernel):",
            "",
            "| size | run | " + " | ".join(STAGES) + " | total | import s | peak RSS MiB | load |",
            "|---|---|" + "---|" * (len(STAGES) + 4),
        ]
        for size, st in stages.items():
            runs = (
                ("cold", st["cached"]["cold_s"], st["cached"]),
                ("warm", st["cached"]["warm_median_s"], st["cached"]),
                ("empty numba cache", st["empty_cache"]["cold_s"], st["empty_cache"]),
            )
            for label, t, rep in runs:
                lines.append(
                    f"| {size} | {label} | "
                    + " | ".join(f"{t[s]:.3f}" for s in STAGES)
                    + f" | **{t['total']:.3f}** | {rep['import_s']:.2f} | "
                    f"{rep['factorlab_peak_rss_mib']:.0f} | {rep['load_average_1min']} |"
                )
    sys.stdout.write("\n".join(lines) + "\n")


def byte_compile() -> list[str]:
    """Write the bytecode (``__pycache__``) of factorlab and of these scripts, as ``pip install``
    does for every package it installs (the peers' site-packages have theirs): in a checkout,
    or with ``PYTHONDONTWRITEBYTECODE`` set, every child would otherwise compile factorlab's
    sources at each start (~0.07 s of its import). Writes nothing when it is already there."""
    import compileall

    root = os.path.dirname(HERE)
    dirs = [os.path.join(root, "factorlab"), HERE]
    for path in dirs:
        compileall.compile_dir(path, quiet=1)
    return dirs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", nargs="+", default=["M", "L"])
    parser.add_argument("--runs", type=int, default=3, help="timed A/B pairs (default 3)")
    parser.add_argument("--alphalens-python", help="python with alphalens-reloaded ($PD2PY)")
    parser.add_argument("--alphainspect-python", help="python with alphainspect ($AIPY)")
    parser.add_argument("--peers", nargs="+", default=list(PEERS), choices=list(PEERS))
    parser.add_argument("--no-stages", action="store_true", help="skip the in-process stages")
    parser.add_argument(
        "--factorlab-read",
        choices=("lazy", "eager"),
        default="lazy",
        help="factorlab's process gets the panel as pl.scan_parquet (lazy, default: the read "
        "overlaps numba's start and counts in its analysis) or reads it first (eager)",
    )
    parser.add_argument(
        "--cache-dir", default=os.path.join(tempfile.gettempdir(), "factorlab-bench-panels")
    )
    parser.add_argument("--child", nargs=2, metavar=("WHO", "PANEL"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        CHILDREN[args.child[0]](args.child[1])
        return

    from panels import DEFAULT_SEED, SIZES, load_panel

    env = dict(os.environ)
    env.setdefault("NUMBA_CACHE_DIR", tempfile.mkdtemp(prefix="factorlab-bench-numba-"))
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(HERE), env.get("PYTHONPATH", "")])
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    print(f"bytecode written for {', '.join(byte_compile())}")
    peers = {name: peer_python(name, args) for name in args.peers}
    rows, stages = [], {}
    for size in args.sizes:
        if size not in SIZES:
            raise SystemExit(f"unknown size {size!r}: one of {sorted(SIZES)}")
        load_panel(size, args.cache_dir)  # written once, untimed
        panel = os.path.join(args.cache_dir, f"panel_{size}_{DEFAULT_SEED}.parquet")
        for name, python in peers.items():
            if python is not None:
                rows.append(compare(size, name, python, panel, args.runs, env, args.factorlab_read))
                print(json.dumps(rows[-1]), flush=True)
        if not args.no_stages:
            stages[size] = in_process_stages(size, env, args.cache_dir)
    print_tables(rows, stages)
    print(json.dumps({"comparisons": rows, "in_process": stages}, default=str))


if __name__ == "__main__":
    main()
