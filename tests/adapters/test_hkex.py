"""HKEX short-selling files -> ``short_sellable``, tushare ``hk_hold`` quarterly snapshots with
their publication days; fixtures shaped like the real files (no network)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import polars as pl
import pytest

from factorlab.adapters import hkex, tushare
from factorlab.calendar import sessions
from factorlab.errors import AdapterError
from factorlab.schema import validate


def _sse_file() -> pd.DataFrame:
    """A post-change SSE day as read from HKEX's page (strings with thousands separators)."""
    return pd.DataFrame(
        {
            "Date": ["2024-09-02"] * 4,
            "Stock Code": ["600000", "600519", "601318", "688981"],
            "Stock Name": ["PUDONG DEV BANK", "KWEICHOW MOUTAI", "PING AN", "SMIC"],
            "Short Selling Available Quantity": ["123,400", ">=300,000", "0", ">=300,000"],
        }
    )


def test_short_sellable_from_an_hkex_file():
    out = hkex.short_sellable(_sse_file())
    validate("short_sellable", out)
    assert out["asset"].to_list() == ["600000.SH", "600519.SH", "601318.SH", "688981.SH"]
    assert out["quantity"].to_list() == [123400, None, 0, None]
    assert out["sufficient"].to_list() == [False, True, False, True]
    assert out["date"].unique().to_list() == [dt.date(2024, 9, 2)]


def test_one_file_per_day_without_a_date_column_and_szse_codes():
    f = pl.DataFrame(
        {
            "Stock Code": [1, 2594, 300750],
            "Short Selling Available Quantity": [250000, 12, "充足"],
        },
        strict=False,
    ).with_columns(pl.col("Short Selling Available Quantity").cast(pl.String))
    out = hkex.short_sellable(f, date="20240903", exchange="SZ")
    assert out["asset"].to_list() == ["000001.SZ", "002594.SZ", "300750.SZ"]
    assert out["quantity"].to_list() == [250000, 12, None]


@pytest.mark.parametrize("bad", ["-100", "12.5", "n/a"])
def test_bad_quantities_name_the_column(bad):
    f = _sse_file()
    f.loc[2, "Short Selling Available Quantity"] = bad
    with pytest.raises(AdapterError, match="Short Selling Available Quantity") as info:
        hkex.short_sellable(f)
    assert "601318" in str(info.value)


def test_missing_column_and_conflicting_repeats():
    with pytest.raises(AdapterError, match="Stock Code"):
        hkex.short_sellable(_sse_file().drop(columns=["Stock Code"]))
    f = pd.concat([_sse_file(), _sse_file()])
    assert hkex.short_sellable(f).height == 4  # the same file twice: exact repeats go
    g = _sse_file()
    g.loc[0, "Short Selling Available Quantity"] = "5"
    with pytest.raises(AdapterError, match="different quantities"):
        hkex.short_sellable(pd.concat([_sse_file(), g]))


def _hk_hold() -> pd.DataFrame:
    """tushare hk_hold rows: two daily days before the change and one quarterly snapshot."""
    return pd.DataFrame(
        {
            "code": ["90000", "90000", "90000", "70001"],
            "trade_date": ["20240815", "20240816", "20240930", "20240930"],
            "ts_code": ["600519.SH", "600519.SH", "600519.SH", "000001.SZ"],
            "name": ["贵州茅台"] * 3 + ["平安银行"],
            "vol": [89_000_000, 89_100_000, 88_000_000, 300_000_000],
            "ratio": [7.08, 7.09, 7.00, 1.55],
            "exchange": ["SH", "SH", "SH", "SZ"],
        }
    )


def test_hk_hold_snapshots_carry_their_publication_day():
    out = tushare.hk_hold_snapshots(_hk_hold())
    assert out.columns == ["date", "asset", "shares", "ratio", "published"]
    pub = dict(zip(zip(out["date"], out["asset"], strict=True), out["published"], strict=True))
    assert pub[(dt.date(2024, 8, 15), "600519.SH")] == dt.date(2024, 8, 16)
    assert pub[(dt.date(2024, 8, 16), "600519.SH")] == dt.date(2024, 8, 19)
    nb = sessions("northbound", "2024-10-01", "2024-10-31")
    fifth = nb[4]
    assert pub[(dt.date(2024, 9, 30), "600519.SH")] == fifth
    # National Day week closed; Oct 11 (Chung Yeung) HK closed: Oct 8, 9, 10, 14, 15
    assert fifth == dt.date(2024, 10, 15)
