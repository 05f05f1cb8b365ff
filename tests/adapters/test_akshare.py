"""akshare northbound adapters against frames shaped like akshare returns them (Chinese column
names, object dates, units 亿元 / 万 / 万元 / ‰ / %), plus unit and duplicate checks."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import polars as pl
import pytest

from factorlab.adapters import akshare
from factorlab.errors import AdapterError
from factorlab.schema import validate


def _hist() -> pd.DataFrame:
    # ak.stock_hsgt_hist_em(symbol="沪股通"): amounts in 亿元, cumulative in 万亿元
    return pd.DataFrame(
        {
            "日期": ["2021-01-04", "2021-01-05", "2024-08-19"],
            "当日成交净买额": [-11.35, 24.87, None],
            "买入成交额": [305.1, 330.2, None],
            "卖出成交额": [316.45, 305.33, None],
            "历史累计净买额": [1.1, 1.11, 1.2],
            "当日资金流入": [-9.8, 26.1, None],
            "当日余额": [529.8, 493.9, None],
            "持股市值": [1.2e12, 1.21e12, 0.0],
            "领涨股": ["甲", "乙", "丙"],
            "领涨股-涨跌幅": [10.0, 9.9, 5.0],
            "沪深300": [5267.7, 5368.5, 3300.0],
            "沪深300-涨跌幅": [2.2, 1.9, 0.1],
            "领涨股-代码": ["600000", "600001", "600002"],
        }
    )


def test_hist_em_both_meanings_in_yuan():
    out = akshare.stock_hsgt_hist_em(_hist(), symbol="沪股通")
    validate("northbound_flows", out)
    assert out.height == 2  # the blanked 2024-08-19 row is dropped
    row = out.row(0, named=True)
    assert row["link"] == "SH" and row["flow_definition"] == "net_buy"
    assert row["net_buy"] == pytest.approx(-11.35e8)
    assert row["quota_inflow"] == pytest.approx(-9.8e8)
    assert row["buy_amount"] - row["sell_amount"] == pytest.approx(row["net_buy"])


def test_hist_em_rejects_yuan_and_total_symbol():
    with pytest.raises(AdapterError, match=r"买入成交额.*亿元"):
        akshare.stock_hsgt_hist_em(
            _hist().assign(买入成交额=lambda d: d["买入成交额"] * 1e8), symbol="沪股通"
        )
    with pytest.raises(AdapterError, match="symbol"):
        akshare.stock_hsgt_hist_em(_hist(), symbol="北向资金")


def test_hist_em_duplicate_day_conflict():
    doubled = pd.concat([_hist(), _hist().head(1).assign(当日成交净买额=1.0)])
    with pytest.raises(AdapterError, match="different values"):
        akshare.stock_hsgt_hist_em(doubled, symbol="深股通")


def test_fund_flow_summary_keeps_northbound_links():
    raw = pd.DataFrame(
        {
            "交易日": ["2022-11-25"] * 4,
            "类型": ["沪港通", "沪港通", "深港通", "深港通"],
            "板块": ["沪股通", "港股通(沪)", "深股通", "港股通(深)"],
            "资金方向": ["北向", "南向", "北向", "南向"],
            "交易状态": [3, 3, 3, 3],
            "成交净买额": [12.3, 5.0, -4.2, 1.0],
            "资金净流入": [13.0, 5.1, -3.9, 1.1],
            "当日资金余额": [507.0, 415.0, 523.9, 418.0],
            "上涨数": [302, 179, 283, 247],
            "持平数": [8, 16, 29, 33],
            "下跌数": [284, 186, 621, 268],
            "相关指数": ["上证指数", "恒生指数", "深证成指", "恒生指数"],
            "指数涨跌幅": [0.40, -0.49, -0.48, -0.49],
        }
    )
    out = akshare.stock_hsgt_fund_flow_summary_em(raw)
    assert out["link"].to_list() == ["SH", "SZ"]
    assert out["quota_inflow"].to_list() == pytest.approx([13.0e8, -3.9e8])
    assert out["buy_amount"].null_count() == 2


def _hold() -> pd.DataFrame:
    # ak.stock_hsgt_hold_stock_em(market="北向", indicator="今日排行"): 股数 in 万, 市值 in 万元,
    # 占比 in %, 增持估计-占比 in ‰
    return pd.DataFrame(
        {
            "序号": [1, 2],
            "代码": ["600519", "000858"],
            "名称": ["贵州茅台", "五粮液"],
            "今日收盘价": [1800.0, 200.0],
            "今日涨跌幅": [1.2, -0.5],
            "今日持股-股数": [9000.5, 30000.0],
            "今日持股-市值": [9000.5 * 1800.0, 30000.0 * 200.0],
            "今日持股-占流通股比": [7.16, 7.73],
            "今日持股-占总股本比": [7.16, 7.73],
            "今日增持估计-股数": [10.0, -5.0],
            "今日增持估计-市值": [18000.0, -1000.0],
            "今日增持估计-市值增幅": ["0.1", "-0.02"],
            "今日增持估计-占流通股比": [0.08, -0.01],
            "今日增持估计-占总股本比": [0.08, -0.01],
            "所属板块": ["酿酒行业", "酿酒行业"],
            "日期": ["2021-06-01", "2021-06-01"],
        }
    )


def test_hold_stock_em_wan_to_shares():
    out = akshare.stock_hsgt_hold_stock_em(_hold())
    validate("northbound", out)
    assert out.filter(pl.col("asset") == "600519.SH")["shares"].item() == 90_005_000
    assert out["ratio"].to_list() == pytest.approx([0.0773, 0.0716])


def test_hold_stock_em_rejects_shares_not_in_wan():
    with pytest.raises(AdapterError, match="今日持股-股数"):
        akshare.stock_hsgt_hold_stock_em(
            _hold().assign(**{"今日持股-股数": lambda d: d["今日持股-股数"] * 1e4})
        )


def test_individual_em_one_stock():
    raw = pd.DataFrame(
        {
            "持股日期": ["2024-08-15", "2024-08-16"],
            "当日收盘价": [30.0, 31.0],
            "当日涨跌幅": [0.5, 3.3],
            "持股数量": [12_000_000, 12_100_000],
            "持股市值": [360_000_000.0, 375_100_000.0],
            "持股数量占A股百分比": [1.2, 1.21],
            "今日增持股数": [0.0, 100000.0],
            "今日增持资金": [0.0, 3.1e6],
            "今日持股市值变化": [0.0, 1.51e7],
        }
    )
    out = akshare.stock_hsgt_individual_em(raw, symbol="002008")
    assert out["asset"].unique().to_list() == ["002008.SZ"]
    assert out["date"].to_list() == [dt.date(2024, 8, 15), dt.date(2024, 8, 16)]
    with pytest.raises(AdapterError, match="持股数量"):
        akshare.stock_hsgt_individual_em(
            raw.assign(持股市值=raw["持股市值"] / 1e4), symbol="002008"
        )
