"""Markets for the ETF-flow tests: one small synthetic market (A-share, HK and US ETFs)."""

from __future__ import annotations

import pytest

from factorlab.datasets import PLANTED, synthetic_market
from factorlab.market import Market


@pytest.fixture(scope="session")
def etf_market(tmp_path_factory: pytest.TempPathFactory) -> Market:
    """120 stocks, 2019-01-01 .. 2020-12-31: 27 industry + 3 broad + 11 theme A-share ETFs,
    4 Hong Kong and 4 US ETFs (HKEX / NYSE calendars), fx with usdcny and hkdcny."""
    return synthetic_market(
        **PLANTED,
        n_assets=120,
        start="2019-01-01",
        end="2020-12-31",
        cache=tmp_path_factory.mktemp("etf") / "m",
    )
