"""Seed 003's three calls, the heuristic-vs-exact check and the sector-flow factor."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import polars as pl
import pytest

from factorlab.errors import AbsentDataError, AssetCodeError, ParameterError
from factorlab.etf import (
    compare_sectors,
    etf_flows,
    format_flow_table,
    heuristic_accuracy,
    resolve_sectors,
    sector_flow_factor,
    sector_index,
    sector_money_flow,
    sector_stocks,
)
from factorlab.evaluate import evaluate
from factorlab.market import Market

SEED_EXAMPLE_1 = [
    {"name": "半导体", "etf": "SH.512480"},
    {"name": "人工智能", "etf": "SH.515070"},
    {"name": "5G通信", "etf": "SH.515050"},
    {"name": "新能源车", "etf": "SH.515030"},
]
SEED_EXAMPLE_2 = [
    {"name": "恒生科技", "region": "HK", "code": "3033"},
    {"name": "纳斯达克100", "region": "US", "code": "QQQ"},
]


def test_sectors_resolve_from_names_codes_and_the_seeds_mappings(etf_market):
    r = resolve_sectors(etf_market, ["银行", "SH.512880", *SEED_EXAMPLE_2, "医疗"])
    assert r.select("sector", "etf", "market").rows() == [
        ("银行", "512800.SH", "CN"),
        ("证券", "512880.SH", "CN"),
        ("恒生科技", "3033.HK", "HK"),
        ("纳斯达克100", "QQQ", "US"),
        ("医疗", "XLV", "US"),
    ]
    assert set(r["currency"]) == {"CNY", "HKD", "USD"}


def test_a_sector_without_etf_and_unknown_codes_are_clear_errors(etf_market):
    with pytest.raises(ParameterError, match=r"'纺织服装' has no ETF.*sector_stocks"):
        sector_money_flow(etf_market, ["纺织服装"])
    with pytest.raises(AssetCodeError, match=r"510999\.SH .*unknown"):
        sector_money_flow(etf_market, ["510999.SH"])
    with pytest.raises(AssetCodeError, match=r"2800\.HK"):
        sector_money_flow(etf_market, [{"name": "x", "region": "HK", "code": "2800"}])
    with pytest.raises(ParameterError, match="more than once"):
        sector_money_flow(etf_market, ["银行", "512800"])
    with pytest.raises(ParameterError, match="`days`"):
        sector_money_flow(etf_market, ["银行"], days=0)


def test_sector_money_flow_table_matches_the_daily_flows(etf_market):
    r = sector_money_flow(etf_market, SEED_EXAMPLE_1, days=5)
    assert r.table.columns == [
        "sector",
        "etf",
        "market",
        "currency",
        "date",
        "change",
        "amount",
        "volume_ratio",
        "score_heuristic",
        "stars_heuristic",
        "direction_heuristic",
        "premium",
        "change_window",
        "flow_heuristic_window",
        "flow_exact_window",
        "flow_window",
        "flow_kind",
    ]
    assert sorted(r.table["sector"]) == sorted(s["name"] for s in SEED_EXAMPLE_1)
    assert r.table["score_heuristic"].is_sorted(descending=True)
    f = etf_flows(etf_market, etfs=["512480.SH"]).sort("date")
    last5 = f.tail(5)
    row = r.table.filter(pl.col("etf") == "512480.SH").row(0, named=True)
    assert row["date"] == f["date"][-1]
    assert row["flow_exact_window"] == pytest.approx(last5["flow_exact"].sum(), rel=1e-12)
    assert row["flow_heuristic_window"] == pytest.approx(last5["flow_heuristic"].sum(), rel=1e-12)
    assert row["change_window"] == pytest.approx(f["close"][-1] / f["close"][-6] - 1, rel=1e-12)
    assert row["flow_kind"] == "exact" and row["flow_window"] == row["flow_exact_window"]
    # the daily frame's cumulative flow is the running sum per sector
    d = r.daily.filter(pl.col("etf") == "512480.SH")
    np.testing.assert_allclose(
        d["cum_flow"].to_numpy(), np.cumsum(d["flow"].fill_null(0).to_numpy())
    )
    text = format_flow_table(r.table)
    assert text.height == 4 and text.columns[0] == "板块 sector"
    assert all("⭐" in s for s in text["stars (heuristic)"])


def test_as_of_ignores_later_data(etf_market):
    day = dt.date(2020, 3, 31)
    a = sector_money_flow(etf_market, ["银行", "QQQ"], days=5, as_of=day)
    cut = Market(
        {n: etf_market.table(n).filter(pl.col("date") <= day).collect() for n in ("etfs", "fx")}
    )
    b = sector_money_flow(cut, ["银行", "QQQ"], days=5)
    assert a.table.equals(b.table)
    assert a.table["date"].max() <= day


def test_compare_sectors_across_markets_converts_at_each_days_fixing(etf_market):
    c = compare_sectors(etf_market, [*SEED_EXAMPLE_2, "银行"], days=10)
    assert set(c.table["market"]) == {"HK", "US", "CN"} and set(c.table["currency"]) == {"CNY"}
    assert c.table["rank"].to_list() == [1, 2, 3]
    f = etf_flows(etf_market, etfs=["QQQ"]).sort("date").tail(20)
    fx = dict(etf_market.table("fx").select("date", "usdcny").collect().iter_rows())
    fx_days = sorted(fx)
    rates = [fx[max(x for x in fx_days if x <= d)] for d in f["date"].to_list()]
    cur = f.tail(10)
    want_amount = float(np.dot(cur["amount"].to_numpy(), rates[-10:]))
    want_exact = float(np.dot(cur["flow_exact"].to_numpy(), rates[-10:]))
    ratio = cur["volume"].sum() / f.head(10)["volume"].sum()
    change = f["close"][-1] / f["close"][-11] - 1
    row = c.table.filter(pl.col("etf") == "QQQ").row(0, named=True)
    assert row["amount_window"] == pytest.approx(want_amount, rel=1e-12)
    assert row["flow_exact_window"] == pytest.approx(want_exact, rel=1e-12)
    assert row["volume_ratio_window"] == pytest.approx(ratio, rel=1e-12)
    assert row["score_heuristic"] == pytest.approx(50 * change + 50 * (ratio - 1), rel=1e-9)
    local = compare_sectors(etf_market, SEED_EXAMPLE_2, days=10, currency="local")
    assert set(local.table["currency"]) == {"HKD", "USD"}


def test_compare_without_fx_is_a_clear_error(etf_market):
    no_fx = Market({"etfs": etf_market.table("etfs").collect()})
    with pytest.raises(AbsentDataError, match="`fx` table with hkdcny, usdcny"):
        compare_sectors(no_fx, SEED_EXAMPLE_2)
    assert compare_sectors(no_fx, SEED_EXAMPLE_2, currency="local").table.height == 2


def test_sector_stocks_equals_pandas(etf_market):
    s = sector_stocks(etf_market, "电子", days=3)
    assets = etf_market.table("assets").collect().to_pandas()
    members = set(assets.loc[assets["industry"] == "电子", "asset"])
    px = etf_market.table("prices").collect().to_pandas()
    px = px[px["asset"].isin(members)].sort_values(["asset", "date"])
    dates = sorted(px["date"].unique())[-4:]
    px = px[px["date"] >= dates[0]].copy()
    g = px.groupby("asset")
    px["adj"] = px["close"] * px["adj_factor"]
    px["chg"] = px["adj"] / g["adj"].shift(1) - 1
    px["pv"] = g["volume"].shift(1)
    px["vr"] = px["volume"] / px["pv"]
    px = px[(px["date"] > dates[0]) & px["chg"].notna()]
    coef = np.where((px["chg"] > 0) & (px["vr"] > 1), 0.5, -0.3)
    px["flow"] = px["amount"] * coef
    want = px.groupby("date").agg(
        avg_change=("chg", "mean"),
        up=("chg", lambda x: (x > 0).mean()),
        flow=("flow", "sum"),
        vol=("volume", "sum"),
        pv=("pv", "sum"),
        n=("chg", "size"),
    )
    got = s.summary.to_pandas().set_index("date")
    assert len(got) == 3
    np.testing.assert_allclose(got["avg_change"], want["avg_change"], rtol=1e-12)
    np.testing.assert_allclose(got["up_share"], want["up"], rtol=1e-12)
    np.testing.assert_allclose(got["flow_estimate"], want["flow"], rtol=1e-12)
    np.testing.assert_allclose(got["volume_ratio"], want["vol"] / want["pv"], rtol=1e-12)
    assert got["stocks"].tolist() == want["n"].tolist()
    with pytest.raises(ParameterError, match="not an industry"):
        sector_stocks(etf_market, "半导体")
    with pytest.raises(ParameterError, match="`coefficient`"):
        sector_stocks(etf_market, "电子", coefficient="x")  # type: ignore[arg-type]


def test_sector_index_is_scheme_3_where_an_index_exists(etf_market):
    r = sector_index(etf_market, "csi300", days=5).row(0, named=True)
    lv = etf_market.table("indices").filter(pl.col("index") == "csi300").collect().sort("date")
    assert r["change_window"] == pytest.approx(lv["close"][-1] / lv["close"][-6] - 1, rel=1e-12)
    with pytest.raises(ParameterError, match="industry-index table"):
        sector_index(etf_market, "930651")


def test_heuristic_accuracy_against_numpy(etf_market):
    check = heuristic_accuracy(etf_market, horizons=(1, 5))
    f = etf_flows(etf_market, etfs=["512800.SH"]).drop_nulls(["flow_exact", "flow_heuristic"])
    e, h = f["flow_exact"].to_numpy(), f["flow_heuristic"].to_numpy()
    row = check.table.filter(pl.col("etf") == "512800.SH", pl.col("horizon") == 1).row(
        0, named=True
    )
    assert row["n"] == len(e)
    assert row["correlation"] == pytest.approx(np.corrcoef(e, h)[0, 1], rel=1e-9)
    nz = e != 0
    assert row["hit_rate"] == pytest.approx(np.mean(np.sign(e[nz]) == np.sign(h[nz])), rel=1e-12)
    assert check.overall["horizon"].to_list() == [1, 5]
    assert check.overall["etfs"].to_list() == [49, 49]
    cn = etf_market.table("etfs").filter(pl.col("market") == "CN").collect()
    bars_only = Market(
        {
            "etf_prices": cn.select(
                "date",
                "etf",
                *(pl.col("close").alias(c) for c in ("open", "high", "low")),
                "close",
                "volume",
                "amount",
            )
        }
    )
    with pytest.raises(AbsentDataError, match="exact flows"):
        heuristic_accuracy(bars_only)


def test_sector_flow_factor_by_hand_and_without_look_ahead(etf_market):
    fac = sector_flow_factor(etf_market, lookback=10, sectors=["银行", "QQQ"])
    assert fac.columns == ["date", "sector", "value", "measure"]
    assert set(fac["measure"]) == {"exact"}
    f = etf_flows(etf_market, etfs=["512800.SH"]).sort("date").to_pandas()
    aum0 = (f["shares_outstanding"] * f["nav"]).shift(10)
    want = f["flow_exact"].rolling(10).sum() / aum0
    got = fac.filter(pl.col("sector") == "银行").to_pandas().set_index("date")["value"]
    want = pd.Series(want.to_numpy(), index=f["date"]).dropna()
    assert len(got) == len(want)
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-12)
    heur = sector_flow_factor(etf_market, lookback=10, measure="heuristic", sectors=["银行"])
    # between -down_share and +up_share; the bound is reached when every day of the window is a
    # down day (summed in floating point: -0.30000000000000004)
    assert heur["value"].is_between(-0.3 - 1e-12, 0.5 + 1e-12).all()
    # the future does not change the past
    day = dt.date(2020, 6, 30)
    etfs = etf_market.table("etfs").collect()
    shaken = Market(
        {
            "etfs": etfs.with_columns(
                pl.when(pl.col("date") > day).then(pl.col(c) * 3).otherwise(pl.col(c)).alias(c)
                for c in ("close", "nav", "amount", "shares_outstanding")
            )
        }
    )
    again = sector_flow_factor(shaken, lookback=10, sectors=["银行", "QQQ"])
    assert again.filter(pl.col("date") <= day).equals(fac.filter(pl.col("date") <= day))
    with pytest.raises(ParameterError, match="`lookback`"):
        sector_flow_factor(etf_market, lookback=0)


def test_the_factor_runs_through_evaluate(etf_market):
    fac = sector_flow_factor(etf_market, lookback=20, by="etf")
    cn = etf_market.table("etfs").filter(pl.col("market") == "CN").collect()
    frame = fac.rename({"etf": "asset", "value": "etf_flow"}).filter(
        pl.col("asset").is_in(cn["etf"].unique().implode())
    )
    prices = cn.select("date", pl.col("etf").alias("asset"), "close")
    ev = evaluate(frame, ["etf_flow"], prices=prices, horizons=(5,), entry="next_close")
    assert ev.summary.height == 1
    assert ev.summary["ic_mean"].is_finite().all()


def test_cumulative_flows_are_per_etf_when_sectors_share_a_name(etf_market):
    r = sector_money_flow(etf_market, ["2828.HK", "XLF"])  # both labelled 金融 by the seed
    assert r.table["sector"].to_list() == ["金融", "金融"]
    for etf in ("2828.HK", "XLF"):
        d = r.daily.filter(pl.col("etf") == etf).sort("date")
        want = np.cumsum(d["flow"].fill_null(0).to_numpy())
        np.testing.assert_allclose(d["cum_flow"].to_numpy(), want, rtol=1e-12)


def test_the_factor_by_industry_and_sector_pools_per_etf_ratios(etf_market):
    ind = sector_flow_factor(etf_market, lookback=10, by="industry")
    assert ind.columns == ["date", "industry", "value", "measure"]
    assert ind.select(pl.struct("date", "industry").is_unique().all()).item()
    assert "轻工制造" in set(ind["industry"]) and "银行" in set(ind["industry"])
    assert not {"半导体", "csi300", "金融"} & set(ind["industry"])  # theme / broad / HK ETFs out
    per_etf = sector_flow_factor(etf_market, lookback=10, by="etf", sectors=["512800.SH"])
    bank = ind.filter(pl.col("industry") == "银行").drop("industry")
    assert bank.equals(per_etf.drop("etf"))
    # two ETFs under one label (2828.HK in HKD, XLF in USD): the mean of their ratios
    both = sector_flow_factor(etf_market, lookback=10, sectors=["2828.HK", "XLF"])
    each = sector_flow_factor(etf_market, lookback=10, by="etf", sectors=["2828.HK", "XLF"])
    want = each.group_by("date").agg(pl.col("value").mean()).sort("date")
    got = both.sort("date")
    assert got["date"].to_list() == want["date"].to_list()
    np.testing.assert_allclose(got["value"].to_numpy(), want["value"].to_numpy(), rtol=1e-12)
    assert set(got["measure"]) == {"exact"}
