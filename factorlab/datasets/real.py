"""The real-sample market: public real A-share data (``../shared/realdata``) as a validated Market.

What the sample lacks is listed in ``market.meta["absent"]``; :func:`require_data` turns a need
for any of it into a clear :class:`~factorlab.errors.AbsentDataError` (never a silent proxy).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import polars as pl

from factorlab import pools as pool_builders
from factorlab.adapters import YUAN_PER_YI, amount_proxy, tushare
from factorlab.calendar import COVERAGE_END, COVERAGE_START, sessions
from factorlab.errors import AbsentDataError, MarketError
from factorlab.market import Market, ValidateLevel

__all__ = ["ENV_VAR", "FILES", "availability", "default_path", "real_sample", "require_data"]

#: Environment variable naming the real-data folder.
ENV_VAR = "FACTORLAB_REALDATA"

#: The files the loader reads, relative to the real-data folder.
FILES: dict[str, str] = {
    "prices_csi300": "ashare_daily_csi800/ashare_daily_csi300_members_2016_2026.parquet",
    "prices_csi500": "ashare_daily_csi800/ashare_daily_csi500_only_members_2016_2026.parquet",
    "csi300": "index_membership/csi300_membership_intervals.csv",
    "csi500": "index_membership/csi500_membership_intervals.csv",
    "index_daily": "index_daily/index_daily.csv",
    "moneyflow_hsgt": "hsgt_flow_tushare/moneyflow_hsgt.csv",
    "turnover": "hsgt_turnover_by_link/northbound_buy_sell_daily.csv",
    "stock_basic": "stock_basic_tushare/stock_basic_20260130.csv",
    "etf": "sector_etf_daily/etf_daily_unadjusted.csv",
}

#: What the sample does not provide, and why (``table`` or ``table.column`` -> reason).
ABSENT: dict[str, str] = {
    "prices.amount": "the price source (a Qlib dump) has no traded amount; if an approximation "
    "is acceptable, ask for factorlab.adapters.amount_proxy() (volume x typical price) by name",
    "prices.float_shares": "no free-float share counts or float market caps in any public "
    "source found",
    "prices.total_shares": "no total share counts or market caps in any public source found",
    "prices.is_st": "the source has no ST flag; the column is False everywhere",
    "northbound": "per-stock daily northbound holdings (hk_hold / CCASS) were not found in "
    "retrievable public form",
    "participant_holdings": "per-participant CCASS holdings were not found",
    "participants": "CCASS participant list not found",
    "quotas": "no daily quota / quota balance columns (the quota is a known constant)",
    "etfs": "ETF NAV and shares outstanding were not found (bars only: see `etf_prices`)",
    "index_weights": "CSI 300 / 500 constituent weights were not found (membership only)",
    "corporate_actions": "no dividend / bonus records (prices carry adj_factor)",
    "short_sellable": "not collected",
    "fx": "not collected",
}

NOTES: dict[str, str] = {
    "prices": "raw OHLC (yuan) and adj_factor from fr220574/Qlib-format-A-share-dataset, every "
    "stock that was a CSI 300 / CSI 500 member on or after 2016-01-01; suspended days (volume "
    "0 or missing, forward-filled prices) are left out and listed in `suspensions`",
    "pools": "csi300 / csi500 from Homes1ck/sQlib membership intervals (inclusive, "
    "factorlab.pools.from_intervals), csi800 = their union, on A-share sessions within the "
    "price range; some members (mostly delisted) have no prices (survivorship gap of the price "
    "source). liq1500 = factorlab.pools.liquidity (monthly, top 1,500 by 60-session mean "
    "amount, listed >= 252 sessions, not ST) on amount_proxy() (volume x typical price: the "
    "source has no traded amount) with no ST flag, over the ~1,000 stocks the price source "
    "covers (CSI 300 / 500 members since 2016), so it holds every seasoned priced stock, "
    "fewer than 1,500 a day",
    "assets": "Tushare stock_basic snapshot of 2026-01-30: current names and tushare's own "
    "industries (not CITIC, not point in time); delisted stocks are missing",
    "indices": "Tushare index_daily export (close only; its volume / amount were rescaled by "
    "the exporter and are not used); from 2014-01-01 (calendar coverage)",
    "northbound_flows": "tushare moneyflow_hsgt with its meaning detected per day against the "
    "buy / sell turnover 2014-11-17 .. 2021-08-26 of a Wind-style export (亿 -> yuan): net_buy "
    "where it equals buy - sell within 1 million yuan, else quota_inflow; after 2021-08-26 by "
    "the 2018-08-01 date rule; net_buy = buy - sell on days tushare lacks; flow_definition = "
    "meaning of tushare's headline figure that day",
    "etf_prices": "unadjusted TDX bars of 25 ETFs (no NAV, no shares)",
}

_INDEX_NAMES = {**tushare.INDEX_NAMES}
_TURNOVER_LINKS = {"SH": ("sh_buy", "sh_sell"), "SZ": ("sz_buy", "sz_sell")}


def default_path() -> Path:
    """``$FACTORLAB_REALDATA`` if set, else ``<repo>/../shared/realdata``."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "realdata"


def _files(root: Path) -> dict[str, Path]:
    if not root.is_dir():
        raise MarketError(
            f"real-data folder `{root}` not found; set ${ENV_VAR} or pass path= (it holds the "
            "public sample described in its INDEX.md; factorlab ships none of it)."
        )
    files = {name: root / rel for name, rel in FILES.items()}
    missing = [str(FILES[n]) for n, p in files.items() if not p.is_file()]
    if missing:
        raise MarketError(f"real-data folder `{root}` lacks file(s): {', '.join(missing)}.")
    return files


def _prices(files: dict[str, Path]) -> tuple[pl.DataFrame, pl.DataFrame]:
    raw = (
        pl.concat(
            [pl.scan_parquet(files["prices_csi300"]), pl.scan_parquet(files["prices_csi500"])]
        )
        .select(
            pl.col("trade_date").cast(pl.Date).alias("date"),
            pl.col("ts_code").alias("asset"),
            "open",
            "high",
            "low",
            "close",
            "volume",
            "adj_factor",
        )
        .with_columns(pl.col("open", "high", "low", "close", "volume", "adj_factor").fill_nan(None))
    )
    suspended = (
        pl.col("volume").is_null()
        | (pl.col("volume") <= 0)
        | pl.any_horizontal(pl.col("open", "high", "low", "close").is_null())
    )
    both = raw.with_columns(suspended.alias("_susp")).collect()
    prices = both.filter(~pl.col("_susp")).select(
        "date",
        "asset",
        "open",
        "high",
        "low",
        "close",
        "volume",
        pl.lit(None, pl.Float64).alias("amount"),
        "adj_factor",
        pl.lit(None, pl.Float64).alias("float_shares"),
        pl.lit(None, pl.Float64).alias("total_shares"),
        pl.lit(False).alias("is_st"),
    )
    suspensions = both.filter(pl.col("_susp")).select("date", "asset")
    return prices, suspensions


def _flows(files: dict[str, Path]) -> pl.DataFrame:
    text = {c: pl.String for c in ("ggt_ss", "ggt_sz", "hgt", "sgt", "north_money", "south_money")}
    raw = pl.read_csv(files["moneyflow_hsgt"], schema_overrides=text)
    turnover = pl.read_csv(files["turnover"], try_parse_dates=True)
    gross = pl.concat(
        [
            turnover.select(
                pl.col("trade_date").cast(pl.Date).alias("date"),
                pl.lit(link).alias("link"),
                (pl.col(buy) * YUAN_PER_YI).alias("buy_amount"),
                (pl.col(sell) * YUAN_PER_YI).alias("sell_amount"),
            )
            for link, (buy, sell) in _TURNOVER_LINKS.items()
        ]
    ).filter((pl.col("buy_amount") > 0) | (pl.col("sell_amount") > 0))  # 0/0 = link closed
    tushare_flows = tushare.moneyflow_hsgt(raw, turnover=gross)  # meaning detected per day
    only_gross = gross.join(tushare_flows, on=["date", "link"], how="anti")
    out = pl.concat([tushare_flows, only_gross], how="diagonal")
    return out.select(
        "date",
        "link",
        pl.col("flow_definition").fill_null("net_buy"),
        "quota_inflow",
        pl.coalesce("net_buy", pl.col("buy_amount") - pl.col("sell_amount")).alias("net_buy"),
        "buy_amount",
        "sell_amount",
    ).sort("date", "link")


def _indices(files: dict[str, Path]) -> pl.DataFrame:
    raw = pl.read_csv(
        files["index_daily"],
        schema_overrides={"ts_code": pl.String},
        columns=["trade_date", "ts_code", "close"],
    )
    out = tushare.index_daily(raw, names=_INDEX_NAMES)
    return out.filter(pl.col("date").is_between(COVERAGE_START, COVERAGE_END))


def _etf_prices(files: dict[str, Path]) -> pl.DataFrame:
    raw = pl.read_csv(files["etf"], try_parse_dates=True, schema_overrides={"code": pl.String})
    out = raw.select(
        pl.col("trade_date").cast(pl.Date).alias("date"),
        pl.col("code").alias("etf"),
        "open",
        "high",
        "low",
        "close",
        pl.col("volume").cast(pl.Float64),
        pl.col("amount").cast(pl.Float64),
    )
    return out.filter(pl.col("date").is_between(COVERAGE_START, COVERAGE_END)).sort("date", "etf")


def real_sample(
    path: str | os.PathLike | None = None, *, validate: ValidateLevel = "full"
) -> Market:
    """The real-sample Market built from a folder laid out like ``../shared/realdata``.

    Tables: ``prices`` (raw OHLC, volume, adj_factor; amount / share counts null),
    ``suspensions``, ``pools`` (csi300, csi500, csi800 point in time from membership
    intervals; liq1500 from prices by :func:`factorlab.pools.liquidity` on the amount proxy),
    ``assets`` (tushare industries, snapshot), ``indices`` (csi300, csi500, csi1000, sse50,
    sse_composite, csi_all), ``northbound_flows`` (SH / SZ, quota-based and trade-based kept apart),
    ``etf_prices``. ``meta["absent"]`` names what the sample lacks and why; ``meta["notes"]``
    says where each table comes from and its caveats; ``meta["coverage"]`` counts rows left out.

    Parameters
    ----------
    path
        The folder; default :func:`default_path` (``$FACTORLAB_REALDATA`` or
        ``<repo>/../shared/realdata``).
    validate
        Passed to :class:`~factorlab.Market` (``"full"`` checks every value and calendar).

    Raises
    ------
    MarketError
        When the folder or one of :data:`FILES` is missing.

    Examples
    --------
    >>> m = real_sample()  # doctest: +SKIP
    >>> m.pools.filter(pl.col("pool") == "csi300").group_by("date").len()  # doctest: +SKIP
    """
    root = Path(path) if path is not None else default_path()
    files = _files(root)
    prices, suspensions = _prices(files)
    first, last = prices.get_column("date").min(), prices.get_column("date").max()
    days = sessions("ashare", first, last)
    built = [
        pool_builders.from_intervals(
            pl.read_csv(files[pool], schema_overrides={"ts_code": pl.String}), pool, days
        )
        for pool in ("csi300", "csi500")
    ]
    csi800 = pool_builders.union(built, "csi800")

    priced = prices.get_column("asset").unique()
    index_members = csi800.pools.get_column("asset").unique()
    universe = pl.concat([priced, index_members]).unique()
    basic = pl.read_csv(
        files["stock_basic"], schema_overrides={"symbol": pl.String, "list_date": pl.String}
    )
    assets = tushare.stock_basic(basic).filter(pl.col("asset").is_in(universe.implode()))
    liq = pool_builders.liquidity(prices, assets=assets, amount=amount_proxy(), days=days)
    pools_df = pl.concat([*(b.pools for b in built), csi800.pools, liq.pools])
    dropped = pl.concat([b.dropped.with_columns(pl.lit(b.source).alias("source")) for b in built])

    without_prices = (
        pools_df.filter(~pl.col("asset").is_in(priced.implode())).get_column("asset").n_unique()
    )
    coverage = {
        "price_range": [first.isoformat(), last.isoformat()],
        "assets_with_prices": priced.len(),
        "suspended_rows": suspensions.height,
        "pool_members_without_prices": without_prices,
        "assets_without_stock_basic": universe.len() - assets.height,
        "membership_rows_dropped": dropped.select(
            "source", "reason", "rows", "examples"
        ).to_dicts(),
    }
    tables: dict[str, pl.DataFrame] = {
        "prices": prices,  # sorted by (asset, date) like its source
        "suspensions": suspensions.sort("date", "asset"),
        "pools": pools_df,
        "assets": assets,
        "indices": _indices(files),
        "northbound_flows": _flows(files),
        "etf_prices": _etf_prices(files),
    }
    meta: dict[str, Any] = {
        "source": "factorlab real sample (public data, see INDEX.md in the folder)",
        "path": str(root),
        "files": dict(FILES),
        "absent": dict(ABSENT),
        "notes": dict(NOTES),
        "coverage": coverage,
    }
    return Market(tables, meta=meta, validate=validate)


def availability(market: Market) -> pl.DataFrame:
    """One row per canonical table: ``present`` / ``absent`` / ``partial`` and why.

    Uses ``market.meta["absent"]`` (``table`` or ``table.column`` entries).
    """
    from factorlab.schema import TABLES

    absent: dict[str, str] = dict(market.meta.get("absent", {}))
    rows = []
    for name in TABLES:
        columns = {k: v for k, v in absent.items() if k.startswith(f"{name}.")}
        if name in absent or not market.has(name):
            status, why = "absent", absent.get(name, "not in this market")
        elif columns:
            status = "partial"
            why = "; ".join(f"`{k.split('.', 1)[1]}`: {v}" for k, v in columns.items())
        else:
            status, why = "present", ""
        rows.append({"table": name, "status": status, "reason": why})
    return pl.DataFrame(rows, schema={"table": pl.String, "status": pl.String, "reason": pl.String})


def require_data(market: Market, *items: str, purpose: str = "this computation") -> None:
    """Raise :class:`~factorlab.errors.AbsentDataError` if `market` lacks any of `items`.

    `items` are table names (``"northbound"``) or ``"table.column"`` (``"prices.amount"``); an
    item is missing when its table is absent or ``market.meta["absent"]`` lists it.

    Examples
    --------
    >>> m = Market({}, meta={"absent": {"prices.amount": "no amount in the source"}})
    >>> require_data(m, "prices.amount", purpose="nb_trade_amount_ratio20")
    Traceback (most recent call last):
    ...
    factorlab.errors.AbsentDataError: nb_trade_amount_ratio20 needs data this market lacks: `prices.amount` (no amount in the source). ...
    """  # noqa: E501
    absent: dict[str, str] = dict(market.meta.get("absent", {}))
    missing: list[str] = []
    for item in items:
        table = item.split(".", 1)[0]
        if item in absent:
            missing.append(f"`{item}` ({absent[item]})")
        elif table in absent:
            missing.append(f"`{item}` (table `{table}`: {absent[table]})")
        elif not market.has(table):
            missing.append(f"`{item}` (table `{table}` is not in this market)")
    if missing:
        raise AbsentDataError(
            f"{purpose} needs data this market lacks: {'; '.join(missing)}. Load a market that "
            "provides it (e.g. through factorlab.adapters from your own tushare exports); no "
            "proxy is substituted."
        )
