"""Bonus issues (送股): the record-date correction only where the published jump matches the
bonus, and factors #8, #12, #13 on share counts of one basis across an ex-date (issue 12)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from factorlab.calendar import sessions
from factorlab.errors import ParameterError
from factorlab.market import Market
from factorlab.northbound import research_panel
from factorlab.northbound.factors import northbound_factors
from factorlab.northbound.hygiene import bonus_checks, pre_credited_events
from factorlab.northbound.participants import participant_changes
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

    checks = bonus_checks(small_market).with_columns(lo=pl.col("bonus_ratio").log1p())

    def wrong_rows(panel, market) -> pl.DataFrame:
        """Rows more than a share off the truth, with the check of the event they fall in."""
        j = panel.frame.join(truth, on=["date", "asset"], how="left", suffix="_true")
        bad = j.filter((pl.col("shares") - pl.col("shares_true").fill_null(0)).abs() > 1.0)
        return bad.join(bonus_checks(market), on="asset").filter(
            pl.col("date").is_between(pl.col("record_date"), pl.col("ex_date"), closed="left")
        ), bad

    pre = research_panel(small_market)
    m, u = counts(pre)
    assert m > 150 and u < 0.1 * m  # the unmatched: tiny holdings or a record-date trade
    assert checks["pre_credited"].sum() == m and (~checks["pre_credited"]).sum() == u
    # the only rows off the truth are the record-date rows of events the check, reading data
    # up to the record date only, could not recognise: a record-date trade moved the jump
    # outside 1 + bonus +- 50% (the price of no look-ahead: the ex-date jump would have told)
    in_event, bad = wrong_rows(pre, small_market)
    assert in_event.height == bad.height <= 10
    assert not in_event["pre_credited"].any()
    missed = checks.filter(~pl.col("pre_credited"))
    outside = (missed["record_jump"] - missed["lo"]).abs() >= 0.5 * missed["lo"]
    assert outside.fill_null(True).all()
    old_market = _old_basis(small_market)
    old = research_panel(old_market)
    in_event, bad = wrong_rows(old, old_market)
    # the unconditional correction was off by the bonus on every event here; now only where a
    # record-date trade happens to look like the bonus
    assert in_event.height == bad.height <= 10
    assert in_event["pre_credited"].all()
    m2, u2 = counts(old)
    assert u2 > 150 and m2 < 0.05 * u2


# --------------------------------------------------------------------------------------------
# the check reads data published by the record date only (review of issue 12's fixes)
# --------------------------------------------------------------------------------------------


def _with_northbound(market: Market, nb: pl.DataFrame, **tables: pl.DataFrame) -> Market:
    return Market(
        {**{n: market[n] for n in market.names}, "northbound": nb, **tables}, validate="none"
    )


def _row(panel, day: dt.date) -> tuple:
    r = panel.frame.filter((pl.col("asset") == "A") & (pl.col("date") == day)).row(0, named=True)
    return r["shares"], r["d_shares"], r["flow"]


def test_a_large_buy_on_the_ex_date_does_not_change_the_record_date_row():
    # the reviewer's case: +60% of holdings bought on the ex-date (published that evening);
    # the old rule (j_rec - j_ex > 0) then left the record date uncorrected: shares 1596
    m = _market(pre_credited=True)
    nb = m.northbound.collect()
    on_a = (pl.col("asset") == "A") & (pl.col("date") >= EX)
    big = nb.with_columns(
        shares=pl.when(on_a)
        .then((pl.col("shares") * 1.6).round().cast(pl.Int64))
        .otherwise(pl.col("shares"))
    )
    full = research_panel(_with_northbound(m, big))
    known = research_panel(_with_northbound(m, big.filter(pl.col("date") <= REC)))
    assert _row(full, REC) == _row(known, REC) == pytest.approx((1140.0, 10.0, 100.0))
    assert _step(full)["rows"] == 1


@pytest.mark.parametrize("pre_credited", [True, False])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nothing_up_to_the_record_date_depends_on_later_publications(pre_credited, seed):
    m = _market(pre_credited=pre_credited)
    nb = m.northbound.collect()
    rng = np.random.default_rng(seed)
    later = pl.col("date") > REC
    scale = pl.Series(rng.uniform(0.0, 3.0, nb.height))  # 0: a sale of everything
    moved = nb.with_columns(
        shares=pl.when(later).then((pl.col("shares") * scale).round()).otherwise("shares")
    ).with_columns(pl.col("shares").cast(pl.Int64))
    names = ("nb_hold_value", "nb_hold_ratio_mean20", "nb_short_inflow", "nb_cum_inflow_ratio20")
    reg = northbound_factors(window=5, short_window=2, top_k=2)

    def upto_rec(northbound: pl.DataFrame) -> pl.DataFrame:
        panel = research_panel(_with_northbound(m, northbound)).frame
        cols = ["date", "asset", "shares", "d_shares", "flow", "share_basis"]
        out = compute_factors(panel.sort("asset", "date"), [reg.get(n) for n in names])
        return (
            out.collect().filter(pl.col("date") <= REC).select(*cols, *names).sort("asset", "date")
        )

    base = upto_rec(nb)
    assert base.equals(upto_rec(moved))
    assert base.equals(upto_rec(nb.filter(~later)))


def test_the_check_reports_the_rule_and_the_jumps():
    checks = bonus_checks(_market(pre_credited=True))
    row = checks.row(0, named=True)
    # by hand: the record date publishes round(1,140 x 1.4) = 1,596 after 1,130; the ex-date
    # 1.4 x 1,140 + 20 = 1,616 after 1,596
    assert row["record_jump"] == pytest.approx(np.log(1596 / 1130), rel=1e-12)
    assert row["ex_jump"] == pytest.approx(np.log(1616 / 1596), rel=1e-12)
    assert row["pre_credited"] is True and row["ex_consistent"] is True
    row = bonus_checks(_market(pre_credited=False)).row(0, named=True)
    assert row["record_jump"] == pytest.approx(np.log(1140 / 1130), rel=1e-12)
    assert row["pre_credited"] is False and row["ex_consistent"] is True
    detail = _step(research_panel(_market(pre_credited=True)))["detail"]
    assert "the published jump matches 1 + bonus on the record date" in detail
    assert "< 0.5 x log(1 + bonus)" in detail and "published up to the record date" in detail
    assert "never used to decide" in detail


def test_the_tolerance_is_a_parameter():
    # a record-date jump of x1.15 for a 10-for-4 bonus: log 1.15 = 0.140 against log 1.4 =
    # 0.336, outside +-50% (0.168 .. 0.505), inside +-70% (0.101 .. 0.572)
    m = _market(pre_credited=False)
    nb = m.northbound.collect()
    nb = nb.with_columns(
        shares=pl.when((pl.col("asset") == "A") & (pl.col("date") == REC))
        .then(round(1130 * 1.15))
        .otherwise("shares")
    )
    m = _with_northbound(m, nb)
    assert bonus_checks(m)["pre_credited"].to_list() == [False]
    assert bonus_checks(m, tolerance=0.7)["pre_credited"].to_list() == [True]
    assert _step(research_panel(m, pre_credit_tolerance=0.7))["rows"] == 1
    assert pre_credited_events(m, tolerance=0.7)["asset"].to_list() == ["A"]
    assert pre_credited_events(m).is_empty()
    with pytest.raises(ParameterError, match="tolerance"):
        bonus_checks(m, tolerance=0.0)


def test_no_holdings_before_the_record_date_is_unchecked():
    m = _market(pre_credited=True)
    nb = m.northbound.collect().filter(~((pl.col("asset") == "A") & (pl.col("date") < REC)))
    row = bonus_checks(_with_northbound(m, nb)).row(0, named=True)
    assert row["record_jump"] is None and row["pre_credited"] is None
    assert pre_credited_events(_with_northbound(m, nb)).is_empty()


@pytest.mark.parametrize("pre_credited", [True, False])
def test_the_participant_split_uses_the_same_check(pre_credited):
    # two participants hold A (60% / 40% of the truth); HKEX pre-credited both or neither
    m = _market(pre_credited=pre_credited)
    true_total = np.array(TRUE_OLD + TRUE_NEW)
    rows = []
    for pid, share in (("P1", 0.6), ("P2", 0.4)):
        held = np.round(true_total * share)
        if pre_credited:
            held[14] = round(held[14] * (1 + BONUS))
        rows += [(d, "A", pid, int(h)) for d, h in zip(DAYS, held, strict=True)]
    ph = pl.DataFrame(rows, schema=["date", "asset", "participant", "shares"], orient="row")
    total = ph.group_by("date", "asset").agg(pl.col("shares").sum())
    nb = pl.concat([total, m.northbound.collect().filter(pl.col("asset") == "B")])
    m = _with_northbound(m, nb, participant_holdings=ph)
    ch = participant_changes(m)
    p1 = ch.participants.to_list().index("P1")
    frame = ch.frame.filter((pl.col("pid") == p1) & (pl.col("aid") == 0)).sort("day")
    assert frame["day"].to_list() == list(range(len(DAYS)))
    held = np.round(true_total * 0.6)
    want = np.diff(np.r_[held[:15], held[15:] / (1 + BONUS)])  # one (old) basis
    got = frame["d_shares"].to_numpy()[1:] / np.r_[np.ones(14), np.full(15, 1 + BONUS)]
    # the record-date and ex-date changes are the day's trades, not a bonus (or a fake sale)
    assert got[13] == pytest.approx(want[13], abs=1.0) and got[14] == pytest.approx(
        want[14], abs=1.0
    )
    assert got == pytest.approx(want, abs=1.0)
    assert pre_credited_events(m).height == int(pre_credited)


def test_without_a_northbound_table_the_participant_totals_are_checked():
    # a market with CCASS participant rows only: the check reads their per-stock totals
    m = _market(pre_credited=True)
    nb = m.northbound.collect()
    ph = pl.concat(
        [
            nb.with_columns(participant=pl.lit("P1"), shares=(pl.col("shares") // 2)),
            nb.with_columns(
                participant=pl.lit("P2"), shares=pl.col("shares") - pl.col("shares") // 2
            ),
        ]
    ).select("date", "asset", "participant", "shares")
    tables = {n: m[n] for n in m.names if n != "northbound"}
    only = Market({**tables, "participant_holdings": ph}, validate="none")
    got = bonus_checks(only)
    assert got.equals(bonus_checks(m))
    assert got["pre_credited"].to_list() == [True]


def test_each_event_is_checked_on_its_own_stock_whatever_the_row_order():
    # B (constant 500 shares: no jump) listed before A (pre-credited): one decision each
    m = _market(pre_credited=True)
    ca = pl.DataFrame(
        {
            "asset": ["B", "A"],
            "record_date": [REC, REC],
            "ex_date": [EX, EX],
            "bonus_ratio": [BONUS, BONUS],
        }
    )
    both = Market({**{n: m[n] for n in m.names}, "corporate_actions": ca}, validate="none")
    checks = bonus_checks(both)
    assert checks["asset"].to_list() == ["B", "A"]
    assert checks["pre_credited"].to_list() == [False, True]
    assert checks["record_jump"][0] == 0.0
    assert pre_credited_events(both)["asset"].to_list() == ["A"]
