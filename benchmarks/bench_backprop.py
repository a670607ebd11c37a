"""Benchmark of the backprop core on a long staged program, against PyTorch.

It generates a program of --stages stages in the shape of the issue's example,

    t1 = x*1.0001
    t2 = sin(t1)+t1
    t3 = t2*1.0001
    ...

(the values settle near pi, where d(sin t + t)/dt = 0, so dL/dx is about 0;
the point is the size of the graph).

and times (best of --repeat runs):

* cnncalc, in-process: ``parse`` + ``evaluate`` (forward and backward pass),
  and the same split into parse / forward+backward;
* cnncalc, whole process: a fresh interpreter that imports the core, reads
  the program from a file, and evaluates it (start-up included; the CLI adds
  its own imports on top);
* PyTorch scalar autograd (when torch is importable): the same graph, built
  node by node from cnncalc's parsed graph with float64 scalar tensors, then
  ``backward()``. Only torch's forward and backward are timed, not our parse.

It prints the ratio cnncalc / torch (goal <= 1.0) and checks that the value
and the gradient agree.

Usage::

    .venv/bin/python benchmarks/bench_backprop.py
    .venv/bin/python benchmarks/bench_backprop.py --stages 300000 --repeat 5
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from cnncalc.backprop import evaluate  # noqa: E402
from cnncalc.expr import Graph, parse  # noqa: E402
from torch_graph import torch_trace  # noqa: E402

WHOLE_PROCESS = """
import sys
from cnncalc.backprop import evaluate
trace = evaluate(open(sys.argv[1]).read(), {"x": 0.5})
print(trace.value, trace.gradients()["x"])
"""


def make_program(stages: int) -> str:
    """Alternate a scaling stage and a sine stage, each reading the previous one."""
    lines = []
    for i in range(1, stages + 1):
        prev = f"t{i - 1}" if i > 1 else "x"
        lines.append(f"t{i} = {prev}*1.0001" if i % 2 else f"t{i} = sin({prev})+{prev}")
    return "\n".join(lines) + "\n"


def best(fn, repeat: int):
    """(fastest wall time, last result) over ``repeat`` calls."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def run_torch(torch, graph: Graph) -> tuple[float, float]:
    """The same graph in torch scalar autograd; (value, dL/dx)."""
    value, grads = torch_trace(torch, graph, {"x": 0.5})
    return value, grads["x"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stages", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    program = make_program(args.stages)
    graph = parse(program)
    print(f"program: {args.stages:,} stages, {len(program) / 1e6:.1f} MB, {len(graph):,} nodes")

    t_parse, _ = best(lambda: parse(program), args.repeat)
    t_passes, _ = best(lambda: evaluate(graph, {"x": 0.5}), args.repeat)
    t_total, trace = best(lambda: evaluate(program, {"x": 0.5}), args.repeat)
    value, grad = trace.value, trace.gradients()["x"]
    print(f"cnncalc in-process: parse {t_parse:.3f} s + forward/backward {t_passes:.3f} s; "
          f"together {t_total:.3f} s")

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "program.txt")
        Path(path).write_text(program)
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        command = [sys.executable, "-c", WHOLE_PROCESS, path]
        t_process, done = best(lambda: subprocess.run(command, capture_output=True, text=True, env=env),
                               args.repeat)
        if done.returncode:
            sys.exit(f"whole-process run failed: {done.stderr}")
        cli = [sys.executable, "-m", "cnncalc", "backprop", "--file", path, "--at", "x=0.5"]
        t_cli, done = best(lambda: subprocess.run(cli, capture_output=True, text=True, env=env), args.repeat)
        if done.returncode:
            sys.exit(f"cnncalc backprop failed: {done.stderr}")
    print(f"cnncalc whole process (start-up + read + parse + passes): {t_process:.3f} s")
    print(f"cnncalc backprop --file (the CLI, text output, whole process): {t_cli:.3f} s (goal <= 1 s)")
    print(f"value {value!r}, dL/dx {grad!r}")

    try:
        import torch
    except ImportError:
        print("torch is not installed: skipping the PyTorch comparison (pip install torch)")
        return
    torch.set_num_threads(1)
    t_torch, (t_value, t_grad) = best(lambda: run_torch(torch, graph), args.repeat)
    agree = math.isclose(t_value, value, rel_tol=1e-9) and math.isclose(t_grad, grad, rel_tol=1e-9, abs_tol=1e-12)
    print(f"torch scalar autograd (forward + backward): {t_torch:.3f} s; results agree: {agree}")
    print(f"ratio cnncalc / torch: {t_total / t_torch:.2f} (in-process, cnncalc includes parsing; goal <= 1.0)")


if __name__ == "__main__":
    main()
