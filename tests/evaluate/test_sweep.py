"""evaluate(): many factors x pools in one call equals the single-factor functions run one by
one, and alphalens' IC on the same inputs; drops are reported; bad input is a clear error."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from factorlab.errors import MissingColumnError, ParameterError
from factorlab.evaluate import (
    DensePanel,
    clean_factor,
    evaluate,
    forward_returns,
    ic_summary,
    information_coefficient,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from panels import make_panel


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    p = make_panel(120, 90, seed=3)
    return p.with_columns(
        factor2=-pl.col("factor"),
        noise=pl.col("close").hash(7).cast(pl.Float64) / 2**64,
    )


@pytest.fixture(scope="module")
def pools(frame) -> pl.DataFrame:
    sh = frame.filter(pl.col("asset").str.ends_with("XSHG")).select("date", "asset")
    return pl.concat(
        [
            sh.with_columns(pool=pl.lit("sh")),
            frame.select("date", "asset").with_columns(pool=pl.lit("all")),
        ]
    )


def test_summary_equals_single_factor_functions(frame, pools):
    res = evaluate(
        frame, ["factor", "factor2", "noise"], pools=pools, horizons=(1, 5), entry="close"
    )
    assert res.summary.height == 3 * 2 * 2
    panel = DensePanel.from_frame(frame, columns=("close",))
    fwd = forward_returns(panel, (1, 5))
    sh = pools.filter(pl.col("pool") == "sh")
    f = frame.join(sh, on=["date", "asset"], how="semi").select("date", "asset", "factor")
    clean = clean_factor(panel, f, fwd)
    expected = ic_summary(information_coefficient(clean))
    got = res.summary.filter((pl.col("factor") == "factor") & (pl.col("pool") == "sh")).sort(
        "horizon"
    )
    assert np.allclose(got["ic_mean"], expected.sort("horizon")["mean"], atol=1e-12)
    # a sign flip flips the IC; noise has none
    flip = res.summary.filter((pl.col("factor") == "factor2") & (pl.col("pool") == "sh")).sort(
        "horizon"
    )
    assert np.allclose(flip["ic_mean"], -got["ic_mean"], atol=1e-12)
    noise = res.summary.filter(pl.col("factor") == "noise")
    assert (noise["ic_t"].abs() < 4).all()
    assert got["ic_mean"][1] > 0.03 and got["ic_t"][1] > 3  # the planted 5-day IC


def test_ic_equals_alphalens(frame):
    al = pytest.importorskip("alphalens")
    pd = pytest.importorskip("pandas")
    import contextlib
    import io

    res = evaluate(frame, ["factor"], horizons=(1, 5), mode="qcut", entry="close")
    factor = frame.select("date", "asset", "factor").drop_nulls().to_pandas()
    factor["date"] = pd.to_datetime(factor["date"])
    factor = factor.set_index(["date", "asset"])["factor"]
    prices = frame.select("date", "asset", "close").to_pandas()
    prices["date"] = pd.to_datetime(prices["date"])
    prices = prices.pivot(index="date", columns="asset", values="close")
    with contextlib.redirect_stdout(io.StringIO()):
        fd = al.utils.get_clean_factor_and_forward_returns(
            factor, prices, periods=(1, 5), quantiles=5, filter_zscore=None, max_loss=1.0
        )
    ic = al.performance.factor_information_coefficient(fd)
    ours = res.ic.filter(pl.col("horizon") == 5).drop_nulls("ic").sort("date")["ic"].to_numpy()
    theirs = ic["5D"].dropna().to_numpy()
    assert len(ours) == len(theirs)
    assert np.allclose(ours, theirs, atol=1e-10)


def test_drops_are_reported(frame):
    res = evaluate(frame, ["factor"], horizons=(1,), entry="close")
    d = {r["reason"]: r["rows"] for r in res.drops.iter_rows(named=True)}
    assert d["factor_null"] == frame["factor"].null_count() + frame["factor"].is_nan().sum()
    assert (
        d["clean"]
        + d["factor_null"]
        + d["not_in_prices"]
        + d["missing_return"]
        + d["group_null"]
        + d["binning"]
        == frame.height
    )


def test_bad_input(frame):
    with pytest.raises(MissingColumnError, match="momentum"):
        evaluate(frame, ["momentum"], entry="close")
    with pytest.raises(ParameterError, match="horizons"):
        evaluate(frame, ["factor"], horizons=(0,), entry="close")
    with pytest.raises(ParameterError, match="quantiles"):
        evaluate(frame, ["factor"], quantiles=1, entry="close")
    with pytest.raises(ParameterError, match="empty"):
        evaluate(frame, [], entry="close")


def test_pool_smaller_than_quantiles_is_a_clear_error(frame):
    tiny = frame.filter(pl.col("asset").is_in(frame["asset"].unique().sort().head(3).implode()))
    pools = tiny.select("date", "asset").with_columns(pool=pl.lit("tiny"))
    with pytest.raises(ParameterError, match=r"pool `tiny` has fewer names .* than `quantiles`"):
        evaluate(frame, ["factor"], pools=pools, quantiles=5, entry="close")


def test_mismatched_date_types_are_a_clear_error(frame):
    from factorlab.errors import DtypeError

    with pytest.raises(DtypeError, match="date"):
        evaluate(
            frame.with_columns(pl.col("date").cast(pl.String)),
            ["factor"],
            prices=frame,
            entry="close",
        )


def test_default_entry_is_next_open_and_needs_the_open_price(frame):
    with pytest.raises(MissingColumnError, match="open"):
        evaluate(frame, ["factor"])
    with_open = frame.with_columns(open=pl.col("close"))
    res = evaluate(with_open, ["factor"], horizons=(1,))
    assert res.summary.height == 1


def test_pool_rows_found_once_and_again_when_a_batch_comes_in_another_order(
    frame, pools, monkeypatch
):
    """The pools' rows and their grid placement are found on the first batch and reused;
    a batch whose rows come in another order has them found again: the same frames."""
    from polars.testing import assert_frame_equal

    from factorlab.evaluate import sweep

    names = ["factor", "factor2", "noise"]
    kw = {"pools": pools, "horizons": (1, 5), "entry": "close", "workers": 1, "progress": None}
    one_batch = evaluate(frame, names, batch_size=3, **kw)
    per_factor = evaluate(frame, names, batch_size=1, **kw)
    batch = sweep._factor_batch
    calls = []

    def reversed_after_the_first(lf, *args):
        calls.append(1)
        out = batch(lf, *args)
        return out if len(calls) == 1 else out.reverse()

    monkeypatch.setattr(sweep, "_factor_batch", reversed_after_the_first)
    shuffled = evaluate(frame, names, batch_size=1, **kw)
    assert len(calls) == 3

    # orders K0, K1, K0: the third batch is back in the first order, and must not be scored
    # on the second batch's layouts (the review's case: the same row count, other cells)
    def reversed_second_only(lf, *args):
        calls.append(1)
        out = batch(lf, *args)
        return out.reverse() if len(calls) == 2 else out

    calls.clear()
    monkeypatch.setattr(sweep, "_factor_batch", reversed_second_only)
    back_and_forth = evaluate(frame, names, batch_size=1, **kw)
    assert len(calls) == 3
    for got in (per_factor, shuffled, back_and_forth):
        for table in ("summary", "ic", "quantile_returns", "drops"):
            assert_frame_equal(getattr(got, table), getattr(one_batch, table), check_exact=True)


@pytest.mark.parametrize("n_assets", [3, 6, 40])
def test_names_per_date_counted_on_the_placement_as_by_date(frame, n_assets):
    """The per-date name check on the rows' grid placement raises what the ``group_by`` on the
    frame's dates raises (same dates, counts and message), and nothing where it passes."""
    from factorlab.evaluate.sweep import _check_names_per_date

    panel = DensePanel.from_frame(frame, columns=["close"])
    assets = frame["asset"].unique().sort().head(n_assets).implode()
    f = frame.filter(pl.col("asset").is_in(assets)).select("date", "asset", "factor")
    # a few more missing values, so the count differs between dates
    f = f.with_columns(
        pl.when(pl.int_range(pl.len()) % 7 == 0).then(None).otherwise("factor").alias("factor")
    )
    placement = panel.place_rows(f)
    assert not placement.dense and placement.on_grid.all()
    messages = []
    for kw in ({}, {"panel": panel, "placement": placement}):
        try:
            _check_names_per_date(f, 5, "factor", "p", "date", **kw)
            messages.append(None)
        except ParameterError as exc:
            messages.append(str(exc))
    assert messages[0] == messages[1]
    assert (messages[0] is None) == (n_assets == 40)


def test_rank_ic_walks_a_cached_return_order_to_the_same_bits(frame):
    """evaluate sorts each horizon's returns once; the rank IC that walks that order equals,
    bit for bit, the one that sorts each row's used returns (ties, missing returns, min_obs)."""
    from polars.testing import assert_frame_equal

    ties = frame.select(
        "date",
        "asset",
        pl.when(pl.int_range(pl.len()) % 11 == 0)
        .then(None)
        .otherwise((pl.col("factor") * 3).round(0))
        .alias("factor"),
    )
    panel = DensePanel.from_frame(
        frame.with_columns(
            pl.when(pl.int_range(pl.len()) % 13 == 0).then(None).otherwise("close").alias("close")
        ),
        columns=("close",),
    )
    plain, cached = forward_returns(panel, (1, 5)), forward_returns(panel, (1, 5))
    for h in (1, 5):
        cached.order(h)
        assert plain.cached_order(h) is None and cached.cached_order(h) is not None
    for min_obs in (2, 60):
        a = information_coefficient(clean_factor(panel, ties, plain), min_obs=min_obs)
        b = information_coefficient(clean_factor(panel, ties, cached), min_obs=min_obs)
        assert a["ic"].null_count() < a.height
        assert_frame_equal(a, b, check_exact=True)
