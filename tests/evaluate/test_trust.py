"""evaluate() never gives a silent empty, drop or wrong number (trust issue, D7-D9, friction 5).

Each test is one defect class: a repro on a 20-stock, 40-session hand-made market whose `factor`
is the next day's return plus noise, the assertion on the real value or the typed error, and
that the message names the table / column and shows an example.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from factorlab.errors import (
    AssetCodeError,
    CalendarError,
    DtypeError,
    DuplicateKeyError,
    ParameterError,
    ValueRangeError,
)
from factorlab.evaluate import DensePanel, evaluate, forward_returns, ic_summary

N_ASSETS, N_DAYS = 20, 40
H = (1, 5)


def _sessions() -> list[date]:
    days, d = [], date(2020, 1, 2)
    while len(days) < N_DAYS:
        if d.weekday() < 5:
            days.append(d)
        d += timedelta(1)
    return days


@pytest.fixture(scope="module")
def market() -> pl.DataFrame:
    rng = np.random.default_rng(42)
    days = _sessions()
    assets = [f"{600000 + i}.SH" for i in range(N_ASSETS)]
    ret = rng.normal(0, 0.02, size=(N_DAYS, N_ASSETS))
    close = 10 * np.exp(np.cumsum(ret, axis=0))
    opn = close * np.exp(rng.normal(0, 0.002, size=close.shape))
    nxt = np.vstack([opn[2:] / opn[1:-1] - 1, np.full((2, N_ASSETS), np.nan)])
    factor = np.nan_to_num(nxt, nan=0.0) + rng.normal(0, 0.01, size=close.shape)
    return pl.DataFrame(
        {
            "date": np.repeat(np.array(days, dtype="datetime64[D]"), N_ASSETS),
            "asset": assets * N_DAYS,
            "open": opn.reshape(-1),
            "close": close.reshape(-1),
            "factor": factor.reshape(-1),
        }
    ).with_columns(pl.col("date").cast(pl.Date))


def _drops(ev, factor="factor", pool=None, horizon=1) -> dict[str, int]:
    d = ev.drops.filter((pl.col("factor") == factor) & (pl.col("horizon") == horizon))
    if pool is not None:
        d = d.filter(pl.col("pool") == pool)
    return dict(zip(d["reason"], d["rows"], strict=True))


# -- 6. no silent empties -------------------------------------------------------------------


def test_every_factor_has_a_summary_row_with_a_reason(market):
    f = market.with_columns(const=pl.lit(1.0))
    ev = evaluate(f, ["factor", "const"], horizons=H)
    assert ev.summary.height == 2 * len(H)
    good = ev.summary.filter(pl.col("factor") == "factor")
    assert good["reason"].null_count() == len(H) and good["ic_mean"][0] > 0.5
    const = ev.summary.filter(pl.col("factor") == "const")
    assert const["ic_mean"].null_count() == len(H)
    assert const["n_dates"].to_list() == [0, 0]
    assert const["reason"].str.contains("constant").all()


def test_horizon_past_the_data_gives_nan_with_a_reason(market):
    ev = evaluate(market, ["factor"], horizons=(1, 60))
    row = ev.summary.filter(pl.col("horizon") == 60).row(0, named=True)
    assert row["ic_mean"] is None and row["rows_clean"] == 0 and row["loss"] == 1.0
    assert "60-session forward return" in row["reason"]
    assert _drops(ev, horizon=60)["missing_return"] == market.height


def test_single_date_and_all_null_factor_keep_their_rows(market):
    first = market.filter(pl.col("date") == pl.col("date").min())
    ev = evaluate(first, ["factor"], prices=market, horizons=(1,))
    row = ev.summary.row(0, named=True)
    assert row["n_dates"] == 1 and row["ic_std"] is None and "single date" in row["reason"]
    nulls = market.with_columns(empty=pl.lit(None, pl.Float64))
    ev = evaluate(nulls, ["factor", "empty"], horizons=(1,))
    row = ev.summary.filter(pl.col("factor") == "empty").row(0, named=True)
    assert row["ic_mean"] is None and "no finite value" in row["reason"]
    assert _drops(ev, "empty")["factor_null"] == market.height


def test_pool_members_without_a_factor_row_are_counted(market):
    members = market.select("date", "asset").with_columns(pool=pl.lit("p"))
    missing = market["asset"].unique().sort().head(2)
    fac = market.filter(~pl.col("asset").is_in(missing.implode()))
    ev = evaluate(fac, ["factor"], prices=market, pools=members, horizons=(1,))
    d = _drops(ev)
    assert d["not_in_factor"] == 2 * N_DAYS
    row = ev.summary.row(0, named=True)
    assert row["rows_input"] == market.height
    assert sum(d.values()) == row["rows_input"]
    # coverage: share of the pool's members with a clean value (18 of 20 on the scored dates)
    assert row["coverage"] == pytest.approx(18 / 20)


def test_asset_without_open_prices_is_missing_return_per_horizon(market):
    dead = market["asset"].unique().sort()[0]
    f = market.with_columns(
        pl.when(pl.col("asset") == dead).then(None).otherwise(pl.col("open")).alias("open")
    )
    ev = evaluate(f, ["factor"], horizons=H)
    for h in H:
        d = _drops(ev, horizon=h)
        # N_DAYS rows of the dead asset, plus the last 1 + h sessions of the others
        assert d["missing_return"] == N_DAYS + (N_ASSETS - 1) * (1 + h)
        row = ev.summary.filter(pl.col("horizon") == h).row(0, named=True)
        assert row["rows_clean"] == market.height - d["missing_return"]
        assert row["loss"] == pytest.approx(d["missing_return"] / market.height)


def test_ic_summary_of_an_evaluation_keeps_pools_and_factors_apart(market):
    sh = market.select("date", "asset")
    pools = pl.concat(
        [sh.with_columns(pool=pl.lit("a")), sh.head(sh.height // 2).with_columns(pool=pl.lit("b"))]
    )
    ev = evaluate(
        market.with_columns(neg=-pl.col("factor")), ["factor", "neg"], pools=pools, horizons=H
    )
    s = ic_summary(ev.ic)
    assert s.height == 2 * 2 * len(H)
    assert set(s.columns[:3]) == {"factor", "pool", "horizon"}
    one = s.filter(
        (pl.col("factor") == "factor") & (pl.col("pool") == "a") & (pl.col("horizon") == 1)
    )
    expected = ev.summary.filter(
        (pl.col("factor") == "factor") & (pl.col("pool") == "a") & (pl.col("horizon") == 1)
    )
    assert one["n_dates"].item() == expected["n_dates"].item() < N_DAYS
    assert one["mean"].item() == pytest.approx(expected["ic_mean"].item(), abs=1e-12)


# -- 7. codes and duplicate keys ------------------------------------------------------------


def test_factor_codes_in_another_spelling_are_an_asset_code_error(market):
    short = market.with_columns(pl.col("asset").str.slice(0, 6))
    with pytest.raises(AssetCodeError, match=r"`factor`.*600000.*`prices` has e.g. 600000\.SH"):
        evaluate(short.drop("open", "close"), ["factor"], prices=market)
    ints = short.with_columns(pl.col("asset").cast(pl.Int64))
    with pytest.raises(AssetCodeError, match="600000"):
        evaluate(ints.drop("open", "close"), ["factor"], prices=market)


def test_partial_code_mismatch_stays_counted(market):
    one = market["asset"][0]
    f = market.with_columns(
        pl.when(pl.col("asset") == one)
        .then(pl.lit("600000"))
        .otherwise(pl.col("asset"))
        .alias("asset")
    )
    ev = evaluate(f.drop("open", "close"), ["factor"], prices=market, horizons=(1,))
    assert _drops(ev)["not_in_prices"] == N_DAYS


def test_pool_codes_are_checked(market):
    pools = market.select("date", pl.col("asset").str.slice(0, 6), pool=pl.lit("p"))
    with pytest.raises(AssetCodeError, match="`pools`"):
        evaluate(market, ["factor"], pools=pools)


def test_duplicate_factor_rows_are_a_duplicate_key_error(market):
    dup = pl.concat([market, market.head(2)])
    with pytest.raises(DuplicateKeyError, match=r"table `factor` has 2 duplicate .*2020-01-02"):
        evaluate(dup.drop("open", "close"), ["factor"], prices=market)


def test_factor_dates_outside_the_prices_are_a_calendar_error(market):
    later = market.with_columns(pl.col("date") + pl.duration(days=400))
    with pytest.raises(CalendarError, match=r"table `factor`.*table `prices`"):
        evaluate(later.drop("open", "close"), ["factor"], prices=market)


# -- 8. prices and non-finite factors -------------------------------------------------------


@pytest.mark.parametrize("bad", [0.0, -10.0, float("inf")])
def test_bad_entry_price_is_a_value_range_error(market, bad):
    f = market.with_columns(
        pl.when(pl.int_range(pl.len()) == 45).then(bad).otherwise(pl.col("open")).alias("open")
    )
    with pytest.raises(
        ValueRangeError, match=r"table `prices`: column `open`.*'asset': '600005\.SH'"
    ):
        evaluate(f, ["factor"])


def test_forward_returns_refuse_non_positive_prices_on_the_grid(market):
    f = market.with_columns(
        pl.when(pl.int_range(pl.len()) == 3).then(0.0).otherwise(pl.col("close")).alias("close")
    )
    panel = DensePanel.from_frame(f, columns=["close"])
    with pytest.raises(ValueRangeError, match=r"column `close`.*600003\.SH"):
        forward_returns(panel, [1])


def test_one_inf_does_not_poison_its_date(market):
    day = market["date"].unique().sort()[3]
    cell = (pl.col("date") == day) & (pl.col("asset") == market["asset"][0])
    f = market.with_columns(
        pl.when(cell).then(float("inf")).otherwise(pl.col("factor")).alias("factor")
    )
    ev = evaluate(f, ["factor"], horizons=(1,))
    assert _drops(ev)["non_finite"] == 1 and _drops(ev)["factor_null"] == 0
    ic = ev.ic.filter(pl.col("date") == day).row(0, named=True)
    assert ic["ic"] is not None and ic["n"] == N_ASSETS - 1


# -- 10. input types ------------------------------------------------------------------------


def test_pandas_input_equals_polars(market):
    pools = market.select("date", "asset").with_columns(pool=pl.lit("p"))
    a = evaluate(market, ["factor"], horizons=H, pools=pools)
    b = evaluate(
        market.to_pandas(),
        ["factor"],
        horizons=H,
        prices=market.to_pandas(),
        pools=pools.to_pandas(),
    )
    assert a.summary.equals(b.summary)
    c = evaluate(market, ["factor"], horizons=H, pools={"p": pools.drop("pool").to_pandas()})
    assert c.summary.equals(a.summary)


@pytest.mark.parametrize("dtype", [pl.String, pl.Boolean])
def test_non_numeric_factor_is_a_dtype_error(market, dtype):
    f = market.with_columns(label=(pl.col("factor") > 0).cast(dtype))
    with pytest.raises(
        DtypeError, match=f"column `label` of table `factor` must be numeric; got {dtype}"
    ):
        evaluate(f, ["factor", "label"])


def test_duplicate_factor_names_are_a_parameter_error(market):
    with pytest.raises(ParameterError, match=r"`factors` names `factor` more than once"):
        evaluate(market, ["factor", "factor"])


def test_not_a_frame_is_a_parameter_error(market):
    with pytest.raises(ParameterError, match="`frame` must be a polars DataFrame"):
        evaluate(market.to_dicts(), ["factor"])


def test_duplicates_off_the_price_grid_and_in_pools_are_caught(market):
    ghost = market.head(2).with_columns(asset=pl.lit("999999.SZ"))  # not a price asset
    dup = pl.concat([market, ghost, ghost]).drop("open", "close")
    with pytest.raises(
        DuplicateKeyError, match=r"table `factor` has 1 duplicate .*3 surplus.*999999\.SZ"
    ):
        evaluate(dup, ["factor"], prices=market)
    members = market.select("date", "asset").with_columns(pool=pl.lit("p"))
    with pytest.raises(DuplicateKeyError, match=r"table `pools` has 1 duplicate .*600000\.SH"):
        evaluate(market, ["factor"], pools=pl.concat([members, members.head(1)]))
