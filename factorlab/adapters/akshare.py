"""akshare northbound frames (Eastmoney, Chinese column names) -> canonical tables.

Each function takes the pandas DataFrame an ``ak.<function>(...)`` call returns, with its Chinese
column names and units (亿元, 万, 万元, ‰, %) as documented in the akshare data dictionary
(https://akshare.akfamily.xyz/data/stock/stock.html, section 沪深港通持股 / 资金流向).
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import polars as pl

from factorlab.adapters._common import (
    SHARES_PER_LOT,
    YUAN_PER_WAN,
    YUAN_PER_YI,
    check_range,
    check_ratio,
    dedupe,
    drop_beijing,
    drop_rows,
    finish,
    parse_codes,
    parse_dates,
    parse_floats,
    require_columns,
    source_frame,
)
from factorlab.codes import is_beijing_code, normalize_asset_code
from factorlab.errors import AdapterError, AssetCodeError
from factorlab.etf.reference import normalize_etf_code

__all__ = [
    "fund_etf_hist_em",
    "fund_etf_scale_sse",
    "fund_etf_scale_szse",
    "fund_etf_spot_em",
    "stock_hsgt_fund_flow_summary_em",
    "stock_hsgt_hist_em",
    "stock_hsgt_hold_stock_em",
    "stock_hsgt_individual_em",
]

_LINKS = {"沪股通": "SH", "深股通": "SZ"}
_MAX_NET_YI = 1_000.0  # |daily net flow per link| <= 1,000 亿 (100 bn yuan)
_MAX_GROSS_YI = 5_000.0  # daily buy or sell turnover per link <= 5,000 亿


def _link(symbol: str, source: str) -> str:
    if symbol not in _LINKS:
        raise AdapterError(
            f"{source}: `symbol` must be '沪股通' or '深股通' (one northbound link; the canonical "
            f"table is per link); got {symbol!r}. Fetch each link and pass them separately.",
            source=source,
        )
    return _LINKS[symbol]


def stock_hsgt_hist_em(frame: Any, *, symbol: Literal["沪股通", "深股通"]) -> pl.DataFrame:
    """Daily flows of one northbound link from ``ak.stock_hsgt_hist_em(symbol=...)``.

    ==============  =========  ============  =====================================
    source column   unit       canonical     conversion
    ==============  =========  ============  =====================================
    日期            date       date          parsed
    当日成交净买额  亿元       net_buy       x 1e8 (trade-based: buy - sell)
    买入成交额      亿元       buy_amount    x 1e8
    卖出成交额      亿元       sell_amount   x 1e8
    当日资金流入    亿元       quota_inflow  x 1e8 (quota - balance; counts unfilled
                                             buy orders)
    当日余额,       亿元,      --            dropped (quota balance; cumulative;
    历史累计净买额, 万亿元,                  holdings value; index columns)
    持股市值, ...   元
    ==============  =========  ============  =====================================

    ``link`` comes from `symbol` (沪股通 -> SH, 深股通 -> SZ); ``flow_definition`` is
    ``'net_buy'`` (Eastmoney's headline figure). Days with every flow null (after 2024-08-16
    Eastmoney blanks them) are dropped. Unit check: |net| and |inflow| <= 1,000 亿, buy / sell
    <= 5,000 亿 a day, so yuan values are caught.
    """
    source = "akshare stock_hsgt_hist_em"
    link = _link(symbol, source)
    df = source_frame(frame, source)
    cols = {
        "日期": "date",
        "当日成交净买额": "亿元",
        "买入成交额": "亿元",
        "卖出成交额": "亿元",
        "当日资金流入": "亿元",
    }
    require_columns(df, source, cols)
    nums = ["当日成交净买额", "买入成交额", "卖出成交额", "当日资金流入"]
    df = parse_floats(df, nums, source)
    for c in ("当日成交净买额", "当日资金流入"):
        check_range(
            df, c, source, hi=_MAX_NET_YI, absolute=True, unit="亿元 (100m yuan)", show=["日期"]
        )
    for c in ("买入成交额", "卖出成交额"):
        check_range(df, c, source, lo=0, hi=_MAX_GROSS_YI, unit="亿元 (100m yuan)", show=["日期"])
    out = df.select(
        parse_dates(df, "日期", source).alias("date"),
        pl.lit(link).alias("link"),
        pl.lit("net_buy").alias("flow_definition"),
        (pl.col("当日资金流入") * YUAN_PER_YI).alias("quota_inflow"),
        (pl.col("当日成交净买额") * YUAN_PER_YI).alias("net_buy"),
        (pl.col("买入成交额") * YUAN_PER_YI).alias("buy_amount"),
        (pl.col("卖出成交额") * YUAN_PER_YI).alias("sell_amount"),
    )
    out = drop_rows(
        out,
        pl.all_horizontal(pl.col("quota_inflow", "net_buy", "buy_amount", "sell_amount").is_null()),
        source,
        reason="no flow value at all (days without northbound trading)",
        level=logging.INFO,
    )
    return finish("northbound_flows", dedupe(out, ["date", "link"], source), source)


def stock_hsgt_fund_flow_summary_em(frame: Any) -> pl.DataFrame:
    """Today's flows per link from ``ak.stock_hsgt_fund_flow_summary_em()`` (northbound rows).

    ==============  =========  ============  ==========================================
    source column   unit       canonical     conversion
    ==============  =========  ============  ==========================================
    交易日          date       date          parsed
    板块            text       link          沪股通 -> SH, 深股通 -> SZ
    资金方向        北向/南向  (filter)      only 北向 rows kept
    成交净买额      亿元       net_buy       x 1e8
    资金净流入      亿元       quota_inflow  x 1e8
    当日资金余额,   亿元, ...  --            dropped
    交易状态, ...
    ==============  =========  ============  ==========================================

    ``buy_amount`` / ``sell_amount`` are null (not in this frame); ``flow_definition`` is
    ``'net_buy'``. Unit check: |values| <= 1,000 亿.
    """
    source = "akshare stock_hsgt_fund_flow_summary_em"
    df = source_frame(frame, source)
    require_columns(
        df,
        source,
        {
            "交易日": "date",
            "板块": "沪股通 / 深股通 / 港股通(...)",
            "资金方向": "北向 / 南向",
            "成交净买额": "亿元",
            "资金净流入": "亿元",
        },
    )
    df = drop_rows(
        df,
        ~(
            (pl.col("资金方向").cast(pl.String) == "北向")
            & pl.col("板块").cast(pl.String).is_in(list(_LINKS))
        ),
        source,
        reason="not a northbound link (southbound 港股通 rows)",
        show=["交易日", "板块", "资金方向"],
        level=logging.INFO,
    )
    df = parse_floats(df, ["成交净买额", "资金净流入"], source)
    for c in ("成交净买额", "资金净流入"):
        check_range(
            df,
            c,
            source,
            hi=_MAX_NET_YI,
            absolute=True,
            unit="亿元 (100m yuan)",
            show=["交易日", "板块"],
        )
    out = df.select(
        parse_dates(df, "交易日", source).alias("date"),
        pl.col("板块").cast(pl.String).replace_strict(_LINKS).alias("link"),
        pl.lit("net_buy").alias("flow_definition"),
        (pl.col("资金净流入") * YUAN_PER_YI).alias("quota_inflow"),
        (pl.col("成交净买额") * YUAN_PER_YI).alias("net_buy"),
        pl.lit(None, pl.Float64).alias("buy_amount"),
        pl.lit(None, pl.Float64).alias("sell_amount"),
    )
    return finish("northbound_flows", dedupe(out, ["date", "link"], source), source)


def stock_hsgt_hold_stock_em(frame: Any) -> pl.DataFrame:
    """One day's northbound holdings per stock from ``ak.stock_hsgt_hold_stock_em(...)``.

    ================  ============  =========  =========================================
    source column     unit          canonical  conversion
    ================  ============  =========  =========================================
    日期              date          date       parsed
    代码              600519        asset      bare code -> 600519.SH
    今日持股-股数     万 (10k sh.)  shares     x 10,000, rounded -> Int64
    今日持股-占总股本比  %          ratio      / 100 -> fraction
    今日持股-市值     万元          --         unit check only
    今日收盘价        yuan          --         unit check only
    今日持股-占流通股比  %          --         dropped
    *增持估计-*       万 / % / ‰    --         dropped (estimates; 占比 columns in ‰)
    ================  ============  =========  =========================================

    Unit check: ``今日持股-市值 / 今日持股-股数`` (both in 万) must equal the close within 5 %;
    ratios within [0, 100]. The share count is rounded to 10k shares at the source (two decimals
    of 万), so ``shares`` is accurate to about 100 shares.
    """
    source = "akshare stock_hsgt_hold_stock_em"
    df = source_frame(frame, source)
    require_columns(
        df,
        source,
        {
            "日期": "date",
            "代码": "6-digit code",
            "今日收盘价": "yuan",
            "今日持股-股数": "万 (10k shares)",
            "今日持股-市值": "万元",
            "今日持股-占总股本比": "%",
        },
    )
    df = drop_beijing(
        df.with_columns(pl.col("代码").cast(pl.String).str.zfill(6)),
        "代码",
        source,
        show=["代码", "日期"],
    )
    df = parse_floats(
        df, ["今日收盘价", "今日持股-股数", "今日持股-市值", "今日持股-占总股本比"], source
    )
    check_range(
        df, "今日持股-占总股本比", source, lo=0, hi=100, unit="percent", show=["代码", "日期"]
    )
    check_range(df, "今日持股-股数", source, lo=0, unit="万股", show=["代码", "日期"])
    check_ratio(
        df,
        pl.col("今日持股-市值") / pl.col("今日持股-股数") / pl.col("今日收盘价"),
        "今日持股-股数",
        source,
        expected="今日持股-市值 (万元) / 今日持股-股数 (万股) / 今日收盘价",
        lo=0.95,
        hi=1.05,
        show=["代码", "日期", "今日持股-市值", "今日收盘价"],
    )
    out = df.select(
        parse_dates(df, "日期", source).alias("date"),
        parse_codes(df, "代码", source).alias("asset"),
        (pl.col("今日持股-股数") * YUAN_PER_WAN).round().cast(pl.Int64).alias("shares"),
        (pl.col("今日持股-占总股本比") / 100).alias("ratio"),
    ).drop_nulls("shares")
    return finish("northbound", dedupe(out, ["date", "asset"], source), source)


def stock_hsgt_individual_em(frame: Any, *, symbol: str | int) -> pl.DataFrame:
    """Northbound holding history of one A-share from ``ak.stock_hsgt_individual_em(symbol)``.

    =================  =========  =========  ===================================
    source column      unit       canonical  conversion
    =================  =========  =========  ===================================
    持股日期           date       date       parsed
    (symbol argument)  002008     asset      normalized (the frame has no code)
    持股数量           shares     shares     Int64
    持股数量占A股百分比  %        ratio      / 100 -> fraction
    持股市值           yuan       --         unit check only
    当日收盘价         yuan       --         unit check only
    今日增持股数, ...  shares /   --         dropped (changes; recompute from
                       yuan                  shares)
    =================  =========  =========  ===================================

    Unit check: ``持股市值 / 持股数量`` must equal ``当日收盘价`` within 5 %. Rows follow the
    HKEX calendar as published (see ``factorlab.adapters.tushare.hk_hold``).
    """
    source = "akshare stock_hsgt_individual_em"
    df = source_frame(frame, source)
    require_columns(
        df,
        source,
        {
            "持股日期": "date",
            "当日收盘价": "yuan",
            "持股数量": "shares (股)",
            "持股市值": "yuan",
            "持股数量占A股百分比": "%",
        },
    )
    if pl.select(is_beijing_code(pl.lit(str(symbol)))).item():
        raise AdapterError(
            f"{source}: `symbol` {symbol!r} is a Beijing Stock Exchange code, "
            "outside the A-share model (every adapter drops Beijing rows).",
            source=source,
        )
    try:
        asset = normalize_asset_code(symbol)
    except Exception as exc:
        raise AdapterError(f"{source}: `symbol`: {exc}", source=source) from None
    df = parse_floats(df, ["当日收盘价", "持股数量", "持股市值", "持股数量占A股百分比"], source)
    check_range(df, "持股数量占A股百分比", source, lo=0, hi=100, unit="percent", show=["持股日期"])
    check_ratio(
        df,
        pl.col("持股市值") / pl.col("持股数量") / pl.col("当日收盘价"),
        "持股数量",
        source,
        expected="持股市值 (元) / 持股数量 (股) / 当日收盘价",
        lo=0.95,
        hi=1.05,
        show=["持股日期", "持股市值", "当日收盘价"],
    )
    out = df.select(
        parse_dates(df, "持股日期", source).alias("date"),
        pl.lit(asset).alias("asset"),
        pl.col("持股数量").round().cast(pl.Int64).alias("shares"),
        (pl.col("持股数量占A股百分比") / 100).alias("ratio"),
    ).drop_nulls("shares")
    return finish("northbound", dedupe(out, ["date", "asset"], source), source)


# --- ETFs (seed 003's flows: bars from fund_etf_hist_em, shares from the scale functions) --------

#: A fund with a median share count below this is in the wrong unit (万份 / 亿份, not 份).
_MIN_MEDIAN_UNITS = 1e7


def _etf_code(code: Any, source: str) -> str:
    try:
        text = str(code).strip()
        return normalize_etf_code(text.zfill(6) if text.isdigit() else text)
    except AssetCodeError as exc:
        raise AdapterError(f"{source}: {exc}", source=source) from None


def fund_etf_hist_em(frame: Any, *, symbol: str | int) -> pl.DataFrame:
    """Daily bars of one A-share ETF from ``ak.fund_etf_hist_em(symbol, adjust="")``.

    ==============  ================  =========  ==================================
    source column   unit              canonical  conversion
    ==============  ================  =========  ==================================
    日期            date              date       parsed
    (symbol)        512480            etf        normalized (512480.SH)
    开盘/最高/      yuan per unit     open/high/  none (pass ``adjust=""``: unadjusted)
    最低/收盘                         low/close
    成交量          lots (手, 100)    volume     x 100 -> units
    成交额          yuan              amount     none
    振幅, 涨跌幅,   %, yuan           --         dropped (recomputed from bars)
    涨跌额, 换手率
    ==============  ================  =========  ==================================

    Unit check: the VWAP ``成交额 / (成交量 x 100)`` must lie within the day's low..high (5 %
    tolerance) on 90 % of rows with volume: a 成交量 in units (100x) fails it. No shares
    outstanding or NAV: the rows are ``etf_prices`` (bars), so only the heuristic flow exists
    until shares come from :func:`fund_etf_scale_sse` / tushare ``fund_share``.

    Examples
    --------
    >>> raw = pl.DataFrame({"日期": ["2024-09-30"], "开盘": [1.30], "收盘": [1.351],
    ...     "最高": [1.351], "最低": [1.29], "成交量": [61_000_000.0], "成交额": [8.25e9]})
    >>> fund_etf_hist_em(raw, symbol="512880").select("etf", "volume", "amount").row(0)
    ('512880.SH', 6100000000.0, 8250000000.0)
    """
    source = "akshare fund_etf_hist_em"
    df = source_frame(frame, source)
    require_columns(
        df,
        source,
        {
            "日期": "date",
            "开盘": "yuan",
            "收盘": "yuan",
            "最高": "yuan",
            "最低": "yuan",
            "成交量": "lots (手)",
            "成交额": "yuan",
        },
    )
    etf = _etf_code(symbol, source)
    df = parse_floats(df, ["开盘", "收盘", "最高", "最低", "成交量", "成交额"], source)
    check_range(df, "成交量", source, lo=0, unit="lots", show=["日期"])
    vwap = pl.col("成交额") / (pl.col("成交量") * SHARES_PER_LOT)
    check_ratio(
        df.filter(pl.col("成交量") > 0),
        pl.when(vwap < pl.col("最低") * 0.95)
        .then(vwap / pl.col("最低"))
        .when(vwap > pl.col("最高") * 1.05)
        .then(vwap / pl.col("最高"))
        .otherwise(1.0),
        "成交量",
        source,
        expected="VWAP 成交额/(成交量*100) relative to the day's low..high",
        lo=0.95,
        hi=1.05,
        show=["日期", "收盘", "成交额"],
    )
    out = df.select(
        parse_dates(df, "日期", source).alias("date"),
        pl.lit(etf).alias("etf"),
        pl.col("开盘").alias("open"),
        pl.col("最高").alias("high"),
        pl.col("最低").alias("low"),
        pl.col("收盘").alias("close"),
        (pl.col("成交量") * SHARES_PER_LOT).alias("volume"),
        pl.col("成交额").alias("amount"),
    ).drop_nulls(["open", "high", "low", "close"])
    return finish("etf_prices", dedupe(out, ["date", "etf"], source), source)


def _shares(df: pl.DataFrame, code_col: str, share_col: str, day: Any, source: str) -> pl.DataFrame:
    """(date, etf, shares_outstanding) from one day's per-fund share counts in units (份)."""
    df = parse_floats(df, [share_col], source)
    check_range(df, share_col, source, lo=0, unit="units (份)", show=[code_col])
    med = df[share_col].median()
    if med is not None and med < _MIN_MEDIAN_UNITS:
        raise AdapterError(
            f"{source}: column `{share_col}` is expected in units (份); its median is {med:,.0f}, "
            f"below {_MIN_MEDIAN_UNITS:,.0f}, which suggests 万份 or 亿份. Pass the frame as "
            "akshare returns it (its code converts SSE's 万份 to 份).",
            source=source,
            column=share_col,
        )
    dates = (
        parse_dates(df, "统计日期", source)
        if "统计日期" in df.columns
        else pl.Series("date", [day] * df.height, dtype=pl.Date)
    )
    if dates.null_count() == df.height:
        raise AdapterError(
            f"{source}: pass `date`, the day the share counts refer to.", source=source
        )
    out = df.select(
        dates.alias("date"),
        pl.col(code_col)
        .map_elements(lambda c: _etf_code(c, source), return_dtype=pl.String)
        .alias("etf"),
        pl.col(share_col).alias("shares_outstanding"),
    ).drop_nulls()
    return dedupe(out, ["date", "etf"], source).sort("date", "etf")


def fund_etf_scale_sse(frame: Any, *, date: Any = None) -> pl.DataFrame:
    """SSE ETF shares on one day from ``ak.fund_etf_scale_sse(date="20240930")``.

    Columns used: 基金代码 (e.g. 510300), 基金份额 (units, 份: akshare multiplies SSE's
    TOT_VOL in 万份 by 10,000) and 统计日期 when present, else `date` (the argument of the
    call). One date per call: concatenate calls for a history, then Δ shares x NAV is the
    exact flow (``factorlab.etf.etf_flows``). Unit check: counts >= 0 and a median of at least
    10,000,000 units (a median below it means 万份 or 亿份).

    Returns ``date, etf, shares_outstanding``.
    """
    source = "akshare fund_etf_scale_sse"
    df = source_frame(frame, source)
    require_columns(df, source, {"基金代码": "fund code", "基金份额": "units (份)"})
    day = parse_dates(pl.DataFrame({"d": [date]}), "d", source)[0] if date is not None else None
    return _shares(df, "基金代码", "基金份额", day, source)


def fund_etf_scale_szse(frame: Any, *, date: Any) -> pl.DataFrame:
    """SZSE ETF shares from ``ak.fund_etf_scale_szse()``: **today's only** (the SZSE page
    has no history), so `date` (the day it was fetched) is required; a daily history means
    fetching every day (or tushare ``fund_share``). Columns: 基金代码, 基金份额 (units, 份).

    Returns ``date, etf, shares_outstanding``.
    """
    source = "akshare fund_etf_scale_szse"
    df = source_frame(frame, source)
    require_columns(df, source, {"基金代码": "fund code", "基金份额": "units (份)"})
    day = parse_dates(pl.DataFrame({"d": [date]}), "d", source)[0]
    return _shares(df, "基金代码", "基金份额", day, source)


def fund_etf_spot_em(frame: Any, *, date: Any) -> pl.DataFrame:
    """Every ETF's latest share count from ``ak.fund_etf_spot_em()`` (代码, 最新份额 in units):
    today's only, so `date` (the day it was fetched) is required.

    Returns ``date, etf, shares_outstanding``.
    """
    source = "akshare fund_etf_spot_em"
    df = source_frame(frame, source)
    require_columns(df, source, {"代码": "fund code", "最新份额": "units (份)"})
    day = parse_dates(pl.DataFrame({"d": [date]}), "d", source)[0]
    return _shares(df, "代码", "最新份额", day, source)
