"""The real-sample Market built from ../shared/realdata (public real data, never committed here).

Skipped with a plain message when the folder is absent (it lives next to the repository in CI).
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from factorlab.adapters import amount_proxy
from factorlab.datasets import real_sample
from factorlab.datasets.real import availability, default_path, require_data
from factorlab.errors import AbsentDataError, MarketError
from factorlab.schema import validate

ROOT = default_path()


@pytest.fixture(scope="module")
def market():
    if not ROOT.is_dir():
        pytest.skip(
            f"../shared/realdata not found: {ROOT} (set $FACTORLAB_REALDATA to run the "
            "real-sample tests)"
        )
    return real_sample(ROOT)  # validate="full": every value and calendar checked


def test_tables_present_and_valid(market):
    assert set(market.names) == {
        "assets",
        "etf_prices",
        "indices",
        "northbound_flows",
        "pools",
        "prices",
        "suspensions",
    }
    validate("prices", market.prices.head(1000))  # spot check after the full validation


def test_pools_point_in_time_exact_counts(market):
    counts = (
        market.pools.group_by("pool", "date")
        .len()
        .group_by("pool")
        .agg(pl.col("len").min().alias("lo"), pl.col("len").max().alias("hi"))
        .collect()
    )
    got = {r["pool"]: (r["lo"], r["hi"]) for r in counts.iter_rows(named=True)}
    liq = got.pop("liq1500")
    assert got == {"csi300": (300, 300), "csi500": (500, 500), "csi800": (800, 800)}
    # the price source covers ~1,000 stocks, so liq1500 holds every seasoned priced stock
    assert 900 < liq[0] <= liq[1] < 1500
    on = market.pools.filter(pl.col("date") == dt.date(2020, 6, 30), pl.col("pool") == "csi300")
    assert "600519.SH" in on.collect()["asset"].to_list()


def test_membership_rows_with_odd_codes_are_counted_not_refused(market):
    (report,) = market.meta["coverage"]["membership_rows_dropped"]
    assert report["source"] == "membership intervals (csi300)"
    assert report["reason"] == "not a Shanghai / Shenzhen A-share code"
    assert report["rows"] == 7 and "ts_code=T00018.SH" in report["examples"]


def test_liq1500_is_the_public_rule_on_the_amount_proxy(market):
    from factorlab import pools

    prices = market.prices.filter(pl.col("date") < dt.date(2017, 3, 1)).collect()
    built = pools.liquidity(prices, assets=market.assets, amount=amount_proxy())
    ours = (
        market.pools.filter(pl.col("pool") == "liq1500", pl.col("date") < dt.date(2017, 3, 1))
        .collect()
        .sort("date", "asset")
    )
    assert built.pools.equals(ours)
    # members only from stocks with prices, never ST (the sample has no ST flag: none are)
    assert ours.join(prices, on=["date", "asset"], how="anti").height < 0.05 * ours.height


def test_suspended_rows_are_not_prices(market):
    susp = market.suspensions.collect()
    assert susp.height > 0
    overlap = market.prices.join(market.suspensions, on=["date", "asset"], how="semi").collect()
    assert overlap.height == 0
    assert market.prices.filter(pl.col("volume") <= 0).collect().height == 0


def test_absent_data_is_reported_never_proxied(market):
    prices = market.prices.select("amount", "float_shares", "total_shares").head(100).collect()
    assert prices.null_count().row(0) == (100, 100, 100)
    with pytest.raises(AbsentDataError, match=r"`prices\.amount`.*no traded amount"):
        require_data(market, "prices.amount", purpose="nb_trade_amount_ratio20")
    with pytest.raises(AbsentDataError, match="`northbound`"):
        require_data(market, "northbound", "prices.close")
    require_data(market, "prices.close", "pools", "northbound_flows")  # present: no error
    with pytest.raises(MarketError, match="no table `participant_holdings`"):
        market.table("participant_holdings")
    status = dict(availability(market).select("table", "status").iter_rows())
    assert status["prices"] == "partial" and status["northbound"] == "absent"
    assert status["etfs"] == "absent" and status["etf_prices"] == "present"


def test_amount_proxy_only_when_asked(market):
    out = market.prices.select(amount_proxy(), "amount").head(5).collect()
    assert out["amount_proxy"].null_count() == 0 and out["amount"].null_count() == 5


def test_flows_keep_both_meanings_apart(market):
    flows = market.northbound_flows.collect()
    before = flows.filter(pl.col("date") < dt.date(2018, 8, 1))
    after = flows.filter(pl.col("date") >= dt.date(2018, 8, 1))
    assert set(before["flow_definition"]) == {"quota_inflow"}
    assert set(after["flow_definition"]) == {"net_buy"}
    assert after["quota_inflow"].null_count() == after.height
    assert before["quota_inflow"].null_count() == 0
    # from 2018-08-01 tushare's figure is the trade-based net buy: it equals buy - sell turnover
    both = after.drop_nulls(["buy_amount", "sell_amount"])
    diff = (both["net_buy"] - (both["buy_amount"] - both["sell_amount"])).abs()
    assert both.height > 1000 and float((diff < 1e5).mean()) > 0.99
    # first day of Shanghai Connect: the whole 13 bn quota used
    first = flows.filter(pl.col("date") == dt.date(2014, 11, 17), pl.col("link") == "SH")
    assert first["quota_inflow"].item() == pytest.approx(13e9)
    assert flows.filter(pl.col("link") == "SZ")["date"].min() == dt.date(2016, 12, 5)


def test_indices_and_assets(market):
    idx = market.indices.collect()
    assert {"csi300", "csi500", "csi1000", "sse50", "sse_composite", "csi_all"} <= set(idx["index"])
    assets = market.assets.collect()
    assert assets.filter(pl.col("asset") == "600519.SH")["industry"].item() == "白酒"
    assert market.meta["coverage"]["pool_members_without_prices"] > 0  # survivorship gap shown


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(MarketError, match="not found"):
        real_sample(tmp_path / "nowhere")


# ------------------------------------------------------------------------------------------------
# the engine on real prices: generic price factors on the point-in-time CSI 300 / CSI 500 pools,
# weekly 2017-2023, against alphalens-reloaded on the same inputs

STUDY_START, STUDY_END = dt.date(2017, 1, 1), dt.date(2023, 12, 31)
PERIODS = (1, 5, 10)
ATOL = 1e-10


def _factors(market) -> pl.DataFrame:
    """20-day reversal, 60-day momentum skipping the last 5 days, 20-day volatility and volume
    z-score, on back-adjusted closes over each stock's own trading days."""
    adj = pl.col("close") * pl.col("adj_factor")
    ret = adj / adj.shift(1) - 1
    frame = (
        market.prices.filter(pl.col("date").is_between(dt.date(2016, 6, 1), STUDY_END))
        .sort("asset", "date")
        .select(
            "date",
            "asset",
            (-(adj / adj.shift(20) - 1)).over("asset").alias("reversal_20"),
            (adj.shift(5) / adj.shift(60) - 1).over("asset").alias("momentum_60_5"),
            ret.rolling_std(20).over("asset").alias("volatility_20"),
            (
                (pl.col("volume") - pl.col("volume").rolling_mean(20))
                / pl.col("volume").rolling_std(20)
            )
            .over("asset")
            .alias("volume_z_20"),
        )
        .collect()
    )
    weekly = (
        frame.select("date")
        .unique()
        .filter(pl.col("date") >= STUDY_START)
        .group_by(pl.col("date").dt.truncate("1w").alias("week"))
        .agg(pl.col("date").max())
        .get_column("date")
    )
    return frame.filter(pl.col("date").is_in(weekly.implode()))


@pytest.fixture(scope="module")
def study(market):
    pytest.importorskip("alphalens")
    factors = _factors(market)
    prices = (
        market.prices.filter(pl.col("date").is_between(STUDY_START, dt.date(2024, 2, 29)))
        .select("date", "asset", (pl.col("close") * pl.col("adj_factor")).alias("close"))
        .collect()
    )
    return factors, prices


FACTORS = ("reversal_20", "momentum_60_5", "volatility_20", "volume_z_20")


@pytest.mark.slow
@pytest.mark.parametrize("pool", ["csi300", "csi500"])
@pytest.mark.parametrize("name", FACTORS)
def test_real_prices_equal_alphalens(market, study, pool, name):
    import contextlib
    import io
    import warnings

    import numpy as np
    import pandas as pd
    from alphalens import performance as perf
    from alphalens import utils as autils

    from factorlab.evaluate import alphalens_tearsheet_numbers, to_alphalens

    factors, prices = study
    members = market.pools.filter(pl.col("pool") == pool).select("date", "asset").collect()
    # every pool member on every weekly date: suspended days, warm-up windows and members the
    # price source lacks enter with a null factor and show up in the drop accounting
    weeks = factors.get_column("date").unique().implode()
    factor = (
        members.filter(pl.col("date").is_in(weeks))
        .join(factors, on=["date", "asset"], how="left")
        .select("date", "asset", pl.col(name).alias("factor"))
    )
    ours = alphalens_tearsheet_numbers(factor, prices, periods=PERIODS, quantiles=5, max_loss=1.0)
    drops = ours.drops
    assert drops.n_input == factor.height and 0 < drops.n_clean < drops.n_input
    assert drops.factor_null > 0

    def quiet(fn, *args, **kwargs):
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args, **kwargs)

    f, p, _ = to_alphalens(factor, prices)
    clean = quiet(
        autils.get_clean_factor_and_forward_returns,
        f,
        p,
        quantiles=5,
        periods=PERIODS,
        filter_zscore=None,
        max_loss=1.0,
    )
    assert len(clean) == drops.n_clean
    labels = dict(zip(autils.get_forward_returns_columns(clean.columns), PERIODS, strict=True))

    def long(frame: pd.DataFrame, value: str) -> pl.DataFrame:
        flat = frame[list(labels)].rename(columns=labels).reset_index()
        keys = [c for c in flat.columns if c not in labels.values()]
        m = flat.melt(id_vars=keys, var_name="horizon", value_name=value)
        out = {}
        for c in m.columns:
            if c == "date":
                out[c] = pl.Series(pd.DatetimeIndex(m[c]).to_numpy()).cast(pl.Date)
            elif c in ("horizon", "factor_quantile"):
                out["quantile" if c == "factor_quantile" else c] = pl.Series(
                    m[c].to_numpy().astype(np.int64)
                )
            else:
                out[c] = pl.Series(m[c].to_numpy(dtype=np.float64)).fill_nan(None)
        return pl.DataFrame(out)

    def close(ours_df: pl.DataFrame, theirs_df: pl.DataFrame, keys: list[str], v: str) -> None:
        ours_df = ours_df.with_columns(pl.col(k).cast(theirs_df.schema[k]) for k in keys)
        j = theirs_df.join(ours_df, on=keys, how="full", suffix="_ours", coalesce=True)
        assert j.height == theirs_df.height == ours_df.height
        a, b = j[v].to_numpy().astype(float), j[f"{v}_ours"].to_numpy().astype(float)
        assert np.array_equal(np.isnan(a), np.isnan(b))
        ok = ~np.isnan(a)
        assert float(np.max(np.abs(a[ok] - b[ok]), initial=0.0)) <= ATOL

    ic = long(quiet(perf.factor_information_coefficient, clean), "ic")
    close(ours.ic.select("date", "horizon", "ic"), ic, ["date", "horizon"], "ic")
    mean, _ = quiet(perf.mean_return_by_quantile, clean, by_date=False, demeaned=True)
    close(
        ours.mean_return.select("quantile", "horizon", "mean_return"),
        long(mean, "mean_return"),
        ["quantile", "horizon"],
        "mean_return",
    )
    parts = []
    for lag in PERIODS:
        for q in range(1, 6):
            s = quiet(perf.quantile_turnover, clean["factor_quantile"], q, lag)
            parts.append(
                pl.DataFrame(
                    {
                        "date": pl.Series(pd.DatetimeIndex(s.index).to_numpy()).cast(pl.Date),
                        "lag": lag,
                        "quantile": q,
                        "turnover": pl.Series(s.to_numpy(dtype=float)).fill_nan(None),
                    }
                )
            )
    close(ours.turnover, pl.concat(parts), ["date", "lag", "quantile"], "turnover")
    parts = []
    for lag in PERIODS:
        s = quiet(perf.factor_rank_autocorrelation, clean, lag)
        parts.append(
            pl.DataFrame(
                {
                    "date": pl.Series(pd.DatetimeIndex(s.index).to_numpy()).cast(pl.Date),
                    "lag": lag,
                    "autocorrelation": pl.Series(s.to_numpy(dtype=float)).fill_nan(None),
                }
            )
        )
    close(ours.rank_autocorrelation, pl.concat(parts), ["date", "lag"], "autocorrelation")
