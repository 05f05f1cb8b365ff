"""The synthetic generator's output is pinned: a small configuration's tables have a fixed digest.

A speed refactor of the generator must leave every table identical; a change of its semantics
must bump ``GENERATOR_VERSION`` (which invalidates every cached market) and re-pin the digest
here in the same commit. The digest is computed from the frames' values (not the parquet bytes),
so it does not move with the parquet writer or the Polars version.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from contextlib import contextmanager

import numpy as np
import polars as pl
import pytest
from _digests import (
    PINNED_CONFIG,
    baseline_env,
    column_digest,
    numerics_family,
    platform_text,
    table_digests,
)

from factorlab.datasets import GENERATOR_VERSION, preset_params
from factorlab.datasets.synthetic import generate

#: GENERATOR_VERSION -> numerics family (:func:`numerics_family`) -> the digest of every table
#: of PINNED_CONFIG (see `table_digests`).
PINNED = {
    7: {"avx512": "36f4cf271a56f57463e356d28123a031154c852f17fdda87566ee21e9b0951e9"},
    # 8 changed the `default` and `large` presets' strengths (CALIBRATED); at the planted
    # strengths (this preset, `small`) the output is the same
    8: {"avx512": "36f4cf271a56f57463e356d28123a031154c852f17fdda87566ee21e9b0951e9"},
    # 9 added allocation_bursts, trading_baskets and basket_size (calibrated 1/3, 2.2, 0; 1 at
    # the planted strengths): again only `default` and `large` changed
    9: {"avx512": "36f4cf271a56f57463e356d28123a031154c852f17fdda87566ee21e9b0951e9"},
    # 10 changed CALIBRATED again (selection, allocation, selection_vol, selection_flow,
    # trading_speed, interest_quality): only `default` and `large` changed. "baseline" measured
    # 2026-12-03 on an AMD EPYC (family 23, AVX2, no AVX-512): the same code, other bits
    10: {
        "avx512": "36f4cf271a56f57463e356d28123a031154c852f17fdda87566ee21e9b0951e9",
        "baseline": "3c1b94c00f9732d49214ea4e9dcb77b4fb367ababcdb1ac96cba0eda5c472b67",
    },
}


def pinned_digest() -> str:
    """This machine's pinned digest for GENERATOR_VERSION (a failure names what to pin)."""
    family = numerics_family()
    assert GENERATOR_VERSION in PINNED, (
        f"GENERATOR_VERSION {GENERATOR_VERSION} has no pinned digest: add {GENERATOR_VERSION}: "
        f"{{{family!r}: <the digest>}} to PINNED (after checking the change is meant)."
    )
    assert family in PINNED[GENERATOR_VERSION], (
        f"no digest is pinned for GENERATOR_VERSION {GENERATOR_VERSION} on this CPU's numerics "
        f"({family!r}, {platform_text()}; pinned: {sorted(PINNED[GENERATOR_VERSION])}): "
        "check on a pinned machine that the output is unchanged, then pin this machine's digest "
        "beside it "
        "(an 'avx512' host computes the 'baseline' one too: "
        "test_generator_output_is_pinned_in_the_baseline_numerics_too)."
    )
    return PINNED[GENERATOR_VERSION][family]


def test_column_digest_sees_values_nulls_and_order():
    a = pl.Series("x", [1.0, None, 3.0])
    assert column_digest(a) == column_digest(pl.Series("x", [1.0, None, 3.0]))
    assert column_digest(a) != column_digest(pl.Series("x", [1.0, 0.0, 3.0]))  # null vs 0
    assert column_digest(a) != column_digest(pl.Series("x", [3.0, None, 1.0]))  # order
    assert column_digest(a) != column_digest(pl.Series("y", [1.0, None, 3.0]))  # name
    assert column_digest(a) != column_digest(pl.Series("x", [1.0, None, 3.0 + 2**-50]))
    s = pl.Series("s", ["ab", "c"])
    assert column_digest(s) != column_digest(pl.Series("s", ["a", "bc"]))


@pytest.fixture(scope="module")
def pinned_tables() -> dict[str, pl.DataFrame]:
    return generate(preset_params("small", **PINNED_CONFIG))


def test_generator_output_is_pinned(pinned_tables):
    digests = table_digests(pinned_tables)
    assert digests["all"] == pinned_digest(), (
        "the synthetic generator's output changed for the same parameters "
        f"(digests now: {digests}; numerics {numerics_family()!r}, {platform_text()}). A speed "
        "refactor must not change it; a meant change of the generator bumps GENERATOR_VERSION in "
        "factorlab/datasets/__init__.py and pins the new digest here. (A platform whose libm or "
        "numpy SIMD code rounds otherwise than the pinned ones also lands here: see "
        "docs/synthetic.md, 'Same bits on every machine?'.)"
    )


def test_generator_output_is_pinned_in_the_baseline_numerics_too():
    """On an ``avx512`` host the ``baseline`` digest is checked as well, in a child process that
    computes as an AVX2 CPU does (`_digests.baseline_env`), so a change of the generator made
    here fails until both families' digests are pinned. A ``baseline`` host cannot compute as
    an ``avx512`` one: there `test_generator_output_is_pinned` checks its own family only."""
    if numerics_family() != "avx512":
        pytest.skip(f"this host computes {numerics_family()!r} already (the test above checks it)")
    env = {**os.environ, **baseline_env()}
    child = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_digests.py")
    out = subprocess.run(
        [sys.executable, child], env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-3000:]
    family, blas, digest = out.stdout.split()[-3:]
    if family != "baseline" or not blas.startswith("scipy-openblas"):
        pytest.skip(
            f"{baseline_env()} does not make this numpy compute as a baseline CPU (child: "
            f"{family!r} numerics, BLAS {blas!r}; {platform_text()})"
        )
    pinned = PINNED.get(GENERATOR_VERSION, {}).get("baseline")
    assert digest == pinned, (
        f"the generator's output in the baseline numerics ({baseline_env()}) is {digest}, "
        f"pinned {pinned}: a meant change pins it as PINNED[{GENERATOR_VERSION}]['baseline']"
    )


def test_generation_is_repeatable_in_process(pinned_tables):
    again = generate(preset_params("small", **PINNED_CONFIG))
    assert table_digests(again) == table_digests(pinned_tables)


def test_noise_drawn_when_asked_on_one_thread_is_the_same(monkeypatch):
    """The components', returns' and bars' noise is drawn ahead on a second thread; on one
    thread (``FACTORLAB_THREADS=1``) it is drawn when asked for: the same tables, equal to the
    pinned digest both ways (the threaded side forced, whatever CPUs the runner has). The
    generator's own calls of ``computed_ahead`` are recorded: the test fails if it stopped
    drawing ahead."""
    from concurrent.futures import Future

    from factorlab._kernels.parallel import Later
    from factorlab.datasets import synthetic as synth

    asked: list[tuple[int, type]] = []
    real = synth.computed_ahead

    @contextmanager
    def recorded(threads: int):
        with real(threads) as ahead:

            def submit(fn, *args):
                job = ahead(fn, *args)
                asked.append((threads, type(job)))
                return job

            yield submit

    monkeypatch.setattr(synth, "computed_ahead", recorded)
    monkeypatch.setenv("FACTORLAB_THREADS", "2")
    two = generate(preset_params("small", **PINNED_CONFIG))
    assert asked and all(t == 2 and issubclass(k, Future) for t, k in asked)  # a second thread
    asked.clear()
    monkeypatch.setenv("FACTORLAB_THREADS", "1")
    one = generate(preset_params("small", **PINNED_CONFIG))
    assert asked and all(t == 1 and k is Later for t, k in asked)  # drawn when asked for
    assert table_digests(one) == table_digests(two)
    assert table_digests(two)["all"] == pinned_digest()


# ---- the writer thread (datasets._write_behind) ----------------------------------------------
class _Recorder:
    def __init__(self, fail_on: str | None = None) -> None:
        self.added: list[str] = []
        self.fail_on = fail_on

    def add(self, name: str, frame: pl.DataFrame) -> None:
        if name == self.fail_on:
            raise OSError(f"disk full writing {name}")
        self.added.append(name)


def _tables(n: int, fail_at: int | None = None):
    for i in range(n):
        if i == fail_at:
            raise ValueError("generation failed")
        yield f"t{i}", pl.DataFrame({"x": [i]})


def test_write_behind_adds_every_table_in_order():
    from factorlab.datasets import _write_behind

    rec = _Recorder()
    _write_behind(rec, _tables(5))
    assert rec.added == ["t0", "t1", "t2", "t3", "t4"]
    _write_behind(rec, _tables(0))  # nothing to write
    assert len(rec.added) == 5


def test_write_behind_raises_either_sides_error():
    from factorlab.datasets import _write_behind

    rec = _Recorder()
    with pytest.raises(ValueError, match="generation failed"):
        _write_behind(rec, _tables(5, fail_at=3))
    # the write in flight is finished first, the ones not started are dropped (the staging
    # directory of a failed generation is discarded): what was written is an in-order prefix
    assert rec.added == ["t0", "t1", "t2"][: len(rec.added)]
    with pytest.raises(OSError, match="disk full writing t2"):
        _write_behind(_Recorder(fail_on="t2"), _tables(5))
    with pytest.raises(OSError, match="disk full writing t4"):  # the last table's write
        _write_behind(_Recorder(fail_on="t4"), _tables(5))


class _SlowFirst(_Recorder):
    """A writer whose first write lasts until the generator has reached table t3 (or 1 s)."""

    def __init__(self) -> None:
        super().__init__()
        self.reached = threading.Event()
        self.ahead: bool | None = None

    def add(self, name: str, frame: pl.DataFrame) -> None:
        if name == "t0":
            self.ahead = self.reached.wait(1.0)
        super().add(name, frame)

    def tables(self):
        for name, frame in _tables(5):
            if name == "t3":
                self.reached.set()
            yield name, frame


@pytest.mark.parametrize(("queue_bytes", "ran_ahead"), [(1 << 20, True), (0, False)])
def test_write_behind_queues_small_tables_behind_a_long_write(queue_bytes, ran_ahead):
    """The generator goes on while a long write runs (``prices``): the small tables after it
    queue; with no queue room it waits for the writer after one table."""
    from factorlab.datasets import _write_behind

    rec = _SlowFirst()
    _write_behind(rec, rec.tables(), queue_bytes=queue_bytes)
    assert rec.added == ["t0", "t1", "t2", "t3", "t4"]
    assert rec.ahead is ran_ahead


def test_write_behind_skips_the_tables_behind_a_failed_write():
    from factorlab.datasets import _write_behind

    queued = threading.Event()

    class _Failing(_Recorder):
        def add(self, name: str, frame: pl.DataFrame) -> None:
            if name == "t1":
                queued.wait(1.0)  # t2 .. t4 are queued behind this write when it fails
            super().add(name, frame)

    def tables():
        yield from _tables(5)
        queued.set()

    rec = _Failing(fail_on="t1")
    with pytest.raises(OSError, match="disk full writing t1"):
        _write_behind(rec, tables())
    assert rec.added == ["t0"]


# ---- the generator's one-pass kernels equal the numpy calls they replace, bit for bit ----------
_SPECIALS = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e308, -1e-310, 2.5, -3.0])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_pass_kernels_equal_numpy_bitwise(seed):
    from factorlab._kernels.grid import nan_cumsum_count_rows_nb
    from factorlab.datasets._synth_kernels import cumprod_rows, cumsum_rows, nan_to_num

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((37, 11)) * 10.0 ** rng.integers(-3, 300, (37, 11))
    x[rng.random(x.shape) < 0.2] = np.nan
    x.flat[rng.choice(x.size, len(_SPECIALS), replace=False)] = _SPECIALS

    def same(a, b):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes() == b.tobytes()

    same(nan_to_num(x), np.nan_to_num(x))
    same(nan_to_num(x[:, 0]), np.nan_to_num(x[:, 0]))
    same(nan_to_num(x[:, ::2]), np.nan_to_num(x[:, ::2]))  # not contiguous: numpy's own
    y = np.nan_to_num(x) / 1e290
    same(cumsum_rows(y), np.cumsum(y, axis=0))
    same(cumprod_rows(1.0 + np.abs(y) / 7.0), np.cumprod(1.0 + np.abs(y) / 7.0, axis=0))
    s, c = nan_cumsum_count_rows_nb(x)
    with np.errstate(over="ignore"):  # sums of +/-1.8e308 overflow to +/-inf on both sides
        same(s, np.cumsum(np.nan_to_num(x), axis=0))
    same(c, np.cumsum(~np.isnan(x), axis=0))


def test_a_parameter_error_comes_before_any_noise_is_drawn(monkeypatch):
    """The universe's own checks (the code space) run before the draws are asked for: a market
    too large fails at once, not after gigabytes of noise."""
    from factorlab.datasets import synthetic as synth
    from factorlab.errors import ParameterError

    def never(*args):
        raise AssertionError("noise drawn before the universe's checks")

    monkeypatch.setattr(synth, "_component_noise", never)
    monkeypatch.setattr(synth, "_return_noise", never)
    with pytest.raises(ParameterError, match="code space"):
        generate(preset_params("small", n_assets=25_000, start="2024-01-01", end="2024-03-29"))
