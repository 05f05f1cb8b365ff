"""The 14 northbound factors of the Everbright factor handbook (Feb 2023, table 1).

Each is a named expression over the research panel of :func:`factorlab.northbound.research_panel`
(columns ``hold_value`` H, ``hold_ratio`` R, ``shares`` S, ``d_shares`` dS, ``flow`` = dS * VWAP,
``float_shares`` F, ``close`` P, ``amount`` A, ``volume``, ``ret``, ``share_basis`` the
cumulative bonus factor) plus, for factor 14 and the :data:`SPLIT_VARIANTS`, ``flow_trading``
and ``flow_allocation`` (the Flow of trading-type and of allocation-type participants, from
:func:`factorlab.northbound.participant_flows`). Windows count the stock's own traded rows; a
rolling statistic needs a full window, else null.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from factorlab.errors import ParameterError
from factorlab.ops import Factor, FactorRegistry, ts_mean, ts_shift, ts_std, ts_sum, ts_topk_mean
from factorlab.typing import HeldRule

__all__ = [
    "HANDBOOK_RECOMMENDED",
    "NORTHBOUND_FACTORS",
    "SPLIT_FACTORS",
    "SPLIT_VARIANTS",
    "WINDOW_PREFIX",
    "handbook_numbers",
    "northbound_factors",
    "northbound_windows",
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
#: The handbook's seven recommended factors, #1-#5, #7 and #10: the list its 速读 and
#: conclusions give (the list is the basis, not a stability rule: it calls #5 unstable too).
HANDBOOK_RECOMMENDED = tuple(NORTHBOUND_FACTORS[i - 1] for i in (1, 2, 3, 4, 5, 7, 10))
#: Prefix of the shared window columns of :func:`northbound_windows`.
WINDOW_PREFIX = "_nbw_"


def handbook_numbers(names: Sequence[str]) -> str:
    """The handbook numbers of `names` as text, runs collapsed: ``"1-5, 7 and 10"`` for
    :data:`HANDBOOK_RECOMMENDED` (names that are not handbook factors are left out)."""
    nums = sorted(NORTHBOUND_FACTORS.index(n) + 1 for n in set(names) if n in NORTHBOUND_FACTORS)
    runs: list[list[int]] = []
    for n in nums:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    parts = [p for r in runs for p in ([f"{r[0]}-{r[-1]}"] if len(r) > 2 else map(str, r))]
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def northbound_factors(
    window: int = 20,
    short_window: int = 5,
    top_k: int = 3,
    *,
    suffix: bool = False,
    date_col: str | None = "date",
    held: HeldRule = "window",
    windows: bool = False,
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
    held
        When a dynamic factor (#5-#14 and the :data:`SPLIT_VARIANTS`) has a value:
        ``"window"`` (default) only when the stock was held (S > 0) on every row the factor
        reads, ``"any"`` when it was held on at least one of them (a sell-out keeps its
        outflow). See Coverage below.
    windows
        Read the windows that several factors (or one factor twice) share (the held-span masks,
        mean_W(R), sum_W(Flow), sum_W(A), mean_W(S) on one share basis and the split flows'
        sums) from the columns
        :func:`northbound_windows` adds (same parameters), instead of computing them inside
        every factor that reads them: the same values, each window computed once. Polars does
        not share a numba window between expressions, so the study does this (default False:
        every factor is self-contained).

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

    Coverage (handbook 覆盖度): a stock without northbound holdings on day t (S_t = 0) has null
    static factors (#1-#4), so a pool member HKEX does not list is not "covered" with a value
    0. A dynamic factor reads the holdings on a span of rows ending at t: t-W..t (W+1 rows: a
    difference needs the row before the window) for #5, #7, #9-#14 and the split variants,
    t-W+1..t for #6, and t-max(W-1, w)..t for #8. With ``held="window"`` it is null unless the
    stock is held on every row of its span. That is the seed's reading: HKEX lists a stock only
    while it is held, and a rolling statistic needs its full window of rows, so a stock enters
    a dynamic factor W (or W+1) held days after it enters the data and leaves it on its first
    day without holdings. It matches the handbook's coverage figures, where every dynamic
    factor covers fewer stocks than the static ones (#5: 54.11% against 55.91% in the CSI 500,
    64.90% against 75.75% in liq1500; #10: 98.67% against 99.33% in the CSI 300), which a rule
    keeping sold-out stocks could not give. ``held="any"`` keeps a stock while it was held on
    some row of the span (its sell-out and the W days after it are kept, with their outflow),
    so the dynamic coverage is at least the static one.

    Nulls and NaN: a ratio with a zero denominator (no holdings over the window, a constant q) is
    null, not inf.
    """
    _check_windows(window, short_window, top_k, held)
    w, ws = window, short_window

    def ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
        # a zero denominator (e.g. float_shares = 0) gives null, never inf
        return pl.when(den != 0).then(num / den)

    cap = pl.col("float_shares") * pl.col("close")
    q = ratio(pl.col("flow"), cap)
    ds_one, vol_one = (pl.col(c) / pl.col("share_basis") for c in ("d_shares", "volume"))
    # the windows several factors read (the held spans, mean_W(R), sum_W(Flow), mean_W(S) on
    # one basis, the split flows' sums): inline, or read from northbound_windows' columns
    shared = _shared_windows(w, ws, date_col, held)

    def win(key: str) -> pl.Expr:
        return pl.col(WINDOW_PREFIX + key) if windows else shared[key]

    mean_s_one = win("mean_shares_one_basis")

    def static(expr: pl.Expr) -> pl.Expr:
        return pl.when(pl.col("shares") > 0).then(expr)

    def dynamic(expr: pl.Expr, rows: int = w + 1) -> pl.Expr:
        return pl.when(win(f"held_span{rows}")).then(expr)

    defs = [
        (1, "hold value H = S * P", static(pl.col("hold_value").cast(pl.Float64))),
        (2, "hold ratio R = S / F", static(pl.col("hold_ratio").cast(pl.Float64))),
        (3, f"mean over {w} days of H", static(ts_mean("hold_value", window=w, date_col=date_col))),
        (4, f"mean over {w} days of R", static(win("mean_hold_ratio"))),
        (
            5,
            f"sum over {w} days of Flow / (F * P) today",
            dynamic(ratio(win("sum_flow"), cap)),
        ),
        (
            6,
            f"R minus its {w}-day mean",
            dynamic(pl.col("hold_ratio") - win("mean_hold_ratio"), w),
        ),
        (
            7,
            f"R_t - R_(t-{w})",
            dynamic(pl.col("hold_ratio") - ts_shift("hold_ratio", periods=w, date_col=date_col)),
        ),
        (
            8,
            f"mean over {ws} days of dS / mean over {w} days of S (one share basis)",
            dynamic(
                ratio(ts_mean(ds_one, window=ws, date_col=date_col), mean_s_one), max(w, ws + 1)
            ),
        ),
        (
            9,
            f"mean / std over {w} days of q = Flow / (F * P)",
            dynamic(
                ratio(
                    ts_mean(q, window=w, date_col=date_col), ts_std(q, window=w, date_col=date_col)
                )
            ),
        ),
        (
            10,
            f"sum over {w} days of Flow (yuan)",
            dynamic(win("sum_flow")),
        ),
        (
            11,
            f"sum over {w} days of Flow / sum over {w} days of amount",
            dynamic(
                ratio(
                    win("sum_flow"),
                    win("sum_amount"),
                )
            ),
        ),
        (
            12,
            f"mean dS on the {top_k} highest-volume days of the last {w} / mean_{w}(S) (one share "
            "basis; volume bonus-adjusted)",
            dynamic(
                ratio(
                    ts_topk_mean(ds_one, vol_one, window=w, k=top_k, date_col=date_col),
                    mean_s_one,
                )
            ),
        ),
        (
            13,
            f"mean dS on the {top_k} highest-return days of the last {w} / mean_{w}(S) (one "
            "share basis)",
            dynamic(
                ratio(
                    ts_topk_mean(ds_one, "ret", window=w, k=top_k, date_col=date_col),
                    mean_s_one,
                )
            ),
        ),
        (
            14,
            f"sum over {w} days of trading-type Flow (yuan)",
            dynamic(win("sum_flow_trading")),
        ),
    ]
    # beside #14: its float-cap-scaled variant, and the allocation-type counterparts that the
    # handbook's §1.4 (席位拆解: 分别构建相应因子) and §2.4 imply
    extras = [
        (
            "14, scaled by the float cap",
            f"sum over {w} days of trading-type Flow / (F * P) today",
            dynamic(ratio(win("sum_flow_trading"), cap)),
        ),
        (
            "14's allocation-type counterpart (§1.4)",
            f"sum over {w} days of allocation-type Flow (yuan)",
            dynamic(win("sum_flow_allocation")),
        ),
        (
            "14's allocation-type counterpart (§1.4), scaled by the float cap",
            f"sum over {w} days of allocation-type Flow / (F * P) today",
            dynamic(ratio(win("sum_flow_allocation"), cap)),
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


def _check_windows(window: int, short_window: int, top_k: int, held: HeldRule) -> None:
    """:class:`ParameterError` unless the windows and the held rule are valid."""
    for name, value, low in (
        ("window", window, 2),
        ("short_window", short_window, 1),
        ("top_k", top_k, 1),
    ):
        if not isinstance(value, int) or value < low:
            raise ParameterError(f"`{name}` must be an integer >= {low}; got {value!r}.")
    if held not in ("window", "any"):
        raise ParameterError(f"`held` must be 'window' or 'any'; got {held!r}.")
    if short_window > window or top_k > window:
        raise ParameterError(
            f"`short_window` ({short_window}) and `top_k` ({top_k}) must not exceed `window` "
            f"({window})."
        )


def northbound_windows(
    window: int = 20,
    short_window: int = 5,
    *,
    date_col: str | None = "date",
    held: HeldRule = "window",
) -> dict[str, pl.Expr]:
    """The windows several handbook factors share, as named expressions over the research
    panel: what ``northbound_factors(..., windows=True)`` reads (with the same `window`,
    `short_window`, `date_col` and `held`).

    Returns
    -------
    dict of str to polars.Expr
        Column name (:data:`WINDOW_PREFIX` + key) -> expression (aliased to that name). Keys:
        ``held_span{n}`` for each span length n the dynamic factors read (Boolean: the stock's
        held rule over the last n rows, see :func:`northbound_factors`' Coverage; null where
        ``shares`` is null), ``mean_hold_ratio`` (mean_W(R)), ``sum_flow`` (sum_W(Flow)),
        ``sum_amount`` (sum_W(A)), ``mean_shares_one_basis`` (mean_W(S / share_basis)),
        ``sum_flow_trading`` and ``sum_flow_allocation``.

    Examples
    --------
    >>> sorted(northbound_windows())[:2]
    ['_nbw_held_span20', '_nbw_held_span21']
    """
    _check_windows(window, short_window, 1, held)
    return {
        WINDOW_PREFIX + key: expr.alias(WINDOW_PREFIX + key)
        for key, expr in _shared_windows(window, short_window, date_col, held).items()
    }


def _shared_windows(w: int, ws: int, date_col: str | None, held: HeldRule) -> dict[str, pl.Expr]:
    """key -> the expression of each shared window (see :func:`northbound_windows`)."""
    held_t = (pl.col("shares") > 0).cast(pl.Float64)
    least = {"window": None, "any": 1}[held]
    out = {
        # coverage (handbook 覆盖度): a dynamic factor needs holdings on every row
        # (held="window") or some row ("any") of the span of rows it reads, t-(rows-1)..t
        f"held_span{rows}": ts_sum(held_t, window=rows, date_col=date_col)
        >= (rows if least is None else least)
        for rows in sorted({w + 1, w, max(w, ws + 1)})
    }
    # share counts of one basis across a bonus ex-date (10送4: 100 shares before are 140 after)
    s_one = pl.col("shares") / pl.col("share_basis")
    out["mean_hold_ratio"] = ts_mean("hold_ratio", window=w, date_col=date_col)
    out["sum_flow"] = ts_sum("flow", window=w, date_col=date_col)
    # a denominator (read twice by ratio's zero check)
    out["sum_amount"] = ts_sum("amount", window=w, date_col=date_col)
    out["mean_shares_one_basis"] = ts_mean(s_one, window=w, date_col=date_col)
    out["sum_flow_trading"] = ts_sum("flow_trading", window=w, date_col=date_col)
    out["sum_flow_allocation"] = ts_sum("flow_allocation", window=w, date_col=date_col)
    return out
