"""The backtester's book loop: target weights -> orders -> fills -> daily marking -> cash.

Accounting in units of the back-adjusted price (raw shares = units x adj_factor) and yuan of
cash. With zero costs, no lots and no cash buffer it equals the weight-drift model of the
retired research simulator day by day (its values are pinned in tests/backtest/test_reference.py).
"""

from __future__ import annotations

import numpy as np

from factorlab._kernels.jit import njit

__all__ = ["backtest_nb", "round_trips_nb", "targets_csr_nb", "trade_costs_nb"]

SIDE_BUY = 1
SIDE_SELL = -1
SIDE_SETTLE = 2


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
def trade_costs_nb(
    side, row, col, units, price, stamp, stamp_on, commission, min_commission, slippage
):  # pragma: no cover - compiled
    """(value, commission, stamp duty, slippage) (M, 4) of a trade list recorded by
    :func:`backtest_nb` (side, fill row, column, units, price): the same per-order formula,
    so each is bit-identical to what the book paid; settlements cost nothing."""
    m = side.shape[0]
    out = np.zeros((m, 4))
    for j in range(m):
        value = abs(units[j]) * price[j]
        out[j, 0] = value
        if side[j] == SIDE_SETTLE:
            continue
        s_rate = stamp[row[j]] if side[j] == SIDE_SELL and stamp_on[col[j]] else 0.0
        c, s, sl = _order_cost_nb(value, commission, min_commission, s_rate, slippage)
        out[j, 1] = c
        out[j, 2] = s
        out[j, 3] = sl
    return out


@njit(cache=True, nogil=True)
def targets_csr_nb(rows, cols, w, n_t, n_a, offset, long_short):  # pragma: no cover - compiled
    """Located target rows (grid row, column, weight) as CSR rebalances, in one pass.

    Returns ``status`` (0 ok; 1: two rows on one (date, asset) cell, ``bad`` is one of them;
    2: a long-short date with one leg only, ``bad`` is one of its rows), ``bad``, the signal
    rows (sorted, every date with a row), whether each is executed (its fill row
    ``row + offset`` is on the grid), and for the executed ones ``indptr`` (R + 1), columns and
    weights normalized per date (long-only to sum 1; long-short longs to +1, shorts to -1),
    zero weights dropped, in the frame's row order within each date."""
    n = rows.shape[0]
    start = np.zeros(n_t + 1, np.int64)
    for j in range(n):
        start[rows[j] + 1] += 1
    n_sig = 0
    for r in range(n_t):
        if start[r + 1] > 0:
            n_sig += 1
        start[r + 1] += start[r]
    fill = start[:n_t].copy()
    order = np.empty(n, np.int64)
    for j in range(n):  # a stable counting sort by row
        order[fill[rows[j]]] = j
        fill[rows[j]] += 1
    sig_rows = np.empty(n_sig, np.int64)
    executed = np.zeros(n_sig, np.bool_)
    indptr = np.zeros(n_sig + 1, np.int64)
    out_c = np.empty(n, np.int64)
    out_w = np.empty(n)
    stamp = np.full(n_a, -1, np.int64)
    s = 0
    k = 0
    q = 0
    for r in range(n_t):
        lo, hi = start[r], start[r + 1]
        if lo == hi:
            continue
        sig_rows[s] = r
        n_long = 0
        n_short = 0
        for p in range(lo, hi):
            j = order[p]
            c = cols[j]
            if stamp[c] == r:
                return 1, j, sig_rows, executed, indptr, out_c, out_w
            stamp[c] = r
            if w[j] > 0.0:
                n_long += 1
            elif w[j] < 0.0:
                n_short += 1
        if long_short and (n_long > 0) != (n_short > 0):
            return 2, order[lo], sig_rows, executed, indptr, out_c, out_w
        if r + offset < n_t:
            executed[s] = True
            pos = 0.0
            neg = 0.0
            q0 = q
            for p in range(lo, hi):
                j = order[p]
                if w[j] != 0.0:
                    out_c[q] = cols[j]
                    out_w[q] = w[j]
                    q += 1
                    if w[j] > 0.0:
                        pos += w[j]
                    else:
                        neg += w[j]
            neg = -neg
            for p in range(q0, q):
                if out_w[p] > 0.0:
                    out_w[p] = out_w[p] / pos
                elif long_short:
                    out_w[p] = out_w[p] / neg
                else:
                    out_w[p] = 0.0
            k += 1
            indptr[k] = q
        s += 1
    return 0, -1, sig_rows, executed, indptr[: k + 1], out_c[:q], out_w[:q]


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
    trade_cap,
    position_cap,
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
    trades: int32 (M, 6) [k, t, i, side, price_row, closes (position now 0)], float (M, 2)
    [units, price] (value = |units| x price and the costs: :func:`trade_costs_nb`); positions:
    int32 (P, 3) [k, t, i], float (P, 2) [units, value]; final units and last prices (N,);
    ``overflow``: the run stopped early because more than `trade_cap` trades or
    `position_cap` position rows were needed (rerun with more; the other outputs are partial).
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

    # fixed buffers (a buffer reassigned inside the day loop costs ~65 ns a day in refcounting):
    # a run that would overflow them stops and reports it; the caller reruns it with more room
    ti = np.empty((trade_cap, 6), np.int32)
    tf = np.empty((trade_cap, 2))
    m = 0
    pi = np.empty((position_cap, 3), np.int32)
    pf = np.empty((position_cap, 2))
    overflow = False
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
        if h < n_held and m + n_held > trade_cap:
            overflow = True
            break
        while h < n_held:
            i = book[h]
            if settle_row[i] <= t:
                value = units[i] * lastp[i]
                cash += value
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
            if n_c * 16 > n:  # many names: one pass over the markers lists them sorted
                n_c = 0
                for i in range(n):
                    if is_cand[i]:
                        cand[n_c] = i
                        n_c += 1
            else:
                cand[:n_c] = np.sort(cand[:n_c])
            if m + n_c > trade_cap:
                overflow = True
                break
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
                ti[m, 0] = k
                ti[m, 1] = t
                ti[m, 2] = i
                ti[m, 3] = SIDE_SELL
                ti[m, 4] = t
                ti[m, 5] = 1 if units[i] == 0.0 else 0
                tf[m, 0] = d
                tf[m, 1] = p
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
                ti[m, 0] = k
                ti[m, 1] = t
                ti[m, 2] = i
                ti[m, 3] = SIDE_BUY
                ti[m, 4] = t
                ti[m, 5] = 1 if units[i] == 0.0 else 0
                tf[m, 0] = q
                tf[m, 1] = p
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
            if n_p + n_held > position_cap:
                overflow = True
                break
            for h in range(n_held):
                i = book[h]
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
        overflow,
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
