"""Build factorlab's API reference from its docstrings with pdoc (the ``docs`` extra).

``make docs`` runs this (into docs/api/, not committed); tests/test_docs_build.py runs
:func:`build` into a temporary directory. Every public module is documented (a package's
``__all__`` would otherwise hide the submodules it does not re-export); modules whose name has a
segment starting with ``_`` are private and left out. Any warning pdoc raises (an unparsable
docstring or annotation, a module that fails to import) is an error.

    python docs/build_api.py OUT_DIR
"""

from __future__ import annotations

import pkgutil
import sys
import warnings
from pathlib import Path


def public_modules(package: str = "factorlab") -> list[str]:
    """`package` and every submodule without a private (``_``) segment, sorted."""
    root = __import__(package)
    names = [package]
    for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


def build(out: Path) -> list[str]:
    """Write the reference to `out`; return pdoc's warnings (empty when the build is clean)."""
    import pdoc
    import pdoc.extract
    import pdoc.render

    pdoc.render.configure(docformat="numpy", search=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        specs: list[str] = []
        covered: set[str] = set()
        for name in public_modules():  # a spec brings the submodules its package re-exports
            if name not in covered:
                specs.append(name)
                covered.update(pdoc.extract.walk_specs([name]))
        pdoc.pdoc(*specs, output_directory=Path(out))
    return [f"{w.category.__name__}: {w.message}" for w in caught]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python docs/build_api.py OUT_DIR")
    problems = build(Path(sys.argv[1]))
    for line in problems:
        print(line, file=sys.stderr)
    if problems:
        sys.exit(f"{len(problems)} warning(s): the API reference is not clean")
    print(f"API reference: {Path(sys.argv[1]) / 'index.html'}")
