"""The alphalens-compatible options against alphalens-reloaded itself on random inputs (1e-10)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from factorlab.evaluate.compat import (
    alphalens_factor_returns,
    alphalens_factor_weights,
    alphalens_information_coefficient,
    alphalens_mean_return_by_quantile,
    alphalens_quantize,
    clean_from_alphalens,
    from_alphalens,
)

pd = pytest.importorskip("pandas")
perf = pytest.importorskip("alphalens.performance")
utils = pytest.importorskip("alphalens.utils")


def _factor_data(seed: int, n_dates: int = 30, n_assets: int = 12):
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2021-01-04", periods=n_dates, name="date")
    assets = [f"S{i:02d}" for i in range(n_assets)]
    idx = pd.MultiIndex.from_product([days, assets], names=["date", "asset"])
    fac = rng.normal(size=len(idx))
    fac[rng.random(len(idx)) < 0.1] = np.round(fac[rng.random(len(idx)) < 0.1].mean(), 1)
    fd = pd.DataFrame(
        {
            "1D": rng.normal(0, 0.02, len(idx)),
            "5D": rng.normal(0, 0.05, len(idx)),
            "factor": fac,
            "group": pd.Categorical([f"g{i % 3}" for i in range(len(idx))]),
        },
        index=idx,
    )
    return fd


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(
    ("quantiles", "bins", "by_group", "zero_aware"),
    [
        (5, None, False, False),
        ([0, 0.3, 0.7, 1], None, False, False),
        (None, 4, False, False),
        (None, [-3, -0.5, 0, 0.5, 3], False, False),
        (4, None, False, True),
        (None, 4, True, True),
    ],
)
def test_quantize_equals_alphalens(seed, quantiles, bins, by_group, zero_aware):
    fd = _factor_data(seed)
    exp = utils.quantize_factor(
        fd,
        quantiles=quantiles,
        bins=bins,
        by_group=by_group,
        zero_aware=zero_aware,
        no_raise=True,
    )
    got = alphalens_quantize(
        from_alphalens(fd),
        quantiles=quantiles,
        bins=bins,
        by_group=by_group,
        zero_aware=zero_aware,
        no_raise=True,
    )
    exp_full = exp.reindex(fd.index).to_numpy(dtype=float)
    np.testing.assert_array_equal(got.cast(pl.Float64).fill_null(np.nan).to_numpy(), exp_full)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(
    ("demeaned", "group_adjust", "equal_weight"),
    [
        (True, False, False),
        (False, False, False),
        (True, True, False),
        (True, False, True),
        (True, True, True),
        (False, True, True),
    ],
)
def test_weights_and_returns_equal_alphalens(seed, demeaned, group_adjust, equal_weight):
    fd = _factor_data(seed)
    kw = dict(demeaned=demeaned, group_adjust=group_adjust, equal_weight=equal_weight)
    frame = from_alphalens(fd)
    w = alphalens_factor_weights(frame, **kw).to_numpy()
    np.testing.assert_allclose(w, perf.factor_weights(fd, **kw).to_numpy(), rtol=0, atol=1e-10)
    got = alphalens_factor_returns(frame, **kw)
    exp = perf.factor_returns(fd, **kw)
    for col, h in (("1D", 1), ("5D", 5)):
        np.testing.assert_allclose(
            got[f"forward_return_{h}"].to_numpy(), exp[col].to_numpy(), rtol=0, atol=1e-10
        )


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(
    ("group_adjust", "by_group"), [(False, False), (True, False), (True, True)]
)
def test_ic_and_mean_returns_equal_alphalens(seed, group_adjust, by_group):
    fd = _factor_data(seed)
    fd["factor_quantile"] = utils.quantize_factor(fd, quantiles=4)
    frame = from_alphalens(fd)
    got = alphalens_information_coefficient(frame, group_adjust=group_adjust, by_group=by_group)
    exp = perf.factor_information_coefficient(fd, group_adjust=group_adjust, by_group=by_group)
    np.testing.assert_allclose(got["forward_return_1"].to_numpy(), exp["1D"].to_numpy(), atol=1e-10)
    for by_date in (False, True):
        got = alphalens_mean_return_by_quantile(
            frame, by_date=by_date, by_group=by_group, group_adjust=group_adjust
        )
        mean, se = perf.mean_return_by_quantile(
            fd, by_date=by_date, by_group=by_group, group_adjust=group_adjust
        )
        np.testing.assert_allclose(
            got["forward_return_5"].to_numpy(), mean["5D"].to_numpy(), atol=1e-10
        )
        np.testing.assert_allclose(
            got["std_error_5"].fill_null(np.nan).to_numpy(), se["5D"].to_numpy(), atol=1e-10
        )


def test_from_alphalens_without_quantile_and_clean_from_alphalens():
    from factorlab.evaluate import information_coefficient

    fd = _factor_data(3)
    assert "factor_quantile" not in from_alphalens(fd).columns  # was a KeyError
    fd["factor_quantile"] = utils.quantize_factor(fd, quantiles=5)
    clean = clean_from_alphalens(fd)
    ic = information_coefficient(clean)
    exp = perf.factor_information_coefficient(fd)
    np.testing.assert_allclose(
        ic.filter(pl.col("horizon") == 5)["ic"].to_numpy(), exp["5D"].to_numpy(), atol=1e-10
    )
