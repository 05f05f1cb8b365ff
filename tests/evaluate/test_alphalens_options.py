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


def _random_ties(seed: int):
    """A factor with many ties (values rounded to 0.5) on 4 assets per (date, group)."""
    fd = _factor_data(seed)
    fd["factor"] = np.round(fd["factor"] * 2) / 2
    return fd


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("quantiles", [3, 5, [0, 0.3, 0.7, 1]])
@pytest.mark.parametrize("data", ["normal", "ties"])
def test_quantize_by_group_equals_alphalens(seed, quantiles, data):
    """Groups of 4 values and quantiles=3 put an edge exactly on a sample (position 3 * 1/3):
    pandas' np.quantile hits it, np.percentile(100 * p) lands one ulp below (157 rows differed)."""
    fd = _factor_data(seed) if data == "normal" else _random_ties(seed)
    exp = utils.quantize_factor(fd, quantiles=quantiles, by_group=True, no_raise=True)
    got = alphalens_quantize(from_alphalens(fd), quantiles=quantiles, by_group=True, no_raise=True)
    np.testing.assert_array_equal(
        got.cast(pl.Float64).fill_null(np.nan).to_numpy(),
        exp.reindex(fd.index).to_numpy(dtype=float),
    )


def _prices_and_factor(seed: int, n_dates: int = 40, n_assets: int = 10):
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2021-01-04", periods=n_dates, name="date")
    assets = [f"S{i}" for i in range(n_assets)]
    px = pd.DataFrame(
        np.exp(np.cumsum(rng.normal(0, 0.02, (n_dates, n_assets)), 0)), index=days, columns=assets
    )
    idx = pd.MultiIndex.from_product([days[5:30], assets], names=["date", "asset"])
    fac = pd.Series(np.round(rng.normal(size=len(idx)), 1), index=idx)
    fac = fac.sample(frac=0.8, random_state=seed).sort_index()
    groups = {a: f"g{i % 3}" for i, a in enumerate(assets)}
    return px, fac, groups


def _long_inputs(px, fac):
    prices = pl.DataFrame(
        {
            "date": pl.Series(np.repeat(px.index.to_numpy(), px.shape[1])).cast(pl.Date),
            "asset": list(px.columns) * px.shape[0],
            "close": px.to_numpy().reshape(-1),
        }
    )
    factor = pl.DataFrame(
        {
            "date": pl.Series(fac.index.get_level_values(0).to_numpy()).cast(pl.Date),
            "asset": list(fac.index.get_level_values(1)),
            "factor": fac.to_numpy(),
        }
    )
    return prices, factor


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(
    ("quantiles", "bins", "binning_by_group", "zero_aware"),
    [
        (None, 3, False, False),
        (None, 4, True, False),
        ([0, 0.2, 0.8, 1], None, False, False),
        (4, None, True, False),
        (4, None, False, True),
        (None, [-3, -0.5, 0, 0.5, 3], False, False),
    ],
)
def test_clean_factor_options_equal_alphalens(seed, quantiles, bins, binning_by_group, zero_aware):
    from factorlab.evaluate.compat import alphalens_clean_factor

    px, fac, groups = _prices_and_factor(seed)
    kw = dict(quantiles=quantiles, bins=bins, binning_by_group=binning_by_group)
    exp = utils.get_clean_factor_and_forward_returns(
        fac, px, groupby=groups, periods=(1, 3), max_loss=1.0, zero_aware=zero_aware, **kw
    )
    prices, factor = _long_inputs(px, fac)
    clean = alphalens_clean_factor(
        factor, prices, groupby=groups, periods=(1, 3), max_loss=1.0, zero_aware=zero_aware, **kw
    )
    got = clean.to_frame()
    assert got.height == len(exp)
    np.testing.assert_array_equal(got["factor_quantile"].to_numpy(), exp["factor_quantile"])
    np.testing.assert_allclose(got["forward_return_3"].to_numpy(), exp["3D"], rtol=0, atol=1e-10)
    assert clean.drops.n_input - clean.drops.n_clean == len(fac) - len(exp)
    mean, _ = perf.mean_return_by_quantile(exp, by_group=True, demeaned=False)
    mine = alphalens_mean_return_by_quantile(got, by_group=True, demeaned=False)
    # alphalens also lists (quantile, group) pairs without rows (NaN; its group is categorical)
    mean = mean["1D"].dropna()
    np.testing.assert_allclose(mine["forward_return_1"].to_numpy(), mean.to_numpy(), atol=1e-10)


@pytest.mark.parametrize("cumulative", [True, False])
def test_compute_forward_returns_equal_alphalens(cumulative):
    from factorlab.evaluate.compat import alphalens_compute_forward_returns

    px, fac, _ = _prices_and_factor(3)
    exp = utils.compute_forward_returns(fac, px, periods=(1, 2, 5), cumulative_returns=cumulative)
    prices, factor = _long_inputs(px, fac)
    got = alphalens_compute_forward_returns(
        factor, prices, periods=(1, 2, 5), cumulative_returns=cumulative
    )
    for h in (1, 2, 5):
        np.testing.assert_allclose(
            got[f"forward_return_{h}"].fill_null(np.nan).to_numpy(),
            exp[f"{h}D"].to_numpy(),
            rtol=0,
            atol=1e-10,
        )


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(
    ("demeaned", "group_adjust", "by_group"),
    [
        (True, False, False),
        (False, False, False),
        (True, True, False),
        (True, False, True),
        (False, True, True),
        (False, False, True),
    ],
)
def test_event_study_equals_alphalens(seed, demeaned, group_adjust, by_group):
    from factorlab.evaluate.compat import alphalens_average_cumulative_return_by_quantile

    px, fac, groups = _prices_and_factor(seed)
    fd = utils.get_clean_factor_and_forward_returns(
        fac, px, groupby=groups, quantiles=4, periods=(1,), max_loss=1.0
    )
    exp = perf.average_cumulative_return_by_quantile(fd, px, 3, 4, demeaned, group_adjust, by_group)
    got = alphalens_average_cumulative_return_by_quantile(
        from_alphalens(fd),
        px,
        3,
        4,
        demeaned=demeaned,
        group_adjust=group_adjust,
        by_group=by_group,
    )
    keys = ["factor_quantile"] + (["group"] if by_group else [])
    for stat in ("mean", "std"):
        mine = got.pivot(on="offset", index=keys, values=stat).sort(keys).drop(keys)
        theirs = exp.xs(stat, level=1).sort_index().to_numpy()
        np.testing.assert_allclose(
            mine.to_numpy().astype(float), theirs, rtol=0, atol=1e-10, equal_nan=True
        )


@pytest.mark.parametrize(
    ("mean_by_date", "demeaned"), [(False, False), (True, True), (False, True)]
)
def test_common_start_returns_equal_alphalens(mean_by_date, demeaned):
    from factorlab.evaluate.compat import alphalens_common_start_returns

    px, fac, _ = _prices_and_factor(4)
    rets = px.pct_change().iloc[1:]
    factor = fac.to_frame("factor")
    exp = perf.common_start_returns(
        factor,
        rets,
        2,
        3,
        cumulative=False,
        mean_by_date=mean_by_date,
        demean_by=factor if demeaned else None,
    )
    _, flong = _long_inputs(px, fac)
    got = alphalens_common_start_returns(
        flong, rets, 2, 3, mean_by_date=mean_by_date, demean_by=flong if demeaned else None
    )
    stats = (
        got.group_by("offset")
        .agg(pl.col("value").mean().alias("m"), pl.col("value").std().alias("s"))
        .sort("offset")
    )
    np.testing.assert_allclose(stats["m"].to_numpy(), exp.mean(axis=1).sort_index(), atol=1e-10)
    np.testing.assert_allclose(stats["s"].to_numpy(), exp.std(axis=1).sort_index(), atol=1e-10)
