"""One call for many factors on many pools: :func:`evaluate`.

The price panel and the forward returns are built once and shared by every factor x pool; each
factor x pool is a :func:`~factorlab.evaluate.clean_factor` on the same grids, scored with the
IC, quantile-return, turnover and autocorrelation functions of this package.

Every input frame passes the shared boundary (:mod:`factorlab.frames`): pandas is accepted,
factor columns must be numeric, prices finite and > 0, asset codes must meet the prices', keys
unique. Nothing asked for is left out silently: every factor x pool x horizon has a summary row
(NaN with a ``reason`` when it cannot be scored), and every input row not used is in ``drops``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import polars as pl

from factorlab._display import Summary, join_names, sizes
from factorlab.errors import MAX_EXAMPLES, CalendarError, MissingColumnError, ParameterError
from factorlab.evaluate.forward import forward_returns, validate_horizons
from factorlab.evaluate.ic import ic_stats, information_coefficient
from factorlab.evaluate.panel import DensePanel, RowPlacement, _date_days, as_float_array
from factorlab.evaluate.quantiles import CleanFactor, DropReport, clean_factor, validate_quantiles
from factorlab.evaluate.returns import mean_return_by_quantile
from factorlab.evaluate.turnover import rank_autocorrelations, turnover_grids
from factorlab.frames import (
    as_lazy,
    check_columns,
    check_numeric,
    check_positive,
    check_unique_keys,
    match_codes,
)
from factorlab.parallel import check_engine, executor, resolve_workers
from factorlab.progress import reports_progress
from factorlab.typing import Engine, Entry, ProgressOption, QuantileMode

__all__ = ["DEFAULT_BATCH", "Evaluation", "evaluate"]

#: Factors collected and scored per batch by :func:`evaluate` (``batch_size=None``).
DEFAULT_BATCH = 20

_ENTRY_COLUMN = {"close": None, "next_open": "open", "next_vwap": "vwap"}
_FRAMES = ("summary", "ic", "quantile_returns", "drops")
_HEADLINE = ("factor", "pool", "horizon", "ic_mean", "ic_t", "spread_mean", "coverage", "reason")
_REASONS = (
    "not_in_factor",
    "factor_null",
    "non_finite",
    "not_in_prices",
    "missing_return",
    "group_null",
    "binning",
    "clean",
)


@dataclass(frozen=True)
class Evaluation:
    """Result of :func:`evaluate`.

    ``summary``: one row per factor x pool x horizon, always (IC statistics, top / bottom
    quantile mean returns and their spread per period, top-quantile turnover, rank
    autocorrelation, ``coverage``, ``rows_input``, ``rows_clean`` and ``loss`` for that horizon,
    and ``reason``: null, or why the row's statistics are NaN). ``ic``: per-date IC.
    ``quantile_returns``: mean return by quantile. ``drops``: per factor x pool x horizon, the
    input rows by reason (``not_in_factor``, ``factor_null``, ``non_finite``,
    ``not_in_prices``, ``missing_return``, ``group_null``, ``binning``, ``clean``); for each
    factor x pool x horizon they sum to ``rows_input`` (nothing is lost silently).
    """

    summary: pl.DataFrame
    ic: pl.DataFrame
    quantile_returns: pl.DataFrame
    drops: pl.DataFrame
    #: (pool, factor) -> the clean factor behind the frames (only with ``keep_clean=True``)
    cleans: Mapping[tuple[str, str], CleanFactor] = field(
        default_factory=dict, repr=False, compare=False
    )

    def _display(self) -> Summary:
        s = self.summary
        factors = s["factor"].unique(maintain_order=True).to_list()
        pools = s["pool"].unique(maintain_order=True).to_list()
        horizons = s["horizon"].unique(maintain_order=True).to_list()
        lines = [
            f"factors: {join_names(factors)}; pools: {join_names(pools)}; "
            f"horizons: {join_names(horizons)}"
        ]
        if self.ic.height:
            first, last = self.ic["date"].min(), self.ic["date"].max()
            n = self.ic["date"].n_unique()
            lines.append(f"dates: {first} .. {last} ({n:,} IC dates)")
        lines.append(f"frames: {sizes({n: getattr(self, n) for n in _FRAMES})}")
        cols = [c for c in _HEADLINE if c in s.columns]
        return Summary(
            f"Evaluation: {len(factors)} factor(s) x {len(pools)} pool(s) x "
            f"{len(horizons)} horizon(s)",
            tuple(lines),
            s.select(cols),
            "summary (IC, top - bottom spread per period, coverage)",
        )

    def __repr__(self) -> str:
        return self._display().text()

    def _repr_html_(self) -> str:
        return self._display().html()


@reports_progress("evaluate")
def evaluate(
    frame: Any,
    factors: Sequence[str],
    *,
    prices: Any = None,
    pools: Any = None,
    horizons: Sequence[int] = (1, 5, 10),
    quantiles: int = 5,
    mode: QuantileMode = "rank",
    entry: Entry = "next_open",
    method: str = "spearman",
    price_col: str = "close",
    date_col: str = "date",
    asset_col: str = "asset",
    keep_clean: bool = False,
    workers: int | None = None,
    batch_size: int | None = None,
    engine: Engine = "local",
    progress: ProgressOption = "auto",
) -> Evaluation:
    """Score many factor columns on many pools in one call.

    Parameters
    ----------
    frame
        Long table (date, asset, factor columns), polars or pandas; with ``prices=None`` it also
        holds the price column(s).
    factors
        Factor column names in `frame` (numeric, each named once).
    prices
        Long price table (date, asset, `price_col`, plus ``open`` / ``vwap`` for those entry
        conventions), polars or pandas; default: `frame`.
    pools
        Point-in-time membership ``(date, asset, pool)`` (e.g. ``market.pools``), or a mapping
        pool name -> (date, asset) frame; ``None`` scores the whole universe as pool "all".
        Members on a factor date without a factor row count as ``not_in_factor`` drops.
    horizons, quantiles, mode, entry, method
        As in :func:`forward_returns`, :func:`clean_factor` (``"rank"`` tie-robust buckets or
        ``"qcut"`` alphalens-compatible) and :func:`information_coefficient`. The default entry
        is ``"next_open"``: a factor known after day t's close trades at t+1's open (pass
        ``entry="close"`` for alphalens' convention, with data known before the close).
    keep_clean
        Keep each (pool, factor)'s :class:`CleanFactor` in ``Evaluation.cleans`` (for per-date
        series, e.g. the tear sheet); off by default, since each holds dense grids.
    workers
        How many factor x pool units run at once: threads with ``engine="local"`` (default
        ``None``: every core of this process, :func:`factorlab.parallel.default_workers`;
        ``1``: one after another in the calling thread), Ray tasks in flight with
        ``engine="ray"`` (``None``: as many as the cluster schedules). The result is the same
        frame for frame whatever the number (the units are independent; their rows are put
        back in the serial order).
    batch_size
        Factors collected from `frame` at a time (default ``None``: :data:`DEFAULT_BATCH`). With
        a lazy `frame` (``pl.scan_parquet``, or factor expressions) only one batch of factor
        columns is ever in memory; the peak is then the price panel + one batch + `workers`
        units' grids (``docs/scale.md`` gives the bytes per factor).
    engine
        ``"local"`` (threads in this process) or ``"ray"`` (tasks on a Ray cluster, the
        ``distributed`` extra: the panel and forward returns are put once in the object store,
        each batch's factor columns and each pool's rows once; see :mod:`factorlab.parallel` and
        ``docs/scale.md``).
    progress
        ``"auto"``, ``True``, ``None`` / ``False`` or a callable (:mod:`factorlab.progress`):
        ``prices: N sessions x M assets`` once the panel and forward returns are built, then
        ``POOL / FACTOR (k of n)`` as each is scored (k counts in the order they finish).

    Returns
    -------
    Evaluation

    Calendar
    --------
    Horizons and turnover / autocorrelation lags count sessions of the price table. A factor
    row on a date without a price row is dropped as ``not_in_prices``, and the next session's
    turnover compares with the previous session (the alphalens-compatible functions,
    :func:`alphalens_tearsheet_numbers`, count such a date as a row, as alphalens does).

    Coverage
    --------
    ``coverage`` is the mean over the factor's dates of the share of the pool's members (with
    ``pools=None``: of the assets with a price) that have a clean factor value that date, as
    the study's "Coverage %".

    Raises
    ------
    MissingColumnError
        A factor, key or price column is absent.
    ParameterError
        No factors, a factor named twice, bad horizons or quantiles, a frame of another type, or
        a pool with fewer names than `quantiles` on a date (named with an example date).
    DtypeError
        A factor column that is not numeric (String, Boolean), or a date column that is not a
        date.
    DuplicateKeyError
        Two factor rows (or two pool rows) share a (date, asset) key.
    ValueRangeError
        A zero, negative or non-finite price in the column the entry uses.
    AssetCodeError
        No factor (or pool) asset code matches a price asset (e.g. ``600519`` against
        ``600519.SH``).
    CalendarError
        No factor date is a date of the price table.
    """
    factors = _check_factor_names(factors)
    batch_size = _check_batch_size(batch_size)
    workers = resolve_workers(workers)
    engine = check_engine(engine)
    lf = as_lazy(frame, name="frame")
    schema = lf.collect_schema()
    check_columns(schema, [date_col, asset_col, *factors], table="factor")
    check_numeric(schema, factors, table="factor")
    horizons = validate_horizons(horizons)
    quantiles = validate_quantiles(quantiles)
    entry_col = _ENTRY_COLUMN.get(entry)
    price_cols = list(dict.fromkeys([price_col, *([entry_col] if entry_col else [])]))
    price_frame = lf if prices is None else as_lazy(prices, name="prices")
    have = price_frame.collect_schema().names()
    absent = [c for c in (date_col, asset_col, *price_cols) if c not in have]
    if absent:
        raise MissingColumnError(
            f"`evaluate`: price column(s) {absent} not in the price frame (entry {entry!r} needs "
            f"{price_cols}); it has {have}.",
            table="prices",
            column=absent[0],
        )
    check_numeric(price_frame.collect_schema(), price_cols, table="prices")
    used_col = entry_col or price_col
    check_positive(price_frame, [used_col], table="prices", show=(date_col, asset_col))
    price_data = price_frame.select(date_col, asset_col, *price_cols).collect()
    price_data = _as_date(price_data, date_col, "prices")
    batches = [factors[i : i + batch_size] for i in range(0, len(factors), batch_size)]
    # the keys (and the first batch's columns): every batch has the same rows
    factor_frame = _factor_batch(lf, batches[0], price_data, date_col, asset_col)

    panel = DensePanel.from_frame(
        price_data, columns=tuple(price_cols), date_col=date_col, asset_col=asset_col
    )
    _check_dates_overlap(factor_frame, panel, date_col)
    fwd = forward_returns(panel, horizons, entry=entry, price_col=price_col)
    if method == "spearman":  # each horizon's return order sorted once, read by every unit
        for h in horizons:
            fwd.order(h)
    progress("prices: {} sessions x {} assets".format(*panel.shape))
    members = _pool_members(pools, factor_frame, price_data, date_col, asset_col)
    factor_dates = factor_frame.get_column(date_col).unique().sort()
    pool_info = {}
    layouts: dict[str, _PoolRows] = {}
    for pool, keys in members.items():
        if keys is None:
            pool_info[pool] = (None, 0, _priced_per_date(panel, price_col, factor_dates))
            continue
        # members on the factor's dates; both key sets are unique (pools checked here, the
        # factor rows by DensePanel.to_grid, which raises on a duplicate), so the members
        # without a factor row are the difference of the counts
        on_dates = keys.filter(pl.col(date_col).is_in(factor_dates.implode()))
        layouts[pool] = _pool_rows(factor_frame, on_dates, panel, date_col, asset_col)
        n_rows = layouts[pool].n_rows
        # sorted: the coverage's float sum runs in date order, the same bits on every run
        per_date = on_dates.group_by(date_col).agg(pl.len().alias("n_members")).sort(date_col)
        pool_info[pool] = (on_dates, on_dates.height - n_rows, per_date)
    opts = _Options(horizons, quantiles, mode, method, date_col, asset_col, keep_clean)
    n_units = len(members) * len(factors)

    base = 0  # units of the batches before this one

    def done(k: int, unit: tuple[str, str]) -> None:
        progress(f"{unit[0]} / {unit[1]} ({base + k} of {n_units})")

    parts: dict[tuple[str, str], _Part] = {}
    keys = factor_frame.select(date_col, asset_col)  # the rows `layouts` were found for
    shared_placements: dict[str, Any] = {}
    with executor(engine, workers=workers) as ex:
        # shared once; a unit gets its factor's column of the batch and its pool's rows (on Ray:
        # each column and each pool's rows put once, so a task reads one column, not the batch)
        common = ex.share((panel, fwd, opts, {p: info[1:] for p, info in pool_info.items()}))
        for b, names in enumerate(batches):
            if b:
                factor_frame = _factor_batch(lf, names, price_data, date_col, asset_col)
                batch_keys = factor_frame.select(date_col, asset_col)
                if not batch_keys.equals(keys):
                    # another row order: the pools' rows are found again, for these keys
                    layouts, shared_placements, keys = {}, {}, batch_keys
            units, rows = [], []
            # each factor's column shared once (on Ray: one put, read by its units in every
            # pool); a unit takes its pool's rows of it itself, on its own thread
            columns = {name: ex.share(factor_frame.get_column(name)) for name in names}
            for pool, (on_dates, _, _) in pool_info.items():
                if pool not in layouts:
                    layouts[pool] = _pool_rows(factor_frame, on_dates, panel, date_col, asset_col)
                if pool not in shared_placements:  # on Ray: put once per layout
                    shared_placements[pool] = ex.share(layouts[pool])
                for name in names:
                    units.append((pool, name))
                    rows.append((columns[name], shared_placements[pool]))
            out = ex.map(_score_unit, units, shared=(common,), args=rows, on_done=done)
            parts.update(zip(units, out, strict=True))
            base += len(units)
            del factor_frame, rows, columns
    # the serial order: pool by pool, each pool's factors in the order asked
    order = [parts[(pool, name)] for pool in pool_info for name in factors]
    lead = ["factor", "pool"]
    return Evaluation(
        summary=pl.concat([p.summary for p in order], how="diagonal_relaxed"),
        ic=_concat([p.ic for p in order if p.ic is not None], lead),
        quantile_returns=_concat([p.qr for p in order if p.qr is not None], lead),
        drops=pl.concat([p.drops for p in order]),
        cleans={k: p.clean for k, p in parts.items() if p.clean is not None} if keep_clean else {},
    )


@dataclass(frozen=True)
class _Options:
    horizons: tuple[int, ...]
    quantiles: int
    mode: QuantileMode
    method: str
    date_col: str
    asset_col: str
    keep_clean: bool


@dataclass(frozen=True, eq=False)
class _PoolRows:
    """One pool's rows of the factor frame (positions, None = all; a Polars index Series, which
    a unit's ``gather`` reads off the GIL) and where they land on the panel: found once, as
    every batch of factors has the same rows."""

    rows: pl.Series | None
    placement: RowPlacement

    @property
    def n_rows(self) -> int:
        return self.placement.n_rows


def _pool_rows(
    factor_frame: pl.DataFrame,
    on_dates: pl.DataFrame | None,
    panel: DensePanel,
    date_col: str,
    asset_col: str,
) -> _PoolRows:
    keys = factor_frame.select(date_col, asset_col)
    rows = None
    if on_dates is not None:
        # the members' rows, in the frame's order (a semi join keeps the left rows' order)
        found = keys.with_row_index("_row").join(on_dates, on=[date_col, asset_col], how="semi")
        rows = found.get_column("_row").sort()
        keys = keys[rows]
    placement = panel.place_rows(keys, date_col=date_col, asset_col=asset_col, table="factor")
    return _PoolRows(rows, placement)


@dataclass(frozen=True)
class _Part:
    """One factor x pool's frames (``ic`` / ``qr`` None when it could not be scored)."""

    summary: pl.DataFrame
    drops: pl.DataFrame
    ic: pl.DataFrame | None = None
    qr: pl.DataFrame | None = None
    clean: CleanFactor | None = None


def _score_unit(
    common: tuple[DensePanel, Any, _Options, Mapping[str, tuple[int, pl.DataFrame]]],
    column: pl.Series,
    layout: _PoolRows,
    unit: tuple[str, str],
) -> _Part:
    """Score one factor x pool: a unit of :func:`evaluate`'s sweep (a thread or a Ray task; it
    reads the shared panel and forward returns, the factor's column of the batch and the pool's
    rows of the batch, found and placed on the grid once for the pool, and writes nothing)."""
    panel, fwd, o, pools = common
    pool, name = unit
    not_in_factor, per_date = pools[pool]
    tag = {"factor": name, "pool": pool}
    placement = layout.placement
    values = column if layout.rows is None else column.gather(layout.rows)
    # the keys are the placement's own (to_grid's check of them against it always passes)
    f = placement.keys.with_columns(values.cast(pl.Float64).alias("factor"))
    clean = _score(
        f, panel, fwd, name, pool, o.quantiles, o.mode, o.date_col, o.asset_col, placement
    )
    d = clean.drops if isinstance(clean, CleanFactor) else clean
    d = replace(d, n_input=d.n_input + not_in_factor, not_in_factor=not_in_factor)
    used = _used_by_horizon(clean, o.horizons)
    drops = _drops_frame(d, used, tag)
    if not isinstance(clean, CleanFactor):
        return _Part(_empty_summary(d, o.horizons, tag), drops)
    ic = information_coefficient(clean, method=o.method)
    qr = mean_return_by_quantile(clean)
    cov = _coverage(clean, per_date, o.date_col)
    return _Part(
        summary=_summary(clean, ic, qr, o.quantiles, tag, d, used, cov),
        drops=drops,
        ic=ic.with_columns(**{k: pl.lit(v) for k, v in tag.items()}),
        qr=qr.with_columns(**{k: pl.lit(v) for k, v in tag.items()}),
        clean=clean if o.keep_clean else None,
    )


def _factor_batch(
    lf: pl.LazyFrame, names: list[str], prices: pl.DataFrame, date_col: str, asset_col: str
) -> pl.DataFrame:
    """The keys and one batch of factor columns, collected (dates as dates, the prices' codes)."""
    batch = lf.select(date_col, asset_col, *names).collect()
    batch = _as_date(batch, date_col, "factor")
    return _same_codes(batch, prices, asset_col, "factor")


def _check_batch_size(batch_size: int | None) -> int:
    if batch_size is None:
        return DEFAULT_BATCH
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ParameterError(f"`batch_size` must be an integer >= 1 (factors); got {batch_size!r}.")
    return batch_size


def _concat(parts: list[pl.DataFrame], lead: list[str]) -> pl.DataFrame:
    if not parts:
        return pl.DataFrame(schema={k: pl.String for k in lead})
    return pl.concat(parts).select(*lead, pl.exclude(lead))


def _check_factor_names(factors: Sequence[str]) -> list[str]:
    if isinstance(factors, str):
        factors = [factors]
    names = list(factors)
    if not names:
        raise ParameterError("`factors` is empty: name at least one factor column.")
    bad = [f for f in names if not isinstance(f, str)]
    if bad:
        raise ParameterError(f"`factors` must be column names (str); got {names!r}.")
    twice = sorted({f for f in names if names.count(f) > 1})
    if twice:
        raise ParameterError(
            f"`factors` names {', '.join(f'`{f}`' for f in twice)} more than once (got "
            f"{names!r}); each factor is scored once: pass {list(dict.fromkeys(names))!r}."
        )
    return names


def _as_date(frame: pl.DataFrame, date_col: str, table: str) -> pl.DataFrame:
    """The date column as ``pl.Date`` (Datetime truncated); any other dtype is a DtypeError."""
    dtype = frame.schema[date_col]
    if dtype == pl.Date:
        return frame
    _date_days(frame.get_column(date_col), table, date_col)  # raises DtypeError unless Datetime
    return frame.with_columns(pl.col(date_col).dt.date())


def _same_codes(
    frame: pl.DataFrame, prices: pl.DataFrame, asset_col: str, table: str
) -> pl.DataFrame:
    """Check that `frame` speaks the prices' asset codes (0 matching is an AssetCodeError) and
    give its asset column the prices' dtype (a partial mismatch stays, as ``not_in_prices``)."""
    codes, known = frame.get_column(asset_col), prices.get_column(asset_col)
    if isinstance(codes.dtype, pl.Categorical | pl.Enum):
        codes = codes.cast(pl.String)
    target = pl.String if isinstance(known.dtype, pl.Categorical | pl.Enum) else known.dtype
    match_codes(codes.unique(), known.unique(), table=table, against="prices", column=asset_col)
    if codes.dtype != target:
        codes = codes.cast(pl.String).cast(target, strict=False)
    return frame.with_columns(codes.alias(asset_col))


def _check_dates_overlap(frame: pl.DataFrame, panel: DensePanel, date_col: str) -> None:
    dates = frame.get_column(date_col).unique().sort()
    if dates.len() and not dates.is_in(panel.dates.implode()).any():
        raise CalendarError(
            f"none of the {dates.len()} dates of table `factor` (e.g. {dates[0]}) is a date of "
            f"table `prices` ({panel.dates.len()} dates, {panel.dates[0]} to "
            f"{panel.dates[-1]}); the factor and the prices must cover the same sessions.",
            table="factor",
            column=date_col,
            examples=[{date_col: d.isoformat()} for d in dates.head(MAX_EXAMPLES)],
        )


def _score(
    f: pl.DataFrame,
    panel: DensePanel,
    fwd,
    name: str,
    pool: str,
    quantiles: int,
    mode: QuantileMode,
    date_col: str,
    asset_col: str,
    placement: RowPlacement | None = None,
) -> CleanFactor | DropReport:
    """The clean factor, or (no finite value at all) the DropReport of an unscorable factor."""
    x = pl.col("factor")
    counts = f.select(finite=x.is_finite().sum(), inf=x.is_infinite().sum(), rows=pl.len()).row(
        0, named=True
    )
    if not counts["finite"]:
        return DropReport(
            n_input=counts["rows"],
            factor_null=counts["rows"] - counts["inf"],
            not_in_prices=0,
            missing_return=0,
            group_null=0,
            binning=0,
            binning_dates=0,
            n_clean=0,
            non_finite=counts["inf"],
        )
    _check_names_per_date(f, quantiles, name, pool, date_col, panel, placement)
    return clean_factor(
        panel,
        f,
        fwd,
        factor_col="factor",
        date_col=date_col,
        asset_col=asset_col,
        quantiles=quantiles,
        mode=mode,
        placement=placement,
    )


def _check_names_per_date(
    f: pl.DataFrame,
    quantiles: int,
    name: str,
    pool: str,
    date_col: str,
    panel: DensePanel | None = None,
    placement: RowPlacement | None = None,
) -> None:
    """Quantile portfolios need at least `quantiles` names with a value on every scored date.

    With the rows' `placement` on `panel` and every row on the grid, the names are counted per
    grid row with numpy (the same counts as a ``group_by`` on the date, which a sweep's unit
    would otherwise run once per factor)."""
    per_row = _names_per_row(f, panel, placement)
    if per_row is not None:
        short = np.flatnonzero((per_row > 0) & (per_row < quantiles))
        if short.size:
            row = int(short[0])
            _too_few_names(pool, name, quantiles, short.size, panel.dates[row], per_row[row])
        return
    counts = (
        f.filter(pl.col("factor").is_finite())
        .group_by(date_col)
        .len()
        .filter(pl.col("len") < quantiles)
        .sort(date_col)
    )
    if counts.height:
        first = counts.row(0, named=True)
        _too_few_names(pool, name, quantiles, counts.height, first[date_col], first["len"])


def _names_per_row(
    f: pl.DataFrame, panel: DensePanel | None, placement: RowPlacement | None
) -> np.ndarray | None:
    """Rows of `f` with a finite factor per grid row, or None unless every row is on the grid
    (a row off it still counts for its date: the frame's own dates decide then)."""
    if panel is None or placement is None or placement.error is not None:
        return None
    finite = np.isfinite(as_float_array(f.get_column("factor")))
    n_dates, n_assets = panel.shape
    if placement.dense:
        return finite.reshape(n_dates, n_assets).sum(axis=1)
    if not placement.on_grid.all():
        return None
    return np.bincount(placement.cell[finite] // n_assets, minlength=n_dates)


def _too_few_names(pool: str, name: str, quantiles: int, n_dates: int, day, n: int) -> None:
    raise ParameterError(
        f"pool `{pool}` has fewer names with a `{name}` value than `quantiles` ({quantiles}) "
        f"on {n_dates} date(s), e.g. {day} with {int(n)}; use fewer quantiles, a larger pool, "
        "or drop those dates from the factor frame."
    )


def _pool_members(
    pools: Any,
    factor_frame: pl.DataFrame,
    prices: pl.DataFrame,
    date_col: str,
    asset_col: str,
) -> dict[str, pl.DataFrame | None]:
    if pools is None:
        return {"all": None}
    if isinstance(pools, Mapping):
        parts = {}
        for k, v in pools.items():
            table = f"pools[{k!r}]"
            lf = as_lazy(v, name=table)
            check_columns(lf.collect_schema(), [date_col, asset_col], table=table)
            parts[k] = lf.select(date_col, asset_col).collect()
    else:
        lf = as_lazy(pools, name="pools")
        check_columns(lf.collect_schema(), [date_col, asset_col, "pool"], table="pools")
        p = lf.select(date_col, asset_col, "pool").collect()
        parts = {
            name: part.select(date_col, asset_col)
            for (name,), part in p.group_by(["pool"], maintain_order=True)
        }
    out = {}
    for name, keys in parts.items():
        table = "pools" if not isinstance(pools, Mapping) else f"pools[{name!r}]"
        keys = _as_date(keys, date_col, table)
        check_unique_keys(keys, [date_col, asset_col], table=table)
        keys = _same_codes(keys, prices, asset_col, table)
        out[name] = keys.with_columns(
            pl.col(asset_col).cast(factor_frame.schema[asset_col], strict=False)
        )
    return out


def _priced_per_date(panel: DensePanel, price_col: str, dates: pl.Series) -> pl.DataFrame:
    """Members of pool "all" per factor date: the assets with a price that date."""
    priced = np.isfinite(panel.fields[price_col]).sum(axis=1)
    frame = pl.DataFrame({panel.date_col: panel.dates, "n_members": priced.astype(np.int64)})
    return frame.filter(pl.col(panel.date_col).is_in(dates.implode()))


def _coverage(clean: CleanFactor, per_date: pl.DataFrame, date_col: str) -> float:
    """Mean over the member dates of (members with a clean value) / members."""
    n_clean = pl.DataFrame(
        {date_col: clean.panel.dates, "n_clean": clean.mask.sum(axis=1).astype(np.int64)}
    )
    share = (
        per_date.filter(pl.col("n_members") > 0)
        .join(n_clean, on=date_col, how="left")
        .select((pl.col("n_clean").fill_null(0) / pl.col("n_members")).mean())
        .item()
    )
    return np.nan if share is None else float(share)


def _used_by_horizon(clean: CleanFactor | DropReport, horizons: tuple[int, ...]) -> dict:
    """Clean rows that have horizon h's forward return (the rows scored for h)."""
    if not isinstance(clean, CleanFactor):
        return {h: 0 for h in horizons}
    return {h: int((clean.mask & np.isfinite(clean.forward.grids[h])).sum()) for h in horizons}


def _drops_frame(d: DropReport, used: dict[int, int], tag: dict) -> pl.DataFrame:
    rows = []
    n = max(d.n_input, 1)
    for h, clean_h in used.items():
        counts = {
            "not_in_factor": d.not_in_factor,
            "factor_null": d.factor_null,
            "non_finite": d.non_finite,
            "not_in_prices": d.not_in_prices,
            "missing_return": d.missing_return + d.n_clean - clean_h,
            "group_null": d.group_null,
            "binning": d.binning,
            "clean": clean_h,
        }
        rows += [(tag["factor"], tag["pool"], h, r, counts[r], counts[r] / n) for r in _REASONS]
    return pl.DataFrame(
        rows,
        schema={
            "factor": pl.String,
            "pool": pl.String,
            "horizon": pl.Int32,
            "reason": pl.String,
            "rows": pl.Int64,
            "share": pl.Float64,
        },
        orient="row",
    )


_SUMMARY_FLOATS = (
    "ic_mean",
    "ic_std",
    "ic_ir",
    "ic_t",
    "ic_p",
    "ic_positive",
    "top_mean",
    "bottom_mean",
    "spread_mean",
    "turnover_top",
    "rank_autocorr",
    "coverage",
)


#: ``ic_stats`` keys of the summary's first six float columns
_IC_STATS = ("mean", "std", "ir", "t_stat", "p_value", "positive")


def _empty_summary(d: DropReport, horizons: tuple[int, ...], tag: dict) -> pl.DataFrame:
    reason = (
        f"`{tag['factor']}` has no finite value in pool `{tag['pool']}` "
        f"({d.n_input} rows: null, NaN or infinite)"
    )
    n = len(horizons)
    return pl.DataFrame(
        {
            "factor": [tag["factor"]] * n,
            "pool": [tag["pool"]] * n,
            "horizon": pl.Series(horizons, dtype=pl.Int32),
            **{c: pl.Series([None] * n, dtype=pl.Float64) for c in _SUMMARY_FLOATS[:6]},
            "n_dates": pl.Series([0] * n, dtype=pl.Int64),
            **{c: pl.Series([None] * n, dtype=pl.Float64) for c in _SUMMARY_FLOATS[6:11]},
            "coverage": pl.Series([0.0] * n),
            "rows_input": pl.Series([d.n_input] * n, dtype=pl.Int64),
            "rows_clean": pl.Series([0] * n, dtype=pl.Int64),
            "loss": pl.Series([1.0 if d.n_input else 0.0] * n),
            "reason": [reason] * n,
        }
    )


def _reason(h: int, d: DropReport, used: int, n_dates: int) -> str | None:
    if d.n_clean == 0:
        return "no clean row: every factor row was dropped (see `drops`)"
    if used == 0:
        return (
            f"no clean row has a {h}-session forward return (the horizon reaches past the "
            "price data, or the entry price is missing)"
        )
    if n_dates == 0:
        return (
            "no IC on any date: the factor (or the return) is constant within every date, or "
            "fewer than 2 names per date"
        )
    if n_dates == 1:
        return "IC on a single date: std, IR and t-stat are undefined"
    return None


def _finite_mean(values: np.ndarray) -> float | None:
    """The mean of the non-NaN `values` (nulls are NaN here), added up by numpy in row order:
    the same bits on every run, whatever the threads (a Polars ``group_by().mean()`` may add a
    group up in another order from one run to the next: seen at 1e-17); None if there is none."""
    v = values[~np.isnan(values)]
    return float(v.sum() / v.size) if v.size else None


def _value(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


def _summary(
    clean: CleanFactor,
    ic: pl.DataFrame,
    qr: pl.DataFrame,
    quantiles: int,
    tag: dict,
    d: DropReport,
    used: dict[int, int],
    cov: float,
) -> pl.DataFrame:
    """One factor x pool's summary rows, one per horizon, built from numpy arrays into one frame
    at the end (a unit on a thread spends its time in nogil kernels, not in small Polars frames
    that hold the GIL)."""
    horizons = clean.horizons
    ic_h = ic.get_column("horizon").to_numpy()
    ic_v = ic.get_column("ic").to_numpy()
    qr_q = qr.get_column("quantile").to_numpy()
    qr_h = qr.get_column("horizon").to_numpy()
    qr_v = qr.get_column("mean_return").to_list()  # a few values; null stays None
    top_rows = clean.output_rows("calendar", mask=clean.quantile == quantiles)
    turnover = turnover_grids(clean, horizons) if top_rows.size else {}
    _, autocorr = rank_autocorrelations(clean, horizons, "calendar")
    cols: dict[str, list] = {c: [] for c in _SUMMARY_FLOATS[:6]}
    cols |= {"n_dates": []} | {c: [] for c in _SUMMARY_FLOATS[6:11]}
    reasons = []

    def quantile_mean(q: int, h: int) -> float | None:
        hit = np.flatnonzero((qr_q == q) & (qr_h == h))
        return qr_v[hit[0]] if hit.size else None

    for h, auto in zip(horizons, autocorr, strict=True):
        x = ic_v[ic_h == h]
        stats = ic_stats(x[~np.isnan(x)], h, moments=False)
        for c, key in zip(_SUMMARY_FLOATS[:6], _IC_STATS, strict=True):
            cols[c].append(_value(stats[key]))
        cols["n_dates"].append(stats["n_dates"])
        top, bottom = quantile_mean(quantiles, h), quantile_mean(1, h)
        cols["top_mean"].append(top)
        cols["bottom_mean"].append(bottom)
        cols["spread_mean"].append(None if top is None or bottom is None else top - bottom)
        turn = turnover[h][top_rows, quantiles - 1] if top_rows.size else None
        cols["turnover_top"].append(None if turn is None else _finite_mean(turn))
        cols["rank_autocorr"].append(_finite_mean(auto))
        reasons.append(_reason(h, d, used[h], stats["n_dates"]))
    n = len(horizons)
    rows_clean = pl.Series([used[h] for h in horizons], dtype=pl.Int64)
    # Series arithmetic, as before (Polars divides by a scalar through its reciprocal)
    loss = (1 - rows_clean.cast(pl.Float64) / d.n_input) if d.n_input else rows_clean * 0.0
    return pl.DataFrame(
        {
            "factor": [tag["factor"]] * n,
            "pool": [tag["pool"]] * n,
            "horizon": pl.Series(horizons, dtype=pl.Int32),
            **{c: pl.Series(cols[c], dtype=pl.Float64) for c in _SUMMARY_FLOATS[:6]},
            "n_dates": pl.Series(cols["n_dates"], dtype=pl.Int64),
            **{c: pl.Series(cols[c], dtype=pl.Float64) for c in _SUMMARY_FLOATS[6:11]},
            "coverage": pl.Series([_value(cov)] * n, dtype=pl.Float64),
            "rows_input": pl.Series([d.n_input] * n, dtype=pl.Int64),
            "rows_clean": rows_clean,
            "loss": loss.cast(pl.Float64),
            "reason": pl.Series(reasons, dtype=pl.String),
        }
    )
