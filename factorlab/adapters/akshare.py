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
from factorlab.errors import AdapterError

__all__ = [
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
    cols = {"日期": "date", "当日成交净买额": "亿元", "买入成交额": "亿元", "卖出成交额": "亿元",
            "当日资金流入": "亿元"}
    require_columns(df, source, cols)
    nums = ["当日成交净买额", "买入成交额", "卖出成交额", "当日资金流入"]
    df = parse_floats(df, nums, source)
    for c in ("当日成交净买额", "当日资金流入"):
        check_range(df, c, source, hi=_MAX_NET_YI, absolute=True, unit="亿元 (100m yuan)",
                     show=["日期"])
    for c in ("买入成交额", "卖出成交额"):
        check_range(df, c, source, lo=0, hi=_MAX_GROSS_YI, unit="亿元 (100m yuan)",
                     show=["日期"])
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
        out, pl.all_horizontal(pl.col("quota_inflow", "net_buy", "buy_amount", "sell_amount")
                               .is_null()),
        source, reason="no flow value at all (days without northbound trading)",
        level=logging.INFO)
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
    require_columns(df, source, {"交易日": "date", "板块": "沪股通 / 深股通 / 港股通(...)",
                          "资金方向": "北向 / 南向", "成交净买额": "亿元", "资金净流入": "亿元"})
    df = drop_rows(df, ~((pl.col("资金方向").cast(pl.String) == "北向")
                          & pl.col("板块").cast(pl.String).is_in(list(_LINKS))), source,
                    reason="not a northbound link (southbound 港股通 rows)",
                    show=["交易日", "板块", "资金方向"], level=logging.INFO)
    df = parse_floats(df, ["成交净买额", "资金净流入"], source)
    for c in ("成交净买额", "资金净流入"):
        check_range(df, c, source, hi=_MAX_NET_YI, absolute=True, unit="亿元 (100m yuan)",
                     show=["交易日", "板块"])
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
    require_columns(df, source, {"日期": "date", "代码": "6-digit code", "今日收盘价": "yuan",
                          "今日持股-股数": "万 (10k shares)", "今日持股-市值": "万元",
                          "今日持股-占总股本比": "%"})
    df = drop_beijing(df.with_columns(pl.col("代码").cast(pl.String).str.zfill(6)), "代码", source,
                      show=["代码", "日期"])
    df = parse_floats(df, ["今日收盘价", "今日持股-股数", "今日持股-市值", "今日持股-占总股本比"],
                 source)
    check_range(df, "今日持股-占总股本比", source, lo=0, hi=100, unit="percent",
                 show=["代码", "日期"])
    check_range(df, "今日持股-股数", source, lo=0, unit="万股", show=["代码", "日期"])
    check_ratio(df, pl.col("今日持股-市值") / pl.col("今日持股-股数") / pl.col("今日收盘价"),
                 "今日持股-股数", source,
                 expected="今日持股-市值 (万元) / 今日持股-股数 (万股) / 今日收盘价",
                 lo=0.95, hi=1.05, show=["代码", "日期", "今日持股-市值", "今日收盘价"])
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
    require_columns(df, source, {"持股日期": "date", "当日收盘价": "yuan",
                                 "持股数量": "shares (股)", "持股市值": "yuan",
                                 "持股数量占A股百分比": "%"})
    if pl.select(is_beijing_code(pl.lit(str(symbol)))).item():
        raise AdapterError(f"{source}: `symbol` {symbol!r} is a Beijing Stock Exchange code, "
                           "outside the A-share model (every adapter drops Beijing rows).",
                           source=source)
    try:
        asset = normalize_asset_code(symbol)
    except Exception as exc:
        raise AdapterError(f"{source}: `symbol`: {exc}", source=source) from None
    df = parse_floats(df, ["当日收盘价", "持股数量", "持股市值", "持股数量占A股百分比"], source)
    check_range(df, "持股数量占A股百分比", source, lo=0, hi=100, unit="percent",
                 show=["持股日期"])
    check_ratio(df, pl.col("持股市值") / pl.col("持股数量") / pl.col("当日收盘价"), "持股数量",
                 source, expected="持股市值 (元) / 持股数量 (股) / 当日收盘价", lo=0.95, hi=1.05,
                 show=["持股日期", "持股市值", "当日收盘价"])
    out = df.select(
        parse_dates(df, "持股日期", source).alias("date"),
        pl.lit(asset).alias("asset"),
        pl.col("持股数量").round().cast(pl.Int64).alias("shares"),
        (pl.col("持股数量占A股百分比") / 100).alias("ratio"),
    ).drop_nulls("shares")
    return finish("northbound", dedupe(out, ["date", "asset"], source), source)
