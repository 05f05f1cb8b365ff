"""Adapters: pure functions from a data source's frame to factorlab's canonical tables.

One module per source (:mod:`~factorlab.adapters.tushare`, :mod:`~factorlab.adapters.akshare`,
:mod:`~factorlab.adapters.joinquant`, :mod:`~factorlab.adapters.qlib`). Each function takes the
frame exactly as the source returns it (pandas or Polars), checks its columns and units, converts
units to yuan / shares / fractions, normalizes asset codes and returns a Polars DataFrame with
canonical column names. No adapter touches the network: fetch with the source's own client (the
optional ``tushare`` / ``akshare`` / ``jqdatasdk`` packages) and pass the result in.

Decisions shared by every adapter:

* A frame whose columns or units do not match the source raises
  :class:`~factorlab.errors.AdapterError` naming the source, the column and what was expected.
  Units are checked by sanity ranges or by identities between columns (e.g. the VWAP implied by
  ``amount / volume`` must lie within the day's low..high), never silently rescaled.
* Rows that repeat a key with identical values (a source queried twice, a concatenated export)
  are dropped; rows that repeat a key with different values raise ``AdapterError``.
* Every dropped row is counted: rows outside the canonical model (e.g. Beijing Stock Exchange
  ``.BJ`` codes in ``stock_basic``, HK stocks in CCASS data, dividends not yet implemented)
  and exact duplicates are logged as a WARNING on the ``factorlab.adapters`` logger, one
  record per reason with the count and example rows
  (``logging.getLogger("factorlab.adapters").setLevel(logging.ERROR)`` silences them). Rows a
  sibling function returns instead (qlib's suspended days, see ``qlib.suspensions``) are
  logged at INFO.
* An empty frame (no rows) raises ``AdapterError``: a canonical table needs at least one row,
  and an empty query result is better skipped than silently turned into an empty table.
* Dates may come as ``'20200102'`` / ``'2020-01-02'`` strings, integers, dates or datetimes.
* Where a quantity is missing from a source it is null (or the table is absent), never proxied.
  The one labelled proxy on offer, :func:`amount_proxy`, must be asked for by name.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import polars as pl

from factorlab.codes import normalize_asset_codes
from factorlab.errors import MAX_EXAMPLES, AdapterError
from factorlab.schema import TABLES, conform, validate

__all__ = [
    "AdapterError",
    "akshare",
    "amount_proxy",
    "joinquant",
    "qlib",
    "tushare",
]

YUAN_PER_THOUSAND = 1_000.0
YUAN_PER_WAN = 10_000.0
YUAN_PER_MILLION = 1_000_000.0
YUAN_PER_YI = 100_000_000.0
SHARES_PER_LOT = 100.0  # 1 手 = 100 shares

logger = logging.getLogger("factorlab.adapters")


def amount_proxy(
    volume: str | pl.Expr = "volume",
    high: str | pl.Expr = "high",
    low: str | pl.Expr = "low",
    close: str | pl.Expr = "close",
) -> pl.Expr:
    """Turnover value proxy ``volume * (high + low + close) / 3``, named ``amount_proxy``.

    For sources without traded amount (e.g. the real sample). It is never used implicitly: a
    function that needs ``amount`` raises on a market that lacks it; pass this proxy explicitly,
    under its own name, where an approximation is acceptable. Raw (unadjusted) prices and raw
    share volume give yuan.

    Nulls and NaN
    -------------
    Null in any input gives null.

    Examples
    --------
    >>> df = pl.DataFrame({"volume": [100.0], "high": [11.0], "low": [9.0], "close": [10.0]})
    >>> df.select(amount_proxy()).item()
    1000.0
    """
    v, h, lo, c = (pl.col(x) if isinstance(x, str) else x for x in (volume, high, low, close))
    return (v * (h + lo + c) / 3.0).alias("amount_proxy")


# ------------------------------------------------------------------------------------------------
# helpers shared by the adapter modules (private)


def _frame(frame: Any, source: str, *, allow_empty: bool = False) -> pl.DataFrame:
    """A Polars DataFrame from a pandas / Polars frame (LazyFrames are collected); a frame with
    no rows raises (see the module docstring) unless `allow_empty`."""
    if isinstance(frame, pl.LazyFrame):
        df = frame.collect()
    elif isinstance(frame, pl.DataFrame):
        df = frame
    elif type(frame).__module__.split(".")[0] == "pandas" and hasattr(frame, "columns"):
        index_names = [n for n in getattr(frame.index, "names", []) if n is not None]
        if index_names:  # qlib-style MultiIndex (instrument, datetime): keep it as columns
            frame = frame.reset_index()
        df = pl.from_pandas(frame)
    else:
        raise AdapterError(
            f"{source}: expected a pandas or Polars DataFrame; got {type(frame).__name__}.",
            source=source,
        )
    if df.height == 0 and not allow_empty:
        shown = ", ".join(df.columns[:10]) + (", ..." if len(df.columns) > 10 else "")
        raise AdapterError(
            f"{source}: the frame has no rows (columns: {shown or '(none)'}), so there is "
            "nothing to convert and no canonical table can be built (a table needs at least "
            "one row). Sources return an empty frame for a day or code without data: skip "
            "such frames (e.g. `if len(frame): ...`) or fetch a wider range.",
            source=source,
        )
    return df


def _drop_rows(
    df: pl.DataFrame,
    drop: pl.Expr,
    source: str,
    *,
    reason: str,
    show: Sequence[str] = (),
    level: int = logging.WARNING,
) -> pl.DataFrame:
    """`df` without the rows where `drop` is true; a non-zero count is logged on the
    ``factorlab.adapters`` logger with the `reason` and example rows (never a silent drop)."""
    mask = df.select(drop.fill_null(False).alias("_drop")).get_column("_drop")
    n = int(mask.sum())
    if n:
        logger.log(
            level,
            "%s: dropped %d of %d row(s): %s, e.g. %s",
            source, n, df.height, reason, _examples(df, mask, show or df.columns[:4]),
        )
    return df.filter(~mask)


def _require(df: pl.DataFrame, source: str, columns: Mapping[str, str]) -> None:
    """Raise if any of `columns` (name -> what it holds, with unit) is missing."""
    missing = [c for c in columns if c not in df.columns]
    if not missing:
        return
    shown = ", ".join(df.columns[:20]) + (", ..." if len(df.columns) > 20 else "")
    expected = "; ".join(f"`{c}` ({columns[c]})" for c in missing)
    raise AdapterError(
        f"{source}: missing column(s) {expected}; received columns: {shown or '(none)'}. "
        f"Pass the frame exactly as {source.split()[0]} returns it (do not rename columns).",
        source=source,
        column=missing[0],
    )


def _dates(df: pl.DataFrame, column: str, source: str) -> pl.Series:
    """Parse a date column given as YYYYMMDD / ISO strings, ints, dates or datetimes."""
    s = df.get_column(column)
    if s.dtype == pl.Date:
        return s
    if isinstance(s.dtype, pl.Datetime):
        return s.dt.date()
    if s.dtype.is_integer():
        s = s.cast(pl.String)
    if s.dtype in (pl.String, pl.Categorical) or s.dtype == pl.Object:
        text = s.cast(pl.String).str.strip_chars().str.slice(0, 10).str.replace_all("-", "")
        text = text.str.replace_all("/", "")
        parsed = text.str.to_date("%Y%m%d", strict=False)
        bad = s.filter(parsed.is_null() & s.is_not_null())
        if bad.len() == 0:
            return parsed
        raise AdapterError(
            f"{source}: column `{column}` must hold dates ('20200102', '2020-01-02' or date "
            f"values); got {bad.len()} unparseable value(s), e.g. "
            f"{', '.join(repr(v) for v in bad.head(3).to_list())}.",
            source=source,
            column=column,
        )
    raise AdapterError(
        f"{source}: column `{column}` must hold dates; got dtype {s.dtype}.",
        source=source,
        column=column,
    )


def _floats(df: pl.DataFrame, columns: Iterable[str], source: str) -> pl.DataFrame:
    """Cast `columns` to Float64 (numeric strings parse; NaN becomes null)."""
    out = []
    for c in columns:
        s = df.get_column(c)
        if s.dtype == pl.Float64:
            cast = s
        elif s.dtype.is_numeric() or s.dtype == pl.Null or s.dtype == pl.Boolean:
            cast = s.cast(pl.Float64)
        elif s.dtype == pl.String or s.dtype == pl.Decimal or s.dtype == pl.Object:
            cast = s.cast(pl.String).str.strip_chars().str.replace_all(",", "").cast(
                pl.Float64, strict=False
            )
            bad = s.filter(cast.is_null() & s.is_not_null() & (s.cast(pl.String) != ""))
            if bad.len():
                raise AdapterError(
                    f"{source}: column `{c}` must be numeric; got {bad.len()} non-numeric "
                    f"value(s), e.g. {', '.join(repr(v) for v in bad.head(3).to_list())}.",
                    source=source,
                    column=c,
                )
        else:
            raise AdapterError(
                f"{source}: column `{c}` must be numeric; got dtype {s.dtype}.",
                source=source,
                column=c,
            )
        out.append(cast.fill_nan(None).alias(c))
    return df.with_columns(out)


def _codes(df: pl.DataFrame, column: str, source: str) -> pl.Series:
    """Canonical asset codes from any accepted spelling (see factorlab.codes)."""
    try:
        return normalize_asset_codes(df.get_column(column))
    except Exception as exc:  # AssetCodeError: re-raise naming the source
        raise AdapterError(f"{source}: column `{column}`: {exc}", source=source,
                           column=column) from None


def _examples(df: pl.DataFrame, mask: pl.Series, columns: Sequence[str]) -> str:
    rows = df.filter(mask).select([c for c in columns if c in df.columns]).head(MAX_EXAMPLES)
    return "; ".join(
        "(" + ", ".join(f"{k}={_show(v)}" for k, v in row.items()) + ")"
        for row in rows.iter_rows(named=True)
    )


def _show(v: object) -> str:
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _check_range(
    df: pl.DataFrame,
    column: str,
    source: str,
    *,
    lo: float | None = None,
    hi: float | None = None,
    unit: str,
    hint: str = "",
    show: Sequence[str] = (),
    absolute: bool = False,
) -> None:
    """Raise if a non-null value of `column` lies outside [lo, hi] (of its absolute value)."""
    x = df.get_column(column)
    if absolute:
        x = x.abs()
    bad = pl.Series("_bad", [False] * df.height, dtype=pl.Boolean)
    if lo is not None:
        bad = bad | (x < lo).fill_null(False)
    if hi is not None:
        bad = bad | (x > hi).fill_null(False)
    n = int(bad.sum())
    if not n:
        return
    what = f"|{column}|" if absolute else f"`{column}`"
    low = _show(lo) if lo is not None else "-inf"
    bounds = f"[{low}, {_show(hi) if hi is not None else 'inf'}]"
    raise AdapterError(
        f"{source}: column `{column}` is expected in {unit}, where {what} lies within {bounds}; "
        f"got {n} value(s) outside, e.g. {_examples(df, bad, [*show, column])}."
        + (f" {hint}" if hint else ""),
        source=source,
        column=column,
    )


def _check_ratio(
    df: pl.DataFrame,
    ratio: pl.Expr,
    column: str,
    source: str,
    *,
    expected: str,
    lo: float,
    hi: float,
    show: Sequence[str] = (),
    share: float = 0.9,
) -> None:
    """Unit check by an identity between columns: `ratio` should lie within [lo, hi] on at least
    `share` of the rows where it is defined (a wrong unit moves every row by a power of ten)."""
    r = df.select(ratio.alias("_r")).get_column("_r")
    defined = r.is_not_null() & r.is_finite()
    n_def = int(defined.sum())
    if n_def == 0:
        return
    inside = (r >= lo) & (r <= hi) & defined
    if int(inside.sum()) >= share * n_def:
        return
    med = float(r.filter(defined).median())
    bad = defined & ~inside
    raise AdapterError(
        f"{source}: column `{column}` does not have the expected unit: {expected} should lie "
        f"within [{_show(lo)}, {_show(hi)}] but is outside on {int(bad.sum())} of {n_def} rows "
        f"(median {_show(med)}), e.g. {_examples(df, bad, [*show, column])}. Pass the column "
        f"in the unit {source.split()[0]} documents; do not rescale it beforehand.",
        source=source,
        column=column,
    )


def _dedupe(df: pl.DataFrame, key: Sequence[str], source: str) -> pl.DataFrame:
    """Drop exact duplicate rows (counted in the log); raise on keys repeated with different
    values."""
    df = _drop_rows(
        df,
        ~pl.struct(pl.all()).is_first_distinct(),
        source,
        reason="exact repeats of another row (the same key with identical values)",
        show=list(key),
    )
    dup = df.select(pl.struct(*key).is_duplicated().alias("_d")).get_column("_d")
    if not dup.any():
        return df
    n_keys = df.filter(dup).select(pl.struct(*key).n_unique()).item()
    raise AdapterError(
        f"{source}: {n_keys} key(s) ({', '.join(key)}) appear more than once with different "
        f"values, e.g. {_examples(df, dup, df.columns)}. The source returned conflicting rows "
        "for the same day; keep one deliberately (e.g. frame.unique(subset=[...], keep='last')).",
        source=source,
        column=", ".join(key),
    )


def _finish(table: str, df: pl.DataFrame, source: str) -> pl.DataFrame:
    """Canonical column order and dtypes, sorted by key, validated (no calendar check)."""
    spec = TABLES[table]
    df = conform(table, df).sort(list(spec.key))
    validate(table, df, check_calendar=False)
    return df


from factorlab.adapters import akshare, joinquant, qlib, tushare  # noqa: E402
