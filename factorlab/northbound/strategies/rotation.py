"""Industry rotation on northbound net inflows (seed 004 §3.1-3.4) and its ETF version (§3.5).

The industry net-inflow factor (sum of dS x VWAP over an industry's stocks over a lookback,
scaled to remove size) for all, trading-type and allocation-type flows; cap-weighted industry
returns from member stocks; TOP-N books, layered groups and the TOP-N x rebalance x lookback
grid on the one backtester (:func:`factorlab.backtest.backtest_many`). Choices: docs/strategies.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Literal, get_args

import numpy as np
import polars as pl

from factorlab._display import Summary, data_line, join_names
from factorlab._exprs import check_int
from factorlab.backtest import NO_COSTS, BacktestResult, Costs, backtest_many
from factorlab.calendar import TRADING_DAYS, rebalance_dates, to_date
from factorlab.errors import DisclosureError, MarketError, ParameterError
from factorlab.etf.reference import ROTATION_EXCLUDED
from factorlab.evaluate.metrics import annual_return, max_drawdown, sharpe_ratio
from factorlab.frames import as_lazy, check_columns, check_numeric, check_unique_keys
from factorlab.grid import AssetGrid, GridIndex, ffill_rows
from factorlab.market import Market
from factorlab.northbound.estimated import estimated_flows, study_estimates
from factorlab.northbound.hygiene import NorthboundPanel, disclosure_end, research_panel
from factorlab.northbound.participants import (
    ParticipantSplit,
    classify_participants,
    participant_flows,
)
from factorlab.northbound.study import data_description

__all__ = [
    "ALLOCATION_ROTATION",
    "CITIC_LEVEL1",
    "LOOKBACKS",
    "REBALANCE_WEEKS",
    "ROTATION_COSTS",
    "ROTATION_EXCLUDED",
    "ROTATION_INDUSTRIES",
    "SEED_ROTATIONS",
    "TOPS",
    "TRADING_ROTATION",
    "LayeredGroups",
    "RotationGrid",
    "RotationInputs",
    "RotationResult",
    "industry_flow_factor",
    "industry_returns",
    "industry_rotation",
    "layered_groups",
    "rotation_grid",
    "rotation_inputs",
    "seed_rotations",
]

#: The 30 CITIC level-1 industries (2019 classification).
CITIC_LEVEL1 = (
    "石油石化", "煤炭", "有色金属", "电力及公用事业", "钢铁", "基础化工", "建筑", "建材",
    "轻工制造", "机械", "电力设备及新能源", "国防军工", "汽车", "商贸零售", "消费者服务", "家电",
    "纺织服装", "医药", "食品饮料", "农林牧渔", "银行", "非银行金融", "房地产", "交通运输",
    "电子", "通信", "计算机", "传媒", "综合", "综合金融",
)  # fmt: skip
#: The 26 industries the rotation ranks (CITIC level-1 minus :data:`ROTATION_EXCLUDED`).
ROTATION_INDUSTRIES = tuple(i for i in CITIC_LEVEL1 if i not in ROTATION_EXCLUDED)
#: Lookbacks of the grid, in A-share sessions: 1 week, 2 weeks, 1, 2 and 3 months.
LOOKBACKS = (5, 10, 21, 42, 63)
#: Rebalance periods of the grid, in weeks: weekly, biweekly, 6-weekly.
REBALANCE_WEEKS = (1, 2, 6)
#: TOP-N of the grid.
TOPS = (3, 4, 5, 6, 7, 8)
#: The seed's ~0.3% round trip: 0.15% per side on every order (index proxies and ETFs pay no
#: stamp duty), no minimum.
ROTATION_COSTS = Costs(commission=0.0015, min_commission=0.0, stamp_duty=0.0)
#: Seed 004 §3.3: trading-type flows of the last month, biweekly TOP-5.
TRADING_ROTATION: dict[str, Any] = {
    "flow": "trading", "top": 5, "rebalance": 2, "lookback": 21, "skip": 0,
}  # fmt: skip
#: Seed 004 §3.4: allocation-type flows skipping the latest month (the two months before it),
#: 6-weekly TOP-5.
ALLOCATION_ROTATION: dict[str, Any] = {
    "flow": "allocation", "top": 5, "rebalance": 6, "lookback": 42, "skip": 21,
}  # fmt: skip
#: The two named strategies of seed 004 (§3.3, §3.4; their ETF versions in §3.5).
SEED_ROTATIONS = {"trading_biweekly_top5": TRADING_ROTATION,
                  "allocation_6week_top5": ALLOCATION_ROTATION}  # fmt: skip

FlowKind = Literal["all", "trading", "allocation"]
Scale = Literal["holding", "float_cap", "none"]
RotationAsset = Literal["stocks", "etf"]
FlowSource = Literal["auto", "participants", "published"]

_KIND_COLUMN = {"all": "flow_total", "trading": "flow_trading", "allocation": "flow_allocation"}
_LEVEL_BASE = 1000.0


# -- inputs --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Flows:
    """Daily industry flows of one kind on the session grid: (T, G) yuan, and the first and
    last rows the flows are defined on (a window must lie within them)."""

    daily: np.ndarray
    first: int
    last: int
    source: str
    estimated_from: int | None = None  # first row whose flows are estimated (None: none)


@dataclass(frozen=True)
class RotationInputs:
    """What every rotation book of a market reads, built once by :func:`rotation_inputs` and
    shared by :func:`industry_flow_factor`, :func:`industry_rotation`, :func:`layered_groups`
    and :func:`rotation_grid` (``inputs=``).

    ``dates``: the A-share sessions of ``prices``; ``industries``: the ranked industries;
    ``returns``: (T, G) cap-weighted daily industry returns (NaN before an industry has
    members); ``float_cap``: (T, G) the members' float cap at each close; ``holding``: (T, G)
    northbound holding value at each close (NaN outside the published daily window; computed
    on first use, from the research panel); ``flows``: per flow kind the daily industry flows;
    ``report``: step, rows, detail of what was left out.
    """

    market: Market = field(repr=False)
    dates: np.ndarray
    industries: tuple[str, ...]
    returns: np.ndarray
    float_cap: np.ndarray
    flows: dict[str, _Flows]
    report: pl.DataFrame
    assets: pl.DataFrame = field(repr=False)
    split: ParticipantSplit | None = field(default=None, repr=False)
    panel: NorthboundPanel | None = field(default=None, repr=False)

    @property
    def date_series(self) -> pl.Series:
        return pl.Series("date", self.dates.astype("datetime64[D]"), dtype=pl.Date)

    @cached_property
    def holding(self) -> np.ndarray:
        panel = self.panel if self.panel is not None else research_panel(self.market)
        frame = panel.frame.select("date", "asset", value=pl.col("hold_value"))
        return _dense_by_industry(
            frame, self.assets, self.industries, self.dates, fill_missing=np.nan
        )[0]

    def levels(self) -> pl.DataFrame:
        """Industry index levels (date, industry, close), base 1000 on each industry's first
        day with members."""
        return _levels_frame(self.date_series, self.industries, self.returns)


def _check_industries(industries: Any) -> tuple[str, ...]:
    if isinstance(industries, str) or not isinstance(industries, Iterable):
        raise ParameterError(
            f"`industries` must be a sequence of industry names; got {industries!r}."
        )
    out = tuple(str(i) for i in industries)
    if len(out) < 2 or len(set(out)) != len(out):
        raise ParameterError(
            f"`industries` must name at least 2 distinct industries; got {list(out)[:6]}."
        )
    return out


def _kinds_needed(flows: Iterable[str]) -> tuple[str, ...]:
    out = tuple(dict.fromkeys(flows))
    bad = [f for f in out if f not in _KIND_COLUMN]
    if bad or not out:
        raise ParameterError(
            f"`flow` must be one of {list(_KIND_COLUMN)} (all northbound flows, trading-type, "
            f"allocation-type); got {bad or list(out)}."
        )
    return out


def rotation_inputs(
    market: Market,
    *,
    flows: Sequence[FlowKind] = ("all", "trading", "allocation"),
    industries: Sequence[str] = ROTATION_INDUSTRIES,
    source: FlowSource = "auto",
    split: ParticipantSplit | None = None,
    panel: NorthboundPanel | None = None,
    estimated_holdings: Any = None,
) -> RotationInputs:
    """Prepare a market for the rotation: industry returns, caps, holdings and flows.

    Parameters
    ----------
    market
        Needs ``prices``, ``assets`` (the CITIC industry of each stock) and ``northbound``;
        ``participant_holdings`` for trading / allocation flows.
    flows
        The flow kinds to prepare.
    industries
        The industries ranked (default the seed's 26). One the market has no stocks of is left
        out (and listed in ``report``); fewer than half of them present is an error (a naming
        mismatch).
    source
        Where all-flow (``"all"``) flows come from: ``"participants"`` (the sum over CCASS
        participants of dS x VWAP), ``"published"`` (the published per-stock holdings of
        :func:`~factorlab.northbound.research_panel`), ``"auto"`` (participants when the market
        has ``participant_holdings``, else published).
    split
        A :class:`~factorlab.northbound.ParticipantSplit` to reuse (default: computed with
        :func:`~factorlab.northbound.classify_participants`' defaults).
    panel
        A :func:`~factorlab.northbound.research_panel` of the market to reuse.
    estimated_holdings
        Holdings after the disclosure change (a
        :class:`~factorlab.northbound.estimation.HoldingsEstimate`, or a frame date, asset,
        shares [, published]): all-flow flows then run past the last daily disclosure, from the
        research panel extended by them, each estimated day's flow counted from the day it is
        published (``published``; without it, its own date). Trading / allocation flows stay
        within the daily disclosure (the estimate has no participants).

    Raises
    ------
    MarketError
        A table the flows need is absent (names it and what provides it); industries not in
        ``assets``.
    ParameterError
        An unknown flow kind or source.
    """
    kinds = _kinds_needed(flows) if len(tuple(flows)) else ()
    inds = _check_industries(industries)
    if source not in get_args(FlowSource):
        raise ParameterError(
            f"`source` must be one of {list(get_args(FlowSource))}; got {source!r}."
        )
    market.require(
        "prices", "assets", *(["northbound"] if kinds else []), purpose="the industry rotation"
    )
    has_participants = market.has("participant_holdings")
    est = None if estimated_holdings is None else study_estimates(estimated_holdings)
    if est is not None and source == "participants" and "all" in kinds:
        raise ParameterError(
            "`estimated_holdings` extend the published holdings, not the participants': use "
            "source='auto' or 'published' for all flows."
        )
    use_participants = est is None and (
        source == "participants" or (source == "auto" and has_participants)
    )
    needs_split = [k for k in kinds if k != "all"] or (
        ["all"] if use_participants and kinds else []
    )
    if needs_split and not has_participants:
        raise MarketError(
            f"flow {needs_split[0]!r} needs per-participant holdings (table "
            "`participant_holdings`, CCASS holdings by participant) to split trading from "
            f"allocation money; this market has none (tables: {', '.join(market.names)}). Use "
            "flow='all' (published holdings), or a market with participant holdings (the "
            "synthetic market has them; real per-participant data is not public)."
        )
    steps: list[dict] = []
    assets, inds = _industry_members(market, inds, steps)
    dates, returns, cap = _industry_grids(market, assets, inds)
    change = disclosure_end(market)
    if needs_split:
        split = split if split is not None else classify_participants(market)
    out: dict[str, _Flows] = {}
    from_participants = [k for k in kinds if k != "all" or use_participants]
    if from_participants:
        assert split is not None
        by_asset = participant_flows(market, split, by="asset")
        cols = [_KIND_COLUMN[k] for k in from_participants]
        first_eff = split.history["effective_from"].min()
        days = by_asset["date"].unique().sort()
        grids = _dense_by_industry(
            by_asset.select("date", "asset", *cols), assets, inds, dates, fill_missing=0.0
        )
        for kind, daily in zip(from_participants, grids, strict=True):
            first_date = (days[1] if days.len() > 1 else days[0]) if kind == "all" else first_eff
            out[kind] = _flows(
                daily, dates, first_date, min(days.max(), change),
                "participant holdings (sum over CCASS participants of dS x VWAP)",
            )  # fmt: skip
    if est is not None and panel is None:
        panel = research_panel(market, end=est.frame["date"].max(), estimated_holdings=est.frame)
    if "all" in kinds and not use_participants:
        panel = panel if panel is not None else research_panel(market)
        if est is None:
            frame = panel.frame.filter(pl.col("flow").is_not_null())
        else:  # an estimated day's flow counts from the day it is published
            frame = estimated_flows(market, est, panel=panel)
        frame = frame.select("date", "asset", value=pl.col("flow"))
        if frame.height == 0:
            raise MarketError("table `northbound` yields no daily flows to rank industries on.")
        first_day = frame["date"].min()
        last_day, est_from, src = min(frame["date"].max(), change), None, ""
        if est is not None:
            last_day = frame["date"].max()
            est_from = int(np.searchsorted(dates, np.datetime64(change, "D"), side="right"))
            src = f"; estimated holdings after {change}"
        daily = _dense_by_industry(frame, assets, inds, dates, fill_missing=0.0)[0]
        out["all"] = replace(
            _flows(
                daily, dates, first_day, last_day,
                f"published holdings (research panel dS x VWAP){src}",
            ),
            estimated_from=est_from,
        )  # fmt: skip
    report = pl.DataFrame(steps, schema={"step": pl.String, "rows": pl.Int64, "detail": pl.String})
    return RotationInputs(
        market=market,
        dates=dates,
        industries=inds,
        returns=returns,
        float_cap=cap,
        flows={k: out[k] for k in kinds},
        report=report,
        assets=assets,
        split=split,
        panel=panel,
    )


def _industry_members(
    market: Market, inds: tuple[str, ...], steps: list[dict]
) -> tuple[pl.DataFrame, tuple[str, ...]]:
    """(asset, industry) of the market and the industries of `inds` it has; what is left out
    is appended to `steps`."""
    assets = market.assets.select("asset", "industry").collect()
    known = set(assets["industry"].to_list())
    absent = [i for i in inds if i not in known]
    if len(inds) - len(absent) < max(2, (len(inds) + 1) // 2):
        raise MarketError(
            f"{len(absent)} of the {len(inds)} industries of `industries` have no stocks in "
            f"table `assets` (column `industry`), e.g. {absent[:6]}; the table's industries are "
            f"e.g. {sorted(known)[:6]}. Pass `industries=` with the market's names."
        )
    # a small market may lack an industry: left out of the ranking, and reported
    inds = tuple(i for i in inds if i in known)
    steps.append(
        {
            "step": "industries without stocks in `assets` (not ranked)",
            "rows": len(absent),
            "detail": join_names(absent, 8) if absent else "none",
        }
    )
    left_out = assets.filter(~pl.col("industry").is_in(list(inds)))
    steps.append(
        {
            "step": "stocks of industries not ranked",
            "rows": left_out.height,
            "detail": join_names(sorted(set(left_out["industry"].to_list())), 8),
        }
    )
    return assets, inds


def _flows(daily: np.ndarray, dates: np.ndarray, first: Any, last: Any, source: str) -> _Flows:
    """The flows on [first, last] (dates), NaN outside (`last` at most the last day of daily
    disclosure: later rows are quarterly snapshots)."""
    lo = int(np.searchsorted(dates, np.datetime64(first, "D")))
    hi = int(np.searchsorted(dates, np.datetime64(last, "D"), side="right")) - 1
    daily[:lo] = np.nan
    daily[hi + 1 :] = np.nan
    return _Flows(daily=daily, first=lo, last=hi, source=source)


def _industry_grids(
    market: Market, assets: pl.DataFrame, industries: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sessions, returns, float cap) of the cap-weighted industry indices.

    A stock is a member from its first price row until the session before its published
    delisting (the backtester's settlement row): point-in-time, never from the future. Its
    return on t is the adjusted close-to-close return (a suspended day: 0, the carried close),
    weighted by its float cap at t-1's close (last close x float shares, carried through a
    suspension); a member on t-1 and t only. An industry's return is NaN until it has a
    weighted member, then 0 on a day with none.
    """
    px = market.prices.select(
        "date",
        pl.col("asset").cast(pl.String),
        adj=pl.col("close") * pl.col("adj_factor"),
        cap=pl.col("close") * pl.col("float_shares"),
    ).collect()
    index = GridIndex.from_frame(px)
    cells = index.cells(px)
    index.check_cells(px, cells, table="prices", keys=("date", "asset"))
    raw = index.scatter(cells, px["adj"].fill_null(np.nan).to_numpy())
    cap = ffill_rows(index.scatter(cells, px["cap"].fill_null(np.nan).to_numpy()))
    del px
    delist = (
        pl.DataFrame({"asset": index.assets})
        .join(market.assets.select("asset", "delist_date").collect(), on="asset", how="left")
        ["delist_date"]
    )  # fmt: skip
    settle = index.first_row_on_or_after(delist.to_numpy().astype("datetime64[D]"))
    ind_of = dict(zip(assets["asset"].to_list(), assets["industry"].to_list(), strict=True))
    code = {name: g for g, name in enumerate(industries)}
    g_of = np.array([code.get(ind_of.get(a, ""), -1) for a in index.assets.to_list()])
    n_t = index.shape[0]
    rows = np.arange(n_t)[:, None]
    member = np.maximum.accumulate(~np.isnan(raw), axis=0)
    member &= (rows < settle[None, :]) & (g_of >= 0)[None, :]
    close = ffill_rows(raw)
    del raw
    both = member[1:] & member[:-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        r = close[1:] / close[:-1] - 1.0
    del close
    w = np.where(both & np.isfinite(r) & np.isfinite(cap[:-1]) & (cap[:-1] > 0), cap[:-1], 0.0)
    r = np.where(w > 0, r, 0.0)
    n_g = len(industries)
    onehot = np.zeros((index.shape[1], n_g))
    ok = g_of >= 0
    onehot[np.flatnonzero(ok), g_of[ok]] = 1.0
    num = (w * r) @ onehot
    den = w @ onehot
    ret = np.full((n_t, n_g), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        ret[1:] = np.where(den > 0, num / den, np.nan)
    started = np.maximum.accumulate(np.isfinite(ret), axis=0)
    ret = np.where(started & ~np.isfinite(ret), 0.0, ret)
    cap_now = np.where(member & np.isfinite(cap), cap, 0.0) @ onehot
    return index.dates, ret, cap_now


def _dense_by_industry(
    frame: pl.DataFrame,
    assets: pl.DataFrame,
    industries: tuple[str, ...],
    dates: np.ndarray,
    *,
    fill_missing: float,
) -> list[np.ndarray]:
    """(T, G) sums per (date, industry) of each value column of a (date, asset, values...)
    frame, in one join and one group-by; a session without rows gets `fill_missing`, a
    session with rows 0 for an industry without; dates off the session grid are left out."""
    values = [c for c in frame.columns if c not in ("date", "asset")]
    agg = (
        frame.join(assets.filter(pl.col("industry").is_in(list(industries))), on="asset")
        .group_by("date", "industry")
        .agg(pl.col(values).sum())
    )
    day = agg["date"].to_numpy().astype("datetime64[D]")
    row = np.searchsorted(dates, day)
    ok = (row < len(dates)) & (dates[np.minimum(row, len(dates) - 1)] == day)
    col = (
        agg["industry"]
        .replace_strict({name: g for g, name in enumerate(industries)}, return_dtype=pl.Int64)
        .to_numpy()
    )
    has = np.zeros(len(dates), bool)
    has[row[ok]] = True
    out = []
    for v in values:
        grid = np.full((len(dates), len(industries)), fill_missing)
        grid[has] = 0.0
        np.add.at(grid, (row[ok], col[ok]), agg[v].to_numpy()[ok])
        out.append(grid)
    return out


def _row_mean(x: np.ndarray) -> np.ndarray:
    """Mean of each row over its finite entries (NaN for a row without any)."""
    ok = np.isfinite(x)
    n = ok.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.where(ok, x, 0.0).sum(axis=1) / n, np.nan)


def _levels_frame(dates: pl.Series, industries: Sequence[str], ret: np.ndarray) -> pl.DataFrame:
    level = _LEVEL_BASE * np.cumprod(1.0 + np.nan_to_num(ret), axis=0)
    level = np.where(np.maximum.accumulate(np.isfinite(ret), axis=0), level, np.nan)
    # the day before an industry's first return is its base day
    first = np.argmax(np.isfinite(ret), axis=0)
    for g, f in enumerate(first):
        if np.isfinite(ret[f, g]) and f > 0:
            level[f - 1, g] = _LEVEL_BASE
    t, g = np.nonzero(np.isfinite(level))
    return pl.DataFrame(
        {
            "date": dates.gather(t),
            "industry": pl.Series(np.array(industries, dtype=object)[g], dtype=pl.String),
            "close": level[t, g],
        }
    ).sort("date", "industry")


# -- the factor ----------------------------------------------------------------------------------


def _factor_grid(
    inputs: RotationInputs, flow: str, lookback: int, skip: int, scale: str
) -> np.ndarray:
    """(T, G) factor on every session row e: the flows of rows e-skip-lookback+1 .. e-skip,
    divided by the scale at row e-skip-lookback (the close before the window). NaN where the
    window is not within the flows' rows or the scale is not positive."""
    if flow not in inputs.flows:
        raise ParameterError(
            f"flow {flow!r} was not prepared in these inputs ({list(inputs.flows)}); build them "
            f"with rotation_inputs(market, flows=[..., {flow!r}])."
        )
    fl = inputs.flows[flow]
    n_t = len(inputs.dates)
    e = np.arange(n_t)
    hi = e - skip  # last window row
    lo = hi - lookback + 1  # first window row
    ok = (lo >= fl.first) & (e <= fl.last) & (lo >= 1)
    out = np.full(fl.daily.shape, np.nan)
    if lookback <= n_t:
        # each window summed on its own (no difference of long cumulative sums: no cancellation)
        windows = np.lib.stride_tricks.sliding_window_view(
            np.nan_to_num(fl.daily), lookback, axis=0
        )
        out[ok] = windows[lo[ok]].sum(axis=-1)
    if scale != "none":
        den_grid = inputs.holding if scale == "holding" else inputs.float_cap
        den = np.full(fl.daily.shape, np.nan)
        den[ok] = den_grid[lo[ok] - 1]
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(den > 0, out / den, np.nan)
    return out


def _check_factor_params(flow: Any, lookback: Any, skip: Any, scale: Any) -> tuple[int, int]:
    _kinds_needed([flow])
    lb = check_int("lookback", lookback, minimum=1)
    sk = check_int("skip", skip, minimum=0)
    if scale not in get_args(Scale):
        raise ParameterError(f"`scale` must be one of {list(get_args(Scale))}; got {scale!r}.")
    return lb, sk


def _inputs_for(market: Market, inputs: RotationInputs | None, flows: Sequence[str],
                industries: Sequence[str]) -> RotationInputs:  # fmt: skip
    if inputs is None:
        return rotation_inputs(market, flows=list(flows), industries=industries)
    missing = [f for f in flows if f not in inputs.flows]
    if missing:
        raise ParameterError(
            f"`inputs` were built without flow(s) {missing}; build them with "
            f"rotation_inputs(market, flows={sorted(set(inputs.flows) | set(missing))})."
        )
    return inputs


def industry_flow_factor(
    market: Market,
    *,
    flow: FlowKind = "all",
    lookback: int = 21,
    skip: int = 0,
    scale: Scale = "holding",
    industries: Sequence[str] = ROTATION_INDUSTRIES,
    inputs: RotationInputs | None = None,
) -> pl.DataFrame:
    """The industry net-inflow factor (seed 004 §3.1) on every session it is defined.

    value(d) = sum over the industry's stocks and the sessions d-skip-lookback+1 .. d-skip of
    dS x VWAP (yuan), divided (`scale`) by the industry's northbound holding value
    (``"holding"``, default) or its members' float cap (``"float_cap"``) at the close of the
    session before the window, or left in yuan (``"none"``). Uses only data published by d.

    Parameters
    ----------
    market
        See :func:`rotation_inputs`.
    flow
        ``"all"`` (all northbound money), ``"trading"`` or ``"allocation"`` (the participant
        split of :func:`~factorlab.northbound.classify_participants`).
    lookback
        Window length in A-share sessions (>= 1): 5 = a week, 21 = a month, 63 = 3 months.
    skip
        The most recent sessions left out (>= 0): 21 skips the latest month (seed 004 §3.4).
    scale
        How size is removed: ``"holding"``, ``"float_cap"`` or ``"none"``.
    industries
        The industries ranked (default the seed's 26).
    inputs
        Prepared :class:`RotationInputs` to reuse.

    Returns
    -------
    pl.DataFrame
        date, industry, value; sorted by date, industry. A window that is not wholly within the
        published flows (or, for trading / allocation, before the first classification) or a
        non-positive scale has no row.

    Raises
    ------
    ParameterError
        An unknown `flow` or `scale`, ``lookback < 1``, ``skip < 0``.
    MarketError
        See :func:`rotation_inputs`.
    """
    lb, sk = _check_factor_params(flow, lookback, skip, scale)
    inp = _inputs_for(market, inputs, [flow], industries)
    grid = _factor_grid(inp, flow, lb, sk, scale)
    return _long(inp.date_series, inp.industries, grid)


def _long(dates: pl.Series, industries: Sequence[str], grid: np.ndarray) -> pl.DataFrame:
    t, g = np.nonzero(np.isfinite(grid))
    return pl.DataFrame(
        {
            "date": dates.gather(t),
            "industry": pl.Series(np.array(industries, dtype=object)[g], dtype=pl.String),
            "value": grid[t, g],
        }
    )


def industry_returns(
    market: Market,
    *,
    industries: Sequence[str] = ROTATION_INDUSTRIES,
    inputs: RotationInputs | None = None,
) -> pl.DataFrame:
    """Daily cap-weighted industry returns from member stocks (date, industry, return, level),
    with the equal-weight average of the industries as industry ``"equal_weight"``.

    Members are point in time (first price row .. the session before the published delisting);
    weights are the float cap at the previous close. See :class:`RotationInputs`.
    """
    if inputs is not None:
        dates, inds, ret = inputs.date_series, inputs.industries, inputs.returns
    else:
        market.require("prices", "assets", purpose="industry returns")
        assets, inds = _industry_members(market, _check_industries(industries), [])
        days, ret, _ = _industry_grids(market, assets, inds)
        dates = pl.Series("date", days.astype("datetime64[D]"), dtype=pl.Date)
    eq = _row_mean(ret)[:, None]
    names = (*inds, "equal_weight")
    allr = np.concatenate([ret, eq], axis=1)
    lev = _levels_frame(dates, names, allr).rename({"close": "level"})
    return (
        _long(dates, names, allr)
        .rename({"value": "return"})
        .join(lev, on=["date", "industry"], how="left")
        .sort("date", "industry")
    )


# -- books ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Universe:
    """The assets a rotation holds: the industry indices (index proxies) or one ETF per
    industry; the grid, the eligibility of each (row, industry), the equal-weight and the
    broad-index benchmark series."""

    grid: AssetGrid
    dates: np.ndarray  # the inputs' sessions
    broad_arr: np.ndarray  # the broad index's daily return on them (NaN: none)
    asset_of: tuple[str, ...]  # asset name of each industry ("" = not held)
    eligible: np.ndarray  # (T, G) bool
    equal: pl.DataFrame  # date, benchmark
    broad: pl.DataFrame | None  # date, broad
    asset: str
    index_name: str | None


def _universe(
    inputs: RotationInputs,
    asset: str,
    etf_map: pl.DataFrame | None,
    index: str | None,
    end_row: int,
) -> _Universe:
    dates = inputs.date_series
    inds = inputs.industries
    market = inputs.market
    broad = None
    broad_arr = np.full(len(inputs.dates), np.nan)
    if index is not None:
        market.require("indices", purpose=f"the rotation's excess against {index!r}")
        ix = market.indices.filter(pl.col("index") == index).select("date", "close").collect()
        if ix.height == 0:
            names = market.indices.select(pl.col("index").unique().sort()).collect()["index"]
            raise MarketError(
                f"table `indices` has no index {index!r} (it has {names.head(6).to_list()}); "
                "pass `index=` one of them, or index=None for no broad-index excess."
            )
        lvl = dates.to_frame().join(ix, on="date", how="left").sort("date")
        raw = lvl["close"].fill_null(np.nan).to_numpy()
        prev = ffill_rows(raw[:, None])[:, 0]
        # a day without an index close has no broad return (NaN), never a zero one
        r = np.full(raw.shape, np.nan)
        r[1:] = raw[1:] / prev[:-1] - 1.0
        broad_arr = r
        broad = pl.DataFrame({"date": dates, "broad": r}).with_columns(
            pl.col("broad").fill_nan(None)
        )
    if asset == "stocks":
        lev = _levels_frame(dates[: end_row + 1], inds, inputs.returns[: end_row + 1])
        grid = AssetGrid.from_indices(lev.rename({"industry": "index"}), tracking_bps=0.0)
        eligible = np.isfinite(inputs.returns)
        # an industry can be bought on a day it has a level
        eligible[:-1] |= np.isfinite(inputs.returns[1:])
        eq = _row_mean(inputs.returns)
        equal = pl.DataFrame({"date": dates, "benchmark": eq}).with_columns(
            pl.col("benchmark").fill_nan(0.0)
        )
        return _Universe(grid, inputs.dates, broad_arr, inds, eligible, equal, broad, asset, index)
    # ETFs
    if etf_map is None:
        etf_map = _default_etf_map()
    if not market.has("etfs"):
        raise MarketError(
            "the ETF rotation needs table `etfs` (industry ETF prices); this market has none "
            f"(tables: {', '.join(market.names)}). Use asset='stocks' (the industry indices) or "
            "a market with industry ETFs (the synthetic market has them)."
        )
    emap = _check_etf_map(etf_map)
    etfs = market.etfs.filter(pl.col("date") <= dates[end_row]).collect()
    have = set(etfs["etf"].unique().to_list())
    mapped = dict(zip(emap["industry"].to_list(), emap["etf"].to_list(), strict=True))
    asset_of = tuple(mapped.get(i, "") if mapped.get(i, "") in have else "" for i in inds)
    held = [a for a in asset_of if a]
    if len(held) < 2:
        raise MarketError(
            "the ETF rotation found ETF prices for "
            f"{len(held)} of the {len(inds)} industries in table `etfs` (mapped codes e.g. "
            f"{list(mapped.values())[:4]}; the table has e.g. {sorted(have)[:4]}); give the "
            "market an ETF for each industry, or pass `etf_map=` (industry, etf) with its codes."
        )
    grid = AssetGrid.from_etfs(etfs.filter(pl.col("etf").is_in(held)))
    close = np.full((len(dates), len(inds)), np.nan)
    rows = grid.index.date_rows(dates)
    for g, a in enumerate(asset_of):
        if a:
            col = int(grid.index.asset_cols(pl.Series([a]))[0])
            ok = rows >= 0
            close[ok, g] = grid.close[rows[ok], col]
    eligible = np.isfinite(close)
    filled = ffill_rows(close)
    r = np.full(close.shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        r[1:] = filled[1:] / filled[:-1] - 1.0
    eq = _row_mean(r)
    equal = pl.DataFrame({"date": dates, "benchmark": eq}).with_columns(
        pl.col("benchmark").fill_nan(0.0)
    )
    return _Universe(grid, inputs.dates, broad_arr, asset_of, eligible, equal, broad, asset, index)


def _default_etf_map() -> pl.DataFrame:
    try:
        from factorlab.etf import industry_etfs  # the shipped reference table (issue 14)
    except ImportError as exc:  # pragma: no cover - until factorlab.etf lands
        raise ParameterError(
            "the ETF rotation needs the industry -> ETF reference table "
            "(factorlab.etf.industry_etfs()), which this installation lacks; pass `etf_map=` "
            "(columns industry, etf)."
        ) from exc
    ref = industry_etfs()
    cols = ref.columns
    ind = "citic_industry" if "citic_industry" in cols else "industry"
    code = "etf" if "etf" in cols else "code"
    return ref.select(industry=pl.col(ind), etf=pl.col(code))


def _check_etf_map(etf_map: Any) -> pl.DataFrame:
    frame = etf_map.collect() if isinstance(etf_map, pl.LazyFrame) else etf_map
    if not isinstance(frame, pl.DataFrame) or not {"industry", "etf"} <= set(frame.columns):
        raise ParameterError(
            "`etf_map` must be a polars frame with columns `industry`, `etf` (one ETF per "
            f"industry); got {type(etf_map).__name__}"
            + (f" with columns {frame.columns}" if isinstance(frame, pl.DataFrame) else "")
            + "."
        )
    dup = frame.filter(pl.col("industry").is_duplicated())
    if dup.height:
        raise ParameterError(
            f"`etf_map` maps {dup['industry'].n_unique()} industr(ies) to several ETFs, e.g. "
            f"{dup.head(4).rows()}; keep one ETF per industry."
        )
    return frame.select(pl.col("industry").cast(pl.String), pl.col("etf").cast(pl.String))


def _anchor_rows(inputs: RotationInputs, weeks: int, lo_row: int, hi_row: int) -> np.ndarray:
    """Grid rows of the rebalance anchors: the last session of every `weeks`-th ISO week from
    the first week ending on or after row `lo_row`, up to row `hi_row`."""
    if hi_row < lo_row:
        return np.zeros(0, np.int64)
    d = inputs.dates
    lo = d[lo_row].astype("datetime64[D]").astype(dt.date)
    hi = d[hi_row].astype("datetime64[D]").astype(dt.date)
    anchors = rebalance_dates(lo, hi, "weekly", every=weeks).to_numpy().astype("datetime64[D]")
    rows = np.searchsorted(d, anchors)
    ok = (rows < len(d)) & (d[np.minimum(rows, len(d) - 1)] == anchors)
    return rows[ok]


def _ranked(
    value: np.ndarray, eligible: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, order, count): per row of `rows`, the industries by descending value among the
    eligible ones with a value (ties: the earlier industry of the list), and how many have one
    (the rest of `order` is the others)."""
    v = np.where(eligible[rows] & np.isfinite(value[rows]), value[rows], np.nan)
    key = np.where(np.isnan(v), np.inf, -v)
    order = np.argsort(key, axis=1, kind="stable")
    return rows, order, np.isfinite(v).sum(axis=1)


def _top_targets(
    ranked: tuple[np.ndarray, np.ndarray, np.ndarray], top: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, industry, rank) of the `top` first of each ranked row; rows with fewer values are
    skipped."""
    rows, order, count = ranked
    keep = count >= top
    n = int(keep.sum())
    return (
        np.repeat(rows[keep], top),
        order[keep, :top].ravel(),
        np.tile(np.arange(1, top + 1), n),
    )


def _window(
    inputs: RotationInputs, start: Any, end: Any, flows: Sequence[str],
    span: tuple[int, int] | None = None,
) -> tuple[int, int]:  # fmt: skip
    """Grid rows [lo, hi] of the signal window: `start` / `end` (default: the prepared flows'
    span, intersected over `flows`, or the rows `span` of an external factor)."""
    d = inputs.dates
    if span is not None:
        first, last = span
    else:
        first = max(inputs.flows[f].first for f in flows)
        last = min(inputs.flows[f].last for f in flows)
    lo, hi = first, last
    last_day = d[last].astype("datetime64[D]").astype(dt.date)
    if end is not None:
        end_d = to_date(end, "end")
        if end_d > last_day:
            change = disclosure_end(inputs.market)
            if end_d > change and span is None:
                raise DisclosureError(
                    f"`end` = {end_d} is after the last daily northbound disclosure "
                    f"({change}); the flows of this market end on {last_day}. The "
                    f"rotation needs daily holdings: pass end <= {last_day}, or inputs "
                    "built with rotation_inputs(estimated_holdings=) (seed 002's estimates)."
                )
            raise ParameterError(
                f"`end` = {end_d} is after the last day of "
                f"{'the factor' if span is not None else f'{list(flows)} flows'} ({last_day}); "
                f"pass end <= {last_day}."
            )
        hi = int(np.searchsorted(d, np.datetime64(end_d, "D"), side="right")) - 1
    if start is not None:
        lo = max(lo, int(np.searchsorted(d, np.datetime64(to_date(start, "start"), "D"))))
    if hi < lo:
        raise ParameterError(
            f"the signal window is empty: flows run {d[first].astype('datetime64[D]')} .. "
            f"{last_day}, `start` = {start}, `end` = {end}."
        )
    return lo, hi


def _stats(
    net: np.ndarray, excess: np.ndarray, broad: np.ndarray | None, turnover: np.ndarray,
    cost: np.ndarray,
) -> dict[str, float]:  # fmt: skip
    """The seed's table row: annual return, Sharpe, max drawdown, the same of the daily excess
    (and of the excess against the broad index), yearly turnover, total cost."""
    out = {
        "annual_return": annual_return(net),
        "sharpe": sharpe_ratio(net),
        "max_drawdown": max_drawdown(net),
        "excess_annual": annual_return(excess),
        "excess_sharpe": sharpe_ratio(excess),
        "excess_max_drawdown": max_drawdown(excess),
    }
    if broad is not None:
        # days without a broad-index return are left out (and counted), not zero excess
        eb = net - broad
        ok = np.isfinite(eb)
        out["excess_broad_annual"] = annual_return(eb[ok])
        out["excess_broad_sharpe"] = sharpe_ratio(eb[ok])
        out["broad_days_missing"] = float((~ok).sum())
    out["turnover"] = float(turnover.sum()) / max(len(net) / TRADING_DAYS, 1e-12)
    out["cost"] = float(cost.sum())
    return out


def _book_stats(book: BacktestResult, uni: _Universe) -> dict[str, float]:
    d = book.daily
    broad = None
    if uni.broad is not None:
        rows = np.searchsorted(uni.dates, d["date"].to_numpy().astype("datetime64[D]"))
        broad = uni.broad_arr[rows]
    return _stats(
        d["net"].to_numpy(), d["excess"].to_numpy(), broad, d["turnover"].to_numpy(),
        d["cost"].to_numpy(),
    )  # fmt: skip


def _daily(book: BacktestResult, uni: _Universe) -> pl.DataFrame:
    d = book.daily.select(
        "date", "nav_net", "net", "gross", "cost", "turnover", "benchmark", "excess"
    )
    if uni.broad is not None:
        d = d.join(uni.broad, on="date", how="left", maintain_order="left").with_columns(
            excess_broad=pl.col("net") - pl.col("broad")
        )
    return d.with_columns(excess_nav=(1.0 + pl.col("excess")).cum_prod())


def _run_books(
    uni: _Universe,
    targets: pl.DataFrame,
    *,
    costs: Costs | None,
    capital: float | None,
    lots: int | None,
) -> dict[Any, BacktestResult]:
    if targets.height == 0:
        return {}
    return backtest_many(
        uni.grid,
        targets.select("book", "date", "asset", "weight"),
        by="book",
        entry="next_close",
        capital=capital,
        lots=lots,
        costs=costs if costs is not None else NO_COSTS,
        benchmark=uni.equal,
    )


def _check_book_params(
    top: Any, rebalance: Any, asset: Any, n_inds: int, name: str = "top"
) -> tuple[int, int]:
    t = check_int(name, top, minimum=1)
    if t > n_inds:
        raise ParameterError(
            f"`{name}` = {t} is larger than the {n_inds} industries ranked; choose {name} <= "
            f"{n_inds}."
        )
    w = check_int("rebalance", rebalance, minimum=1)
    if asset not in get_args(RotationAsset):
        raise ParameterError(
            f"`asset` must be 'stocks' (the industry indices from member stocks) or 'etf' (one "
            f"ETF per industry); got {asset!r}."
        )
    return t, w


def _external_factor(inputs: RotationInputs, factor: Any) -> tuple[np.ndarray, tuple[int, int]]:
    """(T, G) grid of an external (date, industry, value) factor on the inputs' sessions, and
    its first and last rows. Industries the rotation does not rank are left out; a date that is
    not a session, a duplicate key or a non-finite value is an error."""
    lf = as_lazy(factor, name="factor")
    schema = lf.collect_schema()
    check_columns(schema, ["date", "industry", "value"], table="factor")
    check_numeric(schema, ["value"], table="factor")
    frame = lf.select(
        pl.col("date").cast(pl.Date), pl.col("industry").cast(pl.String), pl.col("value")
    ).collect()
    check_unique_keys(frame, ["date", "industry"], table="factor")
    frame = frame.filter(pl.col("industry").is_in(list(inputs.industries)))
    if frame.height == 0:
        raise ParameterError(
            "`factor` has no row for the ranked industries (e.g. "
            f"{list(inputs.industries[:4])}); its `industry` column must use the market's names."
        )
    bad = frame.filter(~pl.col("value").is_finite() | pl.col("value").is_null())
    if bad.height:
        raise ParameterError(
            f"`factor` has {bad.height} null or non-finite values, e.g. "
            f"{bad.head(3).rows()}; drop those rows (a missing value is no row)."
        )
    day = frame["date"].to_numpy().astype("datetime64[D]")
    row = np.searchsorted(inputs.dates, day)
    ok = (row < len(inputs.dates)) & (inputs.dates[np.minimum(row, len(inputs.dates) - 1)] == day)
    if not ok.all():
        off = frame.filter(pl.Series(~ok))
        raise ParameterError(
            f"`factor` has {off.height} rows on dates that are not sessions of `prices`, e.g. "
            f"{off.head(3).rows()}; date each value on the session it is known at the close."
        )
    col = (
        frame["industry"]
        .replace_strict(
            {name: g for g, name in enumerate(inputs.industries)}, return_dtype=pl.Int64
        )
        .to_numpy()
    )
    grid = np.full((len(inputs.dates), len(inputs.industries)), np.nan)
    grid[row, col] = frame["value"].to_numpy()
    return grid, (int(row.min()), int(row.max()))


def _signals(
    market: Market, inputs: RotationInputs | None, flow: str, n: Any, n_name: str,
    rebalance: Any, lookback: Any, skip: Any, scale: Any, asset: Any, industries: Any,
    start: Any, end: Any, etf_map: Any, index: str | None, factor: Any,
) -> tuple[
    RotationInputs, _Universe, np.ndarray, np.ndarray, tuple[int, ...], np.ndarray
]:  # fmt: skip
    """The checked parameters, the inputs, the universe, the factor grid and the anchor rows
    of one book (or one set of groups): what :func:`industry_rotation` and
    :func:`layered_groups` share. With an external `factor` the flows are not read."""
    lb, sk = _check_factor_params(flow, lookback, skip, scale)
    _check_book_params(n, rebalance, asset, len(_check_industries(industries)), n_name)
    if factor is None:
        inp = _inputs_for(market, inputs, [flow], industries)
    elif inputs is None:
        inp = rotation_inputs(market, flows=(), industries=industries)
    else:
        inp = inputs
    t, w = _check_book_params(n, rebalance, asset, len(inp.industries), n_name)
    if factor is None:
        value, span = _factor_grid(inp, flow, lb, sk, scale), None
    else:
        value, span = _external_factor(inp, factor)
    lo, hi = _window(inp, start, end, [flow], span)
    uni = _universe(inp, asset, etf_map, index, hi)
    est_from = inp.flows[flow].estimated_from if factor is None else None
    estimated = np.zeros(len(inp.dates), bool)
    if est_from is not None:
        estimated[:] = np.arange(len(inp.dates)) - sk >= est_from  # the window holds estimates
    return inp, uni, value, _anchor_rows(inp, w, lo, hi), (t, w, lb, sk), estimated


def _targets_frame(
    inputs: RotationInputs, uni: _Universe, value: np.ndarray, rows: np.ndarray,
    gs: np.ndarray, ranks: np.ndarray, book: Any,
) -> pl.DataFrame:  # fmt: skip
    return pl.DataFrame(
        {
            "book": pl.Series([book] * len(rows))
            if not isinstance(book, int)
            else pl.Series(np.full(len(rows), book)),
            "date": inputs.date_series.gather(rows),
            "industry": pl.Series(np.array(inputs.industries, dtype=object)[gs], dtype=pl.String),
            "asset": pl.Series(np.array(uni.asset_of, dtype=object)[gs], dtype=pl.String),
            "value": value[rows, gs],
            "rank": pl.Series(ranks, dtype=pl.Int64),
            "weight": np.ones(len(rows)),
        }
    )


@dataclass(frozen=True)
class RotationResult:
    """One TOP-N industry rotation book (:func:`industry_rotation`).

    ``targets``: date (signal date), industry, asset (held: the industry index or its ETF),
    value (factor), rank, weight (equal). ``factor``: the factor on the signal dates (date,
    industry, value). ``daily``: date, nav_net, net, gross, cost, turnover, benchmark (the
    equal-weight average of the industries, or of their ETFs), excess, excess_nav [, broad,
    excess_broad against `index`]. ``stats``: one row of the seed's table (annual return,
    Sharpe, max drawdown, excess annual, excess Sharpe, excess max drawdown, ...). ``book``: the
    :class:`~factorlab.backtest.BacktestResult`. ``params``, ``data``: what ran, on what.
    """

    params: dict[str, Any]
    targets: pl.DataFrame
    factor: pl.DataFrame
    daily: pl.DataFrame
    stats: pl.DataFrame
    book: BacktestResult | None = field(repr=False)
    data: dict[str, str] = field(default_factory=dict)

    def _display(self) -> Summary:
        p = self.params
        span = (
            f"{self.daily['date'].min()} .. {self.daily['date'].max()}"
            if self.daily.height
            else "no fill"
        )
        return Summary(
            f"RotationResult: {p['flow']} flows, TOP-{p['top']} every {p['rebalance']} week(s) "
            f"on {p['asset']}",
            (
                data_line(self),
                f"factor: {p['lookback']}-session flows skipping {p['skip']}, scale "
                f"{p['scale']}; {self.targets['date'].n_unique()} signals; {span}",
                f"costs: {p['costs']}",
            ),
            self.stats,
            "statistics (net of costs; excess vs the equal-weight industries)",
        )

    def __repr__(self) -> str:
        return self._display().text()

    def _repr_html_(self) -> str:
        return self._display().html()


def _costs_label(costs: Costs | None) -> str:
    if costs is None or costs == NO_COSTS:
        return "none"
    return (
        f"commission {costs.commission:.4%}/side, min {costs.min_commission:g}, stamp "
        f"{'schedule' if costs.stamp_duty is None else f'{costs.stamp_duty:.2%}'}, slippage "
        f"{costs.slippage_bps:g} bps"
    )


def industry_rotation(
    market: Market,
    *,
    flow: FlowKind = "trading",
    top: int = 5,
    rebalance: int = 2,
    lookback: int = 21,
    skip: int = 0,
    scale: Scale = "holding",
    asset: RotationAsset = "stocks",
    costs: Costs | None = ROTATION_COSTS,
    capital: float | None = 10_000_000.0,
    lots: int | None = None,
    index: str | None = "csi800",
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    industries: Sequence[str] = ROTATION_INDUSTRIES,
    etf_map: pl.DataFrame | None = None,
    inputs: RotationInputs | None = None,
    factor: pl.DataFrame | pl.LazyFrame | None = None,
) -> RotationResult:
    """A TOP-N industry rotation on the net-inflow factor (seed 004 §3.2-3.5).

    On the last session of every `rebalance`-th week, rank the industries by
    :func:`industry_flow_factor` (data published by that close) and hold the `top` highest
    equal-weighted from the next close (``entry="next_close"``) until the next rebalance.
    Defaults: the seed's trading-type strategy (1-month flows, biweekly, TOP-5).

    Parameters
    ----------
    flow, lookback, skip, scale, industries
        The factor (:func:`industry_flow_factor`).
    top
        Industries held (1 .. the number ranked).
    rebalance
        Weeks between rebalances: 1 weekly, 2 biweekly, 6 six-weekly.
    asset
        ``"stocks"``: the cap-weighted industry indices of member stocks, held as index proxies
        (no stamp duty, no limits, fractional); ``"etf"``: one ETF per industry
        (`etf_map`, default :func:`factorlab.etf.industry_etfs`), ranked only on days its ETF
        trades.
    costs
        Per-order :class:`~factorlab.backtest.Costs` (default :data:`ROTATION_COSTS`, ~0.3%
        round trip); ``None``: no costs.
    capital, lots
        Passed to :func:`~factorlab.backtest.backtest`.
    index
        The broad index of the second excess series (default ``"csi800"``); ``None``: none.
    start, end
        The signal window (default: the flows' span; end at most the last daily disclosure).
    etf_map
        (industry, etf) frame for ``asset="etf"``.
    inputs
        Prepared :class:`RotationInputs` to reuse.
    factor
        An external (date, industry, value) factor to rank on instead of the northbound flows
        (e.g. an ETF sector-flow factor of :mod:`factorlab.etf`): a value dated d must be known
        at d's close; `flow`, `lookback`, `skip`, `scale` are then not used (``params`` says
        ``flow="external"``).

    Raises
    ------
    ParameterError
        ``top`` larger than the industries, ``rebalance < 1`` and the errors of
        :func:`industry_flow_factor`; an external `factor` without the columns, with duplicate
        (date, industry) keys, non-finite values, or dates that are not sessions.
    MarketError
        A market without participant holdings for trading / allocation flows, without `etfs`
        for ``asset="etf"``, without the `index`.
    DisclosureError
        `end` after the last daily disclosure (2024-08-16).
    """
    inp, uni, value, rows, (t, w, lb, sk), estimated = _signals(
        market, inputs, flow, top, "top", rebalance, lookback, skip, scale, asset,
        industries, start, end, etf_map, index, factor,
    )  # fmt: skip
    r, g, k = _top_targets(_ranked(value, uni.eligible, rows), t)
    targets = _targets_frame(inp, uni, value, r, g, k, 0).with_columns(
        estimated=pl.Series(estimated[r], dtype=pl.Boolean)
    )
    books = _run_books(uni, targets, costs=costs, capital=capital, lots=lots)
    params = {
        "flow": flow, "top": t, "rebalance": w, "lookback": lb, "skip": sk, "scale": scale,
        "asset": asset, "costs": _costs_label(costs), "index": index,
        "flow_source": inp.flows[flow].source if factor is None else "external factor",
    }  # fmt: skip
    if factor is not None:
        params.update(flow="external", lookback=None, skip=None, scale=None)
    book = books.get(0)
    if book is None:
        raise ParameterError(
            f"no rebalance date of the window has {t} industries with a factor value; widen "
            "the window (`start`, `end`) or shorten `lookback` / `skip`."
        )
    daily = _daily(book, uni)
    stats = pl.DataFrame([_book_stats(book, uni)])
    return RotationResult(
        params=params,
        targets=targets.drop("book"),
        factor=_long(inp.date_series, inp.industries, value).filter(
            pl.col("date").is_in(targets["date"].unique().implode())
        ),
        daily=daily,
        stats=stats,
        book=book,
        data=data_description(inp.market),
    )


def seed_rotations(
    market: Market,
    *,
    asset: RotationAsset = "stocks",
    costs: Costs | None = ROTATION_COSTS,
    inputs: RotationInputs | None = None,
    **options: Any,
) -> dict[str, RotationResult]:
    """The seed's two named strategies (:data:`SEED_ROTATIONS`): trading-type biweekly TOP-5 on
    1-month flows, allocation-type 6-weekly TOP-5 skipping the latest month; `options` go to
    :func:`industry_rotation`."""
    inp = _inputs_for(market, inputs, ["trading", "allocation"],
                      options.get("industries", ROTATION_INDUSTRIES))  # fmt: skip
    return {
        name: industry_rotation(market, **spec, asset=asset, costs=costs, inputs=inp, **options)
        for name, spec in SEED_ROTATIONS.items()
    }


# -- layered groups ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayeredGroups:
    """Three (or `groups`) layered groups of industries by the factor (:func:`layered_groups`).

    ``groups``: date, industry, value, group (1 = highest factor values); every industry with
    a value is in exactly one group on each signal date. ``daily``: date, group, nav_net, net,
    benchmark (equal-weight industries), excess, excess_nav. ``stats``: one row per group.
    """

    params: dict[str, Any]
    groups: pl.DataFrame
    daily: pl.DataFrame
    stats: pl.DataFrame
    data: dict[str, str] = field(default_factory=dict)

    def _display(self) -> Summary:
        p = self.params
        return Summary(
            f"LayeredGroups: {p['groups']} groups of industries by {p['flow']} flows",
            (
                data_line(self),
                f"factor: {p['lookback']}-session flows skipping {p['skip']}, scale "
                f"{p['scale']}; every {p['rebalance']} week(s); costs {p['costs']}",
            ),
            self.stats,
            "statistics per group (1 = highest inflow)",
        )

    def __repr__(self) -> str:
        return self._display().text()

    def _repr_html_(self) -> str:
        return self._display().html()


def layered_groups(
    market: Market,
    *,
    flow: FlowKind = "all",
    groups: int = 3,
    rebalance: int = 1,
    lookback: int = 5,
    skip: int = 0,
    scale: Scale = "holding",
    asset: RotationAsset = "stocks",
    costs: Costs | None = None,
    capital: float | None = 10_000_000.0,
    index: str | None = "csi800",
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    industries: Sequence[str] = ROTATION_INDUSTRIES,
    etf_map: pl.DataFrame | None = None,
    inputs: RotationInputs | None = None,
    factor: pl.DataFrame | pl.LazyFrame | None = None,
) -> LayeredGroups:
    """Layered groups (seed 004 §3.2, 图38-39, 表9): on each rebalance date the ranked industries
    are cut into `groups` groups of (nearly) equal size by the factor, highest first (the n
    industries with a value, in rank order i = 0..n-1, go to group floor(i * groups / n) + 1),
    each held equal-weighted; their curves and excess curves against the equal-weight
    industries. Defaults: all flows, weekly, 1-week lookback, no costs.

    Parameters: as :func:`industry_rotation`; `groups` >= 2 and at most the industries.
    """
    n_g = check_int("groups", groups, minimum=2)
    inp, uni, value, rows, (n_g, w, lb, sk), estimated = _signals(
        market, inputs, flow, n_g, "groups", rebalance, lookback, skip, scale, asset,
        industries, start, end, etf_map, index, factor,
    )  # fmt: skip
    rr_, order, count = _ranked(value, uni.eligible, rows)
    parts = []
    for r, o, n in zip(rr_, order, count, strict=True):
        if n < n_g:
            continue
        parts.append((np.full(n, r), o[:n], np.arange(n) * n_g // n + 1))
    if not parts:
        raise ParameterError(
            f"no rebalance date of the window has {n_g} industries with a factor value; widen "
            "the window or shorten `lookback` / `skip`."
        )
    rr = np.concatenate([p[0] for p in parts])
    gg = np.concatenate([p[1] for p in parts])
    grp = np.concatenate([p[2] for p in parts])
    frame = _targets_frame(inp, uni, value, rr, gg, grp, 0).with_columns(
        book=pl.Series(grp, dtype=pl.Int64),
        group=pl.Series(grp, dtype=pl.Int64),
        estimated=pl.Series(estimated[rr], dtype=pl.Boolean),
    )
    books = _run_books(uni, frame, costs=costs, capital=capital, lots=None)
    dailies, stats = [], []
    for g_id, book in books.items():
        d = _daily(book, uni)
        dailies.append(d.with_columns(group=pl.lit(g_id, pl.Int64)))
        stats.append({"group": g_id, **_book_stats(book, uni)})
    daily = pl.concat(dailies).select("date", "group", pl.exclude("date", "group"))
    params = {
        "flow": flow, "groups": n_g, "rebalance": w, "lookback": lb, "skip": sk, "scale": scale,
        "asset": asset, "costs": _costs_label(costs), "index": index,
    }  # fmt: skip
    if factor is not None:
        params.update(flow="external", lookback=None, skip=None, scale=None)
    return LayeredGroups(
        params=params,
        groups=frame.select("date", "industry", "value", "group", "estimated"),
        daily=daily.sort("group", "date"),
        stats=pl.DataFrame(stats),
        data=data_description(inp.market),
    )


# -- the grid ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RotationGrid:
    """Every TOP-N x rebalance x lookback x flow (x skip x costs) book (:func:`rotation_grid`).

    ``table``: flow, lookback, skip, rebalance, top, costs (bool), signals, and the statistics
    of :class:`RotationResult` ``stats``; one row per book. ``excess``: the daily excess against
    the equal-weight industries of every book (date, flow, lookback, skip, rebalance, top,
    costs, excess), for the seed's curves and heatmaps.
    """

    params: dict[str, Any]
    table: pl.DataFrame
    excess: pl.DataFrame
    data: dict[str, str] = field(default_factory=dict)

    def best(self, by: str = "excess_sharpe", *, costs: bool = True) -> pl.DataFrame:
        """The best book per flow by `by` (with or without costs)."""
        t = self.table.filter(pl.col("costs") == costs)
        return (
            t.sort(by, descending=True, nulls_last=True)
            .group_by("flow", maintain_order=True)
            .first()
        )

    def _display(self) -> Summary:
        p = self.params
        return Summary(
            f"RotationGrid: {self.table.height} books",
            (
                data_line(self),
                f"flows {list(p['flows'])}; TOP {list(p['tops'])}; rebalance (weeks) "
                f"{list(p['rebalances'])}; lookbacks {list(p['lookbacks'])}; skips "
                f"{list(p['skips'])}; asset {p['asset']}",
            ),
            self.best().select(
                "flow", "lookback", "skip", "rebalance", "top", "excess_annual", "excess_sharpe"
            ),
            "best book per flow by excess Sharpe (with costs)",
        )

    def __repr__(self) -> str:
        return self._display().text()

    def _repr_html_(self) -> str:
        return self._display().html()


def rotation_grid(
    market: Market,
    *,
    flows: Sequence[FlowKind] = ("all", "trading", "allocation"),
    tops: Sequence[int] = TOPS,
    rebalances: Sequence[int] = REBALANCE_WEEKS,
    lookbacks: Sequence[int] = LOOKBACKS,
    skips: Sequence[int] = (0,),
    scale: Scale = "holding",
    asset: RotationAsset = "stocks",
    with_costs: Sequence[bool] = (False, True),
    costs: Costs = ROTATION_COSTS,
    capital: float | None = 10_000_000.0,
    index: str | None = "csi800",
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    industries: Sequence[str] = ROTATION_INDUSTRIES,
    etf_map: pl.DataFrame | None = None,
    inputs: RotationInputs | None = None,
) -> RotationGrid:
    """The TOP-N x rebalance x lookback grid (seed 004 表10-11, 图46, 图53) for each flow kind,
    skip, and with / without costs: one factor per (flow, lookback, skip), one target frame of
    every book, one :func:`~factorlab.backtest.backtest_many` call per cost setting.

    All books share one signal window (the intersection of the flows' spans, or `start` /
    `end`), so their statistics compare. Parameters: as :func:`industry_rotation`, one sequence
    each.
    """
    kinds = _kinds_needed(flows)
    inds = _check_industries(industries)
    tops_ = [_check_book_params(t, 1, asset, len(inds))[0] for t in tops]
    rebs = [check_int("rebalance", w, minimum=1) for w in rebalances]
    lbs = [check_int("lookback", lb, minimum=1) for lb in lookbacks]
    sks = [check_int("skip", s, minimum=0) for s in skips]
    if not (tops_ and rebs and lbs and sks and with_costs):
        raise ParameterError("`tops`, `rebalances`, `lookbacks`, `skips`, `with_costs` must be "
                             "non-empty.")  # fmt: skip
    _check_factor_params(kinds[0], lbs[0], sks[0], scale)
    inp = _inputs_for(market, inputs, kinds, inds)
    lo, hi = _window(inp, start, end, kinds)
    uni = _universe(inp, asset, etf_map, index, hi)
    anchors = {w: _anchor_rows(inp, w, lo, hi) for w in rebs}
    parts, keys = [], []
    for f in kinds:
        for lb in lbs:
            for sk in sks:
                value = _factor_grid(inp, f, lb, sk, scale)
                for w in rebs:
                    ranked = _ranked(value, uni.eligible, anchors[w])
                    for t in tops_:
                        r, g, k = _top_targets(ranked, t)
                        if len(r) == 0:
                            continue
                        b = len(keys)
                        keys.append((f, lb, sk, w, t))
                        parts.append(_targets_frame(inp, uni, value, r, g, k, b))
    if not parts:
        raise ParameterError(
            "no book of the grid has a rebalance date with enough industries; widen the window."
        )
    targets = pl.concat(parts)
    n_signals = targets.group_by("book").agg(pl.col("date").n_unique().alias("signals"))
    sig = dict(zip(n_signals["book"].to_list(), n_signals["signals"].to_list(), strict=True))
    rows, excess = [], []
    for c in dict.fromkeys(bool(x) for x in with_costs):
        books = _run_books(uni, targets, costs=costs if c else None, capital=capital, lots=None)
        for b, book in books.items():
            f, lb, sk, w, t = keys[b]
            key = {"flow": f, "lookback": lb, "skip": sk, "rebalance": w, "top": t, "costs": c}
            rows.append({**key, "signals": sig[b], **_book_stats(book, uni)})
            excess.append(
                book.daily.select("date", "excess").with_columns(
                    book=pl.lit(b, pl.Int64), costs=pl.lit(c)
                )
            )
    params = {
        "flows": kinds, "tops": tops_, "rebalances": rebs, "lookbacks": lbs, "skips": sks,
        "scale": scale, "asset": asset, "costs": _costs_label(costs), "index": index,
    }  # fmt: skip
    table = pl.DataFrame(rows).sort("flow", "lookback", "skip", "rebalance", "top", "costs")
    cols = ["date", "flow", "lookback", "skip", "rebalance", "top", "costs", "excess"]
    key_frame = (
        pl.DataFrame(keys, schema=["flow", "lookback", "skip", "rebalance", "top"], orient="row")
        .with_row_index("book")
        .with_columns(pl.col("book").cast(pl.Int64))
    )
    return RotationGrid(
        params=params,
        table=table,
        excess=pl.concat(excess).join(key_frame, on="book").select(cols),
        data=data_description(inp.market),
    )
