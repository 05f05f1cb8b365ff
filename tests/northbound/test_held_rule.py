"""When a dynamic northbound factor has a value (`held=`): on a hand-made entry / sell-out
sequence, every dynamic factor (#9 included) reads exactly its span of rows (review of issue
12's fixes: the old rule looked at W rows for factors that read W + 1, and skipped #9)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from factorlab.errors import ParameterError
from factorlab.northbound.factors import NORTHBOUND_FACTORS, SPLIT_VARIANTS, northbound_factors
from factorlab.ops import compute_factors

W, WS, K = 3, 2, 2
# one stock: not held on rows 0-1, enters on row 2, sells out on row 6, not held after
S = np.array([0.0, 0.0, 100.0, 110.0, 125.0, 135.0, 0.0, 0.0, 0.0, 0.0])
N = len(S)
HELD = S > 0
DS = np.r_[np.nan, np.diff(S)]
VWAP, F = 10.0, 1000.0
# the span of rows each dynamic factor reads, ending at t (module docstring of factors.py)
SPAN = {name: W + 1 for name in (*NORTHBOUND_FACTORS[4:], *SPLIT_VARIANTS)}
SPAN["nb_hold_ratio_dev20"] = W  # R - mean_W(R)
SPAN["nb_short_inflow"] = max(W, WS + 1)  # mean_w(dS) / mean_W(S)


def _panel() -> pl.DataFrame:
    rng = np.random.default_rng(0)  # varied volume and returns: #12 / #13 rank something
    flow = DS * VWAP
    return pl.DataFrame(
        {
            "date": [dt.date(2020, 1, 2) + dt.timedelta(days=i) for i in range(N)],
            "asset": ["A"] * N,
            "shares": S,
            "close": [10.0] * N,
            "vwap": [VWAP] * N,
            "float_shares": [F] * N,
            "amount": rng.uniform(400, 600, N),
            "volume": rng.uniform(40, 60, N),
            "ret": np.r_[np.nan, rng.normal(0, 0.01, N - 1)],
            "hold_value": S * 10.0,
            "hold_ratio": S / F,
            "d_shares": DS,
            "share_basis": [1.0] * N,
            "flow": flow,
            "flow_trading": 0.6 * flow,
            "flow_allocation": 0.4 * flow,
        }
    ).with_columns(pl.col(pl.Float64).fill_nan(None))


def _factors(held: str) -> pl.DataFrame:
    reg = northbound_factors(window=W, short_window=WS, top_k=K, held=held)
    return compute_factors(_panel(), reg).sort("date").collect()


def _mask(span: int, rule: str) -> np.ndarray:
    """Rows t whose span t-span+1..t is full and held on every row / on some row."""
    out = np.zeros(N, dtype=bool)
    for t in range(span - 1, N):
        rows = HELD[t - span + 1 : t + 1]
        out[t] = rows.all() if rule == "window" else rows.any()
    return out


@pytest.mark.parametrize("rule", ["window", "any"])
def test_every_dynamic_factor_has_a_value_only_on_its_held_span(rule):
    out = _factors(rule)
    for name, span in SPAN.items():
        allowed = _mask(span, rule)
        have = out[name].is_not_null().to_numpy()
        assert not (have & ~allowed).any(), (name, have, allowed)
    # #9 (mean / std of q) is wrapped too: before, it had values on rows 6-8 after the
    # sell-out under any rule
    assert out["nb_std_inflow_ratio"].is_not_null().sum() == (1 if rule == "window" else 6)


def test_the_values_by_hand():
    # #10 = sum over 3 rows of Flow (dS * 10); #7 = R_t - R_(t-3); #6 = R - mean_3(R)
    flow = DS * VWAP
    sum3 = [np.nan] * 3 + [flow[t - 2 : t + 1].sum() for t in range(3, N)]
    window, anyh = _factors("window"), _factors("any")
    # "window": held on rows t-3..t -> t = 5 only (rows 2..5)
    assert window["nb_trade_amount20"].to_list() == [None] * 5 + [350.0] + [None] * 4
    # "any": t = 3..8 (rows 6..9 hold nothing: t = 9 is null); the sell-out's -1,350 outflow
    # on t = 6..8 is kept (the old W-row rule dropped t = 8, whose dS reads S_5 = 135)
    want = [None] * 3 + [sum3[t] for t in range(3, 9)] + [None]
    assert anyh["nb_trade_amount20"].to_list() == pytest.approx(want)
    assert want[3:9] == pytest.approx([1100.0, 1250.0, 350.0, -1100.0, -1250.0, -1350.0])
    r = S / F
    assert window["nb_hold_ratio_chg20"].to_list() == pytest.approx(
        [None] * 5 + [r[5] - r[2]] + [None] * 4
    )
    assert anyh["nb_hold_ratio_chg20"].to_list() == pytest.approx(
        [None] * 3 + [r[t] - r[t - 3] for t in range(3, 9)] + [None]
    )
    dev = [np.nan] * 2 + [r[t] - r[t - 2 : t + 1].mean() for t in range(2, N)]
    assert window["nb_hold_ratio_dev20"].to_list() == pytest.approx(
        [None] * 4 + dev[4:6] + [None] * 4
    )
    assert anyh["nb_hold_ratio_dev20"].to_list() == pytest.approx(
        [None] * 2 + dev[2:8] + [None] * 2  # span 3: rows 6..8 hold nothing
    )


def test_the_reviewers_sell_out_case():
    # /tmp/review_sf/offbyone.py: W = 3, held 100, 110, then sold out; every row of #5, #7,
    # #9, #10, #12 reads a row without holdings or a short window: none is "held on its span"
    s = [100.0, 110.0, 0.0, 0.0, 0.0]
    ds = [None, 10.0, -110.0, 0.0, 0.0]
    df = pl.DataFrame(
        {
            "date": [dt.date(2020, 1, 2 + i) for i in range(5)],
            "asset": ["A"] * 5,
            "shares": s,
            "close": [10.0] * 5,
            "vwap": [10.0] * 5,
            "float_shares": [1000.0] * 5,
            "amount": [500.0] * 5,
            "volume": [50.0] * 5,
            "ret": [None, 0.0, 0.0, 0.0, 0.0],
            "hold_value": [x * 10 for x in s],
            "hold_ratio": [x / 1000 for x in s],
            "d_shares": ds,
            "share_basis": [1.0] * 5,
            "flow": [None if d is None else d * 10 for d in ds],
            "flow_trading": [None, 0.0, -1100.0, 0.0, 0.0],
            "flow_allocation": [None, 0.0, 0.0, 0.0, 0.0],
        }
    )
    names = (
        "nb_cum_inflow_ratio20",
        "nb_hold_ratio_chg20",
        "nb_trade_amount20",
        "nb_std_inflow_ratio",
        "nb_high_volume_inflow",
    )
    out = compute_factors(df, northbound_factors(window=3, short_window=2, top_k=2)).collect()
    for n in names:
        assert out[n].null_count() == 5, n
    # "any": rows 3 and 4 read rows 0..3 and 1..4, held on rows 0 and 1
    out = compute_factors(
        df, northbound_factors(window=3, short_window=2, top_k=2, held="any")
    ).collect()
    assert out["nb_trade_amount20"].to_list() == [None, None, None, -1000.0, -1100.0]


def test_held_is_checked():
    with pytest.raises(ParameterError, match="`held`"):
        northbound_factors(held="some")
