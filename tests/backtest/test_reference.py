"""With zero costs and fractional shares the backtester equals an independent pandas book, and
the values the retired research reference (``simulate_portfolio``, removed when the study moved
onto the backtester) gave on a synthetic market, pinned below."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest
from _books import days, prices_frame, retired_reference_prices, targets

from factorlab.backtest import backtest, quantile_targets
from factorlab.grid import AssetGrid

D = days(6)
CLOSE = {  # moves within the 10% limits
    "600000.SH": [10.0, 10.5, 11.03, 11.03, 11.6, 11.3],
    "600001.SH": [20.0, 20.0, 21.0, 22.05, 22.05, 23.15],
    "600002.SH": [5.0, 5.0, 5.25, 5.25, 5.51, 5.51],
}
OPEN = {
    "600000.SH": [10.0, 10.4, 10.9, 11.2, 11.5, 11.4],
    "600001.SH": [20.0, 20.5, 20.8, 22.0, 22.3, 23.0],
    "600002.SH": [5.0, 5.1, 5.2, 5.3, 5.4, 5.5],
}


def _pandas_book(weights: dict[int, dict[str, float]], entry: str, capital: float) -> pd.Series:
    """Shares and cash, by hand: on a fill day the book's value at the fill prices is split by
    target weight; every day the book is valued at the close."""
    close = pd.DataFrame(CLOSE, index=D)
    fill = pd.DataFrame(OPEN, index=D) if entry == "next_open" else close
    offset = 1 if entry == "next_open" else 0
    shares = pd.Series(0.0, index=close.columns)
    cash = capital
    navs = {}
    fills = {s + offset: w for s, w in weights.items()}
    for t, day in enumerate(D):
        if t in fills:
            w = pd.Series(fills[t]).reindex(close.columns, fill_value=0.0)
            w = w / w.sum()
            value = cash + (shares * fill.loc[day]).sum()
            shares = w * value / fill.loc[day]
            cash = value - (shares * fill.loc[day]).sum()
        if t >= min(fills):
            navs[day] = cash + (shares * close.loc[day]).sum()
    return pd.Series(navs)


@pytest.mark.parametrize("entry", ["close", "next_open"])
def test_tiny_book_equals_an_independent_pandas_computation(entry):
    weights = {0: {"600000.SH": 1.0, "600001.SH": 1.0}, 2: {"600001.SH": 1.0, "600002.SH": 4.0}}
    rows = [(D[s], a, w) for s, ws in weights.items() for a, w in ws.items()]
    grid = AssetGrid.from_prices(prices_frame(CLOSE, D, open_=OPEN))
    res = backtest(grid, targets(rows), entry=entry, capital=1_000_000.0)
    expected = _pandas_book(weights, entry, 1_000_000.0)
    got = res.daily["nav_net"].to_numpy()
    np.testing.assert_allclose(got, expected.to_numpy(), rtol=1e-12, atol=0)
    np.testing.assert_allclose(
        res.daily["net"].to_numpy(),
        expected.pct_change().fillna(expected.iloc[0] / 1e6 - 1),
        rtol=0,
        atol=1e-12,
    )
    assert (res.daily["gross"] == res.daily["net"]).all()
    # the book after the second fill: 20% / 80% of the value at the fill prices
    pos = res.positions.filter(pl.col("signal_date") == D[2])
    assert pos["asset"].to_list() == ["600001.SH", "600002.SH"]
    fill = OPEN if entry == "next_open" else CLOSE
    t = 2 + (entry == "next_open")
    ratio = (pos["units"][0] * fill["600001.SH"][t]) / (pos["units"][1] * fill["600002.SH"][t])
    assert ratio == pytest.approx(0.25, rel=1e-12)


#: (entry, side): days, compounded gross return, sum of squared daily gross returns, summed
#: turnover, blocked buys, blocked sells of ``simulate_portfolio`` (zero costs) on the frozen
#: prices of tests/data (``_books.retired_reference_prices``), computed with it before it was
#: removed (factorlab 2025, commit 85f9322).
REFERENCE = {
    ("close", "top"): (244, 0.49682785380044314, 0.03862936234807668, 37.22644256648017, 0, 1),
    ("close", "bottom"): (244, 0.33418103651027997, 0.035898535577916044, 39.83759757205825, 0, 1),
    ("next_open", "top"): (243, 0.5017608407299072, 0.03847024764148614, 37.27785068653413, 1, 0),
    ("next_open", "bottom"): (
        243,
        0.3345335330229937,
        0.03597844556842969,
        39.75906715817099,
        0,
        2,
    ),
    ("next_vwap", "top"): (243, 0.4859570994148392, 0.03859422116815546, 37.27402103837963, 1, 0),
    ("next_vwap", "bottom"): (
        243,
        0.3503144377862235,
        0.036459806781999934,
        39.760147942384336,
        0,
        2,
    ),
}


@pytest.mark.parametrize("entry", ["close", "next_open", "next_vwap"])
@pytest.mark.parametrize("side", ["top", "bottom"])
def test_equals_the_retired_research_reference(entry, side):
    px = retired_reference_prices()
    grid = AssetGrid.from_prices(px)
    sessions = grid.index.date_series()
    weekly = sessions.gather(np.arange(0, sessions.len(), 5))
    scores = px.filter(pl.col("date").is_in(weekly.implode())).select("date", "asset")
    scores = scores.with_columns(
        score=pl.Series(np.random.default_rng(0).normal(size=scores.height))
    )
    tg = quantile_targets(scores, top=0.2, side=side)
    res = backtest(grid, tg, entry=entry, capital=None)
    n, compounded, squares, turnover, blocked_buys, blocked_sells = REFERENCE[(entry, side)]
    g = res.daily["gross"].to_numpy()
    assert len(g) == n
    assert np.prod(1 + g) - 1 == pytest.approx(compounded, rel=1e-10)
    assert np.sum(g * g) == pytest.approx(squares, rel=1e-10)
    rb = res.rebalances
    assert rb["turnover"].sum() == pytest.approx(turnover, rel=1e-10)
    assert (rb["blocked_buys"].sum(), rb["blocked_sells"].sum()) == (blocked_buys, blocked_sells)
