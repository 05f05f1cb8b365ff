"""The one backtester: target weights on signal dates -> orders at the entry convention ->
fills subject to tradability -> daily marking -> cash, for stocks, ETFs and index proxies.

Conventions are written down in ``docs/backtest.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np
import polars as pl

from factorlab._display import Summary
from factorlab._kernels.backtest import (
    backtest_nb,
    round_trips_nb,
    targets_csr_nb,
    trade_costs_nb,
)
from factorlab._kernels.parallel import caller_threads, map_in_order
from factorlab.backtest.costs import NO_COSTS, Costs
from factorlab.calendar import TRADING_DAYS
from factorlab.errors import AssetCodeError, CalendarError, ParameterError, ValueRangeError
from factorlab.frames import (
    as_lazy,
    check_columns,
    check_numeric,
    check_unique_keys,
    example_rows,
    match_codes,
)
from factorlab.grid.market import ETF, INDEX, KINDS, STOCK, AssetGrid
from factorlab.parallel import resolve_workers
from factorlab.typing import Entry

__all__ = ["BacktestResult", "Book", "Rebalance", "backtest", "backtest_many"]

Rebalance = Literal["full", "difference"]
"""``"full"``: every target name is traded to its target weight; ``"difference"``: held target
names are left untouched, new names bought at their target weight, dropped names sold."""
Book = Literal["long_only", "long_short"]
"""``"long_only"``: weights >= 0 summing to 1 (cash never negative); ``"long_short"``:
dollar-neutral, longs normalized to +1 and shorts to -1 of NAV."""

_SIDES = {1: "buy", -1: "sell", 2: "settle"}
_HEADLINE = (
    "total_return",
    "annual_return",
    "sharpe",
    "max_drawdown",
    "annual_excess",
    "mean_turnover",
    "costs",
    "trades",
)


@dataclass(frozen=True)
class _Run:
    """What the kernel returned, with the inputs needed to present it."""

    grid: AssetGrid
    capital: float
    signal_dates: pl.Series
    trade_rows: np.ndarray
    names: np.ndarray
    out: tuple
    costs: Costs = NO_COSTS
    stamp: np.ndarray | None = None  # the stamp duty rate of each grid row

    def trade_costs(self) -> np.ndarray:
        """(M, 4) value, commission, stamp duty, slippage of each recorded trade, in yuan."""
        ti, tf = self.out[10], self.out[11]
        stamp = np.zeros(len(self.grid.dates)) if self.stamp is None else self.stamp
        c = self.costs
        return trade_costs_nb(
            ti[:, 3].copy(),
            ti[:, 1].copy(),
            ti[:, 2].copy(),
            tf[:, 0].copy(),
            tf[:, 1].copy(),
            stamp,
            self.grid.kind == STOCK,
            c.commission,
            c.min_commission,
            c.slippage_bps * 1e-4,
        )


@dataclass
class BacktestResult:
    """Frames of one backtest. ``daily``, ``rebalances``, ``trades`` and ``positions`` are built
    on first access; ``round_trips``, ``signals`` and :meth:`summary` from the trade list.

    ``unexecuted`` lists the signal dates whose fill row falls past the grid's last date.
    """

    run: _Run = field(repr=False)
    benchmark: pl.DataFrame | None = field(default=None, repr=False)
    unexecuted: list = field(default_factory=list)

    def _display(self) -> Summary:
        r, daily = self.run, self.daily
        n_dates, n_assets = r.grid.shape
        span = f"{daily['date'].min()} .. {daily['date'].max()}" if daily.height else "no fill"
        lines = [
            f"grid: {n_assets:,} assets x {n_dates:,} dates; capital {r.capital:,.0f} yuan",
            f"signals: {len(r.signal_dates):,} ({len(self.unexecuted)} past the grid's end); "
            f"benchmark: {'yes' if self.benchmark is not None else 'none'}",
        ]
        stats = self.summary()
        keep = [k for k in _HEADLINE if k in stats]
        return Summary(
            f"BacktestResult: {span}",
            tuple(lines),
            pl.DataFrame({k: [stats[k]] for k in keep}),
            "summary (net of costs)",
        )

    def __repr__(self) -> str:
        return self._display().text()

    def _repr_html_(self) -> str:
        return self._display().html()

    # -- daily -----------------------------------------------------------------------------

    @cached_property
    def daily(self) -> pl.DataFrame:
        """date, nav_gross, nav_net, cash, gross, net, cost, cost_yuan, turnover, exposure (and
        benchmark, excess with a benchmark), from the first fill day. ``net`` is the day's
        change of NAV; ``gross`` adds back the day's costs (``cost = gross - net``, a fraction
        of the previous NAV); ``nav_gross`` compounds ``gross``."""
        r = self.run
        nav, cash, cost, turnover, exposure = r.out[:5]
        first = int(r.trade_rows[0]) if len(r.trade_rows) else len(r.grid.dates)
        nav = nav[first:]
        prev = np.concatenate([[r.capital], nav[:-1]])
        net = nav / prev - 1.0
        gross = (nav + cost[first:]) / prev - 1.0
        daily = pl.DataFrame(
            {
                "date": pl.Series(r.grid.dates[first:], dtype=pl.Date),
                "nav_gross": r.capital * np.cumprod(1.0 + gross),
                "nav_net": nav,
                "cash": cash[first:],
                "gross": gross,
                "net": net,
                "cost": gross - net,
                "cost_yuan": cost[first:],
                "turnover": turnover[first:],
                "exposure": exposure[first:],
            }
        )
        if self.benchmark is not None:
            daily = daily.join(
                self.benchmark, on="date", how="left", maintain_order="left"
            ).with_columns(excess=pl.col("net") - pl.col("benchmark"))
        return daily

    @cached_property
    def rebalances(self) -> pl.DataFrame:
        """One row per executed signal: signal_date, trade_date, names (target names), held
        (names after the fills), empty (no target name: the book goes to cash), blocked_buys,
        blocked_sells, turnover, cost (yuan), scale (buys scaled to the cash; 1 = in full)."""
        r = self.run
        turnover = r.out[3]
        bb, bs, held, scale, cost = r.out[5:10]
        return pl.DataFrame(
            {
                "signal_date": r.signal_dates,
                "trade_date": pl.Series(r.grid.dates[r.trade_rows], dtype=pl.Date),
                "names": r.names,
                "held": held,
                "empty": r.names == 0,
                "blocked_buys": bb,
                "blocked_sells": bs,
                "turnover": turnover[r.trade_rows],
                "cost": cost,
                "scale": scale,
            }
        )

    @cached_property
    def trades(self) -> pl.DataFrame:
        """One row per fill: signal_date (null for a delisting settlement), date, asset, kind,
        side (buy / sell / settle), shares (raw shares = units x adj_factor, > 0), units (signed,
        back-adjusted), price (raw yuan), value (yuan), commission, stamp_duty, slippage, cost."""
        r = self.run
        ti, tf = r.out[10], r.out[11]
        tc = self._trade_costs
        grid = r.grid
        k, t, i, side, prow = (ti[:, c].astype(np.int64) for c in range(5))
        adj = grid.adj[prow, i] if len(i) else np.empty(0)
        sig = r.signal_dates.to_numpy().astype("datetime64[D]")
        signal = np.where(
            k >= 0,
            sig[np.maximum(k, 0)] if len(sig) else np.datetime64("NaT"),
            np.datetime64("NaT"),
        )
        return pl.DataFrame(
            {
                "signal_date": pl.Series(signal.astype("datetime64[D]"), dtype=pl.Date),
                "date": pl.Series(grid.dates[t], dtype=pl.Date),
                "asset": grid.assets.gather(i),
                "kind": pl.Series(np.array(KINDS)[grid.kind[i]], dtype=pl.String),
                "side": pl.Series([_SIDES[s] for s in side.tolist()], dtype=pl.String),
                "shares": np.abs(tf[:, 0]) * adj,
                "units": tf[:, 0],
                "price": tf[:, 1] / adj,
                "value": tc[:, 0],
                "commission": tc[:, 1],
                "stamp_duty": tc[:, 2],
                "slippage": tc[:, 3],
                "cost": tc[:, 1] + tc[:, 2] + tc[:, 3],
            }
        )

    @cached_property
    def _trade_costs(self) -> np.ndarray:
        return self.run.trade_costs()

    @cached_property
    def positions(self) -> pl.DataFrame:
        """The book after each rebalance, valued at that day's close: date (fill day),
        signal_date, asset, units, shares (raw), value (yuan), weight (value / NAV)."""
        r = self.run
        pi, pf = r.out[12], r.out[13]
        grid = r.grid
        k, t, i = (pi[:, c].astype(np.int64) for c in range(3))
        adj = grid.adj[t, i] if len(i) else np.empty(0)
        for j in np.flatnonzero(np.isnan(adj)):  # suspended that day: the last known factor
            col = grid.adj[: t[j] + 1, i[j]]
            valid = np.flatnonzero(~np.isnan(col))
            adj[j] = col[valid[-1]] if valid.size else np.nan
        nav = r.out[0]
        return pl.DataFrame(
            {
                "date": pl.Series(grid.dates[t], dtype=pl.Date),
                "signal_date": r.signal_dates.gather(k),
                "asset": grid.assets.gather(i),
                "units": pf[:, 0],
                "shares": pf[:, 0] * adj,
                "value": pf[:, 1],
                "weight": pf[:, 1] / nav[t],
            }
        )

    # -- per trade and per signal --------------------------------------------------------

    @cached_property
    def round_trips(self) -> pl.DataFrame:
        """One row per round trip (a position opened from 0 and closed back to 0): asset,
        direction (long / short), entry_date, exit_date (null: still open, marked at the last
        close), holding_days (sessions from entry to exit), pnl (yuan, after costs), return
        (pnl / invested value), closed."""
        r = self.run
        ti, tf, tc = r.out[10], r.out[11], self._trade_costs
        order = np.lexsort((np.arange(len(ti)), ti[:, 2]))
        ti, tf, tc = ti[order].astype(np.int64), tf[order], tc[order]
        oi, of = round_trips_nb(
            ti[:, 2].copy(),
            ti[:, 1].copy(),
            ti[:, 5].copy(),
            tf[:, 0].copy(),
            tc[:, 0].copy(),
            (tc[:, 1] + tc[:, 2] + tc[:, 3]).copy(),
            r.out[14],
            r.out[15],
        )
        grid = r.grid
        closed = oi[:, 2] >= 0
        last = len(grid.dates) - 1
        exit_row = np.where(closed, oi[:, 2], last)
        with np.errstate(invalid="ignore", divide="ignore"):
            ret = np.where(of[:, 1] > 0, of[:, 0] / of[:, 1], np.nan)
        return pl.DataFrame(
            {
                "asset": grid.assets.gather(oi[:, 0]),
                "direction": pl.Series(np.where(oi[:, 3] > 0, "long", "short"), dtype=pl.String),
                "entry_date": pl.Series(grid.dates[oi[:, 1]], dtype=pl.Date),
                "exit_date": pl.Series(
                    np.where(closed, grid.dates[exit_row], np.datetime64("NaT")).astype(
                        "datetime64[D]"
                    ),
                    dtype=pl.Date,
                ),
                "holding_days": exit_row - oi[:, 1],
                "pnl": of[:, 0],
                "return": ret,
                "closed": closed,
            }
        ).sort("entry_date", "asset")

    @cached_property
    def signals(self) -> pl.DataFrame:
        """One row per executed signal: signal_date, trade_date, invested (the book holds
        something after the fills), return (compounded daily net return from the fill day to
        the day before the next fill, or the end)."""
        r = self.run
        nav = r.out[0]
        rows = r.trade_rows
        ends = np.append(rows[1:] - 1, len(r.grid.dates) - 1)
        start_nav = np.array([r.capital if j == 0 else nav[rows[j] - 1] for j in range(len(rows))])
        held = r.out[7]
        return pl.DataFrame(
            {
                "signal_date": r.signal_dates,
                "trade_date": pl.Series(r.grid.dates[rows], dtype=pl.Date),
                "invested": held > 0,
                "return": nav[ends] / start_nav - 1.0 if len(rows) else np.empty(0),
            }
        )

    def summary(self, *, annualization: float = TRADING_DAYS) -> dict[str, float]:
        """Headline statistics: total and annual return (net), volatility, Sharpe (risk-free 0),
        max drawdown, mean turnover per rebalance, costs (yuan), rebalances, empty rebalances,
        trades; per round trip (closed only): count, win rate, profit/loss ratio (mean win /
        mean |loss|), mean holding days; per invested signal: count, win rate, profit/loss
        ratio; with a benchmark: annual excess (mean daily excess x annualization)."""
        d = self.daily
        net = d["net"].to_numpy()
        nav = d["nav_net"].to_numpy()
        n = len(net)
        total = nav[-1] / self.run.capital - 1.0 if n else np.nan
        vol = float(np.std(net, ddof=1) * np.sqrt(annualization)) if n > 1 else np.nan
        mean = float(np.mean(net)) if n else np.nan
        peak = np.maximum.accumulate(np.concatenate([[self.run.capital], nav]))
        dd = float(np.min(np.concatenate([[self.run.capital], nav]) / peak - 1.0))
        trips = self.round_trips.filter(pl.col("closed"))
        sig = self.signals.filter(pl.col("invested"))
        reb = self.rebalances
        out = {
            "total_return": float(total),
            "annual_return": float((1.0 + total) ** (annualization / n) - 1.0) if n else np.nan,
            "annual_volatility": vol,
            "sharpe": mean / np.std(net, ddof=1) * np.sqrt(annualization)
            if n > 1 and np.std(net) > 0
            else np.nan,
            "max_drawdown": dd,
            "mean_turnover": float(reb["turnover"].mean()) if reb.height else np.nan,
            "costs": float(d["cost_yuan"].sum()),
            "rebalances": reb.height,
            "empty_rebalances": int(reb["empty"].sum()),
            "trades": self.trades.height,
            "round_trips": trips.height,
            **_win_loss(trips["pnl"].to_numpy(), "trade"),
            "mean_holding_days": float(trips["holding_days"].mean()) if trips.height else np.nan,
            "signals": sig.height,
            **_win_loss(sig["return"].to_numpy(), "signal"),
        }
        if "excess" in d.columns:
            out["annual_excess"] = float(d["excess"].mean()) * annualization
        return out


def _win_loss(x: np.ndarray, prefix: str) -> dict[str, float]:
    x = x[np.isfinite(x)]
    wins, losses = x[x > 0], x[x < 0]
    return {
        f"{prefix}_win_rate": float(wins.size / x.size) if x.size else np.nan,
        f"{prefix}_profit_loss": float(wins.mean() / -losses.mean())
        if wins.size and losses.size
        else np.nan,
    }


# -- validation ------------------------------------------------------------------------------


def _check_options(
    grid: Any,
    entry: str,
    capital: float | None,
    lots: int | None,
    rebalance: str,
    book: str,
    costs: Costs,
    cash_buffer: float,
) -> None:
    if not isinstance(grid, AssetGrid):
        raise ParameterError(
            f"`grid` must be a factorlab.grid.AssetGrid (AssetGrid.from_market / from_prices); "
            f"got {type(grid).__name__}."
        )
    grid.entry_prices(entry)  # type: ignore[arg-type]
    if rebalance not in ("full", "difference"):
        raise ParameterError(f"`rebalance` must be 'full' or 'difference'; got {rebalance!r}.")
    if book not in ("long_only", "long_short"):
        raise ParameterError(f"`book` must be 'long_only' or 'long_short'; got {book!r}.")
    if not isinstance(costs, Costs):
        raise ParameterError(
            f"`costs` must be a factorlab.backtest.Costs; got {type(costs).__name__}."
        )
    if capital is None:
        if lots is not None:
            raise ParameterError(
                f"`lots={lots}` needs a `capital` in yuan (lots are whole shares); "
                "got capital=None."
            )
        if costs.min_commission > 0:
            raise ParameterError(
                f"`Costs.min_commission={costs.min_commission}` yuan per order needs a `capital` "
                "in yuan; got capital=None (pass capital=10_000_000.0, or min_commission=0)."
            )
    elif not (isinstance(capital, int | float) and np.isfinite(capital) and capital > 0):
        raise ParameterError(
            f"`capital` must be > 0 yuan (or None for a unit book); got {capital}."
        )
    if lots is not None and not (isinstance(lots, int) and not isinstance(lots, bool) and lots > 0):
        raise ParameterError(
            f"`lots` must be a positive number of shares (e.g. 100) or None; got {lots!r}."
        )
    if not 0 <= cash_buffer < 1:
        raise ParameterError(
            f"`cash_buffer` must be in [0, 1) (a fraction of NAV); got {cash_buffer}."
        )


def _read_targets(
    grid: AssetGrid, targets: Any, weight_col: str, by: Sequence[str] = ()
) -> pl.DataFrame:
    """`targets` as an eager frame (`by`..., date, asset, weight); an ``asset`` column already
    of the grid's ``pl.Enum`` (``pl.Enum(grid.assets)``) is kept as is (no string lookup)."""
    if isinstance(targets, pl.DataFrame):
        schema = targets.schema
        lf = None
    else:
        lf = as_lazy(targets, name="targets")
        schema = lf.collect_schema()
    check_columns(schema, [*by, "date", "asset", weight_col], table="targets")
    check_numeric(schema, [weight_col], table="targets")
    asset = pl.col("asset")
    if schema["asset"] != grid.index.enum:
        asset = asset.cast(pl.String)
    exprs = [
        *(pl.col(c) for c in by),
        pl.col("date").cast(pl.Date),
        asset,
        pl.col(weight_col).cast(pl.Float64).alias("weight"),
    ]
    frame = targets.select(exprs) if lf is None else lf.select(exprs).collect()
    for key in (*by, "date", "asset"):
        if frame[key].null_count():
            raise ValueRangeError(
                f"table `targets`: key column `{key}` holds {frame[key].null_count()} null(s); "
                "drop them.",
                table="targets",
                column=key,
                examples=example_rows(frame.filter(pl.col(key).is_null())),
            )
    return frame


def _check_weights(frame: pl.DataFrame, book: str, weight_col: str) -> np.ndarray:
    """The weights (numpy); NaN/inf (and negative in a long-only book) are errors. The frame is
    only filtered for the message."""
    weights = frame["weight"].to_numpy()
    finite = np.isfinite(weights).all() and not frame["weight"].null_count()
    if finite and (book != "long_only" or not (weights < 0).any()):
        return weights
    w = pl.col("weight")
    bad = frame.filter(w.is_null() | w.is_nan() | w.is_infinite())
    if bad.height:
        raise ValueRangeError(
            f"table `targets`: column `{weight_col}` holds {bad.height} null/NaN/infinite "
            f"weight(s), e.g. {example_rows(bad, 1)[0]}; give every row a finite weight (0 = not "
            "held) or drop the row.",
            table="targets",
            column=weight_col,
            examples=example_rows(bad),
        )
    neg = frame.filter(w < 0)
    raise ValueRangeError(
        f"table `targets`: column `{weight_col}` holds {neg.height} negative weight(s) in "
        f"a long-only book, e.g. {example_rows(neg, 1)[0]}; pass book='long_short' for "
        "short positions.",
        table="targets",
        column=weight_col,
        examples=example_rows(neg),
    )


def _one_leg_error(frame: pl.DataFrame, by: Sequence[str]) -> ParameterError:
    w = pl.col("weight")
    keys = [*by, "date"]
    legs = frame.group_by(keys).agg(longs=(w > 0).sum(), shorts=(w < 0).sum(), total=w.sum())
    one_leg = legs.filter((pl.col("longs") > 0) ^ (pl.col("shorts") > 0)).sort(keys)
    return ParameterError(
        f"`book='long_short'` is dollar-neutral: every date needs long (> 0) and short (< 0) "
        f"weights, or none (cash); {one_leg.height} date(s) have one leg only, e.g. "
        f"{example_rows(one_leg, 1)[0]}. Use book='long_only' for a long book."
    )


def _locate(grid: AssetGrid, frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    rows = grid.index.date_rows(frame["date"].to_numpy())  # datetime64[D]: no query, no nulls
    if (rows < 0).any():
        off = frame.filter(pl.Series(rows < 0))
        first, last = grid.index.date_series()[0], grid.index.date_series()[-1]
        dates = off["date"].unique().sort()
        raise CalendarError(
            f"table `targets`: {dates.len()} signal date(s) in column `date` are not sessions of "
            f"the grid ({first} .. {last}), e.g. {dates[0]}; move signals to sessions, e.g. with "
            "factorlab.calendar.previous_session.",
            table="targets",
            column="date",
            examples=example_rows(off),
        )
    if frame["asset"].dtype == grid.index.enum:  # already the grid's codes
        return rows, frame["asset"].to_physical().cast(pl.Int64).to_numpy()
    cols = grid.index.asset_cols(frame["asset"])
    if (cols < 0).any():
        unknown = frame.filter(pl.Series(cols < 0))
        match_codes(frame["asset"], grid.assets, table="targets", against="grid")
        codes = unknown["asset"].unique().sort()
        raise AssetCodeError(
            f"table `targets`: {codes.len()} asset(s) in column `asset` are not in the grid "
            f"({unknown.height} row(s)), e.g. {codes.head(3).to_list()}; build the grid with "
            "their kind (AssetGrid.from_market(..., kinds=('stock', 'etf', 'index'))) or drop "
            "those rows."
        )
    return rows, cols


def _check_holdable(grid: AssetGrid, weights: np.ndarray, cols: np.ndarray, entry: str) -> None:
    live = weights != 0
    held_cols = np.flatnonzero(np.bincount(cols[live], minlength=grid.shape[1]))
    blocked = held_cols[~np.isfinite(grid.tracking_bps[held_cols])]
    if blocked.size:
        names = grid.assets.gather(blocked).head(3).to_list()
        raise ParameterError(
            f"table `targets`: index(es) {names} cannot be held: an index is a benchmark only "
            "unless it trades through a proxy with a stated yearly tracking cost; build the grid "
            "with AssetGrid.from_indices(indices, tracking_bps=...) or grid.with_tracking_bps(...)."
        )
    grid.check_entry(entry, held_cols)  # type: ignore[arg-type]


@dataclass(frozen=True)
class _Setup:
    """Everything of one run but its targets: checked options and the per-asset arrays,
    computed once and shared by every book of :func:`backtest_many`."""

    grid: AssetGrid
    entry: str
    book: str
    rebalance: str
    costs: Costs
    capital: float
    cash_buffer: float
    price: np.ndarray
    offset: int
    can_buy: np.ndarray
    can_sell: np.ndarray
    lot: np.ndarray
    stamp_on: np.ndarray
    stamp: np.ndarray
    carry: np.ndarray
    benchmark: pl.DataFrame | None
    days: np.ndarray  # the grid's dates as int32 day numbers (a book's Date series is cast)


def _setup(
    grid: AssetGrid,
    entry: str,
    capital: float | None,
    lots: int | None,
    rebalance: str,
    book: str,
    costs: Costs | None,
    benchmark: Any,
    cash_buffer: float,
) -> _Setup:
    costs = NO_COSTS if costs is None else costs
    _check_options(grid, entry, capital, lots, rebalance, book, costs, cash_buffer)
    price, offset = grid.entry_prices(entry)  # type: ignore[arg-type]
    can_buy, can_sell = grid.tradable(entry)  # type: ignore[arg-type]
    lot = np.zeros(grid.shape[1])
    if lots is not None:
        lot[(grid.kind == STOCK) | (grid.kind == ETF)] = float(lots)
    carry = np.where(
        (grid.kind == INDEX) & np.isfinite(grid.tracking_bps),
        grid.tracking_bps * 1e-4 / TRADING_DAYS,
        0.0,
    )
    return _Setup(
        grid=grid,
        entry=entry,
        book=book,
        rebalance=rebalance,
        costs=costs,
        capital=1.0 if capital is None else float(capital),
        cash_buffer=cash_buffer,
        price=price,
        offset=offset,
        can_buy=can_buy,
        can_sell=can_sell,
        lot=lot,
        stamp_on=grid.kind == STOCK,
        stamp=costs.stamp_schedule(grid.dates),
        carry=carry,
        benchmark=None if benchmark is None else _benchmark_frame(grid, benchmark),
        days=grid.dates.astype("datetime64[D]").astype(np.int32),
    )


def _run(
    st: _Setup,
    rows: np.ndarray,
    cols: np.ndarray,
    weights: np.ndarray,
    frame: pl.DataFrame,
    by: Sequence[str] = (),
) -> BacktestResult:
    """One book on located targets: the duplicate-cell and one-leg checks and the CSR
    rebalances in one pass (:func:`targets_csr_nb`), then the book loop."""
    grid = st.grid
    n_t, n_a = grid.shape
    status, _, sig_rows, executed, indptr, tgt_idx, tgt_w = targets_csr_nb(
        rows, cols, weights, n_t, n_a, st.offset, st.book == "long_short"
    )
    if status == 1:
        check_unique_keys(frame, [*by, "date", "asset"], table="targets")
    if status == 2:
        raise _one_leg_error(frame, by)
    unexecuted = grid.dates[sig_rows[~executed]].tolist() if not executed.all() else []
    sig_rows = sig_rows[executed]
    fill_rows = sig_rows + st.offset
    c = st.costs
    trade_cap, position_cap, bound = _capacity(indptr, n_a)
    while True:
        out = _book(st, indptr, tgt_idx, tgt_w, fill_rows, trade_cap, position_cap)
        if not out[-1]:
            break
        if trade_cap == position_cap == bound:  # pragma: no cover - the bound holds
            raise RuntimeError("backtest: the trade buffer bound was exceeded (a bug).")
        trade_cap, position_cap = min(4 * trade_cap, bound), min(4 * position_cap, bound)
    run = _Run(
        grid,
        st.capital,
        pl.Series("signal_date", st.days[sig_rows]).cast(pl.Date),
        fill_rows,
        np.diff(indptr),
        out,
        costs=c,
        stamp=st.stamp,
    )
    return BacktestResult(run=run, benchmark=st.benchmark, unexecuted=unexecuted)


def _capacity(indptr: np.ndarray, n_a: int) -> tuple[int, int, int]:
    """(trade rows, position rows) to allocate, and a bound neither can exceed: rebalance k
    trades (and holds) at most the names targeted at or before it, at most `n_a`; each name
    is settled at most once."""
    nt = np.diff(indptr)
    total = int(indptr[-1] - indptr[0])
    before = np.minimum(indptr[:-1] - indptr[0], n_a)  # names targeted before rebalance k
    bound = int(np.minimum(before + nt, n_a).sum()) + min(total, n_a) + 1
    return min(2 * total + n_a + 1024, bound), min(total + n_a + 1024, bound), bound


def _book(
    st: _Setup,
    indptr: np.ndarray,
    tgt_idx: np.ndarray,
    tgt_w: np.ndarray,
    fill_rows: np.ndarray,
    trade_cap: int,
    position_cap: int,
) -> tuple:
    grid, c = st.grid, st.costs
    return backtest_nb(
        indptr,
        tgt_idx,
        tgt_w,
        fill_rows,
        grid.close,
        st.price,
        st.can_buy,
        st.can_sell,
        grid.adj,
        grid.settle_row,
        st.lot,
        st.stamp_on,
        st.stamp,
        st.carry,
        st.capital,
        c.commission,
        c.min_commission,
        c.slippage_bps * 1e-4,
        st.cash_buffer,
        st.rebalance == "difference",
        st.book == "long_only",
        trade_cap,
        position_cap,
    )


# -- the entry points ------------------------------------------------------------------------


def backtest(
    grid: AssetGrid,
    targets: Any,
    *,
    entry: Entry = "next_vwap",
    capital: float | None = 10_000_000.0,
    lots: int | None = None,
    rebalance: Rebalance = "full",
    book: Book = "long_only",
    costs: Costs | None = None,
    benchmark: str | pl.DataFrame | None = None,
    cash_buffer: float = 0.0,
    weight_col: str = "weight",
) -> BacktestResult:
    """Run a book that rebalances to `targets` on their signal dates.

    Parameters
    ----------
    grid
        The market (:class:`~factorlab.grid.AssetGrid`), built once and shared.
    targets
        Long frame ``date`` (signal date, a session of the grid), ``asset``, `weight_col`.
        Each date's weights are normalized (long-only: to sum 1; long-short: longs to +1 and
        shorts to -1). Only dates with rows are rebalances; a date whose weights are all 0 moves
        the book to cash (an empty rebalance, counted). polars or pandas. An ``asset`` column
        of dtype ``pl.Enum(grid.assets)`` skips the name lookup.
    entry
        ``close`` (the signal day's close: data known before it), ``next_open``, ``next_vwap``
        (stocks only), ``next_close`` (every kind).
    capital
        Starting cash in yuan; ``None`` runs a unit book (no lots, no minimum commission).
    lots
        Round every stock and ETF order toward zero to whole lots of this many raw shares (100
        on the A-share market); the leftover stays in cash. ``None``: fractional shares.
        Closing a position sells all of it (odd lots included). Index proxies stay fractional.
    rebalance
        ``"full"`` or ``"difference"`` (:data:`Rebalance`).
    book
        ``"long_only"`` or ``"long_short"`` (:data:`Book`).
    costs
        :class:`~factorlab.backtest.Costs`; ``None``: no costs.
    benchmark
        ``None``; an index (or any asset) of the grid, by name (its close-to-close return); or
        a frame (date, benchmark) of daily returns, e.g. from
        :func:`~factorlab.backtest.pool_benchmark`. Adds ``benchmark`` and ``excess`` (daily
        net minus benchmark) to :attr:`BacktestResult.daily`.
    cash_buffer
        Fraction of NAV kept out of every target value (seed 000 buys at NAV/15 x 0.99: 0.01).

    Returns
    -------
    BacktestResult

    Raises
    ------
    CalendarError
        A signal date that is not a session of the grid.
    AssetCodeError
        A target asset that is not in the grid.
    ValueRangeError
        A null/NaN weight; a negative weight in a long-only book.
    DuplicateKeyError
        Two rows on one (date, asset).
    ParameterError
        Bad options; an index without a tracking cost; ``next_open``/``next_vwap`` for an ETF or
        index; a long-short date with one leg only.

    See Also
    --------
    backtest_many : many books on one grid with the same options, targets checked once.
    """
    st = _setup(grid, entry, capital, lots, rebalance, book, costs, benchmark, cash_buffer)
    frame = _read_targets(grid, targets, weight_col)
    weights = _check_weights(frame, book, weight_col)
    rows, cols = _locate(grid, frame)
    _check_holdable(grid, weights, cols, entry)
    return _run(st, rows, cols, weights, frame)


def backtest_many(
    grid: AssetGrid,
    targets: Any,
    *,
    by: str | Sequence[str],
    entry: Entry = "next_vwap",
    capital: float | None = 10_000_000.0,
    lots: int | None = None,
    rebalance: Rebalance = "full",
    book: Book = "long_only",
    costs: Costs | None = None,
    benchmark: str | pl.DataFrame | None = None,
    cash_buffer: float = 0.0,
    weight_col: str = "weight",
    threads: int | None = None,
) -> dict[Any, BacktestResult]:
    """One book per group of `targets` (columns `by`), all with the same options.

    The same as ``{key: backtest(grid, group, ...) for key, group in targets.group_by(by)}``,
    result for result, but the frame is read, checked (nulls, weights, calendar, asset codes,
    holdability) and located on the grid once, and the options, tradability, lots, stamp
    duty and benchmark are prepared once: the per-book cost is the book loop plus a few
    tenths of a millisecond. Use it for parameter grids (one group per parameter point) and
    studies (one group per leg).

    Parameters
    ----------
    targets
        Long frame `by`..., ``date``, ``asset``, `weight_col`; each group is one book's targets
        (its own dates and normalization; a (group, date, asset) key at most once).
    by
        Column(s) naming the book; keys of the result are their values (a tuple for a list of
        columns, a scalar for one column name), in sorted order.
    threads
        Books simulated at once (the book loop is a nogil numba kernel: threads share the
        grid, nothing is copied); default None: one per core (``FACTORLAB_THREADS`` or the
        CPUs available, see :mod:`factorlab._kernels.parallel`) when called from the main
        thread, else one (a caller already on threads, e.g. a sweep: no nested
        oversubscription); 1: one after another. The results are the same either way; an
        error is that of the first failing group in sorted order, as one after another.

    Other parameters, returns and raises: as :func:`backtest`.
    """
    keys = [by] if isinstance(by, str) else list(by)
    threads = resolve_workers(threads, name="threads")
    if not keys:
        raise ParameterError("`by` must name at least one column of `targets`.")
    clash = [c for c in keys if c in ("date", "asset", weight_col)]
    if clash:
        raise ParameterError(f"`by` cannot hold the target columns {clash}.")
    st = _setup(grid, entry, capital, lots, rebalance, book, costs, benchmark, cash_buffer)
    frame = _read_targets(grid, targets, weight_col, keys)
    weights = _check_weights(frame, book, weight_col)
    rows, cols = _locate(grid, frame)
    _check_holdable(grid, weights, cols, entry)
    groups = (
        frame.select(keys).with_row_index("__row").group_by(keys).agg(pl.col("__row")).sort(keys)
    )
    members = groups["__row"].explode().to_numpy().astype(np.int64)
    sizes = groups["__row"].list.len().to_numpy().astype(np.int64)
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    labels = groups.select(keys).rows() if len(keys) > 1 else groups[keys[0]].to_list()

    def one(g: int) -> BacktestResult:
        idx = members[bounds[g] : bounds[g + 1]]  # the group's rows in frame order
        return _run(st, rows[idx], cols[idx], weights[idx], frame, keys)

    n = caller_threads() if threads is None else threads
    # results (and the first error) come back in group order
    books = map_in_order(one, range(len(labels)), n, name="factorlab-books")
    return dict(zip(labels, books, strict=True))


def _benchmark_frame(grid: AssetGrid, benchmark: Any) -> pl.DataFrame:
    if isinstance(benchmark, str):
        return grid.returns(benchmark).rename({"return": "benchmark"})
    lf = as_lazy(benchmark, name="benchmark")
    check_columns(lf.collect_schema(), ["date", "benchmark"], table="benchmark")
    return lf.select(pl.col("date").cast(pl.Date), pl.col("benchmark").cast(pl.Float64)).collect()
