"""Every recipe in docs/*.md (except docs/real-data.md: tests/test_docs_real_data.py) and the
README's quick start runs as written: a file's ```python blocks run in order in one namespace,
as a reader would paste them, in a temporary working directory with ``FACTORLAB_CACHE`` in a
temporary directory (shared by the files, so the small market is generated once).

A block is skipped, with its reason, when the line before its fence is
``<!-- recipe: skip (reason) -->`` (keep those rare: a block too slow for the suite), or when it
reads ../shared/realdata and that folder is absent. Other fences (```sh, plain ```) are not
Python and are not run.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from factorlab.datasets.real import default_path

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
SKIP = re.compile(r"<!--\s*recipe:\s*skip\s*(?:\((.*)\))?\s*-->\s*$")
REAL_DATA = ("real_sample(", "shared/realdata", "FACTORLAB_REALDATA")
#: docs whose recipes take more than a few seconds (generation, a full study, figures)
SLOW = {"northbound.md", "tearsheet.md"}


def recipe_files() -> list[Path]:
    docs = sorted(p for p in (ROOT / "docs").glob("*.md") if p.name != "real-data.md")
    return [ROOT / "README.md", *docs]


def blocks(path: Path) -> list[tuple[int, str, str | None]]:
    """``(line, code, skip reason or None)`` for each ```python block of `path`."""
    text = path.read_text(encoding="utf-8")
    out = []
    for m in FENCE.finditer(text):
        line = text[: m.start()].count("\n") + 1
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = SKIP.search(before)
        out.append((line, m.group(1), (marker.group(1) or "marked skip") if marker else None))
    return out


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("recipes-cache")


def test_recipe_files_and_markers_are_found():
    names = [p.name for p in recipe_files()]
    assert names[0] == "README.md" and "evaluate.md" in names and "real-data.md" not in names
    assert all(p.is_file() for p in recipe_files())
    assert len(blocks(ROOT / "README.md")) == 1  # the quick start
    sample = "x\n<!-- recipe: skip (needs a GPU) -->\n```python\nboom()\n```\n\n```python\n1\n```\n"
    doc = ROOT / "tests" / "_recipe_sample.md"
    try:
        doc.write_text(sample, encoding="utf-8")
        assert blocks(doc) == [(3, "boom()\n", "needs a GPU"), (7, "1\n", None)]
    finally:
        doc.unlink()


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(p, id=p.name, marks=[pytest.mark.slow] if p.name in SLOW else [])
        for p in recipe_files()
    ],
)
def test_recipes_run_as_written(path, tmp_path, shared_cache, monkeypatch):
    found = blocks(path)
    if not found:
        pytest.skip(f"{path.name} has no ```python block")
    monkeypatch.setenv("FACTORLAB_CACHE", str(shared_cache))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"recipes_{path.stem}"}
    skipped = []
    for line, code, reason in found:
        if reason is None and any(k in code for k in REAL_DATA) and not default_path().is_dir():
            reason = f"../shared/realdata not found ({default_path()})"
        if reason is not None:
            skipped.append(f"{path.name}:{line}: {reason}")
            continue
        compiled = compile(code, f"{path.name}:{line}", "exec")
        try:
            exec(compiled, namespace)
        except Exception as exc:  # the block and its line say which recipe is broken
            raise AssertionError(
                f"the ```python block at {path.name}:{line} does not run as written: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
    if skipped and len(skipped) == len(found):
        pytest.skip("; ".join(skipped))
