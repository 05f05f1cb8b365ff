"""The ``factorlab`` command line: the northbound factor study, market data tools.

factorlab demo                                   # the study on the default synthetic market
factorlab study --market DIR --pools csi300 csi500 --out DIR
factorlab data synth --preset default --out DIR  # write a synthetic market directory
factorlab data info DIR                          # tables, rows, dates, sanity figures
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from factorlab.errors import FactorLabError, MarketError

__all__ = ["main"]


def _progress(start: float):
    def say(msg: str) -> None:
        print(f"  [{time.perf_counter() - start:6.1f}s] {msg}", file=sys.stderr, flush=True)

    return say


def _strength_args(parser: argparse.ArgumentParser) -> None:
    from dataclasses import fields

    from factorlab.datasets import Strengths

    group = parser.add_argument_group("planted effects (0 turns one off)")
    for f in fields(Strengths):
        group.add_argument(
            f"--{f.name.replace('_', '-')}", type=float, default=None, dest=f"strength_{f.name}"
        )


def _strengths(args: argparse.Namespace) -> dict[str, float]:
    return {
        k.removeprefix("strength_"): v
        for k, v in vars(args).items()
        if k.startswith("strength_") and v is not None
    }


def _cmd_synth(args: argparse.Namespace) -> int:
    from factorlab.datasets import PRESETS, synthetic_market

    start = time.perf_counter()
    params = {**PRESETS[args.preset], **_strengths(args)}
    if args.n_assets:
        params["n_assets"] = args.n_assets
    if args.seed is not None:
        params["seed"] = args.seed
    print(f"generating the `{args.preset}` synthetic market into {args.out} ...", file=sys.stderr)
    market = synthetic_market(**params, cache=Path(args.out), progress=_progress(start))
    print(
        f"done in {time.perf_counter() - start:.1f}s; content hash {market.content_hash}",
        file=sys.stderr,
    )
    _print_info(market)
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from factorlab.market import Market

    # info is the check-up command: re-hash every file, so a corrupt one is named up front
    market = Market.load(args.dir, verify_hashes=True)
    try:
        _print_info(market)
    except pl.exceptions.PolarsError as exc:
        raise MarketError(
            f"market `{args.dir}` could not be read ({type(exc).__name__}: {exc}); a file is "
            "corrupted or was replaced while reading. Regenerate it (factorlab data synth)."
        ) from exc
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from factorlab.datasets import PRESETS, cache_dir, synthetic_market

    start = time.perf_counter()
    print(
        "factorlab demo: the northbound factor study on the default synthetic market "
        f"(generated once, cached under {cache_dir()})",
        file=sys.stderr,
    )
    market = synthetic_market(**PRESETS["default"], progress=_progress(start))
    print(f"market ready in {time.perf_counter() - start:.1f}s", file=sys.stderr)
    _print_info(market)
    return _run_study(market, args, start)


def _cmd_study(args: argparse.Namespace) -> int:
    from factorlab.datasets import PRESETS, synthetic_market
    from factorlab.market import Market

    start = time.perf_counter()
    if args.market:
        market = Market.load(args.market)
    else:
        market = synthetic_market(**PRESETS[args.preset], progress=_progress(start))
    return _run_study(market, args, start)


def _run_study(market, args: argparse.Namespace, start: float) -> int:
    from factorlab.northbound.factors import NORTHBOUND_FACTORS
    from factorlab.northbound.study import STUDY_POOLS, factor_study
    from factorlab.report import format_table, write_report

    factors = tuple(getattr(args, "factors", None) or NORTHBOUND_FACTORS)
    pools = tuple(getattr(args, "pools", None) or STUDY_POOLS)
    print(
        f"running the northbound factor study ({len(factors)} factors x {', '.join(pools)}) ...",
        file=sys.stderr,
    )
    result = factor_study(
        market,
        factors=factors,
        pools=pools,
        window=getattr(args, "window", 20),
        top=getattr(args, "top", 0.2),
        every=getattr(args, "every", 1),
        cache=not getattr(args, "no_cache", False),
        progress=_progress(start),
    )
    print(
        "\nNorthbound factor study (handbook protocol: weekly rebalance, long = top 20% vs the "
        "pool, long-short = top - bottom 20%; net = after costs)"
    )
    print(format_table(result))
    path = write_report(result, Path(getattr(args, "out", None) or "factorlab-report"))
    print(f"\nreport: {path}")
    print(f"done in {time.perf_counter() - start:.1f}s", file=sys.stderr)
    return 0


def market_sanity(market) -> pl.DataFrame:
    """Yearly sanity figures: northbound holdings value, its share of float cap, the largest
    holding ratio, holders, and the daily net buy (from ``northbound_truth`` when present, else
    the published ``northbound`` on A-share days)."""
    holdings = market.northbound_truth if market.has("northbound_truth") else market.northbound
    px = market.prices.select("date", "asset", "close", "float_shares", "total_shares")
    daily = (
        px.join(holdings.select("date", "asset", "shares"), on=["date", "asset"], how="left")
        .group_by("date")
        .agg(
            float_cap=(pl.col("close") * pl.col("float_shares")).sum(),
            nb_value=(pl.col("shares").fill_null(0) * pl.col("close")).sum(),
            max_ratio=(pl.col("shares") / pl.col("total_shares")).max(),
            stocks_held=(pl.col("shares") > 0).sum(),
            stocks=pl.len(),
        )
        .filter(pl.col("nb_value") > 0)
        .sort("date")
        .collect()
    )
    out = (
        daily.with_columns(share=pl.col("nb_value") / pl.col("float_cap"))
        .group_by(pl.col("date").dt.year().alias("year"))
        .agg(
            stocks=pl.col("stocks").mean().round(0).cast(pl.Int64),
            held=pl.col("stocks_held").mean().round(0).cast(pl.Int64),
            nb_value_bn=(pl.col("nb_value").last() / 1e9).round(1),
            share_of_float_cap_pct=(pl.col("share").last() * 100).round(2),
            max_ratio_pct=(pl.col("max_ratio").max() * 100).round(2),
        )
        .sort("year")
    )
    if market.has("flows_truth"):
        flows = (
            market.flows_truth.filter(pl.col("northbound_day"))
            .group_by(pl.col("date").dt.year().alias("year"))
            .agg(
                net_buy_bn=(pl.col("net_buy").sum() / 1e9).round(1),
                daily_std_bn=(pl.col("net_buy").std() / 1e9).round(2),
            )
            .collect()
        )
        out = out.join(flows, on="year", how="left")
    return out


def _print_info(market) -> None:
    cfg = pl.Config(tbl_rows=40, tbl_cols=20, tbl_width_chars=160, tbl_hide_dataframe_shape=True)
    with cfg:
        print("\nTables")
        print(market.summary())
        if market.has("prices") and (market.has("northbound_truth") or market.has("northbound")):
            print(
                "\nNorthbound holdings by year (value at year end, share of float cap, max "
                "single-stock ratio, net buy)"
            )
            print(market_sanity(market))
        params = market.meta.get("params")
        if params:
            print(f"\nparameters: {params}")


def build_parser() -> argparse.ArgumentParser:
    from factorlab.datasets import PRESETS

    parser = argparse.ArgumentParser(
        prog="factorlab", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo",
        help="the northbound factor study on the default synthetic market (generated and "
        "cached on first use): prints the handbook table and writes the report",
    )
    demo.add_argument("--out", default="factorlab-report", help="report folder")
    demo.set_defaults(func=_cmd_demo)
    study = sub.add_parser("study", help="the northbound factor study on a market directory")
    source = study.add_mutually_exclusive_group()
    source.add_argument("--market", help="market directory (factorlab data synth, Market.save)")
    source.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="default",
        help="synthetic market preset, when no --market is given",
    )
    study.add_argument("--pools", nargs="+", default=None, help="e.g. csi300 csi500 liq1500")
    study.add_argument("--factors", nargs="+", default=None, help="handbook factor names")
    study.add_argument("--window", type=int, default=20)
    study.add_argument("--top", type=float, default=0.2)
    study.add_argument("--every", type=int, default=1, help="rebalance every k weeks")
    study.add_argument("--no-cache", action="store_true")
    study.add_argument("--out", default="factorlab-report", help="report folder")
    study.set_defaults(func=_cmd_study)
    data = sub.add_parser("data", help="market data directories")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    synth = data_sub.add_parser("synth", help="write a synthetic market directory")
    synth.add_argument("--preset", choices=sorted(PRESETS), default="default")
    synth.add_argument(
        "--out",
        required=True,
        help="directory to write: new, empty, or a market written by factorlab (replaced; "
        "any other directory is refused)",
    )
    synth.add_argument("--n-assets", type=int, default=None)
    synth.add_argument("--seed", type=int, default=None)
    _strength_args(synth)
    synth.set_defaults(func=_cmd_synth)
    info = data_sub.add_parser("info", help="summarize a market directory")
    info.add_argument("dir")
    info.set_defaults(func=_cmd_info)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except FactorLabError as exc:
        print(f"factorlab: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
