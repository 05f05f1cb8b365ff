"""Holding-period portfolios: rebalance on a schedule, mark daily, trade only what can trade, pay
costs. The research-mode backtest behind long / long-short / excess series.

Conventions (EVALUATION.md, "Portfolios"):

- A signal on date s (its data published after s's close) trades on the next session t at the
  entry price: ``next_open`` (t's open), ``next_vwap`` (t's VWAP, the default) or ``close``
  (s's own close; only for data known before s's close).
- On the trade day, held names are marked from the previous close to the entry price, the book
  is rebalanced at entry prices, and the new book is marked from entry to t's close. Between
  rebalances weights drift with prices (daily marking).
- Names that cannot trade keep their current weight: suspended (no price row), a buy at the
  limit-up price, a sell at the limit-down price. The rest of the book goes to the other target
  names in proportion to their target weights. A name that never trades again (delisted) is
  released at its last close. Every such event is counted.
- Costs per rebalance: commission per side (rate, with a minimum per order on the given
  capital), stamp duty on sells (0.1%, 0.05% from 2023-08-28 by default), slippage in bps on both
  sides. Net return = gross return minus the cost of that day's trades (as a fraction of NAV).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import polars as pl
from numba import njit

from factorlab._arrays import prev_valid_rows
from factorlab.errors import ParameterError

__all__ = [
    "STAMP_DUTY_CUT",
    "Costs",
    "MarketGrid",
    "PortfolioResult",
    "price_limit_pct",
    "simulate_portfolio",
]

Entry = Literal["close", "next_open", "next_vwap"]
#: The A-share stamp duty on sells was halved from 0.1% to 0.05% on this date.
STAMP_DUTY_CUT = dt.date(2023, 8, 28)
CHINEXT_REFORM = dt.date(2020, 8, 24)


@dataclass(frozen=True)
class Costs:
    """Trading costs. ``stamp_duty=None`` uses the historical schedule (0.1% on sells, 0.05% from
    2023-08-28). ``capital`` (yuan) turns the per-order minimum into a fraction of NAV."""

    commission: float = 0.0003
    min_commission: float = 5.0
    stamp_duty: float | None = None
    slippage_bps: float = 0.0
    capital: float = 10_000_000.0

    def __post_init__(self) -> None:
        for name in ("commission", "min_commission", "slippage_bps"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise ParameterError(f"`Costs.{name}` must be >= 0; got {value}.")
        if self.stamp_duty is not None and not 0 <= self.stamp_duty < 0.1:
            raise ParameterError(f"`Costs.stamp_duty` must be in [0, 0.1); got {self.stamp_duty}.")
        if not self.capital > 0:
            raise ParameterError(f"`Costs.capital` must be > 0; got {self.capital}.")

    def stamp_schedule(self, dates: np.ndarray) -> np.ndarray:
        if self.stamp_duty is not None:
            return np.full(len(dates), self.stamp_duty)
        return np.where(dates >= np.datetime64(STAMP_DUTY_CUT), 0.0005, 0.001)


NO_COSTS = Costs(commission=0.0, min_commission=0.0, stamp_duty=0.0, slippage_bps=0.0)


def price_limit_pct(prices: pl.LazyFrame | pl.DataFrame) -> pl.Expr:
    """Daily price-limit fraction of each row: 10% main boards, 5% ST, 20% STAR (688) and
    ChiNext (300/301) from 2020-08-24. Needs ``asset``, ``date``, ``is_st``."""
    code = pl.col("asset").str.slice(0, 3)
    star = code == "688"
    chinext = code.is_in(["300", "301"]) & (pl.col("date") >= CHINEXT_REFORM)
    wide = star | chinext
    return (pl.when(wide).then(0.20).when(pl.col("is_st")).then(0.05).otherwise(0.10)).alias(
        "limit_pct"
    )


@dataclass
class MarketGrid:
    """Dense date x asset arrays of one market, built once and shared by every portfolio.

    ``close`` / ``open`` / ``vwap`` are back-adjusted (x adj_factor), NaN where the stock does not
    trade. ``up`` / ``down`` flag the adjusted limit prices of each day (NaN-safe), and ``cap``
    the float market cap.
    """

    dates: np.ndarray
    assets: pl.Series
    close: np.ndarray
    open: np.ndarray
    vwap: np.ndarray
    limit_up: np.ndarray
    limit_down: np.ndarray
    cap: np.ndarray
    last_row: np.ndarray = field(init=False)
    _tradable: dict = field(init=False, default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        valid = ~np.isnan(self.close)
        n_t = len(self.dates)
        rows = np.where(valid, np.arange(n_t)[:, None], -1)
        self.last_row = rows.max(axis=0).astype(np.int64)

    @classmethod
    def from_prices(cls, prices: pl.LazyFrame | pl.DataFrame) -> MarketGrid:
        """Build the grid from a canonical ``prices`` table (any row order).

        Rows map to cells by integer lookups (no sort of the long table); the previous close
        for the price limits is the last traded close before each day, carried through
        suspensions and put on today's share basis with the adjustment factors.
        """
        from factorlab.schema import validate

        validate("prices", prices, check_values=False, check_calendar=False)  # names + dtypes
        px = (
            prices.lazy()
            .select(
                "date",
                "asset",
                "open",
                "close",
                "high",
                "low",
                "volume",
                "amount",
                "adj_factor",
                "float_shares",
                price_limit_pct(prices),
            )
            .collect()
        )
        dates = px["date"].unique().sort()
        assets = px["asset"].unique().sort()
        day_np = dates.to_numpy().astype("datetime64[D]")
        ti = np.searchsorted(day_np, px["date"].to_numpy().astype("datetime64[D]"))
        ai = px["asset"].cast(pl.Enum(assets)).to_physical().to_numpy().astype(np.int64)
        shape = (len(dates), len(assets))

        def grid(values: np.ndarray) -> np.ndarray:
            out = np.full(shape, np.nan)
            out[ti, ai] = values
            return out

        col = {
            c: px[c].cast(pl.Float64).fill_null(np.nan).to_numpy()
            for c in (
                "open",
                "close",
                "high",
                "low",
                "volume",
                "amount",
                "adj_factor",
                "float_shares",
                "limit_pct",
            )
        }
        vwap_raw = np.where(
            col["volume"] > 0, col["amount"] / np.maximum(col["volume"], 1.0), col["close"]
        )
        vwap_raw = np.clip(vwap_raw, col["low"], col["high"])
        adj = grid(col["adj_factor"])
        close_raw = grid(col["close"])
        # previous traded close on today's basis: ffill(close * adj) shifted one row, / adj today
        close_adj = close_raw * adj
        prev = prev_valid_rows(close_adj)
        with np.errstate(invalid="ignore"):
            ref = prev / adj
        lim = grid(col["limit_pct"])
        up = np.round(ref * (1 + lim), 2) * adj
        down = np.round(ref * (1 - lim), 2) * adj
        return cls(
            dates=day_np,
            assets=assets,
            close=close_adj,
            open=grid(col["open"]) * adj,
            vwap=grid(vwap_raw) * adj,
            limit_up=up,
            limit_down=down,
            cap=close_raw * grid(col["float_shares"]),
        )

    def entry_prices(self, entry: Entry) -> tuple[np.ndarray, int]:
        """(entry price grid, offset from signal row to trade row)."""
        if entry == "close":
            return self.close, 0
        if entry == "next_open":
            return self.open, 1
        if entry == "next_vwap":
            return self.vwap, 1
        raise ParameterError(f"`entry` must be 'close', 'next_open' or 'next_vwap'; got {entry!r}.")

    def tradable_at_entry(self, entry: Entry) -> tuple[np.ndarray, np.ndarray]:
        """(can_buy, can_sell) at the entry price of each row (computed once per entry)."""
        if entry not in self._tradable:
            self._tradable[entry] = self._compute_tradable(entry)
        return self._tradable[entry]

    def _compute_tradable(self, entry: Entry) -> tuple[np.ndarray, np.ndarray]:
        price, _ = self.entry_prices(entry)
        trading = ~np.isnan(price)
        eps = 1e-9 * np.nan_to_num(price, nan=1.0)
        with np.errstate(invalid="ignore"):
            at_up = price >= self.limit_up - eps
            at_down = price <= self.limit_down + eps
        return trading & ~at_up, trading & ~at_down


@dataclass(frozen=True)
class PortfolioResult:
    """Daily series (date, gross, net, cost, turnover) and one row per rebalance."""

    daily: pl.DataFrame
    rebalances: pl.DataFrame


@njit(cache=True, nogil=True)
def _simulate_nb(
    targets: np.ndarray,
    trade_rows: np.ndarray,
    close: np.ndarray,
    entry: np.ndarray,
    can_buy: np.ndarray,
    can_sell: np.ndarray,
    last_row: np.ndarray,
    commission: float,
    min_order: float,
    stamp: np.ndarray,
    slippage: float,
):  # pragma: no cover - compiled
    """Daily gross returns and costs of a book rebalanced to `targets` on `trade_rows`.

    State: value weights ``w`` of the previous close (the rest is cash, earning 0) and the last
    price each position was valued at (carried through suspensions). targets (R, N) sum to 1 or
    0 per row. Returns gross (T,), cost (T,) as a return deduction, turnover (R,), blocked_buys
    (R,), blocked_sells (R,), cost_frac (R,) = cost as a fraction of NAV at the rebalance.
    """
    n_t, n = close.shape
    n_r = targets.shape[0]
    w = np.zeros(n)
    lastp = np.full(n, np.nan)
    cash = 1.0
    gross = np.full(n_t, np.nan)
    cost = np.zeros(n_t)
    turnover = np.zeros(n_r)
    blocked_buys = np.zeros(n_r, dtype=np.int64)
    blocked_sells = np.zeros(n_r, dtype=np.int64)
    cost_frac = np.zeros(n_r)
    cur = np.zeros(n)
    new = np.zeros(n)
    book = np.zeros(n, dtype=np.int64)  # indices of the held names
    n_held = 0
    k = 0
    started = False
    for t in range(n_t):
        is_trade = k < n_r and trade_rows[k] == t
        if not started and not is_trade:
            continue
        # 1) mark held names from their last valuation to the entry price (trade day) or close;
        #    only the held names are visited (the book is sparse)
        v = cash
        for h in range(n_held):
            i = book[h]
            p = entry[t, i] if is_trade else close[t, i]
            if np.isnan(p):
                cur[i] = w[i]
            else:
                cur[i] = w[i] * p / lastp[i]
                lastp[i] = p
            v += cur[i]
        if not is_trade:
            gross[t] = v - 1.0
            for h in range(n_held):
                i = book[h]
                w[i] = cur[i] / v
            cash = cash / v
            continue
        started = True
        # 2) rebalance at the entry price; names that cannot trade keep their weight
        free = 1.0
        tgt_free = 0.0
        for i in range(n):
            cur[i] = cur[i] / v
            tgt = targets[k, i]
            alive = t <= last_row[i]
            new[i] = -1.0  # undecided
            if cur[i] > 0.0 and alive and np.isnan(entry[t, i]):
                new[i] = cur[i]  # suspended
                if tgt != cur[i]:
                    if tgt > cur[i]:
                        blocked_buys[k] += 1
                    else:
                        blocked_sells[k] += 1
            elif tgt < cur[i] and alive and not can_sell[t, i]:
                new[i] = cur[i]  # limit-down: cannot sell
                blocked_sells[k] += 1
            elif tgt > cur[i] and not can_buy[t, i]:
                new[i] = cur[i]  # limit-up / suspended: cannot buy (keeps what it holds)
                blocked_buys[k] += 1
            if new[i] >= 0.0:
                free -= new[i]
            else:
                tgt_free += tgt
        held = 0.0
        buys = 0.0
        sells = 0.0
        orders = 0.0
        for i in range(n):
            if new[i] < 0.0:
                new[i] = targets[k, i] * free / tgt_free if tgt_free > 0.0 else 0.0
            held += new[i]
            d = new[i] - cur[i]
            if d > 1e-14:
                buys += d
            elif d < -1e-14:
                sells -= d
            else:
                continue
            c = commission * abs(d)
            orders += c if c > min_order else min_order
        turnover[k] = (buys + sells) / 2.0
        c_t = orders + stamp[t] * sells + slippage * (buys + sells)
        cost_frac[k] = c_t
        cash = 1.0 - held
        # 3) mark the new book from entry to this close
        end = cash
        for i in range(n):
            if new[i] == 0.0:
                w[i] = 0.0
                continue
            p = close[t, i]
            if np.isnan(p) or np.isnan(entry[t, i]):
                w[i] = new[i]
                if not np.isnan(entry[t, i]):
                    lastp[i] = entry[t, i]
            else:
                if np.isnan(lastp[i]) or cur[i] == 0.0:
                    lastp[i] = entry[t, i]
                w[i] = new[i] * p / entry[t, i]
                lastp[i] = p
            end += w[i]
        gross[t] = v * end - 1.0
        cost[t] = c_t * v * end
        n_held = 0
        for i in range(n):
            cur[i] = 0.0
            if w[i] != 0.0:
                w[i] = w[i] / end
                book[n_held] = i
                n_held += 1
        cash = cash / end
        k += 1
    return gross, cost, turnover, blocked_buys, blocked_sells, cost_frac


def simulate_portfolio(
    grid: MarketGrid,
    targets: pl.DataFrame,
    *,
    entry: Entry = "next_vwap",
    costs: Costs | None = None,
    weight_col: str = "weight",
) -> PortfolioResult:
    """Run a book that rebalances to `targets` on their signal dates.

    Parameters
    ----------
    grid
        The market's dense arrays (:meth:`MarketGrid.from_prices`).
    targets
        Long frame ``date`` (signal date), ``asset``, `weight_col` (target weights; each date's
        weights are normalized to sum to 1). Only dates with rows are rebalances: a date
        without rows keeps the previous book (to move to cash, give the date a row with weight
        0). Dates must be
        sessions of the grid.
    entry
        Entry convention (module docstring).
    costs
        :class:`Costs`; ``None`` means no costs (net == gross).

    Returns
    -------
    PortfolioResult
        ``daily``: date, gross, cost, net (= gross - cost), from the first trade day.
        ``rebalances``: signal_date, trade_date, names, turnover (sum |w_new - w_drifted| / 2),
        blocked_buys, blocked_sells, cost (fraction of NAV at the rebalance).
    """
    costs = costs or NO_COSTS
    price, offset = grid.entry_prices(entry)
    can_buy, can_sell = grid.tradable_at_entry(entry)
    for col in ("date", "asset", weight_col):
        if col not in targets.columns:
            raise ParameterError(f"`targets` needs column `{col}`; got {targets.columns}.")
    signal_dates = targets["date"].unique().sort()
    sig = np.searchsorted(grid.dates, signal_dates.to_numpy().astype("datetime64[D]"))
    bad = (sig >= len(grid.dates)) | (
        grid.dates[np.minimum(sig, len(grid.dates) - 1)]
        != signal_dates.to_numpy().astype("datetime64[D]")
    )
    if bad.any():
        raise ParameterError(
            f"`targets` has {int(bad.sum())} signal date(s) that are not sessions of the price "
            f"grid, e.g. {signal_dates.filter(pl.Series(bad))[0]}."
        )
    trade_rows = sig + offset
    keep = trade_rows < len(grid.dates)
    signal_dates, trade_rows = signal_dates.filter(pl.Series(keep)), trade_rows[keep]
    n_r, n_a = len(trade_rows), len(grid.assets)
    sig_np = signal_dates.to_numpy().astype("datetime64[D]")
    ri = np.searchsorted(sig_np, targets["date"].to_numpy().astype("datetime64[D]"))
    ai = targets["asset"].cast(pl.Enum(grid.assets), strict=False).to_physical()
    ok = ai.is_not_null().to_numpy() & (ri < n_r)
    ok[ok] &= sig_np[ri[ok]] == targets["date"].to_numpy().astype("datetime64[D]")[ok]
    weights = np.nan_to_num(targets[weight_col].cast(pl.Float64).to_numpy())
    flat = ri[ok].astype(np.int64) * n_a + ai.to_numpy()[ok].astype(np.int64)
    tw = np.bincount(flat, weights=weights[ok], minlength=n_r * n_a).reshape(n_r, n_a)
    sums = tw.sum(axis=1, keepdims=True)
    tw = np.divide(tw, sums, out=np.zeros_like(tw), where=sums > 0)
    gross, cost, turnover, bb, bs, cost_frac = _simulate_nb(
        tw,
        trade_rows.astype(np.int64),
        grid.close,
        price,
        can_buy,
        can_sell,
        grid.last_row,
        costs.commission,
        costs.min_commission / costs.capital,
        costs.stamp_schedule(grid.dates),
        costs.slippage_bps * 1e-4,
    )
    first = int(trade_rows[0]) if len(trade_rows) else len(grid.dates)
    dates = pl.Series("date", grid.dates[first:], dtype=pl.Date)
    daily = pl.DataFrame({"date": dates, "gross": gross[first:], "cost": cost[first:]})
    daily = daily.with_columns(net=pl.col("gross") - pl.col("cost"))
    rebalances = pl.DataFrame(
        {
            "signal_date": signal_dates,
            "trade_date": pl.Series(grid.dates[trade_rows], dtype=pl.Date),
            "names": (tw > 0).sum(axis=1),
            "turnover": turnover,
            "blocked_buys": bb,
            "blocked_sells": bs,
            "cost": cost_frac,
        }
    )
    return PortfolioResult(daily=daily, rebalances=rebalances)


def quantile_targets(
    scores: pl.DataFrame,
    *,
    top: float = 0.2,
    side: Literal["top", "bottom"] = "top",
    weighting: Literal["equal", "cap"] = "equal",
    score_col: str = "score",
    cap_col: str = "cap",
    by: Sequence[str] = ("date",),
) -> pl.DataFrame:
    """Target weights of the top (or bottom) `top` fraction by score per date.

    The selection takes the ceil(top * n) names with the highest (lowest) scores among the n
    with a score; names tied with the last one selected are all included, so ties never split
    arbitrarily. Equal or cap weights.
    """
    if not 0 < top <= 1:
        raise ParameterError(f"`top` must be in (0, 1]; got {top}.")
    keys = list(by)
    scores = scores.with_columns(pl.col(score_col).fill_nan(None))  # NaN is missing, not top
    s = pl.col(score_col)
    rank = s.rank("min", descending=side == "top").over(keys)
    n = s.count().over(keys)
    picked = scores.filter(s.is_not_null() & (rank <= (n * top).ceil()))
    w = pl.lit(1.0) if weighting == "equal" else pl.col(cap_col)
    return picked.select(*keys, "asset", weight=w)
