"""Timings of `cnncalc toeplitz` as whole processes, next to references measured in the same run.

Cases (issue 4's scale targets):
  * a 256×256 image with a 3×3 kernel as a sparse matrix (64516 × 65536, 580,644 taps): ≤ 0.2 s
    to build; shown for the text summary and for the complete COO JSON document;
  * the symbolic D = 1000, K = 5 matrix (996 × 1000): ≤ 1.5 s as a whole process;
  * refusing a dense 65536 × 65536 request: well under a second.

References: `python -c "import typer, numpy"` (the floor any numeric command pays),
`python -c "import sympy"` (the floor of a symbolic one) and, when scipy is installed,
a scipy.sparse construction of the same 256×256 matrix (a sum of Kronecker products of
shift and banded 1D matrices). In-process build times of the core are printed too.

Run: python benchmarks/bench_toeplitz.py [--runs N]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import time

KERNEL_3X3 = "[[1,2,1],[2,4,2],[1,2,1]]"

SCIPY_REFERENCE = """
import numpy as np, scipy.sparse as sp
k = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=float)
W, K = 256, 3
out = W - K + 1
# row-of-blocks shift (which input row each output row reads) ⊗ 1D banded matrix of one kernel row
m = sum(sp.kron(sp.eye(out, W, a), sp.diags(list(k[a]), list(range(K)), shape=(out, W))) for a in range(K))
m = m.tocoo()
assert m.shape == (out * out, W * W) and m.nnz == out * out * K * K
"""


def timed(cmd: list[str], runs: int) -> tuple[float, float]:
    """(best, median) wall time of `runs` runs, in seconds; fails loudly if the command fails."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
        times.append(time.perf_counter() - start)
        if done.returncode not in (0, 1):
            raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr.decode().strip()}")
    return min(times), statistics.median(times)


def in_process(runs: int) -> list[tuple[str, float]]:
    """Best time of the core alone (no interpreter start, no printing)."""
    import numpy as np
    import sympy

    from cnncalc import toeplitz

    kernel = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=float)
    symbols = np.empty(5, dtype=object)
    symbols[:] = sympy.symbols("k1:6")
    cases = [
        ("core: 256×256 ⊛ 3×3 sparse", lambda: toeplitz.conv_matrix(kernel, [256, 256], layout="sparse")),
        ("core: symbolic D=1000, K=5", lambda: toeplitz.conv_matrix(symbols, [1000], layout="sparse")),
    ]
    results = []
    for name, build in cases:
        best = float("inf")
        for _ in range(runs):
            start = time.perf_counter()
            build()
            best = min(best, time.perf_counter() - start)
        results.append((name, best))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    exe = os.path.join(os.path.dirname(sys.executable), "cnncalc")
    py = sys.executable
    sparse = [exe, "toeplitz", "--W", "256,256", "--k", KERNEL_3X3, "--sparse"]
    cases: list[tuple[str, list[str], str | None, float | None]] = [
        ("python -c 'import typer, numpy'", [py, "-c", "import typer, numpy"], None, None),
        ("python -c 'import sympy'", [py, "-c", "import sympy"], None, None),
        ("256×256 ⊛ 3×3 sparse, text summary", sparse, "typer+numpy", 0.2),
        ("256×256 ⊛ 3×3 sparse, full COO --json", sparse + ["--json"], "typer+numpy", None),
        ("symbolic D=1000 K=5, text", [exe, "toeplitz", "--W", "1000", "--k", "k1:5"], "sympy", 1.5),
        ("symbolic D=1000 K=5, --json (COO)", [exe, "toeplitz", "--W", "1000", "--k", "k1:5", "--json"], "sympy", 1.5),
        ("refuse dense 65536×65536", [exe, "toeplitz", "--W", "256,256", "--k", "[[1]]", "--dense"], "typer+numpy", 1.0),
    ]
    if importlib.util.find_spec("scipy") is not None:
        cases.insert(2, ("scipy.sparse build of the same matrix", [py, "-c", SCIPY_REFERENCE], None, None))
    results = {}
    print(f"{'case (whole process)':44} {'best s':>7} {'median s':>9} {'ratio':>32} {'goal':>7}")
    for name, cmd, reference, goal in cases:
        best, median = timed(cmd, args.runs)
        results[name] = best
        ref_name = {"typer+numpy": "python -c 'import typer, numpy'", "sympy": "python -c 'import sympy'"}.get(
            reference or ""
        )
        ratio = f"{best / results[ref_name]:5.2f}× {reference}" if ref_name else ""
        scipy_name = "scipy.sparse build of the same matrix"
        if name.startswith("256×256") and scipy_name in results:
            ratio += f" / {best / results[scipy_name]:.2f}× scipy"
        verdict = "" if goal is None else (f"≤{goal:g} ✓" if best <= goal else f"≤{goal:g} ✗")
        print(f"{name:44} {best:7.3f} {median:9.3f} {ratio:>32} {verdict:>7}")
    print()
    for name, best in in_process(args.runs):
        print(f"{name:44} {best:7.4f}")


if __name__ == "__main__":
    main()
