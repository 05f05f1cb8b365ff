"""Typed errors raised by factorlab.

Every error a user can cause is a :class:`FactorLabError`. Validation errors name the table, the
column and show up to five offending rows, so the fix is obvious without a debugger.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "AbsentDataError",
    "AdapterError",
    "AssetCodeError",
    "CalendarError",
    "DisclosureError",
    "DtypeError",
    "DuplicateKeyError",
    "EmptyTableError",
    "FactorLabError",
    "MarketError",
    "MaxLossExceededError",
    "MissingColumnError",
    "MissingTableError",
    "NullKeyError",
    "ParameterError",
    "SchemaError",
    "ValueRangeError",
]

MAX_EXAMPLES = 5


class FactorLabError(Exception):
    """Base class of every error factorlab raises on purpose."""


class ParameterError(FactorLabError, ValueError):
    """A function argument is out of its documented range or of the wrong kind."""


class MarketError(FactorLabError):
    """A Market lacks a table, or its files/manifest do not match."""


class MissingTableError(MarketError, AttributeError):
    """A Market has no table of that name. Also an :class:`AttributeError`, so that
    ``hasattr(market, "northbound")`` is False instead of raising."""


class AssetCodeError(FactorLabError, ValueError):
    """An asset code cannot be recognised as a Shanghai or Shenzhen A-share code."""


class SchemaError(FactorLabError, ValueError):
    """A table does not satisfy the canonical data model.

    Attributes
    ----------
    table, column:
        Where the problem is (``column`` is ``None`` for table-level problems).
    examples:
        Up to five offending rows, as dicts.
    """

    def __init__(
        self,
        message: str,
        *,
        table: str,
        column: str | None = None,
        examples: Sequence[dict[str, Any]] = (),
    ) -> None:
        self.table = table
        self.column = column
        self.examples = list(examples)[:MAX_EXAMPLES]
        if self.examples:
            rows = "\n".join(f"  {row}" for row in self.examples)
            message = f"{message}\nexample rows:\n{rows}"
        super().__init__(message)


class MissingColumnError(SchemaError):
    """A required column is absent."""


class DtypeError(SchemaError):
    """A column has the wrong dtype."""


class NullKeyError(SchemaError):
    """A key column holds nulls."""


class DuplicateKeyError(SchemaError):
    """Two or more rows share the same key."""


class ValueRangeError(SchemaError):
    """Values outside their valid range: non-finite or non-positive prices, negative shares, ratios
    outside [0, 1]."""


class CalendarError(SchemaError):
    """Dates that are not trading days of the table's calendar."""


class EmptyTableError(SchemaError):
    """A table with no rows where rows are required."""


class AdapterError(FactorLabError, ValueError):
    """A source frame does not have the shape or units its adapter expects.

    Attributes
    ----------
    source:
        The source and endpoint, e.g. ``"tushare daily"``.
    column:
        The offending source column (``None`` for frame-level problems).
    """

    def __init__(self, message: str, *, source: str, column: str | None = None) -> None:
        self.source = source
        self.column = column
        super().__init__(message)


class AbsentDataError(MarketError):
    """A computation needs a table or column that this market's source does not provide.

    Raised instead of substituting a silent proxy; the message names the missing item and why it
    is absent.
    """


class MaxLossExceededError(FactorLabError):
    """More factor rows were dropped than ``max_loss`` allows (alphalens' rule)."""


class DisclosureError(MarketError):
    """Daily northbound data asked for dates HKEX no longer discloses daily (after 2024-08-16)."""
