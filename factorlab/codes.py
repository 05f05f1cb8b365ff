"""Asset codes: map the many spellings of a Shanghai / Shenzhen A-share code to ``NNNNNN.SH`` /
``NNNNNN.SZ``, the canonical form of every factorlab table (tushare / Wind style).

Accepted spellings (case and surrounding whitespace ignored):

==================  =====================================================
``600519.SH``       canonical; also ``.SZ``, and ``.SS`` (Yahoo) for SH
``600519.XSHG``     JoinQuant / RiceQuant / zipline; ``.XSHE`` for SZ
``SH600519``        prefix form (``sh600519``, ``sz000001``), optionally
                    with a dot (``sh.600519``, baostock)
``600519``          bare 6-digit code: exchange inferred from its first two
                    digits, 60/68/90 -> SH, 00/30/20 -> SZ
``600519`` (int)    integers (Series / column of integer dtype, or a Python
                    int) are zero-padded to 6 digits: ``1`` -> ``000001.SZ``
==================  =====================================================

Decisions:

* An explicit exchange (prefix or suffix) is trusted as given, never overridden by the digits:
  ``000001.SH`` (the SSE Composite index) and ``000001.SZ`` (Ping An Bank) are different
  instruments, and index / fund codes do not follow the stock-code prefixes. Only bare codes are
  inferred.
* Bare codes outside 60/68/90/00/30/20 raise :class:`~factorlab.errors.AssetCodeError`; Beijing
  Stock Exchange codes (bare 43/83/87/88/92xxxx, or an explicit ``BJ``) are not supported.
* Strings must hold exactly six digits (``"1"`` is rejected; it is likely garbage), whereas integers
  are zero-padded (a code that went through a numeric column lost its leading zeros).
* A code with both a prefix and a suffix (``SH600519.SH``) is rejected as ambiguous.
* Nulls stay null and are not errors.
"""

from __future__ import annotations

import polars as pl

from factorlab.errors import MAX_EXAMPLES, AssetCodeError

__all__ = ["is_beijing_code", "normalize_asset_code", "normalize_asset_codes"]

SH_HEADS = ("60", "68", "90")
"""First two digits of bare codes inferred as Shanghai (main board, STAR market, B shares)."""
SZ_HEADS = ("00", "30", "20")
"""First two digits of bare codes inferred as Shenzhen (main board, ChiNext, B shares)."""
BJ_HEADS = ("43", "83", "87", "88", "92")
"""First two digits of Beijing Stock Exchange codes (not supported)."""

_SH_NAMES = ("SH", "SS", "XSHG")
_SZ_NAMES = ("SZ", "XSHE")
_PATTERN = (
    r"^(?:(?<prefix>SH|SZ|BJ)\.?)?(?<digits>[0-9]{6})"
    r"(?:\.(?<suffix>SH|SZ|SS|XSHG|XSHE|BJ))?$"
)
_SCALAR = "`code`"
_EXPECTED = (
    "expected e.g. 600519.SH, 600519.XSHG, sh600519 or a bare 6-digit code starting "
    f"{'/'.join(SH_HEADS)} (Shanghai) or {'/'.join(SZ_HEADS)} (Shenzhen)"
)


def _parse(raw: pl.Expr, *, integer: bool) -> pl.Expr:
    """Struct expression ``{code, reason}``: the canonical code, or null and why it is not one."""
    if integer:
        text = raw.cast(pl.String).str.zfill(6)
    else:
        text = raw.cast(pl.String).str.strip_chars().str.to_uppercase()
    groups = text.str.extract_groups(_PATTERN)
    digits = groups.struct.field("digits")
    prefix = groups.struct.field("prefix")
    suffix = groups.struct.field("suffix")
    both = prefix.is_not_null() & suffix.is_not_null()
    named = pl.coalesce(prefix, suffix)
    explicit = (
        pl.when(named.is_in(_SH_NAMES))
        .then(pl.lit("SH"))
        .when(named.is_in(_SZ_NAMES))
        .then(pl.lit("SZ"))
        .when(named == "BJ")
        .then(pl.lit("BJ"))
    )
    head = digits.str.slice(0, 2)
    inferred = (
        pl.when(head.is_in(SH_HEADS))
        .then(pl.lit("SH"))
        .when(head.is_in(SZ_HEADS))
        .then(pl.lit("SZ"))
    )
    exchange = pl.when(both).then(None).otherwise(pl.coalesce(explicit, inferred))
    code = (
        pl.when(exchange.is_in(["SH", "SZ"]))
        .then(pl.concat_str([digits, pl.lit("."), exchange]))
        .otherwise(None)
    )
    reason = (
        pl.when(raw.is_null())
        .then(None)
        .when(digits.is_null())
        .then(pl.lit("not a 6-digit code with an optional SH/SZ prefix or suffix"))
        .when(both)
        .then(pl.lit("has both an exchange prefix and an exchange suffix"))
        .when((explicit == "BJ") | (explicit.is_null() & head.is_in(BJ_HEADS)))
        .then(pl.lit("Beijing Stock Exchange code, not supported"))
        .when(exchange.is_null())
        .then(
            pl.concat_str(
                [
                    pl.lit("bare code starting with '"),
                    head,
                    pl.lit("' is neither Shanghai nor Shenzhen; add an exchange suffix"),
                ]
            )
        )
        .otherwise(None)
    )
    return pl.struct(code.alias("code"), reason.alias("reason"))


def _normalize_series(codes: pl.Series, *, strict: bool, what: str) -> pl.Series:
    integer = codes.dtype.is_integer()
    if not (
        integer
        or codes.dtype in (pl.String, pl.Categorical, pl.Null)
        or isinstance(codes.dtype, pl.Enum)
    ):
        msg = (
            f"{what} must hold strings or integers; got dtype {codes.dtype}. "
            "Cast it with .cast(pl.String) first."
        )
        raise AssetCodeError(msg)
    parsed = (
        pl.DataFrame({"raw": codes})
        .select(pl.col("raw"), _parse(pl.col("raw"), integer=integer).alias("p"))
        .unnest("p")
    )
    if strict:
        bad = parsed.filter(pl.col("reason").is_not_null())
        if bad.height:
            raise AssetCodeError(_bad_codes_message(bad, what=what))
    return parsed.get_column("code").alias(codes.name)


def _bad_codes_message(bad: pl.DataFrame, *, what: str) -> str:
    distinct = bad.unique("raw", maintain_order=True).select("raw", "reason")
    if what == _SCALAR:
        raw, reason = distinct.row(0)
        return f"asset code {raw!r} is not recognised: {reason}; {_EXPECTED}."
    shown = ", ".join(
        f"{raw!r} ({reason})" for raw, reason in distinct.head(MAX_EXAMPLES).iter_rows()
    )
    return (
        f"{what} holds {bad.height} unrecognised asset code(s) ({distinct.height} distinct), "
        f"e.g. {shown}; {_EXPECTED}. Fix or drop them, or pass strict=False to map them to null."
    )


def normalize_asset_codes(
    codes: pl.Series | pl.Expr | str, *, strict: bool = True
) -> pl.Series | pl.Expr:
    """Map asset codes in any common spelling to canonical ``NNNNNN.SH`` / ``NNNNNN.SZ``.

    Vectorized: one regex extraction and a few ``when/then`` expressions, no Python loop over
    values. See the module docstring for the accepted spellings and the decisions behind them.

    Parameters
    ----------
    codes
        A Series (String, Categorical or integer dtype), an expression, or a column name.
    strict
        ``True``: raise :class:`~factorlab.errors.AssetCodeError` naming up to five unrecognised
        codes and how many there are. ``False``: unrecognised codes become null.

    Returns
    -------
    pl.Series | pl.Expr
        A Series for a Series input (same name), otherwise an expression (same output name). The
        expression is evaluated as a batch function, so integer columns are zero-padded and strict
        mode raises ``AssetCodeError`` when the frame is collected.

    Nulls and NaN
    -------------
    Null codes stay null and are never an error.

    Examples
    --------
    >>> normalize_asset_codes(pl.Series("asset", ["sh600519", "000001.XSHE", "300750"])).to_list()
    ['600519.SH', '000001.SZ', '300750.SZ']
    >>> pl.DataFrame({"code": [600519, 1]}).select(normalize_asset_codes("code"))
    shape: (2, 1)
    ┌───────────┐
    │ code      │
    │ ---       │
    │ str       │
    ╞═══════════╡
    │ 600519.SH │
    │ 000001.SZ │
    └───────────┘
    """
    if isinstance(codes, pl.Series):
        return _normalize_series(codes, strict=strict, what=f"`codes` (Series {codes.name!r})")
    expr = pl.col(codes) if isinstance(codes, str) else codes
    return expr.map_batches(
        lambda s: _normalize_series(s, strict=strict, what=f"column `{s.name}`"),
        return_dtype=pl.String,
        is_elementwise=True,
    )


def is_beijing_code(codes: str | pl.Expr) -> pl.Expr:
    """True where a code is a Beijing Stock Exchange code (``BJ`` prefix or suffix, or a bare
    6-digit code starting 43/83/87/88/92); null codes give False. Adapters drop such rows,
    counted (see ``factorlab.adapters``).

    Examples
    --------
    >>> pl.DataFrame({"c": ["920263.BJ", "600519.SH", "830799", None]}).select(
    ...     is_beijing_code("c"))["c"].to_list()
    [True, False, True, False]
    """
    expr = pl.col(codes) if isinstance(codes, str) else codes
    text = expr.cast(pl.String).str.strip_chars().str.to_uppercase()
    bare = text.str.contains(r"^[0-9]{6}$") & text.str.slice(0, 2).is_in(list(BJ_HEADS))
    return (text.str.contains(r"^BJ\.?[0-9]{6}$|^[0-9]{6}\.BJ$") | bare).fill_null(False)


def normalize_asset_code(code: str | int) -> str:
    """Map one asset code to canonical ``NNNNNN.SH`` / ``NNNNNN.SZ``.

    Same rules as :func:`normalize_asset_codes` (an ``int`` is zero-padded); raises
    :class:`~factorlab.errors.AssetCodeError` when the code is not recognised.

    Examples
    --------
    >>> [normalize_asset_code(c) for c in ("600519.XSHG", "sz000001", 1)]
    ['600519.SH', '000001.SZ', '000001.SZ']
    """
    if isinstance(code, bool) or not isinstance(code, (str, int)):
        msg = f"asset code must be a str or an int; got {type(code).__name__} {code!r}."
        raise AssetCodeError(msg)
    if isinstance(code, int) and not 0 <= code <= 999_999:
        msg = f"asset code {code!r} is not recognised (not a 6-digit code); {_EXPECTED}."
        raise AssetCodeError(msg)
    dtype = pl.Int64 if isinstance(code, int) else pl.String
    series = pl.Series("code", [code], dtype=dtype)
    return _normalize_series(series, strict=True, what=_SCALAR).item()
