"""Forward returns and per-date return aggregates (quantile means, factor-weighted returns)."""

from __future__ import annotations

import numpy as np

from factorlab._kernels.jit import njit
from factorlab._kernels.parallel import empty, map_row_blocks, split_rows

__all__ = [
    "factor_returns_by_date",
    "fill_prices",
    "forward_return_grid",
    "forward_return_grids",
    "price_faults",
    "quantile_mean_returns",
]


def fill_prices(prices, carry_past_last):
    """Forward-fill missing (NaN) prices down each column.

    ``carry_past_last=True`` is pandas' ``DataFrame.ffill()`` (alphalens fills this way, so a
    delisted asset keeps its last price forever); ``False`` fills only gaps followed by a later
    price (suspensions), leaving the tail after an asset's last price missing. Blocks of columns
    run on the threads (:func:`factorlab._kernels.parallel.map_row_blocks` over the columns).
    """
    n_rows, n_cols = prices.shape
    out = empty((n_rows, n_cols))

    def run(_, lo, hi):
        _fill_prices_cols_nb(prices, carry_past_last, out, lo, hi)

    map_row_blocks(run, (0,), n_cols, prices.size)
    return out


@njit(cache=True, nogil=True)
def _fill_prices_cols_nb(prices, carry_past_last, out, lo, hi):
    """Columns ``lo:hi`` of :func:`fill_prices` into ``out``."""
    n_rows = prices.shape[0]
    stop = np.empty(hi - lo, np.int64)
    for j in range(lo, hi):
        stop[j - lo] = n_rows if carry_past_last else -1
    if not carry_past_last:
        for t in range(n_rows):
            for j in range(lo, hi):
                if prices[t, j] == prices[t, j]:
                    stop[j - lo] = t
    if n_rows == 0:
        return
    for j in range(lo, hi):
        out[0, j] = prices[0, j]
    for t in range(1, n_rows):
        for j in range(lo, hi):
            v = prices[t, j]
            if v != v and t < stop[j - lo]:
                v = out[t - 1, j]
            out[t, j] = v


def price_faults(prices):
    """``(cells <= 0, cells that are NaN)`` of a price grid, in row blocks on the threads: the
    one pass behind :func:`~factorlab.evaluate.forward.check_positive_grid` and the fill."""
    counts = {}

    def run(_, lo, hi):
        counts[lo] = _price_faults_rows_nb(prices, lo, hi)

    map_row_blocks(run, (0,), prices.shape[0], prices.size)
    return sum(int(c[0]) for c in counts.values()), sum(int(c[1]) for c in counts.values())


@njit(cache=True, nogil=True)
def _price_faults_rows_nb(prices, lo, hi):
    """Rows ``lo:hi`` of :func:`price_faults`."""
    n_bad = 0
    n_nan = 0
    for t in range(lo, hi):
        for j in range(prices.shape[1]):
            v = prices[t, j]
            n_bad += v <= 0.0
            n_nan += v != v
    return n_bad, n_nan


def forward_return_grid(prices, horizon, offset):
    """``prices[t + offset + horizon] / prices[t + offset] - 1`` (NaN off the grid or if missing).

    With ``offset=0`` this is alphalens' ``prices.pct_change(horizon).shift(-horizon)`` on the
    wide date x asset frame (pandas computes ``x / x.shift(p) - 1``); ``offset=1`` starts at the
    next row (next open / next VWAP entry).
    """
    return forward_return_grids(prices, (horizon,), offset)[0]


def forward_return_grids(prices, horizons, offset):
    """:func:`forward_return_grid` for each of ``horizons``: a list of grids, every horizon cut
    into blocks of rows on the threads (:func:`factorlab._kernels.parallel.map_row_blocks`)."""
    outs = [empty(prices.shape) for _ in horizons]

    def run(k, lo, hi):
        _forward_returns_nb(prices, horizons[k], offset, outs[k], lo, hi)

    map_row_blocks(run, range(len(horizons)), prices.shape[0], prices.size)
    return outs


@njit(cache=True, nogil=True)
def _forward_returns_nb(prices, horizon, offset, out, lo, hi):
    """Rows ``lo:hi`` of :func:`forward_return_grid` into ``out``."""
    n_rows, n_cols = prices.shape
    n_valid = max(0, n_rows - offset - horizon)
    for t in range(lo, min(hi, n_valid)):
        start = t + offset
        for j in range(n_cols):
            out[t, j] = prices[start + horizon, j] / prices[start, j] - 1.0
    for t in range(max(lo, n_valid), hi):
        for j in range(n_cols):
            out[t, j] = np.nan


def quantile_mean_returns(returns, quantile, mask, n_quantiles, demean):
    """Mean, sample std and count of returns per (date, quantile), optionally demeaned per date.

    Equals alphalens' ``mean_return_by_quantile(by_date=True)`` group statistics (``mean``,
    ``std``, ``count`` of ``groupby(["factor_quantile", date])``), with ``demeaned=True``
    subtracting the equal-weight mean over all used cells of the date first
    (``demean_forward_returns``). A cell is used if ``mask`` and its return is finite.
    Returns ``(mean, std, count)``, each (n_dates, n_quantiles); NaN mean where count is 0 and
    NaN std where count < 2. Two passes per date: sums (the demeaned mean is the raw mean minus
    the date's mean; the std does not depend on demeaning), then squared deviations. Blocks of
    rows run on the threads (:func:`factorlab._kernels.parallel.split_rows`).
    """
    n_rows, n_cols = returns.shape
    mean = np.empty((n_rows, n_quantiles))
    std = np.empty((n_rows, n_quantiles))
    count = np.empty((n_rows, n_quantiles), np.int64)
    split_rows(
        _quantile_mean_returns_nb,
        (returns, quantile, mask, n_quantiles, demean, mean, std, count),
        (0, 1, 2, 5, 6, 7),
        n_rows,
        n_cols,
        lambda: (np.zeros(n_quantiles), np.zeros(n_quantiles)),
    )
    return mean, std, count


@njit(cache=True, nogil=True)
def _quantile_mean_returns_nb(
    returns, quantile, mask, n_quantiles, demean, mean, std, count, sums, raw
):
    """:func:`quantile_mean_returns` into ``mean`` / ``std`` / ``count``; ``sums`` and
    ``raw`` are float64 scratch of ``n_quantiles``."""
    n_rows, n_cols = returns.shape
    for t in range(n_rows):
        for q in range(n_quantiles):
            mean[t, q] = np.nan
            std[t, q] = np.nan
            count[t, q] = 0
            sums[q] = 0.0
        total = 0.0
        n = 0
        for j in range(n_cols):
            r = returns[t, j]
            if mask[t, j] and np.isfinite(r):
                q = quantile[t, j] - 1
                sums[q] += r
                count[t, q] += 1
                total += r
                n += 1
        if n == 0:
            continue
        centre = total / n if demean else 0.0
        for q in range(n_quantiles):
            if count[t, q] > 0:
                raw[q] = sums[q] / count[t, q]
                mean[t, q] = raw[q] - centre
            sums[q] = 0.0
        for j in range(n_cols):
            r = returns[t, j]
            if mask[t, j] and np.isfinite(r):
                q = quantile[t, j] - 1
                d = r - raw[q]
                sums[q] += d * d
        for q in range(n_quantiles):
            if count[t, q] > 1:
                std[t, q] = np.sqrt(sums[q] / (count[t, q] - 1))


def factor_returns_by_date(factor, returns, mask, demean):
    """Factor-weighted portfolio return per date and the universe's mean return.

    Equals alphalens' ``factor_returns`` (``factor_weights(demeaned=...)``: weights
    ``w = (f - mean f) / sum |f - mean f|``, all zero if that sum is 0) summed over the date, and
    the equal-weight universe return ``factor_alpha_beta`` regresses on. A cell is used if
    ``mask`` and its return is finite. Returns ``(factor_return, universe_return)`` per date,
    NaN on dates without used cells. Computed as ``sum((f - c) r) / sum|f - c|`` in one pass
    after the means. Blocks of rows run on the threads
    (:func:`factorlab._kernels.parallel.split_rows`).
    """
    n_rows, n_cols = factor.shape
    fret = np.empty(n_rows)
    uret = np.empty(n_rows)
    split_rows(
        _factor_returns_nb,
        (factor, returns, mask, demean, fret, uret),
        (0, 1, 2, 4, 5),
        n_rows,
        n_cols,
    )
    return fret, uret


@njit(cache=True, nogil=True)
def _factor_returns_nb(factor, returns, mask, demean, fret, uret):
    """:func:`factor_returns_by_date` into ``fret`` / ``uret``."""
    n_rows, n_cols = factor.shape
    for t in range(n_rows):
        fret[t] = np.nan
        uret[t] = np.nan
        n = 0
        f_sum = 0.0
        r_sum = 0.0
        for j in range(n_cols):
            r = returns[t, j]
            if mask[t, j] and np.isfinite(r):
                n += 1
                f_sum += factor[t, j]
                r_sum += r
        if n == 0:
            continue
        uret[t] = r_sum / n
        centre = f_sum / n if demean else 0.0
        denom = 0.0
        acc = 0.0
        for j in range(n_cols):
            r = returns[t, j]
            if mask[t, j] and np.isfinite(r):
                w = factor[t, j] - centre
                denom += abs(w)
                acc += w * r
        fret[t] = acc / denom if denom != 0.0 else 0.0
