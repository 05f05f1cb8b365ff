"""factorlab.pools: point-in-time pools from membership intervals, constituent snapshots and
prices (the liquidity rule), with dropped input rows counted by reason."""

from __future__ import annotations

import datetime as dt
import logging

import numpy as np
import polars as pl
import pytest

from factorlab import pools
from factorlab.calendar import sessions
from factorlab.datasets.real import FILES, default_path
from factorlab.datasets.synthetic import liquidity_pool_size
from factorlab.errors import ParameterError, SchemaError

D = dt.date
REAL = default_path()


def _members(built: pools.PoolBuild) -> dict[dt.date, list[str]]:
    grouped = built.pools.group_by("date").agg(pl.col("asset").sort()).sort("date")
    return dict(grouped.iter_rows())


# ------------------------------------------------------------------------------------------------
# membership intervals


@pytest.mark.parametrize(("pool", "size"), [("csi300", 300), ("csi500", 500)])
def test_real_membership_intervals_give_exactly_the_index_size_every_day(pool, size, caplog):
    path = REAL / FILES[pool]
    if not path.is_file():
        pytest.skip(f"../shared/realdata not found: {path} (set $FACTORLAB_REALDATA)")
    intervals = pl.read_csv(path, schema_overrides={"ts_code": pl.String})
    days = sessions("ashare", D(2014, 11, 17), D(2025, 8, 6))
    with caplog.at_level(logging.WARNING, logger="factorlab.pools"):
        built = pools.from_intervals(intervals, pool, days)
    counts = built.members_per_day()
    assert counts.height == days.len()
    assert counts["members"].min() == counts["members"].max() == size
    assert built.pools.select(pl.struct("date", "asset").is_duplicated().any()).item() is False
    if pool == "csi300":  # seven 2005-2006 rows carry the code T00018.SH: counted, not refused
        assert built.dropped.rows() == [
            ("not a Shanghai / Shenzhen A-share code", 7, built.dropped["examples"][0])
        ]
        assert "ts_code=T00018.SH" in built.dropped["examples"][0]
        assert any(
            "dropped 7 of" in r.getMessage() and "T00018.SH" in r.getMessage()
            for r in caplog.records
        )
    else:
        assert built.n_dropped == 0


def test_intervals_merge_overlaps_and_count_odd_codes_by_reason():
    days = pl.Series([D(2020, 1, d) for d in (2, 3, 6, 7, 8)])
    iv = pl.DataFrame(
        {
            "ts_code": [
                "600000.SH",
                "600000.SH",
                "000001.SZ",
                "T00018.SH",
                "830799.BJ",
                "920263.BJ",
                "300750.SZ",
            ],
            "start_date": [
                "20200102",
                "20200103",
                "20200107",
                "20200102",
                "20200102",
                "20200102",
                "20200108",
            ],
            "end_date": [
                "20200103",
                "20200106",
                None,
                "20200108",
                "20200108",
                "20200108",
                "20200108",
            ],
        }
    )
    built = pools.from_intervals(iv, "p", days)
    assert _members(built) == {
        D(2020, 1, 2): ["600000.SH"],
        D(2020, 1, 3): ["600000.SH"],
        D(2020, 1, 6): ["600000.SH"],
        D(2020, 1, 7): ["000001.SZ"],
        D(2020, 1, 8): ["000001.SZ", "300750.SZ"],
    }
    assert dict(built.dropped.select("reason", "rows").iter_rows()) == {
        "not a Shanghai / Shenzhen A-share code": 1,
        "Beijing Stock Exchange code (outside the A-share model)": 2,
    }
    assert built.n_dropped == 3


def test_an_interval_ending_before_it_starts_raises():
    iv = pl.DataFrame(
        {"ts_code": ["600000.SH"], "start_date": ["20200106"], "end_date": ["20200102"]}
    )
    with pytest.raises(SchemaError, match=r"end before they start.*600000\.SH"):
        pools.from_intervals(iv, "p", [D(2020, 1, 2)])


def test_qlib_pools_from_intervals_delegates_and_no_longer_refuses_odd_codes():
    from factorlab.adapters import qlib

    iv = pl.DataFrame(
        {
            "ts_code": ["600000.SH", "T00018.SH"],
            "start_date": ["20200102"] * 2,
            "end_date": ["20200103"] * 2,
        }
    )
    days = pl.Series([D(2020, 1, 2), D(2020, 1, 3)])
    out = qlib.pools_from_intervals(iv, "csi300", days)
    assert out.equals(pools.from_intervals(iv, "csi300", days).pools)
    assert out["asset"].to_list() == ["600000.SH", "600000.SH"]


# ------------------------------------------------------------------------------------------------
# snapshots: tushare index_weight, akshare constituents

DAYS4 = pl.Series([D(2020, 1, d) for d in (2, 3, 6, 7)])


def _index_weight() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "index_code": ["000300.SH"] * 5,
            "con_code": ["600000.SH", "000001.SZ", "000001.SZ", "300750.SZ", "600519.SH"],
            "trade_date": ["20200102", "20200102", "20200105", "20200105", "20200105"],
            "weight": [60.0, 40.0, 70.0, 30.0, 0.0],  # a zero weight is not a member
        }
    )


def test_index_weight_snapshots_hold_until_the_next_one():
    built = pools.from_index_weight(_index_weight(), DAYS4)
    # 2020-01-05 is a Sunday: that snapshot takes effect on the next session, 01-06
    assert _members(built) == {
        D(2020, 1, 2): ["000001.SZ", "600000.SH"],
        D(2020, 1, 3): ["000001.SZ", "600000.SH"],
        D(2020, 1, 6): ["000001.SZ", "300750.SZ"],
        D(2020, 1, 7): ["000001.SZ", "300750.SZ"],
    }
    assert set(built.pools["pool"]) == {"csi300"}
    stale = pools.from_index_weight(_index_weight(), DAYS4, stale_after=1)
    assert D(2020, 1, 7) not in _members(stale)


def test_index_weight_from_the_canonical_table_equals_the_raw_frame():
    from factorlab.adapters import tushare

    canonical = tushare.index_weight(_index_weight())
    assert pools.from_index_weight(canonical, DAYS4).pools.equals(
        pools.from_index_weight(_index_weight(), DAYS4).pools
    )


def test_akshare_csindex_constituents_and_the_survivorship_trap():
    raw = pl.DataFrame(
        {
            "日期": ["2020-01-02", "2020-01-02"],
            "指数代码": ["000300"] * 2,
            "成分券代码": [600519, 1],
            "交易所": ["上海证券交易所", "深圳证券交易所"],
        }
    )
    built = pools.from_akshare_constituents(raw, "csi300", DAYS4)
    assert _members(built)[D(2020, 1, 7)] == ["000001.SZ", "600519.SH"]
    cons = pl.DataFrame(
        {"品种代码": ["600519"], "品种名称": ["贵州茅台"], "纳入日期": ["2005-04-08"]}
    )
    with pytest.raises(SchemaError, match="not point in time"):
        pools.from_akshare_constituents(cons, "csi300", DAYS4)


def test_union_is_csi800():
    a = pools.from_index_weight(_index_weight(), DAYS4)
    b = pl.DataFrame(
        {"date": [D(2020, 1, 2)] * 2, "asset": ["600000.SH", "688981.SH"], "pool": "csi500"}
    )
    got = _members(pools.union([a, b], "csi800"))
    assert got[D(2020, 1, 2)] == ["000001.SZ", "600000.SH", "688981.SH"]


# ------------------------------------------------------------------------------------------------
# the liquidity rule

LIQ_DAYS = [
    D(2020, 1, 20),
    D(2020, 1, 21),
    D(2020, 1, 22),
    D(2020, 2, 3),
    D(2020, 2, 4),
    D(2020, 3, 2),
]


def _liq_prices() -> pl.DataFrame:
    rows = []
    amounts = {
        "600000.SH": [10, 10, 10, 1, 1, 1],
        "600001.SH": [5] * 6,
        "600002.SH": [1, 1, 20, 20, 20, 20],
        "600003.SH": [None, 100, 100, 100, 100, 100],
    }
    for asset, xs in amounts.items():
        for i, x in enumerate(xs):
            if x is not None:
                st = asset == "600002.SH" and i == 4
                rows.append({"date": LIQ_DAYS[i], "asset": asset, "amount": float(x), "is_st": st})
    return pl.DataFrame(rows)


def test_liquidity_rule_on_a_hand_made_frame():
    """Hand-computed (size 2, window 2, min_listed 2, monthly reviews on sessions 0, 3, 5):
    review 0 ranks session 0: A 10 > B 5 > C 1 (D not listed yet); review 3 ranks sessions
    1-2: C 10.5 > A 10 > B 5, D listed 1 session before (too new); C is ST on session 4 and
    leaves that day; review 5 ranks sessions 3-4: D 100 > B 5 > A 1, C excluded (ST on 4)."""
    a, b, c, d = "600000.SH", "600001.SH", "600002.SH", "600003.SH"
    built = pools.liquidity(_liq_prices(), size=2, window=2, min_listed=2)
    assert _members(built) == {
        LIQ_DAYS[0]: [a, b],
        LIQ_DAYS[1]: [a, b],
        LIQ_DAYS[2]: [a, b],
        LIQ_DAYS[3]: [a, c],
        LIQ_DAYS[4]: [a],
        LIQ_DAYS[5]: [b, d],
    }
    assert set(built.pools["pool"]) == {"liq1500"}
    # with a listing date before the data, D is seasoned at review 3: D 100 > C 10.5
    assets = pl.DataFrame(
        {"asset": [a, b, c, d], "list_date": [D(2010, 1, 4)] * 3 + [D(2019, 1, 2)]}
    )
    with_assets = _members(
        pools.liquidity(_liq_prices(), assets=assets, size=2, window=2, min_listed=2)
    )
    assert with_assets[LIQ_DAYS[3]] == [c, d] and with_assets[LIQ_DAYS[4]] == [d]
    # daily reviews re-rank every session on the previous one (D trades from session 1)
    daily = _members(
        pools.liquidity(_liq_prices(), size=1, window=1, min_listed=0, schedule="daily")
    )
    assert daily == {
        LIQ_DAYS[0]: [a],
        LIQ_DAYS[1]: [a],
        LIQ_DAYS[2]: [d],
        LIQ_DAYS[3]: [d],
        LIQ_DAYS[4]: [d],
        LIQ_DAYS[5]: [d],
    }


def test_liquidity_equals_the_synthetic_generator(small_market):
    """The synthetic generator's liq1500 is built by pools.liquidity_members; the frame API on
    its prices and assets tables gives the same pool, row for row."""
    n_assets = small_market.assets.select(pl.len()).collect().item()
    built = pools.liquidity(
        small_market.prices, assets=small_market.assets, size=liquidity_pool_size(n_assets)
    )
    synthetic = (
        small_market.pools.filter(pl.col("pool") == "liq1500").collect().sort("date", "asset")
    )
    assert synthetic.height > 100_000
    assert built.pools.equals(synthetic)


def test_liquidity_parameters_are_checked():
    with pytest.raises(ParameterError, match="`schedule`"):
        pools.liquidity(_liq_prices(), schedule="yearly")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="`size`"):
        pools.liquidity(_liq_prices(), size=0)


def test_review_sessions_are_period_starts():
    days = pl.Series(LIQ_DAYS)
    assert pools.review_sessions(days, "monthly").tolist() == [0, 3, 5]
    assert pools.review_sessions(days, "quarterly").tolist() == [0]
    assert pools.review_sessions(days, "weekly").tolist() == [0, 3, 5]
    assert np.array_equal(pools.review_sessions(days, "daily"), np.arange(6))
