"""Embedded data: the synthetic northbound market (generated and cached on disk) and presets.

``synthetic_market()`` returns a :class:`~factorlab.Market`; the same parameters always give the
same tables (same content hash), and a second call reads the cached parquet files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any, Literal

from factorlab.calendar import to_date
from factorlab.datasets.real import real_sample
from factorlab.datasets.synthetic import (
    DISCLOSURE_END,
    DISCLOSURE_START,
    Strengths,
    SynthParams,
    iter_tables,
)
from factorlab.errors import ParameterError
from factorlab.market import Market, MarketWriter

__all__ = [
    "DISCLOSURE_END",
    "DISCLOSURE_START",
    "PRESETS",
    "Strengths",
    "SynthParams",
    "cache_dir",
    "preset_params",
    "real_sample",
    "synthetic_market",
]

#: Bump when the generator's output changes for the same parameters (invalidates caches).
GENERATOR_VERSION = 2

PresetName = Literal["default", "large", "small"]

PRESETS: dict[str, dict[str, Any]] = {
    # the demo market: about 1,500 stocks, 2016-01 .. 2024-12
    "default": {"n_assets": 1500, "start": dt.date(2016, 1, 1), "end": dt.date(2024, 12, 31)},
    # the benchmark market: 5,000 stocks from the Stock Connect launch
    "large": {"n_assets": 5000, "start": dt.date(2014, 11, 17), "end": dt.date(2024, 12, 31)},
    # a quick market for tests and examples
    "small": {"n_assets": 400, "start": dt.date(2016, 6, 1), "end": dt.date(2024, 12, 31)},
}


def cache_dir() -> Path:
    """Where generated markets are cached: ``$FACTORLAB_CACHE`` or ``~/.cache/factorlab``."""
    return Path(os.environ.get("FACTORLAB_CACHE", Path.home() / ".cache" / "factorlab"))


def preset_params(name: str, **overrides: Any) -> SynthParams:
    """The :class:`SynthParams` of preset `name`, with `overrides` applied."""
    if name not in PRESETS:
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
        n_assets=int(n_assets),
        start=to_date(start, "start"),
        end=to_date(end, "end"),
        seed=int(seed),
        strengths=Strengths(**strengths),
        **other,
    )


def _cache_key(p: SynthParams) -> str:
    blob = json.dumps({"generator": GENERATOR_VERSION, **p.to_json()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def synthetic_market(
    n_assets: int = 1500,
    start: dt.date | str = dt.date(2016, 1, 1),
    end: dt.date | str = dt.date(2024, 12, 31),
    seed: int = 20240816,
    *,
    cache: bool | str | os.PathLike = True,
    progress: Callable[[str], None] | None = None,
    **strengths: Any,
) -> Market:
    """The deterministic synthetic A-share market with northbound capital.

    Parameters
    ----------
    n_assets, start, end, seed
        Size, window (trading days of the real SSE calendar) and seed.
    cache
        True: generate into ``cache_dir()/synthetic/<key>`` once and read it afterwards; a path:
        use that directory instead; False: generate into a temporary directory every time.
    progress
        Called with a short message at each stage of a generation.
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
    >>> m = synthetic_market(**PRESETS["small"])  # doctest: +SKIP
    >>> m.prices.select("date", "asset", "close").head(2).collect()  # doctest: +SKIP
    """
    p = _params(n_assets, start, end, seed, **strengths)
    return _market_for(p, cache=cache, progress=progress)


def _market_for(
    p: SynthParams, *, cache: bool | str | os.PathLike, progress: Callable[[str], None] | None
) -> Market:
    if cache is False:
        import tempfile

        target = Path(tempfile.mkdtemp(prefix="factorlab-synth-")) / "market"
    elif cache is True:
        target = cache_dir() / "synthetic" / _cache_key(p)
    else:
        target = Path(cache)
    manifest = target / "manifest.json"
    if manifest.is_file():
        cached = json.loads(manifest.read_text()).get("meta", {})
        if cached.get("params") == p.to_json() and cached.get("generator") == GENERATOR_VERSION:
            return Market.load(target)
    meta = {
        "source": "factorlab synthetic market",
        "generator": GENERATOR_VERSION,
        "params": p.to_json(),
    }
    with MarketWriter(target, meta=meta, validate="schema") as writer:
        writer.add_all(iter_tables(p, progress))
    return Market.load(target)
