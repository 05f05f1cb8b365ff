"""The command line: data synth / data info on a small market, and clear errors."""

from __future__ import annotations

import pytest

from factorlab.cli import main


def test_synth_then_info(tmp_path, capsys):
    out = tmp_path / "m"
    assert main(["data", "synth", "--preset", "small", "--n-assets", "100", "--out", str(out)]) == 0
    first = capsys.readouterr()
    assert "content hash" in first.err
    assert (out / "manifest.json").is_file()
    assert main(["data", "info", str(out)]) == 0
    text = capsys.readouterr().out
    for table in ("prices", "northbound", "participant_holdings", "quotas", "short_sellable"):
        assert table in text
    assert "share_of_float_cap_pct" in text


def test_info_on_a_non_market_dir_is_a_clear_error(tmp_path, capsys):
    assert main(["data", "info", str(tmp_path)]) == 2
    assert "not a factorlab market directory" in capsys.readouterr().err


def test_strengths_reach_the_generator(tmp_path, capsys):
    out = tmp_path / "m"
    assert (
        main(
            [
                "data",
                "synth",
                "--preset",
                "small",
                "--n-assets",
                "60",
                "--selection",
                "0",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert "'selection': 0.0" in capsys.readouterr().out


def test_synth_refuses_a_foreign_directory_and_keeps_it(tmp_path, capsys):
    webapp = tmp_path / "webapp"
    (webapp / "src").mkdir(parents=True)
    (webapp / "manifest.json").write_text('{"name": "my-web-app"}')
    (webapp / "src" / "index.js").write_text("keep")
    argv = ["data", "synth", "--preset", "small", "--n-assets", "60", "--out", str(webapp)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "not a factorlab market directory" in err and str(webapp) in err
    assert (webapp / "src" / "index.js").read_text() == "keep"
    assert (webapp / "manifest.json").read_text() == '{"name": "my-web-app"}'


def test_info_on_a_corrupt_file_is_a_clean_error(tmp_path, capsys):
    out = tmp_path / "m"
    argv = ["data", "synth", "--preset", "small", "--n-assets", "60", "--out", str(out)]
    assert main([*argv[:-2], "--seed", "7", *argv[-2:]]) == 0
    capsys.readouterr()
    target = out / "prices.parquet"
    data = bytearray(target.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 64] = bytes(b ^ 0xFF for b in data[mid : mid + 64])
    target.write_bytes(bytes(data))
    assert main(["data", "info", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("factorlab: error:") and "`prices.parquet`" in err
    assert "Traceback" not in err
    target.write_bytes(bytes(data[:mid]))  # truncated
    assert main(["data", "info", str(out)]) == 2
    assert "`prices.parquet` of table `prices` has" in capsys.readouterr().err


# --- the study command: user factors, options, report folder, list ------------------------------


def _study_argv(market_dir, out, *extra):
    return [
        "study",
        "--market",
        str(market_dir),
        "--pools",
        "csi300",
        "--start",
        "2021-01-01",
        "--end",
        "2022-12-31",
        "--no-cache",
        "--out",
        str(out),
        *extra,
    ]


@pytest.mark.slow
def test_study_with_a_factors_file_end_to_end(small_market, tmp_path, capsys):
    import polars as pl

    from factorlab.northbound.factors import northbound_factors
    from factorlab.northbound.hygiene import research_panel
    from factorlab.northbound.study import factor_study
    from factorlab.ops import compute_factors
    from factorlab.report.tables import format_value

    panel = research_panel(small_market, start="2021-01-01", end="2022-12-31").frame
    values = (
        compute_factors(panel, [northbound_factors().get("nb_hold_ratio")])
        .select("date", "asset", my_ratio="nb_hold_ratio", my_neg=-pl.col("nb_hold_ratio"))
        .collect()
    )
    csv = tmp_path / "mine.csv"
    values.write_csv(csv)
    out = tmp_path / "report"
    argv = _study_argv(small_market.path, out, "--factors-file", str(csv))
    assert main([*argv, "--factors", "nb_hold_ratio", "--no-costs"]) == 0
    captured = capsys.readouterr()
    text = captured.out
    lines = text.splitlines()
    assert max(len(ln) for ln in lines) <= 120
    rows = {ln.split()[0]: ln.split() for ln in lines if ln.split()[:2][-1:] == ["csi300"]}
    assert set(rows) == {"nb_hold_ratio", "my_ratio*", "my_neg*"}
    assert rows["my_ratio*"][2:] == rows["nb_hold_ratio"][2:]  # the same numbers
    # and they are the Python API's numbers
    api = factor_study(
        small_market,
        factors=[{"my_ratio": values.select("date", "asset", "my_ratio")}],
        pools=["csi300"],
        start="2021-01-01",
        end="2022-12-31",
        costs=__import__("factorlab.backtest", fromlist=["NO_COSTS"]).NO_COSTS,
        cache=False,
    )
    assert rows["my_ratio*"][2] == format_value(api.table["long_excess_ann"][0], "fraction_pct")
    assert "Key findings" in text and "* user factor" in text
    assert "data: factorlab synthetic market, preset small" in text
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "User factors" in page and "column `my_neg` of a user frame" in page
    assert "slippage" in page and "commission 0%" in page  # --no-costs in words


def test_study_refuses_a_foreign_out_folder_before_any_work(small_market, tmp_path, capsys):
    out = tmp_path / "elsewhere"
    out.mkdir()
    (out / "thesis.tex").write_text("keep")
    assert main(_study_argv(small_market.path, out, "--factors", "nb_hold_ratio")) == 2
    err = capsys.readouterr().err
    assert f"report folder `{out}`" in err and "--force" in err and "running" not in err
    assert [p.name for p in out.iterdir()] == ["thesis.tex"]


def test_study_factors_file_errors(small_market, tmp_path, capsys):
    def run(path) -> str:
        argv = ["study", "--market", str(small_market.path), "--factors-file", str(path)]
        assert main([*argv, "--out", str(tmp_path / "r")]) == 2
        err = capsys.readouterr().err
        assert "running" not in err  # refused before any work
        return err

    assert "does not exist" in run(tmp_path / "nope.parquet")
    bad = tmp_path / "bad.csv"
    bad.write_text("date,code,x\n2021-01-04,600519.SH,1.0\n")
    assert "has no column(s) `asset`" in run(bad)
    bad.write_text("date,asset,x\n04/01/2021,600519.SH,1.0\n")
    assert "do not parse, e.g. '04/01/2021'" in run(bad)
    bad.write_text("date,asset\n2021-01-04,600519.SH\n")
    assert "no factor column" in run(bad)


def test_a_missing_market_path_does_not_exist(tmp_path, capsys):
    assert main(["data", "info", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_list_factors_and_pools(small_market, capsys):
    assert main(["list", "factors"]) == 0
    text = capsys.readouterr().out
    assert "nb_hold_value" in text and "nb_trading_cum_inflow20" in text
    rows = [
        ln.split()[:2]
        for ln in text.splitlines()
        if ln.split()[1:2] and ln.split()[1].startswith("nb_")
    ]
    assert [r[0] for r in rows] == [*map(str, range(1, 15)), "14a", "14b", "14c"]
    assert rows[14][1] == "nb_trading_cum_inflow_ratio20"
    assert main(["list", "pools", "--market", str(small_market.path)]) == 0
    text = capsys.readouterr().out
    for pool in ("csi300", "csi500", "liq1500"):
        assert pool in text


def test_every_study_option_has_help_and_a_default(capsys):
    with pytest.raises(SystemExit):
        main(["study", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for option in (
        "--factors-file",
        "--start",
        "--end",
        "--rebalance",
        "--entry",
        "--weighting",
        "--benchmark-weighting",
        "--capital",
        "--no-costs",
        "--wide",
        "--force",
    ):
        assert option in text
    assert "(default: 20)" in text and "(default: 0.2)" in text and "(default: weekly)" in text
