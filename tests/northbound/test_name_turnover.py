"""The top leg's turnover by count of names (the study's ``name_turnover_pct``; seed 001 does not
define its 周度换手率, docs/calibration.md): a hand-computed case, an independent pandas
recomputation from the study's scores, and the calibration's choice between the two bases."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import polars as pl
import pytest

from factorlab import calibration as cal
from factorlab.backtest import NO_COSTS
from factorlab.errors import ParameterError
from factorlab.northbound.study import _name_turnover_pct, factor_study

FACTORS = ("nb_hold_ratio", "nb_cum_inflow_ratio20")
POOLS = ("csi300", "liq1500")


def test_name_turnover_by_hand():
    d = [dt.date(2020, 1, 3) + dt.timedelta(days=7 * k) for k in range(6)]
    top = pl.DataFrame(
        {
            "date": [d[1]] * 4 + [d[2]] * 4 + [d[4]] * 2 + [d[5]] * 2,
            "asset": list("ABCD") + list("ABCE") + list("AF") + list("AG"),
        }
    )
    # d[0] precedes the leg's first date (not a rebalance); d[1] is the first (left out);
    # d[2]: E new, 1 of 4; d[3]: empty leg (no share); d[4]: after an empty leg both names are
    # new, 2 of 2; d[5]: G new, 1 of 2
    out = _name_turnover_pct(top, pl.Series(d))
    assert out == pytest.approx(100 * (0.25 + 1.0 + 0.5) / 3)
    assert _name_turnover_pct(top.filter(pl.col("date") == d[1]), pl.Series(d[:2])) is None
    assert _name_turnover_pct(top.head(0), pl.Series(d)) is None


@pytest.fixture(scope="module")
def study(market150):
    return factor_study(market150, factors=FACTORS, pools=POOLS, cache=False, costs=NO_COSTS)


def _pandas_name_turnover(study, factor: str, pool: str) -> float:
    """Independently: the top 20% (ties at the cut in) of each signal date's scores, the
    share of names new since the pool's previous signal date, averaged from the second."""
    sc = study.scores.filter(pl.col("pool") == pool).select("date", "asset", factor).to_pandas()
    sc = sc.dropna(subset=[factor])
    tops = {}
    for day, g in sc.groupby("date"):
        k = min(math.ceil(len(g) * 0.2), len(g))
        rank = g[factor].rank(method="min", ascending=False)
        tops[pd.Timestamp(day).date()] = set(g.loc[rank <= k, "asset"])
    dates = sorted(study.coverage.filter(pl.col("pool") == pool)["date"].unique().to_list())
    dates = [x for x in dates if x >= min(tops)]
    shares, prev = [], set()
    for i, day in enumerate(dates):
        now = tops.get(day, set())
        if i and now:
            shares.append(len(now - prev) / len(now))
        prev = now
    return 100 * sum(shares) / len(shares)


@pytest.mark.parametrize("factor", FACTORS)
@pytest.mark.parametrize("pool", POOLS)
def test_name_turnover_matches_pandas(study, factor, pool):
    row = study.table.filter(pl.col("factor") == factor, pl.col("pool") == pool).row(0, named=True)
    expected = _pandas_name_turnover(study, factor, pool)
    assert row["name_turnover_pct"] == pytest.approx(expected, rel=1e-12)
    # a real number of this market, not a degenerate 0 or 100
    assert 0.5 < row["name_turnover_pct"] < 60


def test_name_turnover_is_below_value_turnover_for_a_persistent_factor(study):
    # the value basis adds the trades that bring drifted weights back to equal
    t = study.table.filter(pl.col("factor") == "nb_hold_ratio")
    assert (t["name_turnover_pct"] < t["turnover_pct"]).all()


def test_leg_turnover_reads_the_basis_column(study):
    names = cal.leg_turnover(study)
    value = cal.leg_turnover(study, basis="value")
    tab = study.table.filter(pl.col("factor") == "nb_hold_ratio", pl.col("pool") == "csi300")
    static = lambda rows: rows.filter(pl.col("group") == "static csi300")["measured"][0]  # noqa: E731
    assert cal.TURNOVER_BASIS == "names"
    assert static(names) == pytest.approx(tab["name_turnover_pct"][0])
    assert static(value) == pytest.approx(tab["turnover_pct"][0])
    with pytest.raises(ParameterError, match="`basis` must be one of"):
        cal.leg_turnover(study, basis="weights")
