"""Tests of factorlab.calendar: shipped sessions, the northbound rule, rebalancing anchors."""

from __future__ import annotations

import datetime as dt
import doctest
import warnings

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factorlab import calendar as cal
from factorlab.calendar import (
    COVERAGE_END,
    COVERAGE_START,
    HKEX_WEATHER_CLOSURES,
    RULE_CHANGE_2023,
    SH_CONNECT_LAUNCH,
    SZ_CONNECT_LAUNCH,
    is_session,
    next_session,
    previous_session,
    rebalance_dates,
    sessions,
)
from factorlab.errors import ParameterError

D = dt.date.fromisoformat
CALENDARS = ("ashare", "hkex", "northbound")


def member(day: str, calendar: str) -> bool:
    return D(day) in set(sessions(calendar, day, day).to_list())


# ------------------------------------------------------------------------------------------------
# shipped data


@pytest.mark.parametrize("calendar", CALENDARS)
def test_sessions_shape(calendar):
    s = sessions(calendar)
    assert s.name == "date"
    assert s.dtype == pl.Date
    assert s.is_sorted()
    assert s.n_unique() == len(s)
    assert s.null_count() == 0
    assert s.min() >= COVERAGE_START
    assert s.max() <= COVERAGE_END
    assert s.dt.weekday().max() <= 5  # no weekend sessions


# SSE trading days per year, as published (2015-2024 are widely quoted; 2014/2025/2026 from the
# SSE holiday announcements).
ASHARE_PER_YEAR = {
    2014: 245, 2015: 244, 2016: 244, 2017: 244, 2018: 243, 2019: 244, 2020: 243,
    2021: 243, 2022: 242, 2023: 242, 2024: 242, 2025: 243, 2026: 242,
}  # fmt: skip
# HKEX sessions per year: exchange_calendars XHKG minus the two missing 2023 weather closures;
# 2020 = 262 weekdays - 13 holidays - typhoon 2020-10-13, 2023 = 246 - 3 weather closures.
HKEX_PER_YEAR = {
    2014: 247, 2015: 247, 2016: 245, 2017: 246, 2018: 246, 2019: 246, 2020: 248,
    2021: 247, 2022: 246, 2023: 243, 2024: 246, 2025: 246, 2026: 247,
}  # fmt: skip


@pytest.mark.parametrize(
    ("calendar", "expected"), [("ashare", ASHARE_PER_YEAR), ("hkex", HKEX_PER_YEAR)]
)
def test_sessions_per_year(calendar, expected):
    counts = dict(sessions(calendar).dt.year().value_counts().iter_rows())
    assert counts == expected


def test_matches_exchange_calendars():
    xcals = pytest.importorskip("exchange_calendars")
    start, end = COVERAGE_START.isoformat(), COVERAGE_END.isoformat()
    with warnings.catch_warnings():  # exchange_calendars' own pandas deprecation warnings
        warnings.simplefilter("ignore")
        xshg = [t.date() for t in xcals.get_calendar("XSHG", start=start, end=end).sessions]
        xhkg = [t.date() for t in xcals.get_calendar("XHKG", start=start, end=end).sessions]
    assert sessions("ashare").to_list() == xshg
    assert sessions("hkex").to_list() == [d for d in xhkg if d not in HKEX_WEATHER_CLOSURES]


def test_known_holidays():
    # Spring Festival 2020, extended for Covid: Shanghai closed 2020-01-24 .. 2020-01-31
    a = sessions("ashare", "2020-01-20", "2020-02-07").to_list()
    assert D("2020-01-23") in a and D("2020-02-03") in a
    assert not [d for d in a if D("2020-01-24") <= d <= D("2020-01-31")]
    # Good Friday 2020: open in Shanghai, closed in Hong Kong
    assert member("2020-04-10", "ashare")
    assert not member("2020-04-10", "hkex")
    # Buddha's Birthday 2023-05-26: Hong Kong-only holiday
    assert member("2023-05-26", "ashare")
    assert not member("2023-05-26", "hkex")
    # National Day 2019: Shanghai closed all week, Hong Kong closed only on 1 Oct
    assert sessions("ashare", "2019-10-01", "2019-10-07").len() == 0
    hk = sessions("hkex", "2019-10-01", "2019-10-07").to_list()  # 2019-10-07 is Chung Yeung
    assert hk == [D("2019-10-02"), D("2019-10-03"), D("2019-10-04")]


def test_hkex_weather_days():
    for day in HKEX_WEATHER_CLOSURES:
        assert not member(day.isoformat(), "hkex")
        assert not member(day.isoformat(), "northbound")
    # morning session cancelled only: still a session; half days are sessions
    for day in ("2020-08-19", "2023-10-09", "2019-12-24", "2020-01-24"):
        assert member(day, "hkex")


# ------------------------------------------------------------------------------------------------
# northbound rule


def test_northbound_good_friday_2020():
    assert member("2020-04-08", "northbound")
    assert not member("2020-04-09", "northbound")  # next A-share day is an HK holiday
    assert not member("2020-04-10", "northbound")  # HK closed
    assert not member("2020-04-13", "northbound")  # Easter Monday, HK closed
    assert member("2020-04-14", "northbound")


def test_northbound_spring_festival_2020():
    assert sessions("northbound", "2020-01-24", "2020-01-31").len() == 0
    assert member("2020-01-23", "northbound")  # next A-share day 2020-02-03 is an HK session


def test_northbound_rule_change_2023():
    assert RULE_CHANGE_2023 == D("2023-04-24")
    # before: the day before an HK-only holiday is closed
    assert not member("2019-12-24", "northbound")  # before Christmas
    assert not member("2022-05-06", "northbound")  # before Buddha's Birthday 2022-05-09
    assert not member("2023-04-06", "northbound")  # before Good Friday 2023-04-07
    # after: every day both markets are open
    assert member("2023-05-25", "northbound")  # before Buddha's Birthday 2023-05-26
    assert member("2023-12-22", "northbound")  # before Christmas 2023
    assert not member("2023-05-26", "northbound")


def test_northbound_day_before_weather_closure_stays_open():
    assert member("2016-10-20", "northbound")  # typhoon Haima closed HKEX on 2016-10-21
    assert member("2021-10-12", "northbound")  # typhoon Kompasu closed HKEX on 2021-10-13


def test_northbound_matches_rule_brute_force():
    ashare = sessions("ashare").to_list()
    hkex = set(sessions("hkex").to_list())
    weather = set(HKEX_WEATHER_CLOSURES)
    expected = []
    for day, nxt in zip(ashare, [*ashare[1:], None], strict=True):
        if day not in hkex:
            continue
        if day < RULE_CHANGE_2023 and nxt is not None and nxt not in hkex and nxt not in weather:
            continue
        expected.append(day)
    assert sessions("northbound").to_list() == expected


def test_connect_launch_dates():
    assert SH_CONNECT_LAUNCH == D("2014-11-17")
    assert SZ_CONNECT_LAUNCH == D("2016-12-05")
    assert member("2014-11-17", "northbound")
    assert member("2016-12-05", "northbound")


# ------------------------------------------------------------------------------------------------
# is_session, previous / next


def test_is_session_series_and_expr():
    days = pl.Series(
        "d", [D("2020-04-09"), D("2020-04-10"), D("2020-04-11"), None, D("2013-12-31")]
    )
    assert is_session(days, "ashare").to_list() == [True, True, False, None, None]
    assert is_session(days, "hkex").to_list() == [True, False, False, None, None]
    assert is_session(days, "ashare").name == "d"
    out = pl.DataFrame({"d": days}).select(nb=is_session(pl.col("d"), "northbound"))
    assert out["nb"].to_list() == [False, False, False, None, None]


def test_previous_next_session():
    assert next_session("2020-01-23") == D("2020-02-03")
    assert previous_session("2020-02-03") == D("2020-01-23")
    assert next_session("2020-04-08", "northbound") == D("2020-04-14")
    assert previous_session("2020-04-14", "hkex") == D("2020-04-09")
    assert next_session(D("2020-04-11"), "ashare") == D("2020-04-13")  # non-session input
    assert previous_session(dt.datetime(2020, 4, 13, 15), "ashare") == D("2020-04-10")


def test_returned_series_is_a_copy():
    s = sessions("ashare")
    s[0] = D("2014-01-01")
    assert sessions("ashare")[0] == D("2014-01-02")


# ------------------------------------------------------------------------------------------------
# rebalance_dates


def test_weekly_anchors():
    # Friday 2020-04-10 is Good Friday: an A-share session, an HKEX holiday
    assert rebalance_dates("2020-04-06", "2020-04-10").to_list() == [D("2020-04-10")]
    assert rebalance_dates("2020-04-06", "2020-04-10", calendar="hkex").to_list() == [
        D("2020-04-09")
    ]
    # Dragon Boat 2020-06-25/26 (Thu/Fri) closed in Shanghai: anchor on Wednesday
    assert rebalance_dates("2020-06-22", "2020-06-28").to_list() == [D("2020-06-24")]
    # a week cut by `end` before its last session yields no anchor
    assert rebalance_dates("2020-04-01", "2020-04-09").to_list() == [D("2020-04-03")]
    fridays = rebalance_dates("2019-01-01", "2019-12-31").dt.weekday()
    assert (fridays == 5).mean() > 0.9


def test_monthly_anchors():
    assert rebalance_dates("2020-01-01", "2020-12-31", "monthly").to_list() == [
        D(x)
        for x in (
            "2020-01-23", "2020-02-28", "2020-03-31", "2020-04-30", "2020-05-29", "2020-06-30",
            "2020-07-31", "2020-08-31", "2020-09-30", "2020-10-30", "2020-11-30", "2020-12-31",
        )
    ]  # fmt: skip
    assert rebalance_dates("2020-01-01", "2021-12-31", "monthly", months=(5, 11)).to_list() == [
        D("2020-05-29"), D("2020-11-30"), D("2021-05-31"), D("2021-11-30"),
    ]  # fmt: skip
    assert rebalance_dates("2020-01-01", "2020-12-31", "monthly", months=[11, 5, 5]).len() == 2


def test_every_and_daily():
    weekly = rebalance_dates("2020-01-01", "2020-06-30")
    assert rebalance_dates("2020-01-01", "2020-06-30", every=2).to_list() == weekly[::2].to_list()
    assert rebalance_dates("2020-01-01", "2020-12-31", "monthly", every=3).to_list() == [
        D("2020-01-23"), D("2020-04-30"), D("2020-07-31"), D("2020-10-30"),
    ]  # fmt: skip
    daily = rebalance_dates("2020-04-01", "2020-04-30", "daily", calendar="northbound")
    assert daily.to_list() == sessions("northbound", "2020-04-01", "2020-04-30").to_list()


def week_of(day: dt.date) -> tuple[int, int]:
    return day.isocalendar()[:2]


@settings(max_examples=60, deadline=None)
@given(
    lo=st.dates(COVERAGE_START, COVERAGE_END),
    span=st.integers(0, 400),
    calendar=st.sampled_from(CALENDARS),
    freq=st.sampled_from(["weekly", "monthly"]),
    every=st.integers(1, 4),
)
def test_anchor_properties(lo, span, calendar, freq, every):
    hi = min(lo + dt.timedelta(days=span), COVERAGE_END)
    full = sessions(calendar).to_list()
    key = week_of if freq == "weekly" else (lambda d: (d.year, d.month))
    # an anchor is a session in [lo, hi] whose next session (full calendar) is in another period
    expected = [
        d
        for d, nxt in zip(full, [*full[1:], None], strict=True)
        if lo <= d <= hi and (nxt is None or key(nxt) != key(d))
    ]
    got = rebalance_dates(lo, hi, freq, calendar=calendar)
    assert got.to_list() == expected
    assert (
        rebalance_dates(lo, hi, freq, every=every, calendar=calendar).to_list() == expected[::every]
    )


# ------------------------------------------------------------------------------------------------
# errors


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: sessions("xlon"),
            "`calendar` must be one of 'ashare', 'hkex', 'northbound', 'nyse'",
        ),
        (lambda: sessions("ashare", "2013-12-31"), "`start` must lie within"),
        (lambda: sessions("ashare", None, "2027-01-04"), "`end` must lie within"),
        (lambda: sessions("ashare", "2020-02-01", "2020-01-01"), "must not be after"),
        (lambda: sessions("ashare", "2020/01/01"), "ISO date"),
        (lambda: sessions("ashare", 20200101), "datetime.date"),
        (lambda: is_session(pl.Series([D("2020-01-02")]), "hk"), "`calendar`"),
        (lambda: is_session([D("2020-01-02")]), "Series or Expr"),
        (lambda: rebalance_dates("2020-01-01", "2020-12-31", every=0), "`every`"),
        (lambda: rebalance_dates("2020-01-01", "2020-12-31", "monthly", months=(0, 6)), "1..12"),
        (lambda: rebalance_dates("2020-01-01", "2020-12-31", "monthly", months=(13,)), "1..12"),
        (lambda: rebalance_dates("2020-01-01", "2020-12-31", "monthly", months=()), "1..12"),
        (lambda: rebalance_dates("2020-01-01", "2020-12-31", months=(5,)), "freq='monthly'"),
        (lambda: rebalance_dates("2020-01-01", "2020-12-31", "quarterly"), "`freq`"),
        (lambda: previous_session("2014-01-02"), "no ashare session before"),
        (lambda: next_session("2026-12-31", "hkex"), "no hkex session after"),
        (lambda: next_session("2030-01-01"), "`d` must lie within"),
    ],
)
def test_errors(call, match):
    with pytest.raises(ParameterError, match=match):
        call()


def test_docstring_examples():
    results = doctest.testmod(cal, extraglobs={"pl": pl})
    assert results.attempted > 0
    assert results.failed == 0
