"""Northbound data hygiene: from HKEX's published holdings to a research panel.

Each step reports what it changed. The base quantities of NORTHBOUND.md (S, P, VWAP, F, H, R, dS,
Flow, A) come out on the A-share calendar, on one share basis, with the publication lag marked.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from factorlab.calendar import sessions
from factorlab.errors import MarketError, ParameterError
from factorlab.market import Market

__all__ = [
    "DISCLOSURE_END",
    "DisclosureError",
    "NorthboundPanel",
    "link_flows",
    "research_panel",
]

#: Last day of daily per-stock disclosure by HKEX (the 2024 change).
DISCLOSURE_END = dt.date(2024, 8, 16)


class DisclosureError(MarketError):
    """Daily northbound factors asked for dates HKEX no longer discloses daily."""


@dataclass(frozen=True)
class NorthboundPanel:
    """The research panel and what each hygiene step changed.

    ``frame`` columns: date, asset, shares (S, ex-date basis), close (P), vwap, float_shares (F),
    amount (A), volume, ret (adjusted close-to-close return since the stock's previous traded
    row), hold_value (H = S*P), hold_ratio (R = S/F), d_shares (dS on one basis), flow
    (dS*VWAP, yuan), usable_from (the first session the row's information may be traded on).
    ``report`` has one row per step: step, rows, detail.
    """

    frame: pl.DataFrame
    report: pl.DataFrame


def _ashare_sessions(lo: dt.date, hi: dt.date) -> pl.Series:
    return sessions("ashare", lo, hi)


def research_panel(
    market: Market,
    *,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    estimated_holdings: pl.DataFrame | pl.LazyFrame | None = None,
) -> NorthboundPanel:
    """Turn the published northbound tables into the daily research panel.

    Steps (each counted in ``report``):

    1. **HK-calendar repeat rows**: rows on HK sessions that are mainland holidays repeat the
       previous day; they are dropped (A-share sessions only).
    2. **Disclosure regime**: daily rows end on 2024-08-16. Later quarterly snapshots are not
       daily data and are dropped. Asking for an `end` after that raises
       :class:`DisclosureError` unless `estimated_holdings` (date, asset, shares on the ex-date
       basis, e.g. from the estimation module) is given; its rows then extend the panel.
    3. **Share basis**: HKSCC credits bonus shares on the record date, prices adjust on the
       ex-date. Published shares between the record date and the ex-date are divided by
       (1 + bonus_ratio), so S is on the same basis as prices and float shares; dS converts the
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
        Holdings after the disclosure change, to extend the panel past 2024-08-16.
    """
    market.require("northbound", "prices", purpose="the northbound research panel")
    steps: list[dict] = []
    nb = market.northbound.select("date", "asset", "shares").collect()
    if nb.is_empty():
        raise MarketError("table `northbound` is empty: nothing to build a research panel from.")
    first, last = nb["date"].min(), nb["date"].max()
    daily = nb.filter(pl.col("date") <= DISCLOSURE_END)
    if daily.is_empty():
        raise DisclosureError(
            f"table `northbound` starts after the 2024-08-16 disclosure change ({first} .. "
            f"{last}): HKEX no longer publishes daily holdings, so daily northbound factors "
            "cannot be built. Supply `estimated_holdings=` (date, asset, shares) from an "
            "estimator, or use a market with data before 2024-08-16."
        )
    lo = _as_date(start, "start") if start is not None else daily["date"].min()
    last_daily = daily["date"].max()
    if end is None:
        hi = last_daily if estimated_holdings is None else _max_date(estimated_holdings)
    else:
        hi = _as_date(end, "end")
        if hi > DISCLOSURE_END and estimated_holdings is None:
            raise DisclosureError(
                f"`end` = {hi} is after the 2024-08-16 disclosure change: HKEX publishes only "
                "quarterly snapshots since, so daily northbound factors would be built from "
                "stale data. Pass `estimated_holdings=` (date, asset, shares) or set `end` on "
                "or before 2024-08-16."
            )
    if lo > hi:
        raise ParameterError(f"`start` ({lo}) is after `end` ({hi}).")
    ashare = _ashare_sessions(lo, hi)

    # 1. HK-calendar repeat rows
    in_window = nb.filter(pl.col("date").is_between(lo, hi))
    repeat = ~pl.col("date").is_in(ashare.implode())
    n_repeat = in_window.filter(repeat).height
    kept = in_window.filter(~repeat)
    steps.append(
        {
            "step": "drop HK-calendar repeat rows (mainland holidays)",
            "rows": n_repeat,
            "detail": f"{in_window.filter(repeat)['date'].n_unique()} dates",
        }
    )

    # 2. disclosure regime
    n_snap = kept.filter(pl.col("date") > DISCLOSURE_END).height
    kept = kept.filter(pl.col("date") <= DISCLOSURE_END)
    detail = "quarterly snapshots after 2024-08-16 are not daily data"
    if estimated_holdings is not None:
        est = estimated_holdings.lazy().select("date", "asset", pl.col("shares").cast(pl.Float64))
        est = est.filter(pl.col("date").is_between(max(lo, DISCLOSURE_END + dt.timedelta(1)), hi))
        est = est.collect()
        detail += f"; {est.height} estimated rows used after it"
    steps.append({"step": "drop post-2024-08-16 snapshot rows", "rows": n_snap, "detail": detail})
    kept = kept.with_columns(pl.col("shares").cast(pl.Float64))

    # 3. share basis: record-date jumps
    bonus = _bonus_events(market)
    kept, n_fixed = _undo_record_date_jumps(kept, bonus)
    steps.append(
        {
            "step": "record-date jumps put on the ex-date basis",
            "rows": n_fixed,
            "detail": f"{bonus.height} bonus events in corporate_actions",
        }
    )
    if estimated_holdings is not None:
        kept = pl.concat([kept, est.select(kept.columns)])

    # 4. onto the A-share grid of traded stock-days
    px = (
        market.prices.filter(pl.col("date").is_between(lo, hi))
        .sort("asset", "date")
        .select(
            "date",
            "asset",
            "close",
            "float_shares",
            "amount",
            "volume",
            vwap=pl.when(pl.col("volume") > 0).then(pl.col("amount") / pl.col("volume")),
            ret=(pl.col("close") * pl.col("adj_factor")).pct_change().over("asset"),
        )
        .collect()
    )
    published_days = kept.select(pl.col("date").unique())
    frame = px.join(kept, on=["date", "asset"], how="left").join(
        published_days.with_columns(has_rows=pl.lit(True)), on="date", how="left"
    )
    n_zero = frame.filter(pl.col("shares").is_null() & pl.col("has_rows").is_not_null()).height
    n_carry = frame.filter(pl.col("has_rows").is_null()).height
    # one share basis: base = S / (cumulative bonus factor by ex-date), so carrying holdings over
    # a day and differencing across an ex-date (even one inside a suspension) never counts bonus
    # shares as buying
    frame = (
        _with_bonus_factor(frame, bonus)
        .sort("asset", "date")
        .with_columns(
            base=pl.when(pl.col("has_rows").is_not_null()).then(
                pl.col("shares").fill_null(0.0) / pl.col("bonus_factor")
            )
        )
        .with_columns(pl.col("base").forward_fill().over("asset"))
        .with_columns(
            shares=(pl.col("base") * pl.col("bonus_factor")).round(),
            d_shares=(pl.col("base") - pl.col("base").shift(1).over("asset"))
            * pl.col("bonus_factor"),
        )
        .drop("has_rows", "base", "bonus_factor")
    )
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

    # 5./6. quantities, publication lag
    nxt = sessions("ashare", lo, None)
    frame = frame.with_columns(
        hold_value=pl.col("shares") * pl.col("close"),
        hold_ratio=pl.col("shares") / pl.col("float_shares"),
        flow=pl.col("d_shares") * pl.col("vwap"),
    )
    usable = pl.DataFrame({"date": nxt[:-1], "usable_from": nxt[1:]})
    frame = frame.join(usable, on="date", how="left")
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
    cols = [
        "date",
        "asset",
        "shares",
        "close",
        "vwap",
        "float_shares",
        "amount",
        "volume",
        "ret",
        "hold_value",
        "hold_ratio",
        "d_shares",
        "flow",
        "usable_from",
    ]
    report = pl.DataFrame(steps, schema={"step": pl.String, "rows": pl.Int64, "detail": pl.String})
    return NorthboundPanel(frame=frame.select(cols).sort("date", "asset"), report=report)


def _as_date(value: dt.date | str, name: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ParameterError(f"`{name}` must be a date or ISO string; got {value!r}.") from None


def _max_date(frame: pl.DataFrame | pl.LazyFrame) -> dt.date:
    return frame.lazy().select(pl.col("date").max()).collect().item()


def _bonus_events(market: Market) -> pl.DataFrame:
    schema = {
        "asset": pl.String,
        "record_date": pl.Date,
        "ex_date": pl.Date,
        "bonus_ratio": pl.Float64,
    }
    if not market.has("corporate_actions"):
        return pl.DataFrame(schema=schema)
    return market.corporate_actions.filter(pl.col("bonus_ratio") > 0).select(list(schema)).collect()


def _with_bonus_factor(frame: pl.DataFrame, bonus: pl.DataFrame) -> pl.DataFrame:
    """Add ``bonus_factor``: the product of (1 + bonus_ratio) over the asset's ex-dates <= date."""
    if bonus.is_empty():
        return frame.with_columns(bonus_factor=pl.lit(1.0))
    cum = (
        bonus.sort("asset", "ex_date")
        .select(
            "asset", "ex_date", bonus_factor=(1.0 + pl.col("bonus_ratio")).cum_prod().over("asset")
        )
        .sort("ex_date")
    )
    return (
        frame.sort("date")
        .join_asof(
            cum,
            left_on="date",
            right_on="ex_date",
            by="asset",
            strategy="backward",
            check_sortedness=False,
        )
        .with_columns(pl.col("bonus_factor").fill_null(1.0))
        .drop("ex_date")
    )


def _undo_record_date_jumps(nb: pl.DataFrame, bonus: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Divide published shares dated in [record_date, ex_date) by (1 + bonus_ratio)."""
    if bonus.is_empty():
        return nb, 0
    events = bonus.sort("record_date")
    tagged = nb.sort("date").join_asof(
        events,
        left_on="date",
        right_on="record_date",
        by="asset",
        strategy="backward",
        check_sortedness=False,  # both sides are sorted by their date column above
    )
    pending = pl.col("ex_date").is_not_null() & (pl.col("date") < pl.col("ex_date"))
    n_fixed = tagged.filter(pending).height
    fixed = tagged.with_columns(
        shares=pl.when(pending)
        .then((pl.col("shares") / (1.0 + pl.col("bonus_ratio"))).round())
        .otherwise(pl.col("shares"))
    ).select(nb.columns)
    return fixed, n_fixed


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
