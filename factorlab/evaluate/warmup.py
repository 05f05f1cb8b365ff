"""Compile the single-factor evaluation kernels ahead of the first real call.

numba compiles a kernel the first time it is called and keeps the machine code in its on-disk
cache (``__pycache__`` next to the sources, or ``NUMBA_CACHE_DIR``); from then on a process
loads it in milliseconds. :func:`warmup` runs the whole alphalens-style single-factor work
(dense panel, forward returns, clean factor with qcut and groups, IC, quantile returns, factor
returns and alpha/beta, turnover, rank autocorrelation) once on a tiny synthetic panel, so every
kernel that work uses is compiled and cached. The project's install step (``make test`` /
``make demo``) runs it once (``python -m factorlab warmup``), so a user's first analysis does not
pay the compile.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import dataclass

import numpy as np
import polars as pl

__all__ = ["Warmup", "warmup", "warmup_panel"]


@dataclass(frozen=True)
class Warmup:
    """What :func:`warmup` did: seconds spent (mostly compiling on a fresh cache) and where the
    kernels are cached."""

    seconds: float
    cache: str

    def __repr__(self) -> str:
        return f"Warmup(kernels ready in {self.seconds:.2f} s; numba cache: {self.cache})"

    @classmethod
    def since(cls, start: float) -> Warmup:
        """A warmup that began at ``time.perf_counter() == start`` and ends now."""
        cache = os.environ.get("NUMBA_CACHE_DIR") or "__pycache__ next to factorlab/_kernels"
        return cls(round(time.perf_counter() - start, 3), cache)


def warmup_panel(n_assets: int = 40, n_dates: int = 60, seed: int = 0) -> pl.DataFrame:
    """A tiny dense (date, asset) panel: close, factor (some nulls) and industry.

    Random walk prices from ``numpy.random.default_rng(seed)``; only its dtypes matter (they are
    those of a real panel, so the kernels compiled are the ones a real call uses).
    """
    rng = np.random.default_rng(seed)
    close = 10.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, (n_dates, n_assets)), axis=0))
    factor = rng.normal(size=(n_dates, n_assets))
    factor[rng.random((n_dates, n_assets)) < 0.05] = np.nan
    dates = [dt.date(2020, 1, 1) + dt.timedelta(days=i) for i in range(n_dates)]
    assets = [f"{i:06d}.XSHE" for i in range(n_assets)]
    return pl.DataFrame(
        {
            "date": np.repeat(np.array(dates, dtype="datetime64[D]"), n_assets),
            "asset": assets * n_dates,
            "close": close.ravel(),
            "factor": factor.ravel(),
            "industry": [f"IND{i % 4}" for i in range(n_assets)] * n_dates,
        }
    ).with_columns(pl.col("date").cast(pl.Date), pl.col("factor").fill_nan(None))


def warmup() -> Warmup:
    """Compile (or load from the numba cache) every single-factor evaluation kernel.

    Returns
    -------
    Warmup
        Seconds taken (a few on a fresh cache, well under one once cached) and the numba cache
        location.
    """
    from factorlab.evaluate.forward import forward_returns
    from factorlab.evaluate.ic import information_coefficient
    from factorlab.evaluate.panel import DensePanel
    from factorlab.evaluate.quantiles import clean_factor
    from factorlab.evaluate.returns import (
        factor_alpha_beta,
        factor_returns,
        mean_return_by_quantile,
    )
    from factorlab.evaluate.turnover import factor_rank_autocorrelation, quantile_turnover

    start = time.perf_counter()
    frame = warmup_panel()
    panel = DensePanel.from_frame(frame, columns=["close", "factor"], labels=["industry"])
    fwd = forward_returns(panel, (1, 5), fill="ffill")
    clean = clean_factor(
        panel,
        "factor",
        fwd,
        group_col="industry",
        quantiles=5,
        mode="qcut",
        rule="any_horizon",
        max_loss=1.0,
    )
    information_coefficient(clean)
    mean_return_by_quantile(clean, by_date=True)
    factor_returns(clean)
    factor_alpha_beta(clean)
    quantile_turnover(clean)
    factor_rank_autocorrelation(clean)
    return Warmup.since(start)
