"""Step 1 by industry (``EstimateParams.industry_prior``) and the chain's first day, by hand
(docs/estimation.md §2 and §4)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from factorlab.errors import ParameterError
from factorlab.northbound.estimation import EstimateParams, estimate_holdings, validation_table
from factorlab.northbound.estimation.estimator import _free_move, _industry_moves, _move


def test_industry_prior_is_a_parameter():
    assert EstimateParams().industry_prior == 1.5
    assert EstimateParams(industry_prior=None).industry_prior is None
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ParameterError, match="`industry_prior`"):
            EstimateParams(industry_prior=bad)


@pytest.mark.parametrize("loss", ["huber", "linear", "soft_l1", "cauchy"])
def test_industry_moves_by_hand(loss):
    """Two industries of printed stocks and an empty third: each industry's location under the
    loss (scipy's scalar minimizer on that industry alone), shrunk towards the market move by
    l = s_k / (s_k + prior / K); the empty industry takes the market move."""
    rng = np.random.default_rng(3)
    x = np.r_[0.01 + 0.004 * rng.standard_normal(8), 0.25, -0.02 + 0.004 * rng.standard_normal(5)]
    c = np.r_[np.full(9, 2.0), np.full(5, 1.0)]
    k = np.r_[np.zeros(9, dtype=np.int64), np.ones(5, dtype=np.int64)]
    p = EstimateParams(loss=loss, huber=0.05, industry_prior=1.5)
    m = 0.004
    got = _industry_moves(x, c, k, 3, m, p)
    f = p.huber
    for j, want_share in ((0, 18 / 23), (1, 5 / 23)):
        xs, cs = x[k == j], c[k == j]

        def cost(mu, xs=xs, cs=cs):
            r = xs - mu
            z = (r / f) ** 2
            rho = {
                "huber": np.where(z <= 1, z, 2 * np.sqrt(z) - 1),
                "linear": z,
                "soft_l1": 2 * (np.sqrt(1 + z) - 1),
                "cauchy": np.log1p(z),
            }[loss]
            return float(cs @ rho)

        raw = minimize_scalar(cost, bounds=(-0.1, 0.1), method="bounded").x
        lam = want_share / (want_share + 1.5 / 3)
        assert got[j] == pytest.approx(lam * raw + (1 - lam) * m, abs=2e-5)
    assert got[2] == m
    # no shrinkage at prior 0: each printed industry reads its own move
    raw0 = _industry_moves(x, c, k, 3, m, EstimateParams(loss=loss, huber=0.05, industry_prior=0))
    assert raw0[2] == m and raw0[0] != got[0]
    # the free stocks' move is their value-weighted mean industry move
    ind = np.array([0, 0, 1, 2])
    v = np.array([1.0, 3.0, 4.0, 2.0])
    free = np.array([True, True, True, False])
    assert _free_move(m, got, ind, v, free) == pytest.approx((4 * got[0] + 4 * got[1]) / 8)
    assert _free_move(m, None, ind, v, free) == m


def test_the_chains_first_day_reads_no_crossing_from_the_anchor():
    """After an anchor every stock is 'known'. A 'sufficient' stock holding far above the
    threshold did not cross it: it must not enter step 1 at the bound (which pulled the fit to
    -band on the first day of every chain). A stock under the threshold yesterday and
    'sufficient' today did cross: it enters at the bound's ratio."""
    p = EstimateParams(industry_prior=None)
    price = np.full(4, 10.0)
    v = np.array([1e8, 1e8, 1e11, 2.9e8])  # yuan; the threshold is 30 M shares = 3e8 yuan
    h = np.array([1.01e8, 1.01e8, 0.0, 0.0])
    q = np.array([100_000.0, 100_000.0, np.nan, np.nan])
    disc = np.isfinite(q)
    known = np.ones(4, dtype=bool)
    sufficient = ~disc
    m, mk = _move(p, v, h, q, price, np.ones(4, bool), disc, known, sufficient)
    assert mk is None
    bound_move = 3e8 / 2.9e8 - 1.0  # 3.4%, inside Huber's quadratic zone (f = 5%)
    # Huber location of (1%, 1%, 3.4%) with weights (1, 1, 2.9) in the quadratic zone: the mean
    want = (0.01 * 1e8 * 2 + bound_move * 2.9e8) / (2e8 + 2.9e8)
    assert m == pytest.approx(want, abs=1e-6)
    assert m > 0  # the giant 'sufficient' stock (1e11 yuan) is left out


def test_industries_off_is_the_market_wide_estimator(est_market):
    """industry_prior=None: one market-wide move; the default reads the industries and
    changes the estimate; both beat the naive baseline on the yuan level (seed 11)."""
    off = estimate_holdings(est_market, params=EstimateParams(industry_prior=None), progress=False)
    on = estimate_holdings(est_market, progress=False)
    assert not on.totals["net_inflow"].equals(off.totals["net_inflow"])
    t = {
        r["metric"]: r
        for r in validation_table(est_market, estimate=on, ablations=False).iter_rows(named=True)
    }
    # seed 11 (200 stocks): daily R² 0.913 with industries, 0.823 without, naive 0.852
    assert t["r2_daily"]["estimator"] > t["r2_daily"]["naive"] + 0.03
    t_off = validation_table(est_market, estimate=off, ablations=False)
    assert t["r2_daily"]["estimator"] > t_off["estimator"][0] + 0.05


def test_industry_codes_sorted_with_the_assets_without_one_last():
    """Industries coded in sorted order; a null industry and a price asset missing from
    ``assets`` share one last code (never code 0, which would shift the industries)."""
    import datetime as dt

    import polars as pl

    from factorlab import Market
    from factorlab.northbound.estimation.inputs import _industry_codes

    day = dt.date(2020, 1, 2)
    assets = pl.DataFrame(
        {
            "asset": ["A", "B", "C", "D"],
            "name": ["a", "b", "c", "d"],
            "exchange": ["SH"] * 4,
            "industry": ["Zinc", None, "Banks", "Media"],
            "list_date": [day] * 4,
            "delist_date": [None] * 4,
        },
        schema_overrides={"delist_date": pl.Date},
    )
    market = Market({"assets": assets}, validate="none")
    got = _industry_codes(market, pl.Series(["A", "B", "C", "D", "E"]))
    # Banks 0, Media 1, Zinc 2; B (null) and E (not in assets) the last code 3
    assert got.tolist() == [2, 3, 0, 1, 3]
    assert _industry_codes(Market({}, validate="none"), pl.Series(["A"])) is None


@pytest.mark.parametrize("loss", ["huber", "linear", "soft_l1"])
def test_one_industry_is_the_market_wide_move(loss):
    """Every printed stock in one industry, the move inside the band and no penalty: the
    industry's move is step 1's market-wide fit (so step 1 by industry reduces to None)."""
    from factorlab.northbound.estimation.estimator import _fit_total

    rng = np.random.default_rng(7)
    x = np.r_[0.006 + 0.01 * rng.standard_normal(40), 0.3, -0.2]  # two bursts
    c = rng.uniform(0.5, 3.0, x.size)
    p = EstimateParams(loss=loss, huber=0.05, industry_prior=1.5)
    m = _fit_total(x, c, p)
    assert abs(m) < p.band
    got = _industry_moves(x, c, np.zeros(x.size, dtype=np.int64), 1, m, p)
    assert got[0] == pytest.approx(m, abs=1e-6)
