"""The per-date kernels split over threads (factorlab._kernels.parallel) give exactly the
serial numbers: every table of the single-factor work is equal, bit for bit, with 1 and 3
threads (the size threshold lowered so a small panel is split too)."""

from __future__ import annotations

import gc
import os

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from factorlab._kernels import parallel
from factorlab.evaluate import (
    DensePanel,
    clean_factor,
    factor_alpha_beta,
    factor_rank_autocorrelation,
    factor_returns,
    forward_returns,
    information_coefficient,
    mean_return_by_quantile,
    quantile_turnover,
)
from factorlab.evaluate.warmup import warmup_panel


def _tables(frame: pl.DataFrame) -> dict[str, pl.DataFrame]:
    panel = DensePanel.from_frame(frame, columns=["close", "factor"], labels=["industry"])
    fwd = forward_returns(panel, (1, 3, 5), fill="ffill")
    clean = clean_factor(
        panel, "factor", fwd, group_col="industry", quantiles=5, mode="qcut", max_loss=1.0
    )
    by_rank = clean_factor(panel, "factor", fwd, quantiles=4, mode="rank", max_loss=1.0)
    return {
        "ic": information_coefficient(clean),
        "ic_pearson": information_coefficient(clean, method="pearson"),
        "qret": mean_return_by_quantile(clean, by_date=True),
        "fret": factor_returns(clean),
        "alpha_beta": factor_alpha_beta(clean),
        "turnover": quantile_turnover(clean),
        "autocorr": factor_rank_autocorrelation(clean),
        "rank_mode_qret": mean_return_by_quantile(by_rank, by_date=True),
    }


@pytest.mark.parametrize("seed", [0, 1])
def test_threads_give_the_serial_numbers(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    frame = warmup_panel(n_assets=57, n_dates=83, seed=seed)
    monkeypatch.setenv("FACTORLAB_THREADS", "1")
    serial = _tables(frame)
    monkeypatch.setattr(parallel, "MIN_CELLS", 0)
    monkeypatch.setenv("FACTORLAB_THREADS", "3")
    threaded = _tables(frame)
    for name, table in serial.items():
        assert table.height > 0, name
        assert_frame_equal(threaded[name], table, check_exact=True)


def test_split_rows_fills_the_outputs_block_by_block(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "MIN_CELLS", 0)
    monkeypatch.setenv("FACTORLAB_THREADS", "4")
    seen = []

    def kernel(a, scale, out, buf):
        seen.append((a.shape[0], out.shape[0], buf.shape))
        out[:] = a.sum(axis=1) * scale

    a = np.arange(30.0).reshape(10, 3)
    out = np.full(10, np.nan)
    parallel.split_rows(kernel, (a, 2.0, out), (0, 2), 10, 3, lambda: (np.empty(3),))
    np.testing.assert_array_equal(out, a.sum(axis=1) * 2.0)
    assert sorted(seen) == [(2, 2, (3,)), (2, 2, (3,)), (3, 3, (3,)), (3, 3, (3,))]


def test_small_grids_and_worker_threads_stay_serial(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    monkeypatch.setenv("FACTORLAB_THREADS", "4")
    calls = []

    def kernel(a):
        calls.append(threading.current_thread().name)

    parallel.split_rows(kernel, (np.ones((10, 3)),), (0,), 10, 3)  # below MIN_CELLS
    monkeypatch.setattr(parallel, "MIN_CELLS", 0)
    worker = threading.Thread(
        target=parallel.split_rows, args=(kernel, (np.ones((10, 3)),), (0,), 10, 3)
    )
    worker.start()
    worker.join()
    assert len(calls) == 2 and not any(n.startswith("factorlab-kernel") for n in calls)


def test_empty_gives_writable_grids_of_the_shape_and_dtype() -> None:
    import mmap

    big = parallel.empty((1100, 1000), np.int32)  # 4.4 MB: anonymous pages
    small = parallel.empty((3, 4), np.int8)
    assert big.shape == (1100, 1000) and big.dtype == np.int32 and big.flags.c_contiguous
    assert isinstance(big.base.base.obj, mmap.mmap) and big.flags.writeable
    big[:] = 7
    assert int(big.sum()) == 7 * 1100 * 1000
    assert small.shape == (3, 4) and small.dtype == np.int8 and small.flags.writeable


def _address(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def test_an_idle_region_is_reused_and_one_in_use_is_not() -> None:
    shape = (1100, 1003)  # 4.4 MB of int32: a size no other test allocates
    first = parallel.empty(shape, np.int32)
    where = _address(first)
    view = first[10:20]
    series = pl.Series("x", first[0])  # a Polars series on the array keeps it in use
    del first
    busy = parallel.empty(shape, np.int32)
    assert _address(busy) != where  # a view and a series still refer to the first region
    del view
    assert _address(parallel.empty(shape, np.int32)) != where  # the series alone holds it
    del series
    again = parallel.empty(shape, np.int32)
    assert _address(again) == where  # idle now: the same pages again
    busy_at = _address(busy)
    del busy
    other = parallel.empty((1100, 1003 * 2), np.int16)  # same bytes, another dtype and shape
    assert _address(other) == busy_at  # the oldest idle region of that size
    assert other.shape == (1100, 2006) and other.dtype == np.int16


def test_idle_regions_beyond_the_cap_go_back_to_the_system(monkeypatch: pytest.MonkeyPatch) -> None:
    parallel.release_idle()
    monkeypatch.setattr(parallel, "KEEP_IDLE", 11 << 20)
    sizes = [(5 << 20) + k * 4096 for k in range(1, 4)]  # 5 MiB and a little: 3 sizes
    arrays = [parallel.empty((n,), np.uint8) for n in sizes]
    assert len(parallel._REGIONS.kept) == 3
    del arrays
    keep = parallel.empty((1 << 23,), np.uint8)  # a 4th size: the idle 15 MiB exceed 11 MiB
    kept = [len(r) for r in parallel._REGIONS.kept]
    assert kept == [sizes[1], sizes[2], 1 << 23]  # the oldest idle one went back
    assert parallel.release_idle() == sizes[1] + sizes[2]  # keep is still in use
    assert [len(r) for r in parallel._REGIONS.kept] == [1 << 23]
    del keep
    assert parallel.release_idle() == 1 << 23 and parallel._REGIONS.kept == []


def test_reused_regions_full_of_garbage_give_the_same_numbers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A kernel must write every cell of its output: the second run gets the first run's
    regions back, each overwritten with NaN-like bytes, and every table is unchanged."""
    monkeypatch.setattr(parallel, "MIN_REGION_BYTES", 1024)  # every grid of this panel
    parallel.release_idle()
    frame = warmup_panel(n_assets=57, n_dates=83, seed=2)
    first = _tables(frame)
    gc.collect()  # the run's objects in reference cycles: their grids idle now
    ids = {id(r) for r in parallel._REGIONS.kept}  # no reference held: the regions stay idle
    assert len(ids) >= 8
    for i in range(len(parallel._REGIONS.kept)):
        np.frombuffer(parallel._REGIONS.kept[i], np.uint8)[:] = 0xFF
    second = _tables(frame)
    # every grid of the second run came from the first run's regions (none new)
    assert {id(r) for r in parallel._REGIONS.kept} == ids
    for name, table in first.items():
        assert_frame_equal(second[name], table, check_exact=True)
    parallel.release_idle()


def test_threads_asking_for_grids_never_share_a_region(monkeypatch: pytest.MonkeyPatch) -> None:
    """Four threads ask for grids of three sizes and fill each with their own tag while holding
    the last two: a region handed to two users at once shows the other's tag. The scan of the
    kept regions yields the GIL after reading each count, so two threads' scans interleave:
    without the lock they take the same idle region."""
    import threading
    import time

    counted = parallel._refs

    def yielding(regions: list, i: int) -> int:
        n = counted(regions, i)  # the same count: this frame holds the list, not the region
        time.sleep(0)  # another thread runs between reading a count and taking the region
        return n

    monkeypatch.setattr(parallel, "_refs", yielding)
    parallel.release_idle()
    assert parallel._IDLE_REFS is not None  # reuse is on here (CPython): the test means something
    sizes = [(1 << 20) + 1024 * k for k in range(3)]  # float32: 4 MiB and a little
    bad: list[str] = []

    def work(tag: int) -> None:
        held: list[np.ndarray] = []
        for it in range(150):
            a = parallel.empty((sizes[(tag + it) % 3],), np.float32)
            a.fill(tag * 1000 + it)
            held = [*held[-1:], a]
            os.sched_yield()
            for b in held:
                if not (b[0] == b[-1] == b[len(b) // 2]) or b[0] % 1000 >= 150:
                    bad.append(f"thread {tag}, step {it}: {b[0]}, {b[-1]}")

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert bad == []
    reused = len(parallel._REGIONS.kept)
    assert 3 <= reused <= 4 * 2 * 3 + 3  # the regions were reused, not one per call (600)
    parallel.release_idle()


def test_a_forked_child_is_not_stuck_on_a_lock_its_parent_held() -> None:
    """A thread of the parent holds the regions' lock at the fork: the child still gets a grid
    (``os.register_at_fork`` gives it fresh locks and no parent pool)."""
    import time

    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    parallel.map_threads(lambda x: x, [1, 2], 10**7)  # the parent has a pool with threads
    with parallel._REGIONS.lock:
        pid = os.fork()
        if pid == 0:  # the child: numpy and mmap only
            ok = parallel.empty((1 << 20,), np.float32).shape == (1 << 20,)
            ok = ok and not parallel._THREADS.started
            os._exit(0 if ok else 1)
    deadline = time.monotonic() + 20.0
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    pytest.fail("the forked child hung on the regions' lock")


def test_map_in_order_keeps_the_order_and_the_first_error_and_caller_threads_nests_not() -> None:
    """Results and the first failing item's error in item order, on named threads of its own;
    in the calling thread for one thread; and a worker thread may spread over one thread only
    (the rule the kernels and backtest_many's books share)."""
    import threading
    import time

    def slow_square(x: int) -> tuple[int, str]:
        time.sleep(0.002 * (5 - x))  # the later items finish first
        return x * x, threading.current_thread().name

    got = parallel.map_in_order(slow_square, range(5), 3, name="factorlab-test")
    assert [v for v, _ in got] == [0, 1, 4, 9, 16]
    assert {n.rsplit("_", 1)[0] for _, n in got} == {"factorlab-test"}
    here = threading.current_thread().name
    assert [n for _, n in parallel.map_in_order(slow_square, range(3), 1, name="x")] == [here] * 3

    def fail(x: int) -> int:
        time.sleep(0.002 * (5 - x))
        if x in (1, 3):  # 3 fails first in time, 1 first in order
            raise ValueError(f"item {x}")
        return x

    with pytest.raises(ValueError, match="item 1"):
        parallel.map_in_order(fail, range(5), 4, name="factorlab-test")
    seen = []
    worker = threading.Thread(target=lambda: seen.append(parallel.caller_threads()))
    worker.start()
    worker.join()
    assert seen == [1]


@pytest.mark.parametrize("bad", ["abc", "0", "-3", "1.5"])
def test_a_bad_thread_count_is_a_parameter_error(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    from factorlab.errors import ParameterError

    monkeypatch.setenv("FACTORLAB_THREADS", bad)
    with pytest.raises(ParameterError, match=f"FACTORLAB_THREADS must be an integer >= 1.*{bad!r}"):
        parallel.n_threads()


def test_one_thread_count_for_kernels_and_sweeps(monkeypatch: pytest.MonkeyPatch) -> None:
    from factorlab.parallel import default_workers

    monkeypatch.setenv("FACTORLAB_THREADS", "3")
    assert parallel.n_threads() == default_workers() == 3
    monkeypatch.delenv("FACTORLAB_THREADS")
    assert default_workers() == parallel.n_threads() == len(os.sched_getaffinity(0))


@pytest.mark.parametrize("threads", ["1", "3"])
def test_price_fill_and_checks_in_column_and_row_blocks(
    monkeypatch: pytest.MonkeyPatch, threads: str
) -> None:
    """fill_prices (columns cut into blocks) equals pandas' ffill and the suspension-only
    carry; price_faults counts the non-positive and NaN cells numpy counts."""
    import pandas as pd

    from factorlab._kernels.returns import fill_prices, price_faults

    monkeypatch.setattr(parallel, "MIN_CELLS", 0)
    monkeypatch.setenv("FACTORLAB_THREADS", threads)
    rng = np.random.default_rng(5)
    prices = 10 + rng.random((41, 17))
    prices[rng.random(prices.shape) < 0.2] = np.nan
    prices[-5:, 3] = np.nan  # delisted: ffill carries past the last price, carry does not
    prices[:4, 8] = np.nan  # listed late: nothing to fill before the first price
    prices[2, 5], prices[7, 9] = 0.0, -1.0
    np.testing.assert_array_equal(
        fill_prices(prices, True), pd.DataFrame(prices).ffill().to_numpy()
    )
    last = np.array([np.flatnonzero(~np.isnan(prices[:, j])).max() for j in range(17)])
    carry = pd.DataFrame(prices).ffill().to_numpy().copy()
    carry[np.arange(41)[:, None] > last[None, :]] = np.nan
    np.testing.assert_array_equal(fill_prices(prices, False), carry)
    assert price_faults(prices) == (2, int(np.isnan(prices).sum()))
    assert fill_prices(np.empty((0, 4)), True).shape == (0, 4)
