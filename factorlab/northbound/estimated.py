"""Estimated holdings as an input of the factor study and the strategies (seed 002, issue 13
point 6).

:func:`study_estimates` turns what a user passes as ``estimated_holdings=`` (a
:class:`~factorlab.northbound.estimation.HoldingsEstimate` or its (date, asset, shares
[, published, flow]) frame) into the checked frame
:func:`~factorlab.northbound.hygiene.research_panel` extends the panel with, a digest of its
values (the cache key) and a line saying where it came from. :func:`estimated_flows` gives the
per-stock daily flows past the disclosure change, each on the day it is published: the one
path by which the strategies (timing, rotation) read estimates.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from factorlab.frames import as_lazy, check_columns, check_numeric, check_unique_keys, date_expr
from factorlab.market import Market

if TYPE_CHECKING:
    from factorlab.northbound.hygiene import NorthboundPanel

__all__ = ["StudyEstimates", "estimated_flows", "estimated_note", "study_estimates"]

#: The table name in error messages.
_TABLE = "estimated_holdings"


@dataclass(frozen=True)
class StudyEstimates:
    """Estimated holdings as the study uses them.

    ``frame``: date, asset, shares (Float64), sorted by (date, asset). ``digest``: sha256 of
    those values (part of the study's cache key). ``source``: what produced them, for the note
    ("seed 002 two-step estimator" for a :class:`HoldingsEstimate`). ``published``: date,
    published (the day each estimated date is first known: the table's ``published`` column,
    else the date itself). ``flows``: date, asset, flow (yuan) when the table carries them (a
    :class:`HoldingsEstimate`'s trades x VWAP, which leave out the re-anchoring revisions), else
    None (the flows are then dS x VWAP of the research panel). ``digest_all``: sha256 of the
    shares, publication days and flows (the strategies' cache key)."""

    frame: pl.DataFrame
    digest: str
    source: str
    published: pl.DataFrame | None = None
    flows: pl.DataFrame | None = None
    digest_all: str | None = None


def _source(estimate: Any) -> str:
    kind = getattr(estimate, "total_value", "fit")
    what = "seed 002 two-step estimator"
    return what if kind == "fit" else f"{what}, ablation total_value={kind}"


def study_estimates(estimated: Any) -> StudyEstimates:
    """Check and digest `estimated` (a ``HoldingsEstimate`` or a frame with date, asset,
    shares and optionally published, flow; polars or pandas; a ``StudyEstimates`` is returned
    as it is).

    Raises
    ------
    MissingColumnError, DtypeError, DuplicateKeyError
        A column is missing, ``date`` is not a date or ``shares`` not numeric, or two rows share
        a (date, asset) key (the message names the table ``estimated_holdings`` and the rows).
    """
    from factorlab.northbound.estimation.estimator import HoldingsEstimate

    if isinstance(estimated, StudyEstimates):  # already checked
        return estimated
    if isinstance(estimated, HoldingsEstimate):
        frame, source = estimated.holdings, _source(estimated)
    else:
        frame, source = estimated, "supplied estimated_holdings table"
    lf = as_lazy(frame, name=_TABLE)
    schema = lf.collect_schema()
    check_columns(schema, ["date", "asset", "shares"], table=_TABLE)
    check_numeric(schema, ["shares"], table=_TABLE)
    date = date_expr(schema, table=_TABLE)
    extra = [c for c in ("published", "flow") if c in schema]
    if "flow" in extra:
        check_numeric(schema, ["flow"], table=_TABLE)
    pub = [date_expr(schema, table=_TABLE, column="published")] if "published" in extra else []
    rows = (
        lf.select(
            date,
            pl.col("asset").cast(pl.String),
            pl.col("shares").cast(pl.Float64),
            *pub,
            *([pl.col("flow").cast(pl.Float64)] if "flow" in extra else []),
        )
        .collect()
        .sort("date", "asset")
    )
    check_unique_keys(rows, ["date", "asset"], table=_TABLE)
    values = rows.select("date", "asset", "shares")
    h = hashlib.sha256(f"{values.height}:estimated_holdings".encode())
    for seed in range(4):
        h.update(values.hash_rows(seed=seed).to_numpy().tobytes())
    full = h.copy()  # the strategies read published and flow too: other values, another key
    for seed in range(4) if extra else ():
        full.update(rows.select(extra).hash_rows(seed=seed).to_numpy().tobytes())
    published = (
        rows.group_by("date").agg(pl.col("published").max()).sort("date")
        if "published" in extra
        else rows.select("date", published="date").unique().sort("date")
    )
    flows = rows.select("date", "asset", "flow") if "flow" in extra else None
    return StudyEstimates(values, h.hexdigest(), source, published, flows, full.hexdigest())


def estimated_flows(
    market: Market, est: StudyEstimates, *, panel: NorthboundPanel | None = None
) -> pl.DataFrame:
    """Per-stock daily northbound flows through the estimates: date, asset, flow (yuan),
    estimated (bool).

    Up to the market's disclosure change (:func:`~factorlab.northbound.hygiene.disclosure_end`)
    the flows are those of the published daily holdings (the research panel's dS x VWAP, on the
    holdings' own date, which is known after its close as before). After it: the estimates'
    ``flow`` column when they have one (the estimator's trades, without the jumps of a quarterly
    re-anchoring), else dS x VWAP of the research panel extended by them; each estimated
    date's flows are dated on the day it is **published** (``est.published``), never earlier,
    and flagged ``estimated``. Two estimated dates published the same day are summed.

    `panel`: a :func:`~factorlab.northbound.hygiene.research_panel` of the market extended by
    `est` (built here when not given).
    """
    from factorlab.northbound.hygiene import disclosure_end, research_panel

    change = disclosure_end(market)
    if panel is None:
        panel = research_panel(market, end=est.frame["date"].max(), estimated_holdings=est.frame)
    flows = panel.frame.filter(pl.col("flow").is_not_null()).select("date", "asset", "flow")
    before = flows.filter(pl.col("date") <= change)
    after = est.flows if est.flows is not None else flows
    after = after.filter((pl.col("date") > change) & pl.col("flow").is_not_null())
    published = est.published if est.published is not None else after.select("date").unique()
    after = (
        after.join(published.select("date", "published"), on="date", how="left")
        .group_by(pl.col("published").fill_null(pl.col("date")).alias("day"), "asset")
        .agg(pl.col("flow").sum())
        .rename({"day": "date"})
    )
    return pl.concat(
        [
            before.with_columns(estimated=pl.lit(False)),
            after.select("date", "asset", "flow", estimated=pl.lit(True)),
        ]
    ).sort("date", "asset")


def estimated_note(estimated_from: dt.date | None, data: dict[str, str]) -> str | None:
    """The line every table and report of a study with estimated holdings carries:
    "holdings after D are estimated (source)"; None when no date of the study is estimated."""
    if estimated_from is None:
        return None
    source = data.get("estimated_holdings") or "estimated_holdings"
    return f"holdings after {estimated_from} are estimated ({source})"
