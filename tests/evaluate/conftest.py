"""Small deterministic panels for the evaluation tests.

Long Polars frames with the awkward cases alphalens parity must survive: tied factor values,
dates whose quantile edges collide (alphalens drops them), null and NaN factors, suspended
stocks (missing price rows and null prices), assets entering late and leaving early (with factor
rows after delisting), a factor asset absent from the prices, prices extending past the last
factor date, holidays in the calendar, missing group labels; and a weekly factor on daily
prices (alphalens then keeps no date frequency: lags count observed dates).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import pytest


@dataclass(frozen=True)
class OraclePanel:
    name: str
    prices: pl.DataFrame  # date, asset, close (null = suspended that day)
    factor: pl.DataFrame  # date, asset, factor, industry
    periods: tuple[int, ...]
    quantiles: int


def _calendar(n_days: int, rng: np.random.Generator) -> np.ndarray:
    days = np.datetime64("2021-01-04", "D") + np.arange(int(n_days * 1.6) + 20)
    weekday = (days.view("int64") - 4) % 7
    days = days[weekday < 5]
    holidays = rng.choice(np.arange(5, days.size - 5), size=4, replace=False)
    days = np.delete(days, holidays)
    return days[:n_days]


def make_oracle_panel(
    name: str,
    *,
    n_assets: int = 60,
    n_days: int = 120,
    seed: int = 7,
    periods: tuple[int, ...] = (1, 5, 10),
    quantiles: int = 5,
    tie_levels: int = 12,
    factor_every: int = 1,
) -> OraclePanel:
    rng = np.random.default_rng(seed)
    n_price_days = n_days + 3  # prices extend past the factor's last date
    dates = _calendar(n_price_days, rng)
    assets = np.array([f"{600000 + i:06d}.SH" for i in range(n_assets)])

    log_ret = rng.normal(0.0003, 0.02, size=(n_price_days, n_assets))
    close = np.round(10 * np.exp(np.cumsum(log_ret, axis=0)), 2)  # rounding -> tied returns
    listed = np.ones_like(close, dtype=bool)
    for j in range(0, n_assets, 9):  # enter late
        listed[: rng.integers(5, 40), j] = False
    for j in range(4, n_assets, 11):  # leave early (delisted)
        listed[rng.integers(60, n_price_days - 15) :, j] = False
    suspended = (rng.random(close.shape) < 0.02) & listed
    null_price = (rng.random(close.shape) < 0.01) & listed & ~suspended
    close[null_price] = np.nan

    signal = rng.normal(size=(n_days, n_assets))
    factor = np.round(signal * tie_levels / 4) / (tie_levels / 4)  # few distinct levels: ties
    factor[rng.random(factor.shape) < 0.04] = np.nan
    collide = rng.choice(n_days, size=3, replace=False)  # dates with colliding qcut edges
    factor[collide] = np.where(rng.random((3, n_assets)) < 0.7, 0.0, 1.0)
    null_factor = rng.random(factor.shape) < 0.03

    price_rows = listed & ~suspended
    t_idx, a_idx = np.nonzero(price_rows)
    prices = pl.DataFrame(
        {
            "date": dates[t_idx],
            "asset": assets[a_idx],
            "close": close[t_idx, a_idx],
        }
    ).with_columns(pl.col("date").cast(pl.Date), pl.col("close").fill_nan(None))

    # factor rows: every listed cell of the factor dates, plus some rows after delisting, plus an
    # asset that never trades
    has_factor = listed[:n_days].copy()
    for j in range(4, n_assets, 11):
        last = np.flatnonzero(listed[:, j])[-1]
        has_factor[last + 1 : min(last + 6, n_days), j] = True
    has_factor[np.arange(n_days) % factor_every != factor_every - 1] = False
    t_f, a_f = np.nonzero(has_factor)
    industry = np.array([f"IND{k:02d}" for k in rng.integers(0, 6, size=n_assets)], dtype=object)
    industry[[3, 17]] = None
    fac = pl.DataFrame(
        {
            "date": dates[t_f],
            "asset": assets[a_f],
            "factor": factor[t_f, a_f],
            "industry": industry[a_f],
        },
        schema_overrides={"industry": pl.String},
    ).with_columns(pl.col("date").cast(pl.Date))
    nulls = pl.Series(null_factor[t_f, a_f])
    fac = fac.with_columns(pl.when(nulls).then(None).otherwise(pl.col("factor")).alias("factor"))
    ghost_days = dates[:n_days][np.arange(n_days) % factor_every == factor_every - 1]
    ghost = pl.DataFrame(
        {
            "date": ghost_days,
            "asset": ["999999.SZ"] * ghost_days.size,
            "factor": rng.normal(size=ghost_days.size),
            "industry": ["IND00"] * ghost_days.size,
        }
    ).with_columns(pl.col("date").cast(pl.Date))
    fac = pl.concat([fac, ghost]).sample(fraction=1.0, shuffle=True, seed=seed)
    return OraclePanel(name, prices, fac, periods, quantiles)


PANELS = {
    "ties": dict(seed=7),
    "wide": dict(seed=11, n_assets=90, n_days=80, periods=(1, 3, 7), quantiles=4, tie_levels=40),
    "weekly": dict(seed=13, n_assets=50, n_days=150, factor_every=5, tie_levels=20),
}


@pytest.fixture(scope="module", params=sorted(PANELS))
def oracle_panel(request: pytest.FixtureRequest) -> OraclePanel:
    return make_oracle_panel(request.param, **PANELS[request.param])
