"""Trading calendars: A-share (SSE/SZSE), HKEX, NYSE and Stock Connect northbound trading days.

Sessions come from a small parquet file shipped with the package (see
``datasets/make_calendars.py``); this module adds the northbound rule and rebalancing anchors.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from typing import Literal, get_args

import polars as pl

from factorlab.errors import ParameterError
from factorlab.typing import CalendarName

__all__ = [
    "COVERAGE_END",
    "COVERAGE_START",
    "DISCLOSURE_END",
    "HKEX_WEATHER_CLOSURES",
    "RULE_CHANGE_2023",
    "SH_CONNECT_LAUNCH",
    "SZ_CONNECT_LAUNCH",
    "TRADING_DAYS",
    "CalendarName",
    "RebalanceFreq",
    "is_session",
    "next_session",
    "previous_session",
    "rebalance_dates",
    "sessions",
    "to_date",
]

RebalanceFreq = Literal["daily", "weekly", "monthly"]

#: First and last day covered by the shipped calendars (inclusive).
COVERAGE_START = dt.date(2014, 1, 1)
COVERAGE_END = dt.date(2026, 12, 31)

#: Shanghai-Hong Kong Stock Connect (沪股通) launch: first northbound trading day of the SH link.
SH_CONNECT_LAUNCH = dt.date(2014, 11, 17)
#: Shenzhen-Hong Kong Stock Connect (深股通) launch: first northbound trading day of the SZ link.
SZ_CONNECT_LAUNCH = dt.date(2016, 12, 5)
#: From this day on, northbound trading is open on every day both markets are open.
RULE_CHANGE_2023 = dt.date(2023, 4, 24)
#: Last day of daily per-stock northbound disclosure by HKEX (the 2024 change: quarterly
#: snapshots only afterwards).
DISCLOSURE_END = dt.date(2024, 8, 16)

#: Trading sessions per year used to annualize daily statistics (returns, IR, tracking cost).
TRADING_DAYS = 252

#: Unscheduled full-day HKEX closures (typhoon signal No. 8 or black rainstorm still in force at
#: noon) in the covered range. They are HKEX non-sessions in the shipped data; the day before one
#: was a normal northbound trading day, since the closure was not known in advance.
#: (Severe-weather trading started on 2024-09-23, so no closures are expected after that.)
HKEX_WEATHER_CLOSURES: tuple[dt.date, ...] = (
    dt.date(2016, 8, 2),  # typhoon Nida
    dt.date(2016, 10, 21),  # typhoon Haima
    dt.date(2017, 8, 23),  # typhoon Hato
    dt.date(2020, 10, 13),  # typhoon Nangka
    dt.date(2021, 10, 13),  # typhoon Kompasu
    dt.date(2023, 7, 17),  # typhoon Talim
    dt.date(2023, 9, 1),  # typhoon Saola
    dt.date(2023, 9, 8),  # black rainstorm
    dt.date(2024, 9, 6),  # typhoon Yagi
)

_DATA_FILE = "calendars.parquet"
_STORED_CALENDARS = ("ashare", "hkex", "nyse")


# ------------------------------------------------------------------------------------------------
# loading


@lru_cache(maxsize=1)
def _calendar_table() -> pl.DataFrame:
    """The shipped (calendar, date) table, read once."""
    source = resources.files("factorlab").joinpath("datasets", _DATA_FILE)
    with resources.as_file(source) as path:
        return pl.read_parquet(path)


@lru_cache(maxsize=len(get_args(CalendarName)))
def _all_sessions(calendar: str) -> pl.Series:
    """Every session of `calendar` over the covered range (sorted, unique, pl.Date)."""
    if calendar in _STORED_CALENDARS:
        table = _calendar_table()
        return table.filter(pl.col("calendar") == calendar)["date"].sort().rename("date")
    return _northbound_sessions()


def _northbound_sessions() -> pl.Series:
    ashare = _all_sessions("ashare")
    hkex = _all_sessions("hkex").implode()
    weather = pl.Series(HKEX_WEATHER_CLOSURES, dtype=pl.Date).implode()
    next_ashare = pl.col("date").shift(-1)
    settles_in_hk = next_ashare.is_null() | next_ashare.is_in(hkex) | next_ashare.is_in(weather)
    frame = pl.DataFrame({"date": ashare}).filter(
        pl.col("date").is_in(hkex),
        (pl.col("date") >= RULE_CHANGE_2023) | settles_in_hk,
    )
    return frame["date"]


# ------------------------------------------------------------------------------------------------
# argument checks


def _check_calendar(calendar: str) -> None:
    allowed = get_args(CalendarName)
    if calendar not in allowed:
        raise ParameterError(
            f"`calendar` must be one of {', '.join(repr(c) for c in allowed)}; got {calendar!r}."
        )


def to_date(value: dt.date | str, name: str) -> dt.date:
    """`value` as a ``datetime.date`` (a date, datetime or ISO string); a ParameterError naming
    `name` otherwise."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise ParameterError(
                f"`{name}` must be an ISO date like '2020-01-31'; got {value!r}."
            ) from None
    raise ParameterError(
        f"`{name}` must be a datetime.date or an ISO date string; got {type(value).__name__}."
    )


def _check_covered(day: dt.date, name: str) -> None:
    if not COVERAGE_START <= day <= COVERAGE_END:
        raise ParameterError(
            f"`{name}` must lie within the shipped calendars' range {COVERAGE_START} .. "
            f"{COVERAGE_END}; got {day}. Regenerate factorlab/datasets/calendars.parquet with "
            "datasets/make_calendars.py to extend it."
        )


def _resolve_range(
    start: dt.date | str | None, end: dt.date | str | None
) -> tuple[dt.date, dt.date]:
    lo = COVERAGE_START if start is None else to_date(start, "start")
    hi = COVERAGE_END if end is None else to_date(end, "end")
    _check_covered(lo, "start")
    _check_covered(hi, "end")
    if lo > hi:
        raise ParameterError(f"`start` must not be after `end`; got start={lo}, end={hi}.")
    return lo, hi


# ------------------------------------------------------------------------------------------------
# public API


def sessions(
    calendar: CalendarName = "ashare",
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
) -> pl.Series:
    """Trading days of `calendar` within ``[start, end]`` (both inclusive).

    Calendars:

    - ``"ashare"``: Shanghai Stock Exchange sessions (the Shenzhen exchange has the same ones).
    - ``"hkex"``: Hong Kong Stock Exchange sessions; half days (Christmas Eve, New Year's Eve,
      Lunar New Year's Eve) are sessions, as are days whose morning session was cancelled by
      severe weather. Full-day weather closures (:data:`HKEX_WEATHER_CLOSURES`) are not sessions.
    - ``"northbound"``: Stock Connect northbound trading days. A day ``d`` is one when it is an
      A-share session and an HKEX session, and, if ``d < RULE_CHANGE_2023`` (2023-04-24), the
      next A-share session after ``d`` is an HKEX session too. Before that date the RMB money of
      a northbound trade settled on the next day, which had to be a Hong Kong business day, so
      the day before each Hong Kong holiday falling on a mainland trading day was closed (e.g.
      Thursday 2020-04-09 before Good Friday). The day before an unscheduled weather closure
      (:data:`HKEX_WEATHER_CLOSURES`) stays open: the closure was not known in advance. This is a
      pure calendar rule over the whole covered range; the links themselves opened on
      :data:`SH_CONNECT_LAUNCH` and :data:`SZ_CONNECT_LAUNCH`.
    - ``"nyse"``: New York Stock Exchange sessions (the US sector ETFs of seed 003; NYSE Arca
      keeps the same days). Early closes are sessions; ad hoc closures (2018-12-05,
      2025-01-09) are not.

    Parameters
    ----------
    calendar
        ``"ashare"``, ``"hkex"``, ``"northbound"`` or ``"nyse"``.
    start, end
        Inclusive bounds, as ``datetime.date`` or ISO strings; ``None`` means the edge of the
        covered range, 2014-01-01 .. 2026-12-31.

    Returns
    -------
    pl.Series
        Sorted, unique ``pl.Date`` series named ``"date"``.

    Raises
    ------
    ParameterError
        Unknown `calendar`, unparsable dates, bounds outside the covered range, or
        ``start > end``.

    Examples
    --------
    >>> sessions("northbound", "2020-04-06", "2020-04-14").to_list()
    [datetime.date(2020, 4, 7), datetime.date(2020, 4, 8), datetime.date(2020, 4, 14)]
    """
    _check_calendar(calendar)
    lo, hi = _resolve_range(start, end)
    days = _all_sessions(calendar)
    return days.filter((days >= lo) & (days <= hi))


def is_session(
    dates: pl.Series | pl.Expr, calendar: CalendarName = "ashare"
) -> pl.Series | pl.Expr:
    """Whether each date is a trading day of `calendar`.

    Nulls and out-of-range dates: a null date, or a date outside the covered range
    2014-01-01 .. 2026-12-31, gives null (unknown), never ``False``.

    Parameters
    ----------
    dates
        A ``pl.Date`` Series, or an expression evaluating to dates (e.g. ``pl.col("date")``).
    calendar
        ``"ashare"``, ``"hkex"``, ``"northbound"`` or ``"nyse"``; see :func:`sessions`.

    Returns
    -------
    pl.Series | pl.Expr
        Boolean, of the same kind as `dates`.

    Examples
    --------
    >>> import datetime as dt
    >>> s = pl.Series("date", [dt.date(2020, 4, 9), dt.date(2020, 4, 10)])
    >>> is_session(s, "ashare").to_list(), is_session(s, "hkex").to_list()
    ([True, True], [True, False])
    """
    _check_calendar(calendar)
    days = _all_sessions(calendar).implode()
    if isinstance(dates, pl.Series):
        return pl.select(_membership(pl.lit(dates), days)).to_series().rename(dates.name)
    if isinstance(dates, pl.Expr):
        return _membership(dates, days)
    raise ParameterError(f"`dates` must be a polars Series or Expr; got {type(dates).__name__}.")


def _membership(dates: pl.Expr, days: pl.Series) -> pl.Expr:
    covered = dates.is_between(pl.lit(COVERAGE_START), pl.lit(COVERAGE_END))
    return pl.when(covered).then(dates.is_in(days)).otherwise(None)


def rebalance_dates(
    start: dt.date | str | None,
    end: dt.date | str | None,
    freq: RebalanceFreq = "weekly",
    *,
    every: int = 1,
    months: Sequence[int] | None = None,
    calendar: CalendarName = "ashare",
) -> pl.Series:
    """Rebalancing anchors: the last session of each period, within ``[start, end]``.

    A period's anchor is its last session per the *full* calendar, and it is kept only if it
    lies within ``[start, end]``; so a week cut by `end` before its last session yields no
    anchor (never a truncated one). Periods: ``"daily"`` (every session), ``"weekly"``
    (ISO week, Monday to Sunday: usually the Friday, else the last session before a Friday
    holiday) and ``"monthly"`` (calendar month). `months` then keeps the month-end anchors of
    those months only (``(5, 11)`` for semi-annual re-classification), and `every` keeps every
    k-th remaining anchor, starting from the first. 2026-12-31 is treated as the last session of
    its week (it is: 2027-01-01 is a holiday in both markets).

    Parameters
    ----------
    start, end
        Inclusive bounds (``datetime.date``, ISO string, or ``None`` for the coverage edge).
    freq
        ``"daily"``, ``"weekly"`` or ``"monthly"``.
    every
        Keep every `every`-th anchor (>= 1).
    months
        Months (1..12) whose month-end anchors to keep; only with ``freq="monthly"``.
    calendar
        ``"ashare"``, ``"hkex"``, ``"northbound"`` or ``"nyse"``; see :func:`sessions`.

    Returns
    -------
    pl.Series
        Sorted ``pl.Date`` series named ``"date"``.

    Raises
    ------
    ParameterError
        Bad `freq`, ``every < 1``, `months` outside 1..12 or with a freq other than
        ``"monthly"``, and every error of :func:`sessions`.

    Examples
    --------
    >>> rebalance_dates("2020-03-30", "2020-04-30", "weekly").to_list()
    [datetime.date(2020, 4, 3), datetime.date(2020, 4, 10), datetime.date(2020, 4, 17), datetime.date(2020, 4, 24), datetime.date(2020, 4, 30)]
    """  # noqa: E501
    _check_calendar(calendar)
    if freq not in get_args(RebalanceFreq):
        raise ParameterError(f"`freq` must be one of 'daily', 'weekly', 'monthly'; got {freq!r}.")
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ParameterError(f"`every` must be an integer >= 1; got {every!r}.")
    if months is not None:
        if freq != "monthly":
            raise ParameterError(
                f"`months` only applies to freq='monthly'; got freq={freq!r}. Drop `months` "
                "or use freq='monthly'."
            )
        bad = [
            m for m in months if isinstance(m, bool) or not isinstance(m, int) or not 1 <= m <= 12
        ]
        if bad or len(months) == 0:
            raise ParameterError(
                f"`months` must be a non-empty sequence of integers 1..12; got {list(months)!r}."
            )
    lo, hi = _resolve_range(start, end)

    days = _all_sessions(calendar)
    if freq == "daily":
        anchors = days
    else:
        period = days.dt.truncate("1w" if freq == "weekly" else "1mo")
        anchors = days.filter((period != period.shift(-1)).fill_null(True))
    anchors = anchors.filter((anchors >= lo) & (anchors <= hi))
    if months is not None:
        anchors = anchors.filter(anchors.dt.month().is_in(sorted(set(months))))
    return anchors.gather_every(every)


def previous_session(d: dt.date | str, calendar: CalendarName = "ashare") -> dt.date:
    """The last session of `calendar` strictly before `d`.

    Parameters
    ----------
    d
        A day within the covered range (need not be a session).
    calendar
        ``"ashare"``, ``"hkex"``, ``"northbound"`` or ``"nyse"``; see :func:`sessions`.

    Raises
    ------
    ParameterError
        `d` outside the covered range, or no session before it in the covered range.

    Examples
    --------
    >>> previous_session("2020-04-14", "hkex")
    datetime.date(2020, 4, 9)
    """
    _check_calendar(calendar)
    day = to_date(d, "d")
    _check_covered(day, "d")
    days = _all_sessions(calendar)
    pos = days.search_sorted(day, side="left")
    if pos == 0:
        raise ParameterError(
            f"no {calendar} session before {day} within the covered range starting "
            f"{COVERAGE_START}."
        )
    return days[pos - 1]


def next_session(d: dt.date | str, calendar: CalendarName = "ashare") -> dt.date:
    """The first session of `calendar` strictly after `d`.

    Use it to say "data of day t is usable from the next session on".

    Parameters
    ----------
    d
        A day within the covered range (need not be a session).
    calendar
        ``"ashare"``, ``"hkex"``, ``"northbound"`` or ``"nyse"``; see :func:`sessions`.

    Raises
    ------
    ParameterError
        `d` outside the covered range, or no session after it in the covered range.

    Examples
    --------
    >>> next_session("2020-01-23", "ashare")
    datetime.date(2020, 2, 3)
    """
    _check_calendar(calendar)
    day = to_date(d, "d")
    _check_covered(day, "d")
    days = _all_sessions(calendar)
    pos = days.search_sorted(day, side="right")
    if pos == len(days):
        raise ParameterError(
            f"no {calendar} session after {day} within the covered range ending {COVERAGE_END}."
        )
    return days[pos]
