"""The participant split can take the hygiene's raw close and VWAP grids instead of reading the
prices again (the study hands them over): the same change rows, daily aggregates and flows, bit
for bit; grids that do not span the holdings' days are not used."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from factorlab.grid import GridIndex
from factorlab.market import Market
from factorlab.northbound.hygiene import research_panel
from factorlab.northbound.participants import (
    classify_participants,
    participant_changes,
    participant_flows,
)


@pytest.fixture(scope="module")
def handed(small_market: Market) -> tuple:
    """The hygiene's grids as the study copies them, and how often the hygiene called back."""
    got = []

    def keep(index, close, vwap) -> None:
        got.append((index, close.copy(), vwap.copy()))

    panel = research_panel(small_market, price_grid=True, on_price_grids=keep)
    assert len(got) == 1
    return got[0], panel


def _bits(a: np.ndarray, b: np.ndarray) -> None:
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_array_equal(a[~np.isnan(a)].view(np.int64), b[~np.isnan(b)].view(np.int64))


def test_the_hand_over_is_the_raw_prices_of_the_window(small_market: Market, handed) -> None:
    (index, close, vwap), panel = handed
    # the raw close at each panel row's cell (the grid handed over is unadjusted)
    cells = index.cells(panel.frame)
    np.testing.assert_array_equal(index.gather(close, cells), panel.frame["close"].to_numpy())
    vw = panel.frame["vwap"].fill_null(np.nan).to_numpy()
    _bits(index.gather(vwap, cells), vw)


def test_split_with_given_grids_equals_reading_the_prices(small_market: Market, handed) -> None:
    grids, _ = handed
    own = participant_changes(small_market)
    days = own.days.to_numpy().astype("datetime64[D]")
    assert grids[0].dates[0] <= days[0] and days[-1] <= grids[0].dates[-1]  # they are used
    given = participant_changes(small_market, price_grids=lambda: grids)
    _bits(given.rows.close, own.rows.close)
    _bits(given.rows.vwap, own.rows.vwap)
    assert_frame_equal(given.frame, own.frame)
    a = classify_participants(small_market, changes=own)
    b = classify_participants(small_market, changes=given)
    assert_frame_equal(a.history, b.history)
    assert_frame_equal(participant_flows(small_market, a), participant_flows(small_market, b))


def test_grids_not_spanning_the_holdings_days_are_not_used(small_market: Market, handed) -> None:
    own = participant_changes(small_market)
    first = own.days.min()
    # a hygiene window starting after the holdings' first day: its grids cannot serve
    later = small_market.prices.filter(pl.col("date") > first + dt.timedelta(days=30))
    short = GridIndex.from_frame(later.select("date", "asset"))
    poisoned = (short, np.full(short.shape, 7.0), np.full(short.shape, 7.0))
    given = participant_changes(small_market, price_grids=lambda: poisoned)
    _bits(given.rows.close, own.rows.close)
    # None (e.g. the hygiene failed): the prices are read
    none = participant_changes(small_market, price_grids=lambda: None)
    _bits(none.rows.vwap, own.rows.vwap)


def test_a_hygiene_error_does_not_leave_the_split_waiting(small_market: Market) -> None:
    """The split waits for the hygiene's grids; when the hygiene fails first, it is told to read
    the prices itself, and the study raises the hygiene's error (no hang)."""
    import threading

    from factorlab.errors import FactorLabError
    from factorlab.northbound.study import factor_study

    caught: list[BaseException] = []

    def run() -> None:
        try:
            factor_study(small_market, start="2099-01-01", cache=False, progress=None)
        except BaseException as exc:  # handed to the test thread
            caught.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=300)
    assert not worker.is_alive(), "the study hung"
    assert len(caught) == 1 and isinstance(caught[0], FactorLabError)
    assert "start" in str(caught[0])
