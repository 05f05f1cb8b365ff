"""The deterministic synthetic A-share market with northbound capital (the embedded default).

Every table of the canonical data model, shaped like the real market, with planted effects of
configurable strength and the ground truth real data never gives. See ``docs/synthetic.md``.
"""

from __future__ import annotations

import datetime as dt
import logging
import numbers
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field, fields

import numpy as np
import polars as pl

from factorlab._arrays import ffill_rows
from factorlab._kernels.grid import nan_cumsum_count_rows_nb
from factorlab._kernels.parallel import Later, caller_threads, computed_ahead
from factorlab.calendar import (
    DISCLOSURE_END,
    SH_CONNECT_LAUNCH,
    SZ_CONNECT_LAUNCH,
    sessions,
    to_date,
)
from factorlab.datasets._synth_kernels import (
    ar1_nb,
    bar_ohlc_nb,
    bar_volume_nb,
    by_industry_nb,
    cumprod_rows,
    cumsum_rows,
    float_fraction_nb,
    holdings_nb,
    lag_nan_to_num_nb,
    nan_to_num,
    northbound_shares_nb,
    price_limits_nb,
    prices_nb,
    split_shares_nb,
)
from factorlab.errors import ParameterError
from factorlab.etf.reference import ROTATION_EXCLUDED, industry_etfs, sector_etfs
from factorlab.grid import CHINEXT_REFORM
from factorlab.pools import (
    LIQUIDITY_MIN_LISTED,
    LIQUIDITY_SIZE,
    LIQUIDITY_WINDOW,
    liquidity_members,
    review_sessions,
    rolling_mean_at,
)
from factorlab.typing import Progress

__all__ = [
    "CALIBRATED",
    "CITIC_INDUSTRIES",
    "DISCLOSURE_END",
    "DISCLOSURE_START",
    "PLANTED",
    "Strengths",
    "SynthParams",
    "generate",
    "iter_tables",
    "liquidity_pool_size",
]

log = logging.getLogger(__name__)

#: First day of daily per-stock and per-participant northbound holdings disclosure.
DISCLOSURE_START = dt.date(2017, 3, 17)
# (Daily disclosure ends on ``factorlab.calendar.DISCLOSURE_END``; afterwards quarterly
# snapshots + the short_sellable table.)

#: Effects are multiplied by ``Strengths.decay_after_2021`` from this day on.
DECAY_START = dt.date(2021, 1, 1)
QUOTA_RAISE = dt.date(2018, 5, 1)
STAR_LAUNCH = dt.date(2019, 7, 22)
FOREIGN_HALT_AT = 0.28
FOREIGN_RESUME_BELOW = 0.26
FOREIGN_CAP = 0.30
SHORT_SELL_PRINT_BELOW = 300_000
#: Short-sell allowance: this fraction of the start-of-day northbound holdings, rounded down.
SHORT_SELL_ALLOWANCE = 0.01
#: Share of the Connect-eligible stocks on the short-selling list, by size (about 71% of the
#: stocks northbound holds, as seed 002 counts them).
SHORT_SELL_LIST_SHARE = 0.8

#: CITIC level-1 industries with rough shares of the number of listed stocks.
CITIC_INDUSTRIES: dict[str, float] = {
    "机械": 8.0,
    "基础化工": 7.5,
    "电子": 7.0,
    "医药": 7.5,
    "计算机": 5.5,
    "电力设备及新能源": 5.5,
    "汽车": 4.5,
    "建筑": 3.5,
    "轻工制造": 3.0,
    "传媒": 3.0,
    "商贸零售": 2.5,
    "食品饮料": 2.5,
    "有色金属": 3.0,
    "通信": 2.5,
    "电力及公用事业": 3.5,
    "交通运输": 3.0,
    "纺织服装": 2.5,
    "农林牧渔": 2.5,
    "房地产": 2.5,
    "国防军工": 2.0,
    "建材": 2.0,
    "非银行金融": 2.0,
    "家电": 1.8,
    "钢铁": 1.2,
    "环保": 1.5,
    "消费者服务": 1.2,
    "石油石化": 1.2,
    "煤炭": 1.0,
    "银行": 1.0,
    "综合": 0.6,
}
#: Industries the allocation money overweights (consumer, new energy, medicine) and by how much.
ALLOCATION_TILT = {"食品饮料": 2.2, "家电": 2.0, "电力设备及新能源": 1.8, "医药": 1.6, "银行": 1.3}
#: Big-cap sectors: a few mega caps live here.
MEGA_CAP_INDUSTRIES = ("银行", "非银行金融", "食品饮料", "石油石化")

#: The industry ETF of every industry the rotation rotates (CITIC level-1 minus
#: ``ROTATION_EXCLUDED``): seed 004 §3.5's real codes from the shipped reference table
#: (``factorlab.etf.industry_etfs``), synthetic 5199xx codes where the seed has none.
SECTOR_ETF_CODES: dict[str, str] = dict(
    industry_etfs(synthetic=True).select("citic_industry", "etf").iter_rows()
)
BROAD_ETF_CODES = {"csi300": "510300.SH", "csi500": "510500.SH", "csi800": "515800.SH"}
INDEX_BASE = {"csi300": 3500.0, "csi500": 6000.0, "csi800": 4000.0, "csi_all": 4500.0}

#: Listed A-shares (Shanghai and Shenzhen, no Beijing) by date, roughly the real counts; the
#: synthetic universe follows its shape (``n_assets`` stocks are listed at the end).
LISTED_COUNT = (
    (dt.date(2014, 11, 17), 2580.0),
    (dt.date(2016, 1, 1), 2830.0),
    (dt.date(2017, 1, 1), 3050.0),
    (dt.date(2018, 1, 1), 3480.0),
    (dt.date(2019, 1, 1), 3580.0),
    (dt.date(2020, 1, 1), 3760.0),
    (dt.date(2021, 1, 1), 4150.0),
    (dt.date(2022, 1, 1), 4600.0),
    (dt.date(2023, 1, 1), 5080.0),
    (dt.date(2024, 1, 1), 5340.0),
    (dt.date(2024, 12, 31), 5390.0),
    (dt.date(2026, 12, 31), 5500.0),
)
#: Allocation ratio level (of total shares of eligible stocks) by calendar date, interpolated.
_ALLOCATION_LEVEL = (
    (dt.date(2014, 11, 17), 0.0007),
    (dt.date(2016, 1, 1), 0.002),
    (dt.date(2017, 1, 1), 0.0035),
    (dt.date(2018, 1, 1), 0.0055),
    (dt.date(2019, 1, 1), 0.007),
    (dt.date(2020, 1, 1), 0.0085),
    (dt.date(2021, 6, 30), 0.011),
    (dt.date(2022, 6, 30), 0.0095),
    (dt.date(2023, 6, 30), 0.009),
    (dt.date(2024, 12, 31), 0.0085),
    (dt.date(2026, 12, 31), 0.0085),
)
#: USD/CNY anchors by date (the simulated path wanders around them).
_FX_ANCHORS = (
    (dt.date(2014, 1, 1), 6.10),
    (dt.date(2015, 8, 10), 6.20),
    (dt.date(2016, 1, 1), 6.50),
    (dt.date(2017, 1, 1), 6.95),
    (dt.date(2018, 3, 1), 6.30),
    (dt.date(2019, 9, 1), 7.15),
    (dt.date(2021, 6, 1), 6.40),
    (dt.date(2022, 3, 1), 6.32),
    (dt.date(2022, 11, 1), 7.25),
    (dt.date(2023, 2, 1), 6.75),
    (dt.date(2024, 1, 1), 7.10),
    (dt.date(2026, 12, 31), 7.10),
)


#: Allocation holdings move 2% of the way to target a day (holdings_nb speed_a), trading
#: holdings 30% (speed_t).
ALLOCATION_SPEED = 0.02
TRADING_SPEED = 0.3
#: The largest ``Strengths.allocation_speed``: 10 x ``ALLOCATION_SPEED`` (2%) = 20% a day.
MAX_ALLOCATION_SPEED = 10.0
#: The largest ``Strengths.trading_speed``: 1 / ``TRADING_SPEED`` (all the way to target a day).
MAX_TRADING_SPEED = 1.0 / TRADING_SPEED


@dataclass(frozen=True)
class Strengths:
    """Strengths of the planted effects; 0 turns an effect off.

    The dataclass defaults are the planted-effect tests' strengths (:meth:`planted`, strong
    enough to recover every effect on a 400-stock market, the ``small`` preset's); the
    ``default`` and ``large`` presets use the realistic :meth:`calibrated` ones (the handbook's
    Sharpe ratios, ICs and turnover, docs/calibration.md).

    - ``selection``: trading-type flows lead next-week stock returns (weekly rank IC of a few %).
    - ``timing``: trading-type aggregate flows lead index returns; allocation flows do not.
    - ``industry``: industry flows lead industry returns.
    - ``allocation``: allocation tilts pay off slowly (over ~6 weeks).
    - ``decay_after_2021``: multiplier applied to every effect from 2021-01-01 on.
    - ``quality``: the premium of the quality style that allocation money prefers (the static
      factors' rank IC); at 0 the style keeps its volatility.

    The stock-level flow components (each multiplies the size of one independent part of the
    trading or allocation money's stock flows; 0 removes it):

    - ``index_flow``: passive money tracking CSI 300 (index inclusion / exclusion flows at the
      reviews).
    - ``chasing``: trading money chasing the stock's past 20-day return.
    - ``flow_noise``: uninformed stock-specific trading flows (weeks of memory).

    The sizes and risks the calibration moves (docs/calibration.md; each multiplies one
    constant of the generator, 1 the planted size):

    - ``selection_vol``: the day-to-day volatility of the selection payoff: the payoff of day t
      is multiplied by ``1 + SELECTION_PAYOFF_VOL x selection_vol x e_t`` (e_t a market-wide
      unit shock, mean 0), so the flow factors' IC varies from week to week as a real one does,
      at the same mean (0 in the planted strengths: a steady payoff).
    - ``sell_weight``: how much more informed sells pay than buys (``SELECTION_SELL_WEIGHT``).
    - ``selection_flow``: how far the information moves trading holdings (``SELECTION_TILT``).
    - ``trading_money``: the size of trading money (``TRADING_LEVEL`` and ``TRADING_BASKET``):
      its share of the northbound holding value.
    - ``quality_vol`` and ``quality_taste``: the quality style's volatility (``QUALITY_VOL``)
      and allocation money's preference for it (``QUALITY_TASTE``).
    - ``fx_flow``: allocation money's response to the yuan (``FX_TILT``).
    - ``market_flow``: the market-wide flows (``MARKET_BURST_TILT``, ``TIMING_TILT``).
    - ``market_concentration``: how far the market-wide flows (the yuan, allocation money's
      market bursts, trading money's timing baskets) go through the large holdings: stock j's
      loading on them is ``beta_j = exp(c x size z_j)`` (c = ``MARKET_CONCENTRATION`` x
      ``market_concentration``), normalized to a holding-weighted mean of 1 and capped at
      ``MAX_MARKET_LOADING``, so the total moves about as much as at 0 while the small holdings
      (the stocks still printed after the disclosure change) trade mostly on their own (seed
      002: the naive baseline's R² ≈ 0). At 0 (planted and calibrated) every holding moves by
      the same ratio; docs/estimation.md §4 says why it is not yet calibrated.
    - ``daily_noise``: the day-to-day noise of both kinds of holdings (``ALLOCATION_NOISE``,
      ``TRADING_NOISE``).
    - ``interest_size`` and ``liquidity``: which stocks active northbound money follows. The
      chance is sigmoid(``INTEREST_BIAS`` + ``INTEREST_SIZE`` x `interest_size` x size z +
      ``INTEREST_QUALITY`` x quality + ``INTEREST_LIQUIDITY`` x `liquidity` x lambda), with
      lambda a per-stock liquidity draw (standard normal, its own stream) that also scales
      the stock's turnover by exp(``LIQUIDITY_TURNOVER`` x `liquidity` x lambda): foreign money
      follows the liquid names more than the mid caps as such (seed 001 p.8/p.11: coverage
      99 / 56 / 76% in CSI 300 / CSI 500 / liq1500). At `liquidity` 0 (planted) lambda plays
      no part.
    - ``turnover_size``: the slope of a stock's turnover on its size (``TURNOVER_SIZE``: small
      caps turn over more).
    - ``allocation_speed``: how fast allocation holdings move to their target
      (``ALLOCATION_SPEED`` of the way a day at 1), in (0, ``MAX_ALLOCATION_SPEED``].
    - ``trading_speed``: how fast trading holdings move to their target (``TRADING_SPEED``, 30%
      of the way a day at 1), in (0, ``MAX_TRADING_SPEED``]. Slower trading money buys each
      change of its views over more days, so its stock flows persist from week to week (the
      dynamic factors' weekly turnover, docs/calibration.md).
    - ``block_trades``: heavy-tailed single-stock bursts of allocation money (block trades,
      an index inclusion, a single-stock view): on a share ``BLOCK_RATE`` of stock-days its
      holding jumps by a Student-t (``BLOCK_DF`` degrees of freedom) draw times
      ``BLOCK_SIZE`` x `block_trades` x the day's median holding value, in yuan (about the
      same size in every stock), capped at ``MAX_BLOCK`` of the stock's holding, and then
      unwinds at allocation money's speed (``ALLOCATION_SPEED``: the burst is a holding, kept
      for weeks, not a round trip). Relative to a small holding a burst is large: the sum of
      the small holdings' yuan flows (the stocks still printed after the disclosure change,
      what seed 002's naive baseline reads) fills with bursts, while their typical relative
      move still carries the market-wide part (docs/estimation.md §4). At 0 (planted and
      calibrated) there are no bursts; docs/estimation.md §4 says why it is not calibrated.
    - ``allocation_bursts``: the size of allocation money's uninformed industry bursts
      (``BURST_TILT``; their price pressure is unchanged). Seed 004 §1.3.2: allocation money's
      industry allocation is a long, stable trend; its bursts are the churn of the dynamic
      factors' allocation part (docs/calibration.md).
    - ``trading_baskets`` and ``basket_size``: the size of trading money's industry baskets
      (``TRADING_BASKET``, on top of ``trading_money``) and their tilt to size
      (``BASKET_SIZE_TILT``). At `basket_size` 0 a view moves every followed stock of its
      industry by the same share of its float, which the study's industry neutralization
      removes; at 1 (planted) the large caps move more, an industry x size interaction whose
      sign turns with the view (the dynamic factors' weekly churn, docs/calibration.md).
    - ``interest_quality``: the weight of quality in the chance that active money follows a
      stock (``INTEREST_QUALITY``, in the sigmoid above). Where a pool is partly followed (CSI
      500, liq1500), the followed members, which every flow factor's long leg is drawn from,
      load the quality premium through it.
    - ``trading_dispersion``: the spread of trading money's per-stock weight in its stock part,
      exp(N(0, ``TRADING_DISPERSION`` x `trading_dispersion`)): how far a stock's trading yuan
      flows are sized by something other than its information.
    - ``preference``: how far allocation money's slow stock preference h moves its holdings,
      exp(``PREFERENCE_TILT`` x `preference` x h): the size of allocation money's own stock
      flows beside its market-wide ones, which go pro rata into its quality-tilted holdings
      (docs/calibration.md measured it for the L/S correlation; 1 at the planted and the
      calibrated strengths).
    - ``timing_baskets``: the size of trading money's market-timing baskets alone
      (``TIMING_TILT``, on top of ``market_flow``, which also scales allocation money's market
      bursts): trading money's aggregate buying and selling, the same share of every followed
      stock's float, which moves the relative flows of the short-window factors (#8, #12, #13)
      by the stocks' holdings (docs/calibration.md; 1 at the planted and the calibrated
      strengths).
    - ``sell_timing``: how far trading money times its sells to the stock's high-volume and
      big-rise days (seed 001 §2.3: an outflow on such a day is followed by underperformance,
      which is why #12's and #13's L/S comes from the short leg). On the days its holding is
      above its target, trading money moves ``m x`` its speed, ``m = exp(k x_tj)`` over the
      stock's mean of it (capped so no day overshoots the target), with ``k = SELL_TIMING x
      sell_timing`` and x_tj the day's activity: the mean of the stock's standardized log
      turnover (what #12 ranks) and of its return over its idiosyncratic sigma (what #13
      ranks), clipped at ±3. The informed sells (the names whose payoff is ``sell_weight``
      x larger) then land on the days #12 and #13 read, the informed buys do not. At 0
      (planted and calibrated) every day's speed is the same.
    """

    selection: float = 1.0
    timing: float = 1.0
    industry: float = 1.0
    allocation: float = 1.0
    decay_after_2021: float = 0.4
    quality: float = 1.0
    index_flow: float = 1.0
    chasing: float = 1.0
    flow_noise: float = 1.0
    selection_vol: float = 0.0
    sell_weight: float = 1.0
    selection_flow: float = 1.0
    trading_money: float = 1.0
    quality_vol: float = 1.0
    quality_taste: float = 1.0
    fx_flow: float = 1.0
    market_flow: float = 1.0
    daily_noise: float = 1.0
    market_concentration: float = 0.0
    interest_size: float = 1.0
    liquidity: float = 0.0
    turnover_size: float = 1.0
    allocation_speed: float = 1.0
    block_trades: float = 0.0
    trading_speed: float = 1.0
    allocation_bursts: float = 1.0
    trading_baskets: float = 1.0
    basket_size: float = 1.0
    interest_quality: float = 1.0
    trading_dispersion: float = 1.0
    preference: float = 1.0
    timing_baskets: float = 1.0
    sell_timing: float = 0.0

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 0:
                raise ParameterError(
                    f"strength `{name}` must be a finite number >= 0; got {value}."
                )
        if not 0.0 < self.allocation_speed <= MAX_ALLOCATION_SPEED:
            raise ParameterError(
                f"strength `allocation_speed` must be in (0, {MAX_ALLOCATION_SPEED:g}]: a"
                " multiple of ALLOCATION_SPEED, the share of the way to target allocation"
                f" holdings move a day (0 would never move); got {self.allocation_speed}."
            )
        if not 0.0 < self.trading_speed <= MAX_TRADING_SPEED:
            raise ParameterError(
                f"strength `trading_speed` must be in (0, {MAX_TRADING_SPEED:.4g}]: a multiple"
                " of TRADING_SPEED, the share of the way to target trading holdings move a day"
                f" (0 would never move, above the bound past it); got {self.trading_speed}."
            )

    @classmethod
    def planted(cls, **overrides: float) -> Strengths:
        """The planted-effect tests' strengths (the dataclass defaults): strong enough that a
        400-stock market recovers every planted effect with margin. The presets ``default`` and
        ``large`` use the weaker, realistic :meth:`calibrated` strengths instead; a test that
        recovers a planted effect asks for these explicitly (``PLANTED``), so the presets'
        strengths can move without thinning the tests.

        Raises
        ------
        ParameterError
            An override names no strength, or its value is out of range.
        """
        return cls(**_known_strengths(overrides))

    @classmethod
    def calibrated(cls, **overrides: float) -> Strengths:
        """The strengths of the ``default`` and ``large`` presets: the planted effects at the
        size the handbook measures on the real market (docs/calibration.md).

        Raises
        ------
        ParameterError
            An override names no strength, or its value is out of range.
        """
        return cls(**{**CALIBRATED, **_known_strengths(overrides)})


def _known_strengths(overrides: dict[str, float]) -> dict[str, float]:
    """`overrides`, checked to name strengths only (a clear error, not a TypeError)."""
    names = {f.name for f in fields(Strengths)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ParameterError(f"unknown strength(s) {unknown}; the strengths are {sorted(names)}.")
    return overrides


#: The planted-effect tests' strengths as keyword arguments of ``synthetic_market``.
PLANTED: dict[str, float] = asdict(Strengths.planted())
#: The presets' calibrated strengths, where they differ from :data:`PLANTED`
#: (docs/calibration.md says why each value).
CALIBRATED: dict[str, float] = {
    # the payoffs, at the size of the handbook's Sharpe ratios and ICs
    "selection": 0.18,
    "industry": 0.1,
    "allocation": 0.3,
    "quality": 2.5,
    # the risks around them: the selection payoff and the quality style vary from day to day
    "selection_vol": 0.8,
    "quality_vol": 2.0,
    # informed sells pay 5x buys (the special-period factors' short leg, seed 001 §2.3)
    "sell_weight": 2.5,
    # the flows: less trading money (seed 004 表3), slower and steadier holdings
    "trading_money": 0.5,
    "selection_flow": 0.2,
    "quality_taste": 3.0,
    "fx_flow": 0.33,
    "market_flow": 0.5,
    "daily_noise": 0.3,
    # steadier flows (docs/calibration.md, dynamic turnover): allocation money's industry
    # bursts at a third (seed 004: its industry allocation is a stable trend), trading money's
    # industry baskets the same share of every followed stock's float, and 2.2x larger (its
    # share of the value, seed 004 表3)
    "allocation_bursts": 1 / 3,
    "trading_baskets": 2.2,
    "basket_size": 0.0,
    # slower trading money (a quarter of TRADING_SPEED: its holdings turn over in weeks, not
    # days, so the dynamic factors' top legs turn over 6-20% a week), and active money that
    # follows quality more (the static factors' IC, docs/calibration.md)
    "trading_speed": 1 / 4,
    "interest_quality": 1.5,
}


@dataclass(frozen=True)
class SynthParams:
    """Parameters of one synthetic market; equal parameters give identical tables."""

    n_assets: int = 1500
    start: dt.date = dt.date(2016, 1, 1)
    end: dt.date = dt.date(2024, 12, 31)
    seed: int = 20240816
    strengths: Strengths = field(default_factory=Strengths)
    holders_per_stock: float = 8.0
    n_participants: int = 200
    disclosure_change: dt.date = DISCLOSURE_END

    def __post_init__(self) -> None:
        if not isinstance(self.disclosure_change, dt.date) or isinstance(
            self.disclosure_change, dt.datetime
        ):
            object.__setattr__(
                self, "disclosure_change", to_date(self.disclosure_change, "disclosure_change")
            )
        if self.disclosure_change < DISCLOSURE_START:
            raise ParameterError(
                f"`disclosure_change` (the last day of daily holdings disclosure) must be on or "
                f"after the first disclosure day {DISCLOSURE_START}; got {self.disclosure_change}."
            )
        if self.n_assets < 50:
            raise ParameterError(f"`n_assets` must be at least 50; got {self.n_assets}.")
        if self.n_participants < 10:
            raise ParameterError(
                f"`n_participants` must be at least 10; got {self.n_participants}."
            )
        if self.start >= self.end:
            raise ParameterError(f"`start` must be before `end`; got {self.start} .. {self.end}.")
        if self.start < SH_CONNECT_LAUNCH:
            raise ParameterError(
                f"`start` must be on or after the Stock Connect launch {SH_CONNECT_LAUNCH}; "
                f"got {self.start}."
            )
        if self.holders_per_stock < 2:
            raise ParameterError(
                f"`holders_per_stock` must be at least 2; got {self.holders_per_stock}."
            )

    def to_json(self) -> dict:
        out = asdict(self)
        out["start"] = self.start.isoformat()
        out["end"] = self.end.isoformat()
        out["disclosure_change"] = self.disclosure_change.isoformat()
        return out


def _interp_by_date(days: np.ndarray, anchors: tuple[tuple[dt.date, float], ...]) -> np.ndarray:
    x = np.array([np.datetime64(d, "D") for d, _ in anchors]).astype(np.int64)
    y = np.array([v for _, v in anchors])
    return np.interp(days.astype(np.int64), x, y)


def _student_t(rng: np.random.Generator, shape: tuple[int, ...] | int, df: float = 4.0):
    """Unit-variance Student-t draws (fat tails)."""
    return rng.standard_t(df, size=shape) / np.sqrt(df / (df - 2.0))


def _lag(x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    out[0] = 0.0
    out[1:] = x[:-1]
    return out


def _effect_path(days: np.ndarray, strength: float, decay: float) -> np.ndarray:
    return np.where(days >= np.datetime64(DECAY_START), strength * decay, strength)


class _Universe:
    """Stocks: codes, exchange, board, industry, listing, ST, suspensions, sizes.

    Built in steps that draw from one generator in a fixed order (the synthetic market's
    content depends on it): listing, codes (then every array is sorted by code), sizes, float
    fractions, ST spells and suspensions, price limits.
    """

    def __init__(self, p: SynthParams, days: np.ndarray, rng: np.random.Generator) -> None:
        n = p.n_assets
        names = list(CITIC_INDUSTRIES)
        w = np.array(list(CITIC_INDUSTRIES.values()))
        self.industries = names
        self.industry = rng.choice(len(names), size=n, p=w / w.sum())
        self._draw_listing(days, rng)
        star, chinext = self._draw_codes(rng)
        logcap = self._draw_sizes(rng)
        self._draw_float(days, logcap, rng)
        self._draw_trading(days, rng)
        self.limit = _price_limits(days, self.is_st, star, chinext)
        self.star, self.chinext = star, chinext

    def _draw_listing(self, days: np.ndarray, rng: np.random.Generator) -> None:
        """Listing dates following the real count of listed A-shares (``LISTED_COUNT``): the
        stocks listed at the window's start list 400-9,000 days before it, the others at the
        dates the real count grows (2017 and 2020-2022 are the big IPO years); a few delist."""
        n, n_t = len(self.industry), len(days)
        c0, c1 = _interp_by_date(days[[0, -1]], LISTED_COUNT)
        pre = rng.random(n) < c0 / c1
        pre_offset = rng.integers(400, 9000, size=n)
        # in-window listings: invert the count curve at a uniform draw between c0 and c1
        curve = _interp_by_date(days, LISTED_COUNT)
        at = np.searchsorted(curve, rng.uniform(c0, c1, size=n))
        list_idx = np.where(pre, 0, np.clip(at, 1, max(1, n_t - 120)))
        list_date = np.where(pre, days[0] - pre_offset.astype("timedelta64[D]"), days[list_idx])
        self.list_idx = list_idx
        self.list_date = list_date
        delist_idx = np.full(n, n_t, dtype=np.int64)
        can_delist = list_idx < n_t - 500
        dl = can_delist & (rng.random(n) < 0.03)
        lo = np.minimum(list_idx + 250, n_t - 2)
        delist_idx[dl] = rng.integers(lo[dl], n_t - 1)
        self.delist_idx = delist_idx

    def _draw_codes(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Exchange, board and code; sorts every per-asset array by code. ``(star, chinext)``."""
        n, list_date = len(self.industry), self.list_date
        sh = rng.random(n) < 0.5
        star = sh & (list_date >= np.datetime64(STAR_LAUNCH)) & (rng.random(n) < 0.45)
        chinext_ok = list_date >= np.datetime64("2009-10-30")
        u = rng.random(n)
        chinext = ~sh & chinext_ok & (u < 0.4)
        sme = ~sh & ~chinext & (u < 0.75)
        boards = {
            "sh_main": (sh & ~star, np.r_[600000:604000, 605000:606000]),
            "star": (star, np.arange(688000, 689000)),
            "sz_main": (~sh & ~chinext & ~sme, np.arange(1, 2000)),
            "sme": (sme, np.arange(2000, 4000)),
            "chinext": (chinext, np.arange(300000, 302000)),
        }
        code_num = np.zeros(n, dtype=np.int64)
        for mask, pool in boards.values():
            k = int(mask.sum())
            if k > len(pool):
                raise ParameterError(f"`n_assets` = {n} is too large for the synthetic code space.")
            code_num[mask] = np.sort(rng.choice(pool, size=k, replace=False))
        self.sh = sh
        self.codes = np.array(
            [f"{c:06d}.{'SH' if s else 'SZ'}" for c, s in zip(code_num, sh, strict=True)]
        )
        order = np.argsort(self.codes)  # assets sorted by code from here on
        for attr in ("industry", "list_idx", "list_date", "delist_idx", "sh", "codes"):
            setattr(self, attr, getattr(self, attr)[order])
        self.sme = sme[order]
        return star[order], chinext[order]

    def _draw_sizes(self, rng: np.random.Generator) -> np.ndarray:
        """Float cap lognormal (median ~4 bn) with a handful of mega caps, and first prices;
        returns the log float caps."""
        n = len(self.industry)
        logcap = rng.normal(np.log(4e9), 1.15, size=n)
        mega_ind = np.isin(np.array(self.industries)[self.industry], MEGA_CAP_INDUSTRIES)
        n_mega = max(1, n // 500)
        cand = np.flatnonzero(mega_ind & (self.list_idx == 0))
        if len(cand):
            pick = rng.choice(cand, size=min(n_mega, len(cand)), replace=False)
            logcap[pick] = np.log(rng.uniform(4e11, 2e12, size=len(pick)))
        self.zsize = (logcap - logcap.mean()) / logcap.std()
        self.price0 = np.clip(
            np.exp(rng.normal(np.log(12.0), 0.7, size=n) + 0.15 * self.zsize), 2.0, 1500.0
        )
        return logcap

    def _draw_float(self, days: np.ndarray, logcap: np.ndarray, rng: np.random.Generator) -> None:
        """Float fraction: drawn at the start, growing by unlocks on listing anniversaries."""
        n = len(self.industry)
        float_frac0 = rng.uniform(0.35, 0.95, size=n)
        self.total_base = np.round(np.exp(logcap) / self.price0 / float_frac0, -2)
        # + 12% a year listed since the window's start, at most 98%
        self.float_frac = float_fraction_nb(
            days.astype(np.int64), self.list_date.astype(np.int64), float_frac0, 0.12, 0.98
        )

    def _draw_trading(self, days: np.ndarray, rng: np.random.Generator) -> None:
        """ST intervals on a small share; listed days; suspensions (short spells, some long)."""
        n, n_t = len(self.industry), len(days)
        t_idx = np.arange(n_t)[:, None]
        st = rng.random(n) < 0.05
        st_start = rng.integers(0, n_t, size=n)
        st_len = rng.integers(100, 500, size=n)
        self.is_st = (
            st[None, :] & (t_idx >= st_start[None, :]) & (t_idx < (st_start + st_len)[None, :])
        )
        listed = (t_idx >= self.list_idx[None, :]) & (t_idx < self.delist_idx[None, :])
        self.listed = listed
        susp = np.zeros((n_t, n), dtype=bool)
        n_spells = rng.poisson(0.12 * n_t / 244, size=n)
        stock_of = np.repeat(np.arange(n), n_spells)
        s0 = rng.integers(0, n_t, size=len(stock_of))
        length = np.where(
            rng.random(len(stock_of)) < 0.1,
            rng.integers(20, 90, len(stock_of)),
            rng.geometric(0.35, len(stock_of)),
        )
        for k in range(int(length.max()) if len(length) else 0):
            sel = k < length
            rows = s0[sel] + k
            ok = rows < n_t
            susp[rows[ok], stock_of[sel][ok]] = True
        susp[self.list_idx, np.arange(n)] = False  # the IPO day trades
        self.trading = listed & ~susp


def _price_limits(
    days: np.ndarray, is_st: np.ndarray, star: np.ndarray, chinext: np.ndarray
) -> np.ndarray:
    """Price limit per day: 10% main boards, 5% ST, 20% STAR and ChiNext after its reform."""
    return price_limits_nb(days >= np.datetime64(CHINEXT_REFORM), is_st, star, chinext)


#: One independent generator per part of the market, spawned from the seed in this order.
_RNG_STREAMS = (
    "universe",
    "returns",
    "latent",
    "holdings",
    "participants",
    "flows",
    "ca",
    "etf",
    "fx",
    "volume",
    "short",
    "style",
    "world",
    "theme",
    "components",
    "payoff",
    "liquidity",
)


def _rngs(seed: int) -> dict[str, np.random.Generator]:
    seqs = np.random.SeedSequence(seed).spawn(len(_RNG_STREAMS))
    return dict(zip(_RNG_STREAMS, (np.random.default_rng(s) for s in seqs), strict=True))


@dataclass
class _Latent:
    """The planted effects' latent drivers and their strengths over time.

    Each effect has a driver that moves a part of the northbound money and, scaled by its
    strength, the returns that money anticipates (strength 0 keeps the flows and removes the
    payoff):

    - selection: ``g`` (per stock) moves trading money; pays the next days.
    - allocation (stock level): ``h`` (per stock, slow) tilts allocation holdings; pays slowly.
    - timing: ``timing`` (market, a few days' memory) is what trading money knows about the
      market; trading money's aggregate net buying is proportional to it (``timing_flow`` is its
      leaky integral, the part of the trading holdings it moves) and the market return of the
      next day is raised by it (:func:`_timing_effect`).
    - industry: ``q_ind`` (per industry, weeks of memory) is what trading money knows about
      industries; trading money's industry net buying is proportional to it (``q_flow``, its
      leaky integral) and it raises the next days' industry returns.
    - allocation (industry level, :func:`_allocation_industry_effect`): ``alloc_info`` (per
      industry, slow) is what allocation money knows, ``alloc_burst`` (per industry, fast)
      liquidity-driven flows without information; both tilt allocation holdings. The view pays
      over the next ~6 weeks (a slow drift); the bursts move the industry's price temporarily
      (``alloc_pressure``), which reverts within weeks: recent allocation inflows are followed
      by a short-term reversal, older ones (skip the latest month) by the view's payoff.
    """

    g: np.ndarray | None  # stock information (trading money's skill), (n_t, n)
    h: np.ndarray | None  # slow allocation preference, (n_t, n)
    timing: np.ndarray  # market timing latent, (n_t,)
    timing_flow: np.ndarray  # its leaky integral, unit sd: moves trading holdings, (n_t,)
    q_ind: np.ndarray  # industry latent of trading money, (n_t, n_industries)
    q_flow: np.ndarray  # its leaky integral, unit sd: moves trading industry holdings
    alloc_info: np.ndarray  # allocation money's slow industry view, (n_t, n_industries)
    alloc_burst: np.ndarray  # allocation money's fast uninformed industry flows
    alloc_pressure: np.ndarray  # the transient price pressure of allocation industry flows
    alloc_market_burst: np.ndarray  # allocation money's uninformed market-wide flows, (n_t,)
    a_sel: np.ndarray
    a_time: np.ndarray
    a_ind: np.ndarray
    a_alloc: np.ndarray
    # the stock-level flow components and the styles (see :func:`_components`)
    sel_hold: np.ndarray | None = None  # leaky integral of g: the trading holdings it moves
    flow_noise: np.ndarray | None = None  # uninformed stock-specific trading tilt, (n_t, n)
    quality: np.ndarray | None = None  # quality loading per stock (allocation money's taste)
    growth: np.ndarray | None = None  # growth loading per stock
    f_quality: np.ndarray | None = None  # daily return of the quality style, (n_t,)
    f_growth: np.ndarray | None = None  # daily return of the growth style, (n_t,)
    interest: np.ndarray | None = None  # active northbound money follows the stock, (n,)
    liquidity: np.ndarray | None = None  # the stock's liquidity draw lambda, (n,)
    jumps: np.ndarray | None = None  # news jumps of the returns (limit moves), (n_t, n)


#: Memory (daily AR(1) coefficient) of the market-timing latent: a few days.
TIMING_MEMORY = 0.85
#: Memory of trading money's industry view: a few weeks.
INDUSTRY_MEMORY = 0.97
#: How slowly trading money unwinds what its views made it buy (leaky integral, per day).
TRADING_UNWIND = 0.93
#: Memory of allocation money's industry view (months) and of its uninformed bursts (days).
ALLOCATION_INFO_MEMORY = 0.985
ALLOCATION_BURST_MEMORY = 0.5
#: Decay per day of the price pressure of allocation flows (reverts within ~3 weeks).
PRESSURE_DECAY = 0.9


def _leaky_integral(x: np.ndarray, keep: float) -> np.ndarray:
    """y_t = keep * y_{t-1} + x_t along axis 0, scaled to unit standard deviation."""
    y = ar1_nb(x, keep) / np.sqrt(1.0 - keep * keep)  # ar1_nb scales the shocks by sqrt(1-k^2)
    sd = y.std(axis=0)
    return y / np.where(sd > 0, sd, 1.0)


def _within_industry(x: np.ndarray, industry: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """`x` (n_t, n) less its `weight`-weighted mean over the stocks of each industry, per day."""
    n_ind = int(industry.max()) + 1
    member = np.zeros((len(industry), n_ind))
    member[np.arange(len(industry)), industry] = weight
    mean = (x @ member) / np.maximum(member.sum(axis=0), 1e-300)
    by_industry_nb(x, mean, industry, False)  # in place (peak memory)
    return x


def _relative_to_industry(x: np.ndarray, industry: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """`x` (n_t, n) > 0 over its `weight`-weighted mean within each industry, per day, in place:
    stock tilts that move no industry's (nor the market's) weighted total. `weight` is per
    stock (n,) or per stock and day (n_t, n), NaN read as 0."""
    n_ind = int(industry.max()) + 1
    member = np.zeros((len(industry), n_ind))
    member[np.arange(len(industry)), industry] = 1.0
    w = np.nan_to_num(weight)
    if w.ndim == 1:
        mean = (x @ (member * w[:, None])) / np.maximum(w @ member, 1e-300)
    else:
        mean = ((x * w) @ member) / np.maximum(w @ member, 1e-300)
    by_industry_nb(x, mean, industry, True)
    return x


def _latent(
    days: np.ndarray,
    u: _Universe,
    s: Strengths,
    rl: np.random.Generator,
    rq: np.random.Generator | None = None,
) -> _Latent:
    """The latent drivers. Stock-level views (``g``, ``h``) are relative within the industry
    (less their mean weighted by the stock's rough size): stock picks buy some names and sell
    others, so the money's industry and market flows come from its industry and market views.
    The stock-level components come after (:func:`_components`)."""
    n_t, n, n_ind = len(days), len(u.industry), len(u.industries)
    size = u.total_base * u.price0 * np.exp(0.3 * u.zsize)
    g = _within_industry(ar1_nb(rl.standard_normal((n_t, n)), SELECTION_MEMORY), u.industry, size)
    h = _within_industry(ar1_nb(rl.standard_normal((n_t, n)), PREFERENCE_MEMORY), u.industry, size)
    timing = ar1_nb(rl.standard_normal(n_t), TIMING_MEMORY)
    q_ind = ar1_nb(rl.standard_normal((n_t, n_ind)), INDUSTRY_MEMORY)
    # industry views are relative to the market (they cancel in trading money's aggregate flows,
    # which the timing view sets)
    q_ind -= q_ind.mean(axis=1, keepdims=True)
    q_ind /= q_ind.std()
    info = ar1_nb(rl.standard_normal((n_t, n_ind)), ALLOCATION_INFO_MEMORY)
    burst = ar1_nb(rl.standard_normal((n_t, n_ind)), ALLOCATION_BURST_MEMORY)
    market_burst = ar1_nb(rl.standard_normal(n_t), ALLOCATION_BURST_MEMORY)
    lat = _Latent(
        g=g,
        h=h,
        timing=timing,
        timing_flow=_leaky_integral(timing, TRADING_UNWIND),
        q_ind=q_ind,
        q_flow=_leaky_integral(q_ind, TRADING_UNWIND),
        alloc_info=info,
        alloc_burst=burst,
        alloc_pressure=_allocation_pressure(burst, ALLOCATION_SPEED * s.allocation_speed),
        alloc_market_burst=market_burst,
        a_sel=_effect_path(days, SELECTION_DRIFT * s.selection, s.decay_after_2021)[:, None],
        a_time=_effect_path(days, s.timing, s.decay_after_2021),
        a_ind=_effect_path(days, s.industry, s.decay_after_2021)[:, None],
        a_alloc=_effect_path(days, s.allocation, s.decay_after_2021)[:, None],
    )
    if rq is not None and s.liquidity > 0:
        lat.liquidity = rq.standard_normal(n)
    return lat


#: Memory of the stock information g (its flow rate: months) and of the slow preference h.
SELECTION_MEMORY = 0.985
PREFERENCE_MEMORY = 0.993
#: Allocation holdings' tilt to the slow preference h, exp(PREFERENCE_TILT x h), and their
#: response to the yuan's deviation from its trend, (fx / trend)^-FX_TILT.
PREFERENCE_TILT = 0.4
FX_TILT = 12.0
#: Trading money unwinds what g made it buy by this much a day (the stock-level leaky integral).
SELECTION_UNWIND = 0.99
#: Stock drift per unit of g, in units of the stock's vol, at strength 1; the payoff of selling
#: (g < 0) weighs ``SELECTION_SELL_WEIGHT`` times that of buying (informed exits pay most).
SELECTION_DRIFT = 0.12
SELECTION_SELL_WEIGHT = 2.0
#: The selection payoff's day-to-day volatility at ``Strengths.selection_vol`` 1: the payoff is
#: multiplied by 1 + SELECTION_PAYOFF_VOL x e_t (e_t standard normal, one per day).
SELECTION_PAYOFF_VOL = 10.0
#: The quality style: daily volatility and premium (at strength 1) of its return per unit of
#: loading; allocation money prefers quality (``QUALITY_TASTE`` in its preference).
QUALITY_VOL = 0.005
QUALITY_PREMIUM = 0.0002
QUALITY_TASTE = 1.0
#: The growth style: daily volatility of its return per unit of loading (no premium, no flows).
GROWTH_VOL = 0.004
#: Memory of the uninformed stock-specific trading tilt (weeks).
FLOW_NOISE_MEMORY = 0.97
#: Active northbound money follows a stock with probability sigmoid(INTEREST_BIAS + INTEREST_SIZE
#: x size z + INTEREST_QUALITY x quality); the others are held only by index trackers (CSI 300).
INTEREST_BIAS = 0.5
INTEREST_SIZE = 0.8
INTEREST_QUALITY = 0.5
#: The spread (log sd) of trading money's per-stock weight at ``trading_dispersion`` 1.
TRADING_DISPERSION = 0.4
#: The liquidity draw's weight in the interest and in the log turnover, at ``liquidity`` 1.
INTEREST_LIQUIDITY = 2.0
LIQUIDITY_TURNOVER = 0.5
#: The turnover's slope on size: a stock's daily turnover scales as exp(-TURNOVER_SIZE x size z)
#: (x ``Strengths.turnover_size``): small caps turn over more.
TURNOVER_SIZE = 0.35
#: News jumps: daily probability and size range of up / down jumps (limit hits).
JUMP_UP = (0.006, 0.06, 0.16)
JUMP_DOWN = (0.0015, 0.05, 0.12)


def _component_noise(rc: np.random.Generator, n_t: int, n: int) -> dict[str, np.ndarray]:
    """The draws of :func:`_components` from its stream `rc`, in their fixed order (they depend
    on the shapes alone, so :func:`iter_tables` draws them ahead on a second thread)."""
    return {
        "flow": rc.standard_normal((n_t, n)),
        "loadings": rc.standard_normal((2, n)),
        "quality": _student_t(rc, n_t),
        "growth": _student_t(rc, n_t),
        "interest": rc.random(n),
        "up": rc.random((n_t, n)),
        "up_size": rc.uniform(JUMP_UP[1], JUMP_UP[2], (n_t, n)),
        "down": rc.random((n_t, n)),
        "down_size": rc.uniform(JUMP_DOWN[1], JUMP_DOWN[2], (n_t, n)),
    }


def _components(
    lat: _Latent,
    days: np.ndarray,
    u: _Universe,
    s: Strengths,
    rc: np.random.Generator | dict[str, np.ndarray],
) -> None:
    """The stock-level flow components and the styles, drawn from their own stream `rc` (or
    given as :func:`_component_noise`'s draws from it, consumed)."""
    n_t, n = len(days), len(u.industry)
    noise = rc if isinstance(rc, dict) else _component_noise(rc, n_t, n)
    lat.sel_hold = _leaky_integral(lat.g, SELECTION_UNWIND)
    lat.flow_noise = ar1_nb(noise.pop("flow"), FLOW_NOISE_MEMORY)
    # style loadings relative within the industry (size-weighted), like g and h: a style
    # premium is no industry effect
    size = u.total_base * u.price0 * np.exp(0.3 * u.zsize)
    loadings = _within_industry(noise.pop("loadings"), u.industry, size)
    lat.quality, lat.growth = loadings / loadings.std(axis=1, keepdims=True)
    a_q = _effect_path(days, s.quality, s.decay_after_2021)
    lat.f_quality = QUALITY_PREMIUM * a_q + (QUALITY_VOL * s.quality_vol) * noise.pop("quality")
    lat.f_growth = GROWTH_VOL * noise.pop("growth")
    z = INTEREST_BIAS + (INTEREST_SIZE * s.interest_size) * u.zsize
    z = z + (INTEREST_QUALITY * s.interest_quality) * lat.quality
    if s.liquidity > 0:
        z = z + (INTEREST_LIQUIDITY * s.liquidity) * lat.liquidity
    lat.interest = noise.pop("interest") < 1.0 / (1.0 + np.exp(-z))
    up = noise.pop("up") < JUMP_UP[0]
    jumps = np.where(up, noise.pop("up_size"), 0.0)
    down = noise.pop("down") < JUMP_DOWN[0]
    jumps -= np.where(down, noise.pop("down_size"), 0.0)
    # zero mean: the jumps add tails, not drift
    jumps -= (
        JUMP_UP[0] * (JUMP_UP[1] + JUMP_UP[2]) / 2
        - JUMP_DOWN[0] * (JUMP_DOWN[1] + JUMP_DOWN[2]) / 2
    )
    lat.jumps = jumps


def _selection_payoff(lat: _Latent, sell_weight: float = 1.0) -> np.ndarray:
    """The planted selection payoff per unit of vol: g of the day before, sells weighing
    ``SELECTION_SELL_WEIGHT`` x `sell_weight` x buys, less its cross-sectional mean (no market
    drift), in the stocks active money follows."""
    g = lat.g[:-1]
    w = np.where(g < 0.0, (SELECTION_SELL_WEIGHT * sell_weight) * g, g)
    w -= w.mean(axis=1, keepdims=True)
    w *= lat.interest  # trading money knows the stocks it follows
    return w


#: Allocation holdings' industry tilt, exp(INFO_TILT * info + BURST_TILT * burst), and their
#: market-wide uninformed flows (passive and liquidity flows, no price effect),
#: exp(MARKET_BURST_TILT * market burst).
INFO_TILT = 0.3
BURST_TILT = 0.3
MARKET_BURST_TILT = 0.1


def _allocation_pressure(burst: np.ndarray, speed: float = ALLOCATION_SPEED) -> np.ndarray:
    """The transient price pressure of allocation money's uninformed industry flows (unit sd).

    Allocation holdings move ``ALLOCATION_SPEED`` of the way to their target a day, so the
    industry flow of a burst is proportional to the burst less its slow average; the pressure
    accumulates these flows and decays by ``PRESSURE_DECAY`` a day. (The informed part of the
    flows moves prices through the slow drift of :func:`_allocation_industry_effect` instead.)
    """
    k = 1.0 - speed
    flow = burst - ar1_nb(burst * speed / np.sqrt(1.0 - k * k), k)
    pressure = ar1_nb(flow / np.sqrt(1.0 - PRESSURE_DECAY**2), PRESSURE_DECAY)
    return pressure / pressure.std()


#: Market drift per unit of the timing latent, per day, at strength 1.
TIMING_DRIFT = 0.004
#: Industry drift per unit of trading money's industry view, per day, at strength 1.
INDUSTRY_DRIFT = 0.0015
#: Industry drift per unit of allocation money's view, and the pressure's price impact.
ALLOCATION_INFO_DRIFT = 0.001
ALLOCATION_PRESSURE_IMPACT = 0.025
#: Stock drift per unit of the slow allocation preference h, in units of the stock's vol.
ALLOCATION_STOCK_DRIFT = 0.02


def _timing_effect(lat: _Latent) -> np.ndarray:
    """The planted timing payoff: the market return of day t rises with the timing latent of
    day t-1, which trading money's aggregate net buying of day t-1 reflects."""
    return lat.a_time * TIMING_DRIFT * _lag(lat.timing)


def _industry_effect(lat: _Latent) -> np.ndarray:
    """The planted industry payoff: industry k's return of day t rises with trading money's
    view of k on day t-1 (its industry net buying is proportional to it)."""
    return (
        lat.a_ind * INDUSTRY_DRIFT * np.vstack([np.zeros((1, lat.q_ind.shape[1])), lat.q_ind[:-1]])
    )


def _allocation_industry_effect(lat: _Latent) -> np.ndarray:
    """The planted allocation payoff by industry: a slow drift with allocation money's view
    (pays over ~6 weeks: the view has months of memory) plus the day's change of the price
    pressure of its uninformed bursts (a rise with the burst, reverting within weeks: recent
    allocation inflows are followed by a short-term reversal)."""
    n_ind = lat.alloc_info.shape[1]
    drift = ALLOCATION_INFO_DRIFT * np.vstack([np.zeros((1, n_ind)), lat.alloc_info[:-1]])
    pressure = np.diff(lat.alloc_pressure, axis=0, prepend=lat.alloc_pressure[:1])
    return lat.a_alloc * (drift + ALLOCATION_PRESSURE_IMPACT * pressure)


def _assets(days: np.ndarray, u: _Universe, codes: pl.Series) -> pl.DataFrame:
    n_t = len(days)
    delist = np.where(
        u.delist_idx < n_t, days[np.minimum(u.delist_idx, n_t - 1)], np.datetime64("NaT")
    )
    return pl.DataFrame(
        {
            "asset": codes,
            "name": [f"合成{c[:6]}" for c in u.codes],
            "exchange": np.where(u.sh, "SH", "SZ"),
            "industry": np.array(u.industries)[u.industry],
            "list_date": pl.Series(u.list_date, dtype=pl.Date),
            "delist_date": pl.Series(delist, dtype=pl.Date),
        }
    )


#: Idiosyncratic daily vol of a stock of mean size (smaller stocks more).
IDIO_VOL = 0.02


def _return_noise(rr: np.random.Generator, n_t: int, n_ind: int, n: int) -> dict[str, np.ndarray]:
    """The draws of :func:`_returns` from its stream `rr`, in their fixed order (they depend on
    the shapes alone, so :func:`iter_tables` draws them ahead on a second thread)."""
    return {
        "vol_state": rr.standard_normal(n_t),
        "market": _student_t(rr, n_t),
        "industry": _student_t(rr, (n_t, n_ind)),
        "size": rr.standard_normal(n_t),
        "beta": rr.normal(1.0, 0.25, n),
        "stock": _student_t(rr, (n_t, n)),
    }


def _returns(
    u: _Universe,
    lat: _Latent,
    noise: dict[str, np.ndarray],
    s: Strengths | None = None,
    rp: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Daily returns: market + industry + size + idiosyncratic, fat tails, planted effects;
    ``(returns, idiosyncratic sigma per stock)``. `noise` is :func:`_return_noise`'s draws
    (consumed); `rp` draws the selection payoff's daily shocks (only when ``s.selection_vol`` >
    0)."""
    s = s if s is not None else Strengths()
    vol_state = np.exp(0.35 * ar1_nb(noise.pop("vol_state"), 0.985))
    mkt_vol = 0.012 * vol_state / vol_state.mean()
    mkt = 0.0003 + mkt_vol * noise.pop("market") + _timing_effect(lat)
    ind_ret = 0.008 * noise.pop("industry")
    ind_ret += _industry_effect(lat)
    ind_ret += _allocation_industry_effect(lat)
    size_ret = 0.004 * noise.pop("size")
    beta = noise.pop("beta")
    sigma = IDIO_VOL * np.exp(-0.15 * u.zsize)
    ret = noise.pop("stock")
    ret *= sigma
    ret += mkt[:, None] * beta[None, :]
    ret += ind_ret[:, u.industry]
    ret += size_ret[:, None] * (-0.5 * u.zsize)[None, :]
    ret += lat.f_quality[:, None] * lat.quality[None, :]
    ret += lat.f_growth[:, None] * lat.growth[None, :]
    ret += lat.jumps
    lat.jumps = None
    payoff = _selection_payoff(lat, s.sell_weight)
    if s.selection_vol > 0:  # the payoff's day-to-day volatility: mean one, market-wide
        shock = (rp if rp is not None else np.random.default_rng(0)).standard_normal(len(ret) - 1)
        payoff *= (1.0 + (SELECTION_PAYOFF_VOL * s.selection_vol) * shock)[:, None]
    ret[1:] += (lat.a_sel[1:] * sigma) * payoff
    ret[1:] += (ALLOCATION_STOCK_DRIFT * lat.a_alloc[1:] * sigma) * lat.h[:-1]
    return ret, sigma


def _share_counts(u: _Universe, bonus: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(total_shares, float_shares, published basis / true basis)``; consumes `bonus`
    (shifted in place) and the universe's float fractions."""
    cum_bonus = cumprod_rows(1.0 + bonus)
    total_shares = u.total_base[None, :] * cum_bonus
    float_shares = np.round(u.float_frac * total_shares, -2)
    del u.float_frac
    # the published (record-date) share basis: the bonus counts one session earlier
    bonus[:-1] = bonus[1:]
    bonus[-1] = 0.0
    pub_basis = cumprod_rows(1.0 + bonus)
    pub_basis /= cum_bonus
    return total_shares, float_shares, pub_basis


@dataclass
class _Bars:
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    volume: np.ndarray
    vwap: np.ndarray
    amount: np.ndarray


def _bar_noise(rv: np.random.Generator, n_t: int, n: int) -> dict[str, np.ndarray]:
    """The draws of :func:`_bars` from its stream `rv`, in their fixed order (they depend on the
    shapes alone, so :func:`iter_tables` draws them ahead on a second thread)."""
    return {
        "turnover": rv.standard_normal((n_t, n)),
        "stock": rv.normal(0, 0.3, n),
        "open": rv.standard_normal((n_t, n)),
        "high": rv.normal(0, 0.006, (n_t, n)),
        "low": rv.normal(0, 0.006, (n_t, n)),
        "vwap": rv.standard_normal((n_t, n)),
    }


def _bars(
    u: _Universe,
    close: np.ndarray,
    ref: np.ndarray,
    realized: np.ndarray,
    float_shares: np.ndarray,
    noise: dict[str, np.ndarray],
    liquidity: np.ndarray | None = None,
    s_turnover: float = 1.0,
) -> _Bars:
    """Volume, amount and OHLC around the close, within the day's price limits; `noise` is
    :func:`_bar_noise`'s draws (consumed: the OHLC are computed in place on them); `liquidity`
    (n,) multiplies each stock's turnover (``Strengths.liquidity``).

    The arithmetic runs in two fused one-pass kernels (``bar_volume_nb``, ``bar_ohlc_nb``: the
    numpy expressions of their docstrings, bit for bit)."""
    turn = np.exp(0.45 * ar1_nb(noise.pop("turnover"), 0.9))
    col = 0.012 * np.exp((-TURNOVER_SIZE * s_turnover) * u.zsize) * np.exp(noise.pop("stock"))
    if liquidity is not None:
        col = col * liquidity
    volume = bar_volume_nb(turn, col, realized, float_shares)
    del turn
    z = [noise.pop(k) for k in ("open", "high", "low", "vwap")]
    open_, high, low, vwap, amount = bar_ohlc_nb(*z, realized, ref, u.limit, close, volume)
    return _Bars(open_, high, low, volume, vwap, amount)


def _prices(
    date_s: pl.Series,
    codes: pl.Series,
    u: _Universe,
    bars: _Bars,
    close: np.ndarray,
    adj: np.ndarray,
    float_shares: np.ndarray,
    total_shares: np.ndarray,
) -> pl.DataFrame:
    at = u.trading  # boolean-mask gathers: the row-major order of np.nonzero(at)
    tt, jj = np.nonzero(at)
    return pl.DataFrame(
        {
            "date": date_s.gather(tt),
            "asset": codes.gather(jj),
            "open": bars.open[at],
            "high": bars.high[at],
            "low": bars.low[at],
            "close": close[at],
            "volume": bars.volume[at],
            "amount": bars.amount[at],
            "adj_factor": adj[at],
            "float_shares": float_shares[at],
            "total_shares": total_shares[at],
            "is_st": u.is_st[at],
        }
    )


def _link_open(days: np.ndarray, u: _Universe) -> np.ndarray:
    """(n_t, n): the stock's Connect link (Shanghai or Shenzhen) has launched."""
    return np.where(
        u.sh[None, :],
        days[:, None] >= np.datetime64(SH_CONNECT_LAUNCH),
        days[:, None] >= np.datetime64(SZ_CONNECT_LAUNCH),
    )


#: Trading holdings' response to the stock's past 20-day return (chasing, at strength 1), to the
#: uninformed stock tilt (flow noise, at strength 1), to g's leaky integral (selection), and
#: its industry and market views.
CHASE = 0.05
CHASE_WINDOW = 20
NOISE_TILT = 0.08
SELECTION_TILT = 1.5
INDUSTRY_TILT = 1.0
TIMING_TILT = 0.5
#: The trading part's level, relative to the allocation level (the trading type's share of the
#: holding value, seed 004 表3: 14-25%).
TRADING_LEVEL = 0.08
#: Trading money's industry baskets: the ratio of every followed stock of an industry that its
#: views (industry and timing) move, relative to the allocation level.
TRADING_BASKET = 0.25
#: The baskets' tilt to size: exp(BASKET_SIZE_TILT x size z).
BASKET_SIZE_TILT = 0.5
#: Allocation money's tilt to size: exp(ALLOCATION_SIZE_TILT x size z).
ALLOCATION_SIZE_TILT = 0.6
#: Caps of the targets (ratios of total shares): no stock is wanted above 10% + 4%.
MAX_TARGET_ALLOCATION = 0.10
MAX_TARGET_TRADING = 0.04
#: Daily noise of the trading and the allocation part, relative to its target.
TRADING_NOISE = 0.004
ALLOCATION_NOISE = 0.0015
#: The market-wide flows' loading on size at ``market_concentration`` 1: exp(c x size z), and
#: its cap (relative to the holding-weighted mean of 1).
MARKET_CONCENTRATION = 1.0
MAX_MARKET_LOADING = 4.0
#: Passive money tracking CSI 300 holds this ratio of each member's shares (relative to the
#: allocation level, at strength 1): index inclusion buys it, exclusion sells it.
PASSIVE_LEVEL = 0.3


def _market_loading(u: _Universe, s: Strengths, w_alloc: np.ndarray) -> np.ndarray | None:
    """Each stock's loading on the market-wide flows (``Strengths.market_concentration``):
    ``exp(c x size z)``, normalized to a mean of 1 weighted by the allocation holdings' size
    proxy ``w_alloc x exp(size z)``, capped at ``MAX_MARKET_LOADING``; None at strength 0 (every
    loading 1, the planted generator's arithmetic kept bit for bit)."""
    c = MARKET_CONCENTRATION * s.market_concentration
    if c == 0:
        return None
    beta = np.exp(c * u.zsize)
    beta /= np.average(beta, weights=w_alloc * np.exp(u.zsize))
    return np.minimum(beta, MAX_MARKET_LOADING)


#: ``Strengths.block_trades``: the share of stock-days with a burst, its Student-t degrees of
#: freedom, its size in yuan as a multiple of the day's median holding value (at strength 1)
#: and its cap (a share of the stock's holding, either way).
BLOCK_RATE = 0.03
BLOCK_DF = 3.0
BLOCK_SIZE = 1.0
MAX_BLOCK = 10.0


def _block_trades(
    target_a: np.ndarray,
    target_t: np.ndarray,
    mcap: np.ndarray,
    s: Strengths,
    rh: np.random.Generator,
) -> np.ndarray | None:
    """Allocation money's single-stock bursts (``Strengths.block_trades``) in the units of its
    daily noise (a multiple of the allocation target): on a share ``BLOCK_RATE`` of stock-days the
    holding jumps by ``BLOCK_SIZE x strength x t x median / holding value`` of the target
    holding (t Student-t; a burst of about the same yuan in every stock, capped at
    ``MAX_BLOCK`` of the holding), holding values from the targets at that day's market cap.
    None at strength 0 (nothing drawn: the market unchanged bit for bit)."""
    if s.block_trades == 0:
        return None
    n_t, n = target_t.shape
    hold = target_a + target_t
    value = hold * np.nan_to_num(mcap)
    ok = (target_a > 0) & (value > 0)
    med = np.array([np.median(r[k]) if k.any() else 0.0 for r, k in zip(value, ok, strict=True)])
    hit = (rh.random((n_t, n)) < BLOCK_RATE) & ok
    tt, jj = np.nonzero(hit)
    size = (BLOCK_SIZE * s.block_trades) * rh.standard_t(BLOCK_DF, tt.size)
    size *= med[tt] / value[tt, jj]
    np.clip(size, -MAX_BLOCK, MAX_BLOCK, out=size)
    out = np.zeros((n_t, n))
    out[tt, jj] = size * hold[tt, jj] / target_a[tt, jj]
    return out


#: Trading money's sell-speed tilt to the day's activity per unit of ``sell_timing``.
SELL_TIMING = 1.0
#: The activity's clip, in its standard units.
SELL_TIMING_CLIP = 3.0


def _sell_speed(
    s: Strengths,
    volume: np.ndarray,
    float_shares: np.ndarray,
    realized: np.ndarray,
    sigma: np.ndarray,
    trading: np.ndarray,
) -> np.ndarray:
    """Trading money's sell-speed multipliers (``Strengths.sell_timing``): exp(k x_tj) over the
    stock's mean of it on its trading days, x_tj the mean of the stock's standardized log
    turnover and of its return over `sigma`, clipped; capped at 1 / trading speed (no day sells
    past the target). A (1, 1) array of ones at ``sell_timing`` 0 (:func:`holdings_nb` then
    leaves every speed as it is)."""
    if s.sell_timing <= 0:
        return np.ones((1, 1))
    lv = np.where(trading, np.log(volume / np.maximum(float_shares, 1.0)), np.nan)
    lv -= np.nanmean(lv, axis=0, keepdims=True)
    lv /= np.nanstd(lv, axis=0, keepdims=True) + 1e-12
    x = 0.5 * (lv + nan_to_num(realized) / sigma[None, :])
    np.clip(x, -SELL_TIMING_CLIP, SELL_TIMING_CLIP, out=x)
    m = np.exp((SELL_TIMING * s.sell_timing) * x)
    m /= np.nanmean(m, axis=0, keepdims=True)
    m = np.where(np.isfinite(m), m, 1.0)
    np.minimum(m, 1.0 / (TRADING_SPEED * s.trading_speed), out=m)
    return m


def _holding_ratios(
    days: np.ndarray,
    u: _Universe,
    lat: _Latent,
    s: Strengths,
    fx: np.ndarray,
    realized: np.ndarray,
    sigma: np.ndarray,
    can_trade: np.ndarray,
    eligible: np.ndarray,
    passive: np.ndarray,
    mcap: np.ndarray,
    float_frac: np.ndarray,
    init: np.ndarray,
    rh: np.random.Generator,
    sell_speed: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Northbound holding ratios ``(allocation, trading)`` of each stock's total shares.

    Allocation money follows size, industry tilt, quality, the slow preference h, its industry
    views, the allocation level and the yuan in the stocks it follows (``lat.interest``), plus
    index trackers in the CSI 300 members (`passive`). Trading money (in the followed stocks)
    follows the leaky integral of the information latent, the past 20-day return (chasing) and
    its own uninformed stock tilts (flow noise) in a stock part, and its industry and market
    views in industry baskets (the same share of every followed stock's float, `float_frac`
    = float / total shares). The stock parts are rescaled within each industry by market cap
    `mcap`, so stock picks move no industry total. Trading money's sells toward its target run
    at `sell_speed` x its speed (:func:`_sell_speed`; a (1, 1) array: every day alike). Consumes
    ``lat.h``, ``lat.g`` and the components (set to None once used) to keep peak memory low.
    """
    n_t, n = lat.h.shape
    fx_trend = _interp_by_date(days, _FX_ANCHORS)
    level = _interp_by_date(days, _ALLOCATION_LEVEL)
    taste = QUALITY_TASTE * s.quality_taste
    pref = np.exp(rh.normal(0.0, 0.5, n) * 0.6 + 0.5 * taste * lat.quality)
    tilt = np.array([ALLOCATION_TILT.get(name, 1.0) for name in u.industries])[u.industry]
    w_alloc = np.exp(ALLOCATION_SIZE_TILT * u.zsize) * tilt * pref * lat.interest
    w_alloc /= np.average(w_alloc, weights=np.exp(u.zsize))
    burst_tilt = MARKET_BURST_TILT * s.market_flow
    fx_log = -(FX_TILT * s.fx_flow) * np.log(fx / fx_trend)
    beta = _market_loading(u, s, w_alloc)
    if beta is None:  # every holding moves by the same ratio
        fx_mult = np.exp(fx_log)
        common = (level * fx_mult)[:, None]
        common = common * np.exp(burst_tilt * lat.alloc_market_burst - 0.5 * burst_tilt**2)[:, None]
    else:  # stock j moves by beta_j times the market-wide log move (mean-one multipliers)
        move = fx_log + burst_tilt * lat.alloc_market_burst
        common = np.exp(move[:, None] * beta[None, :] - 0.5 * (burst_tilt * beta[None, :]) ** 2)
        common *= level[:, None]
    # the stock part: the slow preference h on size, industry tilt and taste
    target_a = np.exp((PREFERENCE_TILT * s.preference) * lat.h)
    lat.h = None  # no longer needed: free it
    _relative_to_industry(target_a, u.industry, mcap * w_alloc)
    target_a *= w_alloc[None, :]
    # index trackers hold the same share of every member's float (float-cap weights)
    target_a += (PASSIVE_LEVEL * s.index_flow) * (passive * float_frac)
    # allocation money's slow industry view and its uninformed bursts tilt its holdings (mean-one
    # multipliers of unit-variance latents: exp(k x - k^2 / 2))
    burst_a = BURST_TILT * s.allocation_bursts
    tilt_a = INFO_TILT * lat.alloc_info + burst_a * lat.alloc_burst
    tilt_a -= 0.5 * (INFO_TILT**2 + burst_a**2)
    target_a *= np.exp(tilt_a)[:, u.industry]
    target_a *= common
    del common
    np.minimum(target_a, MAX_TARGET_ALLOCATION, out=target_a)
    # chasing the stock's own return, relative to its industry: stock flows, no industry momentum
    chase = _within_industry(nan_to_num(realized), u.industry, np.ones(n))
    chase = _trailing_sum(chase, CHASE_WINDOW)
    chase /= sigma[None, :] * np.sqrt(CHASE_WINDOW)
    np.clip(chase, -3, 3, out=chase)
    target_t = chase
    target_t *= CHASE * s.chasing
    del chase
    target_t += (SELECTION_TILT * s.selection_flow) * np.clip(lat.sel_hold, -2.5, 2.5)
    lat.g = lat.sel_hold = None
    target_t += (NOISE_TILT * s.flow_noise) * lat.flow_noise
    lat.flow_noise = None
    np.exp(target_t, out=target_t)
    spread = TRADING_DISPERSION * s.trading_dispersion
    w_trade = np.exp(0.3 * u.zsize) * np.exp(rh.normal(0, spread, n)) * lat.interest
    _relative_to_industry(target_t, u.industry, mcap * w_trade)
    target_t *= (TRADING_LEVEL * s.trading_money) * w_trade[None, :]
    # the industry and market part: baskets (the same ratio of every followed stock of an
    # industry) sized by trading money's industry and market views
    timing_tilt = TIMING_TILT * s.market_flow * s.timing_baskets
    if beta is None:
        views = INDUSTRY_TILT * lat.q_flow + timing_tilt * lat.timing_flow[:, None]
        views -= 0.5 * (INDUSTRY_TILT**2 + timing_tilt**2)  # mean-one view multipliers
    else:  # the market view goes through the stocks' loadings, below
        views = INDUSTRY_TILT * lat.q_flow - 0.5 * INDUSTRY_TILT**2
    basket = (TRADING_BASKET * s.trading_money * s.trading_baskets) * np.exp(views)
    # a share of each followed stock's float, larger in the large caps (where trading money
    # trades its views: the small stocks' flows are mostly their own) at basket_size > 0
    tilt_b = BASKET_SIZE_TILT * s.basket_size
    w_basket = np.exp(tilt_b * u.zsize - 0.5 * tilt_b**2) * lat.interest
    if beta is None:
        target_t += basket[:, u.industry] * (float_frac * w_basket[None, :])
    else:
        timing = timing_tilt * beta[None, :]
        timing = np.exp(lat.timing_flow[:, None] * timing - 0.5 * timing**2)
        timing *= basket[:, u.industry]
        timing *= float_frac * w_basket[None, :]
        target_t += timing
        del timing
    target_t *= level[:, None]
    np.minimum(target_t, MAX_TARGET_TRADING, out=target_t)
    noise_a = (ALLOCATION_NOISE * s.daily_noise) * rh.standard_normal((n_t, n))
    noise_t = (TRADING_NOISE * s.daily_noise) * rh.standard_normal((n_t, n))
    blocks = _block_trades(target_a, target_t, mcap, s, rh)
    if blocks is not None:
        noise_a += blocks
        del blocks
    return holdings_nb(
        target_a,
        target_t,
        noise_a,
        noise_t,
        can_trade,
        eligible,
        ALLOCATION_SPEED * s.allocation_speed,
        TRADING_SPEED * s.trading_speed,
        init,
        FOREIGN_HALT_AT,
        FOREIGN_RESUME_BELOW,
        FOREIGN_CAP,
        sell_speed,
    )


def _trade_flows(
    ratio: np.ndarray,
    ra: np.ndarray,
    vwap: np.ndarray,
    total_shares: np.ndarray,
    can_trade: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Trade-based net buy per stock-day (RMB): ratio change x shares x VWAP (bonus-neutral);
    ``(all northbound, allocation money)``."""
    vwap_shares = nan_to_num(vwap)
    vwap_shares *= total_shares
    flow = np.diff(ratio, axis=0, prepend=ratio[:1])
    flow *= vwap_shares
    flow[~can_trade] = 0.0
    flow_alloc = np.diff(ra, axis=0, prepend=ra[:1])
    flow_alloc *= vwap_shares
    flow_alloc[~can_trade] = 0.0
    return flow, flow_alloc


def iter_tables(
    p: SynthParams, progress: Progress | None = None
) -> Iterator[tuple[str, pl.DataFrame]]:
    """Generate the tables of a synthetic market, yielding ``(name, frame)`` as each is ready.

    Streaming keeps peak memory low: a consumer writes each table and drops it. The large
    ``participant_holdings`` table comes as one frame per year (same name, several yields).
    """
    say = progress or (lambda msg: log.info(msg))
    rngs = _rngs(p.seed)
    days = sessions("ashare", p.start, p.end).to_numpy().astype("datetime64[D]")
    # the noise is drawn on a second thread (numpy's draws release the GIL) while the main
    # thread computes; the values do not depend on it (each draw has a stream of its own)
    with computed_ahead(caller_threads()) as ahead:
        yield from _tables(p, say, rngs, days, ahead)


def _tables(
    p: SynthParams,
    say: Progress,
    rngs: dict[str, np.random.Generator],
    days: np.ndarray,
    ahead: Callable[..., Future | Later],
) -> Iterator[tuple[str, pl.DataFrame]]:
    """:func:`iter_tables`' body; `ahead` draws a stage's noise (a stream of its own) on the
    second thread while an earlier stage computes
    (:func:`~factorlab._kernels.parallel.computed_ahead`), each stage's noise asked for one
    stage ahead, so that at most two stages' grids are alive."""
    n_t, n = len(days), p.n_assets
    say(f"universe: {n} stocks x {n_t} sessions")
    u = _Universe(p, days, rngs["universe"])  # its parameter errors come before any draw
    noise = {  # drawn while the latent drivers are built
        "components": ahead(_component_noise, rngs["components"], n_t, n),
        "returns": ahead(_return_noise, rngs["returns"], n_t, len(CITIC_INDUSTRIES), n),
    }
    codes = pl.Series("asset", u.codes, dtype=pl.String)
    date_s = pl.Series("date", days, dtype=pl.Date)
    yield "assets", _assets(days, u, codes)
    lat = _latent(days, u, p.strengths, rngs["latent"], rngs["liquidity"])
    _components(lat, days, u, p.strengths, noise.pop("components").result())

    say("returns and prices")
    noise["bars"] = ahead(_bar_noise, rngs["volume"], n_t, n)  # drawn while prices are made
    ret, sigma = _returns(u, lat, noise.pop("returns").result(), p.strengths, rngs["payoff"])
    dyield, bonus, ca_rows = _draw_corporate_actions(days, u, rngs["ca"])
    close, ref, adj, cash = prices_nb(ret, u.trading, u.limit, u.price0, dyield, bonus)
    del ret, dyield
    yield "corporate_actions", _corporate_actions(days, codes, ca_rows, cash, bonus)
    del cash
    realized = np.where(u.trading, close / ref - 1.0, np.nan)
    total_shares, float_shares, pub_basis = _share_counts(u, bonus)
    del bonus
    liq = None
    if p.strengths.liquidity > 0:
        liq = np.exp((LIQUIDITY_TURNOVER * p.strengths.liquidity) * lat.liquidity)
    bars = _bars(
        u,
        close,
        ref,
        realized,
        float_shares,
        noise.pop("bars").result(),
        liq,
        p.strengths.turnover_size,
    )
    del ref
    sell_speed = _sell_speed(p.strengths, bars.volume, float_shares, realized, sigma, u.trading)

    say("pools and indices")
    mcap = np.where(u.trading, close * total_shares, np.nan)
    pools, member, eligible = _pools(days, u, mcap, bars.amount, rngs["components"])
    yield "pools", pools
    del pools
    yield "prices", _prices(date_s, codes, u, bars, close, adj, float_shares, total_shares)
    vwap = bars.vwap
    del bars, adj
    fcap = np.where(u.trading, close * float_shares, np.nan)
    float_frac = float_shares / total_shares
    del float_shares
    indices = _indices(days, member, fcap, realized)
    passive = member["csi300"]
    del member
    yield "indices", indices

    say("northbound holdings")
    nb_days = sessions("northbound", p.start, p.end).to_numpy().astype("datetime64[D]")
    is_nb = np.isin(days, nb_days)
    link_open = _link_open(days, u)
    can_trade = u.trading & is_nb[:, None] & link_open
    fx = _fx(days, rngs["fx"])
    hkd = _hkdcny(fx, rngs["world"])
    yield "fx", pl.DataFrame({"date": date_s, "usdcny": np.round(fx, 4), "hkdcny": hkd})
    init = (u.list_idx == 0) & link_open[0]
    del link_open
    ra, rt = _holding_ratios(
        days,
        u,
        lat,
        p.strengths,
        fx,
        realized,
        sigma,
        can_trade,
        eligible,
        passive,
        mcap,
        float_frac,
        init,
        rngs["holdings"],
        sell_speed,
    )
    del passive, float_frac, sell_speed
    # a delisted stock's holdings are gone (the shares are cancelled, CCASS drops the stock);
    # shares true and on the published (record-date) basis
    ratio, shares_true, shares_pub, shares_alloc_pub = northbound_shares_nb(
        ra, rt, u.listed, total_shares, pub_basis
    )
    del rt, pub_basis
    held = shares_true > 0
    tt, jj = np.nonzero(held)
    truth = {"date": date_s.gather(tt), "asset": codes.gather(jj), "shares": shares_true[held]}
    del tt, jj, held
    yield "northbound_truth", pl.DataFrame(truth)
    del truth
    flow, flow_alloc = _trade_flows(ratio, ra, vwap, total_shares, can_trade)
    del ra, ratio, vwap
    yield "flows_truth", _flows_truth(days, flow, flow_alloc, can_trade)
    del flow_alloc
    northbound, pub_rows = _published_northbound(p, days, codes, shares_pub, total_shares)
    yield "northbound", northbound
    del northbound
    yield "quotas", _quotas(days, is_nb, u, flow, shares_true, close, rngs["flows"])
    yield (
        "short_sellable",
        _short_sellable(
            days,
            is_nb,
            codes,
            shares_true,
            eligible & can_trade,
            u.zsize,
            p.disclosure_change,
            rngs["short"],
        ),
    )
    del eligible
    yield (
        "etfs",
        pl.concat(
            [
                _etfs(days, u, realized, fcap, flow, indices, rngs["etf"], rngs["theme"]),
                _world_etfs(p, rngs["world"]),
            ]
        ),
    )
    mean_price = np.nansum(close, axis=0) / np.maximum(np.isfinite(close).sum(axis=0), 1)
    del realized, fcap, flow, close, shares_true
    yield from _participants(
        p,
        rngs["participants"],
        codes,
        pub_rows,
        shares_pub,
        shares_alloc_pub,
        mcap,
        mean_price,
        say,
    )
    yield "book_to_price", _book_to_price(days, codes, u, mcap, rngs["style"])


def generate(p: SynthParams, progress: Progress | None = None) -> dict[str, pl.DataFrame]:
    """All tables of a synthetic market in memory (``participant_holdings`` concatenated)."""
    tables: dict[str, list[pl.DataFrame]] = {}
    for name, frame in iter_tables(p, progress):
        tables.setdefault(name, []).append(frame)
    return {
        name: pl.concat(frames) if len(frames) > 1 else frames[0] for name, frames in tables.items()
    }


def _draw_corporate_actions(
    days: np.ndarray, u: _Universe, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, list]:
    """Per stock and year: a cash dividend (55%) and/or bonus shares (10%), ex-date in May-July."""
    n_t, n = len(days), len(u.codes)
    dyield = np.zeros((n_t, n))
    bonus = np.zeros((n_t, n))
    rows = []
    for y in np.unique(days.astype("datetime64[Y]")):
        in_season = np.flatnonzero(
            (days >= y + np.timedelta64(4, "M")) & (days < y + np.timedelta64(7, "M"))
        )
        in_season = in_season[in_season >= 1]
        if len(in_season) == 0:
            continue
        ex = rng.choice(in_season, size=n)
        has_div = rng.random(n) < 0.55
        has_bonus = rng.random(n) < 0.10
        cols = np.arange(n)
        ok = (has_div | has_bonus) & u.listed[ex, cols] & u.listed[ex - 1, cols]
        ok &= ex - 1 > u.list_idx
        js = np.flatnonzero(ok)
        dyield[ex[js], js] = np.where(has_div[js], rng.uniform(0.004, 0.03, len(js)), 0.0)
        bonus[ex[js], js] = np.where(
            has_bonus[js], rng.choice([0.2, 0.3, 0.4, 0.5, 1.0], len(js)), 0.0
        )
        rows.append((ex[js], js))
    return dyield, bonus, rows


def _trailing_sum(x: np.ndarray, window: int) -> np.ndarray:
    c = cumsum_rows(x)
    out = c.copy()
    out[window:] -= c[:-window]
    return out


def _fx(days: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """USD/CNY around anchors of the real path, with OU deviations (~0.15% daily)."""
    trend = _interp_by_date(days, _FX_ANCHORS)
    dev = ar1_nb(rng.standard_normal(len(days)), 0.985) * 0.02
    return trend * np.exp(dev)


def _hkdcny(usdcny: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """HKD/CNY = USD/CNY / USD/HKD, USD/HKD inside the peg's 7.75-7.85 band (slow OU)."""
    usdhkd = 7.80 + 0.05 * np.tanh(ar1_nb(rng.standard_normal(len(usdcny)), 0.995) * 0.1)
    return np.round(usdcny / usdhkd, 5)


def _review_indices(days: np.ndarray, months: tuple[int, ...]) -> list[int]:
    """First session after the second Friday of each review month (CSI index reviews)."""
    out = {0}
    for y in np.unique(days.astype("datetime64[Y]")).astype(int) + 1970:
        for m in months:
            first = dt.date(int(y), m, 1)
            fridays = [
                first + dt.timedelta(days=k)
                for k in range(14)
                if (first + dt.timedelta(days=k)).weekday() == 4
            ]
            second_friday = np.datetime64(fridays[1])
            idx = int(np.searchsorted(days, second_friday, side="right"))
            if 0 < idx < len(days):
                out.add(idx)
    return sorted(out)


#: Stock Connect eligibility (the rules since the Shenzhen link, 2016-12-05): Shanghai: SSE 180
#: and SSE 380 members and A+H stocks; Shenzhen: SZSE Component and SZSE SME / ChiNext
#: Innovation members with a total market cap of at least RMB 6 bn, and A+H stocks. STAR stocks
#: join through SSE 180 / 380 from 2021-02-01. The index sizes are counted in a universe of
#: ``REFERENCE_UNIVERSE`` stocks (listed by the end) and scale with ``n_assets``; so does the
#: liquidity pool's size (:func:`liquidity_pool_size`).
SSE180, SSE380, SZSE_COMPONENT, SZSE_INNOVATION = 180, 380, 500, 500
SZ_MIN_CAP = 6e9
REFERENCE_UNIVERSE = 5000
#: A market smaller than 35% of REFERENCE_UNIVERSE keeps the index sizes of one of that size
#: (so the 400-stock test market has enough eligible stocks for its planted-effect tests).
MIN_ELIGIBILITY_SCALE = 0.35
STAR_ELIGIBLE = dt.date(2021, 2, 1)
#: Share of the stocks (at median size; more among the big) with an H share too.
A_PLUS_H_SHARE = 0.02
#: SSE 380 picks among the Shanghai stocks ranked after the SSE 180 by cap, by a noisy
#: quality screen: this many candidates per member.
SSE380_CANDIDATES = 1.6


def liquidity_pool_size(n_assets: int) -> int:
    """Members of the synthetic market's ``liq1500`` pool: 1,500 (``LIQUIDITY_SIZE``) in a
    market of ``REFERENCE_UNIVERSE`` (5,000) stocks or more, the same share of a smaller market
    (``small``: 120 of 400). The pool keeps its name so code written for the real pool runs on
    every preset; docs/synthetic.md says so."""
    return max(1, min(LIQUIDITY_SIZE, round(LIQUIDITY_SIZE * n_assets / REFERENCE_UNIVERSE)))


def _eligible_at(
    u: _Universe,
    ok: np.ndarray,
    avg_cap: np.ndarray,
    quality: np.ndarray,
    a_plus_h: np.ndarray,
    scale: float,
    star_ok: bool,
) -> np.ndarray:
    """Connect eligibility at one review (see ``SSE180``): `ok` stocks listed long enough,
    ranked by their average total cap `avg_cap`."""
    out = np.zeros(len(ok), dtype=bool)
    cap = np.where(ok, avg_cap, -np.inf)
    sh = ok & u.sh & (star_ok | ~u.star)
    sh_order = np.flatnonzero(sh)[np.argsort(-cap[sh], kind="stable")]
    n180, n380 = round(SSE180 * scale), round(SSE380 * scale)
    out[sh_order[:n180]] = True
    cand = sh_order[n180 : n180 + round(SSE380_CANDIDATES * n380)]
    rank = np.arange(len(cand)) / max(len(cand), 1)
    out[cand[np.argsort(rank - 0.5 * quality[cand], kind="stable")[:n380]]] = True
    sz = ok & ~u.sh
    big = avg_cap >= SZ_MIN_CAP
    for members in (sz, sz & (u.sme | u.chinext)):
        order = np.flatnonzero(members)[np.argsort(-cap[members], kind="stable")]
        top = order[: round(SZSE_COMPONENT * scale)]
        out[top[big[top]]] = True
    out |= ok & a_plus_h
    return out


def _pools(
    days: np.ndarray,
    u: _Universe,
    mcap: np.ndarray,
    amount: np.ndarray,
    rng: np.random.Generator,
) -> tuple[pl.DataFrame, dict[str, np.ndarray], np.ndarray]:
    """Point-in-time csi300 / csi500 / csi800 / liq1500 membership, and Connect eligibility.

    csi300/500: semi-annual reviews (June, December; effective after the second Friday) ranking
    by average total cap over the last 120 sessions, excluding ST and stocks listed < 63 sessions.
    liq1500: :func:`factorlab.pools.liquidity_members` (monthly, the top 1,500 by 60-session
    average amount, excluding ST and stocks listed < 252 sessions; a name leaves the day it
    turns ST). Eligibility (:func:`_eligible_at`): the Connect rules at the same reviews, not
    ST.
    """
    n_t, n = mcap.shape
    t_idx = np.arange(n_t)
    cap_cum, cap_cnt = nan_cumsum_count_rows_nb(mcap)
    amt = np.where(u.trading, amount, np.nan)
    member = {name: np.zeros((n_t, n), dtype=bool) for name in ("csi300", "csi500", "liq1500")}
    eligible = np.zeros((n_t, n), dtype=bool)
    csi_reviews = _review_indices(days, (6, 12))
    sz_launch = int(np.searchsorted(days, np.datetime64(SZ_CONNECT_LAUNCH)))
    elig_reviews = sorted(set(csi_reviews) | ({sz_launch} if 0 < sz_launch < n_t else set()))
    for k, r in enumerate(csi_reviews):
        end = csi_reviews[k + 1] if k + 1 < len(csi_reviews) else n_t
        t_rank = max(r - 1, 0)
        avg = rolling_mean_at(cap_cum, cap_cnt, t_rank, 120)
        ok = (t_rank - u.list_idx >= 63) | (u.list_idx == 0)
        ok &= u.listed[r] & ~u.is_st[t_rank] & ~np.isnan(avg)
        order = np.argsort(-np.where(ok, avg, -np.inf), kind="stable")
        n_ok = int(ok.sum())
        top = order[: min(300, n_ok)]
        mid = order[min(300, n_ok) : min(800, n_ok)]
        member["csi300"][r:end, top] = True
        member["csi500"][r:end, mid] = True
    scale = max(n / REFERENCE_UNIVERSE, MIN_ELIGIBILITY_SCALE)
    quality = rng.normal(0.0, 1.0, n)  # the SSE 380 screens (growth, dividends), fixed
    a_plus_h = rng.random(n) < A_PLUS_H_SHARE * np.clip(1.0 + u.zsize, 0.0, None)
    star_ok_from = int(np.searchsorted(days, np.datetime64(STAR_ELIGIBLE)))
    for k, r in enumerate(elig_reviews):
        end = elig_reviews[k + 1] if k + 1 < len(elig_reviews) else n_t
        t_rank = max(r - 1, 0)
        avg = rolling_mean_at(cap_cum, cap_cnt, t_rank, 120)
        ok = u.listed[r] & ~np.isnan(avg) & ((t_rank - u.list_idx >= 63) | (u.list_idx == 0))
        eligible[r:end] = _eligible_at(u, ok, avg, quality, a_plus_h, scale, r >= star_ok_from)
    # the one liquidity rule (factorlab.pools): monthly, top 1,500 by 60-session mean amount
    # the ST flag as the prices show it (carried over suspensions), as factorlab.pools.liquidity
    # reads it from a prices table
    st_seen = ffill_rows(np.where(u.trading, u.is_st, np.nan))
    st_seen = nan_to_num(st_seen) > 0.5
    member["liq1500"] = liquidity_members(
        amt,
        listed=u.listed,
        is_st=st_seen,
        list_idx=u.list_idx,
        reviews=review_sessions(pl.Series(days, dtype=pl.Date), "monthly"),
        size=liquidity_pool_size(n),
        window=LIQUIDITY_WINDOW,
        min_listed=LIQUIDITY_MIN_LISTED,
    )
    listed = u.listed
    eligible &= listed & ~u.is_st
    member["csi800"] = member["csi300"] | member["csi500"]
    date_s = pl.Series("date", days, dtype=pl.Date)
    codes = pl.Series("asset", u.codes)
    frames = []
    for name in ("csi300", "csi500", "csi800", "liq1500"):
        tt, jj = np.nonzero(member[name] & listed)
        frames.append(
            pl.DataFrame(
                {
                    "date": date_s.gather(tt),
                    "asset": codes.gather(jj),
                    "pool": pl.repeat(name, len(tt), eager=True),
                }
            )
        )
    del t_idx
    return pl.concat(frames), member, eligible


def _indices(
    days: np.ndarray, member: dict[str, np.ndarray], fcap: np.ndarray, realized: np.ndarray
) -> pl.DataFrame:
    """Index levels from float-cap weights (previous close) of the members, chain-linked."""
    n_t = fcap.shape[0]
    r = nan_to_num(realized)
    w_all = lag_nan_to_num_nb(fcap)
    frames = []
    for name in ("csi300", "csi500", "csi800", "csi_all"):
        w = w_all if name == "csi_all" else np.where(member[name], w_all, 0.0)
        den = w.sum(axis=1)
        day_ret = np.where(den > 0, (w * r).sum(axis=1) / np.where(den > 0, den, 1.0), 0.0)
        day_ret[0] = 0.0
        level = INDEX_BASE[name] * np.cumprod(1.0 + day_ret)
        frames.append(
            pl.DataFrame(
                {
                    "date": pl.Series(days, dtype=pl.Date),
                    "index": pl.repeat(name, n_t, eager=True),
                    "close": np.round(level, 4),
                }
            )
        )
    return pl.concat(frames)


def _corporate_actions(
    days: np.ndarray, codes: pl.Series, ca_rows: list, cash: np.ndarray, bonus: np.ndarray
) -> pl.DataFrame:
    """One row per (asset, ex_date); the record date is the session before the ex-date."""
    if ca_rows:
        ex = np.concatenate([e for e, _ in ca_rows])
        js = np.concatenate([j for _, j in ca_rows])
    else:
        ex = js = np.array([], dtype=np.int64)
    keep = (cash[ex, js] > 0) | (bonus[ex, js] > 0)
    ex, js = ex[keep], js[keep]
    date_s = pl.Series(days, dtype=pl.Date)
    return pl.DataFrame(
        {
            "asset": codes.gather(js),
            "ex_date": date_s.gather(ex),
            "record_date": date_s.gather(ex - 1),
            "bonus_ratio": bonus[ex, js],
            "cash_dividend": cash[ex, js],
        }
    ).sort("asset", "ex_date")


def _quarter_ends_after(day: dt.date, last: dt.date) -> list[dt.date]:
    """Calendar quarter ends strictly after `day`, up to `last`."""
    out = []
    year, q = day.year, (day.month - 1) // 3  # quarter index 0..3 of `day`
    while True:
        month = 3 * (q + 1)
        end = dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)
        if end > day:
            if end > last:
                return out
            out.append(end)
        q += 1
        if q == 4:
            year, q = year + 1, 0


def _publication_dates(
    p: SynthParams, days: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """HKEX publication days of holdings: (as-of date, A-share row it reflects, publication day).

    Daily (HK calendar) from DISCLOSURE_START to ``p.disclosure_change`` (default the real
    DISCLOSURE_END); afterwards the quarter-end snapshot, published on the 5th northbound trading
    day of the next quarter, if that is <= end. On an HK session that is a mainland holiday the
    row repeats the last A-share session's values.
    """
    lo = max(p.start, DISCLOSURE_START)
    hi = min(p.end, p.disclosure_change)
    hk = sessions("hkex", p.start, p.end).to_numpy().astype("datetime64[D]")
    daily = hk[(hk >= np.datetime64(lo)) & (hk <= np.datetime64(hi))] if lo <= hi else hk[:0]
    a_days = sessions("ashare").to_numpy().astype("datetime64[D]")
    published = a_days[np.searchsorted(a_days, daily, side="right").clip(max=len(a_days) - 1)]
    snap_asof, snap_pub = [], []
    nb_all = sessions("northbound").to_numpy().astype("datetime64[D]")
    for q_end in _quarter_ends_after(p.disclosure_change, p.end):
        hk_before = hk[hk <= np.datetime64(q_end)]
        after = nb_all[nb_all > np.datetime64(q_end)]
        if len(hk_before) and hk_before[-1] <= np.datetime64(p.disclosure_change):
            continue  # the quarter's last session is still a daily day: no separate snapshot
        if len(hk_before) and len(after) >= 5 and after[4] <= np.datetime64(p.end):
            snap_asof.append(hk_before[-1])
            snap_pub.append(after[4])
    asof = np.concatenate([daily, np.array(snap_asof, dtype="datetime64[D]")])
    pub = np.concatenate([published, np.array(snap_pub, dtype="datetime64[D]")])
    row = np.searchsorted(days, asof, side="right") - 1
    keep = row >= 0
    return asof[keep], row[keep], pub[keep]


def _published_northbound(
    p: SynthParams,
    days: np.ndarray,
    codes: pl.Series,
    shares_pub: np.ndarray,
    total_shares: np.ndarray,
) -> tuple[pl.DataFrame, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    asof, row, pub = _publication_dates(p, days)
    grid = shares_pub[row]
    dd, jj = np.nonzero(grid > 0)
    shares = grid[dd, jj]
    ratio = np.round(shares / total_shares[row[dd], jj], 4)
    frame = pl.DataFrame(
        {
            "date": pl.Series(asof, dtype=pl.Date).gather(dd),
            "asset": codes.gather(jj),
            "shares": shares,
            "ratio": ratio,
            "published": pl.Series(pub, dtype=pl.Date).gather(dd),
        }
    )
    return frame, (asof, row, pub)


#: Participants' popularity (how many stocks they hold) falls with their rank as rank^-decay.
POPULARITY_DECAY = 0.5
#: How much the trading holders' shares of a stock churn among them (log-weight sd).
TRADER_CHURN = 0.8
#: Share of the participants that are minor (seed 004 §1.1's 低影响力机构): a few stocks
#: (1 .. ``MINOR_MAX_STOCKS``) each, ``MINOR_VALUE`` yuan a stock, inside the allocation part.
MINOR_SHARE = 0.25
MINOR_MAX_STOCKS = 5
MINOR_VALUE = (10_000.0, 90_000.0)


def _participant_ids(rng: np.random.Generator, n_p: int) -> tuple[np.ndarray, np.ndarray]:
    """CCASS-style ids (B = broker, C = custodian) and true kinds: ``MINOR_SHARE`` minor, then
    40% of the others trading money, the rest allocation money. Kinds: 0 allocation,
    1 trading, 2 minor."""
    kind = np.zeros(n_p, dtype=np.int64)
    minor = rng.choice(n_p, size=round(MINOR_SHARE * n_p), replace=False)
    kind[minor] = 2
    rest = np.flatnonzero(kind == 0)
    kind[rng.choice(rest, size=round(0.4 * len(rest)), replace=False)] = 1
    broker = np.where(kind == 1, rng.random(n_p) < 0.8, rng.random(n_p) < 0.2)
    nums = rng.choice(np.arange(1, 2000), size=n_p, replace=False)
    ids = np.array([f"{'B' if b else 'C'}{k:05d}" for b, k in zip(broker, nums, strict=True)])
    return ids, kind


def _participants(
    p: SynthParams,
    rng: np.random.Generator,
    codes: pl.Series,
    pub_rows: tuple[np.ndarray, np.ndarray, np.ndarray],
    shares_pub: np.ndarray,
    shares_alloc_pub: np.ndarray,
    mcap: np.ndarray,
    mean_price: np.ndarray,
    say: Progress,
) -> Iterator[tuple[str, pl.DataFrame]]:
    """Per-participant published holdings that sum exactly to the published per-stock shares.

    Each held stock gets a few allocation holders (fixed weights of the allocation part) and a
    few trading holders (weights that churn day to day, on top of the trading part's own flows).
    Minor participants (``MINOR_SHARE``) hold about ``MINOR_VALUE`` yuan (at the stock's mean
    price) in 1 .. ``MINOR_MAX_STOCKS`` stocks, carved out of the allocation part.
    """
    n_p = p.n_participants
    ids, kinds = _participant_ids(rng, n_p)
    order = np.argsort(ids)
    ids, kinds = ids[order], kinds[order]
    kind = np.array(["allocation", "trading", "minor"])[kinds]
    names = np.array(
        [f"Synthetic {'Securities' if i[0] == 'B' else 'Custodian'} {i[1:]}" for i in ids]
    )
    yield "participants", pl.DataFrame({"participant": ids, "name": names, "kind": kind})
    asof, row, _ = pub_rows
    held = np.flatnonzero((shares_pub[row] > 0).any(axis=0)) if len(row) else np.array([], int)
    if len(held) == 0:
        return
    mean_cap = np.nanmean(np.where(np.isnan(mcap[:, held]), np.nan, mcap[:, held]), axis=0)
    size = np.log(mean_cap)
    size = np.nan_to_num((size - np.nanmean(size)) / (np.nanstd(size) + 1e-12))
    pair_stock, pair_part, pair_w, group_start_of_pair = [], [], [], []
    groups = []  # (stock column, is_trading) per group, in pair order
    popularity = 1.0 / (1.0 + rng.permutation(n_p)) ** POPULARITY_DECAY
    mean_alloc = 0.6 * p.holders_per_stock - 1.0
    mean_trade = 0.4 * p.holders_per_stock - 1.0
    pair_rows = []
    for is_trading, mean in ((False, mean_alloc), (True, mean_trade)):
        cand = np.flatnonzero(kinds == int(is_trading))
        k = 1 + rng.poisson(np.maximum(mean, 0.1) * np.exp(0.5 * size) / np.exp(0.125))
        k = np.minimum(k, len(cand))
        keys = np.log(popularity[cand])[None, :] + rng.gumbel(size=(len(held), len(cand)))
        top = np.argsort(-keys, axis=1)
        for i_h, col in enumerate(held):
            chosen = np.sort(cand[top[i_h, : k[i_h]]])
            w = rng.gamma(2.0, 1.0, len(chosen)) * popularity[chosen]
            pair_rows.append((col, is_trading, chosen, w / w.sum()))
    # minor participants: a few stocks each, a small fixed number of shares carved out of the
    # allocation part (first in the group, so the split's remainder goes to a regular holder)
    minor_of: dict[int, list[tuple[int, float]]] = {}
    price = mean_price[held]
    for who in np.flatnonzero(kinds == 2):
        picks = rng.choice(len(held), size=int(rng.integers(1, MINOR_MAX_STOCKS + 1)))
        for i_h in np.unique(picks):
            value = rng.uniform(*MINOR_VALUE)
            minor_of.setdefault(int(held[i_h]), []).append((int(who), value))
    pair_minor = []
    for i, (col, is_trading, chosen, w) in enumerate(pair_rows):
        extra = [] if is_trading else minor_of.get(int(col), [])
        pair_minor.append(np.r_[np.zeros(len(extra)), np.zeros(len(chosen))])
        if extra:
            ref_price = price[np.searchsorted(held, col)]
            pair_minor[-1][: len(extra)] = [v / max(ref_price, 0.01) for _, v in extra]
            chosen = np.r_[[e for e, _ in extra], chosen].astype(np.int64)
            w = np.r_[np.zeros(len(extra)), w]
        pair_rows[i] = (col, is_trading, chosen, w, pair_minor[-1])
    pair_rows.sort(key=lambda r: (r[0], r[1]))
    n_so_far = 0
    minor_shares = []
    for col, is_trading, chosen, w, m in pair_rows:
        minor_shares.append(m)
        group_start_of_pair.append(n_so_far)
        n_so_far += len(chosen)
        groups.append((col, is_trading))
        pair_stock.append(np.full(len(chosen), col))
        pair_part.append(chosen)
        pair_w.append(w)
    pair_stock = np.concatenate(pair_stock)
    pair_part = np.concatenate(pair_part)
    pair_w = np.concatenate(pair_w)
    minor_shares = np.concatenate(minor_shares)
    is_minor = minor_shares > 0
    starts = np.array([*group_start_of_pair, len(pair_part)], dtype=np.int64)
    g_col = np.array([c for c, _ in groups])
    g_trading = np.array([t for _, t in groups])
    pair_trading = np.repeat(g_trading, np.diff(starts))
    n_pairs = len(pair_part)
    # churning weights of trading holders across publication days
    churn = ar1_nb(rng.standard_normal((len(row), int(pair_trading.sum()))), 0.9)
    part_s = pl.Series("participant", ids)
    # the output order (date, asset, participant) within a day: the pairs by stock column, then
    # participant index (codes and ids are sorted, and a stock's holders are distinct)
    out_order = np.lexsort((pair_part, pair_stock))
    years = asof.astype("datetime64[Y]").astype(int) + 1970
    for year in np.unique(years):
        sel = np.flatnonzero(years == year)
        n_d = len(sel)
        say(f"participant holdings {year}: {n_d} days x {n_pairs} holder pairs")
        alloc_tot = shares_alloc_pub[row[sel]][:, g_col]
        total = np.where(g_trading[None, :], shares_pub[row[sel]][:, g_col] - alloc_tot, alloc_tot)
        w = np.broadcast_to(pair_w, (n_d, n_pairs)).copy()
        w[:, pair_trading] *= np.exp(TRADER_CHURN * churn[sel])
        sums = np.add.reduceat(w, starts[:-1], axis=1)
        w /= np.repeat(sums, np.diff(starts), axis=1)
        if is_minor.any():  # the minor holders' fixed shares, at most 2% of the part each
            tot_pair = np.repeat(total, np.diff(starts), axis=1)
            wm = np.where(
                is_minor[None, :], np.minimum(minor_shares / np.maximum(tot_pair, 1.0), 0.02), 0.0
            )
            del tot_pair
            gm = np.add.reduceat(wm, starts[:-1], axis=1)
            w *= np.repeat(1.0 - gm, np.diff(starts), axis=1)
            w += wm
        flat_starts = (starts[None, :-1] + n_pairs * np.arange(n_d)[:, None]).ravel()
        flat_starts = np.append(flat_starts, n_d * n_pairs)
        shares = split_shares_nb(total.ravel().astype(np.int64), w.ravel(), flat_starts)
        del w, total
        shares = shares.reshape(n_d, n_pairs)[:, out_order]
        keep = shares > 0
        d_idx = np.repeat(np.arange(n_d), keep.sum(axis=1))
        p_idx = np.broadcast_to(out_order, keep.shape)[keep]
        yield (
            "participant_holdings",
            pl.DataFrame(
                {
                    "date": pl.Series(asof[sel], dtype=pl.Date).gather(d_idx),
                    "asset": codes.gather(pair_stock[p_idx]),
                    "participant": part_s.gather(pair_part[p_idx]),
                    "shares": shares[keep],
                }
            ),
        )


def _quotas(
    days: np.ndarray,
    is_nb: np.ndarray,
    u: _Universe,
    flow: np.ndarray,
    shares_true: np.ndarray,
    close: np.ndarray,
    rng: np.random.Generator,
) -> pl.DataFrame:
    """Per link: buy/sell turnover (trade-based net buy = buy - sell = the stocks' flows) and the
    quota balance = quota - buy orders + sell trades, where buy orders include unfilled ones."""
    value = shares_true * nan_to_num(ffill_rows(close))
    frames = []
    for link, mask, launch in (("SH", u.sh, SH_CONNECT_LAUNCH), ("SZ", ~u.sh, SZ_CONNECT_LAUNCH)):
        rows = np.flatnonzero(is_nb & (days >= np.datetime64(launch)))
        net = flow[rows][:, mask].sum(axis=1)
        hv = value[rows][:, mask].sum(axis=1)
        gross = np.maximum(hv * rng.uniform(0.01, 0.025, len(rows)), 1.5 * np.abs(net) + 5e7)
        buy = np.round((gross + net) / 2.0, -4)
        sell = np.round((gross - net) / 2.0, -4)
        unfilled = np.round(buy * rng.uniform(0.003, 0.03, len(rows)), -4)
        quota = np.where(days[rows] >= np.datetime64(QUOTA_RAISE), 52e9, 13e9)
        frames.append(
            pl.DataFrame(
                {
                    "date": pl.Series(days[rows], dtype=pl.Date),
                    "link": pl.repeat(link, len(rows), eager=True),
                    "quota_daily": quota,
                    "quota_balance": quota - buy - unfilled + sell,
                    "buy_amount": buy,
                    "sell_amount": sell,
                }
            )
        )
    return pl.concat(frames).sort("date", "link")


def _short_sellable(
    days: np.ndarray,
    is_nb: np.ndarray,
    codes: pl.Series,
    shares_true: np.ndarray,
    eligible: np.ndarray,
    zsize: np.ndarray,
    change: dt.date,
    rng: np.random.Generator,
) -> pl.DataFrame:
    """HKEX's daily short-sellable quantities on every northbound day from DISCLOSURE_START.

    The short-selling list: the largest ``SHORT_SELL_LIST_SHARE`` of each day's eligible
    stocks by a fixed noisy size score (so about 71% of eligible stocks, nearly all the
    northbound weight). The quantity is the remaining allowance, ``floor(1% x start-of-day
    holdings)`` minus what was shorted (5% of rows, up to 10% of it: seed 002 finds the
    rounding down the main source of error). Up to `change` (the
    last day of daily holdings disclosure) every listed stock's quantity is printed; after it
    only quantities under 300,000 shares are, the others read 'sufficient' (null quantity).
    """
    score = zsize + rng.normal(0.0, 0.6, len(zsize))
    rows = np.flatnonzero(is_nb & (days >= np.datetime64(DISCLOSURE_START)))
    rows = rows[rows >= 1]
    sub = eligible[rows]
    masked = np.where(sub, score[None, :], np.nan)
    with np.errstate(invalid="ignore"):
        has = sub.any(axis=1)
        cut = np.full(len(rows), np.inf)
        if has.any():
            cut[has] = np.nanquantile(masked[has], 1.0 - SHORT_SELL_LIST_SHARE, axis=1)
        listed = sub & (score[None, :] >= cut[:, None])
    del masked
    tt, jj = np.nonzero(listed)
    allowance = np.floor(SHORT_SELL_ALLOWANCE * shares_true[rows[tt] - 1, jj])
    shorted = np.where(
        rng.random(len(tt)) < 0.05, np.floor(allowance * rng.uniform(0, 0.1, len(tt))), 0
    )
    q = (allowance - shorted).astype(np.int64)
    after = days[rows[tt]] > np.datetime64(change)
    printed = ~after | (q < SHORT_SELL_PRINT_BELOW)
    return pl.DataFrame(
        {
            "date": pl.Series(days[rows], dtype=pl.Date).gather(tt),
            "asset": codes.gather(jj),
            "quantity": pl.Series(q, dtype=pl.Int64).set(pl.Series(~printed), None)
            if len(q)
            else pl.Series([], dtype=pl.Int64),
            "sufficient": ~printed,
        }
    )


def _book_to_price(
    days: np.ndarray,
    codes: pl.Series,
    u: _Universe,
    mcap: np.ndarray,
    rng: np.random.Generator,
) -> pl.DataFrame:
    """Point-in-time book-to-price at each month's last session (the style 2 x 2's value axis).

    Book value: a per-stock level (log B/P at the start ~ N(log 0.5, 0.6), cheaper in banks,
    steel, coal, real estate) growing with an AR(1) earnings rate, known with a one-quarter lag
    (the value on row t is the book of 63 sessions earlier over today's total cap).
    """
    n_t, n = mcap.shape
    cheap = np.isin(np.array(u.industries)[u.industry], ("银行", "钢铁", "煤炭", "房地产"))
    log_bp0 = rng.normal(np.log(0.5), 0.6, n) + 0.8 * cheap
    growth = cumsum_rows(0.08 / 244 + 0.0004 * ar1_nb(rng.standard_normal((n_t, n)), 0.995))
    cols = np.arange(n)
    first_idx = np.argmax(np.isfinite(mcap), axis=0)
    growth -= growth[first_idx, cols][None, :]
    book = np.exp(growth)
    del growth
    book *= (np.exp(log_bp0) * mcap[first_idx, cols])[None, :]
    lag = min(63, n_t)
    lagged = np.vstack([np.full((lag, n), np.nan), book[: n_t - lag]])
    del book
    month = days.astype("datetime64[M]")
    last = np.flatnonzero(np.r_[month[1:] != month[:-1], True])
    bp = lagged[last] / mcap[last]
    tt, jj = np.nonzero(np.isfinite(bp))
    return pl.DataFrame(
        {
            "date": pl.Series(days[last], dtype=pl.Date).gather(tt),
            "asset": codes.gather(jj),
            "book_to_price": np.round(bp[tt, jj], 6),
        }
    ).sort("date", "asset")


#: Seed 003's A-share theme ETFs that are not industry ETFs, and the industries their stocks
#: come from (the synthetic market has no sub-industries: a random half of those stocks).
THEME_ETFS: dict[str, tuple[str, ...]] = {
    "512480.SH": ("电子",),
    "159995.SZ": ("电子",),
    "515070.SH": ("计算机",),
    "515050.SH": ("通信",),
    "512690.SH": ("食品饮料",),
    "159928.SZ": ("食品饮料", "家电"),
    "512880.SH": ("非银行金融",),
    "512910.SH": ("非银行金融",),
    "515030.SH": ("汽车", "电力设备及新能源"),
    "515790.SH": ("电力设备及新能源",),
    "159755.SZ": ("电力设备及新能源",),
}
#: Creation / redemption unit of the synthetic A-share ETFs (units per basket).
ETF_CREATION_UNIT = 1_000_000
#: A-share ETF creations: daily rate of change of shares outstanding =
#: ``ETF_FLOW_LOADING`` x the sector's z-scored northbound flow + ``ETF_RETURN_RESPONSE`` x the
#: day's NAV return + ``ETF_RATE_NOISE`` x N(0, 1). The return response is contrarian (dips draw
#: creations, as A-share ETF flows tend to): it is what makes seed 003's heuristic (up on rising
#: volume = inflow) a coin flip against the exact flow here (docs/etf-flows.md).
ETF_FLOW_LOADING = 0.004
ETF_RETURN_RESPONSE = -0.1
ETF_RATE_NOISE = 0.004
#: The same for the Hong Kong and US ETFs (a persistent AR(1) flow latent instead of northbound
#: flows): ``WORLD_FLOW_LOADING`` x latent + ``WORLD_RETURN_RESPONSE`` x return + noise.
WORLD_FLOW_LOADING = 0.002
WORLD_RETURN_RESPONSE = -0.05
WORLD_RATE_NOISE = 0.002


def _etfs(
    days: np.ndarray,
    u: _Universe,
    realized: np.ndarray,
    fcap: np.ndarray,
    flow: np.ndarray,
    indices: pl.DataFrame,
    rng: np.random.Generator,
    theme_rng: np.random.Generator,
) -> pl.DataFrame:
    """Industry ETFs (one per rotated industry; NAV = the industry's cap-weighted member return),
    broad ETFs (NAV = the index) and seed 003's A-share theme ETFs (``THEME_ETFS``: NAV = the
    cap-weighted return of a random half of their parent industries' stocks, drawn from
    `theme_rng`, which also drives their series, so the other ETFs do not depend on them).
    Shares outstanding change only by creations / redemptions in whole units of
    ``ETF_CREATION_UNIT``: a daily rate driven by the sector's northbound flow (z-scored), a
    contrarian response to the day's NAV return (``ETF_RETURN_RESPONSE``) and noise. Creations
    lift the premium (close / NAV - 1, plus noise of 0.15%) and the volume."""
    n_t = len(days)
    r = nan_to_num(realized)
    w = lag_nan_to_num_nb(fcap)
    ind_names = np.array(u.industries)[u.industry]
    frames = []
    specs = [
        (code, sector, ind_names == sector)
        for sector, code in SECTOR_ETF_CODES.items()
        if sector in u.industries and sector not in ROTATION_EXCLUDED
    ]
    specs += [(code, name, None) for name, code in BROAD_ETF_CODES.items()]
    specs = [(code, sector, mask, rng) for code, sector, mask in specs]
    names = dict(sector_etfs("CN").select("etf", "sector").iter_rows())
    for code, parents in THEME_ETFS.items():
        mask = np.isin(ind_names, parents)
        half = mask & (theme_rng.random(len(mask)) < 0.5)
        if mask.any() and parents[0] in u.industries:
            specs.append((code, names[code], half if half.any() else mask, theme_rng))
    for code, sector, mask, rng in specs:
        if mask is None:
            lvl = indices.filter(pl.col("index") == sector)["close"].to_numpy()
            day_ret = np.r_[0.0, lvl[1:] / lvl[:-1] - 1.0]
            sec_flow = flow.sum(axis=1)
        else:
            ww = w[:, mask]
            den = ww.sum(axis=1)
            day_ret = np.where(
                den > 0, (ww * r[:, mask]).sum(axis=1) / np.where(den > 0, den, 1), 0.0
            )
            sec_flow = flow[:, mask].sum(axis=1)
        z = sec_flow / (sec_flow.std() + 1e-12)
        nav = np.round(np.cumprod(1.0 + day_ret) * rng.uniform(0.8, 1.5), 4)
        rate = (
            ETF_FLOW_LOADING * z
            + ETF_RETURN_RESPONSE * day_ret
            + ETF_RATE_NOISE * rng.standard_normal(n_t)
        )
        rate[0] = 0.0
        cu = ETF_CREATION_UNIT
        shares = np.maximum(np.round(rng.uniform(5e8, 5e9) * np.exp(np.cumsum(rate)) / cu), 1) * cu
        close = np.round(nav * (1.0 + 0.3 * rate + 0.0015 * rng.standard_normal(n_t)), 3)
        churn = np.abs(np.r_[0.0, np.diff(shares)]) / shares
        volume = np.round(
            shares
            * rng.uniform(0.01, 0.05)
            * np.exp(0.4 * rng.standard_normal(n_t))
            * (1.0 + 20.0 * churn),
            -2,
        )
        first = 0 if rng.random() < 0.5 else int(rng.integers(0, n_t // 2))
        frames.append(
            pl.DataFrame(
                {
                    "date": pl.Series(days[first:], dtype=pl.Date),
                    "etf": pl.repeat(code, n_t - first, eager=True),
                    "sector": pl.repeat(sector, n_t - first, eager=True),
                    "close": close[first:],
                    "nav": nav[first:],
                    "volume": volume[first:],
                    "amount": np.round(volume * close, 0)[first:],
                    "shares_outstanding": shares[first:].astype(np.float64),
                    "market": pl.repeat("CN", n_t - first, eager=True),
                    "currency": pl.repeat("CNY", n_t - first, eager=True),
                }
            )
        )
    return pl.concat(frames)


#: Hong Kong and US sector ETFs of seed 003 in the synthetic market: code -> (calendar, start
#: price, daily volatility, creation unit).
WORLD_ETFS: dict[str, tuple[str, float, float, int]] = {
    "3033.HK": ("hkex", 5.0, 0.022, 500_000),
    "3022.HK": ("hkex", 8.0, 0.021, 500_000),
    "3067.HK": ("hkex", 10.0, 0.020, 500_000),
    "2828.HK": ("hkex", 90.0, 0.015, 100_000),
    "QQQ": ("nyse", 110.0, 0.013, 50_000),
    "XLF": ("nyse", 25.0, 0.012, 50_000),
    "XLE": ("nyse", 70.0, 0.016, 50_000),
    "XLV": ("nyse", 75.0, 0.010, 50_000),
}


def _world_etfs(p: SynthParams, rng: np.random.Generator) -> pl.DataFrame:
    """Seed 003's Hong Kong and US sector ETFs on their own calendars (HKEX, NYSE), in HKD / USD.

    NAV: a regional market factor (half the variance) plus the ETF's own noise; shares
    outstanding change by creations / redemptions in whole units (a persistent flow latent, a
    contrarian ``WORLD_RETURN_RESPONSE`` x return term and noise), as for the A-share ETFs."""
    ref = sector_etfs().filter(pl.col("etf").is_in(list(WORLD_ETFS)))
    frames = []
    regional = {}
    for cal in ("hkex", "nyse"):
        n = len(sessions(cal, p.start, p.end))
        regional[cal] = rng.standard_normal(n)
    for etf, sector, market, currency in ref.select("etf", "sector", "market", "currency").rows():
        cal, price0, vol, cu = WORLD_ETFS[etf]
        days = sessions(cal, p.start, p.end)
        n_t = len(days)
        ret = vol * (np.sqrt(0.5) * regional[cal] + np.sqrt(0.5) * rng.standard_normal(n_t))
        ret[0] = 0.0
        nav = np.round(price0 * np.exp(np.cumsum(ret - 0.5 * vol**2)), 4)
        rate = WORLD_FLOW_LOADING * ar1_nb(rng.standard_normal(n_t), 0.9)
        rate += WORLD_RETURN_RESPONSE * ret + WORLD_RATE_NOISE * rng.standard_normal(n_t)
        rate[0] = 0.0
        shares = np.maximum(np.round(rng.uniform(5e7, 1e9) * np.exp(np.cumsum(rate)) / cu), 1) * cu
        close = np.round(nav * (1.0 + 0.2 * rate + 0.0008 * rng.standard_normal(n_t)), 3)
        churn = np.abs(np.r_[0.0, np.diff(shares)]) / shares
        volume = np.round(
            shares
            * rng.uniform(0.005, 0.03)
            * np.exp(0.35 * rng.standard_normal(n_t))
            * (1.0 + 20.0 * churn),
            -2,
        )
        frames.append(
            pl.DataFrame(
                {
                    "date": days,
                    "etf": pl.repeat(etf, n_t, eager=True),
                    "sector": pl.repeat(sector, n_t, eager=True),
                    "close": close,
                    "nav": nav,
                    "volume": volume,
                    "amount": np.round(volume * close, 0),
                    "shares_outstanding": shares.astype(np.float64),
                    "market": pl.repeat(market, n_t, eager=True),
                    "currency": pl.repeat(currency, n_t, eager=True),
                }
            )
        )
    return pl.concat(frames)


def _flows_truth(
    days: np.ndarray, flow: np.ndarray, flow_alloc: np.ndarray, can_trade: np.ndarray
) -> pl.DataFrame:
    """Ground truth: market-wide trade-based net buy per day, total and by participant type."""
    total = flow.sum(axis=1)
    alloc = flow_alloc.sum(axis=1)
    return pl.DataFrame(
        {
            "date": pl.Series(days, dtype=pl.Date),
            "net_buy": total,
            "net_buy_trading": total - alloc,
            "net_buy_allocation": alloc,
            "northbound_day": can_trade.any(axis=1),
        }
    )
