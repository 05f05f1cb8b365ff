"""The 14 northbound factors of the Everbright factor handbook (Feb 2023, table 1).

Each is a named expression over the research panel of :func:`factorlab.northbound.research_panel`
(columns ``hold_value`` H, ``hold_ratio`` R, ``shares`` S, ``d_shares`` dS, ``flow`` = dS * VWAP,
``float_shares`` F, ``close`` P, ``amount`` A, ``volume``, ``ret``, ``share_basis`` the
cumulative bonus factor) plus, for factor 14,
``flow_trading`` (trading-type participants' Flow, from
:func:`factorlab.northbound.participant_flows`). Windows count the stock's own traded rows; a
rolling statistic needs a full window, else null.
"""

from __future__ import annotations

import polars as pl

from factorlab.errors import ParameterError
from factorlab.ops import Factor, FactorRegistry, ts_mean, ts_shift, ts_std, ts_sum, ts_topk_mean

__all__ = [
    "HANDBOOK_RECOMMENDED",
    "NORTHBOUND_FACTORS",
    "SPLIT_FACTORS",
    "SPLIT_VARIANTS",
    "northbound_factors",
]

#: Factor names in handbook order (1..14).
NORTHBOUND_FACTORS = (
    "nb_hold_value",
    "nb_hold_ratio",
    "nb_hold_value_mean20",
    "nb_hold_ratio_mean20",
    "nb_cum_inflow_ratio20",
    "nb_hold_ratio_dev20",
    "nb_hold_ratio_chg20",
    "nb_short_inflow",
    "nb_std_inflow_ratio",
    "nb_trade_amount20",
    "nb_trade_amount_ratio20",
    "nb_high_volume_inflow",
    "nb_big_rise_inflow",
    "nb_trading_cum_inflow20",
)
#: Seat-split factors beside #14 (not in the default 14; ask for them by name): #14 scaled by
#: the float cap, and the allocation-type 20-day net inflow, raw (yuan) and scaled.
SPLIT_VARIANTS = (
    "nb_trading_cum_inflow_ratio20",
    "nb_allocation_cum_inflow20",
    "nb_allocation_cum_inflow_ratio20",
)
#: Every factor that reads the participant split's flows (``flow_trading`` /
#: ``flow_allocation``).
SPLIT_FACTORS = (NORTHBOUND_FACTORS[13], *SPLIT_VARIANTS)
#: The handbook's seven recommended factors (速读 and the conclusions): #1-#5, #7 and #10; #6
#: (持股占比偏离度) is among those it calls unstable.
HANDBOOK_RECOMMENDED = tuple(NORTHBOUND_FACTORS[i - 1] for i in (1, 2, 3, 4, 5, 7, 10))


def northbound_factors(
    window: int = 20,
    short_window: int = 5,
    top_k: int = 3,
    *,
    suffix: bool = False,
    date_col: str | None = "date",
) -> FactorRegistry:
    """The 14 handbook factors as a :class:`~factorlab.ops.FactorRegistry`.

    Parameters
    ----------
    window, short_window
        W (default 20) and w (default 5) of the handbook.
    top_k
        Days picked by volume / return in factors 12 and 13 (default 3).
    suffix
        Append ``_w{window}`` to every name (for sweeps over windows).
    date_col
        Passed to the ``ts_*`` operators; ``None`` when the frame is already sorted by
        (asset, date), which skips a sort per window (the study does this).

    Notes
    -----
    Definitions (handbook number: formula), with q = Flow / (F * P):

    1 H; 2 R; 3 mean_W(H); 4 mean_W(R); 5 sum_W(Flow) / (F_t * P_t); 6 R - mean_W(R);
    7 R_t - R_{t-W}; 8 mean_w(dS) / mean_W(S); 9 mean_W(q) / std_W(q); 10 sum_W(Flow);
    11 sum_W(Flow) / sum_W(A); 12 mean of dS on the `top_k` highest-volume days of the last W /
    mean_W(S); 13 the same on the highest-return days; 14 sum_W(Flow of trading-type
    participants), yuan (the handbook's text: no denominator). Beside them
    (:data:`SPLIT_VARIANTS`): ``nb_trading_cum_inflow_ratio20`` = #14 / (F_t * P_t);
    ``nb_allocation_cum_inflow20`` and ``nb_allocation_cum_inflow_ratio20``, the same on
    allocation-type participants' Flow.

    Share basis: #8, #12 and #13 average share counts over a window; S, dS and the volume are
    divided by ``share_basis`` (the product of 1 + bonus over the ex-dates so far), so a window
    across a bonus ex-date compares counts of one basis and a bonus issue creates no volume
    jump for #12's ranking. The other factors read H, R, Flow and amount, which are
    basis-invariant.

    Coverage: a stock without northbound holdings on day t (S_t = 0) has null static factors
    (#1-#4), and a stock not held on any day of the last W has null dynamic ones (#5-#14), so a
    pool member HKEX does not list is not "covered" with a value 0.

    Nulls and NaN: a ratio with a zero denominator (no holdings over the window, a constant q) is
    null, not inf.
    """
    for name, value, low in (
        ("window", window, 2),
        ("short_window", short_window, 1),
        ("top_k", top_k, 1),
    ):
        if not isinstance(value, int) or value < low:
            raise ParameterError(f"`{name}` must be an integer >= {low}; got {value!r}.")
    if short_window > window or top_k > window:
        raise ParameterError(
            f"`short_window` ({short_window}) and `top_k` ({top_k}) must not exceed `window` "
            f"({window})."
        )
    w, ws = window, short_window

    def ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
        # a zero denominator (e.g. float_shares = 0) gives null, never inf
        return pl.when(den != 0).then(num / den)

    cap = pl.col("float_shares") * pl.col("close")
    q = ratio(pl.col("flow"), cap)
    mean_s = ts_mean("shares", window=w, date_col=date_col)
    # share counts of one basis across a bonus ex-date (10送4: 100 shares before are 140 after):
    # counts divided by the cumulative bonus factor, for the windows of #8, #12 and #13
    basis = pl.col("share_basis")
    s_one, ds_one, vol_one = (pl.col(c) / basis for c in ("shares", "d_shares", "volume"))
    mean_s_one = ts_mean(s_one, window=w, date_col=date_col)
    # coverage (handbook 覆盖度): a stock without northbound holdings has no static factor (not
    # 0), and no dynamic one when it was not held on any day of the window
    held = pl.col("shares") > 0
    held_w = mean_s > 0

    def static(expr: pl.Expr) -> pl.Expr:
        return pl.when(held).then(expr)

    def dynamic(expr: pl.Expr) -> pl.Expr:
        return pl.when(held_w).then(expr)

    defs = [
        (1, "hold value H = S * P", static(pl.col("hold_value").cast(pl.Float64))),
        (2, "hold ratio R = S / F", static(pl.col("hold_ratio").cast(pl.Float64))),
        (3, f"mean over {w} days of H", static(ts_mean("hold_value", window=w, date_col=date_col))),
        (4, f"mean over {w} days of R", static(ts_mean("hold_ratio", window=w, date_col=date_col))),
        (
            5,
            f"sum over {w} days of Flow / (F * P) today",
            dynamic(ratio(ts_sum("flow", window=w, date_col=date_col), cap)),
        ),
        (
            6,
            f"R minus its {w}-day mean",
            dynamic(pl.col("hold_ratio") - ts_mean("hold_ratio", window=w, date_col=date_col)),
        ),
        (
            7,
            f"R_t - R_(t-{w})",
            dynamic(pl.col("hold_ratio") - ts_shift("hold_ratio", periods=w, date_col=date_col)),
        ),
        (
            8,
            f"mean over {ws} days of dS / mean over {w} days of S (one share basis)",
            ratio(ts_mean(ds_one, window=ws, date_col=date_col), mean_s_one),
        ),
        (
            9,
            f"mean / std over {w} days of q = Flow / (F * P)",
            ratio(ts_mean(q, window=w, date_col=date_col), ts_std(q, window=w, date_col=date_col)),
        ),
        (
            10,
            f"sum over {w} days of Flow (yuan)",
            dynamic(ts_sum("flow", window=w, date_col=date_col)),
        ),
        (
            11,
            f"sum over {w} days of Flow / sum over {w} days of amount",
            dynamic(
                ratio(
                    ts_sum("flow", window=w, date_col=date_col),
                    ts_sum("amount", window=w, date_col=date_col),
                )
            ),
        ),
        (
            12,
            f"mean dS on the {top_k} highest-volume days of the last {w} / mean_{w}(S) (one share "
            "basis; volume bonus-adjusted)",
            ratio(ts_topk_mean(ds_one, vol_one, window=w, k=top_k, date_col=date_col), mean_s_one),
        ),
        (
            13,
            f"mean dS on the {top_k} highest-return days of the last {w} / mean_{w}(S) (one "
            "share basis)",
            ratio(ts_topk_mean(ds_one, "ret", window=w, k=top_k, date_col=date_col), mean_s_one),
        ),
        (
            14,
            f"sum over {w} days of trading-type Flow (yuan)",
            dynamic(ts_sum("flow_trading", window=w, date_col=date_col)),
        ),
    ]
    # beside #14: its float-cap-scaled variant, and the allocation-type counterparts that the
    # handbook's §1.4 (席位拆解: 分别构建相应因子) and §2.4 imply
    extras = [
        (
            "14, scaled by the float cap",
            f"sum over {w} days of trading-type Flow / (F * P) today",
            dynamic(ratio(ts_sum("flow_trading", window=w, date_col=date_col), cap)),
        ),
        (
            "14's allocation-type counterpart (§1.4)",
            f"sum over {w} days of allocation-type Flow (yuan)",
            dynamic(ts_sum("flow_allocation", window=w, date_col=date_col)),
        ),
        (
            "14's allocation-type counterpart (§1.4), scaled by the float cap",
            f"sum over {w} days of allocation-type Flow / (F * P) today",
            dynamic(ratio(ts_sum("flow_allocation", window=w, date_col=date_col), cap)),
        ),
    ]
    registry = FactorRegistry()
    entries = [(str(n), d, e) for n, d, e in defs] + extras
    for (number, description, expr), name in zip(
        entries, (*NORTHBOUND_FACTORS, *SPLIT_VARIANTS), strict=True
    ):
        if suffix:
            name = f"{name}_w{w}"
        registry.register(
            Factor(
                name,
                expr,
                description=description,
                reference=f"Everbright northbound factor handbook #{number}",
            )
        )
    return registry
