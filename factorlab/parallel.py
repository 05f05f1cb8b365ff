"""Where the work units of a sweep run: threads on this machine (``engine="local"``) or tasks
on a Ray cluster (``engine="ray"``, the ``distributed`` extra); results in the order asked.

:func:`evaluate <factorlab.evaluate.evaluate>` and :func:`factor_sweep
<factorlab.northbound.factor_sweep>` hand their factor x pool x parameter units to an
:class:`Executor`. Locally they run on threads: the numba kernels release the GIL and Polars
and numpy run outside it, so nothing is pickled and the inputs are shared as they are. On Ray,
the shared inputs (the price panel, the market) are placed once in the object store
(:meth:`Executor.share`, ``ray.put``) and every task reads them from there; a task whose worker
dies is run again (``max_retries``). Ray is imported only when ``engine="ray"`` is asked for.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

from factorlab._kernels.parallel import n_threads
from factorlab.errors import FactorLabError, ParameterError
from factorlab.typing import Engine

__all__ = [
    "DEFAULT_RETRIES",
    "Executor",
    "check_engine",
    "default_workers",
    "executor",
    "resolve_workers",
]

#: How many times a Ray task is rerun after its worker died (``max_retries`` of ``ray.remote``).
DEFAULT_RETRIES = 3

T = TypeVar("T")


def default_workers() -> int:
    """The default number of threads of a local sweep: the threads this process may use
    (``FACTORLAB_THREADS``, else its CPU affinity; one count for the whole package, see
    :func:`factorlab._kernels.parallel.n_threads`)."""
    return n_threads()


def resolve_workers(workers: int | None, *, name: str = "workers") -> int | None:
    """`workers` checked: ``None`` (all cores locally, the whole cluster on Ray) or an
    integer >= 1."""
    if workers is None:
        return None
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ParameterError(
            f"`{name}` must be None (all cores) or an integer >= 1; got {workers!r}."
        )
    return workers


def check_engine(engine: Any) -> Engine:
    """`engine` checked: ``"local"`` or ``"ray"``."""
    if engine not in ("local", "ray"):
        raise ParameterError(
            f"`engine` must be 'local' (threads on this machine) or 'ray' (a Ray cluster); "
            f"got {engine!r}."
        )
    return engine


class Executor:
    """Runs ``fn(*shared, *args[i], task)`` for each task, on threads or on Ray; made by
    :func:`executor`.

    ``share(obj)`` makes `obj` an input tasks receive (locally: `obj` itself; on Ray: an
    object-store reference, put once, however many tasks or :meth:`map` calls read it): pass it
    in `shared` (every task) or in a task's own `args` (e.g. the one column that task scores).
    ``map(fn, tasks, shared=..., args=..., on_done=...)`` returns the results in the order of
    `tasks`;
    ``on_done(k, task)`` is called in the caller's thread as each one finishes (the k-th).
    The first failure stops the map and is raised as itself (a FactorLabError stays one).
    """

    def __init__(self, engine: Engine, workers: int | None, max_retries: int) -> None:
        self.engine = engine
        self.workers = workers
        self.max_retries = max_retries
        self._ray: Any = None
        self._remote: Any = None
        self._pool: ThreadPoolExecutor | None = None

    def share(self, obj: T) -> T:
        if self.engine == "ray":
            return self._ray.put(obj)
        return obj

    def map(
        self,
        fn: Callable[..., Any],
        tasks: Sequence[Any],
        *,
        shared: Sequence[Any] = (),
        args: Sequence[Sequence[Any]] | None = None,
        on_done: Callable[[int, Any], None] | None = None,
    ) -> list[Any]:
        tasks = list(tasks)
        if not tasks:
            return []
        own = [()] * len(tasks) if args is None else [tuple(a) for a in args]
        if len(own) != len(tasks):
            raise ParameterError(f"`args` has {len(own)} entries for {len(tasks)} tasks.")
        calls = [(*shared, *a, t) for a, t in zip(own, tasks, strict=True)]
        if self.engine == "ray":
            return self._map_ray(fn, tasks, calls, on_done)
        return self._map_local(fn, tasks, calls, on_done)

    # -- local: threads ------------------------------------------------------------------------
    def _map_local(self, fn, tasks, calls, on_done) -> list[Any]:
        n = self.workers or default_workers()
        results: list[Any] = [None] * len(tasks)
        if n == 1 or len(tasks) == 1:
            for i, task in enumerate(tasks):
                results[i] = fn(*calls[i])
                if on_done is not None:
                    on_done(i + 1, task)
            return results
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="factorlab-sweep")
        # at most n tasks in flight: a sweep's memory is n units', not all of them
        pending: dict[Any, int] = {}
        todo = iter(range(len(tasks)))
        done = 0
        try:
            for i in todo:
                pending[self._pool.submit(fn, *calls[i])] = i
                if len(pending) >= n:
                    break
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in sorted(finished, key=pending.__getitem__):
                    i = pending.pop(fut)
                    results[i] = fut.result()
                    done += 1
                    if on_done is not None:
                        on_done(done, tasks[i])
                    nxt = next(todo, None)
                    if nxt is not None:
                        pending[self._pool.submit(fn, *calls[nxt])] = nxt
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise
        return results

    # -- Ray -----------------------------------------------------------------------------------
    def _map_ray(self, fn, tasks, calls, on_done) -> list[Any]:
        ray = self._ray
        remote = ray.remote(num_cpus=1, max_retries=self.max_retries)(_call)
        limit = self.workers or len(tasks)
        refs: list[Any] = [None] * len(tasks)
        index: dict[Any, int] = {}
        todo = iter(range(len(tasks)))
        done = 0
        for i in todo:
            refs[i] = remote.remote(fn, *calls[i])
            index[refs[i]] = i
            if len(index) >= limit:
                break
        try:
            while index:
                ready, _ = ray.wait(list(index), num_returns=1)
                for ref in ready:
                    i = index.pop(ref)
                    ray.get(ref)  # raise a failure now, not after the rest
                    done += 1
                    if on_done is not None:
                        on_done(done, tasks[i])
                    nxt = next(todo, None)
                    if nxt is not None:
                        refs[nxt] = remote.remote(fn, *calls[nxt])
                        index[refs[nxt]] = nxt
            return ray.get(refs)
        except BaseException as exc:
            for ref in index:  # the tasks still in flight; the original error goes on
                with suppress(Exception):
                    ray.cancel(ref)
            cause = getattr(exc, "cause", None)  # a RayTaskError wraps the task's own error
            if isinstance(exc, ray.exceptions.RayTaskError) and isinstance(cause, Exception):
                raise cause from None
            raise

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


def _call(fn: Callable[..., Any], *args: Any) -> Any:
    """The Ray task: ``fn(*args)`` (the object-store references among `args` arrive resolved).
    A task holds one CPU, so its kernels run on one thread (``FACTORLAB_THREADS``, unless the
    cluster's environment sets it) for the task's duration: a worker process that runs other
    code after it gets its environment back."""
    if "FACTORLAB_THREADS" in os.environ:
        return fn(*args)
    os.environ["FACTORLAB_THREADS"] = "1"
    try:
        return fn(*args)
    finally:
        os.environ.pop("FACTORLAB_THREADS", None)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise FactorLabError(
            "`engine='ray'` needs Ray, which is not installed: `pip install "
            "factorlab[distributed]` (or `pip install 'ray>=2.40'`), then rerun; or use "
            "engine='local'."
        ) from exc
    return ray


@contextmanager
def executor(
    engine: Engine = "local",
    *,
    workers: int | None = None,
    max_retries: int = DEFAULT_RETRIES,
) -> Iterator[Executor]:
    """An :class:`Executor` for one sweep.

    Parameters
    ----------
    engine
        ``"local"``: threads in this process. ``"ray"``: tasks on the Ray cluster this process
        is connected to: the one ``ray.init(address=...)`` was called for, else the one
        ``RAY_ADDRESS`` names, else a local Ray started here (left running for the next sweep;
        ``ray.shutdown()`` ends it).
    workers
        Locally: threads (default: every core, :func:`default_workers`; 1 runs in the calling
        thread). On Ray: at most this many tasks at once (default: as many as the cluster
        schedules).
    max_retries
        Ray only: reruns of a task whose worker process died.

    Examples
    --------
    >>> with executor(workers=2) as ex:
    ...     ex.map(pow, [1, 2, 3], shared=[10])
    [10, 100, 1000]
    """
    engine = check_engine(engine)
    workers = resolve_workers(workers)
    ex = Executor(engine, workers, max_retries)
    if engine == "ray":
        ray = _import_ray()
        if not ray.is_initialized():
            ray.init(include_dashboard=False, log_to_driver=False)
        ex._ray = ray
    try:
        yield ex
    finally:
        ex.close()
