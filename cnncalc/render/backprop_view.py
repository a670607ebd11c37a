"""How ``cnncalc backprop`` shows a trace: forward table, backward (chain-rule) table,
final gradients, a drawing of the graph, DOT/Mermaid source, LaTeX and JSON."""

from __future__ import annotations

from typing import Any

from cnncalc.backprop import KINK, TIE, GradientCheck, Node, Result, Trace
from cnncalc.render import latex as tex
from cnncalc.render.blocks import Block, Line, Table
from cnncalc.render.values import show, show_tex

#: Larger programs get their tables cut to the first and last rows and no drawing.
MAX_TABLE_ROWS = 60
MAX_DRAWN_NODES = 40
LATEX_INFIX = {"add": "+", "sub": "-", "mul": r"\cdot"}
FLAG_TEXT = {KINK: "kink: derivative taken as 0 (PyTorch)", TIE: "tie: gradient split 0.5/0.5 (PyTorch)"}


def _whole(value: Any) -> Any:
    """Floats that hold a whole number as ints in JSON (-12, not -12.0), as the text shows them."""
    if type(value) is float and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _v(value: Any) -> str:
    return "—" if value is None else show(value)


def _factor(value: Any) -> str:
    """A value as one factor of a product: negative numbers and sums get parentheses."""
    text = _v(value)
    body = text[1:] if text.startswith("-") else text
    if text.startswith("-") or " + " in body or " - " in body:
        return f"({text})"
    return text


def _value(trace: Trace, i: int) -> str:
    return _v(trace.values[i])


def _inputs_text(trace: Trace, i: int) -> str:
    names = trace.graph.names
    return ", ".join(f"{names[j]} = {_value(trace, j)}" for j in trace.graph.args[i])


def _operation(trace: Trace, i: int) -> str:
    op = trace.graph.ops[i]
    if op == "input":
        return "input"
    if op == "const":
        return "constant"
    return trace.graph.formula(i)


def _shown(count: int) -> tuple[list[int], int]:
    """Positions of the rows a long table keeps (its head and tail) and where the gap goes."""
    if count <= MAX_TABLE_ROWS:
        return list(range(count)), -1
    half = MAX_TABLE_ROWS // 2
    return list(range(half)) + list(range(count - half, count)), half


def _with_gap(rows: list[list[Any]], gap_at: int, left_out: int, width: int) -> list[list[Any]]:
    if gap_at < 0:
        return rows
    gap = [(f"… {left_out} more rows …", "dim")] + [""] * (width - 1)
    return rows[:gap_at] + [gap] + rows[gap_at:]


def _forward_table(trace: Trace) -> Table:
    """Only the rows shown are built, so a 100,000-stage trace costs no more than a small one."""
    table = Table(["stage", "operation", "inputs", "value"], right=(3,), title="Forward pass")
    count = len(trace.graph)
    positions, gap_at = _shown(count)
    rows = []
    for i in positions:
        flags = trace.flags.get(i, ())
        marks = "  [" + ", ".join(flags) + "]" if flags else ""
        rows.append([trace.graph.names[i], _operation(trace, i), _inputs_text(trace, i),
                     (_value(trace, i) + marks, "answer")])
    table.rows = _with_gap(rows, gap_at, count - len(positions), 4)
    return table


def _backward_rows(trace: Trace) -> tuple[list[list[Any]], int, int]:
    """One row per edge the gradient flows along, gate by gate in reverse topological order.

    A node's total appears on the row that delivers its last contribution,
    with the count when several contributions add up at a fork. Returns the
    rows shown, where the gap goes and how many rows were left out.
    """
    names = trace.graph.names
    if not trace.reached or not trace.reached[trace.output]:
        return [], -1, 0  # the output depends on no input: nothing flows back
    out_name = names[trace.output]
    edges = trace.edges()
    last: dict[int, int] = {}
    uses: dict[int, int] = {}
    for position, (_, _, j) in enumerate(edges):
        last[j] = position
        uses[j] = uses.get(j, 0) + 1
    positions, gap_at = _shown(len(edges))
    rows = [[out_name, "", "", "", f"∂{out_name}/∂{out_name} = 1 (seed)", (_v(trace.grads[trace.output]), "answer")]]
    for position in positions:
        gate, slot, j = edges[position]
        flow = trace.flow(gate, slot)
        total = ""
        if last[j] == position:
            total = _v(trace.grads[j]) + (f"  (sum of {uses[j]})" if uses[j] > 1 else "")
        rows.append(
            [
                names[gate],
                _v(flow.upstream),
                names[j],
                _v(flow.local),
                f"{_factor(flow.upstream)} · {_factor(flow.local)} = {_v(flow.value)}",
                (total, "answer") if total else "",
            ]
        )
    return rows, (gap_at + 1 if gap_at >= 0 else -1), len(edges) - len(positions)


def _backward_table(trace: Trace) -> Table:
    out = trace.graph.names[trace.output]
    table = Table(
        ["gate", f"upstream ∂{out}/∂gate", "input", "local ∂gate/∂input", "chain rule", f"∂{out}/∂input"],
        title="Backward pass (reverse topological order; gradients add at forks)",
    )
    rows, gap_at, left_out = _backward_rows(trace)
    table.rows = _with_gap(rows, gap_at, left_out, 6)
    return table


def draw(trace: Trace) -> list[str]:
    """The graph as a tree from the output back to the inputs; a shared node is drawn once.

    Iterative depth-first walk (no recursion), children in argument order.
    """
    names = trace.graph.names
    seen: set[int] = set()
    lines: list[str] = []
    stack: list[tuple[int, str, str]] = [(trace.output, "", "")]
    while stack:
        i, lead, child_lead = stack.pop()
        node = trace.node(i)
        label = names[i] if node.op in ("input", "const") else f"{names[i]} = {node.formula}"
        if i in seen:
            lines.append(f"{lead}{label}  (shared, drawn above)")
            continue
        seen.add(i)
        lines.append(f"{lead}{label}   value {_v(node.value)}   grad {_v(node.grad)}")
        children = list(node.inputs)
        for position in range(len(children) - 1, -1, -1):
            last = position == len(children) - 1
            stack.append((children[position], child_lead + ("└── " if last else "├── "),
                          child_lead + ("    " if last else "│   ")))
    return lines


def _label(trace: Trace, i: int) -> tuple[str, str, str]:
    node = trace.node(i)
    head = trace.graph.names[i] if node.op in ("input", "const") else f"{trace.graph.names[i]} = {node.formula}"
    return head, f"value {_v(node.value)}", f"grad {_v(node.grad)}"


def dot(trace: Trace) -> str:
    """Graphviz source: one box per node labelled with its value and gradient."""
    lines = ["digraph backprop {", "  rankdir=LR;", "  node [shape=box, fontname=monospace];"]
    for i in range(len(trace.graph)):
        label = "\\n".join(part.replace("\\", "\\\\").replace('"', '\\"') for part in _label(trace, i))
        lines.append(f'  n{i} [label="{label}"];')
    for i, args in enumerate(trace.graph.args):
        lines.extend(f"  n{j} -> n{i};" for j in args)
    lines.append("}")
    return "\n".join(lines)


def mermaid(trace: Trace) -> str:
    """Mermaid flowchart source with the same labels as the DOT output."""
    lines = ["flowchart LR"]
    for i in range(len(trace.graph)):
        label = "<br/>".join(part.replace('"', "#quot;") for part in _label(trace, i))
        lines.append(f'  n{i}["{label}"]')
    for i, args in enumerate(trace.graph.args):
        lines.extend(f"  n{j} --> n{i}" for j in args)
    return "\n".join(lines)


def _check_blocks(check: GradientCheck) -> list[Block]:
    table = Table(["input", "finite difference", "backprop", "abs error", "rel error", "step"], right=(1, 2, 3, 4, 5),
                  title=f"Gradient check (central differences, step h·max(1, |x|), h = {check.h:g})")
    for row in check.rows:
        step = f"{row.step:.3g}" + ("" if row.method == "central" else f" ({row.method})")
        table.rows.append([row.name, show(row.numeric), show(row.analytic), f"{row.abs_error:.3g}",
                           f"{row.rel_error:.3g}", step])
    return [table, Line(f"max abs error {check.max_abs_error:.3g}, max rel error {check.max_rel_error:.3g}", "note")]


class BackpropView:
    """View of a backprop result; ``graph`` is None (terminal drawing) or "dot"/"mermaid"."""

    def __init__(self, graph: str | None = None) -> None:
        self.graph = graph

    def text(self, result: Result) -> list[Block]:
        trace = result.trace
        if self.graph == "dot":
            return [Line(dot(trace))]
        if self.graph == "mermaid":
            return [Line(mermaid(trace))]
        out = trace.graph.names[trace.output]
        blocks: list[Block] = [Line(f"{out} = {_v(trace.value)}", "answer"), _forward_table(trace),
                               _backward_table(trace)]
        gradients = ", ".join(f"∂{out}/∂{name} = {_v(g)}" for name, g in trace.gradients().items())
        blocks.append(Line(f"Gradients: {gradients}" if gradients else "No inputs: nothing to differentiate.",
                           "answer"))
        for i, flags in sorted(trace.flags.items())[:MAX_TABLE_ROWS]:
            blocks.extend(Line(f"note: {trace.graph.names[i]}: {FLAG_TEXT[f]}", "warn") for f in flags)
        if len(trace.graph) <= MAX_DRAWN_NODES:
            blocks.append(Line("Computation graph (output first; each node: value, gradient)", "heading"))
            blocks.extend(Line(line) for line in draw(trace))
        else:
            blocks.append(Line(f"({len(trace.graph)} nodes: too many to draw; try --graph dot)", "dim"))
        if result.check is not None:
            blocks.extend(_check_blocks(result.check))
        return blocks

    def json(self, result: Result) -> tuple[dict, dict]:
        trace = result.trace
        # Built straight from the trace's per-node lists (not Node views): a
        # 100,000-stage program has 200,000 nodes to write.
        graph, values, grads, local_grads = trace.graph, trace.values, trace.grads, trace.local_grads
        nodes = [
            {
                "id": i,
                "name": graph.names[i],
                "op": graph.ops[i],
                "formula": graph.formula(i),
                "inputs": graph.args[i],
                "value": _whole(values[i]),
                "grad": _whole(grads[i]),
                "local_grads": None if local_grads[i] is None else [_whole(d) for d in local_grads[i]],
                "contributions": [
                    {"from": c.consumer, "upstream": _whole(c.upstream), "local": _whole(c.local),
                     "value": _whole(c.value)}
                    for c in trace.contributions(i)
                ],
                "flags": trace.flags.get(i, ()),
            }
            for i in range(len(graph))
        ]
        body: dict[str, Any] = {
            "value": _whole(trace.value),
            "output": trace.graph.names[trace.output],
            "gradients": {name: _whole(g) for name, g in trace.gradients().items()},
            "symbolic": trace.symbolic,
            "nodes": nodes,
        }
        if result.check is not None:
            body["check"] = {
                "h": result.check.h,
                "rows": [
                    {"input": r.name, "numeric": r.numeric, "analytic": r.analytic, "abs_error": r.abs_error,
                     "rel_error": r.rel_error, "step": r.step, "method": r.method}
                    for r in result.check.rows
                ],
                "max_abs_error": result.check.max_abs_error,
                "max_rel_error": result.check.max_rel_error,
            }
        return {"program": result.program, "at": result.at}, body

    def latex(self, result: Result) -> str:
        """Forward values then every chain-rule step, as one align* block."""
        trace = result.trace
        names = trace.graph.names
        out = names[trace.output]

        def sym(name: str) -> str:
            return name if len(name) == 1 else rf"\mathrm{{{name}}}"

        def d(a: str, b: str) -> str:
            return rf"\frac{{\partial {sym(a)}}}{{\partial {sym(b)}}}"

        def formula(node: Node) -> str:
            args = [sym(names[j]) for j in node.inputs]
            if node.op in LATEX_INFIX:
                return f"{args[0]} {LATEX_INFIX[node.op]} {args[1]}"
            if node.op == "div":
                return rf"\frac{{{args[0]}}}{{{args[1]}}}"
            if node.op == "pow":
                return f"{{{args[0]}}}^{{{args[1]}}}"
            if node.op == "neg":
                return f"-{args[0]}"
            if node.op == "identity":
                return args[0]
            return rf"\operatorname{{{node.op}}}({', '.join(args)})"

        lines = [r"&\textbf{Forward pass:}"]
        for node in trace.nodes:
            if node.op in ("input", "const"):
                continue
            lines.append(rf"{sym(node.name)} &= {formula(node)} = {show_tex(node.value)}")
        lines.append(r"&\textbf{Backward pass:}")
        for i in trace.backward_order():
            node = trace.node(i)
            if i == trace.output or not node.contributions:
                continue
            terms = [rf"{d(out, names[c.consumer])}\,{d(names[c.consumer], node.name)}" for c in node.contributions]
            values = [rf"({show_tex(c.upstream)})({show_tex(c.local)})" for c in node.contributions]
            lines.append(rf"{d(out, node.name)} &= {' + '.join(terms)} = {' + '.join(values)} = {show_tex(node.grad)}")
        return tex.align(lines)
