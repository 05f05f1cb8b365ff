"""Progress of long computations (market generation, studies, sweeps, tear sheets): the one
``progress=`` option and the reporter behind it.

Every long function takes ``progress=`` (a :data:`~factorlab.typing.ProgressOption`):

- ``"auto"`` (the default): show progress only in an interactive session -- stderr is a
  terminal, or the code runs in a Jupyter kernel -- and stay silent in scripts, pipes, CI and
  test runs;
- ``True``: always show it;
- ``None`` or ``False``: silent;
- a callable: called with one short message per finished stage (nothing is shown).

"Show" means a `tqdm <https://tqdm.github.io>`_ bar (the ``progress`` extra: ``pip install
factorlab[progress]``; a widget in a notebook, a line in a terminal) with the stage count, the
elapsed time and the last stage's message, or, without tqdm, one line per stage on stderr
(``synthetic market [   1.6s] returns and prices``). That is the only output factorlab writes
by itself, and only when progress is shown; ``FACTORLAB_PROGRESS=0`` turns ``"auto"`` off
(``=1`` turns it on) for a whole process. Every message is also logged at INFO on the module's
logger, whatever the option.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO, TypeVar

from factorlab.errors import ParameterError
from factorlab.typing import ProgressOption

__all__ = ["ENV_VAR", "Reporter", "interactive", "reporter", "reports_progress"]

#: Environment variable overriding ``progress="auto"``: ``0`` / ``off`` silent, ``1`` / ``on``
#: shown.
ENV_VAR = "FACTORLAB_PROGRESS"

F = TypeVar("F", bound=Callable[..., Any])


def interactive() -> bool:
    """Whether ``progress="auto"`` shows progress: `ENV_VAR` if set, else True when stderr is a
    terminal or the code runs in a Jupyter (IPython kernel) session."""
    env = os.environ.get(ENV_VAR, "").strip().lower()
    if env in ("0", "off", "false", "no"):
        return False
    if env in ("1", "on", "true", "yes"):
        return True
    try:
        if sys.stderr is not None and sys.stderr.isatty():
            return True
    except (AttributeError, ValueError):  # a closed or replaced stream
        pass
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and hasattr(shell, "kernel")


class Reporter:
    """The callable a long function reports its stages to: ``say("hygiene: 1.2s")``.

    Each message is logged at INFO on `logger` and handed to the sink chosen by the
    ``progress=`` option (a user callable, a tqdm bar, stderr lines, or nothing). Build one with
    :func:`reporter`; it is closed (the bar finished, the total time written) when that context
    ends.
    """

    def __init__(
        self,
        desc: str,
        *,
        logger: logging.Logger,
        callback: Callable[[str], None] | None = None,
        bar: Callable[[], Any] | None = None,
        stream: TextIO | None = None,
    ) -> None:
        self.desc = desc
        self.logger = logger
        self.callback = callback
        self.stream = stream
        self.bar: Any = None
        self._make_bar = bar  # made at the first stage: an early error shows nothing
        self.stages = 0
        self._start = time.perf_counter()

    @property
    def elapsed(self) -> float:
        """Seconds since the reporter was made."""
        return time.perf_counter() - self._start

    def __call__(self, message: str) -> None:
        self.stages += 1
        self.logger.info("%s: %s", self.desc, message)
        if self.callback is not None:
            self.callback(message)
        if self._make_bar is not None:
            self.bar, self._make_bar = self._make_bar(), None
        if self.bar is not None:
            self.bar.set_postfix_str(message, refresh=False)
            self.bar.update(1)
        if self.stream is not None:
            self.stream.write(f"{self.desc} [{self.elapsed:6.1f}s] {message}\n")
            self.stream.flush()

    def close(self, *, failed: BaseException | None = None) -> None:
        """Finish the display: ``done in 3.2 s`` (or ``stopped after ...`` on an error)."""
        end = (
            f"stopped after {self.elapsed:.1f} s ({type(failed).__name__})"
            if failed is not None
            else f"done in {self.elapsed:.1f} s"
        )
        if self.bar is not None:
            self.bar.set_postfix_str(end, refresh=False)
            self.bar.close()
            self.bar = None
        if self.stream is not None and self.stages:
            self.stream.write(f"{self.desc}: {end}\n")
            self.stream.flush()
            self.stream = None


def _tqdm() -> Callable[[str], Any] | None:
    """A maker of tqdm bars (a notebook widget where ipywidgets is installed), or None without
    tqdm."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return functools.partial(_bar, tqdm)


def _bar(tqdm: Any, desc: str) -> Any:
    return tqdm(
        total=None,
        desc=desc,
        unit="stage",
        file=sys.stderr,
        bar_format="{desc}: {n_fmt} stages [{elapsed}]{postfix}",
        leave=True,
    )


@contextmanager
def reporter(
    progress: ProgressOption, *, desc: str, logger: logging.Logger | None = None
) -> Iterator[Reporter]:
    """A :class:`Reporter` for one long computation named `desc`, closed on exit.

    Parameters
    ----------
    progress
        ``"auto"``, ``True``, ``None`` / ``False`` or a callable, as in the module docstring.
    desc
        What runs (``"synthetic market"``, ``"factor study"``): the bar's label.
    logger
        Where every message is logged at INFO (default: ``factorlab.progress``).

    Examples
    --------
    >>> seen = []
    >>> with reporter(seen.append, desc="demo") as say:
    ...     say("stage one")
    >>> seen
    ['stage one']
    """
    log = logger or logging.getLogger(__name__)
    if progress is None or progress is False:
        rep = Reporter(desc, logger=log)
    elif progress is True or progress == "auto":
        show = progress is True or interactive()
        tqdm_bar = _tqdm() if show else None
        rep = Reporter(
            desc,
            logger=log,
            bar=None if tqdm_bar is None else functools.partial(tqdm_bar, desc),
            stream=sys.stderr if show and tqdm_bar is None else None,
        )
    elif callable(progress):
        rep = Reporter(desc, logger=log, callback=progress)
    else:
        raise ParameterError(
            "`progress` must be 'auto', True, False, None or a callable taking one message; "
            f"got {progress!r}."
        )
    try:
        yield rep
    except BaseException as exc:
        rep.close(failed=exc)
        raise
    rep.close()


def reports_progress(desc: str) -> Callable[[F], F]:
    """Decorate a long function whose keyword-only ``progress`` parameter takes a
    :data:`~factorlab.typing.ProgressOption`: the function body receives a :class:`Reporter`
    (a plain ``Callable[[str], None]``) as ``progress``, closed when the function returns or
    raises. A :class:`Reporter` passed in (one long function calling another) is used as is.
    """

    def decorate(func: F) -> F:
        param = inspect.signature(func).parameters.get("progress")
        if param is None or param.kind is not inspect.Parameter.KEYWORD_ONLY:
            raise TypeError(f"{func.__qualname__} needs a keyword-only `progress` parameter")
        default = param.default
        logger = logging.getLogger(func.__module__)

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            option = kwargs.pop("progress", default)
            if isinstance(option, Reporter):
                return func(*args, progress=option, **kwargs)
            with reporter(option, desc=desc, logger=logger) as say:
                return func(*args, progress=say, **kwargs)

        return run  # type: ignore[return-value]

    return decorate
