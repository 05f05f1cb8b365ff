"""alphalens-reloaded parity: its single-factor tables in one call, and converters both ways.

``alphalens_tearsheet_numbers`` runs alphalens' definitions (``filter_zscore=None``,
``binning_by_group=False``) on factorlab's dense kernels and returns alphalens' tables as Polars
frames. ``to_alphalens`` / ``from_alphalens`` convert inputs and clean factor data; they import
pandas lazily (the ``compare`` extra).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from factorlab.errors import MissingColumnError, ParameterError
from factorlab.evaluate.forward import ForwardReturns, forward_returns
from factorlab.evaluate.ic import information_coefficient
from factorlab.evaluate.panel import DensePanel
from factorlab.evaluate.quantiles import (
    CleanFactor,
    DropReport,
    MaxLossExceededError,
    clean_factor,
    qcut_probabilities,
)
from factorlab.evaluate.returns import factor_alpha_beta, factor_returns, mean_return_by_quantile
from factorlab.evaluate.turnover import factor_rank_autocorrelation, quantile_turnover
from factorlab.frames import as_frame, as_lazy, check_positive
from factorlab.typing import DateGrid

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "AlphalensNumbers",
    "alphalens_average_cumulative_return_by_quantile",
    "alphalens_clean_factor",
    "alphalens_common_start_returns",
    "alphalens_compute_forward_returns",
    "alphalens_cumulative_returns",
    "alphalens_date_grid",
    "alphalens_factor_alpha_beta",
    "alphalens_factor_returns",
    "alphalens_factor_weights",
    "alphalens_information_coefficient",
    "alphalens_mean_information_coefficient",
    "alphalens_mean_return_by_quantile",
    "alphalens_quantize",
    "alphalens_tearsheet_numbers",
    "clean_from_alphalens",
    "clean_to_alphalens",
    "from_alphalens",
    "to_alphalens",
]


@dataclass(frozen=True, eq=False)
class AlphalensNumbers:
    """alphalens' single-factor results, as Polars frames (see each function for columns).

    Attributes
    ----------
    clean:
        The clean factor (alphalens' ``factor_data``; ``clean.to_frame()`` for the long frame).
    ic:
        ``factor_information_coefficient``: ``(date, horizon, ic, n)``.
    mean_return_by_date:
        ``mean_return_by_quantile(by_date=True)`` (demeaned):
        ``(quantile, date, horizon, mean_return, std_error, n)``.
    mean_return:
        ``mean_return_by_quantile()`` (demeaned): ``(quantile, horizon, mean_return, std_error,
        n_dates)``.
    factor_returns:
        ``factor_returns``: ``(date, horizon, factor_return)``.
    alpha_beta:
        ``factor_alpha_beta``: ``(horizon, alpha, ann_alpha, beta, n_dates)``.
    turnover:
        ``quantile_turnover`` for every quantile and period: ``(date, lag, quantile, turnover)``.
    rank_autocorrelation:
        ``factor_rank_autocorrelation`` for every period: ``(date, lag, autocorrelation)``.
    drops:
        The drop accounting alphalens prints.
    grid:
        ``"calendar"`` when the factor's dates are a contiguous run of the price calendar
        (alphalens then sets its inferred trading calendar as the date frequency: per-date
        results cover every calendar date, lags count calendar rows); ``"observed"`` otherwise
        (e.g. a weekly factor: alphalens keeps no frequency, lags count observed dates).
    """

    clean: CleanFactor
    ic: pl.DataFrame
    mean_return_by_date: pl.DataFrame
    mean_return: pl.DataFrame
    factor_returns: pl.DataFrame
    alpha_beta: pl.DataFrame
    turnover: pl.DataFrame
    rank_autocorrelation: pl.DataFrame
    drops: DropReport
    grid: DateGrid


def alphalens_clean_factor(
    factor: pl.DataFrame | pl.LazyFrame | str,
    prices: pl.DataFrame | pl.LazyFrame | None = None,
    *,
    factor_col: str = "factor",
    price_col: str = "close",
    group_col: str | None = None,
    groupby: Mapping[Any, Any] | None = None,
    date_col: str = "date",
    asset_col: str = "asset",
    periods: Sequence[int] = (1, 5, 10),
    quantiles: int | Sequence[float] | None = 5,
    bins: int | Sequence[float] | None = None,
    binning_by_group: bool = False,
    zero_aware: bool = False,
    cumulative_returns: bool = True,
    max_loss: float = 0.35,
    panel: DensePanel | None = None,
    forward: ForwardReturns | None = None,
) -> CleanFactor:
    """alphalens' ``get_clean_factor_and_forward_returns(factor, prices, groupby,
    binning_by_group, quantiles, bins, periods, filter_zscore=None, max_loss, zero_aware,
    cumulative_returns)`` on dense grids.

    The binning options are alphalens' (see :func:`alphalens_quantize`): ``quantiles`` an int
    or a list of probabilities, or ``bins`` an int or a list of edges (``quantiles=None``);
    ``binning_by_group`` bins within each (date, group), ``zero_aware`` splits at 0. A row
    without a bin (outside list edges, or a date/group whose edges are not unique) is dropped
    and counted as ``binning``; with ``max_loss=0`` such a date raises instead. ``groupby`` is
    alphalens' asset -> group mapping (or give ``group_col``, a column of ``factor``).
    ``cumulative_returns=False``: one-day returns ``h`` days ahead (see
    :func:`~factorlab.evaluate.forward_returns`). ``quantiles=int`` without the other options
    runs the fast dense path.

    ``prices`` is a long frame (``date_col``, ``asset_col``, ``price_col``); it may be the
    factor frame itself (polars or pandas). Pass ``panel`` (and ``forward``, computed with
    ``fill="ffill"``) to reuse them across factors; ``prices`` is then ignored.

    Calendar: alphalens' trading calendar is the union of the factor's and the prices' dates
    (``infer_trading_calendar``). A factor date without a price row (a price holiday, or a
    factor on a non-session) is therefore a row of the panel here too, with no prices: its
    factor rows are dropped (``missing_return``, as alphalens drops them in its forward-return
    step), forward returns still count price sessions only, and turnover / rank
    autocorrelation / IC dates count it as a row, so the session after it compares with it
    (and gets NaN) exactly as in alphalens.

    Raises
    ------
    MaxLossExceededError
        More than ``max_loss`` of the factor rows dropped (alphalens' ``MaxLossExceededError``).
    ValueRangeError
        A zero, negative or non-finite price.
    """
    panel, forward = _alphalens_forward(
        prices, panel, forward, periods, price_col, date_col, asset_col, cumulative_returns
    )
    if not isinstance(factor, str):
        factor = as_frame(factor, name="factor")
        if groupby is not None:
            factor, group_col = _map_groups(factor, groupby, asset_col)
        panel, forward = _alphalens_calendar(panel, forward, factor, date_col)
    elif groupby is not None:
        raise ParameterError("`groupby` needs a factor frame; with a panel column use group_col.")
    dense = isinstance(quantiles, int) and bins is None and not binning_by_group and not zero_aware
    if dense:
        return clean_factor(
            panel,
            factor,
            forward,
            factor_col=factor_col,
            group_col=group_col,
            date_col=date_col,
            asset_col=asset_col,
            quantiles=quantiles,
            mode="qcut",
            rule="any_horizon",
            max_loss=max_loss,
        )
    if (quantiles is None) == (bins is None):
        raise ParameterError("pass exactly one of `quantiles` and `bins`.")
    if binning_by_group and group_col is None:
        raise ParameterError("`binning_by_group=True` needs `groupby` or `group_col`.")
    # every usable row (finite factor, group, all returns), then alphalens' binning on them
    usable = clean_factor(
        panel,
        factor,
        forward,
        factor_col=factor_col,
        group_col=group_col,
        date_col=date_col,
        asset_col=asset_col,
        quantiles=2,
        mode="rank",
        rule="any_horizon",
    )
    return _rebin(usable, quantiles, bins, binning_by_group, zero_aware, max_loss)


def _alphalens_forward(
    prices: Any,
    panel: DensePanel | None,
    forward: ForwardReturns | None,
    periods: Sequence[int],
    price_col: str,
    date_col: str,
    asset_col: str,
    cumulative: bool,
) -> tuple[DensePanel, ForwardReturns]:
    """The price panel and alphalens' forward returns (``ffill``, entry at the close)."""
    if panel is None:
        if prices is None:
            raise ParameterError("pass `prices` (a long price frame) or a prebuilt `panel`.")
        prices = as_lazy(prices, name="prices")
        check_positive(prices, [price_col], table="prices", show=(date_col, asset_col))
        panel = DensePanel.from_frame(
            prices, columns=[price_col], date_col=date_col, asset_col=asset_col
        )
    if forward is None:
        forward = forward_returns(
            panel, periods, entry="close", fill="ffill", price_col=price_col, cumulative=cumulative
        )
    elif forward.fill != "ffill" or forward.entry != "close":
        raise ParameterError(
            "alphalens parity needs forward returns with entry='close' and fill='ffill'; "
            f"got entry={forward.entry!r}, fill={forward.fill!r}."
        )
    return panel, forward


def _map_groups(
    factor: pl.DataFrame, groupby: Mapping[Any, Any], asset_col: str
) -> tuple[pl.DataFrame, str]:
    """alphalens' ``groupby`` dict (asset -> group) as a ``group`` column; every factor asset
    must be mapped (alphalens raises ``KeyError`` otherwise)."""
    keys = {str(k): v for k, v in groupby.items()}
    assets = factor.get_column(asset_col).cast(pl.String)
    missing = sorted(set(assets.unique().to_list()) - set(keys))
    if missing:
        raise MissingColumnError(
            f"{len(missing)} factor asset(s) are not in the `groupby` mapping, e.g. "
            f"{missing[:5]}; alphalens needs a group for every asset.",
            table="factor",
            column=asset_col,
        )
    groups = pl.Series("group", [keys[a] for a in assets.to_list()])
    return factor.with_columns(groups), "group"


def _rebin(
    usable: CleanFactor,
    quantiles: Any,
    bins: Any,
    by_group: bool,
    zero_aware: bool,
    max_loss: float | None,
) -> CleanFactor:
    """`usable`'s cells binned with :func:`alphalens_quantize`'s rules, the rows without a bin
    dropped (``binning``), alphalens' ``max_loss`` checked."""
    from factorlab._kernels.rank import row_order

    rows, cols = np.nonzero(usable.mask)
    frame = pl.DataFrame({"date": rows, "factor": usable.values[rows, cols]})
    if usable.groups is not None:
        frame = frame.with_columns(pl.Series("group", usable.groups[rows, cols]))
    try:
        codes = alphalens_quantize(
            frame,
            quantiles=quantiles,
            bins=bins,
            by_group=by_group,
            zero_aware=zero_aware,
            no_raise=max_loss != 0,
        )
    except ValueError as exc:
        day = usable.panel.dates[int(rows[0])] if rows.size else None
        raise MaxLossExceededError(
            f"binning failed ({exc}) on a date (first clean date {day}); with max_loss=0 "
            "alphalens raises such errors. Use max_loss > 0 to drop those dates."
        ) from exc
    codes = codes.fill_null(0).to_numpy()
    if codes.size and codes.max() > np.iinfo(np.int8).max:
        raise ParameterError(f"at most 127 bins; got {int(codes.max())}.")
    quantile = np.zeros(usable.mask.shape, np.int8)
    quantile[rows, cols] = codes
    mask = usable.mask & (quantile > 0)
    lost = usable.mask & ~mask
    drops = replace(
        usable.drops,
        binning=int(lost.sum()),
        binning_dates=int(lost.any(axis=1).sum()),
        n_clean=int(mask.sum()),
    )
    if max_loss is not None and drops.loss > max_loss:
        raise MaxLossExceededError(
            f"{drops.loss:.1%} of factor rows were dropped, more than max_loss={max_loss:.1%} "
            f"({drops.binning} in binning); raise max_loss or fix the inputs."
        )
    spec = quantiles if quantiles is not None else bins
    n = int(spec) if isinstance(spec, int) else len(spec) - 1
    values = np.ascontiguousarray(usable.values)
    return replace(
        usable,
        mask=mask,
        quantile=quantile,
        n_quantiles=max(n, int(quantile.max(initial=0))),
        mode="qcut",
        order=row_order(values, mask),
        drops=drops,
        _cache={},
    )


def alphalens_compute_forward_returns(
    factor: pl.DataFrame | pl.LazyFrame,
    prices: pl.DataFrame | pl.LazyFrame,
    *,
    periods: Sequence[int] = (1, 5, 10),
    cumulative_returns: bool = True,
    price_col: str = "close",
    date_col: str = "date",
    asset_col: str = "asset",
) -> pl.DataFrame:
    """alphalens' ``compute_forward_returns(factor, prices, periods, filter_zscore=None,
    cumulative_returns)``: ``(date, asset, forward_return_{p}...)`` for every factor row, in
    the factor's order (null where there is no return: the end of the prices, or a factor date
    that is not a price date). Horizons count price rows; prices are forward-filled."""
    panel, forward = _alphalens_forward(
        prices, None, None, periods, price_col, date_col, asset_col, cumulative_returns
    )
    keys = as_frame(factor, name="factor").select(date_col, asset_col)
    grids = {f"forward_return_{h}": forward.grids[h] for h in forward.horizons}
    wide = panel.to_frame(grids, drop_missing=False)
    return keys.join(wide, on=[date_col, asset_col], how="left", maintain_order="left")


def _alphalens_calendar(
    panel: DensePanel, forward: ForwardReturns, factor: pl.DataFrame | pl.LazyFrame, date_col: str
) -> tuple[DensePanel, ForwardReturns]:
    """The panel on alphalens' calendar (price dates + factor dates), forward returns widened
    to it (computed on price sessions only, NaN on the added rows)."""
    if forward.panel is not panel:
        raise ParameterError("`forward` was computed on a different panel than `panel`.")
    dates = factor.lazy().select(pl.col(date_col).unique()).collect().to_series()
    wide, rows = panel.with_dates(dates)
    if wide is panel:
        return panel, forward
    grids = {}
    for h, g in forward.grids.items():
        out = np.full((wide.shape[0], g.shape[1]), np.nan)
        out[rows] = g
        grids[h] = out
    return wide, ForwardReturns(
        panel=wide,
        horizons=forward.horizons,
        entry=forward.entry,
        fill=forward.fill,
        grids=grids,
        cumulative=forward.cumulative,
    )


def alphalens_tearsheet_numbers(
    factor: pl.DataFrame | pl.LazyFrame | str,
    prices: pl.DataFrame | pl.LazyFrame | None = None,
    *,
    factor_col: str = "factor",
    price_col: str = "close",
    group_col: str | None = None,
    date_col: str = "date",
    asset_col: str = "asset",
    periods: Sequence[int] = (1, 5, 10),
    quantiles: int = 5,
    max_loss: float = 0.35,
    panel: DensePanel | None = None,
    forward: ForwardReturns | None = None,
) -> AlphalensNumbers:
    """alphalens' single-factor numbers in one call, equal to alphalens-reloaded's to ~1e-15.

    Runs :func:`alphalens_clean_factor`, then the IC, demeaned mean return by quantile (by date
    and overall), factor returns with alpha/beta, quantile turnover for every quantile x period
    and rank autocorrelation for every period.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import date, timedelta
    >>> days = [date(2024, 1, 1) + timedelta(d) for d in range(4)]
    >>> df = pl.DataFrame({
    ...     "date": [d for d in days for _ in range(4)],
    ...     "asset": ["A", "B", "C", "D"] * 4,
    ...     "close": [10.0, 20, 30, 40, 11, 19, 33, 40, 12, 18, 36, 41, 12, 19, 35, 42],
    ...     "factor": [1.0, 2, 3, 4, 1, 2, 4, 3, 2, 1, 4, 3, 1, 2, 3, 4],
    ... })
    >>> numbers = alphalens_tearsheet_numbers(df, df, periods=[1], quantiles=2, max_loss=0.5)
    >>> [round(x, 3) for x in numbers.ic["ic"]]
    [-0.211, 0.105, -0.8]
    """
    if not isinstance(factor, str):
        factor = as_frame(factor, name="factor")
    clean = alphalens_clean_factor(
        factor,
        prices,
        factor_col=factor_col,
        price_col=price_col,
        group_col=group_col,
        date_col=date_col,
        asset_col=asset_col,
        periods=periods,
        quantiles=quantiles,
        max_loss=max_loss,
        panel=panel,
        forward=forward,
    )
    grid = alphalens_date_grid(clean.panel, factor, date_col=date_col)
    return AlphalensNumbers(
        clean=clean,
        ic=information_coefficient(clean, grid=grid),
        mean_return_by_date=mean_return_by_quantile(clean, by_date=True),
        mean_return=mean_return_by_quantile(clean),
        factor_returns=factor_returns(clean, grid=grid),
        alpha_beta=factor_alpha_beta(clean),
        turnover=quantile_turnover(clean, grid=grid),
        rank_autocorrelation=factor_rank_autocorrelation(clean, grid=grid),
        drops=clean.drops,
        grid=grid,
    )


def alphalens_date_grid(
    panel: DensePanel, factor: pl.DataFrame | pl.LazyFrame | str, *, date_col: str = "date"
) -> DateGrid:
    """The date grid alphalens uses for this factor: ``"calendar"`` if the factor's dates
    (every date with a factor row, null or not) form a contiguous run of the panel's dates,
    else ``"observed"``. Factor dates absent from the prices are ignored."""
    if isinstance(factor, str):
        return "calendar"
    dates = as_lazy(factor, name="factor").select(pl.col(date_col).unique()).collect().to_series()
    rows = np.flatnonzero(panel.dates.is_in(dates.implode()).to_numpy())
    if rows.size and rows[-1] - rows[0] + 1 != rows.size:
        return "observed"
    return "calendar"


def _pandas() -> Any:
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the alphalens converters need pandas: pip install 'factorlab[compare]'"
        ) from exc
    return pd


def to_alphalens(
    factor: pl.DataFrame | pl.LazyFrame,
    prices: pl.DataFrame | pl.LazyFrame,
    *,
    factor_col: str = "factor",
    price_col: str = "close",
    group_col: str | None = None,
    date_col: str = "date",
    asset_col: str = "asset",
) -> tuple[pd.Series, pd.DataFrame, pd.Series | None]:
    """Long Polars frames -> alphalens' inputs ``(factor, prices, groupby)``.

    ``factor``: float64 Series on a (date, asset) MultiIndex sorted by date then asset (NaN
    for nulls); ``prices``: wide date x asset DataFrame of ``price_col``; ``groupby``: the group
    label per (date, asset) as a Series on the same index, or None. Dates become tz-naive
    ``datetime64[ns]`` named ``date``.
    """
    pd = _pandas()
    factor = as_lazy(factor, name="factor").collect()
    prices = as_lazy(prices, name="prices").collect()
    cols = [date_col, asset_col, factor_col] + ([group_col] if group_col else [])
    fac = factor.select(cols).sort(date_col, asset_col)
    index = pd.MultiIndex.from_arrays(
        [
            pd.DatetimeIndex(fac[date_col].cast(pl.Datetime("ns")).to_numpy(), name="date"),
            pd.Index(fac[asset_col].to_list(), name="asset"),
        ]
    )
    factor_series = pd.Series(
        fac[factor_col].cast(pl.Float64).fill_nan(None).to_numpy(), index=index, name="factor"
    )
    groupby = None
    if group_col:
        groupby = pd.Series(fac[group_col].to_list(), index=index, name="group")
    wide = (
        prices.select(date_col, asset_col, pl.col(price_col).cast(pl.Float64))
        .pivot(on=asset_col, index=date_col, values=price_col)
        .sort(date_col)
    )
    assets = sorted(c for c in wide.columns if c != date_col)
    price_frame = pd.DataFrame(
        wide.select(assets).to_numpy(),
        index=pd.DatetimeIndex(wide[date_col].cast(pl.Datetime("ns")).to_numpy(), name="date"),
        columns=pd.Index(assets, name="asset"),
    )
    return factor_series, price_frame, groupby


def clean_to_alphalens(clean: CleanFactor, *, grid: DateGrid = "calendar") -> pd.DataFrame:
    """A :class:`CleanFactor` as alphalens' ``factor_data``: columns ``'1D', '5D', ...``,
    ``factor``, ``group`` (if any) and ``factor_quantile`` on a (date, asset) MultiIndex.

    ``grid="calendar"`` gives the date level every panel date and the inferred trading calendar
    as frequency (as alphalens does for a daily factor); ``"observed"`` only the dates with data
    and no frequency (alphalens for, e.g., a weekly factor; see ``alphalens_date_grid``)."""
    pd = _pandas()
    frame = clean.to_frame()
    rows = np.arange(clean.panel.shape[0]) if grid == "calendar" else clean.output_rows(grid)
    days = clean.panel.dates.gather(rows).cast(pl.Datetime("ns")).to_numpy()
    freq = _trading_calendar(pd, days) if grid == "calendar" else None
    date_level = pd.DatetimeIndex(days, freq=freq, name="date")
    row_code = np.full(clean.panel.shape[0], -1, np.int64)
    row_code[rows] = np.arange(rows.size)
    asset_level = pd.Index(clean.panel.assets.to_list(), name="asset")
    n_assets = clean.panel.shape[1]
    cells = np.flatnonzero(clean.mask.reshape(-1))
    index = pd.MultiIndex(
        levels=[date_level, asset_level],
        codes=[row_code[cells // n_assets], cells % n_assets],
        names=["date", "asset"],
    )
    data = {f"{h}D": frame[f"forward_return_{h}"].to_numpy() for h in clean.horizons}
    data["factor"] = frame["factor"].to_numpy()
    if "group" in frame.columns:
        data["group"] = pd.Categorical(frame["group"].to_list())
    data["factor_quantile"] = frame["factor_quantile"].cast(pl.Int64).to_numpy()
    return pd.DataFrame(data, index=index)


def _trading_calendar(pd: Any, days: np.ndarray) -> Any:
    """alphalens' ``infer_trading_calendar``: the traded weekdays, and as holidays every such
    weekday between the first and last date that is not a date of the panel."""
    index = pd.DatetimeIndex(days)
    names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    traded = sorted(set(index.day_of_week))
    mask = " ".join(names[d] for d in traded)
    every = pd.date_range(
        index.min(), index.max(), freq=pd.offsets.CustomBusinessDay(weekmask=mask)
    )
    holidays = [ts.date() for ts in every.difference(index)]
    return pd.offsets.CustomBusinessDay(weekmask=mask, holidays=holidays)


def from_alphalens(factor_data: pd.DataFrame) -> pl.DataFrame:
    """alphalens' clean ``factor_data`` -> long Polars frame.

    Columns ``date`` (Date), ``asset``, ``factor``, ``factor_quantile`` (Int8, if present),
    ``group`` (if present) and ``forward_return_{p}`` for each forward-return column (``'5D'``
    -> ``p = 5``). A frame without ``factor_quantile`` converts too (bin it with
    :func:`alphalens_quantize`).
    """
    pd = _pandas()
    frame = factor_data.reset_index()
    out: dict[str, Any] = {
        "date": pl.Series(pd.DatetimeIndex(frame["date"]).to_numpy()).cast(pl.Date),
        "asset": pl.Series([str(a) for a in frame["asset"]]),
        "factor": pl.Series(frame["factor"].to_numpy(dtype=np.float64)),
    }
    if "factor_quantile" in frame.columns:  # optional: a factor_data frame before binning
        out["factor_quantile"] = pl.Series(frame["factor_quantile"].to_numpy()).cast(pl.Int8)
    if "group" in frame.columns:
        out["group"] = pl.Series([str(g) for g in frame["group"]])
    for col in factor_data.columns:
        try:
            days = pd.Timedelta(col).days
        except (ValueError, TypeError):
            continue
        out[f"forward_return_{days}"] = pl.Series(frame[col].to_numpy(dtype=np.float64))
    return pl.DataFrame(out).sort("date", "asset")


# --- alphalens-compatible functions on a long ``factor_data`` frame ------------------------------
#
# Each takes the long frame of :func:`from_alphalens` / ``CleanFactor.to_frame()`` (``date``,
# ``asset``, ``factor``, ``group`` if any, ``factor_quantile`` if any, ``forward_return_{h}``)
# and follows alphalens-reloaded's definition of the function of the same name (named in each
# docstring), options included. They are the compatible mode: the dense research functions
# (``information_coefficient``, ``factor_returns`` ...) are unchanged.


def _horizon_cols(frame: pl.DataFrame) -> list[str]:
    cols = [c for c in frame.columns if c.startswith("forward_return_")]
    if not cols:
        raise ParameterError(
            "`factor_data` has no `forward_return_{h}` column; got columns "
            f"{frame.columns}. Build it with `from_alphalens` or `CleanFactor.to_frame()`."
        )
    return cols


def _need(frame: pl.DataFrame, cols: Sequence[str], why: str) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ParameterError(f"`factor_data` needs column(s) {missing} for {why}.")


def _pd_bin_codes(x: np.ndarray, edges: np.ndarray, include_lowest: bool) -> np.ndarray:
    """pandas' ``_bins_to_cuts(right=True)`` codes (1-based, 0 = outside); raises on
    duplicate edges as ``duplicates='raise'`` does (except for exactly two edges, which pandas
    accepts: every value equal to them falls in bin 1)."""
    if np.unique(edges).size < edges.size and edges.size != 2:
        raise ValueError("bin edges are not unique")
    ids = np.searchsorted(edges, x, side="left")
    if include_lowest:
        ids[x == edges[0]] = 1
    ids[(ids == edges.size) | np.isnan(x)] = 0
    return ids


def _pd_qcut(x: np.ndarray, q: int | Sequence[float]) -> np.ndarray:
    """``pd.qcut(x, q, labels=False) + 1`` (0 = no bin).

    The edges are ``np.quantile(x, probs)``, as pandas computes them: not ``np.percentile(x,
    100 * probs)``, whose ``100 * p / 100`` can land one ulp below a sample (4 values and
    ``q=3``: position ``3 * 0.333.. = 1`` exactly, vs ``0.999..``), moving that sample up a bin.
    """
    if x.size == 0:
        raise ValueError("empty")
    probs = qcut_probabilities(q) if isinstance(q, int | np.integer) and q > 1 else None
    if probs is None:
        probs = np.linspace(0, 1, 2) if isinstance(q, int | np.integer) else np.asarray(q, float)
    edges = np.quantile(x[~np.isnan(x)], probs, method="linear")
    return _pd_bin_codes(x, edges, include_lowest=True)


def _pd_cut(x: np.ndarray, bins: int | Sequence[float]) -> np.ndarray:
    """``pd.cut(x, bins, labels=False) + 1`` (0 = no bin)."""
    if x.size == 0:
        raise ValueError("empty")
    if isinstance(bins, int | np.integer):
        mn, mx = float(np.nanmin(x)), float(np.nanmax(x))
        if mn == mx:
            mn -= 0.001 * abs(mn) if mn != 0 else 0.001
            mx += 0.001 * abs(mx) if mx != 0 else 0.001
            edges = np.linspace(mn, mx, int(bins) + 1, endpoint=True)
        else:
            edges = np.linspace(mn, mx, int(bins) + 1, endpoint=True)
            edges[0] -= (mx - mn) * 0.001
        return _pd_bin_codes(x, edges, include_lowest=False)
    edges = np.asarray(bins, float)
    if np.any(np.diff(edges) < 0):
        raise ParameterError(f"`bins` edges must increase monotonically; got {list(bins)}.")
    return _pd_bin_codes(x, edges, include_lowest=False)


def _quantize_one(x: np.ndarray, quantiles: Any, bins: Any, zero_aware: bool) -> np.ndarray:
    cut = _pd_qcut if quantiles is not None else _pd_cut
    n = quantiles if quantiles is not None else bins
    if not zero_aware:
        return cut(x, n)
    out = np.zeros(x.size, np.int64)
    pos, neg = x >= 0, x < 0
    half = int(n) // 2
    codes = cut(x[pos], half)
    out[pos] = np.where(codes > 0, codes + half, 0)
    out[neg] = cut(x[neg], half)
    return out


def alphalens_quantize(
    factor_data: pl.DataFrame,
    *,
    quantiles: int | Sequence[float] | None = 5,
    bins: int | Sequence[float] | None = None,
    by_group: bool = False,
    zero_aware: bool = False,
    no_raise: bool = False,
) -> pl.Series:
    """alphalens' ``quantize_factor``: the ``factor_quantile`` of each row (null = no bin).

    ``quantiles``: an int (equal-count buckets, ``pd.qcut``) or a list of probabilities
    (``[0, .3, .7, 1]``); ``bins``: an int (equal-width buckets over each date's range,
    ``pd.cut``) or a list of edges (right-closed); exactly one of the two. ``by_group`` bins
    within each (date, group); ``zero_aware`` bins positive and negative values separately
    (half the buckets each, negatives below). A date (or group) whose edges are not unique, or
    that is empty on one side with ``zero_aware``, raises ``ValueError`` unless ``no_raise``,
    where it gets no bins (alphalens then drops it and counts the loss).

    Returns an Int64 Series aligned with ``factor_data``'s rows.
    """
    if (quantiles is None) == (bins is None):
        raise ParameterError("pass exactly one of `quantiles` and `bins`.")
    if zero_aware and not isinstance(quantiles if quantiles is not None else bins, int):
        raise ParameterError("`zero_aware=True` needs an integer `quantiles` or `bins`.")
    keys = ["date"] + (["group"] if by_group else [])
    _need(factor_data, [*keys, "factor"], "binning")
    frame = factor_data.select(*keys, pl.col("factor").cast(pl.Float64)).with_row_index("_row")
    out = np.zeros(frame.height, np.int64)
    for part in frame.partition_by(keys, maintain_order=True):
        x = part["factor"].fill_null(np.nan).to_numpy()
        try:
            codes = _quantize_one(x, quantiles, bins, zero_aware)
        except ValueError:
            if not no_raise:
                raise
            codes = np.zeros(x.size, np.int64)
        out[part["_row"].to_numpy()] = codes
    return pl.Series("factor_quantile", out).replace(0, None)


def alphalens_factor_weights(
    factor_data: pl.DataFrame,
    *,
    demeaned: bool = True,
    group_adjust: bool = False,
    equal_weight: bool = False,
) -> pl.Series:
    """alphalens' ``factor_weights``: per (date[, group]) weights ``f - mean(f)`` (or ``f``, or
    with ``equal_weight`` +-1 split at the median, each side summing to 1/2), divided by their
    absolute sum; with ``group_adjust`` the group books are then rescaled to gross 1 per date.
    A date (or group) whose weights sum to 0 in absolute value gets weights 0 (alphalens'
    ``group * 0.0``). Returns a Float64 Series aligned with the rows."""
    keys = ["date"] + (["group"] if group_adjust else [])
    _need(factor_data, [*keys, "factor"], "factor weights")
    f = pl.col("factor").cast(pl.Float64)
    if equal_weight:
        g = f - f.median().over(keys) if demeaned else f
        w = pl.when(g < 0).then(-1.0).when(g > 0).then(1.0).otherwise(g)
        if demeaned:
            neg = (g < 0).sum().over(keys)
            pos = (g > 0).sum().over(keys)
            w = pl.when(g < 0).then(w / neg).when(g > 0).then(w / pos).otherwise(w)
    else:
        w = f - f.mean().over(keys) if demeaned else f
    frame = factor_data.select(*keys, w.alias("w"))
    frame = frame.with_columns(_gross_one("w", keys))
    if group_adjust:
        frame = frame.with_columns(_gross_one("w", ["date"]))
    return frame["w"].alias("factor")


def _gross_one(col: str, keys: list[str]) -> pl.Expr:
    denom = pl.col(col).abs().sum().over(keys)
    return pl.when(denom == 0).then(pl.col(col) * 0.0).otherwise(pl.col(col) / denom).alias(col)


def alphalens_factor_returns(
    factor_data: pl.DataFrame,
    *,
    demeaned: bool = True,
    group_adjust: bool = False,
    equal_weight: bool = False,
    by_asset: bool = False,
) -> pl.DataFrame:
    """alphalens' ``factor_returns``: per date, the sum of weight x forward return per horizon
    (weights of :func:`alphalens_factor_weights`; NaN when no return exists, alphalens'
    ``sum(min_count=1)``). ``by_asset``: the weighted return of every row instead.

    A date with a constant factor has weights 0 and factor return 0.0 under ``demeaned`` (as
    alphalens-reloaded >= 0.4 gives, ``denom == 0 -> 0``); see docs/evaluate.md for the NaN
    some older alphalens tests expect.

    Returns ``(date, forward_return_{h}...)`` (``asset`` too with ``by_asset``), sorted."""
    cols = _horizon_cols(factor_data)
    w = alphalens_factor_weights(
        factor_data, demeaned=demeaned, group_adjust=group_adjust, equal_weight=equal_weight
    )
    weighted = factor_data.select(
        "date", "asset", *[(pl.col(c).fill_nan(None) * w).alias(c) for c in cols]
    )
    if by_asset:
        return weighted
    return (
        weighted.group_by("date")
        .agg(
            pl.when(pl.col(c).count() > 0).then(pl.col(c).sum()).otherwise(None).alias(c)
            for c in cols
        )
        .sort("date")
    )


def alphalens_factor_alpha_beta(
    factor_data: pl.DataFrame,
    returns: pl.DataFrame | None = None,
    *,
    demeaned: bool = True,
    group_adjust: bool = False,
    equal_weight: bool = False,
) -> pl.DataFrame:
    """alphalens' ``factor_alpha_beta``: OLS (statsmodels' ``OLS(missing='drop')``) of the
    factor return on the universe's mean forward return, per horizon; ``ann_alpha = (1 +
    alpha) ** (252 / h) - 1``. ``returns`` defaults to :func:`alphalens_factor_returns` with
    the options. A constant regressor gives alpha = beta = the minimum-norm least-squares
    solution (statsmodels' pinv), e.g. 0 and 0 for an all-zero book on a flat market.

    Returns ``(horizon, ann_alpha, beta)``."""
    cols = _horizon_cols(factor_data)
    if returns is None:
        returns = alphalens_factor_returns(
            factor_data, demeaned=demeaned, group_adjust=group_adjust, equal_weight=equal_weight
        )
    universe = (
        factor_data.group_by("date")
        .agg(pl.col(c).fill_nan(None).mean() for c in cols)
        .join(returns.select("date"), on="date", how="right")
        .sort("date")
    )
    returns = returns.sort("date")
    rows = []
    for c in cols:
        h = int(c.rsplit("_", 1)[1])
        x = universe[c].cast(pl.Float64).fill_null(np.nan).to_numpy()
        y = returns[c].cast(pl.Float64).fill_null(np.nan).to_numpy()
        ok = np.isfinite(x) & np.isfinite(y)
        alpha = beta = np.nan
        if ok.any():
            design = np.column_stack([np.ones(ok.sum()), x[ok]])
            alpha, beta = np.linalg.pinv(design) @ y[ok]
        rows.append({"horizon": h, "ann_alpha": (1 + alpha) ** (252 / h) - 1, "beta": float(beta)})
    return pl.DataFrame(
        rows, schema={"horizon": pl.Int32, "ann_alpha": pl.Float64, "beta": pl.Float64}
    )


def _demean_returns(frame: pl.DataFrame, cols: list[str], keys: list[str]) -> pl.DataFrame:
    """alphalens' ``demean_forward_returns``: subtract the mean over ``keys``."""
    return frame.with_columns(
        (pl.col(c).fill_nan(None) - pl.col(c).fill_nan(None).mean().over(keys)).alias(c)
        for c in cols
    )


def alphalens_information_coefficient(
    factor_data: pl.DataFrame, *, group_adjust: bool = False, by_group: bool = False
) -> pl.DataFrame:
    """alphalens' ``factor_information_coefficient``: per date (and group with ``by_group``) the
    Spearman correlation (``scipy.stats.spearmanr``: average ranks, NaN for a constant side) of
    factor and forward return; ``group_adjust`` first demeans returns per (date, group).

    Returns ``(date[, group], forward_return_{h}...)`` over the dates present, sorted."""
    cols = _horizon_cols(factor_data)
    keys = ["date"] + (["group"] if by_group else [])
    _need(factor_data, [*keys, "factor"] + (["group"] if group_adjust else []), "the IC")
    frame = factor_data
    if group_adjust:
        frame = _demean_returns(frame, cols, ["date", "group"])
    f = pl.col("factor").rank("average").over(keys)
    frame = frame.with_columns(
        f.alias("_rf"),
        *[pl.col(c).rank("average").over(keys).alias(c) for c in cols],
    )
    ic = frame.group_by(keys).agg(
        pl.when(pl.col(c).is_null().any())
        .then(None)
        .otherwise(pl.corr("_rf", c))
        .fill_nan(None)
        .alias(c)
        for c in cols
    )
    return ic.sort(keys)


_BY_TIME = {"D": "1d", "W": "1w", "M": "1mo", "ME": "1mo", "Q": "1q", "QE": "1q", "Y": "1y"}


def alphalens_mean_information_coefficient(
    factor_data: pl.DataFrame,
    *,
    group_adjust: bool = False,
    by_group: bool = False,
    by_time: str | None = None,
) -> pl.DataFrame:
    """alphalens' ``mean_information_coefficient``: the mean IC overall, per group, per period
    (``by_time``: pandas' ``"D"``, ``"W"`` (weeks ending Sunday), ``"M"``/``"ME"``, ``"Q"``/
    ``"QE"``, ``"Y"``; labelled by the period's last day, as ``pd.Grouper(freq=...)``, empty
    periods between the first and last included as null), or per period and group.

    Returns ``(date?, group?, forward_return_{h}...)``."""
    cols = _horizon_cols(factor_data)
    ic = alphalens_information_coefficient(
        factor_data, group_adjust=group_adjust, by_group=by_group
    )
    keys = ["group"] if by_group else []
    if by_time is not None:
        key = by_time.upper().lstrip("1")
        if key not in _BY_TIME:
            raise ParameterError(f"`by_time` must be one of {sorted(_BY_TIME)}; got {by_time!r}.")
        ic = ic.with_columns(_period_end(pl.col("date"), key).alias("date"))
        keys = ["date", *keys]
    if not keys:
        return ic.select(pl.col(c).mean() for c in cols)
    out = ic.group_by(keys).agg(pl.col(c).mean() for c in cols)
    if by_time is not None:
        days = out["date"]
        step = _BY_TIME[by_time.upper().lstrip("1")]
        full = pl.date_range(days.min(), days.max(), step, eager=True).alias("date")
        full = pl.DataFrame(full).with_columns(
            _period_end(pl.col("date"), by_time.upper().lstrip("1"))
        )
        if by_group:
            full = full.join(ic.select("group").unique(), how="cross")
        out = full.join(out, on=keys, how="left")
    return out.sort(keys)


def _period_end(d: pl.Expr, key: str) -> pl.Expr:
    if key == "D":
        return d
    if key == "W":
        return d + pl.duration(days=7 - d.dt.weekday())
    if key in ("M", "ME"):
        return d.dt.month_end()
    if key in ("Q", "QE"):
        return d.dt.offset_by(((3 - d.dt.month() % 3) % 3).cast(pl.String) + "mo").dt.month_end()
    return pl.date(d.dt.year(), 12, 31)


def alphalens_mean_return_by_quantile(
    factor_data: pl.DataFrame,
    *,
    by_date: bool = False,
    by_group: bool = False,
    demeaned: bool = True,
    group_adjust: bool = False,
) -> pl.DataFrame:
    """alphalens' ``mean_return_by_quantile``: mean and standard error (std / sqrt(count)) of
    the forward returns per (quantile, date[, group]), then (unless ``by_date``) the mean over
    dates of those means per quantile (and group), standard error = std over dates /
    sqrt(dates). Returns are demeaned per (date, group) with ``group_adjust``, else per date
    with ``demeaned``.

    Returns ``(factor_quantile, date?, group?, forward_return_{h}..., std_error_{h}...)``."""
    cols = _horizon_cols(factor_data)
    _need(factor_data, ["factor_quantile"], "mean return by quantile")
    frame = factor_data.with_columns(pl.col(c).fill_nan(None) for c in cols)
    if group_adjust:
        frame = _demean_returns(frame, cols, ["date", "group"])
    elif demeaned:
        frame = _demean_returns(frame, cols, ["date"])
    keys = ["factor_quantile", "date"] + (["group"] if by_group else [])

    def stats(keys: list[str], frame: pl.DataFrame) -> pl.DataFrame:
        return frame.group_by(keys).agg(
            *[pl.col(c).mean() for c in cols],
            *[
                (pl.col(c).std() / pl.col(c).count().sqrt()).alias(
                    c.replace("forward_return_", "std_error_")
                )
                for c in cols
            ],
        )

    out = stats(keys, frame)
    if not by_date:
        out = stats([k for k in keys if k != "date"], out.select(*keys, *cols))
        keys = [k for k in keys if k != "date"]
    return out.sort(keys)


def alphalens_cumulative_returns(returns: Any) -> np.ndarray:
    """alphalens' ``cumulative_returns``: ``empyrical.cum_returns(returns, starting_value=1)``
    (NaN counts as 0)."""
    from factorlab.evaluate.metrics import cumulative_returns

    return cumulative_returns(returns, starting_value=1)


def clean_from_alphalens(
    factor_data: pd.DataFrame | pl.DataFrame,
    *,
    dates: pl.Series | None = None,
    assets: pl.Series | None = None,
) -> CleanFactor:
    """factorlab's :class:`CleanFactor` from alphalens' clean ``factor_data`` (pandas, or the
    long Polars frame of :func:`from_alphalens`), so the dense functions (IC, turnover, rank
    autocorrelation, mean return by quantile, the event study) run on alphalens' own inputs.

    The panel holds the frame's dates and assets (plus ``dates`` / ``assets`` if given, e.g. a
    returns frame's calendar); its forward-return grids are the frame's columns. Rows without a
    finite factor or a ``factor_quantile`` are not in the mask. ``factor_quantile`` missing
    altogether: every row gets quantile 1 (bin it first with :func:`alphalens_quantize`).
    """
    from factorlab._kernels.rank import row_order

    frame = factor_data if isinstance(factor_data, pl.DataFrame) else from_alphalens(factor_data)
    cols = _horizon_cols(frame)
    if "factor_quantile" not in frame.columns:
        frame = frame.with_columns(pl.lit(1, pl.Int8).alias("factor_quantile"))
    keys = frame.select("date", "asset")
    extra = []
    if dates is not None or assets is not None:
        d = dates if dates is not None else frame["date"].unique()
        a = assets if assets is not None else frame["asset"].unique()
        extra = [
            pl.DataFrame({"date": d.cast(pl.Date)}).join(
                pl.DataFrame({"asset": a.cast(pl.String)}), how="cross"
            )
        ]
    base = pl.concat([keys, *extra]).unique()
    grid_frame = base.join(frame, on=["date", "asset"], how="left")
    labels = ["group"] if "group" in frame.columns else []
    numeric = ["factor", "factor_quantile", *cols]
    panel = DensePanel.from_frame(
        grid_frame.with_columns(pl.col("factor_quantile").cast(pl.Float64)),
        columns=numeric,
        labels=labels,
        table="factor_data",
    )
    grids = panel.fields
    values = np.ascontiguousarray(grids["factor"])
    qgrid = grids["factor_quantile"]
    mask = np.isfinite(values) & np.isfinite(qgrid)
    quantile = np.where(mask, qgrid, 0).astype(np.int8)
    horizons = tuple(int(c.rsplit("_", 1)[1]) for c in cols)
    forward = ForwardReturns(
        panel=panel,
        horizons=horizons,
        entry="close",
        fill="ffill",
        grids={h: np.ascontiguousarray(grids[c]) for h, c in zip(horizons, cols, strict=True)},
    )
    n = int(mask.sum())
    drops = DropReport(
        n_input=frame.height,
        factor_null=frame.height - n,
        not_in_prices=0,
        missing_return=0,
        group_null=0,
        binning=0,
        binning_dates=0,
        n_clean=n,
    )
    groups = group_labels = None
    if labels:
        groups = np.ascontiguousarray(panel.fields["group"])
        group_labels = panel.columns.labels["group"]
    return CleanFactor(
        panel=panel,
        forward=forward,
        name="factor",
        values=values,
        mask=mask,
        quantile=quantile,
        n_quantiles=int(quantile.max()) if n else 0,
        mode="qcut",
        rule="any_horizon",
        order=row_order(values, mask),
        drops=drops,
        groups=groups,
        group_labels=group_labels,
    )


# --- the event study, alphalens' way -------------------------------------------------------------


def _returns_grid(returns: Any, value_col: str | None) -> tuple[pl.Series, list[str], np.ndarray]:
    """alphalens' wide ``returns`` (pandas: dates x assets; Polars: a ``date`` column and one
    column per asset) or a long Polars ``(date, asset, value_col)`` frame -> ``(dates, assets,
    (n_dates, n_assets) float64)``, dates sorted."""
    if not isinstance(returns, pl.DataFrame | pl.LazyFrame):
        pd = _pandas()
        if not isinstance(returns, pd.DataFrame):
            raise ParameterError(
                f"`returns` must be a wide pandas or Polars frame; got {type(returns).__name__}."
            )
        frame = returns.sort_index()
        dates = pl.Series("date", pd.DatetimeIndex(frame.index).to_numpy()).cast(pl.Date)
        return dates, [str(c) for c in frame.columns], frame.to_numpy(dtype=np.float64)
    frame = returns.lazy().collect()
    if "date" not in frame.columns:
        raise MissingColumnError(
            f"`returns` needs a `date` column; got {frame.columns}.", table="returns", column="date"
        )
    if "asset" in frame.columns:
        values = [c for c in frame.columns if c not in ("date", "asset")]
        col = value_col or (values[0] if len(values) == 1 else None)
        if col is None or col not in frame.columns:
            raise ParameterError(
                f"long `returns` needs one value column (or `value_col`); got {values}."
            )
        frame = frame.pivot(on="asset", index="date", values=col)
    frame = frame.with_columns(pl.col("date").cast(pl.Date)).sort("date")
    assets = [c for c in frame.columns if c != "date"]
    grid = frame.select(pl.col(assets).cast(pl.Float64)).fill_null(np.nan).to_numpy()
    return frame["date"], assets, np.ascontiguousarray(grid)


def _event_frame(
    frame: pl.DataFrame | pl.LazyFrame, dates: pl.Series, assets: list[str], cols: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Rows of `frame` on the returns grid: ``(row, col, {column: values})``; rows whose date is
    not a returns date are left out (alphalens skips them)."""
    frame = as_frame(frame, name="factor_data")
    _need(frame, ["date", "asset", *cols], "the event study")
    index = pl.DataFrame({"date": dates, "_row": np.arange(dates.len())})
    cols_frame = pl.DataFrame({"asset": assets, "_col": np.arange(len(assets))})
    keyed = (
        frame.with_columns(pl.col("date").cast(pl.Date), pl.col("asset").cast(pl.String))
        .join(index, on="date", how="inner")
        .join(cols_frame, on="asset", how="inner")
    )
    return (
        keyed["_row"].to_numpy(),
        keyed["_col"].to_numpy(),
        {c: keyed[c].to_numpy() for c in cols},
    )


def _prepare_returns(
    returns: Any, factor_data: Any, value_col: str | None, cumulative: bool
) -> tuple[pl.Series, list[str], np.ndarray]:
    dates, assets, grid = _returns_grid(returns, value_col)
    extra = [
        a
        for a in as_frame(factor_data, name="factor_data")
        .get_column("asset")
        .cast(pl.String)
        .unique(maintain_order=True)
        .to_list()
        if a not in set(assets)
    ]
    if extra:  # factor assets without returns: all-NaN columns (alphalens raises KeyError)
        assets = assets + extra
        grid = np.hstack([grid, np.full((grid.shape[0], len(extra)), np.nan)])
    if not cumulative:  # alphalens: returns.apply(cumulative_returns): cumprod(1 + r), NaN = 0
        grid = np.cumprod(1.0 + np.nan_to_num(grid, nan=0.0, posinf=np.inf, neginf=-np.inf), 0)
    return dates, assets, grid


def _shifted(grid: np.ndarray, k: int) -> np.ndarray:
    """``out[t] = grid[t + k]``, NaN where ``t + k`` is outside the grid."""
    out = np.full_like(grid, np.nan)
    n = grid.shape[0]
    if k >= 0 and k < n:
        out[: n - k] = grid[k:]
    elif k < 0 and -k < n:
        out[-k:] = grid[: n + k]
    return out


def _row_mean(values: np.ndarray, members: np.ndarray) -> np.ndarray:
    """Per row, the mean of ``values`` over ``members`` skipping NaN (pandas ``mean(axis=1)``);
    NaN for a row with none."""
    ok = members & ~np.isnan(values)
    n = ok.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok, values, 0.0).sum(axis=1) / np.where(n > 0, n, np.nan)


def alphalens_common_start_returns(
    factor: pl.DataFrame | pl.LazyFrame,
    returns: Any,
    before: int,
    after: int,
    *,
    cumulative: bool = False,
    mean_by_date: bool = False,
    demean_by: pl.DataFrame | pl.LazyFrame | None = None,
    value_col: str | None = None,
) -> pl.DataFrame:
    """alphalens' ``common_start_returns``: for each (date, asset) row of `factor` whose date is
    a `returns` date, the `returns` values from ``before`` rows before to ``after`` rows after
    that date (rows of `returns`' own index; cut at its ends), as is when ``cumulative`` (the
    values are already cumulative, e.g. prices), else compounded first (``cumprod(1 + r)``,
    NaN as 0). With `demean_by` (a frame of ``date, asset``), each offset's mean over the
    date's `demean_by` assets (NaN skipped) is subtracted. ``mean_by_date``: the mean over the
    date's assets instead of one row per asset.

    `returns`: wide (pandas dates x assets, or Polars with a ``date`` column) or long Polars
    ``(date, asset, value_col)``. An asset without returns gives NaN (alphalens raises).

    Returns ``(date, asset, offset, value)`` (``asset`` absent with ``mean_by_date``) sorted;
    alphalens' frame is this pivoted to rows ``offset`` and one column per (date[, asset]).
    """
    before, after = _event_window(before, after)
    factor = as_frame(factor, name="factor")
    dates, assets, grid = _prepare_returns(returns, factor, value_col, cumulative)
    rows, cols, _ = _event_frame(factor, dates, assets, [])
    members = np.zeros(grid.shape, bool)
    members[rows, cols] = True
    universe = None
    if demean_by is not None:
        urows, ucols, _ = _event_frame(demean_by, dates, assets, [])
        universe = np.zeros(grid.shape, bool)
        universe[urows, ucols] = True
    event_rows = np.flatnonzero(members.any(axis=1))
    parts = []
    for k in range(-before, after + 1):
        values = _shifted(grid, k)
        inside = (event_rows + k >= 0) & (event_rows + k < grid.shape[0])
        if universe is not None:
            values = values - _row_mean(values, universe)[:, None]
        if mean_by_date:
            t = event_rows[inside]
            parts.append(
                pl.DataFrame(
                    {
                        "date": dates.gather(t),
                        "offset": np.full(t.size, k, np.int32),
                        "value": _row_mean(values, members)[t],
                    }
                )
            )
        else:
            ok = np.isin(rows, event_rows[inside])
            parts.append(
                pl.DataFrame(
                    {
                        "date": dates.gather(rows[ok]),
                        "asset": [assets[j] for j in cols[ok]],
                        "offset": np.full(int(ok.sum()), k, np.int32),
                        "value": values[rows[ok], cols[ok]],
                    }
                )
            )
    keys = ["date", "offset"] if mean_by_date else ["date", "asset", "offset"]
    out = pl.concat(parts) if parts else pl.DataFrame(schema=dict.fromkeys(keys))
    return out.with_columns(pl.col("value").fill_nan(None)).sort(keys)


def _event_window(before: int, after: int) -> tuple[int, int]:
    for name, v in (("before", before), ("after", after)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0:
            raise ParameterError(f"`{name}` must be a non-negative integer (rows); got {v!r}.")
    return int(before), int(after)


def alphalens_average_cumulative_return_by_quantile(
    factor_data: pl.DataFrame | pl.LazyFrame,
    returns: Any,
    periods_before: int = 10,
    periods_after: int = 15,
    *,
    demeaned: bool = True,
    group_adjust: bool = False,
    by_group: bool = False,
    value_col: str | None = None,
) -> pl.DataFrame:
    """alphalens' ``average_cumulative_return_by_quantile``: the event study.

    For each quantile ``q`` (and group, ``by_group``), each date ``t`` with ``q``'s rows and
    each offset ``k`` in ``-periods_before..periods_after`` (rows of `returns`' index): the
    mean over ``q``'s assets of the `returns` value at ``t + k`` taken as is (alphalens'
    ``common_start_returns(cumulative=True, mean_by_date=True)``: its own tests pass prices),
    minus the mean over the date's universe: every `factor_data` asset of the date
    (``demeaned``), the asset's group (``group_adjust``), or nothing. Then per (quantile[,
    group], offset) the mean and the standard deviation (ddof=1) over dates, NaN skipped;
    infinite per-date values count as NaN, except under ``group_adjust`` without ``by_group``,
    where alphalens pools the per-(group, date) values of all groups without that step.

    `factor_data`: the long frame of :func:`from_alphalens` / ``CleanFactor.to_frame()``
    (``date, asset, factor_quantile``, ``group`` for the group options). `returns`: as in
    :func:`alphalens_common_start_returns`. For factorlab's own event study on a clean factor
    (returns re-based at the signal day, one numba pass), see ``factorlab.evaluate.events``.

    Returns ``(factor_quantile, group?, offset, mean, std)`` sorted, one row per offset for
    each quantile (and group) with rows; alphalens' frame is this pivoted to rows
    ``(factor_quantile, mean|std[, group])`` and columns ``offset``.
    """
    before, after = _event_window(periods_before, periods_after)
    need = ["factor_quantile"] + (["group"] if group_adjust or by_group else [])
    factor_data = as_frame(factor_data, name="factor_data").filter(
        pl.col("factor_quantile").is_not_null()
    )
    dates, assets, grid = _prepare_returns(returns, factor_data, value_col, True)
    rows, cols, data = _event_frame(factor_data, dates, assets, need)
    quant = np.zeros(grid.shape, np.int64)
    quant[rows, cols] = data["factor_quantile"]
    group_codes = np.full(grid.shape, -1, np.int64)
    labels: list[Any] = []
    if "group" in data:
        uniq, inv = np.unique(data["group"].astype(str), return_inverse=True)
        labels = [data["group"][np.flatnonzero(inv == i)[0]] for i in range(uniq.size)]
        group_codes[rows, cols] = inv
    present = quant > 0
    qs = np.unique(data["factor_quantile"]).astype(np.int64)
    offsets = np.arange(-before, after + 1)
    shifted = [_shifted(grid, int(k)) for k in offsets]

    def per_date(members: np.ndarray, universe: np.ndarray | None) -> np.ndarray:
        """(n_offsets, n_dates) per-date values, NaN where the date has no event."""
        has = members.any(axis=1)
        out = np.full((offsets.size, grid.shape[0]), np.nan)
        for i, values in enumerate(shifted):
            v = _row_mean(values, members)
            if universe is not None:
                v = v - _row_mean(values, universe)
            out[i] = np.where(has, v, np.nan)
        return out

    def summary(values: np.ndarray, drop_inf: bool) -> tuple[np.ndarray, np.ndarray]:
        if drop_inf:
            values = np.where(np.isinf(values), np.nan, values)
        n = (~np.isnan(values)).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(np.isnan(values), 0.0, values).sum(axis=1) / n
            dev = np.where(np.isnan(values), 0.0, values - mean[:, None])
            std = np.sqrt((dev * dev).sum(axis=1) / (n - 1))
        return np.where(n > 0, mean, np.nan), np.where(n > 1, std, np.nan)

    records: list[dict[str, Any]] = []

    def emit(q: int, group: Any, mean: np.ndarray, std: np.ndarray) -> None:
        for k, m, sd in zip(offsets, mean, std, strict=True):
            row = {"factor_quantile": int(q), "offset": int(k), "mean": m, "std": sd}
            if by_group:
                row["group"] = group
            records.append(row)

    if by_group:
        for g, label in enumerate(labels):
            in_group = group_codes == g
            for q in qs:
                members = in_group & (quant == q)
                if not members.any():
                    continue
                universe = (in_group & present) if group_adjust else present if demeaned else None
                emit(q, label, *summary(per_date(members, universe), True))
    elif group_adjust:
        for q in qs:
            pooled = [
                per_date((group_codes == g) & (quant == q), (group_codes == g) & present)
                for g in range(len(labels))
                if ((group_codes == g) & (quant == q)).any()
            ]
            emit(q, None, *summary(np.hstack(pooled), False))
    else:
        for q in qs:
            emit(q, None, *summary(per_date(quant == q, present if demeaned else None), True))
    keys = ["factor_quantile"] + (["group"] if by_group else []) + ["offset"]
    schema = {"factor_quantile": pl.Int8, "offset": pl.Int32, "mean": pl.Float64, "std": pl.Float64}
    if by_group:
        schema["group"] = pl.Series([r["group"] for r in records]).dtype if records else pl.Null
    out = pl.DataFrame(records, schema=schema) if records else pl.DataFrame(schema=schema)
    out = out.select(*keys, "mean", "std").with_columns(pl.col("mean", "std").fill_nan(None))
    return out.sort(keys)
