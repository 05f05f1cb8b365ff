"""Estimated holdings as an input of the factor study (seed 002, issue 13 point 6).

:func:`study_estimates` turns what a user passes as ``factor_study(estimated_holdings=...)`` (a
:class:`~factorlab.northbound.estimation.HoldingsEstimate` or its (date, asset, shares) frame)
into the checked frame :func:`~factorlab.northbound.hygiene.research_panel` extends the panel
with, a digest of its values (the study's cache key) and a line saying where it came from.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

import polars as pl

from factorlab.frames import as_lazy, check_columns, check_numeric, check_unique_keys, date_expr

__all__ = ["StudyEstimates", "estimated_note", "study_estimates"]

#: The table name in error messages.
_TABLE = "estimated_holdings"


@dataclass(frozen=True)
class StudyEstimates:
    """Estimated holdings as the study uses them.

    ``frame``: date, asset, shares (Float64), sorted by (date, asset). ``digest``: sha256 of
    those values (part of the study's cache key). ``source``: what produced them, for the note
    ("seed 002 two-step estimator" for a :class:`HoldingsEstimate`)."""

    frame: pl.DataFrame
    digest: str
    source: str


def _source(estimate: Any) -> str:
    kind = getattr(estimate, "total_value", "fit")
    what = "seed 002 two-step estimator"
    return what if kind == "fit" else f"{what}, ablation total_value={kind}"


def study_estimates(estimated: Any) -> StudyEstimates:
    """Check and digest `estimated` (a ``HoldingsEstimate`` or a frame with date, asset,
    shares; polars or pandas).

    Raises
    ------
    MissingColumnError, DtypeError, DuplicateKeyError
        A column is missing, ``date`` is not a date or ``shares`` not numeric, or two rows share
        a (date, asset) key (the message names the table ``estimated_holdings`` and the rows).
    """
    from factorlab.northbound.estimation.estimator import HoldingsEstimate

    if isinstance(estimated, HoldingsEstimate):
        frame, source = estimated.holdings, _source(estimated)
    else:
        frame, source = estimated, "supplied estimated_holdings table"
    lf = as_lazy(frame, name=_TABLE)
    schema = lf.collect_schema()
    check_columns(schema, ["date", "asset", "shares"], table=_TABLE)
    check_numeric(schema, ["shares"], table=_TABLE)
    date = date_expr(schema, table=_TABLE)
    values = (
        lf.select(date, pl.col("asset").cast(pl.String), pl.col("shares"))
        .with_columns(pl.col("shares").cast(pl.Float64))
        .collect()
        .sort("date", "asset")
    )
    check_unique_keys(values, ["date", "asset"], table=_TABLE)
    h = hashlib.sha256(f"{values.height}:estimated_holdings".encode())
    for seed in range(4):
        h.update(values.hash_rows(seed=seed).to_numpy().tobytes())
    return StudyEstimates(values, h.hexdigest(), source)


def estimated_note(estimated_from: dt.date | None, data: dict[str, str]) -> str | None:
    """The line every table and report of a study with estimated holdings carries:
    "holdings after D are estimated (source)"; None when no date of the study is estimated."""
    if estimated_from is None:
        return None
    source = data.get("estimated_holdings") or "estimated_holdings"
    return f"holdings after {estimated_from} are estimated ({source})"
