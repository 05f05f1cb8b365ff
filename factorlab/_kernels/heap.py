"""Keep freed memory in the process for a large run (the generator), handed back after.

glibc's ``malloc`` serves every allocation above its mmap threshold (128 KiB, growing to at most
32 MiB) with a fresh ``mmap`` and gives it back to the system at ``free``. A date x asset grid of
the default preset is 87 MB, so each of the generator's temporaries faults in every page anew:
one minor fault and one zeroed page per 4 KiB (with :func:`~factorlab._kernels.parallel.
small_pages`), about 3.7 million faults and half of a default generation's wall time spent in
the kernel. :func:`reuse_freed` raises the threshold and the heap's trim threshold for the run,
so a freed grid's pages are reused by the next one without a fault, and trims the heap at the
end. The values computed are unchanged: only where the bytes live.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["reuse_freed"]

#: mallopt's parameters (glibc's malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: glibc's defaults, restored after the run
_DEFAULT_THRESHOLD = 128 * 1024
#: the largest value mallopt takes (an int): allocations up to 2 GiB come from the heap
_HIGH = 2**31 - 1


class _Nesting:
    """The open :func:`reuse_freed` blocks of the process, counted per thread behind a lock:
    the first to open switches, the last to close switches back (inside the lock, so a block
    opening while the last one closes waits for the switch back and then switches again)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[int, int] = {}  # thread ident -> its open blocks

    def open(self, switch: Callable[[], None]) -> None:
        with self._lock:
            first = not self._open
            me = threading.get_ident()
            self._open[me] = self._open.get(me, 0) + 1
            if first:
                switch()

    def close(self, switch_back: Callable[[], None]) -> None:
        with self._lock:
            me = threading.get_ident()
            left = self._open[me] - 1
            if left:
                self._open[me] = left
            else:
                del self._open[me]
            if not self._open:
                switch_back()

    def after_fork_in_child(self, switch_back: Callable[[], None]) -> None:
        """Only the forking thread lives on in a forked child: the blocks the parent's other
        threads held open never close there, and a lock one of them held is never released.
        Keep the forking thread's own blocks (it closes them); switch back if none is left."""
        self._lock = threading.Lock()
        me = threading.get_ident()
        held = bool(self._open)
        self._open = {me: self._open[me]} if me in self._open else {}
        if held and not self._open:
            switch_back()


#: one count per process (the thresholds it guards are the process's): never rebound
_NESTING = _Nesting()


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
    except OSError:  # pragma: no cover - no C library to load
        return None
    if not (hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim")):
        return None  # pragma: no cover - not glibc (macOS, musl without mallopt)
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    libc.malloc_trim.argtypes = [ctypes.c_size_t]
    libc.malloc_trim.restype = ctypes.c_int
    return libc


@contextmanager
def reuse_freed() -> Iterator[bool]:
    """Freed large blocks stay in the heap for reuse while inside; yields whether the switch
    applies (glibc) — a no-op elsewhere. Process-wide; nested uses switch back at the outermost
    exit, which restores glibc's default thresholds and returns the free heap to the system."""
    libc = _libc()
    if libc is None:  # pragma: no cover - not glibc
        yield False
        return

    def switch() -> None:
        libc.mallopt(_M_MMAP_THRESHOLD, _HIGH)
        libc.mallopt(_M_TRIM_THRESHOLD, _HIGH)

    _NESTING.open(switch)
    try:
        yield True
    finally:
        _NESTING.close(lambda: _switch_back(libc))


def _switch_back(libc: ctypes.CDLL | None) -> None:
    """glibc's default thresholds back, and the free heap returned to the system."""
    if libc is None:  # pragma: no cover - not glibc
        return
    libc.mallopt(_M_MMAP_THRESHOLD, _DEFAULT_THRESHOLD)
    libc.mallopt(_M_TRIM_THRESHOLD, _DEFAULT_THRESHOLD)
    libc.malloc_trim(0)


def _after_fork_in_child() -> None:
    _NESTING.after_fork_in_child(lambda: _switch_back(_libc()))


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
