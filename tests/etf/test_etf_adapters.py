"""ETF adapters: tushare fund_share forward-filled to sessions, akshare ETF bars and shares, unit
checks; the adapted frames give exact flows."""

from __future__ import annotations

import datetime as dt
import logging

import polars as pl
import pytest

from factorlab.adapters import akshare as aka
from factorlab.adapters import tushare as tsa
from factorlab.calendar import sessions
from factorlab.errors import AdapterError
from factorlab.etf import etf_flows

RAW_SHARE = pl.DataFrame({
    "ts_code": ["510300.SH", "510300.SH", "159995.SZ"],
    "trade_date": ["20240102", "20240108", "20240103"],
    "fd_share": [100.0, 130.0, 50.0],  # 万份
})  # fmt: skip


def test_fund_share_daily_forward_fills_change_dates_onto_sessions(caplog):
    with caplog.at_level(logging.INFO, logger="factorlab.adapters"):
        out = tsa.fund_share_daily(RAW_SHARE, end="2024-01-09")
    assert "forward-filled" in caplog.text
    days = sessions("ashare", "2024-01-02", "2024-01-09").to_list()
    a = out.filter(pl.col("etf") == "510300.SH")
    assert a["date"].to_list() == days
    assert a["shares_outstanding"].to_list() == [1e6, 1e6, 1e6, 1e6, 1.3e6, 1.3e6]
    assert a["filled"].to_list() == [False, True, True, True, False, True]
    b = out.filter(pl.col("etf") == "159995.SZ")
    assert b["date"].min() == dt.date(2024, 1, 3) and b[
        "shares_outstanding"
    ].unique().to_list() == [5e5]
    # joined with NAV, Δ shares x NAV is the creation on its change date only
    bars = a.with_columns(
        close=pl.lit(4.0), nav=pl.lit(4.0), volume=pl.lit(1.0), amount=pl.lit(4.0)
    )
    f = etf_flows(bars)
    assert f["flow_exact"].to_list() == [None, 0.0, 0.0, 0.0, 1.2e6, 0.0]


def test_fund_etf_hist_em_units_and_the_vwap_check():
    raw = pl.DataFrame({
        "日期": ["2024-09-27", "2024-09-30"], "开盘": [1.20, 1.30], "收盘": [1.228, 1.351],
        "最高": [1.228, 1.351], "最低": [1.19, 1.29], "成交量": [40_000_000.0, 61_000_000.0],
        "成交额": [4.8e9, 8.0e9], "振幅": [3.0, 4.0], "涨跌幅": [10.0, 10.0],
    })  # fmt: skip
    out = aka.fund_etf_hist_em(raw, symbol="512880")
    assert out.columns == ["date", "etf", "open", "high", "low", "close", "volume", "amount"]
    assert out["etf"].unique().to_list() == ["512880.SH"]
    assert out["volume"].to_list() == [4e9, 6.1e9]
    with pytest.raises(AdapterError, match="VWAP"):
        aka.fund_etf_hist_em(raw.with_columns(pl.col("成交量") * 100), symbol="512880")
    with pytest.raises(AdapterError, match="not recognised"):
        aka.fund_etf_hist_em(raw, symbol="abc123")


def test_akshare_share_functions_and_their_unit_check():
    sse = pl.DataFrame({
        "基金代码": ["510300", "512880"], "基金简称": ["x", "y"], "基金份额": [3.1e10, 4.5e10],
        "统计日期": ["2024-09-30", "2024-09-30"],
    })  # fmt: skip
    out = aka.fund_etf_scale_sse(sse)
    assert out.rows() == [(dt.date(2024, 9, 30), "510300.SH", 3.1e10),
                          (dt.date(2024, 9, 30), "512880.SH", 4.5e10)]  # fmt: skip
    with pytest.raises(AdapterError, match="万份 or 亿份"):
        aka.fund_etf_scale_sse(sse.with_columns(pl.col("基金份额") / 1e4))
    szse = pl.DataFrame({"基金代码": [159995], "基金份额": [2.2e10]})
    assert aka.fund_etf_scale_szse(szse, date="2024-10-08").row(0) == (
        dt.date(2024, 10, 8),
        "159995.SZ",
        2.2e10,
    )
    spot = pl.DataFrame({"代码": ["512480"], "最新份额": [1.5e10], "最新价": [0.9]})
    assert aka.fund_etf_spot_em(spot, date=dt.date(2024, 10, 8)).row(0)[1] == "512480.SH"
    with pytest.raises(AdapterError, match="基金份额"):
        aka.fund_etf_scale_szse(szse.drop("基金份额"), date="2024-10-08")
