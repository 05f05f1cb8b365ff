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
