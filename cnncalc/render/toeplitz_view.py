"""How ``cnncalc toeplitz`` shows a :class:`~cnncalc.toeplitz.ToeplitzResult`.

Text: the dimension and where it comes from, the matrix (zeros dimmed, kernel
taps highlighted) or, for large matrices, a summary with a corner preview;
with ``--transpose`` what Mᵀ means; with ``--x`` the product next to the
convolution's answer. JSON: ``shape`` plus a dense ``matrix`` or a sparse COO
form. LaTeX: a ``bmatrix`` with ``\\cdots``/``\\vdots`` elision.
"""

from __future__ import annotations

from typing import Any, Sequence

from cnncalc.render import latex as tex
from cnncalc.render.blocks import Block, Cell, Line, Table
from cnncalc.render.shape_view import worked
from cnncalc.render.values import show, show_tex, sizes_text
from cnncalc.toeplitz import ConvMatrix, ProductCheck, ToeplitzResult

#: Text shows the whole matrix up to this many rows …
TEXT_MAX_ROWS = 24
#: … and up to this many characters of table width; larger matrices get a corner preview.
TEXT_MAX_WIDTH = 100
#: Rows and columns kept by the corner preview (head, an ellipsis, tail).
PREVIEW_ROWS = 9
PREVIEW_COLS = 11
#: Vectors longer than this are shown as head … tail.
VECTOR_MAX = 12
#: Symbolic products show one equation per output up to this many rows.
EQUATIONS_MAX = 10
#: LaTeX keeps at most this many rows/columns (amsmath's default MaxMatrixCols is 10).
LATEX_MAX_SIDE = 10

CITATION = 'Dumoulin & Visin, "A guide to convolution arithmetic for deep learning" (2016)'


# --- small helpers ---------------------------------------------------------


def _label(prefix: str, flat: int, shape: tuple[int, ...]) -> str:
    """1-based name of a flattened position: x3 in 1D, x(2,3) in 2D."""
    if len(shape) == 1:
        return f"{prefix}{flat + 1}"
    index = []
    for extent in reversed(shape):
        index.append(flat % extent + 1)
        flat //= extent
    return f"{prefix}({','.join(str(i) for i in reversed(index))})"


def _axis_names(matrix: ConvMatrix) -> tuple[tuple[str, tuple[int, ...]], tuple[str, tuple[int, ...]]]:
    """(row prefix, grid) and (column prefix, grid): M maps x to x'; Mᵀ maps g = ∂L/∂x' to dx = ∂L/∂x."""
    if matrix.transposed:
        return ("dx", matrix.in_shape), ("g", matrix.out_shape)
    return ("x'", matrix.out_shape), ("x", matrix.in_shape)


def _name(matrix: ConvMatrix) -> str:
    return "Mᵀ" if matrix.transposed else "M"


def _vector_text(values: Sequence[Any], shape: tuple[int, ...] | None = None) -> str:
    items = [show(v) for v in values]
    if shape and len(shape) > 1 and len(items) <= VECTOR_MAX:
        return _nested(items, shape)
    if len(items) > VECTOR_MAX:
        head, tail = items[: VECTOR_MAX - 4], items[-3:]
        return "[" + ", ".join(head) + ", …, " + ", ".join(tail) + f"]  ({len(items)} entries)"
    return "[" + ", ".join(items) + "]"


def _nested(items: list[str], shape: tuple[int, ...]) -> str:
    if len(shape) == 1:
        return "[" + ", ".join(items) + "]"
    step = len(items) // shape[0]
    return "[" + ", ".join(_nested(items[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0])) + "]"


# --- text ------------------------------------------------------------------


def _why_lines(matrix: ConvMatrix) -> list[Block]:
    """The dimension and where it comes from."""
    layer = matrix.layer
    spec, dims = layer.spec, layer.dims
    n_out, n_in = matrix.shape[::-1] if matrix.transposed else matrix.shape
    name = _name(matrix)
    rows, cols = matrix.shape
    blocks: list[Block] = [Line(f"{name} ∈ ℝ^({rows} × {cols})", "answer")]
    one_d = len(dims) == 1
    if one_d:
        arithmetic = worked(spec, dims[0], 0)
        if arithmetic.endswith(f"= {n_out}"):
            count = f"{arithmetic} rows, one per window"
        else:
            count = f"{n_out} rows, one per window ({arithmetic})"
        inputs = f"{n_in} columns, one per input value"
    else:
        per_dim = "; ".join(f"dim {i + 1}: {worked(spec, dim, i)}" for i, dim in enumerate(dims))
        count = f"{sizes_text(matrix.out_shape, ' · ')} = {n_out} rows, one per window position ({per_dim})"
        inputs = (
            f"{sizes_text(matrix.in_shape, ' · ')} = {n_in} columns, one per input value "
            "(the image flattened row by row, C order)"
        )
    if matrix.transposed:
        blocks.append(Line(f"{rows} × {cols}: the transpose of the {n_out} × {n_in} convolution matrix M, which has"))
        blocks.append(Line(f"  {count}; {inputs}"))
    else:
        blocks.append(Line(f"{rows} × {cols}: {count}; {inputs}"))
    what = "row of M" if matrix.transposed else "row"
    if one_d:
        step = int(dims[0].s)
        shift = f"each {what} is the kernel shifted by the stride: {step} column(s) further right than the {what} above"
    else:
        strides = ", ".join(str(dim.s) for dim in dims)
        shift = f"each {what} is the kernel shifted by the stride ({strides}) across the flattened image"
    if any(int(dim.d) > 1 for dim in dims):
        shift += f"; dilation {', '.join(str(dim.d) for dim in dims)} spreads the taps apart"
    blocks.append(Line(shift))
    if not one_d:
        blocks.append(
            Line(
                "M is doubly block-Toeplitz: a grid of "
                f"{matrix.out_shape[0]} × {matrix.in_shape[0]} blocks, one per (output row, input row); "
                "block (i, j) is the 1D matrix of the kernel row that output row i reads from input row j "
                "(zero if it reads none)"
            )
        )
    if any(int(dim.pad_lo) or int(dim.pad_hi) for dim in dims):
        pads = ", ".join(f"{dim.pad_lo}:{dim.pad_hi}" if dim.pad_lo != dim.pad_hi else str(dim.pad_lo) for dim in dims)
        blocks.append(
            Line(
                f"padding {pads}: M acts on the unpadded input, so taps that fall on the padding are simply "
                "absent (rows near the edges are shorter)"
            )
        )
    lower, upper = matrix.bandwidth
    blocks.append(
        Line(
            f"{matrix.nnz} stored entries (kernel taps), density {matrix.density:.3g}, "
            f"bandwidth {lower} below / {upper} above the diagonal",
            "dim",
        )
    )
    return blocks


def _cell(value: Any, is_tap: bool) -> Cell:
    return (show(value), "tap") if is_tap else ("0", "dim")


def _cell_width(matrix: ConvMatrix) -> int:
    kernel_widths = [len(show(v)) for v in matrix.kernel.reshape(-1).tolist()]
    (_, row_grid), (col_prefix, col_grid) = _axis_names(matrix)
    label = len(_label(col_prefix, matrix.shape[1] - 1, col_grid))
    return max([1, label, *kernel_widths])


def _matrix_table(matrix: ConvMatrix) -> list[Block]:
    (row_prefix, row_grid), (col_prefix, col_grid) = _axis_names(matrix)
    n_rows, n_cols = matrix.shape
    max_cols = max(4, (TEXT_MAX_WIDTH - 10) // (_cell_width(matrix) + 3))
    preview = n_rows > TEXT_MAX_ROWS or n_cols > max_cols
    rows = tex.elide(n_rows, PREVIEW_ROWS) if preview else list(range(n_rows))
    cols = tex.elide(n_cols, min(PREVIEW_COLS, max_cols)) if preview else list(range(n_cols))
    real_rows = [r for r in rows if r is not None]
    real_cols = [c for c in cols if c is not None]
    values, is_tap = matrix.block(real_rows, real_cols)
    row_at = {r: i for i, r in enumerate(real_rows)}
    col_at = {c: j for j, c in enumerate(real_cols)}
    header = [""] + [_label(col_prefix, c, col_grid) if c is not None else "⋯" for c in cols]
    table = Table(header, right=tuple(range(1, len(header))))
    for r in rows:
        if r is None:
            table.rows.append([("⋮", "dim")] + [("⋮", "dim") if c is not None else ("⋱", "dim") for c in cols])
            continue
        cells: list[Cell] = [(_label(row_prefix, r, row_grid), "heading")]
        for c in cols:
            if c is None:
                cells.append(("⋯", "dim"))
            else:
                i, j = row_at[r], col_at[c]
                cells.append(_cell(values[i, j], bool(is_tap[i, j])))
        table.rows.append(cells)
    blocks: list[Block] = []
    if preview:
        blocks.append(
            Line(
                f"corner preview: {len(real_rows)} of {n_rows} rows, {len(real_cols)} of {n_cols} columns "
                "(--json lists every entry)",
                "note",
            )
        )
    blocks.append(table)
    return blocks


def _transpose_lines(matrix: ConvMatrix) -> list[Block]:
    n_in, n_out = matrix.shape
    blocks: list[Block] = [
        Line(
            f"Mᵀ takes an output-sized vector ({n_out} values, e.g. the upstream gradient g = ∂L/∂x') back to the "
            f"input size ({n_in}): ∂L/∂x = Mᵀ·g is the gradient of the convolution with respect to its input.",
            "note",
        ),
        Line(
            "Multiplying by Mᵀ is the transposed convolution (ConvTranspose): each output value is sent back to the "
            f"inputs its window read, weighted by the same taps; see {CITATION}.",
            "note",
        ),
    ]
    sizes_info = matrix.transpose_sizes
    if sizes_info.layer is None:
        blocks.append(Line(f"note: {sizes_info.reason}", "warn"))
        return blocks
    layer = sizes_info.layer
    checks = "; ".join(worked(layer.spec, dim, i) for i, dim in enumerate(layer.dims))
    label = "ConvTranspose size" if len(layer.dims) == 1 else "ConvTranspose sizes"
    if any(sizes_info.output_padding):
        label += f" with output_padding={sizes_text(sizes_info.output_padding, ',')}"
    blocks.append(Line(f"{label} (cnncalc shape --transposed): {checks} = the input size {sizes_text(matrix.in_shape)} ✓"))
    for i, (op, without) in enumerate(zip(sizes_info.output_padding, sizes_info.without_output_padding)):
        if not op:
            continue
        where = f"dim {i + 1}: " if len(layer.dims) > 1 else ""
        unread = int(matrix.layer.dims[i].unused_input)
        zero_rows = f"; Mᵀ has zero rows for the {unread} input position(s) never read" if unread else ""
        blocks.append(
            Line(
                f"{where}without output_padding ConvTranspose gives {without}: the stride left {op} trailing "
                f"position(s) that no window reached, and the output size alone cannot say how many, so "
                f"output_padding={op} is needed to get back to {matrix.in_shape[i]}{zero_rows}",
                "warn",
            )
        )
    return blocks


def _product_lines(result: ToeplitzResult) -> list[Block]:
    matrix, check = result.matrix, result.check
    assert check is not None
    name = _name(matrix)
    v_name = "g" if matrix.transposed else "x"
    in_grid = matrix.out_shape if matrix.transposed else matrix.in_shape
    out_grid = matrix.in_shape if matrix.transposed else matrix.out_shape
    blocks: list[Block] = [Line(f"{v_name} = {_vector_text(check.vector.tolist(), in_grid)}")]
    symbolic = any(type(v).__module__.startswith("sympy") for v in check.product.tolist())
    (row_prefix, row_grid), _ = _axis_names(matrix)
    if symbolic:
        blocks.append(Line(f"{name}·{v_name}:"))
        shown = check.product.tolist()
        for r, value in enumerate(shown[:EQUATIONS_MAX]):
            blocks.append(Line(f"  {_label(row_prefix, r, row_grid)} = {show(value)}"))
        if len(shown) > EQUATIONS_MAX:
            blocks.append(Line(f"  … ({len(shown) - EQUATIONS_MAX} more)", "dim"))
    else:
        blocks.append(Line(f"{name}·{v_name} = {_vector_text(check.product.tolist(), out_grid)}"))
    reference = f"conv({v_name})" if check.reference_name == "conv" else "direct scatter"
    if not symbolic:  # symbolic rows are already written out one per line above
        blocks.append(Line(f"{reference} = {_vector_text(check.reference.tolist(), out_grid)}"))
    if check.equal:
        what = "conv's answer (cnncalc conv)" if check.reference_name == "conv" else (
            "the input gradient of the convolution computed by scattering g through the kernel"
        )
        blocks.append(Line(f"{name}·{v_name} equals {what} ✓", "answer"))
    else:
        diff = f" (largest difference {check.max_abs_diff:.3g})" if check.max_abs_diff is not None else ""
        blocks.append(Line(f"{name}·{v_name} differs from the {check.reference_name}{diff}", "warn"))
    return blocks


def text(result: ToeplitzResult) -> list[Block]:
    """The dimension and why, the matrix or its preview, and the transpose/product notes."""
    matrix = result.matrix
    blocks = _why_lines(matrix)
    blocks.extend(_matrix_table(matrix))
    if matrix.transposed:
        blocks.extend(_transpose_lines(matrix))
    if result.check is not None:
        blocks.extend(_product_lines(result))
    return blocks


# --- json ------------------------------------------------------------------


def _json_entries(matrix: ConvMatrix) -> tuple[list[Any], bool]:
    """Each kernel entry as a JSON value, and whether they are all plain numbers."""
    from cnncalc.render.jsonout import jsonable

    entries = [jsonable(v) for v in matrix.kernel.reshape(-1).tolist()]
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in entries)
    return entries, numeric


def _lookup(entries: list[Any], numeric: bool) -> Any:
    """Kernel values plus a final 0 (for 'no tap'), as an array that fancy indexing can map."""
    import numpy as np

    padded = entries + [0]
    if numeric:
        if all(isinstance(v, int) for v in padded) and all(abs(v) < 2**62 for v in padded):
            return np.array(padded, dtype=np.int64)
        if all(isinstance(v, int) for v in padded):
            return np.array(padded, dtype=object)
        return np.array(padded, dtype=np.float64)
    array = np.empty(len(padded), dtype=object)
    array[:] = padded
    return array


def json_matrix(matrix: ConvMatrix) -> dict:
    """The matrix itself: ``{"matrix": [[…]]}`` when dense, ``{"sparse": {"format": "coo", …}}`` when sparse.

    Sparse indices are 0-based; symbolic entries are strings, the rest numbers.
    """
    import numpy as np

    entries, numeric = _json_entries(matrix)
    lookup = _lookup(entries, numeric)
    if matrix.layout == "dense":
        from cnncalc.toeplitz import check_dense_size

        check_dense_size(matrix.shape, matrix.kind)
        where = np.full(matrix.shape, len(entries), dtype=np.int64)  # index of the trailing 0
        where[matrix.rows, matrix.cols] = matrix.taps
        return {"matrix": lookup[where].tolist()}
    return {
        "sparse": {
            "format": "coo",
            "index_base": 0,
            "shape": list(matrix.shape),
            "rows": matrix.rows.tolist(),
            "cols": matrix.cols.tolist(),
            "values": lookup[matrix.taps].tolist(),
        }
    }


def _json_input(result: ToeplitzResult) -> dict:
    from cnncalc.render.jsonout import jsonable

    matrix = result.matrix
    spec = matrix.layer.spec
    doc = {
        "W": list(spec.W),
        "k": jsonable(matrix.kernel),
        "kernel_shape": list(matrix.kernel_shape),
        "kind": matrix.kind,
        "p": [str(p) for p in spec.pad],
        "s": list(spec.s),
        "d": list(spec.d),
        "transpose": matrix.transposed,
        "layout": result.requested_layout,
    }
    if result.check is not None:
        doc["x"] = jsonable(result.check.vector)
    return doc


def _json_check(check: ProductCheck, matrix: ConvMatrix) -> dict:
    from cnncalc.render.jsonout import jsonable

    out_grid = matrix.in_shape if matrix.transposed else matrix.out_shape
    return {
        "product": jsonable(check.product),
        "reference": jsonable(check.reference),
        "reference_name": check.reference_name,
        "shape": list(out_grid),
        "equal": check.equal,
        "max_abs_diff": check.max_abs_diff,
    }


def json(result: ToeplitzResult) -> tuple[dict, dict]:
    matrix = result.matrix
    spec, dims = matrix.layer.spec, matrix.layer.dims
    lower, upper = matrix.bandwidth
    doc: dict[str, Any] = {
        "shape": list(matrix.shape),
        "transposed": matrix.transposed,
        "input_shape": list(matrix.in_shape),
        "output_shape": list(matrix.out_shape),
        "padding": [[dim.pad_lo, dim.pad_hi] for dim in dims],
        "size_rule": [worked(spec, dim, i) for i, dim in enumerate(dims)],
        "nnz": matrix.nnz,
        "density": matrix.density,
        "bandwidth": {"lower": lower, "upper": upper},
        "layout": matrix.layout,
    }
    doc.update(json_matrix(matrix))
    if matrix.transposed:
        info = matrix.transpose_sizes
        doc["transposed_size"] = {
            "without_output_padding": list(info.without_output_padding),
            "output_padding": list(info.output_padding),
            "defined_by_pytorch": info.layer is not None,
            "output": list(info.layer.output) if info.layer is not None else None,
            "note": info.reason,
        }
    if result.check is not None:
        doc["check"] = _json_check(result.check, matrix)
    return _json_input(result), doc


# --- latex -----------------------------------------------------------------


class _LazyRows:
    """Just enough of a sequence of rows for :func:`latex.bmatrix`: entries are made only where asked."""

    def __init__(self, matrix: ConvMatrix) -> None:
        self.matrix = matrix
        self.kernel_tex = [show_tex(v) for v in matrix.kernel.reshape(-1).tolist()]
        self._rows: dict[int, dict[int, str]] = {}

    def __len__(self) -> int:
        return self.matrix.shape[0]

    def __getitem__(self, r: int) -> "_LazyRow":
        if r not in self._rows:
            hit = self.matrix.rows == r
            cols, taps = self.matrix.cols[hit].tolist(), self.matrix.taps[hit].tolist()
            self._rows[r] = {c: self.kernel_tex[t] for c, t in zip(cols, taps)}
        return _LazyRow(self._rows[r], self.matrix.shape[1])


class _LazyRow:
    def __init__(self, entries: dict[int, str], length: int) -> None:
        self.entries = entries
        self.length = length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, c: int) -> str:
        return self.entries.get(c, "0")


class _LazyColumn:
    """A one-column matrix for :func:`latex.bmatrix` whose entries are typeset only when shown (it elides)."""

    def __init__(self, values: Sequence[Any]) -> None:
        self.values = values

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, r: int) -> list[str]:
        return [show_tex(self.values[r])]


def _column(values: Sequence[Any]) -> str:
    return tex.bmatrix(_LazyColumn(values), max_side=LATEX_MAX_SIDE)  # type: ignore[arg-type]


def latex(result: ToeplitzResult) -> str:
    """``\\mathbf{M} = bmatrix \\in \\mathbb{R}^{r \\times c}``, plus the product when a vector was given."""
    matrix = result.matrix
    name = r"\mathbf{M}^{\top}" if matrix.transposed else r"\mathbf{M}"
    rows, cols = matrix.shape
    body = tex.bmatrix(_LazyRows(matrix), max_side=LATEX_MAX_SIDE)  # type: ignore[arg-type]
    equation = f"{name} = {body} \\in \\mathbb{{R}}^{{{rows} \\times {cols}}}"
    check = result.check
    if check is None:
        return equation
    v = r"\mathbf{g}" if matrix.transposed else r"\mathbf{x}"
    return tex.align(
        [
            f"{name} &= {body} \\in \\mathbb{{R}}^{{{rows} \\times {cols}}}",
            f"{name}{v} &= {_column(check.product.tolist())}",
        ]
    )
