"""The study's top / bottom leg flags (numba kernel) equal Polars' rank("min").over() rule."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from factorlab.northbound.study import _top_bottom_flags


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("top", [0.2, 0.5, 0.1])
def test_flags_equal_the_polars_rank_rule(seed: int, top: float) -> None:
    rng = np.random.default_rng(seed)
    n = 2_000
    g = rng.integers(0, 37, size=n)
    x = rng.integers(-3, 4, size=n).astype(float)  # many ties
    x[rng.random(n) < 0.15] = np.nan
    x[x == 0] = rng.choice([0.0, -0.0], size=int((x == 0).sum()))  # -0.0 ties with 0.0
    x[g == 5] = np.nan  # a group without any score
    frame = pl.DataFrame({"g": g, "x": x})
    score = pl.col("x").fill_nan(None)
    k = (score.count().over("g") * top).ceil()
    ref = frame.select(
        top=(score.rank("min", descending=True).over("g") <= k).fill_null(False),
        bottom=(score.rank("min").over("g") <= k).fill_null(False),
    )
    order = np.argsort(g, kind="stable")
    offsets = np.searchsorted(g[order], np.arange(0, g.max() + 2)).astype(np.int64)
    is_top, is_bottom = _top_bottom_flags(x, order, offsets, top)
    np.testing.assert_array_equal(is_top, ref["top"].to_numpy())
    np.testing.assert_array_equal(is_bottom, ref["bottom"].to_numpy())
    assert is_top.sum() > 0 and not is_top[g == 5].any()
