"""Run a parsed cnncalc graph through PyTorch scalar autograd (float64), as a reference.

Shared by tests/test_backprop.py and benchmarks/bench_backprop.py so both compare
against the same construction.
"""

from __future__ import annotations

from typing import Any, Mapping

from cnncalc.expr import Graph


def torch_trace(torch: Any, graph: Graph, at: Mapping[str, float]) -> tuple[float, dict[str, float]]:
    """Build ``graph`` node by node with scalar tensors, call backward(); return (value, dL/dinput)."""
    ops = {
        "add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div, "pow": torch.pow,
        "neg": torch.neg, "identity": lambda a: a, "exp": torch.exp, "log": torch.log, "sqrt": torch.sqrt,
        "sin": torch.sin, "cos": torch.cos, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
        "relu": torch.relu, "abs": torch.abs, "max": torch.maximum, "min": torch.minimum,
    }
    leaves = {name: torch.tensor(float(v), dtype=torch.float64, requires_grad=True) for name, v in at.items()}
    values = []
    for i, op in enumerate(graph.ops):
        if op == "input":
            values.append(leaves[graph.names[i]])
        elif op == "const":
            values.append(torch.tensor(graph.constants[i], dtype=torch.float64))
        else:
            values.append(ops[op](*(values[j] for j in graph.args[i])))
    out = values[graph.output]
    out.backward()
    return out.item(), {name: 0.0 if t.grad is None else t.grad.item() for name, t in leaves.items()}
