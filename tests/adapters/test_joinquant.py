"""JoinQuant finance.STK_ML_QUOTA / STK_HK_HOLD_INFO adapters against source-shaped frames."""

from __future__ import annotations

import pandas as pd
import pytest

from factorlab.adapters import joinquant
from factorlab.errors import AdapterError
from factorlab.schema import validate


def _quota() -> pd.DataFrame:
    # finance.STK_ML_QUOTA rows: amounts in 亿元; 310003/310004 are southbound
    return pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "day": pd.to_datetime(["2019-01-02"] * 4).date,
            "link_id": [310001, 310002, 310003, 310004],
            "link_name": ["沪股通", "深股通", "港股通(沪)", "港股通(深)"],
            "currency_id": [110001] * 4,
            "currency_name": ["人民币"] * 4,
            "quota_daily": [520.0, 520.0, 420.0, 420.0],
            "quota_daily_balance": [516.11, 521.02, 410.0, 415.0],
            "buy_amount": [80.66, 72.3, 20.0, 10.0],
            "buy_volume": [1.0e5] * 4,
            "sell_amount": [78.59, 73.9, 10.0, 8.0],
            "sell_volume": [1.0e5] * 4,
            "sum_amount": [159.25, 146.2, 30.0, 18.0],
            "sum_volume": [2.0e5] * 4,
            "quota": [None] * 4,
            "quota_balance": [None] * 4,
        }
    )


def test_stk_ml_quota_quotas_table():
    out = joinquant.stk_ml_quota(_quota())
    validate("quotas", out)
    assert out["link"].to_list() == ["SH", "SZ"]
    assert out["quota_daily"].to_list() == [520e8, 520e8]


def test_stk_ml_quota_flows_keep_meanings_apart():
    out = joinquant.stk_ml_quota_flows(_quota())
    sz = out.filter(out["link"] == "SZ").row(0, named=True)
    assert sz["quota_inflow"] == pytest.approx(-1.02e8)  # quota - balance
    assert sz["net_buy"] == pytest.approx(-1.6e8)  # buy - sell
    assert sz["flow_definition"] == "quota_inflow"


def test_stk_ml_quota_rejects_yuan():
    bad = _quota().assign(quota_daily=lambda d: d["quota_daily"] * 1e8)
    with pytest.raises(AdapterError, match=r"STK_ML_QUOTA: column `quota_daily` is expected in 亿"):
        joinquant.stk_ml_quota(bad)


def test_stk_hk_hold_info_northbound_only():
    raw = pd.DataFrame(
        {
            "id": [1, 2, 3],
            "day": ["2020-06-01"] * 3,
            "link_id": [310001, 310002, 310005],
            "link_name": ["沪股通", "深股通", "港股通"],
            "code": ["600519.XSHG", "000001.XSHE", "00700.XHKG"],
            "name": ["贵州茅台", "平安银行", "腾讯控股"],
            "share_number": [100_000_000, 300_000_000, 500_000_000],
            "share_ratio": [7.96, 1.55, 5.2],
        }
    )
    out = joinquant.stk_hk_hold_info(raw)
    validate("northbound", out)
    assert out["asset"].to_list() == ["000001.SZ", "600519.SH"]
    assert out["ratio"].to_list() == pytest.approx([0.0155, 0.0796])
    with pytest.raises(AdapterError, match="share_ratio"):
        joinquant.stk_hk_hold_info(raw.assign(share_ratio=[796.0, 1.0, 1.0]))
