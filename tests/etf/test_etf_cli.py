"""`factorlab etf-flows`: the seed's table with every column, the figure, the real sample."""

from __future__ import annotations

import pytest

from factorlab.cli import main
from factorlab.datasets.real import default_path

COLUMNS = ["板块 sector", "今日涨跌 change", "成交额 amount", "量能比 volume ratio",
           "资金评分 score (heuristic)", "stars (heuristic)", "流向判断 direction (heuristic)",
           "flow (window)", "flow kind"]  # fmt: skip


def test_the_command_prints_every_column_and_writes_the_figure(etf_market, tmp_path, capsys):
    out = tmp_path / "flows"
    argv = ["etf-flows", "--market", str(etf_market.path), "--days", "5", "--out", str(out),
            "--sectors", "半导体", "SH.515070", "3033.HK", "QQQ"]  # fmt: skip
    assert main(argv) == 0
    text = capsys.readouterr().out
    for col in COLUMNS:
        assert col in text
    for name in ("半导体", "人工智能", "恒生科技", "科技"):
        assert name in text
    assert "exact = net creations x NAV" in text
    assert "content hash" in text
    assert (out / "etf_flows.csv").is_file() and (out / "etf_flows_daily.parquet").is_file()
    assert (out / "cumulative_flows.png").stat().st_size > 10_000


def test_bad_input_exits_2_with_the_reason(etf_market, tmp_path, capsys):
    argv = ["etf-flows", "--market", str(etf_market.path), "--out", str(tmp_path / "x")]
    assert main([*argv, "--sectors", "纺织服装"]) == 2
    assert "has no ETF in this market" in capsys.readouterr().err
    assert main([*argv, "--sectors", "510999"]) == 2
    assert "unknown" in capsys.readouterr().err


@pytest.mark.slow
def test_the_real_sample_works_heuristic_only(tmp_path, capsys):
    if not default_path().is_dir():
        pytest.skip("../shared/realdata not found")
    assert main(["etf-flows", "--market", "real", "--out", str(tmp_path / "r")]) == 0
    text = capsys.readouterr().out
    assert "heuristic only" in text and "no shares outstanding or NAV" in text
    assert "证券" in text and "银行" in text  # sector names from the reference table
    assert "exact" not in text.split("flow kind")[-1]
