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
  names in proportion to their target weights. Every such event is counted.
- Delisted or suspended is decided from what was known at the time, never from whether the
  name trades again later: a name is delisted from its ``delist_date`` on (the ``assets``
  table given to :meth:`MarketGrid.from_prices`) and released at its last close at the next
  rebalance. Without a delist date a name that stops trading is suspended: its weight is kept,
  marked flat at its last price.
- A rebalance with no valid name (an empty leg, targets whose codes match no price asset) holds
  cash and is counted (``names == 0`` in the rebalance table, ``empty_rebalances``).
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
from factorlab.errors import NullKeyError, ParameterError, ValueRangeError
from factorlab.frames import (
    CodeMatch,
    as_frame,
    check_columns,
    check_numeric,
    check_positive,
    check_unique_keys,
    example_rows,
    match_codes,
)

__all__ = [
    "STAMP_DUTY_CUT",
    "Costs",
    "MarketGrid",
    "PortfolioResult",
    "price_limit_pct",
    "simulate_portfolio",
]

Entry = Literal["close", "next_open", "next_vwap"]
Book = Literal["long_only", "long_short"]
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


def _delisted_from(
    assets: pl.LazyFrame | pl.DataFrame | None, codes: pl.Series, days: np.ndarray
) -> np.ndarray:
    """Per grid asset, the first grid row on or after its ``delist_date`` (``len(days)``: not
    delisted within the grid, no delist date, or no row in `assets`)."""
    out = np.full(len(codes), len(days), dtype=np.int64)
    if assets is None:
        return out
    lf = as_frame(assets, name="assets").lazy()
    check_columns(lf.collect_schema(), ["asset", "delist_date"], table="assets")
    table = lf.select("asset", pl.col("delist_date").cast(pl.Date)).collect()
    check_unique_keys(table, ["asset"], table="assets")
    match_codes(table["asset"], codes, table="assets", against="prices")
    known = table.filter(
        pl.col("delist_date").is_not_null() & pl.col("asset").is_in(codes.implode())
    )
    if known.height:
        ai = known["asset"].cast(pl.Enum(codes)).to_physical().to_numpy().astype(np.int64)
        out[ai] = np.searchsorted(days, known["delist_date"].to_numpy().astype("datetime64[D]"))
    return out


@dataclass
class MarketGrid:
    """Dense date x asset arrays of one market, built once and shared by every portfolio.

    ``close`` / ``open`` / ``vwap`` are back-adjusted (x adj_factor), NaN where the stock does not
    trade, otherwise finite and > 0 (checked). ``up`` / ``down`` flag the adjusted limit prices
    of each day (NaN-safe), and ``cap`` the float market cap.

    ``delisted_from`` holds, per asset, the first row from which the name counts as delisted
    (``len(dates)``: never). It comes from the ``assets`` table's ``delist_date`` (published when
    it happened), never from whether the name trades again later in the grid: a name that stops
    trading without a delist date is suspended (its weight is kept, marked flat at its last
    price), so cutting the grid after a date d changes nothing at or before d.
    """

    dates: np.ndarray
    assets: pl.Series
    close: np.ndarray
    open: np.ndarray
    vwap: np.ndarray
    limit_up: np.ndarray
    limit_down: np.ndarray
    cap: np.ndarray
    delisted_from: np.ndarray | None = None
    _tradable: dict = field(init=False, default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        shape = (len(self.dates), len(self.assets))
        for name in ("close", "open", "vwap", "limit_up", "limit_down", "cap"):
            if getattr(self, name).shape != shape:
                raise ParameterError(
                    f"`MarketGrid.{name}` must have shape (dates, assets) = {shape}; got "
                    f"{getattr(self, name).shape}."
                )
        for name in ("close", "open", "vwap"):
            self._check_prices(name)
        if self.delisted_from is None:
            self.delisted_from = np.full(shape[1], shape[0], dtype=np.int64)
        self.delisted_from = np.ascontiguousarray(self.delisted_from, dtype=np.int64)
        if self.delisted_from.shape != (shape[1],):
            raise ParameterError(
                f"`MarketGrid.delisted_from` must have one row index per asset ({shape[1]}); got "
                f"shape {self.delisted_from.shape}."
            )

    def _check_prices(self, name: str) -> None:
        """A grid price is NaN (no trade) or finite and > 0: never 0 (a division by zero in the
        kernel) nor negative (returns of -197%)."""
        x = getattr(self, name)
        with np.errstate(invalid="ignore"):
            bad = ~np.isnan(x) & ~(np.isfinite(x) & (x > 0))
        if not bad.any():
            return
        ti, ai = np.nonzero(bad)
        rows = [
            {"date": str(self.dates[t]), "asset": self.assets[int(a)], name: float(x[t, a])}
            for t, a in zip(ti[:5], ai[:5], strict=True)
        ]
        raise ValueRangeError(
            f"price grid `{name}` must be finite and > 0 where the stock trades (NaN where it "
            f"does not); got {int(bad.sum())} zero, negative or non-finite cell(s), e.g. "
            f"{rows[0]}. Set such prices to null (missing) in `prices` or fix the source.",
            table="prices",
            column=name,
            examples=rows,
        )

    @classmethod
    def from_prices(
        cls,
        prices: pl.LazyFrame | pl.DataFrame,
        *,
        assets: pl.LazyFrame | pl.DataFrame | None = None,
    ) -> MarketGrid:
        """Build the grid from a canonical ``prices`` table (any row order).

        Rows map to cells by integer lookups (no sort of the long table); the previous close
        for the price limits is the last traded close before each day, carried through
        suspensions and put on today's share basis with the adjustment factors.

        Parameters
        ----------
        prices
            Canonical ``prices`` (polars or pandas). One row per (date, asset); ``open``,
            ``high``, ``low``, ``close`` and ``adj_factor`` finite and > 0 where not null.
        assets
            Optional table with ``asset`` and ``delist_date`` (the market's ``assets``): a name
            is delisted from its delist date on and released at its last close at the next
            rebalance. Without it (or without a delist date) a name that stops trading is
            suspended: its weight is kept, marked flat at its last price.

        Raises
        ------
        DuplicateKeyError
            Two rows share a (date, asset) key.
        ValueRangeError
            A zero, negative or non-finite price, naming the column and example rows.
        """
        from factorlab.schema import validate

        prices = as_frame(prices, name="prices")
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
        check_unique_keys(px, ["date", "asset"], table="prices")
        check_positive(px, ["open", "high", "low", "close", "adj_factor"], table="prices")
        dates = px["date"].unique().sort()
        assets_s = px["asset"].unique().sort()
        day_np = dates.to_numpy().astype("datetime64[D]")
        ti = np.searchsorted(day_np, px["date"].to_numpy().astype("datetime64[D]"))
        ai = px["asset"].cast(pl.Enum(assets_s)).to_physical().to_numpy().astype(np.int64)
        shape = (len(dates), len(assets_s))

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
        with np.errstate(invalid="ignore", divide="ignore"):
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
            assets=assets_s,
            close=close_adj,
            open=grid(col["open"]) * adj,
            vwap=grid(vwap_raw) * adj,
            limit_up=up,
            limit_down=down,
            cap=close_raw * grid(col["float_shares"]),
            delisted_from=_delisted_from(assets, assets_s, day_np),
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
    """Daily series (date, gross, cost, net) and one row per rebalance.

    ``codes`` says how the targets' asset codes met the price grid (rows whose asset has no
    price are counted there and per rebalance in ``rebalances["unmatched"]``).
    """

    daily: pl.DataFrame
    rebalances: pl.DataFrame
    codes: CodeMatch | None = None
    weights: np.ndarray | None = field(default=None, repr=False)
    assets: pl.Series | None = field(default=None, repr=False)

    @property
    def positions(self) -> pl.DataFrame:
        """The book right after each rebalance: trade_date, asset, weight (fraction of NAV at
        the entry prices; names kept because they could not trade included), non-zero only."""
        if self.weights is None or self.assets is None:
            return pl.DataFrame(
                schema={"trade_date": pl.Date, "asset": pl.String, "weight": pl.Float64}
            )
        ri, ai = np.nonzero(self.weights)
        return pl.DataFrame(
            {
                "trade_date": self.rebalances["trade_date"].gather(ri),
                "asset": self.assets.gather(ai),
                "weight": self.weights[ri, ai],
            }
        )

    @property
    def empty_rebalances(self) -> int:
        """Rebalances with no valid name: the book went to cash (except names it could not
        sell)."""
        return int((self.rebalances["names"] == 0).sum()) if self.rebalances.height else 0


@njit(cache=True, nogil=True)
def _simulate_nb(
    targets: np.ndarray,
    trade_rows: np.ndarray,
    close: np.ndarray,
    entry: np.ndarray,
    can_buy: np.ndarray,
    can_sell: np.ndarray,
    delisted_from: np.ndarray,
    commission: float,
    min_order: float,
    stamp: np.ndarray,
    slippage: float,
):  # pragma: no cover - compiled
    """Daily gross returns and costs of a book rebalanced to `targets` on `trade_rows`.

    State: value weights ``w`` of the previous close (the rest is cash, earning 0) and the last
    price each position was valued at (carried through suspensions). targets (R, N): per row the
    positive weights sum to 1 (or 0: no long side) and the negative ones to -1 (or 0). A name is
    delisted from row ``delisted_from[i]`` on: released at its last valuation, never bought.
    Only rows up to ``t`` are read on day ``t`` (no look-ahead). Returns gross (T,), cost (T,)
    as a return deduction, turnover (R,), blocked_buys (R,), blocked_sells (R,), delisted (R,),
    cost_frac (R,) = cost as a fraction of NAV at the rebalance, positions (R, N) = the weights
    right after each rebalance.
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
    delisted = np.zeros(n_r, dtype=np.int64)
    cost_frac = np.zeros(n_r)
    positions = np.zeros((n_r, n))
    cur = np.zeros(n)
    new = np.zeros(n)
    decided = np.zeros(n, dtype=np.bool_)
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
        side_pos = 0.0
        side_neg = 0.0
        kept_pos = 0.0
        kept_neg = 0.0
        tgt_pos = 0.0
        tgt_neg = 0.0
        for i in range(n):
            cur[i] = cur[i] / v
            tgt = targets[k, i]
            if tgt > 0.0:
                side_pos += tgt
            elif tgt < 0.0:
                side_neg += tgt
            decided[i] = True
            new[i] = cur[i]
            if t >= delisted_from[i]:
                new[i] = 0.0  # delisted (known from its delist date): released, never bought
                if cur[i] != 0.0:
                    delisted[k] += 1
                elif tgt != 0.0:
                    blocked_buys[k] += 1
            elif cur[i] != 0.0 and np.isnan(entry[t, i]):
                if tgt != cur[i]:  # suspended: kept
                    if tgt > cur[i]:
                        blocked_buys[k] += 1
                    else:
                        blocked_sells[k] += 1
            elif tgt < cur[i] and not can_sell[t, i]:
                blocked_sells[k] += 1  # limit-down (or no price): cannot sell
            elif tgt > cur[i] and not can_buy[t, i]:
                blocked_buys[k] += 1  # limit-up / suspended: cannot buy (keeps what it holds)
            else:
                decided[i] = False
            if decided[i]:
                if new[i] > 0.0:
                    kept_pos += new[i]
                else:
                    kept_neg += new[i]
            elif tgt > 0.0:
                tgt_pos += tgt
            elif tgt < 0.0:
                tgt_neg += tgt
        # the undecided names share what is left of each side, in proportion to their targets
        free_pos = max(side_pos - kept_pos, 0.0)
        free_neg = min(side_neg - kept_neg, 0.0)
        held = 0.0
        buys = 0.0
        sells = 0.0
        orders = 0.0
        for i in range(n):
            if not decided[i]:
                tgt = targets[k, i]
                if tgt > 0.0 and tgt_pos > 0.0:
                    new[i] = tgt * free_pos / tgt_pos
                elif tgt < 0.0 and tgt_neg < 0.0:
                    new[i] = tgt * free_neg / tgt_neg
                else:
                    new[i] = 0.0
            held += new[i]
            positions[k, i] = new[i]
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
    return gross, cost, turnover, blocked_buys, blocked_sells, delisted, cost_frac, positions


def _as_days(values: pl.Series) -> np.ndarray:
    return values.cast(pl.Date).to_numpy().astype("datetime64[D]")


def _signal_rows(grid: MarketGrid, dates: pl.Series, what: str) -> np.ndarray:
    """Grid rows of `dates` (each must be a session of the grid)."""
    days = _as_days(dates)
    sig = np.searchsorted(grid.dates, days)
    bad = (sig >= len(grid.dates)) | (grid.dates[np.minimum(sig, len(grid.dates) - 1)] != days)
    if bad.any():
        raise ParameterError(
            f"{what} has {int(bad.sum())} signal date(s) that are not sessions of the price "
            f"grid ({grid.dates[0] if len(grid.dates) else 'empty'} to "
            f"{grid.dates[-1] if len(grid.dates) else 'empty'}), e.g. "
            f"{dates.filter(pl.Series(bad))[0]}; give signal dates that are trading days with "
            "prices."
        )
    return sig


def _check_weights(targets: pl.DataFrame, weight_col: str, book: Book) -> None:
    """NaN, null or infinite weights, negative weights in a long-only book and dates whose
    weights are all 0 are errors naming example rows (never silently cash or turned into 0)."""
    w = pl.col(weight_col).cast(pl.Float64)
    checks = [
        (w.is_null() | w.is_nan() | w.is_infinite(), "must be finite (not null, NaN or inf)"),
    ]
    if book == "long_only":
        checks.append(
            (w < 0, "must be >= 0 in a long-only book (pass book='long_short' for shorts)")
        )
    for bad, rule in checks:
        rows = targets.filter(bad)
        if rows.height:
            ex = example_rows(rows.select("date", "asset", weight_col))
            raise ValueRangeError(
                f"table `targets`: column `{weight_col}` {rule}; got {rows.height} such "
                f"row(s), e.g. {ex[0]}.",
                table="targets",
                column=weight_col,
                examples=ex,
            )
    zero = (
        targets.group_by("date")
        .agg(gross=w.abs().sum(), rows=pl.len())
        .filter(pl.col("gross") == 0)
        .sort("date")
    )
    if zero.height:
        ex = example_rows(zero.select("date", "rows"))
        raise ValueRangeError(
            f"table `targets`: the `{weight_col}` of {zero.height} date(s) are all 0, e.g. "
            f"{ex[0]}; weights are normalized per date, so a date needs a non-zero weight. To "
            "hold cash on a date, leave it out of `targets` and list it in `schedule`.",
            table="targets",
            column=weight_col,
            examples=ex,
        )


def _normalize(tw: np.ndarray, book: Book) -> np.ndarray:
    """Per row: positive weights scaled to sum 1, negative ones (long-short) to sum -1."""
    pos = np.where(tw > 0, tw, 0.0)
    neg = np.where(tw < 0, tw, 0.0)
    ps = pos.sum(axis=1, keepdims=True)
    out = np.divide(pos, ps, out=np.zeros_like(pos), where=ps > 0)
    if book == "long_short":
        ns = -neg.sum(axis=1, keepdims=True)
        out += np.divide(neg, ns, out=np.zeros_like(neg), where=ns > 0)
    return out


def simulate_portfolio(
    grid: MarketGrid,
    targets: pl.DataFrame,
    *,
    entry: Entry = "next_vwap",
    costs: Costs | None = None,
    weight_col: str = "weight",
    book: Book = "long_only",
    schedule: Sequence[dt.date] | pl.Series | None = None,
) -> PortfolioResult:
    """Run a book that rebalances to `targets` on their signal dates.

    Parameters
    ----------
    grid
        The market's dense arrays (:meth:`MarketGrid.from_prices`).
    targets
        Long frame (polars or pandas) ``date`` (signal date), ``asset``, `weight_col` (target
        weights), one row per (date, asset). ``long_only``: weights >= 0, each date's weights
        normalized to sum 1. ``long_short``: each date's positive weights are scaled to sum 1
        and its negative weights to sum -1 (long 100%, short 100% of NAV). Weights must be
        finite and a date's weights must not all be 0. Rows whose asset has no price in the grid
        are left out and counted (``codes`` and ``rebalances["unmatched"]``); if no row matches,
        that is an :class:`~factorlab.errors.AssetCodeError` (codes spelled differently). Dates
        must be sessions of the grid.
    entry
        Entry convention (module docstring).
    costs
        :class:`Costs`; ``None`` means no costs (net == gross).
    book
        ``"long_only"`` (default) or ``"long_short"`` (negative weights are short positions).
    schedule
        Signal dates that are rebalances. Default: the dates of `targets`; a date of `schedule`
        without target rows is an empty rebalance: the book goes to cash (names that cannot be
        sold are kept) and is counted. Without `schedule`, a date without rows keeps the
        previous book.

    Returns
    -------
    PortfolioResult
        ``daily``: date, gross, cost, net (= gross - cost), from the first trade day.
        ``rebalances``: signal_date, trade_date, names (target names with a price; 0 = an empty
        rebalance, held in cash), unmatched (target rows without a price), turnover
        (sum |w_new - w_drifted| / 2), blocked_buys, blocked_sells, delisted (names released
        because of their delist date), cost (fraction of NAV at the rebalance). A signal whose
        trade day falls after the grid's last date is not a rebalance. ``positions``: the book
        right after each rebalance; ``codes``: how the target codes matched the grid.

    Raises
    ------
    MissingColumnError, DtypeError
        `targets` lacks a column, or the weight column is not numeric.
    DuplicateKeyError
        Two target rows share a (date, asset) key (they would silently add up).
    ValueRangeError
        NaN / null / infinite weights, negative weights in a long-only book, a date whose
        weights are all 0.
    AssetCodeError
        No target row's asset is in the price grid.
    ParameterError
        An unknown `entry` or `book`, or signal dates that are not sessions of the grid.
    """
    costs = costs or NO_COSTS
    if book not in ("long_only", "long_short"):
        raise ParameterError(f"`book` must be 'long_only' or 'long_short'; got {book!r}.")
    price, offset = grid.entry_prices(entry)
    can_buy, can_sell = grid.tradable_at_entry(entry)
    targets = as_frame(targets, name="targets")
    if isinstance(targets, pl.LazyFrame):
        targets = targets.collect()
    check_columns(targets.schema, ["date", "asset", weight_col], table="targets")
    check_numeric(targets.schema, [weight_col], table="targets")
    for key in ("date", "asset"):
        n_null = targets[key].null_count()
        if n_null:
            raise NullKeyError(
                f"table `targets`: key column `{key}` has {n_null} null(s); every target row "
                "needs a date and an asset.",
                table="targets",
                column=key,
                examples=example_rows(targets.filter(pl.col(key).is_null())),
            )
    check_unique_keys(targets, ["date", "asset"], table="targets")
    _check_weights(targets, weight_col, book)
    codes = match_codes(targets["asset"], grid.assets, table="targets", against="prices")

    signal_dates = targets["date"].cast(pl.Date).unique().sort()
    if schedule is not None:
        sched = pl.Series(
            "date", list(schedule) if not isinstance(schedule, pl.Series) else schedule
        )
        sched = sched.cast(pl.Date).drop_nulls().unique().sort()
        extra = signal_dates.filter(~signal_dates.is_in(sched.implode()))
        if extra.len():
            raise ParameterError(
                f"`targets` has {extra.len()} date(s) that are not in `schedule`, e.g. "
                f"{extra[0]}; `schedule` must list every rebalance date of `targets`."
            )
        signal_dates = sched
    sig = _signal_rows(grid, signal_dates, "`targets`" if schedule is None else "`schedule`")
    trade_rows = sig + offset
    keep = trade_rows < len(grid.dates)
    signal_dates, trade_rows = signal_dates.filter(pl.Series(keep)), trade_rows[keep]
    n_r, n_a = len(trade_rows), len(grid.assets)
    sig_np = _as_days(signal_dates)
    t_days = _as_days(targets["date"])
    ri = np.searchsorted(sig_np, t_days)
    ai = targets["asset"].cast(pl.String).cast(pl.Enum(grid.assets), strict=False).to_physical()
    in_sched = ri < n_r
    in_sched[in_sched] &= sig_np[ri[in_sched]] == t_days[in_sched]
    priced = ai.is_not_null().to_numpy()
    ok = in_sched & priced
    weights = targets[weight_col].cast(pl.Float64).to_numpy()
    flat = ri[ok].astype(np.int64) * n_a + ai.to_numpy()[ok].astype(np.int64)
    tw = np.bincount(flat, weights=weights[ok], minlength=n_r * n_a).astype(np.float64)
    tw = _normalize(tw.reshape(n_r, n_a), book)
    unmatched = np.bincount(ri[in_sched & ~priced], minlength=n_r)[:n_r]
    gross, cost, turnover, bb, bs, dl, cost_frac, positions = _simulate_nb(
        np.ascontiguousarray(tw),
        trade_rows.astype(np.int64),
        grid.close,
        price,
        can_buy,
        can_sell,
        grid.delisted_from,
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
            "names": (tw != 0).sum(axis=1).astype(np.int64),
            "unmatched": unmatched.astype(np.int64),
            "turnover": turnover,
            "blocked_buys": bb,
            "blocked_sells": bs,
            "delisted": dl,
            "cost": cost_frac,
        }
    )
    return PortfolioResult(
        daily=daily, rebalances=rebalances, codes=codes, weights=positions, assets=grid.assets
    )


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
