"""alphalens-reloaded parity: its single-factor tables in one call, and converters both ways.

``alphalens_tearsheet_numbers`` runs alphalens' definitions (``filter_zscore=None``,
``binning_by_group=False``) on factorlab's dense kernels and returns alphalens' tables as Polars
frames. ``to_alphalens`` / ``from_alphalens`` convert inputs and clean factor data; they import
pandas lazily (the ``compare`` extra).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from factorlab.errors import ParameterError
from factorlab.evaluate.forward import ForwardReturns, forward_returns
from factorlab.evaluate.ic import information_coefficient
from factorlab.evaluate.panel import DensePanel
from factorlab.evaluate.quantiles import CleanFactor, DropReport, clean_factor
from factorlab.evaluate.returns import factor_alpha_beta, factor_returns, mean_return_by_quantile
from factorlab.evaluate.turnover import factor_rank_autocorrelation, quantile_turnover
from factorlab.frames import as_frame, as_lazy, check_positive
from factorlab.typing import DateGrid

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "AlphalensNumbers",
    "alphalens_clean_factor",
    "alphalens_date_grid",
    "alphalens_tearsheet_numbers",
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
    date_col: str = "date",
    asset_col: str = "asset",
    periods: Sequence[int] = (1, 5, 10),
    quantiles: int = 5,
    max_loss: float = 0.35,
    panel: DensePanel | None = None,
    forward: ForwardReturns | None = None,
) -> CleanFactor:
    """alphalens' ``get_clean_factor_and_forward_returns(factor, prices, groupby, quantiles,
    periods, filter_zscore=None, max_loss)`` on dense grids.

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
    if panel is None:
        if prices is None:
            raise ParameterError("pass `prices` (a long price frame) or a prebuilt `panel`.")
        prices = as_lazy(prices, name="prices")
        check_positive(prices, [price_col], table="prices", show=(date_col, asset_col))
        panel = DensePanel.from_frame(
            prices, columns=[price_col], date_col=date_col, asset_col=asset_col
        )
    if forward is None:
        forward = forward_returns(panel, periods, entry="close", fill="ffill", price_col=price_col)
    elif forward.fill != "ffill" or forward.entry != "close":
        raise ParameterError(
            "alphalens parity needs forward returns with entry='close' and fill='ffill'; "
            f"got entry={forward.entry!r}, fill={forward.fill!r}."
        )
    if not isinstance(factor, str):
        factor = as_frame(factor, name="factor")
        panel, forward = _alphalens_calendar(panel, forward, factor, date_col)
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
        panel=wide, horizons=forward.horizons, entry=forward.entry, fill=forward.fill, grids=grids
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

    Columns ``date`` (Date), ``asset``, ``factor``, ``factor_quantile`` (Int8), ``group`` (if
    present) and ``forward_return_{p}`` for each forward-return column (``'5D'`` -> ``p = 5``).
    """
    pd = _pandas()
    frame = factor_data.reset_index()
    out: dict[str, Any] = {
        "date": pl.Series(pd.DatetimeIndex(frame["date"]).to_numpy()).cast(pl.Date),
        "asset": pl.Series([str(a) for a in frame["asset"]]),
        "factor": pl.Series(frame["factor"].to_numpy(dtype=np.float64)),
        "factor_quantile": pl.Series(frame["factor_quantile"].to_numpy()).cast(pl.Int8),
    }
    if "group" in frame.columns:
        out["group"] = pl.Series([str(g) for g in frame["group"]])
    for col in factor_data.columns:
        try:
            days = pd.Timedelta(col).days
        except (ValueError, TypeError):
            continue
        out[f"forward_return_{days}"] = pl.Series(frame[col].to_numpy(dtype=np.float64))
    return pl.DataFrame(out).sort("date", "asset")
