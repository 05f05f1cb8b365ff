"""Bad input: a clear FactorLabError naming what and where, before any computation."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from _books import days, long_frame, prices_frame, targets

from factorlab.backtest import Costs, backtest
from factorlab.errors import (
    AssetCodeError,
    CalendarError,
    DuplicateKeyError,
    FactorLabError,
    MissingColumnError,
    ParameterError,
    ValueRangeError,
)
from factorlab.grid import AssetGrid

D = days(4)
A, B = "600000.SH", "600001.SH"


@pytest.fixture(scope="module")
def grid():
    stocks = AssetGrid.from_prices(prices_frame({A: [10.0] * 4, B: [10.0] * 4}, D))
    etfs = AssetGrid.from_etfs(long_frame("etf", {"510300.SH": [1.0] * 4}, D))
    idx = AssetGrid.from_indices(long_frame("index", {"csi300": [4000.0] * 4}, D))
    return AssetGrid.combine(stocks, etfs, idx)


OK = targets([(D[0], A, 1.0)])


@pytest.mark.parametrize(
    ("frame", "error", "match"),
    [
        (
            targets([(dt.date(2020, 1, 4), A, 1.0)]),
            CalendarError,
            r"table `targets`: 1 signal date\(s\) in column `date` are not sessions of the "
            r"grid.*2020-01-04",
        ),
        (
            targets([(D[0], A, 1.0), (D[0], "600519.SH", 1.0)]),
            AssetCodeError,
            r"table `targets`: 1 asset\(s\) in column `asset` are not in the grid.*600519.SH",
        ),
        (targets([(D[0], "600519", 1.0)]), AssetCodeError, r"0 of 1 `targets` rows match.*600519"),
        (
            targets([(D[0], "csi300", 1.0)]),
            ParameterError,
            r"index\(es\) \['csi300'\] cannot be held.*tracking_bps",
        ),
        (
            targets([(D[0], A, float("nan"))]),
            ValueRangeError,
            r"column `weight` holds 1 null/NaN/infinite weight.*600000.SH",
        ),
        (
            targets([(D[0], A, 1.0), (D[0], B, -0.5)]),
            ValueRangeError,
            r"1 negative weight\(s\) in a long-only book.*600001.SH.*book='long_short'",
        ),
        (
            targets([(D[0], A, 1.0), (D[0], A, 2.0)]),
            DuplicateKeyError,
            r"table `targets` has 1 duplicate.*600000.SH",
        ),
        (OK.drop("weight"), MissingColumnError, r"table `targets` has no column\(s\) `weight`"),
    ],
)
def test_bad_targets(grid, frame, error, match):
    with pytest.raises(error, match=match):
        backtest(grid, frame, entry="close")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"capital": 0.0}, r"`capital` must be > 0 yuan.*got 0.0"),
        ({"capital": -5.0}, r"`capital` must be > 0 yuan.*got -5.0"),
        ({"capital": None, "lots": 100}, r"`lots=100` needs a `capital`"),
        ({"capital": None, "costs": Costs()}, r"min_commission=5.0.*needs a `capital`"),
        ({"lots": 0}, r"`lots` must be a positive number of shares"),
        ({"entry": "open"}, r"`entry` must be one of .*'next_close'.*got 'open'"),
        ({"rebalance": "partial"}, r"`rebalance` must be 'full' or 'difference'"),
        ({"book": "short"}, r"`book` must be 'long_only' or 'long_short'"),
        ({"cash_buffer": 1.0}, r"`cash_buffer` must be in \[0, 1\)"),
        ({"costs": 0.001}, r"`costs` must be a factorlab.backtest.Costs"),
    ],
)
def test_bad_options(grid, kwargs, match):
    kwargs = {"entry": "close", **kwargs}
    with pytest.raises(ParameterError, match=match):
        backtest(grid, OK, **kwargs)


def test_close_only_kinds_refuse_next_open_and_suggest_next_close(grid):
    tg = targets([(D[0], "510300.SH", 1.0)])
    with pytest.raises(
        ParameterError,
        match=r"`entry='next_open'`: etf assets have no open.*'510300.SH'.*next_close",
    ):
        backtest(grid, tg, entry="next_open")
    assert backtest(grid, tg, entry="next_close").trades["date"].to_list() == [D[1]]


def test_long_short_needs_both_legs(grid):
    with pytest.raises(
        ParameterError, match=r"dollar-neutral.*1 date\(s\) have one leg only.*2020-01-02"
    ):
        backtest(grid, OK, entry="close", book="long_short")


def test_bad_costs_and_grid():
    with pytest.raises(
        ParameterError, match=r"`Costs.min_commission` must be finite and >= 0; got -1"
    ):
        Costs(min_commission=-1)
    with pytest.raises(ParameterError, match=r"`Costs.stamp_duty` must be a rate"):
        Costs(stamp_duty=0.5)
    with pytest.raises(
        ParameterError, match=r"`grid` must be a factorlab.grid.AssetGrid.*got DataFrame"
    ):
        backtest(pl.DataFrame(), OK)


def test_pandas_targets_are_accepted(grid):
    res = backtest(grid, OK.to_pandas(), entry="close")
    assert res.trades["asset"].to_list() == [A]


def test_every_error_is_a_factorlab_error():
    for err in (AssetCodeError, CalendarError, DuplicateKeyError, ParameterError, ValueRangeError):
        assert issubclass(err, FactorLabError)
