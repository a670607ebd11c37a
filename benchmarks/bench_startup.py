"""Startup latency of `cnncalc shape --json` and of one TAB completion, as ratios
against `python -c "import typer"` measured in the same run.

Completion runs the program on every TAB press, so this is completion latency.
Goal: ratio <= 1.3. Run: python benchmarks/bench_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time


def best_of(cmd: list[str], runs: int, env: dict | None = None) -> float:
    """Best wall time of `runs` runs (the least disturbed by other load), in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    exe = shutil.which("cnncalc") or os.path.join(os.path.dirname(sys.executable), "cnncalc")
    complete_env = dict(os.environ, _CNNCALC_COMPLETE="complete_bash", COMP_WORDS="cnncalc shape --p s", COMP_CWORD="3")
    cases = [
        ("python -c 'import typer' (reference)", [sys.executable, "-c", "import typer"], None),
        ("cnncalc shape ... --json", [exe, "shape", "--W", "9", "--K", "3", "--p", "1", "--s", "2", "--json"], None),
        ("TAB: cnncalc shape --p s<TAB>", [exe], complete_env),
    ]
    results = [(name, *best_of(cmd, args.runs, env)) for name, cmd, env in cases]
    ref = results[0][1]
    print(f"{'case':40} {'best ms':>8} {'median ms':>10} {'ratio':>6}")
    for name, best, median in results:
        print(f"{name:40} {best * 1000:8.1f} {median * 1000:10.1f} {best / ref:6.2f}")


if __name__ == "__main__":
    main()
