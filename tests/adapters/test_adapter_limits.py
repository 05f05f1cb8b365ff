"""Adapters as users meet them: tushare row caps, the flow meaning detected per day, one
Beijing policy in every adapter, qlib's amount unit."""

from __future__ import annotations

import datetime as dt
import logging

import polars as pl
import pytest

from factorlab.adapters import akshare, joinquant, qlib, tushare
from factorlab.errors import AdapterError


def _warnings(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "factorlab.adapters" and r.levelno == logging.WARNING
    ]


def _flows(n: int) -> pl.DataFrame:
    days = pl.date_range(dt.date(2019, 1, 1), dt.date(2030, 1, 1), eager=True).head(n)
    return pl.DataFrame({"trade_date": days.dt.strftime("%Y%m%d"), "hgt": 10.0, "sgt": 5.0})


def test_a_frame_at_a_known_row_cap_is_warned_about(caplog):
    assert tushare.ROW_CAPS == {
        "moneyflow_hsgt": 300,
        "hk_hold": 3800,
        "daily": 6000,
        "daily_basic": 6000,
    }
    with caplog.at_level(logging.WARNING, logger="factorlab.adapters"):
        tushare.moneyflow_hsgt(_flows(299))
    assert not _warnings(caplog)
    with caplog.at_level(logging.WARNING, logger="factorlab.adapters"):
        tushare.moneyflow_hsgt(_flows(300))
    (msg,) = _warnings(caplog)
    assert "exactly 300 rows" in msg and "`moneyflow_hsgt`" in msg and "Page the query" in msg


def test_hk_hold_and_daily_caps(caplog):
    n = 3800
    hold = pl.DataFrame(
        {
            "code": "90000",
            "trade_date": "20200102",
            "ts_code": [f"{600000 + i:06d}.SH" for i in range(n)],
            "name": "x",
            "vol": 1000.0,
            "ratio": 0.5,
            "exchange": "SH",
        }
    )
    with caplog.at_level(logging.WARNING, logger="factorlab.adapters"):
        tushare.hk_hold(hold)
        tushare.hk_hold(hold.head(n - 1))
    assert ["3800" in m for m in _warnings(caplog)] == [True]
    caplog.clear()
    bars = pl.DataFrame(
        {
            "ts_code": [f"{600000 + i:06d}.SH" for i in range(6000)],
            "trade_date": "20200102",
            "open": 10.0,
            "high": 10.5,
            "low": 9.5,
            "close": 10.0,
            "vol": 100.0,
            "amount": 100.0,
        }
    )
    with caplog.at_level(logging.WARNING, logger="factorlab.adapters"):
        tushare.daily(bars)
    assert ["6000" in m for m in _warnings(caplog)] == [True]


def test_flow_meaning_is_detected_per_day_where_buy_and_sell_exist(caplog):
    raw = pl.DataFrame(
        {
            "trade_date": ["20180730", "20180731", "20180801", "20180802"],
            "hgt": [100.0, 250.0, 300.0, 400.0],
            "sgt": [None] * 4,
        }
    )
    gross = pl.DataFrame(
        {
            "date": [dt.date(2018, 7, 30), dt.date(2018, 7, 31), dt.date(2018, 8, 1)],
            "link": ["SH"] * 3,
            # 07-30: buy - sell = 40 mn != 100 (quota used); 07-31: 250 mn = buy - sell (a revised
            # export: net buy before the documented switch); 08-01: 300 != 290 mn (quota used)
            "buy_amount": [1.04e9, 1.25e9, 1.29e9],
            "sell_amount": [1.0e9, 1.0e9, 1.0e9],
        }
    )
    with caplog.at_level(logging.INFO, logger="factorlab.adapters"):
        out = tushare.moneyflow_hsgt(raw, turnover=gross)
    assert out.select("date", "flow_definition", "quota_inflow", "net_buy").rows() == [
        (dt.date(2018, 7, 30), "quota_inflow", 100e6, None),
        (dt.date(2018, 7, 31), "net_buy", None, 250e6),
        (dt.date(2018, 8, 1), "quota_inflow", 300e6, None),
        (dt.date(2018, 8, 2), "net_buy", None, 400e6),  # no turnover: the date rule
    ]
    assert out["buy_amount"].to_list() == [1.04e9, 1.25e9, 1.29e9, None]
    (msg,) = _warnings(caplog)
    assert "detected on 3 of 4" in msg and "2 differ" in msg and "2018-07-31 SH" in msg
    # without turnover: the date rule alone
    assert tushare.moneyflow_hsgt(raw)["flow_definition"].to_list() == [
        "quota_inflow",
        "quota_inflow",
        "net_buy",
        "net_buy",
    ]


def test_flow_detection_tolerance_is_one_million_yuan():
    raw = pl.DataFrame({"trade_date": ["20200102"], "hgt": [100.0], "sgt": [None]})
    near = pl.DataFrame(
        {
            "date": [dt.date(2020, 1, 2)],
            "link": ["SH"],
            "buy_amount": [1.0999e9],
            "sell_amount": [1.0e9],
        }
    )
    assert tushare.moneyflow_hsgt(raw, turnover=near)["flow_definition"].item() == "net_buy"
    far = near.with_columns(pl.lit(1.102e9).alias("buy_amount"))
    assert tushare.moneyflow_hsgt(raw, turnover=far)["flow_definition"].item() == "quota_inflow"


BJ_REASON = "Beijing Stock Exchange codes"


def _bj_dropped(caplog, source: str, n: int) -> bool:
    return any(
        m.startswith(f"{source}: dropped {n} of") and BJ_REASON in m for m in _warnings(caplog)
    )


def test_beijing_rows_are_dropped_and_counted_in_every_adapter(caplog):
    caplog.set_level(logging.WARNING, logger="factorlab.adapters")
    bars = pl.DataFrame(
        {
            "ts_code": ["600519.SH", "920263.BJ", "830799.BJ"],
            "trade_date": "20200102",
            "open": 10.0,
            "high": 10.5,
            "low": 9.5,
            "close": 10.0,
            "vol": 100.0,
            "amount": 100.0,
        }
    )
    assert tushare.daily(bars)["asset"].to_list() == ["600519.SH"]
    assert _bj_dropped(caplog, "tushare daily", 2)
    basic = pl.DataFrame(
        {
            "ts_code": ["600519.SH", "920263.BJ"],
            "trade_date": "20200102",
            "total_share": 100.0,
            "float_share": 50.0,
        }
    )
    assert tushare.daily_basic(basic).height == 1 and _bj_dropped(caplog, "tushare daily_basic", 1)
    adj = pl.DataFrame(
        {"ts_code": ["600519.SH", "920263.BJ"], "trade_date": "20200102", "adj_factor": 1.0}
    )
    assert tushare.adj_factor(adj).height == 1 and _bj_dropped(caplog, "tushare adj_factor", 1)
    hold = pl.DataFrame(
        {
            "code": "9",
            "trade_date": "20200102",
            "ts_code": ["600519.SH", "920263.BJ"],
            "name": "x",
            "vol": 10.0,
            "ratio": 0.1,
            "exchange": "SH",
        }
    )
    assert tushare.hk_hold(hold).height == 1 and _bj_dropped(caplog, "tushare hk_hold", 1)
    em = pl.DataFrame(
        {
            "日期": "2024-01-02",
            "代码": ["600519", "830799"],
            "今日收盘价": 10.0,
            "今日持股-股数": 1.0,
            "今日持股-市值": 10.0,
            "今日持股-占总股本比": 0.1,
        }
    )
    assert akshare.stock_hsgt_hold_stock_em(em).height == 1
    assert _bj_dropped(caplog, "akshare stock_hsgt_hold_stock_em", 1)
    jq = pl.DataFrame(
        {
            "day": "2020-01-02",
            "link_id": 310001,
            "code": ["600519.XSHG", "830799.BJ"],
            "share_number": 10.0,
            "share_ratio": 0.1,
        }
    )
    assert joinquant.stk_hk_hold_info(jq).height == 1
    assert _bj_dropped(caplog, "joinquant STK_HK_HOLD_INFO", 1)
    q = pl.DataFrame(
        {
            "instrument": ["SH600000", "BJ830799"],
            "datetime": "2020-01-02",
            "$open": 10.0,
            "$high": 10.5,
            "$low": 9.5,
            "$close": 10.0,
            "$volume": 100.0,
            "$factor": 1.0,
        }
    )
    assert qlib.daily(q).height == 1 and _bj_dropped(caplog, "qlib daily", 1)
    with pytest.raises(AdapterError, match="Beijing"):
        akshare.stock_hsgt_individual_em(
            pl.DataFrame(
                {
                    "持股日期": ["2024-01-02"],
                    "当日收盘价": [10.0],
                    "持股数量": [1.0],
                    "持股市值": [10.0],
                    "持股数量占A股百分比": [0.1],
                }
            ),
            symbol="830799",
        )


def _qlib_frame(amount: list[float]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "instrument": "SH600000",
            "datetime": ["2020-01-02", "2020-01-03"],
            "$open": [5.0, 5.1],
            "$high": [5.2, 5.3],
            "$low": [4.9, 5.0],
            "$close": [5.0, 5.2],
            "$volume": [1000.0, 2000.0],
            "$factor": [2.0, 2.0],
            "$amount": amount,
        }
    )


def test_qlib_amount_must_be_yuan():
    # raw prices 2.5 / 2.6; raw volume 2,000 / 4,000 shares; amount in yuan = VWAP x volume
    out = qlib.daily(_qlib_frame([5_000.0, 10_200.0]))
    assert out["amount"].to_list() == [5_000.0, 10_200.0]
    # scaled by the first close like qlib's Yahoo collector: VWAP far outside low..high
    with pytest.raises(AdapterError, match=r"`\$?amount`.*expected unit"):
        qlib.daily(_qlib_frame([5_000.0 / 5.0, 10_200.0 / 5.0]))
