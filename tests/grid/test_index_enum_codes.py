"""GridIndex.asset_cols reads an asset column already cast to the index's enum by its codes:
the same columns as from the strings."""

from __future__ import annotations

import numpy as np
import polars as pl

from factorlab.grid import GridIndex


def test_enum_codes_equal_the_string_lookup() -> None:
    ix = GridIndex(np.array(["2024-01-02"], dtype="datetime64[D]"), pl.Series(["A", "B", "C"]))
    names = pl.Series("asset", ["C", "A", None, "B", "A"])
    want = ix.asset_cols(names)
    assert want.tolist() == [2, 0, -1, 1, 0]
    np.testing.assert_array_equal(ix.asset_cols(names.cast(ix.enum)), want)
    # another enum (other categories or order) is read through its strings
    other = names.cast(pl.Enum(["C", "B", "A", "D"]))
    np.testing.assert_array_equal(ix.asset_cols(other), want)
    assert ix.asset_cols(pl.Series(["D"]).cast(pl.Enum(["D"]))).tolist() == [-1]
