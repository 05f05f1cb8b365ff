"""Row-wise ordering and average ranks on dense date x asset grids.

``row_order_nb`` sorts each row once (a radix sort on order-preserving integer keys, about twice
as fast as ``np.argsort``); ``row_average_ranks_nb`` turns that order into average ranks over any
subset of the row in one linear walk, so a subset never needs a new sort.
"""

from __future__ import annotations

import numpy as np

from factorlab._kernels.jit import njit
from factorlab._kernels.parallel import empty, split_rows

__all__ = [
    "average_ranks",
    "group_tail_flags_nb",
    "row_average_ranks_nb",
    "row_order",
    "row_order_nb",
    "sort_row_nb",
]


@njit(cache=True, nogil=True)
def row_average_ranks_nb(values, order, use, out, buf):
    """Average ranks (1-based, ties share the mean rank) of ``values[use]`` within one row.

    ``order`` sorts the row ascending (invalid cells last, see ``row_order_nb``); ``use`` selects
    a subset of the valid cells, whose ranks are computed among themselves. Equals
    ``scipy.stats.rankdata(values[use], method="average")`` and pandas' ``rank()``. Writes ranks
    into ``out`` at the used positions (others untouched); ``buf`` is int64 scratch of the row's
    length. Returns the number of used cells.
    """
    k = 0
    for i in range(order.shape[0]):
        j = order[i]
        if use[j]:
            buf[k] = j
            k += 1
    i = 0
    while i < k:
        x = values[buf[i]]
        e = i + 1
        while e < k and values[buf[e]] == x:
            e += 1
        r = (i + 1 + e) / 2.0
        for m in range(i, e):
            out[buf[m]] = r
        i = e
    return k


def average_ranks(values, order, mask):
    """Per-row average ranks of the cells in ``mask`` (NaN elsewhere), float64 (T, N).

    Equals alphalens' ``factor_data.groupby(level="date")["factor"].rank()`` pivoted to
    date x asset, the ranks used by ``factor_rank_autocorrelation``. Blocks of rows run on the
    threads (:func:`factorlab._kernels.parallel.split_rows`).
    """
    n_rows, n_cols = values.shape
    out = empty((n_rows, n_cols))
    split_rows(
        _average_ranks_rows_nb,
        (values, order, mask, out),
        (0, 1, 2, 3),
        n_rows,
        n_cols,
        lambda: (np.empty(n_cols, np.int64),),
    )
    return out


@njit(cache=True, nogil=True)
def _average_ranks_rows_nb(values, order, mask, out, buf):
    """:func:`average_ranks` into ``out``; ``buf`` is int64 scratch of a row's length."""
    n_rows, n_cols = values.shape
    for t in range(n_rows):
        for j in range(n_cols):
            out[t, j] = np.nan
        row_average_ranks_nb(values[t], order[t], mask[t], out[t], buf)


@njit(cache=True, nogil=True)
def _radix_pass_nb(src_k, src_i, dst_k, dst_i, n, counts, shift):
    """One stable counting-sort pass on the byte of the keys at ``shift``; counts is (256,)."""
    acc = 0
    for v in range(256):
        c = counts[v]
        counts[v] = acc
        acc += c
    for i in range(n):
        b = src_k[i]
        v = (b >> shift) & np.uint64(255)
        p = counts[v]
        counts[v] = p + 1
        dst_k[p] = b
        dst_i[p] = src_i[i]


@njit(cache=True, nogil=True)
def _radix_sort_nb(keys, idx, tmp_k, tmp_i, n, hist, first_byte):
    """LSD radix sort of ``keys[:n]`` (uint64) carrying ``idx``, on bytes ``first_byte..7``
    (``first_byte`` 4 or 0);
    passes where every key has the same byte are skipped. Result left in ``keys`` / ``idx``."""
    for d in range(8):
        for v in range(256):
            hist[d, v] = 0
    # constant trip counts, so the byte loop is unrolled (``first_byte`` is 4 or 0)
    if first_byte == 4:
        for i in range(n):
            b = keys[i]
            for d in range(4, 8):
                hist[d, (b >> np.uint64(8 * d)) & np.uint64(255)] += 1
    else:
        for i in range(n):
            b = keys[i]
            for d in range(8):
                hist[d, (b >> np.uint64(8 * d)) & np.uint64(255)] += 1
    src_k, src_i, dst_k, dst_i = keys, idx, tmp_k, tmp_i
    swapped = False
    for d in range(first_byte, 8):
        trivial = False
        for v in range(256):
            if hist[d, v] == n:
                trivial = True
                break
        if trivial:
            continue
        _radix_pass_nb(src_k, src_i, dst_k, dst_i, n, hist[d], np.uint64(8 * d))
        src_k, dst_k = dst_k, src_k
        src_i, dst_i = dst_i, src_i
        swapped = not swapped
    if swapped:
        for i in range(n):
            keys[i] = tmp_k[i]
            idx[i] = tmp_i[i]


@njit(cache=True, nogil=True)
def _insertion_fixup_nb(keys, idx, n, budget):
    """Finish sorting nearly sorted ``keys[:n]`` in place; False if it needs > ``budget`` moves."""
    moves = 0
    for i in range(1, n):
        b = keys[i]
        if keys[i - 1] > b:
            ii = idx[i]
            k = i - 1
            while k >= 0 and keys[k] > b:
                keys[k + 1] = keys[k]
                idx[k + 1] = idx[k]
                k -= 1
                moves += 1
            keys[k + 1] = b
            idx[k + 1] = ii
            if moves > budget:
                return False
    return True


@njit(cache=True, nogil=True)
def row_order_nb(bits, valid, out, keys, keys0, idx, tmp_k, tmp_i, hist):
    """Per-row ascending sort order of the valid cells, invalid cells last, into ``out`` (int32).

    ``bits`` is the float64 value grid viewed as uint64 (``values.view(np.uint64)``); the
    others are scratch: uint64 ``keys``, ``keys0``, ``tmp_k`` and int32 ``idx``, ``tmp_i`` of a
    row's length, int64 ``hist`` (8, 256). :func:`row_order` allocates them.

    An exact argsort (ties in any order) by radix sort on order-preserving uint64 keys of the
    float64 values (sign flipped for positives, all bits for negatives). It first sorts on the
    upper 32 key bits, then finishes with an insertion pass (cells equal in those bits are
    within ~1e-6 relative of each other, rare and adjacent); if that pass needs more than 8n
    moves (values crowded in a narrow range) the row is re-sorted on all 64 bits. About twice as
    fast as ``np.argsort`` on a row of a few thousand values.
    """
    for t in range(bits.shape[0]):
        sort_row_nb(bits[t], valid[t], out[t], keys, keys0, idx, tmp_k, tmp_i, hist)


@njit(cache=True, nogil=True)
def sort_row_nb(bits, ok, row, keys, keys0, idx, tmp_k, tmp_i, hist):
    """One row of :func:`row_order_nb`: the ascending order of the cells ``ok`` of ``bits``
    (one row, uint64 view of float64), the others after them, into ``row`` (int32); the other
    arguments are its scratch."""
    n_cols = bits.shape[0]
    sign = np.uint64(1) << np.uint64(63)
    n = np.int64(0)  # not the literal 0: one specialization of the helpers below
    for j in range(n_cols):
        if ok[j]:
            b = bits[j]
            keys[n] = ~b if b & sign else b | sign
            idx[n] = j
            n += 1
    for i in range(n):
        keys0[i] = keys[i]
    # sort on the upper 4 key bytes and finish by insertion; if that needs too many moves,
    # restore the keys and sort on all 8 (``first`` is a variable, not a literal, so the
    # radix sort is compiled once)
    first = 4
    while True:
        _radix_sort_nb(keys, idx, tmp_k, tmp_i, n, hist, first)
        if first == 0 or _insertion_fixup_nb(keys, idx, n, 8 * n + 64):
            break
        k = 0
        for j in range(n_cols):
            if ok[j]:
                keys[k] = keys0[k]
                idx[k] = j
                k += 1
        first = 0
    for i in range(n):
        row[i] = idx[i]
    k = n
    for j in range(n_cols):
        if not ok[j]:
            row[k] = j
            k += 1


def row_order(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Per-row ascending sort order of the valid cells (invalid cells last), int32 (T, N)."""
    bits = np.ascontiguousarray(values, dtype=np.float64).view(np.uint64)
    valid = np.ascontiguousarray(valid, dtype=np.bool_)
    n_rows, n_cols = bits.shape
    out = empty((n_rows, n_cols), np.int32)

    def scratch():
        u64 = np.empty((3, n_cols), np.uint64)
        i32 = np.empty((2, n_cols), np.int32)
        return u64[0], u64[1], i32[0], u64[2], i32[1], np.empty((8, 256), np.int64)

    split_rows(row_order_nb, (bits, valid, out), (0, 1, 2), n_rows, n_cols, scratch)
    return out


@njit(cache=True, nogil=True)
def group_tail_flags_nb(x, order, offsets, top, is_top, is_bottom):  # pragma: no cover
    """Per row: is ``x`` among the top / bottom `top` fraction of its group? Groups are the
    segments ``order[offsets[g]:offsets[g + 1]]`` of row numbers; NaN is missing (never
    flagged). The rule of Polars' ``rank("min") <= ceil(count * top)`` over the group's
    non-missing values: a value ties in with every equal value (-0.0 equals 0.0)."""
    n_max = 0
    for g in range(offsets.shape[0] - 1):
        n_max = max(n_max, offsets[g + 1] - offsets[g])
    vals = np.empty(n_max)
    rows = np.empty(n_max, dtype=np.int64)
    for g in range(offsets.shape[0] - 1):
        m = 0
        for i in range(offsets[g], offsets[g + 1]):
            v = x[order[i]]
            if not np.isnan(v):
                vals[m] = v
                rows[m] = order[i]
                m += 1
        if m == 0:
            continue
        # rank("min") <= k  <=>  fewer than k names strictly below  <=>  v <= the k-th
        # smallest; likewise for the top with the k-th largest (ties, -0.0 == 0.0, included)
        # the two order statistics by selection (O(m) each), not a sort of the group
        k = min(int(np.ceil(np.float64(m) * top)), m)  # 1 .. m
        low = np.partition(vals[:m], k - 1)[k - 1]
        high = np.partition(vals[:m], m - k)[m - k]
        for i in range(m):
            is_bottom[rows[i]] = vals[i] <= low
            is_top[rows[i]] = vals[i] >= high
