"""Research-mode evaluation: fills, drop rules, IC statistics, independent references (scipy)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from scipy import stats

from factorlab.evaluate import (
    DensePanel,
    clean_factor,
    coverage,
    forward_returns,
    ic_by_group,
    ic_decay,
    ic_summary,
    information_coefficient,
    mean_return_by_quantile,
    quantile_spread,
    rate_of_return,
    rolling_ic,
)


@pytest.fixture(scope="module")
def market() -> pl.DataFrame:
    rng = np.random.default_rng(3)
    n_days, n_assets = 40, 25
    days = [date(2023, 3, 1) + timedelta(d) for d in range(n_days)]
    close = 20 * np.exp(np.cumsum(rng.normal(0, 0.02, (n_days, n_assets)), axis=0))
    factor = rng.normal(size=(n_days, n_assets))
    factor[rng.random(factor.shape) < 0.05] = np.nan
    frame = pl.DataFrame(
        {
            "date": [d for d in days for _ in range(n_assets)],
            "asset": [f"S{j:02d}" for j in range(n_assets)] * n_days,
            "close": close.ravel(),
            "factor": factor.ravel(),
            "industry": [f"I{j % 4}" for j in range(n_assets)] * n_days,
        }
    )
    # a suspension (rows 10-12 of S03) and a delisting (S07 after row 30)
    gone = ((pl.col("asset") == "S03") & pl.col("date").is_between(days[10], days[12])) | (
        (pl.col("asset") == "S07") & (pl.col("date") > days[30])
    )
    return frame.filter(~gone)


def test_fill_rules(market):
    panel = DensePanel.from_frame(market, columns=["close"])
    j3 = panel.assets.to_list().index("S03")
    j7 = panel.assets.to_list().index("S07")
    close = panel.fields["close"]
    none = forward_returns(panel, [2]).grids[2]
    carry = forward_returns(panel, [2], fill="carry").grids[2]
    ffill = forward_returns(panel, [2], fill="ffill").grids[2]
    assert np.isnan(none[9, j3]) and np.isnan(none[12, j3])  # ends / starts in the gap
    assert carry[9, j3] == pytest.approx(close[9, j3] / close[9, j3] - 1)  # carried price
    assert carry[12, j3] == pytest.approx(close[14, j3] / close[9, j3] - 1)
    assert np.isnan(carry[30, j7]) and ffill[30, j7] == 0.0  # only ffill carries past delisting
    assert np.isnan(ffill[-2:]).all()


def test_next_close_entry_is_the_close_entry_one_row_later(market):
    """``entry="next_close"`` (one Entry alias for the evaluator and the backtester): the
    close-to-close return starting at t+1, for every fill rule."""
    panel = DensePanel.from_frame(market, columns=["close"])
    for fill in ("none", "carry", "ffill"):
        later = forward_returns(panel, [1, 5], entry="next_close", fill=fill)
        now = forward_returns(panel, [1, 5], fill=fill)
        for h in (1, 5):
            np.testing.assert_array_equal(later.grids[h][:-1], now.grids[h][1:])
            assert np.isnan(later.grids[h][-1]).all()


def test_per_horizon_rule_keeps_rows_and_quantiles_ignore_returns(market):
    panel = DensePanel.from_frame(market, columns=["close"])
    fwd = forward_returns(panel, [1, 5])
    research = clean_factor(panel, market, fwd, quantiles=4)
    strict = clean_factor(panel, market, fwd, quantiles=4, rule="any_horizon")
    assert research.mask.sum() > strict.mask.sum()
    assert research.drops.missing_return == 0
    assert research.drops.missing_return_by_horizon[5] > research.drops.missing_return_by_horizon[1]
    # the last rows have no 5-day return but keep their quantiles
    assert (research.quantile[-1] > 0).sum() == np.isfinite(research.values[-1]).sum()
    ic = information_coefficient(research)
    n5 = ic.filter(pl.col("horizon") == 5)["n"].to_numpy()
    assert n5[-5:].sum() == 0 and n5[:-5].min() > 0


def test_rank_ic_and_pearson_equal_scipy(market):
    panel = DensePanel.from_frame(market, columns=["close"])
    clean = clean_factor(panel, market, forward_returns(panel, [3]))
    ic = information_coefficient(clean).drop_nulls("ic")
    pearson = information_coefficient(clean, method="pearson").drop_nulls("ic")
    r = clean.forward.grids[3]
    for t in range(0, 30, 7):
        use = clean.mask[t] & np.isfinite(r[t])
        day = panel.dates[t]
        expected = stats.spearmanr(clean.values[t][use], r[t][use]).statistic
        assert ic.filter(pl.col("date") == day)["ic"].item() == pytest.approx(expected, abs=1e-12)
        expected = stats.pearsonr(clean.values[t][use], r[t][use]).statistic
        got = pearson.filter(pl.col("date") == day)["ic"].item()
        assert got == pytest.approx(expected, abs=1e-12)


def test_ic_summary_matches_scipy(market):
    panel = DensePanel.from_frame(market, columns=["close"])
    clean = clean_factor(panel, market, forward_returns(panel, [1, 5]))
    ic = information_coefficient(clean)
    summary = ic_summary(ic)
    x = ic.filter(pl.col("horizon") == 1)["ic"].drop_nulls().to_numpy()
    row = summary.filter(pl.col("horizon") == 1).row(0, named=True)
    test = stats.ttest_1samp(x, 0.0)
    assert row["mean"] == pytest.approx(x.mean())
    assert row["std"] == pytest.approx(x.std(ddof=1))
    assert row["t_stat"] == pytest.approx(test.statistic)
    assert row["p_value"] == pytest.approx(test.pvalue)
    assert row["skew"] == pytest.approx(stats.skew(x))
    assert row["kurtosis"] == pytest.approx(stats.kurtosis(x))
    assert row["positive"] == pytest.approx((x > 0).mean())
    assert row["n_dates"] == x.size


def test_rolling_ic_and_decay(market):
    panel = DensePanel.from_frame(market, columns=["close"])
    clean = clean_factor(panel, market, forward_returns(panel, [1]))
    ic = information_coefficient(clean)
    rolled = rolling_ic(ic, 5)
    x = ic["ic"].to_numpy()
    assert rolled["ic_mean"][10] == pytest.approx(np.mean(x[6:11]))
    assert rolled["ic_ir"][10] == pytest.approx(np.mean(x[6:11]) / np.std(x[6:11], ddof=1))
    decay = ic_decay(clean, [0, 1, 2])
    assert decay["lag"].to_list() == [0, 1, 2]
    assert decay["ic_mean"][0] == pytest.approx(np.nanmean(x))


def test_ic_by_group_within_groups(market):
    panel = DensePanel.from_frame(market, columns=["close"])
    clean = clean_factor(panel, market, forward_returns(panel, [1]), group_col="industry")
    by_group = ic_by_group(clean)
    assert set(by_group["group"].unique()) == {"I0", "I1", "I2", "I3"}
    t, g = 4, 2
    r = clean.forward.grids[1]
    use = clean.mask[t] & np.isfinite(r[t]) & (clean.groups[t] == g)
    expected = stats.spearmanr(clean.values[t][use], r[t][use]).statistic
    got = by_group.filter((pl.col("date") == panel.dates[t]) & (pl.col("group") == "I2"))
    assert got["ic"].item() == pytest.approx(expected, abs=1e-12)


def test_quantile_spread_and_coverage(market):
    panel = DensePanel.from_frame(market, columns=["close"])
    clean = clean_factor(panel, market, forward_returns(panel, [1]), quantiles=3)
    by_date = mean_return_by_quantile(clean, by_date=True)
    spread = quantile_spread(by_date)
    first = spread.row(0, named=True)
    legs = by_date.filter(pl.col("date") == first["date"])
    top = legs.filter(pl.col("quantile") == 3).row(0, named=True)
    bottom = legs.filter(pl.col("quantile") == 1).row(0, named=True)
    assert first["spread"] == pytest.approx(top["mean_return"] - bottom["mean_return"])
    cov = coverage(clean)
    assert cov.height == panel.shape[0]
    assert (cov["n_clean"] <= cov["n_factor"]).all()


def test_factor_columns_on_the_panel_equal_a_separate_frame(market):
    joint = DensePanel.from_frame(market, columns=["close", "factor"], labels=["industry"])
    alone = DensePanel.from_frame(market, columns=["close"])
    a = clean_factor(joint, "factor", forward_returns(joint, [1, 2]), group_col="industry")
    b = clean_factor(alone, market, forward_returns(alone, [1, 2]), group_col="industry")
    assert a.drops == b.drops
    assert a.to_frame().equals(b.to_frame())
    assert information_coefficient(a).equals(information_coefficient(b))


@pytest.mark.parametrize("varying", [False, True])
def test_dense_layout_fast_path_equals_generic_path(varying):
    rng = np.random.default_rng(5)
    n_days, n_assets = 12, 7
    days = [date(2024, 5, 1) + timedelta(d) for d in range(n_days)]
    groups = np.array(["b", "a", None, "c", "a", "b", "c"], dtype=object)
    labels = np.tile(groups, n_days)
    if varying:
        labels[rng.random(labels.size) < 0.2] = "z"
    dense = pl.DataFrame(
        {
            "date": [d for d in days for _ in range(n_assets)],
            "asset": [f"X{j}" for j in range(n_assets)] * n_days,
            "close": rng.uniform(5, 6, n_days * n_assets),
            "factor": rng.normal(size=n_days * n_assets),
            "industry": labels,
        },
        schema_overrides={"industry": pl.String},
    )
    shuffled = dense.sample(fraction=1.0, shuffle=True, seed=1)  # forces the generic path
    a = DensePanel.from_frame(dense, columns=["close", "factor"], labels=["industry"])
    b = DensePanel.from_frame(shuffled, columns=["close", "factor"], labels=["industry"])
    assert a.assets.equals(b.assets) and a.dates.equals(b.dates)
    for name in ("close", "factor", "industry"):
        np.testing.assert_array_equal(a.fields[name], b.fields[name])
    assert a.columns.labels["industry"].equals(b.columns.labels["industry"])
    assert a.columns.n_null == b.columns.n_null


def test_rate_of_return_matches_alphalens_conversion():
    frame = pl.DataFrame({"horizon": [1, 5], "mean_return": [0.01, 0.05], "std_error": [0.1, 0.5]})
    out = rate_of_return(frame)
    assert out["mean_return"].to_list() == pytest.approx([0.01, 1.05 ** (1 / 5) - 1])
    assert out["std_error"].to_list() == pytest.approx([0.1, 0.5 / np.sqrt(5)])
