"""Seed 002's two-step estimator of daily northbound holdings after HKEX's 2024 change.

Step 1 fits the day's total holding value so that the disclosed stocks' implied holdings agree
with the price-drifted previous weights; step 2 finds the weights closest to the previous day's
that match the day's disclosures. See ``docs/estimation.md`` for both objectives.
"""

from __future__ import annotations

import datetime as dt
import numbers
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
import polars as pl
from scipy.optimize import minimize_scalar

from factorlab._display import Summary
from factorlab.calendar import sessions
from factorlab.errors import DisclosureError, ParameterError
from factorlab.market import Market
from factorlab.northbound.estimation.inputs import EstimationInputs, estimation_inputs
from factorlab.northbound.hygiene import bonus_events, bonus_grids, disclosure_end
from factorlab.progress import reports_progress
from factorlab.typing import ProgressOption

__all__ = [
    "LOSSES",
    "EstimateParams",
    "HoldingsEstimate",
    "Step1Loss",
    "TotalValue",
    "estimate_holdings",
    "naive_flows",
    "project_weights",
]

#: Step 1's calibration features (EstimateParams.calibrate_on): the fitted move, the carried
#: holdings' return that day, and 20 sessions earlier.
CALIBRATION_FEATURES = ("move", "return", "return_20")
#: How step 1 sets the day's total holding value.
TotalValue = Literal["fit", "truth", "buy_and_hold"]
#: Step 1's loss on the ratio deviations (EstimateParams.loss): scipy.optimize.least_squares'
#: robust losses rho(z), z = (r / f)^2 with f = ``EstimateParams.huber``.
Step1Loss = Literal["linear", "huber", "soft_l1", "cauchy"]
LOSSES: tuple[str, ...] = get_args(Step1Loss)
#: Iterations of the industries' reweighted least squares (from the market move: converged to
#: ~1e-6 of the move in 20 on the default market).
_IRLS_ITERATIONS = 30
#: The noise shrinkage's cap on the calibrated move's persistence (``EstimateParams.noise_window``):
#: phi = 1 would make the signal a random walk whose variance the window cannot measure.
_MAX_PERSISTENCE = 0.99
#: The noise shrinkage needs this many calibrated moves; with fewer the move is not shrunk
#: (``EstimateParams.noise_window`` is at least this).
_MIN_NOISE_HISTORY = 20


@dataclass(frozen=True)
class EstimateParams:
    """Parameters of the two-step estimator (defaults: docs/estimation.md, "Choices").

    Attributes
    ----------
    allowance
        The short-sell allowance as a fraction of start-of-day holdings (HKEX: 1%).
    print_below
        HKEX prints quantities below this many shares after the change; an unprinted
        ('sufficient') stock holds at least ``print_below / allowance`` shares.
    max_weight
        The seed's cap on a stock's weight (0.01); a stock already above it may keep, not grow,
        its weight (the largest real and synthetic holdings weigh 5-20%).
    band
        Bound on step 1's market-wide fit m̃: the day's total value within ``exp(+-band)`` of
        the price-drifted previous total (the seed's "bounds on the total"). With
        ``industry_prior`` the industries' moves, and so the unprinted stocks' move, are not
        bounded by it (clipping them to the band costs accuracy: docs/estimation.md §2).
    huber
        Scale f of step 1's robust loss on the ratio deviations (the name is historical: it
        is the scale of every `loss`, scipy.optimize.least_squares' ``f_scale``).
    loss
        Step 1's loss on the ratio deviations r_j = x_j - m, one of :data:`LOSSES`, as
        scipy.optimize.least_squares defines them (z = (r / f)^2; cost 0.5 f^2 rho(z)):
        ``"linear"`` (rho = z: least squares, the value-weighted mean of the x_j),
        ``"huber"`` (the default; rho = z for z <= 1, 2 sqrt(z) - 1 above), ``"soft_l1"``
        (2 (sqrt(1 + z) - 1)) and ``"cauchy"`` (ln(1 + z), redescending: a stock whose
        relative move is far from the others' has almost no say). docs/estimation.md §2.
    penalty
        Weight of the penalty on the total's deviation from the drifted previous total.
    min_quantity
        Disclosed quantities below this do not enter step 1 (rounding dominates them); they
        still bind in step 2.
    value_power
        Step 1 weighs stock j's ratio deviation by its carried value to this power: 1 (the
        default) makes step 1 the value-weighted ratio estimator, unbiased for the total;
        0 weighs stocks equally (the seed's wording), biased low on the synthetic market
        because small holdings mean-revert (docs/estimation.md, "Choices").
    drift_correction
        At each re-anchor, add the previous chains' measured per-day drift to step 1
        (real time: only past snapshots). Off by default: it removes the bias but makes the
        22-day sums noisier on the synthetic market.
    calibrate_days, calibrate_on
        Calibrated step 1: the printed stocks enter the day's total at their prints and the
        unprinted ones move by m_u = b . f, f the day's features `calibrate_on` (of
        :data:`CALIBRATION_FEATURES`: the fitted move m̃, the carried holdings' return that
        day, and 20 sessions earlier), b fitted by least squares on the last `calibrate_days`
        days of daily disclosure before the change: on those days the true holdings are
        published, so the fit replays step 1 with the post-change print rule applied to that
        day's quantities and regresses the unprinted stocks' true move on the features (b < 1
        on m̃ is the shrinkage a noisy m̃ calls for, and b is clipped to [0, 1]: shrinkage
        only; b = 0 leaves the unprinted stocks buy-and-hold, i.e. the naive baseline's
        flows). 0 days: off (the seed's step 1, together with ``industry_prior=None``: the
        whole total moves by m̃). Fewer than 20 usable days, or no daily quantities before
        the change, leave it off (said in ``notes``).
    industry_prior
        Step 1 by industry: each industry's printed stocks give their own move m_k (the same
        loss), shrunk towards the market move m̃ as m_k <- l m_k + (1 - l) m̃ with
        l = s_k / (s_k + industry_prior / K), s_k the industry's share of the fit's weight and
        K the number of industries (the default 1.5: an industry holding 1.5 times the
        average share is read half on its own, half from the market move). The unprinted
        stocks move by their industries' m_k (the fitted move that enters the calibration is
        their value-weighted mean), and step 2 tilts each free stock's reference weight by its
        industry's move. None: one market-wide move (the seed's reading; also when the market
        has no ``assets.industry``). docs/estimation.md §2.
    snapshot_prior
        Rescale the calibrated extrapolation on the published snapshots: each snapshot reveals
        the true total value at its as-of day, hence how much of the extrapolation X_c (the
        unprinted stocks' calibrated moves of the chain that ends there, in yuan carried to
        that day) the truth bore out, Y_c = V_true - (V_est - s_c X_c). From each snapshot's
        publication on, the unprinted stocks move by s x the calibrated move, with
        s = (sum X_c Y_c + k S) / (sum X_c^2 + k S) clipped to [0, 1] (shrinkage only), S the
        mean X_c^2 of the chains seen and k = `snapshot_prior` pseudo-chains at s = 1. Needs
        the calibration (``calibrate_days > 0``); before the first snapshot, s = 1.
        None (the default): off, s = 1 throughout (the behaviour before issue 13's est19).
        docs/estimation.md §2, "The extrapolation's scale".
    noise_window, noise_min_persistence
        Shrink the unprinted stocks' calibrated move by its own signal share: the day's move
        m_1 becomes lambda m_1 (towards 0, the naive's flows; not towards the window's mean,
        so a sustained mean move is shrunk too: docs/estimation.md §2), lambda the share of
        the variance of the last `noise_window` calibrated moves (the calibration year's, then
        the estimate's own days, all known by the day estimated; days step 1 could not fit are
        left out) that persists from day to day, read from their autocovariances (about the
        window's mean) under an AR(1) signal in white noise: phi = gamma_2 / gamma_1 clipped
        to [`noise_min_persistence`, 0.99], lambda = min(rho_1 / phi, 1), and 0 when
        gamma_1 <= 0. A move as persistent as the flows keeps its size; one that is mostly
        day-to-day noise shrinks towards 0. The floor under phi (default 0.3: within 0.006
        of the least RMSE of lambda on simulated AR(1) signals at 120 moves, 0.4; it never
        binds on the five markets of docs/estimation.md §4) keeps lambda continuous as
        gamma_2 crosses 0; 0 is issue 13's est21 reading (gamma_2 <= 0 gives lambda = 0, a
        jump from up to 1).
        `noise_window` is at least 20 (the fewest moves lambda is read from; before 20 are
        known lambda = 1). Inactive without the calibration (``notes`` says so).
        ``noise_window=None``: off (the behaviour before issue 13's est21).
        docs/estimation.md §2, "The extrapolated move's daily noise".
    """

    allowance: float = 0.01
    print_below: float = 300_000.0
    max_weight: float = 0.01
    band: float = 0.03
    huber: float = 0.05
    loss: Step1Loss = "huber"
    penalty: float = 0.0
    min_quantity: float = 20.0
    value_power: float = 1.0
    drift_correction: bool = False
    calibrate_days: int = 250
    calibrate_on: tuple[str, ...] = ("move",)
    industry_prior: float | None = 1.5
    snapshot_prior: float | None = None
    noise_window: int | None = 120
    noise_min_persistence: float = 0.3

    def __post_init__(self) -> None:
        for name in ("allowance", "band", "huber", "max_weight"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v > 0):
                raise ParameterError(f"`{name}` must be a finite number > 0; got {v}.")
        if self.allowance > 1 or self.max_weight > 1:
            raise ParameterError(
                f"`allowance` and `max_weight` must be <= 1; got {self.allowance}, "
                f"{self.max_weight}."
            )
        for name in ("industry_prior", "snapshot_prior"):
            k = getattr(self, name)
            number = isinstance(k, numbers.Real) and not isinstance(k, bool)
            if k is not None and not (number and np.isfinite(k) and k >= 0):
                raise ParameterError(f"`{name}` must be None or a finite number >= 0; got {k!r}.")
        w = self.noise_window
        integer = isinstance(w, (int, np.integer)) and not isinstance(w, bool)
        if w is not None and not (integer and w >= _MIN_NOISE_HISTORY):
            raise ParameterError(
                f"`noise_window` must be None or an integer >= {_MIN_NOISE_HISTORY} (the fewest"
                f" moves the noise shrinkage reads); got {w!r}."
            )
        f = self.noise_min_persistence
        number = isinstance(f, numbers.Real) and not isinstance(f, bool)
        if not (number and 0 <= f <= _MAX_PERSISTENCE):
            raise ParameterError(
                f"`noise_min_persistence` must be a number in [0, {_MAX_PERSISTENCE}]; got {f!r}."
            )
        if self.snapshot_prior is not None and self.calibrate_days == 0:
            raise ParameterError(
                "`snapshot_prior` rescales the calibrated extrapolation, which `calibrate_days=0`"
                " turns off; set `calibrate_days` > 0 or `snapshot_prior=None`."
            )
        for name in ("print_below", "penalty", "min_quantity"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v >= 0):
                raise ParameterError(f"`{name}` must be a finite number >= 0; got {v}.")
        if self.loss not in LOSSES:
            raise ParameterError(f"`loss` must be one of {list(LOSSES)}; got {self.loss!r}.")
        c = self.calibrate_days
        if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or c < 0:
            raise ParameterError(f"`calibrate_days` must be an integer >= 0; got {c!r}.")
        on = tuple(self.calibrate_on)
        bad = [f for f in on if f not in CALIBRATION_FEATURES]
        if bad or not on or len(set(on)) != len(on):
            raise ParameterError(
                f"`calibrate_on` must name distinct features among {list(CALIBRATION_FEATURES)}; "
                f"got {list(on)}."
            )
        object.__setattr__(self, "calibrate_on", on)


@dataclass(frozen=True)
class HoldingsEstimate:
    """Estimated daily northbound holdings, totals and flows.

    Attributes
    ----------
    holdings
        date, asset, shares (ex-date basis: the format of ``research_panel(estimated_holdings=)``),
        weight, flow (yuan: dS x VWAP), disclosed (the shares come from a printed quantity),
        published (the day the estimate could first be known), estimated (always True).
    totals
        One row per estimated day: date, published, value (V, yuan), value_drift (yesterday's
        shares at today's prices), net_inflow (yuan), n_disclosed, disclosed_weight, feasible
        (step 2's bounds all held; else the weights were scaled to the day's total, counted in
        ``notes``), anchor (the as-of day of the holdings the day's chain starts from),
        estimated.
    params, total_value
        What produced it (``total_value``: "fit", or an ablation "truth" / "buy_and_hold").
    source
        The data it ran on.
    notes
        Input rows left out, by reason: step, rows, detail (and the step-1 calibration).
    calibration
        Step 1's calibration coefficients, one per ``params.calibrate_on`` feature (None: not
        calibrated; see :class:`EstimateParams`).
    """

    holdings: pl.DataFrame
    totals: pl.DataFrame
    params: EstimateParams
    total_value: str
    source: str
    notes: pl.DataFrame = field(default_factory=lambda: _notes(()))
    calibration: tuple[float, ...] | None = None

    def _display(self) -> Summary:
        t = self.totals
        line = f"{t.height} estimated days" + (
            f", {t['date'].min()} .. {t['date'].max()}" if t.height else ""
        )
        return Summary(
            f"HoldingsEstimate ({self.total_value}): {self.source}",
            (line, f"{self.holdings.height:,} holding rows"),
            t.select("date", "value", "net_inflow", "n_disclosed", "disclosed_weight").tail(5),
            "last days",
        )

    def __repr__(self) -> str:
        return self._display().text()

    def _repr_html_(self) -> str:
        return self._display().html()


def _notes(rows: tuple[dict, ...]) -> pl.DataFrame:
    return pl.DataFrame(
        list(rows), schema={"step": pl.String, "rows": pl.Int64, "detail": pl.String}
    )


def _fit_total(x: np.ndarray, c: np.ndarray, p: EstimateParams) -> float:
    """Step 1: m = V / V_drift - 1 minimizing sum c_j f^2 rho(((x_j - m) / f)^2) / (2 sum c)
    + penalty m^2, |m| <= band, where x_j is stock j's ratio deviation (implied / carried
    holdings - 1), rho the loss ``p.loss`` and f = ``p.huber``."""
    if x.size == 0 or not c.sum() > 0:
        return 0.0
    d = p.huber
    c = c / c.sum()

    def loss(m: float) -> float:
        r = np.abs(x - m)
        if p.loss == "huber":
            h = np.where(r <= d, 0.5 * r * r, d * (r - 0.5 * d))
        else:
            z = (r / d) ** 2
            if p.loss == "linear":
                rho = z
            elif p.loss == "soft_l1":
                rho = 2.0 * (np.sqrt(1.0 + z) - 1.0)
            else:  # cauchy
                rho = np.log1p(z)
            h = 0.5 * d * d * rho
        return float(h @ c) + p.penalty * m * m

    lo, hi = -p.band, p.band
    if p.loss == "cauchy":  # not convex: search a grid, then refine around its best point
        grid = np.linspace(lo, hi, 121)
        k = int(np.argmin([loss(g) for g in grid]))
        lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, grid.size - 1)]
    res = minimize_scalar(loss, bounds=(lo, hi), method="bounded", options={"xatol": 1e-7})
    return float(res.x)


def project_weights(
    w_ref: np.ndarray, total: float, lower: np.ndarray, upper: np.ndarray, *, iters: int = 100
) -> np.ndarray:
    """Step 2's free weights: argmin sum (w - w_ref)^2 / w_ref s.t. sum w = total, lower <= w
    <= upper; the KKT solution w = clip(w_ref (1 + mu), lower, upper), mu by bisection.

    A reference weight of 0 stays at its lower bound. When the bounds make ``total``
    unreachable, the nearest bound vector is scaled to it (the caller keeps the day's sum).
    """
    if w_ref.size == 0:
        return w_ref.copy()

    def at(mu: float) -> np.ndarray:
        return np.clip(w_ref * (1.0 + mu), lower, upper)

    lo_sum = float(np.clip(0.0, lower, upper).sum())
    pos = w_ref > 0
    mu_hi = float(np.max(upper[pos] / w_ref[pos])) - 1.0 if pos.any() else 0.0
    hi_sum = float(at(mu_hi).sum())
    if total <= lo_sum:
        base = np.clip(0.0, lower, upper)
        return base * (total / lo_sum) if lo_sum > 0 else base
    if total >= hi_sum:
        w = at(mu_hi)
        s = float(w_ref.sum())
        return w_ref * (total / s) if total > hi_sum and s > 0 else w
    a, b = -1.0, mu_hi
    for _ in range(iters):
        m = 0.5 * (a + b)
        if at(m).sum() < total:
            a = m
        else:
            b = m
    w = at(0.5 * (a + b))
    return w * (total / w.sum())


def _move(
    p: EstimateParams,
    v: np.ndarray,
    h: np.ndarray,
    q: np.ndarray,
    price: np.ndarray,
    priced: np.ndarray,
    disc: np.ndarray,
    prev_disc: np.ndarray,
    sufficient: np.ndarray,
    industry: np.ndarray | None = None,
) -> tuple[float, np.ndarray | None]:
    """Step 1's fitted move m̃ and the industries' moves (None: off, `industry` None or
    ``p.industry_prior`` None) of one day from the carried values `v`, the printed stocks'
    implied values `h` and quantities `q`: the stocks printed on both days, and those printed
    yesterday and 'sufficient' today, which crossed the threshold upward (their ratio is at
    least the threshold's: kept at that bound, so buying does not drop out of the fit).

    A crossing needs yesterday's holding under the threshold. After an anchor every stock is
    known (`prev_disc`) and most 'sufficient' stocks hold far more than the threshold: their
    'sufficient' says nothing about the day's move, and read at the bound it would pull the
    fit to -band on the first day of every chain (docs/estimation.md §4, "The chain's first
    day")."""
    both = disc & prev_disc & (v > 0) & (q >= p.min_quantity)
    bound = p.print_below / p.allowance * np.where(priced, price, 0.0)
    crossed = sufficient & prev_disc & (v > 0) & priced & (bound > v)
    x = np.concatenate([h[both] / v[both] - 1.0, bound[crossed] / v[crossed] - 1.0])
    c = np.concatenate([v[both], v[crossed]]) ** p.value_power
    m = _fit_total(x, c, p)
    if industry is None or p.industry_prior is None:
        return m, None
    k = np.concatenate([industry[both], industry[crossed]])
    return m, _industry_moves(x, c, k, int(industry.max()) + 1, m, p)


def _industry_moves(
    x: np.ndarray, c: np.ndarray, k: np.ndarray, n_ind: int, m: float, p: EstimateParams
) -> np.ndarray:
    """Each industry's move: the location of its stocks' ratio deviations `x` (weights `c`,
    industry codes `k`) under step 1's loss, by iteratively reweighted least squares from the
    market move `m`, shrunk towards `m` (``EstimateParams.industry_prior``)."""
    mk = np.full(n_ind, m)
    if x.size == 0 or not c.sum() > 0:
        return mk
    ck = np.bincount(k, c, n_ind)
    f2 = p.huber * p.huber
    for _ in range(_IRLS_ITERATIONS):
        r = x - mk[k]
        z = r * r / f2
        if p.loss == "huber":
            w = np.minimum(1.0, p.huber / np.maximum(np.abs(r), 1e-300))
        elif p.loss == "soft_l1":
            w = 1.0 / np.sqrt(1.0 + z)
        elif p.loss == "cauchy":
            w = 1.0 / (1.0 + z)
        else:
            w = np.ones_like(r)
        sw = np.bincount(k, c * w, n_ind)
        mk = np.where(sw > 0, np.bincount(k, c * w * x, n_ind) / np.where(sw > 0, sw, 1.0), m)
    share = ck / ck.sum()
    lam = share / (share + p.industry_prior / n_ind) if p.industry_prior > 0 else (share > 0) * 1.0
    return lam * mk + (1.0 - lam) * m


def _free_move(
    m: float, mk: np.ndarray | None, industry: np.ndarray | None, v: np.ndarray, free: np.ndarray
) -> float:
    """The unprinted (free) stocks' fitted move: their value-weighted mean industry move, or
    the market move `m` without industries."""
    vf = float(v[free].sum())
    if mk is None or industry is None or vf <= 0:
        return m
    return float(mk[industry[free]] @ v[free]) / vf


def _calibration(
    market: Market,
    p: EstimateParams,
    short_sellable: pl.DataFrame | pl.LazyFrame | None,
    snapshots: pl.DataFrame | pl.LazyFrame | None,
) -> tuple[tuple[float, ...] | None, dict, np.ndarray]:
    """Step 1's calibration coefficients (one per ``p.calibrate_on`` feature), their note and
    the calibrated moves of the calibration days (the noise shrinkage's first history).

    On the last ``p.calibrate_days`` northbound sessions of daily disclosure (all published
    before any estimate) step 1 is replayed from the true previous holdings with the
    post-change print rule (quantities at or above ``print_below`` read as 'sufficient'), and
    the true move of the stocks that rule leaves unprinted (their value at today's shares /
    at yesterday's, both at today's prices, - 1) is regressed on the features by least
    squares with an intercept. The intercept (the unseen stocks' average move over that
    year) is not carried forward: it is a level, which the quarterly re-anchoring fixes.
    None: not calibrated."""
    if p.calibrate_days == 0:
        note = {"step": "step 1 calibration", "rows": 0, "detail": "off (calibrate_days=0)"}
        return None, note, np.zeros(0)
    change = disclosure_end(market)
    days = sessions("northbound", None, change)
    if days.len() < 21:
        return _off("fewer than 21 northbound sessions before the change")
    start = days[max(1, days.len() - p.calibrate_days)]
    ss = (market.short_sellable if short_sellable is None else short_sellable).lazy()
    if "sufficient" not in ss.collect_schema().names():
        ss = ss.with_columns(sufficient=pl.lit(False))
    over = pl.col("quantity") >= p.print_below
    masked = ss.filter(pl.col("date") <= days[-1] + dt.timedelta(days=15)).with_columns(
        sufficient=pl.col("sufficient").fill_null(False) | over.fill_null(False),
        quantity=pl.when(over).then(None).otherwise(pl.col("quantity")),
    )
    try:
        inp = estimation_inputs(
            market, start=start, end=change, short_sellable=masked, snapshots=snapshots
        )
    except DisclosureError as exc:
        return _off(f"no daily disclosure to calibrate on ({exc.args[0][:80]})")
    nb = (market.northbound if snapshots is None else snapshots).lazy()
    lo = inp.index.dates[0].item()
    daily = nb.filter(pl.col("date").is_between(lo, change)).select("date", "asset", "shares")
    daily = daily.collect().filter(pl.col("date").is_in(inp.index.date_series().implode()))
    daily = daily.filter(pl.col("asset").is_in(inp.index.assets.implode()))
    _, pending = bonus_grids(bonus_events(market), inp.index)
    cells = inp.index.cells(daily)
    truth = inp.index.scatter(cells, daily["shares"].cast(pl.Float64).to_numpy(), fill=0.0)
    truth /= pending
    on = np.zeros(inp.index.shape[0], dtype=bool)
    on[inp.index.date_rows(daily["date"].unique())] = True
    fitted, true = [], []
    for i in inp.est_rows.tolist():
        if i < 1 or not (on[i] and on[i - 1]):
            continue
        carry = truth[i - 1] * (inp.ex[i] / inp.ex[i - 1])
        price = inp.close[i]
        priced = np.isfinite(price) & (price > 0)
        px = np.where(priced, price, 0.0)
        v = np.where(priced, carry * px, 0.0)
        q = inp.quantity[i]
        disc = np.isfinite(q) & priced
        h = np.where(disc, np.where(q > 0, (q + 0.5) / p.allowance, 0.0) * px, 0.0)
        v_drift = float(v.sum())
        if v_drift <= 0:
            continue
        prev_disc = np.isfinite(inp.quantity[i - 1])  # printed yesterday under the new rule
        free = ~disc & priced & np.isfinite(inp.vwap[i])
        v_free = float(v[free].sum())
        if v_free <= 0:
            continue
        m, mk = _move(p, v, h, q, price, priced, disc, prev_disc, inp.sufficient[i], inp.industry)
        m = _free_move(m, mk, inp.industry, v, free)
        fitted.append(_features(inp, i - 1, i, v, m, p))
        true.append(float((truth[i][free] * px[free]).sum()) / v_free - 1.0)
    if len(fitted) < 20:
        return _off(f"{len(fitted)} usable days (fewer than 20)")
    x, y = np.array(fitted), np.array(true)
    xc, yc = x - x.mean(axis=0), y - y.mean()
    coef = np.linalg.lstsq(xc, yc, rcond=None)[0]
    if "move" in p.calibrate_on:  # shrinkage only: b > 1 would amplify the fit's noise
        k = p.calibrate_on.index("move")
        coef[k] = min(max(coef[k], 0.0), 1.0)
    r2 = 1.0 - float(((yc - xc @ coef) ** 2).sum()) / float((yc**2).sum()) if yc.any() else 0.0
    terms = " + ".join(f"{b:.3g} x {n}" for b, n in zip(coef, p.calibrate_on, strict=True))
    return (
        tuple(float(b) for b in coef),
        {
            "step": "step 1 calibrated on the last days of daily disclosure",
            "rows": len(x),
            "detail": f"move = {terms} (R² {r2:.2f}; {inp.index.dates[0]} .. {change})",
        },
        x @ coef,
    )


def _features(
    inp: EstimationInputs, prev_row: int, i: int, v: np.ndarray, m: float, p: EstimateParams
) -> np.ndarray:
    """Step 1's calibration features of day `i` (``p.calibrate_on``): the fitted move m̃, the
    carried holdings' return from `prev_row` to `i`, and their return on the session 20 rows
    earlier (what trend-chasing money reacts to), both at today's carried values `v`."""
    out = []
    total = float(v.sum())
    for name in p.calibrate_on:
        if name == "move":
            out.append(m)
            continue
        lag = 0 if name == "return" else 20
        a, b = prev_row - lag, i - lag
        if a < 0 or total <= 0:
            out.append(0.0)
            continue
        adj_b, adj_a = inp.close[b] * inp.ex[b], inp.close[a] * inp.ex[a]
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.where((adj_a > 0) & np.isfinite(adj_b), adj_b / adj_a - 1.0, 0.0)
        out.append(float(np.nan_to_num(r) @ v) / total)
    return np.array(out)


def _off(why: str) -> tuple[None, dict, np.ndarray]:
    """No calibration: no coefficients, the note saying why, no calibrated moves."""
    return None, {"step": "step 1 calibration", "rows": 0, "detail": f"off: {why}"}, np.zeros(0)


@dataclass
class _Day:
    shares: np.ndarray
    value: float
    drift: float
    flow: np.ndarray
    disclosed: np.ndarray
    weight: np.ndarray
    feasible: bool
    extrapolated: float = 0.0  # the unprinted stocks' calibrated move x their value (yuan, s=1)
    move: float = float("nan")  # the calibrated move before the noise shrinkage (its history)
    signal_share: float = float("nan")  # the noise shrinkage's lambda (nan: off)


def _step(
    inp: EstimationInputs,
    prev_row: int,
    prev_shares: np.ndarray,
    i: int,
    p: EstimateParams,
    mode: str,
    v_true: np.ndarray | None,
    prev_disc: np.ndarray,
    drift: float = 0.0,
    calibration: tuple[float, ...] | None = None,
    scale: float = 1.0,
    history: np.ndarray | None = None,
) -> _Day:
    """Advance the holdings from row `prev_row` to row `i` (one estimated day); `prev_disc`
    marks the stocks whose shares came from a print on `prev_row`; step 1's move is
    `scale` x ``calibration`` . the day's features (:func:`_calibration`), or the fitted move
    itself. `history`: the calibrated moves the noise shrinkage reads (``p.noise_window``;
    None: off), today's appended to it."""
    carry = prev_shares * (inp.ex[i] / inp.ex[prev_row])
    price = inp.close[i]
    priced = np.isfinite(price) & (price > 0)
    v = np.where(priced, carry * np.where(priced, price, 0.0), 0.0)
    v_drift = float(v.sum())
    q = inp.quantity[i]
    disc = np.isfinite(q) & priced
    implied = np.where(q > 0, (q + 0.5) / p.allowance, 0.0)
    h = np.where(disc, implied * np.where(priced, price, 0.0), 0.0)
    trading = np.isfinite(inp.vwap[i])
    fixed = ~trading & ~disc  # no trade possible: the carried shares stay
    # a stock printed today only is revised to its print: new information about the level,
    # not a trade, so the total moves by the revision before step 1 fits the day's trades
    new = disc & ~prev_disc
    v_base = v_drift + float((h[new] - v[new]).sum())
    tilt = None
    extrapolated = 0.0
    raw = lam = float("nan")
    if mode == "truth" and v_true is not None:
        value = float(v_true[i])
    elif mode == "buy_and_hold" or v_base <= 0:
        value = v_base
    else:
        m0, mk = _move(p, v, h, q, price, priced, disc, prev_disc, inp.sufficient[i], inp.industry)
        m = _free_move(m0, mk, inp.industry, v, ~disc & ~fixed & priced)
        if calibration is None:  # the seed's step 1: the whole total moves by the fit
            value = v_base * (1.0 + m + drift)
            b, m_u = 1.0, m
        else:  # the printed stocks at their prints, the others by the calibrated move
            raw = float(np.dot(calibration, _features(inp, prev_row, i, v, m, p)))
            m_1 = raw
            if history is not None:  # shrunk towards 0, not the window's mean (docs §2)
                lam = _signal_share(np.append(history, raw), p.noise_min_persistence)
                m_1 = raw * lam
            m_u = scale * m_1
            v_free = float(v[~disc & ~fixed].sum())
            extrapolated = v_free * m_1
            value = float(h.sum() + v[fixed].sum()) + v_free * (1.0 + m_u + drift)
            b = calibration[p.calibrate_on.index("move")] if "move" in p.calibrate_on else 0.0
            b *= scale
        if mk is not None:  # step 2's reference: each free stock tilted by its industry's move
            tilt = 1.0 + b * (mk[inp.industry] - m) / (1.0 + m_u)
    free = ~disc & ~fixed & priced
    suff_low = np.where(inp.sufficient[i] & free, p.print_below / p.allowance * price, 0.0)
    floor_value = float(h.sum() + v[fixed].sum() + np.nan_to_num(suff_low).sum())
    value = max(value, floor_value)
    w_ref = v / v_drift if v_drift > 0 else np.zeros_like(v)
    lower = np.nan_to_num(suff_low) / value if value > 0 else np.zeros_like(v)
    upper = np.maximum(np.maximum(p.max_weight, w_ref), lower)
    rest = 1.0 - (h.sum() + v[fixed].sum()) / value if value > 0 else 0.0
    w = np.zeros_like(v)
    w[disc] = h[disc] / value if value > 0 else 0.0
    w[fixed] = v[fixed] / value if value > 0 else 0.0
    lo_f, up_f, ref_f = lower[free], upper[free], w_ref[free]
    if tilt is not None:
        ref_f = ref_f * np.maximum(tilt[free], 0.0)
    reach = float(np.where(ref_f > 0, up_f, lo_f).sum())
    feasible = bool(rest >= -1e-12 and lo_f.sum() <= rest + 1e-12 and rest <= reach + 1e-12)
    w[free] = project_weights(ref_f, max(rest, 0.0), lo_f, up_f)
    shares = carry.copy()
    shares[disc] = implied[disc]
    shares[free] = w[free] * value / price[free]
    # trades: a stock printed on consecutive days traded the change of its implied shares; a
    # stock printed today only (or after a re-anchor) is revised to its print, and is taken to
    # have traded like the free stocks (the jump is new information about the past, not a trade)
    vw = np.nan_to_num(inp.vwap[i])
    trade = shares - carry
    base = float((carry[free] * price[free]).sum())
    scale = float((shares[free] * price[free]).sum()) / base if base > 0 else 1.0
    trade[new] = carry[new] * (scale - 1.0)
    flow = np.where(trading, trade * vw, 0.0)
    return _Day(shares, value, v_drift, flow, disc, w, feasible, extrapolated, raw, lam)


@reports_progress("holdings estimate")
def estimate_holdings(
    market: Market,
    *,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    params: EstimateParams | None = None,
    total_value: TotalValue = "fit",
    short_sellable: pl.DataFrame | pl.LazyFrame | None = None,
    snapshots: pl.DataFrame | pl.LazyFrame | None = None,
    progress: ProgressOption = "auto",
) -> HoldingsEstimate:
    """Estimate daily northbound holdings and flows from snapshots and short-sellable quantities.

    Seed 002's two-step method (Kaiyuan, 2025-03), run in real time: the estimate for day d
    uses only what was published by the day its disclosure appeared (the next northbound
    session), and every quarterly snapshot re-anchors the chain from its as-of day once
    published, so errors do not accumulate.

    Parameters
    ----------
    market
        Needs ``prices``, ``northbound`` (the anchors), ``short_sellable``;
        ``corporate_actions`` when bonus issues exist; ``northbound_truth`` for
        ``total_value="truth"``.
    start, end
        Window to estimate (default: after the market's last daily disclosure .. its last day).
        With step 1's calibration (``total_value="fit"``, ``params.calibrate_days > 0``) the
        window must start after the disclosure change: the calibration is fitted on the daily
        disclosure up to it (a ParameterError otherwise).
    params
        :class:`EstimateParams`.
    total_value
        ``"fit"`` (step 1), or the seed's ablations: ``"truth"`` (the true total value, from
        ``northbound_truth``) and ``"buy_and_hold"`` (the drifted previous total).
    short_sellable, snapshots
        Replace the market's ``short_sellable`` / ``northbound`` tables (e.g. from
        :mod:`factorlab.adapters.hkex` and tushare ``hk_hold``).
    progress
        Progress messages (see :mod:`factorlab.progress`).

    Returns
    -------
    HoldingsEstimate

    Examples
    --------
    >>> from factorlab.datasets import synthetic_market
    >>> m = synthetic_market(n_assets=120, start="2022-06-01", end="2023-12-31",
    ...                      disclosure_change="2023-01-01", progress=False)  # doctest: +SKIP
    >>> est = estimate_holdings(m, progress=False)  # doctest: +SKIP
    """
    if total_value not in ("fit", "truth", "buy_and_hold"):
        raise ParameterError(
            f"`total_value` must be 'fit', 'truth' or 'buy_and_hold'; got {total_value!r}."
        )
    p = params or EstimateParams()
    say = progress
    inp = estimation_inputs(
        market, start=start, end=end, short_sellable=short_sellable, snapshots=snapshots
    )
    change = disclosure_end(market)
    first = inp.index.dates[int(inp.est_rows[0])].item() if len(inp.est_rows) else None
    if total_value == "fit" and p.calibrate_days > 0 and first is not None and first <= change:
        raise ParameterError(
            f"`start` ({start}; first estimated day {first}) is on or before the disclosure "
            f"change ({change}): step 1's calibration (calibrate_days={p.calibrate_days}) and the"
            f" noise shrinkage's history are fitted on the daily disclosure up to {change}, after"
            " the days estimated. Start after the change, or set `calibrate_days=0`."
        )
    v_true = _true_values(market, inp) if total_value == "truth" else None
    say(f"{len(inp.est_rows)} days x {inp.index.shape[1]} stocks, {len(inp.anchors)} anchors")
    line, note, prior = None, None, None
    if total_value == "fit":
        line, note, prior = _calibration(market, p, short_sellable, snapshots)
    return _run(inp, p, total_value, v_true, _source(market), line, note, prior)


def _source(market: Market) -> str:
    meta = market.meta if isinstance(market.meta, dict) else {}
    h = meta.get("content_hash")
    src = meta.get("source") or ("synthetic" if "params" in meta else "in-memory market")
    return f"{src}" + (f" (content {h[:12]})" if isinstance(h, str) else "")


def _true_values(market: Market, inp: EstimationInputs) -> np.ndarray:
    market.require("northbound_truth", purpose="the known-total-value ablation")
    lo, hi = inp.index.dates[0].item(), inp.index.dates[-1].item()
    t = market.northbound_truth.filter(pl.col("date").is_between(lo, hi)).collect()
    s = inp.index.scatter(inp.index.cells(t), t["shares"].cast(pl.Float64).to_numpy(), fill=0.0)
    return np.nansum(s * np.nan_to_num(inp.close), axis=1)


def _run(
    inp: EstimationInputs,
    p: EstimateParams,
    mode: str,
    v_true: np.ndarray | None,
    source: str,
    line: tuple[float, ...] | None = None,
    line_note: dict | None = None,
    prior_moves: np.ndarray | None = None,
) -> HoldingsEstimate:
    anchors = sorted(inp.anchors, key=lambda a: a[1])
    a_row, _, a_shares = anchors[0]
    used = 1
    state_row, state = a_row, a_shares
    # anchor holdings are published in full: a change from them is a trade
    known = np.ones(len(a_shares), dtype=bool)
    state_disc = known
    dates = inp.index.date_series()
    assets = inp.index.assets
    rows_out: list[pl.DataFrame] = []
    totals: list[dict] = []
    est_rows = inp.est_rows
    k = 0
    chain_value: dict[int, float] = {}  # the current chain's total value by row
    errors: list[float] = []  # per-day drift of past chains, measured at each re-anchor
    drift = 0.0
    rescale = p.snapshot_prior is not None and mode == "fit" and line is not None
    scale = 1.0  # the extrapolation's scale, refitted on each published snapshot
    track: list[tuple[float, float]] = []  # (X_c, Y_c) / V_true of past chains
    scales: list[str] = []  # each refit: the snapshot's publication day and s
    chain_x: dict[int, float] = {}  # the chain's extrapolation carried to each row (s = 1)
    last = (float(np.nansum(state * np.nan_to_num(inp.close[state_row]))), 0.0)
    shrinking = p.noise_window is not None and mode == "fit" and line is not None
    prior = np.zeros(0) if prior_moves is None else np.asarray(prior_moves, dtype=float)
    moves: dict[int, float] = {}  # each estimated row's calibrated move (the latest chain's)
    lambdas: list[float] = []  # the noise shrinkage of each estimated day

    def history(r: int) -> np.ndarray | None:
        """The calibrated moves before row `r` the noise shrinkage reads (None: off)."""
        if not shrinking:
            return None
        h = np.concatenate([prior, [moves[row] for row in sorted(moves) if row < r]])
        h = h[np.isfinite(h)]  # a day step 1 could not fit (no carried value) has no move
        return h[max(h.size - int(p.noise_window) + 1, 0) :]

    while k < len(est_rows):
        i, pub = int(est_rows[k]), inp.published[k]
        while used < len(anchors) and anchors[used][1] <= pub:
            row_a, _, sh_a = anchors[used]
            used += 1
            if row_a < i and row_a >= a_row:
                n_days = int(((est_rows > a_row) & (est_rows <= row_a)).sum())
                v_snap = float(np.nansum(sh_a * np.nan_to_num(inp.close[row_a])))
                if p.drift_correction and mode == "fit" and row_a in chain_value and n_days:
                    errors.append((v_snap / chain_value[row_a] - 1.0) / n_days)
                    drift = drift + errors[-1] if errors else 0.0
                if rescale and row_a in chain_value and v_snap > 0:
                    x = chain_x[row_a]
                    track.append((x / v_snap, (v_snap - chain_value[row_a] + scale * x) / v_snap))
                    scale = _snapshot_scale(track, float(p.snapshot_prior))
                    scales.append(f"{anchors[used - 1][1]}: {scale:.3f}")
                a_row, state_row, state, state_disc = row_a, row_a, sh_a, known
                chain_value, chain_x, last = {}, {}, (v_snap, 0.0)
                # replay the chain from the new anchor up to (not including) day i
                for r in est_rows[(est_rows > row_a) & (est_rows < i)]:
                    day = _step(
                        inp,
                        state_row,
                        state,
                        int(r),
                        p,
                        mode,
                        v_true,
                        state_disc,
                        drift,
                        line,
                        scale,
                        history(int(r)),
                    )
                    moves[int(r)] = day.move
                    state_row, state, state_disc = int(r), day.shares, day.disclosed
                    chain_value[int(r)] = day.value
                    last = day.value, _carry_x(last, day)
                    chain_x[int(r)] = last[1]
        if i <= state_row:
            k += 1
            continue
        day = _step(
            inp, state_row, state, i, p, mode, v_true, state_disc, drift, line, scale, history(i)
        )
        moves[i] = day.move
        lambdas.append(day.signal_share)
        state_row, state, state_disc = i, day.shares, day.disclosed
        chain_value[i] = day.value
        last = day.value, _carry_x(last, day)
        chain_x[i] = last[1]
        held = np.flatnonzero((day.shares > 0) | (day.flow != 0))
        rows_out.append(
            pl.DataFrame(
                {
                    "date": dates.gather([i] * len(held)),
                    "asset": assets.gather(held),
                    "shares": np.round(day.shares[held]),
                    "weight": day.weight[held],
                    "flow": day.flow[held],
                    "disclosed": day.disclosed[held],
                }
            ).with_columns(published=pl.lit(pub.item(), dtype=pl.Date), estimated=pl.lit(True))
        )
        totals.append(
            {
                "date": dates[i],
                "published": pub.item(),
                "value": day.value,
                "value_drift": day.drift,
                "net_inflow": float(day.flow.sum()),
                "n_disclosed": int(day.disclosed.sum()),
                "disclosed_weight": float(day.weight[day.disclosed].sum()),
                "feasible": day.feasible,
                "anchor": dates[a_row],
                "estimated": True,
            }
        )
        k += 1
    holdings = (
        pl.concat(rows_out)
        if rows_out
        else pl.DataFrame(
            schema={
                "date": pl.Date,
                "asset": pl.String,
                "shares": pl.Float64,
                "weight": pl.Float64,
                "flow": pl.Float64,
                "disclosed": pl.Boolean,
                "published": pl.Date,
                "estimated": pl.Boolean,
            }
        )
    )
    totals_df = pl.DataFrame(totals)
    notes = list(inp.notes) + ([line_note] if line_note else [])
    if p.snapshot_prior is not None:
        notes.append(
            {
                "step": "step 1: the extrapolation's scale on the snapshots (snapshot_prior)",
                "rows": len(scales),
                "detail": ", ".join(scales) if rescale else _inactive(mode, line),
            }
        )
    if p.noise_window is not None:
        lam = np.array(lambdas)
        lam = lam[np.isfinite(lam)]
        notes.append(
            {
                "step": "step 1: the extrapolated move's noise shrinkage (noise_window)",
                "rows": lam.size,
                "detail": f"lambda median {np.median(lam):.2f} ({lam.min():.2f} .. {lam.max():.2f})"
                if shrinking and lam.size
                else _inactive(mode, line),
            }
        )
    bad = totals_df.filter(~pl.col("feasible")) if totals_df.height else totals_df
    if bad.height:
        notes.append(
            {
                "step": "step 2: bounds could not all hold (weights scaled to the day's total)",
                "rows": bad.height,
                "detail": ", ".join(str(d) for d in bad["date"].head(3).to_list()),
            }
        )
    return HoldingsEstimate(holdings, totals_df, p, mode, source, _notes(tuple(notes)), line)


def _inactive(mode: str, line: tuple[float, ...] | None) -> str:
    """Why a step that rescales the calibrated move did nothing (its note's detail)."""
    if mode != "fit":
        return f"inactive: total_value={mode!r} (no calibration in that mode)"
    return "inactive: the calibration is off (see its note)" if line is None else "inactive"


def _carry_x(last: tuple[float, float], day: _Day) -> float:
    """The chain's extrapolation (yuan, at s = 1) carried to `day`: yesterday's, carried at
    the holdings' price drift (``day.drift`` / yesterday's value `last[0]`), plus today's."""
    return (last[1] * day.drift / last[0] if last[0] > 0 else 0.0) + day.extrapolated


def _snapshot_scale(track: list[tuple[float, float]], prior: float) -> float:
    """The extrapolation's scale s from past chains' (X_c, Y_c) (``EstimateParams.snapshot_prior``):
    the least-squares fit of Y_c = s X_c with `prior` pseudo-chains at s = 1, clipped to [0, 1].
    """
    x = np.array([t[0] for t in track])
    y = np.array([t[1] for t in track])
    sxx = float(x @ x)
    if not sxx > 0:
        return 1.0
    pseudo = prior * sxx / len(x)
    return float(np.clip((float(x @ y) + pseudo) / (sxx + pseudo), 0.0, 1.0))


def _signal_share(h: np.ndarray, min_persistence: float = 0.0) -> float:
    """The share of the calibrated moves' variance that is persistent signal, from the last
    moves `h` (``EstimateParams.noise_window``): with a signal s_t = phi s_(t-1) + eta under
    white noise, the lag-k autocovariances are gamma_k = phi^k var(s) for k >= 1, so
    phi = gamma_2 / gamma_1, clipped to [`min_persistence`, 0.99], and the share is
    min(gamma_1 / phi, gamma_0) / gamma_0 = min(rho_1 / phi, 1), about `h`'s mean. No lag-1
    persistence (gamma_1 <= 0): 0. With a floor > 0 the share is continuous in the moves
    (gamma_2 <= 0 reads phi at the floor); at 0, gamma_2 <= 0 gives 0. Fewer than 20 moves:
    1 (no shrinkage)."""
    if h.size < _MIN_NOISE_HISTORY:
        return 1.0
    d = h - h.mean()
    g0, g1, g2 = (float(d[k:] @ d[: d.size - k]) / d.size for k in (0, 1, 2))
    if not (g0 > 0 and g1 > 0):
        return 0.0
    if min_persistence <= 0 and not g2 > 0:
        return 0.0
    phi = min(max(g2 / g1, min_persistence), _MAX_PERSISTENCE)
    return min(g1 / phi / g0, 1.0)


def naive_flows(
    market: Market,
    *,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    allowance: float = 0.01,
    short_sellable: pl.DataFrame | pl.LazyFrame | None = None,
    snapshots: pl.DataFrame | pl.LazyFrame | None = None,
) -> HoldingsEstimate:
    """The seed's naive baseline: the net inflow implied by the printed stocks alone.

    For each estimated day, the stocks printed both that day and the previous disclosure day
    contribute ``(q_t - q_{t-1} x bonus) / allowance x VWAP`` (seed 002 figures 7-8). Its
    holdings: the anchor's shares carried buy-and-hold, the printed stocks at their implied
    shares (re-anchored on each published snapshot), so holding value and weights can be
    scored like the estimator's.

    Returns
    -------
    HoldingsEstimate
        ``total_value = "naive"``; ``totals.net_inflow`` is null on the first day.
    """
    inp = estimation_inputs(
        market, start=start, end=end, short_sellable=short_sellable, snapshots=snapshots
    )
    anchors = sorted(inp.anchors, key=lambda a: a[1])
    state_row, state = anchors[0][0], anchors[0][2]
    anchor_row = state_row
    used = 1
    prev_q = None
    prev_row = state_row
    totals, rows_out = [], []
    dates = inp.index.date_series()
    for k, i in enumerate(inp.est_rows):
        i = int(i)
        pub = inp.published[k]
        while used < len(anchors) and anchors[used][1] <= pub:
            if anchors[used][0] < i:
                state_row, state = anchors[used][0], anchors[used][2]
                anchor_row = state_row
            used += 1
        carry = state * (inp.ex[i] / inp.ex[state_row])
        q = inp.quantity[i]
        disc = np.isfinite(q)
        implied = np.where(q > 0, (q + 0.5) / allowance, 0.0)
        shares = np.where(disc, implied, carry)
        vw = np.nan_to_num(inp.vwap[i])
        flow = np.zeros_like(shares)
        if prev_q is not None:
            both = disc & np.isfinite(prev_q)
            prev_implied = np.where(prev_q > 0, (prev_q + 0.5) / allowance, 0.0)
            bonus = inp.ex[i] / inp.ex[prev_row]
            flow = np.where(both, (implied - prev_implied * bonus) * vw, 0.0)
        value_j = shares * np.nan_to_num(inp.close[i])
        value = float(value_j.sum())
        held = np.flatnonzero(shares > 0)
        rows_out.append(
            pl.DataFrame(
                {
                    "date": dates.gather([i] * len(held)),
                    "asset": inp.index.assets.gather(held),
                    "shares": np.round(shares[held]),
                    "weight": value_j[held] / value if value > 0 else np.zeros(len(held)),
                    "flow": flow[held],
                    "disclosed": disc[held],
                }
            ).with_columns(published=pl.lit(pub.item(), dtype=pl.Date), estimated=pl.lit(True))
        )
        totals.append(
            {
                "date": dates[i],
                "published": pub.item(),
                "value": value,
                "value_drift": float((carry * np.nan_to_num(inp.close[i])).sum()),
                "net_inflow": float(flow.sum()) if prev_q is not None else None,
                "n_disclosed": int(disc.sum()),
                "disclosed_weight": float(value_j[disc].sum() / value) if value > 0 else 0.0,
                "feasible": True,
                "anchor": dates[anchor_row],
                "estimated": True,
            }
        )
        state_row, state = i, shares
        prev_q, prev_row = q, i
    return HoldingsEstimate(
        pl.concat(rows_out),
        pl.DataFrame(totals),
        EstimateParams(allowance=allowance),
        "naive",
        _source(market),
        _notes(inp.notes),
    )
