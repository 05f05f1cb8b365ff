"""Tests of factorlab.ops: golden values on a tiny panel, oracles, properties, bad input."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal, assert_series_equal

from factorlab.errors import FactorLabError, MissingColumnError, ParameterError
from factorlab.ops import (
    Factor,
    FactorRegistry,
    compute_factors,
    cs_demean,
    cs_quantile,
    cs_rank,
    cs_zscore,
    default_registry,
    ts_corr,
    ts_delta,
    ts_max,
    ts_mean,
    ts_min,
    ts_pct_change,
    ts_rank,
    ts_shift,
    ts_std,
    ts_sum,
    ts_topk_mean,
    ts_zscore,
)

N = None
NAN = float("nan")


def panel() -> pl.DataFrame:
    """Three assets x six dates, rows deliberately not in (asset, date) order.

    A: x rises, y wiggles, v has a tie at the top (dates 2 and 4).
    B: v ties at the k-th place. C: x has a null at date 2 and a NaN at date 6.
    """
    rows = {
        "A": dict(x=[1, 2, 4, 7, 11, 16], y=[1, 3, 2, 5, 4, 6], v=[10, 30, 20, 30, 5, 40]),
        "B": dict(x=[10, 20, 30, 40, 50, 60], y=[6, 5, 4, 3, 2, 1], v=[1, 2, 2, 2, 3, 1]),
        "C": dict(x=[1, N, 3, 4, 5, NAN], y=[1, 1, 1, 1, 1, 1], v=[1, 2, 3, 4, 5, 6]),
    }
    frames = []
    for asset, cols in rows.items():
        frames.append(
            pl.DataFrame(
                {
                    "asset": [asset] * 6,
                    "date": list(range(1, 7)),
                    **{k: [None if v is None else float(v) for v in vs] for k, vs in cols.items()},
                }
            )
        )
    df = pl.concat(frames)
    # (date, asset) order, reversed within dates: ts ops must sort by date themselves.
    return df.sort(["date", "asset"], descending=[False, True])


def per_asset(df: pl.DataFrame, expr: pl.Expr) -> dict[str, list[float | None]]:
    out = df.with_columns(out=expr).sort("asset", "date")
    return {a: out.filter(pl.col("asset") == a)["out"].to_list() for a in ["A", "B", "C"]}


def close(got: list[float | None], expected: list[float | None]) -> None:
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        if e is None:
            assert g is None, (got, expected)
        else:
            assert g is not None and math.isclose(g, e, rel_tol=1e-12, abs_tol=1e-12), (
                got,
                expected,
            )


# --------------------------------------------------------------------------------------------
# time series: hand-computed golden values
# --------------------------------------------------------------------------------------------


def test_ts_mean_sum_min_max_golden():
    df = panel()
    r = per_asset(df, ts_mean("x", window=3))
    close(r["A"], [N, N, 7 / 3, 13 / 3, 22 / 3, 34 / 3])
    close(r["C"], [N, N, N, N, 4.0, N])  # null at date 2 and NaN at date 6 poison windows
    close(per_asset(df, ts_sum("x", window=3))["A"], [N, N, 7, 13, 22, 34])
    close(per_asset(df, ts_min("x", window=3))["A"], [N, N, 1, 2, 4, 7])
    close(per_asset(df, ts_max("x", window=3))["A"], [N, N, 4, 7, 11, 16])
    close(per_asset(df, ts_max("y", window=2))["B"], [N, 6, 5, 4, 3, 2])


def test_ts_std_golden_ddof1():
    r = per_asset(panel(), ts_std("x", window=3))
    close(r["A"], [N, N, math.sqrt(7 / 3), math.sqrt(19 / 3), math.sqrt(37 / 3), math.sqrt(61 / 3)])
    close(r["C"], [N, N, N, N, 1.0, N])


def test_ts_shift_delta_pct_change_golden():
    df = panel()
    close(per_asset(df, ts_shift("x", periods=1))["A"], [N, 1, 2, 4, 7, 11])
    close(per_asset(df, ts_shift("x", periods=0))["A"], [1, 2, 4, 7, 11, 16])
    close(per_asset(df, ts_delta("x", periods=1))["A"], [N, 1, 2, 3, 4, 5])
    close(per_asset(df, ts_delta("x", periods=2))["A"], [N, N, 3, 5, 7, 9])
    close(per_asset(df, ts_delta("x", periods=1))["C"], [N, N, N, 1, 1, N])
    close(per_asset(df, ts_pct_change("x", periods=1))["A"], [N, 1, 1, 0.75, 4 / 7, 5 / 11])
    close(per_asset(df, ts_pct_change("x", periods=2))["B"], [N, N, 2, 1, 2 / 3, 0.5])


def test_ts_pct_change_zero_base_is_null():
    df = pl.DataFrame({"asset": ["A"] * 3, "date": [1, 2, 3], "x": [0.0, 1.0, 2.0]})
    assert df.select(ts_pct_change("x"))["x"].to_list() == [None, None, 1.0]


def test_ts_rank_golden_average_ties():
    df = panel()
    r = per_asset(df, ts_rank("y", window=3))
    close(r["A"], [N, N, 2 / 3, 1, 2 / 3, 1])
    close(r["B"], [N, N, 1 / 3, 1 / 3, 1 / 3, 1 / 3])
    close(r["C"], [N, N, 2 / 3, 2 / 3, 2 / 3, 2 / 3])  # all tied: average rank 2 of 3
    close(per_asset(df, ts_rank("y", window=3, pct=False))["A"], [N, N, 2, 3, 2, 3])


def test_ts_zscore_golden_and_constant_window_is_zero():
    r = per_asset(panel(), ts_zscore("y", window=3))
    close(
        r["A"],
        [N, N, 0.0, (5 - 10 / 3) / math.sqrt(7 / 3), (4 - 11 / 3) / math.sqrt(7 / 3), 1.0],
    )
    close(r["B"], [N, N, -1.0, -1.0, -1.0, -1.0])
    close(r["C"], [N, N, 0.0, 0.0, 0.0, 0.0])


def test_ts_corr_matches_numpy_and_constant_is_null():
    r = per_asset(panel(), ts_corr("x", "y", window=3))
    x = np.array([1, 2, 4, 7, 11, 16.0])
    y = np.array([1, 3, 2, 5, 4, 6.0])
    expected = [N, N] + [
        float(np.corrcoef(x[i - 2 : i + 1], y[i - 2 : i + 1])[0, 1]) for i in range(2, 6)
    ]
    for g, e in zip(r["A"], expected, strict=True):
        assert (g is None and e is None) or math.isclose(g, e, rel_tol=1e-9)
    close(r["B"], [N, N, -1.0, -1.0, -1.0, -1.0])
    close(r["C"], [N] * 6)  # y constant: correlation undefined


def test_ts_topk_mean_golden_with_ties():
    df = panel()
    k1 = per_asset(df, ts_topk_mean("x", "v", window=3, k=1))
    # A: top volume 30 (x=2); then 30 tied at dates 2 and 4 -> mean(2, 7); then 30 (x=7); 40.
    close(k1["A"], [N, N, 2, 4.5, 7, 16])
    k2 = per_asset(df, ts_topk_mean("x", "v", window=3, k=2))
    close(k2["A"], [N, N, 3, 4.5, 5.5, 11.5])
    # B: v = 1,2,2,2,3,1. Window [1,2,2] -> x 20,30; [2,2,2] -> 2 slots over 3 ties = mean
    # 30; [2,2,3] -> 50 + one slot shared by (30, 40) = (50 + 35)/2; [2,3,1] -> (50 + 40)/2.
    close(k2["B"], [N, N, 25, 30, 42.5, 45])
    close(k2["C"], [N, N, N, N, 4.5, N])
    k3 = per_asset(df, ts_topk_mean("x", "v", window=3, k=3))  # k == window: plain mean
    close(k3["A"], [N, N, 7 / 3, 13 / 3, 22 / 3, 34 / 3])


def _topk_reference(x: np.ndarray, v: np.ndarray, window: int, k: int) -> list[float | None]:
    """Average over every tie-break: brute force over the window."""
    out: list[float | None] = []
    for t in range(len(x)):
        if t < window - 1:
            out.append(None)
            continue
        xs, vs = x[t - window + 1 : t + 1], v[t - window + 1 : t + 1]
        if np.isnan(xs).any() or np.isnan(vs).any():
            out.append(None)
            continue
        thr = np.sort(vs)[::-1][k - 1]
        above = vs > thr
        eq = vs == thr
        out.append(float((xs[above].sum() + (k - above.sum()) * xs[eq].mean()) / k))
    return out


@settings(max_examples=60, deadline=None)
@given(
    data=st.lists(
        st.tuples(
            st.one_of(st.none(), st.integers(-50, 50)), st.one_of(st.none(), st.integers(0, 4))
        ),
        min_size=1,
        max_size=40,
    ),
    window=st.integers(1, 8),
    k_frac=st.floats(0, 1),
)
def test_ts_topk_mean_matches_brute_force(data, window, k_frac):
    k = 1 + int(k_frac * (window - 1))
    x = np.array([np.nan if a is None else float(a) for a, _ in data])
    v = np.array([np.nan if b is None else float(b) for _, b in data])
    df = pl.DataFrame({"asset": ["A"] * len(x), "date": list(range(len(x))), "x": x, "v": v})
    got = df.select(ts_topk_mean("x", "v", window=window, k=k))["x"].to_list()
    expected = _topk_reference(x, v, window, k)
    close(got, expected)


# --------------------------------------------------------------------------------------------
# time series: oracles and properties
# --------------------------------------------------------------------------------------------


def test_ts_ops_match_pandas_rolling():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(7)
    n = 60
    x = rng.normal(size=n)
    x[[5, 30]] = np.nan
    y = rng.normal(size=n)
    df = pl.DataFrame({"asset": ["A"] * n, "date": list(range(n)), "x": x, "y": y})
    s, t = pd.Series(x), pd.Series(y)
    cases = {
        "mean": (ts_mean("x", window=5), s.rolling(5).mean()),
        "sum": (ts_sum("x", window=5), s.rolling(5).sum()),
        "std": (ts_std("x", window=5), s.rolling(5).std()),
        "min": (ts_min("x", window=5), s.rolling(5).min()),
        "max": (ts_max("x", window=5), s.rolling(5).max()),
        "rank": (ts_rank("x", window=5), s.rolling(5).rank(pct=True)),
        "corr": (ts_corr("x", "y", window=5), s.rolling(5).corr(t)),
        "delta": (ts_delta("x", periods=3), s.diff(3)),
        "pct": (ts_pct_change("x", periods=2), s.pct_change(2, fill_method=None)),
    }
    for name, (expr, expected) in cases.items():
        got = df.select(expr.alias(name))[name].fill_null(np.nan).to_numpy()
        np.testing.assert_allclose(got, expected.to_numpy(), rtol=1e-9, atol=1e-12, err_msg=name)


ALL_TS = [
    ts_mean("x", window=3),
    ts_std("x", window=3),
    ts_rank("x", window=3),
    ts_zscore("x", window=3),
    ts_corr("x", "y", window=3),
    ts_pct_change("x", periods=2),
    ts_topk_mean("x", "v", window=3, k=2),
]


def test_ts_ops_do_not_depend_on_row_order_and_lazy_equals_eager():
    df = panel()
    exprs = [e.alias(f"f{i}") for i, e in enumerate(ALL_TS)]
    ref = df.sort("asset", "date").with_columns(exprs)
    for seed in range(3):
        shuffled = df.sample(fraction=1.0, shuffle=True, seed=seed)
        got = shuffled.with_columns(exprs).sort("asset", "date")
        assert_frame_equal(got, ref)
    lazy = df.lazy().with_columns(exprs).collect()
    assert_frame_equal(lazy, df.with_columns(exprs))


def test_date_col_none_trusts_row_order():
    df = panel().sort("asset", "date")
    for expr_default, expr_none in [
        (ts_mean("x", window=3), ts_mean("x", window=3, date_col=None)),
        (
            ts_topk_mean("x", "v", window=3, k=2),
            ts_topk_mean("x", "v", window=3, k=2, date_col=None),
        ),
    ]:
        assert_series_equal(df.select(expr_default).to_series(), df.select(expr_none).to_series())


def test_future_values_do_not_change_the_past():
    df = panel()
    exprs = [e.alias(f"f{i}") for i, e in enumerate(ALL_TS)]
    before = df.with_columns(exprs).filter(pl.col("date") <= 4).sort("asset", "date")
    changed = df.with_columns(
        pl.when(pl.col("date") > 4).then(pl.col(c) * 7 + 3).otherwise(pl.col(c)).alias(c)
        for c in ("x", "y", "v")
    )
    after = changed.with_columns(exprs).filter(pl.col("date") <= 4).sort("asset", "date")
    assert_frame_equal(before, after)


def test_custom_key_names():
    df = panel().rename({"asset": "code", "date": "trade_date"})
    got = df.with_columns(
        m=ts_mean("x", window=3, asset_col="code", date_col="trade_date"),
        r=cs_rank("x", by="trade_date"),
    )
    ref = panel().with_columns(m=ts_mean("x", window=3), r=cs_rank("x"))
    assert got["m"].to_list() == ref["m"].to_list()
    assert got["r"].to_list() == ref["r"].to_list()


# --------------------------------------------------------------------------------------------
# cross-section
# --------------------------------------------------------------------------------------------


def cs_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "date": [1, 1, 1, 1, 1, 2, 2],
            "x": [3.0, 1.0, 3.0, None, 2.0, NAN, 5.0],
        }
    )


def test_cs_rank_golden():
    df = cs_frame()
    assert df.select(cs_rank("x"))["x"].to_list() == [3.5, 1.0, 3.5, None, 2.0, None, 1.0]
    close(df.select(cs_rank("x", pct=True))["x"].to_list(), [0.875, 0.25, 0.875, N, 0.5, N, 1.0])


def test_cs_demean_and_zscore_golden():
    df = cs_frame()
    close(df.select(cs_demean("x"))["x"].to_list(), [0.75, -1.25, 0.75, N, -0.25, N, 0.0])
    sd = math.sqrt(2.75 / 3)
    close(
        df.select(cs_zscore("x"))["x"].to_list(),
        [0.75 / sd, -1.25 / sd, 0.75 / sd, N, -0.25 / sd, N, 0.0],
    )


def test_cs_operators_group_by_several_keys():
    # ranks within (date, pool) equal ranks computed pool by pool
    df = pl.DataFrame(
        {
            "date": [1, 1, 1, 1, 2, 2, 2],
            "pool": ["a", "a", "b", "b", "a", "b", "b"],
            "x": [3.0, 1.0, 5.0, 2.0, 4.0, 1.0, 9.0],
        }
    )
    got = df.with_columns(
        r=cs_rank("x", by=["date", "pool"]),
        d=cs_demean("x", by=["date", "pool"]),
        z=cs_zscore("x", by=["date", "pool"]),
        q=cs_quantile("x", quantiles=2, by=["date", "pool"]),
    )
    assert got["r"].to_list() == [2.0, 1.0, 2.0, 1.0, 1.0, 1.0, 2.0]
    assert got["d"].to_list() == [1.0, -1.0, 1.5, -1.5, 0.0, -4.0, 4.0]
    close(
        got["z"].to_list(),
        [1 / math.sqrt(2), -1 / math.sqrt(2)] * 2 + [0.0] + [-1 / math.sqrt(2), 1 / math.sqrt(2)],
    )
    assert got["q"].to_list() == [2, 1, 2, 1, 1, 1, 2]
    for (date, pool), part in df.group_by(["date", "pool"]):
        ref = part.with_columns(r=cs_rank("x", by="date"))
        mine = got.filter((pl.col("date") == date) & (pl.col("pool") == pool))
        assert mine["r"].to_list() == ref["r"].to_list()


def test_cs_date_col_is_a_deprecated_alias_of_by():
    df = panel().rename({"date": "trade_date"})
    for op, kw in (
        (cs_rank, {}),
        (cs_demean, {}),
        (cs_zscore, {}),
        (cs_quantile, {"quantiles": 3}),
    ):
        with pytest.warns(DeprecationWarning, match="date_col"):
            old = df.select(op("x", date_col="trade_date", **kw))
        assert old.equals(df.select(op("x", by="trade_date", **kw)))
    with pytest.raises(ParameterError, match="both"):
        cs_rank("x", by="pool", date_col="trade_date")


def test_cs_operators_have_one_home():
    import factorlab.cs
    import factorlab.ops
    import factorlab.preprocess

    for name in ("cs_rank", "cs_demean", "cs_zscore", "cs_quantile"):
        assert getattr(factorlab.ops, name) is getattr(factorlab.cs, name)
    for name in ("cs_zscore", "cs_winsorize_mad", "cs_winsorize_quantile", "cs_winsorize_sigma"):
        assert getattr(factorlab.preprocess, name) is getattr(factorlab.cs, name)


def test_cs_quantile_golden_ties_share_a_bucket():
    df = cs_frame()
    assert df.select(cs_quantile("x", quantiles=2))["x"].to_list() == [2, 1, 2, None, 1, None, 1]
    assert df.select(cs_quantile("x", quantiles=3))["x"].to_list() == [3, 1, 3, None, 1, None, 2]
    assert df.select(cs_quantile("x", quantiles=2)).dtypes == [pl.Int32]


def _qcut_exact(values: list[int], quantiles: int) -> list[int]:
    """pandas.qcut's definition (linear quantile edges, right-closed bins, lowest edge
    included) with the edges computed exactly in rationals instead of floating point."""
    s = sorted(values)
    n = len(s)
    edges = []
    for k in range(quantiles + 1):
        pos = Fraction(k * (n - 1), quantiles)
        lo = math.floor(pos)
        edges.append(Fraction(s[lo]) if lo >= n - 1 else s[lo] + (s[lo + 1] - s[lo]) * (pos - lo))
    return [max(1, sum(e < v for e in edges)) for v in values]


@settings(max_examples=60)
@given(
    values=st.lists(st.integers(-1000, 1000), min_size=2, max_size=40, unique=True),
    quantiles=st.integers(1, 10),
)
@example(values=list(range(-9, 10)), quantiles=6)  # pandas' float edge 5.999999999999998
def test_cs_quantile_equals_qcut_with_exact_edges_and_pandas_off_the_edges(values, quantiles):
    pd = pytest.importorskip("pandas")
    df = pl.DataFrame({"date": [0] * len(values), "x": [float(v) for v in values]})
    got = df.select(cs_quantile("x", quantiles=quantiles))["x"].to_list()
    assert got == _qcut_exact(values, quantiles)
    # pandas' float edges differ from the exact ones only for a value lying on an edge, which
    # pandas may put one bucket higher; everywhere else the buckets are pandas'
    pandas = (pd.qcut(pd.Series(values, dtype=float), quantiles, labels=False) + 1).tolist()
    _, edges = pd.qcut(pd.Series(values, dtype=float), quantiles, retbins=True)
    for v, ours, theirs in zip(values, got, pandas, strict=True):
        if ours != theirs:
            assert theirs == ours + 1
            assert np.isclose(edges, v, rtol=1e-12, atol=0).any()


def test_cs_quantile_value_on_an_edge_goes_to_the_lower_bucket():
    # values -9..9, quantiles=6: 6 is exactly the 5/6 quantile, so bucket 5 (pandas: 6)
    df = pl.DataFrame({"date": [0] * 19, "x": [float(v) for v in range(-9, 10)]})
    got = dict(zip(range(-9, 10), df.select(cs_quantile("x", quantiles=6))["x"], strict=True))
    assert (got[5], got[6], got[7]) == (5, 5, 6)


def test_cs_ops_match_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(3)
    x = np.round(rng.normal(size=50), 1)  # rounding creates ties
    df = pl.DataFrame({"date": [0] * 50, "x": x})
    np.testing.assert_allclose(
        df.select(cs_rank("x"))["x"].to_numpy(), stats.rankdata(x, method="average")
    )
    np.testing.assert_allclose(
        df.select(cs_zscore("x"))["x"].to_numpy(), stats.zscore(x, ddof=1), rtol=1e-12
    )


# --------------------------------------------------------------------------------------------
# registry and compute_factors
# --------------------------------------------------------------------------------------------


def test_factor_infers_requires():
    f = Factor("m", ts_mean("x", window=3))
    assert set(f.requires) == {"x", "asset", "date"}
    assert Factor("m", pl.col("x"), requires=["x", "y"]).requires == ("x", "y")


def test_registry_register_get_names_exprs_and_decorator():
    reg = FactorRegistry()
    reg.register(Factor("m3", ts_mean("x", window=3), description="3-day mean"))

    @reg.factor(reference="handbook #1")
    def spread() -> pl.Expr:
        """x minus y.

        More words.
        """
        return pl.col("x") - pl.col("y")

    assert spread().meta.eq(pl.col("x") - pl.col("y"))  # the function is returned unchanged
    assert reg.names() == ("m3", "spread")
    assert "spread" in reg and len(reg) == 2
    assert reg.get("spread").description == "x minus y."
    assert reg.get("spread").reference == "handbook #1"
    assert [e.meta.output_name() for e in reg.exprs()] == ["m3", "spread"]
    assert [e.meta.output_name() for e in reg.exprs(["spread"])] == ["spread"]


def test_registry_errors():
    reg = FactorRegistry([Factor("mom_20", pl.col("x"))])
    with pytest.raises(ParameterError, match="already registered"):
        reg.register(Factor("mom_20", pl.col("y")))
    reg.register(Factor("mom_20", pl.col("y")), replace=True)
    with pytest.raises(ParameterError, match=r"unknown factor.*`mom_2`.*did you mean `mom_20`"):
        reg.get("mom_2")
    with pytest.raises(ParameterError, match="`expr` must be a polars expression"):
        Factor("bad", "x")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="must be a Factor"):
        reg.register(pl.col("x"))  # type: ignore[arg-type]


def test_default_registry_is_fresh_each_call():
    a = default_registry()
    b = default_registry()
    a.register(Factor("mine", pl.col("close")))
    assert "mine" in a and "mine" not in b
    assert "topvol_ret_20" in b


def test_compute_factors_one_with_columns_and_names():
    df = panel()
    reg = FactorRegistry([Factor("m3", ts_mean("x", window=3)), Factor("r", cs_rank("x"))])
    lf = compute_factors(df, reg)
    assert isinstance(lf, pl.LazyFrame)
    assert lf.explain(optimized=False).count("WITH_COLUMNS") == 1
    out = lf.collect()
    assert out.columns == [*df.columns, "m3", "r"]
    assert_series_equal(out["m3"], df.select(ts_mean("x", window=3).alias("m3")).to_series())
    # names resolve against the given registry; Factor objects can be mixed in
    out2 = compute_factors(df.lazy(), ["r", Factor("two_x", pl.col("x") * 2)], registry=reg)
    assert out2.collect_schema().names()[-2:] == ["r", "two_x"]


def test_compute_factors_errors():
    df = panel()
    reg = FactorRegistry([Factor("m3", ts_mean("x", window=3)), Factor("c", pl.col("close"))])
    with pytest.raises(ParameterError, match=r"unknown factor.*`nope`"):
        compute_factors(df, ["m3", "nope"], registry=reg)
    with pytest.raises(MissingColumnError, match=r"`c` needs `close`"):
        compute_factors(df, ["m3", "c"], registry=reg)
    with pytest.raises(MissingColumnError, match=r"key column.*`day`"):
        compute_factors(df, ["m3"], registry=reg, date_col="day")
    with pytest.raises(ParameterError, match="unique"):
        compute_factors(df, ["m3", "m3"], registry=reg)
    with pytest.raises(ParameterError, match="empty"):
        compute_factors(df, [], registry=reg)


def test_window_and_periods_are_positional_or_keyword():
    df = panel()
    pairs = [
        (ts_pct_change("x", 2), ts_pct_change("x", periods=2)),
        (ts_shift("x", 2), ts_shift("x", periods=2)),
        (ts_delta("x", 2), ts_delta("x", periods=2)),
        (ts_mean("x", 3), ts_mean("x", window=3)),
        (ts_rank("x", 3), ts_rank("x", window=3)),
        (ts_corr("x", "y", 3), ts_corr("x", "y", window=3)),
        (ts_topk_mean("x", "v", 3, k=1), ts_topk_mean("x", "v", window=3, k=1)),
    ]
    for positional, keyword in pairs:
        assert_series_equal(df.select(positional).to_series(), df.select(keyword).to_series())
    assert df.select(ts_pct_change("x", 2)).to_series().drop_nulls().len() > 0


def test_compute_factors_refuses_a_non_numeric_operator_input_before_collect():
    from factorlab.errors import DtypeError

    df = panel().with_columns(code=pl.lit("600519.SH"))
    with pytest.raises(
        DtypeError,
        match=r"factor `bad`: operator input `asset` must be numeric; "
        r"got String .*e\.g\. '[ABC]'",
    ):
        compute_factors(df, [Factor("bad", ts_mean(pl.col("asset"), window=3))])
    # nested inside a composite, and through a cs_ operator too
    nested = cs_rank(ts_mean(pl.col("code"), 3) * 2)
    with pytest.raises(DtypeError, match=r"`code` must be numeric.*e\.g\. '600519\.SH'"):
        compute_factors(df, [Factor("ok", ts_mean("x", 3)), Factor("bad", nested)])
    # Boolean and integer inputs are numbers
    flags = df.with_columns(flag=pl.col("x") > 3)
    out = compute_factors(flags, [Factor("f", ts_mean("flag", 2)), Factor("v", ts_sum("v", 2))])
    assert out.collect()["f"].drop_nulls().len() > 0


def test_compute_factors_refuses_duplicate_keys():
    from factorlab.errors import DuplicateKeyError

    df = panel()
    dup = pl.concat([df, df.filter((pl.col("asset") == "B") & (pl.col("date") == 3))])
    with pytest.raises(
        DuplicateKeyError,
        match=r"table `frame` has 1 duplicate \(`date`, "
        r"`asset`\) key.*e\.g\. \(3, B\)",
    ):
        compute_factors(dup, [Factor("m3", ts_mean("x", window=3))])


def test_compute_factors_accepts_pandas():
    pytest.importorskip("pandas")
    df = panel()
    fac = [Factor("m3", ts_mean("x", window=3))]
    got = compute_factors(df.to_pandas(), fac).collect()
    assert_series_equal(got["m3"], compute_factors(df, fac).collect()["m3"])


def test_default_registry_on_a_small_market_matches_pandas():
    pytest.importorskip("pandas")
    rng = np.random.default_rng(11)
    n_assets, n_days = 4, 90
    frames = []
    for i in range(n_assets):
        close_ = 10 * np.exp(np.cumsum(rng.normal(0, 0.02, n_days)))
        frames.append(
            pl.DataFrame(
                {
                    "asset": f"{i:06d}.SZ",
                    "date": np.arange(n_days),
                    "close": close_,
                    "adj_factor": np.where(np.arange(n_days) > 40, 2.0, 1.0),
                    "volume": rng.lognormal(10, 1, n_days),
                    "amount": rng.lognormal(18, 1, n_days),
                    "float_shares": np.full(n_days, 1e8),
                }
            )
        )
    prices = pl.concat(frames).sample(fraction=1.0, shuffle=True, seed=1)
    out = compute_factors(prices, default_registry()).collect().sort("asset", "date")
    for _, g in out.group_by("asset", maintain_order=True):
        p = g.to_pandas()
        adj = p["close"] * p["adj_factor"]
        ret = adj.pct_change(fill_method=None)
        np.testing.assert_allclose(
            g["mom_20"].fill_null(np.nan).to_numpy(),
            adj.pct_change(20, fill_method=None),
            rtol=1e-12,
        )
        np.testing.assert_allclose(
            g["vol_20"].fill_null(np.nan).to_numpy(), ret.rolling(20).std(), rtol=1e-9
        )
        np.testing.assert_allclose(
            g["corr_pv_20"].fill_null(np.nan).to_numpy(),
            adj.rolling(20).corr(p["volume"]),
            rtol=1e-7,
            atol=1e-9,
        )
        expected_topk = _topk_reference(ret.to_numpy(), p["volume"].to_numpy(), 20, 3)
        close(g["topvol_ret_20"].to_list(), expected_topk)


# --------------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: ts_mean("x", window=0), "`window` must be an integer >= 1; got 0"),
        (lambda: ts_std("x", window=1), "`window` must be an integer >= 2; got 1"),
        (lambda: ts_mean("x", window=2.5), "`window` must be an integer"),
        (lambda: ts_shift("x", periods=-1), "`periods` must be an integer >= 0; got -1"),
        (lambda: ts_topk_mean("x", "v", window=3, k=4), "`k` must be between 1 and `window`"),
        (lambda: cs_quantile("x", quantiles=0), "`quantiles` must be an integer >= 1"),
        (lambda: ts_mean(3, window=2), "column name"),  # type: ignore[arg-type]
        (lambda: ts_mean("x", window=2, asset_col=""), "`asset_col`"),
    ],
)
def test_bad_parameters_raise(build, match):
    with pytest.raises(ParameterError, match=match):
        build()
    assert issubclass(ParameterError, FactorLabError)


def test_operators_keep_the_input_name():
    exprs = [
        ts_mean("x", window=2),
        ts_sum("x", window=2),
        ts_std("x", window=2),
        ts_min("x", window=2),
        ts_max("x", window=2),
        ts_shift("x"),
        ts_delta("x"),
        ts_pct_change("x"),
        ts_rank("x", window=2),
        ts_zscore("x", window=2),
        ts_corr("x", "y", window=2),
        ts_topk_mean("x", "v", window=2, k=1),
        cs_rank("x"),
        cs_demean("x"),
        cs_zscore("x"),
        cs_quantile("x", quantiles=3),
    ]
    assert [e.meta.output_name() for e in exprs] == ["x"] * len(exprs)


def test_bare_inner_operator_composes_under_one_window():
    df = panel()
    nested = ts_std(ts_pct_change("x"), window=3)
    bare = ts_std(ts_pct_change("x", asset_col=None), window=3)
    assert_series_equal(df.select(nested).to_series(), df.select(bare).to_series())
    # bare: plain row order (here C then B on date 1), no grouping
    assert df.select(ts_shift("x", asset_col=None))["x"].to_list()[:2] == [None, 1.0]
