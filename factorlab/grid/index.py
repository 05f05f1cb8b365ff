"""The one long <-> dense mapping: (date, asset) rows of a long frame to the cells of a date x
asset grid and back.

Dates map to rows through a lookup table on the day number (``searchsorted`` when the dates span
more days than a table should hold); string assets to columns through the physical codes of a
``pl.Enum`` of the grid's (sorted) asset names, integer assets by ``searchsorted``. No join, no
sort of the long frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import polars as pl

from factorlab._kernels import gather_cells_nb, repeated_cell_nb, scatter_cells_nb
from factorlab.frames import as_lazy, check_columns, check_unique_keys

__all__ = ["Cells", "GridIndex", "day_numbers"]


#: A lookup table on day numbers is used while it holds at most this many slots per grid date
#: (plus a fixed allowance); a sparser set of dates is looked up by ``searchsorted``.
_LUT_SLOTS_PER_DATE = 10
_LUT_ALLOWANCE = 1_000_000


def day_numbers(dates: Any) -> np.ndarray:
    """`dates` (a polars Date Series, a sequence of dates, or a numpy array) as datetime64[D]."""
    if isinstance(dates, pl.Series):
        return dates.cast(pl.Date).to_numpy().astype("datetime64[D]")
    return np.asarray(dates).astype("datetime64[D]")


def _day_ints(dates: Any) -> np.ndarray:
    """`dates` as day numbers since 1970-01-01 (null / NaT -> the int64 minimum, which no grid
    holds). Integer arrays are taken as day numbers already (polars' physical Date), as is."""
    if isinstance(dates, pl.Series):
        if isinstance(dates.dtype, pl.Datetime):
            dates = dates.dt.date()
        return dates.cast(pl.Date).to_physical().cast(pl.Int64).fill_null(_NO_DAY).to_numpy()
    arr = np.asarray(dates)
    if arr.dtype.kind in "iu":
        return arr
    return arr.astype("datetime64[D]").astype(np.int64)


_NO_DAY = np.iinfo(np.int64).min


@dataclass(frozen=True)
class Cells:
    """Where the rows of a long frame fall on a grid: ``rows`` / ``cols`` (-1 = off the grid) and
    ``ok`` (both on the grid)."""

    rows: np.ndarray
    cols: np.ndarray

    @property
    def ok(self) -> np.ndarray:
        return (self.rows >= 0) & (self.cols >= 0)


@dataclass(frozen=True)
class GridIndex:
    """The axes of a dense date x asset grid and the lookups between it and long frames.

    Attributes
    ----------
    dates
        Sorted unique sessions, ``datetime64[D]``.
    assets
        Sorted unique asset names (a polars Series named ``asset``: String, or an integer dtype
        for integer identifiers; categoricals are held as String).

    Examples
    --------
    >>> import datetime as dt
    >>> long = pl.DataFrame({"date": [dt.date(2020, 1, 3), dt.date(2020, 1, 2)],
    ...                      "asset": ["B", "A"], "x": [2.0, 1.0]})
    >>> ix = GridIndex.from_frame(long)
    >>> ix.shape
    (2, 2)
    >>> ix.scatter(ix.cells(long), long["x"].to_numpy()).tolist()
    [[1.0, nan], [nan, 2.0]]
    """

    dates: np.ndarray
    assets: pl.Series

    def __post_init__(self) -> None:
        object.__setattr__(self, "dates", day_numbers(self.dates))
        assets = self.assets if self.assets.dtype.is_integer() else self.assets.cast(pl.String)
        object.__setattr__(self, "assets", assets.alias("asset"))

    # -- construction ----------------------------------------------------------------------

    @classmethod
    def from_frame(
        cls,
        frame: pl.DataFrame | pl.LazyFrame,
        *,
        date_col: str = "date",
        asset_col: str = "asset",
        dates: Any = None,
    ) -> GridIndex:
        """The index spanned by the unique dates and assets of `frame` (or the given `dates`)."""
        lf = as_lazy(frame, name="frame")
        check_columns(lf.collect_schema(), [date_col, asset_col], table="frame")
        if dates is None:
            dates = lf.select(pl.col(date_col).unique().sort()).collect().to_series()
        assets = lf.select(pl.col(asset_col).cast(pl.String).unique().sort()).collect().to_series()
        return cls(day_numbers(dates), assets.drop_nulls())

    @classmethod
    def union(cls, indices: Sequence[GridIndex]) -> GridIndex:
        """One index over the union of the dates and of the assets of `indices`."""
        dates = np.unique(np.concatenate([ix.dates for ix in indices]))
        assets = pl.concat([ix.assets for ix in indices]).unique().sort()
        return cls(dates, assets)

    # -- axes ------------------------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.dates), self.assets.len()

    @cached_property
    def enum(self) -> pl.Enum:
        """The ``pl.Enum`` whose physical codes are the grid's columns (string assets)."""
        return pl.Enum(self.assets)

    @cached_property
    def day_lut(self) -> tuple[int, np.ndarray] | None:
        """``(lo, lut)``: ``lut[day - lo]`` is the row of day number ``day`` (-1 if not a row),
        the table behind :meth:`date_rows` (also handed to kernels); None when the dates are
        too sparse for a table (then :meth:`date_rows` uses ``searchsorted``)."""
        days = self.dates.astype(np.int64)
        if not days.size:
            return 0, np.empty(0, np.int64)
        lo, span = int(days[0]), int(days[-1] - days[0]) + 1
        if span > _LUT_SLOTS_PER_DATE * days.size + _LUT_ALLOWANCE:
            return None
        lut = np.full(span, -1, np.int64)
        lut[days - lo] = np.arange(days.size)
        return lo, lut

    def date_series(self, name: str = "date") -> pl.Series:
        return pl.Series(name, self.dates, dtype=pl.Date)

    # -- lookups ---------------------------------------------------------------------------

    def date_rows(self, dates: Any) -> np.ndarray:
        """Grid row of each date (-1 where the date is null or not a row of the grid).

        `dates`: a polars Date (or Datetime) Series, a sequence of dates, a ``datetime64``
        array, or an integer array of day numbers (polars' physical Date).
        """
        days = _day_ints(dates)
        if not len(self.dates):
            return np.full(days.shape[0], -1, np.int64)
        table = self.day_lut
        if table is not None:
            lo, lut = table
            # one pass each: offset, gather, mask; a null day (the int64 minimum) wraps to a huge
            # offset, so the unsigned comparison rejects it along with negative offsets
            idx = np.subtract(days, lo, dtype=np.int64)
            out = lut.take(idx, mode="clip")
            out[idx.view(np.uint64) >= lut.shape[0]] = -1
            return out
        grid_days = self.dates.astype(np.int64)
        days = days.astype(np.int64, copy=False)
        pos = np.minimum(np.searchsorted(grid_days, days), grid_days.size - 1)
        return np.where(grid_days[pos] == days, pos, -1).astype(np.int64)

    def first_row_on_or_after(self, dates: Any) -> np.ndarray:
        """Row of the first session on or after each date (``len(dates)`` past the end; NaT ->
        past the end)."""
        days = day_numbers(dates)
        pos = np.searchsorted(self.dates, days, side="left").astype(np.int64)
        pos[np.isnat(days)] = len(self.dates)
        return pos

    def asset_cols(self, assets: pl.Series) -> np.ndarray:
        """Grid column of each asset (-1 where unknown or null; an identifier of the other kind,
        string against integer assets or the reverse, is unknown)."""
        if self.assets.dtype.is_integer():
            if not assets.dtype.is_integer():
                return np.full(assets.len(), -1, np.int64)
            keys = self.assets.to_numpy()
            vals = assets.fill_null(keys[0] if keys.size else 0).to_numpy()
            pos = np.minimum(np.searchsorted(keys, vals), max(keys.size - 1, 0))
            ok = (keys.size > 0) & (keys[pos] == vals) & assets.is_not_null().to_numpy()
            return np.where(ok, pos, -1).astype(np.int64)
        if assets.dtype.is_integer():
            return np.full(assets.len(), -1, np.int64)
        if assets.dtype == self.enum:  # already the grid's codes (no string is read)
            return assets.to_physical().cast(pl.Int64).fill_null(-1).to_numpy()
        if assets.dtype != pl.String:
            assets = assets.cast(pl.String)
        codes = assets.cast(self.enum, strict=False).to_physical()
        return codes.cast(pl.Int64).fill_null(-1).to_numpy()

    def cells(
        self, frame: pl.DataFrame, *, date_col: str = "date", asset_col: str = "asset"
    ) -> Cells:
        """The cell of each row of the (eager) long `frame`."""
        return Cells(self.date_rows(frame[date_col]), self.asset_cols(frame[asset_col]))

    def flat(self, cells: Cells) -> np.ndarray:
        """Flat cell numbers of the rows that are on the grid."""
        ok = cells.ok
        return cells.rows[ok] * self.shape[1] + cells.cols[ok]

    def scatter(self, cells: Cells, values: np.ndarray, *, fill: float = np.nan) -> np.ndarray:
        """A (T, N) float64 grid holding `values` at `cells` (rows off the grid are ignored;
        two rows on one cell: the last wins, so check keys first with :meth:`check_cells`)."""
        out = np.full(self.shape, fill, dtype=np.float64)
        scatter_cells_nb(cells.rows, cells.cols, np.asarray(values, dtype=np.float64), out)
        return out

    def gather(self, grid: np.ndarray, cells: Cells) -> np.ndarray:
        """The value of `grid` at each row's cell (NaN for rows off the grid)."""
        out = np.full(cells.rows.shape[0], np.nan)
        if grid.dtype == np.float64:
            gather_cells_nb(grid, cells.rows, cells.cols, out)
        else:
            ok = cells.ok
            out[ok] = grid[cells.rows[ok], cells.cols[ok]]
        return out

    def check_cells(
        self, frame: pl.DataFrame, cells: Cells, *, table: str, keys: Sequence[str]
    ) -> None:
        """Raise :class:`~factorlab.errors.DuplicateKeyError` if two rows land on one cell."""
        seen = np.zeros(self.shape, dtype=np.bool_)
        if repeated_cell_nb(cells.rows, cells.cols, seen):
            check_unique_keys(frame, list(keys), table=table)

    def reindex(self, grid: np.ndarray, source: GridIndex, *, fill: float = np.nan) -> np.ndarray:
        """`grid` (on `source`) placed on this index; cells `source` lacks get `fill`."""
        out = np.full(self.shape, fill, dtype=grid.dtype if grid.dtype != bool else bool)
        rows = self.date_rows(source.dates)
        cols = self.asset_cols(source.assets)
        r_ok, c_ok = rows >= 0, cols >= 0
        out[np.ix_(rows[r_ok], cols[c_ok])] = grid[np.ix_(r_ok, c_ok)]
        return out

    def to_long(self, grids: dict[str, np.ndarray], *, keep: str | None = None) -> pl.DataFrame:
        """Long frame (date, asset, one column per grid); only the cells where grid `keep` is
        finite (every cell if None). NaN become null."""
        n_t, n_a = self.shape
        if keep is None:
            rows = np.repeat(np.arange(n_t), n_a)
            cols = np.tile(np.arange(n_a), n_t)
        else:
            rows, cols = np.nonzero(np.isfinite(grids[keep]))
        out = pl.DataFrame(
            {
                "date": pl.Series("date", self.dates[rows], dtype=pl.Date),
                "asset": self.assets.gather(cols),
                **{k: v[rows, cols] for k, v in grids.items()},
            }
        )
        return out.with_columns(pl.col(list(grids)).fill_nan(None))
