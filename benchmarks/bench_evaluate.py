"""Time factorlab on alphalens' single-factor work, optionally against alphalens-reloaded.

Usage::

    python benchmarks/bench_evaluate.py SIZE [--peer] [--repeat N] [--cache-dir DIR] [--compile]

SIZE is S, M, L, XL or X10 (benchmarks/panels.py; the same data as ../shared/peer-bench). Stages, as
in the peer harness (bench_alphalens.py); factorlab starts from the long Polars frame, alphalens
from its pandas inputs built untimed (as the peer harness does):

    a_clean  dense panel + forward returns 1/5/10 + clean factor (5 quantiles, qcut, groups,
             alphalens' drop rule, max_loss=1)          [get_clean_factor_and_forward_returns]
    b_ic     per-date rank IC, every period              [factor_information_coefficient]
    c_qret   demeaned mean return by quantile by date    [mean_return_by_quantile(by_date=True)]
    d_fret   factor returns + alpha/beta                 [factor_returns + factor_alpha_beta]
    e_turn   quantile turnover for all quantiles x periods + rank autocorrelation for all periods

factorlab runs ``1 + --repeat`` times in this process: the first run is "cold" (numba kernels
loaded from the on-disk cache, or compiled with ``--compile``, which points NUMBA_CACHE_DIR at an
empty directory, and every output grid's pages faulted in fresh), the others "warm" (median
reported; their output grids reuse the regions the previous run freed, already in memory, as a
notebook's next call or a sweep's next unit does: factorlab._kernels.parallel.empty). With
``--peer``, alphalens-reloaded runs the same stages once in a subprocess (its own peak RSS), and
every number of every table is compared (max abs difference must be <= 1e-10). Prints a table
and one JSON line.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

PERIODS = (1, 5, 10)
QUANTILES = 5
STAGES = ["a_clean", "b_ic", "c_qret", "d_fret", "e_turn"]
TOLERANCE = 1e-10


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def current_rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class Timer:
    """Wall seconds per stage (``time.perf_counter``) and process CPU seconds
    (``time.process_time``: less sensitive to other load on a shared box)."""

    def __init__(self) -> None:
        self.stages: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str):
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.stages[name] = time.perf_counter() - t0
            self.cpu[name] = time.process_time() - c0

    @property
    def total(self) -> float:
        return sum(self.stages[s] for s in STAGES)

    @property
    def total_cpu(self) -> float:
        return sum(self.cpu[s] for s in STAGES)


# ---------------------------------------------------------------- factorlab -----------------


def run_factorlab(frame, separate_factor: bool = False):
    """One end-to-end run; returns (timer, results).

    The panel frame holds close, factor and industry: by default the grid is built from it once
    (prices, factor and groups in one row mapping, as a sweep over factor columns would);
    ``separate_factor`` maps the factor and groups in a second pass, as for a separate frame.
    """
    from factorlab.evaluate import (
        DensePanel,
        clean_factor,
        factor_alpha_beta,
        factor_rank_autocorrelation,
        factor_returns,
        forward_returns,
        information_coefficient,
        mean_return_by_quantile,
        quantile_turnover,
    )

    timer = Timer()
    with timer.stage("a_clean"):
        if separate_factor:
            panel = DensePanel.from_frame(frame, columns=["close"])
            source = frame
        else:
            panel = DensePanel.from_frame(frame, columns=["close", "factor"], labels=["industry"])
            source = "factor"
        fwd = forward_returns(panel, PERIODS, fill="ffill")
        clean = clean_factor(
            panel,
            source,
            fwd,
            group_col="industry",
            quantiles=QUANTILES,
            mode="qcut",
            rule="any_horizon",
            max_loss=1.0,
        )
    with timer.stage("b_ic"):
        ic = information_coefficient(clean)
    with timer.stage("c_qret"):
        qret = mean_return_by_quantile(clean, by_date=True)
    with timer.stage("d_fret"):
        fret = factor_returns(clean)
        alpha_beta = factor_alpha_beta(clean)
    with timer.stage("e_turn"):
        turnover = quantile_turnover(clean)
        autocorr = factor_rank_autocorrelation(clean)
    results = {
        "ic": ic.drop("n"),
        "qret": qret.select("quantile", "date", "horizon", "mean_return", "std_error"),
        "fret": fret,
        "alpha_beta": alpha_beta.select("horizon", "ann_alpha", "beta"),
        "turnover": turnover,
        "autocorr": autocorr,
        "n_clean": clean.drops.n_clean,
    }
    return timer, results


# ---------------------------------------------------------------- alphalens (child) ----------


def alphalens_inputs(frame):
    """Lean alphalens inputs from a dense (date, asset)-sorted panel (no pandas pivot)."""
    import numpy as np
    import pandas as pd
    import polars as pl

    n = frame.height
    assets = frame["asset"].unique(maintain_order=True)
    n_assets = assets.len()
    n_dates = n // n_assets
    dense = n_dates * n_assets == n and bool(
        frame.select(
            (
                pl.col("asset")
                == pl.col("asset").head(n_assets).gather(pl.int_range(pl.len()) % n_assets)
            ).all()
        ).item()
    )
    if not dense or not assets.is_sorted():
        raise SystemExit("panel is not a dense (date, asset)-sorted grid")
    dates = pd.DatetimeIndex(
        frame["date"].gather(np.arange(n_dates) * n_assets).to_numpy().astype("datetime64[ns]"),
        name="date",
    )
    asset_index = pd.Index(assets.to_list(), name="asset")
    index = pd.MultiIndex.from_product([dates, asset_index], names=["date", "asset"])
    factor = pd.Series(frame["factor"].to_numpy(), index=index, name="factor")
    prices = pd.DataFrame(
        frame["close"].to_numpy().reshape(n_dates, n_assets), index=dates, columns=asset_index
    )
    industry = dict(zip(assets.to_list(), frame["industry"].head(n_assets).to_list(), strict=True))
    return factor, prices, industry


def _long(frame, labels: dict[str, int], value: str):
    import numpy as np
    import pandas as pd
    import polars as pl

    flat = frame[list(labels)].rename(columns=labels).reset_index()
    keys = [c for c in flat.columns if c not in labels.values()]
    melted = flat.melt(id_vars=keys, var_name="horizon", value_name=value)
    out = {}
    for col in melted.columns:
        s = melted[col]
        if col == "date":
            out[col] = pl.Series(pd.DatetimeIndex(s).to_numpy()).cast(pl.Date)
        elif col in ("horizon", "factor_quantile"):
            out["quantile" if col == "factor_quantile" else col] = pl.Series(
                s.to_numpy().astype(np.int64)
            )
        else:
            out[col] = pl.Series(s.to_numpy(dtype=np.float64)).fill_nan(None)
    return pl.DataFrame(out)


def alphalens_stages(factor, prices, industry, timer: Timer) -> dict:
    """alphalens-reloaded's stages a-e on its inputs, timed into `timer`; returns its tables."""
    import contextlib
    import io
    import warnings

    import pandas as pd
    from alphalens import performance as perf
    from alphalens import utils as autils

    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with timer.stage("a_clean"):
            clean = autils.get_clean_factor_and_forward_returns(
                factor,
                prices,
                groupby=industry,
                quantiles=QUANTILES,
                periods=PERIODS,
                filter_zscore=None,
                max_loss=1.0,
            )
        with timer.stage("b_ic"):
            ic = perf.factor_information_coefficient(clean)
        with timer.stage("c_qret"):
            qret, qret_se = perf.mean_return_by_quantile(clean, by_date=True)
        with timer.stage("d_fret"):
            fret = perf.factor_returns(clean)
            alpha_beta = perf.factor_alpha_beta(clean, returns=fret)
        with timer.stage("e_turn"):
            qf = clean["factor_quantile"]
            qs = qf.sort_values().unique().tolist()
            turnover = {
                p: pd.concat([perf.quantile_turnover(qf, q, p) for q in qs], axis=1)
                for p in PERIODS
            }
            autocorr = pd.concat(
                [perf.factor_rank_autocorrelation(clean, p) for p in PERIODS], axis=1
            )
    return {
        "clean": clean,
        "ic": ic,
        "qret": qret,
        "qret_se": qret_se,
        "fret": fret,
        "alpha_beta": alpha_beta,
        "turnover": turnover,
        "autocorr": autocorr,
    }


def run_in_process(size: str, cache_dir: str, env: dict, *extra: str) -> dict:
    """This script on `size` in a fresh process (``extra``: its flags); its JSON report."""
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), size, "--cache-dir", cache_dir, *extra],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def peer_child(size: str, cache_dir: str, out_dir: str) -> None:
    """Runs in the subprocess: alphalens stages a-e, then writes its tables as parquet."""
    timer = Timer()
    with timer.stage("import"):
        import alphalens.performance  # noqa: F401  (imported here, not in stage a)
        import numpy as np
        import pandas as pd
        import polars as pl
        from alphalens import utils as autils
        from panels import load_panel
    with timer.stage("prep"):
        frame = load_panel(size, cache_dir)
        factor, prices, industry = alphalens_inputs(frame)
        del frame
        gc.collect()
    rss_before = current_rss_mib()
    tables = alphalens_stages(factor, prices, industry, timer)
    clean, ic, qret, qret_se = (tables[k] for k in ("clean", "ic", "qret", "qret_se"))
    fret, alpha_beta, turnover, autocorr = (
        tables[k] for k in ("fret", "alpha_beta", "turnover", "autocorr")
    )
    peak = peak_rss_mib()
    labels = dict(zip(autils.get_forward_returns_columns(clean.columns), PERIODS, strict=True))
    _long(ic, labels, "ic").write_parquet(os.path.join(out_dir, "ic.parquet"))
    _long(qret, labels, "mean_return").join(
        _long(qret_se, labels, "std_error"), on=["quantile", "date", "horizon"]
    ).write_parquet(os.path.join(out_dir, "qret.parquet"))
    _long(fret, labels, "factor_return").write_parquet(os.path.join(out_dir, "fret.parquet"))
    pl.DataFrame(
        {
            "horizon": list(labels.values()),
            "ann_alpha": [float(alpha_beta.loc["Ann. alpha", c]) for c in labels],
            "beta": [float(alpha_beta.loc["beta", c]) for c in labels],
        }
    ).write_parquet(os.path.join(out_dir, "alpha_beta.parquet"))
    parts = []
    for p, table in turnover.items():
        long = table.reset_index().melt(id_vars="date", var_name="quantile", value_name="turnover")
        parts.append(
            pl.DataFrame(
                {
                    "date": pl.Series(pd.DatetimeIndex(long["date"]).to_numpy()).cast(pl.Date),
                    "lag": np.full(len(long), p),
                    "quantile": long["quantile"].to_numpy().astype(np.int64),
                    "turnover": long["turnover"].to_numpy(dtype=np.float64),
                }
            ).with_columns(pl.col("turnover").fill_nan(None))
        )
    pl.concat(parts).write_parquet(os.path.join(out_dir, "turnover.parquet"))
    long = autocorr.reset_index().melt(id_vars="date", var_name="lag", value_name="autocorr")
    pl.DataFrame(
        {
            "date": pl.Series(pd.DatetimeIndex(long["date"]).to_numpy()).cast(pl.Date),
            "lag": long["lag"].to_numpy().astype(np.int64),
            "autocorrelation": long["autocorr"].to_numpy(dtype=np.float64),
        }
    ).with_columns(pl.col("autocorrelation").fill_nan(None)).write_parquet(
        os.path.join(out_dir, "autocorr.parquet")
    )
    print(
        json.dumps(
            {
                "stages_s": timer.stages,
                "total_s": timer.total,
                "cpu_s": timer.cpu,
                "total_cpu_s": timer.total_cpu,
                "peak_rss_mib": round(peak, 1),
                "rss_before_analysis_mib": round(rss_before, 1),
                "n_clean": len(clean),
            }
        )
    )


# ---------------------------------------------------------------- comparison -----------------


def max_abs_diff(ours, theirs, keys: list[str], values: list[str]) -> float:
    """Max abs difference over matching rows; inf if row sets or null patterns differ."""
    import numpy as np
    import polars as pl

    ours = ours.with_columns(pl.col(k).cast(theirs.schema[k]) for k in keys)
    joined = theirs.join(ours, on=keys, how="full", suffix="_ours", coalesce=True)
    if not (joined.height == theirs.height == ours.height):
        return float("inf")
    worst = 0.0
    for v in values:
        a = joined[v].to_numpy().astype(np.float64)
        b = joined[f"{v}_ours"].to_numpy().astype(np.float64)
        if not np.array_equal(np.isnan(a), np.isnan(b)):
            return float("inf")
        ok = ~np.isnan(a)
        if ok.any():
            worst = max(worst, float(np.max(np.abs(a[ok] - b[ok]))))
    return worst


def compare(results: dict, peer_dir: str) -> dict[str, float]:
    import polars as pl

    def read(name):
        return pl.read_parquet(os.path.join(peer_dir, f"{name}.parquet"))

    return {
        "ic": max_abs_diff(results["ic"], read("ic"), ["date", "horizon"], ["ic"]),
        "qret": max_abs_diff(
            results["qret"],
            read("qret"),
            ["quantile", "date", "horizon"],
            ["mean_return", "std_error"],
        ),
        "fret": max_abs_diff(results["fret"], read("fret"), ["date", "horizon"], ["factor_return"]),
        "alpha_beta": max_abs_diff(
            results["alpha_beta"], read("alpha_beta"), ["horizon"], ["ann_alpha", "beta"]
        ),
        "turnover": max_abs_diff(
            results["turnover"], read("turnover"), ["date", "lag", "quantile"], ["turnover"]
        ),
        "autocorr": max_abs_diff(
            results["autocorr"], read("autocorr"), ["date", "lag"], ["autocorrelation"]
        ),
    }


# ---------------------------------------------------------------- main -----------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    from panels import SIZES

    parser.add_argument("size", choices=list(SIZES))
    parser.add_argument("--peer", action="store_true", help="also run alphalens-reloaded")
    parser.add_argument("--repeat", type=int, default=2, help="warm factorlab runs (default 2)")
    parser.add_argument(
        "--cache-dir", default=os.path.join(tempfile.gettempdir(), "factorlab-bench-panels")
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="cold run compiles the numba kernels (empty NUMBA_CACHE_DIR)",
    )
    parser.add_argument(
        "--separate-factor",
        action="store_true",
        help="map the factor/groups in a second pass (as from a separate frame)",
    )
    parser.add_argument("--peer-child", metavar="OUT_DIR", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.peer_child:
        peer_child(args.size, args.cache_dir, args.peer_child)
        return
    if args.compile:
        os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="factorlab-numba-")

    t0 = time.perf_counter()
    import polars as pl
    from panels import SIZES, load_panel

    import factorlab.evaluate  # noqa: F401  (import cost reported, not timed)

    import_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    frame = load_panel(args.size, args.cache_dir)
    prep_s = time.perf_counter() - t0
    gc.collect()
    rss_before = current_rss_mib()

    cold, results = run_factorlab(frame, args.separate_factor)
    cold_peak = peak_rss_mib()
    warm_runs = []
    for _ in range(args.repeat):
        del results
        gc.collect()
        timer, results = run_factorlab(frame, args.separate_factor)
        warm_runs.append(timer)
    peak = peak_rss_mib()

    def pick(name: str, how: str = "median", cpu: bool = False) -> float:
        if cpu:
            values = sorted(t.cpu[name] if name != "total" else t.total_cpu for t in warm_runs)
        else:
            values = sorted(t.stages[name] if name != "total" else t.total for t in warm_runs)
        if not values:
            return float("nan")
        return values[0] if how == "min" else values[len(values) // 2]

    report = {
        "size": args.size,
        "assets_x_days": SIZES[args.size],
        "rows": frame.height,
        "import_s": round(import_s, 3),
        "prep_s": round(prep_s, 3),
        "cold_s": {
            **{k: round(v, 4) for k, v in cold.stages.items()},
            "total": round(cold.total, 4),
        },
        "warm_median_s": {k: round(pick(k), 4) for k in [*STAGES, "total"]},
        "warm_min_s": {k: round(pick(k, "min"), 4) for k in [*STAGES, "total"]},
        "warm_median_cpu_s": {k: round(pick(k, cpu=True), 4) for k in [*STAGES, "total"]},
        "cold_cpu_s": {
            **{k: round(v, 4) for k, v in cold.cpu.items()},
            "total": round(cold.total_cpu, 4),
        },
        "load_average_1min": round(os.getloadavg()[0], 2),
        "factorlab_peak_rss_mib": round(peak, 1),
        "factorlab_peak_rss_after_cold_mib": round(cold_peak, 1),
        "factorlab_rss_before_analysis_mib": round(rss_before, 1),
        "n_clean": results["n_clean"],
        "numba_cache": os.environ.get("NUMBA_CACHE_DIR", "default (__pycache__)"),
        "factor_mapping": "separate pass" if args.separate_factor else "one pass with prices",
    }
    if args.peer:
        del frame
        gc.collect()
        with tempfile.TemporaryDirectory(prefix="factorlab-peer-") as out_dir:
            proc = subprocess.run(
                [
                    sys.executable,
                    os.path.abspath(__file__),
                    args.size,
                    "--cache-dir",
                    args.cache_dir,
                    "--peer-child",
                    out_dir,
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                sys.stderr.write(proc.stderr)
                raise SystemExit(f"alphalens child failed ({proc.returncode})")
            peer = json.loads(proc.stdout.strip().splitlines()[-1])
            diffs = compare(results, out_dir)
        report["alphalens"] = peer
        report["max_abs_diff"] = diffs
        report["identical_within_1e-10"] = (
            all(d <= TOLERANCE for d in diffs.values()) and peer["n_clean"] == results["n_clean"]
        )
        report["ratio_total_alphalens_over_factorlab_warm"] = round(
            peer["total_s"] / report["warm_median_s"]["total"], 1
        )
        report["ratio_total_alphalens_over_factorlab_cold"] = round(
            peer["total_s"] / report["cold_s"]["total"], 1
        )
    print_table(report)
    print(json.dumps(report, default=str))
    del pl


def print_table(report: dict) -> None:
    rows = [
        ("factorlab cold", report["cold_s"], report["factorlab_peak_rss_after_cold_mib"]),
        ("factorlab warm (median)", report["warm_median_s"], report["factorlab_peak_rss_mib"]),
        ("factorlab warm (min)", report["warm_min_s"], report["factorlab_peak_rss_mib"]),
        ("factorlab warm, CPU s (median)", report["warm_median_cpu_s"], float("nan")),
    ]
    if "alphalens" in report:
        peer = report["alphalens"]
        rows.append(
            (
                "alphalens-reloaded",
                {**peer["stages_s"], "total": peer["total_s"]},
                peer["peak_rss_mib"],
            )
        )
        rows.append(
            (
                "alphalens-reloaded, CPU s",
                {**peer["cpu_s"], "total": peer["total_cpu_s"]},
                float("nan"),
            )
        )
    n_a, n_d = report["assets_x_days"]
    lines = [
        f"size {report['size']}: {n_a} assets x {n_d} days = {report['rows']:,} rows; "
        f"1-min load average {report['load_average_1min']} on {os.cpu_count()} CPUs",
        "| run | a clean | b IC | c q-ret | d fret+ab | e turn+ac | total | peak RSS MiB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, st, rss in rows:
        cells = " | ".join(f"{st[s]:.3f}" for s in STAGES)
        memory = "-" if rss != rss else f"{rss:.0f}"
        lines.append(f"| {name} | {cells} | **{st['total']:.3f}** | {memory} |")
    if "alphalens" in report:
        lines.append(
            "ratio alphalens / factorlab total: "
            f"warm {report['ratio_total_alphalens_over_factorlab_warm']}x, "
            f"cold {report['ratio_total_alphalens_over_factorlab_cold']}x; identical within 1e-10: "
            f"{report['identical_within_1e-10']} (max abs diff "
            + ", ".join(f"{k} {v:.1e}" for k, v in report["max_abs_diff"].items())
            + ")"
        )
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
