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

from factorlab._kernels import fill_prices_nb, forward_returns_nb
from factorlab._kernels.rank import row_order
from factorlab.errors import MAX_EXAMPLES, MissingColumnError, ParameterError, ValueRangeError
from factorlab.evaluate.panel import DensePanel
from factorlab.typing import Entry, PriceFill

__all__ = ["ForwardReturns", "forward_returns", "validate_horizons"]


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
    """

    panel: DensePanel
    horizons: tuple[int, ...]
    entry: Entry
    fill: PriceFill
    grids: dict[int, np.ndarray]
    _cache: dict = field(default_factory=dict, repr=False)

    def order(self, horizon: int) -> np.ndarray:
        """Per-date ascending sort order of horizon ``horizon``'s finite returns (cached)."""
        key = ("order", horizon)
        if key not in self._cache:
            r = self.grids[horizon]
            self._cache[key] = row_order(r, np.isfinite(r))
        return self._cache[key]

    def all_finite(self) -> np.ndarray:
        """Cells whose return is finite for every horizon (alphalens' clean-row rule)."""
        if "all_finite" not in self._cache:
            ok = np.ones(self.panel.shape, bool)
            for h in self.horizons:
                ok &= np.isfinite(self.grids[h])
            self._cache["all_finite"] = ok
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


_ENTRY_OFFSET = {"close": 0, "next_open": 1, "next_vwap": 1}


def forward_returns(
    panel: DensePanel,
    horizons: Sequence[int] = (1, 5, 10),
    *,
    entry: Entry = "close",
    fill: PriceFill = "none",
    price_col: str = "close",
    open_col: str = "open",
    vwap_col: str = "vwap",
) -> ForwardReturns:
    """Forward returns ``r(t, p)`` for each horizon ``p``, in rows of the panel's calendar.

    - ``entry="close"``: ``P[t+p] / P[t] - 1`` with ``P`` = ``price_col``. With
      ``fill="ffill"`` this equals alphalens' ``compute_forward_returns`` (``prices.ffill()
      .pct_change(p).shift(-p)`` on the wide date x asset frame).
    - ``entry="next_open"`` / ``"next_vwap"``: ``P[t+1+p] / P[t+1] - 1`` with ``P`` = ``open_col``
      / ``vwap_col``: enter at the next session, for factors published after t's close.

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
    column = {"close": price_col, "next_open": open_col, "next_vwap": vwap_col}[entry]
    if column not in panel.fields:
        raise MissingColumnError(
            f"entry {entry!r} needs price column `{column}`, which the panel lacks; build it "
            f"with DensePanel.from_frame(..., columns=[..., {column!r}]). Panel columns: "
            f"{sorted(panel.fields)}.",
            table="prices",
            column=column,
        )
    prices = np.ascontiguousarray(panel.fields[column])
    check_positive_grid(panel, prices, column)
    if fill != "none" and np.isnan(prices).any():
        prices = fill_prices_nb(prices, fill == "ffill")
    offset = _ENTRY_OFFSET[entry]
    grids = {h: forward_returns_nb(prices, h, offset) for h in horizons}
    return ForwardReturns(panel=panel, horizons=horizons, entry=entry, fill=fill, grids=grids)


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
