"""JoinQuant (jqdatasdk) ``finance`` tables -> canonical tables.

Each function takes the pandas DataFrame ``finance.run_query(query(finance.<TABLE>)...)``
returns, columns as documented in the JQData dictionary
(https://www.joinquant.com/help/api/help#name:JQData, 沪深港通 section).
"""

from __future__ import annotations

import logging
from typing import Any

import polars as pl

from factorlab.adapters._common import (
    YUAN_PER_YI,
    check_range,
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

__all__ = ["NORTHBOUND_LINKS", "stk_hk_hold_info", "stk_ml_quota", "stk_ml_quota_flows"]

#: JoinQuant ``link_id`` of the northbound links (310003/310004 are southbound 港股通 in
#: STK_ML_QUOTA; 310005 is southbound in STK_HK_HOLD_INFO).
NORTHBOUND_LINKS: dict[int, str] = {310001: "SH", 310002: "SZ"}

_QUOTA_RANGE_YI = (50.0, 1_000.0)  # daily quota per link: 130 亿, 520 亿 from 2018-05-01


def _northbound(df: pl.DataFrame, source: str) -> pl.DataFrame:
    link_id = pl.col("link_id").cast(pl.String).str.strip_chars().cast(pl.Int64, strict=False)
    df = drop_rows(
        df.with_columns(link_id.alias("link_id")),
        ~pl.col("link_id").is_in(list(NORTHBOUND_LINKS)),
        source,
        reason="`link_id` not a northbound link (southbound rows)",
        level=logging.INFO,
    )
    return df.with_columns(pl.col("link_id").replace_strict(NORTHBOUND_LINKS).alias("link"))


def _quota_frame(frame: Any, source: str) -> pl.DataFrame:
    df = source_frame(frame, source)
    require_columns(
        df,
        source,
        {
            "day": "date",
            "link_id": "310001 沪股通 / 310002 深股通",
            "quota_daily": "亿元",
            "quota_daily_balance": "亿元",
            "buy_amount": "亿元",
            "sell_amount": "亿元",
        },
    )
    df = _northbound(df, source)
    nums = ["quota_daily", "quota_daily_balance", "buy_amount", "sell_amount"]
    df = parse_floats(df, nums, source)
    lo, hi = _QUOTA_RANGE_YI
    check_range(
        df,
        "quota_daily",
        source,
        lo=lo,
        hi=hi,
        unit="亿元 (130 or 520 per link)",
        show=["day", "link_id"],
    )
    for c in ("buy_amount", "sell_amount"):
        check_range(df, c, source, lo=0, hi=5_000, unit="亿元", show=["day", "link_id"])
    return df.with_columns(
        parse_dates(df, "day", source).alias("date"),
        *[(pl.col(c) * YUAN_PER_YI).alias(c) for c in nums],
    )


def stk_ml_quota(frame: Any) -> pl.DataFrame:
    """The ``quotas`` table from ``finance.STK_ML_QUOTA`` (northbound links only).

    ===================  ==========  ==============  ===============================
    source column        unit        canonical       conversion
    ===================  ==========  ==============  ===============================
    day                  date        date            parsed
    link_id              310001/2    link            310001 -> SH, 310002 -> SZ;
                                                     310003/310004 (southbound) dropped
    quota_daily          亿元        quota_daily     x 1e8
    quota_daily_balance  亿元        quota_balance   x 1e8
    buy_amount           亿元        buy_amount      x 1e8
    sell_amount          亿元        sell_amount     x 1e8
    buy_volume, ...,     笔 / 亿元   --              dropped
    quota, sum_amount
    ===================  ==========  ==============  ===============================

    Quota-based inflow = quota_daily - quota_balance; trade-based net buy = buy - sell (see
    :func:`stk_ml_quota_flows`). Rows with any of the four values missing (JoinQuant stopped
    them after 2024-08-18) are dropped. Unit check: quota_daily within 50..1,000 亿.
    """
    source = "joinquant STK_ML_QUOTA"
    df = _quota_frame(frame, source)
    out = df.select(
        "date",
        "link",
        "quota_daily",
        pl.col("quota_daily_balance").alias("quota_balance"),
        "buy_amount",
        "sell_amount",
    ).drop_nulls()
    return finish("quotas", dedupe(out, ["date", "link"], source), source)


def stk_ml_quota_flows(frame: Any) -> pl.DataFrame:
    """``northbound_flows`` from ``finance.STK_ML_QUOTA``: both meanings, side by side.

    quota_inflow = (quota_daily - quota_daily_balance) x 1e8; net_buy = (buy_amount -
    sell_amount) x 1e8; buy / sell x 1e8; ``flow_definition`` ``'quota_inflow'`` (JoinQuant's
    usual "net flow" is the quota-based one). A value is null where its inputs are.
    """
    source = "joinquant STK_ML_QUOTA"
    df = _quota_frame(frame, source)
    out = df.select(
        "date",
        "link",
        pl.lit("quota_inflow").alias("flow_definition"),
        (pl.col("quota_daily") - pl.col("quota_daily_balance")).alias("quota_inflow"),
        (pl.col("buy_amount") - pl.col("sell_amount")).alias("net_buy"),
        "buy_amount",
        "sell_amount",
    )
    out = drop_rows(
        out,
        pl.all_horizontal(pl.col("quota_inflow", "net_buy").is_null()),
        source,
        reason="no flow value at all",
        level=logging.INFO,
    )
    return finish("northbound_flows", dedupe(out, ["date", "link"], source), source)


def stk_hk_hold_info(frame: Any) -> pl.DataFrame:
    """The ``northbound`` table from ``finance.STK_HK_HOLD_INFO``.

    =============  ============  =========  =======================================
    source column  unit          canonical  conversion
    =============  ============  =========  =======================================
    day            date          date       parsed (HKEX calendar, as published)
    link_id        310001/2/5    (filter)   310001 沪股通, 310002 深股通 kept;
                                            310005 (southbound 港股通) dropped
    code           600519.XSHG   asset      normalized -> 600519.SH
    share_number   shares (股)   shares     Int64
    share_ratio    %             ratio      / 100 -> fraction
    name,          text          --         dropped
    link_name
    =============  ============  =========  =======================================

    Unit check: share_ratio within [0, 100].
    """
    source = "joinquant STK_HK_HOLD_INFO"
    df = source_frame(frame, source)
    require_columns(
        df,
        source,
        {
            "day": "date",
            "link_id": "310001 / 310002 / 310005",
            "code": "code, e.g. 600519.XSHG",
            "share_number": "shares (股)",
            "share_ratio": "%",
        },
    )
    df = drop_beijing(_northbound(df, source), "code", source, show=["day", "code"])
    df = parse_floats(df, ["share_number", "share_ratio"], source)
    check_range(df, "share_ratio", source, lo=0, hi=100, unit="percent", show=["day", "code"])
    check_range(df, "share_number", source, lo=0, unit="shares", show=["day", "code"])
    out = df.select(
        parse_dates(df, "day", source).alias("date"),
        parse_codes(df, "code", source).alias("asset"),
        pl.col("share_number").round().cast(pl.Int64).alias("shares"),
        (pl.col("share_ratio") / 100).alias("ratio"),
    ).drop_nulls("shares")
    return finish("northbound", dedupe(out, ["date", "asset"], source), source)
