"""HKEX's daily short-selling information for China Connect securities -> ``short_sellable``.

For each Eligible SSE / SZSE Security for Short Selling, HKEX posts on every northbound trading
day the quantity still available for short selling (about 1% of the northbound holding at the
start of the day, less open short positions; HKEX market communication 2015-02-26). Since the
2024-08-16 disclosure change only quantities under 300,000 shares are printed; the others read
as sufficient. Seed 002 (Kaiyuan, 2025-03) builds its estimator on these files.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from factorlab.adapters._common import (
    drop_beijing,
    drop_rows,
    finish,
    parse_codes,
    parse_dates,
    require_columns,
    source_frame,
)
from factorlab.errors import AdapterError

__all__ = ["SUFFICIENT_MARKERS", "short_sellable"]

#: Cell texts (case-insensitive, after stripping) that mean "not printed: at or above the
#: threshold" in the quantity column; any other non-numeric text is an error.
SUFFICIENT_MARKERS = (
    ">=300,000",
    ">= 300,000",
    ">300000",
    ">=300000",
    "sufficient",
    "充足",
    "足够",
)


def short_sellable(
    frame: Any,
    *,
    date: dt.date | str | None = None,
    date_col: str = "Date",
    code_col: str = "Stock Code",
    quantity_col: str = "Short Selling Available Quantity",
    exchange: str | None = None,
) -> pl.DataFrame:
    """The canonical ``short_sellable`` table (date, asset, quantity, sufficient) from one or
    more HKEX daily short-selling files.

    ===================================  ===========  =========  ===============================
    source column                        unit         canonical  conversion
    ===================================  ===========  =========  ===============================
    Date (or the `date` argument)        date         date       parsed (YYYYMMDD / ISO / date)
    Stock Code                           6 digits     asset      normalized; SSE 6xxxxx -> .SH
    Short Selling Available Quantity     shares       quantity   '1,234' -> 1234; marker -> null
    ===================================  ===========  =========  ===============================

    A quantity cell holding one of :data:`SUFFICIENT_MARKERS` (HKEX's post-2024 wording for
    "at or above the print threshold") becomes a null ``quantity`` with ``sufficient = True``.
    Stock names and other columns are dropped; Beijing codes are dropped and counted.

    Parameters
    ----------
    frame
        A pandas / Polars frame read from the file(s), e.g. ``pl.read_csv(path)``.
    date
        The file's date when it has no date column (one file per day).
    date_col, code_col, quantity_col
        Column names, if a download differs from the defaults.
    exchange
        ``"SH"`` / ``"SZ"``: the file's market when codes are bare numbers that could be either
        (Shenzhen codes 000xxx/001xxx/002xxx/003xxx/300xxx/301xxx are recognised without it).

    Raises
    ------
    AdapterError
        A missing column, an unparseable date, a quantity that is not a whole number >= 0 or a
        known marker (the message names the column and example rows), or a (date, asset)
        repeated with different quantities.

    Examples
    --------
    >>> f = pl.DataFrame({"Stock Code": ["600519", "000001"],
    ...                   "Short Selling Available Quantity": ["12,300", ">=300,000"]})
    >>> short_sellable(f, date="2024-09-02")
    shape: (2, 4)
    ┌────────────┬───────────┬──────────┬────────────┐
    │ date       ┆ asset     ┆ quantity ┆ sufficient │
    │ ---        ┆ ---       ┆ ---      ┆ ---        │
    │ date       ┆ str       ┆ i64      ┆ bool       │
    ╞════════════╪═══════════╪══════════╪════════════╡
    │ 2024-09-02 ┆ 000001.SZ ┆ null     ┆ true       │
    │ 2024-09-02 ┆ 600519.SH ┆ 12300    ┆ false      │
    └────────────┴───────────┴──────────┴────────────┘
    """
    source = "hkex short_sellable"
    df = source_frame(frame, source)
    need = {code_col: "stock code", quantity_col: "shares available for short selling"}
    if date is None:
        need[date_col] = "date"
    require_columns(df, source, need)
    if date is not None:
        df = df.with_columns(pl.lit(str(date)).alias(date_col))
    dates = parse_dates(df, date_col, source)
    codes = df.get_column(code_col).cast(pl.String).str.strip_chars()
    if exchange is not None:
        if exchange not in ("SH", "SZ"):
            raise AdapterError(
                f"{source}: `exchange` must be 'SH' or 'SZ'; got {exchange!r}.", source=source
            )
        codes = pl.Series(code_col, codes).str.zfill(6) + f".{exchange}"
    df = df.with_columns(pl.Series(code_col, codes), pl.Series("date", dates))
    df = drop_beijing(df, code_col, source)
    raw = df.get_column(quantity_col).cast(pl.String).str.strip_chars()
    marker = raw.str.to_lowercase().is_in([m.lower() for m in SUFFICIENT_MARKERS])
    number = raw.str.replace_all(",", "").cast(pl.Float64, strict=False)
    bad = ~marker & (
        number.is_null() | ~number.is_finite() | (number < 0) | (number != number.floor())
    )
    bad = bad & raw.is_not_null()
    if bad.any():
        shown = df.filter(bad).select("date", code_col, quantity_col).head(5).rows()
        raise AdapterError(
            f"{source}: column `{quantity_col}` must hold whole share counts >= 0 or one of "
            f"{list(SUFFICIENT_MARKERS)}; got {int(bad.sum())} other value(s), e.g. {shown}.",
            source=source,
            column=quantity_col,
        )
    df = drop_rows(
        df, raw.is_null(), source, reason=f"empty `{quantity_col}`", show=["date", code_col]
    )
    raw = df.get_column(quantity_col).cast(pl.String).str.strip_chars()
    marker = raw.str.to_lowercase().is_in([m.lower() for m in SUFFICIENT_MARKERS])
    qty = raw.str.replace_all(",", "").cast(pl.Float64, strict=False)
    out = pl.DataFrame(
        {
            "date": df.get_column("date"),
            "asset": parse_codes(df, code_col, source),
            "quantity": pl.Series(qty).round().cast(pl.Int64).set(marker, None),
            "sufficient": marker,
        }
    )
    dup = out.select(pl.struct("date", "asset").is_duplicated()).to_series()
    if dup.any():
        same = out.filter(dup).unique()
        if same.select(pl.struct("date", "asset").is_duplicated()).to_series().any():
            raise AdapterError(
                f"{source}: (date, asset) repeated with different quantities, e.g. "
                f"{out.filter(dup).head(4).rows()}; keep one file per day.",
                source=source,
                column="asset",
            )
        out = drop_rows(
            out,
            ~pl.struct(pl.all()).is_first_distinct(),
            source,
            reason="exact repeats (the same file read twice)",
        )
    return finish("short_sellable", out, source)
