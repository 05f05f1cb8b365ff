"""Sweeps on every core (factorlab/parallel.py): `evaluate` and `factor_sweep` on threads and in
factor batches give the serial run's frames, row for row and bit for bit, in the serial order;
progress counts every unit; bad options and a missing Ray are clear errors; importing factorlab
does not import Ray."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from factorlab.errors import FactorLabError, ParameterError
from factorlab.evaluate import evaluate
from factorlab.northbound.study import factor_sweep
from factorlab.parallel import default_workers, executor

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from panels import make_panel

FRAMES = ("summary", "ic", "quantile_returns", "drops")


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    p = make_panel(80, 60, seed=11)
    return p.with_columns(
        neg=-pl.col("factor"),
        noise=pl.col("close").hash(7).cast(pl.Float64) / 2**64,
        # no finite value at all: an unscorable unit (the empty-summary path) among the others
        dead=pl.lit(None, pl.Float64),
        mom=pl.col("close").pct_change(3).over("asset"),
    )


@pytest.fixture(scope="module")
def pools(frame) -> pl.DataFrame:
    keys = frame.select("date", "asset")
    sh = keys.filter(pl.col("asset").str.ends_with("XSHG"))
    return pl.concat([sh.with_columns(pool=pl.lit("sh")), keys.with_columns(pool=pl.lit("all"))])


NAMES = ["factor", "neg", "dead", "noise", "mom"]


def _run(frame, pools, **kw):
    return evaluate(frame, NAMES, pools=pools, horizons=(1, 5), quantiles=4, entry="close", **kw)


def _same(a, b) -> None:
    for name in FRAMES:
        assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True)


@pytest.fixture(scope="module")
def serial(frame, pools):
    return _run(frame, pools, workers=1, batch_size=len(NAMES))


@pytest.mark.parametrize(("workers", "batch_size"), [(2, None), (2, 1), (3, 2), (1, 2)])
def test_evaluate_on_threads_and_in_batches_equals_the_serial_run(
    frame, pools, serial, workers, batch_size
):
    _same(_run(frame, pools, workers=workers, batch_size=batch_size), serial)


def test_the_serial_order_is_pool_by_pool_then_factor(serial):
    order = serial.summary.select("pool", "factor").unique(maintain_order=True).rows()
    assert order == [(p, f) for p in ("sh", "all") for f in NAMES]
    assert (
        serial.summary.filter(pl.col("factor") == "dead")["reason"].str.contains("no finite").all()
    )


def test_one_unit_equals_a_single_factor_call(frame, pools, serial):
    alone = evaluate(frame, ["mom"], pools=pools, horizons=(1, 5), quantiles=4, entry="close")
    for name in FRAMES:
        got = getattr(serial, name).filter(pl.col("factor") == "mom")
        assert_frame_equal(got, getattr(alone, name), check_exact=True)


def test_a_lazy_frame_is_read_batch_by_batch(frame, pools, serial):
    """Each factor column of a lazy frame is computed once, and a batch's columns only after the
    previous batch's units are all scored: never more than one batch in memory."""
    events: list[str] = []

    def column(name):
        def record(s: pl.Series) -> pl.Series:
            events.append(f"read {name}")
            return s

        return pl.col(name).map_batches(record, return_dtype=pl.Float64).alias(name)

    lazy = frame.lazy().select("date", "asset", "close", *[column(n) for n in NAMES])
    got = _run(lazy, pools, workers=2, batch_size=2, progress=events.append)
    _same(got, serial)
    reads = [e for e in events if e.startswith("read ")]
    assert sorted(reads) == sorted(f"read {n}" for n in NAMES)  # each column computed once
    for i in range(2, len(NAMES), 2):  # batch i // 2 is read after batch i // 2 - 1 is scored
        first_read = min(events.index(f"read {n}") for n in NAMES[i : i + 2])
        scored = [e for e in events[:first_read] if " / " in e]
        assert len(scored) == 2 * i


def test_progress_counts_every_unit_once(frame, pools):
    seen: list[str] = []
    _run(frame, pools, workers=2, batch_size=2, progress=seen.append)
    units = seen[1:]
    assert seen[0].startswith("prices: 60 sessions x 80 assets")
    n = 2 * len(NAMES)
    assert [int(s.split("(")[1].split(" of ")[0]) for s in units] == list(range(1, n + 1))
    assert all(s.endswith(f" of {n})") for s in units)
    named = sorted(s.split(" (")[0] for s in units)
    assert named == sorted(f"{p} / {f}" for p in ("sh", "all") for f in NAMES)


def test_bad_options_are_parameter_errors(frame):
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ParameterError, match="`workers` must be None"):
            evaluate(frame, ["factor"], entry="close", workers=bad)
        with pytest.raises(ParameterError, match="`batch_size` must be an integer >= 1"):
            evaluate(frame, ["factor"], entry="close", batch_size=bad)
    with pytest.raises(ParameterError, match="`engine` must be 'local'"):
        evaluate(frame, ["factor"], entry="close", engine="dask")


def test_a_missing_ray_is_a_clear_error(frame, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(FactorLabError, match=r"pip install factorlab\[distributed\]"):
        evaluate(frame, ["factor"], entry="close", engine="ray")


def test_importing_factorlab_does_not_import_ray():
    code = (
        "import sys, factorlab, factorlab.evaluate, factorlab.northbound, factorlab.parallel; "
        "assert 'ray' not in sys.modules, 'ray imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_executor_keeps_the_order_and_bounds_the_threads():
    running, peak, lock = [0], [0], threading.Lock()

    def slow(scale, x):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.02 * (5 - x))  # the first tasks finish last
        with lock:
            running[0] -= 1
        return scale * x

    order: list[int] = []
    with executor(workers=3) as ex:
        got = ex.map(slow, range(5), shared=[10], on_done=lambda k, t: order.append(k))
    assert got == [0, 10, 20, 30, 40]
    assert order == [1, 2, 3, 4, 5] and peak[0] <= 3
    assert default_workers() >= 1


def test_executor_raises_the_first_failure_as_itself():
    def fail(x):
        if x == 2:
            raise ParameterError("unit 2 is bad")
        return x

    with pytest.raises(ParameterError, match="unit 2 is bad"), executor(workers=2) as ex:
        ex.map(fail, range(4))


@pytest.mark.slow
def test_factor_sweep_on_threads_equals_the_serial_run(small_market):
    kw = {
        "windows": (10, 20),
        "tops": (0.2,),
        "every": (1, 2),
        "factors": ["nb_hold_value", "nb_hold_ratio_mean20"],
        "pools": ["csi300"],
    }
    serial = factor_sweep(small_market, workers=1, **kw)
    assert serial.select("window", "every").rows()[::2] == [(10, 1), (10, 2), (20, 1), (20, 2)]
    assert_frame_equal(factor_sweep(small_market, workers=2, **kw), serial, check_exact=True)


def test_a_ray_task_runs_on_one_thread_and_gives_the_environment_back(monkeypatch):
    from factorlab._kernels.parallel import n_threads
    from factorlab.parallel import _call

    monkeypatch.delenv("FACTORLAB_THREADS", raising=False)
    assert _call(n_threads) == 1
    assert "FACTORLAB_THREADS" not in os.environ
    # a cluster that sets the count keeps it, during and after the task
    monkeypatch.setenv("FACTORLAB_THREADS", "3")
    assert _call(n_threads) == 3
    assert os.environ["FACTORLAB_THREADS"] == "3"


# ---- computed_ahead: the next step's input computed on a thread of its own -------------------
def test_computed_ahead_on_one_thread_computes_when_asked():
    from factorlab._kernels.parallel import Later, computed_ahead

    calls: list[int] = []

    def f(x):
        calls.append(x)
        return x * 10

    with computed_ahead(1) as ahead:
        job = ahead(f, 3)
        assert isinstance(job, Later) and calls == []  # nothing runs ahead
        assert job.result() == 30 and job.result() == 30 and calls == [3]  # once, in order


def test_computed_ahead_on_two_threads_runs_on_its_thread_and_raises_at_result():
    from concurrent.futures import Future

    from factorlab._kernels.parallel import computed_ahead

    def where():
        return threading.current_thread().name

    def fails():
        raise ValueError("bad batch")

    with computed_ahead(2) as ahead:
        job = ahead(where)
        bad = ahead(fails)
        assert isinstance(job, Future)
        assert job.result().startswith("factorlab-ahead")
        with pytest.raises(ValueError, match="bad batch"):
            bad.result()


def test_computed_ahead_cancels_what_has_not_started_on_an_error():
    from factorlab._kernels.parallel import computed_ahead

    ran: list[str] = []
    with pytest.raises(RuntimeError, match="caller failed"), computed_ahead(2) as ahead:
        ahead(time.sleep, 0.2)  # the one worker is busy (or not started yet)
        ahead(ran.append, "second")  # queued behind it
        raise RuntimeError("caller failed")
    assert ran == []  # cancelled, never run
