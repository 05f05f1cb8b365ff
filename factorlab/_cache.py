"""Computed results cached on disk (the study, the strategies): named frames written as a market
directory of parquet files with a manifest of sha256 hashes, verified when read back, and the
fingerprint of factorlab's code that their cache keys include.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import polars as pl

from factorlab.errors import MarketError
from factorlab.market import MANIFEST, Market, MarketWriter

__all__ = ["cached", "code_fingerprint", "read_result", "store", "write_result"]

R = TypeVar("R")

_PACKAGE = Path(__file__).resolve().parent


def write_result(
    path: Path, kind: str, frames: Mapping[str, pl.DataFrame], meta: Mapping[str, Any]
) -> None:
    """Write `frames` (name -> frame; names are file names) to `path` with ``meta`` and
    ``kind`` in the manifest; written beside `path` and renamed into place, so a partial result
    is never visible."""
    with MarketWriter(path, meta={"kind": kind, **meta}, validate="none") as writer:
        for name, frame in frames.items():
            writer.add(name, frame)


def read_result(
    path: Path, kind: str, *, what: str, names: Iterable[str] | None = None
) -> tuple[dict[str, pl.DataFrame], dict[str, Any]]:
    """The frames (all, or `names`) and the manifest's meta of a result written by
    :func:`write_result` with `kind`; every file re-hashed first. A :class:`MarketError` (naming
    the file, or saying it is not a `what` result) when it cannot be trusted."""
    stored = Market.load(path, validate="none", verify_hashes=True)
    if stored.meta.get("kind") != kind:
        raise MarketError(f"`{path}` is not a factorlab {what} result (no `{kind}` meta).")
    try:
        frames = {n: stored[n].collect() for n in (stored.names if names is None else names)}
    except (pl.exceptions.PolarsError, MarketError) as exc:
        raise MarketError(f"{what} result `{path}` cannot be read ({exc}).") from exc
    return frames, dict(stored.meta)


def cached(load: Callable[[Path], R], path: Path | None, what: str) -> R | None:
    """The result `load` reads from the cache entry `path`; None when there is none (or no
    cache), or when it cannot be trusted (a warning names the entry and why: it is recomputed)."""
    if path is None or not (path / MANIFEST).is_file():
        return None
    try:
        return load(path)
    except MarketError as exc:
        warnings.warn(f"ignoring the damaged cached {what} `{path}`: {exc}", stacklevel=3)
        return None


def store(save: Callable[[Path], None], path: Path | None, what: str) -> None:
    """Write a result to the cache entry `path` with `save`; an unwritable cache is a warning
    (the result is returned uncached), never an error."""
    if path is None:
        return
    try:
        save(path)
    except (OSError, MarketError) as exc:
        warnings.warn(
            f"the {what} result could not be cached at `{path}` ({exc}); it is returned "
            "uncached. Set FACTORLAB_CACHE (or pass cache=) to a writable directory.",
            stacklevel=3,
        )


def code_fingerprint() -> str:
    """sha256 over the source of every module of the factorlab package (path and text): any
    change to the code gives another fingerprint, so a cache keyed on it never serves a result
    computed by other code."""
    h = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*.py")):
        h.update(path.relative_to(_PACKAGE).as_posix().encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()
