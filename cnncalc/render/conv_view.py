"""How ``cnncalc conv`` shows a :class:`~cnncalc.conv.ConvResult`.

Text: the output size with its arithmetic, then either every output with its
window and the dot product written out (small outputs, or ``--explain``), the
whole array (small), or a summary (shape, min/max/mean, corner preview) so a
large result never floods the terminal. JSON: ``output`` (nested lists of
numbers, or strings for symbolic entries), ``shape`` and the windows of small
results. LaTeX: a bmatrix (elided when large).

Windows are bounded by total taps, not outputs alone (a 10⁴-tap kernel would
otherwise list 10⁷ taps). JSON lists ``windows`` for the outputs it covers (all
outputs when there are at most ``JSON_WINDOWS``; with ``--explain`` the first
``max(JSON_WINDOWS, EXPLAIN_LIMIT)``) only when outputs covered × taps per output
≤ ``MAX_WINDOW_TAPS``; otherwise ``windows`` is null and ``windows_omitted`` says
why. Text writes an output's window out only for kernels of at most
``MAX_TAPS_SHOWN`` taps, and for at most ``MAX_WINDOW_TAPS`` // taps outputs
(at most ``EXPLAIN_LIMIT``); it says how many outputs it left out.

Window labels: when ``x`` is symbolic, an input entry that is a plain symbol is
labelled by its own name (``x0`` for the range ``x0:8``); otherwise by its
1-based position (``x1``, ``x[1,2]``). ``pad`` marks padding.

Symbolic entries are written by :func:`expr_text`, which produces sympy's own
``str()`` for sums of products of symbols and rationals without going through
sympy's printer (10^4 entries would otherwise take seconds).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Sequence

from cnncalc.conv import ConvResult, Tap, window
from cnncalc.render.blocks import Block, Line, Table
from cnncalc.render.values import show, show_tex, sizes_text

#: Outputs explained one by one without --explain (the worksheet's sizes).
AUTO_EXPLAIN = 16
#: Most outputs --explain writes out; the rest are counted in a note.
EXPLAIN_LIMIT = 200
#: Kernels with more taps than this are not written out term by term.
MAX_TAPS_SHOWN = 64
#: Arrays printed in full when at most this many entries and sides (else a preview).
FULL_ENTRIES = 144
FULL_SIDE = 16
#: Rows/columns kept at each end of a preview.
PREVIEW_KEEP = 3
#: Windows included in JSON for outputs up to this size (or with --explain).
JSON_WINDOWS = 1000
#: Most taps (outputs × taps per output) listed in windows, in JSON and in text.
MAX_WINDOW_TAPS = 10_000


@dataclass(frozen=True)
class Report:
    """What the CLI hands to this view: the result plus how much to show."""

    result: ConvResult
    explain: bool = False
    out_path: str | None = None


# ---------------------------------------------------------------------------
# Single values


def _is_sympy(value: Any) -> bool:
    return type(value).__module__.startswith("sympy")


def _rational_text(p: int, q: int) -> str:
    return str(p) if q == 1 else f"{p}/{q}"


_NO_TERM = (0, 0, ())


def _term_parts(value: Any) -> tuple[int, int, tuple[str, ...]]:
    """(p, q, sorted names) of (p/q)·(distinct plain symbols); q == 0 marks anything else."""
    cls = type(value).__name__
    if cls == "Symbol":
        return 1, 1, (value.name,)
    if cls != "Mul":
        if getattr(value, "is_Rational", False):
            return int(value.p), int(value.q), ()
        return _NO_TERM
    p, q = 1, 1
    names = []
    for i, factor in enumerate(value.args):
        if type(factor).__name__ == "Symbol":
            names.append(factor.name)
        elif i == 0 and getattr(factor, "is_Rational", False):
            p, q = int(factor.p), int(factor.q)
        else:
            return _NO_TERM
    if len(set(names)) != len(names):
        return _NO_TERM
    names.sort()
    return p, q, tuple(names)


def _term_text(p: int, q: int, names: tuple[str, ...]) -> str:
    """A product as sympy's StrPrinter writes it: ``-3*a*b/4``, ``x/4``, ``2*x``."""
    if not names:
        return _rational_text(p, q)
    sign = "-" if p < 0 else ""
    p = abs(p)
    text = sign + "*".join(names) if p == 1 else f"{sign}{p}*" + "*".join(names)
    return text if q == 1 else f"{text}/{q}"


def expr_text(value: Any) -> str:
    """A value as text; for sympy sums/products of symbols and rationals, exactly sympy's ``str()``, fast."""
    cls = type(value).__name__
    if cls == "Symbol":
        return value.name
    if not _is_sympy(value):
        return show(value)
    if cls == "Add":
        parts = [_term_parts(arg) for arg in value.args]
        if any(q == 0 for _, q, _ in parts):
            return str(value)
        # sympy orders terms by descending lex monomial over the sorted symbol names
        gens = sorted({n for _, _, names in parts for n in names})
        position = {g: i for i, g in enumerate(gens)}

        def exponents(part: tuple[int, int, tuple[str, ...]]) -> tuple[int, ...]:
            vector = [0] * len(gens)
            for n in part[2]:
                vector[position[n]] = 1
            return tuple(vector)

        parts.sort(key=exponents, reverse=True)
        if len(parts) == 2 and not parts[1][2] and parts[1][0] > 0 and parts[0][0] < 0 and len(parts[0][2]) == 1:
            parts.reverse()  # sympy writes a positive number before a single negative term: 1 - x
        out = []
        for i, part in enumerate(parts):
            text = _term_text(*part)
            if i == 0:
                out.append(text)
            elif text[0] == "-":
                out.append("- " + text[1:])
            else:
                out.append("+ " + text)
        return " ".join(out)
    p, q, names = _term_parts(value)
    if q == 0:
        return str(value)
    return _term_text(p, q, names)


def _factor_text(value: Any) -> str:
    """A factor of a written-out product: negative or compound values get parentheses."""
    text = expr_text(value)
    if text.startswith("-") or " " in text:
        return f"({text})"
    return text


def _json_value(value: Any) -> Any:
    if _is_sympy(value):
        if getattr(value, "is_Rational", False):
            return Fraction(int(value.p), int(value.q))
        return expr_text(value)
    return value


# ---------------------------------------------------------------------------
# Names of positions


def _position(letter: str, index: Sequence[int]) -> str:
    """1-based position names: ``x3`` in 1D, ``x[2,3]`` otherwise."""
    if len(index) == 1:
        return f"{letter}{index[0] + 1}"
    return f"{letter}[{','.join(str(i + 1) for i in index)}]"


def _input_label(result: ConvResult, index: tuple[int, ...]) -> str:
    """A symbolic input entry that is a plain symbol by its own name, anything else by position."""
    if result.x.kind == "symbolic":
        value = result.x.data[index]
        if type(value).__name__ == "Symbol":
            return str(value)
    return _position("x", index)


def taps_per_output(result: ConvResult) -> int:
    """Taps in every window: input channels × kernel taps (without building a window)."""
    n = result.spatial_ndim
    count = result.channels[0] if result.channels else 1
    for extent in result.k.shape[-n:]:
        count *= extent
    return count


def _title(result: ConvResult) -> str:
    what = "convolution (kernel flipped)" if result.flip else "cross-correlation (deep-learning convolution)"
    engine = {
        "exact": "exact arithmetic",
        "symbolic": "symbolic",
        "direct": "float64, direct accumulation",
        "fft": "float64, FFT",
    }[result.method]
    channels = ""
    if result.channels:
        c_in, c_out = result.channels
        channels = f", {c_in} input → {c_out} output channel(s)"
    return f"{what}; {engine}{channels}"


# ---------------------------------------------------------------------------
# Text


def explain_line(result: ConvResult, out_index: tuple[int, ...]) -> str:
    """``y1 = k1·0 + k2·x1 + k3·x2 = k2*x1 + k3*x2   window (pad, x1, x2)``."""
    value = result.output[out_index]
    value_text = expr_text(value)
    head = f"{_position('y', out_index)} ="
    count = taps_per_output(result)
    if count > MAX_TAPS_SHOWN:
        return f"{head} {value_text}   ({count} taps; window too large to write out)"
    taps = window(result, out_index)
    kernel, source = result.k.data, result.x.data
    terms = []
    where = []
    for tap in taps:
        k_text = _factor_text(kernel[tap.kernel_index])
        if tap.input_index is None:
            terms.append(f"{k_text}·0")
            where.append("pad")
        else:
            terms.append(f"{k_text}·{_factor_text(source[tap.input_index])}")
            where.append(_input_label(result, tap.input_index))
    product = " + ".join(terms)
    line = f"{head} {product}"
    if value_text != product.replace("·", "*"):
        line += f" = {value_text}"
    return f"{line}   window ({', '.join(where)})"


def _all_indices(shape: tuple[int, ...], limit: int) -> list[tuple[int, ...]]:
    import itertools

    return list(itertools.islice(itertools.product(*(range(n) for n in shape)), limit))


def _grid_rows(matrix: Any, keep: int | None) -> list[list[str]]:
    """Formatted rows of a 2D array; with ``keep``, only the corners and '…' between."""
    rows, cols = matrix.shape

    def picks(n: int) -> list[int | None]:
        if keep is None or n <= 2 * keep + 1:
            return list(range(n))
        return list(range(keep)) + [None] + list(range(n - keep, n))

    out = []
    for r in picks(rows):
        if r is None:
            out.append(["⋮"] * len(picks(cols)))
            continue
        out.append(["…" if c is None else expr_text(matrix[r, c]) for c in picks(cols)])
    return out


def _grid_table(rows: list[list[str]], title: str) -> Table:
    """A headerless, right-aligned table of formatted entries."""
    width = len(rows[0]) if rows else 0
    return Table(columns=[""] * width, rows=rows, show_header=False, title=title, right=tuple(range(width)))  # type: ignore[arg-type]


def _matrices(output: Any) -> list[tuple[str, Any]]:
    """The output as labelled 2D slices (a 1D output is one row)."""
    import itertools

    if output.ndim == 1:
        return [("", output.reshape(1, -1))]
    if output.ndim == 2:
        return [("", output)]
    lead = output.shape[:-2]
    return [
        (f"y[{','.join(str(i + 1) for i in index)},:,:]", output[index])
        for index in itertools.product(*(range(n) for n in lead))
    ]


def _summary(result: ConvResult) -> list[Block]:
    import numpy as np

    output = result.output
    blocks: list[Block] = []
    if result.kind != "symbolic":
        values = output if output.dtype != object else np.array(output.reshape(-1).tolist(), dtype=np.float64)
        blocks.append(
            Line(f"min {show(values.min())}   max {show(values.max())}   mean {show(values.mean())}", "dim")
        )
    slices = _matrices(output)
    for label, matrix in slices[:4]:
        blocks.append(_grid_table(_grid_rows(matrix, PREVIEW_KEEP), f"{label} (corners)" if label else "corners"))
    if len(slices) > 4:
        blocks.append(Line(f"… and {len(slices) - 4} more slices (use --out FILE or --json for everything)", "dim"))
    return blocks


def text(report: Report) -> list[Block]:
    """Answer line, size arithmetic, then the outputs explained, printed in full, or summarized."""
    from cnncalc.render.shape_view import worked

    result = report.result
    output = result.output
    blocks: list[Block] = [Line(f"Output size: {sizes_text(result.shape)}", "answer"), Line(_title(result), "dim")]
    for i, dim in enumerate(result.layer.dims):
        label = f"dim {i + 1}: " if len(result.layer.dims) > 1 else ""
        pads = f" (padding {dim.pad_lo} before, {dim.pad_hi} after)" if dim.pad_lo or dim.pad_hi else ""
        blocks.append(Line(f"{label}size {worked(result.layer.spec, dim, i)}{pads}", "dim"))
    taps = taps_per_output(result)
    explain = report.explain or (output.size <= AUTO_EXPLAIN and taps <= MAX_TAPS_SHOWN)
    if explain:
        limit = EXPLAIN_LIMIT
        if taps <= MAX_TAPS_SHOWN:
            limit = min(limit, max(1, MAX_WINDOW_TAPS // taps))
        indices = _all_indices(result.shape, limit)
        blocks.extend(Line(explain_line(result, index)) for index in indices)
        if output.size > len(indices):
            why = f"at most {len(indices)} outputs are written out"
            if len(indices) < EXPLAIN_LIMIT:
                why += f" ({taps} taps each, at most {MAX_WINDOW_TAPS} taps in all)"
            blocks.append(
                Line(f"… {output.size - len(indices)} more outputs not written out: {why} (use --json or --out)", "dim")
            )
    small = output.size <= FULL_ENTRIES and max(output.shape) <= FULL_SIDE * (1 if output.ndim > 1 else 4)
    if small and not (explain and result.kind == "symbolic"):
        if output.ndim == 1:
            blocks.append(Line("y = [" + ", ".join(expr_text(v) for v in output.tolist()) + "]", "answer"))
        else:
            for label, matrix in _matrices(output):
                blocks.append(_grid_table(_grid_rows(matrix, None), label or "y"))
    elif not small:
        blocks.extend(_summary(result))
    if report.out_path:
        blocks.append(Line(f"wrote {report.out_path} ({sizes_text(result.shape)})", "note"))
    return blocks


# ---------------------------------------------------------------------------
# JSON


def _array_input(value: Any) -> dict:
    doc: dict[str, Any] = {"shape": list(value.shape), "kind": value.kind}
    if value.size <= JSON_WINDOWS:
        doc["values"] = _nested(value.data)
    return doc


def _nested(data: Any) -> Any:
    if data.dtype != object:
        return data  # jsonout converts numeric numpy arrays itself
    flat = [_json_value(v) for v in data.reshape(-1).tolist()]
    for extent in reversed(data.shape[1:]):
        flat = [flat[i : i + extent] for i in range(0, len(flat), extent)]
    return flat


def _tap_json(tap: Tap) -> dict:
    return {"kernel_index": list(tap.kernel_index), "input_index": None if tap.input_index is None else list(tap.input_index)}


def json(report: Report) -> tuple[dict, dict]:
    """(input, result): result has ``output`` (nested lists), ``shape``, ``kind``, ``method``, padding and windows."""
    result = report.result
    spec = result.layer.spec
    input_doc = {
        "x": _array_input(result.x),
        "k": _array_input(result.k),
        "p": [str(p) for p in spec.pad],
        "s": list(spec.s),
        "d": list(spec.d),
        "flip": result.flip,
    }
    result_doc: dict[str, Any] = {
        "output": _nested(result.output),
        "shape": list(result.shape),
        "kind": result.kind,
        "method": result.method,
        "padding": [[dim.pad_lo, dim.pad_hi] for dim in result.layer.dims],
        "channels": None if not result.channels else {"in": result.channels[0], "out": result.channels[1]},
    }
    if report.out_path:
        result_doc["written_to"] = report.out_path
    size = int(result.output.size)
    if report.explain or size <= JSON_WINDOWS:
        covered = min(size, max(JSON_WINDOWS, EXPLAIN_LIMIT))
        taps = taps_per_output(result)
        if covered * taps <= MAX_WINDOW_TAPS:
            indices = _all_indices(result.shape, covered)
            result_doc["windows"] = [
                {"output_index": list(index), "taps": [_tap_json(t) for t in window(result, index)]}
                for index in indices
            ]
        else:
            result_doc["windows"] = None
            result_doc["windows_omitted"] = (
                f"{covered} outputs × {taps} taps = {covered * taps} taps is more than the {MAX_WINDOW_TAPS} "
                "listed at most; output o reads input o·s − p_lo + j·d for tap j"
            )
        result_doc["index_base"] = 0
    return input_doc, result_doc


# ---------------------------------------------------------------------------
# LaTeX


class _LazyGrid:
    """Rows of a 2D array formatted on access, so an elided bmatrix formats only what it shows."""

    def __init__(self, matrix: Any) -> None:
        self.matrix = matrix

    def __len__(self) -> int:
        return self.matrix.shape[0]

    def __getitem__(self, r: int) -> "_LazyRow":
        return _LazyRow(self.matrix, r)


class _LazyRow:
    def __init__(self, matrix: Any, r: int) -> None:
        self.matrix, self.r = matrix, r

    def __len__(self) -> int:
        return self.matrix.shape[1]

    def __getitem__(self, c: int) -> str:
        return show_tex(self.matrix[self.r, c])


def latex(report: Report) -> str:
    """``y = \\begin{bmatrix}…\\end{bmatrix}`` (1D as a transposed row), one matrix per leading index."""
    from cnncalc.render.latex import bmatrix

    output = report.result.output
    if output.ndim == 1:
        return "y = " + bmatrix(_LazyGrid(output.reshape(1, -1))) + "^T"  # type: ignore[arg-type]
    parts = []
    for label, matrix in _matrices(output):
        name = "y" if not label else "y_{" + label[2:-5] + "}"
        parts.append(f"{name} = " + bmatrix(_LazyGrid(matrix)))  # type: ignore[arg-type]
    return "\n".join(parts)
