"""Oracle tests: factorlab's alphalens-compatible numbers equal alphalens-reloaded's within 1e-10.

Runs alphalens-reloaded (``filter_zscore=None``) and factorlab on the same small panels (ties,
colliding quantile edges, null factors, suspensions, assets entering and leaving, holidays,
missing groups) and compares every table, every quantile and every horizon. Skipped when
alphalens is not installed (CI installs the ``compare`` extra).
"""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import polars as pl
import pytest

alphalens = pytest.importorskip("alphalens")
pd = pytest.importorskip("pandas")
from alphalens import performance as perf  # noqa: E402
from alphalens import utils as autils  # noqa: E402

from factorlab._kernels import qcut_rows  # noqa: E402
from factorlab._kernels.rank import row_order  # noqa: E402
from factorlab.evaluate import (  # noqa: E402
    MaxLossExceededError,
    alphalens_tearsheet_numbers,
    clean_to_alphalens,
    from_alphalens,
    ic_by_group,
    mean_return_by_quantile,
    qcut_probabilities,
    to_alphalens,
)

ATOL = 1e-10


def _quiet(fn, *args, **kwargs):
    """Call alphalens without its prints and runtime warnings (constant inputs -> NaN)."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


@pytest.fixture(scope="module")
def runs(oracle_panel):
    p = oracle_panel
    factor, prices, groups = to_alphalens(p.factor, p.prices, group_col="industry")
    theirs = {
        "forward": _quiet(
            autils.compute_forward_returns, factor, prices, periods=p.periods, filter_zscore=None
        ),
        "clean": _quiet(
            autils.get_clean_factor_and_forward_returns,
            factor,
            prices,
            groupby=groups,
            quantiles=p.quantiles,
            periods=p.periods,
            filter_zscore=None,
            max_loss=1.0,
        ),
        "n_factor_rows": len(factor),
    }
    ours = alphalens_tearsheet_numbers(
        p.factor,
        p.prices,
        group_col="industry",
        periods=p.periods,
        quantiles=p.quantiles,
        max_loss=1.0,
    )
    return p, theirs, ours


def _labels(columns, periods) -> dict[str, int]:
    cols = list(autils.get_forward_returns_columns(columns))
    assert len(cols) == len(periods)
    return dict(zip(cols, sorted(periods), strict=True))


def _long(frame, periods, value: str) -> pl.DataFrame:
    """alphalens' wide-by-period result (index: date [, more]) -> long with `horizon`."""
    labels = _labels(frame.columns, periods)
    flat = frame[list(labels)].rename(columns=labels).reset_index()
    keys = [c for c in flat.columns if c not in labels.values()]
    melted = flat.melt(id_vars=keys, var_name="horizon", value_name=value)
    return _to_polars(melted)


def _to_polars(frame) -> pl.DataFrame:
    out = {}
    for col in frame.columns:
        s = frame[col]
        if col == "date":
            out[col] = pl.Series(pd.DatetimeIndex(s).to_numpy()).cast(pl.Date)
        elif col in ("horizon", "lag", "quantile", "factor_quantile"):
            out[col] = pl.Series(s.to_numpy().astype(np.int64))
        elif col in ("asset", "group"):
            out[col] = pl.Series([str(v) for v in s])
        else:
            out[col] = pl.Series(s.to_numpy(dtype=np.float64)).fill_nan(None)
    return pl.DataFrame(out)


def assert_close(ours: pl.DataFrame, theirs: pl.DataFrame, keys: list[str], values: list[str]):
    """Same key rows, same null pattern, values within ATOL."""
    ours = ours.with_columns(pl.col(k).cast(theirs.schema[k]) for k in keys)
    joined = theirs.join(ours, on=keys, how="full", suffix="_ours", coalesce=True, nulls_equal=True)
    assert joined.height == theirs.height == ours.height, (
        f"row sets differ: alphalens {theirs.height}, factorlab {ours.height}, "
        f"union {joined.height}"
    )
    for v in values:
        a = joined[v].to_numpy().astype(np.float64)
        b = joined[f"{v}_ours"].to_numpy().astype(np.float64)
        assert np.array_equal(np.isnan(a), np.isnan(b)), f"{v}: null patterns differ"
        ok = ~np.isnan(a)
        if ok.any():
            diff = float(np.max(np.abs(a[ok] - b[ok])))
            assert diff <= ATOL, f"{v}: max abs diff {diff:.3g}"


def test_forward_returns(runs):
    p, theirs, ours = runs
    fwd = theirs["forward"]
    expected = _long(fwd, p.periods, "forward_return")
    got = ours.clean.forward.to_frame()
    joined = expected.join(
        got.with_columns(pl.col("horizon").cast(pl.Int64)),
        on=["date", "asset", "horizon"],
        how="left",
        suffix="_ours",
    )
    a = joined["forward_return"].to_numpy().astype(float)
    b = joined["forward_return_ours"].to_numpy().astype(float)
    assert np.array_equal(np.isnan(a), np.isnan(b))
    assert np.nanmax(np.abs(a - b)) <= ATOL
    assert np.isfinite(a).sum() > 0.8 * a.size


def test_clean_factor_rows_quantiles_and_drops(runs):
    p, theirs, ours = runs
    expected = from_alphalens(theirs["clean"])
    got = ours.clean.to_frame()
    assert got.columns == expected.columns
    values = ["factor"] + [f"forward_return_{h}" for h in sorted(p.periods)]
    assert_close(got, expected, ["date", "asset", "factor_quantile", "group"], values)
    assert ours.drops.n_clean == len(theirs["clean"])
    assert ours.drops.n_input == theirs["n_factor_rows"]
    assert ours.drops.binning_dates >= 1  # the colliding dates were dropped, as alphalens does
    assert ours.drops.factor_null > 0 and ours.drops.not_in_prices > 0
    assert ours.drops.group_null > 0 and ours.drops.missing_return > 0


def test_quantiles_equal_pd_qcut_per_date(runs):
    """Independent check of the qcut kernel on the pre-binning rows of every date."""
    p, _, ours = runs
    clean = ours.clean
    base = np.isfinite(clean.values) & clean.forward.all_finite() & np.isfinite(clean.groups)
    order = row_order(clean.values, base)
    quantile, dropped, _ = qcut_rows(clean.values, order, base, qcut_probabilities(p.quantiles))
    for t in range(base.shape[0]):
        x = clean.values[t][base[t]]
        if x.size == 0:
            continue
        try:
            ref = pd.qcut(x, p.quantiles, labels=False) + 1
        except ValueError:
            assert dropped[t]
            continue
        assert not dropped[t]
        np.testing.assert_array_equal(quantile[t][base[t]], ref)


def test_information_coefficient(runs):
    p, theirs, ours = runs
    expected = _long(_quiet(perf.factor_information_coefficient, theirs["clean"]), p.periods, "ic")
    assert_close(ours.ic.drop("n"), expected, ["date", "horizon"], ["ic"])


def test_ic_by_group(runs):
    p, theirs, ours = runs
    ic = _quiet(perf.factor_information_coefficient, theirs["clean"], by_group=True)
    expected = _long(ic, p.periods, "ic")
    got = ic_by_group(ours.clean).drop("n")
    assert_close(got, expected, ["date", "group", "horizon"], ["ic"])


@pytest.mark.parametrize("demeaned", [True, False])
@pytest.mark.parametrize("by_date", [True, False])
def test_mean_return_by_quantile(runs, by_date, demeaned):
    p, theirs, ours = runs
    mean, se = _quiet(
        perf.mean_return_by_quantile, theirs["clean"], by_date=by_date, demeaned=demeaned
    )
    expected = (
        _long(mean, p.periods, "mean_return")
        .join(
            _long(se, p.periods, "std_error"),
            on=["factor_quantile", "date", "horizon"]
            if by_date
            else ["factor_quantile", "horizon"],
        )
        .rename({"factor_quantile": "quantile"})
    )
    got = mean_return_by_quantile(ours.clean, by_date=by_date, demeaned=demeaned)
    keys = ["quantile", "date", "horizon"] if by_date else ["quantile", "horizon"]
    assert_close(
        got.select(*keys, "mean_return", "std_error"), expected, keys, ["mean_return", "std_error"]
    )
    if demeaned and by_date:
        assert_close(
            ours.mean_return_by_date.select(*keys, "mean_return", "std_error"),
            expected,
            keys,
            ["mean_return", "std_error"],
        )


def test_factor_returns_and_alpha_beta(runs):
    p, theirs, ours = runs
    fr = _quiet(perf.factor_returns, theirs["clean"])
    assert_close(
        ours.factor_returns,
        _long(fr, p.periods, "factor_return"),
        ["date", "horizon"],
        ["factor_return"],
    )
    ab = _quiet(perf.factor_alpha_beta, theirs["clean"], returns=fr)
    labels = _labels(ab.columns, p.periods)
    expected = pl.DataFrame(
        {
            "horizon": [labels[c] for c in labels],
            "ann_alpha": [float(ab.loc["Ann. alpha", c]) for c in labels],
            "beta": [float(ab.loc["beta", c]) for c in labels],
        }
    )
    assert_close(
        ours.alpha_beta.select("horizon", "ann_alpha", "beta"),
        expected,
        ["horizon"],
        ["ann_alpha", "beta"],
    )


def test_quantile_turnover_every_quantile_and_period(runs):
    p, theirs, ours = runs
    quantile = theirs["clean"]["factor_quantile"]
    parts = []
    for lag in p.periods:
        for q in range(1, p.quantiles + 1):
            s = _quiet(perf.quantile_turnover, quantile, q, lag)
            frame = s.rename("turnover").reset_index()
            frame["lag"], frame["quantile"] = lag, q
            parts.append(_to_polars(frame))
    expected = pl.concat(parts)
    assert expected.height > 0
    assert_close(ours.turnover, expected, ["date", "lag", "quantile"], ["turnover"])


def test_factor_rank_autocorrelation_every_period(runs):
    p, theirs, ours = runs
    parts = []
    for lag in p.periods:
        s = _quiet(perf.factor_rank_autocorrelation, theirs["clean"], lag)
        frame = s.rename("autocorrelation").reset_index()
        frame["lag"] = lag
        parts.append(_to_polars(frame))
    assert_close(ours.rank_autocorrelation, pl.concat(parts), ["date", "lag"], ["autocorrelation"])


def test_clean_to_alphalens_roundtrip_feeds_alphalens(runs):
    _, theirs, ours = runs
    ours_pd = clean_to_alphalens(ours.clean, grid=ours.grid)
    ic_ours = _quiet(perf.factor_information_coefficient, ours_pd)
    ic_theirs = _quiet(perf.factor_information_coefficient, theirs["clean"])
    a, b = ic_ours.to_numpy(), ic_theirs.to_numpy()
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, atol=ATOL, rtol=0)


def test_max_loss_rule(oracle_panel):
    p = oracle_panel
    factor, prices, groups = to_alphalens(p.factor, p.prices, group_col="industry")
    with pytest.raises(autils.MaxLossExceededError):
        _quiet(
            autils.get_clean_factor_and_forward_returns,
            factor,
            prices,
            groupby=groups,
            quantiles=p.quantiles,
            periods=p.periods,
            filter_zscore=None,
            max_loss=0.01,
        )
    with pytest.raises(MaxLossExceededError, match="max_loss"):
        alphalens_tearsheet_numbers(
            p.factor,
            p.prices,
            group_col="industry",
            periods=p.periods,
            quantiles=p.quantiles,
            max_loss=0.01,
        )


# -- a factor date without a price row: alphalens' calendar is the union of both ----------------


@pytest.fixture(scope="module")
def gap_runs(oracle_panel):
    """The panel with the prices of one factor date removed (a price holiday the factor does not
    know) and the factor rows of a Friday copied to the Saturday after it (a non-session)."""
    p = oracle_panel
    dates = p.factor["date"].unique().sort()
    gap = dates[len(dates) // 2]
    prices = p.prices.filter(pl.col("date") != gap)
    friday = [d for d in dates.to_list() if d.weekday() == 4][3]
    saturday = p.factor.filter(pl.col("date") == friday).with_columns(
        pl.col("date") + pl.duration(days=1)
    )
    factor_frame = pl.concat([p.factor, saturday])
    factor, al_prices, _ = to_alphalens(factor_frame, prices)
    clean = _quiet(
        autils.get_clean_factor_and_forward_returns,
        factor,
        al_prices,
        quantiles=p.quantiles,
        periods=p.periods,
        filter_zscore=None,
        max_loss=1.0,
    )
    ours = alphalens_tearsheet_numbers(
        factor_frame, prices, periods=p.periods, quantiles=p.quantiles, max_loss=1.0
    )
    return p, clean, ours, (gap, friday)


def test_date_without_prices_turnover_and_autocorrelation_as_alphalens(gap_runs):
    p, clean, ours, (gap, _) = gap_runs
    parts = []
    for lag in p.periods:
        for q in range(1, p.quantiles + 1):
            s = _quiet(perf.quantile_turnover, clean["factor_quantile"], q, lag)
            frame = s.rename("turnover").reset_index()
            frame["lag"], frame["quantile"] = lag, q
            parts.append(_to_polars(frame))
    assert_close(ours.turnover, pl.concat(parts), ["date", "lag", "quantile"], ["turnover"])
    parts = []
    for lag in p.periods:
        s = _quiet(perf.factor_rank_autocorrelation, clean, lag)
        frame = s.rename("autocorrelation").reset_index()
        frame["lag"] = lag
        parts.append(_to_polars(frame))
    expected = pl.concat(parts)
    assert_close(ours.rank_autocorrelation, expected, ["date", "lag"], ["autocorrelation"])
    if ours.grid == "calendar":  # the gap date is a row: the session after it has no lag-1 value
        after = ours.clean.panel.dates.filter(ours.clean.panel.dates > gap)[0]
        row = ours.rank_autocorrelation.filter((pl.col("date") == after) & (pl.col("lag") == 1))
        assert row["autocorrelation"].null_count() == 1


def test_date_without_prices_clean_rows_and_ic_as_alphalens(gap_runs):
    p, clean, ours, _ = gap_runs
    expected = from_alphalens(clean)
    got = ours.clean.to_frame()
    values = ["factor"] + [f"forward_return_{h}" for h in sorted(p.periods)]
    assert_close(got, expected, ["date", "asset", "factor_quantile"], values)
    ic = _long(_quiet(perf.factor_information_coefficient, clean), p.periods, "ic")
    assert_close(ours.ic.drop("n"), ic, ["date", "horizon"], ["ic"])
    fr = _long(_quiet(perf.factor_returns, clean), p.periods, "factor_return")
    assert_close(ours.factor_returns, fr, ["date", "horizon"], ["factor_return"])
    roundtrip = _quiet(
        perf.factor_information_coefficient, clean_to_alphalens(ours.clean, grid=ours.grid)
    )
    theirs = _quiet(perf.factor_information_coefficient, clean)
    np.testing.assert_allclose(roundtrip.to_numpy(), theirs.to_numpy(), atol=ATOL, rtol=0)
