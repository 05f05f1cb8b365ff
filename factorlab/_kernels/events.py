"""Event-study kernel: per-date quantile means of a value path around each signal date."""

from __future__ import annotations

import numpy as np

from factorlab._kernels.jit import njit

__all__ = ["event_means_nb"]


@njit(cache=True, nogil=True)
def event_means_nb(values, quantile, mask, n_quantiles, before, after, relative, demean):
    """Per offset ``k`` in ``-before..after``, date ``t`` and quantile ``q``: the mean over the
    cells of ``q`` on ``t`` (``mask``) of ``x = values[t+k, j]`` (``relative``: ``values[t+k, j]
    / values[t, j] - 1``), minus (``demean``) the mean of ``x`` over every ``mask`` cell of
    ``t``; cells with a non-finite ``x`` are left out of both means.

    Equals, per date, alphalens' ``common_start_returns(..., cumulative=True, mean_by_date=True,
    demean_by=factor_data)`` for quantile ``q`` (``relative=False``). Returns an array
    ``(before + after + 1, n_dates, n_quantiles)``, NaN where no cell has a finite ``x`` or
    ``t + k`` is outside the grid.
    """
    n_rows, n_cols = values.shape
    n_off = before + after + 1
    out = np.full((n_off, n_rows, n_quantiles), np.nan)
    sums = np.zeros(n_quantiles)
    counts = np.zeros(n_quantiles, np.int64)
    for t in range(n_rows):
        has = False
        for j in range(n_cols):
            if mask[t, j]:
                has = True
                break
        if not has:
            continue
        for i in range(n_off):
            s = t + i - before
            if s < 0 or s >= n_rows:
                continue
            sums[:] = 0.0
            counts[:] = 0
            total = 0.0
            n = 0
            for j in range(n_cols):
                if not mask[t, j]:
                    continue
                x = values[s, j]
                if relative:
                    x = x / values[t, j] - 1.0
                if not np.isfinite(x):
                    continue
                q = quantile[t, j] - 1
                sums[q] += x
                counts[q] += 1
                total += x
                n += 1
            if n == 0:
                continue
            centre = total / n if demean else 0.0
            for q in range(n_quantiles):
                if counts[q] > 0:
                    out[i, t, q] = sums[q] / counts[q] - centre
    return out
