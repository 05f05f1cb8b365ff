"""Seed 002's holdings estimator: one year of daily estimates on a market with ~3,000 eligible
stocks (issue 13's target: <= 60 s, peak <= 4 GB), and step 2's solver against scipy's SLSQP.

    python benchmarks/bench_estimation.py                 # 2 x 7,000 stocks, 2023-01 .. 2024-12
    python benchmarks/bench_estimation.py --stack 1       # one 7,000-stock market
    python benchmarks/bench_estimation.py --market DIR    # a saved market

The market (daily disclosure until 2023-12-29, so 2024 is estimated) is generated or read from
the cache first and not timed. At GENERATOR_VERSION 9 northbound holds about a quarter of a
market's stocks, and the synthetic code space stops short of 8,000 stocks, so the issue's
~3,000 eligible stocks are out of reach of one market: 7,000 stocks is about the largest it
builds (~1,650 held). The benchmark therefore stacks `--stack` (default 2) markets of seeds
20240816, 20240817, ... side by side, the k-th copy's codes moved to an unused range (first
digit + k: ``600000.SH`` -> ``700000.SH``), keeping the tables the estimator reads. The
counts actually estimated are printed (``stocks_held``: median held a day; ``eligible``: median
stocks on the day's short-sellable list; ``stocks``: every stock the estimate holds).
The estimate runs in a fresh process (peak RSS of that process:
loading the market's tables plus the estimate). Step 2 is then timed on one day's weights for
the hand-written KKT bisection (:func:`project_weights`, the solver used) on 3,000 stocks, and
against ``scipy.optimize.minimize(method="SLSQP")`` on a 100-stock problem (SLSQP's dense
steps make 3,000 stocks take far longer than the whole year's target). Prints JSON lines.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
import time

import numpy as np

CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    from factorlab.market import Market
    import polars as pl
    from factorlab.northbound.estimation import estimate_holdings
    market = Market.load(sys.argv[1])
    t0 = time.perf_counter()
    est = estimate_holdings(market, progress=False)
    secs = time.perf_counter() - t0
    t = est.totals
    print(json.dumps({
        "seconds": round(secs, 2),
        "days": t.height,
        "stocks": est.holdings["asset"].n_unique(),
        "stocks_held": int(est.holdings.filter(pl.col("shares") > 0)
                           .group_by("date").len()["len"].median()),
        "eligible": int(market.short_sellable.filter(pl.col("date") > t["date"].min())
                        .group_by("date").len().collect()["len"].median()),
        "disclosed_median": int(t["n_disclosed"].median()),
        "peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }))
    """
)


def _solvers(n: int, seed: int = 0, *, slsqp: bool = True) -> dict:
    from scipy.optimize import minimize

    from factorlab.northbound.estimation import project_weights

    rng = np.random.default_rng(seed)
    w_ref = rng.dirichlet(np.full(n, 0.5)) * 0.85
    lower = np.where(rng.random(n) < 0.05, w_ref * 1.2, 0.0)
    upper = np.maximum(np.maximum(0.01, w_ref), lower)
    total = 0.86
    t0 = time.perf_counter()
    for _ in range(20):
        w = project_weights(w_ref, total, lower, upper)
    kkt = (time.perf_counter() - t0) / 20
    if not slsqp:
        return {"n": n, "kkt_ms_per_day": round(1e3 * kkt, 3)}
    t0 = time.perf_counter()
    res = minimize(
        lambda x: np.sum((x - w_ref) ** 2 / w_ref),
        w_ref,
        jac=lambda x: 2 * (x - w_ref) / w_ref,
        method="SLSQP",
        bounds=list(zip(lower, upper, strict=True)),
        constraints=[{"type": "eq", "fun": lambda x: x.sum() - total}],
        options={"maxiter": 200},
    )
    slsqp = time.perf_counter() - t0
    return {
        "n": n,
        "kkt_ms_per_day": round(1e3 * kkt, 3),
        "slsqp_s_per_day": round(slsqp, 3),
        "slsqp_success": bool(res.success),
        "max_abs_diff": float(np.abs(res.x - w).max()),
    }


#: The tables the estimate reads, stacked across copies.
_TABLES = (
    "assets",
    "corporate_actions",
    "northbound",
    "northbound_truth",
    "prices",
    "short_sellable",
)


def _stacked(n_assets: int, copies: int) -> str:
    """`copies` synthetic markets side by side, saved once to the cache; its directory."""
    import polars as pl

    from factorlab.datasets import cache_dir, synthetic_market
    from factorlab.market import Market

    markets = [
        synthetic_market(
            n_assets=n_assets,
            start="2023-01-01",
            end="2024-12-31",
            seed=20240816 + k,
            disclosure_change="2023-12-29",
        )
        for k in range(copies)
    ]
    if copies == 1:
        return str(markets[0].path)
    key = "-".join(m.meta["content_hash"][:12] for m in markets)
    target = cache_dir() / "bench_estimation" / f"v2-{key}"
    if not target.exists():  # written beside and renamed into place: complete when there
        tables = {}
        for name in _TABLES:
            parts = []
            for k, m in enumerate(markets):
                first = pl.col("asset").str.slice(0, 1).cast(pl.Int32) + k
                moved = first.cast(pl.String) + pl.col("asset").str.slice(1)
                parts.append(m[name].collect().with_columns(asset=moved))
            tables[name] = pl.concat(parts)
        # the copies' generation parameters (same dates and disclosure change) say where the
        # daily disclosure ends (factorlab.northbound.hygiene.disclosure_end)
        meta = {"source": f"bench_estimation: {key}", "params": markets[0].meta["params"]}
        Market(tables, meta=meta, validate="none").save(target)
    return str(target)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--market", default=None)
    ap.add_argument("--n-assets", type=int, default=7000)
    ap.add_argument("--stack", type=int, default=2, choices=(1, 2, 3))
    args = ap.parse_args()
    if args.market is None:
        path = _stacked(args.n_assets, args.stack)
    else:
        path = args.market
    out = subprocess.run(
        [sys.executable, "-c", CHILD, path], capture_output=True, text=True, check=True
    )
    print(json.dumps({"estimate": json.loads(out.stdout.strip().splitlines()[-1])}))
    print(json.dumps({"step2_kkt": _solvers(3000, slsqp=False)}))
    # SLSQP is dense: ~9 s per day at 100 stocks, ~94 s at 300 (not converged), ~400 s at 600
    # (2-core machine under load); 3,000 stocks x 250 days is out of reach
    print(json.dumps({"step2_kkt_vs_slsqp": _solvers(100)}))


if __name__ == "__main__":
    main()
