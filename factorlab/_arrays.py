"""Small dense-array helpers shared by every layer (a leaf module: it imports only numpy and
its numba kernel, :mod:`factorlab._kernels.grid`)."""

from __future__ import annotations

import numpy as np

from factorlab._kernels.grid import ffill_rows_nb

__all__ = ["ffill_rows", "prev_valid_rows"]


def ffill_rows(x: np.ndarray) -> np.ndarray:
    """Forward-fill NaN down each column of a (T, N) array (leading NaN stay NaN)."""
    if x.ndim == 2 and x.dtype == np.float64:  # one pass, no (T, N) index temporary
        out = np.empty(x.shape)
        ffill_rows_nb(x, out, False)
        return out
    idx = np.where(np.isnan(x), 0, np.arange(x.shape[0])[:, None])
    np.maximum.accumulate(idx, axis=0, out=idx)
    return x[idx, np.arange(x.shape[1])[None, :]]


def prev_valid_rows(x: np.ndarray) -> np.ndarray:
    """For each row, the last non-NaN value strictly before it in the column (NaN if none)."""
    if x.ndim == 2 and x.dtype == np.float64:
        out = np.empty(x.shape)
        ffill_rows_nb(x, out, True)
        return out
    out = np.full_like(x, np.nan)
    out[1:] = ffill_rows(x)[:-1]
    return out
