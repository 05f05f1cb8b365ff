"""Numba kernels of the synthetic market: the per-stock recursions over time.

Arrays are (T, N) float64 grids, time-major; each kernel loops over days and then over stocks, so
the grids are read in memory order (a recursion keeps each stock's state in a vector) and no
Python loop ever runs per stock-day.
"""

from __future__ import annotations

import numpy as np

from factorlab._kernels.jit import njit

__all__ = [
    "ar1_nb",
    "bar_ohlc_nb",
    "bar_volume_nb",
    "by_industry_nb",
    "cumprod_rows",
    "cumsum_rows",
    "float_fraction_nb",
    "holdings_nb",
    "lag_nan_to_num_nb",
    "nan_to_num",
    "northbound_shares_nb",
    "price_limits_nb",
    "prices_nb",
    "split_shares_nb",
]


@njit(cache=True, nogil=True)
def ar1_nb(shocks: np.ndarray, phi: float) -> np.ndarray:
    """Stationary unit-variance AR(1) along axis 0: x_t = phi x_{t-1} + sqrt(1 - phi^2) e_t."""
    out = np.empty_like(shocks)
    scale = np.sqrt(1.0 - phi * phi)
    if shocks.ndim == 1:
        out[0] = shocks[0]
        for t in range(1, shocks.shape[0]):
            out[t] = phi * out[t - 1] + scale * shocks[t]
        return out
    n_t, n = shocks.shape
    for j in range(n):
        out[0, j] = shocks[0, j]
    for t in range(1, n_t):
        for j in range(n):
            out[t, j] = phi * out[t - 1, j] + scale * shocks[t, j]
    return out


@njit(cache=True, nogil=True)
def prices_nb(
    ret: np.ndarray,
    trading: np.ndarray,
    limit: np.ndarray,
    p0: np.ndarray,
    dyield: np.ndarray,
    bonus: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Close prices, previous-close reference and back-adjustment factors.

    ``ret`` is the total return wanted on each day; it is clipped to +/- ``limit`` (the price limit
    of the board / ST status). On days a stock does not trade the close is carried and the return is
    lost. On an ex-date the cash dividend is round(prev_close * dyield, 3) yuan and the reference
    price is (prev_close - cash) / (1 + bonus). The cumulative back-adjustment factor is
    prev_adj * prev_close / reference (tushare's adj_factor convention).
    Returns (close, ref_close, adj_factor, cash), NaN where the stock does not trade.
    """
    n_t, n = ret.shape
    close = np.full((n_t, n), np.nan)
    ref = np.full((n_t, n), np.nan)
    adj = np.full((n_t, n), np.nan)
    cash = np.zeros((n_t, n))
    last = np.full(n, np.nan)  # each stock's state, carried from row to row
    last_adj = np.ones(n)
    for t in range(n_t):
        for j in range(n):
            if not trading[t, j]:
                if not np.isnan(last[j]):
                    # corporate actions still adjust the carried price during a suspension
                    if dyield[t, j] > 0.0 or bonus[t, j] > 0.0:
                        cash[t, j] = np.round(last[j] * dyield[t, j] * 1000.0) / 1000.0
                        r0 = (last[j] - cash[t, j]) / (1.0 + bonus[t, j])
                        last_adj[j] = last_adj[j] * last[j] / r0
                        last[j] = r0
                continue
            if np.isnan(last[j]):
                last[j] = p0[j]
            cash[t, j] = np.round(last[j] * dyield[t, j] * 1000.0) / 1000.0
            r0 = (last[j] - cash[t, j]) / (1.0 + bonus[t, j])
            if r0 <= 0.0:
                r0 = last[j]
            last_adj[j] = last_adj[j] * last[j] / r0
            r = ret[t, j]
            lim = limit[t, j]
            if r > lim:
                r = lim
            elif r < -lim:
                r = -lim
            c = np.round(r0 * (1.0 + r) * 100.0) / 100.0
            if c < 0.01:
                c = 0.01
            close[t, j] = c
            ref[t, j] = r0
            adj[t, j] = last_adj[j]
            last[j] = c
    return close, ref, adj, cash


@njit(cache=True, nogil=True)
def holdings_nb(
    target_a: np.ndarray,
    target_t: np.ndarray,
    noise_a: np.ndarray,
    noise_t: np.ndarray,
    can_trade: np.ndarray,
    eligible: np.ndarray,
    speed_a: float,
    speed_t: float,
    init: np.ndarray,
    halt_at: float,
    resume_below: float,
    hard_cap: float,
    sell_speed: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Allocation and trading holding ratios (of total shares) under the foreign-ownership caps.

    Each part moves toward its target at its speed plus noise, only on days the stock trades
    northbound. A stock that is not eligible can only be sold: both parts unwind toward zero at
    their speeds. When the total ratio reaches
    ``halt_at`` (28%) buying halts until it falls below ``resume_below`` (26%); no day ends above
    ``hard_cap`` (30%). ``init`` (bool per stock) starts holdings at their target (the market
    opened before the window) instead of at zero.

    ``sell_speed`` (n_t, n) multiplies trading money's speed on the days its holding is above
    its target (its sells toward the target; ``Strengths.sell_timing``); a (1, 1) array leaves
    every speed as it is (the same arithmetic as without it).
    """
    n_t, n = target_a.shape
    timed = sell_speed.shape[0] == n_t and n_t > 1
    ra = np.zeros((n_t, n))
    rt = np.zeros((n_t, n))
    # each stock's state, carried from row to row
    a = np.zeros(n)
    tr = np.zeros(n)
    started = np.zeros(n, dtype=np.bool_)
    halted = np.zeros(n, dtype=np.bool_)
    for t in range(n_t):
        for j in range(n):
            if can_trade[t, j]:
                if not started[j] and init[j] and eligible[t, j]:
                    a[j] = target_a[t, j]
                    tr[j] = target_t[t, j]
                started[j] = True
                if eligible[t, j]:
                    da = speed_a * (target_a[t, j] - a[j]) + noise_a[t, j] * target_a[t, j]
                    gap = target_t[t, j] - tr[j]
                    if timed and gap < 0.0:
                        gap *= sell_speed[t, j]
                    dt_ = speed_t * gap + noise_t[t, j] * target_t[t, j]
                else:  # sell-only: holders unwind toward zero
                    da = -speed_a * a[j]
                    dt_ = -speed_t * tr[j]
                if halted[j]:
                    if da > 0.0:
                        da = 0.0
                    if dt_ > 0.0:
                        dt_ = 0.0
                if a[j] + da < 0.0:
                    da = -a[j]
                if tr[j] + dt_ < 0.0:
                    dt_ = -tr[j]
                room = hard_cap - (a[j] + tr[j])
                if da + dt_ > room:
                    buy = da + dt_
                    if buy > 0.0:
                        k = max(room, 0.0) / buy
                        da *= k
                        dt_ *= k
                a[j] += da
                tr[j] += dt_
                tot = a[j] + tr[j]
                if tot >= halt_at:
                    halted[j] = True
                elif halted[j] and tot < resume_below:
                    halted[j] = False
            ra[t, j] = a[j]
            rt[t, j] = tr[j]
    return ra, rt


@njit(cache=True, nogil=True)
def split_shares_nb(total: np.ndarray, weights: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Split integer totals among holders: floor(w * total), the remainder to the group's last.

    ``total`` has one entry per group (a stock on a day), ``weights`` one per holder row, grouped
    contiguously with group g spanning ``starts[g]:starts[g + 1]``; weights of a group sum to 1.
    The split sums exactly to the total and is never negative.
    """
    out = np.zeros(weights.shape[0], dtype=np.int64)
    for g in range(total.shape[0]):
        s = starts[g]
        e = starts[g + 1]
        if e == s:
            continue
        tot = total[g]
        acc = 0
        for k in range(s, e - 1):
            v = np.int64(np.floor(weights[k] * tot))
            if acc + v > tot:
                v = tot - acc
            out[k] = v
            acc += v
        out[e - 1] = tot - acc
    return out


@njit(cache=True, nogil=True)
def _nan_to_num_flat(x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    big = np.finfo(np.float64).max
    for i in range(x.shape[0]):
        v = x[i]
        if np.isnan(v):
            v = 0.0
        elif v == np.inf:
            v = big
        elif v == -np.inf:
            v = -big
        out[i] = v
    return out


def nan_to_num(x: np.ndarray) -> np.ndarray:
    """``np.nan_to_num(x)`` (a new array: NaN 0, +/-inf the largest finite float) in one pass."""
    x = np.asarray(x)
    if x.dtype != np.float64 or not x.flags.c_contiguous:
        return np.nan_to_num(x)
    return _nan_to_num_flat(x.reshape(-1)).reshape(x.shape)


@njit(cache=True, nogil=True)
def _accumulate_rows(x: np.ndarray, product: bool) -> np.ndarray:
    n_t, n = x.shape
    out = np.empty((n_t, n))
    for j in range(n):
        out[0, j] = x[0, j]
    for t in range(1, n_t):
        for j in range(n):
            out[t, j] = out[t - 1, j] * x[t, j] if product else out[t - 1, j] + x[t, j]
    return out


def cumsum_rows(x: np.ndarray) -> np.ndarray:
    """``np.cumsum(x, axis=0)`` of a (T, N) float64 grid (the same sequential sums, one pass)."""
    if x.dtype != np.float64 or x.ndim != 2 or not x.flags.c_contiguous or x.shape[0] == 0:
        return np.cumsum(x, axis=0)
    return _accumulate_rows(x, False)


def cumprod_rows(x: np.ndarray) -> np.ndarray:
    """``np.cumprod(x, axis=0)`` of a (T, N) float64 grid (the same sequential products)."""
    if x.dtype != np.float64 or x.ndim != 2 or not x.flags.c_contiguous or x.shape[0] == 0:
        return np.cumprod(x, axis=0)
    return _accumulate_rows(x, True)


# ---- the daily bars: numpy's elementwise expressions fused, bit for bit ------------------------
# np.maximum / np.minimum of floats: (a >= b or isnan(a)) ? a : b (NaN propagates);
# np.clip(x, lo, hi): NaN x stays, then max(x, lo) by x > lo, then min(., hi) by < hi;
# np.round(x, d): rint(x * 10^d) / 10^d for d >= 0, rint(x / 10^-d) * 10^-d for d < 0.


@njit(cache=True, nogil=True, inline="always")
def _maximum(a: float, b: float) -> float:
    return a if (a >= b or np.isnan(a)) else b


@njit(cache=True, nogil=True, inline="always")
def _minimum(a: float, b: float) -> float:
    return a if (a <= b or np.isnan(a)) else b


@njit(cache=True, nogil=True, inline="always")
def _clip(x: float, lo: float, hi: float) -> float:
    if np.isnan(x):
        return x
    y = x if x > lo else lo
    if np.isnan(y):
        return y
    return y if y < hi else hi


@njit(cache=True, nogil=True, inline="always")
def _nan0(x: float) -> float:
    if np.isnan(x):
        return 0.0
    if x == np.inf:
        return np.finfo(np.float64).max
    if x == -np.inf:
        return -np.finfo(np.float64).max
    return x


@njit(cache=True, nogil=True)
def bar_volume_nb(
    turn: np.ndarray, col: np.ndarray, realized: np.ndarray, float_shares: np.ndarray
) -> np.ndarray:
    """In place on `turn`: ``max(round(min(turn * col * (1 + 12 |realized|), 0.5) x float
    shares, -2), 100)`` (NaN realized read as 0); returns `turn`, now the volume."""
    n_t, n = turn.shape
    for t in range(n_t):
        for j in range(n):
            v = turn[t, j] * col[j]
            v *= 1.0 + 12.0 * _nan0(abs(realized[t, j]))
            v = _minimum(v, 0.5)
            turn[t, j] = _maximum(np.rint(v * float_shares[t, j] / 100.0) * 100.0, 100.0)
    return turn


@njit(cache=True, nogil=True)
def bar_ohlc_nb(
    z_open: np.ndarray,
    z_high: np.ndarray,
    z_low: np.ndarray,
    z_vwap: np.ndarray,
    realized: np.ndarray,
    ref: np.ndarray,
    limit: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Open, high, low, VWAP (in place on their noise arrays) and amount, in one pass::

        upper, lower = ref (1 + limit), ref (1 - limit)
        open = clip(round(ref (1 + 0.35 realized + 0.004 z_open), 2), lower, upper)
        high = max(min(round(max(open, close) (1 + |z_high|), 2), round(upper, 2)),
                   max(open, close))
        low = max(min(max(round(min(open, close) (1 - |z_low|), 2), round(lower, 2)),
                      min(open, close)), 0.01)
        vwap = clip((open + high + low + close) / 4 (1 + 0.002 z_vwap), low, high)
        amount = round(volume vwap)

    (NaN realized read as 0; `z_high` and `z_low` already scaled.)
    """
    n_t, n = z_open.shape
    amount = np.empty((n_t, n))
    for t in range(n_t):
        for j in range(n):
            r = ref[t, j]
            c = close[t, j]
            upper = r * (1.0 + limit[t, j])
            lower = r * (1.0 - limit[t, j])
            gap = 0.35 * _nan0(realized[t, j]) + 0.004 * z_open[t, j]
            o = _clip(np.rint(r * (1.0 + gap) * 100.0) / 100.0, lower, upper)
            body = _maximum(o, c)
            h = np.rint(body * (1.0 + abs(z_high[t, j])) * 100.0) / 100.0
            h = _maximum(_minimum(h, np.rint(upper * 100.0) / 100.0), body)
            body = _minimum(o, c)
            lo = np.rint(body * (1.0 - abs(z_low[t, j])) * 100.0) / 100.0
            lo = _minimum(_maximum(lo, np.rint(lower * 100.0) / 100.0), body)
            lo = _maximum(lo, 0.01)
            v = (o + h + lo + c) / 4.0
            v *= 1.0 + 0.002 * z_vwap[t, j]
            v = _clip(v, lo, h)
            z_open[t, j] = o
            z_high[t, j] = h
            z_low[t, j] = lo
            z_vwap[t, j] = v
            amount[t, j] = np.rint(volume[t, j] * v)
    return z_open, z_high, z_low, z_vwap, amount


@njit(cache=True, nogil=True)
def by_industry_nb(x: np.ndarray, mean: np.ndarray, industry: np.ndarray, divide: bool) -> None:
    """In place: ``x -= mean[:, industry]``, or with `divide` ``x /= where(mean > 0, mean,
    1)[:, industry]`` (no (T, N) temporary)."""
    n_t, n = x.shape
    for t in range(n_t):
        for j in range(n):
            m = mean[t, industry[j]]
            if divide:
                x[t, j] /= m if m > 0.0 else 1.0
            else:
                x[t, j] -= m


@njit(cache=True, nogil=True)
def lag_nan_to_num_nb(x: np.ndarray) -> np.ndarray:
    """``np.nan_to_num(np.vstack([a row of NaN, x[:-1]]))``: the previous row, 0 for NaN."""
    n_t, n = x.shape
    out = np.empty((n_t, n))
    for j in range(n):
        out[0, j] = 0.0
    for t in range(1, n_t):
        for j in range(n):
            out[t, j] = _nan0(x[t - 1, j])
    return out


@njit(cache=True, nogil=True)
def float_fraction_nb(
    days: np.ndarray, list_date: np.ndarray, frac0: np.ndarray, step: float, cap: float
) -> np.ndarray:
    """``min(cap, frac0 + step x max(max((day - list_date) // 365, 0) - years at the first day,
    0))`` per (day, stock), dates as int64 days; years at the first day clipped at 0."""
    n_t, n = days.shape[0], list_date.shape[0]
    out = np.empty((n_t, n))
    at_start = np.empty(n, dtype=np.int64)
    for j in range(n):
        at_start[j] = max((days[0] - list_date[j]) // 365, 0)
    for t in range(n_t):
        for j in range(n):
            unlocks = max((days[t] - list_date[j]) // 365, 0) - at_start[j]
            out[t, j] = _minimum(cap, frac0[j] + step * float(max(unlocks, 0)))
    return out


@njit(cache=True, nogil=True)
def price_limits_nb(
    reform: np.ndarray, is_st: np.ndarray, star: np.ndarray, chinext: np.ndarray
) -> np.ndarray:
    """Daily price limit: 0.20 on STAR, and on ChiNext from its reform (`reform` per day), else
    0.10; 0.05 for an ST stock whose limit would be below 0.20."""
    n_t, n = is_st.shape
    out = np.empty((n_t, n))
    for t in range(n_t):
        for j in range(n):
            lim = 0.20 if star[j] or (reform[t] and chinext[j]) else 0.10
            out[t, j] = 0.05 if is_st[t, j] and lim < 0.2 else lim
    return out


@njit(cache=True, nogil=True)
def northbound_shares_nb(
    ra: np.ndarray,
    rt: np.ndarray,
    listed: np.ndarray,
    total: np.ndarray,
    pub_basis: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The northbound share counts from the holding ratios, in one pass.

    `ra` (allocation) and `rt` (trading) are set to 0 where the stock is not `listed`, in place;
    returns ``(ratio, shares_true, shares_pub, shares_alloc_pub)`` with ratio = ra + rt,
    shares_true = round(ratio x total), and on the published basis tot_pub =
    nan_to_num(total x pub_basis): shares_pub = round(ratio x tot_pub), shares_alloc_pub =
    min(round(ra x tot_pub), shares_pub) (integers)."""
    n_t, n = ra.shape
    ratio = np.empty((n_t, n))
    s_true = np.empty((n_t, n), dtype=np.int64)
    s_pub = np.empty((n_t, n), dtype=np.int64)
    s_alloc = np.empty((n_t, n), dtype=np.int64)
    for t in range(n_t):
        for j in range(n):
            if not listed[t, j]:
                ra[t, j] = 0.0
                rt[t, j] = 0.0
            a = ra[t, j]
            r = a + rt[t, j]
            ratio[t, j] = r
            tp = _nan0(total[t, j] * pub_basis[t, j])
            s_true[t, j] = np.int64(np.rint(r * total[t, j]))
            pub = np.int64(np.rint(r * tp))
            s_pub[t, j] = pub
            s_alloc[t, j] = min(np.int64(np.rint(a * tp)), pub)
    return ratio, s_true, s_pub, s_alloc
