"""factorlab: vectorized factor research on Polars, with China Stock Connect northbound capital
as its flagship domain.

>>> import factorlab as fl
>>> market = fl.synthetic_market(**fl.datasets.PRESETS["small"])  # doctest: +SKIP
"""

from __future__ import annotations

from factorlab import calendar, datasets, errors, evaluate, ops, pools, preprocess, schema
from factorlab._version import __version__
from factorlab.calendar import rebalance_dates, sessions
from factorlab.codes import normalize_asset_code, normalize_asset_codes
from factorlab.datasets import synthetic_market
from factorlab.errors import FactorLabError
from factorlab.market import Market
from factorlab.schema import TABLES, validate

__all__ = [
    "TABLES",
    "FactorLabError",
    "Market",
    "__version__",
    "calendar",
    "datasets",
    "errors",
    "evaluate",
    "normalize_asset_code",
    "normalize_asset_codes",
    "ops",
    "pools",
    "preprocess",
    "rebalance_dates",
    "schema",
    "sessions",
    "synthetic_market",
    "validate",
]
