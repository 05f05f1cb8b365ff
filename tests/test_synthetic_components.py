"""The stock-level flow components and the quality style: each one is found in the generated
tables at strength > 0 and gone at strength 0 (``index_flow``, ``chasing``, ``flow_noise``,
``quality``; the planted return effects are in tests/test_synthetic.py).

Every market here is 200 stocks over 2017-2019 at seed 3 with the other planted return effects
off, so a measure reads one component. Markets of one seed share every random draw, so the
on / off comparisons differ by the component alone. Measured values (seeds 3 and 5, the
generator of GENERATOR_VERSION 8): chasing 8 / 0: 0.114 / 0.011 and 0.118 / 0.001; flow noise
8 / 0: 0.240 / 0.220 and 0.245 / 0.226; index flow 1 / 0: 0.87 / 0.52 (seed 3).
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from factorlab.datasets import CALIBRATED, PLANTED, Strengths, preset_params, synthetic_market
from factorlab.market import Market

slow = pytest.mark.slow  # six 200-stock markets, ~4 s each

KW = {"n_assets": 200, "start": "2017-01-01", "end": "2019-12-31", "seed": 3}
#: The planted return effects off: the measures below read one flow component each.
RETURNS_OFF = {"selection": 0.0, "timing": 0.0, "industry": 0.0, "allocation": 0.0}
ZERO = {"chasing": 0.0, "flow_noise": 0.0, "quality": 0.0, "index_flow": 0.0}


@pytest.fixture(scope="module")
def make(tmp_path_factory):
    made: dict[str, Market] = {}

    def get(name: str, **strengths: float) -> Market:
        if name not in made:
            made[name] = synthetic_market(
                **KW,
                **{**PLANTED, **RETURNS_OFF, **strengths},
                cache=tmp_path_factory.mktemp("comp") / name,
                progress=False,
            )
        return made[name]

    return get


def _wide(frame: pl.DataFrame, value: str) -> np.ndarray:
    wide = frame.pivot(on="asset", index="date", values=value).sort("date")
    return wide.select(sorted(wide.columns[1:])).to_numpy()


def _panels(m: Market, kind: str | None = "trading") -> tuple[np.ndarray, np.ndarray]:
    """(holdings of the participants of `kind` (None: all) / total shares, adjusted close),
    dates x stocks (NaN: no row)."""
    who = m.participants.filter(pl.col("kind") == kind if kind else pl.lit(True))
    held = (
        m.participant_holdings.join(who.select("participant"), on="participant")
        .group_by("date", "asset")
        .agg(pl.col("shares").sum())
    )
    px = m.prices.select(
        "date", "asset", "total_shares", (pl.col("close") * pl.col("adj_factor")).alias("adj")
    )
    frame = (
        px.join(held, on=["date", "asset"], how="left")
        .with_columns((pl.col("shares").fill_null(0) / pl.col("total_shares")).alias("ratio"))
        .filter(pl.col("date") >= pl.date(2017, 3, 17))
        .collect()
    )
    return _wide(frame, "ratio"), _wide(frame, "adj")


def _rank_corr(x: np.ndarray, y: np.ndarray) -> float:
    """Mean over rows of the cross-sectional Spearman correlation (rows with >= 20 pairs)."""
    out = []
    for a, b in zip(x, y, strict=True):
        ok = np.isfinite(a) & np.isfinite(b)
        if ok.sum() >= 20:
            ra, rb = (np.argsort(np.argsort(v[ok])) for v in (a, b))
            out.append(np.corrcoef(ra, rb)[0, 1])
    return float(np.mean(out))


def _log_ratio(m: Market) -> tuple[np.ndarray, np.ndarray]:
    ratio, adj = _panels(m)
    return np.log(np.where(ratio > 0, ratio, np.nan)), adj


def _samples(panel: np.ndarray) -> np.ndarray:
    """Every 5th session, with 40 sessions of history and 5 ahead."""
    return np.arange(40, len(panel) - 5, 5)


def _chasing(m: Market) -> float:
    """How trading holdings' 20-day change follows the stock's 20-day return."""
    lr, adj = _log_ratio(m)
    t = _samples(lr)
    return _rank_corr(lr[t] - lr[t - 20], adj[t] / adj[t - 20] - 1)


def _dispersion(m: Market) -> float:
    """Cross-sectional std of trading holdings' 5-day log change, averaged."""
    lr, _ = _log_ratio(m)
    t = _samples(lr)
    change = lr[t + 5] - lr[t]
    keep = np.isfinite(change).sum(axis=1) >= 20
    return float(np.mean(np.nanstd(change[keep], axis=1)))


@slow
def test_chasing_trading_flows_follow_past_returns_and_stop_at_zero(make):
    strong = _chasing(make("chase8", chasing=8.0))
    zero = _chasing(make("zero", **ZERO))
    assert strong > 0.08, strong
    assert abs(zero) < 0.04, zero


@slow
def test_flow_noise_widens_the_trading_flows_and_stops_at_zero(make):
    strong = _dispersion(make("noise8", flow_noise=8.0))
    zero = _dispersion(make("zero", **ZERO))
    assert strong > 1.04 * zero, (strong, zero)


@slow
def test_index_flow_holds_the_csi300_members_active_money_skips(make):
    def held_share(m: Market) -> float:
        members = m.pools.filter(pl.col("pool") == "csi300").select("date", "asset")
        held = m.northbound_truth.filter(pl.col("shares") > 0).select(
            "date", "asset", pl.lit(True).alias("held")
        )
        traded = m.prices.select("date", "asset")
        cells = members.join(traded, on=["date", "asset"]).join(
            held, on=["date", "asset"], how="left"
        )
        return cells.select(pl.col("held").fill_null(False).mean()).collect().item()

    on = held_share(make("planted"))
    off = held_share(make("zero", **ZERO))
    assert on > 0.8, on
    assert on - off > 0.2, (on, off)


@slow
def test_quality_premium_pays_the_stocks_allocation_money_holds(make):
    """The return difference of quality 5 vs 0 (same draws) is the premium x the loading: it
    rises with the holding ratio (allocation money prefers quality). The holding ratio's
    weekly rank IC is clearly positive at 5 and about nil at 0."""
    ratio_on, adj_on = _panels(make("quality5", quality=5.0), kind=None)
    ratio_zero, adj_zero = _panels(make("quality0", quality=0.0), kind=None)
    gain = np.log(adj_on[-1] / adj_on[0]) - np.log(adj_zero[-1] / adj_zero[0])
    level = np.nanmean(np.where(ratio_on > 0, ratio_on, np.nan), axis=0)
    assert _rank_corr(level[None, :], gain[None, :]) > 0.15

    def weekly_ic(ratio: np.ndarray, adj: np.ndarray) -> float:
        t = _samples(ratio)
        return _rank_corr(np.where(ratio[t] > 0, ratio[t], np.nan), adj[t + 5] / adj[t] - 1)

    on, zero = weekly_ic(ratio_on, adj_on), weekly_ic(ratio_zero, adj_zero)
    assert on > 0.012 and abs(zero) < 0.006, (on, zero)


def test_presets_default_and_large_are_calibrated_small_is_planted():
    assert preset_params("default").strengths == Strengths.calibrated()
    assert preset_params("large").strengths == Strengths.calibrated()
    assert preset_params("small").strengths == Strengths.planted() == Strengths()
    assert Strengths(**PLANTED) == Strengths.planted()
    assert Strengths.calibrated() != Strengths.planted()
    # an override on a preset replaces the calibrated value
    assert preset_params("default", selection=0.0).strengths.selection == 0.0
    assert preset_params("default", selection=0.0).strengths.quality == CALIBRATED["quality"]


@pytest.mark.parametrize("make", [Strengths.planted, Strengths.calibrated])
def test_a_strength_that_does_not_exist_is_a_parameter_error(make):
    from factorlab.errors import ParameterError

    with pytest.raises(ParameterError, match=r"unknown strength\(s\) \['selectoin'\].*'selection'"):
        make(selectoin=0.5)
    with pytest.raises(ParameterError, match="`selection` must be a finite number >= 0"):
        make(selection=-1.0)
    with pytest.raises(ParameterError, match="`selection` must be a finite number >= 0; got 5"):
        make(selection="5")
    assert make(selection=0.5).selection == 0.5
