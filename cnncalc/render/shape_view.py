"""How ``cnncalc shape`` shows a :class:`~cnncalc.sizes.ShapeResult`: the answer,
the worked arithmetic with the numbers substituted, pads and leftover positions."""

from __future__ import annotations


from cnncalc.render.blocks import Block, Line, Table
from cnncalc.render.values import sizes_text
from cnncalc.sizes import DimResult, LayerSpec, ShapeResult

GENERAL = {
    "conv": "out = ⌊(W + p_lo + p_hi − d·(K−1) − 1) / s⌋ + 1",
    "pool": "out = ⌊(W + p_lo + p_hi − d·(K−1) − 1) / s⌋ + 1",
    "pool-ceil": "out = ⌈(W + p_lo + p_hi − d·(K−1) − 1) / s⌉ + 1, minus 1 if the last window starts in the right padding",
    "transposed": "out = (W − 1)·s − p_lo − p_hi + d·(K−1) + output_padding + 1",
    "tf-same": "out = ⌈W / s⌉, total padding max((out − 1)·s + d·(K−1) + 1 − W, 0), the extra one on the right",
}


def _rule_key(spec: LayerSpec, dim: int) -> str:
    if spec.kind == "transposed":
        return "transposed"
    if spec.kind == "pool":
        return "pool-ceil" if spec.ceil_mode else "pool"
    if spec.pad[dim].word == "same" and spec.same_mode == "tf":
        return "tf-same"
    return "conv"


def _pad_terms(lo: int, hi: int) -> str:
    if lo == hi:
        return f" + 2·{lo}" if lo else ""
    return f" + {lo} + {hi}"


def _kernel_terms(K: int, d: int) -> str:
    return f" − {K}" if d == 1 else f" − {d}·({K} − 1) − 1"


def worked(spec: LayerSpec, dim: DimResult, i: int) -> str:
    """The arithmetic of one dimension with its numbers, e.g. ``⌊(9 + 2·1 − 3)/2⌋ + 1 = ⌊8/2⌋ + 1 = 5``."""
    W, K, s, d, lo, hi = dim.W, dim.K, dim.s, dim.d, dim.pad_lo, dim.pad_hi
    key = _rule_key(spec, i)
    if key == "transposed":
        op = f" + {dim.output_padding} (output padding)" if dim.output_padding else ""
        pads = f" − 2·{lo}" if lo == hi and lo else (f" − {lo} − {hi}" if lo != hi else "")
        return f"({W} − 1)·{s}{pads} + {d}·({K} − 1){op} + 1 = {dim.output}"
    if key == "tf-same":
        need = (dim.output - 1) * s + d * (K - 1) + 1 - W
        return (
            f"⌈{W}/{s}⌉ = {dim.output}; total padding max(({dim.output} − 1)·{s} + {d * (K - 1) + 1} − {W}, 0)"
            f" = {max(need, 0)} → {lo} left, {hi} right"
        )
    numerator = W + lo + hi - d * (K - 1) - 1
    expr = f"{W}{_pad_terms(lo, hi)}{_kernel_terms(K, d)}"
    if key == "pool-ceil":
        rounded = -((-numerator) // s) + 1
        text = f"⌈({expr})/{s}⌉ + 1 = ⌈{numerator}/{s}⌉ + 1 = {rounded}"
        if rounded != dim.output:
            text += f"; the last window would start at {(rounded - 1) * s} ≥ {W} + {lo}, inside the right padding, so {dim.output}"
        return text
    if s == 1:
        return f"{expr} + 1 = {dim.output}"
    return f"⌊({expr})/{s}⌋ + 1 = ⌊{numerator}/{s}⌋ + 1 = {dim.output}"


def _leftover_note(dim: DimResult, spec: LayerSpec) -> str | None:
    if spec.kind == "transposed":
        if dim.output_padding:
            return f"output padding adds {dim.output_padding} position(s) at the end that the matching convolution never reads"
        return None
    if dim.remainder == 0:
        return None
    if dim.unused_input:
        return (
            f"the stride leaves {dim.remainder} trailing position(s) unreached, "
            f"{dim.unused_input} of them real input (the last {dim.unused_input} input value(s) are never used)"
        )
    return f"the stride leaves {dim.remainder} trailing padded position(s) unreached (no real input is lost)"


def _layer_title(spec: LayerSpec) -> str:
    if spec.kind == "pool":
        return f"{spec.pool} pooling" + (" (ceil mode)" if spec.ceil_mode else "")
    if spec.kind == "transposed":
        return "transposed convolution"
    return "convolution"


def text(result: ShapeResult) -> list[Block]:
    spec = result.spec
    blocks: list[Block] = [Line(f"Output size: {sizes_text(result.output)}", "answer")]
    if result.symbolic:
        blocks.append(Line(f"{_layer_title(spec)}, symbolic", "heading"))
        for i, dim in enumerate(result.dims):
            label = f"dim {i + 1}: " if len(result.dims) > 1 else ""
            blocks.append(Line(f"{label}out = {dim.output}"))
            blocks.append(Line(f"  padding {dim.pad_lo} before, {dim.pad_hi} after", "dim"))
        blocks.append(Line(f"rule: {GENERAL[_rule_key(spec, 0)]}", "note"))
        return blocks
    blocks.append(Line(f"{_layer_title(spec)}; rule: {GENERAL[_rule_key(spec, 0)]}", "dim"))
    table = Table(["dim", "W", "K", "s", "d", "pad (lo, hi)", "out", "arithmetic"], right=(1, 2, 3, 4, 6))
    notes: list[str] = []
    for i, dim in enumerate(result.dims):
        table.rows.append(
            [
                str(i + 1),
                str(dim.W),
                str(dim.K),
                str(dim.s),
                str(dim.d),
                f"{dim.pad_lo}, {dim.pad_hi}",
                (str(dim.output), "answer"),
                worked(spec, dim, i),
            ]
        )
        note = _leftover_note(dim, spec)
        if note:
            notes.append(f"dim {i + 1}: {note}" if len(result.dims) > 1 else note)
    blocks.append(table)
    blocks.extend(Line(f"note: {n}", "warn") for n in notes)
    return blocks


def json_input(spec: LayerSpec) -> dict:
    return {
        "kind": spec.kind,
        "pool": spec.pool,
        "W": list(spec.W),
        "K": list(spec.K),
        "p": [str(p) for p in spec.pad],
        "s": list(spec.s),
        "d": list(spec.d),
        "output_padding": list(spec.output_padding),
        "ceil_mode": spec.ceil_mode,
        "same_mode": spec.same_mode,
    }


def json(result: ShapeResult) -> tuple[dict, dict]:
    dims = result.dims
    return json_input(result.spec), {
        "output": [d.output for d in dims],
        "padding": [[d.pad_lo, d.pad_hi] for d in dims],
        "remainder": [d.remainder for d in dims],
        "unused_input": [d.unused_input for d in dims],
        "symbolic": result.symbolic,
        "rule": GENERAL[_rule_key(result.spec, 0)],
    }


def latex(result: ShapeResult) -> str:
    """The output size per dimension as a LaTeX equation."""
    if result.symbolic:
        import sympy

        parts = [sympy.latex(d.output) for d in result.dims]
    else:
        parts = [str(d.output) for d in result.dims]
    return "W' = " + r" \times ".join(parts)
