"""All the northbound strategies on a market in one call, cached by the market's content hash and
the parameters: :func:`run_strategies` returns their tidy tables and daily series.

Each strategy is a *part* with its defaults (the seed's settings); ``options=`` overrides any
keyword of a part's own function. A part whose function is not built is not offered, never
faked.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import inspect
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import polars as pl

from factorlab._cache import cached, code_fingerprint, read_result, store, write_result
from factorlab._display import Summary, data_line, join_names, sizes
from factorlab._version import __version__
from factorlab.errors import MarketError, ParameterError
from factorlab.market import Market
from factorlab.northbound.estimated import StudyEstimates, estimated_note, study_estimates
from factorlab.northbound.hygiene import disclosure_end
from factorlab.northbound.participants import ParticipantSplit, classify_participants
from factorlab.northbound.strategies.flows import FLOW_KINDS, market_flows
from factorlab.northbound.strategies.portraits import PORTRAIT_TABLES, portraits
from factorlab.northbound.strategies.quota import quota_band, quota_band_index
from factorlab.northbound.strategies.rotation import (
    ROTATION_COSTS,
    RotationInputs,
    industry_rotation,
    layered_groups,
    rotation_grid,
    rotation_inputs,
    seed_rotations,
)
from factorlab.northbound.strategies.timing import threshold_grid, threshold_timing
from factorlab.northbound.study import data_description
from factorlab.progress import reports_progress
from factorlab.typing import Progress, ProgressOption

__all__ = [
    "ALL_PARTS",
    "NOT_PUBLIC",
    "SEED_TIMING_CLAIMS",
    "STRATEGY_PARTS",
    "StrategiesParams",
    "StrategiesResult",
    "run_strategies",
]

log = logging.getLogger(__name__)

#: Bump when the cached result's layout changes (invalidates strategy caches).
STRATEGIES_CACHE_FORMAT = 1
STRATEGIES_KIND = "factorlab-strategies"
_SEP = "__"  # between a part's name and a frame's name in the cached table names
#: The flow kinds the rotation part draws layered groups for (one run each).
LAYERED_FLOWS = ("all", "trading", "allocation")


class _Shared:
    """What several parts read, computed once per call: the participant split and the
    rotation's inputs (industry returns, caps, holdings and flows)."""

    def __init__(self, market: Market, say: Progress, est: StudyEstimates | None = None) -> None:
        self.market = market
        self.say = say
        self.est = est  # estimated holdings past the disclosure change (all-money flows)
        self.seconds: dict[str, float] = {}

    def _timed(self, stage: str, make: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        out = make()
        self.seconds[stage] = round(time.perf_counter() - t0, 3)
        self.say(f"{stage}: {self.seconds[stage]:.1f}s")
        return out

    @cached_property
    def split(self) -> ParticipantSplit:
        return self._timed("participant split", lambda: classify_participants(self.market))

    @cached_property
    def rotation_inputs(self) -> RotationInputs:
        split = self.split if self.market.has("participant_holdings") else None
        return self._timed(
            "rotation inputs",
            lambda: rotation_inputs(self.market, split=split, estimated_holdings=self.est),
        )

    def inputs_for(self, options: Mapping[str, Any]) -> RotationInputs:
        """The shared rotation inputs, or the part's own when it sets `inputs` options."""
        if not options:
            return self.rotation_inputs
        split = self.split if self.market.has("participant_holdings") else None
        kw = {"split": split, "estimated_holdings": self.est, **options}
        return rotation_inputs(self.market, **kw)


Frames = dict[str, pl.DataFrame]
Options = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class _Part:
    """One strategy of the call: the functions whose keywords ``options[name][group]`` may set
    (one group: ``options[name]`` holds the keywords directly), the tables it needs, and how it
    runs into (tables, series)."""

    name: str
    functions: Mapping[str, Callable[..., Any]]
    #: each a table, or a tuple of alternatives (any one will do)
    tables: tuple[str | tuple[str, ...], ...]
    run: Callable[[Market, _Shared, Options, Progress], tuple[Frames, Frames]]
    #: extra keywords a group accepts (a function forwarding ``**options``)
    extra: Mapping[str, Callable[..., Any]] = field(default_factory=dict)

    @property
    def flat(self) -> bool:
        return len(self.functions) == 1


def _run_portraits(
    market: Market, shared: _Shared, options: Options, say: Progress
) -> tuple[Frames, Frames]:
    kw = dict(options.get("portraits", {}))
    p = portraits(market, split=kw.pop("split", None) or shared.split, progress=say, **kw)
    tables = {
        "types": p.types,
        "monthly": p.monthly,
        "industry": p.industry,
        "industry_table": p.industry_table(),
        "industry_flows": p.industry_flows,
        "coverage": p.coverage,
        "caps": p.caps,
        "notes": p.notes,
        "params": _params_frame(p.params),
    }
    return tables, {"flows": p.flows}


def _seed_books(
    market: Market, inputs: RotationInputs, options: Mapping[str, Any], asset: str
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, list[dict[str, str]]]:
    """The seed's two named rotations (:func:`seed_rotations`) with and without costs: stats
    (one row per book), daily series and targets (with costs)."""
    kw = dict(options)
    costs = kw.pop("costs", ROTATION_COSTS)
    stats, daily, targets, params = [], [], [], []
    for with_costs in (True, False):
        books = seed_rotations(
            market, asset=asset, costs=costs if with_costs else None, inputs=inputs, **kw
        )
        for name, r in books.items():
            key = {"book": pl.lit(name), "costs": pl.lit(with_costs)}
            stats.append(r.stats.with_columns(**key))
            daily.append(r.daily.with_columns(**key))
            if with_costs:
                targets.append(r.targets.with_columns(book=pl.lit(name)))
                params.append({"book": name, **{k: str(v) for k, v in r.params.items()}})
    first = ["book", "costs"]
    return (
        pl.concat(stats, how="diagonal_relaxed").select(*first, pl.exclude(first)),
        pl.concat(daily, how="diagonal_relaxed").select(*first, pl.exclude(first)),
        pl.concat(targets).select("book", pl.exclude("book")),
        params,
    )


def _book_params(params: list[dict[str, str]]) -> pl.DataFrame:
    rows = [(f"{p['book']}.{k}", v) for p in params for k, v in p.items() if k != "book"]
    return pl.DataFrame(rows, schema={"parameter": pl.String, "value": pl.String}, orient="row")


def _run_rotation(
    market: Market, shared: _Shared, options: Options, say: Progress
) -> tuple[Frames, Frames]:
    inputs = shared.inputs_for(options.get("inputs", {}))
    layered_kw = dict(options.get("layered", {}))
    flows = layered_kw.pop("flows", LAYERED_FLOWS)
    stats, daily, groups = [], [], []
    for flow in flows:
        lg = layered_groups(market, flow=flow, inputs=inputs, **layered_kw)
        stats.append(lg.stats.with_columns(flow=pl.lit(flow)))
        daily.append(lg.daily.with_columns(flow=pl.lit(flow)))
        groups.append(lg.groups.with_columns(flow=pl.lit(flow)))
    say("layered groups (图38-39, 表9)")
    book_stats, book_daily, targets, params = _seed_books(
        market, inputs, options.get("books", {}), "stocks"
    )
    say("the seed's rotations (表12-16)")
    grid = rotation_grid(market, inputs=inputs, **options.get("grid", {}))
    say(f"rotation grid: {grid.table.height} books (表10-11, 图46, 图53)")
    tables = {
        "layered_stats": pl.concat(stats, how="diagonal_relaxed").select(
            "flow", pl.exclude("flow")
        ),
        "layered_groups": pl.concat(groups).select("flow", pl.exclude("flow")),
        "books": book_stats,
        "targets": targets,
        "grid": grid.table,
        "notes": inputs.report,
        "params": _book_params(params),
    }
    series = {
        "layered_daily": pl.concat(daily).select("flow", pl.exclude("flow")),
        "books_daily": book_daily,
    }
    return tables, series


def _run_etf_rotation(
    market: Market, shared: _Shared, options: Options, say: Progress
) -> tuple[Frames, Frames]:
    inputs = shared.inputs_for(options.get("inputs", {}))
    book_stats, book_daily, targets, params = _seed_books(
        market, inputs, options.get("books", {}), "etf"
    )
    say("the seed's rotations on ETFs (表18, 图57-58)")
    held = targets.select("industry", etf="asset").unique().sort("industry")
    return (
        {
            "books": book_stats,
            "targets": targets,
            "etfs": held,
            "notes": inputs.report,
            "params": _book_params(params),
        },
        {"books_daily": book_daily},
    )


def _book_daily(book: Any) -> pl.DataFrame:
    return book.daily.select("date", "nav_net", "net", "benchmark", "exposure")


def _run_quota(
    market: Market, shared: _Shared, options: Options, say: Progress
) -> tuple[Frames, Frames]:
    stock = quota_band(market, **options.get("stocks", {}))
    say("quota band on stocks (seed 000)")
    index = quota_band_index(market, **options.get("index", {}))
    say("quota band on the index")
    versions = {"stocks": stock, "index": index}
    stats = pl.concat(
        [r.stats.with_columns(version=pl.lit(v)) for v, r in versions.items()]
    ).select("version", pl.exclude("version"))
    params = [(f"{v}.{k}", _text(x)) for v, r in versions.items() for k, x in r.params.items()] + [
        (f"{v}.mf", r.definition) for v, r in versions.items()
    ]
    tables = {
        "stats": stats,
        "trades": stock.book.trades,
        "params": pl.DataFrame(
            params, schema={"parameter": pl.String, "value": pl.String}, orient="row"
        ),
    }
    series = {
        "signal": stock.signal,
        "index_signal": index.signal,
        "daily": pl.concat(
            [_book_daily(r.book).with_columns(version=pl.lit(v)) for v, r in versions.items()]
        ).select("version", pl.exclude("version")),
    }
    return tables, series


#: Keywords of :func:`threshold_grid` the timing books reuse, so that they match the grid.
_TIMING_SHARED = ("window", "history", "costs", "in_sample", "end", "tracking_bps")


def _timing(
    market: Market,
    kw: dict[str, Any],
    split: ParticipantSplit | None,
    say: Progress,
    est: StudyEstimates | None = None,
) -> tuple[Frames, Frames]:
    """The threshold grid with `kw`, then one book at each index x flow x book's in-sample best
    (N, M) with the grid's shared keywords (and the estimated holdings, when given)."""
    flow_data = None
    if est is not None:  # the flows past the disclosure change, read once for the grid and books
        kinds = tuple(dict.fromkeys(kw.get("flows", FLOW_KINDS)))
        flow_data = market_flows(market, kinds=kinds, split=split, estimated_holdings=est)
        kw = {**kw, "flow_data": flow_data}
    grid = threshold_grid(market, split=split, **kw)
    say(f"threshold grid: {grid.table.height // 6} points (图19-22)")
    best = grid.best()
    picks = best.filter(pl.col("sample") == "in").select("index", "flow", "book", "n", "m")
    common = {k: kw[k] for k in (*_TIMING_SHARED, "flow_data") if k in kw}
    stats, daily, signals = [], [], []
    for index, flow, book, n, m in picks.iter_rows():
        r = threshold_timing(
            market, index=index, flow=flow, book=book, n=n, m=m, split=split, **common
        )
        key = {"index": pl.lit(index), "flow": pl.lit(flow), "book": pl.lit(book)}
        stats.append(r.stats.with_columns(**key, n=pl.lit(n), m=pl.lit(m)))
        daily.append(_book_daily(r.book).with_columns(**key))
        signals.append(r.signal.rename({"flow": "net_flow"}).with_columns(**key))
    say(f"threshold timing at the in-sample best (N, M): {picks.height} books (表4-7)")
    keys = ["index", "flow", "book"]
    tables = {
        "grid": grid.table,
        "best": best,
        "books": pl.concat(stats).select(*keys, "n", "m", pl.exclude(*keys, "n", "m")),
        "sources": pl.DataFrame(
            {"flow": list(grid.sources), "source": list(grid.sources.values())}
        ),
        "params": pl.DataFrame(
            {"parameter": list(grid.params), "value": [_text(v) for v in grid.params.values()]},
            schema={"parameter": pl.String, "value": pl.String},
        ),
    }
    series = {
        "books_daily": pl.concat(daily).select(*keys, pl.exclude(*keys)),
        "signals": pl.concat(signals).select(*keys, pl.exclude(*keys)),
    }
    return tables, series


def _run_threshold(
    market: Market, shared: _Shared, options: Options, say: Progress
) -> tuple[Frames, Frames]:
    kw = dict(options.get("threshold", {}))
    split = kw.pop("split", None)
    if split is None and market.has("participant_holdings"):
        split = shared.split
    return _timing(market, kw, split, say, shared.est)


#: Seed 004 §2.2's in-sample claims for the all-flow long-only timing (2017-2022).
SEED_TIMING_CLAIMS = {"csi300": (0.2035, 1.50), "csi800": (0.1861, 1.39)}
#: What real data cannot show, said in the report instead of proxying it.
NOT_PUBLIC = (
    "Real per-participant (CCASS) holdings and per-stock daily holdings are not public in "
    "../shared/realdata: trading-type and allocation-type flows, the portraits, the industry "
    "rotation and the stock version of the quota band cannot run on real data and are not "
    "proxied; the real-data part times CSI 300 on all northbound flows only."
)


def _run_real(
    market: Market, shared: _Shared, options: Options, say: Progress
) -> tuple[Frames, Frames]:
    kw = {"indices": ("csi300",), "flows": ("all",), **options.get("threshold", {})}
    tables, series = _timing(market, kw, None, say, shared.est)
    q = quota_band_index(market, **options.get("quota_index", {}))
    say("quota band on the index")
    books = tables["books"].filter((pl.col("book") == "long_only") & (pl.col("sample") != "full"))
    claims = []
    for index, (annual, sharpe) in SEED_TIMING_CLAIMS.items():
        for row in books.filter(pl.col("index") == index).iter_rows(named=True):
            claims.append(
                {
                    "index": index,
                    "sample": row["sample"],
                    "costs": row["costs"],
                    "n": row["n"],
                    "m": row["m"],
                    "annual_return": row["annual_return"],
                    "sharpe": row["sharpe"],
                    "seed_annual_in_sample": annual,
                    "seed_sharpe_in_sample": sharpe,
                }
            )
    tables.update(
        quota_stats=q.stats,
        claims=pl.DataFrame(claims),
        notes=pl.DataFrame(
            {
                "step": ["not public", "quota-band mf"],
                "rows": [0, q.signal.height],
                "detail": [NOT_PUBLIC, q.definition],
            }
        ),
    )
    series.update(quota_signal=q.signal, quota_daily=_book_daily(q.book))
    return tables, series


_ROTATION_TABLES = ("prices", "assets", "northbound", "participant_holdings", "indices")

_PARTS: dict[str, _Part] = {
    part.name: part
    for part in (
        _Part(
            "quota_band",
            {"stocks": quota_band, "index": quota_band_index},
            ("quotas", "northbound", "prices", "indices"),
            _run_quota,
        ),
        _Part(
            "threshold",
            {"threshold": threshold_grid},
            ("indices", ("quotas", "northbound_flows"), "participant_holdings", "participants"),
            _run_threshold,
        ),
        _Part(
            "portraits",
            {"portraits": portraits},
            PORTRAIT_TABLES,
            _run_portraits,
        ),
        _Part(
            "rotation",
            {
                "inputs": rotation_inputs,
                "layered": layered_groups,
                "books": seed_rotations,
                "grid": rotation_grid,
            },
            _ROTATION_TABLES,
            _run_rotation,
            extra={"books": industry_rotation},
        ),
        _Part(
            "etf_rotation",
            {"inputs": rotation_inputs, "books": seed_rotations},
            (*_ROTATION_TABLES, "etfs"),
            _run_etf_rotation,
            extra={"books": industry_rotation},
        ),
        _Part(
            "real_data",
            {"threshold": threshold_grid, "quota_index": quota_band_index},
            ("indices", "northbound_flows"),
            _run_real,
        ),
    )
}
#: Every part, in report order.
ALL_PARTS: tuple[str, ...] = tuple(_PARTS)
#: The parts :func:`run_strategies` runs by default (every part a synthetic market can run;
#: ``real_data`` is for the real sample: ``parts=["real_data"]``).
STRATEGY_PARTS: tuple[str, ...] = tuple(p for p in ALL_PARTS if p != "real_data")
#: Keywords a part sets itself (options may not).
_FIXED = {
    "inputs": {"split"},
    "books": {"asset", "inputs", "flow", "top", "rebalance", "lookback", "skip"},
}


def _params_frame(params: Any) -> pl.DataFrame:
    """A parameters dataclass as a (parameter, value) text frame."""
    items = {f.name: getattr(params, f.name) for f in dataclasses.fields(params)}
    return pl.DataFrame(
        {"parameter": list(items), "value": [_text(v) for v in items.values()]},
        schema={"parameter": pl.String, "value": pl.String},
    )


def _text(value: Any) -> str:
    if isinstance(value, (tuple, list, range)):
        return ", ".join(str(v) for v in value)
    return str(value)


def _jsonable(value: Any) -> Any:
    """`value` in JSON terms for the cache key, or a TypeError for what has no stable text (a
    frame, a function, an arbitrary object): such a call is not cached."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (tuple, list, range)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(_jsonable(v) for v in value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            "__class__": f"{type(value).__module__}.{type(value).__qualname__}",
            **{f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)},
        }
    raise TypeError(f"{type(value).__name__} has no stable text")


@dataclass(frozen=True)
class StrategiesParams:
    """What defines one :func:`run_strategies` call (and its cache key): the parts, and each
    part's resolved keyword arguments (every function's defaults with the options applied) as
    canonical JSON (``None``: an argument without stable text, e.g. a frame, so the call is
    not cached). The key adds the market's content hash, the factorlab version, the cache
    format and the fingerprint of factorlab's code (:func:`factorlab._cache.code_fingerprint`),
    so neither other data, other parameters nor other code is ever served a stale result."""

    parts: tuple[str, ...] = STRATEGY_PARTS
    options: tuple[tuple[str, str | None], ...] = ()
    #: sha256 of the estimated holdings' values (``estimated_holdings=``); None: no estimates.
    estimated_holdings: str | None = None

    def key(self, market_hash: str) -> str | None:
        """The cache key on the market whose (verified) content hash is `market_hash`; None
        when an option cannot be keyed."""
        if any(text is None for _, text in self.options):
            return None
        blob = json.dumps(
            {
                "market": market_hash,
                "version": __version__,
                "cache_format": STRATEGIES_CACHE_FORMAT,
                "code": code_fingerprint(),
                "parts": list(self.parts),
                "options": [list(o) for o in self.options],
                "estimated_holdings": self.estimated_holdings,
            },
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class StrategiesResult:
    """Result of :func:`run_strategies`.

    ``tables``: part -> {name -> tidy frame} (statistics, portraits, grids); ``series``: part ->
    {name -> daily frame} (flows, signals, NAVs). ``seconds``: run time per part. ``data``: what
    the call ran on (source, preset, seed, content hash, path). ``estimated_from``: with
    ``estimated_holdings``, the disclosure change: every frame with a ``date`` column then has
    a boolean ``estimated`` column (True after it), else None.
    """

    tables: dict[str, dict[str, pl.DataFrame]]
    series: dict[str, dict[str, pl.DataFrame]]
    params: StrategiesParams
    seconds: dict[str, float]
    data: dict[str, str] = field(default_factory=dict)
    estimated_from: dt.date | None = None

    def table(self, part: str, name: str) -> pl.DataFrame:
        """One table (or daily series) of one part; a ParameterError names what there is."""
        for group in (self.tables, self.series):
            if name in group.get(part, {}):
                return group[part][name]
        have = {p: sorted({*self.tables.get(p, {}), *self.series.get(p, {})}) for p in self.parts}
        raise ParameterError(f"no frame `{name}` of part `{part}`; this result has {have}.")

    @property
    def parts(self) -> tuple[str, ...]:
        """The parts that ran, in report order."""
        return tuple(p for p in self.params.parts if p in self.tables or p in self.series)

    def _display(self) -> Summary:
        lines = [
            data_line(self),  # the one rendering of what the data was
            f"parts: {join_names(self.parts)}; {sum(self.seconds.values()):.1f} s",
        ]
        note = estimated_note(self.estimated_from, self.data)
        if note:
            lines.append(note)
        for part in self.parts:
            frames = {**self.tables.get(part, {}), **self.series.get(part, {})}
            lines.append(f"{part}: {sizes(frames)}")
        return Summary("StrategiesResult: northbound strategies", tuple(lines))

    def __repr__(self) -> str:
        return self._display().text()

    def _repr_html_(self) -> str:
        return self._display().html()

    def save(self, path: Path) -> None:
        """Write every frame to `path` as a market directory of result tables (manifest with
        size and sha256 per file, renamed into place when complete)."""
        layout = {
            "tables": {p: list(f) for p, f in self.tables.items()},
            "series": {p: list(f) for p, f in self.series.items()},
        }
        frames = {
            f"{part}{_SEP}{name}": frame
            for group in (self.tables, self.series)
            for part, named in group.items()
            for name, frame in named.items()
        }
        write_result(path, STRATEGIES_KIND, frames, {"seconds": self.seconds, "layout": layout})

    @classmethod
    def load(cls, path: Path, params: StrategiesParams) -> StrategiesResult:
        """Read a result written by :meth:`save`, re-hashing every file against its manifest
        (:class:`MarketError` naming the file if one changed)."""
        stored, meta = read_result(path, STRATEGIES_KIND, what="strategies")
        layout = meta.get("layout")
        if not isinstance(layout, dict):
            raise MarketError(f"`{path}` is not a factorlab strategies result (no layout).")
        groups: dict[str, dict[str, Frames]] = {}
        for g in ("tables", "series"):
            groups[g] = {}
            for part, names in layout.get(g, {}).items():
                missing = [n for n in names if f"{part}{_SEP}{n}" not in stored]
                if missing:
                    raise MarketError(f"strategies result `{path}` lacks {part} {missing}.")
                groups[g][part] = {n: stored[f"{part}{_SEP}{n}"] for n in names}
        return cls(
            tables=groups["tables"],
            series=groups["series"],
            params=params,
            seconds=dict(meta.get("seconds", {})),
        )


def _resolve(
    parts: Sequence[str] | None, options: Mapping[str, Mapping[str, Any]] | None
) -> tuple[tuple[str, ...], dict[str, Options]]:
    chosen = tuple(STRATEGY_PARTS if parts is None else parts)
    if isinstance(parts, str):
        raise ParameterError(f"`parts` must be a sequence of part names; got the string {parts!r}.")
    unknown = [p for p in chosen if p not in _PARTS]
    if unknown or not chosen:
        raise ParameterError(f"`parts` must name parts of {list(ALL_PARTS)}; got {list(chosen)}.")
    opts = {str(k): dict(v) for k, v in (options or {}).items()}
    stray = sorted(set(opts) - set(chosen))
    if stray:
        raise ParameterError(
            f"`options` for part(s) {stray} that do not run (parts: {list(chosen)})."
        )
    nested: dict[str, Options] = {}
    for part, given in opts.items():
        spec = _PARTS[part]
        groups = {next(iter(spec.functions)): given} if spec.flat else given
        stray_groups = sorted(set(groups) - set(spec.functions))
        if stray_groups:
            raise ParameterError(
                f"`options['{part}']` takes the groups {list(spec.functions)} (one mapping of "
                f"keywords each); got {stray_groups}."
            )
        for group, kwargs in groups.items():
            if not isinstance(kwargs, Mapping):
                raise ParameterError(
                    f"`options['{part}']['{group}']` must be a mapping of keywords; got "
                    f"{type(kwargs).__name__}."
                )
            allowed = _keywords(spec.functions[group]) | _keywords(spec.extra.get(group))
            allowed -= _FIXED.get(group, set()) if not spec.flat else set()
            if group == "layered":
                allowed = (allowed - {"flow"}) | {"flows"}
            if "estimated_holdings" in kwargs:
                raise ParameterError(
                    f"pass estimated holdings as run_strategies(estimated_holdings=...), not in "
                    f"`options['{part}']`: every part that can use them then reads the same ones."
                )
            bad = sorted(set(kwargs) - allowed)
            if bad:
                raise ParameterError(
                    f"`options['{part}']{'' if spec.flat else f'[{group!r}]'}` has unknown "
                    f"keyword(s) {bad}; {spec.functions[group].__name__} takes {sorted(allowed)}."
                )
        nested[part] = {g: dict(k) for g, k in groups.items()}
    return chosen, nested


def _missing_tables(market: Market, part: str) -> list[str]:
    """The tables (or alternatives, "`a` or `b`") `part` needs and `market` lacks."""
    out = []
    for need in _PARTS[part].tables:
        options = (need,) if isinstance(need, str) else need
        if not any(market.has(t) for t in options):
            out.append(" or ".join(f"`{t}`" for t in options))
    return out


def _keywords(function: Callable[..., Any] | None) -> set[str]:
    if function is None:
        return set()
    return {
        n
        for n, p in inspect.signature(function).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and n != "progress"
    }


def _resolved(part: str, given: Options) -> dict[str, dict[str, Any]]:
    """Every keyword the part's functions run with: their defaults, then the options."""
    spec = _PARTS[part]
    out: dict[str, dict[str, Any]] = {}
    for group, function in spec.functions.items():
        values: dict[str, Any] = {}
        for fn in (spec.extra.get(group), function):
            if fn is None:
                continue
            for name, p in inspect.signature(fn).parameters.items():
                if p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is not p.empty:
                    values[name] = p.default
        values.pop("progress", None)
        if group == "layered":
            values["flows"] = LAYERED_FLOWS
        values.update(given.get(group, {}))
        out[group] = values
    return out


def _option_text(kwargs: Mapping[str, Any]) -> str | None:
    try:
        return json.dumps(_jsonable(dict(kwargs)), sort_keys=True)
    except TypeError as exc:
        log.info("an option cannot be keyed (%s): the strategies are not cached", exc)
        return None


def _cache_path(market: Market, params: StrategiesParams, cache: bool | str | Path) -> Path | None:
    if cache is False or not market.content_hash:
        return None
    # the key is the content hash: re-hash the files so that a changed file is never keyed
    # (and served) by its old hash
    market.verify_files()
    key = params.key(market.content_hash)
    if key is None:
        return None
    if cache is True:
        from factorlab.datasets import cache_dir

        root = cache_dir() / "strategies"
    else:
        root = Path(cache)
    return root / key


def _marked(group: dict[str, Frames], change: dt.date) -> dict[str, Frames]:
    """`group` with an ``estimated`` column (``date`` after `change`) on every frame that has
    a ``date`` column and none yet (a part's own flag, e.g. the rotation's, is kept)."""
    return {
        part: {
            name: f.with_columns(estimated=pl.col("date") > change)
            if "date" in f.columns and "estimated" not in f.columns
            else f
            for name, f in frames.items()
        }
        for part, frames in group.items()
    }


@reports_progress("northbound strategies")
def run_strategies(
    market: Market,
    *,
    parts: Sequence[str] | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    cache: bool | str | Path = True,
    progress: ProgressOption = "auto",
    estimated_holdings: Any = None,
) -> StrategiesResult:
    """Run the northbound strategies of seeds 000 and 004 on `market` with their defaults.

    Parameters
    ----------
    market
        A market with the tables the chosen parts need (checked for all parts before any
        work: one :class:`~factorlab.errors.MarketError` names every missing table per part).
    parts
        Which parts, of :data:`STRATEGY_PARTS` (default: all of them).
    options
        Per part, keyword arguments overriding the defaults of the part's functions: for a
        part with one function its keywords directly (``{"portraits": {"cap": "float"}}``),
        else per group (``{"rotation": {"grid": {"tops": (3, 5)}, "books": {"start":
        "2018-01-01"}}}``; groups: ``rotation``: inputs (:func:`rotation_inputs`), layered
        (:func:`layered_groups`; ``flows=`` the kinds, one run each), books (the seed's two
        rotations, :func:`seed_rotations` / :func:`industry_rotation`, with and without
        ``costs``), grid (:func:`rotation_grid`); ``etf_rotation``: inputs, books).
        Unknown parts, groups or keywords are a ParameterError.
    cache
        True: results are cached under ``cache_dir()/strategies`` by the market's content hash,
        the factorlab version and the parameters, so a rerun reads them back; a path: cache
        there; False: no cache. A market without a content hash (built in memory) or an option
        without a stable text (a frame, a function) is not cached.
    estimated_holdings
        Holdings after the market's disclosure change (seed 002: a
        :class:`~factorlab.northbound.estimation.HoldingsEstimate` from ``estimate_holdings``,
        or a (date, asset, shares [, published, flow]) frame). The parts on all-money flows
        then run past the change: ``threshold`` and ``real_data`` (the link figures up to the
        change, then the estimated flows), ``rotation`` and ``etf_rotation`` (all-flow
        rankings). Each estimated day enters on the day it is published. Trading / allocation
        flows, the portraits and the quota band stay within the daily disclosure (estimates
        have no participants; the quota band's mf is quota usage). Every frame with a ``date``
        column gets an ``estimated`` column (``date`` after the change), ``estimated_from`` is
        the change, and the digest of the estimates is part of the cache key.
    progress
        See :mod:`factorlab.progress`: a line per finished stage of each part, ``PART: 1.2s``
        when a part is done, or ``cached strategies: PATH``.

    Returns
    -------
    StrategiesResult
        Tidy tables and daily series per part.
    """
    chosen, opts = _resolve(parts, options)
    missing = {p: _missing_tables(market, p) for p in chosen}
    missing = {p: t for p, t in missing.items() if t}
    if missing:
        listed = "; ".join(f"{p} needs {', '.join(ts)}" for p, ts in missing.items())
        runnable = [p for p in ALL_PARTS if not _missing_tables(market, p)]
        way_out = (
            f"or leave those parts out with `parts=` (this market can run parts={runnable})"
            if runnable
            else "none of the parts can run on it"
        )
        raise MarketError(
            f"this market lacks tables the strategies need: {listed} (present: "
            f"{', '.join(market.names) or 'none'}). Load a market with them (the synthetic "
            f"market has every table), {way_out}."
        )
    est = None if estimated_holdings is None else study_estimates(estimated_holdings)
    params = StrategiesParams(
        parts=chosen,
        options=tuple((p, _option_text(_resolved(p, opts.get(p, {})))) for p in chosen),
        estimated_holdings=None if est is None else est.digest_all,
    )
    data = data_description(market)
    if est is not None:
        data |= {"estimated_holdings": est.source, "estimated_hash": str(est.digest_all)[:16]}
    change = None if est is None else disclosure_end(market)
    cache_path = _cache_path(market, params, cache)
    hit = cached(lambda path: StrategiesResult.load(path, params), cache_path, "strategies result")
    if hit is not None:
        progress(f"cached strategies: {cache_path}")
        return replace(hit, data=data, estimated_from=change)
    shared = _Shared(market, progress, est)
    tables: dict[str, Frames] = {}
    series: dict[str, Frames] = {}
    seconds: dict[str, float] = {}
    for part in chosen:
        t0, before = time.perf_counter(), sum(shared.seconds.values())
        tables[part], series[part] = _PARTS[part].run(market, shared, opts.get(part, {}), progress)
        shared_now = sum(shared.seconds.values()) - before  # the split, when this part made it
        seconds[part] = round(time.perf_counter() - t0 - shared_now, 3)
        progress(f"{part}: {seconds[part]:.1f}s")
    seconds = {**shared.seconds, **seconds}
    if change is not None:  # every estimated date marked, in every dated frame
        tables, series = _marked(tables, change), _marked(series, change)
    result = StrategiesResult(
        tables=tables, series=series, params=params, seconds=seconds, data=data,
        estimated_from=change,
    )  # fmt: skip
    store(result.save, cache_path, "strategies")
    return result
