"""The event study (event_returns) against an independent per-event loop on a tiny panel."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from factorlab.errors import ParameterError
from factorlab.evaluate import (
    DensePanel,
    average_cumulative_return_by_quantile,
    clean_factor,
    event_returns,
    forward_returns,
)


def _panel(seed: int = 5, n_days: int = 30, n_assets: int = 9):
    rng = np.random.default_rng(seed)
    days = [dt.date(2024, 1, 1) + dt.timedelta(d) for d in range(n_days)]
    close = 10 * np.exp(np.cumsum(rng.normal(0, 0.03, (n_days, n_assets)), axis=0))
    close[4, 2] = np.nan  # a missing price
    factor = rng.normal(size=(n_days, n_assets))
    factor[7, 5] = np.nan
    rows = [
        (
            d,
            f"A{j}",
            None if np.isnan(close[t, j]) else float(close[t, j]),
            None if np.isnan(factor[t, j]) else float(factor[t, j]),
        )
        for t, d in enumerate(days)
        for j in range(n_assets)
    ]
    df = pl.DataFrame(rows, schema=["date", "asset", "close", "factor"], orient="row")
    panel = DensePanel.from_frame(df.drop("factor"), columns=["close"])
    clean = clean_factor(panel, df, forward_returns(panel, [1]), quantiles=3)
    return clean, close


def _loop(clean, values, before, after, demeaned, relative):
    """Independent definition: for every (date, quantile, offset) a plain nanmean, then the mean
    and ddof=1 std over dates of the non-NaN values."""
    n_dates = values.shape[0]
    out = {}
    for q in range(1, clean.n_quantiles + 1):
        for k in range(-before, after + 1):
            per_date = []
            for t in range(n_dates):
                members = clean.mask[t] & (clean.quantile[t] == q)
                if not members.any() or not 0 <= t + k < n_dates:
                    continue
                x = values[t + k] / values[t] - 1 if relative else values[t + k]
                universe = clean.mask[t] & np.isfinite(x)
                mine = members & np.isfinite(x)
                if not mine.any():
                    continue
                v = x[mine].mean() - (x[universe].mean() if demeaned else 0.0)
                per_date.append(v)
            if per_date:
                a = np.array(per_date)
                out[(q, k)] = (a.mean(), a.std(ddof=1) if a.size > 1 else np.nan, a.size)
    return out


@pytest.mark.parametrize("demeaned", [True, False])
@pytest.mark.parametrize("mode", ["cumulative", "alphalens"])
def test_event_returns_equal_an_independent_loop(mode, demeaned):
    clean, close = _panel()
    ours = event_returns(clean, before=3, after=4, demeaned=demeaned, mode=mode)
    expected = _loop(clean, close, 3, 4, demeaned, relative=mode == "cumulative")
    assert ours.height == len(expected)
    for q, k, mean, std, n in ours.select("quantile", "offset", "mean", "std", "n_dates").rows():
        e_mean, e_std, e_n = expected[(q, k)]
        assert n == e_n
        assert mean == pytest.approx(e_mean, abs=1e-12)
        assert (std is None and np.isnan(e_std)) or std == pytest.approx(e_std, abs=1e-12)


def test_cumulative_mode_is_zero_on_the_signal_day_and_a_forward_return_after():
    clean, close = _panel()
    ev = event_returns(clean, before=2, after=1, demeaned=False)
    assert ev.filter(pl.col("offset") == 0)["mean"].abs().max() == 0.0
    # offset 1 of the top quantile: mean over dates of the members' 1-day close-to-close return
    fwd = close[1:] / close[:-1] - 1
    per_date = []
    for t in range(close.shape[0] - 1):
        m = clean.mask[t] & (clean.quantile[t] == 3) & np.isfinite(fwd[t])
        if m.any():
            per_date.append(fwd[t][m].mean())
    got = ev.filter((pl.col("quantile") == 3) & (pl.col("offset") == 1))["mean"].item()
    assert got == pytest.approx(np.mean(per_date), abs=1e-12)


def test_alphalens_wrapper_is_the_alphalens_mode_and_by_date_matches_the_summary():
    clean, close = _panel()
    a = average_cumulative_return_by_quantile(clean, close, periods_before=2, periods_after=3)
    b = event_returns(clean, before=2, after=3, mode="alphalens", prices=close)
    assert a.equals(b)
    per = event_returns(clean, before=2, after=3, by_date=True)
    back = per.group_by("quantile", "offset").agg(pl.col("value").mean()).sort("quantile", "offset")
    summary = event_returns(clean, before=2, after=3)
    assert np.allclose(back["value"].to_numpy(), summary["mean"].to_numpy(), atol=1e-14)


def test_bad_window_mode_and_grid_raise():
    clean, _ = _panel()
    with pytest.raises(ParameterError, match="before"):
        event_returns(clean, before=-1)
    with pytest.raises(ParameterError, match="mode"):
        event_returns(clean, mode="sum")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="shape"):
        event_returns(clean, prices=np.ones((2, 2)))
