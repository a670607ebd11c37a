"""How ``cnncalc shape --input … --layers …`` and ``--solve`` show their results."""

from __future__ import annotations

import csv as csv_module
import io
from typing import Any

from cnncalc.network import Field, NetworkResult, Solved
from cnncalc.render.blocks import Block, Line, Table
from cnncalc.render.shape_view import json_input as layer_json_input
from cnncalc.render.values import show

MACS_NOTE = (
    "MACs are multiply-accumulates (not FLOPs); a transposed convolution is counted over its input positions; "
    "pooling, activations and batch norm count 0."
)
RF_NOTE = "rf/jump/start per axis (Araujo et al. 2019); start is the centre of the first output's field, input pixel 0 = 0."


def _shape(values: Any) -> str:
    return "×".join(show(v) for v in values)


def _grouped(n: Any) -> str:
    return f"{n:,}" if isinstance(n, int) else show(n)


def _axes(fields: tuple[Field, ...] | None, attr: str) -> Any:
    """Per-axis values of one field attribute, or None where no field is defined."""
    if fields is None:
        return None
    return [getattr(f, attr) for f in fields]


def _axes_text(values: list[Any] | None) -> str:
    if values is None:
        return "—"
    if all(v == values[0] for v in values):
        return show(values[0])
    return "×".join(show(v) for v in values)


def text(result: NetworkResult) -> list[Block]:
    table = Table(
        ["#", "layer", "output", "params", "MACs", "rf", "jump", "start"],
        right=(0, 3, 4, 5, 6, 7),
    )
    table.rows.append(["", "input", _shape(result.input), "", "", "1", "1", "0"])
    warnings = []
    for row in result.layers:
        table.rows.append(
            [
                str(row.index),
                row.text,
                (_shape(row.output), "answer"),
                _grouped(row.params),
                _grouped(row.macs),
                _axes_text(_axes(row.fields, "rf")),
                _axes_text(_axes(row.fields, "jump")),
                _axes_text(_axes(row.fields, "start")),
            ]
        )
        warnings.extend(f"layer {row.index} ({row.text}): {w}" for w in row.warnings)
    table.rows.append(["", ("total", "heading"), "", (_grouped(result.total_params), "answer"),
                       (_grouped(result.total_macs), "answer"), "", "", ""])
    blocks: list[Block] = [
        Line(f"Output: {_shape(result.layers[-1].output)}   parameters: {_grouped(result.total_params)}"
             f"   MACs: {_grouped(result.total_macs)}", "answer"),
        table,
    ]
    blocks.extend(Line(f"warning: {w}", "warn") for w in warnings)
    blocks.append(Line(MACS_NOTE, "dim"))
    blocks.append(Line(RF_NOTE, "dim"))
    return blocks


def json(result: NetworkResult) -> tuple[dict, dict]:
    layers = []
    for row in result.layers:
        layers.append(
            {
                "index": row.index,
                "name": row.name,
                "spec": row.text,
                "output": list(row.output),
                "params": row.params,
                "macs": row.macs,
                "rf": _axes(row.fields, "rf"),
                "jump": _axes(row.fields, "jump"),
                "start": _axes(row.fields, "start"),
                "warnings": row.warnings,
            }
        )
    return (
        {"input": list(result.input), "layers": [row.text for row in result.layers]},
        {
            "layers": layers,
            "output": list(result.layers[-1].output),
            "total_params": result.total_params,
            "total_macs": result.total_macs,
            "symbolic": result.symbolic,
        },
    )


def csv(result: NetworkResult) -> str:
    """One row per layer for spreadsheets; per-axis fields joined with 'x'."""
    out = io.StringIO()
    writer = csv_module.writer(out, lineterminator="\n")
    writer.writerow(["index", "layer", "output", "params", "macs", "rf", "jump", "start"])
    def axes(fields: tuple[Field, ...] | None, attr: str) -> str:
        values = _axes(fields, attr)
        return "" if values is None else "x".join(show(v) for v in values)

    for row in result.layers:
        writer.writerow(
            [row.index, row.text, "x".join(show(v) for v in row.output), show(row.params), show(row.macs),
             axes(row.fields, "rf"), axes(row.fields, "jump"), axes(row.fields, "start")]
        )
    writer.writerow(["", "total", "", show(result.total_params), show(result.total_macs), "", "", ""])
    return out.getvalue()


# --- --solve ------------------------------------------------------------------


def _solution_text(solved: Solved, lo: Any, hi: Any) -> str:
    if solved.unknown == "output-padding":
        return f"--output-padding {lo}"
    return f"--p {lo}" if lo == hi else f"--p {lo}:{hi}"


class SolveView:
    """View of :class:`~cnncalc.network.Solved` (a class so the CLI can pass it like a module)."""

    @staticmethod
    def text(solved: Solved) -> list[Block]:
        spec = solved.spec
        layer = f"--W {spec.W[0]} --K {spec.K[0]} --s {spec.s[0]} --d {spec.d[0]}"
        if not solved.solutions:
            return [Line(f"No {solved.unknown} gives an output of {solved.target} for {layer}.", "warn")]
        count = len(solved.solutions) + solved.more
        blocks: list[Block] = [Line(f"{count:,} way(s) to reach an output of {solved.target} "
                                    f"with {layer}:", "answer")]
        table = Table([solved.unknown, "pads (lo, hi)", "output"], right=(2,))
        for sol in solved.solutions:
            pads = f"{sol.lo}, {sol.hi}" if solved.unknown == "p" else "—"
            table.rows.append([(_solution_text(solved, sol.lo, sol.hi), "code"), pads, str(sol.output)])
        blocks.append(table)
        if solved.more:
            blocks.append(Line(f"… and {solved.more:,} more: with stride {spec.s[0]} every total padding in a "
                               f"range of {spec.s[0]} gives the same output", "note"))
        return blocks

    @staticmethod
    def json(solved: Solved) -> tuple[dict, dict]:
        key = "padding" if solved.unknown == "p" else "output_padding"
        solutions = [
            {key: [s.lo, s.hi] if solved.unknown == "p" else s.lo, "output": s.output} for s in solved.solutions
        ]
        return (
            {**layer_json_input(solved.spec), "solve": solved.unknown, "target": solved.target},
            {"solutions": solutions, "found": bool(solutions), "more": solved.more},
        )
