"""alphalens-reloaded's own unit-test cases (tests/test_performance.py, tests/test_utils.py),
run on factorlab's alphalens-compatible functions with alphalens' inputs and expected values.

Each case below is one parameterized case of alphalens' suite, its inputs and expectations
transcribed; the comparison is at 1e-10. ``CASES_RUN`` counts them (issue 10's measure).
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from factorlab.evaluate.compat import (
    alphalens_cumulative_returns,
    alphalens_factor_alpha_beta,
    alphalens_factor_returns,
    alphalens_factor_weights,
    alphalens_information_coefficient,
    alphalens_mean_information_coefficient,
    alphalens_quantize,
)

nan = np.nan
ATOL = 1e-10


def _long(days, tickers, rows, groups=None, **cols):
    """alphalens' ``DataFrame(index=days, columns=tickers, data=rows).stack()`` as a long frame
    (NaN cells dropped, as stack() does), with a group per asset and extra row columns."""
    out = {"date": [], "asset": [], "factor": []}
    for d, row in zip(days, rows, strict=True):
        for t, v in zip(tickers, row, strict=True):
            if not np.isnan(v):
                out["date"].append(d)
                out["asset"].append(t)
                out["factor"].append(float(v))
    frame = pl.DataFrame(out)
    if groups is not None:
        frame = frame.with_columns(pl.col("asset").replace_strict(groups).alias("group"))
    return frame.with_columns(pl.Series(k, v, dtype=pl.Float64) for k, v in cols.items())


def _days(start: date, n: int) -> list[date]:
    return [start + timedelta(d) for d in range(n)]


def _close(got, exp):
    got, exp = np.asarray(got, float), np.asarray(exp, float)
    assert got.shape == exp.shape, (got, exp)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(exp))
    np.testing.assert_allclose(got[~np.isnan(exp)], exp[~np.isnan(exp)], rtol=0, atol=ATOL)


# the performance suite's shared factor: 2 days x 4 assets, groups 1, 1, 2, 2
DR = _days(date(2015, 1, 1), 2)
PERF_GROUPS = {"A": 1, "B": 1, "C": 2, "D": 2}


def _perf_frame(factor=(1, 2, 3, 4, 4, 3, 2, 1), fwd=None):
    f = np.asarray(factor, float).reshape(2, 4)
    frame = _long(DR, list("ABCD"), f, PERF_GROUPS)
    return frame.with_columns(pl.Series("forward_return_1", fwd, dtype=pl.Float64))


# --- test_information_coefficient (4 cases) ----------------------------------------------------
@pytest.mark.parametrize(
    ("fwd", "group_adjust", "by_group", "expected"),
    [
        ([4, 3, 2, 1, 1, 2, 3, 4], False, False, [-1.0, -1.0]),
        ([1, 2, 3, 4, 4, 3, 2, 1], False, False, [1.0, 1.0]),
        ([1, 2, 3, 4, 4, 3, 2, 1], False, True, [1.0, 1.0, 1.0, 1.0]),
        ([1, 2, 3, 4, 4, 3, 2, 1], True, True, [1.0, 1.0, 1.0, 1.0]),
    ],
)
def test_information_coefficient(fwd, group_adjust, by_group, expected):
    ic = alphalens_information_coefficient(
        _perf_frame(fwd=fwd), group_adjust=group_adjust, by_group=by_group
    )
    _close(ic["forward_return_1"], expected)
    if by_group:
        assert ic["group"].to_list() == [1, 2, 1, 2]


# --- test_mean_information_coefficient (4 cases) -----------------------------------------------
@pytest.mark.parametrize(
    ("fwd", "by_group", "by_time", "labels", "expected"),
    [
        ([4, 3, 2, 1, 1, 2, 3, 4], False, "D", DR, [-1.0, -1.0]),
        ([1, 2, 3, 4, 4, 3, 2, 1], False, "W", [date(2015, 1, 4)], [1.0]),
        ([1, 2, 3, 4, 4, 3, 2, 1], True, None, None, [1.0, 1.0]),
        ([1, 2, 3, 4, 4, 3, 2, 1], True, "W", [date(2015, 1, 4)] * 2, [1.0, 1.0]),
    ],
)
def test_mean_information_coefficient(fwd, by_group, by_time, labels, expected):
    ic = alphalens_mean_information_coefficient(
        _perf_frame(fwd=fwd), by_group=by_group, by_time=by_time
    )
    _close(ic["forward_return_1"], expected)
    if labels is not None:
        assert ic["date"].to_list() == labels
    if by_group:
        assert ic["group"].to_list() == [1, 2]


# --- test_factor_weights (8 cases) -------------------------------------------------------------
FW_GROUPS = {"A": "Group1", "B": "Group2", "C": "Group1", "D": "Group2", "E": "Group1"}
FACTOR_WEIGHT_CASES = [
    (
        [[3, 4, 2, 1, nan], [3, 4, -2, -1, nan], [3, nan, nan, 1, 4]],
        False,
        False,
        False,
        [0.30, 0.40, 0.20, 0.10, 0.30, 0.40, -0.20, -0.10, 0.375, 0.125, 0.50],
    ),
    (
        [[3, 4, 2, 1, nan], [3, 4, -2, -1, nan], [3, nan, nan, 1, 4]],
        True,
        False,
        False,
        [0.125, 0.375, -0.125, -0.375, 0.20, 0.30, -0.30, -0.20, 0.10, -0.50, 0.40],
    ),
    (
        [[3, 4, 2, 1, nan], [-3, 4, -2, 1, nan], [2, 2, 2, 3, 1]],
        False,
        True,
        False,
        [0.30, 0.40, 0.20, 0.10, -0.30, 0.40, -0.20, 0.10, 0.20, 0.20, 0.20, 0.30, 0.10],
    ),
    (
        [[3, 4, 2, 1, nan], [3, 4, -2, -1, nan], [3, nan, nan, 1, 4]],
        True,
        True,
        False,
        [0.25, 0.25, -0.25, -0.25, 0.25, 0.25, -0.25, -0.25, -0.50, 0.0, 0.50],
    ),
    (
        [[3, 4, 2, 1, 5], [3, 4, -2, -1, 5], [3, nan, nan, 1, nan]],
        False,
        False,
        True,
        [0.20, 0.20, 0.20, 0.20, 0.20, 0.20, 0.20, -0.20, -0.20, 0.20, 0.50, 0.50],
    ),
    (
        [[1, 4, 2, 3, nan], [1, 4, -2, -3, nan], [3, nan, nan, 2, 7]],
        True,
        False,
        True,
        [-0.25, 0.25, -0.25, 0.25, 0.25, 0.25, -0.25, -0.25, 0.0, -0.50, 0.50],
    ),
    (
        [
            [3, 4, 2, 1, nan],
            [-3, 4, -2, 1, nan],
            [3, nan, nan, 1, 4],
            [3, nan, nan, -1, 4],
            [3, nan, nan, 1, -4],
        ],
        False,
        True,
        True,
        [
            0.25,
            0.25,
            0.25,
            0.25,
            -0.25,
            0.25,
            -0.25,
            0.25,
            0.25,
            0.50,
            0.25,
            0.25,
            -0.50,
            0.25,
            0.25,
            0.50,
            -0.25,
        ],
    ),
    (
        [[1, 4, 2, 3, nan], [3, 4, -2, -1, nan], [3, nan, nan, 2, 7], [3, nan, nan, 2, -7]],
        True,
        True,
        True,
        [-0.25, 0.25, 0.25, -0.25, 0.25, 0.25, -0.25, -0.25, -0.50, 0.0, 0.50, 0.50, 0.0, -0.50],
    ),
]


@pytest.mark.parametrize(
    ("rows", "demeaned", "group_adjust", "equal_weight", "expected"), FACTOR_WEIGHT_CASES
)
def test_factor_weights(rows, demeaned, group_adjust, equal_weight, expected):
    frame = _long(_days(date(2000, 1, 12), len(rows)), list("ABCDE"), np.array(rows), FW_GROUPS)
    w = alphalens_factor_weights(
        frame, demeaned=demeaned, group_adjust=group_adjust, equal_weight=equal_weight
    )
    _close(w, expected)


# --- test_factor_returns (5 cases) and test_factor_alpha_beta (1 case) --------------------------
@pytest.mark.parametrize(
    ("factor", "fwd", "group_adjust", "expected"),
    [
        ([1, 2, 3, 4, 4, 3, 2, 1], [4, 3, 2, 1, 1, 2, 3, 4], False, [-1.25, -1.25]),
        ([1, 1, 1, 1, 1, 1, 1, 1], [4, 3, 2, 1, 1, 2, 3, 4], False, [0.0, 0.0]),
        ([1, 2, 3, 4, 4, 3, 2, 1], [4, 3, 2, 1, 1, 2, 3, 4], True, [-0.5, -0.5]),
        ([1, 2, 3, 4, 1, 2, 3, 4], [1, 4, 1, 2, 1, 2, 2, 1], True, [1.0, 0.0]),
        ([1, 1, 1, 1, 1, 1, 1, 1], [4, 3, 2, 1, 1, 2, 3, 4], True, [0.0, 0.0]),
    ],
)
def test_factor_returns(factor, fwd, group_adjust, expected):
    out = alphalens_factor_returns(_perf_frame(factor, fwd), group_adjust=group_adjust)
    assert out["date"].to_list() == DR
    _close(out["forward_return_1"], expected)


def test_factor_alpha_beta():
    ab = alphalens_factor_alpha_beta(_perf_frame(fwd=[1, 2, 3, 4, 1, 1, 1, 1]))
    _close(ab["ann_alpha"], [-1.0])
    _close(ab["beta"], [5.0 / 6.0])


# --- test_cumulative_returns (9 cases: 3 series x the D, B and custom-day calendars) -----------
@pytest.mark.parametrize("calendar", ["1D", "1B", "1CD"])
@pytest.mark.parametrize(
    ("returns", "expected"),
    [
        ([1.0, 0.5, 1.0, 0.5, 0.5], [2.0, 3.0, 6.0, 9.0, 13.50]),
        ([0.1, 0.1, 0.1, 0.1, 0.1], [1.1, 1.21, 1.331, 1.4641, 1.61051]),
        ([-0.1, -0.1, -0.1, -0.1, -0.1], [0.9, 0.81, 0.729, 0.6561, 0.59049]),
    ],
)
def test_cumulative_returns(returns, expected, calendar):
    # the calendar only labels alphalens' index; the compounding is the same on each
    _close(alphalens_cumulative_returns(returns), expected)


# --- test_quantize_factor (27 cases) ------------------------------------------------------------
UTIL_FACTOR = dict(days=DR, tickers=list("ABCD"), rows=np.array([[1, 2, 3, 4], [4, 3, 2, 1.0]]))
BIASED = dict(
    days=DR,
    tickers=list("ABCDEFGH"),
    rows=np.array([[-1, 3, -2, 4, -5, 7, -6, 8], [-4, 2, -3, 1, -8, 6, -7, 5.0]]),
)
BIASED_GROUPS = dict(zip("ABCDEFGH", [1, 1, 2, 2, 1, 1, 2, 2], strict=True))
Q = [
    (UTIL_FACTOR, 4, None, False, False, [1, 2, 3, 4, 4, 3, 2, 1]),
    (UTIL_FACTOR, 2, None, False, False, [1, 1, 2, 2, 2, 2, 1, 1]),
    (UTIL_FACTOR, 2, None, True, False, [1, 2, 1, 2, 2, 1, 2, 1]),
    (BIASED, 4, None, False, True, [2, 3, 2, 3, 1, 4, 1, 4, 2, 3, 2, 3, 1, 4, 1, 4]),
    (BIASED, 2, None, False, True, [1, 2] * 8),
    (BIASED, 2, None, True, True, [1, 2] * 8),
    (BIASED, None, 4, False, True, [2, 3, 2, 3, 1, 4, 1, 4, 2, 3, 2, 3, 1, 4, 1, 4]),
    (BIASED, None, 2, False, True, [1, 2] * 8),
    (BIASED, None, 2, True, True, [1, 2] * 8),
    (UTIL_FACTOR, [0, 0.25, 0.5, 0.75, 1.0], None, False, False, [1, 2, 3, 4, 4, 3, 2, 1]),
    (UTIL_FACTOR, [0, 0.5, 0.75, 1.0], None, False, False, [1, 1, 2, 3, 3, 2, 1, 1]),
    (UTIL_FACTOR, [0, 0.25, 0.5, 1.0], None, False, False, [1, 2, 3, 3, 3, 3, 2, 1]),
    (UTIL_FACTOR, [0, 0.5, 1.0], None, False, False, [1, 1, 2, 2, 2, 2, 1, 1]),
    (UTIL_FACTOR, [0.25, 0.5, 0.75], None, False, False, [nan, 1, 2, nan, nan, 2, 1, nan]),
    (UTIL_FACTOR, [0, 0.5, 1.0], None, True, False, [1, 2, 1, 2, 2, 1, 2, 1]),
    (UTIL_FACTOR, [0.5, 1.0], None, True, False, [nan, 1, nan, 1, 1, nan, 1, nan]),
    (UTIL_FACTOR, [0, 1.0], None, True, False, [1] * 8),
    (UTIL_FACTOR, None, 4, False, False, [1, 2, 3, 4, 4, 3, 2, 1]),
    (UTIL_FACTOR, None, 2, False, False, [1, 1, 2, 2, 2, 2, 1, 1]),
    (UTIL_FACTOR, None, 3, False, False, [1, 1, 2, 3, 3, 2, 1, 1]),
    (UTIL_FACTOR, None, 8, False, False, [1, 3, 6, 8, 8, 6, 3, 1]),
    (UTIL_FACTOR, None, [0, 1, 2, 3, 5], False, False, [1, 2, 3, 4, 4, 3, 2, 1]),
    (UTIL_FACTOR, None, [1, 2, 3], False, False, [nan, 1, 2, nan, nan, 2, 1, nan]),
    (UTIL_FACTOR, None, [0, 2, 5], False, False, [1, 1, 2, 2, 2, 2, 1, 1]),
    (UTIL_FACTOR, None, [0.5, 2.5, 4.5], False, False, [1, 1, 2, 2, 2, 2, 1, 1]),
    (UTIL_FACTOR, None, [0.5, 2.5], True, False, [1, 1, nan, nan, nan, nan, 1, 1]),
    (UTIL_FACTOR, None, 2, True, False, [1, 2, 1, 2, 2, 1, 2, 1]),
]


@pytest.mark.parametrize(("factor", "quantiles", "bins", "by_group", "zero_aware", "expected"), Q)
def test_quantize_factor(factor, quantiles, bins, by_group, zero_aware, expected):
    groups = BIASED_GROUPS if factor is BIASED else PERF_GROUPS
    frame = _long(factor["days"], factor["tickers"], factor["rows"], groups)
    got = alphalens_quantize(
        frame, quantiles=quantiles, bins=bins, by_group=by_group, zero_aware=zero_aware
    )
    _close(got.cast(pl.Float64).fill_null(nan), expected)


CASES_RUN = 4 + 4 + len(FACTOR_WEIGHT_CASES) + 5 + 1 + 9 + len(Q)


def test_case_count():
    """The alphalens cases this file runs (of the 117 in its performance and utils tests)."""
    assert CASES_RUN == 58
