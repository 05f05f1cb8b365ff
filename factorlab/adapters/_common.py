"""Helpers shared by the adapter modules: frame coercion, column checks, unit ranges, dedupe.

Public within :mod:`factorlab.adapters` (imported by each source module), not part of the
package's face; the decisions they implement are listed in the package docstring.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import polars as pl

from factorlab.codes import is_beijing_code, normalize_asset_codes
from factorlab.errors import MAX_EXAMPLES, AdapterError
from factorlab.schema import TABLES, conform, validate

__all__ = [
    "BEIJING_REASON",
    "SHARES_PER_LOT",
    "YUAN_PER_MILLION",
    "YUAN_PER_THOUSAND",
    "YUAN_PER_WAN",
    "YUAN_PER_YI",
    "check_range",
    "check_ratio",
    "dedupe",
    "drop_beijing",
    "drop_rows",
    "finish",
    "logger",
    "parse_codes",
    "parse_dates",
    "parse_floats",
    "require_columns",
    "source_frame",
]

YUAN_PER_THOUSAND = 1_000.0
YUAN_PER_WAN = 10_000.0
YUAN_PER_MILLION = 1_000_000.0
YUAN_PER_YI = 100_000_000.0
SHARES_PER_LOT = 100.0  # 1 手 = 100 shares

logger = logging.getLogger("factorlab.adapters")


def source_frame(frame: Any, source: str, *, allow_empty: bool = False) -> pl.DataFrame:
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


def drop_rows(
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
            source,
            n,
            df.height,
            reason,
            _examples(df, mask, show or df.columns[:4]),
        )
    return df.filter(~mask)


#: The one Beijing policy of every adapter (and of factorlab.pools): rows with a Beijing Stock
#: Exchange code are outside the A-share model; they are dropped and counted (WARNING).
BEIJING_REASON = (
    "Beijing Stock Exchange codes (.BJ / 43, 83, 87, 88, 92xxxx), outside the A-share model"
)


def drop_beijing(
    df: pl.DataFrame, column: str, source: str, show: Sequence[str] = ()
) -> pl.DataFrame:
    """`df` without its Beijing Stock Exchange rows (by the code in `column`), counted in the
    log: a whole-market pull by date includes them, and they are not an error."""
    if column not in df.columns:
        return df
    out = drop_rows(
        df, is_beijing_code(pl.col(column)), source, reason=BEIJING_REASON, show=show or [column]
    )
    if out.height == 0 < df.height:
        raise AdapterError(
            f"{source}: every row has a Beijing Stock Exchange code in `{column}` (e.g. "
            f"{df.get_column(column).head(1).item()!r}); Beijing stocks are outside the A-share "
            "model, so there is nothing to convert.",
            source=source,
            column=column,
        )
    return out


def require_columns(df: pl.DataFrame, source: str, columns: Mapping[str, str]) -> None:
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


def parse_dates(df: pl.DataFrame, column: str, source: str) -> pl.Series:
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


def parse_floats(df: pl.DataFrame, columns: Iterable[str], source: str) -> pl.DataFrame:
    """Cast `columns` to Float64 (numeric strings parse; NaN becomes null)."""
    out = []
    for c in columns:
        s = df.get_column(c)
        if s.dtype == pl.Float64:
            cast = s
        elif s.dtype.is_numeric() or s.dtype == pl.Null or s.dtype == pl.Boolean:
            cast = s.cast(pl.Float64)
        elif s.dtype == pl.String or s.dtype == pl.Decimal or s.dtype == pl.Object:
            cast = (
                s.cast(pl.String)
                .str.strip_chars()
                .str.replace_all(",", "")
                .cast(pl.Float64, strict=False)
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


def parse_codes(df: pl.DataFrame, column: str, source: str) -> pl.Series:
    """Canonical asset codes from any accepted spelling (see factorlab.codes)."""
    try:
        return normalize_asset_codes(df.get_column(column))
    except Exception as exc:  # AssetCodeError: re-raise naming the source
        raise AdapterError(
            f"{source}: column `{column}`: {exc}", source=source, column=column
        ) from None


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


def check_range(
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


def check_ratio(
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


def dedupe(df: pl.DataFrame, key: Sequence[str], source: str) -> pl.DataFrame:
    """Drop exact duplicate rows (counted in the log); raise on keys repeated with different
    values."""
    df = drop_rows(
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


def finish(table: str, df: pl.DataFrame, source: str) -> pl.DataFrame:
    """Canonical column order and dtypes, sorted by key, validated (no calendar check)."""
    spec = TABLES[table]
    df = conform(table, df).sort(list(spec.key))
    validate(table, df, check_calendar=False)
    return df
