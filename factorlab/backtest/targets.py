"""Target weights from scores: the top (or bottom) fraction per date."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import polars as pl

from factorlab.errors import ParameterError

__all__ = ["quantile_targets"]


def quantile_targets(
    scores: pl.DataFrame,
    *,
    top: float = 0.2,
    side: Literal["top", "bottom"] = "top",
    weighting: Literal["equal", "cap"] = "equal",
    score_col: str = "score",
    cap_col: str = "cap",
    by: Sequence[str] = ("date",),
) -> pl.DataFrame:
    """Target weights of the top (or bottom) `top` fraction by score per `by` group.

    The selection takes the ceil(top * n) names with the highest (lowest) scores among the n
    with a score; names tied with the last one selected are all included, so ties never split
    arbitrarily. Equal or cap weights (column `cap_col`). Returns `by`, ``asset``, ``weight``.
    """
    if not 0 < top <= 1:
        raise ParameterError(f"`top` must be in (0, 1]; got {top}.")
    if side not in ("top", "bottom"):
        raise ParameterError(f"`side` must be 'top' or 'bottom'; got {side!r}.")
    if weighting not in ("equal", "cap"):
        raise ParameterError(f"`weighting` must be 'equal' or 'cap'; got {weighting!r}.")
    keys = list(by)
    scores = scores.with_columns(pl.col(score_col).fill_nan(None))  # NaN is missing, not top
    s = pl.col(score_col)
    rank = s.rank("min", descending=side == "top").over(keys)
    n = s.count().over(keys)
    picked = scores.filter(s.is_not_null() & (rank <= (n * top).ceil()))
    w = pl.lit(1.0) if weighting == "equal" else pl.col(cap_col)
    return picked.select(*keys, "asset", weight=w)
