"""The market grid: dense date x asset price arrays of stocks, ETFs and indices on one calendar,
with the tradability rules of each kind (suspension, price limits, published delisting).

Built once from the canonical tables (``prices``, ``etfs``, ``indices``, ``assets``) and shared by
every backtest. Conventions are in ``docs/backtest.md``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import polars as pl

from factorlab._arrays import ffill_rows, prev_valid_rows
from factorlab.errors import ParameterError
from factorlab.frames import as_lazy, check_columns, check_numeric, check_positive, match_codes
from factorlab.grid.index import GridIndex, day_numbers
from factorlab.typing import Entry

__all__ = [
    "CHINEXT_REFORM",
    "ETF_LIMIT",
    "KINDS",
    "AssetGrid",
    "AssetKind",
    "price_limit_pct",
    "stock_rows",
    "vwap",
]

#: ChiNext (300/301) price limits widened from 10% to 20% on this date (the registration reform).
CHINEXT_REFORM = dt.date(2020, 8, 24)
#: Daily price limit of exchange-traded funds.
ETF_LIMIT = 0.10

AssetKind = Literal["stock", "etf", "index"]
#: Asset kinds in the order of their codes in :attr:`AssetGrid.kind`.
KINDS: tuple[str, ...] = ("stock", "etf", "index")
STOCK, ETF, INDEX = 0, 1, 2


_OFFSET = {"close": 0, "next_close": 1, "next_open": 1, "next_vwap": 1}
_STOCK_FLOATS = ("open", "high", "low", "close", "volume", "amount", "adj_factor", "float_shares")


def price_limit_pct() -> pl.Expr:
    """Daily price-limit fraction of each ``prices`` row, as an expression on ``asset``, ``date``
    and ``is_st``: 20% for STAR (688) always and ChiNext (300/301) from 2020-08-24; else 5% for
    ST names; else 10% (main boards). Named ``limit_pct``.

    Examples
    --------
    >>> frame = pl.DataFrame({"asset": ["600000.SH", "300750.SZ", "300750.SZ", "000001.SZ"],
    ...                       "date": [dt.date(2021, 1, 4), dt.date(2020, 8, 21),
    ...                                dt.date(2020, 8, 24), dt.date(2021, 1, 4)],
    ...                       "is_st": [False, False, False, True]})
    >>> frame.select(price_limit_pct())["limit_pct"].to_list()
    [0.1, 0.1, 0.2, 0.05]
    """
    code = pl.col("asset").str.slice(0, 3)
    star = code == "688"
    chinext = code.is_in(["300", "301"]) & (pl.col("date") >= CHINEXT_REFORM)
    wide = star | chinext
    return (
        pl.when(wide).then(0.20).when(pl.col("is_st")).then(0.05).otherwise(0.10).alias("limit_pct")
    )


def vwap(
    amount: np.ndarray,
    volume: np.ndarray,
    close: np.ndarray,
    low: np.ndarray | None = None,
    high: np.ndarray | None = None,
) -> np.ndarray:
    """The one VWAP definition: ``amount / volume`` (yuan per share), clipped to the day's
    ``[low, high]`` bar; the ``close`` where volume is 0 or missing or amount is missing (a bar
    with no trades has no average price). NaN where close is NaN.

    Examples
    --------
    >>> vwap(np.array([1050.0, np.nan, 0.0, 2000.0]), np.array([100.0, 100.0, 0.0, 100.0]),
    ...      np.array([10.0, 10.0, 10.0, 10.0]), np.full(4, 9.0), np.full(4, 11.0)).tolist()
    [10.5, 10.0, 10.0, 11.0]
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        good = (volume > 0) & np.isfinite(amount)
        out = np.where(good, amount / np.where(good, volume, 1.0), close)
    if low is not None and high is not None:
        out = np.clip(out, low, high)
    out[np.isnan(close)] = np.nan
    return out


def _limit_prices(
    close_raw: np.ndarray, adj: np.ndarray, pct: np.ndarray, decimals: int
) -> tuple[np.ndarray, np.ndarray]:
    """Adjusted limit-up / limit-down prices of each cell: the last traded close before the day
    (carried through suspensions), put on the day's share basis, times 1 +- pct, rounded to the
    tick (`decimals`), back on the adjusted basis."""
    ref = prev_valid_rows(close_raw * adj)
    with np.errstate(invalid="ignore"):
        ref /= adj
        up = np.round(ref * (1 + pct), decimals)
        up *= adj
        down = np.multiply(ref, 1 - pct, out=ref)
        np.round(down, decimals, out=down)
        down *= adj
    return up, down


def _floats(frame: pl.DataFrame, col: str, default: float = np.nan) -> np.ndarray:
    if col not in frame.columns:
        return np.full(frame.height, default)
    return frame[col].cast(pl.Float64).fill_null(np.nan).to_numpy()


@dataclass
class AssetGrid:
    """Dense date x asset arrays of one market: stocks, ETFs and indices on one calendar.

    Prices are on the back-adjusted basis (raw price x ``adj``), NaN where the asset has no row
    (suspended, not listed, or not of a kind that has the field). Build with
    :meth:`from_prices`, :meth:`from_etfs`, :meth:`from_indices` and :meth:`combine`, or
    :meth:`from_market`.

    Attributes
    ----------
    index
        The :class:`~factorlab.grid.GridIndex` (dates x assets) and its lookups.
    kind
        (N,) int8 code of each asset's kind, an index into :data:`KINDS`.
    close, open, vwap
        (T, N) adjusted prices; ``open`` / ``vwap`` are NaN for ETFs and indices.
    adj
        (T, N) adjustment factor (1 for ETFs and indices), NaN where the asset has no row.
    limit_up, limit_down
        (T, N) adjusted limit prices (+-inf for indices, which have none).
    cap
        (T, N) float market cap in yuan (stocks: close x float_shares; ETFs: close x
        shares_outstanding; indices: NaN).
    delist_dates
        (N,) datetime64[D] published delisting dates (NaT: none published).
    tracking_bps
        (N,) yearly cost in bps of holding the asset (an index held through a proxy); NaN: the
        asset cannot be held (an index without a stated proxy cost is a benchmark only).
    extra
        Further (T, N) raw grids kept for other layers (e.g. ``nav``, ``volume``, ``amount``).
    """

    index: GridIndex
    kind: np.ndarray
    close: np.ndarray
    open: np.ndarray
    vwap: np.ndarray
    adj: np.ndarray
    limit_up: np.ndarray
    limit_down: np.ndarray
    cap: np.ndarray
    delist_dates: np.ndarray
    tracking_bps: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    _tradable: dict = field(init=False, default_factory=dict, repr=False)

    # -- axes ------------------------------------------------------------------------------

    @property
    def dates(self) -> np.ndarray:
        return self.index.dates

    @property
    def assets(self) -> pl.Series:
        return self.index.assets

    @property
    def shape(self) -> tuple[int, int]:
        return self.index.shape

    @property
    def kinds(self) -> pl.Series:
        """The kind name of each asset."""
        return pl.Series("kind", np.array(KINDS)[self.kind])

    @property
    def settle_row(self) -> np.ndarray:
        """(N,) first row on or after the published delisting date (T = none in the grid)."""
        return self.index.first_row_on_or_after(self.delist_dates)

    @property
    def last_row(self) -> np.ndarray:
        """(N,) last row with a close (-1 if none). Uses the future: for reports, never for
        trading decisions."""
        rows = np.where(~np.isnan(self.close), np.arange(self.shape[0])[:, None], -1)
        return rows.max(axis=0, initial=-1).astype(np.int64)

    # -- builders --------------------------------------------------------------------------

    @classmethod
    def from_prices(
        cls,
        prices: Any,
        *,
        assets: Any = None,
        keep: Sequence[str] = (),
    ) -> AssetGrid:
        """The stock grid of a canonical ``prices`` table (any row order).

        Required columns: ``date``, ``asset``, ``open``, ``high``, ``low``, ``close``. Optional:
        ``volume`` and ``amount`` (VWAP falls back to the close without them), ``adj_factor``
        (1), ``float_shares`` (cap NaN), ``is_st`` (False). `assets` (the canonical ``assets``
        table) supplies the published ``delist_date``; without it no delisting is known and a
        name that stops trading stays suspended. `keep` names further numeric columns to keep
        in :attr:`extra` as raw grids.
        """
        px = stock_rows(prices, keep=keep)
        index = GridIndex.from_frame(px)
        cells = index.cells(px)
        index.check_cells(px, cells, table="prices", keys=("date", "asset"))
        px = px.drop("date", "asset")  # located: the keys are not needed any more

        # each column leaves `px` as it is read, and each grid is finished (adjusted in place)
        # before the next is built: the long columns and the grids are never all held at once
        # (the same arithmetic as raw grid x adj, element for element)
        def take(col: str, default: float = np.nan) -> np.ndarray:
            if col not in px.columns:
                return np.full(px.height, default)
            return px.drop_in_place(col).cast(pl.Float64).fill_null(np.nan).to_numpy()

        def grid(col: str, default: float = np.nan) -> np.ndarray:
            return index.scatter(cells, take(col, default))

        extra = {c: index.scatter(cells, _floats(px, c)) for c in keep}
        close_rows = take("close")
        vw = index.scatter(
            cells, vwap(take("amount"), take("volume"), close_rows, take("low"), take("high"))
        )
        close_raw = index.scatter(cells, close_rows)
        del close_rows
        adj = grid("adj_factor", 1.0)
        vw *= adj
        up, down = _limit_prices(close_raw, adj, grid("limit_pct"), 2)
        open_ = grid("open")
        open_ *= adj
        cap = grid("float_shares")
        cap *= close_raw  # close_raw x float_shares (multiplication commutes exactly)
        close_raw *= adj
        return cls._stocks(index, close_raw, open_, vw, adj, up, down, cap, assets, extra)

    @classmethod
    def from_price_grids(
        cls,
        index: GridIndex,
        *,
        close: np.ndarray,
        open: np.ndarray,
        vwap: np.ndarray,
        adj: np.ndarray,
        limit_pct: np.ndarray,
        float_shares: np.ndarray,
        assets: Any = None,
    ) -> AssetGrid:
        """The stock grid from raw (unadjusted) (T, N) grids on `index` (NaN where no row):
        what :meth:`from_prices` builds from the rows of :func:`stock_rows`, with the same
        arithmetic element for element (`vwap`: :func:`vwap` of the raw prices; `limit_pct`:
        :func:`price_limit_pct`). For a caller that has scattered the prices already (the
        northbound hygiene): the rows are read and placed once.

        The arrays are consumed: `close`, `open`, `vwap` and `float_shares` are adjusted in
        place and become the grid's close, open, vwap and cap.
        """
        vwap *= adj
        up, down = _limit_prices(close, adj, limit_pct, 2)
        open *= adj
        float_shares *= close  # the cap: float_shares x close_raw, as from_prices
        close *= adj
        return cls._stocks(index, close, open, vwap, adj, up, down, float_shares, assets, {})

    @classmethod
    def _stocks(
        cls,
        index: GridIndex,
        close: np.ndarray,
        open_: np.ndarray,
        vw: np.ndarray,
        adj: np.ndarray,
        up: np.ndarray,
        down: np.ndarray,
        cap: np.ndarray,
        assets: Any,
        extra: dict[str, np.ndarray],
    ) -> AssetGrid:
        n = index.shape[1]
        return cls(
            index=index,
            kind=np.full(n, STOCK, np.int8),
            close=close,
            open=open_,
            vwap=vw,
            adj=adj,
            limit_up=up,
            limit_down=down,
            cap=cap,
            delist_dates=_delist_dates(index, assets),
            tracking_bps=np.zeros(n),
            extra=extra,
        )

    @classmethod
    def from_etfs(cls, etfs: Any, *, keep: Sequence[str] = ("nav",)) -> AssetGrid:
        """The ETF grid of a canonical ``etfs`` table (``date``, ``etf``, ``close``; optional
        ``shares_outstanding`` for the cap, and `keep` columns such as ``nav``, ``volume``,
        ``amount`` as raw grids in :attr:`extra`). Limits +-10% of the previous close, rounded
        to 0.001 yuan; no adjustment factor (1)."""
        lf = as_lazy(etfs, name="etfs")
        schema = lf.collect_schema()
        check_columns(schema, ["date", "etf", "close"], table="etfs")
        keep = [c for c in keep if c in schema]
        floats = list(
            dict.fromkeys(
                [
                    "close",
                    *keep,
                    *(["shares_outstanding"] if "shares_outstanding" in schema else []),
                ]
            )
        )
        check_numeric(schema, floats, table="etfs")
        check_positive(lf, ["close"], table="etfs", show=("date", "etf"))
        px = lf.select("date", pl.col("etf").cast(pl.String).alias("asset"), *floats).collect()
        index = GridIndex.from_frame(px)
        cells = index.cells(px)
        index.check_cells(px.rename({"asset": "etf"}), cells, table="etfs", keys=("date", "etf"))
        close = index.scatter(cells, _floats(px, "close"))
        adj = np.where(np.isnan(close), np.nan, 1.0)
        up, down = _limit_prices(close, adj, np.full(close.shape, ETF_LIMIT), 3)
        n = index.shape[1]
        nan = np.full(close.shape, np.nan)
        return cls(
            index=index,
            kind=np.full(n, ETF, np.int8),
            close=close,
            open=nan,
            vwap=nan.copy(),
            adj=adj,
            limit_up=up,
            limit_down=down,
            cap=close * index.scatter(cells, _floats(px, "shares_outstanding")),
            delist_dates=np.full(n, np.datetime64("NaT"), "datetime64[D]"),
            tracking_bps=np.zeros(n),
            extra={c: index.scatter(cells, _floats(px, c)) for c in keep if c != "close"},
        )

    @classmethod
    def from_indices(
        cls, indices: Any, *, tracking_bps: float | Mapping[str, float] | None = None
    ) -> AssetGrid:
        """The index grid of a canonical ``indices`` table (``date``, ``index``, ``close``).

        An index is a benchmark only unless `tracking_bps` states the yearly cost (bps of the
        held value, charged daily as bps / 1e4 / 252) of holding it through a proxy (an index
        fund or ETF): one number for every index or a mapping index -> bps (unlisted indices
        stay benchmark only). No price limits, no stamp duty, fractional units.
        """
        lf = as_lazy(indices, name="indices")
        schema = lf.collect_schema()
        check_columns(schema, ["date", "index", "close"], table="indices")
        check_numeric(schema, ["close"], table="indices")
        check_positive(lf, ["close"], table="indices", show=("date", "index"))
        px = lf.select("date", pl.col("index").cast(pl.String).alias("asset"), "close").collect()
        index = GridIndex.from_frame(px)
        cells = index.cells(px)
        index.check_cells(
            px.rename({"asset": "index"}), cells, table="indices", keys=("date", "index")
        )
        close = index.scatter(cells, _floats(px, "close"))
        n = index.shape[1]
        names = index.assets.to_list()
        if tracking_bps is None:
            bps = np.full(n, np.nan)
        elif isinstance(tracking_bps, Mapping):
            unknown = sorted(set(tracking_bps) - set(names))
            if unknown:
                raise ParameterError(
                    f"`tracking_bps` names index(es) not in table `indices`: {unknown[:5]}; "
                    f"indices are e.g. {names[:5]}."
                )
            bps = np.array([float(tracking_bps.get(a, np.nan)) for a in names])
        else:
            bps = np.full(n, float(tracking_bps))
        finite = bps[np.isfinite(bps)]
        if (finite < 0).any():
            raise ParameterError(f"`tracking_bps` must be >= 0 bps per year; got {tracking_bps}.")
        inf = np.full(close.shape, np.inf)
        nan = np.full(close.shape, np.nan)
        return cls(
            index=index,
            kind=np.full(n, INDEX, np.int8),
            close=close,
            open=nan,
            vwap=nan.copy(),
            adj=np.where(np.isnan(close), np.nan, 1.0),
            limit_up=inf,
            limit_down=-inf,
            cap=nan.copy(),
            delist_dates=np.full(n, np.datetime64("NaT"), "datetime64[D]"),
            tracking_bps=bps,
        )

    @classmethod
    def combine(cls, *grids: AssetGrid) -> AssetGrid:
        """One grid over the union of the grids' dates and assets (asset names must be distinct
        across the grids). A cell a grid lacks is NaN: no row, not tradable that day."""
        if not grids:
            raise ParameterError("`combine` needs at least one grid.")
        if len(grids) == 1:
            return grids[0]
        names = pl.concat([g.assets for g in grids])
        dup = names.filter(names.is_duplicated()).unique().sort()
        if dup.len():
            raise ParameterError(
                "`combine`: asset name(s) appear in more than one grid, e.g. "
                f"{dup.head(3).to_list()}; "
                "give stocks, ETFs and indices distinct names."
            )
        index = GridIndex.union([g.index for g in grids])

        def put(attr: str, fill: float = np.nan) -> np.ndarray:
            out = np.full(index.shape, fill)
            for g in grids:
                part = index.reindex(getattr(g, attr), g.index, fill=fill)
                cols = index.asset_cols(g.assets)
                out[:, cols] = part[:, cols]
            return out

        def vec(attr: str, dtype: Any) -> np.ndarray:
            out = np.zeros(index.shape[1], dtype=dtype)
            for g in grids:
                out[index.asset_cols(g.assets)] = getattr(g, attr)
            return out

        extra: dict[str, np.ndarray] = {}
        for name in dict.fromkeys(k for g in grids for k in g.extra):
            out = np.full(index.shape, np.nan)
            for g in grids:
                if name in g.extra:
                    cols = index.asset_cols(g.assets)
                    out[:, cols] = index.reindex(g.extra[name], g.index)[:, cols]
            extra[name] = out
        return cls(
            index=index,
            kind=vec("kind", np.int8),
            close=put("close"),
            open=put("open"),
            vwap=put("vwap"),
            adj=put("adj"),
            limit_up=put("limit_up"),
            limit_down=put("limit_down"),
            cap=put("cap"),
            delist_dates=vec("delist_dates", "datetime64[D]"),
            tracking_bps=vec("tracking_bps", np.float64),
            extra=extra,
        )

    @classmethod
    def from_market(
        cls,
        market: Any,
        *,
        kinds: Sequence[AssetKind] = ("stock",),
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        tracking_bps: float | Mapping[str, float] | None = None,
    ) -> AssetGrid:
        """The grid of a :class:`~factorlab.Market`'s ``prices`` (with ``assets`` for the
        delisting dates, when the market has it), ``etfs`` and ``indices``, over [start, end]."""
        bad = [k for k in kinds if k not in KINDS]
        if bad or not kinds:
            raise ParameterError(
                f"`kinds` must be a non-empty subset of {KINDS}; got {tuple(kinds)}."
            )
        window = pl.lit(True)
        if start is not None:
            window = window & (pl.col("date") >= pl.lit(start).cast(pl.Date))
        if end is not None:
            window = window & (pl.col("date") <= pl.lit(end).cast(pl.Date))
        parts = []
        if "stock" in kinds:
            assets = market.table("assets") if market.has("assets") else None
            parts.append(cls.from_prices(market.table("prices").filter(window), assets=assets))
        if "etf" in kinds:
            etfs = market.table("etfs").filter(window)
            if "market" in etfs.collect_schema():  # the A-share grid: Hong Kong / US ETFs trade
                etfs = etfs.filter(pl.col("market") == "CN")  # on other calendars
            parts.append(cls.from_etfs(etfs))
        if "index" in kinds:
            parts.append(
                cls.from_indices(market.table("indices").filter(window), tracking_bps=tracking_bps)
            )
        return cls.combine(*parts)

    # -- views -----------------------------------------------------------------------------

    def with_tracking_bps(self, tracking_bps: float | Mapping[str, float]) -> AssetGrid:
        """A copy where the indices are tradable proxies with this yearly cost (bps)."""
        bps = self.tracking_bps.copy()
        names = self.assets.to_list()
        is_index = self.kind == INDEX
        if isinstance(tracking_bps, Mapping):
            for name, value in tracking_bps.items():
                if name not in names or not is_index[names.index(name)]:
                    raise ParameterError(f"`tracking_bps`: {name!r} is not an index of the grid.")
                bps[names.index(name)] = float(value)
        else:
            bps[is_index] = float(tracking_bps)
        return replace(self, tracking_bps=bps)

    def entry_prices(self, entry: Entry) -> tuple[np.ndarray, int]:
        """(fill price grid, rows from the signal row to the fill row) of an entry convention."""
        if entry not in _OFFSET:
            raise ParameterError(f"`entry` must be one of {tuple(_OFFSET)}; got {entry!r}.")
        price = {
            "close": self.close,
            "next_close": self.close,
            "next_open": self.open,
            "next_vwap": self.vwap,
        }[entry]
        return price, _OFFSET[entry]

    def check_entry(self, entry: Entry, cols: np.ndarray) -> None:
        """Raise :class:`ParameterError` if an asset in `cols` cannot fill at `entry`: ETFs and
        indices have no open / VWAP (use ``next_close``)."""
        if entry not in ("next_open", "next_vwap"):
            return
        close_only = cols[self.kind[cols] != STOCK]
        if close_only.size:
            names = self.assets.gather(close_only).unique().sort().head(3).to_list()
            kinds = sorted({KINDS[k] for k in self.kind[close_only]})
            raise ParameterError(
                f"`entry={entry!r}`: {'/'.join(kinds)} assets have no "
                f"{entry.removeprefix('next_')} price in the canonical model (close only), e.g. "
                f"{names}; use entry='next_close' (or 'close')."
            )

    def tradable(self, entry: Entry) -> tuple[np.ndarray, np.ndarray]:
        """(can_buy, can_sell) (T, N) at the fill price of `entry` on each row: the asset has a
        price, is not past its published delisting, and a buy is not at the limit-up price /
        a sell not at the limit-down price. Computed once per entry."""
        if entry not in self._tradable:
            price, _ = self.entry_prices(entry)
            trading = ~np.isnan(price)
            trading &= np.arange(self.shape[0])[:, None] < self.settle_row[None, :]
            eps = 1e-9 * np.nan_to_num(price, nan=1.0)
            with np.errstate(invalid="ignore"):
                at_up = price >= self.limit_up - eps
                at_down = price <= self.limit_down + eps
            self._tradable[entry] = (trading & ~at_up, trading & ~at_down)
        return self._tradable[entry]

    def close_filled(self) -> np.ndarray:
        """Adjusted close carried forward through gaps (the valuation price of a held asset)."""
        return ffill_rows(self.close)

    def returns(self, asset: str) -> pl.DataFrame:
        """Daily close-to-close return of one asset (date, return); a day without a close
        carries the last one (return 0), the first day is null."""
        col = self.index.asset_cols(pl.Series([asset]))[0]
        if col < 0:
            raise ParameterError(
                f"asset {asset!r} is not in the grid; assets are e.g. "
                f"{self.assets.head(5).to_list()}."
            )
        filled = ffill_rows(self.close[:, [col]])[:, 0]
        ret = np.full(filled.shape, np.nan)
        ret[1:] = filled[1:] / filled[:-1] - 1.0
        return pl.DataFrame({"date": self.index.date_series(), "return": ret}).with_columns(
            pl.col("return").fill_nan(None)
        )


def stock_rows(
    prices: Any, *, keep: Sequence[str] = (), require: Sequence[str] = ()
) -> pl.DataFrame:
    """The checked ``prices`` rows a stock grid is built from (collected, any row order):
    date, asset (String), the columns of :meth:`AssetGrid.from_prices` that are present (open,
    high, low, close, volume, amount, adj_factor, float_shares), `keep`, and ``limit_pct``
    (:func:`price_limit_pct`).

    Raises :class:`~factorlab.errors.MissingColumnError` without date, asset, open, high, low,
    close or a `keep` / `require` column; :class:`~factorlab.errors.DtypeError` for a
    non-numeric price column; :class:`ParameterError` for a non-Boolean ``is_st``;
    :class:`~factorlab.errors.ValueRangeError` for a zero, negative or non-finite open, high,
    low, close or adj_factor.
    """
    lf = as_lazy(prices, name="prices")
    schema = lf.collect_schema()
    check_columns(schema, ["date", "asset", "open", "high", "low", "close"], table="prices")
    floats = list(dict.fromkeys(c for c in (*_STOCK_FLOATS, *keep) if c in schema))
    check_columns(schema, [*keep, *require], table="prices")
    check_numeric(schema, floats, table="prices")
    if "is_st" in schema and schema["is_st"] != pl.Boolean:
        raise ParameterError(
            f"column `is_st` of table `prices` must be Boolean; got {schema['is_st']}."
        )
    st = pl.col("is_st").fill_null(False) if "is_st" in schema else pl.lit(False)
    px = (
        lf.select("date", "asset", *floats, is_st=st)
        .with_columns(pl.col("asset").cast(pl.String), price_limit_pct())
        .drop("is_st")
        .collect()
    )
    # on the collected rows: the same rows and examples as on the query, without a second scan
    check_positive(px, ["open", "high", "low", "close", "adj_factor"], table="prices")
    return px


def _delist_dates(index: GridIndex, assets: Any) -> np.ndarray:
    n = index.shape[1]
    out = np.full(n, np.datetime64("NaT"), "datetime64[D]")
    if assets is None:
        return out
    lf = as_lazy(assets, name="assets")
    check_columns(lf.collect_schema(), ["asset", "delist_date"], table="assets")
    table = lf.select(
        pl.col("asset").cast(pl.String), pl.col("delist_date").cast(pl.Date)
    ).collect()
    if table.height:  # codes spelled differently would silently publish no delisting
        match_codes(table["asset"], index.assets, table="assets", against="prices")
    table = table.filter(pl.col("delist_date").is_not_null())
    cols = index.asset_cols(table["asset"])
    ok = cols >= 0
    out[cols[ok]] = day_numbers(table["delist_date"])[ok]
    return out
