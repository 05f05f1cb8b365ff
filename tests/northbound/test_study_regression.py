"""Regression: the study's table and daily series on a fixed small market, pinned as golden
literals (relative 1e-10). A number here changes only with an intended definition change, named
in a comment next to the value."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest

from factorlab.backtest import NO_COSTS
from factorlab.datasets import synthetic_market
from factorlab.errors import CalendarError, ParameterError
from factorlab.evaluate import schedule_forward_returns
from factorlab.northbound.study import factor_study

FACTORS = ("nb_hold_ratio", "nb_cum_inflow_ratio20", "nb_trade_amount20", "nb_trading_cum_inflow20")
POOLS = ("csi300", "liq1500")
REL = 1e-10

COLUMNS = (
    "long_excess_ann",
    "long_excess_sharpe",
    "long_excess_mdd",
    "long_excess_ann_net",
    "long_excess_sharpe_net",
    "long_excess_mdd_net",
    "long_short_ann",
    "long_short_sharpe",
    "long_short_mdd",
    "long_short_ann_net",
    "long_short_sharpe_net",
    "long_short_mdd_net",
    "coverage_pct",
    "rank_ic_mean_pct",
    "rank_ic_ir",
    "rank_ic_t",
    "turnover_pct",
    "periods",
    "empty_rebalances",
)
#: Before the study moved onto factorlab.backtest (simulate_portfolio and a second IC loop):
#: with zero costs the new study still gives these gross, IC, coverage and turnover numbers.
REFERENCE = {
    ("nb_hold_ratio", "csi300"): (
        0.11793205745070079,
        2.3468458200524402,
        -0.02878386072638663,
        0.10249784732583067,
        2.0620509156247837,
        -0.02955959573062317,
        0.13354965063505464,
        1.646507060644883,
        -0.04041282367572988,
        0.10304913106362212,
        1.2987123908041307,
        -0.042871442451580866,
        99.62691472642489,
        1.683574973894247,
        0.1976567026362355,
        1.8751361253873358,
        16.283634139751832,
        91,
        0,
    ),
    ("nb_cum_inflow_ratio20", "csi300"): (
        0.022078125426135964,
        0.48355649013268115,
        -0.04269648130274121,
        -0.010690381527380333,
        -0.20344046443697628,
        -0.05976150594625545,
        0.03395099788023348,
        0.5148945183927126,
        -0.08545546240629875,
        -0.03260651527318359,
        -0.4396145853491074,
        -0.13577143118570142,
        94.20201354065414,
        0.554811741702382,
        0.0697567168802836,
        0.6431251524725679,
        39.02410195321042,
        86,
        0,
    ),
    ("nb_trade_amount20", "csi300"): (
        0.01976386076885639,
        0.4238839967050072,
        -0.04615769400954731,
        -0.014323221244807005,
        -0.2710627561617872,
        -0.06072748802724928,
        0.010819712443158158,
        0.18484130089220377,
        -0.11703577955079611,
        -0.05619583029645758,
        -0.7595196665037833,
        -0.16879792127378282,
        94.20201354065414,
        -0.02965148467133418,
        -0.003673063946614674,
        -0.03386397635029365,
        40.73413283513149,
        86,
        0,
    ),
    ("nb_trading_cum_inflow20", "csi300"): (
        0.06093384198981977,
        1.2529417575623119,
        -0.05805590567588239,
        0.02679039653797277,
        0.5767351319784332,
        -0.06470166494495266,
        0.029785019943298074,
        0.4743338858438198,
        -0.09017340425001565,
        -0.03700811059875375,
        -0.5346486941747137,
        -0.10427822298972259,
        60.63760693276918,
        -0.38119732623601693,
        -0.05075257715907078,
        -0.372953751512867,
        38.955275148848045,
        55,
        0,
    ),
    ("nb_hold_ratio", "liq1500"): (
        0.09235288976420475,
        1.8023205088620704,
        -0.02878386072638663,
        0.0765340241557082,
        1.5101099821315527,
        -0.029718613350931553,
        0.09678420743335625,
        1.1537371476791698,
        -0.05751021858031857,
        0.06709683915803022,
        0.8237293656918383,
        -0.06007491339257047,
        99.6352429312764,
        1.3118273125117517,
        0.14211727357496645,
        1.3482428380504632,
        17.151856441074628,
        91,
        0,
    ),
    ("nb_cum_inflow_ratio20", "liq1500"): (
        0.012072234147419758,
        0.2480041477326871,
        -0.06028382395587813,
        -0.02117652457790442,
        -0.3679441777100249,
        -0.08266893154963843,
        0.02008116804849225,
        0.2994014449837935,
        -0.11574384338227824,
        -0.04710503864444593,
        -0.5953487669586126,
        -0.1565896837096937,
        94.21034174550563,
        0.24252708713543417,
        0.026567729095069364,
        0.24494235952130572,
        40.06541142642001,
        86,
        0,
    ),
    ("nb_trade_amount20", "liq1500"): (
        0.011006992900911783,
        0.22844716197534898,
        -0.06146239644107112,
        -0.022802945995640034,
        -0.3974848349838528,
        -0.07847921781260692,
        0.006177084806615163,
        0.11988533842852342,
        -0.13876859403988534,
        -0.06077896571642283,
        -0.8031742374531478,
        -0.1754237813574337,
        94.21034174550563,
        -0.16603390731605885,
        -0.018299691668410462,
        -0.1687148208916625,
        40.8009840224645,
        86,
        0,
    ),
    ("nb_trading_cum_inflow20", "liq1500"): (
        0.029676237263262406,
        0.5868726695657636,
        -0.059176731206358024,
        -0.00451633932551232,
        -0.06170089560070877,
        -0.0657340623901941,
        -0.03613294342079032,
        -0.47250389135010057,
        -0.10391848532356988,
        -0.10104873846541396,
        -1.4395799302432908,
        -0.12433859531924642,
        60.65302949254118,
        -0.7297298658586707,
        -0.08339085268053742,
        -0.6127951148487585,
        40.300056209189954,
        55,
        0,
    ),
}
REFERENCE_DAILY_SUMS = {
    ("nb_cum_inflow_ratio20", "csi300"): (
        415,
        -0.017550414308027618,
        -0.07122653440544101,
        -0.0765087735872303,
        -0.05536737735611763,
        -0.05057837534470819,
    ),
    ("nb_cum_inflow_ratio20", "liq1500"): (
        415,
        -0.047346818761505594,
        -0.10236762893582532,
        -0.08483872101878065,
        -0.06953231346274258,
        -0.07468656478174152,
    ),
    ("nb_hold_ratio", "csi300"): (
        438,
        0.17636153590130976,
        0.1521784332325789,
        -0.046840206840755405,
        -0.01944248944339122,
        0.17575557968052177,
    ),
    ("nb_hold_ratio", "liq1500"): (
        438,
        0.12209358838919537,
        0.0967273038869505,
        -0.044482568199826544,
        -0.03360742555001617,
        0.11886014562828628,
    ),
    ("nb_trade_amount20", "csi300"): (
        415,
        -0.021164207713061156,
        -0.07716633094549902,
        -0.04318755712017519,
        -0.05536737735611763,
        -0.09089639244037565,
    ),
    ("nb_trade_amount20", "liq1500"): (
        415,
        -0.04907539586298504,
        -0.10509310374291067,
        -0.06376439163173564,
        -0.06953231346274258,
        -0.09867711301070173,
    ),
    ("nb_trading_cum_inflow20", "csi300"): (
        263,
        0.07838375528750574,
        0.044222595125006134,
        0.045449692863023805,
        0.015440710039232863,
        -0.037059835917945816,
    ),
    ("nb_trading_cum_inflow20", "liq1500"): (
        263,
        0.03149511438000918,
        -0.0037729036385711484,
        0.06717846205319711,
        -0.00044070945404039996,
        -0.10844406984482464,
    ),
}


# With costs (the default Costs and capital=10,000,000 yuan). Intended changes from REFERENCE,
# all from the move onto factorlab.backtest.backtest (rel. differences up to ~1e-2):
# - the 5-yuan minimum commission is charged per actual order on its yuan value (was a
#   fraction 5 / 10,000,000 of NAV per name traded), stamp duty only on stock sells;
# - the book is in shares and cash: buys are scaled so value + costs fit the cash, so a
#   little cash is held and the gross return ("long", "short") is the costed book's return
#   before the day's costs (was the zero-cost book's); net compounds after costs (was gross
#   minus the day's cost fraction); turnover is the costed book's.
# The benchmark, rank IC and coverage are unchanged (IC now from factorlab.evaluate).
GOLDEN = {
    ("nb_hold_ratio", "csi300"): (
        0.11792927423508415,
        2.3468550761488913,
        -0.02879047465628431,
        0.10256159863571979,
        2.063255201079954,
        -0.029567014538333613,
        0.1335202023174875,
        1.6462189475684181,
        -0.04041927460574994,
        0.10310022163091159,
        1.2993334240349563,
        -0.04286517518486904,
        99.62691472642489,
        1.6835749738942467,
        0.1976567026362355,
        1.8751361253873358,
        16.268605357313103,
        91,
        0,
    ),
    ("nb_cum_inflow_ratio20", "csi300"): (
        0.022136740679484124,
        0.48480222794697997,
        -0.04264172313234548,
        -0.010627732269724577,
        -0.20210044426515628,
        -0.059705230625251224,
        0.03403868420117928,
        0.5161240396160641,
        -0.08545367197262005,
        -0.03252420397157885,
        -0.43840324020528326,
        -0.13563806370635326,
        94.20201354065414,
        0.5548117417023818,
        0.06975671688028359,
        0.6431251524725677,
        38.993882430201175,
        86,
        0,
    ),
    ("nb_trade_amount20", "csi300"): (
        0.019781333189377026,
        0.42429303611358254,
        -0.04614722362943968,
        -0.014297381081041727,
        -0.27054514373546296,
        -0.06067244532526061,
        0.010860203006566538,
        0.18540088843880095,
        -0.11701365512213695,
        -0.05614880612521489,
        -0.7588693137222728,
        -0.1687366594575261,
        94.20201354065414,
        -0.029651484671334175,
        -0.0036730639466146728,
        -0.033863976350293645,
        40.70229320147864,
        86,
        0,
    ),
    ("nb_trading_cum_inflow20", "csi300"): (
        0.060962127148785905,
        1.2536529588005512,
        -0.058048205641479084,
        0.026854499484973315,
        0.5780642285161625,
        -0.06466918995549205,
        0.029870891310879832,
        0.4756492019210729,
        -0.09013068364643109,
        -0.03686863620282266,
        -0.5325569046512337,
        -0.10417794406260522,
        60.63760693276918,
        -0.38119732623601715,
        -0.050752577159070805,
        -0.37295375151286725,
        38.92433724857242,
        55,
        0,
    ),
    ("nb_hold_ratio", "liq1500"): (
        0.092348121131828,
        1.8021862531538577,
        -0.02879047465628431,
        0.0765767522012164,
        1.5108313900527939,
        -0.029710625481366736,
        0.09674856801469622,
        1.1533644353286625,
        -0.057510089632787594,
        0.0671265091347677,
        0.8240718187985331,
        -0.06007005233790153,
        99.6352429312764,
        1.3118273125117512,
        0.14211727357496645,
        1.3482428380504632,
        17.135619208313177,
        91,
        0,
    ),
    ("nb_cum_inflow_ratio20", "liq1500"): (
        0.012135040693334709,
        0.24916571519139039,
        -0.06021960556626892,
        -0.021117886399563024,
        -0.36684230517982813,
        -0.08260619259558682,
        0.020185943529294814,
        0.30075387069942033,
        -0.11569460360147896,
        -0.04701252883925067,
        -0.5940688972235265,
        -0.15654025202791627,
        94.21034174550563,
        0.24252708713543408,
        0.026567729095069357,
        0.24494235952130566,
        40.03511626151417,
        86,
        0,
    ),
    ("nb_trade_amount20", "liq1500"): (
        0.011018771895342505,
        0.22868446752138116,
        -0.06142363495931671,
        -0.0227880189960189,
        -0.3972188355118339,
        -0.07844054286743689,
        0.006232340531282521,
        0.12062373032810694,
        -0.13870221570739724,
        -0.060724911702079054,
        -0.8023837423914248,
        -0.17534381234940763,
        94.21034174550563,
        -0.16603390731605905,
        -0.018299691668410483,
        -0.1687148208916627,
        40.769529562721,
        86,
        0,
    ),
    ("nb_trading_cum_inflow20", "liq1500"): (
        0.029677075423623078,
        0.5869361124729934,
        -0.05917397121531579,
        -0.004497500331454685,
        -0.0613354697595231,
        -0.06571072585341466,
        -0.036098454056913365,
        -0.47204102610230453,
        -0.10387647515207889,
        -0.10098507618417352,
        -1.4386643898826657,
        -0.12423830444098909,
        60.65302949254118,
        -0.7297298658586707,
        -0.08339085268053742,
        -0.6127951148487585,
        40.267579424577775,
        55,
        0,
    ),
}
DAILY_SUMS = {
    ("nb_cum_inflow_ratio20", "csi300"): (
        415,
        -0.017456286895184303,
        -0.07112222061347928,
        -0.07655414676083083,
        -0.05536737735609776,
        -0.050438379429804114,
    ),
    ("nb_cum_inflow_ratio20", "liq1500"): (
        415,
        -0.04724509708269564,
        -0.10226902630705048,
        -0.08490608546572753,
        -0.06953231346265676,
        -0.07452664282607291,
    ),
    ("nb_hold_ratio", "csi300"): (
        438,
        0.1763571011491939,
        0.15227898132696283,
        -0.04679916615354729,
        -0.01944248944336935,
        0.175835893134469,
    ),
    ("nb_hold_ratio", "liq1500"): (
        438,
        0.12208611176973982,
        0.09679653701962121,
        -0.04443334116454423,
        -0.03360742554992835,
        0.11890836717460573,
    ),
    ("nb_trade_amount20", "csi300"): (
        415,
        -0.021136612711833758,
        -0.07712339714174743,
        -0.04322548068601961,
        -0.05536737735609776,
        -0.09081472844016714,
    ),
    ("nb_trade_amount20", "liq1500"): (
        415,
        -0.049056850738620206,
        -0.1050681134996313,
        -0.06383622417496759,
        -0.06953231346265676,
        -0.09858216085065763,
    ),
    ("nb_trading_cum_inflow20", "csi300"): (
        263,
        0.07841127213840016,
        0.04428765073136953,
        0.04539087139990783,
        0.015440710039251626,
        -0.03690939036914276,
    ),
    ("nb_trading_cum_inflow20", "liq1500"): (
        263,
        0.03149571082661917,
        -0.0037531607351223295,
        0.06714203603276814,
        -0.0004407094539893297,
        -0.10837042819274467,
    ),
}


@pytest.fixture(scope="module")
def market150(tmp_path_factory):
    market = synthetic_market(
        n_assets=150,
        start="2017-01-01",
        end="2018-12-31",
        cache=tmp_path_factory.mktemp("reg") / "m150",
    )
    return market


@pytest.fixture(scope="module")
def study(market150):
    return factor_study(market150, factors=FACTORS, pools=POOLS, cache=False)


@pytest.fixture(scope="module")
def study_no_costs(market150):
    return factor_study(market150, factors=FACTORS, pools=POOLS, cache=False, costs=NO_COSTS)


def _close(got, want) -> bool:
    if want is None or (isinstance(want, float) and math.isnan(want)):
        return got is None or (isinstance(got, float) and math.isnan(got))
    return got == pytest.approx(want, rel=REL, abs=1e-13)


@pytest.mark.parametrize("key", sorted(GOLDEN))
def test_table_is_pinned(study, key):
    factor, pool = key
    row = study.table.filter((pl.col("factor") == factor) & (pl.col("pool") == pool)).row(
        0, named=True
    )
    bad = {
        col: (row[col], want)
        for col, want in zip(COLUMNS, GOLDEN[key], strict=True)
        if not _close(row[col], want)
    }
    assert not bad, bad


@pytest.mark.parametrize("key", sorted(DAILY_SUMS))
def test_daily_series_are_pinned(study, key):
    factor, pool = key
    d = study.daily.filter((pl.col("factor") == factor) & (pl.col("pool") == pool))
    n, *sums = DAILY_SUMS[key]
    assert d.height == n
    got = [d[c].sum() for c in ("long", "long_net", "short", "bench", "long_short_net")]
    assert got == pytest.approx(sums, rel=REL, abs=1e-13)


def test_every_factor_and_pool_is_pinned(study):
    assert study.table.height == len(GOLDEN) == len(FACTORS) * len(POOLS)


GROSS = [c for c in COLUMNS if not c.endswith("_net")]


@pytest.mark.parametrize("key", sorted(REFERENCE))
def test_zero_cost_study_equals_the_reference(study_no_costs, key):
    """Where no definition changed (no costs: gross series, benchmark, IC, coverage, turnover,
    periods) the study on the backtester gives the old numbers."""
    factor, pool = key
    row = study_no_costs.table.filter((pl.col("factor") == factor) & (pl.col("pool") == pool)).row(
        0, named=True
    )
    want = dict(zip(COLUMNS, REFERENCE[key], strict=True))
    bad = {c: (row[c], want[c]) for c in GROSS if not _close(row[c], want[c])}
    assert not bad, bad
    d = study_no_costs.daily.filter((pl.col("factor") == factor) & (pl.col("pool") == pool))
    n, long, _, short, bench, _ = REFERENCE_DAILY_SUMS[key]
    assert d.height == n
    got = [d[c].sum() for c in ("long", "short", "bench")]
    assert got == pytest.approx([long, short, bench], rel=1e-9, abs=1e-12)


def test_benchmark_weighting_is_independent_of_the_legs(market150, study):
    cap_bench = factor_study(
        market150, factors=FACTORS[:1], pools=POOLS[:1], cache=False, benchmark_weighting="cap"
    )
    a = study.daily.filter((pl.col("factor") == FACTORS[0]) & (pl.col("pool") == POOLS[0]))
    b = cap_bench.daily
    assert a["long"].equals(b["long"]) and a["short"].equals(b["short"])  # legs: equal weight
    assert not np.allclose(a["bench"].to_numpy(), b["bench"].to_numpy())
    with pytest.raises(ParameterError, match="benchmark_weighting"):
        factor_study(market150, pools=POOLS, benchmark_weighting="float", cache=False)
    with pytest.raises(ParameterError, match="capital"):
        factor_study(market150, pools=POOLS, capital=0.0, cache=False)


def test_schedule_forward_returns_are_entry_to_next_entry():
    cal = np.array(["2020-01-02", "2020-01-03", "2020-01-06", "2020-01-07"], "datetime64[D]")
    prices = np.array([[10.0, 1.0], [11.0, 2.0], [12.1, np.nan], [13.0, 4.0]])
    sched = pl.Series([dt.date(2020, 1, 2), dt.date(2020, 1, 6)], dtype=pl.Date)
    fwd = schedule_forward_returns(cal, pl.Series(["A", "B"]), prices, sched, offset=1)
    # from the fill after 01-02 (row 1) to the fill after 01-06 (row 3); the last has none
    np.testing.assert_allclose(fwd.grids[1][0], [13.0 / 11.0 - 1, 4.0 / 2.0 - 1], rtol=1e-15)
    assert np.isnan(fwd.grids[1][1]).all()
    with pytest.raises(CalendarError, match="not sessions"):
        schedule_forward_returns(
            cal, pl.Series(["A", "B"]), prices, pl.Series([dt.date(2020, 1, 4)]), offset=1
        )
