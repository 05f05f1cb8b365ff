"""Deterministic synthetic daily panels for the evaluation benchmark.

Reproduces the peer harness' ``make_panel.py`` (../shared/peer-bench) bit for bit for the same
``(n_assets, n_days, seed)``, so factorlab and the peers are timed on identical data.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import polars as pl

__all__ = ["DEFAULT_SEED", "SIZES", "load_panel", "make_panel"]

SIZES: dict[str, tuple[int, int]] = {
    "S": (300, 500),
    "M": (1000, 1250),
    "L": (3000, 2500),
    "XL": (5000, 2500),
    "X10": (10000, 2500),
}
DEFAULT_SEED = 20240601
N_INDUSTRIES = 28
MISSING_FRAC = 0.05
IC_LOADING = 0.08  # weight of the cross-sectional z-score of the next-5-day log return
FWD_HORIZON = 5
AR_PHI = 0.9  # persistence of the factor's noise (drives turnover and autocorrelation)
FIRST_DAY = np.datetime64("2010-01-04", "D")  # a Monday


def asset_codes(n_assets: int) -> list[str]:
    """``600000.XSHG, 000001.XSHE, 600001.XSHG, ...``: alternating exchanges."""
    return [
        f"{600000 + i // 2:06d}.XSHG" if i % 2 == 0 else f"{1 + i // 2:06d}.XSHE"
        for i in range(n_assets)
    ]


def business_days(n_days: int) -> np.ndarray:
    """The first ``n_days`` Monday-to-Friday dates from 2010-01-04 (no holidays)."""
    calendar = FIRST_DAY + np.arange(int(n_days * 1.5) + 14)
    weekday = (calendar.view("int64") - 4) % 7  # 1970-01-01 was a Thursday; Monday = 0
    days = calendar[weekday < 5][:n_days]
    if len(days) != n_days:
        raise RuntimeError("calendar too short")
    return days


def make_panel(n_assets: int, n_days: int, seed: int = DEFAULT_SEED) -> pl.DataFrame:
    """Long panel sorted by (date, asset): date, asset, close, factor (5% null), industry, mcap.

    The random draws happen in exactly the order of the peer harness, so the output equals its
    ``make_panel(n_assets, n_days, seed)``.
    """
    rng = np.random.default_rng(seed)
    n_t, n_a = n_days, n_assets

    industry_id = rng.integers(0, N_INDUSTRIES, size=n_a)
    beta = rng.normal(1.0, 0.3, size=n_a).clip(0.2, 2.0)
    idio_vol = rng.uniform(0.011, 0.019, size=n_a)
    market = rng.normal(0.0003, 0.012, size=n_t)
    industry_shock = rng.normal(0.0, 0.005, size=(n_t, N_INDUSTRIES))
    idio = rng.normal(0.0, 1.0, size=(n_t, n_a)) * idio_vol
    drift = rng.normal(0.0002, 0.0002, size=n_a)
    log_return = drift + beta * market[:, None] + industry_shock[:, industry_id] + idio
    log_return[0, :] = 0.0
    first_price = np.exp(rng.normal(np.log(12.0), 0.7, size=n_a))
    close = first_price * np.exp(np.cumsum(log_return, axis=0))

    future = np.zeros((n_t, n_a))
    fwd = np.log(close[FWD_HORIZON:] / close[:-FWD_HORIZON])
    future[:-FWD_HORIZON] = (fwd - fwd.mean(axis=1, keepdims=True)) / fwd.std(axis=1, keepdims=True)
    noise = np.empty((n_t, n_a))
    noise[0] = rng.normal(size=n_a)
    innovation = rng.normal(size=(n_t, n_a)) * np.sqrt(1 - AR_PHI**2)
    for t in range(1, n_t):
        noise[t] = AR_PHI * noise[t - 1] + innovation[t]
    factor = noise + IC_LOADING * future
    factor[rng.random((n_t, n_a)) < MISSING_FRAC] = np.nan

    shares = np.exp(rng.normal(np.log(5e8), 1.0, size=n_a))
    mcap = shares * close

    codes = np.array(asset_codes(n_a))
    order = np.argsort(codes, kind="stable")
    labels = np.array([f"IND{k + 1:02d}" for k in range(N_INDUSTRIES)])
    frame = pl.DataFrame(
        {
            "date": np.repeat(business_days(n_t), n_a),
            "asset": np.tile(codes[order], n_t),
            "close": close[:, order].ravel(),
            "factor": factor[:, order].ravel(),
            "industry": np.tile(labels[industry_id[order]], n_t),
            "mcap": mcap[:, order].ravel(),
        }
    )
    return frame.with_columns(pl.col("date").cast(pl.Date), pl.col("factor").fill_nan(None))


def load_panel(size: str, cache_dir: str | None = None, seed: int = DEFAULT_SEED) -> pl.DataFrame:
    """Panel of a preset size, cached as parquet in ``cache_dir`` (default: no cache)."""
    n_assets, n_days = SIZES[size]
    if cache_dir is None:
        return make_panel(n_assets, n_days, seed)
    path = os.path.join(cache_dir, f"panel_{size}_{seed}.parquet")
    if not os.path.exists(path):
        os.makedirs(cache_dir, exist_ok=True)
        make_panel(n_assets, n_days, seed).write_parquet(path, statistics=True)
    return pl.read_parquet(path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("size", choices=sorted(SIZES))
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out", required=True, help="output parquet path")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    n_assets, n_days = SIZES[args.size]
    frame = make_panel(n_assets, n_days, args.seed)
    frame.write_parquet(args.out, statistics=True)
    sys.stderr.write(f"{args.out}: {frame.height} rows in {time.perf_counter() - t0:.1f}s\n")


if __name__ == "__main__":
    main()
