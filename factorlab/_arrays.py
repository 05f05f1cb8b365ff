"""Small dense-array helpers shared by every layer (a leaf module: it imports only numpy)."""

from __future__ import annotations

import numpy as np

__all__ = ["ffill_rows", "prev_valid_rows"]


def ffill_rows(x: np.ndarray) -> np.ndarray:
    """Forward-fill NaN down each column of a (T, N) array (leading NaN stay NaN)."""
    idx = np.where(np.isnan(x), 0, np.arange(x.shape[0])[:, None])
    np.maximum.accumulate(idx, axis=0, out=idx)
    return x[idx, np.arange(x.shape[1])[None, :]]


def prev_valid_rows(x: np.ndarray) -> np.ndarray:
    """For each row, the last non-NaN value strictly before it in the column (NaN if none)."""
    out = np.full_like(x, np.nan)
    out[1:] = ffill_rows(x)[:-1]
    return out
