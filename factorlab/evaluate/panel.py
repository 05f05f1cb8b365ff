"""Dense date x asset grids built once from long tidy frames and shared by every factor.

``DensePanel.from_frame`` turns a long price table into float64 grids (NaN = missing) over the
sorted unique dates and assets; ``DensePanel.to_grid`` places any other long frame (a factor, a
group label) on the same grid, counting the rows that fall outside it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import polars as pl

from factorlab._kernels.grid import copy_finite_nb, views_repeated_nb
from factorlab._kernels.jit import start_numba
from factorlab._kernels.parallel import empty, map_row_blocks, map_threads, n_threads
from factorlab.errors import DtypeError, DuplicateKeyError, MissingColumnError, ParameterError
from factorlab.frames import as_frame, check_unique_keys
from factorlab.grid.index import GridIndex

__all__ = ["DensePanel", "GridColumns", "RowPlacement"]


@dataclass(frozen=True, eq=False)
class GridColumns:
    """Columns of a long frame placed on a panel's grid.

    Attributes
    ----------
    values:
        Column name -> (n_dates, n_assets) float64 grid, NaN where the frame has no row, a null,
        NaN or infinite value.
    n_rows:
        Rows of the frame.
    n_null:
        Column name -> rows whose value is null, NaN or infinite (on or off the grid).
    n_inf:
        Column name -> rows whose value is +inf or -inf (a subset of ``n_null``).
    n_off_grid:
        Column name -> rows with a finite value whose date or asset is not on the panel.
    labels:
        For columns placed with ``numeric=False``: the sorted unique labels; the grid holds
        each cell's index into them.
    """

    values: dict[str, np.ndarray]
    n_rows: int
    n_null: dict[str, int]
    n_off_grid: dict[str, int]
    labels: dict[str, pl.Series] = field(default_factory=dict)
    n_inf: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class RowPlacement:
    """Where the rows of a long key frame land on a panel's grid (:meth:`DensePanel.place_rows`).

    Computed once for frames that share their (date, asset) rows, e.g. every factor of one pool
    in a sweep, and passed to :meth:`DensePanel.to_grid` (``placement=``): the dates and assets
    are then not looked up again for each factor.

    Attributes
    ----------
    n_rows:
        Rows of the key frame.
    dense:
        The rows are exactly the grid's cells in (date, asset) order.
    on_grid, cell:
        Otherwise: which rows have their date and asset on the grid, and those rows' flat cells.
    error:
        A duplicate (date, asset) key found while placing, raised when a column is placed (where
        :meth:`DensePanel.to_grid` raises it without a placement).
    keys:
        The (date, asset) rows placed (:meth:`DensePanel.place_rows`): a frame passed with this
        placement must have exactly these rows in this order, which :meth:`DensePanel.to_grid`
        checks (one comparison of the key columns, far cheaper than placing them again).
    """

    n_rows: int
    dense: bool
    on_grid: np.ndarray | None = None
    cell: np.ndarray | None = None
    error: DuplicateKeyError | None = None
    keys: pl.DataFrame | None = None


@dataclass(frozen=True, eq=False)
class DensePanel:
    """Sorted unique dates and assets of a price table, with its columns as dense grids.

    Build it once per market with :meth:`from_frame` and reuse it for every factor: forward
    returns, their sort orders and the row mapping cost are paid once.

    Attributes
    ----------
    dates:
        ``pl.Date`` series, sorted, unique: the trading-row calendar (horizons and lags count
        rows of it).
    assets:
        Sorted unique asset identifiers (``pl.String`` or an integer dtype).
    fields:
        Column name -> (n_dates, n_assets) float64 C-contiguous grid, NaN = missing (label
        columns hold codes into ``columns.labels[name]``).
    columns:
        The :class:`GridColumns` the fields came from (null counts, label values).
    date_col, asset_col:
        Key column names of the frame the panel was built from (the defaults for
        :meth:`to_grid` and for output frames).
    index:
        The panel's :class:`~factorlab.grid.GridIndex` (the one date x asset lookup: every row
        mapping of :meth:`to_grid` goes through it).

    Nulls and NaN
    -------------
    A null, NaN or infinite price is stored as NaN, the same as a missing row.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import date
    >>> prices = pl.DataFrame({
    ...     "date": [date(2024, 1, 2)] * 2 + [date(2024, 1, 3)] * 2,
    ...     "asset": ["A", "B", "A", "B"],
    ...     "close": [10.0, 20.0, 11.0, None],
    ... })
    >>> panel = DensePanel.from_frame(prices, columns=["close"])
    >>> panel.shape
    (2, 2)
    >>> panel.fields["close"]
    array([[10., 20.],
           [11., nan]])
    """

    dates: pl.Series
    assets: pl.Series
    fields: Mapping[str, np.ndarray]
    columns: GridColumns | None = None
    date_col: str = "date"
    asset_col: str = "asset"
    _index: GridIndex | None = field(repr=False, default=None)

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_dates, n_assets)``."""
        return (self.dates.len(), self.assets.len())

    @property
    def index(self) -> GridIndex:
        """The :class:`~factorlab.grid.GridIndex` of the panel's dates and assets."""
        if self._index is None:
            index = GridIndex(self.dates.to_physical().to_numpy(), self.assets)
            object.__setattr__(self, "_index", index)
        return self._index  # type: ignore[return-value]

    @classmethod
    def from_frame(
        cls,
        frame: pl.DataFrame | pl.LazyFrame,
        *,
        columns: Sequence[str] = ("close",),
        labels: Sequence[str] = (),
        date_col: str = "date",
        asset_col: str = "asset",
        table: str = "prices",
    ) -> DensePanel:
        """Build the panel from a long frame with one row per (date, asset).

        Parameters
        ----------
        frame:
            Long table (DataFrame or LazyFrame); only the key columns, ``columns`` and
            ``labels`` are read.
        columns:
            Numeric columns to hold as grids: prices (``close``, ``open``, ``vwap``) and, for a
            sweep over factors that live in the same frame, the factor columns (then pass their
            names to ``clean_factor``: the rows are mapped once for all of them).
        labels:
            Label columns of any dtype (e.g. ``industry``), held as code grids; see
            :meth:`to_grid`.
        date_col, asset_col:
            Key columns: ``date_col`` of dtype Date (Datetime is truncated to its date),
            ``asset_col`` a string, categorical or integer identifier.
        table:
            Name used in error messages.

        Raises
        ------
        MissingColumnError, DtypeError, DuplicateKeyError
            A column is absent or of the wrong dtype, or a (date, asset) key repeats.
        """
        start_numba()  # its one-off start overlaps the Polars work below
        data = _select(frame, [date_col, asset_col, *columns, *labels], table, numeric=columns)
        days = _date_days(data.get_column(date_col), table, date_col)
        assets = _asset_series(data.get_column(asset_col), table, asset_col)
        uniq_days = _unique_days(days)
        uniq_assets = _dense_assets(days, assets, uniq_days)
        dense = uniq_assets is not None
        if uniq_assets is None:
            uniq_assets = assets.unique().sort()
        if uniq_assets.null_count() or (uniq_days.size and uniq_days[0] == _NULL_DAY):
            raise DtypeError(
                f"table `{table}` has null keys in `{date_col}` or `{asset_col}`; drop them first.",
                table=table,
            )
        panel = cls(
            dates=pl.Series(date_col, uniq_days.astype(np.int32)).cast(pl.Date),
            assets=uniq_assets.rename(asset_col),
            fields={},
            date_col=date_col,
            asset_col=asset_col,
            _index=GridIndex(uniq_days, uniq_assets),
        )
        grids = panel._grid_columns(data, days, assets, columns, labels, table, dense=dense)
        object.__setattr__(panel, "fields", grids.values)
        object.__setattr__(panel, "columns", grids)
        return panel

    def with_dates(self, dates: pl.Series) -> tuple[DensePanel, np.ndarray]:
        """This panel with the `dates` it lacks added as rows without data (NaN in every field).

        Used for alphalens' calendar, which is the union of the factor's and the prices' dates
        (a factor date without a price row still counts as a row for lags). Returns the new panel
        and, for each row of this panel, its row in the new one.
        """
        days = _date_days(dates.drop_nulls(), "factor", self.date_col)
        old = self.dates.to_physical().to_numpy()
        extra = np.setdiff1d(_unique_days(days), old)
        if extra.size == 0:
            return self, np.arange(old.size)
        union = np.union1d(old, extra).astype(np.int32)
        rows = np.searchsorted(union, old)

        def widen(grid: np.ndarray) -> np.ndarray:
            out = np.full((union.size, grid.shape[1]), np.nan)
            out[rows] = grid
            return out

        fields = {k: widen(v) for k, v in self.fields.items()}
        info = self.columns
        if info is not None:
            info = GridColumns(
                fields, info.n_rows, info.n_null, info.n_off_grid, info.labels, info.n_inf
            )
        panel = DensePanel(
            dates=pl.Series(self.date_col, union).cast(pl.Date),
            assets=self.assets,
            fields=fields,
            columns=info,
            date_col=self.date_col,
            asset_col=self.asset_col,
            _index=GridIndex(union, self.assets),
        )
        return panel, rows

    def to_grid(
        self,
        frame: pl.DataFrame | pl.LazyFrame,
        columns: Sequence[str] = (),
        *,
        labels: Sequence[str] = (),
        date_col: str | None = None,
        asset_col: str | None = None,
        table: str = "factor",
        placement: RowPlacement | None = None,
    ) -> GridColumns:
        """Place columns of another long frame on this panel's grid, in one pass.

        Rows whose date or asset is not on the panel are counted in ``n_off_grid`` and left
        out. ``columns`` must be numeric; ``labels`` may be of any dtype (e.g. an industry): each
        is encoded as the float64 index of its value in its sorted unique non-null values
        (NaN = null), the values returned in ``GridColumns.labels``. ``placement``: the
        frame's rows placed once by :meth:`place_rows` (the keys are then not read again).

        Raises
        ------
        MissingColumnError, DtypeError, DuplicateKeyError
        ParameterError
            ``placement`` is not a :meth:`place_rows` result for exactly this frame's (date, asset)
            rows in this order.
        """
        date_col = self.date_col if date_col is None else date_col
        asset_col = self.asset_col if asset_col is None else asset_col
        data = _select(frame, [date_col, asset_col, *columns, *labels], table, numeric=columns)
        if placement is not None:
            _check_placement(placement, data, date_col, asset_col, table)
            return self._grid_columns(data, None, None, columns, labels, table, placement=placement)
        days = _date_days(data.get_column(date_col), table, date_col)
        assets = _asset_series(data.get_column(asset_col), table, asset_col)
        return self._grid_columns(data, days, assets, columns, labels, table)

    def place_rows(
        self,
        frame: pl.DataFrame,
        *,
        date_col: str | None = None,
        asset_col: str | None = None,
        table: str = "factor",
    ) -> RowPlacement:
        """The :class:`RowPlacement` of the rows of the eager `frame` (its key columns), to pass
        to :meth:`to_grid` for every frame with the same rows in the same order.

        Parameters
        ----------
        frame:
            The rows to place (only the key columns are read).
        date_col, asset_col:
            Key columns (default: the panel's).
        table:
            Name used in error messages.

        Returns
        -------
        RowPlacement
            The rows' cells on this grid, with the keys they were found for (:meth:`to_grid`
            checks a frame against them).

        Raises
        ------
        MissingColumnError, DtypeError
            A key column is absent or of the wrong dtype (a duplicate key is kept in
            ``RowPlacement.error`` and raised by :meth:`to_grid`).
        """
        date_col = self.date_col if date_col is None else date_col
        asset_col = self.asset_col if asset_col is None else asset_col
        data = _select(frame, [date_col, asset_col], table, numeric=())
        days = _date_days(data.get_column(date_col), table, date_col)
        assets = _asset_series(data.get_column(asset_col), table, asset_col)
        return replace(self._placement(data, days, assets, table), keys=data)

    def _grid_columns(
        self,
        data: pl.DataFrame,
        days: np.ndarray | None,
        assets: pl.Series | None,
        columns: Sequence[str],
        labels: Sequence[str],
        table: str,
        *,
        dense: bool | None = None,
        placement: RowPlacement | None = None,
    ) -> GridColumns:
        if placement is None:
            placement = self._placement(data, days, assets, table, dense=dense)
        dense = placement.dense
        uniques: dict[str, pl.Series] = {}
        codes = []
        rows: dict[str, np.ndarray] = {}  # labels fixed per asset on a dense grid: one row
        for name in labels:
            values = data.get_column(name)
            per_asset = self.shape[1] if dense else 0
            uniques[name], code = _encode_labels(values, repeated_every=per_asset)
            if isinstance(code, np.ndarray):
                rows[name] = code
            else:
                codes.append(code)
        if codes:
            data = data.with_columns(codes)
        placed = [c for c in (*columns, *labels) if c not in rows]
        grids = self._place(data, placed, placement)
        if rows:
            grids = self._with_label_rows(grids, rows, [*columns, *labels])
        grids.labels.update(uniques)
        return grids

    def _with_label_rows(
        self, grids: GridColumns, rows: Mapping[str, np.ndarray], order: Sequence[str]
    ) -> GridColumns:
        """`grids` plus each label's code row repeated on every date (the dense grid of a label
        fixed per asset: the same codes and counts as placing the tiled column, in one write)."""
        n_dates = self.shape[0]
        for name, row in rows.items():
            grid = empty(self.shape)

            def fill(_, lo, hi, grid=grid, row=row):
                grid[lo:hi] = row

            map_row_blocks(fill, (0,), n_dates, grid.size)
            grids.values[name] = grid
            grids.n_null[name] = int(np.isnan(row).sum()) * n_dates
            grids.n_inf[name] = 0
            grids.n_off_grid[name] = 0
        keyed = (grids.values, grids.n_null, grids.n_off_grid, grids.n_inf)
        values, n_null, n_off, n_inf = ({k: d[k] for k in order} for d in keyed)
        return GridColumns(values, grids.n_rows, n_null, n_off, grids.labels, n_inf)

    def to_frame(
        self, grids: Mapping[str, np.ndarray], *, drop_missing: bool = True
    ) -> pl.DataFrame:
        """Long frame ``(date, asset, *grids)`` sorted by (date, asset); rows where every grid is
        NaN are dropped unless ``drop_missing=False``. NaN becomes null."""
        n_dates, n_assets = self.shape
        cols = {
            name: np.ascontiguousarray(g, dtype=np.float64).reshape(-1) for name, g in grids.items()
        }
        keep = None
        if drop_missing and cols:
            keep = np.zeros(n_dates * n_assets, bool)
            for values in cols.values():
                keep |= np.isfinite(values)
        rows = np.repeat(np.arange(n_dates), n_assets)
        assets = np.tile(np.arange(n_assets), n_dates)
        if keep is not None:
            rows, assets = rows[keep], assets[keep]
            cols = {k: v[keep] for k, v in cols.items()}
        out = pl.DataFrame(
            {
                self.date_col: self.dates.gather(rows),
                self.asset_col: self.assets.gather(assets),
                **cols,
            }
        )
        return out.with_columns(pl.col(list(grids)).fill_nan(None))

    # -- internals ---------------------------------------------------------------------------

    def _placement(
        self,
        data: pl.DataFrame,
        days: np.ndarray,
        assets: pl.Series,
        table: str,
        *,
        dense: bool | None = None,
    ) -> RowPlacement:
        """Where the rows of ``data`` (keys first) land; ``dense`` skips the layout check."""
        n_rows = data.height
        if dense is None:
            dense = _is_dense_layout(days, assets, self.dates.to_physical().to_numpy(), self.assets)
        if dense:
            return RowPlacement(n_rows, True)
        rows = self.index.date_rows(days)
        cols = self.index.asset_cols(assets)
        on_grid = (rows >= 0) & (cols >= 0)
        cell = rows[on_grid] * self.shape[1] + cols[on_grid]
        keys = data.select(data.columns[:2])
        try:
            if cell.size:
                self._check_unique(cell, keys.filter(pl.Series(on_grid)), table)
            if cell.size < n_rows:  # rows off the grid (usually few): duplicates there too
                check_unique_keys(keys.filter(~pl.Series(on_grid)), keys.columns, table=table)
        except DuplicateKeyError as exc:
            return RowPlacement(n_rows, False, on_grid, cell, exc)
        return RowPlacement(n_rows, False, on_grid, cell)

    def _place(
        self, data: pl.DataFrame, columns: Sequence[str], placement: RowPlacement
    ) -> GridColumns:
        """Scatter ``columns`` of ``data`` onto the grid at the rows' `placement`."""
        if placement.error is not None:
            raise placement.error
        n_dates, n_assets = self.shape
        n_rows = data.height
        values: dict[str, np.ndarray] = {}
        n_null: dict[str, int] = {}
        n_off: dict[str, int] = {}
        n_inf: dict[str, int] = {}
        if placement.dense:
            for name in columns:
                grid, bad, inf = _float_grid(data.get_column(name), (n_dates, n_assets))
                n_null[name] = bad
                n_inf[name] = inf
                n_off[name] = 0
                values[name] = grid
            return GridColumns(values, n_rows, n_null, n_off, n_inf=n_inf)
        on_grid, cell = placement.on_grid, placement.cell
        for name in columns:
            col = as_float_array(data.get_column(name))
            finite = np.isfinite(col)
            n_null[name] = int(n_rows - finite.sum())
            n_inf[name] = int(np.isinf(col).sum()) if n_null[name] else 0
            n_off[name] = int((finite & ~on_grid).sum())
            grid = np.full(n_dates * n_assets, np.nan)
            vals = col[on_grid]
            vals[~np.isfinite(vals)] = np.nan
            grid[cell] = vals
            values[name] = grid.reshape(n_dates, n_assets)
        return GridColumns(values, n_rows, n_null, n_off, n_inf=n_inf)

    def _check_unique(self, cell: np.ndarray, on_grid: pl.DataFrame, table: str) -> None:
        """Duplicate (date, asset) cells: detected with one ``bincount``, reported by the shared
        :func:`factorlab.frames.check_unique_keys` (one message for every entry point)."""
        counts = np.bincount(cell, minlength=self.shape[0] * self.shape[1])
        if counts.max(initial=0) <= 1:
            return
        check_unique_keys(on_grid, on_grid.columns[:2], table=table)
        raise AssertionError("unreachable: bincount found duplicate cells")  # pragma: no cover


_NULL_DAY = np.iinfo(np.int32).min


_BLOCK_ROWS = 1 << 17


def _is_dense_layout(
    days: np.ndarray, assets: pl.Series, grid_days: np.ndarray, grid_assets: pl.Series
) -> bool:
    """True if the rows are exactly the grid's cells in (date, asset) order.

    Checked without hashing a single string: the dates against the grid's, the assets block by
    block against the grid's assets repeated (a cheap vectorized equality).
    """
    n_dates, n_assets = grid_days.shape[0], grid_assets.len()
    if days.shape[0] != n_dates * n_assets or n_assets == 0 or assets.dtype != grid_assets.dtype:
        return False
    if not (days.reshape(n_dates, n_assets) == grid_days[:, None]).all():
        return False
    return _is_repeated(assets, grid_assets)


def _dense_assets(days: np.ndarray, assets: pl.Series, uniq_days: np.ndarray) -> pl.Series | None:
    """The sorted unique assets if the frame is a full grid sorted by (date, asset), else None."""
    n_dates = uniq_days.shape[0]
    if n_dates == 0 or days.shape[0] % n_dates:
        return None
    head = assets.head(days.shape[0] // n_dates)
    if head.null_count() or not head.is_sorted() or head.n_unique() != head.len():
        return None
    return head if _is_dense_layout(days, assets, uniq_days, head) else None


def _unique_days(days: np.ndarray) -> np.ndarray:
    """Sorted unique day numbers (a counting pass when the span is small, as dates are)."""
    if days.size == 0:
        return days
    if (days[1:] >= days[:-1]).all():  # sorted by date (the usual long frame): the run starts
        return np.concatenate([days[:1], days[1:][days[1:] != days[:-1]]])
    lo, hi = int(days.min()), int(days.max())
    if hi - lo > 10 * days.size + 1_000_000:
        return np.unique(days)
    seen = np.bincount(days.astype(np.int64) - lo, minlength=hi - lo + 1)
    return (np.flatnonzero(seen) + lo).astype(days.dtype)


def _check_placement(
    placement: object, data: pl.DataFrame, date_col: str, asset_col: str, table: str
) -> None:
    """:class:`ParameterError` unless `placement` was made by ``place_rows`` for exactly the
    (date, asset) rows of `data`, in their order (another frame's placement of the same height
    would put every value in another row's cell)."""
    if not isinstance(placement, RowPlacement) or placement.keys is None:
        raise ParameterError(
            f"`placement` must be the result of `DensePanel.place_rows`; got "
            f"{type(placement).__name__}."
        )
    keys = placement.keys
    same = placement.n_rows == data.height and all(
        data.get_column(col).equals(keys.to_series(i), check_dtypes=True)
        for i, col in enumerate((date_col, asset_col))
    )
    if not same:
        raise ParameterError(
            f"`placement` was computed for other (date, asset) rows ({placement.n_rows} rows) "
            f"than table `{table}`'s ({data.height} rows, or the same count in another order or "
            "with other keys): place the rows of this frame with `place_rows`."
        )


def _select(
    frame: pl.DataFrame | pl.LazyFrame, columns: Sequence[str], table: str, numeric: Sequence[str]
) -> pl.DataFrame:
    frame = as_frame(frame, name=table)  # pandas accepted; anything else is a ParameterError
    schema = frame.collect_schema()
    names = list(dict.fromkeys(columns))
    for name in names:
        if name not in schema:
            raise MissingColumnError(
                f"table `{table}` has no column `{name}`; columns are {list(schema.names())}.",
                table=table,
                column=name,
            )
    for name in numeric:
        dtype = schema[name]
        if not (dtype.is_numeric() or dtype == pl.Null):
            raise DtypeError(
                f"column `{name}` of table `{table}` must be numeric; got {dtype}.",
                table=table,
                column=name,
            )
    data = frame.select(names)
    return data.collect() if isinstance(data, pl.LazyFrame) else data


def _date_days(dates: pl.Series, table: str, column: str) -> np.ndarray:
    if dates.dtype == pl.Date:
        pass
    elif isinstance(dates.dtype, pl.Datetime):
        dates = dates.dt.date()
    else:
        raise DtypeError(
            f"column `{column}` of table `{table}` must be of dtype Date; got {dates.dtype}.",
            table=table,
            column=column,
        )
    return dates.to_physical().fill_null(_NULL_DAY).to_numpy()


def _asset_series(assets: pl.Series, table: str, column: str) -> pl.Series:
    dtype = assets.dtype
    if dtype == pl.String or dtype.is_integer():
        return assets
    if isinstance(dtype, pl.Categorical | pl.Enum):
        return assets.cast(pl.String)
    raise DtypeError(
        f"column `{column}` of table `{table}` must be a string, categorical or integer asset "
        f"identifier; got {dtype}.",
        table=table,
        column=column,
    )


def _encode_labels(
    values: pl.Series, repeated_every: int = 0
) -> tuple[pl.Series, pl.Series | np.ndarray]:
    """Sorted unique non-null labels and each value's index into them (Float64, null = null).

    ``repeated_every=n``: if the column is its first ``n`` values repeated (a label fixed per
    asset on a dense grid), only those are encoded: the codes are then the ``(n,)`` float64
    codes of one repetition (NaN = null), to repeat on every date; checked blockwise.
    """
    n = repeated_every
    if n and values.len() % n == 0 and values.len() > n:
        head = values.head(n)
        if _is_repeated(values, head):
            labels, code = _encode_labels(head)
            return labels, code.to_numpy().astype(np.float64, copy=True)
    labels = values.drop_nulls().unique().sort()
    if values.dtype == pl.String:
        code = values.cast(pl.Enum(labels)).to_physical()
    elif isinstance(values.dtype, pl.Categorical | pl.Enum):
        labels = labels.cast(pl.String).sort()
        code = values.cast(pl.String).cast(pl.Enum(labels)).to_physical()
    else:
        pos = np.searchsorted(labels.to_numpy(), values.drop_nulls().to_numpy())
        code = pl.Series(np.full(values.len(), np.nan))
        code = code.scatter(values.is_not_null().arg_true(), pos.astype(np.float64))
        code = code.fill_nan(None)
    return labels, code.cast(pl.Float64).rename(values.name)


def _is_repeated(values: pl.Series, head: pl.Series) -> bool:
    """True if ``values`` is ``head`` repeated (nulls equal), compared block by block (a string
    column of short strings first on its Arrow views: :func:`_views_repeated`)."""
    if _views_repeated(values, head):
        return True
    reps = max(1, _BLOCK_ROWS // head.len())
    block = pl.concat([head] * min(reps, values.len() // head.len()))
    step = block.len()
    for start in range(0, values.len(), step):
        part = values.slice(start, step)
        if not part.equals(block.head(part.len()), check_names=False):
            return False
    return True


#: an Arrow string view holds a string of at most this many bytes whole (inline)
_INLINE_BYTES = 12


def _string_views(values: pl.Series) -> list[np.ndarray] | None:
    """Each chunk's Arrow string views as (rows, 2) uint64 (no copy), or None where they are
    not available (another dtype or Arrow layout) or do not decide equality (a null)."""
    if values.dtype != pl.String or values.null_count():
        return None
    out = []
    for chunk in values.get_chunks():
        arr = chunk.to_arrow(compat_level=pl.CompatLevel.newest())
        buffers = arr.buffers()
        if str(arr.type) != "string_view" or len(buffers) < 2 or buffers[1] is None:
            return None
        words = np.frombuffer(buffers[1], dtype=np.uint64)
        out.append(words[2 * arr.offset : 2 * (arr.offset + len(arr))].reshape(-1, 2))
    return out


def _views_repeated(values: pl.Series, head: pl.Series) -> bool:
    """True if the string column ``values`` is proven to be ``head`` repeated by comparing
    16-byte Arrow views: a string of at most 12 bytes lives whole in its view (length, bytes,
    zero padding), so equal views are equal strings. False means "not proven" (longer
    strings, nulls, another dtype, or a view that differs): the caller compares the values."""
    head_views = _string_views(head)
    if head_views is None or head.len() == 0:
        return False
    head_views = np.concatenate(head_views) if len(head_views) > 1 else head_views[0]
    if (head_views[:, 0] & np.uint64(0xFFFFFFFF)).max() > _INLINE_BYTES:
        return False
    chunks = _string_views(values)
    if chunks is None:
        return False
    head_views = np.ascontiguousarray(head_views)
    starts = np.cumsum([0] + [v.shape[0] for v in chunks[:-1]])

    def same(group: list[int]) -> bool:
        return all(views_repeated_nb(chunks[i], head_views, int(starts[i])) for i in group)

    return all(_map_chunks(same, len(chunks), values.len()))


def _map_chunks(func, n_chunks: int, n_values: int) -> list:
    """``func(group)`` for contiguous groups of chunk numbers, one group per thread (the
    chunks of a long column are independent), on the threads when the column is long."""
    groups = [g.tolist() for g in np.array_split(np.arange(n_chunks), min(n_threads(), n_chunks))]
    groups = [g for g in groups if g]
    return map_threads(func, groups, n_values // max(len(groups), 1))


def _float_grid(values: pl.Series, shape: tuple[int, int]) -> tuple[np.ndarray, int, int]:
    """A numeric column as a fresh float64 grid of `shape` (row-major), NaN for null, NaN and
    infinite values, with its counts of non-finite (nulls included) and infinite values: each
    chunk's Arrow buffers read in place and written once (no concatenated copy, no NaN-filled
    copy of a chunk with nulls, no second pass)."""
    if values.dtype != pl.Float64:
        values = values.cast(pl.Float64)
    out = empty(shape)
    flat = out.reshape(-1)
    chunks = values.get_chunks()
    starts = np.cumsum([0] + [c.len() for c in chunks[:-1]])

    def copy(group: list[int]) -> tuple[int, int]:
        n_bad = n_inf = 0
        for i in group:
            src, valid, bit0 = _float_buffers(chunks[i])
            bad, inf = copy_finite_nb(src, valid, bit0, flat, int(starts[i]))
            n_bad += int(bad)
            n_inf += int(inf)
        return n_bad, n_inf

    counts = _map_chunks(copy, len(chunks), values.len()) if chunks else []
    return out, sum(c[0] for c in counts), sum(c[1] for c in counts)


_NO_BITS = np.zeros(0, np.uint8)
_NO_BITS.flags.writeable = False


def _float_buffers(chunk: pl.Series) -> tuple[np.ndarray, np.ndarray, int]:
    """One Float64 chunk as (values, validity bitmap or empty, first bit), read-only views of
    its Arrow buffers (a null's slot holds any value); a copy with NaN for null where the
    buffers are not plain (the same arguments, one compiled specialization)."""
    arr = chunk.to_arrow()
    buffers = arr.buffers()
    if str(arr.type) == "double" and len(buffers) == 2 and buffers[1] is not None:
        n, offset = len(arr), arr.offset
        src = np.frombuffer(buffers[1], dtype=np.float64)[offset : offset + n]
        if buffers[0] is None or not chunk.null_count():
            return src, _NO_BITS, 0
        return src, np.frombuffer(buffers[0], dtype=np.uint8), offset
    src = chunk.to_numpy().view()  # pragma: no cover - another Arrow layout
    src.flags.writeable = False
    return src, _NO_BITS, 0


def as_float_array(values: pl.Series) -> np.ndarray:
    """The column as float64 with NaN for nulls, read-only where it is a view of the column.
    The nulls are filled by a Polars pass, which runs off the GIL (``to_numpy`` of a column with
    nulls builds its array holding it, and slowly: threads scoring other factors would wait)."""
    if values.dtype != pl.Float64:
        values = values.cast(pl.Float64)
    if values.null_count():
        values = values.fill_null(np.nan)
    return values.to_numpy()
