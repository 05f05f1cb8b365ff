"""A lazy ``numba.njit``: kernels are defined without importing numba.

``import factorlab`` stays light (numba, and scipy which numba imports, cost ~0.25 s): every
kernel module decorates with this ``njit``, which records the function and its options. The
first call of any kernel imports numba, builds the real dispatcher (``numba.njit(**options)``,
compiled or loaded from the on-disk cache for the argument types of that call, as usual) and
calls it. A kernel called from another kernel is typed as its real dispatcher (a ``typeof``
registered with numba on first use), so kernels call each other as plain numba functions do,
and only the kernels a call reaches are ever compiled.
"""

from __future__ import annotations

import functools
import importlib
from typing import Any

__all__ = ["LazyKernel", "njit"]


@functools.cache
def _register_typeof() -> None:
    """Teach numba that a :class:`LazyKernel` global is its dispatcher (once per process: the
    cache is the record that it was done)."""
    from numba.core import types
    from numba.extending import typeof_impl

    @typeof_impl.register(LazyKernel)
    def _typeof_lazy(val, c):
        return types.Dispatcher(val.dispatcher())


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

    def dispatcher(self):
        """The ``numba`` dispatcher (imports numba and builds it on the first call)."""
        if self._dispatcher is None:
            import numba

            _register_typeof()
            self._dispatcher = numba.njit(**self._options)(self.py_func)
        return self._dispatcher

    def __call__(self, *args, **kwargs):
        return self.dispatcher()(*args, **kwargs)

    def __getattr__(self, name: str):
        # only reached for names not set in __init__ (``signatures``, ``inspect_types``, ...)
        if name.startswith("__") or name in ("_dispatcher", "_options", "py_func"):
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
