"""The participant split's per-row work (CCASS holdings, tens of millions of rows) as streaming
passes over the date-sorted rows: share changes, per-participant daily aggregates and per-kind
flows, with no per-row output arrays."""

from __future__ import annotations

import numpy as np

from factorlab._kernels.jit import njit

__all__ = ["first_rows_nb", "participant_changes_nb", "participant_walk_nb"]


@njit(cache=True, nogil=True)
def participant_changes_nb(
    date_num, aid, pid, shares, lut, lo, ex, pending, has_bonus, close, vwap, n_keys, n_parts
):  # pragma: no cover - compiled
    """The per-row share changes (the ``ParticipantChanges.frame`` columns day, aid, pid,
    shares, d_shares, close, vwap): session lookup (rows off the A-share calendar dropped),
    record-date basis, base shares (/ cumulative ex-date factor), dS against the pair's
    previous-day row (entries: from 0; day 0: NaN), exits (dS = -S the next day, after every
    regular row). The last output is the first row whose (day, participant, asset) key repeats
    an earlier row's, or -1. Keys are ``aid * n_parts + pid``: the rows are (date, asset,
    participant)-sorted, so the key state is walked in order."""
    n = len(date_num)
    day = np.empty(n, dtype=np.int32)
    base = np.empty(n)
    for r in range(n):
        x = date_num[r] - lo
        d = lut[x] if 0 <= x < len(lut) else -1
        day[r] = d
        a = aid[r]
        b = shares[r]
        if d >= 0 and has_bonus[a]:
            b = np.round(b / pending[d, a]) / ex[d, a]
        base[r] = b
    last_day = np.full(n_keys, -1, dtype=np.int32)
    last_base = np.zeros(n_keys)
    d_base = np.empty(n)
    is_exit = np.zeros(n, dtype=np.bool_)
    n_exit = 0
    first_dup = -1
    start = 0
    while start < n:
        today = day[start]
        stop = start
        while stop < n and date_num[stop] == date_num[start]:
            stop += 1
        if today >= 0:
            for r in range(start, stop):
                k = aid[r] * n_parts + pid[r]
                if today == 0:
                    d_base[r] = np.nan
                elif last_day[k] == today - 1:
                    d_base[r] = base[r] - last_base[k]
                else:
                    d_base[r] = base[r]
            for r in range(start, stop):
                k = aid[r] * n_parts + pid[r]
                if last_day[k] == today and first_dup < 0:
                    first_dup = r
                last_day[k] = today
                last_base[k] = base[r]
        start = stop
    # exits: a pair seen on day d and not on d + 1 (last_day after d+1's rows is still d)
    start = 0
    n_days = ex.shape[0]
    while start < n:
        today = day[start]
        stop = start
        while stop < n and date_num[stop] == date_num[start]:
            stop += 1
        if 0 <= today < n_days - 1:
            for r in range(start, stop):
                k = aid[r] * n_parts + pid[r]
                if last_day[k] == today:  # never seen again
                    is_exit[r] = True
                    n_exit += 1
        start = stop
    # rows whose pair reappears later but skips d + 1 are exits too: mark in a second sweep
    seen_next = np.full(n_keys, -1, dtype=np.int32)
    stop = n
    while stop > 0:
        start = stop - 1
        while start > 0 and date_num[start - 1] == date_num[stop - 1]:
            start -= 1
        today = day[start]
        if 0 <= today < n_days - 1:
            for r in range(start, stop):
                k = aid[r] * n_parts + pid[r]
                if seen_next[k] > today + 1 and not is_exit[r]:
                    is_exit[r] = True
                    n_exit += 1
        if today >= 0:
            for r in range(start, stop):
                seen_next[aid[r] * n_parts + pid[r]] = today
        stop = start
    m = 0
    for r in range(n):
        if day[r] >= 0:
            m += 1
    total = m + n_exit
    o_day = np.empty(total, dtype=np.int32)
    o_aid = np.empty(total, dtype=np.int32)
    o_pid = np.empty(total, dtype=np.int32)
    o_sh = np.empty(total)
    o_ds = np.empty(total)
    o_close = np.empty(total)
    o_vwap = np.empty(total)
    j = 0
    for r in range(n):
        d = day[r]
        if d < 0:
            continue
        a = aid[r]
        f = ex[d, a] if has_bonus[a] else 1.0
        o_day[j], o_aid[j], o_pid[j] = d, a, pid[r]
        o_sh[j] = base[r] * f
        o_ds[j] = d_base[r] * f
        o_close[j] = close[d, a]
        o_vwap[j] = vwap[d, a]
        j += 1
    for r in range(n):
        if not is_exit[r]:
            continue
        d = day[r] + 1
        a = aid[r]
        f = ex[d, a] if has_bonus[a] else 1.0
        o_day[j], o_aid[j], o_pid[j] = d, a, pid[r]
        o_sh[j] = 0.0
        o_ds[j] = -base[r] * f
        o_close[j] = close[d, a]
        o_vwap[j] = vwap[d, a]
        j += 1
    return o_day, o_aid, o_pid, o_sh, o_ds, o_close, o_vwap, first_dup


@njit(cache=True, nogil=True)
def participant_walk_nb(
    date_num,
    aid,
    pid,
    shares,
    lut,
    lo,
    ex,
    pending,
    has_bonus,
    close,
    vwap,
    n_parts,
    kind,
    do_daily,
    value,
    stocks,
    traded,
    present,
    flows,
    touched,
):  # pragma: no cover - compiled
    """One streaming pass over the rows of :func:`participant_changes_nb` (same rows, same
    values), accumulating instead of writing them out. ``do_daily``: per (day, participant)
    value = sum(S * close), stocks = count(S > 0), traded = sum(|dS| * VWAP) and whether any
    row exists (``present``), summed in the order ``participant_daily``'s group_by meets them.
    Else: ``flows[kind, day, asset]`` += dS * VWAP (null -> 0) with ``kind[day, participant]``
    and ``touched[day, asset]``, the same additions in the same order per cell as
    ``np.bincount`` over the changes frame (a cell's regular rows, then its exits). Returns the
    first row whose key repeats an earlier row's, or -1."""
    n = len(date_num)
    n_keys = ex.shape[1] * n_parts
    longest = 0  # the largest day's row count: the size of the two per-day base buffers
    start = 0
    while start < n:
        stop = start
        while stop < n and date_num[stop] == date_num[start]:
            stop += 1
        longest = max(longest, stop - start)
        start = stop
    cur_base = np.empty(longest)
    prev_base = np.empty(longest)
    last_day = np.full(n_keys, -1, dtype=np.int32)
    last_base = np.zeros(n_keys)
    first_dup = -1
    prev_start, prev_stop, prev_day = 0, 0, -1
    start = 0
    while start < n:
        stop = start
        while stop < n and date_num[stop] == date_num[start]:
            stop += 1
        x = date_num[start] - lo
        today = lut[x] if 0 <= x < len(lut) else -1
        if today < 0:  # not an A-share session: dropped
            start = stop
            continue
        # phase 0: today's rows against the state before them; phase 1: the exits of the
        # previous session's rows (their pair has no row today), after today's update
        for phase in range(2):
            if phase == 0:
                r0, r1 = start, stop
            else:
                for r in range(start, stop):
                    k = aid[r] * n_parts + pid[r]
                    if last_day[k] == today and first_dup < 0:
                        first_dup = r
                    last_day[k] = today
                    last_base[k] = cur_base[r - start]
                if prev_day < 0 or prev_day != today - 1:
                    break
                r0, r1 = prev_start, prev_stop
            for r in range(r0, r1):
                a = aid[r]
                p = pid[r]
                k = a * n_parts + p
                f = ex[today, a] if has_bonus[a] else 1.0
                if phase == 0:
                    # inlined by hand (a helper taking arrays costs a refcount per call)
                    b = shares[r]
                    if has_bonus[a]:
                        b = np.round(b / pending[today, a]) / ex[today, a]
                    cur_base[r - start] = b
                    if today == 0:
                        db = np.nan
                    elif last_day[k] == today - 1:
                        db = b - last_base[k]
                    else:
                        db = b
                    sh = b * f
                    ds = db * f
                else:
                    if last_day[k] != prev_day:
                        continue
                    sh = 0.0
                    ds = -prev_base[r - prev_start] * f
                v = vwap[today, a]
                if do_daily:
                    c = close[today, a]
                    if c == c:
                        value[today, p] += sh * c
                    if sh > 0:
                        stocks[today, p] += 1
                    y = abs(ds) * v
                    if y == y:
                        traded[today, p] += y
                    present[today, p] = True
                else:
                    y = ds * v
                    if y != y:
                        y = 0.0
                    flows[kind[today, p], today, a] += y
                    touched[today, a] = True
        prev_start, prev_stop, prev_day = start, stop, today
        cur_base, prev_base = prev_base, cur_base
        start = stop
    return first_dup


@njit(cache=True, nogil=True)
def first_rows_nb(codes, lo, n):  # pragma: no cover - compiled
    """(first, count) of the integer `codes` in [lo, lo + n): ``first[c - lo]`` = the first
    row holding code c (-1: none), ``count[c - lo]`` = its rows, as ``np.unique(codes,
    return_index=True, return_counts=True)`` spread over the range, in one pass."""
    first = np.full(n, -1, dtype=np.int64)
    count = np.zeros(n, dtype=np.int64)
    for i in range(codes.shape[0]):
        c = codes[i] - lo
        if first[c] < 0:
            first[c] = i
        count[c] += 1
    return first, count
