"""Decisions shared by every adapter: empty frames and counted row drops."""

from __future__ import annotations

import logging

import polars as pl
import pytest

from factorlab.adapters import akshare, joinquant, qlib, tushare
from factorlab.errors import AdapterError

ADAPTERS = [
    *(
        getattr(tushare, n)
        for n in tushare.__all__
        if n not in {"prices", "warn_if_capped"} and callable(getattr(tushare, n)) and n.islower()
    ),
    *(getattr(akshare, n) for n in akshare.__all__ if callable(getattr(akshare, n))),
    *(getattr(joinquant, n) for n in joinquant.__all__ if callable(getattr(joinquant, n))),
    qlib.daily,
    qlib.suspensions,
]
KWARGS = {
    "stock_hsgt_hist_em": {"symbol": "沪股通"},
    "stock_hsgt_individual_em": {"symbol": "600519"},
    "fund_etf_hist_em": {"symbol": "512880"},
    "fund_etf_scale_szse": {"date": "2024-10-08"},
    "fund_etf_spot_em": {"date": "2024-10-08"},
}


@pytest.mark.parametrize(
    "adapter", ADAPTERS, ids=lambda f: f"{f.__module__.split('.')[-1]}.{f.__name__}"
)
@pytest.mark.parametrize("kind", ["polars", "pandas", "polars-typed"])
def test_every_adapter_refuses_an_empty_frame(adapter, kind):
    columns = ["ts_code", "trade_date", "close"]
    frame = pl.DataFrame({c: [] for c in columns})  # dtype Null, as an empty query gives
    if kind == "polars-typed":
        frame = frame.cast(pl.String)
    if kind == "pandas":
        pytest.importorskip("pandas")
        frame = frame.to_pandas()
    with pytest.raises(
        AdapterError,
        match=r": the frame has no rows \(columns: ts_code, "
        r"trade_date, close\).*skip such frames",
    ) as info:
        adapter(frame, **KWARGS.get(adapter.__name__, {}))
    assert info.value.source in str(info.value)


def test_an_empty_st_frame_means_no_st_days():
    d = pl.DataFrame(
        {
            "ts_code": ["000001.SZ"],
            "trade_date": ["20200102"],
            "open": [16.65],
            "high": [16.95],
            "low": [16.55],
            "close": [16.87],
            "vol": [1530231.87],
            "amount": [2571196.482],
        }
    )
    a = pl.DataFrame({"ts_code": ["000001.SZ"], "trade_date": ["20200102"], "adj_factor": [1.0]})
    st = pl.DataFrame(
        {"trade_date": [], "ts_code": []}, schema={"trade_date": pl.String, "ts_code": pl.String}
    )
    assert tushare.prices(d, a, st=st)["is_st"].to_list() == [False]


def test_stock_basic_counts_the_rows_it_drops_by_reason(caplog):
    raw = pl.DataFrame(
        {
            "ts_code": ["000001.SZ", "600000.SH", "830799.BJ", "430047.BJ", "600000.SH"],
            "name": ["平安银行", "浦发银行", "艾融软件", "诺思兰德", "浦发银行"],
            "industry": ["银行", "银行", "软件服务", "生物制药", "银行"],
            "list_date": ["19910403", "19991110", "20191112", "20201127", "19991110"],
        }
    )
    with caplog.at_level(logging.WARNING, logger="factorlab.adapters"):
        out = tushare.stock_basic(raw)
    assert out["asset"].to_list() == ["000001.SZ", "600000.SH"]
    messages = [r.getMessage() for r in caplog.records if r.name == "factorlab.adapters"]
    assert any(
        m.startswith("tushare stock_basic: dropped 2 of 5 row(s): Beijing Stock Exchange codes")
        and "ts_code=830799.BJ" in m
        for m in messages
    ), messages
    assert any(
        "dropped 1 of 3 row(s): exact repeats" in m and "asset=600000.SH" in m for m in messages
    ), messages
    assert all(r.levelno == logging.WARNING for r in caplog.records)


def test_no_drop_no_log(caplog):
    raw = pl.DataFrame(
        {
            "ts_code": ["000001.SZ"],
            "name": ["平安银行"],
            "industry": ["银行"],
            "list_date": ["19910403"],
        }
    )
    with caplog.at_level(logging.DEBUG, logger="factorlab.adapters"):
        tushare.stock_basic(raw)
    assert not [r for r in caplog.records if r.name == "factorlab.adapters"]
