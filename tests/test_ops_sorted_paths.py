"""The sorted-panel fast paths of compute_factors (key check) and ts_topk_mean (asset runs)
give the same answers as the general paths."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from factorlab.errors import DuplicateKeyError
from factorlab.ops import Factor, compute_factors, ts_topk_mean


def _panel(seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    assets = [f"A{i}" for i in range(7)]
    n = 40
    return pl.DataFrame(
        {
            "asset": np.repeat(assets, n),
            "date": np.tile(np.arange(n), len(assets)),
            "x": rng.normal(size=n * len(assets)),
            "v": rng.integers(0, 5, size=n * len(assets)).astype(float),  # ties
        }
    ).sort("asset", "date")


@pytest.mark.parametrize("dup_at", [1, 45, 279])
def test_sorted_frame_with_a_repeated_key_is_still_rejected(dup_at: int) -> None:
    df = _panel()
    bad = pl.concat([df[:dup_at], df[dup_at - 1 : dup_at], df[dup_at:]])  # adjacent repeat
    f = Factor("m", pl.col("x").rolling_mean(3).over("asset"))
    assert compute_factors(df, [f]).collect().height == df.height
    with pytest.raises(DuplicateKeyError, match="1 duplicate"):
        compute_factors(bad, [f])


def test_topk_mean_on_sorted_runs_equals_the_grouped_path() -> None:
    df = _panel(1)
    fast = df.with_columns(t=ts_topk_mean("x", "v", window=5, k=2, date_col=None))["t"]
    # the same rows shuffled, located by date: the general (group-by) path
    shuffled = df.with_row_index("i").sample(fraction=1.0, shuffle=True, seed=3)
    slow = shuffled.with_columns(t=ts_topk_mean("x", "v", window=5, k=2, date_col="date")).sort(
        "i"
    )["t"]
    assert fast.null_count() == 7 * 4  # the first window-1 rows of each asset
    np.testing.assert_array_equal(fast.to_numpy(), slow.to_numpy())
