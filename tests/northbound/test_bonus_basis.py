"""Bonus issues (送股): the record-date correction only where the published jump matches the
bonus, and factors #8, #12, #13 on share counts of one basis across an ex-date (issue 12)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from factorlab.calendar import sessions
from factorlab.market import Market
from factorlab.northbound import research_panel
from factorlab.northbound.factors import northbound_factors
from factorlab.ops import compute_factors

BONUS = 0.4  # 10送4
DAYS = sessions("ashare", dt.date(2020, 3, 2), dt.date(2020, 4, 30)).to_list()[:30]
REC, EX = DAYS[14], DAYS[15]  # HKSCC credits on the record date, the price adjusts on the ex
# northbound holdings of one stock on the ex-date basis (the truth) and its daily trades
TRUE_OLD = [1000.0 + 10 * i for i in range(15)]  # days 0..14, before the ex-date
TRUE_NEW = [1.4 * TRUE_OLD[-1] + 20 * (i + 1) for i in range(15)]  # days 15..29


def _market(*, pre_credited: bool) -> Market:
    """One stock (A) with a 10-for-4 bonus, and a second (B) without, over 30 sessions. `A`'s
    published holdings count the bonus shares from the record date (HKSCC pre-credited) or
    only from the ex-date."""
    n = len(DAYS)
    basis = np.where(np.arange(n) >= 15, 1.0 + BONUS, 1.0)
    close = 10.0 / basis  # the price falls by the bonus on the ex-date, nothing else moves
    vol_old = 2000.0 - 10 * np.arange(n)  # falling, on the old basis
    vol_old[3] = 3000.0  # the genuine high-volume day
    volume = np.round(vol_old * basis)  # the published volume jumps by 1.4 from the ex-date
    prices = pl.DataFrame(
        {
            "date": DAYS * 2,
            "asset": ["A"] * n + ["B"] * n,
            "close": [*close, *np.full(n, 5.0)],
            "high": [*close, *np.full(n, 5.0)],
            "low": [*close, *np.full(n, 5.0)],
            "float_shares": [*(1e6 * basis), *np.full(n, 1e6)],
            "amount": [*(volume * close), *np.full(n, 5000.0)],
            "volume": [*volume, *np.full(n, 1000.0)],
            "adj_factor": [*(basis / (1 + BONUS)), *np.ones(n)],  # adjusted close constant
        }
    )
    published = np.array(TRUE_OLD + TRUE_NEW)
    if pre_credited:
        published[14] = round(published[14] * (1 + BONUS))  # the record date
    nb = pl.DataFrame(
        {
            "date": DAYS * 2,
            "asset": ["A"] * n + ["B"] * n,
            "shares": [*published.round().astype(np.int64), *np.full(n, 500, np.int64)],
        }
    )
    ca = pl.DataFrame(
        {"asset": ["A"], "record_date": [REC], "ex_date": [EX], "bonus_ratio": [BONUS]}
    )
    return Market({"prices": prices, "northbound": nb, "corporate_actions": ca}, validate="none")


def _step(panel) -> dict:
    return panel.report.filter(pl.col("step") == "record-date jumps put on the ex-date basis").row(
        0, named=True
    )


@pytest.mark.parametrize("pre_credited", [True, False])
def test_holdings_are_the_truth_whether_or_not_hkex_pre_credited(pre_credited):
    panel = research_panel(_market(pre_credited=pre_credited))
    a = panel.frame.filter(pl.col("asset") == "A").sort("date")
    assert a["shares"].to_list() == pytest.approx(TRUE_OLD + TRUE_NEW, abs=0.5)
    # no bonus flow: dS on the ex-date is the day's trade (20 shares), not 0.4 * S
    ds = a["d_shares"].to_list()
    assert ds[15] == pytest.approx(20.0, abs=0.6) and ds[14] == pytest.approx(10.0, abs=0.6)
    step = _step(panel)
    if pre_credited:
        assert (
            step["rows"] == 1
            and "1 checked" in step["detail"]
            and "0 not matched" in step["detail"]
        )
    else:  # before: the unconditional correction made a fake sale of 0.4/1.4 * S here
        assert (
            step["rows"] == 0
            and "0 checked" in step["detail"]
            and "1 not matched" in step["detail"]
        )
    assert a["share_basis"].to_list() == [1.0] * 15 + [1.4] * 15


def test_share_windows_are_on_one_basis_across_the_ex_date():
    panel = research_panel(_market(pre_credited=True)).frame.sort("asset", "date")
    w, ws, k = 20, 5, 3
    reg = northbound_factors(window=w, short_window=ws, top_k=k)
    out = compute_factors(
        panel,
        [reg.get(n) for n in ("nb_short_inflow", "nb_high_volume_inflow", "nb_big_rise_inflow")],
    ).collect()
    a = out.filter(pl.col("asset") == "A").sort("date")
    # by hand on the old basis: S / basis and dS / basis, volume / basis
    s_one = np.array(TRUE_OLD + [x / 1.4 for x in TRUE_NEW])
    ds_one = np.r_[np.nan, np.diff(s_one)]
    t = 25  # the windows (days 6..25 and 21..25) span the ex-date (day 15)
    want8 = ds_one[t - ws + 1 : t + 1].mean() / s_one[t - w + 1 : t + 1].mean()
    assert a["nb_short_inflow"][t] == pytest.approx(want8, rel=1e-9)
    # 12: the top-3 volumes of days 6..25 on one basis are days 6, 7, 8 (10-share buys); the
    # unadjusted volume would pick days 15-17 (1.4 x 1,850 > 1,940) and their 20-share buys
    want12 = ds_one[[6, 7, 8]].mean() / s_one[t - w + 1 : t + 1].mean()
    assert a["nb_high_volume_inflow"][t] == pytest.approx(want12, rel=1e-9)
    bad12 = ds_one[[15, 16, 17]].mean() / s_one[t - w + 1 : t + 1].mean()
    assert abs(a["nb_high_volume_inflow"][t] - bad12) > 0.1 * want12
    # day 20 (window 1..20): the genuine high-volume day 3, then days 1 and 2
    t = 20
    win = ds_one[t - w + 1 : t + 1]
    want = ds_one[[1, 2, 3]].mean() / s_one[t - w + 1 : t + 1].mean()
    assert a["nb_high_volume_inflow"][t] == pytest.approx(want, rel=1e-9)
    # 13: every adjusted return is 0 (the price moves by the bonus only): all days tie
    assert a["nb_big_rise_inflow"][t] == pytest.approx(win.mean() / s_one[1:21].mean(), rel=1e-9)


def _old_basis(market: Market) -> Market:
    """`market` with HKEX's shares published on the old basis between each bonus issue's
    record date and ex-date (the bonus shares not pre-credited)."""
    ca = market.corporate_actions.filter(pl.col("bonus_ratio") > 0).collect()
    nb = market.northbound.collect()
    factor = (
        nb.select("date", "asset")
        .join(ca.select("asset", "record_date", "ex_date", "bonus_ratio"), on="asset")
        .filter((pl.col("date") >= pl.col("record_date")) & (pl.col("date") < pl.col("ex_date")))
        .group_by("date", "asset")
        .agg((1 + pl.col("bonus_ratio")).product().alias("f"))
    )
    old = (
        nb.join(factor, on=["date", "asset"], how="left")
        .with_columns(
            shares=(pl.col("shares") / pl.col("f").fill_null(1.0)).round().cast(nb["shares"].dtype)
        )
        .select(nb.columns)
    )
    return Market({**{n: market[n] for n in market.names}, "northbound": old}, validate="none")


def test_on_the_synthetic_market_the_check_finds_the_pre_credit_and_its_absence(small_market):
    truth = small_market.northbound_truth.collect()

    def worst(panel) -> float:
        j = panel.frame.join(truth, on=["date", "asset"], how="left", suffix="_true")
        return (j["shares"] - j["shares_true"].fill_null(0)).abs().max()

    def counts(panel) -> tuple[int, int]:
        text = _step(panel)["detail"]
        matched = int(text.split(": ")[1].split(" checked")[0])
        unmatched = int(text.split("(corrected); ")[1].split(" not matched")[0])
        return matched, unmatched

    pre = research_panel(small_market)
    assert worst(pre) <= 1.0
    m, u = counts(pre)
    assert m > 150 and u < 0.1 * m  # the unmatched hold a few shares: no visible jump
    old = research_panel(_old_basis(small_market))
    assert worst(old) <= 1.0  # the unconditional correction was off by the bonus here
    m2, u2 = counts(old)
    assert u2 > 150 and m2 < 0.05 * u2
