"""Benchmark: the whole ``siting evaluate`` on the bundled demo district (issue 4's speed target).

Runs the real command in a fresh subprocess each time, so imports, numba kernels (compiled once
and cached by numba on disk; the first run of a new install compiles them), the road network and
all outputs are included:

- cold: an empty road-network cache (the OSM file is parsed);
- cached: the same cache folder again (the parsed network is reused).

Usage: ``python bench/bench_evaluate.py [--repeat 3] [--demand grid|centroid]``
Targets: cold < 15 s, cached < 3 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def run(cache: str, out: str, demand: str) -> float:
    env = dict(os.environ, SITING_CACHE_DIR=cache)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "siting", "evaluate", "--out", out, "--demand", demand],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"siting evaluate failed ({proc.returncode}):\n{proc.stderr}")
    return dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--demand", default="grid", choices=("grid", "centroid"))
    args = ap.parse_args()
    cold, warm = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            cache = os.path.join(tmp, f"cache{i}")
            out = os.path.join(tmp, f"out{i}")
            cold.append(run(cache, out, args.demand))
            warm.append(run(cache, out, args.demand))
            print(f"run {i + 1}: cold {cold[-1]:.2f} s, cached {warm[-1]:.2f} s", flush=True)
    print(
        f"siting evaluate on the demo ({args.demand} demand), {args.repeat} runs, "
        f"load average {os.getloadavg()[0]:.1f}:"
    )
    print(f"  cold   median {statistics.median(cold):.2f} s (min {min(cold):.2f}), target < 15 s")
    print(f"  cached median {statistics.median(warm):.2f} s (min {min(warm):.2f}), target < 3 s")


if __name__ == "__main__":
    main()
