"""tushare adapters against frames shaped like tushare pro returns them (pandas, str dates,
documented units), plus bad input: wrong units, missing columns, duplicates, HK repeat days and
the 2018-08-01 meaning change of moneyflow_hsgt."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import polars as pl
import pytest

from factorlab.adapters import amount_proxy, tushare
from factorlab.errors import AdapterError
from factorlab.schema import validate


def _daily() -> pd.DataFrame:
    # tushare daily sample rows (doc_id=27): vol in lots, amount in thousand yuan
    return pd.DataFrame(
        {
            "ts_code": ["000001.SZ", "000001.SZ", "600519.SH", "600519.SH"],
            "trade_date": ["20200102", "20200103", "20200102", "20200103"],
            "open": [16.65, 16.94, 1128.0, 1117.0],
            "high": [16.95, 17.31, 1145.06, 1117.0],
            "low": [16.55, 16.92, 1116.0, 1076.9],
            "close": [16.87, 17.18, 1130.0, 1078.56],
            "pre_close": [16.45, 16.87, 1183.0, 1130.0],
            "change": [0.42, 0.31, -53.0, -51.44],
            "pct_chg": [2.5532, 1.8376, -4.4801, -4.5522],
            "vol": [1530231.87, 1116194.81, 148099.16, 130318.37],
            "amount": [2571196.482, 1914495.474, 16804021.046, 14235785.47],
        }
    )


def _adj() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ts_code": ["000001.SZ"] * 2 + ["600519.SH"] * 2,
            "trade_date": ["20200102", "20200103"] * 2,
            "adj_factor": [108.031, 108.031, 7.3399, 7.3399],
        }
    )


def _basic() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ts_code": ["000001.SZ", "600519.SH"],
            "trade_date": ["20200102", "20200102"],
            "close": [16.87, 1130.0],
            "turnover_rate": [0.79, 1.18],
            "total_share": [1940591.8198, 125619.78],
            "float_share": [1940575.5774, 125619.78],
            "free_share": [1045000.0, 50000.0],
            "total_mv": [1940591.8198 * 16.87, 125619.78 * 1130.0],
            "circ_mv": [1940575.5774 * 16.87, 125619.78 * 1130.0],
        }
    )


def test_daily_converts_lots_and_thousand_yuan():
    out = tushare.daily(_daily())
    row = out.filter(pl.col("asset") == "600519.SH").row(0, named=True)
    assert row["date"] == dt.date(2020, 1, 2)
    assert row["volume"] == pytest.approx(14_809_916.0)
    assert row["amount"] == pytest.approx(16_804_021_046.0)
    vwap = row["amount"] / row["volume"]
    assert row["low"] <= vwap <= row["high"]


def test_daily_rejects_amount_in_yuan():
    bad = _daily().assign(amount=lambda d: d["amount"] * 1000)
    with pytest.raises(AdapterError, match=r"tushare daily.*`amount`.*VWAP") as err:
        tushare.daily(bad)
    assert err.value.source == "tushare daily" and err.value.column == "amount"


def test_daily_rejects_volume_in_shares():
    with pytest.raises(AdapterError, match="amount"):
        tushare.daily(_daily().assign(vol=lambda d: d["vol"] * 100))


def test_daily_missing_column_names_source_and_unit():
    expected = r"tushare daily: missing column\(s\) `amount` \(thousand"
    with pytest.raises(AdapterError, match=expected):
        tushare.daily(_daily().drop(columns="amount"))


def test_duplicate_days_identical_dropped_conflicting_raise():
    doubled = pd.concat([_daily(), _daily()])
    assert tushare.daily(doubled).height == 4
    conflict = pd.concat([_daily(), _daily().head(1).assign(close=17.0)])
    with pytest.raises(AdapterError, match="more than once with different values"):
        tushare.daily(conflict)


def test_prices_joins_and_validates():
    out = tushare.prices(_daily(), _adj(), _basic())
    validate("prices", out)
    first = out.filter((pl.col("asset") == "000001.SZ") & (pl.col("date") == dt.date(2020, 1, 2)))
    assert first["float_shares"].item() == pytest.approx(1940575.5774 * 1e4)
    # no daily_basic on 2020-01-03: shares absent (null), never guessed
    later = out.filter(pl.col("date") == dt.date(2020, 1, 3))
    assert later["float_shares"].null_count() == later.height
    assert not out["is_st"].any()


def test_prices_without_basic_has_null_shares_and_st_frame():
    st = pl.DataFrame({"date": [dt.date(2020, 1, 3)], "asset": ["000001.SZ"]})
    out = tushare.prices(_daily(), _adj(), st=st)
    assert out["total_shares"].null_count() == out.height
    assert out.filter(pl.col("is_st"))["asset"].to_list() == ["000001.SZ"]


def test_prices_requires_adj_factor_rows():
    with pytest.raises(AdapterError, match="no adj_factor row"):
        tushare.prices(_daily(), _adj().head(2))


def test_daily_basic_units_checked():
    out = tushare.daily_basic(_basic())
    assert out["total_cap"][1] == pytest.approx(125619.78 * 1130.0 * 1e4)
    with pytest.raises(AdapterError, match="total_mv"):
        tushare.daily_basic(
            _basic().assign(
                total_share=lambda d: d["total_share"] * 1e4,
                float_share=lambda d: d["float_share"] * 1e4,
            )
        )


def _hk_hold() -> pd.DataFrame:
    # hk_hold sample (doc_id=188): vol in shares, ratio in %, HK calendar; 2019-10-01..07 is a
    # mainland holiday where HKEX publishes (on its own trading days) the unchanged holdings
    return pd.DataFrame(
        {
            "code": ["90000", "90000", "90000", "00700"],
            "trade_date": ["20190930", "20191002", "20191008", "20190930"],
            "ts_code": ["600000.SH", "600000.SH", "600000.SH", "00700.HK"],
            "name": ["浦发银行", "浦发银行", "浦发银行", "腾讯控股"],
            "vol": [443245164, 443245164, 443300000, 5000000],
            "ratio": [1.57, 1.57, 1.58, 0.05],
            "exchange": ["SH", "SH", "SH", "HK"],
        }
    )


def test_hk_hold_keeps_hk_calendar_and_drops_southbound():
    out = tushare.hk_hold(_hk_hold())
    assert out["asset"].unique().to_list() == ["600000.SH"]
    assert out["date"].to_list() == [
        dt.date(2019, 9, 30),
        dt.date(2019, 10, 2),
        dt.date(2019, 10, 8),
    ]
    assert out["ratio"][0] == pytest.approx(0.0157)
    assert out.schema["shares"] == pl.Int64
    validate("northbound", out)  # 2019-10-02 is an HKEX session


def test_hk_hold_ashare_calendar_drops_repeat_rows():
    out = tushare.hk_hold(_hk_hold(), calendar="ashare")
    assert dt.date(2019, 10, 2) not in out["date"].to_list()
    assert out.height == 2


def test_hk_hold_rejects_ratio_out_of_percent_range():
    with pytest.raises(AdapterError, match=r"`ratio`.*percent"):
        tushare.hk_hold(_hk_hold().assign(ratio=lambda d: d["ratio"] * 100))


def _moneyflow() -> pd.DataFrame:
    # moneyflow_hsgt sample rows (doc_id=47), million yuan, around the 2018-08-01 change
    return pd.DataFrame(
        {
            "trade_date": ["20180730", "20180731", "20180801", "20180802"],
            "ggt_ss": [-588.0, -299.0, -1443.0, -1651.0],
            "ggt_sz": [611.0, -21.0, -443.0, -366.0],
            "hgt": [2536.54, 1923.72, 544.36, 874.97],
            "sgt": [146.24, 1345.48, 542.79, -216.65],
            "north_money": [2682.78, 3269.20, 1087.15, 658.32],
            "south_money": [23.0, -320.0, -1886.0, -2017.0],
        }
    )


def test_moneyflow_hsgt_meaning_change_on_2018_08_01():
    out = tushare.moneyflow_hsgt(_moneyflow())
    validate("northbound_flows", out)
    before = out.filter(pl.col("date") < tushare.FLOW_DEFINITION_CHANGE)
    after = out.filter(pl.col("date") >= tushare.FLOW_DEFINITION_CHANGE)
    assert set(before["flow_definition"]) == {"quota_inflow"}
    assert before["net_buy"].null_count() == before.height
    assert set(after["flow_definition"]) == {"net_buy"}
    assert after["quota_inflow"].null_count() == after.height
    sh = out.filter((pl.col("link") == "SH") & (pl.col("date") == dt.date(2018, 8, 1)))
    assert sh["net_buy"].item() == pytest.approx(544.36e6)


def test_moneyflow_hsgt_closed_link_has_no_row():
    raw = _moneyflow().assign(sgt=[None, 1345.48, None, -216.65])
    out = tushare.moneyflow_hsgt(raw)
    assert out.filter(pl.col("link") == "SZ").height == 2


def test_moneyflow_hsgt_rejects_yuan():
    with pytest.raises(AdapterError, match=r"moneyflow_hsgt: column `hgt` is expected in million"):
        tushare.moneyflow_hsgt(_moneyflow().assign(hgt=lambda d: d["hgt"] * 1e6))


def test_index_daily_names_and_unit_check():
    raw = pd.DataFrame(
        {
            "ts_code": ["000300.SH", "399999.SZ"],
            "trade_date": ["20200102"] * 2,
            "close": [4152.24, 1000.0],
            "vol": [182_358_000.0, 1_000_000.0],
            "amount": [270_000_000.0, 1_500_000.0],
        }
    )
    out = tushare.index_daily(raw)
    assert out["index"].to_list() == ["399999.SZ", "csi300"]
    with pytest.raises(AdapterError, match="average share price"):
        tushare.index_daily(raw.assign(amount=lambda d: d["amount"] * 10_000))


def test_index_weight_percent_to_fraction():
    raw = pd.DataFrame(
        {
            "index_code": ["000300.SH"] * 3,
            "con_code": ["600519.SH", "601318.SH", "000001.SZ"],
            "trade_date": ["20200102"] * 3,
            "weight": [4.5, 6.2, 1.1],
        }
    )
    out = tushare.index_weight(raw)
    assert out["weight"].sum() == pytest.approx(0.118)
    assert set(out["index"]) == {"csi300"}
    with pytest.raises(AdapterError, match="weight"):
        tushare.index_weight(raw.assign(weight=[60.0, 50.0, 1.0]))


def test_stock_basic_assets():
    raw = pd.DataFrame(
        {
            "ts_code": ["000001.SZ", "600519.SH", "430047.BJ"],
            "symbol": ["000001", "600519", "430047"],
            "name": ["平安银行", "贵州茅台", "诺思兰德"],
            "area": ["深圳", "贵州", "北京"],
            "industry": ["银行", "白酒", None],
            "market": ["主板", "主板", "北交所"],
            "list_date": ["19910403", "20010827", "20201117"],
        }
    )
    out = tushare.stock_basic(raw)
    validate("assets", out)
    assert out["exchange"].to_list() == ["SZ", "SH"]
    assert out["delist_date"].null_count() == 2


def test_ccass_hold_detail_strings_to_shares():
    raw = pd.DataFrame(
        {
            "trade_date": ["20211101"] * 3,
            "ts_code": ["605009.SH"] * 3,
            "name": ["豪悦护理"] * 3,
            "col_participant_id": ["C00019", "B01777", "A00003"],
            "col_participant_name": ["汇丰银行", "大和资本市场", "中央结算"],
            "col_shareholding": ["3000", "0", "1,250,000"],
            "col_shareholding_percent": ["0.01", "0.00", "0.60"],
        }
    )
    out = tushare.ccass_hold_detail(raw)
    validate("participant_holdings", out)
    assert dict(zip(out["participant"], out["shares"], strict=True)) == {
        "A00003": 1_250_000,
        "C00019": 3000,
    }
    assert tushare.ccass_participants(raw).height == 3
    with pytest.raises(AdapterError, match="col_shareholding"):
        tushare.ccass_hold_detail(raw.assign(col_shareholding=["3000", "x", "1"]))


def test_dividend_implemented_only_and_duplicates():
    raw = pd.DataFrame(
        {
            "ts_code": ["600519.SH"] * 3,
            "end_date": ["20191231"] * 3,
            "ann_date": ["20200422", "20200617", "20200617"],
            "div_proc": ["预案", "实施", "实施"],
            "stk_div": [0.0, 0.0, 0.0],
            "cash_div_tax": [17.025, 17.025, 17.025],
            "record_date": [None, "20200623", "20200623"],
            "ex_date": [None, "20200624", "20200624"],
        }
    )
    out = tushare.dividend(raw)
    validate("corporate_actions", out)
    assert out.height == 1 and out["cash_dividend"].item() == pytest.approx(17.025)
    with pytest.raises(AdapterError, match="cash_div_tax"):
        tushare.dividend(raw.assign(cash_div_tax=170.25 * 10))


def test_fund_share_and_etf_share_size():
    fs = tushare.fund_share(
        pd.DataFrame(
            {"ts_code": ["510300.SH"], "trade_date": ["20200214"], "fd_share": [206733.2898]}
        )
    )
    assert fs["shares_outstanding"].item() == pytest.approx(2_067_332_898.0)
    raw = pd.DataFrame(
        {
            "trade_date": ["20251224"],
            "ts_code": ["510330.SH"],
            "etf_name": ["沪深300ETF华夏"],
            "total_share": [4741854.98],
            "total_size": [2.287898e07],
            "nav": [4.8249],
            "exchange": ["SSE"],
        }
    )
    es = tushare.etf_share_size(raw)
    assert es["shares_outstanding"].item() == pytest.approx(4741854.98e4)
    with pytest.raises(AdapterError, match="total_share"):
        tushare.etf_share_size(raw.assign(total_share=4741854.98e4))


def test_amount_proxy_is_explicit_and_labelled():
    out = tushare.prices(_daily(), _adj()).select(amount_proxy(), "amount")
    assert out.columns == ["amount_proxy", "amount"]
    assert (out["amount_proxy"] / out["amount"] - 1).abs().max() < 0.02


def test_polars_input_and_date_types():
    lazy = pl.from_pandas(_daily()).with_columns(pl.col("trade_date").str.to_date("%Y%m%d")).lazy()
    assert tushare.daily(lazy).height == 4
