"""Shared synthetic markets for the strategy tests (quota band, threshold timing, portraits,
industry and ETF rotation, the one call).

All session-scoped and cached in the session's temporary directory, so each is generated once
per test run whichever strategy file asks first:

- ``strat_market``: the ``PRESETS["small"]`` market (400 stocks, 2016-06 .. 2024-12, every
  planted effect at its default strength). It *is* the suite-wide ``small_market`` of
  tests/conftest.py (no second generation). Spans the seed's in-sample 2017-2022 and an
  out-of-sample 2023-2024, the 2016-12-05 Shenzhen link opening and the 2024 disclosure change.
- ``strat_market_off``: the same market with every planted effect off (``selection``,
  ``timing``, ``industry``, ``allocation`` = 0), for "the effect vanishes at strength 0".
- ``strat_tiny``: 120 stocks, 2016-06 .. 2023-12, default strengths: the quickest market with
  quotas, indices, participants and an out-of-sample year, for bad-input and end-to-end tests
  that need a whole market but not its statistics.

Add a fixture here with a small appended edit (keep it session-scoped and cached the same way).
"""

from __future__ import annotations

import pytest

from factorlab.datasets import PLANTED, PRESETS, synthetic_market
from factorlab.market import Market

#: Every planted effect off (see factorlab.datasets.Strengths).
EFFECTS_OFF = {"selection": 0.0, "timing": 0.0, "industry": 0.0, "allocation": 0.0}


@pytest.fixture(scope="session")
def strat_market(small_market: Market) -> Market:
    """``PRESETS["small"]`` at the planted strengths (the session's ``small_market``)."""
    return small_market


@pytest.fixture(scope="session")
def strat_market_off(tmp_path_factory: pytest.TempPathFactory) -> Market:
    """``PRESETS["small"]`` with every planted effect at strength 0."""
    return synthetic_market(
        **PRESETS["small"],
        **{**PLANTED, **EFFECTS_OFF},
        cache=tmp_path_factory.mktemp("strat") / "off",
    )


@pytest.fixture(scope="session")
def strat_tiny(tmp_path_factory: pytest.TempPathFactory) -> Market:
    """120 stocks, 2016-06-01 .. 2023-12-31, the planted-effect strengths."""
    return synthetic_market(
        **PLANTED,
        n_assets=120,
        start="2016-06-01",
        end="2023-12-31",
        cache=tmp_path_factory.mktemp("strat") / "tiny",
    )
