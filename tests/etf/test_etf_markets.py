"""Hong Kong and US ETFs on their own calendars: the NYSE calendar, the `etfs` schema's
per-market calendar check, HKD/CNY, old tables without market / currency."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from factorlab.calendar import is_session, sessions
from factorlab.errors import CalendarError, ValueRangeError
from factorlab.grid import AssetGrid
from factorlab.schema import conform, validate

D = dt.date

NYSE_HOLIDAYS = [
    D(2016, 11, 24),  # Thanksgiving
    D(2018, 12, 5),  # President Bush's funeral (ad hoc)
    D(2019, 7, 4),  # Independence Day
    D(2020, 4, 10),  # Good Friday
    D(2021, 12, 24),  # Christmas (Saturday) observed Friday
    D(2022, 6, 20),  # Juneteenth (Sunday) observed Monday, first year
    D(2025, 1, 9),  # President Carter's national day of mourning (ad hoc)
    D(2026, 1, 19),  # Martin Luther King Jr. Day
]
NYSE_SESSIONS = [D(2019, 11, 29), D(2021, 6, 18), D(2020, 1, 27), D(2024, 12, 24)]
HKEX_HOLIDAYS = [D(2020, 1, 27), D(2019, 10, 7), D(2020, 4, 10), D(2023, 9, 8), D(2020, 12, 25)]


def test_nyse_has_its_known_holidays_and_sessions():
    days = set(sessions("nyse", "2014-01-01", "2026-12-31").to_list())
    assert not days & set(NYSE_HOLIDAYS)
    assert set(NYSE_SESSIONS) <= days
    assert len(sessions("nyse", "2019-01-01", "2019-12-31")) == 252
    s = pl.Series([D(2022, 6, 20), D(2022, 6, 21)])
    assert is_session(s, "nyse").to_list() == [False, True]


def test_hk_and_us_etfs_trade_on_their_own_calendars(etf_market):
    etfs = etf_market.table("etfs").collect()
    for mkt, cal, holidays in [("HK", "hkex", HKEX_HOLIDAYS), ("US", "nyse", NYSE_HOLIDAYS)]:
        rows = etfs.filter(pl.col("market") == mkt)
        assert rows["etf"].n_unique() == 4
        days = set(sessions(cal, "2019-01-01", "2020-12-31").to_list())
        per_etf = rows.group_by("etf").agg(pl.col("date").unique().sort())
        for dates in per_etf["date"]:
            assert set(dates) == days
        assert not set(rows["date"]) & set(holidays)
    hk = etfs.filter(pl.col("market") == "HK")
    assert set(hk["currency"]) == {"HKD"}
    assert set(etfs.filter(pl.col("market") == "US")["currency"]) == {"USD"}
    # 2020-01-27: HKEX shut for the Lunar New Year, NYSE open -> US rows, no HK rows
    assert etfs.filter(pl.col("date") == D(2020, 1, 27))["market"].unique().to_list() == ["US"]


def test_fx_has_hkd_inside_the_peg(etf_market):
    fx = etf_market.table("fx").collect()
    usdhkd = fx["usdcny"] / fx["hkdcny"]
    assert usdhkd.min() >= 7.75 - 1e-3 and usdhkd.max() <= 7.85 + 1e-3
    validate("fx", fx)
    assert conform("fx", fx).columns == ["date", "usdcny", "hkdcny"]
    assert conform("fx", fx.drop("hkdcny")).columns == ["date", "usdcny"]


def _frame(market: str | None, day: dt.date) -> pl.DataFrame:
    row = {
        "date": [day],
        "etf": ["3033.HK"],
        "sector": ["恒生科技"],
        "close": [5.0],
        "nav": [5.0],
        "volume": [1.0],
        "amount": [5.0],
        "shares_outstanding": [1e6],
    }
    if market is not None:
        row |= {"market": [market], "currency": ["HKD"]}
    return pl.DataFrame(row)


def test_the_etfs_schema_checks_each_row_on_its_markets_calendar():
    validate("etfs", _frame("HK", D(2020, 4, 14)))  # HK session
    validate("etfs", _frame("US", D(2020, 1, 27)))  # NYSE session, HKEX and SSE shut
    hk_only = r"hkex trading days where `market` is 'HK'.*2020-01-27"
    with pytest.raises(CalendarError, match=hk_only):
        validate("etfs", _frame("HK", D(2020, 1, 27)))
    with pytest.raises(CalendarError, match=r"nyse trading days where `market` is 'US'"):
        validate("etfs", _frame("US", D(2020, 4, 10)))
    unknown = r"`market` must name a market.*JP.*one of 'CN', 'HK', 'US'"
    with pytest.raises(ValueRangeError, match=unknown):
        validate("etfs", _frame("JP", D(2020, 4, 14)))
    # a table written before market / currency existed: A-share calendar, still valid
    validate("etfs", _frame(None, D(2020, 4, 14)))
    with pytest.raises(CalendarError, match="must hold ashare trading days"):
        validate("etfs", _frame(None, D(2020, 10, 1)))  # National Day
    assert "market" not in conform("etfs", _frame(None, D(2020, 4, 14))).columns
    assert conform("etfs", _frame("HK", D(2020, 4, 14))).columns[-2:] == ["market", "currency"]


def test_the_a_share_grid_keeps_only_a_share_etfs(etf_market):
    grid = AssetGrid.from_market(etf_market, kinds=("etf",))
    assets = set(grid.index.assets.to_list())
    assert "3033.HK" not in assets and "QQQ" not in assets and "512800.SH" in assets
