"""Exact and heuristic ETF flows: an independent pandas computation on the synthetic market, the
seed's formula on hand-made bars, labels, fallbacks and bad input."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from factorlab.errors import AssetCodeError, FactorLabError, ParameterError
from factorlab.etf import DIRECTIONS, FlowRules, etf_bars, etf_flows, flow_columns
from factorlab.market import Market

D = [dt.date(2024, 1, 2), dt.date(2024, 1, 3)]


def _pandas_flows(etfs: pl.DataFrame) -> pd.DataFrame:
    """The two measures re-implemented in pandas, row by row of the seed's pseudo-code."""
    df = etfs.to_pandas().sort_values(["etf", "date"]).reset_index(drop=True)
    g = df.groupby("etf", sort=False)
    df["chg"] = df["close"] / g["close"].shift(1) - 1
    df["vr"] = df["volume"] / g["volume"].shift(1)
    df["exact"] = g["shares_outstanding"].diff() * df["nav"]
    heur = []
    for chg, vr, amount in zip(df["chg"], df["vr"], df["amount"], strict=True):
        if np.isnan(chg) or np.isnan(vr):
            heur.append(np.nan)
        elif chg > 0 and vr > 1:
            heur.append(amount * 0.5)
        else:
            heur.append(-amount * 0.3)
    df["heur"] = heur
    df["score"] = df["chg"] * 100 * 0.5 + (df["vr"] - 1) * 50
    df["premium"] = df["close"] / df["nav"] - 1
    return df


def test_exact_and_heuristic_equal_an_independent_computation(etf_market):
    etfs = etf_market.table("etfs").collect()
    ours = etf_flows(etf_market)
    theirs = _pandas_flows(etfs)
    assert ours.height == len(theirs) == etfs.height
    assert ours["etf"].to_list() == theirs["etf"].tolist()
    for a, b in [
        ("flow_exact", "exact"),
        ("flow_heuristic", "heur"),
        ("change", "chg"),
        ("volume_ratio", "vr"),
        ("score_heuristic", "score"),
        ("premium", "premium"),
    ]:
        x = ours[a].to_numpy().astype(float)
        y = theirs[b].to_numpy()
        assert np.array_equal(np.isnan(x), np.isnan(y)), a
        np.testing.assert_allclose(x[~np.isnan(x)], y[~np.isnan(y)], rtol=1e-12, err_msg=a)
    # every A-share ETF's creations are whole baskets of 1,000,000 units
    cn = ours.filter(pl.col("market") == "CN", pl.col("flow_exact").is_not_null())
    d = (cn["flow_exact"] / cn["nav"]).to_numpy()
    np.testing.assert_allclose(d / 1e6, np.round(d / 1e6), atol=1e-6)
    assert set(ours["flow_kind"].drop_nulls()) == {"exact"}


@pytest.mark.parametrize(
    ("name", "change_pct", "ratio", "stars", "direction", "inflow"),
    [  # seed 003's expected-output rows
        ("半导体", 2.5, 1.45, 4, "强势流入", True),
        ("人工智能", 1.8, 1.28, 3, "持续流入", True),
        ("5G通信", -0.5, 0.85, 2, "小幅流出", False),
        ("新能源车", 0.3, 0.92, 2, "震荡", False),
    ],
)
def test_the_heuristic_reproduces_the_seed_on_hand_made_bars(
    name, change_pct, ratio, stars, direction, inflow
):
    amount = 85.3e8
    bars = pl.DataFrame(
        {
            "date": D,
            "etf": "512480.SH",
            "close": [1.0, 1.0 * (1 + change_pct / 100)],
            "volume": [1e9, 1e9 * ratio],
            "amount": [60e8, amount],
        }
    )
    row = etf_flows(bars).row(1, named=True)
    assert row["score_heuristic"] == pytest.approx(0.5 * change_pct + 50 * (ratio - 1), abs=1e-9)
    assert row["stars_heuristic"] == stars
    assert row["direction_heuristic"] == direction
    assert row["flow_heuristic"] == pytest.approx(0.5 * amount if inflow else -0.3 * amount)
    # bars only: no NAV, no shares -> heuristic, labelled
    assert row["flow_exact"] is None and row["premium"] is None
    assert row["flow"] == row["flow_heuristic"] and row["flow_kind"] == "heuristic"


def test_up_on_falling_volume_and_flat_days_are_outflows():
    bars = pl.DataFrame(
        {
            "date": [dt.date(2024, 1, d) for d in (2, 3, 4, 5)],
            "etf": "159995.SZ",
            "close": [1.0, 1.01, 1.01, 1.02],
            "volume": [100.0, 90.0, 200.0, 100.0],
            "amount": [100.0, 91.0, 202.0, 102.0],
        }
    )
    f = etf_flows(bars)
    assert f["flow_heuristic"].to_list() == [None, -0.3 * 91.0, -0.3 * 202.0, -0.3 * 102.0]
    assert f["flow_kind"].to_list() == [None, "heuristic", "heuristic", "heuristic"]


@given(
    score=st.floats(-200, 200, allow_nan=False),
)
def test_stars_and_directions_follow_the_documented_cuts(score):
    rules = FlowRules()
    out = pl.select(
        rules.stars(pl.lit(score)).alias("s"), rules.direction(pl.lit(score)).alias("d")
    ).row(0)
    assert out[0] == 1 + sum(score >= c for c in rules.star_cuts)
    a, b, c, d = rules.direction_cuts
    want = 4 if score >= d else 3 if score >= c else 2 if score > b else 1 if score > a else 0
    assert out[1] == DIRECTIONS[want]


def test_volume_window_compares_with_the_mean_of_previous_sessions():
    bars = pl.DataFrame(
        {
            "date": [dt.date(2024, 1, d) for d in (2, 3, 4, 5)],
            "etf": "QQQ",
            "close": [1.0] * 4,
            "volume": [100.0, 200.0, 300.0, 500.0],
            "amount": [1.0] * 4,
        }
    )
    f = etf_flows(bars, rules=FlowRules(volume_window=3))
    assert f["volume_ratio"].to_list() == [None, None, None, 2.5]


def test_an_etf_without_nav_or_shares_on_some_rows_falls_back_labelled(etf_market):
    etfs = etf_market.table("etfs").collect()
    one = etfs.filter(pl.col("etf") == "512800.SH").head(5)
    holed = one.with_columns(
        pl.when(pl.col("date") == one["date"][3]).then(None).otherwise(pl.col("nav")).alias("nav")
    )
    f = etf_flows(holed)
    assert f["flow_kind"].to_list() == [None, "exact", "exact", "heuristic", "exact"]
    assert f["flow"][3] == f["flow_heuristic"][3]


def test_every_column_says_what_it_is(etf_market):
    f = etf_flows(etf_market, etfs=["SH.512800"])
    labels = flow_columns()
    measured = [
        c
        for c in f.columns
        if c not in ("date", "etf", "sector", "market", "currency", "nav", "shares_outstanding")
    ]
    assert set(measured) == set(labels)
    for col in measured:
        if labels[col] in ("exact", "heuristic"):
            assert col.endswith(f"_{labels[col]}")


def test_bad_input_is_a_clear_error():
    good = pl.DataFrame(
        {"date": D, "etf": "QQQ", "close": [1.0, 1.1], "volume": [1.0, 1.0], "amount": [1.0, 1.0]}
    )
    with pytest.raises(FactorLabError, match="`amount`"):
        etf_flows(good.drop("amount"))
    with pytest.raises(FactorLabError, match="close"):
        etf_flows(good.with_columns(pl.lit(-1.0).alias("close")))
    with pytest.raises(AssetCodeError, match="not recognised"):
        etf_flows(good, etfs=["61234x"])
    with pytest.raises(FactorLabError, match="no ETF bars"):
        etf_flows(good, etfs=["XLF"])
    with pytest.raises(ParameterError, match="`volume_window`"):
        FlowRules(volume_window=0)
    with pytest.raises(ParameterError, match="`star_cuts`"):
        FlowRules(star_cuts=(1.0, 0.0, 2.0, 3.0))
    with pytest.raises(FactorLabError, match="neither"):
        etf_bars(Market({"fx": pl.DataFrame({"date": [D[0]], "usdcny": [7.0]})}))


def test_flows_use_no_future_data(etf_market):
    etfs = etf_market.table("etfs").collect()
    cut = dt.date(2020, 6, 30)
    future = pl.col("date") > cut
    shaken = etfs.with_columns(
        pl.when(future).then(pl.col(c) * 1.7).otherwise(pl.col(c)).alias(c)
        for c in ("close", "nav", "volume", "amount", "shares_outstanding")
    )
    a = etf_flows(etfs).filter(~future)
    b = etf_flows(shaken).filter(~future)
    assert a.equals(b)
