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
    """The open :func:`reuse_freed` blocks of the process, counted behind a lock: the first to
    open switches, the last to close switches back (inside the lock, so a block opening while
    the last one closes waits for the switch back and then switches again)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0

    def open(self, switch: Callable[[], None]) -> None:
        with self._lock:
            self._depth += 1
            if self._depth == 1:
                switch()

    def close(self, switch_back: Callable[[], None]) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0:
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

    def switch_back() -> None:
        libc.mallopt(_M_MMAP_THRESHOLD, _DEFAULT_THRESHOLD)
        libc.mallopt(_M_TRIM_THRESHOLD, _DEFAULT_THRESHOLD)
        libc.malloc_trim(0)

    _NESTING.open(switch)
    try:
        yield True
    finally:
        _NESTING.close(switch_back)
