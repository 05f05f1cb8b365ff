"""qlib-style adapters: adjusted prices with a back-adjustment factor, suspended rows, and
membership intervals to point-in-time pools."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import polars as pl
import pytest

from factorlab.adapters import qlib
from factorlab.calendar import sessions
from factorlab.errors import AdapterError
from factorlab.schema import validate


def _frame() -> pd.DataFrame:
    # qlib D.features(...) shape: MultiIndex (instrument, datetime), $-prefixed adjusted fields
    raw_close = np.array([10.00, 10.21, 10.21, 9.87])
    factor = np.array([1.5, 1.5, 1.5, 1.62])
    idx = pd.MultiIndex.from_arrays(
        [
            ["SH600000"] * 4,
            pd.to_datetime(["2020-01-02", "2020-01-03", "2020-01-06", "2020-01-07"]),
        ],
        names=["instrument", "datetime"],
    )
    volume_raw = np.array([1000.0, 1200.0, 0.0, 900.0])  # 2020-01-06 suspended, price carried
    return pd.DataFrame(
        {
            "$open": raw_close * factor,
            "$high": (raw_close + 0.1) * factor,
            "$low": (raw_close - 0.1) * factor,
            "$close": raw_close * factor,
            "$volume": volume_raw / factor,
            "$factor": factor,
        },
        index=idx,
    )


def test_daily_unadjusts_and_drops_suspended():
    out = qlib.daily(_frame())
    validate("prices", out)
    assert out["date"].to_list() == [dt.date(2020, 1, 2), dt.date(2020, 1, 3), dt.date(2020, 1, 7)]
    assert out["close"].to_list() == pytest.approx([10.0, 10.21, 9.87])
    assert out["volume"].to_list() == pytest.approx([1000.0, 1200.0, 900.0])
    assert out["amount"].null_count() == 3  # absent, not proxied
    assert qlib.suspensions(_frame())["date"].to_list() == [dt.date(2020, 1, 6)]


def test_daily_detects_prices_already_raw():
    raw = _frame().assign(**{"$close": [10.0, 10.21, 10.21, 9.87]})
    with pytest.raises(AdapterError, match=r"0\.01 yuan tick.*adjusted=False"):
        qlib.daily(raw)


def test_per_instrument_frame_needs_instrument():
    per = _frame().reset_index().drop(columns="instrument")
    with pytest.raises(AdapterError, match="instrument="):
        qlib.daily(per)
    assert qlib.daily(per, instrument="SH600000")["asset"].unique().to_list() == ["600000.SH"]


def test_pools_from_intervals_point_in_time_and_contiguous():
    days = sessions("ashare", "2020-06-01", "2020-06-30")
    iv = pl.DataFrame(
        {
            "ts_code": ["600000.SH", "600000.SH", "000001.SZ"],
            "start_date": ["2020-06-01", "2020-06-12", "2020-06-15"],
            "end_date": ["2020-06-11", "2020-12-31", "2020-06-16"],  # contiguous segments
        }
    )
    out = qlib.pools_from_intervals(iv, "csi300", days)
    validate("pools", out)
    assert out.filter(pl.col("asset") == "600000.SH").height == days.len()
    assert out.filter(pl.col("asset") == "000001.SZ")["date"].to_list() == [
        dt.date(2020, 6, 15),
        dt.date(2020, 6, 16),
    ]


def test_qlib_instruments_file_shape():
    days = sessions("ashare", "2020-06-01", "2020-06-05")
    raw = pd.DataFrame([["SH600000", "2008-01-01", "2020-06-02"]])
    out = qlib.instruments(raw, "csi300", days)
    assert out["date"].to_list() == [dt.date(2020, 6, 1), dt.date(2020, 6, 2)]
