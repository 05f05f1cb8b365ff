"""Northbound data hygiene: from HKEX's published holdings to a research panel.

Each step reports what it changed. The base quantities of NORTHBOUND.md (S, P, VWAP, F, H, R, dS,
Flow, A) come out on the A-share calendar, on one share basis, with the publication lag marked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import polars as pl

from factorlab._display import Summary
from factorlab.calendar import DISCLOSURE_END, sessions, to_date
from factorlab.errors import DisclosureError, MarketError, MissingColumnError, ParameterError
from factorlab.frames import CodeMatch, check_unique_keys, match_codes
from factorlab.grid import AssetGrid, GridIndex, ffill_rows, prev_valid_rows, stock_rows, vwap
from factorlab.market import Market

__all__ = [
    "DISCLOSURE_END",
    "PRE_CREDIT_TOLERANCE",
    "DisclosureError",
    "NorthboundPanel",
    "bonus_checks",
    "bonus_events",
    "bonus_grids",
    "disclosure_end",
    "link_flows",
    "pre_credited_events",
    "research_panel",
]

#: Default tolerance of the record-date check (:func:`bonus_checks`): an event is pre-credited
#: when the published jump on its record date is within 0.5 x log(1 + bonus) of log(1 + bonus),
#: i.e. nearer 1 + bonus than no jump or twice the bonus.
PRE_CREDIT_TOLERANCE = 0.5
_BONUS_COLUMNS = ("asset", "record_date", "ex_date", "bonus_ratio")
#: The record-date checks of a market (:func:`bonus_checks`), or a function returning them (e.g.
#: computed once for the research panel and the participant split, by whichever asks first).
BonusChecks: TypeAlias = pl.DataFrame | Callable[[], pl.DataFrame]


@dataclass(frozen=True)
class NorthboundPanel:
    """The research panel and what each hygiene step changed.

    ``frame`` columns: date, asset, shares (S, ex-date basis), close (P), vwap
    (:func:`factorlab.grid.vwap`: amount / volume clipped to the day's [low, high], the close on
    a day without volume), float_shares (F),
    amount (A), volume, ret (adjusted close-to-close return since the stock's previous traded
    row), hold_value (H = S*P), hold_ratio (R = S/F), d_shares (dS on one basis), share_basis
    (the cumulative bonus factor, the product of 1 + bonus over the ex-dates up to the row:
    S / share_basis, d_shares / share_basis and volume / share_basis are counts of one basis
    across ex-dates), flow (dS*VWAP, yuan), usable_from (the first session the row's
    information may be traded on).
    Rows are sorted by (asset, date). ``report`` has one row per step: step, rows, detail.
    ``grid``: with ``research_panel(..., price_grid=True)``, the stock
    :class:`~factorlab.grid.AssetGrid` of the window's ``prices`` (the one read of the prices
    serves both), else None.
    """

    frame: pl.DataFrame
    report: pl.DataFrame
    grid: AssetGrid | None = None

    def _display(self) -> Summary:
        f = self.frame
        lines = [f"frame: {f.height:,} rows x {f.width} columns"]
        if f.height and "date" in f.columns:
            lines[0] += f", {f['date'].min()} .. {f['date'].max()}"
        if "asset" in f.columns:
            lines[0] += f", {f['asset'].n_unique():,} assets"
        return Summary(
            "NorthboundPanel: the northbound research panel",
            tuple(lines),
            self.report.select([c for c in ("step", "rows", "detail") if c in self.report.columns]),
            f"hygiene report ({self.report.height} steps: rows changed)",
        )

    def __repr__(self) -> str:
        return self._display().text()

    def _repr_html_(self) -> str:
        return self._display().html()


def disclosure_end(market: Market) -> dt.date:
    """The last day of daily per-stock holdings disclosure for `market`.

    A synthetic market records it in its generation parameters (``disclosure_change``, which
    tests move earlier to get years of ground truth); any other market (real data) uses HKEX's
    real date, :data:`factorlab.calendar.DISCLOSURE_END` (2024-08-16).
    """
    params = market.meta.get("params") if isinstance(market.meta, dict) else None
    value = params.get("disclosure_change") if isinstance(params, dict) else None
    return to_date(value, "disclosure_change") if value is not None else DISCLOSURE_END


def research_panel(
    market: Market,
    *,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    estimated_holdings: pl.DataFrame | pl.LazyFrame | None = None,
    price_grid: bool = False,
    pre_credit_tolerance: float = PRE_CREDIT_TOLERANCE,
    on_price_grids: Callable[[GridIndex, np.ndarray, np.ndarray], None] | None = None,
    checks: BonusChecks | None = None,
) -> NorthboundPanel:
    """Turn the published northbound tables into the daily research panel.

    Steps (each counted in ``report``):

    1. **HK-calendar repeat rows**: rows on HK sessions that are mainland holidays repeat the
       previous day; they are dropped (A-share sessions only).
    2. **Disclosure regime**: daily rows end on 2024-08-16. Later quarterly snapshots are not
       daily data and are dropped. Asking for an `end` after that raises
       :class:`DisclosureError` unless `estimated_holdings` (date, asset, shares on the ex-date
       basis, e.g. from the estimation module) is given; its rows then extend the panel.
    3. **Share basis**: HKSCC usually credits bonus shares on the record date, prices adjust on
       the ex-date. Where the published jump on the record date matches 1 + bonus
       (:func:`bonus_checks`: holdings published up to the record date only, so no row depends
       on later data) the shares published between the record date and the ex-date are divided
       by (1 + bonus_ratio), so S is on the same basis as prices and float shares; events
       without that jump are left as published. dS converts the
       previous day's holdings to today's basis on an ex-date (S_t - S_{t-1} * (1 + bonus)), so a
       bonus issue is never buying.
    4. **Missing days**: on an A-share session with no published rows at all (an HK holiday, no
       northbound trading) the previous holdings carry; a stock absent on a day with published
       rows holds 0 shares.
    5. **Ratios** are recomputed from share counts, R = S / float_shares (the published
       percentage, of total shares at HKEX's count, is not used).
    6. **Publication lag**: data of t is published after t's close; ``usable_from`` is the next
       A-share session (a factor on row t may be traded from t+1's open).

    Parameters
    ----------
    market
        Needs ``northbound``, ``prices``; ``corporate_actions`` when bonus issues exist.
    start, end
        Panel window (default: the first published day .. the last daily day).
    estimated_holdings
        Holdings after the disclosure change, to extend the panel past 2024-08-16 (e.g.
        ``estimate_holdings(market).holdings``); the panel then has a boolean ``estimated``
        column, True on every row after the market's disclosure change.
    price_grid
        Also build the stock :class:`~factorlab.grid.AssetGrid` of the window's ``prices``
        (``grid``; with the ``assets`` table's delisting dates when the market has it): equal
        to ``AssetGrid.from_prices`` of those rows, from the same read and scatter of the
        prices as the panel (the prices are then checked as ``from_prices`` checks them).
    pre_credit_tolerance
        Step 3's match tolerance, a share of log(1 + bonus) (default
        :data:`PRE_CREDIT_TOLERANCE` = 0.5; see :func:`bonus_checks`).
    on_price_grids
        Called once, on the calling thread, with the window's grid index and its raw close and
        VWAP grids (every ``prices`` date of the window, NaN where a stock has no row) as soon
        as they are built: e.g. for the participant split (the study hands them over instead
        of reading the prices twice). The arrays change after the call: copy what you keep.
    checks
        Step 3's :func:`bonus_checks` of this market with `pre_credit_tolerance`, already
        computed (a frame, or a function returning it: e.g. shared with the participant split,
        which reads the same checks), instead of computing them here.

    Raises
    ------
    DuplicateKeyError
        Two ``northbound`` (or ``prices``) rows share a (date, asset) key (checked on the key
        columns, whatever the market's ``validate`` level).
    AssetCodeError
        None of the ``northbound`` (or ``corporate_actions``) assets is a ``prices`` asset,
        e.g. ``600519`` against ``600519.SH``. A partial mismatch is not an error: the
        unmatched rows are dropped and counted in ``report`` (step "northbound rows whose asset
        is not in prices").
    ParameterError
        The window holds no ``northbound`` or no ``prices`` rows (the message gives both
        tables' date ranges), or `start` is after `end`.

    Notes
    -----
    Ratios with a zero (or non-finite) denominator are null, never inf: ``hold_ratio`` where
    ``float_shares`` is 0, ``ret`` after a zero close.
    """
    market.require("northbound", "prices", purpose="the northbound research panel")
    nb = _published(market)
    change = disclosure_end(market)
    lo, hi = _panel_window(nb, start, end, estimated_holdings, change)
    steps: list[dict] = []
    in_window, kept = _drop_repeat_rows(nb, lo, hi, steps)
    kept, est = _drop_snapshots(kept, estimated_holdings, lo, hi, steps, change)
    px = _window_prices(market, nb, in_window, lo, hi, price_grid)
    index = GridIndex.from_frame(px)
    published, ex = _share_basis(market, index, kept, est, steps, pre_credit_tolerance, checks)
    del nb, in_window, kept, est  # free each input once read (the study's peak memory)
    prices = _price_grids(index, px, price_grid)
    del px
    if on_price_grids is not None:
        on_price_grids(index, prices["close"], prices["vwap"])
    # the stock grid's raw inputs (the panel's gathers only read them; finished in place below)
    raw = (
        {
            "close": prices["close"],
            "vwap": prices["vwap"],
            "float_shares": prices["float_shares"],
            "adj": prices.pop("adj"),
            "open": prices.pop("open"),
            "limit_pct": prices.pop("limit_pct"),
        }
        if price_grid
        else None
    )
    prices["shares"], prices["d_shares"] = _carry_holdings(
        published, ex, ~np.isnan(prices["close"]), steps
    )
    prices["share_basis"] = ex  # the cumulative bonus factor: S / share_basis is one basis
    del published, ex
    frame = _panel_frame(index, prices, lo)  # consumes the grids
    if estimated_holdings is not None:  # every estimated date marked (seed 002's estimator)
        frame = frame.with_columns(estimated=pl.col("date") > change)
    grid = None
    if raw is not None:
        assets = market.assets if market.has("assets") else None
        grid = AssetGrid.from_price_grids(index, **raw, assets=assets)
        del raw
    steps.append(
        {
            "step": "ratios recomputed as shares / float_shares",
            "rows": frame.height,
            "detail": "published percentage not used",
        }
    )
    steps.append(
        {
            "step": "publication lag: usable_from = next A-share session",
            "rows": frame.height,
            "detail": "data of t is published after t's close",
        }
    )
    report = pl.DataFrame(steps, schema={"step": pl.String, "rows": pl.Int64, "detail": pl.String})
    return NorthboundPanel(frame=frame, report=report, grid=grid)


def _published(market: Market) -> pl.DataFrame:
    """The ``northbound`` (date, asset, shares) rows, checked non-empty with unique keys."""
    nb = market.northbound.select("date", "asset", "shares").collect()
    if nb.is_empty():
        raise MarketError("table `northbound` is empty: nothing to build a research panel from.")
    # values are placed on a grid below: a repeated key would silently keep one of its rows
    check_unique_keys(nb.select("date", "asset"), ["date", "asset"], table="northbound")
    return nb


def _panel_window(
    nb: pl.DataFrame,
    start: dt.date | str | None,
    end: dt.date | str | None,
    estimated_holdings: pl.DataFrame | pl.LazyFrame | None,
    change: dt.date = DISCLOSURE_END,
) -> tuple[dt.date, dt.date]:
    """The panel's first and last day, checked against the disclosure regime (daily rows end
    on `change`)."""
    first, last = nb["date"].min(), nb["date"].max()
    daily = nb.filter(pl.col("date") <= change)
    if daily.is_empty():
        raise DisclosureError(
            f"table `northbound` starts after the {change} disclosure change ({first} .. "
            f"{last}): HKEX no longer publishes daily holdings, so daily northbound factors "
            "cannot be built. Supply `estimated_holdings=` (date, asset, shares) from an "
            f"estimator, or use a market with data before {change}."
        )
    lo = to_date(start, "start") if start is not None else daily["date"].min()
    last_daily = daily["date"].max()
    if end is None:
        hi = last_daily if estimated_holdings is None else _max_date(estimated_holdings)
    else:
        hi = to_date(end, "end")
        if hi > change and estimated_holdings is None:
            raise DisclosureError(
                f"`end` = {hi} is after the {change} disclosure change: HKEX publishes only "
                "quarterly snapshots since, so daily northbound factors would be built from "
                "stale data. Pass `estimated_holdings=` (date, asset, shares) or set `end` on "
                f"or before {change}."
            )
    if lo > hi:
        raise ParameterError(
            f"`start` ({lo}) is after `end` ({hi}); table `northbound` covers {first} .. "
            f"{last} (daily rows up to {last_daily}). Choose `start` / `end` inside the data."
        )
    return lo, hi


def _drop_repeat_rows(
    nb: pl.DataFrame, lo: dt.date, hi: dt.date, steps: list[dict]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Step 1: (the window's rows, those on A-share sessions): HK-calendar repeat rows go."""
    in_window = nb.filter(pl.col("date").is_between(lo, hi))
    repeat = ~pl.col("date").is_in(sessions("ashare", lo, hi).implode())
    repeated = in_window.filter(repeat)
    steps.append(
        {
            "step": "drop HK-calendar repeat rows (mainland holidays)",
            "rows": repeated.height,
            "detail": f"{repeated['date'].n_unique()} dates",
        }
    )
    return in_window, in_window.filter(~repeat)


def _drop_snapshots(
    kept: pl.DataFrame,
    estimated_holdings: pl.DataFrame | pl.LazyFrame | None,
    lo: dt.date,
    hi: dt.date,
    steps: list[dict],
    change: dt.date = DISCLOSURE_END,
) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """Step 2: (the daily rows, the estimated rows after the disclosure change or None)."""
    n_snap = kept.filter(pl.col("date") > change).height
    kept = kept.filter(pl.col("date") <= change)
    detail = f"quarterly snapshots after {change} are not daily data"
    est = None
    if estimated_holdings is not None:
        have = estimated_holdings.lazy().collect_schema().names()
        absent = [c for c in ("date", "asset", "shares") if c not in have]
        if absent:
            raise MissingColumnError(
                f"`estimated_holdings` needs columns date, asset, shares; missing {absent}.",
                table="estimated_holdings",
                column=absent[0],
            )
        est = estimated_holdings.lazy().select("date", "asset", pl.col("shares").cast(pl.Float64))
        est = est.filter(pl.col("date").is_between(max(lo, change + dt.timedelta(1)), hi))
        est = est.collect()
        detail += f"; {est.height} estimated rows used after it"
    steps.append({"step": f"drop post-{change} snapshot rows", "rows": n_snap, "detail": detail})
    return kept, est


_PRICE_COLUMNS = ("close", "high", "low", "float_shares", "amount", "volume", "adj_factor")


def _window_prices(
    market: Market,
    nb: pl.DataFrame,
    in_window: pl.DataFrame,
    lo: dt.date,
    hi: dt.date,
    stock: bool = False,
) -> pl.DataFrame:
    """The window's ``prices`` rows (the panel's grid is their traded stock-days); `stock`:
    the checked rows of :func:`factorlab.grid.stock_rows` (also open and limit_pct)."""
    window = market.prices.filter(pl.col("date").is_between(lo, hi))
    if stock:
        px = stock_rows(window, require=_PRICE_COLUMNS)
    else:
        px = window.select("date", "asset", *_PRICE_COLUMNS).collect()
    if px.is_empty() or in_window.is_empty():
        raise ParameterError(_empty_window_message(market, nb, lo, hi, px.is_empty()))
    return px


def _share_basis(
    market: Market,
    index: GridIndex,
    kept: pl.DataFrame,
    est: pl.DataFrame | None,
    steps: list[dict],
    tolerance: float = PRE_CREDIT_TOLERANCE,
    given: BonusChecks | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Step 3: (published shares on the ex-date basis, the cumulative ex-date bonus factor),
    both on `index`; estimated rows overwrite their cells. `given`: the checks, when the
    caller has them (see :func:`research_panel`)."""
    checks = resolve_checks(market, tolerance, given)
    bonus = checks.select(_BONUS_COLUMNS)
    ex, _ = bonus_grids(bonus, index)
    codes = match_codes(kept["asset"], index.assets, table="northbound", against="prices")
    steps.append(_unmatched_step(codes))
    published = index.scatter(index.cells(kept), kept["shares"].cast(pl.Float64).to_numpy())
    # HKSCC usually credits the bonus shares on the record date (港交所通常提前一天): the
    # correction is applied to an event only where the published jump on the record date
    # matches the bonus (data up to the record date only), so data that was not pre-credited
    # is left as published
    credited = checks["pre_credited"].fill_null(False).to_numpy()
    fixed = _pre_credit(bonus, index, published, credited)
    steps.append(
        {
            "step": "record-date jumps put on the ex-date basis",
            "rows": fixed,
            "detail": _check_detail(checks, tolerance),
        }
    )
    if not bonus.is_empty():
        # against every priced asset, not the window's: events of other stocks are not a loss
        known = market.prices.select(pl.col("asset").unique()).collect()["asset"]
        steps.append(
            _unmatched_step(
                match_codes(bonus["asset"], known, table="corporate_actions", against="prices")
            )
        )
    if est is not None and est.height:
        cells = index.cells(est)
        ok = cells.ok
        published[cells.rows[ok], cells.cols[ok]] = est["shares"].to_numpy()[ok]
    return published, ex


def _pre_credit(
    bonus: pl.DataFrame, index: GridIndex, published: np.ndarray, credited: np.ndarray
) -> int:
    """Step 3's correction, in place on `published`: for each `credited` event (a boolean per
    `bonus` row, from :func:`bonus_checks`), the shares published on [record date, ex-date)
    are divided by 1 + bonus (rounded). Returns the number of cells corrected."""
    if bonus.is_empty() or not credited.any():
        return 0
    events = bonus.filter(pl.Series(credited))
    aid = index.asset_cols(events["asset"])
    on_grid = aid >= 0
    ex_i = index.first_row_on_or_after(events["ex_date"])[on_grid]
    rec_i = index.first_row_on_or_after(events["record_date"])[on_grid]
    mult = 1.0 + events["bonus_ratio"].to_numpy()[on_grid]
    fixed = 0
    for a, e, r, m in zip(aid[on_grid], ex_i, rec_i, mult, strict=True):
        cells = published[r:e, a]
        on = ~np.isnan(cells)
        cells[on] = np.round(cells[on] / m)
        fixed += int(on.sum())
    return fixed


def _publications(market: Market, assets: pl.Series) -> tuple[pl.Series, pl.DataFrame]:
    """(every publication day: an A-share session up to the disclosure change with rows of any
    stock, sorted; the (date, asset, shares) rows of `assets` on those days); from
    ``northbound``, else the per-stock totals of ``participant_holdings``."""
    change = disclosure_end(market)
    if market.has("northbound"):
        rows = market.northbound.select("date", "asset", pl.col("shares").cast(pl.Float64))
    else:
        rows = market.participant_holdings.group_by("date", "asset").agg(
            pl.col("shares").cast(pl.Float64).sum()
        )
    rows = rows.filter(pl.col("date") <= change)
    days = rows.select(pl.col("date").unique().sort()).collect().to_series()
    if days.is_empty():
        return days, pl.DataFrame(
            schema={"date": pl.Date, "asset": pl.String, "shares": pl.Float64}
        )
    days = days.filter(days.is_in(sessions("ashare", days.min(), days.max()).implode()))
    own = (
        rows.with_columns(pl.col("asset").cast(pl.String))
        .filter(pl.col("asset").is_in(assets.implode()) & pl.col("date").is_in(days.implode()))
        .collect()
    )
    return days, own


def bonus_checks(market: Market, *, tolerance: float = PRE_CREDIT_TOLERANCE) -> pl.DataFrame:
    """Every bonus issue of ``corporate_actions`` with the record-date check of step 3 of
    :func:`research_panel`: did HKEX's published holdings count the bonus shares from the
    record date (港交所通常提前一天: pre-credited), or only from the ex-date?

    The decision reads data published by the record date only (no look-ahead): with
    S_before the holdings of the last publication day before the record date and S_rec those
    of the first publication day on or after it (and before the ex-date; a stock absent on a
    publication day holds 0), j_rec = log(S_rec / S_before) and L = log(1 + bonus_ratio),
    the event is **pre-credited** when |j_rec - L| < `tolerance` * L: the published jump
    matches 1 + bonus. It is **not pre-credited** when j_rec is defined and does not match
    (the shares are left as published), and **unchecked** (null, left as published) when
    S_before or S_rec is 0 or missing or no publication day lies between the two dates. The
    ex-date jump j_ex = log(S_ex / S_before_ex) (first publication on or after the ex-date
    over the last before it) is reported only, as a consistency check: after a pre-credit it
    is near 0, without one near L (``ex_consistent``: |j_ex| resp. |j_ex - L| <
    `tolerance` * L); it never changes a decision.

    Parameters
    ----------
    market
        Needs ``corporate_actions`` (else the result is empty) and ``northbound`` (or, without
        it, ``participant_holdings``, whose per-stock totals are then read).
    tolerance
        Half-width of the match, as a share of log(1 + bonus) (default
        :data:`PRE_CREDIT_TOLERANCE` = 0.5: the jump is nearer L than 0 or 2L). Must be in
        (0, 1].

    Returns
    -------
    polars.DataFrame
        asset, record_date, ex_date, bonus_ratio, record_jump (j_rec), ex_jump (j_ex),
        pre_credited (Boolean; null = unchecked), ex_consistent (Boolean; null when j_ex or
        the decision is undefined); one row per event, in ``corporate_actions`` order.
    """
    if not (isinstance(tolerance, (int, float)) and 0 < tolerance <= 1):
        raise ParameterError(f"`tolerance` must be a number in (0, 1]; got {tolerance!r}.")
    bonus = bonus_events(market)
    n = bonus.height
    j_rec, j_ex = np.full(n, np.nan), np.full(n, np.nan)
    if n and (market.has("northbound") or market.has("participant_holdings")):
        assets = bonus["asset"].cast(pl.String).unique().sort()  # the grid's sorted columns
        days, own = _publications(market, assets)
        if days.len():
            index = GridIndex(days.to_numpy().astype("datetime64[D]"), assets)
            held = index.scatter(index.cells(own), own["shares"].to_numpy(), fill=0.0)
            aid = index.asset_cols(bonus["asset"])
            rec_i = index.first_row_on_or_after(bonus["record_date"])
            ex_i = index.first_row_on_or_after(bonus["ex_date"])
            n_rows = index.shape[0]

            def jump(row: int, col: int) -> float:
                if row <= 0 or row >= n_rows:
                    return np.nan
                before, after = held[row - 1, col], held[row, col]
                return float(np.log(after / before)) if before > 0 and after > 0 else np.nan

            for i, (a, r, e) in enumerate(zip(aid, rec_i, ex_i, strict=True)):
                if a < 0:
                    continue
                if r < e:  # a publication day between the record date and the ex-date
                    j_rec[i] = jump(int(r), int(a))
                j_ex[i] = jump(int(e), int(a))
    big = np.log1p(bonus["bonus_ratio"].to_numpy()) if n else np.zeros(0)
    tol = tolerance * big
    with np.errstate(invalid="ignore"):
        credited = np.abs(j_rec - big) < tol
        consistent = np.where(credited, np.abs(j_ex) < tol, np.abs(j_ex - big) < tol)
    decided, seen = ~np.isnan(j_rec), ~np.isnan(j_ex) & ~np.isnan(j_rec)
    return bonus.with_columns(
        record_jump=pl.Series(j_rec, dtype=pl.Float64, nan_to_null=True),
        ex_jump=pl.Series(j_ex, dtype=pl.Float64, nan_to_null=True),
        pre_credited=pl.Series(credited).set(pl.Series(~decided), None),
        ex_consistent=pl.Series(consistent).set(pl.Series(~seen), None),
    )


def pre_credited_events(
    market: Market, *, tolerance: float = PRE_CREDIT_TOLERANCE, checks: BonusChecks | None = None
) -> pl.DataFrame:
    """The bonus issues whose published holdings were pre-credited on the record date (the
    rows of :func:`bonus_checks` with ``pre_credited`` true; columns of
    :func:`bonus_events`): the events the research panel and the participant split correct.
    `checks`: the :func:`bonus_checks` of `market` with `tolerance`, when already computed
    (a frame or a function returning it)."""
    return checked_events(resolve_checks(market, tolerance, checks), credited=True)


def checked_events(checks: pl.DataFrame, *, credited: bool = False) -> pl.DataFrame:
    """The events of a :func:`bonus_checks` frame (columns of :func:`bonus_events`): all of
    them, or with `credited` only the pre-credited ones."""
    if credited:
        checks = checks.filter(pl.col("pre_credited").fill_null(False))
    return checks.select(_BONUS_COLUMNS)


def resolve_checks(market: Market, tolerance: float, given: BonusChecks | None) -> pl.DataFrame:
    """`given` (a :func:`bonus_checks` frame, or a function returning one), else the checks of
    `market` with `tolerance`."""
    if given is None:
        return bonus_checks(market, tolerance=tolerance)
    return given() if callable(given) else given


def _check_detail(checks: pl.DataFrame, tolerance: float) -> str:
    """Step 3's report line: the rule applied and the count of each outcome."""
    decided = checks["pre_credited"]
    matched, unmatched = int(decided.sum() or 0), int((~decided).sum() or 0)
    agree = int(checks["ex_consistent"].sum() or 0)
    seen = checks["ex_consistent"].count()
    return (
        f"{checks.height} bonus events in corporate_actions: {matched} checked, the published "
        f"jump matches 1 + bonus on the record date (|log jump - log(1 + bonus)| < {tolerance:g}"
        " x log(1 + bonus), holdings published up to the record date only) (corrected); "
        f"{unmatched} not matched, no such jump there (left as published: not pre-credited); "
        f"{checks.height - matched - unmatched} unchecked, no holdings on the record date or "
        "the publication day before it, or no publication day before the ex-date (left as "
        f"published). Consistency, never used to decide: the ex-date jump agrees with the "
        f"decision for {agree} of the {seen} decided events with holdings around the ex-date"
    )


def _price_grids(index: GridIndex, px: pl.DataFrame, stock: bool = False) -> dict[str, np.ndarray]:
    """The window's prices on `index` (NaN where the stock did not trade), with the adjusted
    close and the VWAP (:func:`factorlab.grid.vwap`, on raw prices); `stock`: also the
    adjustment factor (``adj``), open and limit_pct of the stock grid."""
    cells = index.cells(px)
    # the index is built from these rows, so a repeated (date, asset) key is a repeated cell
    index.check_cells(px, cells, table="prices", keys=["date", "asset"])
    # high and low are read for the VWAP only: it is computed on the rows and placed as one
    # grid (elementwise, the same values as on the grids)
    col = {c: px[c].to_numpy() for c in ("amount", "volume", "close", "low", "high")}
    vw = vwap(col["amount"], col["volume"], col["close"], col["low"], col["high"])
    del col
    names = [c for c in _PRICE_COLUMNS if c not in ("low", "high")]
    out = {name: index.scatter(cells, px[name].to_numpy()) for name in names}
    if stock:
        out |= {name: index.scatter(cells, px[name].to_numpy()) for name in ("open", "limit_pct")}
    out["vwap"] = index.scatter(cells, vw)
    del vw
    adj = out.pop("adj_factor")
    out["adj_close"] = out["close"] * adj
    if stock:
        out["adj"] = adj
    return out


def _carry_holdings(
    published: np.ndarray, ex: np.ndarray, traded: np.ndarray, steps: list[dict]
) -> tuple[np.ndarray, np.ndarray]:
    """Step 4: (shares S, share change dS) on the grid of traded stock-days."""
    has_rows = (~np.isnan(published)).any(axis=1)
    n_zero = int((traded & np.isnan(published) & has_rows[:, None]).sum())
    n_carry = int((traded & ~has_rows[:, None]).sum())
    # base = S / cumulative ex-date bonus factor: carried over days without published rows, and
    # differenced on one basis (a bonus issue, even inside a suspension, is never buying)
    # in place (published is read for the last time): the same values, fewer (T, N) temporaries
    base = np.nan_to_num(published, nan=0.0, copy=False)
    base[~has_rows] = np.nan
    base /= ex
    base = ffill_rows(base)
    shares = np.multiply(base, ex)
    np.round(shares, out=shares)
    d_shares = np.empty_like(base)
    d_shares[0] = np.nan
    np.subtract(base[1:], base[:-1], out=d_shares[1:])
    d_shares *= ex
    steps.append(
        {
            "step": "absent stock on a published day -> 0 shares",
            "rows": n_zero,
            "detail": "HKEX lists held stocks only",
        }
    )
    steps.append(
        {
            "step": "no published rows that day (HK holiday) -> carry holdings",
            "rows": n_carry,
            "detail": "northbound closed",
        }
    )
    return shares, d_shares


def _panel_frame(index: GridIndex, grids: dict[str, np.ndarray], lo: dt.date) -> pl.DataFrame:
    """Steps 5 and 6: the long panel over the traded stock-days, sorted by (asset, date).

    `grids`: the price grids plus ``shares`` and ``d_shares``; each is dropped from the dict
    once gathered (the panel's columns and the grids are never all held at once)."""
    close = grids["close"]
    with np.errstate(invalid="ignore"):
        grids["ret"] = _ratio(grids["adj_close"], prev_valid_rows(grids.pop("adj_close")))
        grids["ret"] -= 1.0
    jj, tt = np.nonzero(~np.isnan(close).T)  # rows come out sorted by (asset, date)
    del close
    nxt = sessions("ashare", lo, None)
    pos = np.searchsorted(nxt.to_numpy().astype("datetime64[D]"), index.dates, side="right")
    # the calendar's last covered day has no known next session: null
    usable = nxt.gather(np.minimum(pos, len(nxt) - 1)).scatter(
        np.flatnonzero(pos >= len(nxt)), None
    )
    flat = tt * index.shape[1] + jj

    def take(name: str) -> np.ndarray:  # one flat gather (cheaper than grid[tt, jj])
        return grids.pop(name).ravel().take(flat)

    s_v, p_v, f_v, vw, ds = (
        take(c) for c in ("shares", "close", "float_shares", "vwap", "d_shares")
    )
    cols = {
        "date": index.date_series().gather(tt),
        "asset": index.assets.gather(jj),
        "shares": s_v,
        "close": p_v,
        "vwap": vw,
        "float_shares": f_v,
        "amount": take("amount"),
        "volume": take("volume"),
        "ret": take("ret"),
        "hold_value": s_v * p_v,
        "hold_ratio": _ratio(s_v, f_v),
        "d_shares": ds,
        "share_basis": take("share_basis"),
        "flow": ds * vw,
        "usable_from": usable.gather(tt),
    }
    grids.clear()
    del s_v, p_v, f_v, vw, ds
    nulls = ("shares", "hold_value", "hold_ratio", "d_shares", "flow", "ret", "vwap")
    # NaN -> null column by column, each array dropped once converted
    return pl.DataFrame(
        [
            pl.Series(k, cols.pop(k), nan_to_null=True) if k in nulls else pl.Series(k, cols.pop(k))
            for k in list(cols)
        ]
    )


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, NaN (null in the panel) where the denominator is zero or not finite (e.g.
    ``float_shares = 0``): a ratio is never inf."""
    ok = np.isfinite(den)
    ok &= den != 0
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.divide(num, den, out=np.full(np.broadcast(num, den).shape, np.nan), where=ok)


def _unmatched_step(codes: CodeMatch) -> dict:
    """The step-report row for the rows of `codes.table` whose asset `codes.against` lacks."""
    shown = ", ".join(codes.unmatched_codes)
    more = codes.n_unmatched_codes - len(codes.unmatched_codes)
    detail = f"{codes.n_unmatched_codes} code(s), e.g. {shown}" + (
        f" (+{more} more)" if more else ""
    )
    return {
        "step": f"{codes.table} rows whose asset is not in {codes.against} (dropped)",
        "rows": codes.unmatched_rows,
        "detail": detail if codes.unmatched_rows else "all codes match",
    }


def _empty_window_message(
    market: Market, nb: pl.DataFrame, lo: dt.date, hi: dt.date, no_prices: bool
) -> str:
    span = market.prices.select(lo=pl.col("date").min(), hi=pl.col("date").max()).collect()
    p_lo, p_hi = span.row(0)
    table = "prices" if no_prices else "northbound"
    return (
        f"the panel window `start`..`end` = {lo} .. {hi} holds no rows of table `{table}`: "
        f"`northbound` covers {nb['date'].min()} .. {nb['date'].max()}, `prices` covers "
        f"{p_lo} .. {p_hi}. Choose `start` / `end` inside the data."
    )


def _max_date(frame: pl.DataFrame | pl.LazyFrame) -> dt.date:
    return frame.lazy().select(pl.col("date").max()).collect().item()


def bonus_events(market: Market) -> pl.DataFrame:
    """The bonus issues of ``corporate_actions`` (asset, record_date, ex_date, bonus_ratio > 0);
    empty when the market has no such table."""
    schema = dict(zip(_BONUS_COLUMNS, (pl.String, pl.Date, pl.Date, pl.Float64), strict=True))
    if not market.has("corporate_actions"):
        return pl.DataFrame(schema=schema)
    return market.corporate_actions.filter(pl.col("bonus_ratio") > 0).select(list(schema)).collect()


def bonus_grids(bonus: pl.DataFrame, index: GridIndex) -> tuple[np.ndarray, np.ndarray]:
    """(ex-date cumulative factor, record-date pending factor), both on `index`.

    ex[d, a] = product of (1 + bonus) over the stock's ex-dates <= day d; pending[d, a] =
    (1 + bonus) while record_date <= day d < ex_date (HKSCC already counts the bonus shares).
    Events of assets off the grid are ignored.
    """
    ex = np.ones(index.shape)
    pending = np.ones(index.shape)
    if bonus.is_empty():
        return ex, pending
    aid = index.asset_cols(bonus["asset"])
    known = bonus.filter(pl.Series(aid >= 0))
    ex_i = index.first_row_on_or_after(known["ex_date"])
    rec_i = index.first_row_on_or_after(known["record_date"])
    mult = 1.0 + known["bonus_ratio"].to_numpy()
    for a, e, r, m in zip(aid[aid >= 0], ex_i, rec_i, mult, strict=True):
        ex[e:, a] *= m
        pending[r:e, a] *= m
    return ex, pending


def link_flows(market: Market) -> pl.DataFrame:
    """Daily northbound flows per link with both definitions kept apart (yuan).

    ``quota_inflow`` = quota_daily - quota_balance (资金净流入: counts unfilled buy orders);
    ``net_buy`` = buy_amount - sell_amount (成交净买额). Never add one to the other.
    """
    market.require("quotas", purpose="link_flows")
    return (
        market.quotas.select(
            "date",
            "link",
            quota_inflow=pl.col("quota_daily") - pl.col("quota_balance"),
            net_buy=pl.col("buy_amount") - pl.col("sell_amount"),
            turnover=pl.col("buy_amount") + pl.col("sell_amount"),
        )
        .sort("date", "link")
        .collect()
    )
