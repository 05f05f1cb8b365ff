"""Cross-sectional operators: every ``cs_*`` function, one grouping keyword ``by``.

Each returns a plain ``pl.Expr`` evaluated per cross-section ``.over(by)``: ``by="date"``
(default), or e.g. ``["date", "pool"]`` to rank or z-score within each stock pool of a date.

Conventions
-----------
- **Inputs**: a column name or any ``pl.Expr``, cast to ``Float64``. The ordering operators
  (:func:`cs_rank`, :func:`cs_demean`, :func:`cs_quantile`) turn NaN into null; the
  preprocessing operators (:func:`cs_zscore`, ``cs_winsorize_*``) turn every non-finite value
  (NaN, +inf, -inf) into null, so one inf never poisons its cross-section.
- Nulls are ignored by every cross-sectional statistic and stay null in the output; outputs
  are ``Float64`` except :func:`cs_quantile` (``Int32`` bucket labels).
- ``date_col=`` is accepted by :func:`cs_rank`, :func:`cs_demean`, :func:`cs_zscore` and
  :func:`cs_quantile` as the deprecated spelling of ``by=`` (one release, with a
  ``DeprecationWarning``).

Each statistic-based transform is written once as a "plan" (``zscore_plan``, ...), shared with
:func:`factorlab.preprocess.preprocess`, which runs the same arithmetic for many columns at
once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, get_args

import polars as pl

from factorlab._exprs import (
    check_ddof,
    check_int,
    check_positive_number,
    finite_expr,
    float_expr,
    group_keys,
    resolve_by,
)
from factorlab.errors import ParameterError
from factorlab.typing import IntoExpr

__all__ = [
    "MAD_SCALE",
    "cs_demean",
    "cs_quantile",
    "cs_rank",
    "cs_winsorize_mad",
    "cs_winsorize_quantile",
    "cs_winsorize_sigma",
    "cs_zscore",
]

MAD_SCALE = 1.4826
"""Consistency constant: ``MAD_SCALE * MAD`` estimates the standard deviation of normal data
(1 / Phi^-1(3/4) = 1.4826...)."""

QuantileBounds = Literal["inward", "linear"]


# Each transform is written once as a "plan": a function that asks `put(keys, exprs)` for
# per-group aggregations (``keys`` a list) or row-wise intermediates (``keys`` None) and
# combines them. `over_keys` answers with window expressions, giving the public
# single-expression functions; `preprocess`'s stager answers with temporary columns computed one
# `with_columns` per request, which it runs for all factor columns at once.
Put = Callable[[list[str] | None, dict[str, pl.Expr]], dict[str, pl.Expr]]


def over_keys(keys: list[str] | None, exprs: dict[str, pl.Expr]) -> dict[str, pl.Expr]:
    """The `Put` of the single-expression operators: each statistic as a window ``over(keys)``."""
    if keys is None:
        return exprs
    return {name: e.over(keys) for name, e in exprs.items()}


# --------------------------------------------------------------------------------------------
# ranks, demeaning, quantile buckets
# --------------------------------------------------------------------------------------------


def cs_rank(
    x: IntoExpr, *, pct: bool = False, by: str | Sequence[str] = "date", date_col: str | None = None
) -> pl.Expr:
    """Rank within each cross-section (`by`), average ranks for ties (1 = smallest).

    ``pct=True`` divides by the number of non-null values of the cross-section (pandas
    ``rank(pct=True)``; scipy ``rankdata(method="average") / n``).

    Nulls and NaN: NaN becomes null; nulls are not ranked, do not count in `n` and stay null.

    Examples
    --------
    >>> df = pl.DataFrame({"date": [1, 1, 1, 1], "x": [3.0, 1.0, 3.0, None]})
    >>> df.with_columns(r=cs_rank("x"), p=cs_rank("x", pct=True))
    shape: (4, 4)
    ┌──────┬──────┬──────┬──────────┐
    │ date ┆ x    ┆ r    ┆ p        │
    │ ---  ┆ ---  ┆ ---  ┆ ---      │
    │ i64  ┆ f64  ┆ f64  ┆ f64      │
    ╞══════╪══════╪══════╪══════════╡
    │ 1    ┆ 3.0  ┆ 2.5  ┆ 0.833333 │
    │ 1    ┆ 1.0  ┆ 1.0  ┆ 0.333333 │
    │ 1    ┆ 3.0  ┆ 2.5  ┆ 0.833333 │
    │ 1    ┆ null ┆ null ┆ null     │
    └──────┴──────┴──────┴──────────┘
    """
    keys = resolve_by(by, date_col, "cs_rank")
    v = float_expr(x)
    rank = v.rank("average").cast(pl.Float64)
    if pct:
        rank = rank / v.count()
    return rank.over(keys)


def cs_demean(
    x: IntoExpr, *, by: str | Sequence[str] = "date", date_col: str | None = None
) -> pl.Expr:
    """`x` minus its mean over the cross-section's non-null values.

    Nulls and NaN: NaN becomes null; nulls are ignored by the mean and stay null.
    """
    keys = resolve_by(by, date_col, "cs_demean")
    v = float_expr(x)
    return (v - v.mean()).over(keys)


def cs_quantile(
    x: IntoExpr, *, quantiles: int, by: str | Sequence[str] = "date", date_col: str | None = None
) -> pl.Expr:
    """Quantile bucket per cross-section, 1 (lowest) to `quantiles`, tie-robust; ``Int32``.

    ``bucket = max(1, ceil(quantiles * (r - 1) / (n - 1)))`` with ``r`` the average rank and
    ``n`` the number of non-null values of the date. For distinct values this is
    ``pandas.qcut(x, quantiles, labels=False) + 1`` computed with *exact* edges (the linear
    ``k / quantiles`` quantiles, right-closed bins): a value lying exactly on an edge goes to
    the lower bucket. pandas computes its edges in floating point (``np.quantile``), so there it
    may land one bucket higher (values -9..9, ``quantiles=6``: pandas' edge 5.999999999999998
    puts 6 in bucket 6, this operator in bucket 5); off the edges both agree. For pandas' float
    edges exactly (alphalens' ``factor_quantile``), use ``factorlab.evaluate.clean_factor(...,
    mode="qcut")``, which copies them (:func:`factorlab.evaluate.qcut_probabilities`). Tied
    values share a rank and therefore a bucket, and no date is dropped. A constant
    cross-section (or a single value) falls in the middle bucket ``ceil(quantiles / 2)``.

    Nulls and NaN: NaN becomes null; nulls get no bucket and do not count in `n`.

    Examples
    --------
    >>> df = pl.DataFrame({"date": [1] * 5, "x": [5.0, 1.0, 3.0, 3.0, None]})
    >>> df.with_columns(q=cs_quantile("x", quantiles=2))
    shape: (5, 3)
    ┌──────┬──────┬──────┐
    │ date ┆ x    ┆ q    │
    │ ---  ┆ ---  ┆ ---  │
    │ i64  ┆ f64  ┆ i32  │
    ╞══════╪══════╪══════╡
    │ 1    ┆ 5.0  ┆ 2    │
    │ 1    ┆ 1.0  ┆ 1    │
    │ 1    ┆ 3.0  ┆ 1    │
    │ 1    ┆ 3.0  ┆ 1    │
    │ 1    ┆ null ┆ null │
    └──────┴──────┴──────┘
    """
    quantiles = check_int("quantiles", quantiles, minimum=1)
    keys = resolve_by(by, date_col, "cs_quantile")
    v = float_expr(x)
    rank = v.rank("average").cast(pl.Float64)
    n = v.count().cast(pl.Float64)
    # quantiles * (r - 1) first: integer-valued numerator, so exact multiples stay exact.
    scaled = pl.when(n > 1).then((rank - 1.0) * quantiles / (n - 1.0)).otherwise(quantiles / 2)
    bucket = scaled.ceil().clip(lower_bound=1.0)
    return pl.when(v.is_not_null()).then(bucket).cast(pl.Int32).over(keys)


# --------------------------------------------------------------------------------------------
# winsorizing
# --------------------------------------------------------------------------------------------


def cs_winsorize_mad(
    x: IntoExpr,
    *,
    n: float = 3.0,
    scale: float = MAD_SCALE,
    by: str | Sequence[str] = "date",
) -> pl.Expr:
    """Clip each cross-section to ``median ± n * scale * MAD`` (MAD = median |x - median|).

    With the default ``scale = MAD_SCALE`` the band is ``n`` robust standard deviations.

    Idempotency: clipping at these bounds leaves the median and the MAD unchanged whenever
    ``n * scale >= 2`` (the default is 4.45). The middle values are never clipped (each lies
    within MAD of the median), and every clipped deviation stays above the middle deviations
    (at most 2 MAD), so the bounds recomputed from the output are the same numbers and a second
    pass changes nothing — exactly, not approximately. Below 2 a second pass may clip again.
    A cross-section with MAD = 0 (more than half the values equal) is returned unchanged rather
    than collapsed onto its median; that is idempotent too.

    Nulls and NaN: NaN and +/-inf become null; nulls are ignored by median and MAD and stay
    null.

    Examples
    --------
    >>> df = pl.DataFrame({"date": [1] * 5, "x": [1.0, 2.0, 3.0, 4.0, 100.0]})
    >>> df.with_columns(w=cs_winsorize_mad("x", n=1.0, scale=1.0))
    shape: (5, 3)
    ┌──────┬───────┬─────┐
    │ date ┆ x     ┆ w   │
    │ ---  ┆ ---   ┆ --- │
    │ i64  ┆ f64   ┆ f64 │
    ╞══════╪═══════╪═════╡
    │ 1    ┆ 1.0   ┆ 2.0 │
    │ 1    ┆ 2.0   ┆ 2.0 │
    │ 1    ┆ 3.0   ┆ 3.0 │
    │ 1    ┆ 4.0   ┆ 4.0 │
    │ 1    ┆ 100.0 ┆ 4.0 │
    └──────┴───────┴─────┘
    """
    half_width = check_positive_number("n", n) * check_positive_number("scale", scale)
    return winsorize_mad_plan(
        finite_expr(x), half_width=half_width, keys=group_keys(by), put=over_keys
    )


def winsorize_mad_plan(v: pl.Expr, *, half_width: float, keys: list[str], put: Put) -> pl.Expr:
    # drop_nulls(): Polars' median skips nulls anyway, but is several times faster without them.
    median = put(keys, {"median": v.drop_nulls().median()})["median"]
    mad = put(keys, {"mad": (v - median).abs().drop_nulls().median()})["mad"]
    clipped = v.clip(median - half_width * mad, median + half_width * mad)
    return pl.when(mad > 0).then(clipped).otherwise(v)


def cs_winsorize_quantile(
    x: IntoExpr,
    *,
    lower: float = 0.01,
    upper: float = 0.99,
    bounds: QuantileBounds = "inward",
    by: str | Sequence[str] = "date",
) -> pl.Expr:
    """Clip each cross-section to its `lower` and `upper` quantiles.

    ``bounds="inward"`` (default) clips to observed values: the lower bound is the order
    statistic just above (or at) the `lower` quantile's position ``lower * (m - 1)`` (``m`` =
    non-null count), the upper bound the one just below (or at) ``upper * (m - 1)``. That is the
    classical winsorization (extremes replaced by the nearest kept observation): it matches
    ``scipy.stats.mstats.winsorize(limits=(lower, 1 - upper))`` whenever ``lower * m`` and
    ``(1 - upper) * m`` are integers, and it is idempotent. If no order statistic lies between the
    two positions (tiny cross-sections), the values are left unchanged.

    ``bounds="linear"`` clips to linearly interpolated quantiles, i.e. ``np.clip(x,
    np.quantile(x, lower), np.quantile(x, upper))``. Not idempotent: a second pass interpolates
    towards the already-clipped values and clips a little further.

    Nulls and NaN: NaN and +/-inf become null; nulls are ignored by the quantiles and stay null.
    """
    if isinstance(lower, bool) or not isinstance(lower, (int, float)) or not 0 <= lower < 1:
        raise ParameterError(f"`lower` must be in [0, 1); got {lower!r}.")
    if isinstance(upper, bool) or not isinstance(upper, (int, float)) or not 0 < upper <= 1:
        raise ParameterError(f"`upper` must be in (0, 1]; got {upper!r}.")
    if lower >= upper:
        raise ParameterError(
            f"`lower` must be smaller than `upper`; got lower={lower}, upper={upper}."
        )
    if bounds not in get_args(QuantileBounds):
        raise ParameterError(f"`bounds` must be one of {get_args(QuantileBounds)}; got {bounds!r}.")
    return winsorize_quantile_plan(
        finite_expr(x),
        lower=float(lower),
        upper=float(upper),
        bounds=bounds,
        keys=group_keys(by),
        put=over_keys,
    )


def winsorize_quantile_plan(
    v: pl.Expr, *, lower: float, upper: float, bounds: str, keys: list[str], put: Put
) -> pl.Expr:
    if bounds == "linear":
        q = put(
            keys,
            {
                "lo": v.drop_nulls().quantile(lower, interpolation="linear"),
                "hi": v.drop_nulls().quantile(upper, interpolation="linear"),
            },
        )
        return v.clip(q["lo"], q["hi"])
    q = put(
        keys,
        {
            "lo": v.drop_nulls().quantile(lower, interpolation="higher"),
            "hi": v.drop_nulls().quantile(upper, interpolation="lower"),
        },
    )
    return pl.when(q["lo"] <= q["hi"]).then(v.clip(q["lo"], q["hi"])).otherwise(v)


def cs_winsorize_sigma(
    x: IntoExpr,
    *,
    n: float = 3.0,
    ddof: int = 1,
    by: str | Sequence[str] = "date",
) -> pl.Expr:
    """Clip each cross-section to ``mean ± n * std`` (std with `ddof`), in one pass.

    Not idempotent: the clipped data has a smaller std, so a second pass computes tighter bounds
    and clips again (the bounds would only settle after iterating to a fixed point). Prefer
    :func:`cs_winsorize_mad` when repeated application must be a no-op. Cross-sections whose std
    is zero or undefined (fewer than ``ddof + 1`` values) are returned unchanged.

    Nulls and NaN: NaN and +/-inf become null; nulls are ignored by mean and std and stay null.
    """
    return winsorize_sigma_plan(
        finite_expr(x),
        n=check_positive_number("n", n),
        ddof=check_ddof(ddof),
        keys=group_keys(by),
        put=over_keys,
    )


def winsorize_sigma_plan(v: pl.Expr, *, n: float, ddof: int, keys: list[str], put: Put) -> pl.Expr:
    q = put(keys, {"mean": v.mean(), "std": v.std(ddof=ddof)})
    clipped = v.clip(q["mean"] - n * q["std"], q["mean"] + n * q["std"])
    return pl.when(q["std"] > 0).then(clipped).otherwise(v)


# --------------------------------------------------------------------------------------------
# z-score
# --------------------------------------------------------------------------------------------


def cs_zscore(
    x: IntoExpr, *, ddof: int = 1, by: str | Sequence[str] = "date", date_col: str | None = None
) -> pl.Expr:
    """``(x - mean) / std`` per cross-section, std with `ddof` (default 1, the sample std).

    Matches ``scipy.stats.zscore(x, ddof=ddof)`` on each cross-section's non-null values. A
    constant cross-section (max == min, including a single value) gives 0, not NaN: the test is
    exact, so constant data never divides rounding noise by rounding noise. With ``ddof=1`` the
    output has mean 0 and sample std 1 per cross-section.

    ``date_col=`` is the deprecated spelling of ``by=`` (one release, with a
    ``DeprecationWarning``).

    Nulls and NaN: NaN and +/-inf become null; nulls are ignored by mean and std and stay null.

    Examples
    --------
    >>> df = pl.DataFrame({"date": [1, 1, 1, 2, 2], "x": [1.0, 2.0, 3.0, 5.0, 5.0]})
    >>> df.with_columns(z=cs_zscore("x"))
    shape: (5, 3)
    ┌──────┬─────┬──────┐
    │ date ┆ x   ┆ z    │
    │ ---  ┆ --- ┆ ---  │
    │ i64  ┆ f64 ┆ f64  │
    ╞══════╪═════╪══════╡
    │ 1    ┆ 1.0 ┆ -1.0 │
    │ 1    ┆ 2.0 ┆ 0.0  │
    │ 1    ┆ 3.0 ┆ 1.0  │
    │ 2    ┆ 5.0 ┆ 0.0  │
    │ 2    ┆ 5.0 ┆ 0.0  │
    └──────┴─────┴──────┘
    """
    keys = resolve_by(by, date_col, "cs_zscore")
    return zscore_plan(finite_expr(x), ddof=check_ddof(ddof), keys=keys, put=over_keys)


def zscore_plan(v: pl.Expr, *, ddof: int, keys: list[str], put: Put) -> pl.Expr:
    q = put(keys, {"mean": v.mean(), "std": v.std(ddof=ddof), "max": v.max(), "min": v.min()})
    z = (v - q["mean"]) / q["std"]
    constant = q["max"] == q["min"]
    return pl.when(~constant).then(z).otherwise(pl.when(v.is_not_null()).then(pl.lit(0.0)))
