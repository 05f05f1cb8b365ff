"""qlib-style data -> canonical tables: per-instrument daily frames with a back-adjustment factor,
and instrument files (membership intervals) -> point-in-time pools.

qlib stores adjusted prices and a ``factor`` (https://qlib.readthedocs.io/en/latest/component/
data.html: "$factor: the adjustment factor, raw price = adjusted price / factor"); volume is
adjusted the other way (adjusted volume = raw volume / factor).
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import polars as pl

from factorlab.adapters._common import (
    check_range,
    check_ratio,
    dedupe,
    drop_beijing,
    drop_rows,
    finish,
    parse_codes,
    parse_dates,
    parse_floats,
    require_columns,
    source_frame,
)
from factorlab.errors import AdapterError
from factorlab.pools import from_intervals

__all__ = ["daily", "instruments", "pools_from_intervals", "suspensions"]

_PRICE_TICK = 0.01  # A-share stock price tick, yuan
_TICK_TOLERANCE = 0.001
_TICK_SHARE = 0.8  # share of raw closes that must sit on the 0.01 grid
_VWAP_TOLERANCE = 0.05  # implied VWAP may sit 5% outside low..high (rounding, odd lots)


def _col(df: pl.DataFrame, *names: str) -> str | None:
    return next((n for n in names if n in df.columns), None)


def _parse(
    frame: Any, instrument: str | None, adjusted: bool, check_tick: bool, source: str
) -> pl.DataFrame:
    df = source_frame(frame, source)
    df = df.rename({c: c[1:] for c in df.columns if c.startswith("$")})
    date_col = _col(df, "datetime", "date", "trade_date")
    code_col = _col(df, "instrument", "symbol", "code", "ts_code")
    need = {
        "open": "price",
        "high": "price",
        "low": "price",
        "close": "price",
        "volume": "shares",
        "factor": "back-adjustment factor",
    }
    if date_col is None:
        need["datetime"] = "date"
    require_columns(df, source, need)
    if code_col is None and instrument is None:
        raise AdapterError(
            f"{source}: the frame has no `instrument` / `symbol` column; pass "
            "instrument='SH600519' (per-instrument frames).",
            source=source,
            column="instrument",
        )
    nums = ["open", "high", "low", "close", "volume", "factor"]
    amount_col = _col(df, "amount", "money")
    df = parse_floats(df, [*nums, *([amount_col] if amount_col else [])], source)
    check_range(df, "factor", source, lo=1e-12, unit="a positive factor", show=[date_col or ""])
    if code_col is None:
        df = df.with_columns(pl.lit(instrument).alias("_code"))
        code_col = "_code"
    df = drop_beijing(df, code_col, source, show=[code_col, date_col or code_col])
    assert date_col is not None
    df = df.with_columns(
        parse_dates(df, date_col, source).alias("date"),
        parse_codes(df, code_col, source).alias("asset"),
    )
    f = pl.col("factor")
    prices = ["open", "high", "low", "close"]
    if adjusted:
        df = df.with_columns(
            *[(pl.col(c) / f).alias(c) for c in prices], (pl.col("volume") * f).alias("volume")
        )
    if check_tick:
        close = df.get_column("close").drop_nulls()
        if close.len():
            off = (close / _PRICE_TICK - (close / _PRICE_TICK).round()).abs() * _PRICE_TICK
            share = float((off <= _TICK_TOLERANCE).mean())
            if share < _TICK_SHARE:
                state = "adjusted" if adjusted else "raw"
                other = "adjusted=False" if adjusted else "adjusted=True"
                raise AdapterError(
                    f"{source}: column `close` treated as {state} gives raw closes off the 0.01 "
                    f"yuan tick on {1 - share:.0%} of rows (e.g. {close.head(3).to_list()}); "
                    f"expected qlib's adjusted prices with raw = adjusted / factor. If the "
                    f"prices are already raw, pass {other}; for instruments with another tick "
                    "pass check_tick=False.",
                    source=source,
                    column="close",
                )
    if amount_col:
        _check_amount(df, amount_col, source)
    cols = ["date", "asset", *prices, "volume", pl.col("factor").alias("adj_factor")]
    if amount_col:
        cols.append(pl.col(amount_col).alias("amount"))
    else:
        cols.append(pl.lit(None, pl.Float64).alias("amount"))
    out = df.select(cols)
    return dedupe(out, ["date", "asset"], source)


def _check_amount(df: pl.DataFrame, amount_col: str, source: str) -> None:
    """qlib's amount must be yuan: amount / raw volume (the VWAP) within the day's raw
    low..high (5 % tolerance) on 90 % of traded rows. qlib's Yahoo collector divides every
    column by the first close ("standardized according to the close of the first day"), so a
    money column that went through it fails here instead of entering as yuan."""
    t = _VWAP_TOLERANCE
    vwap = pl.col(amount_col) / pl.col("volume")
    check_ratio(
        df.filter(pl.col("volume") > 0, pl.col(amount_col) > 0),
        pl.when(vwap < pl.col("low") * (1 - t))
        .then(vwap / pl.col("low"))
        .when(vwap > pl.col("high") * (1 + t))
        .then(vwap / pl.col("high"))
        .otherwise(1.0),
        amount_col,
        source,
        expected=f"VWAP {amount_col} / raw volume relative to the day's raw low..high (yuan; "
        "a column scaled by qlib's collector is not)",
        lo=1 - t,
        hi=1 + t,
        show=["date", "asset", "close", "volume"],
    )


def _suspended() -> pl.Expr:
    price_missing = pl.any_horizontal(pl.col("open", "high", "low", "close").is_null())
    return price_missing | pl.col("volume").is_null() | (pl.col("volume") <= 0)


def daily(
    frame: Any,
    *,
    instrument: str | None = None,
    adjusted: bool = True,
    check_tick: bool = True,
) -> pl.DataFrame:
    """The canonical ``prices`` table from a qlib-style daily frame.

    ================================  ===========  ===========  ==============================
    source column                     unit         canonical    conversion
    ================================  ===========  ===========  ==============================
    instrument / symbol (or the       SH600519     asset        normalized -> 600519.SH
    `instrument` argument)
    datetime / date                   date         date         parsed
    $open $high $low $close (``$``    adjusted     open ...     / factor -> raw yuan
    optional)                         yuan                      (``adjusted=False``: as is)
    $volume                           adjusted     volume       x factor -> raw shares
                                      shares                    (``adjusted=False``: as is)
    $factor                           factor       adj_factor   none (adjusted = raw x factor)
    $amount / $money (optional)       yuan         amount       none (unit-checked); null when
                                                                absent
    ================================  ===========  ===========  ==============================

    Suspended rows (a null price, or volume 0 / null with the price carried forward) are left
    out: a missing row means not trading (list them with :func:`suspensions`). ``float_shares``
    and ``total_shares`` are null and ``is_st`` False (qlib has neither). Unit check
    (``check_tick``): raw closes must sit on the 0.01-yuan tick, which catches prices that were
    already raw (or a factor applied the wrong way).

    Examples
    --------
    >>> raw = pl.DataFrame({"datetime": ["2020-01-02"], "$open": [10.2], "$high": [10.6],
    ...     "$low": [10.0], "$close": [10.4], "$volume": [500.0], "$factor": [2.0]})
    >>> daily(raw, instrument="SH600000").select("asset", "close", "volume", "adj_factor").row(0)
    ('600000.SH', 5.2, 1000.0, 2.0)
    """
    source = "qlib daily"
    out = drop_rows(
        _parse(frame, instrument, adjusted, check_tick, source),
        _suspended(),
        source,
        reason="suspended days (returned by qlib.suspensions instead)",
        level=logging.INFO,
    )
    out = out.with_columns(
        pl.lit(None, pl.Float64).alias("float_shares"),
        pl.lit(None, pl.Float64).alias("total_shares"),
        pl.lit(False).alias("is_st"),
    )
    return finish("prices", out, source)


def suspensions(
    frame: Any,
    *,
    instrument: str | None = None,
    adjusted: bool = True,
    check_tick: bool = True,
) -> pl.DataFrame:
    """The ``suspensions`` table: the rows of a qlib-style frame that :func:`daily` leaves out."""
    source = "qlib daily"
    out = _parse(frame, instrument, adjusted, check_tick, source).filter(_suspended())
    return finish("suspensions", out.select("date", "asset"), source)


def pools_from_intervals(
    intervals: Any,
    pool: str,
    days: pl.Series,
    *,
    code: str = "ts_code",
    start: str = "start_date",
    end: str = "end_date",
) -> pl.DataFrame:
    """Point-in-time ``pools`` rows from membership intervals (inclusive start and end).

    Delegates to :func:`factorlab.pools.from_intervals` (the one implementation) and returns its
    ``pools`` rows; rows whose code is not an A-share code (e.g. ``T00018.SH`` in old CSI 300
    files) are left out and logged as a WARNING on the ``factorlab.pools`` logger by reason (call
    ``from_intervals`` for the report as a frame).

    Examples
    --------
    >>> import datetime as dt
    >>> days = pl.Series([dt.date(2020, 1, d) for d in (2, 3, 6)])
    >>> iv = pl.DataFrame({"ts_code": ["600000.SH"], "start_date": ["2020-01-03"],
    ...                    "end_date": ["2020-01-31"]})
    >>> pools_from_intervals(iv, "csi300", days)["date"].to_list()
    [datetime.date(2020, 1, 3), datetime.date(2020, 1, 6)]
    """
    return from_intervals(intervals, pool, days, code=code, start=start, end=end).pools


def instruments(
    frame: Any, pool: str, days: pl.Series, *, kind: Literal["qlib", "columns"] = "qlib"
) -> pl.DataFrame:
    """``pools`` rows from a qlib instruments file (``instruments/csi300.txt``: tab-separated
    ``SH600000  2008-01-01  2020-12-31`` without header, read as three columns) or any frame with
    ``ts_code, start_date, end_date`` (``kind="columns"``)."""
    df = source_frame(frame, "qlib instruments")
    if kind == "qlib":
        if df.width < 3:
            raise AdapterError(
                "qlib instruments: expected three columns (instrument, start, "
                f"end); got {df.width}.",
                source="qlib instruments",
            )
        df = df.select(df.columns[:3]).rename(
            dict(zip(df.columns[:3], ["ts_code", "start_date", "end_date"], strict=True))
        )
    return pools_from_intervals(df, pool, days)
