"""The 14 handbook factors: hand-computed values on a tiny panel, nulls on short windows."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from factorlab.errors import ParameterError
from factorlab.northbound.factors import (
    HANDBOOK_RECOMMENDED,
    NORTHBOUND_FACTORS,
    SPLIT_VARIANTS,
    northbound_factors,
)
from factorlab.ops import compute_factors

# one stock, 5 days, W = 3, w = 2, top_k = 2
S = [100.0, 110.0, 130.0, 120.0, 160.0]
DS = [None, 10.0, 20.0, -10.0, 40.0]
P = [10.0, 11.0, 12.0, 11.0, 13.0]
VWAP = [10.0, 10.5, 11.5, 11.5, 12.5]
F = [1000.0] * 5
A = [500.0, 600.0, 700.0, 400.0, 900.0]
VOL = [50.0, 60.0, 60.0, 35.0, 70.0]
RET = [None, 0.10, 0.0909, -0.0833, 0.1818]
FT = [None, 5.0, 10.0, -5.0, 30.0]
FA = [None, 2.0, -4.0, 1.0, 3.0]


@pytest.fixture
def panel() -> pl.DataFrame:
    flow = [None if d is None else d * v for d, v in zip(DS, VWAP, strict=True)]
    # rows deliberately in reverse date order: factors must not depend on row order
    return pl.DataFrame(
        {
            "date": [dt.date(2020, 1, 2 + i) for i in range(5)],
            "asset": ["600000.SH"] * 5,
            "shares": S,
            "close": P,
            "vwap": VWAP,
            "float_shares": F,
            "amount": A,
            "volume": VOL,
            "ret": RET,
            "hold_value": [s * p for s, p in zip(S, P, strict=True)],
            "hold_ratio": [s / f for s, f in zip(S, F, strict=True)],
            "d_shares": DS,
            "share_basis": [1.0] * 5,
            "flow": flow,
            "flow_trading": [None if x is None else x * v for x, v in zip(FT, VWAP, strict=True)],
            "flow_allocation": [
                None if x is None else x * v for x, v in zip(FA, VWAP, strict=True)
            ],
        }
    ).reverse()


def _compute(panel: pl.DataFrame) -> dict[str, list]:
    reg = northbound_factors(window=3, short_window=2, top_k=2)
    out = compute_factors(panel, reg).sort("date").collect()
    return {name: out[name].to_list() for name in reg.names()}


def test_registry_has_the_14_factors_in_handbook_order():
    reg = northbound_factors()
    assert reg.names() == (*NORTHBOUND_FACTORS, *SPLIT_VARIANTS)
    for i, name in enumerate(NORTHBOUND_FACTORS, start=1):
        assert reg.get(name).reference.endswith(f"#{i}")
    for name in SPLIT_VARIANTS:  # #14's variants and counterparts
        assert "#14" in reg.get(name).reference


def test_the_recommended_seven_are_the_handbooks():
    # seed 001 速读 and conclusions: 1-4 static, 5 (累计净流入占比), 7 (持股占比变动), 10 (成交金额)
    assert HANDBOOK_RECOMMENDED == (
        "nb_hold_value",
        "nb_hold_ratio",
        "nb_hold_value_mean20",
        "nb_hold_ratio_mean20",
        "nb_cum_inflow_ratio20",
        "nb_hold_ratio_chg20",
        "nb_trade_amount20",
    )
    assert "nb_hold_ratio_dev20" not in HANDBOOK_RECOMMENDED  # #6: the handbook calls it unstable


def test_hand_computed_values(panel):
    f = _compute(panel)
    H = [s * p for s, p in zip(S, P, strict=True)]
    R = [s / 1000 for s in S]
    flow = [None, 105.0, 230.0, -115.0, 500.0]
    close = pytest.approx
    assert f["nb_hold_value"] == close(H)
    assert f["nb_hold_ratio"] == close(R)
    assert f["nb_hold_value_mean20"][:2] == [None, None]
    assert f["nb_hold_value_mean20"][2:] == close(
        [(1000 + 1210 + 1560) / 3, (1210 + 1560 + 1320) / 3, (1560 + 1320 + 2080) / 3]
    )
    assert f["nb_hold_ratio_mean20"][4] == close((0.13 + 0.12 + 0.16) / 3)
    # 5: the flow window needs 3 non-null flows (day 1 has none): days 2..4 and 3..5
    assert f["nb_cum_inflow_ratio20"][:3] == [None, None, None]
    assert f["nb_cum_inflow_ratio20"][3] == close((105 + 230 - 115) / (1000 * 11.0))
    assert f["nb_cum_inflow_ratio20"][4] == close((230 - 115 + 500) / (1000 * 13.0))
    assert f["nb_hold_ratio_dev20"][4] == close(0.16 - (0.13 + 0.12 + 0.16) / 3)
    assert f["nb_hold_ratio_chg20"][:3] == [None, None, None]
    assert f["nb_hold_ratio_chg20"][3:] == close([0.12 - 0.10, 0.16 - 0.11])
    # 8: mean over 2 days of dS / mean over 3 days of S
    assert f["nb_short_inflow"][1] is None  # S window not full
    assert f["nb_short_inflow"][2] == close(((10 + 20) / 2) / ((100 + 110 + 130) / 3))
    assert f["nb_short_inflow"][4] == close(((-10 + 40) / 2) / ((130 + 120 + 160) / 3))
    q = [None] + [fl / (1000 * p) for fl, p in zip(flow[1:], P[1:], strict=True)]
    q3 = np.array(q[2:5], dtype=float)
    assert f["nb_std_inflow_ratio"][4] == close(q3.mean() / q3.std(ddof=1))
    assert f["nb_trade_amount20"][3:] == close([105 + 230 - 115, 230 - 115 + 500])
    assert f["nb_trade_amount_ratio20"][4] == close((230 - 115 + 500) / (700 + 400 + 900))
    # 12: top-2 volume days among days 3..5 are day 5 (70) and day 3 (60): dS 40 and 20
    assert f["nb_high_volume_inflow"][4] == close(((40 + 20) / 2) / ((130 + 120 + 160) / 3))
    # ... among days 2..4 volumes 60, 60, 35: days 2 and 3, dS 10 and 20
    assert f["nb_high_volume_inflow"][3] == close(((10 + 20) / 2) / ((110 + 130 + 120) / 3))
    # 13: top-2 return days among days 3..5: day 5 (0.18) and day 3 (0.09): dS 40 and 20
    assert f["nb_big_rise_inflow"][4] == close(((40 + 20) / 2) / ((130 + 120 + 160) / 3))
    ft = [None, 5 * 10.5, 10 * 11.5, -5 * 11.5, 30 * 12.5]
    # 14 as the seed writes it: the raw 20-day sum of trading-type Flow, yuan
    assert f["nb_trading_cum_inflow20"][:3] == [None, None, None]
    assert f["nb_trading_cum_inflow20"][4] == close(ft[2] + ft[3] + ft[4])
    assert f["nb_trading_cum_inflow_ratio20"][4] == close((ft[2] + ft[3] + ft[4]) / (1000 * 13.0))
    fa = [None, 2 * 10.5, -4 * 11.5, 1 * 11.5, 3 * 12.5]
    assert f["nb_allocation_cum_inflow20"][3] == close(fa[1] + fa[2] + fa[3])
    assert f["nb_allocation_cum_inflow20"][4] == close(fa[2] + fa[3] + fa[4])
    assert f["nb_allocation_cum_inflow_ratio20"][4] == close(
        (fa[2] + fa[3] + fa[4]) / (1000 * 13.0)
    )


def test_a_stock_without_holdings_has_no_static_factor_and_no_dynamic_one_unheld_on_its_span(
    panel,
):
    # day 4 and 5: sold out (S = 0); the window W = 3 on day 5 still holds day 3's 130 shares
    s = [100.0, 110.0, 130.0, 0.0, 0.0]
    ds = [None, 10.0, 20.0, -130.0, 0.0]
    sold = panel.sort("date").with_columns(
        shares=pl.Series(s),
        d_shares=pl.Series(ds),
        hold_value=pl.Series(s) * pl.col("close"),
        hold_ratio=pl.Series(s) / pl.col("float_shares"),
        flow=pl.Series(ds) * pl.col("vwap"),
    )
    f = _compute(sold)
    for name in NORTHBOUND_FACTORS[:4]:  # static: null where S_t = 0, not 0
        assert f[name][3:] == [None, None], name
        assert f[name][2] is not None, name
    # dynamic, held="window" (default): day 5 reads S on days 2..5 (W + 1 rows), not all
    # held: null; held="any": day 3 held 130 shares, so it has a value (the sell-out's flow)
    assert f["nb_trade_amount20"][4] is None and f["nb_hold_ratio_chg20"][4] is None
    reg = northbound_factors(window=3, short_window=2, top_k=2, held="any")
    g = compute_factors(sold, reg).sort("date").collect()
    assert g["nb_trade_amount20"][4] == pytest.approx((20 * 11.5) - 130 * 11.5 + 0.0)
    assert g["nb_hold_ratio_chg20"][4] == pytest.approx(0.0 - 0.11)
    # never held over the window: every factor is null
    never = panel.with_columns(
        shares=pl.lit(0.0),
        d_shares=pl.lit(0.0),
        hold_value=pl.lit(0.0),
        hold_ratio=pl.lit(0.0),
        flow=pl.lit(0.0),
        flow_trading=pl.lit(0.0),
        flow_allocation=pl.lit(0.0),
    )
    g = _compute(never)
    for name, values in g.items():
        assert values == [None] * 5, name


def test_zero_denominators_give_null_not_inf(panel):
    zero = panel.with_columns(shares=pl.lit(0.0), d_shares=pl.lit(0.0), flow=pl.lit(0.0))
    f = _compute(zero)
    assert f["nb_short_inflow"][4] is None
    assert f["nb_std_inflow_ratio"][4] is None  # constant q: std 0


def test_default_windows_match_pandas_rolling():
    pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    n = 60
    s = np.abs(rng.normal(1e6, 2e5, n))
    frame = pl.DataFrame(
        {
            "date": pl.date_range(
                dt.date(2020, 1, 1), dt.date(2020, 1, 1) + dt.timedelta(n - 1), eager=True
            ),
            "asset": ["000001.SZ"] * n,
            "shares": s,
            "close": rng.uniform(9, 11, n),
            "float_shares": np.full(n, 5e7),
            "amount": rng.uniform(1e6, 2e6, n),
            "volume": rng.uniform(1e5, 2e5, n),
            "ret": rng.normal(0, 0.02, n),
            "d_shares": np.r_[np.nan, np.diff(s)],
            "vwap": rng.uniform(9, 11, n),
        }
    ).with_columns(
        pl.col("d_shares").fill_nan(None),
        hold_value=pl.col("shares") * pl.col("close"),
        hold_ratio=pl.col("shares") / pl.col("float_shares"),
        flow=pl.col("d_shares").fill_nan(None) * pl.col("vwap"),
        flow_trading=pl.lit(0.0),
        flow_allocation=pl.lit(0.0),
        share_basis=pl.lit(1.0),
    )
    out = compute_factors(frame, northbound_factors()).collect()
    p = frame.to_pandas()
    q = p["flow"] / (p["float_shares"] * p["close"])
    expected = {
        "nb_hold_value_mean20": p["hold_value"].rolling(20).mean(),
        "nb_cum_inflow_ratio20": p["flow"].rolling(20).sum() / (p["float_shares"] * p["close"]),
        "nb_short_inflow": p["d_shares"].rolling(5).mean() / p["shares"].rolling(20).mean(),
        "nb_std_inflow_ratio": q.rolling(20).mean() / q.rolling(20).std(),
        "nb_trade_amount_ratio20": p["flow"].rolling(20).sum() / p["amount"].rolling(20).sum(),
    }
    for name, exp in expected.items():
        got = out[name].to_numpy().astype(float)
        np.testing.assert_allclose(
            got, exp.to_numpy(dtype=float), rtol=1e-12, equal_nan=True, err_msg=name
        )


def test_bad_windows_are_clear_errors():
    with pytest.raises(ParameterError, match="`window`"):
        northbound_factors(window=1)
    with pytest.raises(ParameterError, match="must not exceed"):
        northbound_factors(window=5, short_window=10)
