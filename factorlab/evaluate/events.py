"""Event study of a clean factor: the average return path of each quantile around its signal dates.

One numba pass over the dates computes every offset (``-before..after``), no loop over dates
in Python; ``mode="alphalens"`` reproduces alphalens'
``average_cumulative_return_by_quantile`` on the values it is given.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np
import polars as pl

from factorlab._kernels.events import event_means_nb
from factorlab.errors import MissingColumnError, ParameterError
from factorlab.evaluate.quantiles import CleanFactor

__all__ = ["EventMode", "average_cumulative_return_by_quantile", "event_returns"]

EventMode = Literal["cumulative", "alphalens"]


def _window(before: int, after: int) -> tuple[int, int]:
    for name, v in (("before", before), ("after", after)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0:
            raise ParameterError(f"`{name}` must be a non-negative integer (sessions); got {v!r}.")
    return int(before), int(after)


def _grid(clean: CleanFactor, values: np.ndarray | str | None, default: str | None) -> np.ndarray:
    """The (n_dates, n_assets) float64 grid the event paths are read from."""
    panel = clean.panel
    if values is None:
        values = default
    if isinstance(values, str):
        if values not in panel.fields:
            raise MissingColumnError(
                f"the panel has no column `{values}` to read event returns from; its columns are "
                f"{sorted(panel.fields)}. Pass `prices=` (a panel column name) or a grid.",
                table="panel",
                column=values,
            )
        values = panel.fields[values]
    grid = np.asarray(values, dtype=np.float64)
    if grid.shape != panel.shape:
        raise ParameterError(
            f"the event values must be a grid of the panel's shape {panel.shape} (dates x "
            f"assets); got shape {grid.shape}."
        )
    return np.ascontiguousarray(grid)


def _default_price(clean: CleanFactor) -> str | None:
    fields = clean.panel.fields
    if "close" in fields:
        return "close"
    return next(iter(fields), None)


def event_returns(
    clean: CleanFactor,
    *,
    before: int = 10,
    after: int = 20,
    demeaned: bool = True,
    mode: EventMode = "cumulative",
    prices: np.ndarray | str | None = None,
    by_date: bool = False,
) -> pl.DataFrame:
    """Average return path of each quantile from ``before`` sessions before its signal dates to
    ``after`` sessions after them.

    For each signal date ``t`` (a date with clean cells), quantile ``q`` and offset ``k`` in
    ``-before..after`` (rows of the panel's calendar, ``0 <= t + k < n_dates``), the date's value
    is the equal-weight mean over the quantile's members ``a`` of ``X_k(t, a)``, minus (with
    ``demeaned=True``) the same mean over every clean cell of date ``t`` (the universe); cells
    whose ``X_k`` is not finite are left out of both means. The result is the mean over dates of
    those values and their sample standard deviation (ddof=1), NaN dates skipped.

    - ``mode="cumulative"`` (default, factorlab's event study): ``X_k(t, a) = P[t+k, a] /
      P[t, a] - 1``, the cumulative close-to-close return from the signal day's close (before
      the event: the path leading to it, 0 at ``k = 0``). ``P`` is `prices` (a panel column,
      default ``close``, or a grid); a missing price at either end leaves the cell out. This is
      the path alphalens' event tear sheet is meant to show, without its dependence on price
      levels.
    - ``mode="alphalens"``: ``X_k(t, a) = V[t+k, a]`` with ``V`` = `prices` taken as is. This
      is alphalens-reloaded 0.5.1's
      ``performance.average_cumulative_return_by_quantile(factor_data, returns, periods_before,
      periods_after, demeaned, group_adjust=False, by_group=False)``: it calls
      ``common_start_returns(..., cumulative=True, mean_by_date=True, demean_by=...)``, which
      averages the `returns` frame's values themselves at ``t + k`` (no re-basing, no
      compounding), per date over the quantile's assets minus (demeaned) the mean over the
      date's ``factor_data`` assets, then ``mean`` / ``std`` over dates. alphalens' own tests
      pass prices (a cumulative series) as ``returns``; pass the same grid here. Offsets count
      rows of the panel, as alphalens counts rows of its `returns` index (give the two the same
      dates).

    Parameters
    ----------
    clean
        The clean factor (quantiles and the clean mask define the events and the universe).
    before, after
        Sessions before and after the signal date.
    demeaned
        Subtract the universe's mean path (a long-short view), as alphalens' ``demeaned``.
    mode
        ``"cumulative"`` or ``"alphalens"``, see above.
    prices
        A panel column name or an ``(n_dates, n_assets)`` grid; default: the panel's ``close``
        (else its first column).
    by_date
        Also return the per-date values (``quantile, date, offset, value``) instead of the
        summary over dates.

    Returns
    -------
    pl.DataFrame
        ``(quantile, offset, mean, std, n_dates)`` sorted by quantile and offset, one row per
        quantile with members and offset with at least one date; ``std`` is null with fewer
        than 2 dates. With ``by_date=True``: ``(quantile, date, offset, value)``.

    Nulls and NaN
    -------------
    NaN and infinite values of ``X_k`` are left out of the per-date means (alphalens turns an
    infinite per-date mean into NaN, which drops that date for that offset: the two differ only
    when a returns value is infinite). A date whose quantile has no finite ``X_k`` does not
    count for that offset.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import date, timedelta
    >>> from factorlab.evaluate import DensePanel, clean_factor, forward_returns
    >>> days = [date(2024, 1, 1) + timedelta(d) for d in range(3)]
    >>> df = pl.DataFrame({
    ...     "date": [d for d in days for _ in range(2)],
    ...     "asset": ["A", "B"] * 3,
    ...     "close": [10.0, 10.0, 11.0, 9.0, 12.1, 8.1],
    ...     "factor": [2.0, 1.0] * 3,
    ... })
    >>> panel = DensePanel.from_frame(df, columns=["close"])
    >>> clean = clean_factor(panel, df, forward_returns(panel, [1]), quantiles=2)
    >>> ev = event_returns(clean, before=0, after=1, demeaned=False)
    >>> ev.filter(pl.col("quantile") == 2)["mean"].round(3).to_list()
    [0.0, 0.1]
    """
    before, after = _window(before, after)
    if mode not in get_args(EventMode):
        raise ParameterError(f"`mode` must be one of {get_args(EventMode)}; got {mode!r}.")
    grid = _grid(clean, prices, _default_price(clean))
    if mode == "cumulative":
        grid = np.where(grid > 0, grid, np.nan)  # a price is > 0; anything else is missing
    nq = clean.n_quantiles
    means = event_means_nb(
        grid,
        np.ascontiguousarray(clean.quantile),
        np.ascontiguousarray(clean.mask),
        nq,
        before,
        after,
        mode == "cumulative",
        demeaned,
    )
    rows_per_offset = [(k, means[i], 0) for i, k in enumerate(range(-before, after + 1))]
    if by_date:
        return _by_date(clean, rows_per_offset)
    return _summary(rows_per_offset, nq)


def _summary(parts: list[tuple[int, np.ndarray, int]], nq: int) -> pl.DataFrame:
    qs, offsets, means, stds, counts = [], [], [], [], []
    for k, mean, _ in parts:
        finite = np.isfinite(mean)
        n = finite.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            m = np.where(finite, mean, 0.0).sum(axis=0) / n
            dev = np.where(finite, mean - m, 0.0)
            s = np.sqrt((dev * dev).sum(axis=0) / (n - 1))
        for q in range(nq):
            if n[q] == 0:
                continue
            qs.append(q + 1)
            offsets.append(k)
            means.append(m[q])
            stds.append(s[q] if n[q] > 1 else np.nan)
            counts.append(int(n[q]))
    frame = pl.DataFrame(
        {
            "quantile": pl.Series(qs, dtype=pl.Int8),
            "offset": pl.Series(offsets, dtype=pl.Int32),
            "mean": pl.Series(means, dtype=pl.Float64),
            "std": pl.Series(stds, dtype=pl.Float64),
            "n_dates": pl.Series(counts, dtype=pl.Int64),
        }
    )
    return frame.with_columns(pl.col("mean", "std").fill_nan(None)).sort("quantile", "offset")


def _by_date(clean: CleanFactor, parts: list[tuple[int, np.ndarray, int]]) -> pl.DataFrame:
    date_col = clean.panel.date_col
    frames = []
    for k, mean, lo in parts:
        rows, qs = np.nonzero(np.isfinite(mean))
        frames.append(
            pl.DataFrame(
                {
                    "quantile": pl.Series(qs + 1, dtype=pl.Int8),
                    date_col: clean.panel.dates.gather(rows + lo),
                    "offset": pl.Series(np.full(rows.size, k), dtype=pl.Int32),
                    "value": mean[rows, qs],
                }
            )
        )
    return pl.concat(frames).sort("quantile", date_col, "offset")


def average_cumulative_return_by_quantile(
    clean: CleanFactor,
    returns: np.ndarray | str,
    *,
    periods_before: int = 10,
    periods_after: int = 15,
    demeaned: bool = True,
) -> pl.DataFrame:
    """alphalens' ``average_cumulative_return_by_quantile`` (``group_adjust=False``,
    ``by_group=False``): :func:`event_returns` with ``mode="alphalens"``.

    `returns` is the grid alphalens receives as its ``returns`` frame, on the panel's dates and
    assets (a panel column name or an ``(n_dates, n_assets)`` array). Returns ``(quantile,
    offset, mean, std, n_dates)``; alphalens' frame is this pivoted to rows ``(quantile,
    mean|std)`` and columns ``offset``.
    """
    return event_returns(
        clean,
        before=periods_before,
        after=periods_after,
        demeaned=demeaned,
        mode="alphalens",
        prices=returns,
    )
