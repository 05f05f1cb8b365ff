"""Industry rotation (seed 004 §3) and its ETF version (§3.5): the factor, the industry indices
and the books against independent pandas computations; layered groups; the grid; no look-ahead;
bad input."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import polars as pl
import pytest

from factorlab.errors import (
    DisclosureError,
    DuplicateKeyError,
    MarketError,
    MissingColumnError,
    ParameterError,
)
from factorlab.etf import industry_etfs
from factorlab.market import Market
from factorlab.northbound import classify_participants, participant_flows, research_panel
from factorlab.northbound.strategies.rotation import (
    ALLOCATION_ROTATION,
    CITIC_LEVEL1,
    ROTATION_EXCLUDED,
    ROTATION_INDUSTRIES,
    TRADING_ROTATION,
    industry_flow_factor,
    industry_returns,
    industry_rotation,
    layered_groups,
    rotation_grid,
    rotation_inputs,
    seed_rotations,
)

TOL = 1e-10


@pytest.fixture(scope="module")
def inputs(strat_market: Market):
    return rotation_inputs(strat_market)


# -- independent pandas computations -------------------------------------------------------------


def _pd_members(market: Market, industries):
    """(adjusted close, float cap, both carried forward; member mask; industry of each stock)
    from the tables: members from the first price row to the day before the published
    delisting."""
    px = market.prices.select("date", "asset", "close", "adj_factor", "float_shares").collect()
    px = px.to_pandas()
    px["adj"] = px["close"] * px["adj_factor"]
    px["cap"] = px["close"] * px["float_shares"]
    assets = market.assets.collect().to_pandas().set_index("asset")
    adj = px.pivot(index="date", columns="asset", values="adj").sort_index()
    cap = px.pivot(index="date", columns="asset", values="cap").reindex_like(adj)
    listed = adj.notna().cummax()
    delist = pd.to_datetime(assets["delist_date"]).reindex(adj.columns)
    dates = pd.to_datetime(adj.index)
    before = pd.DataFrame(
        {a: (dates < delist[a]) if pd.notna(delist[a]) else np.ones(len(dates), bool)
         for a in adj.columns},
        index=adj.index,
    )  # fmt: skip
    ind = assets["industry"].reindex(adj.columns)
    member = listed & before & ind.isin(industries).to_numpy()[None, :]
    return adj.ffill(), cap.ffill(), member, ind


def _pd_industry_caps(market: Market, industries) -> pd.DataFrame:
    """The members' float cap at each close, per industry."""
    _, k, member, ind = _pd_members(market, industries)
    kk = k.where(member & k.notna(), 0.0)
    return pd.DataFrame({g: kk[ind.index[ind == g]].sum(axis=1) for g in industries})


def _pd_industry_returns(market: Market, industries) -> pd.DataFrame:
    """Cap-weighted industry returns: a member's adjusted close-to-close return weighted by
    its float cap at the previous close (members on both days)."""
    c, k, member, ind = _pd_members(market, industries)
    r = c / c.shift(1) - 1.0
    both = member & member.shift(1, fill_value=False)
    kp = k.shift(1)
    ok = both & r.notna() & kp.notna() & (kp > 0)
    w = kp.where(ok, 0.0)
    rr = r.where(ok, 0.0)
    out = {}
    for g in industries:
        cols = ind.index[ind == g]
        num = (w[cols] * rr[cols]).sum(axis=1)
        den = w[cols].sum(axis=1)
        s = (num / den).where(den > 0)
        started = s.notna().cummax()
        out[g] = s.where(~started | s.notna(), 0.0).where(started | s.notna())
    return pd.DataFrame(out)


def _pd_by_industry(frame: pl.DataFrame, market: Market, industries, dates) -> pd.DataFrame:
    assets = market.assets.select("asset", "industry").collect()
    df = (
        frame.join(assets, on="asset")
        .filter(pl.col("industry").is_in(list(industries)))
        .to_pandas()
    )
    wide = df.pivot_table(index="date", columns="industry", values="value", aggfunc="sum")
    return wide.reindex(index=dates, columns=list(industries))


def _pd_factor(market, flow, lookback, skip, scale, industries=ROTATION_INDUSTRIES):
    """The factor from the per-stock flows of the participant split (or, for the holding
    scale, the research panel's holding values), windowed in pandas."""
    dates = pd.DatetimeIndex(
        market.prices.select(pl.col("date").unique().sort()).collect()["date"].to_pandas()
    )
    split = classify_participants(market)
    by_asset = participant_flows(market, split, by="asset")
    col = {"all": "flow_total", "trading": "flow_trading", "allocation": "flow_allocation"}[flow]
    flow_days = by_asset["date"].unique().sort()
    first_eff = split.history["effective_from"].min()
    first = flow_days[1] if flow == "all" else first_eff
    last = flow_days.max()
    f = by_asset.select("date", "asset", value=pl.col(col))
    if flow != "all":
        f = f.filter(pl.col("date") >= first_eff)
    daily = _pd_by_industry(f, market, industries, dates).fillna(0.0)
    # each window summed term by term (a running sum cancels over the long history)
    s = sum(daily.shift(skip + k) for k in range(lookback))
    pos = pd.Series(np.arange(len(dates)), index=dates)
    start_pos = pos - skip - lookback + 1
    valid = (start_pos >= pos[pd.Timestamp(first)]) & (pos <= pos[pd.Timestamp(last)])
    valid &= start_pos >= 1
    s = s.where(np.broadcast_to(valid.to_numpy()[:, None], s.shape))
    if scale == "holding":
        hv = research_panel(market).frame.select("date", "asset", value=pl.col("hold_value"))
        den = _pd_by_industry(hv, market, industries, dates)
        # a session with panel rows: industries without holdings hold 0
        has = dates.isin(pd.to_datetime(hv["date"].unique().to_pandas()))
        den = den.where(np.broadcast_to(~has[:, None], den.shape) | den.notna(), 0.0)
    else:
        raise NotImplementedError(scale)
    den = den.shift(skip + lookback)
    out = (s / den).where(den > 0)
    long = out.stack().dropna().rename("value").reset_index()
    long.columns = ["date", "industry", "value"]
    return long


def _pd_anchors(dates: pd.Index, weeks: int, first_date) -> list:
    d = pd.Series(pd.to_datetime(dates), index=dates)
    iso = d.dt.isocalendar()
    key = iso["year"] * 100 + iso["week"]
    last_of_week = d.groupby(key.to_numpy()).max()
    anchors = [x.date() for x in last_of_week if x.date() >= first_date]
    return anchors[::weeks]


def _pd_book(levels: pd.DataFrame, picks: dict) -> pd.Series:
    """A unit book, no costs: on each signal date's next close, equal weights in the picks
    (units = NAV / n / level), marked at the close."""
    dates = list(levels.index)
    pos = {d: i for i, d in enumerate(dates)}
    fill_at = {}
    for d, names in picks.items():
        i = pos[pd.Timestamp(d)] + 1
        if i < len(dates):
            fill_at[dates[i]] = names
    first = min(fill_at)
    nav, units, out = 1.0, {}, {}
    for d in dates[dates.index(first) :]:
        value = sum(u * levels.at[d, a] for a, u in units.items()) if units else nav
        out[d] = value / nav - 1.0 if units else 0.0
        nav = value
        if d in fill_at:
            names = fill_at[d]
            units = {a: nav / len(names) / levels.at[d, a] for a in names}
    return pd.Series(out)


# -- tests ---------------------------------------------------------------------------------------


def test_industry_lists():
    assert len(CITIC_LEVEL1) == 30 and len(set(CITIC_LEVEL1)) == 30
    assert len(ROTATION_INDUSTRIES) == 26
    assert not set(ROTATION_EXCLUDED) & set(ROTATION_INDUSTRIES)
    # the seed's ETF universe: 24 of the 26 (no 轻工制造, 消费者服务)
    etf_inds = set(industry_etfs()["citic_industry"].to_list())
    assert etf_inds <= set(ROTATION_INDUSTRIES)
    assert set(ROTATION_INDUSTRIES) - etf_inds == {"轻工制造", "消费者服务"}


def test_industry_returns_equal_pandas(strat_market, inputs):
    ref = _pd_industry_returns(strat_market, ROTATION_INDUSTRIES)
    got = industry_returns(strat_market, inputs=inputs)
    assert industry_returns(strat_market).equals(got)  # from prices and assets alone
    wide = got.filter(pl.col("industry") != "equal_weight").to_pandas().pivot(
        index="date", columns="industry", values="return"
    ).reindex(index=ref.index, columns=ref.columns)  # fmt: skip
    assert ref.notna().sum().sum() > 26 * 1500
    np.testing.assert_array_equal(wide.notna().to_numpy(), ref.notna().to_numpy())
    np.testing.assert_allclose(wide.to_numpy(), ref.to_numpy(), rtol=0, atol=TOL, equal_nan=True)
    eq = got.filter(pl.col("industry") == "equal_weight").to_pandas().set_index("date")["return"]
    np.testing.assert_allclose(
        eq.reindex(ref.index).to_numpy(), ref.mean(axis=1).to_numpy(), atol=TOL, equal_nan=True
    )


@pytest.mark.parametrize(
    ("flow", "lookback", "skip"), [("all", 5, 0), ("trading", 21, 0), ("allocation", 42, 21)]
)
def test_factor_equals_pandas(strat_market, inputs, flow, lookback, skip):
    got = industry_flow_factor(
        strat_market, flow=flow, lookback=lookback, skip=skip, inputs=inputs
    ).to_pandas()
    ref = _pd_factor(strat_market, flow, lookback, skip, "holding")
    merged = ref.merge(got, on=["date", "industry"], how="outer", suffixes=("_ref", "_got"))
    assert merged["value_ref"].notna().all() and merged["value_got"].notna().all()
    assert len(merged) > 26 * 300
    # atol: a sum of flows that cancels to ~1e-4 of its terms carries ~1e-13 of rounding
    np.testing.assert_allclose(merged["value_got"], merged["value_ref"], rtol=TOL, atol=1e-12)


def test_factor_scales(strat_market, inputs):
    raw = industry_flow_factor(strat_market, flow="all", scale="none", inputs=inputs)
    fc = industry_flow_factor(strat_market, flow="all", scale="float_cap", inputs=inputs)
    cap = _pd_industry_caps(strat_market, ROTATION_INDUSTRIES).shift(21)
    j = raw.join(fc, on=["date", "industry"], suffix="_fc").to_pandas()
    den = cap.stack().rename("den").reset_index()
    den.columns = ["date", "industry", "den"]
    j = j.merge(den, on=["date", "industry"])
    np.testing.assert_allclose(j["value_fc"], j["value"] / j["den"], rtol=TOL)
    assert len(j) == fc.height > 0


def test_book_equals_pandas(strat_market, inputs):
    spec = {**TRADING_ROTATION, "top": 4}
    res = industry_rotation(
        strat_market, **spec, costs=None, capital=None, index=None, inputs=inputs
    )
    fac = industry_flow_factor(strat_market, flow="trading", lookback=21, inputs=inputs)
    fac_pd = fac.to_pandas()
    dates = pd.DatetimeIndex(inputs.date_series.to_pandas())
    ret = _pd_industry_returns(strat_market, ROTATION_INDUSTRIES)
    order = {g: i for i, g in enumerate(ROTATION_INDUSTRIES)}
    anchors = _pd_anchors(dates, 2, fac["date"].min())
    picks = {}
    for d in anchors:
        day = fac_pd[fac_pd["date"] == pd.Timestamp(d)].copy()
        if len(day) < 4:
            continue
        day["o"] = day["industry"].map(order)
        picks[d] = day.sort_values(["value", "o"], ascending=[False, True])["industry"][:4].tolist()
    got_picks = res.targets.group_by("date").agg(pl.col("industry").sort_by("rank"))
    assert dict(zip(got_picks["date"], got_picks["industry"].to_list(), strict=True)) == picks
    levels = (1.0 + ret.fillna(0.0)).cumprod().loc[: pd.Timestamp(res.daily["date"].max())]
    ref = _pd_book(levels, picks)
    got = res.daily.to_pandas().set_index("date")
    assert len(got) == len(ref) > 1000
    np.testing.assert_allclose(got["net"].to_numpy(), ref.to_numpy(), atol=TOL, rtol=0)
    eq = ret.mean(axis=1).reindex(got.index)
    np.testing.assert_allclose(got["excess"], got["net"] - eq, atol=TOL)


def test_etf_book_equals_pandas(strat_market, inputs):
    res = industry_rotation(
        strat_market, **TRADING_ROTATION, asset="etf", costs=None, capital=None, inputs=inputs
    )
    emap = industry_etfs().select(industry="citic_industry", etf="etf")
    code = dict(zip(emap["industry"], emap["etf"], strict=True))
    # the ETF universe is the seed's 24 industries; each target holds its industry's ETF
    assert set(res.targets["industry"].unique()) <= set(code)
    assert all(code[i] == a for i, a in res.targets.select("industry", "asset").iter_rows())
    etfs = strat_market.etfs.filter(pl.col("etf").is_in(list(code.values()))).collect()
    close = etfs.to_pandas().pivot(index="date", columns="etf", values="close").sort_index()
    fac = industry_flow_factor(strat_market, flow="trading", lookback=21, inputs=inputs)
    fac_pd = fac.to_pandas()
    fac_pd = fac_pd[fac_pd["industry"].isin(code)]
    order = {g: i for i, g in enumerate(ROTATION_INDUSTRIES)}
    picks = {}
    for d in _pd_anchors(pd.DatetimeIndex(inputs.date_series.to_pandas()), 2, fac["date"].min()):
        day = fac_pd[fac_pd["date"] == pd.Timestamp(d)].copy()
        ts = pd.Timestamp(d)
        day = day[day["industry"].map(code).map(lambda e, ts=ts: pd.notna(close.at[ts, e]))]
        if len(day) < 5:
            continue
        day["o"] = day["industry"].map(order)
        picks[d] = [code[i] for i in day.sort_values(["value", "o"], ascending=[False, True])
                    ["industry"][:5]]  # fmt: skip
    ref = _pd_book(close.ffill().loc[: pd.Timestamp(res.daily["date"].max())], picks)
    got = res.daily.to_pandas().set_index("date")
    assert len(got) == len(ref) > 1000
    np.testing.assert_allclose(got["net"].to_numpy(), ref.to_numpy(), atol=TOL, rtol=0)


def test_costs_lower_the_book(strat_market, inputs):
    free = industry_rotation(strat_market, costs=None, inputs=inputs)
    paid = industry_rotation(strat_market, inputs=inputs)
    assert paid.stats["annual_return"][0] < free.stats["annual_return"][0]
    # 0.15% a side on every order's value, no stamp duty, no minimum: ~0.3% a round trip
    tr = paid.book.trades
    assert tr.height > 100 and set(tr["side"].unique()) == {"buy", "sell"}
    np.testing.assert_allclose(tr["cost"], 0.0015 * tr["value"], rtol=1e-12)
    assert paid.book.daily["cost_yuan"].sum() == pytest.approx(tr["cost"].sum(), rel=1e-12)
    assert free.book.trades["cost"].sum() == 0.0


def test_layered_groups_partition(strat_market, inputs):
    lg = layered_groups(strat_market, inputs=inputs)
    g = lg.groups
    per = g.group_by("date").agg(
        n=pl.len(), u=pl.col("industry").n_unique(), sizes=pl.col("group").value_counts()
    )
    assert (per["n"] == per["u"]).all()  # an industry in one group per date
    fac = industry_flow_factor(strat_market, flow="all", lookback=5, inputs=inputs)
    j = g.join(fac, on=["date", "industry"], how="left", suffix="_f")
    assert j["value_f"].is_not_null().all()
    counts = fac.filter(pl.col("date").is_in(g["date"].unique().implode())).group_by("date").len()
    assert per.join(counts, on="date")["n"].equals(per.join(counts, on="date")["len"])
    sizes = g.group_by("date", "group").len()
    spread = sizes.group_by("date").agg(d=pl.col("len").max() - pl.col("len").min())
    assert (spread["d"] <= 1).all()
    assert sorted(g["group"].unique().to_list()) == [1, 2, 3]
    # higher groups hold higher factor values
    mm = g.group_by("date", "group").agg(lo=pl.col("value").min(), hi=pl.col("value").max())
    w = mm.sort("date", "group").group_by("date").agg(pl.col("lo"), pl.col("hi"))
    assert all(lo[0] >= hi[1] and lo[1] >= hi[2] for lo, hi in zip(w["lo"], w["hi"], strict=True))
    assert lg.daily["group"].n_unique() == 3 and lg.stats.height == 3


def test_grid_points_equal_single_books(strat_market, inputs):
    grid = rotation_grid(strat_market, inputs=inputs)
    assert grid.table.height == 3 * 5 * 1 * 3 * 6 * 2
    keys = ["flow", "lookback", "skip", "rebalance", "top", "costs"]
    assert grid.table.select(keys).is_unique().all()
    for spec, costs in ((TRADING_ROTATION, True), ({**TRADING_ROTATION, "top": 7}, False)):
        one = industry_rotation(
            strat_market, **spec, inputs=inputs, **({} if costs else {"costs": None})
        )
        row = grid.table.filter(
            (pl.col("flow") == spec["flow"]) & (pl.col("lookback") == spec["lookback"])
            & (pl.col("skip") == 0) & (pl.col("rebalance") == spec["rebalance"])
            & (pl.col("top") == spec["top"]) & (pl.col("costs") == costs)
        )  # fmt: skip
        for col in one.stats.columns:
            assert row[col][0] == pytest.approx(one.stats[col][0], rel=1e-12, abs=1e-14), col
    best = grid.best()
    assert best.height == 3
    assert grid.excess.select(keys).unique().height == grid.table.height
    text = repr(grid)
    assert text.startswith("RotationGrid: 540 books") and "preset small" in text
    etf = rotation_grid(strat_market, asset="etf", flows=["trading"], tops=[5], lookbacks=[21],
                        rebalances=[2], with_costs=[True], inputs=inputs)  # fmt: skip
    one = industry_rotation(strat_market, **TRADING_ROTATION, asset="etf", inputs=inputs)
    assert etf.table["excess_sharpe"][0] == pytest.approx(one.stats["excess_sharpe"][0], rel=1e-12)


def test_seed_rotations(strat_market, inputs):
    out = seed_rotations(strat_market, inputs=inputs)
    assert set(out) == {"trading_biweekly_top5", "allocation_6week_top5"}
    alloc = out["allocation_6week_top5"]
    assert alloc.params["skip"] == ALLOCATION_ROTATION["skip"] == 21
    gaps = np.diff(np.array(alloc.targets["date"].unique().sort().to_list(), "datetime64[D]"))
    assert (gaps.astype(int) >= 6 * 7 - 3).all()
    text = repr(alloc)
    assert "allocation flows, TOP-5 every 6 week(s) on stocks" in text
    assert "content hash" in text and "skipping 21" in text
    assert "<table" in alloc._repr_html_()
    etfs = seed_rotations(strat_market, asset="etf", inputs=inputs)
    assert all(r.targets["asset"].str.contains(r"^\d{6}\.S[HZ]$").all() for r in etfs.values())


def _perturbed(market: Market, cut: dt.date) -> Market:
    """The market with prices, published and participant holdings, ETF and index levels after
    `cut` changed."""
    rng = np.random.default_rng(7)
    tables = {n: market.table(n).collect() for n in market.names}
    late = pl.col("date") > cut
    px = tables["prices"]
    f = pl.Series(rng.uniform(0.7, 1.3, px.height))
    tables["prices"] = px.with_columns(
        [pl.when(late).then(pl.col(c) * f).otherwise(pl.col(c)) for c in
         ("open", "high", "low", "close")]
    )  # fmt: skip
    tables["prices"] = tables["prices"].with_columns(
        amount=pl.when(late).then(pl.col("amount") * 2).otherwise(pl.col("amount"))
    )
    for name in ("northbound", "participant_holdings"):
        t = tables[name]
        g = pl.Series(rng.integers(0, 3, t.height))
        tables[name] = t.with_columns(
            shares=pl.when(late).then(pl.col("shares") * g).otherwise(pl.col("shares"))
        )
    e = tables["etfs"]
    tables["etfs"] = e.with_columns(
        close=pl.when(late).then(pl.col("close") * 1.5).otherwise(pl.col("close"))
    )
    ix = tables["indices"]
    h = pl.Series(rng.uniform(0.8, 1.2, ix.height))
    tables["indices"] = ix.with_columns(
        close=pl.when(late).then(pl.col("close") * h).otherwise(pl.col("close"))
    )
    return Market(tables, meta=market.meta, validate="none")


@pytest.mark.parametrize("asset", ["stocks", "etf"])
def test_no_lookahead(strat_tiny, asset):
    cut = dt.date(2021, 3, 31)
    inds = [i for i in ROTATION_INDUSTRIES if i not in ("钢铁", "煤炭", "综合金融", "消费者服务")]
    present = set(strat_tiny.assets.collect()["industry"].to_list())
    inds = [i for i in inds if i in present]
    other = _perturbed(strat_tiny, cut)
    for flow, lb, sk, w in (("all", 5, 0, 1), ("trading", 21, 0, 2), ("allocation", 42, 21, 6)):
        a = industry_rotation(strat_tiny, flow=flow, lookback=lb, skip=sk, rebalance=w,
                              industries=inds, asset=asset, end="2023-06-30")  # fmt: skip
        b = industry_rotation(other, flow=flow, lookback=lb, skip=sk, rebalance=w,
                              industries=inds, asset=asset, end="2023-06-30")  # fmt: skip
        before = pl.col("date") <= cut
        assert a.targets.filter(before).equals(b.targets.filter(before))
        assert a.factor.filter(before).equals(b.factor.filter(before))
        da, db = a.daily.filter(before), b.daily.filter(before)
        assert da.height > 200
        assert {"broad", "excess_broad"} <= set(da.columns)
        assert da.equals(db)  # the book, both excess series and CSI 800 itself
        # and the future did change
        assert not a.targets.equals(b.targets) or not a.daily.equals(b.daily)


def test_bad_input(strat_tiny, strat_market, inputs):
    with pytest.raises(ParameterError, match="`top` = 27 is larger than the 26 industries"):
        industry_rotation(strat_market, top=27, inputs=inputs)
    with pytest.raises(ParameterError, match="`lookback` must be an integer >= 1; got 0"):
        industry_flow_factor(strat_market, lookback=0, inputs=inputs)
    with pytest.raises(ParameterError, match="`lookback`"):
        industry_rotation(strat_market, lookback=-5, inputs=inputs)
    with pytest.raises(ParameterError, match="`flow` must be one of"):
        industry_rotation(strat_market, flow="foreign", inputs=inputs)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="`rebalance`"):
        industry_rotation(strat_market, rebalance=0, inputs=inputs)
    with pytest.raises(ParameterError, match="`scale`"):
        industry_flow_factor(strat_market, scale="size", inputs=inputs)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="`asset`"):
        industry_rotation(strat_market, asset="bonds", inputs=inputs)  # type: ignore[arg-type]
    with pytest.raises(DisclosureError, match="2024-08-16"):
        industry_rotation(strat_market, end="2024-10-31", inputs=inputs)
    with pytest.raises(MarketError, match="no index 'csi9000'"):
        industry_rotation(strat_market, index="csi9000", inputs=inputs)
    with pytest.raises(ParameterError, match="etf_map"):
        industry_rotation(strat_market, asset="etf", etf_map=pl.DataFrame({"x": [1]}),
                          inputs=inputs)  # fmt: skip
    tables = {n: strat_tiny.table(n) for n in strat_tiny.names}
    inds = ["银行", "医药", "电子", "计算机", "机械", "汽车"]
    no_part = Market({n: t for n, t in tables.items() if n != "participant_holdings"},
                     validate="none")  # fmt: skip
    for flow in ("trading", "allocation"):
        with pytest.raises(MarketError, match=r"`participant_holdings`.*flow='all'"):
            industry_rotation(no_part, flow=flow)
    with pytest.raises(MarketError, match=r"1 of the 2 industries .* have no stocks in table `ass"):
        rotation_inputs(strat_tiny, flows=["all"], industries=["银行", "星际旅行"])
    with pytest.raises(MarketError, match="Pass `industries=`"):
        rotation_inputs(strat_tiny, flows=["all"], industries=["Banks", "Media", "银行"])
    # an industry a small market lacks is left out and reported
    part = rotation_inputs(strat_tiny, flows=["all"], industries=[*inds, "星际旅行"])
    assert part.industries == tuple(inds)
    assert part.report.filter(pl.col("step").str.starts_with("industries without"))["rows"][0] == 1
    no_etf = Market({n: t for n, t in tables.items() if n != "etfs"}, validate="none")
    with pytest.raises(MarketError, match=r"needs table `etfs`.*asset='stocks'"):
        industry_rotation(no_etf, flow="all", asset="etf", top=3, industries=inds)
    # a market whose daily disclosure ends earlier (synthetic `disclosure_change`)
    meta = {**strat_tiny.meta, "params": {**strat_tiny.meta["params"], "disclosure_change":
                                          "2021-06-30"}}  # fmt: skip
    early = Market(tables, meta=meta, validate="none")
    fac = industry_flow_factor(early, flow="all", industries=inds)
    assert fac["date"].max() == dt.date(2021, 6, 30)
    with pytest.raises(DisclosureError, match="after the last daily northbound disclosure"):
        industry_rotation(early, flow="all", top=3, industries=inds, end="2021-09-30")
    # all flows work from the published holdings alone
    res = industry_rotation(no_part, flow="all", top=3, industries=inds)
    assert res.params["flow_source"].startswith("published")
    assert res.daily.height > 500


def test_external_factor(strat_market, inputs):
    # the flow factor handed in from outside gives the same book as the flow rotation
    fac = industry_flow_factor(strat_market, flow="trading", lookback=21, inputs=inputs)
    own = industry_rotation(strat_market, **TRADING_ROTATION, inputs=inputs)
    ext = industry_rotation(strat_market, top=5, rebalance=2, factor=fac, inputs=inputs)
    assert ext.targets.equals(own.targets) and ext.daily.equals(own.daily)
    assert ext.params["flow"] == "external" and ext.params["lookback"] is None
    # the ETF sector-flow factor of factorlab.etf (issue 14), on ETFs, without inputs
    from factorlab.etf import sector_flow_factor

    etf_fac = sector_flow_factor(strat_market, by="industry")
    res = industry_rotation(strat_market, top=5, rebalance=2, factor=etf_fac, asset="etf")
    assert res.params["flow_source"] == "external factor" and res.daily.height > 500
    lg = layered_groups(strat_market, factor=etf_fac, inputs=inputs)
    assert lg.params["flow"] == "external" and lg.stats.height == 3
    with pytest.raises(ParameterError, match="not sessions of `prices`"):
        industry_rotation(strat_market, factor=fac.with_columns(date=pl.date(2020, 1, 4)).head(1),
                          inputs=inputs)  # fmt: skip
    with pytest.raises(DuplicateKeyError):
        industry_rotation(strat_market, factor=pl.concat([fac, fac.head(2)]), inputs=inputs)
    with pytest.raises(MissingColumnError, match="value"):
        industry_rotation(strat_market, factor=fac.drop("value"), inputs=inputs)
    with pytest.raises(ParameterError, match="no row for the ranked industries"):
        industry_rotation(strat_market, factor=fac.with_columns(industry=pl.col("industry") + "_x"),
                          inputs=inputs)  # fmt: skip


def test_estimated_holdings_extend_all_flows(strat_market, inputs):
    """Past the disclosure change all flows come from estimated holdings (here the synthetic
    truth, published the next session), marked as estimated; trading flows stay before."""
    change = dt.date(2024, 8, 16)
    truth = strat_market.northbound_truth.filter(pl.col("date") > change).collect()
    days = truth["date"].unique().sort()
    nxt = pl.DataFrame({"date": days, "published": days.shift(-1)}).drop_nulls()
    est = truth.join(nxt, on="date")
    inp = rotation_inputs(strat_market, flows=["all", "trading"], estimated_holdings=est)
    assert inp.flows["trading"].last == inputs.flows["trading"].last
    res = industry_rotation(strat_market, flow="all", top=5, rebalance=1, lookback=5, inputs=inp)
    after = res.targets.filter(pl.col("date") > change)
    assert after.height > 0 and after["estimated"].all()
    before = res.targets.filter(pl.col("date") <= change)
    assert not before["estimated"].any()
    # an estimated day's flow enters on the day it is published: the factor on the first
    # session after the change holds no estimated flow yet (its own day is published later)
    fac = industry_flow_factor(strat_market, flow="all", lookback=5, inputs=inp)
    ref = industry_flow_factor(strat_market, flow="all", lookback=5, inputs=inputs)
    assert fac["date"].max() > change
    same = fac.filter(pl.col("date") <= change).join(ref, on=["date", "industry"])
    assert same.height > 0
    assert inp.flows["all"].source.endswith(f"estimated holdings after {change}")
    # the window before the change is what the daily disclosure gives
    assert res.book is not None and res.daily["date"].max() > change
    with pytest.raises(ParameterError, match="not the participants'"):
        rotation_inputs(strat_market, flows=["all"], source="participants", estimated_holdings=est)
