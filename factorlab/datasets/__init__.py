"""Embedded data: the synthetic northbound market (generated and cached on disk) and presets.

``synthetic_market()`` returns a :class:`~factorlab.Market`; the same parameters always give the
same tables (same content hash), and a second call reads the cached parquet files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import operator
import os
import shutil
import tempfile
import warnings
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from factorlab._kernels.heap import reuse_freed
from factorlab._kernels.parallel import small_pages
from factorlab.calendar import to_date
from factorlab.datasets.real import real_sample
from factorlab.datasets.synthetic import (
    CALIBRATED,
    DISCLOSURE_END,
    DISCLOSURE_START,
    PLANTED,
    Strengths,
    SynthParams,
    iter_tables,
)
from factorlab.errors import MarketError, ParameterError
from factorlab.market import MANIFEST, Market, MarketWriter, read_manifest
from factorlab.progress import reports_progress
from factorlab.typing import ProgressOption

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "CALIBRATED",
    "DISCLOSURE_END",
    "DISCLOSURE_START",
    "PLANTED",
    "PRESETS",
    "Strengths",
    "SynthParams",
    "cache_dir",
    "preset_params",
    "real_sample",
    "synthetic_market",
]

log = logging.getLogger(__name__)

#: Bump when the generator's output changes for the same parameters (invalidates caches).
GENERATOR_VERSION = 10

PresetName = Literal["default", "large", "small"]

PRESETS: dict[str, dict[str, Any]] = {
    # the demo market: 5,000 stocks listed by the end (3,620 on average over 2017-01..2023-01),
    # at the calibrated strengths (docs/calibration.md)
    "default": {
        "n_assets": 5000,
        "start": dt.date(2016, 1, 1),
        "end": dt.date(2024, 12, 31),
        **CALIBRATED,
    },
    # the benchmark market: 5,000 stocks from the Stock Connect launch, calibrated like default
    "large": {
        "n_assets": 5000,
        "start": dt.date(2014, 11, 17),
        "end": dt.date(2024, 12, 31),
        **CALIBRATED,
    },
    # a quick market for tests and examples, at the planted-effect tests' strengths (PLANTED,
    # the Strengths defaults): its effects are strong enough to recover on 400 stocks
    "small": {"n_assets": 400, "start": dt.date(2016, 6, 1), "end": dt.date(2024, 12, 31)},
}


def cache_dir() -> Path:
    """Where generated markets are cached: ``$FACTORLAB_CACHE`` or ``~/.cache/factorlab``."""
    return Path(os.environ.get("FACTORLAB_CACHE", Path.home() / ".cache" / "factorlab"))


def preset_params(name: str, **overrides: Any) -> SynthParams:
    """The :class:`SynthParams` of preset `name`, with `overrides` applied."""
    if not isinstance(name, str) or name not in PRESETS:
        raise ParameterError(f"unknown preset `{name}`; choose one of {sorted(PRESETS)}.")
    return _params(**{**PRESETS[name], **overrides})


def _params(
    n_assets: int = 1500,
    start: dt.date | str = dt.date(2016, 1, 1),
    end: dt.date | str = dt.date(2024, 12, 31),
    seed: int = 20240816,
    **rest: Any,
) -> SynthParams:
    strength_names = {f.name for f in fields(Strengths)}
    strengths = {k: v for k, v in rest.items() if k in strength_names}
    other = {k: v for k, v in rest.items() if k not in strength_names}
    allowed = {f.name for f in fields(SynthParams)} - {
        "strengths",
        "n_assets",
        "start",
        "end",
        "seed",
    }
    unknown = set(other) - allowed
    if unknown:
        raise ParameterError(
            f"unknown synthetic market parameter(s) {sorted(unknown)}; strengths are "
            f"{sorted(strength_names)}, other options {sorted(allowed)}."
        )
    return SynthParams(
        n_assets=_integer(n_assets, "n_assets"),
        start=to_date(start, "start"),
        end=to_date(end, "end"),
        seed=_integer(seed, "seed"),
        strengths=Strengths(**strengths),
        **other,
    )


def _integer(value: Any, name: str) -> int:
    """`value` as an int: ints (numpy too) and whole floats; anything else is a ParameterError."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    try:
        if isinstance(value, bool):
            raise TypeError
        return operator.index(value)
    except TypeError:
        raise ParameterError(
            f"`{name}` must be an integer; got {value!r} ({type(value).__name__})."
        ) from None


def _cache_key(p: SynthParams) -> str:
    blob = json.dumps({"generator": GENERATOR_VERSION, **p.to_json()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@reports_progress("synthetic market")
def synthetic_market(
    n_assets: int | PresetName | None = None,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    seed: int | None = None,
    *,
    preset: PresetName | None = None,
    cache: bool | str | os.PathLike = True,
    progress: ProgressOption = "auto",
    **strengths: Any,
) -> Market:
    """The deterministic synthetic A-share market with northbound capital.

    Parameters
    ----------
    n_assets, start, end, seed
        Size, window (trading days of the real SSE calendar) and seed; each left out comes from
        the preset (``"default"``: 5,000 stocks, 2016-01-01 .. 2024-12-31, seed 20240816). A
        preset name in first place is taken as `preset`: ``synthetic_market("small")``.
    preset
        One of :data:`PRESETS` (``"default"``, ``"small"``, ``"large"``).
    cache
        True: generate into ``cache_dir()/synthetic/<key>`` once and read it afterwards (an
        unwritable cache gives a warning and a market in a temporary directory); a path: use
        that directory instead (an unwritable one is a :class:`MarketError`); False: generate
        into a temporary directory every time. A reused copy is re-hashed against its
        manifest first; one that fails is regenerated, with a warning.
    progress
        ``"auto"`` (default): a bar (or a line per stage on stderr without the ``progress``
        extra) in a terminal or a notebook, nothing in scripts and tests; ``True``: always
        shown; ``None`` / ``False``: silent; a callable: called with a short message at each
        generation stage (``universe: ...``, ``returns and prices``, ..., ``written: N
        tables``; none when the cache is reused). See :mod:`factorlab.progress`.
    **strengths
        Planted-effect strengths of :class:`Strengths` (``selection``, ``timing``, ``industry``,
        ``allocation``, ``decay_after_2021``); 0 turns an effect off. Also ``holders_per_stock``
        and ``n_participants``.

    Returns
    -------
    Market
        Lazily scanning the cached parquet files.

    Examples
    --------
    >>> m = synthetic_market("small")  # doctest: +SKIP
    >>> m.prices.select("date", "asset", "close").head(2).collect()  # doctest: +SKIP
    """
    if isinstance(n_assets, str):
        if preset is not None:
            raise ParameterError(
                f"got a preset both in first place ({n_assets!r}) and as `preset` ({preset!r}); "
                "pass one."
            )
        if n_assets not in PRESETS:
            raise ParameterError(
                f"`n_assets` must be an integer or a preset name ({sorted(PRESETS)}); got "
                f"{n_assets!r}. E.g. synthetic_market(preset='small')."
            )
        preset, n_assets = n_assets, None
    given = {"n_assets": n_assets, "start": start, "end": end, "seed": seed}
    overrides = {k: v for k, v in given.items() if v is not None}
    p = preset_params(preset or "default", **overrides, **strengths)
    return _market_for(p, cache=cache, progress=progress)


def _temp_target() -> Path:
    return Path(tempfile.mkdtemp(prefix="factorlab-synth-")) / "market"


def _cached(target: Path, p: SynthParams) -> Market | None:
    """The market cached at `target` for `p`, verified against its hashes; None if absent,
    generated for other parameters, or failing verification (with a warning)."""
    if not (target / MANIFEST).is_file():
        return None
    try:
        meta = read_manifest(target).get("meta", {})
    except MarketError:
        return None  # not a (readable) market: the writer decides whether it may replace it
    if meta.get("params") != p.to_json() or meta.get("generator") != GENERATOR_VERSION:
        return None
    try:
        return Market.load(target, verify_hashes=True)
    except MarketError as exc:
        warnings.warn(
            f"the cached synthetic market `{target}` failed verification, regenerating it: {exc}",
            stacklevel=4,
        )
        return None


def _market_for(
    p: SynthParams, *, cache: bool | str | os.PathLike, progress: Callable[[str], None] | None
) -> Market:
    if cache is False:
        return _generate_temporary(p, progress)
    target = cache_dir() / "synthetic" / _cache_key(p) if cache is True else Path(cache)
    market = _cached(target, p)
    if market is not None:
        return market  # no stage runs: nothing to report
    try:
        return _generate(target, p, progress)
    except (OSError, MarketError) as exc:
        if cache is not True:
            if isinstance(exc, MarketError):
                raise
            raise MarketError(
                f"cannot write the synthetic market to `{target}` ({exc}); choose a writable "
                "directory."
            ) from exc
        failed = str(exc)
    # outside the handler: the failed attempt's traceback (and the grids its frames hold) is
    # gone before the second generation starts, so the two never share the peak memory
    warnings.warn(
        f"the synthetic market could not be cached at `{target}` ({failed}); it was generated "
        "into a temporary directory instead. Set FACTORLAB_CACHE to a writable directory "
        "to cache it.",
        stacklevel=3,
    )
    return _generate_temporary(p, progress)


def _generate_temporary(p: SynthParams, progress: Callable[[str], None] | None) -> Market:
    """Generate into a private temporary directory that is removed when the market is garbage
    collected (or at interpreter exit): an uncached market leaves nothing behind."""
    target = _temp_target()
    try:
        market = _generate(target, p, progress)
    except BaseException:
        shutil.rmtree(target.parent, ignore_errors=True)
        raise
    weakref.finalize(market, shutil.rmtree, str(target.parent), True)
    return market


def _generate(target: Path, p: SynthParams, progress: Callable[[str], None] | None) -> Market:
    meta = {
        "source": "factorlab synthetic market",
        "generator": GENERATOR_VERSION,
        "params": p.to_json(),
    }
    with small_pages(), reuse_freed(), MarketWriter(target, meta=meta, validate="schema") as writer:
        _write_behind(writer, iter_tables(p, progress))
    market = Market.load(writer.path)
    if progress is not None:
        progress(f"written: {len(market.names)} tables")
    return market


#: The bytes (``estimated_size``) of generated tables that may wait for the writer behind the one
#: it is writing; a larger table waits alone. On ``default`` ``prices`` (~670 MiB) and ``pools``
#: (~330 MiB) are larger; the small tables after them queue, so the generator goes on while
#: they are written.
WRITE_QUEUE_BYTES = 256 << 20


def _write_behind(
    writer: MarketWriter,
    tables: Iterator[tuple[str, pl.DataFrame]],
    queue_bytes: int = WRITE_QUEUE_BYTES,
) -> None:
    """``writer.add_all(tables)``, the tables written on a second thread while the generator goes
    on (the writer's Polars, parquet and hashing work releases the GIL, and so do the
    generator's numpy and numba kernels). Tables are added in their generated order. The tables
    waiting behind the one being written hold at most `queue_bytes`, or one table when it alone
    is larger (the generator waits for the writer beyond that): a long write does not stall the
    generator while the small tables after it queue. An error on either side is raised here,
    after the other side has stopped; tables queued behind a failed write are not written."""
    failed: list[BaseException] = []

    def add(name: str, frame: pl.DataFrame) -> None:
        if failed:
            return  # behind a failed write: its error is raised instead
        try:
            writer.add(name, frame)
        except BaseException as exc:
            exc.add_note(f"(writing the generated table `{name}`)")
            failed.append(exc)
            raise

    pending: deque[tuple[Future, int]] = deque()  # (write, bytes), oldest (being written) first

    def must_wait(size: int) -> bool:
        if not pending:
            return False
        if pending[0][0].done():
            return True  # collect it (and its error) now
        queued = sum(b for _, b in pending) - pending[0][1]
        return len(pending) > 1 and queued + size > queue_bytes

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="factorlab-writer") as pool:
        try:
            for name, frame in tables:
                size = frame.estimated_size()
                while must_wait(size):
                    pending.popleft()[0].result()
                pending.append((pool.submit(add, name, frame), size))
                del frame
            while pending:
                pending.popleft()[0].result()
        except BaseException:
            for f, _ in pending:  # the writes not started are dropped
                f.cancel()
            wait([f for f, _ in pending])  # the writer stops before the error goes on
            raise
