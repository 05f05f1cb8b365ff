"""The record-date checks of the bonus issues (`bonus_checks`): the research panel and the
participant split read the same checks, with the same tolerance (a non-default
`pre_credit_tolerance` reached the panel only: the split used the default), and the study
computes them once for both (issue 15 point 4)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from factorlab.calendar import sessions
from factorlab.market import Market
from factorlab.northbound import factor_study, research_panel
from factorlab.northbound import study as study_mod
from factorlab.northbound.hygiene import bonus_checks
from factorlab.northbound.participants import participant_changes

BONUS = 0.4
DAYS = sessions("ashare", dt.date(2020, 3, 2), dt.date(2020, 4, 30)).to_list()[:30]
REC, EX = 14, 15  # row numbers of the record date and the ex-date
# the record-date jump is 0.7 of log(1 + bonus): pre-credited at tolerance 0.5 (|0.7L - L| =
# 0.3L < 0.5L), not at 0.2
PARTIAL = 0.7
SPLIT = (0.6, 0.4)  # two participants hold the stock's northbound shares in these shares


def _market() -> Market:
    n = len(DAYS)
    basis = np.where(np.arange(n) >= EX, 1.0 + BONUS, 1.0)
    close = 10.0 / basis
    prices = pl.DataFrame(
        {
            "date": DAYS,
            "asset": "A",
            "close": close,
            "high": close,
            "low": close,
            "float_shares": 1e6 * basis,
            "amount": 1e4 * close,
            "volume": 1e4 * basis,
            "adj_factor": basis / (1 + BONUS),
        }
    )
    truth = np.r_[1000.0 + 10 * np.arange(EX), 1.4 * 1140.0 + 20 * (1 + np.arange(n - EX))]
    published = truth.copy()
    published[REC] = round(published[REC - 1] * np.exp(PARTIAL * np.log1p(BONUS)))
    parts = [
        pl.DataFrame(
            {
                "date": DAYS,
                "asset": "A",
                "participant": f"P{i}",
                "shares": np.round(published * share),
            }
        )
        for i, share in enumerate(SPLIT)
    ]
    holdings = pl.concat(parts).with_columns(pl.col("shares").cast(pl.Int64))
    nb = holdings.group_by("date", "asset", maintain_order=True).agg(pl.col("shares").sum())
    ca = pl.DataFrame(
        {"asset": ["A"], "record_date": [DAYS[REC]], "ex_date": [DAYS[EX]], "bonus_ratio": BONUS}
    )
    return Market(
        {
            "prices": prices,
            "northbound": nb.sort("date"),
            "participant_holdings": holdings.sort("date", "participant"),
            "corporate_actions": ca,
        },
        validate="none",
    )


def _split_shares(market: Market, tolerance: float | None) -> np.ndarray:
    """The split's shares of the stock per day (the participants' sum, today's basis)."""
    kw = {} if tolerance is None else {"pre_credit_tolerance": tolerance}
    frame = participant_changes(market, **kw).frame
    return (
        frame.filter(pl.col("day") >= 0)
        .group_by("day")
        .agg(pl.col("shares").sum())
        .sort("day")["shares"]
        .to_numpy()
    )


@pytest.mark.parametrize(("tolerance", "credited"), [(0.5, True), (0.2, False)])
def test_the_split_corrects_the_record_date_as_the_panel_does(tolerance, credited):
    market = _market()
    checks = bonus_checks(market, tolerance=tolerance)
    assert checks["pre_credited"].to_list() == [credited]
    panel = research_panel(market, pre_credit_tolerance=tolerance).frame.sort("date")
    split = _split_shares(market, tolerance)
    # the panel's shares on the record date: divided by 1 + bonus when pre-credited, else
    # left as published; the split's per-participant shares (each divided and rounded) sum
    # to the same within a share per participant
    published = market.northbound.collect().sort("date")["shares"].to_numpy()
    want = np.round(published[REC] / (1 + BONUS)) if credited else published[REC]
    assert panel["shares"][REC] == pytest.approx(want, abs=0.5)
    assert split[REC] == pytest.approx(panel["shares"][REC], abs=len(SPLIT))
    # the other days agree exactly
    others = np.r_[0:REC, REC + 1 : len(DAYS)]
    np.testing.assert_array_equal(split[others], panel["shares"].to_numpy()[others])


def test_the_split_without_a_tolerance_uses_the_default():
    market = _market()
    np.testing.assert_array_equal(_split_shares(market, None), _split_shares(market, 0.5))
    assert not np.array_equal(_split_shares(market, 0.5), _split_shares(market, 0.2))


def test_given_checks_are_used_as_computed():
    """A checks frame (or function) passed in replaces the split's and the panel's own."""
    market = _market()
    strict = bonus_checks(market, tolerance=0.2)
    np.testing.assert_array_equal(
        participant_changes(market, checks=strict).frame["shares"].to_numpy(),
        participant_changes(market, pre_credit_tolerance=0.2).frame["shares"].to_numpy(),
    )
    a = research_panel(market, checks=lambda: strict).frame
    b = research_panel(market, pre_credit_tolerance=0.2).frame
    assert a.equals(b)


def test_the_study_computes_the_checks_once_with_its_tolerance(small_market, monkeypatch, tmp_path):
    seen: list[float] = []
    real = study_mod.bonus_checks

    def spy(market, *, tolerance):
        seen.append(tolerance)
        return real(market, tolerance=tolerance)

    monkeypatch.setattr(study_mod, "bonus_checks", spy)
    common = {"factors": ["nb_hold_ratio", "nb_trading_cum_inflow20"], "pools": ["csi300"]}
    loose = factor_study(small_market, cache=False, progress=False, **common)
    assert seen == [0.5]
    strict = factor_study(
        small_market, cache=False, progress=False, pre_credit_tolerance=0.05, **common
    )
    assert seen == [0.5, 0.05]
    assert strict.params.pre_credit_tolerance == 0.05
    # the notes say which tolerance the panel applied
    detail = strict.notes.filter(pl.col("step") == "record-date jumps put on the ex-date basis")
    assert "< 0.05 x log(1 + bonus)" in detail["detail"][0]
    assert loose.params.key("x") != strict.params.key("x")
