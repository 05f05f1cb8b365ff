"""Benchmark: a full tear sheet (numbers + figures + HTML) for one factor.

Target (issue 10): 3,000 assets x 2,500 days (size L of ``panels.py``) in <= 10 s including
figures. Prints wall and CPU seconds per run and the load average (timings on a shared machine
are noisy: read them with the load).

    python benchmarks/bench_tearsheet.py --size L --repeat 2
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import polars as pl

sys.path.insert(0, os.path.dirname(__file__))
from panels import load_panel

from factorlab.evaluate import tearsheet
from factorlab.report import write_tearsheet


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", default="L")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "fl_panels"))
    args = parser.parse_args(argv)
    frame = load_panel(args.size, cache_dir=args.cache).with_columns(open=pl.col("close"))
    print(f"panel {args.size}: {frame.height:,} rows; load average {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as out:
        for i in range(args.repeat):
            wall, cpu = time.perf_counter(), time.process_time()
            sheet = tearsheet(frame, "factor", source=f"benchmarks/panels.py size {args.size}")
            mid = time.perf_counter()
            write_tearsheet(sheet, out)
            end = time.perf_counter()
            stages = ", ".join(f"{k} {v:.2f}" for k, v in sheet.seconds.items())
            print(
                f"run {i + 1}: total {end - wall:.2f} s wall, {time.process_time() - cpu:.2f} s "
                f"CPU; numbers {mid - wall:.2f} s ({stages}); figures + HTML {end - mid:.2f} s; "
                f"load average {os.getloadavg()[0]:.2f}"
            )


if __name__ == "__main__":
    main()
