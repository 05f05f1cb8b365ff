"""Compile the synthetic generator's and the northbound study's kernels ahead of a first run.

:func:`factorlab.evaluate.warmup.warmup` covers the single-factor evaluation; this covers what
``factorlab demo`` runs on top of it: the generator's kernels and the study's (hygiene, the
participant split, the factor windows, the backtester, the rank IC). It generates a tiny
synthetic market (400 stocks, two years) in a temporary directory it removes afterwards and
runs the study on it once, so every kernel those use lands in numba's on-disk cache. Measured
on 2 cores: ~20 s on an empty cache, ~2.5 s once cached. The install step (``make demo`` /
``make test``) runs it through ``python -m factorlab warmup``.
"""

from __future__ import annotations

import os
import tempfile
import time

from factorlab.datasets import synthetic_market
from factorlab.evaluate.warmup import Warmup
from factorlab.northbound.study import factor_study

__all__ = ["warmup_study"]

#: The tiny market: small enough to be quick, with every pool the study needs.
WARMUP_MARKET = {"n_assets": 400, "start": "2016-06-01", "end": "2018-06-30"}


def warmup_study() -> Warmup:
    """Generate a tiny synthetic market and run the northbound study on it once (no study
    cache), compiling or loading every kernel they use.

    Returns
    -------
    Warmup
        Seconds taken and the numba cache location.
    """
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="factorlab-warmup-") as tmp:
        market = synthetic_market(**WARMUP_MARKET, cache=os.path.join(tmp, "market"))
        factor_study(market, cache=False)
    return Warmup.since(start)
