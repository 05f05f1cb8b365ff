"""Run row-independent kernels on every core: the kernels are ``nogil``, so threads share the
grids with no copy and no pickling.

:func:`split_rows` cuts a per-date kernel's grids (inputs and the outputs it writes) into one
block of rows per thread; :func:`map_threads` runs independent calls (one per horizon or lag) on
the threads; :func:`map_row_blocks` cuts each such call into blocks of rows as well (3 horizons
on 2 threads then take 1.5 calls' time, not 2). All run serially when there is one thread, the
grid is small (the threads' start-up would cost more than they save), or the caller is not the
main thread (a sweep already running its units on threads: no nested oversubscription). The
thread count is ``FACTORLAB_THREADS`` (default: the CPUs this process may use). Results are
identical to the serial call: each row is computed by the same code on the same data.

Beside the kernels' threads: :func:`map_in_order` runs long independent calls (books, the
study's ICs) on a pool of their own, and :func:`computed_ahead` computes the next step's input
on a thread of its own while the caller goes on (the generator's noise).
"""

from __future__ import annotations

import itertools
import mmap
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np

__all__ = [
    "KEEP_IDLE",
    "MIN_CELLS",
    "MIN_REGION_BYTES",
    "Later",
    "caller_threads",
    "computed_ahead",
    "empty",
    "map_in_order",
    "map_row_blocks",
    "map_threads",
    "n_threads",
    "release_idle",
    "small_pages",
    "split_rows",
]

#: below this many grid cells per call the work stays on the calling thread
MIN_CELLS = 400_000


def n_threads() -> int:
    """The threads this process may use: ``FACTORLAB_THREADS`` (an integer >= 1) or the CPUs of
    its affinity (``os.cpu_count()`` where there is none). The one home of this count: the
    kernels' row-splitting, ``backtest_many``'s books and a local sweep's units all read it.

    Raises
    ------
    ParameterError
        ``FACTORLAB_THREADS`` is set but is not an integer >= 1.
    """
    env = os.environ.get("FACTORLAB_THREADS", "").strip()
    if env:
        try:
            value = int(env)
        except ValueError:
            value = 0
        if value < 1:
            from factorlab.errors import ParameterError

            raise ParameterError(
                f"environment variable FACTORLAB_THREADS must be an integer >= 1 (the threads "
                f"factorlab may use); got {env!r}. Unset it to use every CPU."
            )
        return value
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover  (not Linux)
        return max(1, os.cpu_count() or 1)


class _Threads:
    """The kernels' thread pool: made at the first call that asks for threads, made anew when
    the count asked for changes (``FACTORLAB_THREADS`` changed), none in a forked child."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._size = 0

    def pool(self, size: int) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None or self._size != size:
                if self._executor is not None:
                    self._executor.shutdown(wait=False)
                self._executor = ThreadPoolExecutor(size, thread_name_prefix="factorlab-kernel")
                self._size = size
            return self._executor

    @property
    def started(self) -> bool:
        """Whether a pool exists (a forked child has none until it asks)."""
        return self._executor is not None

    def after_fork_in_child(self) -> None:
        """A forked child has none of the parent's threads: the parent's pool has no workers
        there, and a lock one of them held at the fork would never be released."""
        self._lock = threading.Lock()
        self._executor, self._size = None, 0


#: arrays of at least this many bytes get their own region in :func:`empty`
MIN_REGION_BYTES = 1 << 22
#: bytes of idle output regions :func:`empty` keeps for reuse (see there)
KEEP_IDLE = 512 << 20

#: private anonymous pages where the platform names them (Linux, macOS); mmap's default elsewhere
_MAP_FLAGS = (
    {"flags": mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS}
    if hasattr(mmap, "MAP_PRIVATE") and hasattr(mmap, "MAP_ANONYMOUS")
    else {}
)


def _refs(regions: list, i: int) -> int:
    """``sys.getrefcount`` of ``regions[i]``, read the same way by every caller (an index, no
    local name bound to the region), so that a region no array uses reads :data:`_IDLE_REFS`."""
    return sys.getrefcount(regions[i])


def _idle_refs() -> int | None:
    """What :func:`_refs` reads for an object only its list holds, measured on this interpreter
    (the count depends on how the interpreter borrows references); None, and no reuse, if one
    more holder does not read as one more."""
    probe = [bytearray(1)]
    alone = _refs(probe, 0)
    held = probe[0]
    counted = _refs(probe, 0) == alone + 1
    del held
    return alone if counted else None


#: :func:`_refs` of a kept region no array uses (None: reuse off on this interpreter)
_IDLE_REFS = _idle_refs()


class _Regions:
    """The output regions :func:`empty` keeps (oldest first) and the lock their users take."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.kept: list[mmap.mmap] = []

    def take(self, size: int) -> mmap.mmap:
        """An idle kept region of `size` bytes (the oldest), else a new one; the idle regions
        beyond :data:`KEEP_IDLE` bytes go back to the system (the oldest first)."""
        with self.lock:
            kept = self.kept
            region = None
            idle = []
            for i in range(len(kept)):
                if _refs(kept, i) <= _IDLE_REFS:
                    if region is None and len(kept[i]) == size:
                        region = kept[i]
                    else:
                        idle.append(i)
            if region is None:
                region = mmap.mmap(-1, size, **_MAP_FLAGS)
                kept.append(region)
            idle_bytes = sum(len(kept[i]) for i in idle)
            drop = set()
            for i in idle:  # oldest first
                if idle_bytes <= KEEP_IDLE:
                    break
                idle_bytes -= len(kept[i])
                drop.add(i)
            if drop:
                kept[:] = [r for i, r in enumerate(kept) if i not in drop]
            return region

    def release_idle(self) -> int:
        """Drop every idle region; returns the bytes freed."""
        with self.lock:
            kept = self.kept
            busy = {i for i in range(len(kept)) if _refs(kept, i) > _IDLE_REFS}
            freed = sum(len(kept[i]) for i in range(len(kept)) if i not in busy)
            kept[:] = [kept[i] for i in sorted(busy)]
        return freed

    def after_fork_in_child(self) -> None:
        """A lock a parent's thread held at the fork would never be released in the child."""
        self.lock = threading.Lock()


#: The process's kernel threads and kept output regions. A process has one set of CPUs and one
#: address space, so there is one of each per process; their state lives in these two objects
#: (each behind its own lock), which the module never rebinds.
_THREADS = _Threads()
_REGIONS = _Regions()


def _after_fork_in_child() -> None:
    _THREADS.after_fork_in_child()
    _REGIONS.after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def empty(shape: tuple[int, ...], dtype=np.float64) -> np.ndarray:
    """An uninitialized array for a kernel's output grid, in plain anonymous memory pages,
    reused from an earlier grid of the same size once no array uses that one any more.

    numpy asks the kernel for transparent huge pages on large arrays (``madvise``); where the
    kernel compacts memory synchronously on such a fault (``defrag=madvise``, the common
    default) and memory is fragmented (a long-running box with a full page cache), the first
    write to a fresh grid stalls for up to several times the kernel's own run. An anonymous
    private ``mmap`` is not advised: its pages fault in as ordinary pages, on whichever thread
    writes them first. Each fresh page still costs a fault and zeroing (about 0.3 ms a MB, a
    quarter of a warm single-factor run at L), so the regions are kept: a region is idle when
    no array refers to it (its reference count; every view and every Polars series made from
    the array holds it), and the next grid of the same byte size takes an idle region whole,
    pages already in memory. At most :data:`KEEP_IDLE` bytes of idle regions are kept (the
    oldest beyond it go back to the system at the next call); the contents of a reused region
    are whatever its last user wrote, as an ``np.empty``'s may be. Arrays under
    :data:`MIN_REGION_BYTES` use ``np.empty``. The cap applies when a grid is asked for, not
    when one is freed: between calls the idle regions are what was last in use, so the kept
    memory adds at most :data:`KEEP_IDLE` to the peak of the grids in use. (The generator's
    temporaries, plain ``np.empty`` arrays, are kept in the heap by
    :func:`factorlab._kernels.heap.reuse_freed` for one run instead: this is the kernels'
    output grids, reused across runs.)
    """
    dtype = np.dtype(dtype)
    size = int(np.prod(shape)) * dtype.itemsize
    if size < MIN_REGION_BYTES:
        return np.empty(shape, dtype)
    if _IDLE_REFS is None:  # pragma: no cover - an interpreter whose counts cannot tell
        return np.frombuffer(mmap.mmap(-1, size, **_MAP_FLAGS), dtype).reshape(shape)
    return np.frombuffer(_REGIONS.take(size), dtype).reshape(shape)


def release_idle() -> int:
    """Give every idle region :func:`empty` keeps back to the system; returns the bytes freed."""
    if _IDLE_REFS is None:  # pragma: no cover - nothing is kept
        return 0
    return _REGIONS.release_idle()


@contextmanager
def small_pages() -> Iterator[None]:
    """numpy's transparent-huge-page advice off for a large run (the study, the generator),
    restored after.

    numpy asks the kernel for huge pages on every array of 4 MB or more. Where the kernel's THP
    ``defrag`` setting is ``madvise`` (a common default), each first touch of such an array may
    compact memory synchronously, and every fresh huge page is zeroed whole at its first touch.
    The study and the generator allocate GBs of fresh grids that are streamed once or twice, so
    huge pages buy nothing there and cost system time: on the ``large`` preset 4-6 s of the
    study's (the hygiene alone: 8-10 s -> 5.3 s wall, with the same user time); on ``default``'s
    generation half the samples of a profile were the kernel zeroing huge pages
    (``clear_page_erms`` under ``do_huge_pmd_anonymous_page``). :func:`empty` is the same
    choice for one kernel output. The switch is process-wide: nested uses restore in order. A
    no-op where numpy has no such switch.
    """
    core = getattr(np, "_core", None) or getattr(np, "core", None)
    switch = getattr(getattr(core, "multiarray", None), "_set_madvise_hugepage", None)
    if switch is None:  # pragma: no cover - numpy without the switch
        yield
        return
    before = switch(False)
    try:
        yield
    finally:
        switch(before)


def caller_threads() -> int:
    """The threads a call may spread its work over: :func:`n_threads` from the main thread, one
    from any other (the caller is already one of several threads, e.g. a sweep's unit or a book
    of ``backtest_many``: no nested oversubscription). The one home of this rule: the kernels'
    row blocks and ``backtest_many``'s books both follow it."""
    return n_threads() if threading.current_thread() is threading.main_thread() else 1


def map_in_order(func: Callable, items: Sequence, threads: int, *, name: str) -> list:
    """``[func(x) for x in items]`` on at most `threads` threads of a pool of its own (its
    threads named `name`), for independent calls that each run long (books, the study's ICs):
    the results, and the first error, in the order of `items`. In the calling thread when
    `threads` is 1 or there is one item. (Short kernel calls use :func:`map_threads`, whose
    pool is kept for the process.)"""
    n = min(threads, len(items))
    if n <= 1:
        return [func(x) for x in items]
    with ThreadPoolExecutor(max_workers=n, thread_name_prefix=name) as ex:
        return list(ex.map(func, items))


class Later:
    """``fn(*args)`` computed at the first ``result()``: the one-thread stand-in of a future
    (:func:`computed_ahead` with one thread)."""

    def __init__(self, fn: Callable, args: tuple) -> None:
        self._call: tuple[Callable, tuple] | None = (fn, args)
        self._value: object = None

    def result(self) -> object:
        if self._call is not None:
            fn, args = self._call
            self._value, self._call = fn(*args), None
        return self._value


@contextmanager
def computed_ahead(threads: int) -> Iterator[Callable[..., Future | Later]]:
    """``ahead(fn, *args)``: a future of ``fn(*args)``, run on one thread of its own while the
    caller goes on (for work that releases the GIL, such as numpy's draws), so the next step's
    input is ready when the caller asks for it. With `threads` < 2 (the caller may use one
    thread: ``FACTORLAB_THREADS=1``, or a call off the main thread, :func:`caller_threads`)
    nothing runs ahead: ``fn(*args)`` is computed at ``result()``, in
    the caller's thread and order. Either way ``result()`` returns the value or raises the
    call's error there. On an error in the block, the calls not started are cancelled and the
    running one is waited for (its result dropped). The one home of this pattern (the
    generator draws its noise with it)."""
    if threads < 2:
        yield lambda fn, *args: Later(fn, args)
        return
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="factorlab-ahead")
    try:
        yield pool.submit
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _workers(cells: int) -> int:
    return 1 if cells < MIN_CELLS else caller_threads()


def map_threads(func: Callable, items: Sequence, cells: int) -> list:
    """``[func(x) for x in items]``, on the threads when each call covers ``cells`` cells."""
    workers = min(_workers(cells), len(items))
    if workers <= 1:
        return [func(x) for x in items]
    return list(_THREADS.pool(n_threads()).map(func, items))


def map_row_blocks(func: Callable, items: Sequence, n_rows: int, cells: int) -> None:
    """``func(x, lo, hi)`` for every item and every block ``[lo, hi)`` of ``n_rows`` rows, on the
    threads when each item covers ``cells`` cells (one block per thread), else ``func(x, 0,
    n_rows)`` in turn. ``func`` writes rows ``lo:hi`` of its item's output and reads anything."""
    workers = min(_workers(cells), n_rows)
    if workers <= 1:
        for x in items:
            func(x, 0, n_rows)
        return
    edges = np.linspace(0, n_rows, workers + 1).astype(np.int64)
    jobs = [(x, int(lo), int(hi)) for x in items for lo, hi in itertools.pairwise(edges)]
    for _ in _THREADS.pool(n_threads()).map(lambda job: func(*job), jobs):
        pass


def split_rows(
    kernel: Callable,
    args: Sequence,
    rows: Sequence[int],
    n_rows: int,
    n_cols: int,
    scratch: Callable[[], tuple] | None = None,
) -> None:
    """``kernel(*args, *scratch())`` block by block of rows on the threads.

    ``rows`` are the positions of the arguments indexed by row, inputs and the outputs the
    kernel writes (each block gets the views ``[lo:hi]``, so the blocks fill the caller's
    arrays in place: nothing to stack, no allocation on the threads); the others are passed
    whole. ``scratch()`` makes one block's work buffers. The kernel must compute each row from
    that row alone.
    """
    extra = scratch if scratch is not None else tuple
    if min(_workers(n_rows * n_cols), n_rows) <= 1:
        kernel(*args, *extra())  # the arguments whole, not as views
        return

    def run(_: None, lo: int, hi: int) -> None:
        kernel(*(a[lo:hi] if i in rows else a for i, a in enumerate(args)), *extra())

    map_row_blocks(run, (None,), n_rows, n_rows * n_cols)
