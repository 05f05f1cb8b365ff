"""Quota-band timing (seed 000): trade for trade the same as a pandas re-implementation of the
seed's JoinQuant code written here; the band equals pandas' rolling mean / std; the future never
changes the past; bad input fails clearly."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import polars as pl
import pytest

from factorlab.errors import DisclosureError, MarketError, ParameterError
from factorlab.market import Market
from factorlab.northbound.strategies.quota import (
    quota_band,
    quota_band_index,
    quota_band_signal,
)

WINDOW, WIDTH, TOP = 150, 2.0, 15
CAPITAL = 1_000_000.0
END = dt.date(2024, 8, 16)


def _limit(code: str, day: dt.date, is_st: bool) -> float:
    star = code.startswith("688")
    chinext = code.startswith(("300", "301")) and day >= dt.date(2020, 8, 24)
    lim = 0.2 if star or chinext else 0.1
    return 0.05 if is_st and lim < 0.2 else lim


def _jq_reference(market: Market, end: dt.date = END) -> tuple[pd.DataFrame, float]:
    """Seed 000's code on the market's tables, in pandas: before each session's open the
    band of quota used up to the previous day (``get_boll``), at the open the top 15 of the
    previous session's share_ratio (``calc_change``) and ``reblance``'s orders, with
    JoinQuant's order semantics as the backtester documents them: NAV at the open prices,
    sells first, each new name bought at NAV / 15 x 0.99 rounded down to 100-share lots, buys
    scaled to the cash with their commission; no buy at limit-up, no sell at limit-down or
    while suspended. A position is kept in units of the back-adjusted price (shares / adj
    factor: bonus shares and dividends stay in the position, docs/backtest.md), where JoinQuant
    pays dividends in cash. Returns (trades: date, asset, side, shares; final NAV).
    """
    q = market.quotas.collect().to_pandas()
    q["net_amount"] = q["quota_daily"] - q["quota_balance"]
    money = q.groupby("date")["net_amount"].sum().sort_index()
    px = market.prices.collect().to_pandas()
    px = px.sort_values(["asset", "date"])
    # limit prices from the last traded close, on today's share basis
    px["prev_close_adj"] = px.groupby("asset")["close"].shift(1) * px.groupby("asset")[
        "adj_factor"
    ].shift(1)
    px["ref"] = px["prev_close_adj"] / px["adj_factor"]
    lims = [
        _limit(a, d.date() if hasattr(d, "date") else d, st)
        for a, d, st in zip(px["asset"], px["date"], px["is_st"], strict=True)
    ]
    px["up"] = (px["ref"] * (1 + np.array(lims))).round(2)
    px["down"] = (px["ref"] * (1 - np.array(lims))).round(2)
    opens = px.set_index(["date", "asset"])
    px["close_adj"] = px["close"] * px["adj_factor"]
    closes = px.pivot(index="date", columns="asset", values="close_adj")
    hold = market.northbound.collect().to_pandas()
    days = sorted(
        set(px["date"]) | set(market.indices.collect().to_pandas()["date"])
    )  # the session calendar
    cash, positions, trades = CAPITAL, {}, []
    last_close: dict[str, float] = {}
    for k, day in enumerate(days):
        if k == 0:
            continue
        prev = days[k - 1]
        if prev > pd.Timestamp(end):
            break
        # before_market_open: get_boll(pre_date) on the quota days up to the previous day
        m = money[money.index <= prev].iloc[-WINDOW:]
        if len(m):
            mid, sd = m.mean(), m.std()
            upper, lower, mf = mid + WIDTH * sd, mid - WIDTH * sd, m.iloc[-1]
        else:
            mf = upper = lower = math.nan
        row = opens.xs(day, level="date") if day in opens.index.get_level_values(0) else None

        def price(a, row=row):
            """(raw open, adj factor) of the day, or None (no row: suspended)."""
            if row is not None and a in row.index:
                return float(row.loc[a, "open"]), float(row.loc[a, "adj_factor"])
            return None

        def nav(cash=cash):
            v = cash
            for a, units in positions.items():
                p = price(a)
                v += units * (p[0] * p[1] if p is not None else last_close[a])
            return v

        def sell(a, row=row, day=day):
            nonlocal cash
            p = price(a)
            if p is None or p[0] <= row.loc[a, "down"]:
                return
            units = positions.pop(a)
            value = units * p[0] * p[1]
            cash += value - max(0.0003 * value, 5.0) - 0.001 * value
            trades.append((day, a, "sell", units * p[1]))

        if mf >= upper:
            top = (
                hold[hold["date"] == prev]
                .sort_values(["ratio", "asset"], ascending=[False, True])["asset"]
                .head(TOP)
            )
            final = list(top)
            held = set(positions)
            if set(final) != held:
                v = nav()
                need_buy = sorted(set(final) - held)
                for a in sorted(held - set(final)):
                    sell(a)
                per = v / max(len(final), 1) * 0.99
                orders = {}
                for a in need_buy:
                    p = price(a)
                    if p is None or p[0] >= row.loc[a, "up"]:
                        continue
                    orders[a] = math.floor(per / p[0] / 100 + 1e-9) * 100  # whole lots
                scale = 1.0
                for _ in range(200):  # scale the buys to the cash (value + commission)
                    total = 0.0
                    for a, units in orders.items():
                        sh = math.floor(scale * units / 100 + 1e-9) * 100
                        if sh > 0:
                            value = sh * price(a)[0]
                            total += value + max(0.0003 * value, 5.0)
                    if total <= cash * (1 + 1e-12) or total == 0:
                        break
                    scale *= min(cash / total, 1 - 1e-12)
                for a in sorted(orders):
                    sh = math.floor(scale * orders[a] / 100 + 1e-9) * 100
                    if sh <= 0:
                        continue
                    p = price(a)
                    value = sh * p[0]
                    cash -= value + max(0.0003 * value, 5.0)
                    positions[a] = positions.get(a, 0.0) + sh / p[1]  # units
                    trades.append((day, a, "buy", float(sh)))
        elif mf <= lower:
            for a in sorted(positions):
                sell(a)
        if day in closes.index:
            for a in positions:
                c = closes.at[day, a]
                if not np.isnan(c):
                    last_close[a] = float(c)
    final_nav = cash + sum(u * last_close[a] for a, u in positions.items())
    out = pd.DataFrame(trades, columns=["date", "asset", "side", "shares"])
    return out, final_nav


@pytest.fixture(scope="module")
def result(strat_tiny):
    return quota_band(strat_tiny, lots=100)


def test_band_equals_pandas_rolling(strat_tiny):
    band, definition = quota_band_signal(strat_tiny)
    q = strat_tiny.quotas.collect().to_pandas()
    mf = (q["quota_daily"] - q["quota_balance"]).groupby(q["date"]).sum().sort_index()
    roll = mf.rolling(WINDOW, min_periods=1)
    np.testing.assert_allclose(band["mf"].to_numpy(), mf.to_numpy(), rtol=1e-15)
    np.testing.assert_allclose(band["mid"].to_numpy(), roll.mean().to_numpy(), rtol=1e-9)
    upper = (roll.mean() + WIDTH * roll.std()).to_numpy()
    np.testing.assert_allclose(band["upper"].to_numpy(), upper, rtol=1e-9)
    assert "quota used" in definition
    # Shanghai alone before the Shenzhen link
    first_sz = q.loc[q["link"] == "SZ", "date"].min()
    assert first_sz.date() == dt.date(2016, 12, 5)


@pytest.mark.slow  # ~5 s on a quiet machine: the reference loops over every session
def test_trades_equal_the_seed_code(strat_tiny, result):
    want, want_nav = _jq_reference(strat_tiny)
    got = result.book.trades.select("date", "asset", "side", shares=pl.col("shares").round(6)).sort(
        "date", "side", "asset"
    )
    assert (result.book.trades["side"] != "settle").all()
    want_pl = (
        pl.from_pandas(want)
        .with_columns(
            pl.col("date").cast(pl.Date), shares=pl.col("shares").cast(pl.Float64).round(6)
        )
        .sort("date", "side", "asset")
    )
    assert want_pl.height > 30  # the band triggers both ways many times
    assert set(want_pl["side"]) == {"buy", "sell"}
    assert got.to_dicts() == want_pl.to_dicts()
    nav = result.book.daily.filter(pl.col("date") <= END)["nav_net"][-1]
    assert nav == pytest.approx(want_nav, rel=1e-9)


def test_signal_frame_and_stats(result):
    s = result.signal
    assert s["trade_date"].gt(s["date"]).all()
    assert (s["quota_date"] <= s["date"]).all()
    buy = s.filter(pl.col("action") == "hold_top")
    assert buy.height and (buy["mf"] >= buy["upper"]).all()
    sell = s.filter(pl.col("action") == "sell_all")
    assert sell.height and (sell["mf"] <= sell["lower"]).all()
    assert set(result.stats["sample"]) == {"full", "in", "out"}
    assert "benchmark" in result.book.daily.columns  # CSI 300


def _perturbed(market: Market, d: dt.date) -> Market:
    tables = {name: market[name].collect() for name in market.names}
    after = pl.col("date") > d
    tables["quotas"] = tables["quotas"].with_columns(
        quota_balance=pl.when(after).then(pl.col("quota_balance") * 0.5).otherwise("quota_balance")
    )
    tables["northbound"] = tables["northbound"].with_columns(
        ratio=pl.when(after).then(1.0 - pl.col("ratio")).otherwise("ratio")
    )
    for col in ("open", "close", "high", "low"):
        tables["prices"] = tables["prices"].with_columns(
            pl.when(after).then(pl.col(col) * 1.3).otherwise(col).alias(col)
        )
    return Market(tables, validate="none")


def test_no_look_ahead(strat_tiny, result):
    d = dt.date(2019, 3, 29)
    b = quota_band(_perturbed(strat_tiny, d), lots=100)
    upto = pl.col("date") <= d
    assert result.signal.filter(upto).equals(b.signal.filter(upto))
    assert result.book.daily.filter(upto).equals(b.book.daily.filter(upto))
    assert result.book.trades.filter(upto).equals(b.book.trades.filter(upto))
    assert not result.book.trades.equals(b.book.trades)  # the perturbation bites later


def test_index_version(strat_tiny):
    r = quota_band_index(strat_tiny, costs=None)
    sig = r.signal
    # long from the first mf >= upper, flat from the next mf <= lower
    state, want = 0, []
    for v in sig["signal"].to_list():
        state = 1 if v == 1 else (0 if v == -1 else state)
        want.append(state)
    assert sig["position"].to_list() == want
    held = r.book.daily["exposure"].to_numpy() > 0
    assert 0 < held.mean() < 1


def test_bad_input(strat_tiny):
    with pytest.raises(ParameterError, match="`window`"):
        quota_band(strat_tiny, window=1)
    with pytest.raises(ParameterError, match="`width`"):
        quota_band(strat_tiny, width=-1.0)
    with pytest.raises(ParameterError, match="`top`"):
        quota_band(strat_tiny, top=0)
    with pytest.raises(ParameterError, match="`ranking`"):
        quota_band(strat_tiny, ranking="by_value")
    with pytest.raises(DisclosureError, match="2024-08-16"):
        quota_band(strat_tiny, end=dt.date(2024, 12, 31))
    no_quotas = Market(
        {n: strat_tiny[n].collect() for n in strat_tiny.names if n != "quotas"}, validate="none"
    )
    with pytest.raises(MarketError, match="`quotas`"):
        quota_band(no_quotas)
    no_holdings = Market(
        {n: strat_tiny[n].collect() for n in ("quotas", "prices", "indices")}, validate="none"
    )
    with pytest.raises(MarketError, match="`northbound`"):
        quota_band(no_holdings)
    with pytest.raises(MarketError, match="csi1000"):
        quota_band(strat_tiny, benchmark="csi1000")
