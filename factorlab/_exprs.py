"""Input checks shared by the expression operators (``cs``, ``preprocess``, ``ops``).

Each turns a user argument into the value the operators compute with, or raises a
:class:`~factorlab.errors.ParameterError` naming the parameter.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import polars as pl

from factorlab.errors import ParameterError
from factorlab.typing import IntoExpr

__all__ = [
    "cast_float",
    "check_ddof",
    "check_int",
    "check_name",
    "check_positive_number",
    "finite_expr",
    "float_expr",
    "group_keys",
    "resolve_by",
]


def _expr(x: IntoExpr) -> pl.Expr:
    if isinstance(x, str):
        return pl.col(x)
    if isinstance(x, pl.Expr):
        return x
    raise ParameterError(
        f"an operator input must be a column name (str) or a polars expression; "
        f"got {type(x).__name__} {x!r}."
    )


def float_expr(x: IntoExpr) -> pl.Expr:
    """`x` as a Float64 expression with NaN turned into null (the kernel boundary rule)."""
    return cast_float(x).fill_nan(None)


def cast_float(x: IntoExpr) -> pl.Expr:
    """`x` as a Float64 expression, NaN kept: the input of a numba kernel that reads NaN and
    null alike (``to_numpy`` makes a null NaN), without the column pass of ``fill_nan``."""
    return _expr(x).cast(pl.Float64)


def finite_expr(x: IntoExpr) -> pl.Expr:
    """`x` as Float64 with every non-finite value (NaN, +inf, -inf) turned into null.

    The boundary rule of the preprocessing steps: one inf cannot turn a cross-section's mean,
    std or quantiles into NaN/inf for all its names.
    """
    v = _expr(x).cast(pl.Float64)
    return pl.when(v.is_finite()).then(v)


def check_int(name: str, value: object, *, minimum: int) -> int:
    """`value` as an int >= `minimum`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ParameterError(f"`{name}` must be an integer >= {minimum}; got {value!r}.")
    if value < minimum:
        raise ParameterError(f"`{name}` must be an integer >= {minimum}; got {value}.")
    return int(value)


def check_name(name: str, value: object) -> str:
    """`value` as a non-empty column name."""
    if not isinstance(value, str) or not value:
        raise ParameterError(f"`{name}` must be a non-empty column name; got {value!r}.")
    return value


def group_keys(by: str | Sequence[str], name: str = "by") -> list[str]:
    """`by` (one column name or several) as a list of distinct, non-empty column names."""
    keys = [by] if isinstance(by, str) else list(by)
    if not keys or not all(isinstance(k, str) and k for k in keys):
        raise ParameterError(
            f"`{name}` must be a column name or a non-empty sequence of column names; got {by!r}."
        )
    if len(set(keys)) != len(keys):
        raise ParameterError(f"`{name}` names a column twice: {keys}.")
    return keys


def resolve_by(by: str | Sequence[str], date_col: str | None, func: str) -> list[str]:
    """The grouping keys of a ``cs_*`` operator, honouring the deprecated ``date_col=``."""
    if date_col is not None:
        if not (isinstance(by, str) and by == "date"):
            raise ParameterError(
                f"`{func}` got both `by={by!r}` and the deprecated `date_col={date_col!r}`; "
                "pass only `by`."
            )
        warnings.warn(
            f"`{func}(date_col=...)` is deprecated and will be removed in the next release; "
            f"pass `by={date_col!r}` instead.",
            DeprecationWarning,
            stacklevel=3,
        )
        by = check_name("date_col", date_col)
    return group_keys(by)


def check_positive_number(name: str, value: object) -> float:
    """`value` as a positive finite float."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ParameterError(f"`{name}` must be a positive number; got {value!r}.")
    if not np.isfinite(value) or value <= 0:
        raise ParameterError(f"`{name}` must be a positive finite number; got {value}.")
    return float(value)


def check_ddof(ddof: object) -> int:
    """`ddof` as a non-negative int."""
    if isinstance(ddof, bool) or not isinstance(ddof, (int, np.integer)) or ddof < 0:
        raise ParameterError(f"`ddof` must be a non-negative integer; got {ddof!r}.")
    return int(ddof)
