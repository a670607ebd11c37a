"""Whole-process benchmark of ``cnncalc conv`` on float arrays against SciPy.

For each case it saves X.npy and K.npy, then times (best of --repeat runs):

* cnncalc:   ``cnncalc conv --x X.npy --k K.npy --out Y.npy`` (valid padding, stride 1);
* reference: a fresh ``python`` process doing ``np.load`` + one SciPy call + ``np.save``,
  once per method — ``scipy.signal.correlate(mode="valid", method="direct")``,
  ``scipy.signal.correlate(mode="valid", method="fft")`` and ``scipy.ndimage.correlate``
  (which returns an input-sized, reflect-padded result) — keeping the fastest.

Both sides pay interpreter start-up and their imports, which is what a user
waits for. The table prints the ratio cnncalc / reference (goal ≤ 1.0) and
checks that cnncalc's output equals SciPy's valid correlation.

Usage (needs scipy in the same environment)::

    .venv/bin/python benchmarks/bench_conv.py            # all five cases
    .venv/bin/python benchmarks/bench_conv.py --quick    # small sizes, a smoke run
    .venv/bin/python benchmarks/bench_conv.py --repeat 5 --skip-slow-direct
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CASES = [
    ("2048×2048, 3×3", (2048, 2048), (3, 3)),
    ("2048×2048, 7×7", (2048, 2048), (7, 7)),
    ("512×512, 31×31", (512, 512), (31, 31)),
    ("1D 10^7, K=3", (10**7,), (3,)),
    ("1D 10^6, K=101", (10**6,), (101,)),
]
QUICK_CASES = [
    ("256×256, 3×3", (256, 256), (3, 3)),
    ("128×128, 15×15", (128, 128), (15, 15)),
    ("1D 10^5, K=3", (10**5,), (3,)),
]

REFERENCE = """
import sys
import numpy as np
method, x_path, k_path, y_path = sys.argv[1:5]
x = np.load(x_path)
k = np.load(k_path)
if method == "ndimage":
    import scipy.ndimage
    y = scipy.ndimage.correlate(x, k)
else:
    import scipy.signal
    y = scipy.signal.correlate(x, k, mode="valid", method=method)
np.save(y_path, y)
"""

METHODS = ("direct", "fft", "ndimage")


def cnncalc_command() -> list[str]:
    """The installed console script next to this interpreter, else ``python -m cnncalc``."""
    script = Path(sys.executable).with_name("cnncalc")
    return [str(script)] if script.exists() else [sys.executable, "-m", "cnncalc"]


def timed(argv: list[str], repeat: int) -> float:
    """Best wall time of ``repeat`` runs of a whole process (output discarded)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        best = min(best, time.perf_counter() - start)
    return best


def run_case(folder: Path, name: str, x_shape: tuple, k_shape: tuple, repeat: int, skip: set[str]) -> dict:
    rng = np.random.default_rng(189)
    x_path, k_path = folder / "X.npy", folder / "K.npy"
    np.save(x_path, rng.standard_normal(x_shape))
    np.save(k_path, rng.standard_normal(k_shape))
    y_path = folder / "Y.npy"
    ours = timed([*cnncalc_command(), "conv", "--x", str(x_path), "--k", str(k_path), "--out", str(y_path)], repeat)
    reference: dict[str, float] = {}
    ref_valid = folder / "ref_valid.npy"
    for method in METHODS:
        if method in skip:
            continue
        out = ref_valid if method == "fft" else folder / f"ref_{method}.npy"
        reference[method] = timed([sys.executable, "-c", REFERENCE, method, str(x_path), str(k_path), str(out)], repeat)
    ok = bool(np.allclose(np.load(y_path), np.load(ref_valid), rtol=1e-9, atol=1e-9 * np.abs(np.load(k_path)).sum() * 10))
    best_method = min(reference, key=reference.__getitem__)
    return {
        "case": name,
        "cnncalc": ours,
        "reference": reference[best_method],
        "method": best_method,
        "all": reference,
        "ratio": ours / reference[best_method],
        "equal": ok,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per command; the best is kept (default 3)")
    parser.add_argument("--quick", action="store_true", help="small sizes: a fast smoke run")
    parser.add_argument(
        "--skip-slow-direct", action="store_true",
        help="skip scipy.signal direct on 2D cases (it takes seconds and never wins there)",
    )
    args = parser.parse_args()
    cases = QUICK_CASES if args.quick else CASES
    print(f"cnncalc conv vs SciPy, whole process, best of {args.repeat}; {os.cpu_count()} CPU(s)")
    header = f"{'case':<18} {'cnncalc':>9} {'reference':>10} {'(method)':<10} {'ratio':>6}  equal  all reference times"
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory(prefix="bench_conv_") as tmp:
        ratios = []
        for name, x_shape, k_shape in cases:
            skip = {"direct"} if args.skip_slow_direct and len(x_shape) > 1 else set()
            row = run_case(Path(tmp), name, x_shape, k_shape, args.repeat, skip)
            ratios.append(row["ratio"])
            others = ", ".join(f"{m} {t:.3f}" for m, t in row["all"].items())
            print(
                f"{row['case']:<18} {row['cnncalc']:>8.3f}s {row['reference']:>9.3f}s ({row['method']:<7}) "
                f"{row['ratio']:>6.2f}  {'yes' if row['equal'] else 'NO':<5}  {others}",
                flush=True,
            )
    print(f"worst ratio {max(ratios):.2f} (goal ≤ 1.00)")


if __name__ == "__main__":
    main()
