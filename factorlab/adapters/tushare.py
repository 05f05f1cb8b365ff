"""tushare pro endpoints -> canonical tables (units converted, codes normalized).

Each function takes the DataFrame a ``pro.<endpoint>(...)`` call returns (pandas or Polars, columns
as documented at https://tushare.pro/document/2) and returns a Polars DataFrame. Column tables in
the docstrings read: source column (unit) -> canonical column: conversion.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any, Literal

import polars as pl

from factorlab.adapters._common import (
    SHARES_PER_LOT,
    YUAN_PER_MILLION,
    YUAN_PER_THOUSAND,
    YUAN_PER_WAN,
    check_range,
    check_ratio,
    dedupe,
    drop_beijing,
    drop_rows,
    finish,
    logger,
    parse_codes,
    parse_dates,
    parse_floats,
    require_columns,
    source_frame,
)
from factorlab.calendar import sessions, to_date
from factorlab.errors import AdapterError

__all__ = [
    "FLOW_DEFINITION_CHANGE",
    "FLOW_MATCH_TOLERANCE",
    "INDEX_NAMES",
    "ROW_CAPS",
    "adj_factor",
    "ccass_hold_detail",
    "ccass_participants",
    "daily",
    "daily_basic",
    "dividend",
    "etf_share_size",
    "fund_share",
    "fund_share_daily",
    "hk_hold",
    "hk_hold_snapshots",
    "index_daily",
    "index_weight",
    "moneyflow_hsgt",
    "prices",
    "stock_basic",
    "warn_if_capped",
]

#: From this day on tushare ``moneyflow_hsgt`` hgt / sgt are trade-based net buy (成交净买额);
#: before it they are the quota used (当日资金流入 = daily quota - quota balance).
FLOW_DEFINITION_CHANGE = dt.date(2018, 8, 1)

#: tushare index codes -> canonical index names (other codes keep their tushare code).
INDEX_NAMES: dict[str, str] = {
    "000300.SH": "csi300",
    "000905.SH": "csi500",
    "000852.SH": "csi1000",
    "000906.SH": "csi800",
    "000016.SH": "sse50",
    "000001.SH": "sse_composite",
    "000985.CSI": "csi_all",
    "399001.SZ": "szse_component",
    "399006.SZ": "chinext",
}

#: Yuan: tushare's headline flow is the trade-based net buy when it equals buy - sell within this.
FLOW_MATCH_TOLERANCE = 1e6

#: Rows per call tushare returns at most (its docs: 每次最多返回 / 单次最多提取); a frame of
#: exactly this height was probably cut off: page the query (docs/real-data.md).
ROW_CAPS: dict[str, int] = {
    "moneyflow_hsgt": 300,
    "hk_hold": 3800,
    "daily": 6000,
    "daily_basic": 6000,
}

_VWAP_TOLERANCE = 0.05  # implied VWAP may sit 5% outside low..high (rounding, odd lots)
_MAX_NET_FLOW_MN = 100_000.0  # |daily net flow per link| <= 100 bn yuan, in million yuan


def warn_if_capped(df: pl.DataFrame, endpoint: str, source: str | None = None) -> bool:
    """Log a WARNING (and return True) when `df` has exactly the row cap of tushare `endpoint`
    (:data:`ROW_CAPS`): the call was most likely cut off and later rows are missing.

    Examples
    --------
    >>> warn_if_capped(pl.DataFrame({"x": range(300)}), "moneyflow_hsgt")
    True
    """
    cap = ROW_CAPS.get(endpoint)
    if cap is None or df.height != cap:
        return False
    logger.warning(
        "%s: the frame has exactly %d rows, tushare's cap per `%s` call: it was probably cut "
        "off and later rows are missing. Page the query (one call per trade_date or per "
        "date range small enough to stay under the cap, then concatenate; see "
        "docs/real-data.md).",
        source or f"tushare {endpoint}",
        cap,
        endpoint,
    )
    return True


def _key_dates(
    df: pl.DataFrame, source: str, *, date: str = "trade_date", code: str | None = "ts_code"
) -> pl.DataFrame:
    if code is not None:
        df = drop_beijing(df, code, source, show=[c for c in (code, date) if c in df.columns])
    cols = [parse_dates(df, date, source).alias("date")]
    if code is not None:
        cols.append(parse_codes(df, code, source).alias("asset"))
    return df.with_columns(cols)


def daily(frame: Any) -> pl.DataFrame:
    """Daily bars from tushare ``daily`` (unadjusted). Doc: https://tushare.pro/document/2?doc_id=27

    ==============  ============  =============  =============================
    source column   unit          canonical      conversion
    ==============  ============  =============  =============================
    ts_code         600519.SH     asset          normalized code
    trade_date      YYYYMMDD      date           parsed
    open/high/low/  yuan          same names     none
    close
    vol             lots (手)     volume         x 100 -> shares
    amount          thousand yuan amount         x 1,000 -> yuan
    ==============  ============  =============  =============================

    Unit check: the VWAP implied by ``amount * 1000 / (vol * 100)`` must lie within the day's
    low..high (5 % tolerance) on 90 % of rows with volume; an ``amount`` in yuan (1,000x) or a
    ``vol`` in shares (100x) fails it.

    Returns the price columns of the ``prices`` table (combine with :func:`prices`).

    Nulls and NaN
    -------------
    NaN becomes null; rows with a null price are dropped (a missing row means not trading).

    Examples
    --------
    >>> raw = pl.DataFrame({"ts_code": ["600519.SH"], "trade_date": ["20200102"],
    ...     "open": [1128.0], "high": [1145.06], "low": [1116.0], "close": [1130.0],
    ...     "vol": [148099.0], "amount": [1.6804e7]})
    >>> daily(raw).select("date", "volume", "amount").row(0)
    (datetime.date(2020, 1, 2), 14809900.0, 16804000000.0)
    """
    source = "tushare daily"
    df = source_frame(frame, source)
    warn_if_capped(df, "daily", source)
    require_columns(
        df,
        source,
        {
            "ts_code": "code, e.g. 600519.SH",
            "trade_date": "YYYYMMDD",
            "open": "yuan",
            "high": "yuan",
            "low": "yuan",
            "close": "yuan",
            "vol": "lots of 100 shares (手)",
            "amount": "thousand yuan (千元)",
        },
    )
    df = parse_floats(df, ["open", "high", "low", "close", "vol", "amount"], source)
    df = _key_dates(df, source)
    check_range(df, "vol", source, lo=0, unit="lots", show=["ts_code", "trade_date"])
    check_range(df, "amount", source, lo=0, unit="thousand yuan", show=["ts_code", "trade_date"])
    vwap = pl.col("amount") * YUAN_PER_THOUSAND / (pl.col("vol") * SHARES_PER_LOT)
    t = _VWAP_TOLERANCE
    check_ratio(
        df.filter(pl.col("vol") > 0),
        pl.when(vwap < pl.col("low") * (1 - t))
        .then(vwap / pl.col("low"))
        .when(vwap > pl.col("high") * (1 + t))
        .then(vwap / pl.col("high"))
        .otherwise(1.0),
        "amount",
        source,
        expected="VWAP amount*1000/(vol*100) relative to the day's low..high",
        lo=1 - t,
        hi=1 + t,
        show=["ts_code", "trade_date", "close", "vol"],
    )
    out = df.select(
        "date",
        "asset",
        "open",
        "high",
        "low",
        "close",
        (pl.col("vol") * SHARES_PER_LOT).alias("volume"),
        (pl.col("amount") * YUAN_PER_THOUSAND).alias("amount"),
    ).drop_nulls(["open", "high", "low", "close"])
    return dedupe(out, ["date", "asset"], source).sort("date", "asset")


def adj_factor(frame: Any) -> pl.DataFrame:
    """Back-adjustment factors from tushare ``adj_factor``.
    Doc: https://tushare.pro/document/2?doc_id=28

    ==============  ==========  ==========  ==========
    source column   unit        canonical   conversion
    ==============  ==========  ==========  ==========
    ts_code         code        asset       normalized
    trade_date      YYYYMMDD    date        parsed
    adj_factor      factor      adj_factor  none (back-adjusted price = close x adj_factor)
    ==============  ==========  ==========  ==========

    Examples
    --------
    >>> adj_factor(pl.DataFrame({"ts_code": ["000001.SZ"], "trade_date": ["20200102"],
    ...                          "adj_factor": [108.031]})).row(0)
    (datetime.date(2020, 1, 2), '000001.SZ', 108.031)
    """
    source = "tushare adj_factor"
    df = source_frame(frame, source)
    require_columns(
        df,
        source,
        {
            "ts_code": "code",
            "trade_date": "YYYYMMDD",
            "adj_factor": "cumulative back-adjustment factor",
        },
    )
    df = _key_dates(parse_floats(df, ["adj_factor"], source), source)
    check_range(
        df, "adj_factor", source, lo=1e-6, unit="a positive factor", show=["ts_code", "trade_date"]
    )
    out = df.select("date", "asset", "adj_factor").drop_nulls()
    return dedupe(out, ["date", "asset"], source).sort("date", "asset")


def daily_basic(frame: Any) -> pl.DataFrame:
    """Share counts and caps from tushare ``daily_basic``.
    Doc: https://tushare.pro/document/2?doc_id=32

    ==============  ==================  ==============  =====================
    source column   unit                canonical       conversion
    ==============  ==================  ==============  =====================
    ts_code         code                asset           normalized
    trade_date      YYYYMMDD            date            parsed
    total_share     10k shares (万股)   total_shares    x 10,000 -> shares
    float_share     10k shares (万股)   float_shares    x 10,000 -> shares
    total_mv        10k yuan (万元)     total_cap       x 10,000 -> yuan
    circ_mv         10k yuan (万元)     float_cap       x 10,000 -> yuan
    ==============  ==================  ==============  =====================

    ``total_mv`` / ``circ_mv`` are optional. Unit check (when ``close`` and the caps are present):
    ``total_mv / total_share`` and ``circ_mv / float_share`` must equal ``close`` within 5 %, so
    shares in shares (10,000x) or caps in yuan are caught; ``float_share <= total_share``.

    Examples
    --------
    >>> raw = pl.DataFrame({"ts_code": ["600519.SH"], "trade_date": ["20200102"],
    ...     "close": [1130.0], "total_share": [125619.78], "float_share": [125619.78],
    ...     "total_mv": [1.4195e8], "circ_mv": [1.4195e8]})
    >>> daily_basic(raw).select("float_shares", "float_cap").row(0)
    (1256197800.0, 1419500000000.0)
    """
    source = "tushare daily_basic"
    df = source_frame(frame, source)
    warn_if_capped(df, "daily_basic", source)
    require_columns(
        df,
        source,
        {
            "ts_code": "code",
            "trade_date": "YYYYMMDD",
            "total_share": "10k shares (万股)",
            "float_share": "10k shares (万股)",
        },
    )
    nums = [
        c for c in ("total_share", "float_share", "total_mv", "circ_mv", "close") if c in df.columns
    ]
    df = _key_dates(parse_floats(df, nums, source), source)
    for c in ("total_share", "float_share"):
        check_range(df, c, source, lo=0, unit="10k shares", show=["ts_code", "trade_date"])
    check_range(
        df.with_columns((pl.col("float_share") / pl.col("total_share")).alias("float/total")),
        "float/total",
        source,
        hi=1.0001,
        unit="a fraction (float_share <= total_share)",
        show=["ts_code", "trade_date", "float_share", "total_share"],
    )
    if "close" in df.columns:
        for mv, sh in (("total_mv", "total_share"), ("circ_mv", "float_share")):
            if mv in df.columns:
                check_ratio(
                    df,
                    pl.col(mv) / pl.col(sh) / pl.col("close"),
                    mv,
                    source,
                    expected=f"{mv} (万元) / {sh} (万股) / close",
                    lo=0.95,
                    hi=1.05,
                    show=["ts_code", "trade_date", "close", sh],
                )
    cols = [
        "date",
        "asset",
        (pl.col("float_share") * YUAN_PER_WAN).alias("float_shares"),
        (pl.col("total_share") * YUAN_PER_WAN).alias("total_shares"),
    ]
    if "circ_mv" in df.columns:
        cols.append((pl.col("circ_mv") * YUAN_PER_WAN).alias("float_cap"))
    if "total_mv" in df.columns:
        cols.append((pl.col("total_mv") * YUAN_PER_WAN).alias("total_cap"))
    return dedupe(df.select(cols), ["date", "asset"], source).sort("date", "asset")


def prices(
    daily_frame: Any,
    adj_factor_frame: Any,
    daily_basic_frame: Any | None = None,
    *,
    st: Any | None = None,
) -> pl.DataFrame:
    """The canonical ``prices`` table from tushare ``daily`` + ``adj_factor`` (+ ``daily_basic``).

    Every ``daily`` row needs an ``adj_factor`` row (else :class:`AdapterError`). Without
    ``daily_basic`` the share columns are null (absent, not guessed). ``st`` is an optional frame
    with ``date`` / ``asset`` (or ``trade_date`` / ``ts_code``) of the days a stock was ST;
    without it ``is_st`` is False.

    Examples
    --------
    >>> d = pl.DataFrame({"ts_code": ["000001.SZ"], "trade_date": ["20200102"], "open": [16.65],
    ...     "high": [16.95], "low": [16.55], "close": [16.87], "vol": [1530231.87],
    ...     "amount": [2571196.482]})
    >>> a = pl.DataFrame({"ts_code": ["000001.SZ"], "trade_date": ["20200102"],
    ...                   "adj_factor": [108.031]})
    >>> prices(d, a).select("close", "volume", "adj_factor", "float_shares").row(0)
    (16.87, 153023187.0, 108.031, None)
    """
    source = "tushare prices"
    bars = daily(daily_frame)
    factors = adj_factor(adj_factor_frame)
    out = bars.join(factors, on=["date", "asset"], how="left")
    missing = out.filter(pl.col("adj_factor").is_null())
    if missing.height:
        ex = ", ".join(f"({d}, {a})" for d, a in missing.select("date", "asset").head(5).rows())
        raise AdapterError(
            f"{source}: {missing.height} daily row(s) have no adj_factor row, e.g. {ex}; fetch "
            "adj_factor for the same codes and dates.",
            source=source,
            column="adj_factor",
        )
    if daily_basic_frame is not None:
        basic = daily_basic(daily_basic_frame).select(
            "date", "asset", "float_shares", "total_shares"
        )
        out = out.join(basic, on=["date", "asset"], how="left")
    else:
        out = out.with_columns(
            pl.lit(None, pl.Float64).alias("float_shares"),
            pl.lit(None, pl.Float64).alias("total_shares"),
        )
    if st is not None:
        st_df = source_frame(st, "st days", allow_empty=True)
        if "date" not in st_df.columns:
            require_columns(st_df, "st days", {"trade_date": "date", "ts_code": "code"})
            st_df = _key_dates(st_df, "st days")
        keys = st_df.select(pl.col("date").cast(pl.Date), "asset").unique()
        out = out.join(
            keys.with_columns(pl.lit(True).alias("is_st")), on=["date", "asset"], how="left"
        ).with_columns(pl.col("is_st").fill_null(False))
    else:
        out = out.with_columns(pl.lit(False).alias("is_st"))
    return finish("prices", out, source)


def hk_hold(frame: Any, *, calendar: Literal["hkex", "ashare"] = "hkex") -> pl.DataFrame:
    """Northbound holdings per stock from tushare ``hk_hold`` (HKEX data).
    Doc: https://tushare.pro/document/2?doc_id=188

    ==============  ==============  ===========  ==========================
    source column   unit            canonical    conversion
    ==============  ==============  ===========  ==========================
    trade_date      YYYYMMDD        date         parsed
    ts_code         code            asset        normalized
    vol             shares (股)     shares       whole number -> Int64
    ratio           % of A shares   ratio        / 100 -> fraction
    exchange        SH / SZ / HK    (filter)     HK (southbound) rows dropped
    code, name      HK code, name   --           dropped
    ==============  ==============  ===========  ==========================

    Rows stay on the HKEX calendar by default (the canonical ``northbound`` table keeps what
    HKEX published: on mainland holidays HKEX repeats the previous day's holdings).
    ``calendar="ashare"`` drops those repeat rows (days that are not A-share sessions). Exact
    duplicate rows are dropped; a (date, asset) published twice with different values raises.
    ``ratio`` must lie in [0, 100] (a fraction-valued column > 1 is impossible to mistake; one
    that is already a fraction passes and is wrongly divided again, so pass the source column).
    """
    source = "tushare hk_hold"
    df = source_frame(frame, source)
    warn_if_capped(df, "hk_hold", source)
    require_columns(
        df,
        source,
        {
            "trade_date": "YYYYMMDD",
            "ts_code": "code",
            "vol": "shares (股)",
            "ratio": "% of issued A shares",
            "exchange": "SH / SZ / HK",
        },
    )
    df = drop_rows(
        df,
        ~pl.col("exchange").cast(pl.String).is_in(["SH", "SZ"]),
        source,
        reason="`exchange` not SH / SZ (southbound HK rows)",
        show=["trade_date", "ts_code", "exchange"],
    )
    df = _key_dates(parse_floats(df, ["vol", "ratio"], source), source)
    check_range(df, "ratio", source, lo=0, hi=100, unit="percent", show=["ts_code", "trade_date"])
    check_range(df, "vol", source, lo=0, unit="shares", show=["ts_code", "trade_date"])
    out = df.select(
        "date",
        "asset",
        pl.col("vol").round().cast(pl.Int64).alias("shares"),
        (pl.col("ratio") / 100).alias("ratio"),
    )
    out = drop_rows(out, pl.col("shares").is_null(), source, reason="null `vol` (shares)")
    out = dedupe(out, ["date", "asset"], source)
    if calendar == "ashare":
        from factorlab.calendar import sessions

        out = drop_rows(
            out,
            ~pl.col("date").is_in(sessions("ashare").implode()),
            source,
            reason="HK sessions that are not A-share sessions (calendar='ashare')",
        )
    elif calendar != "hkex":
        raise AdapterError(
            f"{source}: `calendar` must be 'hkex' or 'ashare'; got {calendar!r}.", source=source
        )
    return finish("northbound", out, source)


def hk_hold_snapshots(frame: Any) -> pl.DataFrame:
    """:func:`hk_hold` rows with the day each became public (``published``), as the holdings
    estimator (:func:`factorlab.northbound.estimation.estimate_holdings`, `snapshots=`) needs.

    Up to the 2024-08-16 disclosure change HKEX published each day's holdings the next morning
    (``published`` = the next A-share session); after it tushare returns the quarterly
    snapshots ("交易所于从2024年8月20开始停止发布日度北向资金数据,改为季度披露", doc 188),
    published on the 5th northbound trading day after the quarter end (seed 002).

    Returns
    -------
    polars.DataFrame
        date, asset, shares, ratio, published (HK calendar rows kept).
    """
    from factorlab.calendar import DISCLOSURE_END, sessions

    out = hk_hold(frame)
    a_days = sessions("ashare")
    nb_days = sessions("northbound").to_numpy()
    days = out["date"].to_numpy()
    nxt = a_days.gather(a_days.search_sorted(out["date"], side="right").clip(0, len(a_days) - 1))
    fifth = nb_days[(nb_days.searchsorted(days, side="right") + 4).clip(0, len(nb_days) - 1)]
    after = out["date"] > DISCLOSURE_END
    return out.with_columns(
        published=pl.when(after).then(pl.Series(fifth, dtype=pl.Date)).otherwise(nxt)
    )


def moneyflow_hsgt(
    frame: Any,
    *,
    turnover: Any | None = None,
    tolerance: float = FLOW_MATCH_TOLERANCE,
) -> pl.DataFrame:
    """Daily northbound flow per link from tushare ``moneyflow_hsgt``, with its two meanings
    kept apart. Doc: https://tushare.pro/document/2?doc_id=47

    ==============  ============  =========================  =================================
    source column   unit          canonical                  conversion
    ==============  ============  =========================  =================================
    trade_date      YYYYMMDD      date                       parsed
    hgt             million yuan  link SH: quota_inflow or   x 1e6, by the day's meaning
                                  net_buy                    (see below)
    sgt             million yuan  link SZ (same)             x 1e6
    north_money,    million yuan  --                         dropped (sum of links; southbound)
    ggt_ss, ggt_sz,
    south_money
    ==============  ============  =========================  =================================

    tushare's hgt / sgt have two meanings: the quota used that day (当日资金流入 = daily quota -
    quota balance; counts unfilled buy orders) in early history, the trade-based net buy
    (成交净买额) later; tushare revised history after documenting the switch at 2018-08-01, so
    two exports can differ on the same days. The meaning is **detected per day** where the
    link's buy and sell turnover is known (`turnover`): the value is the net buy when it equals
    ``buy - sell`` within `tolerance` yuan (on the real sample the two agree within 1e-11 on
    every one of 712 days from 2018-08 on and differ by >= 29 million yuan on 99 % of the 862
    days before), else the quota used. Days without turnover fall back to the date rule
    (:data:`FLOW_DEFINITION_CHANGE`). The value goes to the column of its meaning;
    ``flow_definition`` says which; days where detection and the date rule disagree are
    counted in a WARNING. A link with a null value that day (closed; SZ before 2016-12-05) has
    no row. Unit check: |hgt|, |sgt| <= 100,000 (million yuan = 100 bn yuan a day; the largest
    quota ever was 52 bn), so values in yuan are caught. A frame of exactly 300 rows (tushare's
    cap per call) is logged as probably truncated: page by date (docs/real-data.md).

    Parameters
    ----------
    frame
        The ``pro.moneyflow_hsgt(...)`` result.
    turnover
        Optional per-link gross turnover in yuan: ``date, link, buy_amount, sell_amount`` (e.g.
        the ``northbound_flows`` table of another adapter); copied into the output's
        ``buy_amount`` / ``sell_amount`` and used to detect the meaning.
    tolerance
        Yuan; default 1 million (the source's unit).

    Examples
    --------
    >>> raw = pl.DataFrame({"trade_date": ["20180731", "20180801"], "hgt": [1923.72, 467.17],
    ...                     "sgt": [1345.48, 471.49]})
    >>> moneyflow_hsgt(raw).filter(pl.col("link") == "SH").select(
    ...     "flow_definition", "quota_inflow", "net_buy").rows()
    [('quota_inflow', 1923720000.0, None), ('net_buy', None, 467170000.0)]
    >>> gross = pl.DataFrame({"date": [dt.date(2018, 7, 31)], "link": ["SH"],
    ...                       "buy_amount": [9.0e9], "sell_amount": [7.07628e9]})
    >>> out = moneyflow_hsgt(raw, turnover=gross)
    >>> out.filter(pl.col("link") == "SH")["flow_definition"].to_list()
    ['net_buy', 'net_buy']
    """
    source = "tushare moneyflow_hsgt"
    df = source_frame(frame, source)
    warn_if_capped(df, "moneyflow_hsgt", source)
    require_columns(
        df,
        source,
        {"trade_date": "YYYYMMDD", "hgt": "million yuan (百万元)", "sgt": "million yuan (百万元)"},
    )
    df = parse_floats(df, ["hgt", "sgt"], source)
    df = df.with_columns(parse_dates(df, "trade_date", source).alias("date"))
    for c in ("hgt", "sgt"):
        check_range(
            df,
            c,
            source,
            hi=_MAX_NET_FLOW_MN,
            absolute=True,
            unit="million yuan",
            show=["trade_date"],
            hint="Values this large look like yuan; pass the tushare column as is.",
        )
    long = pl.concat(
        [
            df.select("date", pl.lit(link).alias("link"), (pl.col(c) * YUAN_PER_MILLION).alias("v"))
            for link, c in (("SH", "hgt"), ("SZ", "sgt"))
        ]
    ).drop_nulls("v")
    long = dedupe(long, ["date", "link"], source)
    if turnover is not None:
        g = source_frame(turnover, "turnover")
        require_columns(
            g,
            "turnover",
            {"date": "date", "link": "SH / SZ", "buy_amount": "yuan", "sell_amount": "yuan"},
        )
        g = parse_floats(g, ["buy_amount", "sell_amount"], "turnover")
        g = g.select(
            parse_dates(g, "date", "turnover").alias("date"),
            pl.col("link").cast(pl.String),
            "buy_amount",
            "sell_amount",
        )
        long = long.join(dedupe(g, ["date", "link"], "turnover"), on=["date", "link"], how="left")
    else:
        long = long.with_columns(
            pl.lit(None, pl.Float64).alias("buy_amount"),
            pl.lit(None, pl.Float64).alias("sell_amount"),
        )
    by_date = pl.col("date") < FLOW_DEFINITION_CHANGE
    known = pl.col("buy_amount").is_not_null() & pl.col("sell_amount").is_not_null()
    matches = (pl.col("v") - (pl.col("buy_amount") - pl.col("sell_amount"))).abs() <= tolerance
    long = long.with_columns(
        pl.when(known).then(~matches).otherwise(by_date).alias("_quota"),
        known.alias("_known"),
        by_date.alias("_by_date"),
    )
    n_known = int(long.get_column("_known").sum())
    if n_known:
        differ = long.filter(pl.col("_known") & (pl.col("_quota") != pl.col("_by_date")))
        level = logging.WARNING if differ.height else logging.INFO
        logger.log(
            level,
            "%s: flow meaning detected on %d of %d (date, link) row(s) from buy / "
            "sell turnover; %d differ from the %s date rule%s",
            source,
            n_known,
            long.height,
            differ.height,
            FLOW_DEFINITION_CHANGE.isoformat(),
            (
                ", e.g. "
                + ", ".join(f"{d} {k}" for d, k in differ.select("date", "link").head(5).rows())
            )
            if differ.height
            else "",
        )
    quota = pl.col("_quota")
    out = long.select(
        "date",
        "link",
        pl.when(quota)
        .then(pl.lit("quota_inflow"))
        .otherwise(pl.lit("net_buy"))
        .alias("flow_definition"),
        pl.when(quota).then(pl.col("v")).alias("quota_inflow"),
        pl.when(~quota).then(pl.col("v")).alias("net_buy"),
        "buy_amount",
        "sell_amount",
    )
    return finish("northbound_flows", out, source)


def index_daily(frame: Any, *, names: Mapping[str, str] | None = None) -> pl.DataFrame:
    """Index levels from tushare ``index_daily``. Doc: https://tushare.pro/document/2?doc_id=95

    ==============  =============  =========  =========================================
    source column   unit           canonical  conversion
    ==============  =============  =========  =========================================
    ts_code         000300.SH      index      ``names`` (default :data:`INDEX_NAMES`), else
                                              the code as is
    trade_date      YYYYMMDD       date       parsed
    close           index points   close      none
    vol             lots (手)      --         unit check only
    amount          thousand yuan  --         unit check only
    ==============  =============  =========  =========================================

    Unit check (when ``vol`` and ``amount`` are present): the average traded share price
    ``amount * 1000 / (vol * 100)`` must lie within 0.5..1,000 yuan on 90 % of rows.
    """
    source = "tushare index_daily"
    df = source_frame(frame, source)
    require_columns(
        df, source, {"ts_code": "index code", "trade_date": "YYYYMMDD", "close": "index points"}
    )
    nums = ["close", *[c for c in ("vol", "amount") if c in df.columns]]
    df = parse_floats(df, nums, source)
    df = df.with_columns(parse_dates(df, "trade_date", source).alias("date"))
    if "vol" in df.columns and "amount" in df.columns:
        check_ratio(
            df.filter(pl.col("vol") > 0),
            pl.col("amount") * YUAN_PER_THOUSAND / (pl.col("vol") * SHARES_PER_LOT),
            "amount",
            source,
            expected="average share price amount*1000/(vol*100) in yuan",
            lo=0.5,
            hi=1000.0,
            show=["ts_code", "trade_date", "vol"],
        )
    mapping = dict(INDEX_NAMES if names is None else names)
    out = df.select(
        "date",
        pl.col("ts_code").cast(pl.String).replace(mapping).alias("index"),
        "close",
    ).drop_nulls("close")
    return finish("indices", dedupe(out, ["date", "index"], source), source)


def index_weight(frame: Any, *, names: Mapping[str, str] | None = None) -> pl.DataFrame:
    """Constituent weights from tushare ``index_weight``.
    Doc: https://tushare.pro/document/2?doc_id=96

    ==============  ===========  =========  ============================
    source column   unit         canonical  conversion
    ==============  ===========  =========  ============================
    index_code      000300.SH    index      as in :func:`index_daily`
    con_code        code         asset      normalized
    trade_date      YYYYMMDD     date       parsed
    weight          %            weight     / 100 -> fraction
    ==============  ===========  =========  ============================

    Unit check: weights within [0, 100] and their sum per (date, index) at most 100.5; a frame
    whose every date sums to about 1 is already in fractions and is rejected.
    """
    source = "tushare index_weight"
    df = source_frame(frame, source)
    require_columns(
        df,
        source,
        {
            "index_code": "index code",
            "con_code": "constituent code",
            "trade_date": "YYYYMMDD",
            "weight": "percent",
        },
    )
    df = _key_dates(parse_floats(df, ["weight"], source), source, code="con_code")
    check_range(
        df,
        "weight",
        source,
        lo=0,
        hi=100,
        unit="percent",
        show=["index_code", "con_code", "trade_date"],
    )
    sums = df.group_by("index_code", "trade_date").agg(pl.col("weight").sum())
    check_range(
        sums,
        "weight",
        source,
        hi=100.5,
        unit="percent (summing to <= 100 per day)",
        show=["index_code", "trade_date"],
    )
    if sums.height and df.height > 2 * sums.height and sums["weight"].max() <= 1.0001:
        raise AdapterError(
            f"{source}: column `weight` sums to at most 1 on every date; tushare reports "
            "percent (summing to 100). Pass the column as tushare returns it.",
            source=source,
            column="weight",
        )
    mapping = dict(INDEX_NAMES if names is None else names)
    out = df.select(
        "date",
        pl.col("index_code").cast(pl.String).replace(mapping).alias("index"),
        "asset",
        (pl.col("weight") / 100).alias("weight"),
    )
    return finish("index_weights", dedupe(out, ["date", "index", "asset"], source), source)


def stock_basic(frame: Any, *, unknown_industry: str = "unknown") -> pl.DataFrame:
    """The ``assets`` table from tushare ``stock_basic``.
    Doc: https://tushare.pro/document/2?doc_id=25

    ==============  =========  ===========  ====================================
    source column   unit       canonical    conversion
    ==============  =========  ===========  ====================================
    ts_code         code       asset        normalized; Beijing rows dropped
    name            text       name         none
    industry        text       industry     tushare's own ~110 classes (NOT CITIC);
                                            null -> `unknown_industry`
    list_date       YYYYMMDD   list_date    parsed
    delist_date     YYYYMMDD   delist_date  parsed (optional column; else null)
    ==============  =========  ===========  ====================================

    ``exchange`` is taken from the code suffix (SH / SZ). A snapshot lists the stocks listed on
    its day only; it is not point in time.
    """
    source = "tushare stock_basic"
    df = source_frame(frame, source)
    require_columns(
        df,
        source,
        {"ts_code": "code", "name": "short name", "industry": "industry", "list_date": "YYYYMMDD"},
    )
    df = _key_dates(df, source, date="list_date").rename({"date": "list_date_parsed"})
    delist = (
        parse_dates(df, "delist_date", source)
        if "delist_date" in df.columns
        else pl.Series("delist_date", [None] * df.height, dtype=pl.Date)
    )
    out = df.select(
        "asset",
        pl.col("name").cast(pl.String),
        pl.col("asset").str.slice(7, 2).alias("exchange"),
        pl.col("industry").cast(pl.String).fill_null(unknown_industry).alias("industry"),
        pl.col("list_date_parsed").alias("list_date"),
    ).with_columns(delist.alias("delist_date"))
    return finish("assets", dedupe(out, ["asset"], source), source)


def ccass_hold_detail(frame: Any) -> pl.DataFrame:
    """Per-participant northbound (CCASS) holdings from tushare ``ccass_hold_detail``.
    Doc: https://tushare.pro/document/2?doc_id=274

    ====================  ============  ============  =============================
    source column         unit          canonical     conversion
    ====================  ============  ============  =============================
    trade_date            YYYYMMDD      date          parsed
    ts_code               600519.SH     asset         normalized; .HK rows dropped
    col_participant_id    C00019 etc.   participant   as is
    col_shareholding      shares (str)  shares        parsed -> Int64
    col_shareholding_     % (str)       --            dropped (recompute from shares)
    percent
    ====================  ============  ============  =============================

    Zero holdings are dropped (the canonical table lists non-zero rows only).
    """
    source = "tushare ccass_hold_detail"
    df = source_frame(frame, source)
    require_columns(
        df,
        source,
        {
            "trade_date": "YYYYMMDD",
            "ts_code": "code",
            "col_participant_id": "participant id",
            "col_shareholding": "shares (股)",
        },
    )
    df = drop_rows(
        df,
        pl.col("ts_code").cast(pl.String).str.ends_with(".HK"),
        source,
        reason="Hong Kong (.HK) codes (southbound), outside the A-share model",
        show=["trade_date", "ts_code"],
    )
    df = _key_dates(parse_floats(df, ["col_shareholding"], source), source)
    check_range(
        df,
        "col_shareholding",
        source,
        lo=0,
        unit="shares",
        show=["ts_code", "trade_date", "col_participant_id"],
    )
    out = df.select(
        "date",
        "asset",
        pl.col("col_participant_id").cast(pl.String).str.strip_chars().alias("participant"),
        pl.col("col_shareholding").round().cast(pl.Int64).alias("shares"),
    )
    out = drop_rows(
        out,
        pl.col("shares") <= 0,
        source,
        level=logging.INFO,
        reason="zero holdings (the canonical table lists non-zero rows only)",
    )
    return finish(
        "participant_holdings", dedupe(out, ["date", "asset", "participant"], source), source
    )


def ccass_participants(frame: Any) -> pl.DataFrame:
    """The ``participants`` table (id, name; kind unknown = null) from ``ccass_hold_detail``."""
    source = "tushare ccass_hold_detail"
    df = source_frame(frame, source)
    require_columns(
        df,
        source,
        {"col_participant_id": "participant id", "col_participant_name": "participant name"},
    )
    out = df.select(
        pl.col("col_participant_id").cast(pl.String).str.strip_chars().alias("participant"),
        pl.col("col_participant_name").cast(pl.String).alias("name"),
        pl.lit(None, pl.String).alias("kind"),
    ).unique("participant", keep="last", maintain_order=True)
    return finish("participants", out, source)


def dividend(frame: Any) -> pl.DataFrame:
    """The ``corporate_actions`` table from tushare ``dividend``.
    Doc: https://tushare.pro/document/2?doc_id=103

    ==============  =========================  ==============  ======================
    source column   unit                       canonical       conversion
    ==============  =========================  ==============  ======================
    ts_code         code                       asset           normalized
    ex_date         YYYYMMDD                   ex_date         parsed
    record_date     YYYYMMDD                   record_date     parsed
    stk_div         new shares per share       bonus_ratio     none (送股 + 转增)
    cash_div_tax    yuan per share, pre-tax    cash_dividend   none
    div_proc        实施 / 预案 / ...          (filter)        only 实施 (implemented)
    ==============  =========================  ==============  ======================

    Unit check: stk_div within [0, 10] and cash_div_tax within [0, 100] (a per-10-shares figure
    would be 10x). The same event listed twice with identical values is kept once.
    """
    source = "tushare dividend"
    df = source_frame(frame, source)
    require_columns(
        df,
        source,
        {
            "ts_code": "code",
            "ex_date": "YYYYMMDD",
            "record_date": "YYYYMMDD",
            "stk_div": "shares per share",
            "cash_div_tax": "yuan per share (pre-tax)",
            "div_proc": "progress, 实施 = implemented",
        },
    )
    df = drop_rows(
        df,
        ~((pl.col("div_proc").cast(pl.String) == "实施") & pl.col("ex_date").is_not_null()),
        source,
        reason="dividends not implemented (`div_proc` != 实施) or without `ex_date`",
        show=["ts_code", "ex_date", "div_proc"],
        level=logging.INFO,
    )
    df = drop_beijing(df, "ts_code", source)
    df = parse_floats(df, ["stk_div", "cash_div_tax"], source)
    check_range(
        df, "stk_div", source, lo=0, hi=10, unit="shares per share", show=["ts_code", "ex_date"]
    )
    check_range(
        df, "cash_div_tax", source, lo=0, hi=100, unit="yuan per share", show=["ts_code", "ex_date"]
    )
    out = df.select(
        parse_codes(df, "ts_code", source).alias("asset"),
        parse_dates(df, "ex_date", source).alias("ex_date"),
        parse_dates(df, "record_date", source).alias("record_date"),
        pl.col("stk_div").fill_null(0.0).alias("bonus_ratio"),
        pl.col("cash_div_tax").fill_null(0.0).alias("cash_dividend"),
    )
    return finish("corporate_actions", dedupe(out, ["asset", "ex_date"], source), source)


def fund_share(frame: Any) -> pl.DataFrame:
    """ETF shares outstanding from tushare ``fund_share``.
    Doc: https://tushare.pro/document/2?doc_id=207

    ==============  ==================  ==================  ==================
    source column   unit                canonical           conversion
    ==============  ==================  ==================  ==================
    ts_code         510300.SH           etf                 as is (fund code)
    trade_date      YYYYMMDD            date                parsed
    fd_share        10k units (万份)    shares_outstanding  x 10,000 -> units
    ==============  ==================  ==================  ==================

    Returns ``date, etf, shares_outstanding`` (columns of the ``etfs`` table), one row per
    **change date**: tushare's ``trade_date`` is "交易(变动)日期", so a fund has rows only on the
    days its share count changed. Daily flows need one row per session: use
    :func:`fund_share_daily`, which forward-fills onto the calendar and says so.
    """
    source = "tushare fund_share"
    df = source_frame(frame, source)
    require_columns(
        df,
        source,
        {"ts_code": "fund code", "trade_date": "YYYYMMDD", "fd_share": "10k units (万份)"},
    )
    df = parse_floats(df, ["fd_share"], source)
    check_range(df, "fd_share", source, lo=0, unit="10k units", show=["ts_code", "trade_date"])
    out = df.select(
        parse_dates(df, "trade_date", source).alias("date"),
        pl.col("ts_code").cast(pl.String).alias("etf"),
        (pl.col("fd_share") * YUAN_PER_WAN).alias("shares_outstanding"),
    )
    return dedupe(out.drop_nulls(), ["date", "etf"], source).sort("date", "etf")


def etf_share_size(frame: Any) -> pl.DataFrame:
    """ETF shares, size, NAV and close from tushare ``etf_share_size``.
    Doc: https://tushare.pro/document/2?doc_id=408

    ==============  ==================  ==================  ==================
    source column   unit                canonical           conversion
    ==============  ==================  ==================  ==================
    ts_code         510330.SH           etf                 as is
    trade_date      YYYYMMDD            date                parsed
    total_share     10k units (万份)    shares_outstanding  x 10,000 -> units
    total_size      10k yuan (万元)     --                  unit check only
    nav             yuan per unit       nav                 none (optional)
    close           yuan per unit       close               none (optional)
    ==============  ==================  ==================  ==================

    Unit check (when ``nav`` or ``close`` is present): ``total_size / total_share`` must equal
    the NAV (or close) within 10 %.
    """
    source = "tushare etf_share_size"
    df = source_frame(frame, source)
    require_columns(
        df,
        source,
        {
            "ts_code": "fund code",
            "trade_date": "YYYYMMDD",
            "total_share": "10k units (万份)",
            "total_size": "10k yuan (万元)",
        },
    )
    extra = [c for c in ("nav", "close") if c in df.columns]
    df = parse_floats(df, ["total_share", "total_size", *extra], source)
    if extra:
        check_ratio(
            df,
            pl.col("total_size") / pl.col("total_share") / pl.col(extra[0]),
            "total_share",
            source,
            expected=f"total_size (万元) / total_share (万份) / {extra[0]}",
            lo=0.9,
            hi=1.1,
            show=["ts_code", "trade_date", "total_size"],
        )
    out = df.select(
        parse_dates(df, "trade_date", source).alias("date"),
        pl.col("ts_code").cast(pl.String).alias("etf"),
        (pl.col("total_share") * YUAN_PER_WAN).alias("shares_outstanding"),
        *extra,
    )
    return dedupe(out, ["date", "etf"], source).sort("date", "etf")


def fund_share_daily(
    frame: Any,
    *,
    end: dt.date | str | None = None,
    calendar: Literal["ashare", "hkex", "nyse"] = "ashare",
) -> pl.DataFrame:
    """tushare ``fund_share`` (rows on change dates only) forward-filled to one row per session.

    Each fund's last published count carries forward to every session of `calendar` from its
    first change date to `end` (default: the frame's last date); ``filled`` is True on the rows
    made by the forward fill, and the number of filled rows is logged. Δ shares between two
    sessions is then the net creation of the later one (0 on a filled day).

    Examples
    --------
    >>> raw = pl.DataFrame({"ts_code": ["510300.SH", "510300.SH"],
    ...     "trade_date": ["20240102", "20240105"], "fd_share": [100.0, 120.0]})
    >>> fund_share_daily(raw).select("date", "shares_outstanding", "filled").rows()[1:3]
    [(datetime.date(2024, 1, 3), 1000000.0, True), (datetime.date(2024, 1, 4), 1000000.0, True)]
    """
    source = "tushare fund_share"
    changes = fund_share(frame)
    last = to_date(end, "end") if end is not None else changes["date"].max()
    days = sessions(calendar, changes["date"].min(), last)
    grid = (
        changes.group_by("etf")
        .agg(pl.col("date").min().alias("first"))
        .join(pl.DataFrame({"date": days}), how="cross")
        .filter(pl.col("date") >= pl.col("first"))
        .drop("first")
    )
    out = (
        grid.join(changes, on=["date", "etf"], how="full", coalesce=True)
        .sort("etf", "date")
        .with_columns(
            pl.col("shares_outstanding").is_null().alias("filled"),
            pl.col("shares_outstanding").forward_fill().over("etf"),
        )
        .filter(pl.col("date") <= last)
    )
    n = int(out["filled"].sum())
    logger.info(
        "%s: forward-filled %d session row(s) between change dates onto the %s "
        "calendar (shares unchanged on those days)",
        source,
        n,
        calendar,
    )
    return out.sort("date", "etf")
