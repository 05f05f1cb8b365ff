"""The canonical tables of a factorlab Market: column names, dtypes, keys and value rules.

``validate(table_name, frame)`` checks a DataFrame or LazyFrame against its spec and raises a typed
:class:`~factorlab.errors.SchemaError` naming the table, the column and example rows.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import polars as pl

from factorlab.errors import (
    MAX_EXAMPLES,
    CalendarError,
    DtypeError,
    EmptyTableError,
    MissingColumnError,
    NullKeyError,
    ParameterError,
    ValueRangeError,
)
from factorlab.frames import check_unique_keys
from factorlab.typing import CalendarName

__all__ = [
    "TABLES",
    "TableSpec",
    "conform",
    "table_schema",
    "validate",
    "validate_market_tables",
]

FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)

_MAX_LISTED = 20  # received column names shown in a MissingColumnError

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class TableSpec:
    """One canonical table.

    ``columns`` maps every required column to its dtype; ``key`` columns must be non-null and unique
    together; ``nullable`` lists the non-key columns allowed to hold nulls (all others must not).
    ``prices`` must be finite and > 0, ``nonnegative`` finite and >= 0, ``ratios`` within [0, 1],
    and in each ``ordered`` pair (low, high) the first column must not exceed the second.
    ``calendar`` names the trading calendar that ``date`` must belong to (None: unchecked).
    ``optional`` columns may be absent (older data); when present they are checked as required
    ones. ``calendar_by`` = (column, {value: calendar}) checks each row's date against the
    calendar its column value names (e.g. an ETF's ``market``) when that column is present;
    rows with a value outside the mapping are an error; without the column, ``calendar`` applies.
    """

    name: str
    columns: dict[str, pl.DataType]
    key: tuple[str, ...]
    description: str
    nullable: tuple[str, ...] = ()
    prices: tuple[str, ...] = ()
    nonnegative: tuple[str, ...] = ()
    ratios: tuple[str, ...] = ()
    ordered: tuple[tuple[str, str], ...] = ()
    calendar: CalendarName | None = None
    date_column: str = "date"
    allow_empty: bool = False
    extra: dict[str, str] = field(default_factory=dict)
    optional: dict[str, pl.DataType] = field(default_factory=dict)
    calendar_by: tuple[str, dict[str, CalendarName]] | None = None

    def present(self, schema: pl.Schema | Sequence[str]) -> dict[str, pl.DataType]:
        """Required columns, then the optional ones that `schema` holds (spec order)."""
        names = set(schema)
        return {**self.columns, **{c: t for c, t in self.optional.items() if c in names}}


_F = pl.Float64()
_S = pl.String()
_D = pl.Date()
_I = pl.Int64()
_B = pl.Boolean()

TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in [
        TableSpec(
            "assets",
            {
                "asset": _S,
                "name": _S,
                "exchange": _S,
                "industry": _S,
                "list_date": _D,
                "delist_date": _D,
            },
            key=("asset",),
            nullable=("delist_date",),
            description="One row per stock: exchange (SH/SZ), CITIC level-1 industry, listing "
            "dates.",
        ),
        TableSpec(
            "prices",
            {
                "date": _D,
                "asset": _S,
                "open": _F,
                "high": _F,
                "low": _F,
                "close": _F,
                "volume": _F,
                "amount": _F,
                "adj_factor": _F,
                "float_shares": _F,
                "total_shares": _F,
                "is_st": _B,
            },
            key=("date", "asset"),
            # null = the source does not report it (e.g. a price-only source has no amount or
            # share counts); never filled with a proxy. See factorlab.datasets.real.require_data.
            nullable=("amount", "float_shares", "total_shares"),
            prices=("open", "high", "low", "close", "adj_factor"),
            ordered=(("low", "high"),),
            nonnegative=("volume", "amount", "float_shares", "total_shares"),
            calendar="ashare",
            description="Daily bars, unadjusted prices (yuan), volume in shares, amount in yuan; "
            "adj_factor is the cumulative back-adjustment factor. A missing row = not trading. "
            "amount / float_shares / total_shares are null where the source lacks them.",
        ),
        TableSpec(
            "pools",
            {"date": _D, "asset": _S, "pool": _S},
            key=("date", "asset", "pool"),
            calendar="ashare",
            description="Point-in-time pool membership: csi300, csi500, csi800, liq1500.",
        ),
        TableSpec(
            "northbound",
            {"date": _D, "asset": _S, "shares": _I, "ratio": _F},
            key=("date", "asset"),
            nonnegative=("shares",),
            ratios=("ratio",),
            calendar="hkex",
            description="Northbound shares held as HKEX published them: HK calendar (mainland "
            "holidays repeat the previous day), record-date jumps on bonus issues, ratio = "
            "shares / total A shares as published. Daily until 2024-08-16, quarterly snapshots "
            "after.",
        ),
        TableSpec(
            "northbound_truth",
            {"date": _D, "asset": _S, "shares": _I},
            key=("date", "asset"),
            nonnegative=("shares",),
            calendar="ashare",
            description="Ground truth (synthetic only): true northbound shares held at each "
            "A-share close, on the economic share basis (bonus shares counted from the ex-date), "
            "every day including after the 2024 disclosure change.",
        ),
        TableSpec(
            "flows_truth",
            {
                "date": _D,
                "net_buy": _F,
                "net_buy_trading": _F,
                "net_buy_allocation": _F,
                "northbound_day": _B,
            },
            key=("date",),
            calendar="ashare",
            description="Ground truth (synthetic only): market-wide trade-based northbound net buy "
            "per day in yuan, total and by true participant type.",
        ),
        TableSpec(
            "participant_holdings",
            {"date": _D, "asset": _S, "participant": _S, "shares": _I},
            key=("date", "asset", "participant"),
            nonnegative=("shares",),
            calendar="hkex",
            description="CCASS per-participant northbound holdings (non-zero rows only), as "
            "published: daily until 2024-08-16, quarterly snapshots after.",
        ),
        TableSpec(
            "participants",
            {"participant": _S, "name": _S, "kind": _S},
            key=("participant",),
            description="CCASS participants; kind is the true type (trading / allocation) where "
            "known (synthetic ground truth), else null.",
            nullable=("kind",),
        ),
        TableSpec(
            "quotas",
            {
                "date": _D,
                "link": _S,
                "quota_daily": _F,
                "quota_balance": _F,
                "buy_amount": _F,
                "sell_amount": _F,
            },
            key=("date", "link"),
            nonnegative=("quota_daily", "buy_amount", "sell_amount"),
            calendar="northbound",
            description="Per link (SH, SZ), yuan: quota-based net inflow = quota_daily - "
            "quota_balance (counts unfilled buy orders); trade-based net buy = buy_amount - "
            "sell_amount. Never mix the two.",
        ),
        TableSpec(
            "corporate_actions",
            {"asset": _S, "ex_date": _D, "record_date": _D, "bonus_ratio": _F, "cash_dividend": _F},
            key=("asset", "ex_date"),
            nonnegative=("bonus_ratio", "cash_dividend"),
            calendar="ashare",
            date_column="ex_date",
            allow_empty=True,
            description="Bonus shares (new shares per share) and cash dividends (yuan per share) "
            "with record and ex dates.",
        ),
        TableSpec(
            "short_sellable",
            {"date": _D, "asset": _S, "quantity": _I, "sufficient": _B},
            key=("date", "asset"),
            nullable=("quantity",),
            nonnegative=("quantity",),
            calendar="northbound",
            allow_empty=True,
            description="HKEX's daily remaining short-sell allowance (about 1% of start-of-day "
            "northbound holdings, rounded down) of the stocks on the short-selling list: printed "
            "for every listed stock before the 2024 disclosure change, after it only under "
            "300,000 shares, else null with sufficient = True.",
        ),
        TableSpec(
            "book_to_price",
            {"date": _D, "asset": _S, "book_to_price": _F},
            key=("date", "asset"),
            nonnegative=("book_to_price",),
            calendar="ashare",
            allow_empty=True,
            description="Point-in-time book-to-price at month ends (book value known with a "
            "one-quarter lag over the day's total market cap): the value axis of the style "
            "2 x 2.",
        ),
        TableSpec(
            "etfs",
            {
                "date": _D,
                "etf": _S,
                "sector": _S,
                "close": _F,
                "nav": _F,
                "volume": _F,
                "amount": _F,
                "shares_outstanding": _F,
            },
            key=("date", "etf"),
            prices=("close", "nav"),
            nonnegative=("volume", "amount", "shares_outstanding"),
            calendar="ashare",
            optional={"market": _S, "currency": _S},
            calendar_by=("market", {"CN": "ashare", "HK": "hkex", "US": "nyse"}),
            description="Sector and broad ETFs: price, NAV, volume (units), amount, shares "
            "outstanding (units). Optional `market` (CN / HK / US: each row's date is a session "
            "of that market's calendar, ashare / hkex / nyse) and `currency` (CNY / HKD / USD, "
            "the unit of close, nav and amount); absent = CN and CNY (tables written before "
            "they existed).",
        ),
        TableSpec(
            "fx",
            {"date": _D, "usdcny": _F},
            key=("date",),
            prices=("usdcny",),
            calendar="ashare",
            optional={"hkdcny": _F},
            description="USD/CNY fixing (CNY per USD); optional HKD/CNY (CNY per HKD).",
        ),
        TableSpec(
            "indices",
            {"date": _D, "index": _S, "close": _F},
            key=("date", "index"),
            prices=("close",),
            calendar="ashare",
            description="Index levels (csi300, csi500, csi800, ...).",
        ),
        TableSpec(
            "northbound_flows",
            {
                "date": _D,
                "link": _S,
                "flow_definition": _S,
                "quota_inflow": _F,
                "net_buy": _F,
                "buy_amount": _F,
                "sell_amount": _F,
            },
            key=("date", "link"),
            nullable=("quota_inflow", "net_buy", "buy_amount", "sell_amount"),
            nonnegative=("buy_amount", "sell_amount"),
            calendar="northbound",
            description="Aggregate northbound flows per link (SH, SZ) in yuan, each meaning in its "
            "own column, null where the source lacks it: quota_inflow = quota-based inflow "
            "(daily quota - quota balance, counts unfilled buy orders), net_buy = trade-based "
            "net buy (buy - sell turnover). flow_definition names the column the source's "
            "headline daily figure went to ('quota_inflow' or 'net_buy'; tushare moneyflow_hsgt "
            "switches on 2018-08-01).",
        ),
        TableSpec(
            "suspensions",
            {"date": _D, "asset": _S},
            key=("date", "asset"),
            calendar="ashare",
            allow_empty=True,
            description="Source rows left out of `prices` as not tradable: suspended days that "
            "the source filled with volume 0 (or missing) and forward-filled prices.",
        ),
        TableSpec(
            "index_weights",
            {"date": _D, "index": _S, "asset": _S, "weight": _F},
            key=("date", "index", "asset"),
            ratios=("weight",),
            calendar="ashare",
            description="Index constituent weights (fraction of the index, 0..1) on the dates "
            "the source publishes them (tushare index_weight: monthly).",
        ),
        TableSpec(
            "etf_prices",
            {
                "date": _D,
                "etf": _S,
                "open": _F,
                "high": _F,
                "low": _F,
                "close": _F,
                "volume": _F,
                "amount": _F,
            },
            key=("date", "etf"),
            prices=("open", "high", "low", "close"),
            ordered=(("low", "high"),),
            nonnegative=("volume", "amount"),
            calendar="ashare",
            description="ETF daily bars (unadjusted yuan per unit, volume in units, amount in "
            "yuan) from a source without NAV or shares outstanding (else see `etfs`).",
        ),
    ]
}


# ------------------------------------------------------------------------------------------------
# schema helpers


def _spec(table_name: str) -> TableSpec:
    spec = TABLES.get(table_name) if isinstance(table_name, str) else None
    if spec is None:
        near = difflib.get_close_matches(str(table_name), list(TABLES), n=1)
        hint = f" Did you mean {near[0]!r}?" if near else ""
        raise ParameterError(
            f"`table_name` must be one of {', '.join(repr(t) for t in TABLES)}; "
            f"got {table_name!r}.{hint}"
        )
    return spec


def _check_frame(table_name: str, frame: object) -> None:
    if not isinstance(frame, (pl.DataFrame, pl.LazyFrame)):
        raise ParameterError(
            f"`frame` for table `{table_name}` must be a polars DataFrame or LazyFrame; got "
            f"{type(frame).__name__}. Convert it with pl.from_pandas / pl.from_arrow first."
        )


def table_schema(table_name: str) -> pl.Schema:
    """The required columns of `table_name` and their dtypes, in spec order.

    Examples
    --------
    >>> table_schema("fx")
    Schema([('date', Date), ('usdcny', Float64)])
    """
    return pl.Schema(_spec(table_name).columns)


def _safe_cast(received: pl.DataType, expected: pl.DataType) -> bool:
    """Whether casting `received` to `expected` keeps every value (see :func:`conform`)."""
    if received == pl.Null:
        return True
    if expected == pl.Float64:
        return received == pl.Float32 or received.is_integer()
    if expected == pl.Int64:
        return received in (pl.Int8, pl.Int16, pl.Int32, pl.UInt8, pl.UInt16, pl.UInt32)
    if expected == pl.String:
        return received == pl.Categorical or isinstance(received, pl.Enum)
    return False


def conform(table_name: str, frame: FrameT) -> FrameT:
    """Select the columns of `table_name` in spec order, casting where no value can change.

    Used by writers before storing a table. Extra columns are dropped (optional columns of the
    spec are kept when present). Safe casts: any integer
    to Float64 (exact up to 2**53), Float32 to Float64, Int8/16/32 and UInt8/16/32 to Int64,
    Categorical / Enum to String, and an all-null column to anything.
    Every other mismatch (String dates, float share counts, ...) is left as is for
    :func:`validate` to report with the cast that fixes it. Values are not checked: call
    :func:`validate` after.

    Parameters
    ----------
    table_name
        A key of :data:`TABLES`.
    frame
        DataFrame or LazyFrame holding at least the required columns.

    Returns
    -------
    pl.DataFrame | pl.LazyFrame
        Of the same kind as `frame`.

    Raises
    ------
    ParameterError
        Unknown `table_name`.
    MissingColumnError
        A required column is absent.

    Examples
    --------
    >>> import datetime as dt
    >>> raw = pl.DataFrame({"usdcny": [7], "note": ["x"], "date": [dt.date(2020, 1, 2)]})
    >>> conform("fx", raw).schema
    Schema([('date', Date), ('usdcny', Float64)])
    """
    spec = _spec(table_name)
    _check_frame(table_name, frame)
    schema = frame.collect_schema()
    _check_columns(spec, schema)
    exprs = [
        pl.col(name).cast(dtype)
        if schema[name] != dtype and _safe_cast(schema[name], dtype)
        else pl.col(name)
        for name, dtype in spec.present(schema).items()
    ]
    return frame.select(exprs)


# ------------------------------------------------------------------------------------------------
# validation


def validate(
    table_name: str, frame: FrameT, *, check_calendar: bool = True, check_values: bool = True
) -> FrameT:
    """Check `frame` against the canonical spec of `table_name`; return it unchanged.

    Checks, in this order (the first failing one raises):

    1. `table_name` is known (:class:`~factorlab.errors.ParameterError`);
    2. every required column is present (:class:`~factorlab.errors.MissingColumnError`, all
       missing columns named); extra columns are allowed;
    3. every required column has its dtype (:class:`~factorlab.errors.DtypeError`, with the
       cast that fixes it where one would, e.g. ``pl.col('date').str.to_date()``);
    4. the table has rows unless ``spec.allow_empty``
       (:class:`~factorlab.errors.EmptyTableError`);
    5. key columns hold no nulls (:class:`~factorlab.errors.NullKeyError`);
    6. non-key columns not in ``spec.nullable`` hold no nulls
       (:class:`~factorlab.errors.ValueRangeError`: a null is outside a required column's
       valid range; ``NullKeyError`` stays reserved for keys);
    7. keys are unique (:class:`~factorlab.errors.DuplicateKeyError`);
    8. ``spec.prices`` are finite and > 0, ``spec.nonnegative`` finite and >= 0,
       ``spec.ratios`` within [0, 1] (:class:`~factorlab.errors.ValueRangeError`), columns in
       spec order; then in each ``spec.ordered`` pair the low column <= the high column
       (``high < low`` is a :class:`~factorlab.errors.ValueRangeError` with example rows);
    9. if `check_calendar` and ``spec.calendar``: every ``spec.date_column`` value is a session
       of that calendar (:class:`~factorlab.errors.CalendarError`); dates outside the shipped
       calendars' covered range count as non-sessions.

    Schema checks (1-3) use ``collect_schema()`` only; checks 4-9 run as one aggregate query
    (one collect of a LazyFrame, projected to the required columns). Only when a check fails is
    the frame queried again, for up to five example rows (with their 0-based ``row`` position;
    dates shown as ISO strings) that the error carries in ``.examples`` and its message.

    Parameters
    ----------
    table_name
        A key of :data:`TABLES`.
    frame
        The table, eager or lazy.
    check_calendar
        Set False to skip check 9 (e.g. for data beyond the shipped calendars).
    check_values
        Set False to run the schema checks 1-3 only (no data is read): what
        :meth:`factorlab.Market.load` does by default, since its files were validated when
        written and are guarded by content hashes.

    Returns
    -------
    pl.DataFrame | pl.LazyFrame
        `frame` itself, so that ``prices = validate("prices", pl.scan_parquet(...))`` chains.

    Raises
    ------
    ParameterError, MissingColumnError, DtypeError, EmptyTableError, NullKeyError,
    DuplicateKeyError, ValueRangeError, CalendarError
        As listed above; the schema errors carry ``table``, ``column`` and ``examples``.

    Nulls and NaN
    -------------
    NaN is not null: a NaN price or share count fails check 8 as non-finite, even in a nullable
    column; nulls are allowed only in ``spec.nullable`` columns.

    Examples
    --------
    >>> import datetime as dt
    >>> fx = pl.DataFrame({"date": [dt.date(2020, 1, 2), dt.date(2020, 1, 3)], "usdcny": [6.9, 6.9]})
    >>> validate("fx", fx).height
    2
    >>> validate("fx", fx.with_columns(pl.col("usdcny").cast(pl.String)))
    Traceback (most recent call last):
    ...
    factorlab.errors.DtypeError: table `fx`: column `usdcny` must be Float64; got String. Cast with pl.col('usdcny').cast(pl.Float64) (every value must parse as a number).
    ...
    """  # noqa: E501
    spec = _spec(table_name)
    _check_frame(table_name, frame)
    lf = frame.lazy()
    schema = lf.collect_schema()
    _check_columns(spec, schema)
    _check_dtypes(spec, schema, lf)
    if check_values:
        _check_values(spec, lf, check_calendar=check_calendar)
    return frame


def validate_market_tables(
    tables: Mapping[str, pl.DataFrame | pl.LazyFrame], *, check_calendar: bool = True
) -> None:
    """Validate several tables at once, keyed by table name; raises the first error found.

    Examples
    --------
    >>> import datetime as dt
    >>> validate_market_tables({"fx": pl.DataFrame({"date": [dt.date(2020, 1, 2)],
    ...                                             "usdcny": [6.9]})})
    """
    for name, frame in tables.items():
        validate(name, frame, check_calendar=check_calendar)


# --- schema checks -------------------------------------------------------------------------------


def _ticks(names: Sequence[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def _check_columns(spec: TableSpec, schema: pl.Schema) -> None:
    received = list(schema.names())
    missing = [c for c in spec.columns if c not in schema]
    if not missing:
        return
    hints = []
    for col in missing:
        close = [r for r in received if r.lower() == col.lower()] or difflib.get_close_matches(
            col, received, n=1, cutoff=0.8
        )
        if close:
            hints.append(f"rename `{close[0]}` to `{col}`")
    shown = ", ".join(received[:_MAX_LISTED]) + (", ..." if len(received) > _MAX_LISTED else "")
    fix = "".join(f"{hint[0].upper()}{hint[1:]}. " for hint in hints)
    raise MissingColumnError(
        f"table `{spec.name}` is missing required column(s) {_ticks(missing)}; received "
        f"columns: {shown or '(none)'}. {fix}Required: "
        f"{', '.join(spec.columns)} (factorlab.schema.table_schema({spec.name!r})).",
        table=spec.name,
        column=missing[0],
    )


def _cast_fix(column: str, expected: pl.DataType, received: pl.DataType, lf: pl.LazyFrame) -> str:
    """How to fix one dtype mismatch: a cast, or why there is no safe one."""
    col = f"pl.col({column!r})"
    if received == pl.Null:
        return f"Cast with {col}.cast(pl.{expected})."
    if expected == pl.Date:
        if received == pl.String:
            return (
                f"Cast with {col}.str.to_date() (pass format='%Y%m%d' for '20200102'-style "
                "strings)."
            )
        if isinstance(received, pl.Datetime):
            return f"Cast with {col}.dt.date()."
        if received.is_integer():
            return f"Cast with {col}.cast(pl.String).str.to_date('%Y%m%d') for 20200102-style ints."
    elif expected == pl.Float64:
        if received.is_numeric():
            return f"Cast with {col}.cast(pl.Float64)."
        if received == pl.String:
            return f"Cast with {col}.cast(pl.Float64) (every value must parse as a number)."
    elif expected == pl.Int64:
        if received.is_integer():
            return f"Cast with {col}.cast(pl.Int64)."
        if received.is_float() or received.is_decimal():
            return _float_to_int_fix(column, lf)
        if received == pl.String:
            return f"Cast with {col}.cast(pl.Int64) (every value must parse as an integer)."
    elif expected == pl.String:
        if column == "asset" and received.is_integer():
            return (
                "Convert with factorlab.codes.normalize_asset_codes(pl.col('asset')) "
                "(zero-pads integer codes and adds the exchange)."
            )
        if received == pl.Categorical or isinstance(received, pl.Enum) or received.is_numeric():
            return f"Cast with {col}.cast(pl.String)."
    elif expected == pl.Boolean and received.is_integer():
        return f"Cast with {col}.cast(pl.Boolean) (0 -> False, other -> True)."
    return f"There is no safe cast from {received}; rebuild the column as {expected}."


def _float_to_int_fix(column: str, lf: pl.LazyFrame) -> str:
    col = pl.col(column)
    not_whole = col.is_not_null() & ~(col.cast(pl.Float64).is_finite() & (col == col.floor()))
    found = lf.select(not_whole.sum().alias("n"), col.filter(not_whole).head(3).implode()).collect()
    n, values = found.row(0)
    if n == 0:
        return f"Its values are whole: cast with pl.col({column!r}).cast(pl.Int64)."
    shown = ", ".join(str(v) for v in values)
    return (
        f"{n} value(s) are not whole numbers (e.g. {shown}), so no lossless cast exists; fix "
        f"them at the source or round deliberately, e.g. pl.col({column!r}).round().cast(pl.Int64)."
    )


def _check_dtypes(spec: TableSpec, schema: pl.Schema, lf: pl.LazyFrame) -> None:
    wrong = [
        (name, expected, schema[name])
        for name, expected in spec.present(schema).items()
        if schema[name] != expected
    ]
    if not wrong:
        return
    lines = [
        f"column `{name}` must be {expected}; got {received}. "
        f"{_cast_fix(name, expected, received, lf)}"
        for name, expected, received in wrong
    ]
    examples = lf.select([name for name, _, _ in wrong]).head(MAX_EXAMPLES).collect()
    raise DtypeError(
        f"table `{spec.name}`: " + "\n".join(lines),
        table=spec.name,
        column=wrong[0][0],
        examples=_rows(examples),
    )


# --- value checks --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Check:
    """One value rule: `bad` flags offending rows of `column`; `kind` picks error and message."""

    kind: Literal[
        "null_key", "null", "price", "nonnegative", "ratio", "order", "calendar", "allowed"
    ]
    column: str
    bad: pl.Expr
    #: the other column of an ``order`` check (shown in the example rows)
    other: str | None = None
    #: a ``calendar`` check: the calendar and its sessions
    calendar: str | None = None
    days: pl.Series | None = None


def _value_checks(
    spec: TableSpec, columns: Sequence[str], calendars: dict[str, pl.Series] | None
) -> list[_Check]:
    checks = [_Check("null_key", c, pl.col(c).is_null()) for c in spec.key]
    checks += [
        _Check("null", c, pl.col(c).is_null())
        for c in columns
        if c not in spec.key and c not in spec.nullable
    ]
    for c in columns:
        x = pl.col(c)
        if c in spec.prices:
            checks.append(_Check("price", c, x.is_not_null() & ~(x.is_finite() & (x > 0))))
        if c in spec.nonnegative:
            checks.append(_Check("nonnegative", c, x.is_not_null() & ~(x.is_finite() & (x >= 0))))
        if c in spec.ratios:
            checks.append(_Check("ratio", c, x.is_not_null() & ~x.is_between(0, 1)))
    for low, high in spec.ordered:
        lo, hi = pl.col(low), pl.col(high)
        checks.append(_Check("order", high, lo.is_not_null() & hi.is_not_null() & (hi < lo), low))
    if calendars is None:
        return checks
    x = pl.col(spec.date_column)
    by = spec.calendar_by
    if by is not None and by[0] in columns:
        col, mapping = pl.col(by[0]), by[1]
        checks.append(_Check("allowed", by[0], col.is_not_null() & ~col.is_in(list(mapping))))
        for value, cal in mapping.items():
            days = calendars[cal]
            off = (col == value) & x.is_not_null() & ~x.is_in(days.implode())
            checks.append(_Check("calendar", spec.date_column, off, by[0], cal, days))
    elif spec.calendar is not None:
        days = calendars[spec.calendar]
        off = x.is_not_null() & ~x.is_in(days.implode())
        checks.append(_Check("calendar", spec.date_column, off, None, spec.calendar, days))
    return checks


def _calendar_sessions(calendar: CalendarName) -> pl.Series:
    # imported here so that calendar.py may import from schema.py without a cycle
    from factorlab.calendar import sessions

    return sessions(calendar)  # the whole covered range: anything outside is a non-session


def _check_values(spec: TableSpec, lf: pl.LazyFrame, *, check_calendar: bool) -> None:
    columns = list(spec.present(lf.collect_schema()))
    calendars = None
    if check_calendar:
        names = {spec.calendar} if spec.calendar else set()
        if spec.calendar_by is not None and spec.calendar_by[0] in columns:
            names = set(spec.calendar_by[1].values())
        calendars = {name: _calendar_sessions(name) for name in names}
    checks = _value_checks(spec, columns, calendars)
    key = pl.struct(*spec.key) if len(spec.key) > 1 else pl.col(spec.key[0])
    counts = (
        lf.select(
            pl.len().alias("rows"),
            (pl.len() - key.n_unique()).alias("duplicates"),
            *[c.bad.sum().alias(str(i)) for i, c in enumerate(checks)],
        )
        .collect()
        .row(0, named=True)
    )

    if counts["rows"] == 0:
        if spec.allow_empty:
            return
        raise EmptyTableError(
            f"table `{spec.name}` has no rows; it must have at least one (check the source's "
            "date range and filters).",
            table=spec.name,
        )

    def first_failure(*kinds: str) -> tuple[_Check, int] | None:
        return next(
            (
                (c, counts[str(i)])
                for i, c in enumerate(checks)
                if c.kind in kinds and counts[str(i)]
            ),
            None,
        )

    for kinds in (("null_key",), ("null",)):
        if failure := first_failure(*kinds):
            _raise_value_error(spec, lf, *failure)
    if counts["duplicates"]:
        _raise_duplicates(spec, lf)
    if failure := first_failure("price", "nonnegative", "ratio", "allowed"):
        _raise_value_error(spec, lf, *failure)
    if failure := first_failure("order"):
        _raise_order_error(spec, lf, *failure)
    if failure := first_failure("calendar"):
        _raise_calendar(spec, lf, *failure)


def _offending_rows(spec: TableSpec, lf: pl.LazyFrame, check: _Check) -> list[dict[str, Any]]:
    shown = [check.other, check.column] if check.other else [check.column]
    cols = [*spec.key, *(c for c in shown if c not in spec.key)]
    # select first: an extra input column named "row" must not clash with the row index
    found = lf.select(cols).with_row_index("row").filter(check.bad)
    return _rows(found.head(MAX_EXAMPLES).collect())


_RULES = {
    "null_key": "is a key column and must not hold nulls",
    "null": "must not hold nulls (it is not nullable)",
    "price": "is a price and must be finite and > 0",
    "nonnegative": "must be finite and >= 0",
    "ratio": "is a ratio and must lie within [0, 1]",
    "allowed": "must name a market with a calendar",
}
_FIXES = {
    "null_key": "drop those rows or fill the key from the source",
    "null": "drop or fill those rows",
    "price": "fix or drop those rows (a missing price row means not trading)",
    "nonnegative": "fix or drop those rows",
    "ratio": "fix the source, or divide by 100 if it is in percent",
}


def _fix(spec: TableSpec, kind: str) -> str:
    if kind == "allowed" and spec.calendar_by is not None:
        column, mapping = spec.calendar_by
        return f"`{column}` must be one of {', '.join(repr(v) for v in mapping)}"
    return _FIXES[kind]


def _raise_value_error(spec: TableSpec, lf: pl.LazyFrame, check: _Check, n: int) -> None:
    examples = _offending_rows(spec, lf, check)
    what = "null" if check.kind in ("null_key", "null") else "offending"
    values = ", ".join(sorted({str(r[check.column]) for r in examples}))
    error = NullKeyError if check.kind == "null_key" else ValueRangeError
    nullable = (
        f" (nullable columns: {_ticks(spec.nullable)})"
        if check.kind == "null" and spec.nullable
        else ""
    )
    raise error(
        f"table `{spec.name}`: column `{check.column}` {_RULES[check.kind]}{nullable}; got {n} "
        f"{what} value(s)"
        + (f", e.g. {values}" if what == "offending" else "")
        + f"; {_fix(spec, check.kind)}.",
        table=spec.name,
        column=check.column,
        examples=examples,
    )


def _raise_order_error(spec: TableSpec, lf: pl.LazyFrame, check: _Check, n: int) -> None:
    examples = _offending_rows(spec, lf, check)
    first = examples[0]
    raise ValueRangeError(
        f"table `{spec.name}`: column `{check.column}` must be >= `{check.other}` on every row "
        f"(a bar's high is never below its low); got {n} row(s) with `{check.column}` < "
        f"`{check.other}`, e.g. {check.column}={first[check.column]} < "
        f"{check.other}={first[check.other]}; fix the source (swapped columns?) or drop those "
        "rows.",
        table=spec.name,
        column=check.column,
        examples=examples,
    )


def _raise_duplicates(spec: TableSpec, lf: pl.LazyFrame) -> None:
    # one implementation of the duplicate-key error for every entry point
    check_unique_keys(lf.select(spec.key), spec.key, table=spec.name)


def _raise_calendar(spec: TableSpec, lf: pl.LazyFrame, check: _Check, n: int) -> None:
    examples = _offending_rows(spec, lf, check)
    days, calendar = check.days, check.calendar
    assert days is not None  # a calendar check always carries its sessions
    x = pl.col(check.column)
    lo, hi = days.min(), days.max()
    found = (
        lf.filter(check.bad)
        .select(
            x.n_unique().alias("distinct"),
            (~x.is_between(lo, hi)).sum().alias("outside"),
            x.unique().sort().head(MAX_EXAMPLES).implode().alias("dates"),
        )
        .collect()
        .row(0, named=True)
    )
    shown = ", ".join(d.isoformat() for d in found["dates"])
    by = spec.calendar_by
    where = f" where `{by[0]}` is {_value_of(by[1], calendar)!r}" if check.other and by else ""
    outside = (
        f" {found['outside']} of them lie outside the calendar's covered range {lo} .. {hi}."
        if found["outside"]
        else ""
    )
    raise CalendarError(
        f"table `{spec.name}`: column `{check.column}` must hold {calendar} trading days"
        f"{where}; got {n} row(s) on {found['distinct']} non-session date(s), e.g. {shown}."
        f"{outside} Drop those rows or align them to factorlab.calendar.sessions({calendar!r}); "
        "pass check_calendar=False to skip this check.",
        table=spec.name,
        column=check.column,
        examples=examples,
    )


def _value_of(mapping: dict[str, str], calendar: str | None) -> str:
    return next(v for v, c in mapping.items() if c == calendar)


def _rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts, dates as ISO strings (readable in messages)."""
    return [
        {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in row.items()}
        for row in frame.iter_rows(named=True)
    ]
