"""ts_mean / ts_sum / ts_shift with ``date_col=None`` run a numba pass over the assets' row runs
(factorlab._kernels.rolling): bit for bit the values of Polars' own ``rolling_*().over(asset)``
windows, on every layout the operators accept."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from factorlab.ops import compute_factors, ts_mean, ts_shift, ts_sum

#: (name, kernel-path operator, Polars' expression on a Float64 input with NaN made null)
OPS = [
    ("mean", ts_mean, lambda x, w: x.rolling_mean(w, min_samples=w)),
    ("sum", ts_sum, lambda x, w: x.rolling_sum(w, min_samples=w)),
    ("shift", ts_shift, lambda x, w: x.shift(w)),
]


def _polars(df: pl.DataFrame, ref, w: int, asset: str = "asset") -> pl.Series:
    x = pl.col("x").cast(pl.Float64).fill_nan(None)
    return df.select(ref(x, w).over(asset).alias("x")).to_series()


def _bits_equal(got: pl.Series, want: pl.Series) -> None:
    """Same nulls, and the same float64 bit patterns elsewhere (NaN and -0.0 included)."""
    assert got.dtype == pl.Float64
    np.testing.assert_array_equal(got.is_null().to_numpy(), want.is_null().to_numpy())
    ok = ~want.is_null().to_numpy()
    g = got.to_numpy()[ok].view(np.int64)
    w = want.to_numpy()[ok].view(np.int64)
    np.testing.assert_array_equal(g, w)


def _panel(seed: int, n_assets: int = 6, n: int = 60) -> pl.DataFrame:
    """Unequal runs (a stock listing late), magnitudes from 1e-3 to 1e9 (Kahan compensation at
    work), nulls, NaN, exact zeros."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_assets):
        m = n - 7 * i
        x = rng.normal(size=m) * 10.0 ** rng.integers(-3, 10, size=m)
        x[rng.random(m) < 0.05] = np.nan
        x[rng.random(m) < 0.05] = 0.0
        rows.append(
            pl.DataFrame({"asset": f"A{i}", "date": np.arange(7 * i, n), "x": x}).with_columns(
                x=pl.when(pl.Series(rng.random(m) < 0.05)).then(None).otherwise(pl.col("x"))
            )
        )
    return pl.concat(rows)


@pytest.mark.parametrize("name,op,ref", OPS)
@pytest.mark.parametrize("window", [1, 2, 5, 20])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_runs_equal_polars_over_asset_bit_for_bit(name, op, ref, window, seed) -> None:
    df = _panel(seed)
    got = df.select(op("x", window, date_col=None)).to_series()
    _bits_equal(got, _polars(df, ref, window))


@pytest.mark.parametrize("name,op,ref", OPS)
def test_interleaved_and_categorical_assets(name, op, ref) -> None:
    df = _panel(3)
    # (date, asset) order: each asset's rows are interleaved, still in time order
    by_date = df.sort("date", "asset")
    _bits_equal(by_date.select(op("x", 4, date_col=None)).to_series(), _polars(by_date, ref, 4))
    # categorical / enum assets (the study hands its windows an enum), sorted and shuffled runs
    names = df["asset"].unique().sort()
    for dtype in (pl.Enum(names), pl.Enum(names.reverse()), pl.Categorical):
        coded = df.with_columns(pl.col("asset").cast(dtype))
        got = coded.select(op("x", 4, date_col=None)).to_series()
        _bits_equal(got, _polars(df, ref, 4))
        interleaved = coded.sort("date", "asset")
        got = interleaved.select(op("x", 4, date_col=None)).to_series()
        _bits_equal(got, _polars(interleaved, ref, 4))


@pytest.mark.parametrize("name,op,ref", OPS)
def test_infinities_nan_results_and_null_assets(name, op, ref) -> None:
    x = [1.0, np.inf, 2.0, -np.inf, 3.0, 4.0, np.inf, np.inf, 5.0, 6.0, 7.0, -np.inf]
    df = pl.DataFrame({"asset": ["a"] * 6 + [None] * 6, "x": x})
    for w in (1, 2, 3):
        got = df.select(op("x", w, date_col=None)).to_series()
        want = _polars(df, ref, w)
        _bits_equal(got, want)
    if name == "sum":  # +inf and -inf in one window: NaN, which is a value, not a null
        got = df.select(op("x", 3, date_col=None)).to_series()
        assert got.is_nan().sum() >= 1


def test_empty_and_integer_input() -> None:
    empty = pl.DataFrame(schema={"asset": pl.String, "x": pl.Float64})
    assert empty.select(ts_mean("x", 3, date_col=None)).height == 0
    ints = pl.DataFrame({"asset": ["a"] * 4 + ["b"] * 3, "x": [1, 2, 3, 4, 5, 6, 7]})
    got = ints.select(ts_sum("x", 2, date_col=None)).to_series()
    assert got.to_list() == [None, 3.0, 5.0, 7.0, None, 11.0, 13.0]
    assert ints.select(ts_shift("x", 1, date_col=None)).to_series().to_list() == [
        None, 1.0, 2.0, 3.0, None, 5.0, 6.0,
    ]  # fmt: skip


def test_compute_factors_with_the_kernel_path_and_a_lazy_filter() -> None:
    """Inside a lazy query (filter after the windows, as the study cuts to signal dates) the
    windows still see every row."""
    from factorlab.ops import Factor

    df = _panel(4)
    fs = [
        Factor("m", ts_mean("x", 5, date_col=None)),
        Factor("s", ts_sum(pl.col("x") * 2, 3, date_col=None)),
        Factor("d", pl.col("x") - ts_shift("x", 2, date_col=None)),
    ]
    got = compute_factors(df, fs).filter(pl.col("date") % 5 == 0).collect()
    x = pl.col("x").cast(pl.Float64).fill_nan(None)
    want = df.with_columns(
        m=x.rolling_mean(5, min_samples=5).over("asset"),
        s=(pl.col("x") * 2)
        .cast(pl.Float64)
        .fill_nan(None)
        .rolling_sum(3, min_samples=3)
        .over("asset"),
        d=pl.col("x") - x.shift(2).over("asset"),
    ).filter(pl.col("date") % 5 == 0)
    for c in ("m", "s", "d"):
        _bits_equal(got[c], want[c])


@given(
    values=st.lists(
        st.one_of(
            st.none(),
            st.floats(allow_nan=True, allow_infinity=True, width=64),
            st.floats(min_value=-1e12, max_value=1e12),
        ),
        min_size=0,
        max_size=60,
    ),
    cuts=st.lists(st.integers(0, 60), max_size=4),
    window=st.integers(1, 8),
)
def test_property_any_values_any_runs(values, cuts, window) -> None:
    n = len(values)
    asset = np.zeros(n, dtype=np.int64)
    for c in cuts:
        asset[min(c, n) :] += 1
    df = pl.DataFrame(
        {"asset": [f"a{a:02d}" for a in asset], "x": pl.Series(values, dtype=pl.Float64)}
    )
    for _, op, ref in OPS:
        _bits_equal(df.select(op("x", window, date_col=None)).to_series(), _polars(df, ref, window))
