"""Adapters: pure functions from a data source's frame to factorlab's canonical tables.

One module per source (:mod:`~factorlab.adapters.tushare`, :mod:`~factorlab.adapters.akshare`,
:mod:`~factorlab.adapters.joinquant`, :mod:`~factorlab.adapters.qlib`,
:mod:`~factorlab.adapters.hkex`). Each function takes the
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
* Every dropped row is counted: rows outside the canonical model (Beijing Stock Exchange codes
  in every adapter, one policy: dropped and counted, and an ``AdapterError`` when every row is
  Beijing; HK stocks in CCASS data; dividends not yet implemented)
  and exact duplicates are logged as a WARNING on the ``factorlab.adapters`` logger, one
  record per reason with the count and example rows
  (``logging.getLogger("factorlab.adapters").setLevel(logging.ERROR)`` silences them). Rows a
  sibling function returns instead (qlib's suspended days, see ``qlib.suspensions``) are
  logged at INFO.
* tushare caps the rows per call (``tushare.ROW_CAPS``): a frame whose height equals a cap is
  logged as a WARNING (probably cut off; page the query, docs/real-data.md).
* An empty frame (no rows) raises ``AdapterError``: a canonical table needs at least one row,
  and an empty query result is better skipped than silently turned into an empty table.
* Dates may come as ``'20200102'`` / ``'2020-01-02'`` strings, integers, dates or datetimes.
* Where a quantity is missing from a source it is null (or the table is absent), never proxied.
  The one labelled proxy on offer, :func:`amount_proxy`, must be asked for by name.
"""

from __future__ import annotations

import polars as pl

from factorlab.adapters._common import (
    SHARES_PER_LOT,
    YUAN_PER_MILLION,
    YUAN_PER_THOUSAND,
    YUAN_PER_WAN,
    YUAN_PER_YI,
)
from factorlab.errors import AdapterError

__all__ = [
    "SHARES_PER_LOT",
    "YUAN_PER_MILLION",
    "YUAN_PER_THOUSAND",
    "YUAN_PER_WAN",
    "YUAN_PER_YI",
    "AdapterError",
    "akshare",
    "amount_proxy",
    "hkex",
    "joinquant",
    "qlib",
    "tushare",
]


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


from factorlab.adapters import akshare, joinquant, qlib, tushare  # noqa: E402
