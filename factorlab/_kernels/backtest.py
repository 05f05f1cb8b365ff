"""The backtester's book loop: target weights -> orders -> fills -> daily marking -> cash.

Accounting in units of the back-adjusted price (raw shares = units x adj_factor) and yuan of
cash. With zero costs, no lots and no cash buffer it equals the weight-drift model of the
retired research simulator day by day (its values are pinned in tests/backtest/test_reference.py).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["backtest_nb", "round_trips_nb"]

SIDE_BUY = 1
SIDE_SELL = -1
SIDE_SETTLE = 2


@njit(cache=True, nogil=True)
def _grow_nb(a, n):  # pragma: no cover - compiled
    out = np.empty((n, a.shape[1]), a.dtype)
    out[: a.shape[0]] = a
    return out


@njit(cache=True, nogil=True)
def _lot_units_nb(q, adj, lot):  # pragma: no cover - compiled
    """`q` units rounded toward zero to whole lots of `lot` raw shares (lot 0: unchanged)."""
    if lot <= 0.0:
        return q
    raw = abs(q) * adj
    whole = np.floor(raw / lot + 1e-9) * lot
    return np.sign(q) * whole / adj


@njit(cache=True, nogil=True)
def _order_cost_nb(value, commission, min_commission, stamp, slippage):  # pragma: no cover
    """(commission, stamp duty, slippage) in yuan of one order of `value` yuan (> 0)."""
    c = commission * value
    if c < min_commission:
        c = min_commission
    return c, stamp * value, slippage * value


@njit(cache=True, nogil=True)
def backtest_nb(
    indptr,
    tgt_idx,
    tgt_w,
    trade_rows,
    close,
    entry,
    can_buy,
    can_sell,
    adj,
    settle_row,
    lot,
    stamp_on,
    stamp,
    carry,
    capital,
    commission,
    min_commission,
    slippage,
    cash_buffer,
    difference,
    long_only,
):  # pragma: no cover - compiled
    """Run a book rebalanced to sparse targets on `trade_rows` (R,) of the (T, N) grids.

    Rebalance k's targets are ``tgt_w[indptr[k]:indptr[k + 1]]`` on columns ``tgt_idx[...]``
    (CSR rows), normalized: long-only rows sum to 1 (or are all 0: go to cash); long-short
    rows have longs summing to +1 and shorts to -1. Names that cannot trade keep their units;
    the rest of each leg goes to the other free target names in proportion to their targets
    (``difference``: held target names are left untouched, new names are bought at their target
    weight, dropped names sold). Sells fill before buys; in a long-only book buys are scaled
    down until they and their costs fit the cash. Held names past their settle row are settled
    at their last close (no cost). ``carry`` (N,) is a daily holding cost (fraction of value),
    taken from the held units as a fund's fee is taken from its NAV (cash is not touched).

    Returns
    -------
    daily: nav, cash, cost (yuan), turnover, exposure — each (T,), NaN before the first trade;
    per rebalance: blocked_buys, blocked_sells, held, scale, cost (yuan);
    trades: int (M, 6) [k, t, i, side, price_row, closes (position now 0)], float (M, 6)
    [units, price, value, commission, stamp, slippage]; positions: int (P, 3) [k, t, i],
    float (P, 2) [units, value]; final units and last prices (N,).
    """
    n_t, n = close.shape
    n_r = trade_rows.shape[0]
    nav = np.full(n_t, np.nan)
    cash_out = np.full(n_t, np.nan)
    cost = np.zeros(n_t)
    turnover = np.zeros(n_t)
    exposure = np.full(n_t, np.nan)
    blocked_buys = np.zeros(n_r, np.int64)
    blocked_sells = np.zeros(n_r, np.int64)
    held_after = np.zeros(n_r, np.int64)
    scale_out = np.ones(n_r)
    reb_cost = np.zeros(n_r)

    units = np.zeros(n)
    lastp = np.full(n, np.nan)
    val = np.full(n, np.nan)
    du = np.zeros(n)
    state = np.zeros(n, np.int8)  # 0 free (trade to target), 1 locked, 2 untouched
    book = np.zeros(n, np.int64)
    buys = np.zeros(n, np.int64)
    target = np.zeros(n)  # the current rebalance's target weights (scratch, reset after)
    is_cand = np.zeros(n, np.bool_)
    cand = np.zeros(n, np.int64)
    n_held = 0
    next_settle = n_t  # earliest settle row among the held names
    any_carry = carry.max() > 0.0 if n > 0 else False
    cash = capital

    cap = 2 * tgt_idx.shape[0] + 1024
    ti = np.empty((cap, 6), np.int64)
    tf = np.empty((cap, 6))
    m = 0
    pi = np.empty((tgt_idx.shape[0] + 1024, 3), np.int64)
    pf = np.empty((tgt_idx.shape[0] + 1024, 2))
    n_p = 0

    k = 0
    started = False
    for t in range(n_t):
        is_trade = k < n_r and trade_rows[k] == t
        if not started and not is_trade:
            continue
        started = True
        day_cost = 0.0
        # 1) published delistings: settle at the last close, no cost
        h = 0 if t >= next_settle else n_held
        while h < n_held:
            i = book[h]
            if settle_row[i] <= t:
                value = units[i] * lastp[i]
                cash += value
                if m == ti.shape[0]:
                    ti = _grow_nb(ti, 2 * m)
                    tf = _grow_nb(tf, 2 * m)
                ti[m, 0] = -1
                ti[m, 1] = t
                ti[m, 2] = i
                ti[m, 3] = SIDE_SETTLE
                r = t - 1  # the row of the last close (rare: scan back)
                while r > 0 and np.isnan(close[r, i]):
                    r -= 1
                ti[m, 4] = r
                ti[m, 5] = 1
                tf[m, 0] = -units[i]
                tf[m, 1] = lastp[i]
                tf[m, 2] = abs(value)
                tf[m, 3] = 0.0
                tf[m, 4] = 0.0
                tf[m, 5] = 0.0
                m += 1
                units[i] = 0.0
                book[h] = book[n_held - 1]
                n_held -= 1
            else:
                h += 1
        if t >= next_settle:
            next_settle = n_t
            for h in range(n_held):
                if settle_row[book[h]] < next_settle:
                    next_settle = settle_row[book[h]]
        if is_trade:
            # 2) NAV at the fill prices (a held name without one keeps its last valuation)
            v = cash
            for h in range(n_held):
                i = book[h]
                p = entry[t, i]
                val[i] = lastp[i] if np.isnan(p) else p
                v += units[i] * val[i]
            # 3) the names to decide on: the held ones and the targets (sorted, sparse)
            n_c = 0
            for h in range(n_held):
                i = book[h]
                cand[n_c] = i
                is_cand[i] = True
                n_c += 1
            for j in range(indptr[k], indptr[k + 1]):
                i = tgt_idx[j]
                target[i] = tgt_w[j]
                if not is_cand[i]:
                    cand[n_c] = i
                    is_cand[i] = True
                    n_c += 1
            cand[:n_c] = np.sort(cand[:n_c])
            # free names trade to target, locked ones keep their units
            locked_long = 0.0
            locked_short = 0.0
            free_long = 0.0
            free_short = 0.0
            for c_ in range(n_c):
                i = cand[c_]
                tgt = target[i]
                held = units[i] != 0.0
                state[i] = 2
                if not held and tgt == 0.0:
                    continue
                if difference and held and tgt * units[i] > 0.0:
                    continue  # a held target name: left untouched
                cur = units[i] * val[i] / v if held else 0.0
                state[i] = 0
                if held and np.isnan(entry[t, i]):
                    state[i] = 1  # suspended
                    if tgt > cur:
                        blocked_buys[k] += 1
                    elif tgt < cur:
                        blocked_sells[k] += 1
                elif tgt < cur and not can_sell[t, i]:
                    state[i] = 1  # limit-down (or delisted): cannot sell
                    blocked_sells[k] += 1
                elif tgt > cur and not can_buy[t, i]:
                    state[i] = 1  # limit-up / no price: cannot buy
                    blocked_buys[k] += 1
                if state[i] == 1:
                    if cur > 0.0:
                        locked_long += cur
                    else:
                        locked_short += cur
                elif tgt > 0.0:
                    free_long += tgt
                else:
                    free_short += tgt
            long_mult = 0.0
            short_mult = 0.0
            if not difference:
                if free_long > 0.0:
                    long_mult = max(1.0 - locked_long, 0.0) / free_long
                if free_short < 0.0:
                    short_mult = max(1.0 + locked_short, 0.0) / -free_short
            else:
                long_mult = 1.0
                short_mult = 1.0
            n_buys = 0
            traded = 0.0
            c_reb = 0.0
            # 4) orders; sells first
            for c_ in range(n_c):
                i = cand[c_]
                du[i] = 0.0
                if state[i] != 0:
                    continue
                tgt = target[i]
                p = entry[t, i]
                new_w = tgt * (long_mult if tgt > 0.0 else short_mult)
                target_units = new_w * v * (1.0 - cash_buffer) / p if new_w != 0.0 else 0.0
                d = target_units - units[i]
                if target_units != 0.0:
                    d = _lot_units_nb(d, adj[t, i], lot[i])
                if d == 0.0 or abs(d * p) <= 1e-12 * abs(v):
                    continue
                du[i] = d
                if d > 0.0:
                    buys[n_buys] = i
                    n_buys += 1
                    continue
                value = -d * p
                c, s, sl = _order_cost_nb(
                    value, commission, min_commission, stamp[t] if stamp_on[i] else 0.0, slippage
                )
                cash += value - c - s - sl
                c_reb += c + s + sl
                traded += value
                units[i] = 0.0 if target_units == 0.0 else units[i] + d
                if m == ti.shape[0]:
                    ti = _grow_nb(ti, 2 * m)
                    tf = _grow_nb(tf, 2 * m)
                ti[m, 0] = k
                ti[m, 1] = t
                ti[m, 2] = i
                ti[m, 3] = SIDE_SELL
                ti[m, 4] = t
                ti[m, 5] = 1 if units[i] == 0.0 else 0
                tf[m, 0] = d
                tf[m, 1] = p
                tf[m, 2] = value
                tf[m, 3] = c
                tf[m, 4] = s
                tf[m, 5] = sl
                m += 1
            # 5) buys, scaled to the cash in a long-only book
            scale = 1.0
            if long_only and n_buys > 0:
                for _ in range(200):
                    total = 0.0
                    for b in range(n_buys):
                        i = buys[b]
                        q = _lot_units_nb(scale * du[i], adj[t, i], lot[i])
                        value = q * entry[t, i]
                        if value > 0.0:
                            c, s, sl = _order_cost_nb(
                                value, commission, min_commission, 0.0, slippage
                            )
                            total += value + c + sl
                    if total <= cash * (1.0 + 1e-12) or total == 0.0:
                        break
                    if cash <= 0.0:
                        scale = 0.0
                        continue
                    scale *= min(cash / total, 1.0 - 1e-12)
            scale_out[k] = scale
            for b in range(n_buys):
                i = buys[b]
                q = du[i] if scale == 1.0 else _lot_units_nb(scale * du[i], adj[t, i], lot[i])
                p = entry[t, i]
                value = q * p
                if value <= 0.0:
                    continue
                c, s, sl = _order_cost_nb(value, commission, min_commission, 0.0, slippage)
                cash -= value + c + sl
                c_reb += c + sl
                traded += value
                units[i] += q
                if m == ti.shape[0]:
                    ti = _grow_nb(ti, 2 * m)
                    tf = _grow_nb(tf, 2 * m)
                ti[m, 0] = k
                ti[m, 1] = t
                ti[m, 2] = i
                ti[m, 3] = SIDE_BUY
                ti[m, 4] = t
                ti[m, 5] = 1 if units[i] == 0.0 else 0
                tf[m, 0] = q
                tf[m, 1] = p
                tf[m, 2] = value
                tf[m, 3] = c
                tf[m, 4] = 0.0
                tf[m, 5] = sl
                m += 1
            if long_only and cash < 0.0 and cash > -1e-9 * abs(v):
                cash = 0.0  # rounding of a fully invested book
            turnover[t] = traded / 2.0 / v if v != 0.0 else 0.0
            reb_cost[k] = c_reb
            day_cost += c_reb
            # 6) the new book, valued at this close
            n_held = 0
            next_settle = n_t
            for c_ in range(n_c):
                i = cand[c_]
                target[i] = 0.0
                is_cand[i] = False
                if units[i] == 0.0:
                    continue
                book[n_held] = i
                n_held += 1
                if settle_row[i] < next_settle:
                    next_settle = settle_row[i]
                if not np.isnan(entry[t, i]):
                    lastp[i] = entry[t, i]
        # 7) mark at the close (a held name without one keeps its last valuation)
        held_value = 0.0
        gross_value = 0.0
        for h in range(n_held):
            i = book[h]
            p = close[t, i]
            if not np.isnan(p):
                lastp[i] = p
            if any_carry and carry[i] > 0.0:  # a fund's fee accrues in its NAV: the units shrink
                day_cost += abs(units[i] * lastp[i]) * carry[i]
                units[i] *= 1.0 - carry[i]
            value = units[i] * lastp[i]
            held_value += value
            gross_value += abs(value)
        nav[t] = cash + held_value
        cash_out[t] = cash
        cost[t] = day_cost
        exposure[t] = gross_value / nav[t] if nav[t] != 0.0 else np.nan
        if is_trade:
            held_after[k] = n_held
            for h in range(n_held):
                i = book[h]
                if n_p == pi.shape[0]:
                    pi = _grow_nb(pi, 2 * n_p)
                    pf = _grow_nb(pf, 2 * n_p)
                pi[n_p, 0] = k
                pi[n_p, 1] = t
                pi[n_p, 2] = i
                pf[n_p, 0] = units[i]
                pf[n_p, 1] = units[i] * lastp[i]
                n_p += 1
            k += 1
    return (
        nav,
        cash_out,
        cost,
        turnover,
        exposure,
        blocked_buys,
        blocked_sells,
        held_after,
        scale_out,
        reb_cost,
        ti[:m],
        tf[:m],
        pi[:n_p],
        pf[:n_p],
        units,
        lastp,
    )


@njit(cache=True, nogil=True)
def round_trips_nb(
    asset, row, closes, units, value, cost, final_units, final_price
):  # pragma: no cover
    """Round trips of a trade list sorted by asset, then time: a trip opens when an asset's
    position leaves 0 and closes when it returns to 0. Returns int (K, 4) [asset, entry_row,
    exit_row (-1 if open), direction (+1 long, -1 short)] and float (K, 3) [pnl (yuan, after
    costs; an open trip marked at `final_price`), invested (buy value of a long, sell value of
    a short), costs]."""
    m = asset.shape[0]
    oi = np.empty((m, 4), np.int64)
    of = np.empty((m, 3))
    n = 0
    j = 0
    while j < m:
        a = asset[j]
        flows = 0.0
        invested = 0.0
        costs = 0.0
        open_ = False
        while j < m and asset[j] == a:
            if not open_:
                open_ = True
                oi[n, 0] = a
                oi[n, 1] = row[j]
                oi[n, 3] = 1 if units[j] > 0 else -1
                flows = 0.0
                invested = 0.0
                costs = 0.0
            sgn = 1.0 if units[j] > 0 else -1.0
            flows -= sgn * value[j] + cost[j]
            costs += cost[j]
            if sgn * oi[n, 3] > 0:
                invested += value[j]
            if closes[j]:
                oi[n, 2] = row[j]
                of[n, 0] = flows
                of[n, 1] = invested
                of[n, 2] = costs
                n += 1
                open_ = False
            j += 1
        if open_:
            oi[n, 2] = -1
            of[n, 0] = flows + final_units[a] * final_price[a]
            of[n, 1] = invested
            of[n, 2] = costs
            n += 1
    return oi[:n], of[:n]
