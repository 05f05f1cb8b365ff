"""The northbound factor study: the handbook protocol (section 1.5) in one call.

14 factors x pools (csi300 / csi500 / liq1500), preprocessing winsorize (MAD) -> z-score ->
neutralize (industry + log float cap) within each pool and date, weekly rebalance, long = top 20%
vs the pool benchmark, long-short = top 20% minus bottom 20%, with and without costs. Returns the
handbook table, the factor-return correlation matrices and the daily series.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, TypeAlias

import numpy as np
import polars as pl

from factorlab._cache import cached, read_result, store, write_result
from factorlab._display import Summary, join_names, sizes, wrap
from factorlab._kernels.parallel import map_in_order, n_threads, small_pages
from factorlab._kernels.rank import group_tail_flags_nb
from factorlab._version import __version__
from factorlab.backtest import Costs, backtest_many, pool_benchmark
from factorlab.calendar import rebalance_dates, to_date
from factorlab.errors import MarketError, MissingColumnError, ParameterError
from factorlab.evaluate import (
    clean_factor,
    ic_summary,
    information_coefficient,
    schedule_forward_returns,
)
from factorlab.evaluate.metrics import (
    aggregate_returns,
    annual_return,
    max_drawdown,
    sharpe_ratio,
)
from factorlab.frames import (
    CodeMatch,
    as_lazy,
    check_columns,
    check_numeric,
    check_unique_keys,
    date_expr,
    match_codes,
)
from factorlab.grid import AssetGrid, GridIndex
from factorlab.market import Market
from factorlab.northbound.estimated import StudyEstimates, estimated_note, study_estimates
from factorlab.northbound.factors import (
    NORTHBOUND_FACTORS,
    SPLIT_FACTORS,
    SPLIT_VARIANTS,
    WINDOW_PREFIX,
    northbound_factors,
    northbound_windows,
)
from factorlab.northbound.hygiene import (
    PRE_CREDIT_TOLERANCE,
    bonus_checks,
    disclosure_end,
    research_panel,
)
from factorlab.northbound.participants import (
    PriceGrids,
    classify_participants,
    participant_changes,
    participant_flows,
)
from factorlab.ops import Factor, compute_factors
from factorlab.parallel import check_engine, executor, resolve_workers
from factorlab.preprocess import preprocess
from factorlab.progress import reports_progress
from factorlab.typing import Engine, HeldRule, Progress, ProgressOption, SampleName

__all__ = [
    "DECAY_DATE",
    "HANDBOOK_END",
    "HANDBOOK_START",
    "RISK_FREE",
    "SAMPLES",
    "STUDY_POOLS",
    "FactorSpec",
    "StudyParams",
    "StudyResult",
    "UserFactor",
    "factor_study",
    "factor_sweep",
    "period_table",
    "yearly_table",
]

log = logging.getLogger(__name__)

STUDY_POOLS = ("csi300", "csi500", "liq1500")
#: Bump when the cached result's layout changes (invalidates study caches).
STUDY_CACHE_FORMAT = 6
STUDY_KIND = "factorlab-study"
_RESULT_TABLES = ("table", "daily", "ic", "coverage", "notes", "scores")
#: The dated result tables that mark, with an ``estimated`` column, the dates whose holdings
#: are estimated (a study with ``estimated_holdings``).
_MARKED = ("daily", "ic", "coverage")
_HEADLINE = (
    "factor",
    "pool",
    "long_excess_ann",
    "long_excess_sharpe",
    "long_short_sharpe",
    "rank_ic_mean_pct",
)
#: The handbook's back-test window (seed 001 §1.5: 回测区间 2017年1月1日至2023年1月31日).
HANDBOOK_START = dt.date(2017, 1, 1)
HANDBOOK_END = dt.date(2023, 1, 31)
#: Named sample windows of `factor_study(sample=...)`: (start, end).
SAMPLES: dict[str, tuple[dt.date, dt.date]] = {"handbook": (HANDBOOK_START, HANDBOOK_END)}
#: The handbook's break: "有效性于2021年后显著减弱" (seed 001 §2.2, the conclusions).
DECAY_DATE = dt.date(2021, 1, 1)
#: The default annual risk-free rate of the long leg's own Sharpe: the PBoC one-year deposit
#: benchmark rate, 1.50% from 2015-10-24 on (unchanged over the handbook's window). Excess and
#: long-short returns are self-financing: their Sharpe uses no risk-free rate.
RISK_FREE = 0.015
#: The participant split's per-asset flows joined to the research panel.
_SPLIT_COLUMNS = ("flow_trading", "flow_allocation")
#: A date's rank IC needs at least this many names with both a score and a forward return.
MIN_IC_NAMES = 10
#: Columns of the research panel and the study's cross-section: no user factor is named so.
_RESERVED = frozenset(
    {
        *("pool", "date", "asset", "industry", "cap", "log_float_cap", "close", "float_shares"),
        *("shares", "vwap", "amount", "volume", "ret", "hold_value", "hold_ratio", "d_shares"),
        *("flow", "usable_from", "flow_trading", "flow_allocation", "estimated", "share_basis"),
    }
)

#: One item of `factors`: a handbook name, a named expression (``pl.Expr`` with ``.alias`` or a
#: :class:`~factorlab.ops.Factor`, e.g. a registry entry), a ``(frame, column)`` pair, a frame
#: with date, asset and one value column, or a mapping name -> expression / frame / pair.
FactorSpec: TypeAlias = Any


@dataclass(frozen=True)
class UserFactor:
    """A user factor as the study saw it (part of :class:`StudyParams` and the cache key).

    ``kind``: ``"expression"`` (evaluated on the research panel, missing columns taken from
    ``prices``) or ``"column"`` (values of a user frame). ``definition``: what the report
    shows. ``digest``: sha256 of the serialized expression or of the frame's values; ``None``
    when the expression cannot be serialized (a Python function inside it): such a study is
    not cached, so a changed function is never served a stale result."""

    name: str
    kind: Literal["expression", "column"]
    definition: str
    digest: str | None


@dataclass(frozen=True)
class StudyParams:
    """Everything that defines one study run (and its cache key)."""

    factors: tuple[str, ...] = NORTHBOUND_FACTORS
    pools: tuple[str, ...] = STUDY_POOLS
    window: int = 20
    top: float = 0.2
    rebalance: Literal["weekly", "monthly"] = "weekly"
    every: int = 1
    entry: Literal["next_open", "next_vwap"] = "next_vwap"
    weighting: Literal["equal", "cap"] = "equal"
    benchmark_weighting: Literal["equal", "cap"] | None = None
    costs: Costs = field(default_factory=Costs)
    capital: float = 10_000_000.0
    start: dt.date | None = None
    end: dt.date | None = None
    steps: tuple[str, ...] = ("winsorize_mad", "zscore", "neutralize")
    annualization: float = 252.0
    risk_free: float = RISK_FREE
    excess_risk_free: bool = False
    held: HeldRule = "window"
    pre_credit_tolerance: float = PRE_CREDIT_TOLERANCE
    min_ic_names: int = MIN_IC_NAMES
    user_factors: tuple[UserFactor, ...] = ()
    #: sha256 of the estimated holdings' (date, asset, shares) values; None: no estimates.
    estimated_holdings: str | None = None

    @property
    def handbook_factors(self) -> tuple[str, ...]:
        """The handbook names among `factors` (the rest are `user_factors`)."""
        user = {u.name for u in self.user_factors}
        return tuple(f for f in self.factors if f not in user)

    def key(self, market_hash: str) -> str:
        """The cache key of this run on the market whose (verified) content hash is
        `market_hash`."""
        blob = json.dumps(
            {
                "market": market_hash,
                "version": __version__,
                "cache_format": STUDY_CACHE_FORMAT,
                **asdict(self),
            },
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class StudyResult:
    """``table``: one row per factor x pool (the handbook table). ``correlation``: per pool, the
    correlation of daily long-short returns across factors. ``daily``: date, factor, pool and the
    series long / bench / excess / long_short (gross) and *_net. ``ic``: weekly rank IC per
    date. ``coverage``: share of the pool with a factor value per date (factor coverage: a
    member without northbound holdings has none, nor has a member suspended that date, which
    has no panel row; :func:`factorlab.calibration.coverage` counts the latter covered:
    holdings coverage) and ``data``, whether some stock of the market has a value that date;
    the table's ``coverage_pct`` is the mean over the dates with data. ``notes``:
    what the data hygiene and the participant split did."""

    table: pl.DataFrame
    correlation: dict[str, pl.DataFrame]
    daily: pl.DataFrame
    ic: pl.DataFrame
    coverage: pl.DataFrame
    notes: pl.DataFrame
    scores: pl.DataFrame
    params: StudyParams
    seconds: dict[str, float]
    #: What data the study ran on (source, preset, seed, content hash, path), for the report.
    data: dict[str, str] = field(default_factory=dict)
    #: The disclosure change: holdings after it are estimated (``daily.estimated`` marks those
    #: dates); None when no date of the study is estimated.
    estimated_from: dt.date | None = None

    def _display(self) -> Summary:
        p, data = self.params, getattr(self, "data", None) or {}
        shown = [f"{k} {v[:16] if k == 'content_hash' else v}" for k, v in data.items()]
        lines = wrap("data:", shown or ["not recorded"])
        lines.append(
            f"protocol: {p.rebalance} every {p.every}, top {p.top:.0%}, window {p.window}, "
            f"entry {p.entry}, {p.weighting} weights, capital {p.capital:,.0f} yuan"
        )
        lines.append(f"pools: {join_names(p.pools)}; factors: {join_names(p.factors)}")
        span = (
            f"{self.daily['date'].min()} .. {self.daily['date'].max()}; "
            if self.daily.height
            else ""
        )
        frames = sizes({n: getattr(self, n) for n in ("table", "daily", "ic")})
        lines.append(f"dates: {span}{frames}; {sum(self.seconds.values()):.1f} s")
        note = estimated_note(getattr(self, "estimated_from", None), data)
        if note:
            lines.append(note)
        cols = [c for c in _HEADLINE if c in self.table.columns]
        return Summary(
            f"StudyResult: {len(p.factors)} factor(s) x {len(p.pools)} pool(s)",
            tuple(lines),
            self.table.select(cols),
            "handbook table (gross of costs; *_ann: annualized return, rank IC in %)",
        )

    def __repr__(self) -> str:
        return self._display().text()

    def _repr_html_(self) -> str:
        return self._display().html()

    def periods(self, split: dt.date | str = DECAY_DATE) -> pl.DataFrame:
        """The headline metrics before and from `split` (default :data:`DECAY_DATE`, the handbook's
        decay): see :func:`period_table`."""
        return period_table(self, split=split)

    def years(self) -> pl.DataFrame:
        """Compounded excess, long-short and benchmark return and mean rank IC per calendar
        year: see :func:`yearly_table`."""
        return yearly_table(self)

    def save(self, path: Path) -> None:
        """Write every part to `path` as a market directory of result tables (manifest with
        size and sha256 per file; written beside `path` and renamed into place, so a partial
        result is never visible)."""
        frames = {name: getattr(self, name) for name in _RESULT_TABLES}
        for i, frame in enumerate(self.correlation.values()):
            frames[f"correlation_{i:03d}"] = frame
        meta = {"seconds": self.seconds, "correlation_pools": list(self.correlation)}
        write_result(path, STUDY_KIND, frames, meta)

    @classmethod
    def load(cls, path: Path, params: StudyParams) -> StudyResult:
        """Read a result written by :meth:`save`, re-hashing every file against its manifest
        (:class:`MarketError` naming the file if one changed)."""
        stored, meta = read_result(path, STUDY_KIND, what="study")
        pools = meta.get("correlation_pools")
        if not isinstance(pools, list) or any(n not in stored for n in _RESULT_TABLES):
            raise MarketError(f"`{path}` is not a factorlab study result (incomplete manifest).")
        return cls(
            **{name: stored[name] for name in _RESULT_TABLES},
            correlation={pool: stored[f"correlation_{i:03d}"] for i, pool in enumerate(pools)},
            params=params,
            seconds=dict(meta.get("seconds", {})),
        )


class _Once:
    """A function's value, computed by the first thread that asks (the others wait for it);
    an error is raised to every caller that asks (each tries again)."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self._fn = fn
        self._lock = threading.Lock()
        self._value: Any = None
        self._done = False

    def __call__(self) -> Any:
        with self._lock:
            if not self._done:
                self._value, self._done = self._fn(), True
            return self._value


class _Timer:
    def __init__(self, say: Progress) -> None:
        self.say = say
        self.seconds: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, stage: str) -> None:
        """End a stage (a stage timed in two parts, e.g. the factors on each side of the
        participant split's wait, adds up)."""
        now = time.perf_counter()
        self.seconds[stage] = round(self.seconds.get(stage, 0.0) + now - self._t, 3)
        self.say(f"{stage}: {now - self._t:.1f}s")
        self._t = now


def _check(market: Market, params: StudyParams) -> None:
    market.require("northbound", "prices", "pools", "assets", purpose="the northbound study")
    unknown = sorted(set(params.handbook_factors) - {*NORTHBOUND_FACTORS, *SPLIT_VARIANTS})
    if unknown:
        raise ParameterError(
            f"unknown factor(s) {unknown}; the study knows {list(NORTHBOUND_FACTORS)} and "
            f"the seat-split variants {list(SPLIT_VARIANTS)}. Pass "
            "your own factor as a named expression (pl.Expr with .alias, fl.ops.Factor), a "
            "(frame, column) pair or {name: frame}."
        )
    if not params.factors:
        raise ParameterError("`factors` is empty; pass at least one factor.")
    known_pools = market.pools.select(pl.col("pool").unique()).collect()["pool"].to_list()
    missing = sorted(set(params.pools) - set(known_pools))
    if missing:
        raise ParameterError(
            f"pool(s) {missing} do not exist in this market; it has {sorted(known_pools)}."
        )
    if not 0 < params.top <= 0.5:
        raise ParameterError(f"`top` must be in (0, 0.5]; got {params.top}.")
    if params.entry not in ("next_open", "next_vwap"):
        raise ParameterError(
            "`entry` must be 'next_open' or 'next_vwap' for northbound data (the data of day s "
            "is published after s's close, so it cannot trade at that close); got "
            f"{params.entry!r}."
        )
    if params.weighting not in ("equal", "cap"):
        raise ParameterError(f"`weighting` must be 'equal' or 'cap'; got {params.weighting!r}.")
    if params.benchmark_weighting not in (None, "equal", "cap"):
        raise ParameterError(
            "`benchmark_weighting` must be 'equal', 'cap' or None (= `weighting`); got "
            f"{params.benchmark_weighting!r}."
        )
    if not isinstance(params.costs, Costs):
        raise ParameterError(
            f"`costs` must be a factorlab.backtest.Costs; got {type(params.costs).__name__}."
        )
    if not (np.isfinite(params.capital) and params.capital > 0):
        raise ParameterError(f"`capital` must be > 0 yuan; got {params.capital}.")
    if params.every < 1:
        raise ParameterError(f"`every` must be >= 1; got {params.every}.")
    if not (np.isfinite(params.risk_free) and -1.0 < params.risk_free < 1.0):
        raise ParameterError(
            "`risk_free` is an annual rate as a fraction (0.015 for 1.5%), in (-1, 1); got "
            f"{params.risk_free}."
        )
    if not isinstance(params.excess_risk_free, bool):
        raise ParameterError(
            f"`excess_risk_free` must be True or False; got {params.excess_risk_free!r}."
        )
    if params.held not in ("window", "any"):
        raise ParameterError(f"`held` must be 'window' or 'any'; got {params.held!r}.")


def _split_flows(
    market: Market,
    price_grids: Callable[[], PriceGrids | None] | None = None,
    checks: Callable[[], pl.DataFrame] | None = None,
    tolerance: float = PRE_CREDIT_TOLERANCE,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The participant split's classification history and its per-asset flows by kind
    (date, asset, flow_trading, flow_allocation); the split's row columns are freed on
    return. `price_grids`, `checks` (the record-date checks with `tolerance`): see
    :func:`~factorlab.northbound.participant_changes`."""
    changes = participant_changes(
        market, price_grids=price_grids, pre_credit_tolerance=tolerance, checks=checks
    )
    split = classify_participants(market, changes=changes)
    flows = participant_flows(market, split, by="asset").select("date", "asset", *_SPLIT_COLUMNS)
    return split.history, flows


def _study_grid(market: Market, lo: dt.date, hi: dt.date) -> AssetGrid:
    """The study's price grid: ``prices`` over the panel's dates `lo` .. `hi`. It ends at the
    last northbound day: the backtest is causal (delisting comes from the assets table's
    published delist_date, never from whether a name trades later in the grid), so this cut
    changes no return at or before it."""
    return AssetGrid.from_prices(
        market.prices.filter(pl.col("date").is_between(lo, hi)), assets=market.assets
    )


def _import_scipy_stats() -> None:
    try:
        importlib.import_module("scipy.stats")
    except ImportError:  # pragma: no cover - raised again where it is used (ic_summary)
        pass


def _panel_with_flows(
    market: Market, params: StudyParams, timer: _Timer, estimated: pl.DataFrame | None = None
) -> tuple[pl.DataFrame, pl.DataFrame, AssetGrid | None]:
    """(the research panel with the trading-type flows, the notes, the study's price grid
    when the hygiene's prices cover exactly the panel's dates, else None); `estimated`: the
    checked estimated holdings past the disclosure change, as :func:`_panel` takes them."""
    panel = _panel(market, params, timer, estimated)
    frame, notes = panel.frame, panel.notes
    if panel.split is not None:
        index = panel.grid.index if panel.grid is not None else None
        frame, notes = _join_split(frame, notes, *panel.split.result(), index)
        timer.lap("participant split")
    return frame, notes, panel.grid


@dataclass(frozen=True)
class _Panel:
    """The research panel, its notes and price grid (see :func:`_panel`), and the participant
    split still running on its thread (its (history, flows); None: no split)."""

    frame: pl.DataFrame
    notes: pl.DataFrame
    grid: AssetGrid | None
    split: Future | None


def _panel(
    market: Market,
    params: StudyParams,
    timer: _Timer,
    estimated: pl.DataFrame | None = None,
) -> _Panel:
    """The research panel (with a null ``flow_trading`` when there is no split to join), its
    notes, the study's price grid when the hygiene's prices cover exactly the panel's dates
    (else None), and the participant split, left running on its thread."""
    # without participant holdings factor 14 has no value: its row says why (_missing_inputs)
    want_split = bool(set(SPLIT_FACTORS) & set(params.factors)) and market.has(
        "participant_holdings"
    )
    # the participant split reads only the market, not the panel: it runs on a second thread
    # while the hygiene runs and then the factors that do not need its flows (Polars collects
    # and nogil numba kernels, which release the GIL); its errors surface when its flows are
    # joined, after the hygiene's
    # scipy.stats (the IC summary's t distribution) costs ~0.7 s to import: it is imported on
    # a thread now, while the hygiene waits in Polars and numpy
    threading.Thread(target=_import_scipy_stats, name="factorlab-scipy", daemon=True).start()
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="factorlab-split")
    # the hygiene's raw close and VWAP grids, copied for the split as soon as they are built:
    # the split places them on its own index instead of reading and scattering the prices
    # again (None, e.g. after a hygiene error: the split reads them itself). A queue, so the
    # copies are referenced by the split alone once taken, and freed as soon as it is done
    prices: queue.SimpleQueue = queue.SimpleQueue()
    sent: list[bool] = []

    def hand_over(index: GridIndex | None, close: np.ndarray, vwap: np.ndarray) -> None:
        if not sent:
            sent.append(True)
            prices.put(None if index is None else (index, close.copy(), vwap.copy()))

    # the record-date checks of the bonus issues, which the panel and the split both read:
    # computed once, by whichever asks first
    tolerance = params.pre_credit_tolerance
    checks = _Once(lambda: bonus_checks(market, tolerance=tolerance))
    try:
        pending = (
            pool.submit(_split_flows, market, prices.get, checks, tolerance) if want_split else None
        )
        # the hygiene's read of the prices also gives the study's price grid (one grid)
        panel = research_panel(
            market,
            start=params.start,
            end=params.end,
            estimated_holdings=estimated,
            price_grid=True,
            pre_credit_tolerance=tolerance,
            on_price_grids=hand_over if want_split else None,
            checks=checks,
        )
    except BaseException:
        hand_over(None, np.empty(0), np.empty(0))
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    hand_over(None, np.empty(0), np.empty(0))  # a no-op once handed over
    pool.shutdown(wait=False)  # the split finishes on its thread; its future holds the result
    timer.lap("hygiene")
    frame, grid = panel.frame, panel.grid
    notes = panel.report.with_columns(source=pl.lit("hygiene"))
    del panel  # the frame is held once
    # the grid is the study's when it spans the panel's dates exactly (the prices between the
    # panel's first and last traded day); else the study builds its own (_study_grid)
    if grid is not None and (
        len(frame) == 0
        or grid.dates[0] != np.datetime64(frame["date"].min(), "D")
        or grid.dates[-1] != np.datetime64(frame["date"].max(), "D")
    ):
        grid = None
    if pending is None:
        frame = frame.with_columns(pl.lit(None, dtype=pl.Float64).alias(c) for c in _SPLIT_COLUMNS)
    if len(frame) == 0:
        if pending is not None:
            pending.result()  # the split's own error first, as before
        raise MarketError("the northbound research panel is empty for the requested window.")
    return _Panel(frame, notes, grid, pending)


def _join_split(
    frame: pl.DataFrame,
    notes: pl.DataFrame,
    history: pl.DataFrame,
    flows: pl.DataFrame,
    index: GridIndex | None = None,
    assets: pl.Series | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The panel with the trading-type flows (``flow_trading``) and the notes with the
    participant counts per kind.

    With `index` (a grid holding the panel's cells, e.g. the study's price grid's), the flows
    are placed on it and read back at the panel's cells: the values of the left join on
    (date, asset), without hashing millions of string keys. `assets`: the panel's asset
    column as the index's enum, when the caller has it (its codes are the grid's columns)."""
    # no participant change on a stock-day = no trading-type flow; before the first
    # classification the split is unknown (null)
    first = history["effective_from"].min()
    if index is None:
        joined = frame.join(flows, on=["date", "asset"], how="left", maintain_order="left")
        values = {c: pl.col(c).fill_null(0.0) for c in _SPLIT_COLUMNS}
    else:
        at = index.cells(frame if assets is None else frame.select("date", assets))
        if not at.ok.all():  # pragma: no cover - the panel's cells are the grid's
            return _join_split(frame, notes, history, flows)
        cells = index.cells(flows)
        # flows' keys are unique (one row per touched stock-day); a cell without a row is 0
        has = index.gather(index.scatter(cells, np.ones(flows.height), fill=0.0), at) == 1.0
        values = {}
        for c in _SPLIT_COLUMNS:
            got = index.gather(index.scatter(cells, flows[c].to_numpy()), at)
            values[c] = pl.Series(np.where(has, got, 0.0), dtype=pl.Float64)
        joined = frame
    frame = joined.with_columns(
        pl.when(pl.col("date") >= first).then(v).alias(c) for c, v in values.items()
    )
    n_kind = history.group_by("kind").len().sort("kind")
    notes = pl.concat(
        [
            notes,
            pl.DataFrame(
                {
                    "step": [f"participants classified {k}" for k in n_kind["kind"]],
                    "rows": n_kind["len"].cast(pl.Int64),
                    "detail": ["all re-classifications"] * len(n_kind),
                    "source": ["participants"] * len(n_kind),
                }
            ),
        ]
    )
    return frame, notes


_Inputs: TypeAlias = dict[str, "Factor | pl.DataFrame"]


def _resolve_factors(
    factors: FactorSpec, market: Market
) -> tuple[tuple[str, ...], tuple[UserFactor, ...], _Inputs, list[CodeMatch]]:
    """Split `factors` into handbook names and validated user factors: (all names in order,
    user factor descriptions, name -> Factor or (date, asset, name) frame, code matches)."""
    if isinstance(factors, str | pl.Expr | Factor | Mapping) or _is_frame(factors):
        items: list[Any] = [factors]
    elif isinstance(factors, tuple) and len(factors) == 2 and _is_frame(factors[0]):
        items = [factors]
    elif isinstance(factors, Iterable):
        items = list(factors)
    else:
        raise ParameterError(
            "`factors` must be a sequence of handbook names and/or user factors; got "
            f"{type(factors).__name__}."
        )
    entries: list[tuple[str, Any]] = []  # (name, spec); spec None = a handbook name
    for item in items:
        if isinstance(item, Mapping):
            for name, spec in item.items():
                if not isinstance(name, str) or not name:
                    raise ParameterError(
                        f"`factors`: a mapping's keys are factor names (strings); got {name!r}."
                    )
                entries.append((name, spec))
        elif isinstance(item, str):
            entries.append((item, None))
        elif isinstance(item, Factor):
            entries.append((item.name, item))
        elif isinstance(item, pl.Expr):
            # a name the user gave: polars would otherwise name it after its first column
            aliased = not item.meta.eq(item.meta.undo_aliases())
            name = item.meta.output_name(raise_if_undetermined=False) if aliased else None
            if not name:
                raise ParameterError(
                    f"`factors`: the expression {_short(str(item))} has no name; give it one "
                    "with .alias('my_factor') or wrap it as fl.ops.Factor('my_factor', expr)."
                )
            entries.append((name, item))
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], str):
            entries.append((item[1], item))
        elif _is_frame(item):
            entries.append(("", item))
        else:
            raise ParameterError(
                "`factors` items must be handbook names, named expressions (pl.Expr with "
                ".alias, fl.ops.Factor), (frame, column) pairs, frames or a mapping "
                f"name -> one of those; got {type(item).__name__}."
            )
    names, users, inputs, matches = [], [], {}, []
    known_assets = None
    for name, spec in entries:
        if spec is None:
            names.append(name)
            continue
        if known_assets is None:
            market.require(
                "northbound", "prices", "pools", "assets", purpose="the northbound study"
            )
            known_assets = market.assets.select("asset").collect()["asset"]
        user, value, match = _user_factor(name, spec, known_assets)
        names.append(user.name)
        users.append(user)
        inputs[user.name] = value
        if match is not None:
            matches.append(match)
    seen: set[str] = set()
    dupes = [n for n in names if n in seen or seen.add(n)]
    if dupes:
        raise ParameterError(f"factor names must be unique; `{dupes[0]}` appears more than once.")
    for u in users:
        if u.name in NORTHBOUND_FACTORS or u.name in SPLIT_VARIANTS:
            raise ParameterError(
                f"user factor `{u.name}` has the name of a handbook factor; rename it (e.g. "
                f"`my_{u.name}`)."
            )
        if u.name in _RESERVED:
            raise ParameterError(
                f"user factor `{u.name}` has the name of a column of the research panel or the "
                f"study's cross-section ({sorted(_RESERVED)}); rename it."
            )
    return tuple(names), tuple(users), inputs, matches


def _is_frame(obj: object) -> bool:
    return isinstance(obj, pl.DataFrame | pl.LazyFrame) or (
        type(obj).__module__.startswith("pandas") and hasattr(obj, "columns")
    )


def _short(text: str, n: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3] + "..."


def _user_factor(
    name: str, spec: Any, known_assets: pl.Series
) -> tuple[UserFactor, Factor | pl.DataFrame, CodeMatch | None]:
    if isinstance(spec, Factor) or isinstance(spec, pl.Expr):
        factor = spec if isinstance(spec, Factor) else Factor(name, spec)
        if factor.name != name:  # a mapping key renames
            factor = Factor(name, factor.expr, factor.description, factor.reference)
        try:
            digest = hashlib.sha256(factor.expr.meta.serialize(format="json").encode()).hexdigest()
        except (pl.exceptions.PolarsError, TypeError, ValueError):
            digest = None  # a Python function inside: not serializable, so never cached
        text = _short(str(factor.expr), 300)
        definition = f"{factor.description}: {text}" if factor.description else text
        return UserFactor(name, "expression", f"expression {definition}", digest), factor, None
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[1], str):
        frame, column = spec
    elif _is_frame(spec):
        frame, column = spec, None
    else:
        raise ParameterError(
            f"user factor `{name or '?'}`: expected a named expression, a (frame, column) pair "
            f"or a frame; got {type(spec).__name__}."
        )
    table = f"user factor `{name}`" if name else "user factor frame"
    lf = as_lazy(frame, name=f"factors[{name!r}]" if name else "factors")
    schema = lf.collect_schema()
    check_columns(schema, ["date", "asset"], table=table)
    if column is None:
        values = [c for c in schema.names() if c not in ("date", "asset")]
        if name in values:
            column = name
        elif len(values) == 1:
            column = values[0]
        else:
            raise ParameterError(
                f"{table}: the frame has value columns {values}; say which one with "
                "(frame, 'column') or {'name': (frame, 'column')}."
            )
    name = name or column
    table = f"user factor `{name}`"
    check_columns(schema, [column], table=table)
    check_numeric(schema, [column], table=table)
    date = date_expr(schema, table=table)
    values = (
        lf.select(
            date.alias("date"),
            pl.col("asset").cast(pl.String),
            pl.col(column).cast(pl.Float64).alias(name),
        )
        .collect()
        .sort("date", "asset")
    )
    check_unique_keys(values, ["date", "asset"], table=table)
    match = match_codes(values["asset"], known_assets, table=table, against="assets")
    # a stable digest of the values: four 64-bit row hashes per row, then sha256
    h = hashlib.sha256(f"{values.height}:{column}".encode())
    for seed in range(4):
        h.update(values.hash_rows(seed=seed).to_numpy().tobytes())
    where = f"column `{column}` of a user frame ({values.height:,} rows"
    if values.height:
        where += f", {values['date'].min()} to {values['date'].max()}"
    user = UserFactor(name, "column", where + ")", h.hexdigest())
    return user, values, match


def data_description(market: Market) -> dict[str, str]:
    """What a study ran on, for its report: :meth:`Market.describe` with the synthetic
    presets named (source, preset, seed, assets, dates, content hash, path)."""
    from factorlab.datasets import PRESETS

    return market.describe(presets=PRESETS)


@reports_progress("factor study")
def factor_study(
    market: Market,
    *,
    factors: FactorSpec = NORTHBOUND_FACTORS,
    pools: Sequence[str] = STUDY_POOLS,
    window: int = 20,
    top: float = 0.2,
    rebalance: Literal["weekly", "monthly"] = "weekly",
    every: int = 1,
    entry: Literal["next_open", "next_vwap"] = "next_vwap",
    weighting: Literal["equal", "cap"] = "equal",
    benchmark_weighting: Literal["equal", "cap"] | None = None,
    costs: Costs | None = None,
    capital: float = 10_000_000.0,
    min_ic_names: int = MIN_IC_NAMES,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    sample: SampleName | None = None,
    risk_free: float = RISK_FREE,
    excess_risk_free: bool = False,
    held: HeldRule = "window",
    pre_credit_tolerance: float = PRE_CREDIT_TOLERANCE,
    cache: bool | Path = True,
    estimated_holdings: Any = None,
    progress: ProgressOption = "auto",
) -> StudyResult:
    """Run the handbook's northbound factor test protocol.

    Parameters
    ----------
    market
        Needs ``northbound``, ``prices``, ``pools``, ``assets`` (and ``participant_holdings``
        for factor 14, ``corporate_actions`` for bonus issues).
    factors
        Handbook names (any of the 14) and/or user factors, in one sequence (the table's
        order): a named Polars expression (``pl.Expr`` with ``.alias``, or a
        :class:`~factorlab.ops.Factor`, e.g. an entry of a
        :class:`~factorlab.ops.FactorRegistry`; a registry itself iterates its entries),
        evaluated on the research panel (columns a ``prices`` table has and the panel lacks are
        joined from ``prices``); a ``(frame, column)`` pair or a frame with ``date``, ``asset``
        and one value column (pandas too); or a mapping name -> expression / frame / pair.
        User factors go through the same preprocessing, portfolios, costs, report and cache
        (keyed by a hash of their values or expression). A user factor's value dated s must
        be known by s's close; it is used on the signal dates only (no fill). See
        docs/northbound.md.
    pools
        Which point-in-time pools.
    window
        W of the handbook factors (20); user factors are used as given.
    top
        Fraction for the long (top) and short (bottom) legs (0.2).
    rebalance, every
        Weekly (last session of the week) or monthly anchors, every k-th.
    entry
        ``next_vwap`` (default; the data of day s is published after s's close), ``next_open``.
    weighting
        Equal or float-cap weights of the legs.
    benchmark_weighting
        Equal or float-cap weights of the pool benchmark; ``None`` (default): the same as
        `weighting` (independent of it when given).
    costs
        :class:`~factorlab.backtest.Costs` for the ``*_net`` columns (default: 0.03%
        commission per side with a 5-yuan minimum per order, stamp duty on stock sells, no
        slippage), charged per order on its yuan value by :func:`~factorlab.backtest.backtest`.
    capital
        Starting capital of every leg in yuan (10,000,000): the book the per-order minimum
        commission is charged on.
    min_ic_names
        A signal date's rank IC needs at least this many names with both a score and a
        holding-period return (10); fewer give a null IC.
    start, end
        The window (default: the first published day .. the last daily day). Given with
        `sample`, each replaces that bound of the sample.
    sample
        A named window (:data:`SAMPLES`): ``"handbook"`` = :data:`HANDBOOK_START` ..
        :data:`HANDBOOK_END`, the
        handbook's 回测区间 (seed 001 §1.5).
    risk_free
        Annual risk-free rate of the long leg's own Sharpe (``long_sharpe``; default
        :data:`RISK_FREE` = 1.5%, the PBoC one-year deposit benchmark rate over the handbook's
        window), compounded to a daily rate, (1 + rf) ** (1 / 252) - 1, and passed to
        :func:`factorlab.evaluate.metrics.sharpe_ratio`. The long excess and long-short
        Sharpes are of self-financing returns and use none unless `excess_risk_free`.
    excess_risk_free
        Subtract `risk_free` in the long excess and long-short Sharpes too (and in
        :func:`period_table`'s), as the handbook's tables evidently do (positive excess returns
        with negative Sharpes: 2.23% / -0.15). Default False: those returns are
        self-financing, their Sharpe is mean / std.
    held
        When a dynamic handbook factor has a value (:func:`northbound_factors`): ``"window"``
        (default; held on every row the factor reads, the handbook's coverage) or ``"any"``
        (held on one of them, a sell-out keeps its outflow).
    pre_credit_tolerance
        The record-date check's tolerance (:func:`~factorlab.northbound.bonus_checks`), for
        the research panel and the participant split alike (default 0.5).
    cache
        True: results are cached under ``cache_dir()/studies`` by the market's content hash and
        these parameters, so a rerun is instant; a path: cache there; False: no cache.
    estimated_holdings
        Holdings after the disclosure change (2024-08-16; a synthetic market's
        ``disclosure_change``): a :class:`~factorlab.northbound.estimation.HoldingsEstimate`
        (``estimate_holdings(market)``) or its (date, asset, shares) frame. The panel then runs
        to the estimates' last day (or `end`); an ``estimated`` column of ``daily``, ``ic`` and
        ``coverage`` marks the dates after the change, ``estimated_from`` is the change and
        every table and report says so. A digest of the values is in the cache key. Without
        it, an `end` after the change raises :class:`~factorlab.errors.DisclosureError`.
    progress
        ``"auto"`` (default): a bar (or a line per stage on stderr) in a terminal or a
        notebook, nothing in scripts and tests; ``True``: always; ``None`` / ``False``:
        silent; a callable: called with a line per finished stage (``hygiene: 1.2s``, ...,
        ``tables: 0.0s``, or ``cached study: PATH``). See :mod:`factorlab.progress`.
    """
    start_d, end_d = _sample_window(sample, start, end)
    names, users, inputs, matches = _resolve_factors(factors, market)
    est = None if estimated_holdings is None else study_estimates(estimated_holdings)
    params = StudyParams(
        factors=names,
        user_factors=users,
        pools=tuple(pools),
        window=int(window),
        top=float(top),
        rebalance=rebalance,
        every=int(every),
        entry=entry,
        weighting=weighting,
        benchmark_weighting=benchmark_weighting,
        costs=costs or Costs(),
        capital=float(capital),
        min_ic_names=int(min_ic_names),
        start=start_d,
        end=end_d,
        risk_free=float(risk_free),
        excess_risk_free=excess_risk_free,
        held=held,
        pre_credit_tolerance=float(pre_credit_tolerance),
        estimated_holdings=None if est is None else est.digest,
    )
    _check(market, params)
    say = progress or (lambda msg: log.info(msg))
    data = data_description(market)
    if est is not None:
        data |= {"estimated_holdings": est.source, "estimated_hash": est.digest[:16]}
    cache_path = _cache_path(market, params, cache)
    hit = cached(lambda path: StudyResult.load(path, params), cache_path, "study")
    if hit is not None:
        say(f"cached study: {cache_path}")
        return _with_estimated(replace(hit, data=data), market, est)
    timer = _Timer(say)
    with small_pages():
        panel = _panel(market, params, timer, None if est is None else est.frame)
        grid = panel.grid
        notes = _code_notes(panel.notes, matches)
        # the factors that do not read the split's flows run while the split finishes
        factored = _factor_stage(
            market, panel.frame, notes, params, timer, inputs, split=panel.split, grid=grid
        )
        del panel  # the panel is not needed past the factors: its GB are free for the rest
        result = replace(_scored_stages(market, factored, params, timer, grid), data=data)
    if est is not None:  # every date whose holdings are estimated is marked
        after = pl.col("date") > disclosure_end(market)
        result = replace(
            result,
            **{n: getattr(result, n).with_columns(estimated=after) for n in _MARKED},
        )
    store(result.save, cache_path, "study")
    return _with_estimated(result, market, est)


def _sample_window(
    sample: str | None, start: dt.date | str | None, end: dt.date | str | None
) -> tuple[dt.date | None, dt.date | None]:
    """(start, end) of a study: `sample`'s window (:data:`SAMPLES`) with `start` / `end`, when
    given, replacing its bounds."""
    lo = hi = None
    if sample is not None:
        if sample not in SAMPLES:
            raise ParameterError(
                f"`sample` must be one of {sorted(SAMPLES)} (or None: all data); got {sample!r}."
            )
        lo, hi = SAMPLES[sample]
    lo = lo if start is None else to_date(start, "start")
    hi = hi if end is None else to_date(end, "end")
    if lo is not None and hi is not None and lo > hi:
        raise ParameterError(f"`start` ({lo}) must not be after `end` ({hi}).")
    return lo, hi


def _with_estimated(result: StudyResult, market: Market, est: StudyEstimates | None) -> StudyResult:
    """`result` with ``estimated_from`` set when any of its dates is estimated."""
    daily = result.daily
    if est is None or "estimated" not in daily.columns or not daily["estimated"].any():
        return result
    return replace(result, estimated_from=disclosure_end(market))


@reports_progress("factor sweep")
def factor_sweep(
    market: Market,
    *,
    windows: Sequence[int] = (10, 20, 60),
    tops: Sequence[float] = (0.1, 0.2, 0.3),
    every: Sequence[int] = (1, 2),
    factors: FactorSpec = NORTHBOUND_FACTORS,
    pools: Sequence[str] = STUDY_POOLS,
    costs: Costs | None = None,
    estimated_holdings: Any = None,
    workers: int | None = None,
    engine: Engine = "local",
    progress: ProgressOption = "auto",
    **kwargs,
) -> pl.DataFrame:
    """The study over a parameter grid (window x top fraction x rebalance every k weeks) in one
    call; the data hygiene and the participant split run once. Returns the stacked tables with
    ``window``, ``top`` and ``every`` columns. `factors` takes handbook names and user factors
    as :func:`factor_study` does; ``window`` sets the handbook factors' W only.

    `estimated_holdings` (as :func:`factor_study` takes them) extends every run past the
    disclosure change; the table then has an ``estimated_from`` column (the change: holdings
    after it are estimated), null when no date of the sweep is past it.

    The grid points run side by side: `workers` threads (default ``None``: every core;
    ``1``: one after another) with ``engine="local"``, or Ray tasks with ``engine="ray"`` (the
    market, the research panel and the price grid put once in the object store; see
    :mod:`factorlab.parallel` and ``docs/scale.md``). The table is the same, row for row, in
    the grid's order (window, then top, then every), whatever the engine and the workers;
    ``sweep: window=W top=Q every=K done`` is reported as each point finishes."""
    say = progress or (lambda msg: log.info(msg))
    allowed = {
        "entry",
        "weighting",
        "benchmark_weighting",
        "capital",
        "rebalance",
        "start",
        "end",
        "steps",
        "annualization",
        "risk_free",
        "excess_risk_free",
        "held",
        "min_ic_names",
    }
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise ParameterError(
            f"unknown parameter(s) {unknown}; factor_sweep takes {sorted(allowed)}."
        )
    for key in ("start", "end"):
        if kwargs.get(key) is not None:
            kwargs[key] = to_date(kwargs[key], key)
    names, users, inputs, matches = _resolve_factors(factors, market)
    est = None if estimated_holdings is None else study_estimates(estimated_holdings)
    base = StudyParams(
        factors=names,
        user_factors=users,
        pools=tuple(pools),
        costs=costs or Costs(),
        estimated_holdings=None if est is None else est.digest,
        **kwargs,
    )
    _check(market, base)
    workers, engine = resolve_workers(workers), check_engine(engine)
    timer = _Timer(say)
    points = []
    for w in windows:
        for q in tops:
            for k in every:
                p = replace(base, window=int(w), top=float(q), every=int(k))
                _check(market, p)
                points.append((p, w, q, k))

    def done(_: int, point: tuple) -> None:
        say("sweep: window={} top={} every={} done".format(*point[1:]))

    with small_pages(), executor(engine, workers=workers) as ex:
        frame, notes, grid = _panel_with_flows(
            market, base, timer, None if est is None else est.frame
        )
        if grid is None:  # one grid for every run of the sweep
            grid = _study_grid(market, frame["date"].min(), frame["date"].max())
        notes = _code_notes(notes, matches)
        # the hygiene ran once; each grid point is a unit (a thread, or a Ray task reading the
        # market, the research panel and the grid from the object store)
        shared = ex.share((market, frame, notes, grid, inputs))
        tables = ex.map(_sweep_point, points, shared=(shared,), on_done=done)
    out = pl.concat(tables)
    if est is None:
        return out
    change = disclosure_end(market)
    past = frame["date"].max() > change
    return out.with_columns(estimated_from=pl.lit(change if past else None, dtype=pl.Date))


def _sweep_point(
    shared: tuple[Market, pl.DataFrame, pl.DataFrame, AssetGrid, _Inputs],
    point: tuple[StudyParams, Any, Any, Any],
) -> pl.DataFrame:
    """One grid point of :func:`factor_sweep`: the study's table on the shared research panel
    (its stage times logged at DEBUG: points run side by side)."""
    market, frame, notes, grid, inputs = shared
    p, w, q, k = point
    res = _run(market, frame, notes, p, _Timer(_debug), grid, inputs=inputs)
    return res.table.with_columns(window=pl.lit(w), top=pl.lit(q), every=pl.lit(k))


def _debug(message: str) -> None:
    log.debug("sweep point: %s", message)


def _code_notes(notes: pl.DataFrame, matches: Sequence[CodeMatch]) -> pl.DataFrame:
    """`notes` plus one row per user frame with codes unknown to the market (rows dropped)."""
    rows = [
        {
            "step": f"{m.table}: codes not in the market",
            "rows": m.unmatched_rows,
            "detail": f"{m.n_unmatched_codes} code(s) dropped, e.g. "
            + ", ".join(m.unmatched_codes),
            "source": "user factors",
        }
        for m in matches
        if m.unmatched_rows
    ]
    if not rows:
        return notes
    return pl.concat([notes, pl.DataFrame(rows, schema=notes.schema)], how="vertical_relaxed")


def _cache_path(market: Market, params: StudyParams, cache: bool | Path) -> Path | None:
    if cache is False or not market.content_hash:
        return None
    if any(u.digest is None for u in params.user_factors):
        log.info("a user factor's expression cannot be serialized: the study is not cached")
        return None
    # the key is the content hash: re-hash the files so that a changed file is never keyed
    # (and served) by its old hash
    market.verify_files()
    if cache is True:
        from factorlab.datasets import cache_dir

        root = cache_dir() / "studies"
    else:
        root = Path(cache)
    return root / params.key(market.content_hash)


def _missing_inputs(market: Market, cross: pl.DataFrame, names: list[str]) -> dict[str, str]:
    """Why a factor can have no value at all, by the input it lacks (for the table's `reason`):
    factor 14 without ``participant_holdings``; every factor without ``prices.float_shares``
    (no size to neutralize with, and the ratios' denominator)."""
    out = {}
    if not market.has("participant_holdings"):
        for name in set(SPLIT_FACTORS) & set(names):
            out[name] = (
                "needs table `participant_holdings` (the trading/allocation split), which this "
                "market lacks"
            )
    if cross.height and cross["float_shares"].is_null().all():
        for name in names:
            out.setdefault(
                name,
                "needs `prices.float_shares` (float market cap: the size control of the "
                "neutralization), which is null in this market's prices",
            )
    return out


def _run(
    market: Market,
    frame: pl.DataFrame,
    notes: pl.DataFrame,
    params: StudyParams,
    timer: _Timer,
    grid: AssetGrid | None = None,
    *,
    inputs: _Inputs | None = None,
) -> StudyResult:
    """The study on a research panel (with the flows joined): factors, then the rest."""
    factored = _factor_stage(market, frame, notes, params, timer, inputs or {})
    return _scored_stages(market, factored, params, timer, grid)


@dataclass(frozen=True)
class _Factored:
    """The factors on the signal dates: what the study needs of the panel past the factors
    (so that the panel itself can be freed)."""

    with_factors: pl.DataFrame
    notes: pl.DataFrame
    signals: pl.Series
    lo: dt.date
    hi: dt.date


def _factor_stage(
    market: Market,
    frame: pl.DataFrame,
    notes: pl.DataFrame,
    params: StudyParams,
    timer: _Timer,
    inputs: _Inputs,
    *,
    split: Future | None = None,
    grid: AssetGrid | None = None,
) -> _Factored:
    """The factors on the signal dates. `split`: the participant split still running (its
    (history, flows)); the factors that do not read ``flow_trading`` are computed first, then
    its flows are joined (:func:`_join_split`) and the others computed (the same values as
    one query on the joined panel: every factor is its own expression)."""
    # the panel is sorted by (asset, date) (research_panel; the flow join keeps the left order),
    # so every rolling window can skip its own sort
    if not frame["asset"].is_sorted():
        frame = frame.sort("asset", "date")
    spec = {"window": params.window, "date_col": None, "held": params.held}
    # the factors read the windows they share from columns (each window computed once: Polars
    # does not share a numba window between expressions); the self-contained registry tells
    # what each factor reads (its group, whether it needs the split's flows)
    registry = northbound_factors(**spec, windows=True)
    plain = {f.name: f for f in northbound_factors(**spec)}
    # the registry's names carry the handbook's "20"; the window parameter sets the real length
    factor_list = [registry.get(n) for n in params.handbook_factors]
    expr_factors = [v for v in inputs.values() if isinstance(v, Factor)]
    # the split's flows are joined below, after the factors that do not read them
    coming = _SPLIT_COLUMNS if split is not None else ()
    frame = _with_price_columns(market, frame, expr_factors, coming)
    factor_list += expr_factors
    lo, hi = frame["date"].min(), frame["date"].max()
    signals = rebalance_dates(lo, hi, params.rebalance, every=params.every)
    longest = max(params.window, 5)
    if frame["date"].n_unique() <= longest:
        raise ParameterError(
            f"factor windows ({params.window} rows) are longer than the data "
            f"({frame['date'].n_unique()} sessions from {lo} to {hi})."
        )
    keys = ("date", "asset", "close", "float_shares")
    index = grid.index if grid is not None else None
    # the handbook factors' windows read the asset column as an enum: their numba passes find
    # each asset's rows from its integer codes (fl.ops: ts_mean / ts_sum / ts_shift with
    # date_col=None); user expressions see the panel as it is
    runs = _asset_enum(frame, index)
    windows = northbound_windows(**spec)
    # the held-span masks, which factors of every group read, once for the whole panel
    spans = [c for c in windows if c.startswith(WINDOW_PREFIX + "held_span")]
    frame = frame.hstack(frame.with_columns(runs).select(windows[c] for c in spans))
    windows = {c: e for c, e in windows.items() if c not in spans}
    job = _FactorJob(plain, frozenset(params.handbook_factors), runs, windows)
    if split is None:
        with_factors = _signal_factors(frame, factor_list, signals, keys, job)
    else:
        late = [_reads_flows(plain.get(f.name, f)) for f in factor_list]
        early = [f for f, x in zip(factor_list, late, strict=True) if not x]
        first = _signal_factors(frame, early, signals, keys, job)
        timer.lap("factors")
        frame, notes = _join_split(frame, notes, *split.result(), index, runs)
        timer.lap("participant split")
        second = _signal_factors(
            frame, [f for f, x in zip(factor_list, late, strict=True) if x], signals, (), job
        )
        del frame
        # both from the same panel rows in the same order: side by side, in the factors' order
        with_factors = first.hstack(second).select(*keys, *[f.name for f in factor_list])
    with_factors, notes = _join_user_columns(with_factors, inputs, signals, notes)
    timer.lap("factors")
    return _Factored(with_factors, notes, signals, lo, hi)


def _reads_flows(factor: Factor) -> bool:
    """Does `factor` read the participant split's flows (``flow_trading``,
    ``flow_allocation``)?"""
    read = {*(factor.requires or ()), *factor.expr.meta.root_names()}
    return bool(read & set(_SPLIT_COLUMNS))


def _asset_enum(frame: pl.DataFrame, index: GridIndex | None) -> pl.Series:
    """The panel's asset column as an enum of the sorted asset names (the grid's, when given)."""
    dtype = index.enum if index is not None else pl.Enum(frame["asset"].unique().sort())
    return frame["asset"].cast(dtype)


@dataclass(frozen=True)
class _FactorJob:
    """How :func:`_signal_factors` computes the factors. `plain`: the self-contained handbook
    factors by name (what each reads: its group); `handbook`: the names of the handbook
    factors, which read `runs` (the asset column as an enum) instead of the string column (the
    same groups: the same values) and the shared window columns of `windows` (column ->
    expression, computed once per group that reads them)."""

    plain: Mapping[str, Factor]
    handbook: frozenset[str]
    runs: pl.Series | None = None
    windows: Mapping[str, pl.Expr] = field(default_factory=dict)


def _signal_factors(
    frame: pl.DataFrame,
    factors: Sequence[Factor],
    signals: pl.Series,
    keys: Sequence[str],
    job: _FactorJob | None = None,
) -> pl.DataFrame:
    """The `keys` columns and `factors` of `frame` on the signal dates (in the panel's row
    order); `job`: see :class:`_FactorJob`.

    One query per group of factors with the same first input column (e.g. the four handbook
    factors on ``hold_ratio``; user factors apart), each cut to the signal dates at once: a
    factor's column over the whole panel is held only while its group runs (a few hundred MB
    each on the large preset, not all of them at once), and the windows the group's factors
    share are computed once in it. The values are those of one query: every factor is its own
    expression."""
    job = job or _FactorJob({}, frozenset())
    on_signals = pl.col("date").is_in(signals.implode())
    parts = [frame.lazy().filter(on_signals).select(*keys).collect()] if keys else []
    groups: dict[tuple[bool, str], list[Factor]] = {}
    for f in factors:
        first = (job.plain.get(f.name, f).requires or ("",))[0]
        groups.setdefault((f.name in job.handbook, first), []).append(f)
    coded = frame if job.runs is None else frame.with_columns(job.runs)
    for (handbook, _), group in groups.items():
        names = [f.name for f in group]
        if handbook:
            read = {c for f in group for c in (f.requires or ())}
            source = coded.lazy().with_columns(e for c, e in job.windows.items() if c in read)
        else:
            source = frame.lazy()
        parts.append(compute_factors(source, group).filter(on_signals).select(names).collect())
    if not parts:
        return pl.DataFrame()
    return pl.concat(parts, how="horizontal").select(*keys, *[f.name for f in factors])


def _scored_stages(
    market: Market,
    factored: _Factored,
    params: StudyParams,
    timer: _Timer,
    grid: AssetGrid | None,
) -> StudyResult:
    """Preprocessing, rank IC, portfolios and tables on the factors of the signal dates."""
    names = list(params.factors)
    with_factors, notes, signals = factored.with_factors, factored.notes, factored.signals
    # without a grid from the hygiene, the price grid (prices only) is built on a second
    # thread while the cross-section is preprocessed (both spend their time in Polars and
    # numpy, which release the GIL)
    with ThreadPoolExecutor(max_workers=1) as ex:
        pending = ex.submit(_study_grid, market, factored.lo, factored.hi) if grid is None else None
        cross, pools, coverage, scored = _scores(market, with_factors, names, signals, params)
        timer.lap("preprocess")
        grid = pending.result() if pending is not None else grid
    timer.lap("price grid")
    # the rank IC (two threads of its own) runs beside the portfolios' books: both only read
    # the scores and the grid. "portfolios" is the books (and, after the IC, the tables of
    # each leg), "rank IC" the wait for the IC after the books
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="factorlab-ic") as ex:
        ic_job = ex.submit(_rank_ic, scored, names, grid, params)
        targets, books = _books(scored, names, pools, grid, params)
        timer.lap("portfolios")
        ic = ic_job.result()
    # the IC statistics are the evaluator's (mean, IR = mean / std, t = IR x sqrt(n))
    ic_stats = ic_summary(ic.with_columns(horizon=pl.lit(1, pl.Int32)))
    timer.lap("rank IC")
    bench_w = params.benchmark_weighting or params.weighting
    missing = _missing_inputs(market, cross, names)
    daily_frames, rows = [], []
    for pool in params.pools:
        members = pools.filter(pl.col("pool") == pool)
        pool_dates = members["date"].unique().sort()
        bench = pool_benchmark(
            grid, members, pool=pool, weighting=bench_w, dates=pool_dates, entry=params.entry
        )
        for name in names:
            legs = targets.get((pool, name))
            if legs is None:
                reason = missing.get(name) or (
                    f"no member of pool `{pool}` has a value of `{name}` on any signal date "
                    "(e.g. no northbound holdings in the pool): nothing to hold"
                )
                daily_frames.append(_series(None, None, bench, name, pool))
                rows.append(_row(None, None, ic_stats, coverage, name, pool, params, reason=reason))
                continue
            res = {side: books[(pool, name, side)] for side in ("top", "bottom")}
            d = _series(res["top"].daily, res["bottom"].daily, bench, name, pool)
            daily_frames.append(d)
            row = _row(d, res["top"].rebalances, ic_stats, coverage, name, pool, params)
            row["name_turnover_pct"] = _name_turnover_pct(
                legs.filter(pl.col("side") == "top"), pool_dates
            )
            rows.append(row)
    timer.lap("portfolios")
    daily = pl.concat(daily_frames)
    table = pl.DataFrame(
        rows,
        schema_overrides={"reason": pl.String, "name_turnover_pct": pl.Float64},
        infer_schema_length=None,
    )
    correlation = {
        pool: _correlation(daily.filter(pl.col("pool") == pool), names) for pool in params.pools
    }
    timer.lap("tables")
    return StudyResult(
        table=table,
        correlation=correlation,
        daily=daily,
        ic=ic,
        coverage=coverage,
        notes=notes,
        scores=scored.select("pool", "date", "asset", *names),
        params=params,
        seconds=timer.seconds,
    )


def _books(
    scored: pl.DataFrame,
    names: list[str],
    pools: pl.DataFrame,
    grid: AssetGrid,
    params: StudyParams,
) -> tuple[dict[tuple[str, str], pl.DataFrame], dict]:
    """The legs' targets ((pool, factor) -> frame, see :func:`_leg_targets`) and their books
    ((pool, factor, side) -> :class:`~factorlab.backtest.BacktestResult`)."""
    targets = _leg_targets(scored, names, params)
    # every leg's targets in one frame, one backtest_many call: the frame is checked and
    # located on the grid once (result for result the same as one backtest() per leg)
    leg_frames = []
    for pool in params.pools:
        pool_dates = pools.filter(pl.col("pool") == pool)["date"].unique().sort()
        for name in names:
            legs = targets.get((pool, name))
            if legs is None:
                continue
            # rebalance on every pool date from the factor's first value on: a later date
            # without a value is an empty leg (a zero-weight row), held in cash and counted
            schedule = pool_dates.filter(pool_dates >= legs["date"].min())
            for side in ("top", "bottom"):
                tg = _with_empty_dates(legs.filter(pl.col("side") == side), schedule, grid)
                leg_frames.append(
                    tg.with_columns(pool=pl.lit(pool), factor=pl.lit(name), side=pl.lit(side))
                )
    books = (
        backtest_many(
            grid,
            pl.concat(leg_frames),
            by=["pool", "factor", "side"],
            entry=params.entry,
            capital=params.capital,
            costs=params.costs,
        )
        if leg_frames
        else {}
    )
    return targets, books


def _scores(
    market: Market,
    with_factors: pl.DataFrame,
    names: list[str],
    signals: pl.Series,
    params: StudyParams,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The pools' cross-section of the signal dates (factors, industry, cap), the pool
    members, each factor's coverage per pool and date, and the preprocessed scores."""
    assets = market.assets.select("asset", "industry").collect()
    pools = market.pools.filter(
        pl.col("pool").is_in(list(params.pools)) & pl.col("date").is_in(signals.implode())
    ).collect()
    cross = (
        pools.join(with_factors, on=["date", "asset"], how="left")
        .join(assets, on="asset", how="left")
        .with_columns(
            cap=pl.col("close") * pl.col("float_shares"),
            log_float_cap=(pl.col("close") * pl.col("float_shares")).log(),
        )
    )
    # a date has data for a factor when some stock of the market has a value that day (not
    # before the first publication, the first full window or the first classification)
    dated = (
        with_factors.group_by("date")
        .agg([pl.col(n).is_not_null().any().alias(n) for n in names])
        .unpivot(index="date", variable_name="factor", value_name="data")
    )
    coverage = (
        cross.group_by("pool", "date")
        .agg([pl.col(n).is_not_null().mean().alias(n) for n in names])
        .unpivot(index=["pool", "date"], variable_name="factor", value_name="coverage")
        .join(dated, on=["date", "factor"], how="left")
        .with_columns(pl.col("data").fill_null(False))
        .sort("factor", "pool", "date")
    )
    # rows without size or industry cannot be neutralized: they keep a null score
    scored = preprocess(
        cross.filter(pl.col("log_float_cap").is_finite() & pl.col("industry").is_not_null()),
        names,
        steps=params.steps,
        by=["pool", "date"],
    ).collect()
    return cross, pools, coverage, scored


def _with_price_columns(
    market: Market, frame: pl.DataFrame, factors: Sequence[Factor], coming: Sequence[str] = ()
) -> pl.DataFrame:
    """The panel plus the ``prices`` columns user expressions need and the panel lacks (left
    join on date, asset); a column in neither (nor in `coming`, joined later) is a
    :class:`MissingColumnError`."""
    have = {*frame.columns, *coming}
    need = {c for f in factors for c in (f.requires or ()) if c not in have}
    if not need:
        return frame
    prices = market.prices.collect_schema()
    absent = sorted(need - set(prices.names()))
    if absent:
        who = [f.name for f in factors if set(f.requires or ()) & set(absent)]
        raise MissingColumnError(
            f"user factor(s) {', '.join(f'`{n}`' for n in who)} read column(s) "
            f"{', '.join(f'`{c}`' for c in absent)}, which neither the research panel "
            f"({list(frame.columns)}) nor table `prices` ({prices.names()}) has.",
            table="research panel",
            column=absent[0],
        )
    lo, hi = frame["date"].min(), frame["date"].max()
    extra = (
        market.prices.filter(pl.col("date").is_between(lo, hi))
        .select("date", "asset", *sorted(need))
        .collect()
    )
    return frame.join(extra, on=["date", "asset"], how="left", maintain_order="left")


def _join_user_columns(
    with_factors: pl.DataFrame, inputs: _Inputs, signals: pl.Series, notes: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Join every user frame's values onto the panel's signal-date rows; count the rows used.
    A user factor with no value on any of them is a :class:`ParameterError` (not an empty
    report)."""
    rows = []
    for name, values in inputs.items():
        if isinstance(values, Factor):
            continue
        on_signals = values.filter(pl.col("date").is_in(signals.implode()))
        with_factors = with_factors.join(
            on_signals, on=["date", "asset"], how="left", maintain_order="left"
        )
        used = int(with_factors[name].is_not_null().sum())
        if used == 0:
            span = (
                f"its dates run from {values['date'].min()} to {values['date'].max()}"
                if values.height
                else "it is empty"
            )
            raise ParameterError(
                f"user factor `{name}` has no value on any signal date of the study "
                f"({signals.len()} dates from {signals.min()} to {signals.max()}, e.g. "
                f"{', '.join(str(d) for d in signals.head(3).to_list())}); {span}. Values are "
                "used on the signal dates only (no fill): give values on those dates, or "
                "change `rebalance` / `start` / `end`."
            )
        rows.append(
            {
                "step": f"user factor `{name}`: rows used",
                "rows": used,
                "detail": f"of {values.height:,} rows: {on_signals.height - used:,} on signal "
                "dates unused (outside the research panel, or null), "
                f"{values.height - on_signals.height:,} on other dates",
                "source": "user factors",
            }
        )
    if rows:
        notes = pl.concat([notes, pl.DataFrame(rows, schema=notes.schema)], how="vertical_relaxed")
    return with_factors, notes


def _rank_ic(
    scored: pl.DataFrame, names: list[str], grid: AssetGrid, params: StudyParams
) -> pl.DataFrame:
    """Rank IC of each signal date's preprocessed score with the return of its holding period,
    from the entry after the signal to the entry after the next signal: the evaluator's rank
    IC (average-rank Spearman, at least ``min_ic_names`` pairs) on the forward returns of the
    signal schedule (:func:`~factorlab.evaluate.schedule_forward_returns`)."""
    price, offset = grid.entry_prices(params.entry)
    fwd = schedule_forward_returns(
        grid.dates, grid.assets, price, scored["date"].unique(), offset=offset
    )

    def one(pool: str, factor: pl.DataFrame, n: str) -> pl.DataFrame:
        clean = clean_factor(fwd.panel, factor, fwd, factor_col=n, quantiles=2)
        ic = information_coefficient(clean, min_obs=params.min_ic_names, grid="observed")
        return ic.select("date", "ic").with_columns(pool=pl.lit(pool), factor=pl.lit(n))

    jobs = []
    for (pool,), sub in scored.partition_by("pool", as_dict=True, maintain_order=True).items():
        for n in names:
            factor = sub.select("date", "asset", n)
            if factor[n].is_finite().sum() == 0:  # no value in this pool: no IC
                continue
            jobs.append((pool, factor, n))
    # the (pool, factor) ICs are independent and spend their time in Polars and nogil
    # kernels: one thread per core keeps them busy; results come back in job order
    parts = map_in_order(lambda job: one(*job), jobs, n_threads(), name="factorlab-ic-jobs")
    schema = {"pool": pl.String, "date": pl.Date, "factor": pl.String, "ic": pl.Float64}
    if not parts:
        return pl.DataFrame(schema=schema)
    return pl.concat(parts).select(*schema).sort("factor", "pool", "date")


def _leg_targets(
    scored: pl.DataFrame, names: list[str], params: StudyParams
) -> dict[tuple[str, str], pl.DataFrame]:
    """The top and bottom `top` fraction of every (pool, factor) on every signal date, in one
    query: (pool, factor) -> frame (date, asset, weight, side). Ties with the last name
    selected are all included (as :func:`~factorlab.backtest.quantile_targets`); equal or cap
    weights. A (pool, factor) without any score is absent."""
    w = pl.lit(1.0) if params.weighting == "equal" else pl.col("cap")
    # one group id per (pool, date); the ranks per group in numpy (a Polars rank().over() per
    # factor and side costs ~20 us per group: 1.5 s on the large preset)
    gid = scored.select(pl.struct("pool", "date").rank("dense")).to_series().to_numpy()
    order = np.argsort(gid, kind="stable")
    # gid runs 1..G: the first position of each id 1..G+1 in sorted order = the G+1 offsets
    offsets = np.searchsorted(gid[order], np.arange(1, (gid.max() if gid.size else 0) + 2))
    offsets = offsets.astype(np.int64)
    flags = {
        n: _top_bottom_flags(scored[n].cast(pl.Float64).to_numpy(), order, offsets, params.top)
        for n in names
    }
    base = scored.select("date", "asset", w.alias("weight"))
    pool_col = scored["pool"]
    out = {}
    # each leg's rows gathered by row number (in the frame's order, top then bottom), pool by
    # pool in order of first appearance: the rows of a filter per pool, factor and side
    for pool in pool_col.unique(maintain_order=True).to_list():
        in_pool = (pool_col == pool).to_numpy()
        for n in names:
            legs = pl.concat(
                [
                    base[np.flatnonzero(flag & in_pool)].with_columns(side=pl.lit(side))
                    for side, flag in zip(("top", "bottom"), flags[n], strict=True)
                ]
            )
            if legs.height:
                out[(pool, n)] = legs
    return out


def _top_bottom_flags(
    x: np.ndarray, order: np.ndarray, offsets: np.ndarray, top: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per row: is its score among the top / bottom `top` fraction of its (pool, date) group
    (rows ``order[offsets[g]:offsets[g + 1]]``)? ``rank("min") <= ceil(count * top)`` over
    the group's non-missing scores (NaN and null are missing, never picked)."""
    is_top = np.zeros(x.shape[0], dtype=bool)
    is_bottom = np.zeros(x.shape[0], dtype=bool)
    group_tail_flags_nb(x, order, offsets, float(top), is_top, is_bottom)
    return is_top, is_bottom


def _with_empty_dates(tg: pl.DataFrame, schedule: pl.Series, grid: AssetGrid) -> pl.DataFrame:
    """`tg` (date, asset, weight) with a zero-weight row on every `schedule` date without a
    target: the book goes to cash there (an empty rebalance, counted)."""
    missing = schedule.filter(~schedule.is_in(tg["date"].unique().implode()))
    if missing.len() == 0:
        return tg.select("date", "asset", "weight")
    empty = pl.DataFrame(
        {"date": missing, "asset": grid.assets[0], "weight": 0.0},
        schema={"date": pl.Date, "asset": pl.String, "weight": pl.Float64},
    )
    return pl.concat([tg.select("date", "asset", "weight"), empty])


def _series(
    top: pl.DataFrame | None,
    bottom: pl.DataFrame | None,
    bench: pl.DataFrame,
    name: str,
    pool: str,
) -> pl.DataFrame:
    """Daily long / short / bench series of one factor x pool; `top` None (the factor has no
    value in the pool) gives an empty frame with the same columns."""
    if top is None or bottom is None:
        top = bottom = pl.DataFrame(
            schema={"date": pl.Date, "gross": pl.Float64, "cost": pl.Float64, "net": pl.Float64}
        )
    d = (
        top.select("date", long="gross", long_net="net")
        .join(bottom.select("date", short="gross", short_cost="cost"), on="date", how="left")
        .join(bench.select("date", bench="benchmark"), on="date", how="left")
        .with_columns(
            excess=pl.col("long") - pl.col("bench"),
            excess_net=pl.col("long_net") - pl.col("bench"),
            long_short=pl.col("long") - pl.col("short"),
            long_short_net=pl.col("long_net") - pl.col("short") - pl.col("short_cost"),
        )
        .drop("short_cost")
        .with_columns(factor=pl.lit(name), pool=pl.lit(pool))
    )
    return d.select(
        "date",
        "factor",
        "pool",
        "long",
        "long_net",
        "short",
        "bench",
        "excess",
        "excess_net",
        "long_short",
        "long_short_net",
    )


def _row(
    d: pl.DataFrame | None,
    rebal: pl.DataFrame | None,
    ic_stats: pl.DataFrame,
    coverage: pl.DataFrame,
    name: str,
    pool: str,
    params: StudyParams,
    *,
    reason: str | None = None,
) -> dict:
    """One row of the handbook table. `d` None (nothing could be held): NaN metrics, 0
    periods, and `reason` says why."""
    ann = params.annualization
    out: dict = {"factor": name, "pool": pool}
    # the long leg's own Sharpe is over the risk-free rate (compounded to a day); excess and
    # long-short returns are self-financing: none unless params.excess_risk_free
    rf_day, rf_excess = _daily_risk_free(params)
    for col, label, rf in (
        ("excess", "long_excess", rf_excess),
        ("long_short", "long_short", rf_excess),
        ("long", "long", rf_day),
    ):
        for suffix in ("", "_net"):
            keys = (f"{label}_ann{suffix}", f"{label}_sharpe{suffix}", f"{label}_mdd{suffix}")
            if d is None or d.height == 0:
                out.update(dict.fromkeys(keys, float("nan")))
                continue
            r = d[col + suffix].to_numpy()
            out[keys[0]] = annual_return(r, annualization=ann)
            out[keys[1]] = sharpe_ratio(r, risk_free=rf, annualization=ann)
            out[keys[2]] = max_drawdown(r)
    # the handbook's 覆盖度: the share of the pool with a value, averaged over the dates with
    # data (not the dates before the first publication, the first full window or, for the
    # seat-split factors, the first classification)
    mine = (pl.col("factor") == name) & (pl.col("pool") == pool) & pl.col("data")
    cov = coverage.filter(mine)["coverage"]
    out["coverage_pct"] = 100 * cov.mean() if cov.len() else 0.0
    stats = ic_stats.filter((pl.col("factor") == name) & (pl.col("pool") == pool))
    mean, ir, t = stats.select("mean", "ir", "t_stat").row(0) if stats.height else (None,) * 3
    out["rank_ic_mean_pct"] = None if mean is None else 100 * mean
    out["rank_ic_ir"] = ir
    out["rank_ic_t"] = t
    if rebal is None:
        rebal = pl.DataFrame(schema={"turnover": pl.Float64, "names": pl.Int64})
    out["turnover_pct"] = 100 * rebal["turnover"][1:].mean() if len(rebal) > 1 else None
    out["name_turnover_pct"] = None  # set by the caller from the leg's names
    out["periods"] = len(rebal)
    # rebalances whose leg had no name (held in cash): e.g. a date where the factor has no value
    out["empty_rebalances"] = int((rebal["names"] == 0).sum())
    out["reason"] = reason
    return out


def _name_turnover_pct(top: pl.DataFrame, pool_dates: pl.Series) -> float | None:
    """The top leg's turnover by count, in %: on each rebalance after the first, the share of
    the leg's names that were not in it at the rebalance before (alphalens'
    ``quantile_turnover``), averaged over the rebalances. The rebalances are the pool's dates
    from the leg's first one on (a date without names is an empty leg: it has no share of its
    own, and the next leg's names are all new). None without two rebalances."""
    if top.height == 0:
        return None
    schedule = pool_dates.filter(pool_dates >= top["date"].min()).sort()
    names = dict(top.group_by("date").agg("asset").iter_rows())
    prev: set[str] = set()
    shares = []
    for k, day in enumerate(schedule.to_list()):
        now = set(names.get(day, ()))
        if k > 0 and now:
            shares.append(len(now - prev) / len(now))
        prev = now
    return 100 * float(np.mean(shares)) if shares else None


def _series_groups(result: StudyResult) -> Iterator[tuple[str, str, pl.DataFrame, pl.DataFrame]]:
    """(factor, pool, daily rows sorted by date, weekly IC rows) per row of the table."""
    daily, ic = result.daily, result.ic
    for factor, pool in result.table.select("factor", "pool").iter_rows():
        d = daily.filter((pl.col("factor") == factor) & (pl.col("pool") == pool)).sort("date")
        i = (
            ic.filter(
                (pl.col("factor") == factor)
                & (pl.col("pool") == pool)
                & pl.col("ic").is_not_null()
                & pl.col("ic").is_finite()
            )
            if ic.height
            else pl.DataFrame(schema={"date": pl.Date, "ic": pl.Float64})
        )
        yield factor, pool, d, i


def _daily_risk_free(params: StudyParams) -> tuple[float, float]:
    """(the long leg's daily risk-free rate, that of the long excess and long-short Sharpes:
    the same with ``excess_risk_free``, else 0): `risk_free` compounded to a day."""
    rf_day = (1.0 + params.risk_free) ** (1.0 / params.annualization) - 1.0
    return rf_day, rf_day if params.excess_risk_free else 0.0


def period_table(result: StudyResult, *, split: dt.date | str = DECAY_DATE) -> pl.DataFrame:
    """The headline metrics of every factor x pool before `split` and from it (the handbook's
    main finding: the factors decay after :data:`DECAY_DATE`, "2021年后有效性减弱").

    Columns: factor, pool, period (``"before {split}"``, ``"from {split}"``), first, last (the
    dates of the period's first and last daily return), days, long_excess_ann,
    long_excess_sharpe, long_short_ann, long_short_sharpe (gross, as in the table:
    :func:`~factorlab.evaluate.metrics.annual_return` and
    :func:`~factorlab.evaluate.metrics.sharpe_ratio` of the period's daily returns, over the
    risk-free rate when the study's ``excess_risk_free``),
    rank_ic_mean_pct (mean weekly rank IC of the signal dates in the period, %) and ic_dates.

    Nulls and NaN: a period without daily returns (a factor that could not be held, a window
    that ends before `split`) has 0 days and NaN metrics; without IC dates the IC is null.
    """
    cut = to_date(split, "split")
    ann = result.params.annualization
    _, rf = _daily_risk_free(result.params)
    rows = []
    for factor, pool, d, i in _series_groups(result):
        for label, before in ((f"before {cut}", True), (f"from {cut}", False)):
            keep = (pl.col("date") < cut) if before else (pl.col("date") >= cut)
            part, ics = d.filter(keep), i.filter(keep)
            row: dict[str, Any] = {
                "factor": factor,
                "pool": pool,
                "period": label,
                "first": part["date"].min() if part.height else None,
                "last": part["date"].max() if part.height else None,
                "days": part.height,
            }
            for col, key in (("excess", "long_excess"), ("long_short", "long_short")):
                r = part[col].to_numpy() if part.height else np.array([])
                row[f"{key}_ann"] = annual_return(r, annualization=ann) if r.size else np.nan
                row[f"{key}_sharpe"] = sharpe_ratio(r, risk_free=rf, annualization=ann)
            row["rank_ic_mean_pct"] = 100 * ics["ic"].mean() if ics.height else None
            row["ic_dates"] = ics.height
            rows.append(row)
    return (
        pl.DataFrame(rows, schema=_PERIOD_SCHEMA, orient="row") if rows else _empty(_PERIOD_SCHEMA)
    )


def yearly_table(result: StudyResult) -> pl.DataFrame:
    """Per factor x pool x calendar year: the compounded long excess, long-short and benchmark
    returns of the year's daily returns (gross;
    :func:`~factorlab.evaluate.metrics.aggregate_returns`, ``"yearly"``), the days, and the
    mean weekly rank IC of the year's signal dates (%).

    Columns: factor, pool, year, days, long_excess, long_short, bench, rank_ic_mean_pct.
    Nulls and NaN: null returns count as 0 (as in empyrical); a year without IC dates has a
    null IC.
    """
    rows = []
    for factor, pool, d, i in _series_groups(result):
        if d.height == 0:
            continue
        per = {
            col: dict(aggregate_returns(d.select("date", col), "yearly", value_col=col).iter_rows())
            for col in ("excess", "long_short", "bench")
        }
        days = dict(d.group_by(pl.col("date").dt.year().alias("year")).len().iter_rows())
        ic_year = dict(
            i.group_by(pl.col("date").dt.year().alias("year")).agg(pl.col("ic").mean()).iter_rows()
        )
        for year in sorted(days):
            ic = ic_year.get(year)
            rows.append(
                (
                    factor,
                    pool,
                    year,
                    days[year],
                    per["excess"][year],
                    per["long_short"][year],
                    per["bench"][year],
                    None if ic is None else 100 * ic,
                )
            )
    return pl.DataFrame(rows, schema=_YEAR_SCHEMA, orient="row") if rows else _empty(_YEAR_SCHEMA)


_PERIOD_SCHEMA = {
    "factor": pl.String,
    "pool": pl.String,
    "period": pl.String,
    "first": pl.Date,
    "last": pl.Date,
    "days": pl.Int64,
    "long_excess_ann": pl.Float64,
    "long_excess_sharpe": pl.Float64,
    "long_short_ann": pl.Float64,
    "long_short_sharpe": pl.Float64,
    "rank_ic_mean_pct": pl.Float64,
    "ic_dates": pl.Int64,
}
_YEAR_SCHEMA = {
    "factor": pl.String,
    "pool": pl.String,
    "year": pl.Int32,
    "days": pl.Int64,
    "long_excess": pl.Float64,
    "long_short": pl.Float64,
    "bench": pl.Float64,
    "rank_ic_mean_pct": pl.Float64,
}


def _empty(schema: Mapping[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(schema=dict(schema))


def _correlation(daily: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    if daily.height == 0:  # no factor could be held in this pool
        return pl.DataFrame({"factor": pl.Series([], dtype=pl.String)})
    wide = daily.pivot(on="factor", index="date", values="long_short").sort("date")
    cols = [n for n in names if n in wide.columns]
    m = wide.select(cols).fill_null(0.0).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):  # a constant series: NaN correlation
        c = np.corrcoef(m, rowvar=False) if m.shape[1] > 1 else np.ones((1, 1))
    return pl.DataFrame({"factor": cols, **{n: c[:, i] for i, n in enumerate(cols)}})
