"""Seed 002's quality metrics for estimated northbound flows and holdings, disclosure
statistics (seed figures 5-6) and the validation table against the synthetic ground truth."""

from __future__ import annotations

import numpy as np
import polars as pl

from factorlab.errors import ParameterError
from factorlab.frames import check_columns
from factorlab.market import Market
from factorlab.northbound.estimation.estimator import (
    EstimateParams,
    HoldingsEstimate,
    estimate_holdings,
    naive_flows,
)
from factorlab.northbound.estimation.inputs import disclosure_end, estimation_inputs

__all__ = [
    "SEED_FIGURES",
    "disclosure_statistics",
    "flow_metrics",
    "holding_metrics",
    "printed_comovement",
    "true_weights",
    "validation_table",
]

#: Seed 002's reported figures (Kaiyuan, 2025-03; sample 2023-07 .. 2025-02), by metric name.
SEED_FIGURES: dict[str, float | None] = {
    "r2_daily": None,  # not reported for the estimator (the known-total ablation: 0.92)
    "r2_22d": 0.3447,
    "hit_daily": 0.55,
    "hit_22d": 0.68,
    "hit_22d_excl_low": 0.75,
    "r2_level_daily": None,
    "value_tracking_error": None,
    "weight_error": None,
}

_METRIC_DOC = {
    "r2_daily": "squared correlation of daily net inflow, estimated vs true",
    "r2_22d": "squared correlation of the 22-day rolling sums",
    "hit_daily": "share of days whose net inflow has the true sign",
    "hit_22d": "share of days whose 22-day rolling sum has the true sign (the seed's monthly)",
    "hit_22d_excl_low": "hit_22d on days whose true |22-day sum| is above its lowest third",
    "r2_level_daily": "1 - SSE / SST of daily net inflow in yuan (no refitted scale)",
    "value_tracking_error": "RMS of estimated / true holding value - 1",
    "weight_error": "mean over days of half the L1 distance of per-stock weights",
}


def _r2(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3 or np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1] ** 2)


def _rolling(x: np.ndarray, w: int) -> np.ndarray:
    c = np.cumsum(np.r_[0.0, x])
    return c[w:] - c[:-w]


def flow_metrics(
    estimated: pl.DataFrame,
    truth: pl.DataFrame,
    *,
    window: int = 22,
    low_quantile: float = 1 / 3,
) -> pl.DataFrame:
    """The seed's flow metrics of `estimated` (date, net_inflow) against `truth` (date,
    net_buy), on the days both have a finite value.

    Definitions (docs/estimation.md, "Metrics"): ``r2_daily`` and ``r2_22d`` are squared
    Pearson correlations (the R² of the seed's scatter fits) of daily values and of `window`-day
    rolling sums; ``hit_daily`` / ``hit_22d`` the share of days with the same sign (a zero true
    value never counts as hit); ``hit_22d_excl_low`` leaves out the days whose true |rolling
    sum| is in its lowest `low_quantile` (the seed's "low-volatility" samples, undefined there);
    ``r2_level_daily`` is 1 - SSE / SST in yuan (penalizes a wrong scale).

    Returns
    -------
    polars.DataFrame
        metric, value, days, definition.

    Examples
    --------
    >>> import datetime as dt
    >>> d = [dt.date(2024, 1, k) for k in range(1, 6)]
    >>> est = pl.DataFrame({"date": d, "net_inflow": [1.0, -1.0, 2.0, 1.0, -2.0]})
    >>> tru = pl.DataFrame({"date": d, "net_buy": [2.0, -1.0, 1.0, -1.0, -2.0]})
    >>> flow_metrics(est, tru, window=2).filter(pl.col("metric") == "hit_daily")["value"][0]
    0.8
    """
    check_columns(estimated.schema, ["date", "net_inflow"], table="estimated")
    check_columns(truth.schema, ["date", "net_buy"], table="truth")
    if window < 2 or not 0 <= low_quantile < 1:
        raise ParameterError(
            f"`window` must be >= 2 and `low_quantile` in [0, 1); got {window}, {low_quantile}."
        )
    j = (
        estimated.select("date", pl.col("net_inflow").cast(pl.Float64))
        .join(truth.select("date", pl.col("net_buy").cast(pl.Float64)), on="date")
        .filter(pl.col("net_inflow").is_finite() & pl.col("net_buy").is_finite())
        .sort("date")
    )
    a, b = j["net_inflow"].to_numpy(), j["net_buy"].to_numpy()
    ra, rb = (_rolling(a, window), _rolling(b, window)) if len(a) >= window else (a[:0], b[:0])

    def hit(x: np.ndarray, y: np.ndarray) -> float:
        return float((np.sign(x) == np.sign(y))[y != 0].mean()) if (y != 0).any() else np.nan

    cut = np.quantile(np.abs(rb), low_quantile) if len(rb) else 0.0
    big = np.abs(rb) > cut
    sst = float(((b - b.mean()) ** 2).sum()) if len(b) else 0.0
    values = {
        "r2_daily": (_r2(a, b), len(a)),
        "r2_22d": (_r2(ra, rb), len(ra)),
        "hit_daily": (hit(a, b), len(a)),
        "hit_22d": (hit(ra, rb), len(ra)),
        "hit_22d_excl_low": (hit(ra[big], rb[big]), int(big.sum())),
        "r2_level_daily": (1.0 - float(((a - b) ** 2).sum()) / sst if sst > 0 else np.nan, len(a)),
    }
    return pl.DataFrame(
        {
            "metric": list(values),
            "value": [v for v, _ in values.values()],
            "days": [n for _, n in values.values()],
            "definition": [_METRIC_DOC[k] for k in values],
        }
    )


def true_weights(market: Market, dates: pl.Series) -> pl.DataFrame:
    """date, asset, shares, close, v (true holding value), w_true on `dates` from the
    market's ``northbound_truth`` (a suspended stock valued at its last close)."""
    market.require("northbound_truth", "prices", purpose="scoring estimated holdings")
    t = (
        market.northbound_truth.filter(pl.col("date").is_in(dates.implode()))
        .join(market.prices.select("date", "asset", "close"), on=["date", "asset"], how="left")
        .collect()
    )
    close = t.sort("asset", "date")  # a suspended stock: its last close
    t = close.with_columns(
        pl.col("close").fill_null(strategy="forward").over("asset")
    ).with_columns(v=pl.col("shares").cast(pl.Float64) * pl.col("close").fill_null(0.0))
    return t.with_columns(w_true=pl.col("v") / pl.col("v").sum().over("date"))


def holding_metrics(estimate: HoldingsEstimate, market: Market) -> pl.DataFrame:
    """Holding-value tracking error and per-stock weight error of `estimate` against the
    market's ``northbound_truth`` (metric, value, days, definition)."""
    h = estimate.holdings
    truth = true_weights(market, estimate.totals["date"])
    v_true = truth.group_by("date").agg(v_true=pl.col("v").sum())
    tv = estimate.totals.select("date", "value").join(v_true, on="date")
    rel = (tv["value"] / tv["v_true"] - 1.0).to_numpy()
    w = (
        h.select("date", "asset", "weight")
        .join(
            truth.select("date", "asset", "w_true"), on=["date", "asset"], how="full", coalesce=True
        )
        .with_columns(pl.col("weight").fill_null(0.0), pl.col("w_true").fill_null(0.0))
        .group_by("date")
        .agg(err=0.5 * (pl.col("weight") - pl.col("w_true")).abs().sum())
    )
    return pl.DataFrame(
        {
            "metric": ["value_tracking_error", "weight_error"],
            "value": [
                float(np.sqrt(np.mean(rel**2))) if len(rel) else np.nan,
                float(w["err"].mean()) if w.height else np.nan,
            ],
            "days": [len(rel), w.height],
            "definition": [_METRIC_DOC["value_tracking_error"], _METRIC_DOC["weight_error"]],
        }
    )


def _all_metrics(estimate: HoldingsEstimate, market: Market, truth: pl.DataFrame) -> pl.DataFrame:
    return pl.concat([flow_metrics(estimate.totals, truth), holding_metrics(estimate, market)])


def validation_table(
    market: Market,
    *,
    estimate: HoldingsEstimate | None = None,
    naive: HoldingsEstimate | None = None,
    params: EstimateParams | None = None,
    ablations: bool = True,
) -> pl.DataFrame:
    """Seed figure | this estimator | naive baseline (| the two ablations) on `market`'s truth.

    Needs the synthetic ground truth (``flows_truth``, ``northbound_truth``). The baseline and
    the ablations run over the estimate's own window (its first .. last estimated day). Lower
    is better for ``value_tracking_error`` and ``weight_error``, higher for the rest.

    Parameters
    ----------
    estimate, naive
        Reuse computed results (default: computed here with `params`).

    Returns
    -------
    polars.DataFrame
        metric, seed, estimator, naive, [known_total, buy_and_hold,] days, definition.
    """
    market.require("flows_truth", "northbound_truth", purpose="validating the estimate")
    truth = market.flows_truth.select("date", "net_buy").collect()
    est = estimate or estimate_holdings(market, params=params, progress=False)
    p = params or est.params
    window = {"start": est.totals["date"].min(), "end": est.totals["date"].max()}
    base = _all_metrics(est, market, truth)
    out = base.select(
        "metric", seed=pl.col("metric").replace_strict(SEED_FIGURES, return_dtype=pl.Float64)
    ).with_columns(estimator=base["value"])
    others = {"naive": naive or naive_flows(market, allowance=p.allowance, **window)}
    if ablations:
        for name, mode in (("known_total", "truth"), ("buy_and_hold", "buy_and_hold")):
            others[name] = estimate_holdings(
                market, params=p, total_value=mode, progress=False, **window
            )
    for name, e in others.items():
        m = _all_metrics(e, market, truth).select("metric", pl.col("value").alias(name))
        out = out.join(m, on="metric", how="left", maintain_order="left")
    return out.with_columns(base["days"], base["definition"])


def disclosure_statistics(
    market: Market,
    *,
    holdings: pl.DataFrame | pl.LazyFrame | None = None,
) -> pl.DataFrame:
    """Per short-sellable day: how many stocks are printed and how much northbound weight they
    carry (seed 002 figures 5-6), before and after the disclosure change.

    The denominator is the stocks northbound holds at the close the day's quantities reflect
    (the previous northbound session), valued at that close: from `holdings` (date, asset,
    shares: e.g. an estimate), else ``northbound_truth`` (synthetic), else the published
    ``northbound`` rows (daily before the change only).

    Returns
    -------
    polars.DataFrame
        date, asof, n_held, n_listed, n_printed, printed_share (of held stocks),
        listed_share, printed_weight, listed_weight, after_change.
    """
    from factorlab.calendar import sessions

    market.require("short_sellable", "prices", purpose="disclosure statistics")
    if holdings is None:
        holdings = market.northbound_truth if market.has("northbound_truth") else market.northbound
    ss = market.short_sellable.select("date", "asset", "quantity").collect()
    nb_days = sessions("northbound").to_numpy().astype("datetime64[D]")
    days = np.unique(ss["date"].to_numpy().astype("datetime64[D]"))
    pos = np.searchsorted(nb_days, days) - 1
    m = pl.DataFrame(
        {"date": pl.Series(days, dtype=pl.Date), "asof": pl.Series(nb_days[pos], dtype=pl.Date)}
    )
    ss = ss.join(m, on="date")
    asofs = m["asof"].implode()
    h = (
        holdings.lazy()
        .select("date", "asset", pl.col("shares").cast(pl.Float64))
        .filter(pl.col("date").is_in(asofs) & (pl.col("shares") > 0))
        .join(market.prices.select("date", "asset", "close"), on=["date", "asset"], how="left")
        .with_columns(v=pl.col("shares") * pl.col("close").fill_null(0.0))
        .collect()
        .rename({"date": "asof"})
    )
    j = h.join(
        ss.select("asof", "asset", "date", "quantity", listed=pl.lit(True)),
        on=["asof", "asset"],
        how="left",
    )
    change = disclosure_end(market)
    out = (
        j.group_by("asof")
        .agg(
            n_held=pl.len(),
            n_listed=pl.col("listed").fill_null(False).sum(),
            n_printed=pl.col("quantity").is_not_null().sum(),
            v=pl.col("v").sum(),
            v_listed=pl.col("v").filter(pl.col("listed").fill_null(False)).sum(),
            v_printed=pl.col("v").filter(pl.col("quantity").is_not_null()).sum(),
        )
        .join(m, on="asof")
        .with_columns(
            printed_share=pl.col("n_printed") / pl.col("n_held"),
            listed_share=pl.col("n_listed") / pl.col("n_held"),
            printed_weight=pl.col("v_printed") / pl.col("v"),
            listed_weight=pl.col("v_listed") / pl.col("v"),
            after_change=pl.col("date") > change,
        )
        .select(
            "date",
            "asof",
            "n_held",
            "n_listed",
            "n_printed",
            "printed_share",
            "listed_share",
            "printed_weight",
            "listed_weight",
            "after_change",
        )
        .sort("date")
    )
    return out


def printed_comovement(market: Market) -> pl.DataFrame:
    """How much the printed stocks' true flows say about the others' (ground truth, after the
    change): the best linear read of the printed stocks' flows and one market-wide extrapolation
    of them, a yardstick for the estimators (not a bound on them: step 1 by industry reads the
    printed stocks' moves per industry, not linearly, and can pass it; docs/estimation.md §4).

    Per estimated day, from ``northbound_truth``: the printed stocks P (a quantity printed on
    that day's and the previous day's disclosure) and the others U, their true flows F_P, F_U
    (dS x VWAP, dS on one share basis) and relative moves m_P = F_P / V_P, m_U = F_U / V_U
    (V: yesterday's shares at today's close). Rows, each daily and for 22-day sums:

    - ``corr_moves``: correlation of m_P and m_U (1: the printed stocks move like the rest);
    - ``r2_printed``: R² of F_P against the total F_P + F_U (what the naive baseline reads);
    - ``r2_ceiling``: R² of the in-sample least-squares fit of the total on F_P and
      m_P x V_U (any linear mix of the printed flows and their extrapolation; in-sample, so
      optimistic). When it barely exceeds ``r2_printed``, no *linear* mix of the printed
      flows and their market-wide extrapolation beats the naive baseline on the scale-free
      metrics;
    - ``crossing_variance_share``: var(F_X) / var(total), F_X the true flow of the stocks
      printed on exactly one of the two days (they crossed the print threshold);
    - ``r2_printed_crossing``: R² of F_P + F_X against the total (what reading the crossers'
      flows exactly would add to the naive's stocks; docs/estimation.md §4);
    - ``printed_value_share``: mean V_P / (V_P + V_U) (in both columns).

    Returns
    -------
    polars.DataFrame
        metric, daily, sum_22d, days.
    """
    market.require("northbound_truth", purpose="the printed stocks' co-movement")
    inp = estimation_inputs(market)
    t = market.northbound_truth.filter(
        pl.col("date").is_between(inp.index.dates[0].item(), inp.index.dates[-1].item())
    ).collect()
    t = t.filter(pl.col("asset").is_in(inp.index.assets.implode()))
    s = inp.index.scatter(inp.index.cells(t), t["shares"].cast(pl.Float64).to_numpy(), fill=0.0)
    rows = [int(i) for i in inp.est_rows if i >= 1]
    fp, fu, vp, vu, fx = (np.zeros(len(rows)) for _ in range(5))
    for k, i in enumerate(rows):
        carry = s[i - 1] * (inp.ex[i] / inp.ex[i - 1])
        px = np.nan_to_num(inp.close[i])
        f = (s[i] - carry) * np.nan_to_num(inp.vwap[i], nan=0.0)
        v = carry * px
        now, before = np.isfinite(inp.quantity[i]), np.isfinite(inp.quantity[i - 1])
        printed = now & before
        fp[k], fu[k], fx[k] = f[printed].sum(), f[~printed].sum(), f[now != before].sum()
        vp[k], vu[k] = v[printed].sum(), v[~printed].sum()
    ok = (vp > 0) & (vu > 0)
    fp, fu, vp, vu, fx = fp[ok], fu[ok], vp[ok], vu[ok], fx[ok]
    total, mp, mu = fp + fu, fp / vp, fu / vu
    extra = mp * vu  # the printed stocks' move carried over to the others
    share = float((vp / (vp + vu)).mean()) if len(vp) else float("nan")
    out: dict[str, list[float]] = {"daily": [], "sum_22d": []}
    for col, g in (("daily", lambda a: a), ("sum_22d", lambda a: _rolling(a, 22))):
        if len(total) < 22 + 3:
            out[col] = [float("nan")] * 5 + [share]
            continue
        out[col] = [
            float(np.corrcoef(g(mp), g(mu))[0, 1]),
            _r2(g(fp), g(total)),
            _ceiling(g(total), g(fp), g(extra)),
            float(g(fx).var() / g(total).var()),
            _r2(g(fp + fx), g(total)),
            share,
        ]
    return pl.DataFrame(
        {
            "metric": [
                "corr_moves",
                "r2_printed",
                "r2_ceiling",
                "crossing_variance_share",
                "r2_printed_crossing",
                "printed_value_share",
            ],
            **out,
            "days": [len(total)] * 6,
        }
    )


def _ceiling(y: np.ndarray, *xs: np.ndarray) -> float:
    """R² of the in-sample least-squares fit of `y` on `xs` with an intercept."""
    if np.std(y) == 0:
        return float("nan")
    x = np.column_stack([np.ones(len(y)), *xs])
    r = y - x @ np.linalg.lstsq(x, y, rcond=None)[0]
    return float(1.0 - r.var() / y.var())
