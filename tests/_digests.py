"""Digests of the synthetic generator's tables, and the CPU "numerics family" they follow, for
tests/test_synthetic_pinned.py. Import with ``from _digests import ...`` (pytest puts
``tests/`` on ``sys.path``). ``python tests/_digests.py`` generates `PINNED_CONFIG`'s market
and prints ``<family> <blas> <digest>``: the pinned test runs it in a child process that
computes as a ``baseline`` CPU (`baseline_env`).
"""

from __future__ import annotations

import hashlib
import platform

import numpy as np
import polars as pl

#: A small market that still covers every stage: both links, the daily disclosure and the
#: quarterly snapshots after it, the ETFs and the participant split (about 2 s).
PINNED_CONFIG = {"n_assets": 150, "start": "2016-06-01", "end": "2024-12-31", "seed": 11}

#: What makes an ``avx512`` host compute as a ``baseline`` one (checked 2026-12-04 on an Intel
#: Xeon with numpy 2.4: the child's digest equals the one measured on an AMD EPYC family 23):
#: numpy's AVX-512 dispatch off (its ``exp`` / ``log`` then run the AVX2 code, its ``power``
#: the C library's) and OpenBLAS's Haswell kernels, the ones it picks on AVX2 CPUs such as AMD
#: Zen 1-3 (its SkylakeX kernels sum in another order). Either alone gives a third digest.
OPENBLAS_BASELINE = "Haswell"


def baseline_env() -> dict[str, str]:
    """The environment of `OPENBLAS_BASELINE`'s child: every AVX-512 target numpy dispatches
    to (``X86_V4`` and the ``AVX512_*`` groups from numpy 2.4, ``AVX512F`` ... before) named
    in ``NPY_DISABLE_CPU_FEATURES``, OpenBLAS's core type forced."""
    from numpy._core._multiarray_umath import __cpu_dispatch__

    avx512 = [f for f in __cpu_dispatch__ if f == "X86_V4" or f.startswith("AVX512")]
    return {"NPY_DISABLE_CPU_FEATURES": " ".join(avx512), "OPENBLAS_CORETYPE": OPENBLAS_BASELINE}


def numerics_family() -> str:
    """Which float64 ``exp`` / ``log`` / ``power`` numpy runs here: its AVX-512 code (its own
    ``exp`` / ``log``, SVML's ``power``; numpy's ``X86_V4`` target, on CPUs with AVX-512
    F/CD/VL/BW/DQ: Skylake-X and later, AMD Zen 4 and later) gives ``"avx512"``; the C
    library's gives ``"baseline"``. The two round differently in the last bit, and the
    generator's tables follow (docs/synthetic.md, "Same bits on every machine?"), so each
    family has its own pinned digest (OpenBLAS's kernels, which follow the CPU as well, come
    with the family: `baseline_env`). Read from numpy's own dispatch report (numpy >= 2.0)."""
    from numpy.lib import introspect

    info = introspect.opt_func_info(func_name="^(exp|log|power)$", signature="^d")
    targets = [t["current"] for sigs in info.values() for t in sigs.values()]
    return "avx512" if any("X86_V4" in t or "AVX512" in t for t in targets) else "baseline"


def blas_name() -> str:
    """The BLAS numpy was built with (``scipy-openblas`` for the PyPI wheels)."""
    return str(np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"])


def platform_text() -> str:
    libc = " ".join(platform.libc_ver()) or "unknown libc"
    return f"numpy {np.__version__}, {platform.system()} {platform.machine()}, {libc}"


def column_digest(s: pl.Series) -> str:
    """sha256 of a column's name, dtype, null mask and values (strings NUL-joined; dates,
    datetimes and booleans as integers; floats by their bits)."""
    h = hashlib.sha256(f"{s.name}|{s.dtype}|".encode())
    h.update(s.is_null().to_numpy().tobytes())
    if s.dtype == pl.String:
        h.update("\x00".join(s.fill_null("").to_list()).encode())
    else:
        if s.dtype == pl.Date:
            s = s.cast(pl.Int32)
        elif s.dtype == pl.Datetime or s.dtype == pl.Boolean:
            s = s.cast(pl.Int64)
        h.update(np.ascontiguousarray(s.fill_null(0).to_numpy()).tobytes())
    return h.hexdigest()


def table_digests(tables: dict[str, pl.DataFrame]) -> dict[str, str]:
    """One digest per table (rows in their generated order) and ``"all"`` over them."""
    out = {
        name: hashlib.sha256(
            "".join(column_digest(frame[c]) for c in frame.columns).encode()
        ).hexdigest()
        for name, frame in sorted(tables.items())
    }
    out["all"] = hashlib.sha256("".join(f"{k}:{v}" for k, v in out.items()).encode()).hexdigest()
    return out


def pinned_market_digest() -> str:
    """The digest of every table of `PINNED_CONFIG`'s market, generated here."""
    from factorlab.datasets import preset_params
    from factorlab.datasets.synthetic import generate

    return table_digests(generate(preset_params("small", **PINNED_CONFIG)))["all"]


if __name__ == "__main__":
    print(numerics_family(), blas_name(), pinned_market_digest())
