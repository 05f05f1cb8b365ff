"""The command line: data synth / data info on a small market, and clear errors."""

from __future__ import annotations

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
