"""Bad input raises a FactorLabError that names the parameter or column and what was received."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from factorlab.errors import (
    DtypeError,
    DuplicateKeyError,
    FactorLabError,
    MissingColumnError,
    ParameterError,
    SchemaError,
)
from factorlab.evaluate import (
    DensePanel,
    MaxLossExceededError,
    clean_factor,
    forward_returns,
    ic_by_group,
    information_coefficient,
    quantile_turnover,
)


@pytest.fixture()
def frame() -> pl.DataFrame:
    rng = np.random.default_rng(0)
    days = [date(2024, 1, 1) + timedelta(d) for d in range(8)]
    n = 6
    return pl.DataFrame(
        {
            "date": [d for d in days for _ in range(n)],
            "asset": [f"A{j}" for j in range(n)] * len(days),
            "close": rng.uniform(5, 10, size=n * len(days)),
            "factor": rng.normal(size=n * len(days)),
            "label": ["x"] * (n * len(days)),
        }
    )


@pytest.fixture()
def panel(frame) -> DensePanel:
    return DensePanel.from_frame(frame, columns=["close"])


def test_errors_are_factorlab_errors():
    assert issubclass(MaxLossExceededError, FactorLabError)


def test_unknown_price_column(frame):
    with pytest.raises(MissingColumnError, match="`price`"):
        DensePanel.from_frame(frame, columns=["price"])


def test_unknown_key_column(frame):
    with pytest.raises(MissingColumnError, match="`ticker`"):
        DensePanel.from_frame(frame, asset_col="ticker")


def test_unknown_factor_column(frame, panel):
    with pytest.raises(MissingColumnError, match="table `factor` has no column `alpha`"):
        clean_factor(panel, frame, forward_returns(panel, [1]), factor_col="alpha")


@pytest.mark.parametrize("horizons", [[0], [1, -5], [], [1.5]])
def test_bad_horizons(panel, horizons):
    with pytest.raises(ParameterError, match="`horizons`"):
        forward_returns(panel, horizons)


@pytest.mark.parametrize("q", [1, 0, 101, 2.5])
def test_bad_quantiles(frame, panel, q):
    with pytest.raises(ParameterError, match="`quantiles` must be"):
        clean_factor(panel, frame, forward_returns(panel, [1]), quantiles=q)


def test_all_null_factor(frame, panel):
    nulls = frame.with_columns(pl.lit(None, pl.Float64).alias("factor"))
    with pytest.raises(SchemaError, match="`factor` of table `factor` has no finite value"):
        clean_factor(panel, nulls, forward_returns(panel, [1]))


def test_factor_of_wrong_dtype(frame, panel):
    with pytest.raises(DtypeError, match="column `label` of table `factor` must be numeric"):
        clean_factor(panel, frame, forward_returns(panel, [1]), factor_col="label")


def test_date_of_wrong_dtype(frame):
    with pytest.raises(DtypeError, match="must be of dtype Date"):
        DensePanel.from_frame(frame.with_columns(pl.col("date").cast(pl.String)))


def test_duplicate_keys(frame):
    with pytest.raises(DuplicateKeyError, match="duplicate"):
        DensePanel.from_frame(pl.concat([frame, frame.head(3)]))


def test_unknown_options(frame, panel):
    fwd = forward_returns(panel, [1])
    with pytest.raises(ParameterError, match="`mode`"):
        clean_factor(panel, frame, fwd, mode="deciles")
    with pytest.raises(ParameterError, match="`entry`"):
        forward_returns(panel, [1], entry="open")
    with pytest.raises(MissingColumnError, match="`open`"):
        forward_returns(panel, [1], entry="next_open")
    clean = clean_factor(panel, frame, fwd)
    with pytest.raises(ParameterError, match="`method`"):
        information_coefficient(clean, method="kendall")
    with pytest.raises(ParameterError, match="`lags`"):
        quantile_turnover(clean, lags=[0])
    with pytest.raises(ParameterError, match="group_col"):
        ic_by_group(clean)


def test_max_loss_zero_raises_on_colliding_edges(frame, panel):
    ties = frame.with_columns(pl.lit(1.0).alias("factor"))
    with pytest.raises(MaxLossExceededError, match="not unique"):
        clean_factor(panel, ties, forward_returns(panel, [1]), mode="qcut", max_loss=0)


def test_next_open_entry(frame):
    opened = frame.with_columns((pl.col("close") * 0.99).alias("open"))
    panel = DensePanel.from_frame(opened, columns=["close", "open"])
    fwd = forward_returns(panel, [2], entry="next_open")
    o = panel.fields["open"]
    np.testing.assert_allclose(fwd.grids[2][:-3], o[3:] / o[1:-2] - 1)
    assert np.isnan(fwd.grids[2][-3:]).all()
