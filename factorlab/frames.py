"""The one boundary where a user's frame enters factorlab: type coercion, key and code checks.

Every public entry point that accepts a frame passes it through :func:`as_lazy` (pandas input is
converted once here, with ``pl.from_pandas``), checks its keys with :func:`check_unique_keys`,
and checks that two tables it joins speak the same asset codes with :func:`match_codes`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from factorlab.errors import (
    MAX_EXAMPLES,
    AssetCodeError,
    DtypeError,
    DuplicateKeyError,
    MissingColumnError,
    ParameterError,
    ValueRangeError,
)

__all__ = [
    "CodeMatch",
    "as_frame",
    "as_lazy",
    "check_columns",
    "check_numeric",
    "check_positive",
    "check_unique_keys",
    "date_expr",
    "example_rows",
    "match_codes",
]


def _from_pandas(frame: Any, name: str) -> pl.DataFrame:
    try:
        # alphalens users arrive with a (date, asset) MultiIndex: keep it as columns
        if any(n is not None for n in getattr(frame.index, "names", [None])):
            frame = frame.reset_index()
        return pl.from_pandas(frame)
    except Exception as exc:  # pragma: no cover - pandas' own conversion errors vary by version
        raise ParameterError(
            f"`{name}`: could not convert the pandas DataFrame to polars ({exc}); convert it "
            "yourself with pl.from_pandas(frame.reset_index())."
        ) from exc


def _is_pandas(frame: Any) -> bool:
    return type(frame).__module__.startswith("pandas") and hasattr(frame, "to_numpy")


def as_lazy(frame: Any, *, name: str) -> pl.LazyFrame:
    """`frame` as a LazyFrame: a polars DataFrame/LazyFrame, or a pandas DataFrame (converted
    once with ``pl.from_pandas``; a named index becomes columns).

    Raises
    ------
    ParameterError
        Anything else, naming the parameter `name` and the type received.

    Examples
    --------
    >>> as_lazy(pl.DataFrame({"x": [1]}), name="frame").collect().height
    1
    >>> as_lazy([1, 2], name="frame")
    Traceback (most recent call last):
    ...
    factorlab.errors.ParameterError: `frame` must be a polars DataFrame or LazyFrame (or a pandas DataFrame); got list.
    """  # noqa: E501
    if isinstance(frame, pl.LazyFrame):
        return frame
    if isinstance(frame, pl.DataFrame):
        return frame.lazy()
    if _is_pandas(frame) and hasattr(frame, "columns"):
        return _from_pandas(frame, name).lazy()
    raise ParameterError(
        f"`{name}` must be a polars DataFrame or LazyFrame (or a pandas DataFrame); "
        f"got {type(frame).__name__}."
    )


def as_frame(frame: Any, *, name: str) -> pl.DataFrame | pl.LazyFrame:
    """Like :func:`as_lazy`, but keeps a polars DataFrame eager (pandas becomes a DataFrame)."""
    if isinstance(frame, pl.DataFrame | pl.LazyFrame):
        return frame
    if _is_pandas(frame) and hasattr(frame, "columns"):
        return _from_pandas(frame, name)
    return as_lazy(frame, name=name)


def check_columns(schema: pl.Schema, columns: Sequence[str], *, table: str) -> None:
    """Raise :class:`MissingColumnError` naming every column of `columns` absent from `schema`."""
    missing = [c for c in dict.fromkeys(columns) if c not in schema]
    if missing:
        raise MissingColumnError(
            f"table `{table}` has no column(s) {', '.join(f'`{c}`' for c in missing)}; columns "
            f"are {list(schema.names())}.",
            table=table,
            column=missing[0],
        )


def check_numeric(schema: pl.Schema, columns: Sequence[str], *, table: str) -> None:
    """Raise :class:`DtypeError` for a column of `columns` that is not numeric (Boolean, String,
    dates and nested types are refused; an all-null column is accepted)."""
    for c in columns:
        dtype = schema[c]
        if not (dtype.is_numeric() or dtype == pl.Null):
            raise DtypeError(
                f"column `{c}` of table `{table}` must be numeric; got {dtype}. Cast it, e.g. "
                f"pl.col({c!r}).cast(pl.Float64).",
                table=table,
                column=c,
            )


def date_expr(schema: pl.Schema, *, table: str, column: str = "date") -> pl.Expr:
    """`column` as a Date expression (a Datetime's date), aliased `column`; raise
    :class:`DtypeError` for any other dtype (a string date is not parsed silently)."""
    dtype = schema[column]
    if dtype == pl.Date:
        return pl.col(column)
    if isinstance(dtype, pl.Datetime):
        return pl.col(column).dt.date().alias(column)
    raise DtypeError(
        f"column `{column}` of table `{table}` must be a Date; got {dtype}. Parse it, e.g. "
        f"pl.col({column!r}).str.to_date().",
        table=table,
        column=column,
    )


def example_rows(frame: pl.DataFrame, n: int = MAX_EXAMPLES) -> list[dict[str, Any]]:
    """Up to `n` rows as dicts, dates as ISO strings (readable in messages)."""
    return [
        {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in row.items()}
        for row in frame.head(n).iter_rows(named=True)
    ]


def check_unique_keys(
    frame: pl.DataFrame | pl.LazyFrame, keys: Sequence[str], *, table: str
) -> None:
    """Raise :class:`DuplicateKeyError` if two rows of `frame` share the `keys`, with examples.

    Examples
    --------
    >>> check_unique_keys(pl.DataFrame({"date": [1, 1], "asset": ["a", "a"]}), ["date", "asset"],
    ...                   table="targets")
    Traceback (most recent call last):
    ...
    factorlab.errors.DuplicateKeyError: table `targets` has 1 duplicate (`date`, `asset`) key(s) (1 surplus row(s)), e.g. (1, a); deduplicate, e.g. frame.unique(subset=['date', 'asset'], keep='last'), or fix the source.
    ...
    """  # noqa: E501
    lf = frame.lazy()
    keys = list(keys)
    if _strictly_increasing(lf, keys):  # the common case of stored-sorted rows: one pass
        return
    dup = lf.group_by(keys).agg(pl.len().alias("rows")).filter(pl.col("rows") > 1)
    stats = dup.select(pl.len().alias("keys"), (pl.col("rows") - 1).sum().alias("surplus"))
    found = stats.collect().row(0, named=True)
    if not found["keys"]:
        return
    examples = example_rows(dup.sort(keys).head(MAX_EXAMPLES).collect())
    first = ", ".join(str(examples[0][k]) for k in keys)
    raise DuplicateKeyError(
        f"table `{table}` has {found['keys']} duplicate ({', '.join(f'`{k}`' for k in keys)}) "
        f"key(s) ({found['surplus']} surplus row(s)), e.g. ({first}); deduplicate, e.g. "
        f"frame.unique(subset={keys!r}, keep='last'), or fix the source.",
        table=table,
        column=", ".join(keys),
        examples=examples,
    )


def _strictly_increasing(lf: pl.LazyFrame, keys: Sequence[str]) -> bool:
    """True if the rows are strictly increasing in `keys` (lexicographic), hence unique: one
    linear pass instead of a hash group-by. False (unsorted, nulls, a repeated key, keys
    without an order) leaves the answer to the group-by."""
    if not keys:
        return False
    step = pl.col(keys[-1]) > pl.col(keys[-1]).shift(1)
    for k in reversed(keys[:-1]):
        col, prev = pl.col(k), pl.col(k).shift(1)
        step = (col > prev) | ((col == prev) & step)
    ok = step.slice(1).all(ignore_nulls=False).fill_null(False)
    for k in keys:
        ok = ok & pl.col(k).is_not_null().all()
    try:
        return bool(lf.select(ok=ok).collect().item())
    except pl.exceptions.PolarsError:
        return False


def check_positive(
    frame: pl.DataFrame | pl.LazyFrame,
    columns: Sequence[str],
    *,
    table: str,
    show: Sequence[str] = ("date", "asset"),
) -> None:
    """Raise :class:`ValueRangeError` if a non-null value of `columns` is zero, negative or not
    finite (what a price can never be), naming the column and example rows."""
    lf = frame.lazy()
    schema = lf.collect_schema()
    cols = [c for c in columns if c in schema and schema[c].is_numeric()]
    if not cols:
        return

    def bad(c: str) -> pl.Expr:
        x = pl.col(c).cast(pl.Float64)
        return x.is_not_null() & ~(x.is_finite() & (x > 0))

    counts = lf.select([bad(c).sum().alias(c) for c in cols]).collect().row(0, named=True)
    for c in cols:
        if counts[c]:
            keep = [k for k in show if k in schema and k != c] + [c]
            rows = example_rows(lf.filter(bad(c)).select(keep).head(MAX_EXAMPLES).collect())
            raise ValueRangeError(
                f"table `{table}`: column `{c}` must be finite and > 0 (a price); got "
                f"{counts[c]} zero, negative or non-finite value(s), e.g. {rows[0]}. Set such "
                "values to null (missing) or fix the source.",
                table=table,
                column=c,
                examples=rows,
            )


@dataclass(frozen=True)
class CodeMatch:
    """How the asset codes of one table met another's: counts and example unmatched codes."""

    table: str
    against: str
    rows: int
    matched_rows: int
    unmatched_codes: tuple[str, ...]
    n_unmatched_codes: int

    @property
    def unmatched_rows(self) -> int:
        return self.rows - self.matched_rows


def match_codes(
    codes: pl.Series,
    known: pl.Series,
    *,
    table: str,
    against: str,
    column: str = "asset",
) -> CodeMatch:
    """Check that `codes` (a column of `table`) speak the same codes as `known` (of `against`).

    None of the rows matching is an :class:`AssetCodeError` naming examples on both sides (almost
    always a spelling mismatch such as ``600519`` against ``600519.SH``: normalize with
    :func:`factorlab.normalize_asset_codes`). A partial match is returned as a
    :class:`CodeMatch` for the caller's step report.

    Examples
    --------
    >>> m = match_codes(pl.Series(["600519.SH", "000001.SZ", "x"]), pl.Series(["600519.SH", "000001.SZ"]),
    ...                 table="northbound", against="prices")
    >>> m.matched_rows, m.unmatched_codes
    (2, ('x',))
    """  # noqa: E501
    if codes.dtype != known.dtype:
        codes, known = codes.cast(pl.String), known.cast(pl.String)
    hit = codes.is_in(known.unique().implode())
    matched = int(hit.sum())
    missing = codes.filter(~hit).unique().sort()
    result = CodeMatch(
        table=table,
        against=against,
        rows=codes.len(),
        matched_rows=matched,
        unmatched_codes=tuple(str(c) for c in missing.head(MAX_EXAMPLES).to_list()),
        n_unmatched_codes=missing.len(),
    )
    if codes.len() and not matched:
        ours = ", ".join(map(str, codes.unique().sort().head(3).to_list()))
        theirs = ", ".join(map(str, known.unique().sort().head(3).to_list()))
        raise AssetCodeError(
            f"0 of {codes.len()} `{table}` rows match an asset of `{against}` on column "
            f"`{column}`: `{table}` has e.g. {ours}; `{against}` has e.g. {theirs}. Normalize "
            f"both with factorlab.normalize_asset_codes (canonical form 600519.SH)."
        )
    return result
