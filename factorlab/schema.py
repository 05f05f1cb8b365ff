"""The canonical tables of a factorlab Market: column names, dtypes, keys and value rules.

``validate(table_name, frame)`` checks a DataFrame or LazyFrame against its spec and raises a typed
:class:`~factorlab.errors.SchemaError` naming the table, the column and example rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import polars as pl

__all__ = ["TABLES", "TableSpec"]

SCHEMA_VERSION = 1

CalendarName = Literal["ashare", "hkex", "northbound"]


@dataclass(frozen=True)
class TableSpec:
    """One canonical table.

    ``columns`` maps every required column to its dtype; ``key`` columns must be non-null and unique
    together; ``nullable`` lists the non-key columns allowed to hold nulls (all others must not).
    ``prices`` must be finite and > 0, ``nonnegative`` finite and >= 0, ``ratios`` within [0, 1].
    ``calendar`` names the trading calendar that ``date`` must belong to (None: unchecked).
    """

    name: str
    columns: dict[str, pl.DataType]
    key: tuple[str, ...]
    description: str
    nullable: tuple[str, ...] = ()
    prices: tuple[str, ...] = ()
    nonnegative: tuple[str, ...] = ()
    ratios: tuple[str, ...] = ()
    calendar: CalendarName | None = None
    date_column: str = "date"
    allow_empty: bool = False
    extra: dict[str, str] = field(default_factory=dict)


_F = pl.Float64()
_S = pl.String()
_D = pl.Date()
_I = pl.Int64()
_B = pl.Boolean()

TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in [
        TableSpec(
            "assets",
            {"asset": _S, "name": _S, "exchange": _S, "industry": _S,
             "list_date": _D, "delist_date": _D},
            key=("asset",),
            nullable=("delist_date",),
            description="One row per stock: exchange (SH/SZ), CITIC level-1 industry, listing dates.",
        ),
        TableSpec(
            "prices",
            {"date": _D, "asset": _S, "open": _F, "high": _F, "low": _F, "close": _F,
             "volume": _F, "amount": _F, "adj_factor": _F, "float_shares": _F,
             "total_shares": _F, "is_st": _B},
            key=("date", "asset"),
            prices=("open", "high", "low", "close", "adj_factor"),
            nonnegative=("volume", "amount", "float_shares", "total_shares"),
            calendar="ashare",
            description="Daily bars, unadjusted prices (yuan), volume in shares, amount in yuan; "
            "adj_factor is the cumulative back-adjustment factor. A missing row = not trading.",
        ),
        TableSpec(
            "pools",
            {"date": _D, "asset": _S, "pool": _S},
            key=("date", "asset", "pool"),
            calendar="ashare",
            description="Point-in-time pool membership: csi300, csi500, csi800, liq1500.",
        ),
        TableSpec(
            "northbound",
            {"date": _D, "asset": _S, "shares": _I, "ratio": _F},
            key=("date", "asset"),
            nonnegative=("shares",),
            ratios=("ratio",),
            calendar="hkex",
            description="Northbound shares held as HKEX published them: HK calendar (mainland "
            "holidays repeat the previous day), record-date jumps on bonus issues, ratio = shares / "
            "total A shares as published. Daily until 2024-08-16, quarterly snapshots after.",
        ),
        TableSpec(
            "northbound_truth",
            {"date": _D, "asset": _S, "shares": _I},
            key=("date", "asset"),
            nonnegative=("shares",),
            calendar="ashare",
            description="Ground truth (synthetic only): true northbound shares held at each A-share "
            "close, on the economic share basis (bonus shares counted from the ex-date), every day "
            "including after the 2024 disclosure change.",
        ),
        TableSpec(
            "participant_holdings",
            {"date": _D, "asset": _S, "participant": _S, "shares": _I},
            key=("date", "asset", "participant"),
            nonnegative=("shares",),
            calendar="hkex",
            description="CCASS per-participant northbound holdings (non-zero rows only), as "
            "published: daily until 2024-08-16, quarterly snapshots after.",
        ),
        TableSpec(
            "participants",
            {"participant": _S, "name": _S, "kind": _S},
            key=("participant",),
            description="CCASS participants; kind is the true type (trading / allocation) where "
            "known (synthetic ground truth), else null.",
            nullable=("kind",),
        ),
        TableSpec(
            "quotas",
            {"date": _D, "link": _S, "quota_daily": _F, "quota_balance": _F,
             "buy_amount": _F, "sell_amount": _F},
            key=("date", "link"),
            nonnegative=("quota_daily", "buy_amount", "sell_amount"),
            calendar="northbound",
            description="Per link (SH, SZ), yuan: quota-based net inflow = quota_daily - "
            "quota_balance (counts unfilled buy orders); trade-based net buy = buy_amount - "
            "sell_amount. Never mix the two.",
        ),
        TableSpec(
            "corporate_actions",
            {"asset": _S, "ex_date": _D, "record_date": _D, "bonus_ratio": _F,
             "cash_dividend": _F},
            key=("asset", "ex_date"),
            nonnegative=("bonus_ratio", "cash_dividend"),
            calendar="ashare",
            date_column="ex_date",
            allow_empty=True,
            description="Bonus shares (new shares per share) and cash dividends (yuan per share) "
            "with record and ex dates.",
        ),
        TableSpec(
            "short_sellable",
            {"date": _D, "asset": _S, "quantity": _I, "sufficient": _B},
            key=("date", "asset"),
            nullable=("quantity",),
            nonnegative=("quantity",),
            calendar="northbound",
            allow_empty=True,
            description="Daily remaining short-sell allowance after the 2024 disclosure change: "
            "quantity when under 300,000 shares, else null with sufficient = True.",
        ),
        TableSpec(
            "etfs",
            {"date": _D, "etf": _S, "sector": _S, "close": _F, "nav": _F, "volume": _F,
             "amount": _F, "shares_outstanding": _F},
            key=("date", "etf"),
            prices=("close", "nav"),
            nonnegative=("volume", "amount", "shares_outstanding"),
            calendar="ashare",
            description="Sector and broad ETFs: price, NAV, volume (units), amount (yuan), shares "
            "outstanding (units).",
        ),
        TableSpec(
            "fx",
            {"date": _D, "usdcny": _F},
            key=("date",),
            prices=("usdcny",),
            calendar="ashare",
            description="USD/CNY fixing.",
        ),
        TableSpec(
            "indices",
            {"date": _D, "index": _S, "close": _F},
            key=("date", "index"),
            prices=("close",),
            calendar="ashare",
            description="Index levels (csi300, csi500, csi800, ...).",
        ),
    ]
}
