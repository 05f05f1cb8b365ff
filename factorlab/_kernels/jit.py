"""A lazy ``numba.njit``: kernels are defined without importing numba.

``import factorlab`` stays light (numba, and scipy which numba imports, cost ~0.25 s): every
kernel module decorates with this ``njit``, which records the function and its options. The
first call of any kernel imports numba, builds the real dispatcher (``numba.njit(**options)``,
compiled or loaded from the on-disk cache for the argument types of that call, as usual) and
calls it. A kernel called from another kernel is typed as its real dispatcher (a ``typeof``
registered with numba on first use), so kernels call each other as plain numba functions do,
and only the kernels a call reaches are ever compiled.

numba's own start (importing it, then its first typing and target registries, which import
scipy.linalg for a BLAS check: ~0.35 s on a 2-core box) is paid by the first kernel call of the
process. :func:`start_numba` begins it on a thread of its own, so an entry point whose first
step is Polars work (:meth:`~factorlab.evaluate.DensePanel.from_frame`) overlaps the two; the
first kernel then waits only for what is left (the starter takes numba's locks in numba's own
order, so the two threads queue on them).
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
import sys
import threading
from typing import Any

__all__ = ["LazyKernel", "njit", "start_numba"]

log = logging.getLogger(__name__)


@functools.cache
def _register_typeof() -> None:
    """Teach numba that a :class:`LazyKernel` global is its dispatcher (once per process: the
    cache is the record that it was done)."""
    from numba.core import types
    from numba.extending import typeof_impl

    @typeof_impl.register(LazyKernel)
    def _typeof_lazy(val, c):
        return types.Dispatcher(val.dispatcher())


def _start() -> None:
    """Import numba and fill its registries (what the first kernel call would do)."""
    try:
        from numba.core.compiler_lock import global_compiler_lock
        from numba.core.registry import cpu_target

        _register_typeof()
        # numba's own order: the target context first (its property lock, and CPUContext.init
        # takes the compiler lock inside it), then the compiler lock; the other order deadlocks
        # against a first kernel call building its dispatcher on the main thread
        context = cpu_target.target_context
        with global_compiler_lock:  # as numba's own first compile holds it
            context.refresh()
    except Exception:  # pragma: no cover - the first kernel call then raises it in context
        log.debug("starting numba in the background failed", exc_info=True)


class _Starter:
    """The one thread that starts numba (per process), started behind a lock, which the fork
    hooks hold across a fork: no second starter can begin while a fork waits for the first."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        with self.lock:
            if self.thread is None:
                self.thread = threading.Thread(target=_start, name="factorlab-numba-start")
                self.thread.start()

    def before_fork(self) -> None:
        self.lock.acquire()
        thread = self.thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def after_fork_in_parent(self) -> None:
        self.lock.release()

    def after_fork_in_child(self) -> None:
        self.lock = threading.Lock()


#: one starter per process (numba's registries are the process's): never rebound
_STARTER = _Starter()


def start_numba() -> None:
    """Begin numba's one-off start on a thread of its own, unless it has begun; returns at once.

    For an entry point that does Polars work before its first kernel call. A no-op once numba's
    registries are filled (any kernel has run) and where factorlab uses one thread
    (:func:`~factorlab._kernels.parallel.n_threads` is 1: ``FACTORLAB_THREADS=1``, or one CPU).
    A fork waits for the thread first, so a child never inherits numba's import or compiler
    lock held by a thread that does not exist there."""
    if "numba.np.arraymath" in sys.modules:  # the registries are filled (a kernel has run)
        return
    from factorlab._kernels.parallel import n_threads
    from factorlab.errors import ParameterError

    try:
        if n_threads() == 1:
            return
    except ParameterError:  # a bad FACTORLAB_THREADS: the kernels' own call says so
        return
    _STARTER.start()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_STARTER.before_fork,
        after_in_parent=_STARTER.after_fork_in_parent,
        after_in_child=_STARTER.after_fork_in_child,
    )


def _load(module: str, qualname: str) -> LazyKernel:
    """Unpickle a kernel by reference (its module attribute), as functions are."""
    return getattr(importlib.import_module(module), qualname)


class LazyKernel:
    """A numba kernel built on first use; calls, attributes and typing go to the dispatcher."""

    def __init__(self, func, options: dict[str, Any]) -> None:
        functools.update_wrapper(self, func)
        self.py_func = func
        self._options = options
        self._dispatcher = None
        self._built: dict[str, Any] = {}  # the one dispatcher kept, set once

    def dispatcher(self):
        """The ``numba`` dispatcher (imports numba and builds it on the first call).

        Threads that reach a kernel's first call together may each build one, but only the
        first one stored is kept and called (``dict.setdefault`` is atomic): two dispatchers
        would each load (or compile) the same signature, one after the other under numba's
        compiler lock."""
        dispatcher = self._dispatcher
        if dispatcher is None:
            import numba

            _register_typeof()
            built = numba.njit(**self._options)(self.py_func)
            dispatcher = self._built.setdefault("dispatcher", built)
            self._dispatcher = dispatcher
        return dispatcher

    def __call__(self, *args, **kwargs):
        return self.dispatcher()(*args, **kwargs)

    def __getattr__(self, name: str):
        # only reached for names not set in __init__ (``signatures``, ``inspect_types``, ...)
        if name.startswith("__") or name in ("_built", "_dispatcher", "_options", "py_func"):
            raise AttributeError(name)
        return getattr(self.dispatcher(), name)

    def __reduce__(self):
        return _load, (self.py_func.__module__, self.py_func.__qualname__)

    def __repr__(self) -> str:
        state = "built" if self._dispatcher is not None else "not built yet"
        return f"<numba kernel {self.py_func.__module__}.{self.py_func.__qualname__} ({state})>"


def njit(func=None, **options):
    """``numba.njit`` deferred to the first call; use exactly as ``@njit(cache=True, ...)``."""
    if func is None:
        return lambda f: LazyKernel(f, options)
    return LazyKernel(func, options)
