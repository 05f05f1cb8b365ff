"""``engine="ray"`` (factorlab/parallel.py, the ``distributed`` extra) on a local Ray with 2
CPUs started inside the test run: `evaluate` and `factor_sweep` give the local run's frames,
frame for frame; progress counts every task; a task whose worker dies is rerun; a FactorLabError
in a task reaches the caller as itself. One xdist group: one Ray at a time."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from factorlab.errors import ParameterError
from factorlab.evaluate import evaluate
from factorlab.northbound.study import factor_sweep
from factorlab.parallel import executor

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from panels import make_panel

pytestmark = pytest.mark.xdist_group("ray")


@pytest.fixture(scope="module")
def ray():
    ray = pytest.importorskip(
        "ray", reason="Ray is not installed: `pip install factorlab[distributed]` runs these"
    )
    if ray.is_initialized():  # pragma: no cover - a Ray left by another module
        ray.shutdown()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_evaluate_on_ray_equals_the_local_run(ray):
    frame = make_panel(60, 50, seed=5).with_columns(
        neg=-pl.col("factor"), noise=pl.col("close").hash(3).cast(pl.Float64) / 2**64
    )
    pools = pl.concat(
        [
            frame.select("date", "asset").with_columns(pool=pl.lit("all")),
            frame.filter(pl.col("asset").str.ends_with("XSHE"))
            .select("date", "asset")
            .with_columns(pool=pl.lit("sz")),
        ]
    )
    kw = {"pools": pools, "horizons": (1, 5), "quantiles": 4, "entry": "close"}
    names = ["factor", "neg", "noise"]
    local = evaluate(frame, names, workers=1, **kw)
    seen: list[str] = []
    remote = evaluate(frame, names, engine="ray", batch_size=2, progress=seen.append, **kw)
    for name in ("summary", "ic", "quantile_returns", "drops"):
        assert_frame_equal(getattr(remote, name), getattr(local, name), check_exact=True)
    units = [s for s in seen if " of 6)" in s]
    assert sorted(s.split(" (")[0] for s in units) == sorted(
        f"{p} / {f}" for p in ("all", "sz") for f in names
    )
    assert [int(s.split("(")[1].split(" ")[0]) for s in units] == list(range(1, 7))


@pytest.mark.slow
def test_factor_sweep_on_ray_equals_the_local_run(ray, small_market):
    kw = {
        "windows": (10, 20),
        "tops": (0.2,),
        "every": (1,),
        "factors": ["nb_hold_value", "nb_hold_ratio_mean20"],
        "pools": ["csi300"],
    }
    local = factor_sweep(small_market, workers=1, **kw)
    remote = factor_sweep(small_market, engine="ray", **kw)
    assert_frame_equal(remote, local, check_exact=True)


def test_a_task_whose_worker_dies_is_rerun(ray, tmp_path):
    def crash_once(marker_dir: str, x: int) -> int:
        marker = os.path.join(marker_dir, f"crashed-{x}")
        if x == 1 and not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(1)  # the worker process dies: a system failure, not an exception
        return 10 * x

    with executor("ray", max_retries=1) as ex:
        assert ex.map(crash_once, [0, 1, 2], shared=[str(tmp_path)]) == [0, 10, 20]
    assert (tmp_path / "crashed-1").exists()  # it did fail once
    (tmp_path / "crashed-1").unlink()
    with pytest.raises(ray.exceptions.WorkerCrashedError), executor("ray", max_retries=0) as ex:
        ex.map(crash_once, [1], shared=[str(tmp_path)])


def test_a_factorlab_error_in_a_task_is_raised_as_itself(ray):
    def bad(x: int) -> int:
        raise ParameterError(f"unit {x} has a bad parameter")

    with pytest.raises(ParameterError, match="unit 3 has a bad parameter"):
        with executor("ray") as ex:
            ex.map(bad, [3])
