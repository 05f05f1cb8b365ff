"""The northbound study end to end on real prices (the public real sample) and a user's holdings
in the exact shape of tushare ``hk_hold``, through the adapter.

The holdings are a deterministic fixture (the real per-stock holdings are not public): 50 real
CSI 300 members of 2020-01-02, one row per HKEX session of 2020, columns exactly as
``pro.hk_hold`` returns them. Skipped when ../shared/realdata is absent.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from factorlab import Market
from factorlab.adapters import tushare as tsa
from factorlab.calendar import sessions
from factorlab.datasets import real_sample
from factorlab.datasets.real import default_path
from factorlab.northbound.study import NORTHBOUND_FACTORS, factor_study

# one worker runs the module (`--dist loadgroup`): its module fixtures are computed once
pytestmark = pytest.mark.xdist_group("real_study")

ROOT = default_path()
HK_HOLD_COLUMNS = ["code", "trade_date", "ts_code", "name", "vol", "ratio", "exchange"]
START, END = dt.date(2020, 1, 1), dt.date(2020, 12, 31)
N_STOCKS = 50


@pytest.fixture(scope="module")
def real():
    if not ROOT.is_dir():
        pytest.skip(f"../shared/realdata not found: {ROOT} (set $FACTORLAB_REALDATA)")
    return real_sample(ROOT)


def hk_hold_fixture(assets: list[str]) -> tuple[pl.DataFrame, dict[str, float]]:
    """``pro.hk_hold``-shaped rows (vol in shares, ratio in % of issued A shares, HK code and
    name columns) on the HKEX calendar; a seeded random walk of holdings per stock. Also the
    A-share count each ratio is computed from."""
    days = sessions("hkex", START, END)
    rng = np.random.default_rng(20200102)
    frames, a_shares = [], {}
    for j, asset in enumerate(assets):
        issued = 1e9 * (1 + j % 7)
        a_shares[asset] = issued
        held = issued * 0.02 * (1 + j % 5) * np.exp(np.cumsum(rng.normal(0, 0.01, days.len())))
        vol = np.round(held)
        frames.append(
            pl.DataFrame(
                {
                    "code": f"9{j:04d}",
                    "trade_date": days.dt.strftime("%Y%m%d"),
                    "ts_code": asset,
                    "name": f"stock {j}",
                    "vol": vol,
                    "ratio": np.round(vol / issued * 100, 2),
                    "exchange": asset[-2:],
                }
            )
        )
    return pl.concat(frames).select(HK_HOLD_COLUMNS), a_shares


@pytest.fixture(scope="module")
def user_market(real):
    members = (
        real.pools.filter(pl.col("pool") == "csi300", pl.col("date") == START + dt.timedelta(1))
        .select("asset")
        .collect()["asset"]
    )
    priced = real.prices.filter(pl.col("date").is_between(START, END)).select("asset").unique()
    assets = sorted(set(members) & set(priced.collect()["asset"]))[:N_STOCKS]
    raw, a_shares = hk_hold_fixture(assets)
    tables = {n: real.table(n).collect() for n in real.names}
    tables["northbound"] = tsa.hk_hold(raw)
    return tables, raw, a_shares, assets


def test_the_fixture_has_tushare_hk_hold_columns_and_units(user_market):
    _, raw, _, assets = user_market
    assert raw.columns == HK_HOLD_COLUMNS and len(assets) == N_STOCKS
    nb = tsa.hk_hold(raw)
    assert nb.columns == ["date", "asset", "shares", "ratio"]
    assert nb.height == raw.height
    # ratio % -> fraction; vol -> Int64 shares
    assert nb["ratio"].max() < 0.2 and nb["shares"].dtype == pl.Int64


@pytest.mark.slow
def test_study_runs_on_real_prices_and_user_holdings(user_market):
    tables, _, a_shares, _ = user_market
    market = Market(tables, meta={"source": "real sample + hk_hold fixture"})
    factors = [f for f in NORTHBOUND_FACTORS if f != "nb_trading_cum_inflow20"]
    result = factor_study(
        market,
        factors=factors,
        pools=["csi300"],
        start="2020-02-01",
        end="2020-12-31",
        cache=False,
        progress=None,
    )
    table = result.table
    assert table.height == len(factors) and set(table["pool"]) == {"csi300"}
    # the real sample has no float share counts: no pool member can be neutralized on size, so
    # every factor is reported NaN with a reason, never a crash
    assert table["rank_ic_mean_pct"].is_nan().all()
    assert table["reason"].null_count() == 0

    # the same study with share counts a user would take from daily_basic (here: the A-share
    # count the fixture's ratios were computed from): the factors get values
    shares = pl.DataFrame({"asset": list(a_shares), "_f": list(a_shares.values())})
    prices = (
        tables["prices"]
        .join(shares, on="asset", how="left")
        .with_columns(pl.col("_f").alias("float_shares"), pl.col("_f").alias("total_shares"))
        .drop("_f")
    )
    with_shares = Market({**tables, "prices": prices}, meta={"source": "real + fixture"})
    table = factor_study(
        with_shares,
        factors=["nb_hold_value", "nb_hold_ratio", "nb_cum_inflow_ratio20"],
        pools=["csi300"],
        start="2020-02-01",
        end="2020-12-31",
        cache=False,
        progress=None,
    ).table
    assert table.height == 3
    assert table["rank_ic_mean_pct"].is_finite().all(), table
    assert (table["coverage_pct"] > 0).all()


@pytest.mark.slow
def test_factor_14_without_participant_holdings_is_a_nan_row(user_market):
    tables, *_ = user_market
    result = factor_study(
        Market(tables, meta={}),
        pools=["csi300"],
        start="2020-02-01",
        end="2020-12-31",
        cache=False,
        progress=None,
    )
    row = result.table.filter(pl.col("factor") == "nb_trading_cum_inflow20")
    assert row.height == 1 and "participant_holdings" in row["reason"].item()
