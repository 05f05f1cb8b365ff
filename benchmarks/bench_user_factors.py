"""The handbook protocol for user factors on the `default` synthetic market (issue 10's target:
3 user factors <= 20 s): a fresh process, market read from the cache (not timed), study cache off.

    python benchmarks/bench_user_factors.py            # 3 user factors, then 14 handbook + 3 user
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys

RUN = r"""
import resource, sys, time
import polars as pl, factorlab as fl
from factorlab.northbound import factor_study
from factorlab.northbound.factors import NORTHBOUND_FACTORS
m = fl.synthetic_market("default")
px = m.prices.select("date", "asset", "close").collect().sort("asset", "date")
rev5 = px.with_columns(
    my_rev5=-(pl.col("close") / pl.col("close").shift(5).over("asset") - 1)
).select("date", "asset", "my_rev5")
user = [
    (pl.col("hold_ratio") - pl.col("hold_ratio").shift(20).over("asset")).alias("my_ratio_chg20"),
    (pl.col("flow").rolling_sum(10).over("asset") / (pl.col("close") * pl.col("float_shares")))
    .alias("my_flow10"),
    (rev5, "my_rev5"),
]
factors = user if sys.argv[1] == "user" else [*NORTHBOUND_FACTORS, *user]
t, c = time.perf_counter(), time.process_time()
r = factor_study(m, factors=factors, cache=False, progress=None)
print(f"{time.perf_counter() - t:.2f} {time.process_time() - c:.2f} "
      f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} {r.table.height}")
"""


def main() -> None:
    subprocess.run(
        [sys.executable, "-c", "import factorlab as fl; fl.synthetic_market('default')"], check=True
    )
    print(f"load average {os.getloadavg()}; Python {platform.python_version()}")
    print("| factors | study wall s | CPU s | peak RSS MiB | table rows | target |")
    print("|---|---|---|---|---|---|")
    for mode, label in (("user", "3 user factors"), ("all", "14 handbook + 3 user")):
        out = subprocess.run(
            [sys.executable, "-c", RUN, mode], check=True, capture_output=True, text=True
        ).stdout.split()
        wall, cpu, peak, rows = out[-4:]
        print(f"| {label} | {wall} | {cpu} | {peak} | {rows} | <= 20 s |")


if __name__ == "__main__":
    main()
