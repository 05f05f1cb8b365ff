"""Tests of factorlab.preprocess: properties (hypothesis), oracles (numpy/scipy), bad input."""

from __future__ import annotations

import functools

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from factorlab.errors import DtypeError, FactorLabError, MissingColumnError, ParameterError
from factorlab.preprocess import (
    MAD_SCALE,
    cs_winsorize_mad,
    cs_winsorize_quantile,
    cs_winsorize_sigma,
    cs_zscore,
    neutralize,
    neutralize_ols,
    preprocess,
)

INDUSTRIES = ["a", "b", "c", "d"]

# Values are multiples of 1/8 (exact in binary) with plenty of duplicates and a few nulls.
values = st.one_of(
    st.integers(-4, 4).map(lambda v: v / 8),
    st.integers(-8_000, 8_000).map(lambda v: v / 8),
    st.none(),
)
non_null_values = st.integers(-8_000, 8_000).map(lambda v: v / 8)


@st.composite
def panels(draw, max_dates: int = 3, max_assets: int = 25, with_nulls: bool = True):
    """A long frame: date, asset, pool, industry, size, x, y (nulls in x, industry, size)."""
    rows = []
    for d in range(draw(st.integers(1, max_dates))):
        n = draw(st.integers(1, max_assets))
        for a in range(n):
            x = draw(values if with_nulls else non_null_values)
            y = draw(st.integers(-1000, 1000)) / 8
            industry = draw(
                st.sampled_from(INDUSTRIES + ([None] if with_nulls else []))
                if draw(st.integers(0, 9)) == 0
                else st.sampled_from(INDUSTRIES)
            )
            size = draw(st.integers(0, 800).map(lambda v: 16 + v / 64))
            if with_nulls and draw(st.integers(0, 14)) == 0:
                size = None
            rows.append(
                {
                    "date": d,
                    "asset": f"{a:06d}.SH",
                    "pool": "p1" if a % 3 else "p2",
                    "industry": industry,
                    "size": size,
                    "x": x,
                    "y": y,
                }
            )
    return pl.DataFrame(
        rows,
        schema={
            "date": pl.Int64,
            "asset": pl.String,
            "pool": pl.String,
            "industry": pl.String,
            "size": pl.Float64,
            "x": pl.Float64,
            "y": pl.Float64,
        },
    )


def apply(df: pl.DataFrame, expr: pl.Expr) -> pl.DataFrame:
    return df.with_columns(expr.alias("x"))


# --------------------------------------------------------------------------------------------
# winsorizing
# --------------------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    df=panels(),
    n=st.sampled_from([1.35, 1.5, 2.0, 3.0, 5.0]),
    by=st.sampled_from(["date", ("date", "pool")]),
)
def test_winsorize_mad_is_idempotent(df, n, by):
    """Documented sense: exact idempotency whenever n * MAD_SCALE >= 2."""
    assert n * MAD_SCALE >= 2
    expr = cs_winsorize_mad("x", n=n, by=by)
    once = apply(df, expr)
    twice = apply(once, expr)
    assert_frame_equal(once, twice, check_exact=True)


def test_winsorize_mad_below_the_documented_range_may_not_be_idempotent():
    # n * scale = 1 < 2: the even-sized middle deviations can be clipped, the MAD shrinks.
    df = pl.DataFrame({"date": [0] * 4, "x": [0.0, 1.0, 2.0, 10.0]})
    expr = cs_winsorize_mad("x", n=1.0, scale=1.0)
    once = apply(df, expr)
    assert apply(once, expr)["x"].to_list() != once["x"].to_list()


@settings(max_examples=100, deadline=None)
@given(df=panels())
def test_winsorize_mad_matches_numpy(df):
    got = apply(df, cs_winsorize_mad("x", n=3.0))
    for d in df["date"].unique():
        mask = (df["date"] == d).to_numpy()
        x = df.filter(pl.Series(mask))["x"].to_numpy().astype(float)
        ok = ~np.isnan(x)
        expected = x.copy()
        if ok.any():
            med = np.median(x[ok])
            mad = np.median(np.abs(x[ok] - med))
            if mad > 0:
                expected = np.clip(x, med - 3.0 * MAD_SCALE * mad, med + 3.0 * MAD_SCALE * mad)
        np.testing.assert_array_equal(
            got.filter(pl.Series(mask))["x"].to_numpy().astype(float), expected
        )


def test_winsorize_mad_zero_mad_is_unchanged_and_nulls_stay():
    df = pl.DataFrame({"date": [0] * 6, "x": [0.0, 0.0, 0.0, 0.0, 100.0, None]})
    assert apply(df, cs_winsorize_mad("x"))["x"].to_list() == df["x"].to_list()
    df = pl.DataFrame({"date": [0] * 5, "x": [1.0, float("nan"), 2.0, 3.0, 1e6]})
    out = apply(df, cs_winsorize_mad("x", n=1.0))["x"].to_list()
    # median of [1, 2, 3, 1e6] is 2.5, MAD = median(1.5, 0.5, 0.5, ~1e6) = 1
    assert out[1] is None and out[4] == 2.5 + 1.0 * MAD_SCALE * 1.0


@settings(max_examples=100, deadline=None)
@given(
    df=panels(),
    lower=st.sampled_from([0.0, 0.01, 0.1, 0.25]),
    upper=st.sampled_from([0.75, 0.9, 0.99, 1.0]),
)
def test_winsorize_quantile_inward_is_idempotent(df, lower, upper):
    expr = cs_winsorize_quantile("x", lower=lower, upper=upper)
    once = apply(df, expr)
    assert_frame_equal(once, apply(once, expr), check_exact=True)


def test_winsorize_quantile_matches_scipy_mstats_and_numpy():
    mstats = pytest.importorskip("scipy.stats.mstats")
    rng = np.random.default_rng(5)
    for m, lower, upper in [(100, 0.01, 0.99), (200, 0.05, 0.95), (40, 0.1, 0.75)]:
        x = rng.standard_t(3, size=m)
        df = pl.DataFrame({"date": [0] * m, "x": x})
        got = apply(df, cs_winsorize_quantile("x", lower=lower, upper=upper))["x"].to_numpy()
        expected = mstats.winsorize(x, limits=(lower, 1 - upper)).data
        np.testing.assert_array_equal(got, expected)
        linear = apply(df, cs_winsorize_quantile("x", lower=lower, upper=upper, bounds="linear"))[
            "x"
        ].to_numpy()
        np.testing.assert_allclose(
            linear, np.clip(x, np.quantile(x, lower), np.quantile(x, upper)), rtol=1e-14
        )


def test_winsorize_quantile_linear_and_sigma_are_not_idempotent_as_documented():
    df = pl.DataFrame({"date": [0] * 5, "x": [0.0, 1.0, 2.0, 3.0, 10.0]})
    lin = cs_winsorize_quantile("x", lower=0.1, upper=0.9, bounds="linear")
    once = apply(df, lin)
    assert apply(once, lin)["x"].to_list() != once["x"].to_list()
    x = np.r_[np.zeros(20), 100.0]
    df = pl.DataFrame({"date": [0] * 21, "x": x})
    sig = cs_winsorize_sigma("x", n=2.0)
    once = apply(df, sig)
    assert once["x"].max() == pytest.approx(x.mean() + 2.0 * x.std(ddof=1))
    assert apply(once, sig)["x"].max() < once["x"].max()


def test_winsorize_quantile_tiny_cross_section_left_unchanged():
    df = pl.DataFrame({"date": [0, 0], "x": [1.0, 2.0]})
    out = apply(df, cs_winsorize_quantile("x", lower=0.4, upper=0.6))
    assert out["x"].to_list() == [1.0, 2.0]


@settings(max_examples=80, deadline=None)
@given(df=panels(), n=st.sampled_from([1.0, 2.0, 3.0]), ddof=st.sampled_from([0, 1]))
def test_winsorize_sigma_matches_numpy(df, n, ddof):
    got = apply(df, cs_winsorize_sigma("x", n=n, ddof=ddof))
    for d in df["date"].unique():
        sel = pl.col("date") == d
        x = df.filter(sel)["x"].to_numpy().astype(float)
        ok = ~np.isnan(x)
        expected = x
        if ok.sum() > ddof:
            mu, sd = x[ok].mean(), x[ok].std(ddof=ddof)
            if sd > 0:
                expected = np.clip(x, mu - n * sd, mu + n * sd)
        np.testing.assert_allclose(
            got.filter(sel)["x"].to_numpy().astype(float), expected, rtol=1e-12, atol=1e-9
        )


# --------------------------------------------------------------------------------------------
# z-score
# --------------------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(df=panels(), ddof=st.sampled_from([0, 1]))
def test_zscore_has_mean_zero_and_std_one_per_date(df, ddof):
    out = apply(df, cs_zscore("x", ddof=ddof))
    assert out["x"].is_null().sum() == df["x"].is_null().sum()
    for (d,), g in df.group_by("date"):
        x = g["x"].drop_nulls().to_numpy()
        z = out.filter(pl.col("date") == d)["x"].drop_nulls().to_numpy()
        if len(x) == 0:
            continue
        if x.max() == x.min():
            assert (z == 0).all()  # constant cross-section -> 0, not NaN
            continue
        assert abs(z.mean()) < 1e-9
        assert abs(z.std(ddof=ddof) - 1) < 1e-9


def test_zscore_matches_scipy_and_constant_is_zero():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(9)
    x = rng.normal(size=30)
    df = pl.DataFrame({"date": [0] * 30 + [1] * 3, "x": [*x, 0.1, 0.1, 0.1]})
    for ddof in (0, 1):
        z = apply(df, cs_zscore("x", ddof=ddof))["x"].to_numpy()
        np.testing.assert_allclose(z[:30], stats.zscore(x, ddof=ddof), rtol=1e-12)
        assert z[30:].tolist() == [0.0, 0.0, 0.0]
    single = pl.DataFrame({"date": [0, 0], "x": [2.5, None]})
    assert apply(single, cs_zscore("x"))["x"].to_list() == [0.0, None]


# --------------------------------------------------------------------------------------------
# neutralization
# --------------------------------------------------------------------------------------------


def lstsq_residual(y: np.ndarray, labels: np.ndarray, size: np.ndarray | None) -> np.ndarray:
    cols = [(labels == g).astype(float) for g in np.unique(labels)]
    if size is not None:
        cols.append(size)
    design = np.column_stack(cols)
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return y - design @ coef


def pooled_labels(industry: np.ndarray, min_group_size: int) -> np.ndarray:
    levels, counts = np.unique(industry, return_counts=True)
    big = set(levels[counts >= min_group_size])
    return np.array([g if g in big else "~pooled" for g in industry])


@settings(max_examples=150, deadline=None)
@given(df=panels(), min_group_size=st.integers(1, 4))
def test_neutralized_is_orthogonal_and_equals_lstsq_residual(df, min_group_size):
    out = apply(df, neutralize("x", size="size", min_group_size=min_group_size))
    valid = df.select(
        pl.col("x").is_not_null() & pl.col("industry").is_not_null() & pl.col("size").is_not_null()
    ).to_series()
    # rows with null x, industry or size -> null
    assert out["x"].is_null().to_list() == (~valid).to_list()
    for d in df["date"].unique():
        sel = valid & (df["date"] == d)
        if not sel.any():
            continue
        sub, res = df.filter(sel), out.filter(sel)["x"].to_numpy()
        industry = sub["industry"].to_numpy()
        size = sub["size"].to_numpy()
        labels = pooled_labels(industry, min_group_size)
        for g in np.unique(labels):
            assert abs(res @ (labels == g)) < 1e-9
        if min_group_size == 1:
            for g in INDUSTRIES:
                assert abs(res @ (industry == g)) < 1e-9
        assert abs(res @ size) < 1e-9
        expected = lstsq_residual(sub["x"].to_numpy(), labels, size)
        np.testing.assert_allclose(res, expected, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(df=panels(with_nulls=False))
def test_neutralize_industry_only_size_only_and_by_pool(df):
    ind_only = apply(df, neutralize("x", size=None, min_group_size=1))["x"].to_numpy()
    size_only = apply(df, neutralize("x", industry=None, size="size"))["x"].to_numpy()
    by_pool = apply(df, neutralize("x", size="size", by=["date", "pool"], min_group_size=1))[
        "x"
    ].to_numpy()
    ones = np.array(["all"] * df.height)
    for keys in df.select("date", "pool").unique().iter_rows():
        sel_d = (df["date"] == keys[0]).to_numpy()
        sel_p = sel_d & (df["pool"] == keys[1]).to_numpy()
        y, ind, s = (df[c].to_numpy() for c in ("x", "industry", "size"))
        np.testing.assert_allclose(
            ind_only[sel_d], lstsq_residual(y[sel_d], ind[sel_d], None), atol=1e-9
        )
        np.testing.assert_allclose(
            size_only[sel_d], lstsq_residual(y[sel_d], ones[sel_d], s[sel_d]), atol=1e-9
        )
        np.testing.assert_allclose(
            by_pool[sel_p], lstsq_residual(y[sel_p], ind[sel_p], s[sel_p]), atol=1e-9
        )


def test_neutralize_constant_size_skips_size_step():
    df = pl.DataFrame(
        {
            "date": [0] * 4,
            "industry": ["a", "a", "b", "b"],
            "size": [3.0, 3.0, 5.0, 5.0],
            "x": [1.0, 2.0, 3.0, 5.0],
        }
    )
    out = apply(df, neutralize("x", size="size", min_group_size=1))["x"].to_list()
    assert out == [-0.5, 0.5, -1.0, 1.0]


def test_neutralize_small_industries_are_pooled():
    df = pl.DataFrame(
        {
            "date": [0] * 6,
            "industry": ["a", "a", "a", "b", "c", None],
            "size": [1.0] * 6,
            "x": [1.0, 2.0, 3.0, 10.0, 20.0, 99.0],
        }
    )
    out = apply(df, neutralize("x", size=None, min_group_size=2))["x"].to_list()
    # "b" and "c" have one member each: pooled, demeaned together; null industry -> null.
    assert out == [-1.0, 0.0, 1.0, -5.0, 5.0, None]
    singleton = apply(df, neutralize("x", size=None, min_group_size=1))["x"].to_list()
    assert singleton[3:5] == [0.0, 0.0]  # what pooling avoids


@settings(max_examples=40, deadline=None)
@given(df=panels())
def test_neutralize_ols_equals_lstsq_and_fwl(df):
    out = df.with_columns(
        ols=neutralize_ols("x", controls=["size", "y"], categorical=["industry"]),
        ols1=neutralize_ols("x", controls=["size"], categorical=["industry"]),
        ols2=neutralize_ols("x", controls=["size"], categorical=["industry", "pool"]),
        fwl=neutralize("x", size="size", min_group_size=1),
    )
    valid = out["fwl"].is_not_null()
    assert out["ols1"].is_not_null().to_list() == valid.to_list()
    np.testing.assert_allclose(
        out.filter(valid)["ols1"].to_numpy(), out.filter(valid)["fwl"].to_numpy(), atol=1e-8
    )
    for d in df["date"].unique():
        sub = out.filter(valid & (pl.col("date") == d))
        if sub.height == 0:
            continue
        labels = sub["industry"].to_numpy()
        design = np.column_stack(
            [np.ones(sub.height), sub["size"].to_numpy(), sub["y"].to_numpy()]
            + [(labels == g).astype(float) for g in np.unique(labels)]
        )
        y = sub["x"].to_numpy()
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        np.testing.assert_allclose(sub["ols"].to_numpy(), y - design @ coef, atol=1e-8)
        pools = sub["pool"].to_numpy()
        design2 = np.column_stack(
            [sub["size"].to_numpy()]
            + [(labels == g).astype(float) for g in np.unique(labels)]
            + [(pools == g).astype(float) for g in np.unique(pools)]
        )
        coef2, *_ = np.linalg.lstsq(design2, y, rcond=None)
        np.testing.assert_allclose(sub["ols2"].to_numpy(), y - design2 @ coef2, atol=1e-8)


# --------------------------------------------------------------------------------------------
# shared properties: row order, lazy vs eager
# --------------------------------------------------------------------------------------------

TRANSFORMS = {
    "mad": cs_winsorize_mad("x"),
    "quantile": cs_winsorize_quantile("x", lower=0.1, upper=0.9),
    "sigma": cs_winsorize_sigma("x"),
    "zscore": cs_zscore("x"),
    "neutralize": neutralize("x", size="size", min_group_size=2),
    "ols": neutralize_ols("x", controls=["size"], categorical=["industry"]),
}


@settings(max_examples=60, deadline=None)
@given(df=panels(), seed=st.integers(0, 2**16))
def test_results_do_not_depend_on_row_order_and_lazy_equals_eager(df, seed):
    exprs = [e.alias(name) for name, e in TRANSFORMS.items()]
    ref = df.with_columns(exprs)
    # Lazy equals eager to rounding: Polars' lazy engine may evaluate mean/std through a
    # different (shared-subexpression) path, observed to differ by 1 ulp from run to run.
    assert_frame_equal(df.lazy().with_columns(exprs).collect(), ref, rel_tol=1e-12, abs_tol=1e-12)
    shuffled = df.sample(fraction=1.0, shuffle=True, seed=seed).with_columns(exprs)
    assert_frame_equal(
        shuffled.sort("date", "asset"), ref.sort("date", "asset"), rel_tol=1e-9, abs_tol=1e-9
    )


# --------------------------------------------------------------------------------------------
# preprocess pipeline
# --------------------------------------------------------------------------------------------


def frame() -> pl.DataFrame:
    rng = np.random.default_rng(21)
    n = 60
    return pl.DataFrame(
        {
            "date": np.repeat([0, 1, 2], n // 3),
            "asset": [f"{i:06d}.SZ" for i in range(n)],
            "industry": rng.choice(["a", "b", "c", "d", "e"], n),
            "log_float_cap": rng.normal(22, 1, n),
            "f1": rng.standard_t(2, n),
            "f2": rng.normal(size=n),
            "f3": rng.integers(0, 5, n),
            "name": ["x"] * n,
        }
    )


def test_preprocess_equals_explicit_composition_in_the_given_order():
    df = frame()
    out = preprocess(df, ["f1", "f2", "f3"]).collect()
    manual = df.with_columns(cs_winsorize_mad(c).alias(c) for c in ["f1", "f2", "f3"])
    manual = manual.with_columns(cs_zscore(c).alias(c) for c in ["f1", "f2", "f3"])
    manual = manual.with_columns(neutralize(c).alias(c) for c in ["f1", "f2", "f3"])
    assert_frame_equal(out, manual)
    reordered = preprocess(df, "f1", steps=["neutralize", "zscore"]).collect()
    expected = df.with_columns(cs_zscore(neutralize("f1")).alias("f1"))
    assert_frame_equal(reordered, expected)
    assert not reordered["f1"].equals(
        preprocess(df, "f1", steps=["zscore", "neutralize"]).collect()["f1"]
    )


def test_preprocess_one_with_columns_per_step_and_callable_steps():
    df = frame()
    lf = preprocess(df, ["f1", "f2"], steps=["winsorize_quantile", "winsorize_sigma", "zscore"])
    # the plan does not grow with the number of columns: each stage serves all of them
    one = preprocess(df, ["f1"], steps=["winsorize_quantile", "winsorize_sigma", "zscore"])
    plan_size = lf.explain(optimized=False).count("WITH_COLUMNS")
    assert plan_size == one.explain(optimized=False).count("WITH_COLUMNS") == 6
    custom = preprocess(df, ["f1"], steps=[functools.partial(cs_winsorize_mad, n=1.5)])
    assert_frame_equal(custom.collect(), df.with_columns(cs_winsorize_mad("f1", n=1.5)))
    lazy = preprocess(df.lazy(), ["f1", "f2"]).collect()
    assert_frame_equal(lazy, preprocess(df, ["f1", "f2"]).collect())


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"columns": ["nope"]}, MissingColumnError, r"`nope` \(factor column\)"),
        ({"columns": ["f1"], "by": "day"}, MissingColumnError, r"`day` \(`by` column\)"),
        ({"columns": ["f1"], "industry": "sector"}, MissingColumnError, "`sector`"),
        ({"columns": ["name"]}, DtypeError, "column `name` must be numeric.*got String"),
        ({"columns": ["f1"], "size": "industry"}, DtypeError, "`industry` must be numeric"),
        ({"columns": ["f1"], "min_group_size": 0}, ParameterError, "`min_group_size` must be"),
        ({"columns": ["f1"], "steps": ["demean"]}, ParameterError, "unknown preprocessing step"),
        ({"columns": []}, ParameterError, "`columns` is empty"),
        ({"columns": ["f1", "f1"]}, ParameterError, "twice"),
    ],
)
def test_preprocess_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match) as info:
        preprocess(frame(), **kwargs)
    assert isinstance(info.value, FactorLabError)


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: neutralize("x", min_group_size=0), "`min_group_size` must be an integer >= 1"),
        (lambda: neutralize("x", min_group_size=2.5), "`min_group_size`"),
        (lambda: neutralize("x", industry=None, size=None), "both None"),
        (lambda: cs_winsorize_mad("x", n=0), "`n` must be a positive"),
        (lambda: cs_winsorize_mad("x", scale=float("nan")), "`scale` must be a positive"),
        (lambda: cs_winsorize_quantile("x", lower=0.9, upper=0.1), "smaller than `upper`"),
        (lambda: cs_winsorize_quantile("x", bounds="cubic"), "`bounds` must be one of"),
        (lambda: cs_zscore("x", ddof=-1), "`ddof` must be a non-negative integer"),
        (lambda: cs_zscore("x", by=[]), "`by` must be"),
        (lambda: neutralize_ols("x", controls=[]), "both empty"),
    ],
)
def test_transform_bad_parameters(build, match):
    with pytest.raises(ParameterError, match=match):
        build()


def test_transforms_keep_the_input_name():
    exprs = [
        cs_winsorize_mad("x"),
        cs_winsorize_quantile("x"),
        cs_winsorize_sigma("x"),
        cs_zscore("x"),
        neutralize("x"),
        neutralize("x", size=None),
        neutralize_ols("x", controls=["s"]),
    ]
    assert [e.meta.output_name() for e in exprs] == ["x"] * len(exprs)


@pytest.mark.parametrize("bad", [float("inf"), float("-inf"), float("nan")])
@pytest.mark.parametrize(
    "steps",
    [
        ["zscore"],
        ["winsorize_mad"],
        ["winsorize_quantile"],
        ["winsorize_sigma"],
        ["winsorize_mad", "zscore"],
        [functools.partial(cs_zscore, by="date")],
    ],
)
def test_a_non_finite_value_is_missing_and_never_poisons_its_date(bad, steps):
    rng = np.random.default_rng(7)
    clean = pl.DataFrame(
        {"date": np.repeat([1, 2], 20), "f": rng.normal(size=40), "industry": ["a"] * 40}
    )
    dirty = clean.with_columns(f=pl.when(pl.int_range(pl.len()) == 3).then(bad).otherwise("f"))
    got = preprocess(dirty, ["f"], steps=steps).collect()
    without = preprocess(clean.filter(pl.int_range(pl.len()) != 3), ["f"], steps=steps).collect()
    assert got["f"][3] is None  # missing, not clipped and not NaN
    rest = got.filter(pl.int_range(pl.len()) != 3)["f"]
    assert rest.null_count() == 0 and not rest.is_nan().any()
    # the other 19 names of that date are exactly what they are without the bad row
    np.testing.assert_allclose(rest.to_numpy(), without["f"].to_numpy(), rtol=0, atol=1e-12)


def test_neutralize_treats_an_infinite_size_as_missing():
    df = frame().with_columns(
        log_float_cap=pl.when(pl.int_range(pl.len()) == 0)
        .then(float("inf"))
        .otherwise("log_float_cap")
    )
    out = preprocess(df, ["f1"], steps=["neutralize"]).collect()
    assert out["f1"][0] is None
    assert out["f1"][1:].drop_nulls().is_finite().all()
    assert out["f1"][1:].null_count() == df["f1"][1:].fill_nan(None).null_count()


def test_preprocess_accepts_pandas():
    pytest.importorskip("pandas")
    df = frame()
    got = preprocess(df.to_pandas(), ["f1"], steps=["zscore"]).collect()
    assert_frame_equal(got, preprocess(df, ["f1"], steps=["zscore"]).collect())
