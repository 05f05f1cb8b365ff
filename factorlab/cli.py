"""The ``factorlab`` command line: the northbound factor study, market data tools.

factorlab demo                                   # the study on the default synthetic market
factorlab study --market DIR --pools csi300 csi500 --out DIR
factorlab study --market DIR --factors-file my_factors.parquet   # your own factors
factorlab list factors | pools [--market DIR]    # what the study can run
factorlab data synth --preset default --out DIR  # write a synthetic market directory
factorlab data info DIR                          # tables, rows, dates, sanity figures
factorlab data calibrate [--market DIR]          # stylized facts vs the handbook's bands
factorlab tearsheet --factors F --prices P --out DIR  # a tear sheet for any factor
factorlab strategies [--market DIR] [--out DIR]  # seeds 000/004 strategies + HTML report
factorlab estimate [--market DIR] [--out DIR]    # seed 002 holdings estimation + report
factorlab etf-flows [--market DIR|real] [--days 5] [--sectors ...]  # sector money flows from ETFs
factorlab warmup                                 # compile the kernels (install step)
"""

from __future__ import annotations

import argparse
import logging
import sys
import textwrap
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


def _market(args: argparse.Namespace, start: float, **params):
    """The market a command runs on: ``--market DIR`` or the ``--preset`` synthetic market (with
    extra generator `params`), generated with progress lines."""
    from factorlab.datasets import PRESETS, synthetic_market
    from factorlab.market import Market

    if args.market:
        return Market.load(args.market)
    return synthetic_market(**{**PRESETS[args.preset], **params}, progress=_progress(start))


def _strength_args(parser: argparse.ArgumentParser) -> None:
    from dataclasses import fields

    from factorlab.datasets import Strengths

    group = parser.add_argument_group(
        "planted effects (0 turns one off; the speeds `--allocation-speed`, `--trading-speed`"
        " must be > 0)"
    )
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
    _check_report_dir(args)
    market = synthetic_market(**PRESETS["default"], progress=_progress(start))
    print(f"market ready in {time.perf_counter() - start:.1f}s", file=sys.stderr)
    _print_info(market)
    return _run_study(market, args, start)


def _cmd_study(args: argparse.Namespace) -> int:

    start = time.perf_counter()
    # everything the user typed is checked before a market is generated or read
    user = _read_factors_file(Path(args.factors_file)) if args.factors_file else {}
    estimated = _read_estimated_file(args)
    _check_report_dir(args)
    market = _market(args, start)
    estimated = _estimated(args, market, start, estimated)
    return _run_study(market, args, start, user=user, estimated=estimated)


def _read_estimated_file(args: argparse.Namespace) -> pl.DataFrame | None:
    """`--estimated-holdings FILE`: a parquet or CSV file of date, asset, shares (checked by
    the study / the strategies)."""
    path = getattr(args, "estimated_holdings", None)
    if not path:
        return None
    return _read_table_file(Path(path), "--estimated-holdings")


def _estimated(args: argparse.Namespace, market, start: float, read: object) -> object:
    """`--estimate`: seed 002's estimator on the market (the study or the strategies then run
    past the disclosure change on its holdings); else what `--estimated-holdings` read."""
    if not getattr(args, "estimate", False):
        return read
    from factorlab.northbound.estimation import estimate_holdings

    print("estimating holdings after the disclosure change ...", file=sys.stderr)
    return estimate_holdings(market, progress=_progress(start))


def _estimate_args(parser: argparse.ArgumentParser, what: str) -> None:
    """`--estimated-holdings FILE` | `--estimate` for a command that runs past the disclosure
    change on estimated holdings."""
    holdings = parser.add_mutually_exclusive_group()
    holdings.add_argument(
        "--estimated-holdings",
        default=None,
        metavar="FILE",
        help="parquet or CSV of date, asset, shares: holdings after the disclosure change "
        f"(2024-08-16), so {what} past it; those dates are marked estimated",
    )
    holdings.add_argument(
        "--estimate",
        action="store_true",
        help="estimate the holdings after the disclosure change first (seed 002's two-step "
        "estimator on the market's snapshots and short-sellable table)",
    )


def _read_factors_file(path: Path) -> dict[str, tuple[pl.DataFrame, str]]:
    """A parquet or CSV file with `date`, `asset` and one or more factor columns: one user
    factor per factor column."""
    from factorlab.errors import ParameterError

    frame = _read_table_file(path, "--factors-file")
    columns = [c for c in frame.columns if c not in ("date", "asset")]
    if not columns:
        raise ParameterError(
            f"`--factors-file` `{path}` has no factor column besides `date` and `asset`; "
            f"columns are {frame.columns}."
        )
    return {c: (frame, c) for c in columns}


def _read_table_file(path: Path, option: str) -> pl.DataFrame:
    """A parquet or CSV file with `date` (parsed when text) and `asset` columns."""
    from factorlab.errors import DtypeError, ParameterError
    from factorlab.frames import check_columns

    if not path.is_file():
        raise ParameterError(f"`{option}` `{path}` does not exist.")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            frame = pl.read_parquet(path)
        elif suffix in (".csv", ".txt"):
            frame = pl.read_csv(path, schema_overrides={"asset": pl.String})
        else:
            raise ParameterError(
                f"`{option}` `{path}`: expected a .parquet or .csv file; got `{suffix}`."
            )
    except pl.exceptions.PolarsError as exc:
        raise ParameterError(
            f"`{option}` `{path}` cannot be read ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0]})."
        ) from exc
    table = f"{option} {path.name}"
    check_columns(frame.schema, ["date", "asset"], table=table)
    if frame.schema["date"] == pl.String:
        parsed = frame["date"].str.to_date("%Y-%m-%d", strict=False)
        bad = frame.filter(parsed.is_null() & frame["date"].is_not_null())
        if bad.height:
            raise DtypeError(
                f"column `date` of `{path}` must hold dates (YYYY-MM-DD); {bad.height} row(s) "
                f"do not parse, e.g. {bad['date'][0]!r}.",
                table=table,
                column="date",
            )
        frame = frame.with_columns(date=parsed)
    return frame


def _check_report_dir(args: argparse.Namespace) -> None:
    """Refuse early (before any work) to write the report into a folder that isn't ours."""
    from factorlab.report.html import check_report_folder

    check_report_folder(Path(args.out), getattr(args, "force", False))


def _run_study(
    market,
    args: argparse.Namespace,
    start: float,
    *,
    user: dict | None = None,
    estimated: object = None,
) -> int:
    from factorlab.backtest import NO_COSTS
    from factorlab.northbound.factors import NORTHBOUND_FACTORS
    from factorlab.northbound.study import STUDY_POOLS, factor_study
    from factorlab.report import format_table, key_findings, write_report
    from factorlab.report.figures import require_matplotlib
    from factorlab.report.html import handbook_recommended
    from factorlab.report.tables import USER_MARK, data_line, estimated_line

    user = user or {}
    named = getattr(args, "factors", None)
    if named and "all" in named:
        named = [*NORTHBOUND_FACTORS, *(n for n in named if n != "all")]
    if user:  # the file's factors, plus the handbook factors named in --factors
        factors: list = [*(named or []), user]
        n_factors = len(named or []) + len(user)
    else:
        factors = list(named or NORTHBOUND_FACTORS)
        n_factors = len(factors)
    pools = tuple(getattr(args, "pools", None) or STUDY_POOLS)
    rebalance = getattr(args, "rebalance", "weekly")
    top = getattr(args, "top", 0.2)
    print(
        f"running the northbound factor study ({n_factors} factors x {', '.join(pools)}) ...",
        file=sys.stderr,
    )
    result = factor_study(
        market,
        factors=factors,
        pools=pools,
        window=getattr(args, "window", 20),
        top=top,
        rebalance=rebalance,
        every=getattr(args, "every", 1),
        entry=getattr(args, "entry", "next_vwap"),
        weighting=getattr(args, "weighting", "equal"),
        benchmark_weighting=getattr(args, "benchmark_weighting", None),
        capital=getattr(args, "capital", 10_000_000.0),
        costs=NO_COSTS if getattr(args, "no_costs", False) else None,
        start=getattr(args, "start", None),
        end=getattr(args, "end", None),
        sample=getattr(args, "sample", None),  # a named window; --start / --end replace bounds
        **({"risk_free": args.risk_free} if getattr(args, "risk_free", None) is not None else {}),
        excess_risk_free=getattr(args, "excess_risk_free", False),
        held=getattr(args, "held", "window"),
        cache=not getattr(args, "no_cache", False),
        estimated_holdings=estimated,
        progress=_progress(start),
    )
    pct = f"{100 * top:g}%"
    heading = (
        f"Northbound factor study (handbook protocol: {rebalance} rebalance, long = top {pct} "
        f"vs the pool, long-short = top - bottom {pct}; net = after costs)"
    )
    print("\n" + textwrap.fill(heading, width=120))
    print(textwrap.fill(data_line(result), width=120, subsequent_indent="  ") + "\n")
    if estimated_line(result):
        print(textwrap.fill(estimated_line(result), width=120) + "\n")
    print(format_table(result, wide=getattr(args, "wide", False)))
    if result.params.user_factors:
        print(f"{USER_MARK} user factor")
    if not getattr(args, "wide", False):
        print("(key columns; --wide for all of them, including max drawdowns and net L/S)")
    recommended = [f for f in handbook_recommended() if f in result.params.factors]
    findings = key_findings(result, recommended=recommended)
    if findings:
        print("\nKey findings")
        for f in findings:
            print(textwrap.fill(f, width=120, initial_indent="- ", subsequent_indent="  "))
    try:
        require_matplotlib()
    except ImportError:
        print(
            "note: figures skipped, matplotlib is not installed (pip install 'factorlab[plot]')",
            file=sys.stderr,
        )
    path = write_report(
        result,
        Path(getattr(args, "out", None) or "factorlab-report"),
        force=getattr(args, "force", False),
    )
    print(f"\nreport: {path}")
    print(f"done in {time.perf_counter() - start:.1f}s", file=sys.stderr)
    return 0


def _cmd_strategies(args: argparse.Namespace) -> int:
    from factorlab.northbound.strategies import run_strategies
    from factorlab.report.strategies import PART_TITLES, headline_tables, write_strategies_report
    from factorlab.report.tables import data_line, estimated_line, text_table

    start = time.perf_counter()
    estimated = _read_estimated_file(args)
    _check_report_dir(args)  # refuse a foreign --out before any work
    parts = args.parts
    if args.real:
        from factorlab.datasets import real_sample

        market = real_sample()
        parts = parts or ["real_data"]
    else:
        market = _market(args, start)
    estimated = _estimated(args, market, start, estimated)
    print("running the northbound strategies ...", file=sys.stderr)
    result = run_strategies(
        market, parts=parts, cache=not args.no_cache, progress=_progress(start),
        estimated_holdings=estimated,
    )  # fmt: skip
    print("\n" + textwrap.fill(data_line(result), width=120, subsequent_indent="  "))
    if estimated_line(result):
        print(textwrap.fill(estimated_line(result), width=120))
    for part in result.parts:
        print(f"\n== {PART_TITLES.get(part, part)}")
        for t in (t for t in headline_tables(result) if t.part == part and t.terminal):
            shown = t.frame if t.rows is None else t.frame.head(t.rows)
            more = (
                ""
                if shown.height == t.frame.height
                else f" (first {shown.height}; all in the report)"
            )
            print("\n" + textwrap.fill(t.caption + more, width=120))
            if shown.columns == ["Note"]:  # a statement, not a table
                print("\n".join(textwrap.fill(n, width=120) for n in shown["Note"]))
            else:
                print(text_table(shown, wrap_headers=True))
    path = write_strategies_report(
        result, Path(args.out), force=args.force, progress=_progress(start)
    )
    print(f"\nreport: {path}")
    print(f"done in {time.perf_counter() - start:.1f}s", file=sys.stderr)
    return 0


def _cmd_estimate(args: argparse.Namespace) -> int:
    from factorlab.northbound.estimation import run_estimation
    from factorlab.report.estimation import estimation_tables, write_estimation_report
    from factorlab.report.tables import data_line, text_table

    start = time.perf_counter()
    _check_report_dir(args)  # refuse a foreign --out before any work
    extra = {"disclosure_change": args.disclosure_change} if args.disclosure_change else {}
    market = _market(args, start, **extra)
    print("estimating northbound holdings after the disclosure change ...", file=sys.stderr)
    result = run_estimation(
        market,
        start=args.start,
        end=args.end,
        attribution_start=args.attribution_start,
        progress=_progress(start),
    )
    print("\n" + textwrap.fill(data_line(result), width=120, subsequent_indent="  "))
    for caption, frame in estimation_tables(result):
        print("\n" + textwrap.fill(caption, width=120))
        print(text_table(frame.drop("Definition", strict=False).head(20), wrap_headers=True))
    path = write_estimation_report(
        result, Path(args.out), force=args.force, progress=_progress(start)
    )
    print(f"\nreport: {path}")
    print(f"done in {time.perf_counter() - start:.1f}s", file=sys.stderr)
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    if args.what == "factors":
        from factorlab.northbound.factors import (
            HANDBOOK_RECOMMENDED,
            NORTHBOUND_FACTORS,
            SPLIT_VARIANTS,
            northbound_factors,
        )

        registry = northbound_factors()
        numbers = [f"{i}" for i in range(1, len(NORTHBOUND_FACTORS) + 1)]
        rows = [
            (
                number,
                name,
                "yes" if name in HANDBOOK_RECOMMENDED else "",
                registry.get(name).description,
            )
            # the seat-split variants beside #14 run only when named (14a, 14b, ...)
            for number, name in zip(
                [*numbers, *(f"14{chr(97 + k)}" for k in range(len(SPLIT_VARIANTS)))],
                [*NORTHBOUND_FACTORS, *SPLIT_VARIANTS],
                strict=True,
            )
        ]
        frame = pl.DataFrame(
            rows, schema=["#", "factor", "recommended", "definition"], orient="row"
        )
        from factorlab.report import text_table

        print(text_table(frame))
        print(
            "\n14a-14c run only when named: factorlab study --factors NAME [NAME ...]\n"
            "Your own factors: factorlab study --factors-file FILE (date, asset and factor "
            "columns), or factor_study(factors=[...]) in Python."
        )
        return 0
    from factorlab.market import Market
    from factorlab.northbound.study import STUDY_POOLS

    if not args.market:
        print(
            "the study's default pools: "
            + ", ".join(STUDY_POOLS)
            + " (the synthetic markets also have csi800); pass --market DIR for a market's own."
        )
        return 0
    market = Market.load(args.market)
    market.require("pools", purpose="`factorlab list pools`")
    pools = (
        market.pools.group_by("pool", "date")
        .len()
        .group_by("pool")
        .agg(
            first=pl.col("date").min(),
            last=pl.col("date").max(),
            dates=pl.len(),
            members_mean=pl.col("len").mean().round(0).cast(pl.Int64),
            members_min=pl.col("len").min(),
            members_max=pl.col("len").max(),
        )
        .sort("pool")
        .collect()
    )
    from factorlab.report import text_table

    print(text_table(pools.with_columns(pl.all().cast(pl.String))))
    return 0


_PRICE_SOURCES = ("canonical", "tushare", "qlib")


def _read_table(path: str, what: str) -> pl.DataFrame:
    """A parquet or CSV file as a DataFrame, or a FactorLabError naming the file."""
    from factorlab.errors import ParameterError

    p = Path(path)
    if not p.is_file():
        raise ParameterError(f"--{what}: file `{path}` does not exist.")
    try:
        if p.suffix.lower() in (".parquet", ".pq"):
            return pl.read_parquet(p)
        if p.suffix.lower() in (".csv", ".txt"):
            return pl.read_csv(p, try_parse_dates=True)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise ParameterError(
            f"--{what}: `{path}` could not be read as {p.suffix.lstrip('.')} "
            f"({type(exc).__name__}: {exc})."
        ) from exc
    raise ParameterError(f"--{what}: `{path}` must be a .parquet or .csv file.")


def _cmd_tearsheet(args: argparse.Namespace) -> int:
    from factorlab.errors import ParameterError
    from factorlab.evaluate import tearsheet
    from factorlab.report import format_value, write_tearsheet
    from factorlab.report.figures import require_matplotlib

    start = time.perf_counter()
    factors = _read_table(args.factors, "factors")
    prices = _read_table(args.prices, "prices")
    if args.source == "tushare":
        from factorlab.adapters import tushare

        prices = tushare.daily(prices)
    elif args.source == "qlib":
        from factorlab.adapters import qlib

        prices = qlib.daily(prices)
    pools = _read_table(args.pools, "pools") if args.pools else None
    cols = args.factor_cols or [
        c for c in factors.columns if c not in ("date", "asset") and factors.schema[c].is_numeric()
    ]
    if not cols:
        raise ParameterError(
            f"--factors: `{args.factors}` has no numeric factor column besides date and asset "
            f"(columns {factors.columns}); name them with --factor-cols."
        )
    source = {
        "factors file": f"{args.factors} ({factors.height:,} rows)",
        "prices file": f"{args.prices} ({prices.height:,} rows, read as {args.source})",
    }
    if args.pools:
        source["pools file"] = f"{args.pools} ({pools.height:,} rows)"
    print(f"tear sheet: {len(cols)} factor(s) ...", file=sys.stderr)
    sheet = tearsheet(
        factors,
        cols,
        prices=prices,
        pools=pools,
        horizons=tuple(args.horizons),
        quantiles=args.quantiles,
        entry=args.entry,
        source=source,
    )
    try:
        require_matplotlib()
    except ImportError:
        print(
            "matplotlib is not installed: the tear sheet is written without figures "
            "(pip install 'factorlab[plot]').",
            file=sys.stderr,
        )
    path = write_tearsheet(sheet, Path(args.out))
    for row in sheet.summary.iter_rows(named=True):
        print(
            f"{row['factor']} / {row['pool']}: IC {format_value(row['ic_mean'], 'ratio')}, "
            f"IC t {format_value(row['ic_t'], 'ratio')}, spread "
            f"{format_value(row['spread_mean'], 'fraction_pct')} %"
        )
    print(f"tear sheet: {path}")
    print(f"done in {time.perf_counter() - start:.1f}s", file=sys.stderr)
    return 0


def _cmd_etf_flows(args: argparse.Namespace) -> int:
    """Seed 003's sector money-flow table and the cumulative-flow figure."""
    from factorlab.etf import format_flow_table, sector_money_flow
    from factorlab.report.etf_flows import write_etf_flows

    start = time.perf_counter()
    if args.market == "real":
        from factorlab.datasets import real_sample

        market = real_sample()
    else:
        market = _market(args, start)
    result = sector_money_flow(market, args.sectors, days=args.days, as_of=args.as_of)
    table = format_flow_table(result.table)
    print(f"板块资金流向分析 / sector money flows from ETFs (last {args.days} sessions)")
    dates = result.daily["date"]
    print(f"data: {result.source}; dates {dates.min()} .. {dates.max()}")
    kinds = set(result.table["flow_kind"].drop_nulls())
    if kinds == {"heuristic"}:
        print(
            "flows: heuristic only (seed 003: +0.5 x amount if up on rising volume, else -0.3 x "
            "amount): these ETFs have no shares outstanding or NAV, so no exact flow exists."
        )
    else:
        print(
            "flows: exact = net creations x NAV (shares outstanding known) where flow kind says "
            "exact; score, stars and direction are seed 003's heuristic."
        )
    with pl.Config(
        tbl_rows=-1, tbl_cols=-1, tbl_width_chars=200, tbl_hide_column_data_types=True,
        tbl_hide_dataframe_shape=True, fmt_str_lengths=40,
    ):  # fmt: skip
        print(table)
    written = write_etf_flows(result, Path(args.out))
    for path in written:
        print(f"wrote {path}")
    print(f"done in {time.perf_counter() - start:.1f}s", file=sys.stderr)
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from factorlab.calibration import calibrate
    from factorlab.datasets import real_sample
    from factorlab.datasets.real import default_path
    from factorlab.report.calibration import calibration_text

    start = time.perf_counter()
    market = _market(args, start)
    reference = None
    if not args.no_reference:
        if default_path().is_dir():
            print("reading the real sample (the reference column) ...", file=sys.stderr)
            reference = real_sample()
        else:
            print(
                f"note: no real sample at {default_path()}: the Real column stays empty",
                file=sys.stderr,
            )
    cal = calibrate(
        market,
        start=args.start,
        end=args.end,
        reference=reference,
        cache=not args.no_cache,
        turnover_basis=args.turnover_basis,
        progress=_progress(start),
    )
    print(calibration_text(cal))
    print(f"done in {time.perf_counter() - start:.1f}s", file=sys.stderr)
    return 0


def _cmd_warmup(args: argparse.Namespace) -> int:
    from factorlab.evaluate.warmup import warmup

    print(warmup())
    if not args.evaluate_only:
        from factorlab.northbound.warmup import warmup_study

        print(f"generator and northbound study: {warmup_study()}")
    return 0


def _warmup_parser(sub) -> None:
    cmd = sub.add_parser(
        "warmup",
        help="compile the evaluation, generator and northbound-study kernels into numba's "
        "on-disk cache (run once by the install step, so a first analysis or `factorlab demo` "
        "does not pay the compile)",
    )
    cmd.add_argument(
        "--evaluate-only",
        action="store_true",
        help="only the single-factor evaluation kernels (a few seconds instead of ~20 s on an "
        "empty cache)",
    )
    cmd.set_defaults(func=_cmd_warmup)


def _etf_flows_parser(sub) -> None:
    from factorlab.datasets import PRESETS

    cmd = sub.add_parser(
        "etf-flows",
        help="seed 003's sector money-flow table from ETFs (exact creations where shares "
        "outstanding are known, else the heuristic) and a cumulative-flow figure",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    cmd.add_argument(
        "--market",
        default=None,
        help="market directory, or 'real' for the real sample (bars only: heuristic)",
    )
    cmd.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="default",
        help="synthetic market preset, when no --market is given",
    )
    cmd.add_argument("--days", type=int, default=5, help="window of the flow sums (sessions)")
    cmd.add_argument(
        "--sectors",
        nargs="+",
        default=None,
        help="sector names or ETF codes (SH.512480, 3033.HK, QQQ); default: all",
    )
    cmd.add_argument("--as-of", default=None, help="last date used (default: each ETF's latest)")
    cmd.add_argument(
        "--out",
        default="factorlab-etf-flows",
        help="folder for the table (csv), the daily flows and the figure",
    )
    cmd.set_defaults(func=_cmd_etf_flows)


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
        out = out.join(flows, on="year", how="left", maintain_order="left")
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


def _report_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        default="factorlab-report",
        help="report folder: new, empty or a factorlab report (other folders are refused)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="write the report into --out even if it holds other files (they are kept)",
    )


def build_parser() -> argparse.ArgumentParser:
    from factorlab.datasets import PRESETS
    from factorlab.northbound.study import (
        HANDBOOK_END,
        HANDBOOK_START,
        RISK_FREE,
        SAMPLES,
        STUDY_POOLS,
    )

    parser = argparse.ArgumentParser(
        prog="factorlab", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo",
        help="the northbound factor study on the default synthetic market (generated and "
        "cached on first use): prints the handbook table and writes the report",
    )
    _report_args(demo)
    demo.set_defaults(func=_cmd_demo)
    study = sub.add_parser(
        "study",
        help="the northbound factor study on a market directory, with the handbook's factors "
        "and/or your own",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    source = study.add_mutually_exclusive_group()
    source.add_argument(
        "--market",
        help="market directory (factorlab data synth, Market.save); default: the "
        "synthetic --preset market",
    )
    source.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="default",
        help="synthetic market preset, when no --market is given",
    )
    study.add_argument(
        "--pools",
        nargs="+",
        default=list(STUDY_POOLS),
        help="point-in-time pools of the market (factorlab list pools --market DIR)",
    )
    study.add_argument(
        "--factors",
        nargs="+",
        default=None,
        help="handbook factor names (factorlab list factors), or `all`; default: all 14, or "
        "none when --factors-file is given",
    )
    study.add_argument(
        "--factors-file",
        default=None,
        metavar="FILE",
        help="your own factors: a parquet or CSV file with columns date, asset and one column "
        "per factor (value dated s known by s's close); each runs like a handbook factor",
    )
    study.add_argument("--window", type=int, default=20, help="W of the handbook factors, days")
    study.add_argument(
        "--top", type=float, default=0.2, help="fraction of the pool in the long / short leg"
    )
    study.add_argument(
        "--rebalance",
        choices=("weekly", "monthly"),
        default="weekly",
        help="signal dates: the last session of each week or month",
    )
    study.add_argument("--every", type=int, default=1, help="rebalance on every k-th signal date")
    study.add_argument(
        "--entry",
        choices=("next_vwap", "next_open"),
        default="next_vwap",
        help="trade price after a signal (northbound data is published after the close)",
    )
    study.add_argument(
        "--weighting", choices=("equal", "cap"), default="equal", help="weights within a leg"
    )
    study.add_argument(
        "--benchmark-weighting",
        choices=("equal", "cap"),
        default=None,
        help="weights of the pool benchmark (default: the same as --weighting)",
    )
    study.add_argument(
        "--capital", type=float, default=10_000_000.0, help="starting capital of a leg, yuan"
    )
    study.add_argument(
        "--no-costs",
        action="store_true",
        help="no trading costs (default costs: 0.03%% commission per side, min 5 yuan, stamp "
        "duty on sells by the historical schedule)",
    )
    study.add_argument("--start", default=None, help="first date, YYYY-MM-DD (default: all data)")
    study.add_argument("--end", default=None, help="last date, YYYY-MM-DD (default: all data)")
    study.add_argument(
        "--sample",
        choices=sorted(SAMPLES),
        default=None,
        help=f"a named window: handbook = {HANDBOOK_START} .. {HANDBOOK_END}, the handbook's "
        "back-test window (--start / --end replace its bounds)",
    )
    study.add_argument(
        "--risk-free",
        type=float,
        default=RISK_FREE,
        metavar="RATE",
        help="annual risk-free rate of the long leg's own Sharpe (the PBoC one-year deposit "
        "rate; excess and long-short Sharpes use none unless --excess-risk-free)",
    )
    study.add_argument(
        "--excess-risk-free",
        action="store_true",
        help="subtract --risk-free in the long excess and long-short Sharpes too (the "
        "handbook's tables' convention)",
    )
    study.add_argument(
        "--held",
        choices=("window", "any"),
        default="window",
        help="a dynamic factor has a value when the stock was held on every row it reads "
        "(window: the handbook's coverage) or on one of them (any)",
    )
    study.add_argument(
        "--no-cache", action="store_true", help="recompute instead of using the study cache"
    )
    _estimate_args(study, "the study runs")
    study.add_argument(
        "--wide",
        action="store_true",
        help="print every column of the table (default: key columns, 120 characters wide)",
    )
    _report_args(study)
    study.set_defaults(func=_cmd_study)
    strategies = sub.add_parser(
        "strategies",
        help="the northbound strategies of seeds 000 and 004 (timing, portraits, rotation) on a "
        "market: prints the headline tables and writes the HTML report",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    strat_source = strategies.add_mutually_exclusive_group()
    strat_source.add_argument(
        "--market", help="market directory; default: the synthetic --preset market"
    )
    strat_source.add_argument(
        "--preset", choices=sorted(PRESETS), default="default", help="synthetic market preset"
    )
    strat_source.add_argument(
        "--real",
        action="store_true",
        help="the real public sample (../shared/realdata; default --parts real_data)",
    )
    strategies.add_argument(
        "--parts",
        nargs="+",
        default=None,
        help="which strategies: quota_band threshold portraits rotation etf_rotation (the "
        "default: all of them), or real_data (the real sample: CSI 300 timing on all flows)",
    )
    strategies.add_argument(
        "--no-cache", action="store_true", help="recompute instead of using the cached result"
    )
    _estimate_args(strategies, "the all-money timing and rotation run")
    _report_args(strategies)
    strategies.set_defaults(func=_cmd_strategies)
    estimate = sub.add_parser(
        "estimate",
        help="seed 002: estimate daily northbound holdings and flows after the disclosure change "
        "(quarterly snapshots + short-sellable quantities), validate on the synthetic truth, "
        "attribute the flows; prints the tables and writes the HTML report",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    est_source = estimate.add_mutually_exclusive_group()
    est_source.add_argument(
        "--market", help="market directory; default: the synthetic --preset market"
    )
    est_source.add_argument(
        "--preset", choices=sorted(PRESETS), default="default", help="synthetic market preset"
    )
    estimate.add_argument(
        "--disclosure-change",
        default=None,
        help="synthetic market only: last day of daily disclosure (default the real 2024-08-16)",
    )
    estimate.add_argument("--start", default=None, help="first day to estimate")
    estimate.add_argument("--end", default=None, help="last day to estimate")
    estimate.add_argument(
        "--attribution-start", default=None, help="first day of the attribution window"
    )
    _report_args(estimate)
    estimate.set_defaults(func=_cmd_estimate)
    lister = sub.add_parser(
        "list",
        help="list the handbook factors, or a market's pools",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    lister.add_argument("what", choices=("factors", "pools"), help="what to list")
    lister.add_argument("--market", default=None, help="market directory (for pools)")
    lister.set_defaults(func=_cmd_list)
    tears = sub.add_parser(
        "tearsheet", help="a tear sheet (HTML + figures) for factor columns of a file"
    )
    tears.add_argument("--factors", required=True, help="parquet/CSV: date, asset, factor columns")
    tears.add_argument("--prices", required=True, help="parquet/CSV: date, asset, close, open")
    tears.add_argument("--pools", default=None, help="parquet/CSV: date, asset, pool (optional)")
    tears.add_argument("--factor-cols", nargs="+", default=None, help="default: every numeric")
    tears.add_argument(
        "--source",
        choices=_PRICE_SOURCES,
        default="canonical",
        help="shape of the prices file: canonical, or a tushare daily / qlib frame",
    )
    tears.add_argument("--horizons", nargs="+", type=int, default=[1, 5, 10])
    tears.add_argument("--quantiles", type=int, default=5)
    tears.add_argument(
        "--entry", default="next_open", choices=["close", "next_close", "next_open", "next_vwap"]
    )
    tears.add_argument("--out", required=True, help="output folder")
    tears.set_defaults(func=_cmd_tearsheet)
    _etf_flows_parser(sub)
    _warmup_parser(sub)
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
    cal = data_sub.add_parser(
        "calibrate",
        help="measure the stylized facts of issue 12 (coverage, turnover, Sharpe, correlations, "
        "split, market) against the handbook's and the real market's bands",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    cal_source = cal.add_mutually_exclusive_group()
    cal_source.add_argument("--market", help="market directory (default: the --preset market)")
    cal_source.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="default",
        help="synthetic market preset, when no --market is given",
    )
    cal.add_argument(
        "--start", default=HANDBOOK_START.isoformat(), help="first date (the handbook's window)"
    )
    cal.add_argument(
        "--end", default=HANDBOOK_END.isoformat(), help="last date (the handbook's window)"
    )
    cal.add_argument(
        "--no-reference", action="store_true", help="do not measure the real sample (Real column)"
    )
    cal.add_argument("--no-cache", action="store_true", help="recompute the study")
    cal.add_argument(
        "--turnover-basis",
        choices=("names", "value"),
        default="names",
        help="leg turnover by count of names or by traded value (docs/calibration.md)",
    )
    cal.set_defaults(func=_cmd_calibrate)
    return parser


def _show_warnings() -> None:
    """Show the library's warnings (e.g. a figure that could not be drawn) on stderr."""
    logger = logging.getLogger("factorlab")
    if not any(getattr(h, "_factorlab_cli", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setLevel(logging.WARNING)
        handler.setFormatter(logging.Formatter("factorlab: %(message)s"))
        handler._factorlab_cli = True  # type: ignore[attr-defined]
        logger.addHandler(handler)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _show_warnings()
    try:
        return args.func(args)
    except FactorLabError as exc:
        print(f"factorlab: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
