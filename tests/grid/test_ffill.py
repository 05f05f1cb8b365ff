"""The one forward fill (:func:`factorlab.grid.ffill_rows`, :func:`prev_valid_rows`): its numba
pass equals the numpy definition (last non-NaN at or before / strictly before each row) value
for value, on edge shapes, leading NaN, inf, -0.0 and strided views."""

from __future__ import annotations

import numpy as np
import pytest

from factorlab.grid import ffill_rows, prev_valid_rows


def _ffill_numpy(x: np.ndarray) -> np.ndarray:
    idx = np.where(np.isnan(x), 0, np.arange(x.shape[0])[:, None])
    np.maximum.accumulate(idx, axis=0, out=idx)
    return x[idx, np.arange(x.shape[1])[None, :]]


def _prev_numpy(x: np.ndarray) -> np.ndarray:
    out = np.full_like(x, np.nan)
    out[1:] = _ffill_numpy(x)[:-1]
    return out


def test_a_hand_computed_column():
    x = np.array([[np.nan], [1.0], [np.nan], [-0.0], [np.inf], [np.nan]])
    assert ffill_rows(x)[:, 0].tolist()[1:] == [1.0, 1.0, -0.0, np.inf, np.inf]
    assert np.isnan(ffill_rows(x)[0, 0])
    assert np.signbit(ffill_rows(x)[3, 0])
    assert prev_valid_rows(x)[:, 0].tolist()[2:] == [1.0, 1.0, -0.0, np.inf]
    assert np.isnan(prev_valid_rows(x)[:2, 0]).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("shape", [(0, 3), (4, 0), (1, 1), (1, 5), (9, 4), (200, 130)])
def test_the_kernel_equals_the_numpy_definition(seed, shape):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape)
    x[rng.random(shape) < 0.4] = np.nan
    if x.size >= 6:
        x.flat[2], x.flat[5] = np.inf, -0.0
    for got, want in ((ffill_rows, _ffill_numpy), (prev_valid_rows, _prev_numpy)):
        for view in (x, x[:, ::2], x[::-1], np.asfortranarray(x)):
            a, b = got(view), want(view)
            assert a.shape == b.shape and a.dtype == b.dtype
            assert np.array_equal(a, b, equal_nan=True)
            assert np.array_equal(np.signbit(a), np.signbit(b))  # copies, bit for bit


def test_other_dtypes_keep_the_numpy_path():
    x = np.array([[np.nan, 1.0], [2.0, np.nan]], dtype=np.float32)
    assert ffill_rows(x).dtype == np.float32
    assert np.array_equal(ffill_rows(x), _ffill_numpy(x), equal_nan=True)
