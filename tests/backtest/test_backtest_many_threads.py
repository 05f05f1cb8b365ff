"""backtest_many on several threads (`threads=`): the same books, bit for bit, in the same
order, and the error of the first failing group as one after another (issue 15 point 4)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from _books import targets
from test_backtest_many import OPTIONS, D, _assert_same, _market, _weekly

from factorlab.backtest import backtest_many
from factorlab.errors import DuplicateKeyError, ParameterError
from factorlab.grid import AssetGrid


@pytest.fixture(scope="module")
def grid() -> AssetGrid:
    return AssetGrid.from_prices(_market(15, seed=11))


def _books(grid: AssetGrid, n: int) -> pl.DataFrame:
    assets = grid.assets.to_list()
    return pl.concat([_weekly(assets, 2 + p % 5, seed=p, point=p) for p in range(n)])


@pytest.mark.parametrize("threads", [2, 3, None])
def test_threads_give_the_books_of_one_thread(grid, threads):
    frame = _books(grid, 9)
    one = backtest_many(grid, frame, by="point", threads=1, **OPTIONS)
    many = backtest_many(grid, frame, by="point", threads=threads, **OPTIONS)
    assert list(many) == list(one) == list(range(9))
    for p in one:
        assert one[p].trades.height > 0
        _assert_same(many[p], one[p])


def test_the_error_is_the_first_failing_group(grid):
    a, b = grid.assets[0], grid.assets[1]
    ok = pl.concat([_books(grid, 4)])
    # groups 1 and 3 repeat a (date, asset) key: the error names group 1, as one after another
    dup = pl.concat(
        [
            ok,
            targets([(D[0], a, 1.0)]).with_columns(point=pl.lit(3)),
            targets([(D[0], a, 1.0)]).with_columns(point=pl.lit(3)),
            targets([(D[5], b, 1.0)]).with_columns(point=pl.lit(1)),
            targets([(D[5], b, 1.0)]).with_columns(point=pl.lit(1)),
        ]
    )
    messages = []
    for threads in (1, 2):
        with pytest.raises(DuplicateKeyError) as err:
            backtest_many(grid, dup, by="point", threads=threads, **OPTIONS)
        messages.append(str(err.value))
    assert messages[0] == messages[1]
    assert "1" in messages[0]


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_threads(grid, bad):
    with pytest.raises(
        ParameterError, match=r"`threads` must be None \(all cores\) or an integer >= 1"
    ):
        backtest_many(grid, _books(grid, 2), by="point", threads=bad, **OPTIONS)


def test_one_group_runs_inline(grid):
    frame = _books(grid, 1)
    res = backtest_many(grid, frame, by="point", threads=4, **OPTIONS)
    assert list(res) == [0] and np.isfinite(res[0].daily["gross"].to_numpy()).all()
