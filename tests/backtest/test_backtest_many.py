"""backtest_many and the fast paths of backtest: the same books, result for result, bit for bit."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from _books import days, prices_frame, targets
from polars.testing import assert_frame_equal

import factorlab.backtest.engine as engine
from factorlab.backtest import Costs, backtest, backtest_many
from factorlab.errors import DuplicateKeyError, ParameterError, ValueRangeError
from factorlab.grid import AssetGrid

N_DAYS = 60
D = days(N_DAYS)


def _market(n_assets: int, seed: int = 7, suspended: float = 0.05) -> pl.DataFrame:
    """Random walks with `suspended` of the days without a row and an occasional limit move."""
    rng = np.random.default_rng(seed)
    ret = rng.normal(0.0005, 0.03, (N_DAYS, n_assets)).clip(-0.1, 0.1)
    close = np.round(10.0 * np.exp(np.cumsum(np.log1p(ret), axis=0)), 2)
    gone = rng.random(close.shape) < suspended
    gone[0] = False
    return prices_frame(
        {
            f"{600000 + j:06d}.SH": [
                None if gone[t, j] else float(close[t, j]) for t in range(N_DAYS)
            ]
            for j in range(n_assets)
        },
        D,
    )


def _weekly(assets: list[str], k: int, seed: int, point: int | None = None) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for t in range(0, N_DAYS - 1, 5):
        for a in rng.choice(assets, size=k, replace=False):
            rows.append((D[t], str(a), float(rng.uniform(0.5, 2.0))))
    tg = targets(rows)
    return tg if point is None else tg.with_columns(point=pl.lit(point))


def _frames(res) -> dict[str, pl.DataFrame]:
    return {
        name: getattr(res, name)
        for name in ("daily", "trades", "positions", "rebalances", "round_trips", "signals")
    }


def _assert_same(a, b) -> None:
    for name, frame in _frames(a).items():
        assert_frame_equal(frame, getattr(b, name), check_exact=True)
    sa, sb = a.summary(), b.summary()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert sa[key] == sb[key] or (np.isnan(sa[key]) and np.isnan(sb[key])), key


OPTIONS = {"entry": "next_open", "capital": 1e6, "lots": 100, "costs": Costs()}


@pytest.fixture(scope="module")
def grid() -> AssetGrid:
    return AssetGrid.from_prices(_market(12))


def test_backtest_many_equals_one_backtest_per_group(grid):
    assets = grid.assets.to_list()
    books = [_weekly(assets, k, seed=k, point=p) for p, k in enumerate((2, 4, 6))]
    frame = pl.concat(books).sample(fraction=1.0, shuffle=True, seed=1)  # rows in any order
    many = backtest_many(grid, frame, by="point", **OPTIONS)
    assert list(many) == [0, 1, 2]
    for p, book in enumerate(books):
        one = backtest(grid, book.drop("point"), **OPTIONS)
        assert one.trades.height > 0
        _assert_same(many[p], one)


def test_backtest_many_keys_are_tuples_for_several_columns(grid):
    assets = grid.assets.to_list()
    frame = pl.concat(
        [
            _weekly(assets, 3, seed=s).with_columns(pool=pl.lit(pool), side=pl.lit(side))
            for s, (pool, side) in enumerate([("b", "top"), ("a", "top"), ("a", "bottom")])
        ]
    )
    many = backtest_many(grid, frame, by=["pool", "side"], entry="close")
    assert list(many) == [("a", "bottom"), ("a", "top"), ("b", "top")]
    one = backtest(grid, _weekly(assets, 3, seed=1), entry="close")
    _assert_same(many[("a", "top")], one)


def test_enum_coded_assets_give_the_same_book(grid):
    tg = _weekly(grid.assets.to_list(), 4, seed=3)
    coded = tg.with_columns(pl.col("asset").cast(grid.index.enum))
    _assert_same(backtest(grid, coded, **OPTIONS), backtest(grid, tg, **OPTIONS))


def test_unrelated_assets_change_nothing():
    """The same book on a 3-asset grid (candidates listed by the marker scan) and on a 120-asset
    grid (few candidates: listed by sorting) is identical."""
    big = _market(120, suspended=0.0)  # one calendar for both grids
    names = sorted(big["asset"].unique().to_list())[:3]
    small = AssetGrid.from_prices(big.filter(pl.col("asset").is_in(names)))
    large = AssetGrid.from_prices(big)
    tg = _weekly(names, 2, seed=5)
    a, b = backtest(small, tg, **OPTIONS), backtest(large, tg, **OPTIONS)
    assert a.trades.height > 10
    _assert_same(a, b)


def test_a_run_that_outgrows_its_buffers_is_rerun_identically(grid, monkeypatch):
    tg = _weekly(grid.assets.to_list(), 6, seed=11)
    want = backtest(grid, tg, **OPTIONS)
    calls = []
    real_book = engine._book

    def counting_book(*args):
        calls.append(args[-2:])
        return real_book(*args)

    monkeypatch.setattr(engine, "_capacity", lambda indptr, n_a: (1, 1, 10_000))
    monkeypatch.setattr(engine, "_book", counting_book)
    got = backtest(grid, tg, **OPTIONS)
    assert len(calls) > 2  # 1 -> 4 -> 16 -> ... rows
    _assert_same(got, want)


def test_recomputed_trade_costs_are_what_the_book_paid(grid):
    res = backtest(grid, _weekly(grid.assets.to_list(), 6, seed=2), **OPTIONS)
    tr = res.trades
    assert (tr["commission"] >= 5.0).all()  # the per-order minimum
    assert np.allclose(tr["value"], tr["shares"] * tr["price"], rtol=1e-12)
    assert (tr.filter(pl.col("side") == "buy")["stamp_duty"] == 0).all()
    sells = tr.filter(pl.col("side") == "sell")
    assert np.allclose(sells["stamp_duty"], sells["value"] * 0.001, rtol=1e-12)
    per_signal = tr.group_by("signal_date").agg(pl.col("cost").sum())
    paid = res.rebalances.join(per_signal, on="signal_date", how="left").fill_null(0.0)
    assert np.allclose(paid["cost"], paid["cost_right"], rtol=1e-12, atol=1e-9)
    assert res.daily["cost_yuan"].sum() == pytest.approx(tr["cost"].sum(), rel=1e-12)


def test_backtest_many_bad_input(grid):
    a, b = grid.assets[0], grid.assets[1]
    ok = targets([(D[0], a, 1.0), (D[0], b, 1.0)])
    both = pl.concat([ok.with_columns(point=pl.lit(0)), ok.with_columns(point=pl.lit(1))])
    assert len(backtest_many(grid, both, by="point", entry="close")) == 2  # same cell, 2 books
    dup = pl.concat([both, ok.head(1).with_columns(point=pl.lit(1))])
    with pytest.raises(DuplicateKeyError, match=r"duplicate \(`point`, `date`, `asset`\) key"):
        backtest_many(grid, dup, by="point", entry="close")
    with pytest.raises(ValueRangeError, match=r"key column `point` holds 1 null"):
        backtest_many(
            grid,
            both.with_columns(
                point=pl.when(pl.col("asset") == b).then(None).otherwise(pl.col("point"))
            ).head(3),
            by="point",
            entry="close",
        )
    with pytest.raises(ParameterError, match=r"`by` cannot hold the target columns \['date'\]"):
        backtest_many(grid, both, by=["point", "date"], entry="close")
    ls = pl.concat(
        [
            targets([(D[0], a, 1.0), (D[0], b, -1.0)]).with_columns(point=pl.lit(0)),
            targets([(D[0], a, 1.0)]).with_columns(point=pl.lit(1)),
        ]
    )
    with pytest.raises(ParameterError, match=r"1 date\(s\) have one leg only.*'point': 1"):
        backtest_many(grid, ls, by="point", entry="close", book="long_short")


def test_duplicates_are_found_wherever_they_are(grid):
    a, b = grid.assets[0], grid.assets[1]
    tg = targets([(D[0], a, 1.0), (D[5], b, 1.0), (D[0], b, 1.0), (D[5], a, 1.0), (D[0], a, 2.0)])
    with pytest.raises(DuplicateKeyError, match=r"1 duplicate.*600000.SH"):
        backtest(grid, tg, entry="close")


def test_signals_past_the_end_are_listed_as_dates(grid):
    a = grid.assets[0]
    tg = targets([(D[0], a, 1.0), (D[-1], a, 1.0)])
    res = backtest(grid, tg, entry="next_open")
    assert res.unexecuted == [D[-1]]
    assert res.rebalances["signal_date"].to_list() == [D[0]]
    assert backtest(grid, tg, entry="close").unexecuted == []
