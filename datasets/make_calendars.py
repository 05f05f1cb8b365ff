"""Regenerate ``factorlab/datasets/calendars.parquet``: real A-share, HKEX and NYSE sessions.

Dev-only (exchange_calendars is not a runtime dependency of factorlab). Regenerate with::

    pip install -e ".[calendars]"          # exchange-calendars>=4.5
    python datasets/make_calendars.py      # writes factorlab/datasets/calendars.parquet

and commit the parquet. The file holds two columns, ``calendar`` (String: ``"ashare"``,
``"hkex"`` or ``"nyse"``) and ``date`` (``pl.Date``), sorted by both, for 2014-01-01 ..
2026-12-31 (the range is ``factorlab.calendar.COVERAGE_START`` / ``COVERAGE_END``).

Sources (exchange_calendars 4.13.2 when last generated):

- ``"ashare"``: exchange_calendars ``XSHG`` (Shanghai Stock Exchange), whose holidays are
  hard-coded from the SSE's yearly announcements up to and including 2026. The Shenzhen exchange
  keeps the same sessions, so one calendar serves both.
- ``"hkex"``: exchange_calendars ``XHKG`` (Stock Exchange of Hong Kong). Half days (Christmas
  Eve, New Year's Eve, Lunar New Year's Eve) are sessions, as are days on which only the morning
  session was cancelled by weather (e.g. 2020-08-19, 2023-10-09). Its future holidays are
  computed by rule, not announced ones; 2026 matches the gazetted Hong Kong general holidays.

Known gaps and fixes:

- exchange_calendars lists most unscheduled full-day HKEX weather closures (typhoon signal No. 8
  or black rainstorm still in force at noon) as ad hoc holidays: 2016-08-02, 2016-10-21,
  2017-08-23, 2020-10-13, 2021-10-13, 2023-07-17, 2024-09-06. Version 4.13.2 misses two, which
  HKEX's own notices confirm as full-day closures: 2023-09-01 (typhoon Saola,
  https://www.hkex.com.hk/News/Market-Communications/2023/2309012news) and 2023-09-08 (black
  rainstorm, https://www.hkex.com.hk/News/Market-Communications/2023/2309083news); see
  exchange_calendars issue #600. This script removes every date of
  ``factorlab.calendar.HKEX_WEATHER_CLOSURES`` from the HKEX sessions, which is a no-op for the
  ones exchange_calendars already has. Since 2024-09-23 HKEX trades through severe weather.
- ``"nyse"``: exchange_calendars ``XNYS`` (New York Stock Exchange; the US sector ETFs of seed
  003 trade there, NYSE Arca having the same sessions). Holidays by rule (New Year, MLK, Presidents,
  Good Friday, Memorial, Juneteenth from 2022, Independence, Labor, Thanksgiving, Christmas, with
  the weekend observance rules) plus the ad hoc closures it lists (2018-12-05 President Bush's
  funeral, 2025-01-09 President Carter's day of mourning). Early closes (13:00) are sessions.

- Late openings after weather (morning session cancelled) are not distinguished: such days are
  ordinary sessions here.
- Northbound trading days are not stored; ``factorlab.calendar`` derives them from these two.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import exchange_calendars as xcals
import polars as pl

from factorlab.calendar import COVERAGE_END, COVERAGE_START, HKEX_WEATHER_CLOSURES

OUTPUT = Path(__file__).resolve().parents[1] / "factorlab" / "datasets" / "calendars.parquet"
SOURCES = {"ashare": "XSHG", "hkex": "XHKG", "nyse": "XNYS"}


def exchange_sessions(code: str) -> list[dt.date]:
    """Sessions of an exchange_calendars calendar over the covered range."""
    cal = xcals.get_calendar(code, start=COVERAGE_START.isoformat(), end=COVERAGE_END.isoformat())
    if cal.last_session.date() < COVERAGE_END:
        raise SystemExit(
            f"exchange_calendars {code} ends {cal.last_session.date()}, before {COVERAGE_END}; "
            "upgrade exchange-calendars or lower COVERAGE_END."
        )
    return [ts.date() for ts in cal.sessions]


def build() -> pl.DataFrame:
    """The (calendar, date) table to ship."""
    frames = []
    for name, code in SOURCES.items():
        days = exchange_sessions(code)
        if name == "hkex":
            closed = set(HKEX_WEATHER_CLOSURES)
            days = [d for d in days if d not in closed]
        frames.append(
            pl.DataFrame({"calendar": name, "date": days}, schema_overrides={"date": pl.Date})
        )
    return pl.concat(frames).sort("calendar", "date")


def main() -> None:
    table = build()
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    table.write_parquet(OUTPUT, compression="zstd", compression_level=22, statistics=False)
    counts = table.group_by("calendar").len().sort("calendar").rows()
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size} bytes): {counts}")


if __name__ == "__main__":
    main()
