"""Seed 003's three calls, offline on a market -- :func:`sector_money_flow`,
:func:`compare_sectors` (across markets, in one currency), :func:`sector_stocks` (scheme 2:
constituents) and :func:`sector_index` (scheme 3) -- plus the heuristic's accuracy against the
exact flow and the sector-flow factor for the rotation and ``evaluate``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl

from factorlab._display import Summary
from factorlab._exprs import check_int
from factorlab.calendar import to_date
from factorlab.errors import AbsentDataError, AssetCodeError, ParameterError
from factorlab.etf.flows import FlowRules, etf_bars, etf_flows, market_source
from factorlab.etf.reference import industry_etfs, normalize_etf_code, sector_etfs
from factorlab.market import Market

__all__ = [
    "HeuristicCheck",
    "SectorComparison",
    "SectorFlow",
    "SectorStocks",
    "compare_sectors",
    "format_flow_table",
    "heuristic_accuracy",
    "resolve_sectors",
    "sector_flow_factor",
    "sector_index",
    "sector_money_flow",
    "sector_stocks",
]

SectorSpec = str | Mapping[str, Any]
Measure = Literal["best", "exact", "heuristic"]
Coefficient = Literal["seed", "sign", "change"]

#: Price-limit scale of the ``"change"`` coefficient of :func:`sector_stocks` (main board 10%).
CHANGE_SCALE = 0.10


class _Shown:
    """The short repr and notebook summary of a result (its ``_display()`` Summary)."""

    def _display(self) -> Summary:
        raise NotImplementedError

    def __repr__(self) -> str:
        return self._display().text()

    def _repr_html_(self) -> str:
        return self._display().html()


#: Columns of :class:`SectorFlow`'s table: the latest day's, then the window's.
_TODAY = (
    "sector", "etf", "market", "currency", "date", "change", "amount", "volume_ratio",
    "score_heuristic", "stars_heuristic", "direction_heuristic", "premium",
)  # fmt: skip
_WINDOW = (
    "change_window",
    "flow_heuristic_window",
    "flow_exact_window",
    "flow_window",
    "flow_kind",
)
#: The score, direction and flow columns every sector summary shows.
_SHOWN = ("score_heuristic", "direction_heuristic", "flow_window", "flow_kind")


def _by_score(
    title: str, lines: Sequence[str], table: pl.DataFrame, cols: Sequence[str]
) -> Summary:
    return Summary(
        title, tuple(lines), table.select(c for c in cols if c in table.columns), "by score"
    )


def _check_days(days: Any, name: str = "days") -> int:
    return check_int(name, days, minimum=1)


def _listed(market: Market) -> pl.DataFrame:
    """(etf, sector, market) of every ETF the market holds."""
    return (
        etf_bars(market)
        .group_by("etf")
        .agg(pl.col("sector").last(), pl.col("market").last(), pl.col("currency").last())
        .sort("etf")
        .collect()
    )


def resolve_sectors(market: Market, sectors: Sequence[SectorSpec] | None = None) -> pl.DataFrame:
    """Which ETF stands for each requested sector: ``sector`` (the label shown), ``etf``,
    ``market``, ``currency``.

    Parameters
    ----------
    market
        A market with an ``etfs`` or ``etf_prices`` table.
    sectors
        None: every ETF of the market, labelled by its ``sector``. Otherwise a sequence of

        - a sector name: the market's ETF whose ``sector`` is that name, else the reference
          table's ETF for that sector or CITIC industry (:func:`~factorlab.etf.sector_etfs`),
          if the market holds it;
        - an ETF code in any spelling (``"SH.512480"``, ``"3033.HK"``, ``"QQQ"``), labelled by
          its sector;
        - a mapping as seed 003 writes them: ``{"name": "半导体", "etf": "SH.512480"}`` or
          ``{"name": "恒生科技", "region": "HK", "code": "3033"}``.

    Raises
    ------
    AssetCodeError
        A malformed code, or a code the market does not hold (the message says whether the
        reference table knows it).
    ParameterError
        A sector name with no ETF in the market (the message lists those that have one and
        points to :func:`sector_stocks` for scheme 2), or a malformed mapping.
    """
    listed = _listed(market)
    held = dict(listed.select("etf", "sector").iter_rows())
    if sectors is None:
        return listed.select("sector", "etf", "market", "currency")
    if isinstance(sectors, str | Mapping):
        sectors = [sectors]
    ref = sector_etfs()
    rows = []
    for item in sectors:
        label, etf = _resolve_one(item, held, ref)
        rows.append((label, etf))
    out = pl.DataFrame(rows, schema=["sector", "etf"], orient="row")
    dup = out.filter(pl.col("etf").is_duplicated())
    if dup.height:
        raise ParameterError(
            f"`sectors` names ETF {dup['etf'][0]} more than once ({', '.join(dup['sector'])}); "
            "name each ETF once."
        )
    return out.join(listed.select("etf", "market", "currency"), on="etf", how="left")


def _resolve_one(item: SectorSpec, held: dict[str, str], ref: pl.DataFrame) -> tuple[str, str]:
    if isinstance(item, Mapping):
        code = item.get("etf", item.get("code"))
        if code is None:
            raise ParameterError(
                f"a sector mapping needs an `etf` (or `code`) key; got {dict(item)!r}."
            )
        etf = _held_code(normalize_etf_code(code, region=item.get("region")), code, held, ref)
        return str(item.get("name") or held[etf]), etf
    if not isinstance(item, str):
        raise ParameterError(f"each sector must be a name, a code or a mapping; got {item!r}.")
    by_sector = [e for e, s in held.items() if s == item]
    if len(by_sector) == 1:
        return item, by_sector[0]
    if len(by_sector) > 1:
        raise ParameterError(
            f"sector {item!r} has {len(by_sector)} ETFs in this market ({', '.join(by_sector)}); "
            "name the one to use by its code or as {'name': ..., 'etf': ...}."
        )
    known = ref.filter((pl.col("sector") == item) | (pl.col("citic_industry") == item))
    inside = [e for e in known["etf"] if e in held]
    if inside:
        return item, inside[0]
    try:
        code = normalize_etf_code(item)
    except AssetCodeError:
        code = None
    if code is not None:  # a well-formed code: held, or a clear error saying why not
        etf = _held_code(code, item, held, ref)
        return held[etf], etf
    hint = (
        f" (the reference ETF {', '.join(known['etf'])} is not in this market)"
        if known.height
        else ""
    )
    have = ", ".join(sorted(set(held.values()))[:20])
    raise ParameterError(
        f"sector {item!r} has no ETF in this market{hint}; sectors with an ETF: {have}. For a "
        "sector without an ETF use factorlab.etf.sector_stocks(market, sector) (its "
        "constituents, seed 003 scheme 2) or sector_index (scheme 3)."
    )


def _held_code(etf: str, raw: Any, held: dict[str, str], ref: pl.DataFrame) -> str:
    if etf in held:
        return etf
    row = ref.filter(pl.col("etf") == etf)
    if row.height:
        raise AssetCodeError(
            f"ETF {etf} ({row['sector'][0]}, from {raw!r}) is in the reference table but not in "
            f"this market's ETF tables; ETFs held: {', '.join(sorted(held)[:12])}"
            f"{' ...' if len(held) > 12 else ''}."
        )
    raise AssetCodeError(
        f"ETF {etf} (from {raw!r}) is unknown: neither this market (as a code or a sector name) "
        "nor the sector-ETF reference table (factorlab.etf.sector_etfs()) has it; ETFs held: "
        f"{', '.join(sorted(held)[:12])}{' ...' if len(held) > 12 else ''}."
    )


def _flows_of(
    market: Market, chosen: pl.DataFrame, rules: FlowRules, as_of: dt.date | None
) -> pl.DataFrame:
    flows = etf_flows(market, etfs=chosen["etf"].to_list(), rules=rules)
    flows = (
        flows.drop("sector")
        .join(chosen.select("etf", "sector"), on="etf", how="left")
        .sort("etf", "date")  # the windows below count rows per ETF in date order
    )
    if as_of is not None:
        flows = flows.filter(pl.col("date") <= as_of)
    if flows.height == 0:
        raise ParameterError(
            f"`as_of` {as_of} is before the first bar of {chosen['etf'].to_list()}; pick a "
            "later date."
        )
    return flows


def _window(flows: pl.DataFrame, days: int) -> pl.DataFrame:
    """Each ETF's last `days` rows, numbered 1 (oldest) .. days (latest)."""
    return flows.with_columns(
        (pl.len().over("etf") - pl.int_range(pl.len()).over("etf")).alias("_back")
    ).filter(pl.col("_back") <= days)


@dataclass(frozen=True, repr=False)
class SectorFlow(_Shown):
    """Result of :func:`sector_money_flow`.

    Attributes
    ----------
    table
        One row per sector, by score (seed 003's output table): ``sector, etf, market,
        currency, date`` (its latest session), the observed ``change``, ``amount`` and
        ``volume_ratio`` of that day, ``score_heuristic``, ``stars_heuristic``,
        ``direction_heuristic``, ``premium``; over the last `days` sessions: ``change_window``,
        ``flow_heuristic_window``, ``flow_exact_window`` (null unless every day's exact flow is
        known), ``flow_window`` and ``flow_kind`` (``"exact"`` or ``"heuristic"``).
    daily
        Every session up to `as_of`: ``date, sector, etf, market, currency, flow_exact,
        flow_heuristic, flow, flow_kind``, and ``cum_flow`` (cumulative ``flow`` per sector ETF,
        in its own currency).
    days, as_of, source
        The window, the last date used (None: each ETF's latest) and the data it ran on.
    """

    table: pl.DataFrame
    daily: pl.DataFrame
    days: int
    as_of: dt.date | None
    source: str

    def _display(self) -> Summary:
        kinds = self.table["flow_kind"].drop_nulls().unique().sort().to_list()
        lines = (
            f"data: {self.source}",
            f"window: last {self.days} sessions; as of {self.as_of or 'each ETF latest'}",
            f"flow measure: {', '.join(kinds) or 'none'} (flow_kind per sector)",
        )
        cols = ("sector", "etf", "change", "volume_ratio", *_SHOWN)
        return _by_score(f"SectorFlow: {self.table.height} sectors", lines, self.table, cols)


def sector_money_flow(
    market: Market,
    sectors: Sequence[SectorSpec] | None = None,
    *,
    days: int = 5,
    as_of: dt.date | str | None = None,
    rules: FlowRules | None = None,
) -> SectorFlow:
    """Seed 003's ``analyze_sector_money_flow(sectors, days=5)``, offline on a market.

    Parameters
    ----------
    market
        A market with an ``etfs`` table (exact and heuristic flows) or ``etf_prices`` (bars
        only: heuristic, labelled).
    sectors
        See :func:`resolve_sectors` (names, codes, or the seed's ``{"name", "etf"}`` mappings);
        None for every ETF of the market.
    days
        The window of the flow sums and of ``change_window`` (sessions of each ETF's own
        calendar).
    as_of
        Last date used; None: each ETF's latest session.
    rules
        :class:`~factorlab.etf.FlowRules` (the seed's constants and the label thresholds).

    Returns
    -------
    SectorFlow

    Examples
    --------
    >>> import factorlab as fl
    >>> m = fl.synthetic_market("small")  # doctest: +SKIP
    >>> sector_money_flow(m, ["银行", "SH.512880"], days=5).table  # doctest: +SKIP
    """
    days = _check_days(days)
    rules = rules or FlowRules()
    day = to_date(as_of, "as_of") if as_of is not None else None
    chosen = resolve_sectors(market, sectors)
    flows = _flows_of(market, chosen, rules, day)
    win = _window(flows, days)
    latest = win.filter(pl.col("_back") == 1)
    first_close = (
        flows.with_columns(
            (pl.len().over("etf") - pl.int_range(pl.len()).over("etf")).alias("_back")
        )
        .filter(pl.col("_back") == days + 1)
        .select("etf", pl.col("close").alias("_base"))
    )
    sums = win.group_by("etf").agg(
        pl.col("flow_heuristic").sum().alias("flow_heuristic_window"),
        pl.when(pl.col("flow_exact").null_count() == 0)
        .then(pl.col("flow_exact").sum())
        .otherwise(None)
        .alias("flow_exact_window"),
    )
    table = (
        latest.select(*_TODAY, "close")
        .join(first_close, on="etf", how="left")
        .join(sums, on="etf", how="left")
        .with_columns(
            (pl.col("close") / pl.col("_base") - 1.0).alias("change_window"),
            pl.coalesce("flow_exact_window", "flow_heuristic_window").alias("flow_window"),
            pl.when(pl.col("flow_exact_window").is_not_null())
            .then(pl.lit("exact"))
            .otherwise(pl.lit("heuristic"))
            .alias("flow_kind"),
        )
        .select(*_TODAY, *_WINDOW)
        .sort("score_heuristic", "sector", descending=[True, False], nulls_last=True)
    )
    daily = (
        flows.select(
            "date",
            "sector",
            "etf",
            "market",
            "currency",
            "flow_exact",
            "flow_heuristic",
            "flow",
            "flow_kind",
        )
        .sort("sector", "etf", "date")
        .with_columns(pl.col("flow").fill_null(0.0).cum_sum().over("etf").alias("cum_flow"))
    )
    return SectorFlow(table, daily, days, day, market_source(market))


# --- cross-market comparison ---------------------------------------------------------------


def _cny_rates(market: Market, dates: pl.DataFrame) -> pl.DataFrame:
    """(date, currency, rate): CNY per unit of each currency, the last fixing on or before."""
    need = set(dates["currency"].unique().to_list()) - {"CNY"}
    if not need:
        return dates.with_columns(pl.lit(1.0).alias("rate"))
    cols = {"USD": "usdcny", "HKD": "hkdcny"}
    unknown = need - set(cols)
    if unknown:
        raise ParameterError(f"no CNY conversion for currency {sorted(unknown)}; known: USD, HKD.")
    fx = market.table("fx").collect() if market.has("fx") else pl.DataFrame()
    missing = [cols[c] for c in sorted(need) if cols[c] not in fx.columns]
    if missing:
        raise AbsentDataError(
            f"comparing across currencies needs the `fx` table with {', '.join(missing)} "
            f"(CNY per unit); this market has {fx.columns if market.has('fx') else 'no fx table'}. "
            "Pass currency='local' to compare in each ETF's own currency."
        )
    long = pl.concat(
        [
            fx.select("date", pl.lit(c).alias("currency"), pl.col(cols[c]).alias("rate"))
            for c in sorted(need)
        ]
    ).sort("date")
    out = dates.sort("date").join_asof(
        long, on="date", by="currency", strategy="backward", check_sortedness=False
    )
    out = out.with_columns(
        pl.when(pl.col("currency") == "CNY").then(1.0).otherwise(pl.col("rate")).alias("rate")
    )
    if out["rate"].null_count():
        bad = out.filter(pl.col("rate").is_null()).head(3)
        raise AbsentDataError(
            f"no fx fixing on or before {bad['date'].to_list()} for {bad['currency'].to_list()}; "
            "the fx table starts later than the ETF bars."
        )
    return out


@dataclass(frozen=True, repr=False)
class SectorComparison(_Shown):
    """Result of :func:`compare_sectors`.

    ``table``: one row per sector, by score: ``rank, sector, etf, market, currency`` (of the
    money columns: ``"CNY"`` after conversion, else the local one), ``start``, ``end`` (the
    window on the ETF's own calendar), ``change_window``, ``volume_ratio_window`` (window volume
    / previous window's), ``amount_window``, ``score_heuristic``, ``stars_heuristic``,
    ``direction_heuristic``, ``flow_heuristic_window``, ``flow_exact_window``,
    ``flow_window``, ``flow_kind``. ``source``: the data it ran on.
    """

    table: pl.DataFrame
    days: int
    currency: str
    source: str

    def _display(self) -> Summary:
        lines = (f"data: {self.source}", f"window: {self.days} sessions; money in {self.currency}")
        cols = ("rank", "sector", "market", "change_window", "volume_ratio_window", *_SHOWN)
        return _by_score(f"SectorComparison: {self.table.height} sectors", lines, self.table, cols)


def compare_sectors(
    market: Market,
    sectors: Sequence[SectorSpec] | None = None,
    *,
    days: int = 10,
    as_of: dt.date | str | None = None,
    currency: Literal["CNY", "local"] = "CNY",
    rules: FlowRules | None = None,
) -> SectorComparison:
    """Seed 003's ``compare_sectors(sectors, days=10)``: sectors side by side over a window,
    across markets (A-share, Hong Kong, US), money in one currency.

    Each ETF's window is its last `days` sessions on or before `as_of` on its own calendar.
    The window's score is the seed's formula on window quantities: ``change_weight`` x
    window change (%) + ``ratio_weight`` x (window volume / previous window volume - 1).
    Money (amount, flows) converts to CNY at each day's fixing (the last ``fx`` row on or
    before the day: ``usdcny``, ``hkdcny``).

    Parameters
    ----------
    market, sectors, as_of, rules
        As in :func:`sector_money_flow`.
    days
        Window length in sessions.
    currency
        ``"CNY"`` (convert) or ``"local"`` (each ETF's own currency; no fx needed).

    Returns
    -------
    SectorComparison

    Raises
    ------
    AbsentDataError
        ``currency="CNY"`` with HKD / USD ETFs and no ``fx`` table / column to convert.
    """
    days = _check_days(days)
    if currency not in ("CNY", "local"):
        raise ParameterError(f"`currency` must be 'CNY' or 'local'; got {currency!r}.")
    rules = rules or FlowRules()
    day = to_date(as_of, "as_of") if as_of is not None else None
    chosen = resolve_sectors(market, sectors)
    flows = _flows_of(market, chosen, rules, day)
    if currency == "CNY":
        rates = _cny_rates(market, flows.select("date", "currency").unique())
        flows = flows.join(rates, on=["date", "currency"], how="left").sort("etf", "date")
    else:
        flows = flows.with_columns(pl.lit(1.0).alias("rate"))
    back = pl.len().over("etf") - pl.int_range(pl.len()).over("etf")
    flows = flows.with_columns(back.alias("_back"))
    cur = pl.col("_back") <= days
    prev = (pl.col("_back") > days) & (pl.col("_back") <= 2 * days)
    agg = flows.group_by("etf").agg(
        pl.col("sector").first(),
        pl.col("market").first(),
        pl.col("currency").first().alias("_local"),
        pl.col("date").filter(cur).min().alias("start"),
        pl.col("date").filter(cur).max().alias("end"),
        pl.col("close").filter(pl.col("_back") == 1).first().alias("_last"),
        pl.col("close").filter(pl.col("_back") == days + 1).first().alias("_base"),
        pl.col("volume").filter(cur).sum().alias("_vol"),
        pl.when(prev.sum() == days).then(pl.col("volume").filter(prev).sum()).alias("_pvol"),
        (pl.col("amount") * pl.col("rate")).filter(cur).sum().alias("amount_window"),
        (pl.col("flow_heuristic") * pl.col("rate"))
        .filter(cur)
        .sum()
        .alias("flow_heuristic_window"),
        pl.when(pl.col("flow_exact").filter(cur).null_count() == 0)
        .then((pl.col("flow_exact") * pl.col("rate")).filter(cur).sum())
        .alias("flow_exact_window"),
    )
    change = pl.col("_last") / pl.col("_base") - 1.0
    ratio = pl.when(pl.col("_pvol") > 0).then(pl.col("_vol") / pl.col("_pvol"))
    table = (
        agg.with_columns(change.alias("change_window"), ratio.alias("volume_ratio_window"))
        .with_columns(
            rules.score(pl.col("change_window"), pl.col("volume_ratio_window")).alias(
                "score_heuristic"
            ),
            pl.coalesce("flow_exact_window", "flow_heuristic_window").alias("flow_window"),
            pl.when(pl.col("flow_exact_window").is_not_null())
            .then(pl.lit("exact"))
            .otherwise(pl.lit("heuristic"))
            .alias("flow_kind"),
            (pl.lit("CNY") if currency == "CNY" else pl.col("_local")).alias("currency"),
        )
        .with_columns(
            rules.stars(pl.col("score_heuristic")).alias("stars_heuristic"),
            rules.direction(pl.col("score_heuristic")).alias("direction_heuristic"),
        )
        .sort("score_heuristic", "sector", descending=[True, False], nulls_last=True)
        .with_row_index("rank", offset=1)
        .select(
            "rank",
            "sector",
            "etf",
            "market",
            "currency",
            "start",
            "end",
            "change_window",
            "volume_ratio_window",
            "amount_window",
            "score_heuristic",
            "stars_heuristic",
            "direction_heuristic",
            "flow_heuristic_window",
            "flow_exact_window",
            "flow_window",
            "flow_kind",
        )
    )
    return SectorComparison(
        table, days, "CNY" if currency == "CNY" else "local", market_source(market)
    )


# --- scheme 2: constituents; scheme 3: industry indices -------------------------------------


@dataclass(frozen=True, repr=False)
class SectorStocks(_Shown):
    """Result of :func:`sector_stocks` (seed 003 scheme 2, from the sector's constituents).

    ``summary``: one row per date of the window: ``date, sector, stocks`` (trading that day),
    ``avg_change`` (mean of the constituents' adjusted change), ``volume_ratio`` (total volume
    / previous session's), ``up_share`` (rising stocks / trading stocks), ``flow_estimate``
    (Σ amount x coefficient: a heuristic), ``score_heuristic``, ``stars_heuristic``,
    ``direction_heuristic``. ``stocks``: the latest day per stock (``asset, change,
    volume_ratio, amount, coefficient, flow_estimate``).
    """

    summary: pl.DataFrame
    stocks: pl.DataFrame
    sector: str
    coefficient: str
    source: str

    def _display(self) -> Summary:
        lines = (
            f"data: {self.source}",
            f"sector {self.sector}: {self.stocks.height} constituents; "
            f"flow coefficient {self.coefficient!r} (heuristic)",
        )
        return Summary("SectorStocks (scheme 2: constituents)", lines, self.summary, "by date")


def sector_stocks(
    market: Market,
    sector: str,
    *,
    days: int = 1,
    as_of: dt.date | str | None = None,
    coefficient: Coefficient = "seed",
    rules: FlowRules | None = None,
) -> SectorStocks:
    """Seed 003's scheme 2 (``get_sector_stocks``): a sector judged from its constituents.

    The sector is an industry of the ``assets`` table (CITIC level-1 in the synthetic market;
    membership as of today's table, not point in time). Per stock: the adjusted change (close x
    adj_factor over the previous session's), today's volume / the previous session's, and the
    amount. Per day: the mean change, total volume ratio, the share of rising stocks and the
    seed's "资金流入额 ≈ 成交额 x 涨跌幅系数", whose coefficient the seed leaves open:

    - ``"seed"``: the ETF heuristic per stock, +up_share if up on rising volume, else
      -down_share (the default);
    - ``"sign"``: +1 if up, -1 if down, 0 if flat;
    - ``"change"``: change / 10% (the main-board price limit), clipped to [-1, 1].

    Parameters
    ----------
    market
        With ``assets`` and ``prices``.
    sector
        An industry name of ``assets.industry``.
    days
        Dates of the summary (the last `days` sessions up to `as_of`).
    as_of, rules
        As in :func:`sector_money_flow`.

    Raises
    ------
    ParameterError
        An unknown sector (the message lists the industries), bad `days` or `coefficient`.
    """
    days = _check_days(days)
    if coefficient not in ("seed", "sign", "change"):
        raise ParameterError(
            f"`coefficient` must be 'seed', 'sign' or 'change'; got {coefficient!r}."
        )
    rules = rules or FlowRules()
    for table in ("assets", "prices"):
        if not market.has(table):
            raise AbsentDataError(f"sector_stocks needs the `{table}` table; this market has none.")
    assets = market.table("assets").select("asset", "industry").collect()
    members = assets.filter(pl.col("industry") == sector)["asset"]
    if members.len() == 0:
        have = ", ".join(sorted(assets["industry"].drop_nulls().unique().to_list()))
        raise ParameterError(
            f"sector {sector!r} is not an industry of this market's `assets` table; industries: "
            f"{have}."
        )
    px = market.table("prices").filter(pl.col("asset").is_in(members.implode()))
    if as_of is not None:
        px = px.filter(pl.col("date") <= to_date(as_of, "as_of"))
    dates = px.select(pl.col("date").unique().sort().tail(days + 1)).collect()["date"]
    if dates.len() < 2:
        raise ParameterError(
            f"sector {sector!r}: fewer than 2 sessions of prices on or before `as_of` {as_of}; "
            "pick a later date."
        )
    bars = (
        px.filter(pl.col("date") >= dates.min())
        .select(
            "date",
            "asset",
            (pl.col("close") * pl.col("adj_factor")).alias("_adj"),
            "volume",
            "amount",
        )
        .collect()
        .sort("asset", "date")
    )
    change = pl.col("_adj") / pl.col("_adj").shift(1).over("asset") - 1.0
    prev_vol = pl.col("volume").shift(1).over("asset")
    bars = bars.with_columns(
        change.alias("change"),
        pl.when(prev_vol > 0).then(pl.col("volume") / prev_vol).alias("volume_ratio"),
        prev_vol.alias("_prev_volume"),
    ).filter(pl.col("date") > dates.min(), pl.col("change").is_not_null())
    up, ratio = pl.col("change") > 0, pl.col("volume_ratio")
    coef = {
        "seed": pl.when(up & (ratio > 1)).then(rules.up_share).otherwise(-rules.down_share),
        "sign": pl.col("change").sign(),
        "change": (pl.col("change") / CHANGE_SCALE).clip(-1.0, 1.0),
    }[coefficient]
    bars = bars.with_columns(coef.cast(pl.Float64).alias("coefficient")).with_columns(
        (pl.col("amount") * pl.col("coefficient")).alias("flow_estimate")
    )
    summary = (
        bars.group_by("date")
        .agg(
            pl.len().alias("stocks"),
            pl.col("change").mean().alias("avg_change"),
            (pl.col("volume").sum() / pl.col("_prev_volume").sum()).alias("volume_ratio"),
            (pl.col("change") > 0).mean().alias("up_share"),
            pl.col("flow_estimate").sum(),
        )
        .sort("date")
        .with_columns(
            pl.lit(sector).alias("sector"),
            rules.score(pl.col("avg_change"), pl.col("volume_ratio")).alias("score_heuristic"),
        )
        .with_columns(
            rules.stars(pl.col("score_heuristic")).alias("stars_heuristic"),
            rules.direction(pl.col("score_heuristic")).alias("direction_heuristic"),
        )
        .select(
            "date",
            "sector",
            "stocks",
            "avg_change",
            "volume_ratio",
            "up_share",
            "flow_estimate",
            "score_heuristic",
            "stars_heuristic",
            "direction_heuristic",
        )
    )
    last = bars.filter(pl.col("date") == bars["date"].max()).select(
        "asset", "change", "volume_ratio", "amount", "coefficient", "flow_estimate"
    )
    return SectorStocks(summary, last.sort("asset"), sector, coefficient, market_source(market))


def sector_index(
    market: Market,
    index: str,
    *,
    days: int = 5,
    as_of: dt.date | str | None = None,
) -> pl.DataFrame:
    """Seed 003's scheme 3: a sector judged from its industry index in the ``indices`` table
    (e.g. CSI 930651 信息技术 when the market carries it).

    Returns one row: ``index, date, change`` (the latest day), ``change_window`` (over `days`
    sessions), ``trend`` (``"up"`` / ``"down"`` / ``"flat"`` by the window change's sign).

    Raises
    ------
    ParameterError
        The index is not in the market's ``indices`` table (the message lists those present:
        the synthetic market has broad indices only, no industry indices).
    """
    days = _check_days(days)
    if not market.has("indices"):
        raise AbsentDataError("sector_index needs the `indices` table; this market has none.")
    lf = market.table("indices").filter(pl.col("index") == index)
    if as_of is not None:
        lf = lf.filter(pl.col("date") <= to_date(as_of, "as_of"))
    rows = lf.sort("date").tail(days + 1).collect()
    if rows.height < 2:
        have = market.table("indices").select(pl.col("index").unique().sort()).collect()
        raise ParameterError(
            f"index {index!r} is not in this market's `indices` table (or has < 2 sessions "
            f"before as_of); indices present: {', '.join(have['index'])}. Scheme 3 needs an "
            "industry-index table: add the CSI industry indices through an adapter."
        )
    close = rows["close"]
    window = close[-1] / close[0] - 1.0
    return pl.DataFrame(
        {
            "index": [index],
            "date": [rows["date"][-1]],
            "change": [close[-1] / close[-2] - 1.0],
            "change_window": [window],
            "trend": ["up" if window > 0 else "down" if window < 0 else "flat"],
        }
    )


# --- the heuristic against the exact flow ---------------------------------------------------


@dataclass(frozen=True, repr=False)
class HeuristicCheck(_Shown):
    """How well seed 003's heuristic tracks the exact flow (:func:`heuristic_accuracy`).

    ``table``: per ETF with exact flows and horizon (sessions summed): ``etf, sector, horizon,
    n``, ``correlation`` (Pearson, heuristic vs exact flow sums), ``score_correlation`` (the
    score vs the exact flow as a fraction of AUM), ``hit_rate`` (share of windows where the
    two have the same sign; exact 0 left out). ``overall``: per horizon, the mean and median
    of the per-ETF correlations and the pooled hit rate.
    """

    table: pl.DataFrame
    overall: pl.DataFrame
    source: str

    def _display(self) -> Summary:
        lines = (f"data: {self.source}", f"ETFs with exact flows: {self.table['etf'].n_unique()}")
        return Summary(
            "HeuristicCheck: seed 003 heuristic vs exact flow", lines, self.overall, "per horizon"
        )


def heuristic_accuracy(
    market: Market,
    *,
    horizons: Sequence[int] = (1, 5, 20),
    rules: FlowRules | None = None,
) -> HeuristicCheck:
    """Correlation and direction hit rate of seed 003's heuristic flow against the exact flow
    (Δ shares x NAV), per ETF, on flows summed over each horizon (overlapping windows).

    Raises
    ------
    AbsentDataError
        No ETF of the market has shares outstanding and NAV (nothing exact to compare with).
    """
    hs = [_check_days(h, "horizons") for h in horizons]
    if not hs:
        raise ParameterError("`horizons` must name at least one horizon.")
    flows = etf_flows(market, rules=rules)
    flows = flows.filter(
        pl.col("etf").is_in(
            flows.filter(pl.col("flow_exact").is_not_null())["etf"].unique().implode()
        )
    ).sort("etf", "date")
    if flows.height == 0:
        raise AbsentDataError(
            "heuristic_accuracy needs ETFs with shares outstanding and NAV (exact flows); this "
            "market's ETFs have bars only, so only the heuristic exists."
        )
    aum = (pl.col("shares_outstanding") * pl.col("nav")).shift(1).over("etf")
    flows = flows.with_columns((pl.col("flow_exact") / aum).alias("_exact_frac"))
    parts = []
    for h in hs:
        roll = flows.with_columns(
            pl.col("flow_exact").rolling_sum(h, min_samples=h).over("etf").alias("_e"),
            pl.col("flow_heuristic").rolling_sum(h, min_samples=h).over("etf").alias("_h"),
            pl.col("_exact_frac").rolling_sum(h, min_samples=h).over("etf").alias("_ef"),
            pl.col("score_heuristic").rolling_mean(h, min_samples=h).over("etf").alias("_s"),
        ).drop_nulls(["_e", "_h", "_ef", "_s"])
        parts.append(
            roll.group_by("etf").agg(
                pl.col("sector").first(),
                pl.lit(h).alias("horizon"),
                pl.len().alias("n"),
                pl.corr("_h", "_e").alias("correlation"),
                pl.corr("_s", "_ef").alias("score_correlation"),
                (pl.col("_h").sign() == pl.col("_e").sign())
                .filter(pl.col("_e") != 0)
                .mean()
                .alias("hit_rate"),
                (pl.col("_e") != 0).sum().alias("_nz"),
            )
        )
    table = pl.concat(parts).sort("horizon", "etf")
    overall = (
        table.group_by("horizon")
        .agg(
            pl.col("etf").n_unique().alias("etfs"),
            pl.col("correlation").mean().alias("correlation_mean"),
            pl.col("correlation").median().alias("correlation_median"),
            pl.col("score_correlation").mean().alias("score_correlation_mean"),
            ((pl.col("hit_rate") * pl.col("_nz")).sum() / pl.col("_nz").sum()).alias("hit_rate"),
        )
        .sort("horizon")
    )
    return HeuristicCheck(table.drop("_nz"), overall, market_source(market))


# --- the sector-flow factor -------------------------------------------------------------------


def sector_flow_factor(
    market: Market,
    *,
    measure: Measure = "best",
    lookback: int = 20,
    by: Literal["sector", "industry", "etf"] = "sector",
    sectors: Sequence[SectorSpec] | None = None,
) -> pl.DataFrame:
    """ETF money flow into each sector over the last `lookback` sessions, scaled by size: a
    factor for the industry rotation (``by="industry"``) and for ``evaluate`` (``by="etf"``).

    Value at date d, per ETF, from its rows on or before d only (a dimensionless ratio, so no
    currency enters it):

    - exact: Σ flow_exact over the window / AUM at the window's start (shares x NAV the
      session before): the net creations as a fraction of the fund;
    - heuristic: Σ flow_heuristic over the window / Σ amount over the window (between
      -down_share and +up_share).

    A sector (or industry) is the equal-weight mean of its ETFs' ratios, all of one measure:
    with ``"best"`` the exact one when every ETF of the group has shares outstanding and NAV,
    else the heuristic for all of them; the ``measure`` column labels every row.

    Parameters
    ----------
    market
        A market with ETFs.
    measure
        ``"best"``, ``"exact"`` (ETFs without shares are left out) or ``"heuristic"``.
    lookback
        Window in sessions of each ETF's own calendar.
    by
        ``"sector"`` (date, sector, value: the sector labels of :func:`resolve_sectors`),
        ``"industry"`` (date, industry, value: the CITIC level-1 industry of each industry ETF
        of :func:`~factorlab.etf.industry_etfs` (synthetic ones included), the shape of the
        rotation's industry factors; other ETFs left out) or ``"etf"`` (date, etf, value: the
        code is the asset for ``evaluate`` on ETF prices).
    sectors
        See :func:`resolve_sectors`; None for every ETF.

    Returns
    -------
    pl.DataFrame
        ``date``, the key (``sector`` / ``industry`` / ``etf``), ``value``, ``measure``; tidy,
        sorted, one row per key, windows incomplete at the start left out.

    No look-ahead
    -------------
    The value at d uses bars, NAV and shares outstanding of d and earlier. A-share ETF shares
    for day d are published after its close (SSE / SZSE, next morning at the latest): trade on
    the value at d from session d+1 (``evaluate(entry="next_close")``, the backtester's
    ``next_*`` entries).
    """
    lookback = _check_days(lookback, "lookback")
    if measure not in ("best", "exact", "heuristic"):
        raise ParameterError(f"`measure` must be 'best', 'exact' or 'heuristic'; got {measure!r}.")
    if by not in ("sector", "industry", "etf"):
        raise ParameterError(f"`by` must be 'sector', 'industry' or 'etf'; got {by!r}.")
    chosen = resolve_sectors(market, sectors).select("etf", "sector")
    key = by
    if by == "industry":
        mapping = industry_etfs(synthetic=True).select("etf", pl.col("citic_industry"))
        chosen = chosen.join(mapping, on="etf", how="inner").select(
            "etf", pl.col("citic_industry").alias("industry")
        )
        if chosen.height == 0:
            raise AbsentDataError(
                "by='industry' needs the industry ETFs of factorlab.etf.industry_etfs(); this "
                "market (or `sectors`) holds none of them."
            )
    flows = etf_flows(market, etfs=chosen["etf"].to_list())
    flows = flows.drop("sector").join(chosen, on="etf", how="left").sort("etf", "date")
    has_exact = flows.group_by("etf").agg(pl.col("flow_exact").is_not_null().any().alias("_x"))
    flows = flows.join(has_exact, on="etf")
    if measure == "exact":
        flows = flows.filter(pl.col("_x"))
        if flows.height == 0:
            raise AbsentDataError(
                "measure='exact' needs ETFs with shares outstanding and NAV; none here. Use "
                "measure='heuristic' (labelled) on a bars-only market."
            )
    if measure == "best":
        use_exact = pl.col("_x").all().over(key)  # one measure per sector / industry
    else:
        use_exact = pl.lit(measure == "exact")
    flows = flows.sort("etf", "date").with_columns(use_exact.alias("_use"))
    roll = dict(window_size=lookback, min_samples=lookback)
    aum0 = (pl.col("shares_outstanding") * pl.col("nav")).shift(lookback).over("etf")
    exact = pl.col("flow_exact").rolling_sum(**roll).over("etf") / aum0
    heuristic = pl.col("flow_heuristic").rolling_sum(**roll).over("etf") / pl.col(
        "amount"
    ).rolling_sum(**roll).over("etf")
    flows = flows.with_columns(
        pl.when(pl.col("_use")).then(exact).otherwise(heuristic).alias("_ratio"),
        pl.when(pl.col("_use"))
        .then(pl.lit("exact"))
        .otherwise(pl.lit("heuristic"))
        .alias("measure"),
    ).filter(pl.col("_ratio").is_finite())
    out = (
        flows.group_by("date", key)
        .agg(pl.col("_ratio").mean().alias("value"), pl.col("measure").first())
        .sort(key, "date")
    )
    return out.select("date", key, "value", "measure")


# --- the seed's printed table -----------------------------------------------------------------

_MARKS = {"强势流入": "🟢", "持续流入": "🟢", "震荡": "⚪", "小幅流出": "🔴", "大幅流出": "🔴"}


def _yi(x: float | None, unit: str = "CNY", *, sign: bool = False) -> str:
    """亿 (1e8) from 1 亿 on, else 万 (1e4); the currency when not CNY."""
    if x is None:
        return "-"
    scale, name = (1e8, "亿") if abs(x) >= 1e8 else (1e4, "万")
    text = f"{x / scale:{'+' if sign else ''},.1f}{name}"
    return text if unit == "CNY" else f"{text} {unit}"


def format_flow_table(table: pl.DataFrame) -> pl.DataFrame:
    """Seed 003's output table as strings (sector, change, amount, volume ratio, score, stars,
    direction, plus the window's flow and its kind) from a :class:`SectorFlow` table.

    Examples
    --------
    >>> import datetime as dt
    >>> t = pl.DataFrame({"sector": ["半导体"], "change": [0.025], "amount": [85.3e8],
    ...     "currency": ["CNY"], "volume_ratio": [1.45], "score_heuristic": [23.75],
    ...     "stars_heuristic": [4], "direction_heuristic": ["强势流入"],
    ...     "flow_window": [12.0e8], "flow_kind": ["exact"]})
    >>> format_flow_table(t).row(0)
    ('半导体', '+2.50%', '85.3亿', '1.45', '23.8', '⭐⭐⭐⭐', '🟢 强势流入', '+12.0亿', 'exact')
    """
    rows = []
    for r in table.iter_rows(named=True):
        flow = r.get("flow_window")
        direction = r["direction_heuristic"] or "-"
        rows.append(
            (
                r["sector"],
                "-" if r["change"] is None else f"{r['change'] * 100:+.2f}%",
                _yi(r["amount"], r.get("currency", "CNY")),
                "-" if r["volume_ratio"] is None else f"{r['volume_ratio']:.2f}",
                "-" if r["score_heuristic"] is None else f"{r['score_heuristic']:.1f}",
                "⭐" * int(r["stars_heuristic"] or 0),
                f"{_MARKS.get(direction, '')} {direction}".strip(),
                _yi(flow, r.get("currency", "CNY"), sign=True),
                r["flow_kind"] or "-",
            )
        )
    cols = [
        "板块 sector",
        "今日涨跌 change",
        "成交额 amount",
        "量能比 volume ratio",
        "资金评分 score (heuristic)",
        "stars (heuristic)",
        "流向判断 direction (heuristic)",
        "flow (window)",
        "flow kind",
    ]
    return pl.DataFrame(rows, schema=cols, orient="row")
