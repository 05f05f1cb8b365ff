"""The calibration report (factorlab.calibration): every measuring function against an
independent hand or pandas computation on tiny hand-made markets and study results."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest

from factorlab import calibration as cal
from factorlab.calendar import sessions
from factorlab.errors import MarketError, MissingColumnError, ParameterError
from factorlab.market import Market
from factorlab.northbound.factors import NORTHBOUND_FACTORS as F
from factorlab.northbound.participants import ParticipantSplit
from factorlab.northbound.study import StudyParams, StudyResult

D = dt.date


# ---- helpers -----------------------------------------------------------------------------------


def _study(
    *,
    table: pl.DataFrame | None = None,
    daily: pl.DataFrame | None = None,
    ic: pl.DataFrame | None = None,
    correlation: dict[str, pl.DataFrame] | None = None,
    pools: tuple[str, ...] = ("csi300",),
) -> StudyResult:
    """A hand-made study result holding only the parts a test reads."""
    empty = pl.DataFrame()
    return StudyResult(
        table=table if table is not None else pl.DataFrame({"factor": [], "pool": []}),
        correlation=correlation or {},
        daily=daily if daily is not None else empty,
        ic=ic if ic is not None else empty,
        coverage=empty,
        notes=empty,
        scores=empty,
        params=StudyParams(pools=pools),
        seconds={},
    )


def _row(frame: pl.DataFrame, group: str) -> dict:
    rows = frame.filter(pl.col("group") == group)
    assert rows.height == 1, (group, frame["group"].to_list())
    return rows.row(0, named=True)


# ---- Band ------------------------------------------------------------------------------------


def test_band_contains_is_inclusive_and_null_for_missing_values():
    b = cal.Band(2.0, 6.0, "2-6%")
    assert b.contains(2.0) and b.contains(6.0) and b.contains(4.0)
    assert b.contains(1.999) is False and b.contains(6.001) is False
    assert b.contains(None) is None and b.contains(float("nan")) is None
    assert cal.Band(None, 1.5, "<= 1.5").contains(-10.0) is True
    assert cal.Band(10.0, None, ">= 10x").contains(9.99) is False


def test_every_fact_row_schema_is_the_documented_one():
    rows = cal.leg_turnover(_study(table=_table("name_turnover_pct", {})))
    assert dict(rows.schema) == cal.FACT_SCHEMA
    assert rows["measured"].is_null().all() and rows["in_band"].is_null().all()
    assert (rows["note"] == "median of `name_turnover_pct`; no value").all()
    # a study table without the basis's column: null rows that say so
    rows = cal.leg_turnover(_study(table=_table("turnover_pct", {})))
    assert rows["measured"].is_null().all()
    assert (rows["note"] == "the study table has no `name_turnover_pct`").all()


# ---- coverage ----------------------------------------------------------------------------------


def _coverage_market() -> Market:
    days = sessions("ashare", "2019-03-01", "2019-03-29")
    pools = pl.DataFrame(
        {
            "date": [d for d in days for _ in range(4)],
            "asset": ["600000.SH", "600001.SH", "600002.SH", "600003.SH"] * len(days),
            "pool": "csi300",
        }
    )
    nb = pl.DataFrame(
        {
            "date": [D(2019, 3, 8), D(2019, 3, 8), D(2019, 3, 15), D(2019, 3, 15), D(2019, 3, 15)],
            "asset": ["600000.SH", "600001.SH", "600000.SH", "600001.SH", "600002.SH"],
            "shares": [100, 0, 100, 50, 10],
            "ratio": [0.01] * 5,
        }
    )
    return Market({"pools": pools, "northbound": nb}, validate="none")


def test_coverage_counts_members_with_holdings_on_dates_with_data():
    out = cal.coverage(_coverage_market(), start="2019-03-01", end="2019-03-29", pools=["csi300"])
    row = _row(out, "csi300")
    # signal dates 03-01 (no snapshot yet: no data), 03-08 (A held, B's 0 is not a holding:
    # 1/4), 03-15 (3/4), 03-22 (the 03-15 snapshot, 7 days old: 3/4), 03-29 (14 days: no data)
    assert row["measured"] == pytest.approx(100 * (0.25 + 0.75 + 0.75) / 3)
    assert row["in_band"] is False and row["target"] == "97-100%"
    assert "3 weekly dates with data" in row["note"]


def test_coverage_staleness_is_a_parameter():
    out = cal.coverage(
        _coverage_market(),
        start="2019-03-01",
        end="2019-03-29",
        pools=["csi300"],
        max_staleness_days=6,
    )
    assert _row(out, "csi300")["measured"] == pytest.approx(100 * (0.25 + 0.75) / 2)


def test_coverage_ignores_snapshots_after_the_window_and_row_order():
    m = _coverage_market()
    base = cal.coverage(m, start="2019-03-01", end="2019-03-22", pools=["csi300"])
    later = pl.DataFrame(
        {
            "date": [D(2019, 3, 25)] * 4,
            "asset": ["600000.SH", "600001.SH", "600002.SH", "600003.SH"],
            "shares": [9] * 4,
            "ratio": [0.01] * 4,
        }
    )
    nb = pl.concat([m.northbound.collect(), later]).sample(fraction=1.0, shuffle=True, seed=3)
    pools = m.pools.collect().sample(fraction=1.0, shuffle=True, seed=4)
    m2 = Market({"pools": pools, "northbound": nb}, validate="none")
    again = cal.coverage(m2, start="2019-03-01", end="2019-03-22", pools=["csi300"])
    assert again["measured"].to_list() == pytest.approx(base["measured"].to_list())
    # the 03-25 snapshot is what 03-29 sees once the window reaches it: 4/4 that week
    longer = cal.coverage(m2, start="2019-03-01", end="2019-03-29", pools=["csi300"])
    assert _row(longer, "csi300")["measured"] == pytest.approx(100 * (0.25 + 0.75 + 0.75 + 1) / 4)


def test_the_study_coverage_is_shown_beside_ours():
    rows = cal.coverage(_coverage_market(), start="2019-03-01", end="2019-03-29", pools=["csi300"])
    table = _table("coverage_pct", {F[0]: 96.0, F[1]: 98.5, F[4]: 50.0})
    out = cal._with_study_coverage(rows, _study(table=table))
    row = _row(out, "csi300")
    # the statics only; two definitions, named
    assert (
        "(the study's coverage column: 97.25%, factor coverage: a member suspended" in row["note"]
    )
    assert row["measured"] == _row(rows, "csi300")["measured"]


def test_coverage_needs_the_tables():
    with pytest.raises(MarketError, match="northbound"):
        cal.coverage(Market({}, validate="none"))


def test_a_table_without_a_needed_column_is_a_clear_error():
    m = _coverage_market()
    bad = Market(
        {"pools": m.pools, "northbound": m.northbound.rename({"shares": "qty"})}, validate="none"
    )
    with pytest.raises(MissingColumnError, match=r"table `northbound` has no column.*`shares`"):
        cal.coverage(bad)


def test_a_reversed_window_is_a_parameter_error():
    with pytest.raises(ParameterError, match="start"):
        cal.coverage(_coverage_market(), start="2020-01-01", end="2019-01-01")


# ---- market facts: a tiny market against pandas ----------------------------------------------


ASSETS = ["600000.SH", "600001.SH", "000001.SZ", "688001.SH", "600002.SH", "000002.SZ"]


@pytest.fixture(scope="module")
def tiny_market() -> Market:
    rng = np.random.default_rng(7)
    days = sessions("ashare", "2019-01-02", "2019-03-29")
    rows = []
    for j, a in enumerate(ASSETS):
        px = 10.0 + j
        for t, d in enumerate(days):
            if a == "600001.SH" and 10 <= t < 14:  # suspended for four sessions
                continue
            if a == "000002.SZ" and t < 5:  # listed later
                continue
            limit = 0.2 if a.startswith("688") else (0.05 if a == "600002.SH" else 0.1)
            if t in (3, 20) and j % 2 == 0:
                px = round(px * (1 + limit), 2)  # limit up
            elif t == 25 and j == 3:
                px = round(px * 1.15, 2)  # +15%: a limit-up for the main board, not for STAR
            elif t == 30 and j in (1, 4):
                px = round(px * (1 - limit), 2)  # limit down
            else:
                px = round(px * (1 + rng.normal(0, 0.02)), 2)
            rows.append((d, a, px))
    frame = pl.DataFrame(rows, schema=["date", "asset", "close"], orient="row")
    prices = frame.with_columns(
        open=pl.col("close"),
        high=pl.col("close"),
        low=pl.col("close"),
        volume=1e6,
        amount=pl.col("close") * 1e6,
        adj_factor=1.0,
        float_shares=1e8,
        total_shares=1e8,
        is_st=pl.col("asset") == "600002.SH",
    )
    # members on every session (suspended days too; 000002.SZ before it lists: outside its
    # traded span), 000001.SZ from February on
    members = pl.DataFrame(
        {"date": np.repeat(days.to_numpy(), len(ASSETS)), "asset": ASSETS * len(days)}
    ).filter((pl.col("asset") != "000001.SZ") | (pl.col("date") >= D(2019, 2, 1)))
    pools = pl.concat(
        [
            members.with_columns(pool=pl.lit("csi800")),
            members.filter(pl.col("asset").is_in(ASSETS[:2])).with_columns(pool=pl.lit("liq1500")),
        ]
    )
    idx = pl.DataFrame(
        {
            "date": days,
            "index": "csi300",
            "close": 3000 * np.cumprod(1 + rng.normal(0, 0.012, len(days))),
        }
    )
    assets = pl.DataFrame(
        {"asset": ASSETS, "industry": "银行", "delist_date": None},
        schema_overrides={"delist_date": pl.Date},
    )
    return Market(
        {"prices": prices, "pools": pools, "indices": idx, "assets": assets}, validate="none"
    )


def _pandas_market_facts(m: Market, lo: dt.date, hi: dt.date) -> dict[str, float]:
    px = m.prices.collect().to_pandas()
    close = px.pivot(index="date", columns="asset", values="close").sort_index()
    st = px.pivot(index="date", columns="asset", values="is_st").reindex_like(close)
    ret = close.pct_change(fill_method=None)
    ref = close.ffill().shift(1)
    pct = pd.DataFrame(0.1, index=close.index, columns=close.columns)
    pct[st.fillna(False).astype(bool)] = 0.05
    pct.loc[:, [c for c in close.columns if c.startswith("688")]] = 0.2
    up = (ref * (1 + pct)).round(2)
    down = (ref * (1 - pct)).round(2)
    pools = m.pools.collect().to_pandas()
    mem = pools[(pools["pool"] == "csi800")]
    lo, hi = pd.Timestamp(lo), pd.Timestamp(hi)
    mem = mem[(mem["date"] >= lo) & (mem["date"] <= hi)]
    traded_cells, disp, sus = [], {}, []
    first = close.apply(lambda s: s.first_valid_index())
    last = close.apply(lambda s: s.last_valid_index())
    for d, a in zip(mem["date"], mem["asset"], strict=True):
        c = close.at[d, a] if d in close.index else np.nan
        if first[a] <= d <= last[a]:
            sus.append(np.isnan(c))
        if not np.isnan(c):
            traded_cells.append((c >= up.at[d, a] - 1e-9, c <= down.at[d, a] + 1e-9))
        r = ret.at[d, a] if d in ret.index else np.nan
        if not np.isnan(r):
            disp.setdefault(d, []).append(r)
    disp_med = np.median([np.std(v, ddof=1) for v in disp.values() if len(v) >= 10] or [np.nan])
    idx = m.indices.collect().to_pandas().set_index("date")["close"]
    idx = idx[(idx.index >= lo) & (idx.index <= hi)]
    return {
        "index_vol": 100 * idx.pct_change().std(ddof=1),
        "dispersion": 100 * disp_med,
        "limit_up": 100 * np.mean([u for u, _ in traded_cells]),
        "limit_down": 100 * np.mean([d for _, d in traded_cells]),
        "suspension": 100 * np.mean(sus),
    }


def test_market_facts_equal_a_pandas_recomputation(tiny_market):
    lo, hi = D(2019, 1, 2), D(2019, 3, 29)
    out = cal.market_facts(tiny_market, start=lo, end=hi)
    want = _pandas_market_facts(tiny_market, lo, hi)
    assert set(out["group"]) == set(want)
    for group, value in want.items():
        got = _row(out, group)["measured"]
        if math.isnan(value):  # fewer than 10 returns a day: no dispersion
            assert got is None and group == "dispersion"
        else:
            assert got == pytest.approx(value, rel=1e-9), group
    # not vacuous: the planted limit days and the suspension are there
    assert want["limit_up"] > 0 and want["limit_down"] > 0 and want["suspension"] > 0


def test_limit_days_follow_the_board_and_st_rules(tiny_market):
    lo, hi = D(2019, 1, 2), D(2019, 3, 29)
    out = cal.market_facts(tiny_market, start=lo, end=hi)
    days = sessions("ashare", lo, hi)
    members = tiny_market.pools.filter(pl.col("pool") == "csi800").collect()
    traded = members.join(
        tiny_market.prices.select("date", "asset").collect(), on=["date", "asset"]
    ).height
    # planted limit-ups on member days: 600000.SH (10%) and 600002.SH (ST, 5%) at t = 3, 20;
    # 000001.SZ's are before it joins the pool; 688001.SH's +15% is under its 20% limit
    planted = {(days[t], a) for t in (3, 20) for a in ("600000.SH", "600002.SH")}
    px = tiny_market.prices.collect()
    ref = px.sort("date").with_columns(prev=pl.col("close").shift(1).over("asset"))
    randoms = ref.join(members, on=["date", "asset"]).filter(
        (pl.col("close") >= (pl.col("prev") * 1.05).round(2)) & (pl.col("asset") == "600002.SH")
    )
    hits = planted | {(d, a) for d, a in randoms.select("date", "asset").iter_rows()}
    assert _row(out, "limit_up")["measured"] == pytest.approx(100 * len(hits) / traded)


def test_market_facts_do_not_depend_on_row_order(tiny_market):
    lo, hi = D(2019, 1, 2), D(2019, 3, 29)
    base = cal.market_facts(tiny_market, start=lo, end=hi)
    shuffled = Market(
        {
            n: tiny_market[n].collect().sample(fraction=1.0, shuffle=True, seed=1)
            for n in tiny_market.names
        },
        validate="none",
    )
    again = cal.market_facts(shuffled, start=lo, end=hi)
    assert again["measured"].is_null().to_list() == base["measured"].is_null().to_list()
    assert again["measured"].drop_nulls().to_list() == pytest.approx(
        base["measured"].drop_nulls().to_list(), rel=1e-12
    )


def test_market_facts_dispersion_on_a_wider_cross_section():
    # 12 stocks so that every session has >= 10 returns: the median of the daily std
    rng = np.random.default_rng(3)
    days = sessions("ashare", "2019-05-06", "2019-05-31")
    assets = [f"6000{i:02d}.SH" for i in range(12)]
    r = rng.normal(0, 0.01, (len(days), 12))
    close = 10 * np.cumprod(1 + r, axis=0)
    frame = pl.DataFrame(
        {
            "date": np.repeat(days.to_numpy(), 12),
            "asset": assets * len(days),
            "close": close.ravel(),
        }
    ).with_columns(open=pl.col("close"), high=pl.col("close"), low=pl.col("close"))
    pools = frame.select("date", "asset").with_columns(pool=pl.lit("csi800"))
    m = Market({"prices": frame, "pools": pools}, validate="none")
    out = cal.market_facts(m, start=days[0], end=days[-1])
    daily_std = np.std(close[1:] / close[:-1] - 1, axis=1, ddof=1)
    assert _row(out, "dispersion")["measured"] == pytest.approx(100 * np.median(daily_std))
    assert _row(out, "index_vol")["measured"] is None
    assert "no `indices`" in _row(out, "index_vol")["note"]
    assert _row(out, "index_vol")["in_band"] is None


def test_market_facts_without_the_pool_or_the_index_say_why(tiny_market):
    out = cal.market_facts(
        tiny_market, start="2019-01-02", end="2019-03-29", pool="csi500", index="csi1000"
    )
    assert out["measured"].is_null().all() and out["in_band"].is_null().all()
    vol = _row(out, "index_vol")["note"]
    assert vol == "fewer than 3 `csi1000` rows in `indices` in the window"
    assert (
        out.filter(pl.col("group") != "index_vol")["note"] == "no `csi500` member in the window"
    ).all()


def test_universe_counts_listed_stocks_and_the_pool_share(tiny_market):
    out = cal.universe(tiny_market, start="2019-01-02", end="2019-03-29")
    px = tiny_market.prices.collect().to_pandas()
    listed = px.groupby("date").size().mean()
    pools = tiny_market.pools.collect().to_pandas()
    size = pools[pools["pool"] == "liq1500"].groupby("date").size().mean()
    assert _row(out, "listed")["measured"] == pytest.approx(listed)
    assert _row(out, "liq1500 share")["measured"] == pytest.approx(100 * size / listed)
    assert _row(out, "listed")["in_band"] is False


# ---- facts of the study ----------------------------------------------------------------------


def _table(column: str, values: dict[str, float], pool: str = "csi300") -> pl.DataFrame:
    return pl.DataFrame({"factor": list(values), "pool": pool, column: list(values.values())})


def test_leg_turnover_is_the_median_per_group():
    values = {F[0]: 3.0, F[1]: 5.0, F[2]: 9.0, F[3]: 1.0, F[4]: 30.0, F[5]: 10.0, F[13]: 99.0}
    for basis, column in (("value", "turnover_pct"), ("names", "name_turnover_pct")):
        out = cal.leg_turnover(_study(table=_table(column, values)), basis=basis)
        assert _row(out, "static csi300")["measured"] == pytest.approx(4.0)  # median(1, 3, 5, 9)
        assert _row(out, "static csi300")["in_band"] is True
        assert _row(out, "dynamic csi300")["measured"] == pytest.approx(20.0)  # #14: not dynamic
        assert _row(out, "dynamic csi300")["in_band"] is True


def _daily(
    factor: str,
    rng: np.random.Generator,
    n: int = 300,
    pool: str = "csi300",
    long_mu: float = 0.0,
    short_mu: float = 0.0,
) -> pl.DataFrame:
    bench = rng.normal(0.0003, 0.01, n)
    long_ = bench + rng.normal(long_mu, 0.004, n)
    short = bench + rng.normal(short_mu, 0.004, n)
    return pl.DataFrame(
        {
            "date": pl.date_range(
                D(2018, 1, 1), D(2018, 1, 1) + dt.timedelta(days=n - 1), eager=True
            ),
            "factor": factor,
            "pool": pool,
            "long": long_,
            "short": short,
            "bench": bench,
            "excess": long_ - bench,
        }
    )


def test_tracking_error_is_the_median_annualized_std_of_excess():
    rng = np.random.default_rng(11)
    daily = pl.concat([_daily(F[i], rng) for i in range(3)])
    out = cal.tracking_error(_study(daily=daily))
    pdf = daily.to_pandas()
    want = np.median(pdf.groupby("factor")["excess"].std(ddof=1) * np.sqrt(252) * 100)
    assert _row(out, "csi300")["measured"] == pytest.approx(want)


def test_excess_sharpe_best_and_median():
    values = {F[0]: 0.2, F[1]: 1.7, F[2]: -0.4, F[4]: 0.9, F[5]: float("nan")}
    out = cal.excess_sharpe(_study(table=_table("long_excess_sharpe", values)))
    best = _row(out, "best csi300")
    assert best["measured"] == pytest.approx(1.7) and best["in_band"] is False
    assert best["note"] == F[1]
    med = _row(out, "median csi300")  # NaN left out: median(-0.4, 0.2, 0.9, 1.7)
    assert med["measured"] == pytest.approx(0.55) and med["in_band"] is True


def test_factor_correlation_share_exempts_the_static_group_and_10_11():
    names = [F[0], F[1], F[4], F[5], F[9], F[10]]
    c = np.eye(6)
    pairs = {
        (0, 1): 0.9,
        (2, 3): 0.5,
        (2, 4): 0.1,
        (2, 5): 0.2,
        (3, 4): 0.6,
        (3, 5): 0.0,
        (4, 5): 0.95,
        (0, 2): 0.8,
    }
    for (i, j), v in pairs.items():
        c[i, j] = c[j, i] = v
    corr = pl.DataFrame({"factor": names, **{n: c[:, i] for i, n in enumerate(names)}})
    out = cal.factor_correlation(_study(correlation={"csi300": corr}))
    row = _row(out, "csi300")
    # non-static pairs without #10/#11: (5,6) .5, (5,10) .1, (5,11) .2, (6,10) .6, (6,11) 0
    assert row["measured"] == pytest.approx(100 * 3 / 5)
    assert row["in_band"] is True
    assert "5 pairs" in row["note"] and f"{F[5]}/{F[9]} 0.60" in row["note"]


def test_short_leg_share_splits_the_long_short_mean():
    rng = np.random.default_rng(5)
    daily = pl.concat(
        [_daily(F[11], rng, long_mu=0.0001, short_mu=-0.0004), _daily(F[12], rng, long_mu=-0.001)]
    )
    out = cal.short_leg_share(_study(daily=daily))
    d = daily.filter(pl.col("factor") == F[11]).to_pandas()
    long_ = (d["long"] - d["bench"]).mean()
    short = (d["bench"] - d["short"]).mean()
    row = _row(out, f"{F[11]} csi300")
    assert row["measured"] == pytest.approx(100 * short / (long_ + short))
    assert row["in_band"] is True
    neg = _row(out, f"{F[12]} csi300")  # the long leg loses more than the short leg gives
    assert neg["measured"] is None and neg["in_band"] is False
    assert "not positive" in neg["note"]


def test_rank_ic_levels_and_the_2021_decay_against_pandas():
    rng = np.random.default_rng(9)
    dates = pl.date_range(D(2019, 1, 4), D(2022, 12, 30), "1w", eager=True)
    parts = []
    for pool in ("csi300", "csi500"):
        for k, f in enumerate([F[0], F[1], F[4], F[5], F[6]]):
            ic = rng.normal(0.01 * (k + 1), 0.05, dates.len())
            parts.append(pl.DataFrame({"pool": pool, "date": dates, "factor": f, "ic": ic}))
    ic = pl.concat(parts)
    out = cal.rank_ic(_study(ic=ic, pools=("csi300", "csi500")))
    pdf = ic.to_pandas()
    pdf["date"] = pdf["date"].dt.date
    means = pdf.groupby(["pool", "factor"])["ic"].mean()
    assert _row(out, "static csi300")["measured"] == pytest.approx(
        100 * np.median(means["csi300"][[F[0], F[1]]])
    )
    assert _row(out, "dynamic csi500")["measured"] == pytest.approx(
        100 * np.median(means["csi500"][[F[4], F[5], F[6]]])
    )
    assert not out["group"].str.contains("static csi500").any()  # no band for CSI 500 statics
    p = pdf[pdf["pool"] == "csi300"]
    post = p[p["date"] >= D(2021, 1, 1)]["ic"].mean()
    pre = p[p["date"] < D(2021, 1, 1)]["ic"].mean()
    assert _row(out, "decay csi300")["measured"] == pytest.approx(post / pre)


# ---- facts of the participant split ----------------------------------------------------------


def _split() -> ParticipantSplit:
    history = pl.DataFrame(
        {
            "participant": ["T", "A", "M", "T", "A", "M"],
            "effective_from": [D(2019, 5, 6)] * 3 + [D(2019, 11, 1)] * 3,
            "kind": ["trading", "allocation", "minor", "trading", "allocation", "allocation"],
            "turnover": [0.1, 0.001, 0.2, 0.1, 0.001, 0.01],
            "avg_value": [1e8, 1e9, 1e5, 1e8, 1e9, 2e6],
            "avg_stocks": [10.0, 20.0, 2.0, 10.0, 20.0, 3.0],
            "rank_pct": [0.0, 0.5, None, 0.0, 0.5, 0.3],
        }
    )
    daily = pl.DataFrame(
        {
            "participant": ["T", "A", "M", "T", "A", "M", "T", "A"],
            "date": [D(2019, 6, 3)] * 3 + [D(2019, 11, 4)] * 3 + [D(2019, 4, 1)] * 2,
            "value": [20.0, 80.0, 1.0, 30.0, 60.0, 10.0, 50.0, 50.0],
            "stocks": [5, 9, 1, 5, 9, 1, 5, 9],
            "traded": [0.0] * 8,
            "turnover": [0.2, 0.01, 0.9, 0.1, 0.01, 0.5, 0.3, 0.3],
        }
    )
    return ParticipantSplit(history=history, daily=daily, changes=None)  # type: ignore[arg-type]


def test_trading_money_share_and_turnover_ratio_by_hand():
    out = cal.trading_money(_split(), start="2019-01-01", end="2019-12-31")
    # 2019-04-01: before any classification (left out); 06-03: T/(T+A) = 20/100 (M is minor);
    # 11-04: M is allocation now: 30/100
    assert _row(out, "value share")["measured"] == pytest.approx(100 * (0.2 + 0.3) / 2)
    # trading mean turnover (0.2 + 0.1) / 2; allocation (0.01 + 0.01 + 0.5) / 3
    ratio = _row(out, "turnover ratio")
    assert ratio["measured"] == pytest.approx(0.15 / (0.52 / 3))
    assert ratio["in_band"] is False


def test_minor_participants_share_and_exclusion_by_hand():
    out = cal.minor_participants(_split(), start="2019-01-01", end="2019-12-31")
    # the rule (< 500k and < 6 stocks) holds for M in May only: 1/3 then 0/3
    assert _row(out, "count share")["measured"] == pytest.approx(100 * (1 / 3) / 2)
    assert _row(out, "excluded")["measured"] == pytest.approx(100.0)
    none = cal.minor_participants(_split(), start="2020-01-01", end="2020-12-31")
    assert none["measured"].is_null().all() and none["in_band"].is_null().all()
    assert (none["note"] == "no re-classification in the window").all()


# ---- the handbook's figures ------------------------------------------------------------------


def test_handbook_figures_are_the_published_table_in_study_units():
    f = cal.handbook_figures()

    def get(number: int, pool: str, metric: str) -> float:
        return f.filter(
            (pl.col("number") == number) & (pl.col("pool") == pool) & (pl.col("metric") == metric)
        )["value"].item()

    assert get(1, "csi300", "long_excess_ann") == pytest.approx(0.0753)
    assert get(1, "csi500", "long_excess_mdd") == pytest.approx(-0.2452)
    assert get(2, "liq1500", "turnover_pct") == pytest.approx(4.28)
    assert get(5, "csi500", "coverage_pct") == pytest.approx(54.11)
    assert get(10, "csi300", "long_excess_sharpe") == pytest.approx(1.07)
    assert get(11, "liq1500", "rank_ic_mean_pct") == pytest.approx(4.12)
    assert f.filter(pl.col("number") == 1).height == 3 * 8  # no IC printed for the statics
    assert f.select(pl.struct("factor", "pool", "metric").is_unique().all()).item()


def test_beside_handbook_puts_the_study_number_next_to_each_figure():
    table = pl.DataFrame(
        {"factor": [F[0]], "pool": ["csi300"], "long_excess_sharpe": [1.9], "turnover_pct": [12.0]}
    )
    out = cal.beside_handbook(table)
    row = out.filter(
        (pl.col("number") == 1)
        & (pl.col("pool") == "csi300")
        & (pl.col("metric") == "long_excess_sharpe")
    ).row(0, named=True)
    assert row["handbook"] == pytest.approx(0.58) and row["measured"] == pytest.approx(1.9)
    other = out.filter(pl.col("number") == 2)
    assert other["measured"].is_null().all() and other.height > 0


SEEDS = Path(__file__).resolve().parents[1].parent / "shared" / "seeds"
SEED_001 = SEEDS / "001_e303e1c944e1b035.txt"


@pytest.mark.skipif(not SEED_001.is_file(), reason="the seed documents (../shared/seeds) absent")
def test_handbook_figures_equal_the_seed_tables_as_printed():
    static = (
        "long_excess_ann",
        "long_excess_sharpe",
        "long_excess_mdd",
        "long_short_ann",
        "long_short_sharpe",
        "long_short_mdd",
        "coverage_pct",
        "turnover_pct",
    )
    dynamic = (
        "long_excess_ann",
        "long_excess_sharpe",
        "long_excess_mdd",
        "long_short_ann",
        "long_short_sharpe",
        "coverage_pct",
        "rank_ic_mean_pct",
        "turnover_pct",
    )
    names = {
        "北向资金持股市值": 1,
        "北向资金持股占比": 2,
        "北向资金累计净流入占比": 5,
        "北向资金成交金额": 10,
    }
    pools = {"沪深300": "csi300", "中证500": "csi500", "流动性1500": "liq1500"}
    want, number = {}, None
    for line in SEED_001.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 10 or cells[1] not in pools:
            continue
        number = names[cells[0]] if cells[0] else number
        metrics = static if number <= 4 else dynamic
        for metric, text in zip(metrics, cells[2:], strict=True):
            x = float(text.rstrip("%"))
            if metric.endswith("_ann"):
                x /= 100
            elif metric.endswith("_mdd"):
                x = -x / 100
            want[(number, pools[cells[1]], metric)] = x
    assert len(want) == 6 * 8 + 4 * 8  # 10 rows of 8 figures each
    got = {
        (n, p, m): v
        for n, p, m, v in cal.handbook_figures()
        .select("number", "pool", "metric", "value")
        .iter_rows()
        if n != 11  # #11's ICs come from §2.2's text, not a table
    }
    assert got == pytest.approx(want)
