"""docs/real-data.md: every ```python block runs as written, in order, in one namespace (a
block may use names an earlier one defined, as a reader would run them). Blocks fenced
```python tushare need a tushare token and the network; they are only compiled. Skipped when
../shared/realdata is absent (the blocks read the real sample)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from factorlab.datasets.real import default_path

DOC = Path(__file__).resolve().parents[1] / "docs" / "real-data.md"
FENCE = re.compile(r"^```python([^\n]*)\n(.*?)^```", re.S | re.M)


def blocks() -> list[tuple[str, str, int]]:
    text = DOC.read_text(encoding="utf-8")
    return [
        (m.group(1).strip(), m.group(2), text[: m.start()].count("\n") + 1)
        for m in FENCE.finditer(text)
    ]


def test_the_doc_has_runnable_blocks():
    kinds = [k for k, _, _ in blocks()]
    assert kinds.count("") >= 3 and kinds.count("tushare") == 1


@pytest.mark.slow
def test_every_python_block_runs_as_written():
    if not default_path().is_dir():
        pytest.skip(f"../shared/realdata not found: {default_path()} (set $FACTORLAB_REALDATA)")
    namespace: dict = {"__name__": "docs_real_data"}
    ran = 0
    for kind, code, line in blocks():
        compiled = compile(code, f"{DOC.name}:{line}", "exec")
        if kind == "tushare":
            continue  # needs a token and the network: compiled only
        exec(compiled, namespace)
        ran += 1
    assert ran >= 3
    # the recipes' results are what the doc says they are
    assert namespace["csi300"].dropped["rows"].to_list() == [7]
    ic = namespace["ic_summary"](namespace["ev"].ic)
    assert set(ic["pool"]) == {"csi300", "csi500"} and ic.height == 4
    drops = namespace["ev"].drops
    assert drops is not None
