"""User factors through the handbook protocol: a column of a frame, a Polars expression or a
registry entry give exactly the built-in row when they equal a built-in factor; the cache never
serves a changed user factor; bad user factors are clear errors."""

from __future__ import annotations

import math

import polars as pl
import pytest

from factorlab.errors import (
    AssetCodeError,
    DtypeError,
    DuplicateKeyError,
    MissingColumnError,
    ParameterError,
)
from factorlab.northbound.factors import northbound_factors
from factorlab.northbound.hygiene import research_panel
from factorlab.northbound.study import factor_study, factor_sweep
from factorlab.ops import Factor, FactorRegistry, compute_factors, ts_mean

KW = {"pools": ("csi300",), "start": "2021-01-01", "end": "2022-12-31"}
BUILTIN = "nb_hold_ratio_mean20"
METRICS = (
    "long_excess_ann",
    "long_excess_sharpe",
    "long_excess_mdd",
    "long_excess_ann_net",
    "long_short_ann",
    "long_short_sharpe_net",
    "coverage_pct",
    "rank_ic_mean_pct",
    "rank_ic_t",
    "turnover_pct",
    "periods",
)


@pytest.fixture(scope="module")
def values(small_market) -> pl.DataFrame:
    """The built-in factor's values on the research panel, as a user would compute them."""
    panel = research_panel(small_market, start=KW["start"], end=KW["end"]).frame
    factor = northbound_factors().get(BUILTIN)
    return (
        compute_factors(panel, [factor])
        .select("date", "asset", pl.col(BUILTIN).alias("mine"))
        .collect()
    )


@pytest.fixture(scope="module")
def builtin(small_market):
    return factor_study(small_market, factors=(BUILTIN, "nb_hold_ratio"), cache=False, **KW)


def _row(result, factor: str) -> dict:
    row = result.table.filter(pl.col("factor") == factor).row(0, named=True)
    del row["factor"]
    return row


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], float) and math.isnan(a[k]):
            assert isinstance(b[k], float) and math.isnan(b[k]), k
        else:
            assert a[k] == b[k], k


def test_a_user_column_equal_to_a_builtin_gives_the_builtin_row(small_market, values, builtin):
    res = factor_study(small_market, factors=[BUILTIN, {"mine": values}], cache=False, **KW)
    assert res.table["factor"].to_list() == [BUILTIN, "mine"]
    _same(_row(res, "mine"), _row(builtin, BUILTIN))
    assert _row(builtin, BUILTIN)["periods"] > 50  # a real test, not two empty rows
    daily = res.daily.filter(pl.col("factor") == "mine").drop("factor")
    assert daily.equals(builtin.daily.filter(pl.col("factor") == BUILTIN).drop("factor"))
    (user,) = res.params.user_factors
    assert user.kind == "column" and "column `mine` of a user frame" in user.definition
    used = res.notes.filter(pl.col("step") == "user factor `mine`: rows used")
    assert (
        used["rows"][0]
        == values.filter(pl.col("date").is_in(res.scores["date"].implode()))["mine"]
        .is_not_null()
        .sum()
    )
    # pandas in, and the (frame, column) pair: the same row
    pd_frame = values.rename({"mine": "x"}).to_pandas()
    res_pd = factor_study(small_market, factors=[(pd_frame, "x")], cache=False, **KW)
    _same(_row(res_pd, "x"), _row(builtin, BUILTIN))


def test_an_expression_and_a_registry_entry_equal_the_builtin(small_market, builtin):
    # the handbook's R has no value where S = 0 (coverage: not held is not covered)
    hr = pl.when(pl.col("shares") > 0).then(pl.col("hold_ratio"))
    registry = FactorRegistry([Factor("reg_hr", hr, "hold ratio again")])
    res = factor_study(
        small_market,
        factors=[hr.alias("expr_hr"), *registry, "nb_hold_ratio"],
        cache=False,
        **KW,
    )
    assert res.table["factor"].to_list() == ["expr_hr", "reg_hr", "nb_hold_ratio"]
    for name in ("expr_hr", "reg_hr"):
        _same(_row(res, name), _row(builtin, "nb_hold_ratio"))
    kinds = {u.name: (u.kind, u.definition) for u in res.params.user_factors}
    assert kinds["expr_hr"][0] == "expression" and 'col("hold_ratio")' in kinds["expr_hr"][1]
    assert kinds["reg_hr"][1].startswith("expression hold ratio again: ")


def test_an_expression_reads_price_columns_the_panel_lacks(small_market):
    mom = Factor("mom20", pl.col("adj_factor") * pl.col("close") / ts_mean("close", window=20))
    res = factor_study(small_market, factors=[mom], cache=False, **KW)
    row = _row(res, "mom20")
    assert row["coverage_pct"] > 90 and row["periods"] > 50
    assert math.isfinite(row["rank_ic_mean_pct"])


def test_a_changed_user_factor_is_never_served_from_cache(small_market, values, tmp_path):
    said: list[str] = []
    first = factor_study(
        small_market, factors={"mine": values}, cache=tmp_path, progress=said.append, **KW
    )
    again = factor_study(
        small_market, factors={"mine": values}, cache=tmp_path, progress=said.append, **KW
    )
    assert sum(m.startswith("cached study") for m in said) == 1
    assert again.table.equals(first.table)
    flipped = values.with_columns(mine=-pl.col("mine"))
    said.clear()
    changed = factor_study(
        small_market, factors={"mine": flipped}, cache=tmp_path, progress=said.append, **KW
    )
    assert not any(m.startswith("cached study") for m in said)
    assert _row(changed, "mine")["long_excess_ann"] != _row(first, "mine")["long_excess_ann"]
    # one value changed is a new key too
    one = values.with_columns(
        mine=pl.when(pl.int_range(pl.len()) == 1000).then(0.5).otherwise(pl.col("mine"))
    )
    said.clear()
    factor_study(small_market, factors={"mine": one}, cache=tmp_path, progress=said.append, **KW)
    assert not any(m.startswith("cached study") for m in said)
    # an expression: a changed expression is a new key
    said.clear()
    factor_study(
        small_market,
        factors=[pl.col("hold_ratio").alias("e")],
        cache=tmp_path,
        progress=said.append,
        **KW,
    )
    factor_study(
        small_market,
        factors=[(-pl.col("hold_ratio")).alias("e")],
        cache=tmp_path,
        progress=said.append,
        **KW,
    )
    assert not any(m.startswith("cached study") for m in said)


def test_the_sweep_takes_user_factors(small_market, values):
    table = factor_sweep(
        small_market,
        windows=(10, 20),
        tops=(0.2,),
        every=(1,),
        factors=["nb_hold_ratio_mean20", {"mine": values}],
        **KW,
    )
    mine = table.filter(pl.col("factor") == "mine")
    assert mine.height == 2  # the user factor does not depend on the handbook's window
    assert mine["long_excess_ann"][0] == mine["long_excess_ann"][1]
    hb = table.filter(pl.col("factor") == BUILTIN).sort("window")
    assert hb["long_excess_ann"][0] != hb["long_excess_ann"][1]
    # at window 20 the built-in and its copy agree
    assert hb["long_excess_ann"][1] == mine["long_excess_ann"][0]


def test_bad_user_factors_are_clear_errors(small_market, values):
    def run(factors):
        return factor_study(small_market, factors=factors, cache=False, **KW)

    with pytest.raises(DtypeError, match=r"column `mine` of table `user factor `mine`` must be"):
        run({"mine": values.with_columns(pl.col("mine").cast(pl.String))})
    with pytest.raises(DuplicateKeyError, match="duplicate"):
        run({"mine": pl.concat([values, values.head(3)])})
    with pytest.raises(AssetCodeError, match=r"0 of .* rows match"):
        run({"mine": values.with_columns(asset=pl.col("asset").str.slice(0, 6))})
    with pytest.raises(ParameterError, match=r"unknown factor\(s\) \['nb_magic'\].*your own"):
        run(["nb_magic"])
    with pytest.raises(ParameterError, match=r"has no name; give it one with \.alias"):
        run([pl.col("hold_ratio") * 2 + pl.col("shares")])
    with pytest.raises(ParameterError, match="name of a handbook factor"):
        run({"nb_hold_ratio": values})
    with pytest.raises(ParameterError, match="name of a column"):
        run([pl.col("hold_ratio").alias("close")])
    with pytest.raises(ParameterError, match="appears more than once"):
        run([{"mine": values}, pl.col("hold_ratio").alias("mine")])
    with pytest.raises(MissingColumnError, match=r"`nope`.*neither the research panel"):
        run([pl.col("nope").alias("bad")])
    with pytest.raises(ParameterError, match="value columns"):
        run([values.with_columns(other=pl.col("mine"))])
    with pytest.raises(ParameterError, match="no value on any signal date"):
        run({"late": values.with_columns(pl.col("date").dt.offset_by("10y"))})
    with pytest.raises(DtypeError, match="must be a Date"):
        run({"mine": values.with_columns(pl.col("date").cast(pl.String))})
    with pytest.raises(ParameterError, match="must be"):
        run([42])


def test_unknown_codes_are_counted_not_refused(small_market, values):
    extra = pl.DataFrame(
        {"date": values["date"][:5], "asset": ["999999.SH"] * 5, "mine": [1.0] * 5}
    ).with_columns(pl.col("date") + pl.duration(days=0))
    padded = pl.concat([values, extra.unique(subset=["date", "asset"])])
    res = factor_study(small_market, factors={"mine": padded}, cache=False, **KW)
    note = res.notes.filter(pl.col("step").str.contains("codes not in the market"))
    assert note["rows"].to_list() == [padded.height - values.height]
    assert "999999.SH" in note["detail"][0]
