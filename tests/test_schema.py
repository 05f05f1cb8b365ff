"""Tests of factorlab.schema: validate() on every table and every bad-input class, conform(),
table_schema(); property tests that valid frames pass and one corrupted cell fails."""

from __future__ import annotations

import datetime as dt
import math
import re

import polars as pl
import pytest
from _frames import valid_frame
from hypothesis import given, settings
from hypothesis import strategies as st

from factorlab.calendar import sessions
from factorlab.errors import (
    CalendarError,
    DtypeError,
    DuplicateKeyError,
    EmptyTableError,
    MissingColumnError,
    NullKeyError,
    ParameterError,
    SchemaError,
    ValueRangeError,
)
from factorlab.schema import TABLES, conform, table_schema, validate, validate_market_tables

NAMES = sorted(TABLES)


@pytest.fixture(params=["eager", "lazy"])
def as_kind(request):
    """Hand a DataFrame to validate() as is, or as a LazyFrame."""
    return (lambda f: f) if request.param == "eager" else (lambda f: f.lazy())


def set_cell(frame: pl.DataFrame, row: int, column: str, value: object) -> pl.DataFrame:
    """`frame` with one cell replaced (dtype kept)."""
    dtype = frame.schema[column]
    new = pl.when(pl.int_range(pl.len()) == row).then(pl.lit(value, dtype=dtype))
    return frame.with_columns(new.otherwise(pl.col(column)).alias(column))


def assert_names(err: pytest.ExceptionInfo[SchemaError], table: str, column: str) -> None:
    """The message names the table and the column in backticks; the attributes agree."""
    message = str(err.value)
    assert f"`{table}`" in message
    assert f"`{column}`" in message
    assert err.value.table == table
    assert column in (err.value.column or "")


# ------------------------------------------------------------------------------------------------
# valid frames


@pytest.mark.parametrize("name", NAMES)
def test_valid_frame_passes(name, as_kind):
    frame = as_kind(valid_frame(name))
    assert validate(name, frame) is frame


@pytest.mark.parametrize("name", NAMES)
def test_table_schema_is_spec_in_order(name):
    schema = table_schema(name)
    assert isinstance(schema, pl.Schema)
    assert list(schema.items()) == list(TABLES[name].columns.items())
    assert valid_frame(name).schema == schema


def test_extra_columns_and_any_column_order_are_allowed(as_kind):
    frame = (
        valid_frame("prices").with_columns(note=pl.lit("x")).reverse().select(pl.all().reverse())
    )
    validate("prices", as_kind(frame))


@pytest.mark.parametrize("name", ["short_sellable", "assets", "participants"])
def test_nulls_allowed_in_nullable_columns(name):
    spec = TABLES[name]
    frame = valid_frame(name)
    assert any(frame[c].null_count() for c in spec.nullable)
    validate(name, frame)


def test_validate_on_scanned_parquet(tmp_path):
    path = tmp_path / "prices.parquet"
    valid_frame("prices").write_parquet(path)
    validate("prices", pl.scan_parquet(path))
    set_cell(valid_frame("prices"), 2, "volume", -1.0).write_parquet(path)
    with pytest.raises(ValueRangeError, match="`volume`"):
        validate("prices", pl.scan_parquet(path))


def test_validate_market_tables():
    validate_market_tables({name: valid_frame(name) for name in NAMES})
    with pytest.raises(DuplicateKeyError, match="`fx`"):
        validate_market_tables(
            {"prices": valid_frame("prices"), "fx": pl.concat([valid_frame("fx")] * 2)}
        )


# ------------------------------------------------------------------------------------------------
# bad input: one test per class


def test_unknown_table_lists_known_ones():
    with pytest.raises(ParameterError, match=r"got 'price'.*Did you mean 'prices'") as err:
        validate("price", valid_frame("prices"))
    assert all(name in str(err.value) for name in NAMES)


def test_not_a_polars_frame():
    with pytest.raises(ParameterError, match="DataFrame or LazyFrame; got dict"):
        validate("fx", {"date": [], "usdcny": []})


def test_missing_columns_are_all_named(as_kind):
    frame = valid_frame("prices").drop("close", "volume")
    with pytest.raises(MissingColumnError, match=r"`close`, `volume`") as err:
        validate("prices", as_kind(frame))
    assert_names(err, "prices", "close")


def test_missing_column_suggests_rename_of_near_miss():
    frame = valid_frame("prices").rename({"close": "Close"})
    with pytest.raises(MissingColumnError, match="Rename `Close` to `close`"):
        validate("prices", frame)


@pytest.mark.parametrize(
    ("table", "column", "bad", "fix"),
    [
        ("prices", "date", pl.col("date").cast(pl.String), r"pl.col('date').str.to_date()"),
        ("prices", "date", pl.col("date").cast(pl.Datetime), r"pl.col('date').dt.date()"),
        (
            "prices",
            "close",
            pl.col("close").round().cast(pl.Int64),
            r"pl.col('close').cast(pl.Float64)",
        ),
        (
            "prices",
            "volume",
            pl.col("volume").cast(pl.Float32),
            r"pl.col('volume').cast(pl.Float64)",
        ),
        (
            "northbound",
            "shares",
            pl.col("shares").cast(pl.Float64),
            r"values are whole: cast with pl.col('shares').cast(pl.Int64)",
        ),
        (
            "northbound",
            "shares",
            pl.col("shares").cast(pl.Float64) + 0.5,
            r"pl.col('shares').round().cast(pl.Int64)",
        ),
        (
            "northbound",
            "shares",
            pl.col("shares").cast(pl.Int32),
            r"pl.col('shares').cast(pl.Int64)",
        ),
        ("prices", "asset", pl.col("asset").cast(pl.Categorical), r"pl.col('asset')"),
        ("prices", "is_st", pl.col("is_st").cast(pl.Int8), r"pl.col('is_st').cast(pl.Boolean)"),
    ],
)
def test_wrong_dtype_names_expected_received_and_cast(table, column, bad, fix, as_kind):
    frame = valid_frame(table).with_columns(bad)
    received = frame.schema[column]
    with pytest.raises(DtypeError, match=re.escape(fix)) as err:
        validate(table, as_kind(frame))
    assert_names(err, table, column)
    message = str(err.value)
    assert f"must be {TABLES[table].columns[column]}; got {received}" in message
    assert err.value.examples  # rows as received
    assert str(err.value.examples[0][column]) in message


def test_integer_asset_codes_point_to_normalize_asset_codes():
    frame = valid_frame("prices").with_columns(pl.col("asset").str.slice(0, 6).cast(pl.Int64))
    with pytest.raises(DtypeError, match=r"normalize_asset_codes\(pl.col\('asset'\)\)"):
        validate("prices", frame)


def test_all_dtype_mismatches_are_reported_at_once():
    frame = valid_frame("prices").with_columns(
        pl.col("date").cast(pl.String), pl.col("close").cast(pl.Float32)
    )
    with pytest.raises(DtypeError) as err:
        validate("prices", frame)
    assert "`date`" in str(err.value)
    assert "`close`" in str(err.value)
    assert err.value.column == "date"


def test_empty_table(as_kind):
    with pytest.raises(EmptyTableError, match="has no rows") as err:
        validate("prices", as_kind(valid_frame("prices").clear()))
    assert "`prices`" in str(err.value)


@pytest.mark.parametrize("name", [n for n in NAMES if TABLES[n].allow_empty])
def test_empty_table_allowed(name, as_kind):
    validate(name, as_kind(valid_frame(name).clear()))


def test_null_key(as_kind):
    frame = set_cell(valid_frame("prices"), 5, "asset", None)
    with pytest.raises(NullKeyError, match="key column and must not hold nulls") as err:
        validate("prices", as_kind(frame))
    assert_names(err, "prices", "asset")
    assert err.value.examples[0]["row"] == 5
    assert "'row': 5" in str(err.value)
    assert str(frame["date"][5]) in str(err.value)


def test_null_in_non_nullable_column_is_a_value_range_error(as_kind):
    frame = set_cell(valid_frame("prices"), 3, "close", None)
    with pytest.raises(ValueRangeError, match="must not hold nulls") as err:
        validate("prices", as_kind(frame))
    assert_names(err, "prices", "close")
    assert "'row': 3" in str(err.value)


def test_duplicate_keys(as_kind):
    base = valid_frame("prices")
    frame = pl.concat([base, base.slice(1, 2)])
    with pytest.raises(DuplicateKeyError, match=r"2 duplicate .*deduplicate") as err:
        validate("prices", as_kind(frame))
    assert_names(err, "prices", "asset")
    assert "`date`" in str(err.value)
    date, asset = base.row(1)[:2]
    assert f"({date}, {asset})" in str(err.value)
    assert err.value.examples[0] == {"date": date.isoformat(), "asset": asset, "rows": 2}


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_price(bad, as_kind):
    frame = set_cell(valid_frame("prices"), 7, "close", bad)
    with pytest.raises(ValueRangeError, match=r"must be finite and > 0") as err:
        validate("prices", as_kind(frame))
    assert_names(err, "prices", "close")
    assert f"e.g. {bad}" in str(err.value)
    assert "'row': 7" in str(err.value)


@pytest.mark.parametrize("bad", [0.0, -1.5])
def test_non_positive_price(bad, as_kind):
    frame = set_cell(valid_frame("indices"), 1, "close", bad)
    with pytest.raises(ValueRangeError, match=rf"got 1 offending value\(s\), e.g. {bad}") as err:
        validate("indices", as_kind(frame))
    assert_names(err, "indices", "close")
    assert "'row': 1" in str(err.value)


@pytest.mark.parametrize(
    ("table", "column", "bad"),
    [
        ("prices", "volume", -100.0),
        ("prices", "float_shares", math.nan),
        ("northbound", "shares", -1),
        ("short_sellable", "quantity", -5),
    ],
)
def test_negative_or_non_finite_quantities(table, column, bad, as_kind):
    frame = set_cell(valid_frame(table), 3, column, bad)
    with pytest.raises(ValueRangeError, match=r"must be finite and >= 0") as err:
        validate(table, as_kind(frame))
    assert_names(err, table, column)
    assert f"'{column}': {bad}" in str(err.value)


@pytest.mark.parametrize("bad", [1.2, -0.01, math.nan])
def test_ratio_outside_unit_interval(bad, as_kind):
    frame = set_cell(valid_frame("northbound"), 2, "ratio", bad)
    with pytest.raises(ValueRangeError, match=r"within \[0, 1\]") as err:
        validate("northbound", as_kind(frame))
    assert_names(err, "northbound", "ratio")
    assert f"'ratio': {bad}" in str(err.value)


@pytest.mark.parametrize(
    "day",
    [dt.date(2020, 1, 24), dt.date(2020, 1, 4)],  # Lunar New Year's Eve (closed); a Saturday
)
def test_date_not_a_trading_day(day, as_kind):
    frame = set_cell(valid_frame("prices"), 4, "date", day)
    with pytest.raises(CalendarError, match=f"ashare trading days.*e.g. {day}") as err:
        validate("prices", as_kind(frame))
    assert_names(err, "prices", "date")
    assert f"'date': '{day}'" in str(err.value)
    assert "check_calendar=False" in str(err.value)
    validate("prices", as_kind(frame), check_calendar=False)


def test_date_outside_calendar_coverage_is_not_a_trading_day():
    frame = set_cell(valid_frame("fx"), 0, "date", dt.date(2031, 3, 3))
    with pytest.raises(CalendarError, match="outside the calendar's covered range"):
        validate("fx", frame)


def test_calendar_is_the_tables_own():
    # 2020-04-09: an A-share session, but not a northbound one (the next day is Good Friday)
    day = dt.date(2020, 4, 9)
    assert day in sessions("ashare", day, day).to_list()
    quotas = pl.DataFrame(
        {
            "date": [day],
            "link": ["SH"],
            "quota_daily": [5.2e10],
            "quota_balance": [5.0e10],
            "buy_amount": [1e9],
            "sell_amount": [1e9],
        }
    )
    with pytest.raises(CalendarError, match="northbound trading days"):
        validate("quotas", quotas)
    validate("fx", pl.DataFrame({"date": [day], "usdcny": [7.0]}))


def test_ex_date_is_the_date_column_of_corporate_actions():
    frame = set_cell(valid_frame("corporate_actions"), 0, "ex_date", dt.date(2020, 1, 4))
    with pytest.raises(CalendarError) as err:
        validate("corporate_actions", frame)
    assert_names(err, "corporate_actions", "ex_date")


def test_examples_are_capped_at_five():
    frame = valid_frame("prices").with_columns(volume=-pl.col("volume") - 1)
    with pytest.raises(ValueRangeError, match=f"got {frame.height} offending") as err:
        validate("prices", frame)
    assert len(err.value.examples) == 5


# ------------------------------------------------------------------------------------------------
# order of checks


def test_missing_column_before_dtype():
    frame = valid_frame("prices").drop("close").with_columns(pl.col("date").cast(pl.String))
    with pytest.raises(MissingColumnError):
        validate("prices", frame)


def test_dtype_before_empty():
    frame = valid_frame("prices").clear().with_columns(pl.col("date").cast(pl.String))
    with pytest.raises(DtypeError):
        validate("prices", frame)


def test_null_key_before_duplicates_before_range_before_calendar():
    base = valid_frame("prices")
    frame = set_cell(base, 0, "volume", -1.0)
    frame = set_cell(frame, 1, "date", dt.date(2020, 1, 4))
    with pytest.raises(ValueRangeError):
        validate("prices", frame)
    frame = pl.concat([frame, frame.slice(5, 1)])
    with pytest.raises(DuplicateKeyError):
        validate("prices", frame)
    frame = set_cell(frame, 6, "asset", None)
    with pytest.raises(NullKeyError):
        validate("prices", frame)


# ------------------------------------------------------------------------------------------------
# every rule of every table


def _rules() -> list[tuple[str, str, str]]:
    out = []
    for name, spec in TABLES.items():
        out += [(name, c, "price") for c in spec.prices]
        out += [(name, c, "nonnegative") for c in spec.nonnegative]
        out += [(name, c, "ratio") for c in spec.ratios]
        out += [
            (name, c, "null") for c in spec.columns if c not in spec.key and c not in spec.nullable
        ]
        out += [(name, c, "null_key") for c in spec.key]
    return out


@pytest.mark.parametrize(("name", "column", "rule"), _rules())
def test_every_rule_of_every_table(name, column, rule):
    bad = {"price": 0.0, "nonnegative": -1.0, "ratio": 2.0, "null": None, "null_key": None}[rule]
    frame = valid_frame(name)
    if bad is not None and frame.schema[column] == pl.Int64:
        bad = int(bad)
    frame = set_cell(frame, 1, column, bad)
    error = NullKeyError if rule == "null_key" else ValueRangeError
    with pytest.raises(error) as err:
        validate(name, frame)
    assert_names(err, name, column)


@pytest.mark.parametrize("name", NAMES)
def test_duplicates_in_every_table(name):
    frame = valid_frame(name)
    with pytest.raises(DuplicateKeyError, match="deduplicate") as err:
        validate(name, pl.concat([frame, frame.tail(1)]).lazy())
    assert err.value.table == name
    assert err.value.column == ", ".join(TABLES[name].key)


@pytest.mark.parametrize("name", [n for n in NAMES if TABLES[n].calendar])
def test_calendar_in_every_table(name):
    spec = TABLES[name]
    frame = set_cell(valid_frame(name), 0, spec.date_column, dt.date(2020, 1, 5))  # a Sunday
    with pytest.raises(CalendarError):
        validate(name, frame)
    validate(name, frame, check_calendar=False)


# ------------------------------------------------------------------------------------------------
# conform


def test_conform_selects_in_order_and_casts_safely():
    raw = (
        valid_frame("northbound")
        .with_columns(
            pl.col("shares").cast(pl.Int32),
            pl.col("asset").cast(pl.Categorical),
            note=pl.lit("dropped"),
        )
        .select("note", "ratio", "shares", "asset", "date")
    )
    out = conform("northbound", raw)
    assert isinstance(out, pl.DataFrame)
    assert out.schema == table_schema("northbound")
    assert out.equals(valid_frame("northbound"))
    validate("northbound", out)


def test_conform_casts_integers_to_float_and_null_columns():
    raw = valid_frame("assets").with_columns(pl.lit(None).alias("delist_date"))
    assert conform("assets", raw).schema == table_schema("assets")
    raw = valid_frame("fx").with_columns(pl.col("usdcny").round().cast(pl.Int64))
    out = conform("fx", raw.lazy())
    assert isinstance(out, pl.LazyFrame)
    assert out.collect_schema() == table_schema("fx")


def test_conform_leaves_unsafe_casts_to_validate():
    raw = valid_frame("northbound").with_columns(
        pl.col("date").cast(pl.String), pl.col("shares").cast(pl.Float64)
    )
    out = conform("northbound", raw)
    assert out.schema["date"] == pl.String
    assert out.schema["shares"] == pl.Float64
    with pytest.raises(DtypeError):
        validate("northbound", out)


def test_conform_missing_column():
    with pytest.raises(MissingColumnError, match="`usdcny`"):
        conform("fx", valid_frame("fx").drop("usdcny"))


# ------------------------------------------------------------------------------------------------
# property tests: random valid price frames pass; one corrupted cell fails with the right error

SESSIONS = sessions("ashare", "2014-01-01", "2026-12-31").to_list()
NON_SESSIONS = sorted(
    set(pl.date_range(dt.date(2014, 1, 1), dt.date(2026, 12, 31), eager=True).to_list())
    - set(SESSIONS)
)
PRICES = ("open", "high", "low", "close", "adj_factor")
QUANTITIES = ("volume", "amount", "float_shares", "total_shares")

codes = st.builds(
    lambda head, rest: f"{head}{rest:04d}.{'SH' if head in ('60', '68') else 'SZ'}",
    st.sampled_from(["60", "68", "00", "30"]),
    st.integers(0, 9999),
)
positive = st.floats(min_value=1e-4, max_value=1e6, allow_nan=False, allow_infinity=False)
nonnegative = st.floats(min_value=0.0, max_value=1e12, allow_nan=False, allow_infinity=False)


@st.composite
def price_frames(draw) -> pl.DataFrame:
    keys = draw(
        st.lists(st.tuples(st.sampled_from(SESSIONS), codes), min_size=1, max_size=15, unique=True)
    )
    n = len(keys)
    columns = {
        "date": [d for d, _ in keys],
        "asset": [a for _, a in keys],
        **{c: draw(st.lists(positive, min_size=n, max_size=n)) for c in PRICES},
        **{c: draw(st.lists(nonnegative, min_size=n, max_size=n)) for c in QUANTITIES},
        "is_st": draw(st.lists(st.booleans(), min_size=n, max_size=n)),
    }
    frame = pl.DataFrame(columns, schema=table_schema("prices")).with_columns(
        low=pl.min_horizontal("low", "high"), high=pl.max_horizontal("low", "high")
    )
    return frame.select(draw(st.permutations(frame.columns)))  # column order does not matter


@settings(max_examples=60, deadline=None)
@given(frame=price_frames(), lazy=st.booleans())
def test_random_valid_prices_pass(frame, lazy):
    validate("prices", frame.lazy() if lazy else frame)


def _corrupt(frame: pl.DataFrame, kind: str, row: int, data) -> pl.DataFrame:
    if kind == "null_key":
        return set_cell(frame, row, data.draw(st.sampled_from(["date", "asset"])), None)
    if kind == "duplicate":
        return pl.concat([frame, frame.slice(row, 1)]).sample(
            fraction=1.0, shuffle=True, seed=data.draw(st.integers(0, 2**16))
        )
    if kind == "negative_quantity":
        value = -data.draw(st.floats(min_value=1e-6, max_value=1e9))
        return set_cell(frame, row, data.draw(st.sampled_from(QUANTITIES)), value)
    if kind == "bad_price":
        value = data.draw(st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -1.0]))
        return set_cell(frame, row, data.draw(st.sampled_from(PRICES)), value)
    if kind == "non_session":
        return set_cell(frame, row, "date", data.draw(st.sampled_from(NON_SESSIONS)))
    raise AssertionError(kind)


EXPECTED = {
    "null_key": NullKeyError,
    "duplicate": DuplicateKeyError,
    "negative_quantity": ValueRangeError,
    "bad_price": ValueRangeError,
    "non_session": CalendarError,
}


@settings(max_examples=80, deadline=None)
@given(
    frame=price_frames(), kind=st.sampled_from(sorted(EXPECTED)), lazy=st.booleans(), data=st.data()
)
def test_one_corrupted_cell_fails_with_matching_error(frame, kind, lazy, data):
    row = data.draw(st.integers(0, frame.height - 1))
    bad = _corrupt(frame, kind, row, data)
    with pytest.raises(EXPECTED[kind]) as err:
        validate("prices", bad.lazy() if lazy else bad)
    assert err.value.table == "prices"
    assert 1 <= len(err.value.examples) <= 5


def test_extra_column_named_row_does_not_clash():
    frame = set_cell(valid_frame("fx"), 1, "usdcny", -1.0).with_columns(row=pl.lit("x"))
    with pytest.raises(ValueRangeError) as err:
        validate("fx", frame)
    assert err.value.examples[0]["row"] == 1


@pytest.mark.parametrize("table", ["prices", "etf_prices"])
def test_high_below_low_is_a_value_error_with_example_rows(table):
    frame = valid_frame(table)
    key = "asset" if table == "prices" else "etf"
    bad = frame.with_columns(
        high=pl.when(pl.int_range(pl.len()) == 2).then(pl.col("low") - 1).otherwise("high")
    )
    with pytest.raises(ValueRangeError, match=r"`high` must be >= `low`.*got 1 row") as info:
        validate(table, bad)
    (row,) = info.value.examples
    assert row["row"] == 2 and row[key] == frame[key][2] and row["high"] == frame["low"][2] - 1
    assert info.value.table == table and info.value.column == "high"
    validate(table, frame.with_columns(high=pl.col("low")))  # high == low is a valid bar
    # float_shares = 0 stays valid (nonnegative)
    if table == "prices":
        validate(table, frame.with_columns(float_shares=pl.lit(0.0)))
