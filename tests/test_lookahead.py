"""No look-ahead, proven by dropping the future, not only by scaling it.

Every price, northbound and participant row dated after d is dropped, shuffled across assets
within its date, or multiplied; nothing at or before d may change: the study's scores, target
weights and daily long / short / bench / excess series, the backtester's daily returns,
rebalances, positions and trades, and ``evaluate``'s quantiles and the ICs whose forward
window ends by d (under the default ``per_horizon`` rule). ``rule="any_horizon"`` (alphalens'
convention) drops the rows whose longest-horizon return does not exist yet: look-ahead by
construction, documented there, not tested here.
"""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import polars as pl
import pytest

from factorlab.backtest import Costs, backtest, quantile_targets
from factorlab.datasets import PLANTED, synthetic_market
from factorlab.evaluate import DensePanel, clean_factor, evaluate, forward_returns
from factorlab.grid import AssetGrid
from factorlab.market import Market
from factorlab.northbound.study import factor_study
from factorlab.ops import compute_factors

D = dt.date(2018, 3, 14)  # a Wednesday: its week's anchor (Friday) lies after d
FACTORS = ("nb_hold_ratio_mean20", "nb_trade_amount20", "nb_trading_cum_inflow20")
POOLS = ("csi300", "liq1500")
TABLES = ("prices", "northbound", "participant_holdings")
KEYS = {
    "prices": ("date", "asset"),
    "northbound": ("date", "asset"),
    "participant_holdings": ("date", "participant", "asset"),
}
ATOL = 1e-12  # Polars' parallel sums may differ in the last bit between any two runs


@pytest.fixture(scope="module")
def market(tmp_path_factory) -> Market:
    """The synthetic market with 12 CSI 300 members suspended across d (from a week before to
    a month after): whether they count as suspended or delisted at d must not depend on whether
    they trade again (reliability.md D3)."""
    m = synthetic_market(
        **PLANTED,
        n_assets=120,
        start="2017-01-01",
        end="2018-06-30",
        cache=tmp_path_factory.mktemp("lookahead") / "m",
    )
    members = m.pools.filter((pl.col("pool") == "csi300") & (pl.col("date") == D)).collect()
    stopped = members["asset"].sort().gather_every(5).head(12)
    assert stopped.len() == 12
    window = pl.col("date").is_between(D - dt.timedelta(days=7), D + dt.timedelta(days=30))
    tables = {name: m[name].collect() for name in m.names}
    tables["prices"] = tables["prices"].filter(~(pl.col("asset").is_in(stopped.implode()) & window))
    return Market(tables, validate="none")


def _value_columns(frame: pl.DataFrame, table: str) -> list[str]:
    return [
        c
        for c, t in frame.schema.items()
        if c not in KEYS[table] and (t.is_numeric() or t == pl.Boolean)
    ]


def _drop(frame: pl.DataFrame, table: str) -> pl.DataFrame:
    return frame.filter(pl.col("date") <= D)


def _shuffle(frame: pl.DataFrame, table: str) -> pl.DataFrame:
    """Later rows keep their keys; their values move to another row of the same date (one
    permutation per date for all value columns, so a price row stays consistent)."""
    past, later = frame.filter(pl.col("date") <= D), frame.filter(pl.col("date") > D)
    later = later.sort(KEYS[table])
    rng = np.random.default_rng(7)
    values = (
        later.with_columns(_r=pl.Series(rng.random(later.height)))
        .sort("date", "_r")
        .select(_value_columns(frame, table))
    )
    keys = later.drop(_value_columns(frame, table))
    return pl.concat([past, pl.concat([keys, values], how="horizontal").select(frame.columns)])


def _multiply(frame: pl.DataFrame, table: str) -> pl.DataFrame:
    later = pl.col("date") > D
    rng = np.random.default_rng(3)
    f = pl.lit(pl.Series(rng.uniform(0.5, 2.0, frame.height)))  # one factor per row
    if table == "prices":
        scaled = {c: pl.col(c) * f for c in ("open", "high", "low", "close")} | {
            "volume": pl.col("volume") * 2,
            "amount": pl.col("amount") * 3.4,
            "float_shares": pl.col("float_shares") * 0.5,
        }
    else:
        scaled = {"shares": pl.col("shares") * 3 + 1000}
    return frame.with_columns(
        **{
            c: pl.when(later).then(e).otherwise(pl.col(c)).cast(frame.schema[c])
            for c, e in scaled.items()
        }
    )


PERTURB = {"drop": _drop, "shuffle": _shuffle, "multiply": _multiply}


def _perturbed(market: Market, how: str) -> Market:
    tables = {name: market[name].collect() for name in market.names}
    for name in TABLES:
        tables[name] = PERTURB[how](tables[name], name)
    if how == "drop":  # a delisting after d is not known at d either
        tables["assets"] = tables["assets"].with_columns(
            delist_date=pl.when(pl.col("delist_date") <= D).then(pl.col("delist_date"))
        )
    return Market(tables, validate="none")


def _assert_same(a: pl.DataFrame, b: pl.DataFrame, keys: list[str], what: str) -> None:
    a, b = a.sort(keys), b.sort(keys)
    assert a.height > 0, f"{what}: nothing to compare"
    assert a.select(keys).equals(b.select(keys)), f"{what}: keys differ"
    for c in a.columns:
        if c in keys:
            continue
        x, y = a[c], b[c]
        if x.dtype.is_float():
            assert np.allclose(x.to_numpy(), y.to_numpy(), rtol=0, atol=ATOL, equal_nan=True), (
                f"{what}: `{c}` differs"
            )
        else:
            assert x.equals(y), f"{what}: `{c}` differs"


def _targets(scores: pl.DataFrame, factor: str, pool: str) -> pl.DataFrame:
    s = scores.filter(pl.col("pool") == pool).select("date", "asset", score=pl.col(factor))
    return quantile_targets(s, top=0.2)


@pytest.fixture(scope="module")
def base_study(market):
    return factor_study(market, factors=FACTORS, pools=POOLS, cache=False)


@pytest.mark.slow
@pytest.mark.parametrize("how", list(PERTURB))
def test_the_study_does_not_look_ahead(market, base_study, how):
    other = factor_study(_perturbed(market, how), factors=FACTORS, pools=POOLS, cache=False)
    past = pl.col("date") <= D
    _assert_same(
        base_study.scores.filter(past),
        other.scores.filter(past),
        ["pool", "date", "asset"],
        "scores",
    )
    for factor in FACTORS:
        for pool in POOLS:
            _assert_same(
                _targets(base_study.scores.filter(past), factor, pool),
                _targets(other.scores.filter(past), factor, pool),
                ["date", "asset"],
                f"targets {factor} {pool}",
            )
    _assert_same(
        base_study.daily.filter(past),
        other.daily.filter(past),
        ["factor", "pool", "date"],
        "daily",
    )
    # a signal's IC uses the return up to the entry after the next signal: compare those
    # whose window ends by d
    sig = base_study.ic["date"].unique().sort()
    grid_days = market.prices.select("date").unique().sort("date").collect()["date"]
    ends = {
        s0: grid_days.filter(grid_days > s1)[0]
        for s0, s1 in itertools.pairwise(sig)
        if (grid_days > s1).any()
    }
    known = [s for s, end in ends.items() if end <= D]
    assert len(known) > 10
    done = pl.col("date").is_in(known)
    _assert_same(
        base_study.ic.filter(done), other.ic.filter(done), ["factor", "pool", "date"], "ic"
    )
    # the perturbation did change the future
    later = pl.col("date") > D
    if how != "drop":
        a = base_study.daily.filter(later).sort("factor", "pool", "date")["long"].to_numpy()
        b = other.daily.filter(later).sort("factor", "pool", "date")["long"].to_numpy()
        assert not np.allclose(a, b, rtol=0, atol=1e-6, equal_nan=True)
    else:
        assert other.daily["date"].max() <= D


@pytest.mark.slow
@pytest.mark.parametrize("how", list(PERTURB))
def test_backtest_does_not_look_ahead(market, base_study, how):
    prices = market.prices.collect()
    other = _perturbed(market, how)
    targets = _targets(base_study.scores, "nb_hold_ratio_mean20", "liq1500")
    bench = market.pools.filter(pl.col("pool") == "liq1500").collect()
    bench = bench.filter(pl.col("date").is_in(targets["date"].unique().implode()))
    bench = bench.select("date", "asset", weight=pl.lit(1.0))
    grid_a = AssetGrid.from_prices(prices, assets=market.assets)
    grid_b = AssetGrid.from_prices(other.prices, assets=other.assets)
    days = grid_b.index.date_series()
    for t in (targets, bench):
        # with costs, capital and lots: every part of the engine sees the perturbed future
        opts = {"entry": "next_vwap", "costs": Costs(), "capital": 10_000_000.0, "lots": 100}
        a = backtest(grid_a, t, **opts)
        live = pl.col("date").is_in(days.implode()) & pl.col("asset").is_in(grid_b.assets.implode())
        b = backtest(grid_b, t.filter(live), **opts)
        past = pl.col("date") <= D
        _assert_same(a.daily.filter(past), b.daily.filter(past), ["date"], "daily")
        done = pl.col("trade_date") <= D
        _assert_same(
            a.rebalances.filter(done), b.rebalances.filter(done), ["trade_date"], "rebalances"
        )
        _assert_same(
            a.positions.filter(past), b.positions.filter(past), ["date", "asset"], "positions"
        )
        _assert_same(
            a.trades.filter(past), b.trades.filter(past), ["date", "asset", "side"], "trades"
        )


@pytest.mark.slow
@pytest.mark.parametrize("how", list(PERTURB))
def test_evaluate_does_not_look_ahead(market, how):
    horizons = (1, 5)

    def run(m: Market):
        prices = m.prices.collect().sort("asset", "date")
        fac = compute_factors(prices, ["mom_20", "rev_5"])
        fac = fac.collect() if isinstance(fac, pl.LazyFrame) else fac
        ev = evaluate(fac, ["mom_20", "rev_5"], prices=prices, pools=m.pools, horizons=horizons)
        panel = DensePanel.from_frame(prices, columns=("close", "open"))
        fwd = forward_returns(panel, horizons, entry="next_open")
        q = clean_factor(panel, fac.select("date", "asset", factor="mom_20"), fwd)
        return ev, panel, q

    ev_a, panel_a, qa = run(market)
    ev_b, panel_b, qb = run(_perturbed(market, how))
    days = pl.Series(panel_a.dates).cast(pl.Date)
    n_past = int((days <= D).sum())
    assert np.array_equal(pl.Series(panel_b.dates).cast(pl.Date)[:n_past], days[:n_past])
    # quantiles at or before d (per_horizon: a row's quantile does not need its return)
    assert np.array_equal(qa.quantile[:n_past], qb.quantile[:n_past])
    assert np.array_equal(qa.mask[:n_past], qb.mask[:n_past])
    # ICs whose next_open window (t+1 to t+1+h) ends by d
    row = {d: i for i, d in enumerate(days.to_list())}
    ic_a = ev_a.ic.filter(pl.col("n").is_not_null() & (pl.col("n") > 0))
    known = ic_a.filter(
        pl.struct("date", "horizon").map_elements(
            lambda r: row.get(r["date"], 10**9) + 1 + r["horizon"] < n_past,
            return_dtype=pl.Boolean,
        )
    )
    assert known.height > 50
    keys = ["factor", "pool", "date", "horizon"]
    other = ev_b.ic.join(known.select(keys), on=keys, how="semi")
    _assert_same(known, other, keys, "evaluate ic")
