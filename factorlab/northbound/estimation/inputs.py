"""The estimator's inputs on one dense grid: prices, bonus factors, disclosures and anchors.

Every input table is checked here (bad input is a :class:`~factorlab.errors.FactorLabError`
naming the table, the column and example rows); the estimator itself only sees arrays.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from factorlab.calendar import sessions, to_date
from factorlab.errors import (
    AssetCodeError,
    DisclosureError,
    DtypeError,
    MarketError,
    ParameterError,
    ValueRangeError,
)
from factorlab.frames import check_columns, check_unique_keys, example_rows
from factorlab.grid import GridIndex, ffill_rows, vwap
from factorlab.market import Market
from factorlab.northbound.hygiene import bonus_events, bonus_grids, disclosure_end

__all__ = ["EstimationInputs", "disclosure_end", "estimation_inputs"]


@dataclass(frozen=True)
class EstimationInputs:
    """Dense (date x asset) inputs of the estimator over one window.

    ``index`` spans the A-share sessions from the first anchor to the window's end.
    ``close`` is forward-filled (a suspended stock keeps its last close), ``vwap`` is
    :func:`factorlab.grid.vwap` (NaN on a non-trading day), ``ex`` the cumulative ex-date bonus
    factor. ``quantity`` holds the printed short-sellable quantity of the disclosure that
    reflects each row's close (NaN where none), ``sufficient`` marks the rows whose quantity was
    not printed (at or above the print threshold). ``est_rows`` are the rows that get an
    estimate (northbound sessions after the first anchor with a disclosure reflecting them) and
    ``published`` the day each row's disclosure appeared. ``anchors`` lists the published
    holdings the estimator starts from or re-anchors on: (row, publication day, shares on the
    ex-date basis as a (N,) array). ``notes``: rows dropped, by reason (step, rows, detail).
    ``industry``: each asset's industry as an integer code 0 .. K - 1 from ``assets.industry``,
    the industries in sorted order (None when the market has no industry column); the assets
    without one (a null industry, or a price asset missing from ``assets``) share the last code,
    one more group of step 1 (shrunk towards the market move like any industry).
    """

    index: GridIndex
    close: np.ndarray
    vwap: np.ndarray
    ex: np.ndarray
    quantity: np.ndarray
    sufficient: np.ndarray
    est_rows: np.ndarray
    published: np.ndarray
    anchors: tuple[tuple[int, np.datetime64, np.ndarray], ...]
    change: dt.date
    notes: tuple[dict, ...] = ()
    industry: np.ndarray | None = None


def _check_short_sellable(ss: pl.DataFrame) -> None:
    """Quantities must be non-negative whole numbers; a key appears once."""
    check_columns(ss.schema, ["date", "asset", "quantity"], table="short_sellable")
    q = ss["quantity"]
    if not (q.dtype.is_numeric() or q.dtype == pl.Null):
        raise DtypeError(
            f"column `quantity` of table `short_sellable` must be numeric (shares); got {q.dtype}.",
            table="short_sellable",
            column="quantity",
        )
    qf = pl.col("quantity").cast(pl.Float64)
    bad = ss.filter(qf.is_not_null() & ~(qf.is_finite() & (qf >= 0) & (qf == qf.floor())))
    if bad.height:
        raise ValueRangeError(
            f"table `short_sellable`: column `quantity` must hold whole numbers of shares >= 0 "
            f"(HKEX prints the remaining allowance rounded down); got {bad.height} negative, "
            "fractional or non-finite value(s). Fix the source or set such rows to null with "
            "`sufficient` = True.",
            table="short_sellable",
            column="quantity",
            examples=example_rows(bad.select("date", "asset", "quantity")),
        )
    check_unique_keys(ss.select("date", "asset"), ["date", "asset"], table="short_sellable")


def estimation_inputs(
    market: Market,
    *,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    short_sellable: pl.DataFrame | pl.LazyFrame | None = None,
    snapshots: pl.DataFrame | pl.LazyFrame | None = None,
) -> EstimationInputs:
    """Collect and check the estimator's inputs for the window `start` .. `end`.

    Parameters
    ----------
    market
        Needs ``prices`` and, unless given below, ``northbound`` (the anchors: the last daily
        holdings and the quarterly snapshots) and ``short_sellable``.
    start, end
        First and last day to estimate (default: the first session after the market's last
        daily disclosure day, :func:`disclosure_end`; the last ``prices`` day).
    short_sellable, snapshots
        Replace the market's tables (same columns as ``short_sellable`` and ``northbound``,
        which needs ``published`` or is taken as published the next session).

    Raises
    ------
    DisclosureError
        No published holdings on or before `start` to anchor on, or no disclosure in the window.
    AssetCodeError
        A snapshot holds codes that match no ``prices`` asset (examples named).
    ValueRangeError
        ``short_sellable.quantity`` negative or not a whole number (examples named).
    """
    change = disclosure_end(market)
    market.require("prices", purpose="northbound holdings estimation")
    lo = to_date(start, "start") if start is not None else change + dt.timedelta(days=1)
    px_all = market.prices.select("date", "asset", "close", "amount", "volume", "low", "high")
    last_px = px_all.select(pl.col("date").max()).collect().item()
    hi = to_date(end, "end") if end is not None else last_px
    if lo > hi:
        raise ParameterError(f"`start` ({lo}) is after `end` ({hi}).")
    if snapshots is None:
        market.require("northbound", purpose="anchoring the holdings estimate")
        snapshots = market.northbound
    nb = _published_holdings(snapshots)
    first = _first_anchor(nb, lo)
    px = px_all.filter(pl.col("date").is_between(first, hi)).collect()
    if px.is_empty():
        raise ParameterError(f"table `prices` has no rows in {first} .. {hi}.")
    index = GridIndex.from_frame(px)
    cells = index.cells(px)

    def grid(col: str) -> np.ndarray:
        return index.scatter(cells, px[col].cast(pl.Float64).to_numpy())

    close = grid("close")
    vw = vwap(grid("amount"), grid("volume"), close, grid("low"), grid("high"))
    close = ffill_rows(close)
    ex, pending = bonus_grids(bonus_events(market), index)
    known = px_all.select(pl.col("asset").unique()).collect()["asset"]
    anchors, notes = _anchors(nb, index, known, pending, first, hi, change)
    if short_sellable is None:
        market.require("short_sellable", purpose="northbound holdings estimation")
        short_sellable = market.short_sellable
    ss = short_sellable.lazy().collect()
    _check_short_sellable(ss)
    quantity, sufficient, est_rows, published = _disclosures(ss, index, lo, hi)
    return EstimationInputs(
        index,
        close,
        vw,
        ex,
        quantity,
        sufficient,
        est_rows,
        published,
        anchors,
        change,
        tuple(notes),
        _industry_codes(market, index.assets),
    )


def _industry_codes(market: Market, assets: pl.Series) -> np.ndarray | None:
    """Each asset's industry code (0 .. K - 1) from ``assets.industry``; None without one."""
    if not market.has("assets") or "industry" not in market.assets.collect_schema().names():
        return None
    ind = market.assets.select("asset", "industry").unique("asset").collect()
    of = dict(zip(ind["asset"].to_list(), ind["industry"].to_list(), strict=True))
    names = [of.get(a) for a in assets.to_list()]
    known = sorted({str(n) for n in names if n is not None})
    code = {n: i for i, n in enumerate(known)}
    return np.array([len(known) if n is None else code[str(n)] for n in names], dtype=np.int64)


def _published_holdings(snapshots: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    lf = snapshots.lazy()
    names = lf.collect_schema().names()
    check_columns(lf.collect_schema(), ["date", "asset", "shares"], table="northbound")
    if "published" not in names:
        nxt = sessions("ashare")
        lf = lf.with_columns(
            published=pl.col("date").map_batches(
                lambda s: nxt.gather(
                    np.searchsorted(nxt.to_numpy(), s.to_numpy(), side="right").clip(
                        max=len(nxt) - 1
                    )
                ),
                return_dtype=pl.Date,
            )
        )
    nb = lf.select("date", "asset", pl.col("shares").cast(pl.Float64), "published").collect()
    if nb.is_empty():
        raise MarketError(
            "table `northbound` is empty: the estimator needs published holdings to anchor on."
        )
    bad = nb.filter(pl.col("shares").is_null() | (pl.col("shares") < 0))
    if bad.height:
        raise ValueRangeError(
            f"table `northbound`: column `shares` must be >= 0; got {bad.height} null or "
            "negative value(s).",
            table="northbound",
            column="shares",
            examples=example_rows(bad),
        )
    return nb


def _first_anchor(nb: pl.DataFrame, lo: dt.date) -> dt.date:
    """The last published holdings date before `lo` (published by `lo`)."""
    nxt = sessions("ashare", lo, None)
    by = nxt[1] if len(nxt) > 1 else lo  # the first estimate is published on a later session
    before = nb.filter((pl.col("date") < lo) & (pl.col("published") <= by))
    if before.is_empty():
        raise DisclosureError(
            f"no published holdings (table `northbound`, column `date`) before the estimation "
            f"window's start {lo}: the estimator anchors on the last daily disclosure or "
            f"quarterly snapshot. `northbound` covers {nb['date'].min()} .. {nb['date'].max()}; "
            "start the window after its first date, or supply a snapshot."
        )
    return before["date"].max()


def _anchors(
    nb: pl.DataFrame,
    index: GridIndex,
    known: pl.Series,
    pending: np.ndarray,
    first: dt.date,
    hi: dt.date,
    change: dt.date,
) -> tuple[tuple[tuple[int, np.datetime64, np.ndarray], ...], list[dict]]:
    """The first anchor (published holdings on `first`) and every snapshot after the daily
    disclosure ended whose as-of day falls in the window, as shares on the ex-date basis; and
    the count of anchor rows of stocks with no price in the window (dropped: they cannot
    trade in it)."""
    later = nb.filter((pl.col("date") > max(change, first)) & (pl.col("date") <= hi))
    dates = [first, *later["date"].unique().sort().to_list()]
    out, notes = [], []
    for d in dates:
        snap = nb.filter(pl.col("date") == d)
        ever = snap["asset"].is_in(known.implode())
        if not ever.all():
            bad = snap.filter(~ever)
            raise AssetCodeError(
                f"table `northbound`: the holdings published for {d} (column `asset`) hold "
                f"{bad.height} code(s) that match no `prices` asset, e.g. {bad['asset'][0]!r}; "
                "their value cannot be known. Normalize the codes "
                "(factorlab.normalize_asset_codes) or drop those rows.\nexample rows:\n"
                + "\n".join(f"  {r}" for r in example_rows(bad))
            )
        cols = index.asset_cols(snap["asset"])
        off = cols < 0
        if off.any():
            notes.append(
                {
                    "step": f"anchor {d}: stocks with no price in the window dropped",
                    "rows": int(off.sum()),
                    "detail": ", ".join(snap["asset"].filter(pl.Series(off)).head(3).to_list()),
                }
            )
        row = int(index.date_rows(pl.Series([d]))[0])
        if row < 0:  # an HK-only session: the A-share session before it
            row = int(np.searchsorted(index.dates, np.datetime64(d, "D")) - 1)
        shares = np.zeros(index.shape[1])
        on = cols >= 0
        shares[cols[on]] = snap["shares"].to_numpy()[on] / pending[row, cols[on]]
        out.append((row, np.datetime64(snap["published"].max(), "D"), shares))
    return tuple(out), notes


def _disclosures(
    ss: pl.DataFrame, index: GridIndex, lo: dt.date, hi: dt.date
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Map each short-sellable day t onto the last northbound session before it (the close its
    start-of-day allowance reflects); ``(quantity, sufficient, estimated rows, published)``."""
    nb_days = sessions("northbound").to_numpy().astype("datetime64[D]")
    ss_days = np.unique(ss["date"].to_numpy().astype("datetime64[D]"))
    pos = np.searchsorted(nb_days, ss_days, side="left") - 1
    ok = pos >= 0
    asof = np.full(len(ss_days), np.datetime64("NaT"), dtype="datetime64[D]")
    asof[ok] = nb_days[pos[ok]]
    asof_of = dict(zip(ss_days.tolist(), asof.tolist(), strict=True))
    mapped = ss.with_columns(
        asof=pl.col("date").replace_strict(asof_of, return_dtype=pl.Date),
        suff=(
            pl.col("sufficient").fill_null(False) if "sufficient" in ss.columns else pl.lit(False)
        )
        | pl.col("quantity").is_null(),
    )
    grid_days = index.dates.astype("datetime64[D]")
    first_day = grid_days[0]
    in_window = mapped.filter((pl.col("asof") > first_day.item()) & (pl.col("asof") <= hi))
    if in_window.filter(~pl.col("suff")).is_empty():
        raise DisclosureError(
            f"table `short_sellable` has no printed quantity (column `quantity`) reflecting a "
            f"day in {first_day} .. {hi} (it covers "
            f"{ss['date'].min()} .. {ss['date'].max()}): without disclosures the estimate is "
            "buy-and-hold. Supply the HKEX short-sellable files for the window "
            "(factorlab.adapters.hkex)."
        )
    cells = index.cells(in_window.rename({"date": "published_on"}).rename({"asof": "date"}))
    qty = index.scatter(cells, in_window["quantity"].cast(pl.Float64).fill_null(np.nan).to_numpy())
    suff = index.scatter(cells, in_window["suff"].cast(pl.Float64).to_numpy(), fill=0.0) > 0
    qty[suff] = np.nan
    rows_pub = in_window.group_by("asof").agg(pl.col("date").min()).sort("asof")
    est_rows = index.date_rows(rows_pub["asof"])
    keep = (est_rows >= 0) & (rows_pub["asof"].to_numpy().astype("datetime64[D]") >= lo)
    est_rows = est_rows[keep]
    published = rows_pub["date"].to_numpy().astype("datetime64[D]")[keep]
    return qty, suff, est_rows.astype(np.int64), published
