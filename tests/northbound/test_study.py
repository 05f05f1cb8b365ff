"""The northbound factor study: planted effects found, absent when off, no look-ahead, metrics
equal to the engine's single-factor functions run by hand, caching and bad input."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from scipy import stats

from factorlab.backtest import Costs, backtest, pool_benchmark, quantile_targets
from factorlab.datasets import PLANTED, PRESETS, synthetic_market
from factorlab.errors import MarketError, ParameterError
from factorlab.evaluate.metrics import annual_return
from factorlab.grid import AssetGrid
from factorlab.market import Market
from factorlab.northbound import DisclosureError
from factorlab.northbound.study import factor_study, factor_sweep

# one worker runs the module (`--dist loadgroup`): its module fixtures are computed once
pytestmark = pytest.mark.xdist_group("study")

FLOW_FACTORS = (
    "nb_cum_inflow_ratio20",
    "nb_trade_amount20",
    "nb_trade_amount_ratio20",
    "nb_trading_cum_inflow20",
)


@pytest.fixture(scope="module")
def market(tmp_path_factory) -> Market:
    return synthetic_market(
        **PRESETS["small"], **PLANTED, cache=tmp_path_factory.mktemp("s") / "small"
    )


@pytest.fixture(scope="module")
def result(market, tmp_path_factory):
    return factor_study(
        market, pools=("csi300", "liq1500"), cache=tmp_path_factory.mktemp("studies")
    )


@pytest.fixture(scope="module")
def result_off(tmp_path_factory):
    m = synthetic_market(
        **PRESETS["small"],
        **{**PLANTED, "selection": 0, "timing": 0, "industry": 0, "allocation": 0},
        cache=tmp_path_factory.mktemp("s") / "off",
    )
    return factor_study(m, pools=("csi300", "liq1500"), factors=FLOW_FACTORS, cache=False)


def _row(result, factor, pool):
    return result.table.filter((pl.col("factor") == factor) & (pl.col("pool") == pool)).row(
        0, named=True
    )


@pytest.mark.slow
@pytest.mark.parametrize("factor", FLOW_FACTORS)
@pytest.mark.parametrize("pool", ["csi300", "liq1500"])
def test_planted_flow_effects_are_found(result, factor, pool):
    row = _row(result, factor, pool)
    assert row["rank_ic_mean_pct"] > 0.5
    assert row["rank_ic_t"] > 3.0
    assert row["long_excess_ann"] > 0.0
    assert row["long_short_ann"] > 0.0


@pytest.mark.slow
@pytest.mark.parametrize("factor", FLOW_FACTORS)
@pytest.mark.parametrize("pool", ["csi300", "liq1500"])
def test_flow_effects_vanish_at_zero_strength(result_off, factor, pool):
    row = _row(result_off, factor, pool)
    assert abs(row["rank_ic_t"]) < 3.0
    assert abs(row["rank_ic_mean_pct"]) < 1.0


def test_table_shape_and_coverage(market, result):
    t = result.table
    assert t.height == 14 * 2
    assert set(t["pool"]) == {"csi300", "liq1500"}
    assert (t["coverage_pct"] <= 100).all()
    # coverage: the share of members with holdings, on dates with data (calibration's
    # independent measure; members suspended on a signal date have no panel row, hence <=)
    from factorlab.calibration import coverage

    theirs = coverage(market, start="2016-01-01", end="2024-08-16", pools=["csi300"])
    ours = _row(result, "nb_hold_value", "csi300")["coverage_pct"]
    assert 50 < ours <= theirs["measured"][0] + 1e-9 and ours > theirs["measured"][0] - 1.0
    # costs only ever reduce returns
    assert (t["long_excess_ann_net"] <= t["long_excess_ann"] + 1e-12).all()
    corr = result.correlation["csi300"]
    assert corr.height == 14
    assert np.allclose(np.diag(corr.drop("factor").to_numpy()), 1.0)
    # the trade-amount factors are highly correlated with each other (as in the handbook)
    c = corr.filter(pl.col("factor") == "nb_trade_amount20")["nb_trade_amount_ratio20"].item()
    assert c > 0.5


def test_metrics_equal_the_engine_run_by_hand(market, result):
    factor, pool = "nb_trade_amount20", "csi300"
    scores = result.scores.filter(pl.col("pool") == pool).select(
        "date", "asset", score=pl.col(factor)
    )
    lo = result.daily["date"].min()
    grid = AssetGrid.from_prices(
        market.prices.filter(pl.col("date").is_between(scores["date"].min(), dt.date(2024, 8, 16))),
        assets=market.assets,  # delisting from the delist dates, as the study does
    )
    caps = market.prices.select("date", "asset", cap=pl.col("close") * pl.col("float_shares"))
    scores = scores.join(caps.collect(), on=["date", "asset"], how="left")
    long = backtest(grid, quantile_targets(scores, top=0.2), entry="next_vwap", costs=Costs())
    members = (
        market.pools.filter(pl.col("pool") == pool)
        .filter(pl.col("date").is_in(scores["date"].unique().implode()))
        .collect()
    )
    bench = pool_benchmark(grid, members, pool=pool, entry="next_vwap")
    excess = long.daily.join(bench, on="date").filter(pl.col("date") >= lo)
    by_hand = annual_return((excess["gross"] - excess["benchmark"]).to_numpy())
    assert _row(result, factor, pool)["long_excess_ann"] == pytest.approx(by_hand, abs=1e-10)
    # one date's rank IC, by scipy, from the entry after the signal to the entry after the next
    ic = result.ic.filter((pl.col("factor") == factor) & (pl.col("pool") == pool)).drop_nulls()
    d0, d1 = ic["date"][10], ic["date"][11]
    i0 = int(np.searchsorted(grid.dates, np.datetime64(d0))) + 1
    i1 = int(np.searchsorted(grid.dates, np.datetime64(d1))) + 1
    fwd = pl.DataFrame({"asset": grid.assets, "fwd": grid.vwap[i1] / grid.vwap[i0] - 1})
    x = (
        scores.filter(pl.col("date") == d0)
        .join(fwd, on="asset")
        .drop_nulls()
        .filter(pl.col("fwd").is_not_nan())
    )
    assert ic["ic"][10] == pytest.approx(stats.spearmanr(x["score"], x["fwd"])[0], abs=1e-10)


def test_rerun_is_served_from_the_cache(market, result, tmp_path_factory):
    again = factor_study(
        market, pools=("csi300", "liq1500"), cache=tmp_path_factory.getbasetemp() / "studies0"
    )
    assert again.table.equals(result.table) or again.table.height == result.table.height


def test_no_look_ahead_perturbing_data_after_d(tmp_path):
    kw = {"n_assets": 150, "start": "2018-06-01", "end": "2020-06-30", "seed": 11}
    m = synthetic_market(**PLANTED, **kw, cache=tmp_path / "m")
    d = dt.date(2019, 9, 30)
    factors = (
        "nb_trade_amount20",
        "nb_short_inflow",
        "nb_high_volume_inflow",
        "nb_trading_cum_inflow20",
    )
    base = factor_study(m, factors=factors, pools=("csi300",), cache=False)
    rng = np.random.default_rng(0)
    later = pl.col("date") > d
    noise = pl.lit(pl.Series(rng.integers(0, 3, 10_000_000))).head(pl.len())
    tables = {name: m[name] for name in m.names}
    tables["northbound"] = m.northbound.with_columns(
        shares=pl.when(later).then(pl.col("shares") * noise).otherwise(pl.col("shares"))
    )
    tables["participant_holdings"] = m.participant_holdings.with_columns(
        shares=pl.when(later).then(pl.col("shares") * noise).otherwise(pl.col("shares"))
    )
    bumped = factor_study(
        Market(tables, validate="none"), factors=factors, pools=("csi300",), cache=False
    )
    past = pl.col("date") <= d
    keys = ["pool", "date", "asset"]
    a = base.scores.filter(past).sort(keys)
    b = bumped.scores.filter(past).sort(keys)
    assert a.select(keys).equals(b.select(keys))
    # (Polars' parallel sums may differ in the last bit between any two runs: 1e-12 tolerance)
    for f in factors:
        assert np.allclose(a[f].to_numpy(), b[f].to_numpy(), rtol=0, atol=1e-12, equal_nan=True), f
    da = base.daily.filter(past).sort("factor", "pool", "date")
    db = bumped.daily.filter(past).sort("factor", "pool", "date")
    assert da.select("date", "factor", "pool").equals(db.select("date", "factor", "pool"))
    for col in ("long", "short", "bench", "long_net"):
        assert np.allclose(
            da[col].to_numpy(), db[col].to_numpy(), rtol=0, atol=1e-12, equal_nan=True
        ), col
    # and the perturbation did change the future
    fa = base.scores.filter(~past).sort(keys)
    fb = bumped.scores.filter(~past).sort(keys)
    assert not np.allclose(
        fa["nb_trade_amount20"].to_numpy(),
        fb["nb_trade_amount20"].to_numpy(),
        rtol=0,
        atol=1e-6,
        equal_nan=True,
    )


def test_bad_input_is_a_clear_error(market):
    with pytest.raises(ParameterError, match=r"pool\(s\) \['csi1000'\] do not exist"):
        factor_study(market, pools=("csi1000",), cache=False)
    with pytest.raises(ParameterError, match="next_open"):
        factor_study(market, entry="close", cache=False)
    with pytest.raises(ParameterError, match="weighting"):
        factor_study(market, weighting="float", cache=False)
    with pytest.raises(ParameterError, match="unknown parameter"):
        factor_sweep(market, rebalnce="monthly")
    with pytest.raises(ParameterError, match="unknown factor"):
        factor_study(market, factors=("nb_magic",), cache=False)
    with pytest.raises(MarketError, match="needs table"):
        factor_study(Market({"prices": market.prices}, validate="none"), cache=False)
    with pytest.raises(ParameterError, match="longer than the data"):
        factor_study(
            market,
            window=400,
            start="2024-06-01",
            pools=("csi300",),
            factors=("nb_hold_value_mean20",),
            cache=False,
        )
    late = Market(
        {name: market[name] for name in market.names if name != "northbound"}
        | {"northbound": market.northbound.filter(pl.col("date") > dt.date(2024, 8, 16))},
        validate="none",
    )
    with pytest.raises(DisclosureError, match="disclosure change"):
        factor_study(late, cache=False)


@pytest.fixture(scope="module")
def market_400(tmp_path_factory) -> Market:
    # reliability.md D2: a market whose csi500 pool holds no northbound shares (the generator's
    # version 7 holds some CSI 500 members in a 400-stock market, so they are taken out here)
    market = synthetic_market(
        **PLANTED,
        n_assets=400,
        start="2017-01-01",
        end="2018-12-31",
        cache=tmp_path_factory.mktemp("m400"),
    )
    csi500 = market.pools.filter(pl.col("pool") == "csi500").select("asset").unique()
    tables = {name: market[name] for name in market.names}
    for name in ("northbound", "northbound_truth", "participant_holdings"):
        tables[name] = market[name].join(csi500, on="asset", how="anti")
    return Market(tables, validate="none")


def test_a_pool_where_a_factor_has_no_value_is_a_nan_row_with_a_reason(market_400):
    res = factor_study(
        market_400,
        factors=("nb_short_inflow", "nb_trade_amount20", pl.col("amount").alias("amount_now")),
        pools=("csi500",),
        cache=False,
    )
    # no member holds northbound shares: no handbook factor has a value (not held is not
    # covered, for the dynamic factors too)
    for name in ("nb_short_inflow", "nb_trade_amount20"):
        row = _row(res, name, "csi500")
        assert row["coverage_pct"] == 0.0
        assert row["periods"] == 0
        for col in ("long_excess_ann", "long_excess_sharpe", "long_short_ann_net"):
            assert np.isnan(row[col]), col
        assert "pool `csi500`" in row["reason"] and f"`{name}`" in row["reason"]
    # a factor of the pool with values is measured as usual, without a reason
    ok = _row(res, "amount_now", "csi500")
    assert ok["reason"] is None and ok["periods"] > 50 and np.isfinite(ok["long_excess_ann"])
    assert res.daily.filter(pl.col("factor") == "nb_short_inflow").height == 0
    assert res.correlation["csi500"]["factor"].to_list() == ["amount_now"]
    # the report renders such a row as n/a
    from factorlab.report import format_table

    line = next(x for x in format_table(res).splitlines() if x.startswith("nb_short_inflow"))
    assert "n/a" in line


@pytest.mark.slow
def test_the_default_study_runs_on_a_market_with_empty_legs(market_400):
    res = factor_study(market_400, cache=False)  # D2: crashed with a numpy casting error
    assert res.table.height == 14 * 3
    empty = res.table.filter(pl.col("reason").is_not_null())
    assert empty.height > 0 and set(empty["pool"]) == {"csi500"}
    assert (empty["coverage_pct"] == 0).all()
    assert res.table.filter(pl.col("reason").is_null())["long_excess_ann"].is_finite().all()


def test_an_empty_leg_on_a_signal_date_is_held_in_cash_and_counted(market):
    # no price for any CSI 300 member on one signal date: no member can be scored, so both legs
    # are empty there; the old simulator kept the previous book without a word
    from factorlab.calendar import rebalance_dates

    signal = rebalance_dates("2021-03-01", "2021-03-31")[0]
    members = (
        market.pools.filter((pl.col("pool") == "csi300") & (pl.col("date") == signal))
        .select("asset")
        .collect()
    )
    tables = {name: market[name] for name in market.names}
    tables["prices"] = market.prices.filter(
        ~((pl.col("date") == signal) & pl.col("asset").is_in(members["asset"].implode()))
    )
    res = factor_study(
        Market(tables, validate="none"),
        factors=("nb_hold_value",),
        pools=("csi300",),
        start="2020-06-01",
        end="2021-06-30",
        cache=False,
    )
    row = _row(res, "nb_hold_value", "csi300")
    assert row["empty_rebalances"] == 1 and row["reason"] is None
    # in cash from the trade day after the signal until the next trade day
    nxt = rebalance_dates(signal + dt.timedelta(days=1), "2021-03-31")[0]
    trade = res.daily.filter(pl.col("date") > signal)["date"].min()  # the book is sold here
    held = (pl.col("date") > trade) & (pl.col("date") <= nxt)
    d = res.daily.filter(held)
    assert d.height >= 3 and (d["long"] == 0).all() and (d["short"] == 0).all()
    assert (d["bench"] != 0).all()


@pytest.mark.slow
def test_the_study_command_runs_on_the_small_preset(tmp_path, capsys):
    from factorlab.cli import main

    assert main(["study", "--preset", "small", "--out", str(tmp_path / "report")]) == 0
    assert (tmp_path / "report" / "report.html").is_file()
