"""Tests of factorlab.codes: every accepted spelling, integer input, expressions, rejected codes,
and properties (idempotent, scalar equals vectorized, canonical output)."""

from __future__ import annotations

import re

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factorlab.codes import normalize_asset_code, normalize_asset_codes
from factorlab.errors import AssetCodeError

MAPPINGS = [
    ("600519.XSHG", "600519.SH"),
    ("sh600519", "600519.SH"),
    ("SH600519", "600519.SH"),
    ("sh.600519", "600519.SH"),
    ("600519.SH", "600519.SH"),
    ("600519.sh", "600519.SH"),
    ("600519.SS", "600519.SH"),
    ("600519", "600519.SH"),
    (" 600519 ", "600519.SH"),
    ("688981", "688981.SH"),
    ("900901", "900901.SH"),
    ("000001.XSHE", "000001.SZ"),
    ("sz000001", "000001.SZ"),
    ("SZ.000001", "000001.SZ"),
    ("000001", "000001.SZ"),
    ("000001.SZ", "000001.SZ"),
    ("300750", "300750.SZ"),
    ("200002", "200002.SZ"),
    # an explicit exchange is trusted as given, never re-inferred from the digits
    ("000001.SH", "000001.SH"),  # SSE Composite index, not Ping An Bank
    ("sh000300", "000300.SH"),
    ("399001.SZ", "399001.SZ"),
]

BAD = [
    ("830799", "Beijing"),
    ("430047", "Beijing"),
    ("920001", "Beijing"),
    ("bj830799", "Beijing"),
    ("830799.BJ", "Beijing"),
    ("123456", "starting with '12'"),
    ("510300", "starting with '51'"),
    ("60051", "not a 6-digit code"),
    ("6005190", "not a 6-digit code"),
    ("1", "not a 6-digit code"),
    ("abc", "not a 6-digit code"),
    ("", "not a 6-digit code"),
    ("600519.HK", "not a 6-digit code"),
    ("SH600519.SH", "both an exchange prefix and an exchange suffix"),
]


@pytest.mark.parametrize(("raw", "expected"), MAPPINGS)
def test_scalar_mapping(raw, expected):
    assert normalize_asset_code(raw) == expected


def test_series_mapping_keeps_name():
    raw = pl.Series("code", [r for r, _ in MAPPINGS])
    out = normalize_asset_codes(raw)
    assert out.name == "code"
    assert out.dtype == pl.String
    assert out.to_list() == [e for _, e in MAPPINGS]


@pytest.mark.parametrize("dtype", [pl.Int64, pl.Int32, pl.UInt32])
def test_integer_series_is_zero_padded(dtype):
    raw = pl.Series("code", [600519, 1, 300750, 688981, 2], dtype=dtype)
    assert normalize_asset_codes(raw).to_list() == [
        "600519.SH",
        "000001.SZ",
        "300750.SZ",
        "688981.SH",
        "000002.SZ",
    ]


def test_integer_scalar_is_zero_padded():
    assert normalize_asset_code(1) == "000001.SZ"
    assert normalize_asset_code(600519) == "600519.SH"


@pytest.mark.parametrize("bad", [-1, 1_000_000, 10**30])
def test_integer_out_of_range(bad):
    with pytest.raises(AssetCodeError, match="not a 6-digit code"):
        normalize_asset_code(bad)


def test_categorical_series():
    raw = pl.Series("asset", ["sh600519", "sz000001"], dtype=pl.Categorical)
    assert normalize_asset_codes(raw).to_list() == ["600519.SH", "000001.SZ"]


def test_nulls_stay_null():
    raw = pl.Series("asset", [None, "600519", None])
    assert normalize_asset_codes(raw).to_list() == [None, "600519.SH", None]


def test_expression_on_lazy_frame():
    lf = pl.LazyFrame({"code": ["600519.XSHG", "sz000001", None], "n": [1, 600519, 300750]})
    out = lf.with_columns(
        normalize_asset_codes("code"), normalize_asset_codes(pl.col("n")).alias("m")
    ).collect()
    assert out["code"].to_list() == ["600519.SH", "000001.SZ", None]
    assert out["m"].to_list() == ["000001.SZ", "600519.SH", "300750.SZ"]
    assert out.schema["code"] == pl.String


def test_expression_strict_raises_at_collect():
    lf = pl.LazyFrame({"code": ["600519", "830799"]})
    expr = normalize_asset_codes("code")  # building the expression does not raise
    with pytest.raises(AssetCodeError, match=r"column `code`.*'830799' \(Beijing"):
        lf.select(expr).collect()
    out = lf.select(normalize_asset_codes("code", strict=False)).collect()
    assert out["code"].to_list() == ["600519.SH", None]


@pytest.mark.parametrize(("raw", "reason"), BAD)
def test_unrecognised_scalar_names_code_and_reason(raw, reason):
    with pytest.raises(AssetCodeError) as err:
        normalize_asset_code(raw)
    message = str(err.value)
    assert repr(raw) in message
    assert reason in message
    assert "600519.SH" in message  # states the expected form


def test_unrecognised_series_names_up_to_five_and_counts():
    bad = [raw for raw, _ in BAD]
    raw = pl.Series("asset", ["600519", *bad, bad[0]])
    with pytest.raises(AssetCodeError, match=rf"holds {len(bad) + 1} unrecognised") as err:
        normalize_asset_codes(raw)
    message = str(err.value)
    assert f"({len(bad)} distinct)" in message
    assert "`codes` (Series 'asset')" in message
    shown = [b for b in bad if f"{b!r} (" in message]
    assert shown == bad[:5]
    assert "strict=False" in message


def test_non_strict_maps_unrecognised_to_null():
    raw = pl.Series("asset", ["600519", "830799", "abc"])
    assert normalize_asset_codes(raw, strict=False).to_list() == ["600519.SH", None, None]


@pytest.mark.parametrize("bad", [1.5, True, None, b"600519"])
def test_scalar_of_wrong_type(bad):
    with pytest.raises(AssetCodeError, match="must be a str or an int"):
        normalize_asset_code(bad)


def test_series_of_wrong_dtype():
    with pytest.raises(AssetCodeError, match=r"strings or integers; got dtype Float64"):
        normalize_asset_codes(pl.Series("asset", [600519.0]))


# ------------------------------------------------------------------------------------------------
# properties

CANONICAL = re.compile(r"^[0-9]{6}\.(SH|SZ)$")

digits = st.builds(
    lambda head, rest: f"{head}{rest:04d}",
    st.sampled_from(["60", "68", "90", "00", "30", "20"]),
    st.integers(0, 9999),
)


@st.composite
def spellings(draw) -> str:
    """A recognisable code in any accepted spelling, random case and padding."""
    code = draw(digits)
    exchange = draw(st.sampled_from(["SH", "SZ"]))
    form = draw(st.sampled_from(["bare", "suffix", "xsuffix", "prefix", "dotprefix"]))
    text = {
        "bare": code,
        "suffix": f"{code}.{exchange}",
        "xsuffix": f"{code}.{'XSHG' if exchange == 'SH' else 'XSHE'}",
        "prefix": f"{exchange}{code}",
        "dotprefix": f"{exchange}.{code}",
    }[form]
    text = "".join(c.lower() if draw(st.booleans()) else c for c in text)
    return draw(st.sampled_from(["", " "])) + text + draw(st.sampled_from(["", "  "]))


@settings(max_examples=200, deadline=None)
@given(raw=spellings())
def test_round_trip_is_idempotent_and_canonical(raw):
    once = normalize_asset_code(raw)
    assert CANONICAL.match(once)
    assert normalize_asset_code(once) == once
    assert once[:6] == re.search(r"[0-9]{6}", raw).group()


@settings(max_examples=200, deadline=None)
@given(raw=st.one_of(spellings(), st.text(max_size=12)))
def test_any_text_either_raises_or_is_idempotent(raw):
    try:
        once = normalize_asset_code(raw)
    except AssetCodeError:
        return
    assert CANONICAL.match(once)
    assert normalize_asset_code(once) == once


@settings(max_examples=50, deadline=None)
@given(raws=st.lists(st.one_of(spellings(), st.none()), max_size=20))
def test_vectorized_equals_scalar(raws):
    out = normalize_asset_codes(pl.Series("asset", raws, dtype=pl.String)).to_list()
    assert out == [None if r is None else normalize_asset_code(r) for r in raws]
    assert normalize_asset_codes(pl.Series("asset", out, dtype=pl.String)).to_list() == out


@settings(max_examples=50, deadline=None)
@given(n=st.integers(0, 999_999))
def test_integer_equals_zero_padded_string(n):
    text = f"{n:06d}"
    try:
        expected = normalize_asset_code(text)
    except AssetCodeError:
        with pytest.raises(AssetCodeError):
            normalize_asset_code(n)
        return
    assert normalize_asset_code(n) == expected
    assert normalize_asset_codes(pl.Series([n])).item() == expected
