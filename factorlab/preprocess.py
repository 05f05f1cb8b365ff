"""Cross-sectional preprocessing of factor values: neutralizing, and pipelines of steps.

:func:`neutralize` and :func:`neutralize_ols` return a ``pl.Expr`` evaluated per
cross-section ``.over(by)`` (``by="date"``, or ``["date", "pool"]`` to work within each stock
pool); :func:`preprocess` applies a chosen sequence of steps (these, and the winsorizing and
z-scoring operators of :mod:`factorlab.cs`, re-exported here) to many factor columns at once.

Conventions: numeric input is cast to ``Float64`` and every non-finite value (NaN, +inf, -inf)
becomes null first, at the boundary of every step: a non-finite value is missing, so one inf
never poisons its cross-section. Nulls are ignored by every cross-sectional statistic and stay
null in the output; outputs are ``Float64``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, get_args

import numpy as np
import polars as pl

from factorlab._exprs import finite_expr, group_keys
from factorlab.cs import (
    MAD_SCALE,
    Put,
    cs_winsorize_mad,
    cs_winsorize_quantile,
    cs_winsorize_sigma,
    cs_zscore,
    over_keys,
    winsorize_mad_plan,
    winsorize_quantile_plan,
    winsorize_sigma_plan,
    zscore_plan,
)
from factorlab.errors import DtypeError, MissingColumnError, ParameterError
from factorlab.frames import as_lazy
from factorlab.typing import IntoExpr

__all__ = [
    "MAD_SCALE",
    "Step",
    "cs_winsorize_mad",
    "cs_winsorize_quantile",
    "cs_winsorize_sigma",
    "cs_zscore",
    "neutralize",
    "neutralize_ols",
    "preprocess",
]

Step = Literal["winsorize_mad", "winsorize_quantile", "winsorize_sigma", "zscore", "neutralize"]
STEPS: tuple[str, ...] = get_args(Step)

# A size control whose spread is below this fraction of its magnitude counts as constant.
_CONSTANT_RTOL2 = 1e-20


def _min_group_size(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ParameterError(
            f"`min_group_size` must be an integer >= 1 (1 keeps every industry); got {value!r}."
        )
    return int(value)


class _Stages:
    """Materializes each requested statistic as a temporary column, one stage per request.

    Polars re-evaluates a nested window expression once per reference; materialized, every
    window aggregates plain columns, and the windows of all factor columns over the same keys
    share one grouping per stage.
    """

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.stages: list[list[pl.Expr]] = []

    def __call__(self, keys: list[str] | None, exprs: dict[str, pl.Expr]) -> dict[str, pl.Expr]:
        names = {k: f"__factorlab_{self.tag}_{len(self.stages)}_{k}" for k in exprs}
        self.stages.append(
            [(e if keys is None else e.over(keys)).alias(names[k]) for k, e in exprs.items()]
        )
        return {k: pl.col(name) for k, name in names.items()}


def _run_plans(
    lf: pl.LazyFrame, columns: list[str], plan: Callable[[str, Put], pl.Expr]
) -> pl.LazyFrame:
    """Apply ``plan`` to every column: one ``with_columns`` per stage, temporaries dropped."""
    stagers = [_Stages(str(i)) for i in range(len(columns))]
    finals = [plan(c, st).alias(c) for c, st in zip(columns, stagers, strict=True)]
    temps: list[str] = []
    for k in range(len(stagers[0].stages)):
        stage = [e for st in stagers for e in st.stages[k]]
        lf = lf.with_columns(stage)
        temps += [e.meta.output_name() for e in stage]
    lf = lf.with_columns(finals)
    return lf.drop(temps) if temps else lf


# --------------------------------------------------------------------------------------------
# neutralization
# --------------------------------------------------------------------------------------------


def neutralize(
    x: IntoExpr,
    *,
    industry: str | None = "industry",
    size: str | None = "log_float_cap",
    by: str | Sequence[str] = "date",
    min_group_size: int = 5,
) -> pl.Expr:
    """Residual of `x` on industry dummies and (log) size, per cross-section, in plain expressions.

    Per cross-section (``by``), this equals the least-squares residual of `x` on
    ``[industry dummies, size]`` (``numpy.linalg.lstsq``), computed by Frisch-Waugh-Lovell
    without a matrix solve: demean `x` and `size` within (``by``, industry), then remove the
    slope ``sum(x~ s~) / sum(s~^2)`` of the demeaned `x` on the demeaned size. If the demeaned
    size is zero (size constant within every industry) the size step is skipped. The residual is
    orthogonal to every industry dummy and to size in each cross-section.

    Parameters
    ----------
    x
        Factor column or expression.
    industry
        Industry label column (any dtype), or None for size only (then an intercept is used).
    size
        Size control column, already on the scale to regress on (log float cap), or None for
        industry only.
    by
        Cross-section key(s): ``"date"``, or e.g. ``["date", "pool"]``.
    min_group_size
        Industries with fewer usable rows than this in a cross-section are pooled into one
        shared group (one dummy for all of them, i.e. they fall back to a common intercept)
        instead of getting a dummy each — a dummy on one or two stocks would zero them out.
        ``1`` keeps every industry. Default 5.

    Nulls and NaN: NaN and +/-inf become null (in `x` and in `size`). A row with null `x`, null
    industry or null size gets a null result and takes no part in the regression of its
    cross-section.

    Examples
    --------
    >>> df = pl.DataFrame(
    ...     {"date": [1] * 4, "industry": ["a", "a", "b", "b"],
    ...      "size": [1.0, 2.0, 1.0, 2.0], "x": [1.0, 3.0, 10.0, 12.0]}
    ... )
    >>> df.with_columns(r=neutralize("x", size="size", min_group_size=1))["r"].to_list()
    [0.0, 0.0, 0.0, 0.0]
    """
    if industry is None and size is None:
        raise ParameterError(
            "`industry` and `size` are both None; name at least one column to neutralize "
            "against (or use factorlab.cs.cs_demean for a plain demean)."
        )
    keys = group_keys(by)
    mgs = _min_group_size(min_group_size)
    if industry is not None:
        group_keys(industry, "industry")
    if size is not None:
        group_keys(size, "size")
    return _neutralize_plan(
        finite_expr(x), industry=industry, size=size, keys=keys, min_group_size=mgs, put=over_keys
    )


def _neutralize_plan(
    y: pl.Expr,
    *,
    industry: str | None,
    size: str | None,
    keys: list[str],
    min_group_size: int,
    put: Put,
) -> pl.Expr:
    valid = y.is_not_null()
    if industry is not None:
        valid = valid & pl.col(industry).is_not_null()
    s = None
    if size is not None:
        s = finite_expr(size)
        valid = valid & s.is_not_null()
    # Rows usable for the regression: x, industry and size all present; the others give null.
    rows = {"y": pl.when(valid).then(y)}
    if s is not None:
        rows["s"] = pl.when(valid).then(s)
    rows = put(None, rows)
    y_v = rows["y"]
    s_v = rows.get("s")
    group = keys if industry is None else [*keys, industry]
    pooling = industry is not None and min_group_size > 1

    # Means within (by, industry) and, for pooling, the usable row count of each industry.
    aggs = {"y_mean": y_v.mean()}
    if s_v is not None:
        aggs["s_mean"] = s_v.mean()
    if pooling:
        aggs["count"] = y_v.count()
    means = put(group, aggs)

    if pooling:
        # Industries with fewer than `min_group_size` usable rows share one pooled group per
        # cross-section: their mean is taken over all of their rows together.
        small = means["count"] < min_group_size
        aggs = {"y_pool": pl.when(small).then(y_v).mean()}
        if s_v is not None:
            aggs["s_pool"] = pl.when(small).then(s_v).mean()
        pooled = put(keys, aggs)
        demeaned = {"y": y_v - pl.when(small).then(pooled["y_pool"]).otherwise(means["y_mean"])}
        if s_v is not None:
            demeaned["s"] = s_v - pl.when(small).then(pooled["s_pool"]).otherwise(means["s_mean"])
    else:
        demeaned = {"y": y_v - means["y_mean"]}
        if s_v is not None:
            demeaned["s"] = s_v - means["s_mean"]
    if s_v is None:
        return demeaned["y"]
    demeaned = put(None, demeaned)
    y_t, s_t = demeaned["y"], demeaned["s"]

    # Remove the slope of the demeaned factor on the demeaned size, per cross-section.
    sums = put(
        keys,
        {"sxx": (s_t * s_t).sum(), "sxy": (y_t * s_t).sum(), "scale": (s_v * s_v).sum()},
    )
    sxx = sums["sxx"]
    beta = (
        pl.when(sxx > _CONSTANT_RTOL2 * sums["scale"])
        .then(sums["sxy"] / sxx)
        .otherwise(pl.lit(0.0))
    )
    return y_t - beta * s_t


def _category_codes(s: pl.Series) -> np.ndarray:
    """Integer codes of a categorical column (any dtype); nulls get -1."""
    if s.dtype in (pl.String, pl.Categorical) or isinstance(s.dtype, pl.Enum):
        codes = s.cast(pl.String).cast(pl.Categorical).to_physical()
    else:
        codes = s.rank("dense")
    return codes.cast(pl.Int64).fill_null(-1).to_numpy()


def _ols_residual_batch(
    n_controls: int, n_categorical: int
) -> Callable[[list[pl.Series]], pl.Series]:
    """Per-group least-squares residuals, one call on the whole columns.

    Within each group the first categorical (or, without one, the intercept) is absorbed by
    demeaning within its levels (Frisch-Waugh-Lovell), then the demeaned `x` is regressed on
    the demeaned controls and the other categoricals' dummies (all levels but one) with
    ``numpy.linalg.lstsq``: the residual equals that of lstsq on the full design.
    """

    def apply(series: list[pl.Series]) -> pl.Series:
        y = series[0].to_numpy().astype(np.float64, copy=False)
        ctrl = [c.to_numpy().astype(np.float64, copy=False) for c in series[1 : 1 + n_controls]]
        cats = [_category_codes(c) for c in series[1 + n_controls : 1 + n_controls + n_categorical]]
        key_series = series[1 + n_controls + n_categorical :]
        valid = ~np.isnan(y)
        for c in ctrl:
            valid &= ~np.isnan(c)
        for c in cats:
            valid &= c >= 0
        rows = pl.DataFrame(key_series).with_row_index("__row")
        key_names = [k.name for k in key_series]
        groups = rows.filter(pl.Series(valid)).group_by(key_names).agg(pl.col("__row"))["__row"]
        out = np.full(y.shape[0], np.nan)
        for idx in groups:
            sel = idx.to_numpy()
            absorb = cats[0][sel] if cats else np.zeros(sel.shape[0], dtype=np.int64)
            _, level = np.unique(absorb, return_inverse=True)
            counts = np.bincount(level)

            def demean(v: np.ndarray, level: np.ndarray = level, counts: np.ndarray = counts):
                return v - (np.bincount(level, weights=v) / counts)[level]

            columns = [demean(c[sel]) for c in ctrl]
            for c in cats[1:]:
                _, other = np.unique(c[sel], return_inverse=True)
                for lv in range(1, int(other.max()) + 1):
                    columns.append(demean((other == lv).astype(np.float64)))
            resid = demean(y[sel])
            if columns:
                design = np.column_stack(columns)
                coef, *_ = np.linalg.lstsq(design, resid, rcond=None)
                resid = resid - design @ coef
            out[sel] = resid
        return pl.Series(series[0].name, out, dtype=pl.Float64).fill_nan(None)

    return apply


def neutralize_ols(
    x: IntoExpr,
    *,
    controls: Sequence[str],
    categorical: Sequence[str] = (),
    by: str | Sequence[str] = "date",
) -> pl.Expr:
    """Residual of `x` on an intercept, continuous `controls` and `categorical` dummies, per
    cross-section: the ``numpy.linalg.lstsq`` residual.

    The general form of :func:`neutralize` (any number of continuous controls, e.g. log size,
    beta, volatility, and several categoricals). The first categorical (or the intercept) is
    absorbed by demeaning within its levels (Frisch-Waugh-Lovell), the rest goes through lstsq,
    so a rank-deficient design still gives the unique least-squares residual. No pooling of
    small groups (see :func:`neutralize` for ``min_group_size``). Runs as one Python call on the
    whole columns, looping over cross-sections with numpy (about 1 ms per cross-section of 5,000
    rows); :func:`neutralize` is faster for the industry + size case.

    Nulls and NaN: NaN and +/-inf become null (in `x` and the controls). A row with null `x`, a
    null control or a null category gets a null result and takes no part in the regression of
    its cross-section.
    """
    if isinstance(controls, str):
        controls = [controls]
    if isinstance(categorical, str):
        categorical = [categorical]
    controls = list(controls)
    categorical = list(categorical)
    if not controls and not categorical:
        raise ParameterError(
            "`controls` and `categorical` are both empty; name at least one column."
        )
    for c in [*controls, *categorical]:
        group_keys(c, "controls")
    keys = group_keys(by)
    inputs = [finite_expr(x)]  # the first input's name is the output's name
    inputs += [finite_expr(c).alias(f"__factorlab_c{i}") for i, c in enumerate(controls)]
    inputs += [pl.col(c).alias(f"__factorlab_g{i}") for i, c in enumerate(categorical)]
    inputs += [pl.col(k).alias(f"__factorlab_k{i}") for i, k in enumerate(keys)]
    return pl.map_batches(
        inputs, _ols_residual_batch(len(controls), len(categorical)), return_dtype=pl.Float64
    )


# --------------------------------------------------------------------------------------------
# pipeline over many columns
# --------------------------------------------------------------------------------------------


def preprocess(
    frame: pl.LazyFrame | pl.DataFrame,
    columns: str | Sequence[str],
    *,
    steps: Sequence[Step | Callable[[pl.Expr], pl.Expr]] = (
        "winsorize_mad",
        "zscore",
        "neutralize",
    ),
    by: str | Sequence[str] = "date",
    industry: str | None = "industry",
    size: str | None = "log_float_cap",
    min_group_size: int = 5,
) -> pl.LazyFrame:
    """Apply `steps`, in the given order, to every factor column; one ``with_columns`` per step.

    Built-in steps use their defaults, with the `by` / `industry` / `size` / `min_group_size`
    given here: ``"winsorize_mad"`` (:func:`cs_winsorize_mad`), ``"winsorize_quantile"``,
    ``"winsorize_sigma"``, ``"zscore"`` (:func:`cs_zscore`), ``"neutralize"``
    (:func:`neutralize`). A step may also be a callable mapping a column expression to an
    expression, e.g. ``functools.partial(cs_winsorize_mad, n=5.0, by=["date", "pool"])``. The
    columns are overwritten in place; other columns are untouched.

    Each built-in step handles all columns at once: its per-cross-section statistics (e.g. the
    medians of every column) are computed in one ``with_columns`` of ``over(by)`` windows and
    kept as temporary columns (two such stages for ``"winsorize_mad"``, up to five small ones
    for ``"neutralize"``), then one ``with_columns`` writes all results and the temporaries are
    dropped. Same arithmetic as the single-expression functions, but no nested windows, which
    Polars would re-evaluate once per reference. Row order is kept.

    Performance: on 12.5 M rows (5,000 assets x 2,500 dates) x 11 factor columns the default
    three steps took 10-30 s on a shared 2-core machine, with either engine; rows sorted by
    (date, asset) make the ``over(by)`` windows cheapest.

    Nulls and NaN: at the boundary of every step (built-in or callable), each factor value that
    is not finite (NaN, +inf, -inf) becomes null, i.e. missing: it is ignored by that
    cross-section's statistics and stays null in the output, so one inf never turns the other
    names of its date into NaN. (An inf is not clipped to the winsorizing bound: it is no
    measurement.) The `size` control follows the same rule.

    Raises
    ------
    ParameterError
        Unknown step, empty `columns`, bad parameters.
    MissingColumnError
        A factor, `by`, `industry` or `size` column is absent.
    DtypeError
        A factor or `size` column is not numeric.

    Examples
    --------
    >>> df = pl.DataFrame({"date": [1, 1, 1], "f": [1.0, 2.0, 30.0]})
    >>> preprocess(df, ["f"], steps=["zscore"]).collect()["f"].round(3).to_list()
    [-0.607, -0.547, 1.154]
    """
    lf = as_lazy(frame, name="frame")
    cols = [columns] if isinstance(columns, str) else list(columns)
    if not cols:
        raise ParameterError("`columns` is empty; name at least one factor column.")
    if len(set(cols)) != len(cols):
        raise ParameterError(f"`columns` names a column twice: {cols}.")
    if isinstance(steps, str):
        steps = [steps]
    steps = list(steps)
    for step in steps:
        if not callable(step) and step not in STEPS:
            raise ParameterError(
                f"unknown preprocessing step {step!r}; choose from {list(STEPS)} "
                "or pass a callable taking and returning a polars expression."
            )
    keys = group_keys(by)
    mgs = _min_group_size(min_group_size)

    schema = lf.collect_schema()
    needed = {c: "factor column" for c in cols}
    needed.update({k: "`by` column" for k in keys})
    if "neutralize" in steps:
        if industry is None and size is None:
            raise ParameterError("step `neutralize` needs `industry` and/or `size`; both are None.")
        if industry is not None:
            needed.setdefault(industry, "`industry` column")
        if size is not None:
            needed.setdefault(size, "`size` column")
    missing = [c for c in needed if c not in schema]
    if missing:
        listed = ", ".join(f"`{c}` ({needed[c]})" for c in missing)
        raise MissingColumnError(
            f"`frame` has no column {listed}; available: {list(schema)}.",
            table="frame",
            column=missing[0],
        )
    numeric = list(cols)
    if "neutralize" in steps and size is not None:
        numeric.append(size)
    for c in numeric:
        dtype = schema[c]
        if not dtype.is_numeric():
            raise DtypeError(
                f"column `{c}` must be numeric to preprocess; got {dtype}. "
                "Cast it (e.g. pl.col(...).cast(pl.Float64)) or drop it from `columns`.",
                table="frame",
                column=c,
            )

    def plan_for(step: Step) -> Callable[[str, Put], pl.Expr]:
        if step == "winsorize_mad":
            return lambda c, put: winsorize_mad_plan(
                finite_expr(c), half_width=3.0 * MAD_SCALE, keys=keys, put=put
            )
        if step == "winsorize_quantile":
            return lambda c, put: winsorize_quantile_plan(
                finite_expr(c), lower=0.01, upper=0.99, bounds="inward", keys=keys, put=put
            )
        if step == "winsorize_sigma":
            return lambda c, put: winsorize_sigma_plan(
                finite_expr(c), n=3.0, ddof=1, keys=keys, put=put
            )
        if step == "zscore":
            return lambda c, put: zscore_plan(finite_expr(c), ddof=1, keys=keys, put=put)
        return lambda c, put: _neutralize_plan(
            finite_expr(c), industry=industry, size=size, keys=keys, min_group_size=mgs, put=put
        )

    def apply_steps(frame: pl.LazyFrame) -> pl.LazyFrame:
        for step in steps:
            if callable(step):
                frame = frame.with_columns(step(finite_expr(c)).alias(c) for c in cols)
            else:
                frame = _run_plans(frame, cols, plan_for(step))
        return frame

    return apply_steps(lf)
