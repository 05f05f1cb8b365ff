"""The one call (`run_strategies`): its parts equal the part functions, the cache (content hash +
parameters) serves reruns and nothing else, bad input is named; and the `factorlab strategies`
command end to end: every headline table and every figure in the report."""

from __future__ import annotations

import html
import re
import warnings

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from factorlab.cli import main
from factorlab.errors import MarketError, ParameterError
from factorlab.market import Market
from factorlab.northbound import classify_participants
from factorlab.northbound.strategies import (
    STRATEGY_PARTS,
    StrategiesParams,
    portraits,
    run_strategies,
)
from factorlab.northbound.strategies.quota import quota_band, quota_band_index
from factorlab.northbound.strategies.rotation import (
    layered_groups,
    rotation_grid,
    rotation_inputs,
    seed_rotations,
)
from factorlab.northbound.strategies.timing import threshold_grid, threshold_timing
from factorlab.report.strategies import headline_tables, write_strategies_report
from factorlab.report.strategies_figures import strategy_figure_plan

# one worker runs the module (`--dist loadgroup`): its module fixtures are computed once
pytestmark = pytest.mark.xdist_group("strategies_run")

#: The figures the issue names, per part (seed numbering in the captions).
NAMED_FIGURES = {
    "quota_band": {"band", "nav", "nav_index"},  # mf with its band and the position; NAV vs CSI 300
    # 图19-22, 图23-24, 图29-36
    "threshold": {"surfaces_long_only", "surfaces_long_short", "nav_all_flows", "nav_by_type"},
    "rotation": {"layered_groups", "seed_books", "grid"},  # 图38-39, 图47/55, 图46/53
    "etf_rotation": {"seed_books"},  # 图57-58
    "portraits": {
        "cumulative_flows",  # 图3-6
        "monthly_turnover",  # 表2
        "industry_weights",  # 图7-8, 表3
        "industry_allocation",  # 图9-10
        "industry_flows",  # 图11-12
        "cap_distribution",  # 图13
        "index_coverage",  # 图14-18
    },
}


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory):
    return tmp_path_factory.mktemp("strategies-cache")


@pytest.fixture(scope="module")
def result(strat_market, cache_root):
    return run_strategies(strat_market, cache=cache_root)


def test_every_part_runs_by_default(result):
    assert result.parts == STRATEGY_PARTS
    assert set(NAMED_FIGURES) <= set(result.parts)


def test_the_rotation_parts_equal_the_rotation_functions(strat_market, result):
    split = classify_participants(strat_market)
    inputs = rotation_inputs(strat_market, split=split)
    grid = rotation_grid(strat_market, inputs=inputs)
    assert_frame_equal(result.table("rotation", "grid"), grid.table)
    books = seed_rotations(strat_market, inputs=inputs)
    etf = seed_rotations(strat_market, inputs=inputs, asset="etf", costs=None)
    for name, book in books.items():
        got = result.table("rotation", "books").filter(pl.col("book") == name, pl.col("costs"))
        assert_frame_equal(got.drop("book", "costs"), book.stats)
        daily = result.table("rotation", "books_daily").filter(
            pl.col("book") == name, pl.col("costs")
        )
        assert_frame_equal(daily.drop("book", "costs"), book.daily)
    for name, book in etf.items():
        got = result.table("etf_rotation", "books").filter(pl.col("book") == name, ~pl.col("costs"))
        assert_frame_equal(got.drop("book", "costs"), book.stats)
    for flow in ("all", "trading", "allocation"):
        lg = layered_groups(strat_market, flow=flow, inputs=inputs)
        got = result.table("rotation", "layered_stats").filter(pl.col("flow") == flow)
        assert_frame_equal(got.drop("flow"), lg.stats)
    held = result.table("etf_rotation", "etfs")
    assert held.height == 24  # the seed's 24 industry ETFs


def test_the_quota_part_equals_the_quota_functions(strat_market, result):
    stock = quota_band(strat_market)
    index = quota_band_index(strat_market)
    stats = result.table("quota_band", "stats")
    assert_frame_equal(stats.filter(pl.col("version") == "stocks").drop("version"), stock.stats)
    assert_frame_equal(stats.filter(pl.col("version") == "index").drop("version"), index.stats)
    assert_frame_equal(result.table("quota_band", "signal"), stock.signal)
    assert_frame_equal(result.table("quota_band", "trades"), stock.book.trades)
    daily = result.table("quota_band", "daily").filter(pl.col("version") == "stocks")
    assert_frame_equal(
        daily.drop("version"),
        stock.book.daily.select("date", "nav_net", "net", "benchmark", "exposure"),
    )


def test_the_threshold_part_equals_the_timing_functions(strat_market, result):
    split = classify_participants(strat_market)
    grid = threshold_grid(strat_market, split=split)
    assert_frame_equal(result.table("threshold", "grid"), grid.table)
    assert_frame_equal(result.table("threshold", "best"), grid.best())
    picks = grid.best().filter(pl.col("sample") == "in")
    books = result.table("threshold", "books")
    assert books.select("index", "flow", "book").unique().height == picks.height == 12
    row = picks.filter((pl.col("flow") == "trading") & (pl.col("book") == "long_only")).row(
        0, named=True
    )
    direct = threshold_timing(
        strat_market,
        index=row["index"],
        flow="trading",
        book="long_only",
        n=row["n"],
        m=row["m"],
        split=split,
    )
    got = books.filter(
        (pl.col("index") == row["index"]) & (pl.col("flow") == "trading")
        & (pl.col("book") == "long_only")
    )  # fmt: skip
    assert_frame_equal(got.drop("index", "flow", "book", "n", "m"), direct.stats)


def test_options_reach_the_part_functions(strat_market):
    out = run_strategies(
        strat_market,
        parts=["rotation"],
        options={
            "rotation": {
                "grid": {"tops": (4,), "lookbacks": (21,)},
                "layered": {"flows": ("trading",)},
            }
        },
        cache=False,
    )
    grid = out.table("rotation", "grid")
    assert set(grid["top"]) == {4} and set(grid["lookback"]) == {21}
    assert grid.height == 3 * 3 * 2  # flows x rebalances x costs
    assert set(out.table("rotation", "layered_stats")["flow"]) == {"trading"}


def test_the_portraits_part_equals_the_portraits_function(strat_market, result):
    direct = portraits(strat_market, split=classify_participants(strat_market))
    for name in ("types", "monthly", "industry", "industry_flows", "coverage", "caps"):
        assert_frame_equal(result.table("portraits", name), getattr(direct, name), rel_tol=1e-12)
    assert_frame_equal(result.table("portraits", "flows"), direct.flows, rel_tol=1e-12)
    assert_frame_equal(result.table("portraits", "industry_table"), direct.industry_table())


def test_a_rerun_reads_the_cache_and_gives_the_same_frames(strat_market, result, cache_root):
    seen: list[str] = []
    again = run_strategies(strat_market, cache=cache_root, progress=seen.append)
    assert len(seen) == 1 and seen[0].startswith("cached strategies: ")
    assert again.data == result.data and "content_hash" in again.data
    for part in result.parts:
        for name, frame in result.tables[part].items():
            assert_frame_equal(again.tables[part][name], frame)
        for name, frame in result.series[part].items():
            assert_frame_equal(again.series[part][name], frame)


def test_other_options_are_another_cache_entry(strat_market, result, cache_root):
    before = {p.name for p in cache_root.iterdir()}
    seen: list[str] = []
    floated = run_strategies(
        strat_market,
        parts=["portraits"],
        options={"portraits": {"cap": "float"}},
        cache=cache_root,
        progress=seen.append,
    )
    assert not any(s.startswith("cached") for s in seen)
    assert len({p.name for p in cache_root.iterdir()} - before) == 1
    a = result.table("portraits", "industry")["market_weight"]
    b = floated.table("portraits", "industry")["market_weight"]
    assert (a - b).abs().max() > 1e-3  # float and total caps weigh the industries differently


def test_the_key_depends_on_the_market_the_parts_and_the_options():
    p = StrategiesParams(parts=("portraits",))
    q = StrategiesParams(parts=("portraits",), options=(("portraits", '{"cap": "float"}'),))
    keys = {p.key("a" * 64), p.key("b" * 64), q.key("a" * 64)}
    assert len(keys) == 3
    assert StrategiesParams(options=(("portraits", None),)).key("a" * 64) is None


def test_the_key_is_on_resolved_parameters_and_the_code(strat_market, monkeypatch):
    import factorlab.northbound.strategies.run as run_module

    def params(options):
        seen = []
        chosen, opts = run_module._resolve(["portraits"], options)
        text = [
            (p, run_module._option_text(run_module._resolved(p, opts.get(p, {})))) for p in chosen
        ]
        seen.append(StrategiesParams(parts=chosen, options=tuple(text)))
        return seen[0]

    h = strat_market.content_hash
    default = params(None).key(h)
    assert params({"portraits": {"cap": "total"}}).key(h) == default  # the default, spelled out
    assert params({"portraits": {"cap": "float"}}).key(h) != default
    monkeypatch.setattr(run_module, "code_fingerprint", lambda: "other code")
    assert params(None).key(h) != default


def test_a_damaged_cache_entry_is_recomputed_with_a_warning(strat_market, tmp_path):
    first = run_strategies(strat_market, parts=["portraits"], cache=tmp_path)
    (entry,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    victim = next(entry.glob("portraits__monthly*"))
    victim.write_bytes(b"not parquet")
    with pytest.warns(UserWarning, match="damaged cached strategies"):
        again = run_strategies(strat_market, parts=["portraits"], cache=tmp_path)
    assert_frame_equal(again.table("portraits", "monthly"), first.table("portraits", "monthly"))


def test_an_option_without_stable_text_is_not_cached(strat_market, tmp_path):
    split = classify_participants(strat_market)
    run_strategies(
        strat_market, parts=["portraits"], options={"portraits": {"split": split}}, cache=tmp_path
    )
    assert list(tmp_path.iterdir()) == []


def test_an_in_memory_market_is_not_cached(strat_market, tmp_path):
    memory = Market({n: strat_market[n] for n in strat_market.names}, validate="none")
    out = run_strategies(memory, parts=["portraits"], cache=tmp_path)
    assert list(tmp_path.iterdir()) == []
    assert "portraits" in out.parts


def test_progress_names_each_part_and_stage(strat_market):
    seen: list[str] = []
    run_strategies(strat_market, parts=["portraits"], cache=False, progress=seen.append)
    assert seen[0].startswith("participant split: ")
    assert any(s.startswith("index coverage") for s in seen)
    assert re.fullmatch(r"portraits: \d+\.\ds", seen[-1])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"parts": ["nope"]}, r"`parts` must name parts of \['quota_band', 'threshold'"),
        ({"parts": []}, "`parts` must name"),
        ({"parts": "portraits"}, "sequence of part names"),
        ({"options": {"rotation": {"top": 5}}, "parts": ["portraits"]}, "do not run"),
        ({"options": {"portraits": {"colour": 1}}}, r"unknown keyword\(s\) \['colour'\].*cap"),
        ({"options": {"rotation": {"tops": (5,)}}}, r"takes the groups \['inputs', 'layered'"),
        ({"options": {"rotation": {"grid": {"colour": 1}}}}, r"\['grid'\]` has unknown.*tops"),
        ({"options": {"rotation": {"books": {"top": 3}}}}, r"unknown keyword\(s\) \['top'\]"),
        ({"options": {"rotation": {"grid": 5}}}, "must be a mapping"),
    ],
)
def test_bad_parameters_are_named(strat_market, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        run_strategies(strat_market, cache=False, **kwargs)


def test_a_missing_table_is_named_with_its_part_before_any_work(strat_market):
    def without(name):
        return Market(
            {n: strat_market[n] for n in strat_market.names if n != name}, validate="none"
        )

    with pytest.raises(
        MarketError,
        match=r"etf_rotation needs `etfs`.*parts=\['quota_band', 'threshold', 'portraits'",
    ):
        run_strategies(without("etfs"), cache=False)
    with pytest.raises(
        MarketError, match=r"portraits needs `participant_holdings`.*parts=\['quota_band'\]"
    ):
        run_strategies(without("participant_holdings"), cache=False)
    bare = Market({"prices": strat_market.prices}, validate="none")
    with pytest.raises(MarketError, match="none of the parts can run on it"):
        run_strategies(bare, cache=False)


@pytest.mark.slow
def test_the_report_has_every_named_figure_and_table(strat_market, result, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no figure may fail (a failure only logs a warning)
        path = write_strategies_report(result, tmp_path / "rep")
    text = path.read_text(encoding="utf-8")
    plan = strategy_figure_plan(result)
    for part, names in NAMED_FIGURES.items():
        assert names <= {n for p, n, _, _ in plan if p == part}
    for part, name, _, _ in plan:
        assert f'id="fig-{part}_{name}"' in text
        assert (tmp_path / "rep" / "figures" / f"{part}_{name}.png").stat().st_size > 5_000
    assert "could not be drawn" not in text
    for t in headline_tables(result):
        assert html.escape(t.caption) in text
    assert strat_market.content_hash[:16] in text  # the report names the data it ran on
    assert (tmp_path / "rep" / "summary.md").is_file()


@pytest.mark.slow
def test_the_command_prints_the_tables_and_writes_the_report(
    strat_market, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("FACTORLAB_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "report"
    code = main(["strategies", "--market", str(strat_market.path), "--out", str(out)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    for caption in ("Table 1 (表1)", "Table 2 (表2)", "Table 3 (表3)", "Index coverage on"):
        assert caption in printed.out
    assert "Cumulative net flow by kind" in printed.out
    assert strat_market.content_hash[:16] in printed.out
    page = (out / "report.html").read_text(encoding="utf-8")
    for part, names in NAMED_FIGURES.items():
        for name in names:
            assert f'id="fig-{part}_{name}"' in page
    for caption in (
        "Seed 000's quota-band timing",
        "Tables 4-5 (表4-5)",
        "Tables 6-7 (表6-7)",
        "Table 9 (表9)",
        "Tables 12-16",
        "Tables 10-11",
        "Table 18 (表18)",
    ):
        assert caption in printed.out
    assert "[" in printed.err and "portraits: " in printed.err  # progress lines
    # the command cached its result where FACTORLAB_CACHE says: a rerun reads it back
    seen: list[str] = []
    run_strategies(strat_market, progress=seen.append)
    assert seen[0].startswith(f"cached strategies: {tmp_path / 'cache' / 'strategies'}")


def test_the_command_refuses_a_foreign_folder_before_any_work(strat_market, tmp_path, capsys):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    code = main(["strategies", "--market", str(strat_market.path), "--out", str(foreign)])
    assert code == 2
    err = capsys.readouterr().err
    assert "refusing to write into it" in err and "running the northbound" not in err


def test_the_repr_names_the_data_and_the_parts(result):
    text = repr(result)
    assert "StrategiesResult" in text and "portraits" in text
    assert f"content hash {result.data['content_hash'][:16]}" in text  # as every result says


def test_a_missing_frame_is_named(result):
    with pytest.raises(ParameterError, match="no frame `nope` of part `portraits`"):
        result.table("portraits", "nope")


def test_tables_are_polars_frames(result):
    for part in result.parts:
        for frame in (*result.tables[part].values(), *result.series[part].values()):
            assert isinstance(frame, pl.DataFrame)


@pytest.mark.slow
def test_the_real_data_part_times_csi300_on_all_flows_and_says_what_is_not_public(tmp_path, capsys):
    from factorlab.datasets.real import default_path
    from factorlab.northbound.strategies import NOT_PUBLIC, SEED_TIMING_CLAIMS

    if not default_path().is_dir():
        pytest.skip("../shared/realdata is absent")
    code = main(["strategies", "--real", "--out", str(tmp_path / "real")])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "Real data against the seed's claims" in printed.out
    assert "20.35" in printed.out and "1.50" in printed.out  # the seed's CSI 300 claim
    assert NOT_PUBLIC[:60] in printed.out
    page = (tmp_path / "real" / "report.html").read_text(encoding="utf-8")
    for name in ("surfaces", "nav", "quota_band", "quota_nav"):
        assert f'id="fig-real_data_{name}"' in page
    assert html.escape(NOT_PUBLIC) in page
    assert SEED_TIMING_CLAIMS["csi300"] == (0.2035, 1.50)
