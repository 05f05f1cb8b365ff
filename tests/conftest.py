"""Suite-wide test configuration: hypothesis profiles and the shared synthetic markets.

Hypothesis profiles: ``ci`` (derandomized, no example database, so a fresh clone and every CI
run draw the same examples) is loaded when the ``CI`` environment variable is set or when
``HYPOTHESIS_PROFILE=ci`` (``make test`` sets it); otherwise ``dev`` (randomized, with the
default example database, to keep finding new cases locally).
"""

from __future__ import annotations

import os

import polars as pl
import pytest
from hypothesis import settings

from factorlab.datasets import PLANTED, PRESETS, synthetic_market
from factorlab.market import Market

settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)


def _profile() -> str:
    chosen = os.environ.get("HYPOTHESIS_PROFILE")
    if chosen:
        return chosen
    return "ci" if os.environ.get("CI") else "dev"


settings.load_profile(_profile())


def pytest_ignore_collect(collection_path, config) -> bool | None:
    """Never collect a ``conftest.py`` as a doctest module: pytest already loads it as a plugin,
    and importing it a second time under the bare name ``conftest`` fails ("import file
    mismatch") as soon as two folders with their own conftest run in one call (e.g.
    ``pytest tests/northbound tests/evaluate``)."""
    return True if collection_path.name == "conftest.py" else None


@pytest.fixture(scope="session")
def small_market(tmp_path_factory: pytest.TempPathFactory) -> Market:
    """The ``PRESETS["small"]`` synthetic market at the planted-effect tests' strengths
    (``PLANTED``), generated once per test session in a temporary cache directory (about 4 s)."""
    return synthetic_market(
        **PRESETS["small"], **PLANTED, cache=tmp_path_factory.mktemp("small") / "small"
    )


@pytest.fixture(scope="session")
def market150_of(tmp_path_factory: pytest.TempPathFactory):
    """``market150_of(seed, **strengths)``: 150 stocks, 2017-2018, at ``PLANTED`` with
    `strengths` overriding some of them; each (seed, strengths) generated once per session
    (~3 s) in its own temporary cache directory. The flow-strength tests compare such markets
    (``planted_flows``); seed 20240816 at the planted strengths is the northbound tests'
    ``market150``."""
    made: dict[tuple, Market] = {}

    def make(seed: int, **strengths: float) -> Market:
        key = (seed, *sorted(strengths.items()))
        if key not in made:
            made[key] = synthetic_market(
                **{**PLANTED, **strengths},
                seed=seed,
                n_assets=150,
                start="2017-01-01",
                end="2018-12-31",
                cache=tmp_path_factory.mktemp("m150") / "market",
                progress=None,
            )
        return made[key]

    return make


@pytest.fixture(scope="session")
def planted_flows(market150_of):
    """``planted_flows(seed, **strengths)``: the northbound days' ``flows_truth`` of
    ``market150_of(seed, **strengths)`` (test_synthetic_steady_flows, _trading_speed,
    _interest_quality)."""

    def flows(seed: int, **strengths: float) -> pl.DataFrame:
        market = market150_of(seed, **strengths)
        return market.flows_truth.filter(pl.col("northbound_day")).collect()

    return flows
