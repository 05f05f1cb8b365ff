"""The API reference (``make docs``: pdoc over the docstrings) builds without a warning or an
error, and documents the public face of the package."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

pytest.importorskip("pdoc", reason="pdoc is not installed (the `docs` extra: pip install .[docs])")


ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_api_reference_builds_without_warnings(tmp_path):
    builder = runpy.run_path(str(ROOT / "docs" / "build_api.py"))
    problems = builder["build"](tmp_path)
    assert not problems, "\n".join(problems)
    pages = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.html")}
    for page in (
        "index.html",
        "factorlab.html",
        "factorlab/evaluate.html",
        "factorlab/backtest.html",
        "factorlab/northbound/study.html",
        "factorlab/progress.html",
    ):
        assert page in pages, sorted(pages)
    study = (tmp_path / "factorlab/northbound/study.html").read_text(encoding="utf-8")
    assert "factor_study" in study and "Run the handbook" in study
    assert not any(p.startswith("factorlab/_") for p in pages)  # private modules stay private
