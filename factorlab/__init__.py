"""factorlab: vectorized factor research on Polars, with China Stock Connect northbound capital
as its flagship domain.

>>> import factorlab as fl
>>> market = fl.synthetic_market(**fl.datasets.PRESETS["small"])  # doctest: +SKIP

``import factorlab`` loads only this face: the submodules and names below are imported on first
use (PEP 562), so a script pays for Polars, the generator or the evaluator only when it touches
them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from factorlab._version import __version__

if TYPE_CHECKING:  # the names as type checkers and IDEs see them
    from factorlab import calendar, datasets, errors, evaluate, ops, pools, preprocess, schema
    from factorlab.calendar import rebalance_dates, sessions
    from factorlab.codes import normalize_asset_code, normalize_asset_codes
    from factorlab.datasets import synthetic_market
    from factorlab.errors import FactorLabError
    from factorlab.market import Market
    from factorlab.schema import TABLES, validate

#: Each public name -> the module it comes from (a submodule when the name is the module's own).
_LAZY: dict[str, str] = {
    "calendar": "factorlab.calendar",
    "datasets": "factorlab.datasets",
    "errors": "factorlab.errors",
    "evaluate": "factorlab.evaluate",
    "ops": "factorlab.ops",
    "pools": "factorlab.pools",
    "preprocess": "factorlab.preprocess",
    "schema": "factorlab.schema",
    "rebalance_dates": "factorlab.calendar",
    "sessions": "factorlab.calendar",
    "normalize_asset_code": "factorlab.codes",
    "normalize_asset_codes": "factorlab.codes",
    "synthetic_market": "factorlab.datasets",
    "FactorLabError": "factorlab.errors",
    "Market": "factorlab.market",
    "TABLES": "factorlab.schema",
    "validate": "factorlab.schema",
}

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


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'factorlab' has no attribute {name!r}")
    module = importlib.import_module(module_name)
    value = module if module_name == f"factorlab.{name}" else getattr(module, name)
    globals()[name] = value  # the next access is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
