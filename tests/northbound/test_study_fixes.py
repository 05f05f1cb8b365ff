"""The study where it departed from the handbook's text (issue 12, point 3): coverage counts a
member without holdings as not covered, the recommended seven, the risk-free rate of the long
leg's Sharpe, the handbook's window, the seat-split factors beside #14."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from factorlab._display import data_text
from factorlab.backtest import NO_COSTS
from factorlab.calibration import coverage
from factorlab.datasets import PLANTED, synthetic_market
from factorlab.errors import ParameterError
from factorlab.market import Market, _scaled_liquidity_pool
from factorlab.northbound.study import (
    HANDBOOK_END,
    HANDBOOK_START,
    RISK_FREE,
    factor_study,
)

POOLS = ("csi300", "liq1500")
STATIC = ("nb_hold_value", "nb_hold_ratio")


@pytest.fixture(scope="module")
def market150(tmp_path_factory) -> Market:
    return synthetic_market(
        # no index trackers: in 150 stocks they would hold every member
        **{**PLANTED, "index_flow": 0.0},
        n_assets=150,
        start="2017-01-01",
        end="2018-12-31",
        cache=tmp_path_factory.mktemp("fix") / "m150",
    )


@pytest.fixture(scope="module")
def traded(market150) -> Market:
    """`market150` with every pool member trading on its dates (a suspended member has no
    panel row, so no factor value, while it does hold shares)."""
    m = market150
    pools = m.pools.join(m.prices.select("date", "asset"), on=["date", "asset"], how="semi")
    return Market({**{n: m[n] for n in m.names}, "pools": pools}, validate="none")


@pytest.fixture(scope="module")
def study(traded) -> object:
    return factor_study(traded, factors=STATIC, pools=POOLS, cache=False, costs=NO_COSTS)


def _row(result, factor: str, pool: str) -> dict:
    return result.table.filter((pl.col("factor") == factor) & (pl.col("pool") == pool)).row(
        0, named=True
    )


# ---- 1. coverage ------------------------------------------------------------------------------


def test_coverage_is_the_share_of_members_with_holdings_on_dates_with_data(traded, study):
    # by hand: per weekly signal date on or after the first publication, the share of the
    # pool's members whose latest published shares (the last publication day <= the date: an
    # HK holiday carries) are > 0; then the mean over those dates
    signals = study.coverage["date"].unique().sort()
    nb = traded.northbound.filter(pl.col("shares") > 0).select("date", "asset").collect()
    published = traded.northbound.select(pl.col("date").unique().sort()).collect()
    last = (
        pl.DataFrame({"date": signals})
        .join_asof(published.rename({"date": "snap"}), left_on="date", right_on="snap")
        .drop_nulls()
    )
    members = (
        traded.pools.filter(pl.col("pool").is_in(list(POOLS)))
        .collect()
        .join(last, on="date")
        .join(
            nb.rename({"date": "snap"}).with_columns(held=pl.lit(True)),
            on=["snap", "asset"],
            how="left",
        )
    )
    by_hand = (
        members.group_by("pool", "date")
        .agg(pl.col("held").fill_null(False).mean())
        .group_by("pool")
        .agg(pl.col("held").mean())
    )
    for pool in POOLS:
        want = 100 * by_hand.filter(pl.col("pool") == pool)["held"].item()
        assert 10 < want < 100  # a real mix of held and not held members
        for factor in STATIC:
            assert _row(study, factor, pool)["coverage_pct"] == pytest.approx(want, rel=1e-12)


def test_holdings_coverage_is_factor_coverage_plus_the_suspended_holders(market150):
    # two definitions, said apart: calibration.coverage counts a member with holdings in the
    # latest snapshot (a suspended one too), the study a member with a factor value (a
    # suspended one has no panel row); on the untouched market (no `traded` fixture) the gap
    # is exactly the share of members suspended on the date with holdings
    res = factor_study(market150, factors=STATIC[:1], pools=POOLS, cache=False, costs=NO_COSTS)
    theirs = coverage(market150, start=HANDBOOK_START, end="2018-12-31", pools=list(POOLS))
    cov = res.coverage.filter(pl.col("data"))
    nb = market150.northbound.filter(pl.col("shares") > 0).select("date", "asset").collect()
    published = market150.northbound.select(pl.col("date").unique().sort()).collect()
    last = (
        pl.DataFrame({"date": cov["date"].unique().sort()})
        .join_asof(published.rename({"date": "snap"}), left_on="date", right_on="snap")
        .drop_nulls()
    )
    traded = market150.prices.filter(pl.col("close").is_not_null()).select("date", "asset")
    suspended_held = (
        market150.pools.filter(pl.col("pool").is_in(list(POOLS)))
        .collect()
        .join(last, on="date")
        .join(traded.collect().with_columns(trades=pl.lit(True)), on=["date", "asset"], how="left")
        .join(
            nb.rename({"date": "snap"}).with_columns(held=pl.lit(True)),
            on=["snap", "asset"],
            how="left",
        )
        .group_by("pool", "date")
        .agg(gap=(pl.col("held").fill_null(False) & pl.col("trades").is_null()).mean())
    )
    per_date = cov.join(suspended_held, on=["pool", "date"])
    assert per_date.height == cov.height
    for pool in POOLS:
        d = per_date.filter(pl.col("pool") == pool)
        measured = theirs.filter(pl.col("group") == pool)["measured"].item()
        gap = 100 * d["gap"].mean()
        assert gap > 0.05  # suspended holders exist: the definitions do differ here
        assert measured == pytest.approx(100 * d["coverage"].mean() + gap, rel=1e-12)
        assert _row(res, STATIC[0], pool)["coverage_pct"] == pytest.approx(
            measured - gap, rel=1e-12
        )
        note = theirs.filter(pl.col("group") == pool)["note"].item()
        assert "holdings coverage" in note and "same definition" not in note


def test_a_member_without_holdings_is_not_in_a_leg(traded, study):
    from factorlab.northbound.study import _leg_targets

    # no asset without holdings on the signal date is in the top or the bottom leg (before,
    # as value 0 they made up the bottom leg in a pool with few holders)
    legs = _leg_targets(study.scores, list(STATIC), study.params)
    nb = traded.northbound.select("date", "asset", "shares").collect()
    published = nb.select(pl.col("date").unique().sort())
    for (pool, factor), frame in legs.items():
        snap = (
            frame.select("date")
            .unique()
            .sort("date")
            .join_asof(published.rename({"date": "snap"}), left_on="date", right_on="snap")
        )
        held = (
            frame.join(snap, on="date")
            .join(nb.rename({"date": "snap"}), on=["snap", "asset"], how="left")
            .with_columns(pl.col("shares").fill_null(0))
        )
        assert held.height == frame.height > 0
        for side in ("top", "bottom"):
            leg = held.filter(pl.col("side") == side)
            assert leg.height > 0 and (leg["shares"] > 0).all(), (pool, factor, side)
    # and there were members without holdings to leave out: liq1500 is not fully covered
    # (GENERATOR_VERSION 7: 86-98%, mean 90%, of its 45 members)
    cov = study.coverage.filter(
        (pl.col("factor") == "nb_hold_value") & (pl.col("pool") == "liq1500") & pl.col("data")
    )
    assert (cov["coverage"] < 1.0).all() and (cov["coverage"] > 0).all()


# ---- 3. risk-free rate ------------------------------------------------------------------------


def test_risk_free_enters_the_long_legs_sharpe_only(traded, study):
    high = factor_study(
        traded, factors=STATIC[:1], pools=POOLS[:1], cache=False, costs=NO_COSTS, risk_free=0.05
    )
    a, b = _row(study, STATIC[0], POOLS[0]), _row(high, STATIC[0], POOLS[0])
    assert study.params.risk_free == RISK_FREE == 0.015
    for col in ("long_excess_sharpe", "long_short_sharpe", "long_ann", "long_excess_ann"):
        assert a[col] == b[col], col
    # by hand: mean(r - rf_d) / std(r - rf_d, ddof=1) * sqrt(252), rf_d = 1.05 ** (1/252) - 1
    r = high.daily.filter(pl.col("pool") == POOLS[0])["long"].to_numpy()
    x = r - (1.05 ** (1 / 252) - 1)
    assert b["long_sharpe"] == pytest.approx(x.mean() / x.std(ddof=1) * np.sqrt(252), rel=1e-12)
    y = r - (1.015 ** (1 / 252) - 1)
    assert a["long_sharpe"] == pytest.approx(y.mean() / y.std(ddof=1) * np.sqrt(252), rel=1e-12)
    assert b["long_sharpe"] < a["long_sharpe"]
    with pytest.raises(ParameterError, match="`risk_free`"):
        factor_study(traded, factors=STATIC[:1], pools=POOLS[:1], cache=False, risk_free=1.5)


def test_excess_risk_free_puts_the_rate_in_the_excess_and_long_short_sharpes(traded, study):
    empyrical = pytest.importorskip("empyrical")
    rf = RISK_FREE
    res = factor_study(
        traded,
        factors=STATIC[:1],
        pools=POOLS[:1],
        cache=False,
        costs=NO_COSTS,
        excess_risk_free=True,
    )
    a, b = _row(study, STATIC[0], POOLS[0]), _row(res, STATIC[0], POOLS[0])
    d = res.daily.filter(pl.col("pool") == POOLS[0])
    rf_day = (1 + rf) ** (1 / 252) - 1
    for col, key in (("excess", "long_excess"), ("long_short", "long_short")):
        r = d[col].to_numpy()
        assert b[f"{key}_sharpe"] == pytest.approx(
            empyrical.sharpe_ratio(r, risk_free=rf_day, annualization=252), rel=1e-10
        )
        assert a[f"{key}_sharpe"] == pytest.approx(
            empyrical.sharpe_ratio(r, annualization=252), rel=1e-10
        )
        assert b[f"{key}_sharpe"] < a[f"{key}_sharpe"]
        assert b[f"{key}_ann"] == a[f"{key}_ann"]
    assert b["long_sharpe"] == a["long_sharpe"]  # the long leg's: over risk_free either way
    # the period table uses the same convention
    p = res.periods(split="2018-01-01").filter(pl.col("pool") == POOLS[0]).row(0, named=True)
    part = d.filter(pl.col("date") < dt.date(2018, 1, 1))["excess"].to_numpy()
    assert p["long_excess_sharpe"] == pytest.approx(
        empyrical.sharpe_ratio(part, risk_free=rf_day, annualization=252), rel=1e-10
    )
    with pytest.raises(ParameterError, match="excess_risk_free"):
        factor_study(
            traded, factors=STATIC[:1], pools=POOLS[:1], cache=False, excess_risk_free="yes"
        )
    from factorlab.report.html import _sharpe_caveat

    assert "excess_risk_free=True" in _sharpe_caveat(res)
    assert "no risk-free rate" in _sharpe_caveat(study) and "-0.15" in _sharpe_caveat(study)


def test_held_is_a_study_parameter(market150):
    # the dynamic factors' rule: "any" keeps sell-outs, so its coverage is at least "window"'s
    # (the handbook's, below the static coverage)
    names = ["nb_hold_value", "nb_trade_amount20"]
    kw = {"factors": names, "pools": POOLS[:1], "cache": False, "costs": NO_COSTS}
    win = factor_study(market150, **kw)
    anyh = factor_study(market150, held="any", **kw)
    assert (win.params.held, anyh.params.held) == ("window", "any")
    static, dyn = (_row(win, n, POOLS[0])["coverage_pct"] for n in names)
    dyn_any = _row(anyh, names[1], POOLS[0])["coverage_pct"]
    assert _row(anyh, names[0], POOLS[0])["coverage_pct"] == static
    assert dyn < static <= dyn_any
    with pytest.raises(ParameterError, match="`held`"):
        factor_study(market150, held="some", **kw)


# ---- 4. the handbook's window -----------------------------------------------------------------


def test_the_handbook_sample_is_its_window_and_start_end_replace_its_bounds(traded):
    res = factor_study(traded, factors=STATIC[:1], pools=POOLS[:1], cache=False, sample="handbook")
    assert (res.params.start, res.params.end) == (HANDBOOK_START, HANDBOOK_END)
    assert (HANDBOOK_START, HANDBOOK_END) == (dt.date(2017, 1, 1), dt.date(2023, 1, 31))
    late = factor_study(
        traded,
        factors=STATIC[:1],
        pools=POOLS[:1],
        cache=False,
        sample="handbook",
        start="2018-01-01",
    )
    assert (late.params.start, late.params.end) == (dt.date(2018, 1, 1), HANDBOOK_END)
    assert late.daily["date"].min() > dt.date(2018, 1, 1)
    with pytest.raises(ParameterError, match="`sample` must be one of"):
        factor_study(traded, factors=STATIC[:1], cache=False, sample="2017")
    with pytest.raises(ParameterError, match="must not be after"):
        factor_study(traded, factors=STATIC[:1], cache=False, sample="handbook", end="2016-01-01")


def test_the_cli_takes_sample_and_risk_free():
    from factorlab.cli import build_parser

    args = build_parser().parse_args(["study", "--sample", "handbook", "--risk-free", "0.02"])
    assert args.sample == "handbook" and args.risk_free == 0.02
    assert args.start is None and args.end is None  # the study resolves the window (one home)
    default = build_parser().parse_args(["study"])
    assert default.risk_free == RISK_FREE and not default.excess_risk_free
    assert default.held == "window"
    args = build_parser().parse_args(["study", "--excess-risk-free", "--held", "any"])
    assert args.excess_risk_free and args.held == "any"
    cal = build_parser().parse_args(["data", "calibrate"])
    assert (cal.start, cal.end) == (HANDBOOK_START.isoformat(), HANDBOOK_END.isoformat())


def test_the_cli_study_passes_sample_through(monkeypatch, capsys):
    # `factorlab study --sample handbook` hands sample= to factor_study (no second copy of
    # the window in the CLI)
    import factorlab.cli as cli

    seen = {}

    def fake_study(market, **kw):
        seen.update(kw)
        raise SystemExit(0)

    monkeypatch.setattr("factorlab.northbound.study.factor_study", fake_study)
    monkeypatch.setattr(cli, "_market", lambda args, start: None)
    args = cli.build_parser().parse_args(["study", "--sample", "handbook", "--start", "2018-01-01"])
    with pytest.raises(SystemExit):
        args.func(args)
    assert seen["sample"] == "handbook" and seen["start"] == "2018-01-01" and seen["end"] is None


# ---- 6. the seat-split factors ----------------------------------------------------------------


def test_the_seat_split_variants_run_in_the_study(market150):
    names = (
        "nb_trading_cum_inflow20",
        "nb_trading_cum_inflow_ratio20",
        "nb_allocation_cum_inflow20",
        "nb_allocation_cum_inflow_ratio20",
    )
    res = factor_study(market150, factors=names, pools=POOLS[:1], cache=False, costs=NO_COSTS)
    assert res.table["factor"].to_list() == list(names)
    assert res.table["periods"].min() > 20
    s = res.scores
    # the raw and the cap-scaled trading factor rank differently (the cap is not neutralized
    # away exactly), and the trading and allocation flows are different signals
    a, b = s["nb_trading_cum_inflow20"].to_numpy(), s["nb_trading_cum_inflow_ratio20"].to_numpy()
    ok = np.isfinite(a) & np.isfinite(b)
    assert 0.2 < np.corrcoef(a[ok], b[ok])[0, 1] < 0.999
    with pytest.raises(ParameterError, match="seat-split variants"):
        factor_study(market150, factors=["nb_allocation_inflow"], cache=False)


# ---- 5. before / after the break, per year ----------------------------------------------------


def test_the_period_table_against_empyrical_and_pandas(study):
    empyrical = pytest.importorskip("empyrical")
    pd = pytest.importorskip("pandas")
    t = study.periods(split="2018-01-01")
    assert t.height == 2 * study.table.height
    assert t["period"].unique().sort().to_list() == ["before 2018-01-01", "from 2018-01-01"]
    for row in t.iter_rows(named=True):
        d = study.daily.filter(
            (pl.col("factor") == row["factor"]) & (pl.col("pool") == row["pool"])
        ).to_pandas()
        d = d[(d["date"] < pd.Timestamp(2018, 1, 1)) == row["period"].startswith("before")]
        assert row["days"] == len(d) > 100
        for col, key in (("excess", "long_excess"), ("long_short", "long_short")):
            assert row[f"{key}_ann"] == pytest.approx(
                empyrical.annual_return(d[col].to_numpy(), annualization=252), rel=1e-10
            )
            assert row[f"{key}_sharpe"] == pytest.approx(
                empyrical.sharpe_ratio(d[col].to_numpy(), annualization=252), rel=1e-10
            )
        ic = study.ic.filter(
            (pl.col("factor") == row["factor"]) & (pl.col("pool") == row["pool"])
        ).to_pandas()
        ic = ic[(ic["date"] < pd.Timestamp(2018, 1, 1)) == row["period"].startswith("before")]
        ic = ic["ic"].dropna()
        assert row["ic_dates"] == len(ic)
        assert row["rank_ic_mean_pct"] == pytest.approx(100 * ic.mean(), rel=1e-10)
    # the default break is the handbook's 2021-01-01: this 2017-2018 study is all before it
    default = study.periods()
    assert set(default["period"]) == {"before 2021-01-01", "from 2021-01-01"}
    assert (default.filter(pl.col("period") == "from 2021-01-01")["days"] == 0).all()


def test_the_yearly_table_compounds_each_calendar_year(study):
    y = study.years()
    assert y["year"].unique().sort().to_list() == [2017, 2018]
    d = study.daily.to_pandas()
    d["year"] = [x.year for x in d["date"]]
    for row in y.iter_rows(named=True):
        g = d[
            (d["factor"] == row["factor"]) & (d["pool"] == row["pool"]) & (d["year"] == row["year"])
        ]
        assert row["days"] == len(g)
        for col, key in (
            ("excess", "long_excess"),
            ("long_short", "long_short"),
            ("bench", "bench"),
        ):
            assert row[key] == pytest.approx((1 + g[col].fillna(0)).prod() - 1, rel=1e-10)
    assert y["rank_ic_mean_pct"].is_not_null().all()


# ---- 9. the report: the handbook's figures beside this run's, the periods, the years ----------


def test_the_report_shows_the_handbook_beside_this_run_and_the_2021_split(study, tmp_path):
    from factorlab.calibration import handbook_figures
    from factorlab.report import write_report
    from factorlab.report.handbook import beside_handbook_frame, yearly_frame

    beside = beside_handbook_frame(study)
    # every published figure of #1 and #2 in CSI 300 and liq1500 (9 metrics minus the IC)
    assert beside.height == 2 * 2 * 8
    row = beside.filter(
        (pl.col("Factor") == "#1 nb_hold_value")
        & (pl.col("Pool") == "csi300")
        & (pl.col("Metric") == "Coverage %")
    ).row(0, named=True)
    assert row["Handbook"] == "99.33" and row["Source"] == "seed 001 p.8"
    assert row["This run"] == f"{_row(study, 'nb_hold_value', 'csi300')['coverage_pct']:.2f}"
    dd = beside.filter(
        (pl.col("Factor") == "#2 nb_hold_ratio")
        & (pl.col("Pool") == "liq1500")
        & (pl.col("Metric") == "Excess max DD %")
    )
    want = handbook_figures().filter(
        (pl.col("factor") == "nb_hold_ratio")
        & (pl.col("pool") == "liq1500")
        & (pl.col("metric") == "long_excess_mdd")
    )["value"]
    assert dd["Handbook"].item() == f"{-100 * want.item():.2f}" == "12.65"
    years = yearly_frame(study)
    assert years.columns == ["Factor", "Pool", "2017 %", "2018 %"]
    got = study.years().filter(
        (pl.col("factor") == "nb_hold_value")
        & (pl.col("pool") == "csi300")
        & (pl.col("year") == 2018)
    )["long_excess"]
    assert (
        years.filter((pl.col("Factor") == "nb_hold_value") & (pl.col("Pool") == "csi300"))[
            "2018 %"
        ].item()
        == f"{100 * got.item():.2f}"
    )
    path = write_report(study, tmp_path / "r")
    page = path.read_text(encoding="utf-8")
    md = (tmp_path / "r" / "summary.md").read_text(encoding="utf-8")
    for text in ("Beside the handbook", "Before and after 2021", "Excess return per year"):
        assert text in page and f"## {text}" in md
    assert "#1 nb_hold_value" in page and "before 2021-01-01" in md
    # the page says which Sharpe convention each column uses
    assert "Sharpe conventions: the Handbook column" in md and "excess_risk_free=False" in md


def test_market_describe_is_the_one_description_of_the_data(market150):
    from factorlab._display import data_line
    from factorlab.evaluate.tears import _describe_source

    d = market150.describe()
    assert d["source"] == "factorlab synthetic market"
    assert (d["n_assets"], d["dates"]) == ("150", "2017-01-01 .. 2018-12-31")
    assert d["content_hash"] == market150.content_hash and "seed" in d and "path" in d
    # a preset is named when the parameters equal one
    named = market150.describe(presets={"tiny": {"n_assets": 150, "start": "2017-01-01"}})
    assert named["preset"] == "tiny"
    assert "preset" not in market150.describe(presets={"big": {"n_assets": 5000}})
    # a market without generation parameters: the dates of its prices
    bars = pl.DataFrame(
        {"date": [dt.date(2020, 1, 3), dt.date(2020, 1, 2)], "asset": ["A", "A"], "close": [1, 2]}
    )
    own = Market({"prices": bars}, meta={"source": "my vendor"}, validate="none")
    assert own.describe() == {"source": "my vendor", "dates": "2020-01-02 .. 2020-01-03"}
    # the study, the terminal line and the tear sheet all say the same
    study = factor_study(market150, factors=STATIC[:1], pools=POOLS[:1], cache=False)
    assert study.data == d
    line = data_line(study)
    assert "assets 150" in line and "dates 2017-01-01 .. 2018-12-31" in line
    assert f"content hash {market150.content_hash[:16]}" in line
    rows = dict(_describe_source(market150))
    assert rows["dates"] == d["dates"] and rows["content hash"] == d["content_hash"]


def test_the_market_repr_names_the_preset_as_every_report_does(small_market):
    from factorlab._display import data_line, data_text

    # before, Market._display called describe() without presets: no "preset small" in it
    text = repr(small_market)
    described = small_market.describe()
    assert described["preset"] == "small"
    line = data_text({k: v for k, v in described.items() if k != "path"})
    shown = " ".join(" ".join(text.splitlines()[1:4]).split())
    assert shown.startswith(line) and "preset small" in line

    class Result:  # what a study records as its `data`
        data = described

    assert data_line(Result()).startswith(line)


def test_a_scaled_liquidity_pool_is_labelled_with_what_it_holds(small_market, market150):
    # small keeps the name liq1500 for a pool of the 120 most liquid of its 400 stocks: the
    # description every report prints says so, with the size the pools table really has
    sizes = (
        small_market.table("pools")
        .filter(pl.col("pool") == "liq1500")
        .group_by("date")
        .len()
        .collect()["len"]
    )
    assert sizes.max() == 120
    label = small_market.describe()["liq1500"]
    assert label == "top 120 of 400 (scaled)"
    line = data_text(small_market.describe())
    assert ", dates 2016-06-01 .. 2024-12-31, liq1500 = top 120 of 400 (scaled), at " in line
    assert market150.describe()["liq1500"] == "top 45 of 150 (scaled)"
    # a full-size pool and a market without generation parameters carry no label
    assert _scaled_liquidity_pool(5000) is None and _scaled_liquidity_pool(None) is None


def test_the_recommended_numbers_are_derived_from_the_list():
    from factorlab.northbound.factors import (
        HANDBOOK_RECOMMENDED,
        NORTHBOUND_FACTORS,
        handbook_numbers,
    )
    from factorlab.report.html import _recommended_line

    assert handbook_numbers(HANDBOOK_RECOMMENDED) == "1-5, 7 and 10"
    assert handbook_numbers(NORTHBOUND_FACTORS[:2]) == "1 and 2"
    assert handbook_numbers([NORTHBOUND_FACTORS[i] for i in (0, 5, 6, 7, 13)]) == "1, 6-8 and 14"
    assert handbook_numbers(["my_factor", NORTHBOUND_FACTORS[8]]) == "9"
    line = _recommended_line(NORTHBOUND_FACTORS[:3])
    assert line.startswith("Handbook-recommended factors (1-3): nb_hold_value, ")
