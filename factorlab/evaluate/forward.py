"""Forward returns for several horizons, counted in trading rows of the panel's calendar.

Computed once per panel and shared by every factor of a sweep, together with each horizon's
per-date sort order (what rank IC needs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import get_args

import numpy as np
import polars as pl

from factorlab._kernels import fill_prices, forward_return_grid
from factorlab._kernels.grid import all_finite
from factorlab._kernels.rank import row_order
from factorlab._kernels.returns import forward_return_grids, price_faults
from factorlab.errors import (
    MAX_EXAMPLES,
    CalendarError,
    MissingColumnError,
    ParameterError,
    ValueRangeError,
)
from factorlab.evaluate.panel import DensePanel
from factorlab.typing import Entry, PriceFill

__all__ = ["ForwardReturns", "forward_returns", "schedule_forward_returns", "validate_horizons"]


@dataclass(frozen=True, eq=False)
class ForwardReturns:
    """Dense forward-return grids of one panel, one per horizon.

    Attributes
    ----------
    panel:
        The panel the returns live on.
    horizons:
        Sorted unique horizons, in trading rows.
    entry, fill:
        The entry convention and missing-price rule they were computed with.
    grids:
        Horizon -> (n_dates, n_assets) float64, NaN where the return is missing.
    cumulative:
        ``True``: the return over the ``h`` rows; ``False``: the single-row return ending ``h``
        rows ahead (alphalens' ``cumulative_returns=False``).
    """

    panel: DensePanel
    horizons: tuple[int, ...]
    entry: Entry
    fill: PriceFill
    grids: dict[int, np.ndarray]
    cumulative: bool = True
    _cache: dict = field(default_factory=dict, repr=False)

    def order(self, horizon: int) -> np.ndarray:
        """Per-date ascending sort order of horizon ``horizon``'s finite returns (cached)."""
        key = ("order", horizon)
        if key not in self._cache:
            r = self.grids[horizon]
            self._cache[key] = row_order(r, np.isfinite(r))
        return self._cache[key]

    def cached_order(self, horizon: int) -> np.ndarray | None:
        """:meth:`order` if it was computed already (e.g. once for a sweep's many factors),
        else None (the rank IC then sorts each row's used returns itself)."""
        return self._cache.get(("order", horizon))

    def all_finite(self) -> np.ndarray:
        """Cells whose return is finite for every horizon (alphalens' clean-row rule)."""
        if "all_finite" not in self._cache:
            self._cache["all_finite"] = all_finite([self.grids[h] for h in self.horizons])
        return self._cache["all_finite"]

    def to_frame(self) -> pl.DataFrame:
        """Long frame ``(date, asset, horizon, forward_return)`` of the non-missing returns."""
        parts = []
        for h in self.horizons:
            part = self.panel.to_frame({"forward_return": self.grids[h]})
            parts.append(part.with_columns(pl.lit(h, pl.Int32).alias("horizon")))
        cols = [self.panel.date_col, self.panel.asset_col, "horizon", "forward_return"]
        return pl.concat(parts).select(cols).sort(cols[:3])


def validate_horizons(horizons: Sequence[int], name: str = "horizons") -> tuple[int, ...]:
    """Sorted unique positive integer horizons, or a ``ParameterError``."""
    if isinstance(horizons, int | np.integer):
        horizons = [int(horizons)]
    values = list(horizons)
    if not values:
        raise ParameterError(f"`{name}` must hold at least one horizon; got an empty sequence.")
    bad = [
        h for h in values if isinstance(h, bool) or not isinstance(h, int | np.integer) or h <= 0
    ]
    if bad:
        raise ParameterError(
            f"`{name}` must be positive integers (trading rows); got {values!r}, invalid: {bad!r}."
        )
    return tuple(sorted({int(h) for h in values}))


_ENTRY_OFFSET = {"close": 0, "next_close": 1, "next_open": 1, "next_vwap": 1}


def forward_returns(
    panel: DensePanel,
    horizons: Sequence[int] = (1, 5, 10),
    *,
    entry: Entry = "close",
    fill: PriceFill = "none",
    price_col: str = "close",
    open_col: str = "open",
    vwap_col: str = "vwap",
    cumulative: bool = True,
) -> ForwardReturns:
    """Forward returns ``r(t, p)`` for each horizon ``p``, in rows of the panel's calendar.

    - ``entry="close"``: ``P[t+p] / P[t] - 1`` with ``P`` = ``price_col``. With
      ``fill="ffill"`` this equals alphalens' ``compute_forward_returns`` (``prices.ffill()
      .pct_change(p).shift(-p)`` on the wide date x asset frame).
    - ``entry="next_close"`` / ``"next_open"`` / ``"next_vwap"``: ``P[t+1+p] / P[t+1] - 1``
      with ``P`` = ``price_col`` / ``open_col`` / ``vwap_col``: enter at the next session, for
      factors published after t's close.
    - ``cumulative=False``: the one-row return ending at ``p`` instead, ``P[t+s+p] /
      P[t+s+p-1] - 1`` (``s`` = 0, or 1 for the ``next_*`` entries): alphalens'
      ``compute_forward_returns(..., cumulative_returns=False)``, "how predictive the factor
      is for a single day ``p`` days ahead".

    Parameters
    ----------
    panel:
        Dense panel holding the needed price column.
    horizons:
        Positive integers, in trading rows of ``panel.dates``.
    entry:
        Entry convention, see above.
    fill:
        Missing prices: ``"none"`` -> the return is missing (research default); ``"carry"`` ->
        last traded price carried through suspensions (not past an asset's last price);
        ``"ffill"`` -> pandas ``ffill`` (alphalens; carries past delisting, giving 0 returns).

    Nulls and NaN
    -------------
    A return is NaN if its start or end price is missing after filling, or if the end row is
    past the last date.

    Raises
    ------
    ParameterError
        ``horizons`` empty or not positive integers; unknown ``entry`` / ``fill``.
    MissingColumnError
        The panel lacks the price column the entry needs.
    ValueRangeError
        The price column the entry uses holds a zero or negative price (named with example
        rows); a price is never <= 0, and dividing by it gives no return.
    """
    horizons = validate_horizons(horizons)
    if entry not in _ENTRY_OFFSET:
        raise ParameterError(f"`entry` must be one of {get_args(Entry)}; got {entry!r}.")
    if fill not in get_args(PriceFill):
        raise ParameterError(f"`fill` must be one of {get_args(PriceFill)}; got {fill!r}.")
    column = {"next_open": open_col, "next_vwap": vwap_col}.get(entry, price_col)
    if column not in panel.fields:
        raise MissingColumnError(
            f"entry {entry!r} needs price column `{column}`, which the panel lacks; build it "
            f"with DensePanel.from_frame(..., columns=[..., {column!r}]). Panel columns: "
            f"{sorted(panel.fields)}.",
            table="prices",
            column=column,
        )
    prices = np.ascontiguousarray(panel.fields[column])
    n_bad, n_nan = price_faults(prices)
    if n_bad:
        check_positive_grid(panel, prices, column)
    if fill != "none" and n_nan:
        prices = fill_prices(prices, fill == "ffill")
    offset = _ENTRY_OFFSET[entry]
    if cumulative:
        per_h = forward_return_grids(prices, horizons, offset)
        grids = dict(zip(horizons, per_h, strict=True))
    else:
        one = forward_return_grid(prices, 1, offset)
        grids = {h: _rows_ahead(one, h - 1) for h in horizons}
    return ForwardReturns(
        panel=panel,
        horizons=horizons,
        entry=entry,
        fill=fill,
        grids=grids,
        cumulative=bool(cumulative),
    )


def _rows_ahead(grid: np.ndarray, k: int) -> np.ndarray:
    """``out[t] = grid[t + k]`` (NaN past the end)."""
    if k == 0:
        return grid
    out = np.full_like(grid, np.nan)
    if k < grid.shape[0]:
        out[:-k] = grid[k:]
    return out


def schedule_forward_returns(
    calendar: np.ndarray,
    assets: pl.Series,
    prices: np.ndarray,
    schedule: pl.Series,
    *,
    offset: int = 0,
    horizons: Sequence[int] = (1,),
    date_col: str = "date",
    asset_col: str = "asset",
) -> ForwardReturns:
    """Forward returns between the dates of an explicit signal schedule (e.g. the weekly
    rebalances of a study): the returns a book earns from one rebalance to the next.

    The panel of the result has one row per `schedule` date; horizon ``p`` is the return from
    the fill after schedule date ``i`` to the fill after schedule date ``i + p``:
    ``P[row(i+p) + offset] / P[row(i) + offset] - 1``, with ``row`` the date's row in
    `calendar` and ``P`` = `prices` (e.g. an :class:`~factorlab.grid.AssetGrid`'s entry price
    grid and offset: ``grid.entry_prices("next_vwap")``). Use it like :func:`forward_returns`:
    ``clean_factor(fwd.panel, factor, fwd)`` then :func:`~factorlab.evaluate.information_
    coefficient`.

    Parameters
    ----------
    calendar
        (T,) sorted sessions (``datetime64[D]``) the rows of `prices` stand for.
    assets
        (N,) asset names of the columns of `prices`.
    prices
        (T, N) prices, NaN = no price; must be > 0 where present.
    schedule
        Signal dates (``pl.Date``), each a session of `calendar`; sorted and deduplicated here.
    offset
        Rows from a signal to its fill (0: the signal's close; 1: the next session).

    Nulls and NaN
    -------------
    A return is NaN if either fill price is missing or a fill row is past the calendar's end
    (the last ``p`` schedule dates have no horizon-``p`` return).

    Raises
    ------
    CalendarError
        A schedule date that is not a session of `calendar`.
    """
    horizons = validate_horizons(horizons)
    sched = schedule.cast(pl.Date).drop_nulls().unique().sort().rename(date_col)
    days = sched.to_numpy().astype("datetime64[D]")
    cal = np.asarray(calendar).astype("datetime64[D]")
    rows = np.searchsorted(cal, days)
    bad = (
        (rows >= cal.size) | (cal[np.minimum(rows, cal.size - 1)] != days)
        if cal.size
        else (np.ones(days.size, bool))
    )
    if bad.any():
        raise CalendarError(
            f"{int(bad.sum())} schedule date(s) are not sessions of the calendar, e.g. "
            f"{sched.filter(pl.Series(bad))[0]}.",
            table="schedule",
            column=date_col,
        )
    fill = rows + offset
    entry = np.full((days.size, prices.shape[1]), np.nan)
    ok = fill < cal.size
    entry[ok] = prices[fill[ok]]
    panel = DensePanel(
        dates=sched,
        assets=assets.rename(asset_col),
        fields={"entry_price": entry},
        date_col=date_col,
        asset_col=asset_col,
    )
    return forward_returns(panel, horizons, price_col="entry_price")


def check_positive_grid(panel: DensePanel, prices: np.ndarray, column: str) -> None:
    """Raise :class:`ValueRangeError` if a price on the grid is zero or negative (NaN = missing
    is fine), naming example (date, asset, price) cells. One vectorized pass."""
    bad = prices <= 0
    if not bad.any():
        return
    rows, cols = np.nonzero(bad)
    examples = [
        {
            panel.date_col: panel.dates[int(t)].isoformat(),
            panel.asset_col: panel.assets[int(j)],
            column: float(prices[t, j]),
        }
        for t, j in zip(rows[:MAX_EXAMPLES], cols[:MAX_EXAMPLES], strict=True)
    ]
    raise ValueRangeError(
        f"table `prices`: column `{column}` must be > 0 (a price); got {rows.size} zero or "
        f"negative value(s), e.g. {examples[0]}. Set such values to null (missing) or fix the "
        "source.",
        table="prices",
        column=column,
        examples=examples,
    )
