"""Shared markets of the northbound tests: the estimation tests' (seed 002:
tests/northbound/test_estimation*.py) and the 150-stock study market, generated once per session
and cached in its temporary directory."""

from __future__ import annotations

import datetime as dt

import pytest

from factorlab.datasets import PLANTED, synthetic_market
from factorlab.market import Market

#: The estimation tests' disclosure change: two years of daily ground truth, then a year of
#: quarterly snapshots.
EST_CHANGE = dt.date(2023, 1, 1)


def estimation_market(seed: int, cache, **strengths: float) -> Market:
    """200 stocks, 2021-07-01 .. 2023-12-31, daily disclosure until 2023-01-01; the planted
    strengths, with `strengths` overriding some of them."""
    return synthetic_market(
        **{**PLANTED, **strengths},
        n_assets=200,
        start="2021-07-01",
        end="2023-12-31",
        seed=seed,
        disclosure_change=EST_CHANGE,
        cache=cache,
        progress=False,
    )


@pytest.fixture(scope="session")
def est_market(est_market_of) -> Market:
    """:func:`estimation_market` with seed 11."""
    return est_market_of(11)


@pytest.fixture(scope="session")
def est_market_of(tmp_path_factory: pytest.TempPathFactory):
    """``est_market_of(seed)``: :func:`estimation_market` of another seed (one per session)."""
    made: dict[int, Market] = {}

    def make(seed: int) -> Market:
        if seed not in made:
            made[seed] = estimation_market(seed, tmp_path_factory.mktemp("est") / f"m{seed}")
        return made[seed]

    return make


@pytest.fixture(scope="session")
def make_est_market():
    """:func:`estimation_market` itself, for tests that vary a strength (``make_est_market(seed,
    cache, market_concentration=1.0)``)."""
    return estimation_market


@pytest.fixture(scope="session")
def market150(market150_of) -> Market:
    """150 stocks at the planted strengths, 2017-2018, seed 20240816 (tests/conftest.py's
    ``market150_of``): the pinned study numbers (test_study_regression.py) and the leg
    turnover's recomputation (test_name_turnover.py)."""
    return market150_of(20240816)
