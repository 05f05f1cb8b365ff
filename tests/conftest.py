"""Suite-wide test configuration: hypothesis profiles and the shared synthetic market.

Hypothesis profiles: ``ci`` (derandomized, no example database, so a fresh clone and every CI
run draw the same examples) is loaded when the ``CI`` environment variable is set or when
``HYPOTHESIS_PROFILE=ci`` (``make test`` sets it); otherwise ``dev`` (randomized, with the
default example database, to keep finding new cases locally).
"""

from __future__ import annotations

import os

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
