"""The matrix a convolution equals: x' = M·x, and its transpose.

A convolution (PyTorch's cross-correlation) with kernel k, stride s, dilation d
and padding p is linear in its input, so it is a matrix M acting on the
flattened input. Output position o reads input position

    q = o·s + t·d − p_lo        for kernel tap t,

so row o of M holds k[t] in column q for every tap whose q lands on real input
(0 ≤ q < W). Taps that land on padding multiply a zero and are simply absent:
M acts on the *unpadded* input. In 2D (and 3D) the same rule holds per
dimension; rows and columns are the row-major (C-order) flattening of the
output and input grids, which makes M doubly block-Toeplitz.

Mᵀ maps an output-sized vector back to input size: it is the transposed
convolution, and the gradient of the convolution with respect to its input.

The number of rows always comes from :func:`cnncalc.sizes.layer_shape` (the
size rule); this module only places the taps. The entries are stored as
coordinates (COO: row, column, kernel tap) built with numpy index arithmetic,
never one Python step per entry; values are looked up from the kernel when
needed, so the same structure serves float, exact (int/Fraction) and symbolic
(sympy) kernels.

Size limits (documented for the CLI):

* :data:`AUTO_DENSE_MAX_ENTRIES` — ``layout="auto"`` picks the dense form up to
  this many entries (rows × columns) and the sparse COO form above it.
* :data:`DENSE_MAX_ENTRIES` — a dense matrix larger than this is refused
  (checked from the shape alone, before anything is allocated).
* :data:`MAX_SIDE` — the most rows, and the most columns, of M (or Mᵀ).
* :data:`MAX_INDEX_PAIRS` — the most (output position, kernel tap) pairs the
  index arithmetic walks (padding taps included, before they are dropped).
* :data:`MAX_STORED_ENTRIES` — the most taps (nonzeros) stored for a numeric
  (float or exact) kernel; :data:`MAX_SYMBOLIC_ENTRIES` for a symbolic one.
* :data:`MAX_EXACT_PRODUCT_TERMS` / :data:`MAX_SYMBOLIC_PRODUCT_TERMS` — with
  ``--x``, the most stored entries + rows + columns of a product M·x computed with exact
  (int/Fraction) or sympy arithmetic.
* :data:`MAX_PRODUCT_ROWS` — with ``--x``, the most values of a product.

All are checked from the sizes alone, before anything is allocated, so a refusal
is immediate and says how big the request would have been.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from cnncalc import sizes
from cnncalc.errors import DomainError, InputError

#: ``layout="auto"`` is dense up to this many entries (e.g. 100 × 100), sparse above.
AUTO_DENSE_MAX_ENTRIES = 10_000
#: Largest dense matrix built: 4 million entries (32 MB as float64; far more as text or JSON).
DENSE_MAX_ENTRIES = 4_000_000
#: Most rows, and most columns, of the matrix (the output and input sizes, flattened).
MAX_SIDE = 10_000_000
#: Most (output position, kernel tap) pairs walked to place the taps (taps on padding included).
MAX_INDEX_PAIRS = 10_000_000
#: Most stored taps (nonzeros) for a numeric kernel: ~2 s for the whole `--json` COO output.
MAX_STORED_ENTRIES = 2_000_000
#: Most stored taps for a symbolic kernel (sympy import, and every entry is written as a name).
MAX_SYMBOLIC_ENTRIES = 1_000_000
#: With a vector: most stored entries + rows + columns of a product computed with exact (int/Fraction) arithmetic.
MAX_EXACT_PRODUCT_TERMS = 300_000
#: … and with sympy arithmetic (a symbolic kernel or vector): every term is multiplied, summed and printed by sympy.
MAX_SYMBOLIC_PRODUCT_TERMS = 7_000
#: With a vector: most values of the product (each is written twice: M·x and the reference).
MAX_PRODUCT_ROWS = 1_000_000
#: Layouts a caller may ask for.
LAYOUTS = ("auto", "dense", "sparse")
#: Most spatial dimensions supported.
MAX_DIMS = sizes.MAX_DIMS

_KINDS = ("float", "exact", "symbolic")


@dataclass(frozen=True)
class TransposeSizes:
    """How Mᵀ's shape relates to PyTorch's ``ConvTranspose`` size rule.

    ``layer`` is :func:`sizes.layer_shape` of the transposed convolution whose
    input is the forward output, with the ``output_padding`` needed to land on
    the original input size (None when PyTorch has no matching layer, e.g.
    asymmetric padding; ``reason`` says why). Without output padding the
    transposed size is ``without_output_padding``: with stride > 1 the forward
    convolution may leave trailing input positions unread, and nothing in the
    output says how many, so ``ConvTranspose`` needs ``output_padding`` to
    recover them.
    """

    layer: sizes.ShapeResult | None
    without_output_padding: tuple[int, ...]
    output_padding: tuple[int, ...]
    reason: str | None = None


@dataclass(frozen=True, eq=False)
class ConvMatrix:
    """The convolution matrix M (or Mᵀ when ``transposed``) in coordinate form.

    ``out_index``/``in_index``/``taps`` are int64 arrays, one element per stored
    entry, sorted by output position then tap: entry e of M sits at row
    ``out_index[e]``, column ``in_index[e]`` and equals ``kernel.flat[taps[e]]``.
    ``layer`` is the forward convolution's size arithmetic from :mod:`cnncalc.sizes`.
    """

    kernel: Any
    kind: str
    layer: sizes.ShapeResult
    transposed: bool
    layout: str
    out_index: Any
    in_index: Any
    taps: Any
    transpose_sizes: TransposeSizes

    # --- shape ------------------------------------------------------------

    @property
    def ndim(self) -> int:
        """Number of spatial dimensions (1, 2 or 3)."""
        return len(self.layer.dims)

    @property
    def in_shape(self) -> tuple[int, ...]:
        """Spatial shape of the (unpadded) convolution input."""
        return tuple(int(dim.W) for dim in self.layer.dims)

    @property
    def out_shape(self) -> tuple[int, ...]:
        """Spatial shape of the convolution output (from the size rule)."""
        return tuple(int(dim.output) for dim in self.layer.dims)

    @property
    def kernel_shape(self) -> tuple[int, ...]:
        return tuple(int(n) for n in self.kernel.shape)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) of the matrix shown: M is out × in, Mᵀ is in × out."""
        n_out, n_in = _prod(self.out_shape), _prod(self.in_shape)
        return (n_in, n_out) if self.transposed else (n_out, n_in)

    @property
    def rows(self) -> Any:
        """Row index of each stored entry."""
        return self.in_index if self.transposed else self.out_index

    @property
    def cols(self) -> Any:
        """Column index of each stored entry."""
        return self.out_index if self.transposed else self.in_index

    # --- summary ----------------------------------------------------------

    @property
    def nnz(self) -> int:
        """Stored entries: one per kernel tap that lands on real input (a zero weight still counts)."""
        return int(self.taps.shape[0])

    @property
    def density(self) -> float:
        """Stored entries over rows × columns."""
        rows, cols = self.shape
        return self.nnz / (rows * cols)

    @property
    def bandwidth(self) -> tuple[int, int]:
        """(lower, upper): the farthest a stored entry lies below / above the main diagonal."""
        if self.nnz == 0:
            return 0, 0
        offset = self.cols - self.rows
        return max(0, -int(offset.min())), max(0, int(offset.max()))

    # --- values -----------------------------------------------------------

    def values(self) -> Any:
        """The value of each stored entry (float64 array, or object array of exact/sympy values)."""
        return self.kernel.reshape(-1)[self.taps]

    def to_dense(self) -> Any:
        """The whole matrix as a 2D numpy array (float64, or object with int 0 for absent entries).

        Raises DomainError above :data:`DENSE_MAX_ENTRIES` entries.
        """
        import numpy as np

        check_dense_size(self.shape, self.kind)
        dtype = np.float64 if self.kernel.dtype != object else object
        matrix = np.zeros(self.shape, dtype=dtype)
        matrix[self.rows, self.cols] = self.values()
        return matrix

    def block(self, row_indices: Sequence[int], col_indices: Sequence[int]) -> tuple[Any, Any]:
        """(values, is_tap) of the sub-matrix at the given rows and columns, without building M.

        ``is_tap`` is True where a kernel tap is stored (even a zero-valued one);
        used for previews of large matrices.
        """
        import numpy as np

        row_pos = np.full(self.shape[0], -1, dtype=np.int64)
        col_pos = np.full(self.shape[1], -1, dtype=np.int64)
        row_pos[np.asarray(row_indices, dtype=np.int64)] = np.arange(len(row_indices))
        col_pos[np.asarray(col_indices, dtype=np.int64)] = np.arange(len(col_indices))
        dtype = np.float64 if self.kernel.dtype != object else object
        sub = np.zeros((len(row_indices), len(col_indices)), dtype=dtype)
        is_tap = np.zeros(sub.shape, dtype=bool)
        r, c = row_pos[self.rows], col_pos[self.cols]
        hit = (r >= 0) & (c >= 0)
        sub[r[hit], c[hit]] = self.kernel.reshape(-1)[self.taps[hit]]
        is_tap[r[hit], c[hit]] = True
        return sub, is_tap

    def matvec(self, vector: Any) -> Any:
        """M·v (or Mᵀ·v) from the stored entries; ``v`` has as many entries as M has columns.

        Returns a flat array: float64 when both sides are float, else object
        (exact or sympy values, summed in tap order).
        """
        import numpy as np

        v = np.asarray(vector).reshape(-1)
        n_rows, n_cols = self.shape
        if v.shape[0] != n_cols:
            raise InputError(f"the vector has {v.shape[0]} entries but the matrix has {n_cols} columns")
        values = self.values()
        if values.dtype != object and v.dtype != object:
            return np.bincount(self.rows, weights=values * v[self.cols], minlength=n_rows).astype(np.float64)
        products = values.astype(object) * v.astype(object)[self.cols]
        out = np.zeros(n_rows, dtype=object)
        if products.shape[0] == 0:
            return out
        # One sum per row (sympy.Add of all its terms at once): adding term by term
        # rebuilds the growing sum each time, quadratic in the terms of a row.
        order = np.argsort(self.rows, kind="stable")
        rows = self.rows[order]
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        ends = np.r_[starts[1:], rows.shape[0]]
        terms = products[order].tolist()
        if any(type(t).__module__.startswith("sympy") for t in terms):
            import sympy

            for row, a, b in zip(rows[starts].tolist(), starts.tolist(), ends.tolist()):
                out[row] = sympy.Add(*terms[a:b])
        else:
            for row, a, b in zip(rows[starts].tolist(), starts.tolist(), ends.tolist()):
                out[row] = sum(terms[a + 1 : b], terms[a])
        return out


def _prod(values: Sequence[int]) -> int:
    n = 1
    for v in values:
        n *= int(v)
    return n


def _array_of(value: Any) -> Any:
    """The numpy array of an ``ArrayValue`` (its ``.data``), or ``value`` itself if it already is one."""
    return value if hasattr(value, "dtype") else value.data


def kernel_kind(kernel: Any) -> str:
    """``"float"`` for a float64 array, ``"symbolic"`` if any entry is a sympy object, else ``"exact"``."""
    if kernel.dtype != object:
        return "float"
    for value in kernel.reshape(-1).tolist():
        if type(value).__module__.startswith("sympy"):
            return "symbolic"
    return "exact"


def _bytes_text(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def check_dense_size(shape: tuple[int, int], kind: str = "float") -> None:
    """Refuse (DomainError) a dense matrix of more than :data:`DENSE_MAX_ENTRIES` entries, saying how big it would be."""
    rows, cols = shape
    entries = rows * cols
    if entries <= DENSE_MAX_ENTRIES:
        return
    per_entry = "as float64" if kind == "float" else "just for the pointers of an object array"
    raise DomainError(
        f"--dense: the {rows} × {cols} matrix has {entries:,} entries ({_bytes_text(entries * 8)} {per_entry}); "
        f"dense output is limited to {DENSE_MAX_ENTRIES:,} entries; drop --dense (or use --sparse) for the COO form"
    )


def _layer_text(layer: sizes.ShapeResult) -> str:
    """The options that set the layer's size, as the user would write them: ``--W 9 --k size 3 --p 1000``."""
    dims = layer.dims

    def joined(values: Sequence[Any]) -> str:
        return ",".join(str(v) for v in values)

    parts = [f"--W {joined(dim.W for dim in dims)}", f"--k size {joined(dim.K for dim in dims)}"]
    if any(int(dim.pad_lo) or int(dim.pad_hi) for dim in dims):
        pads = [f"{dim.pad_lo}:{dim.pad_hi}" if dim.pad_lo != dim.pad_hi else str(dim.pad_lo) for dim in dims]
        parts.append(f"--p {joined(pads)}")
    for option, name in (("--s", "s"), ("--d", "d")):
        values = [int(getattr(dim, name)) for dim in dims]
        if any(v != 1 for v in values):
            parts.append(f"{option} {joined(values)}")
    return " ".join(parts)


def check_matrix_size(layer: sizes.ShapeResult, kind: str = "float", transpose: bool = False) -> int:
    """Refuse (DomainError) a matrix too big to build, from the sizes alone; return its stored-entry count.

    Checked in order: rows and columns (:data:`MAX_SIDE`), the stored taps
    (:data:`MAX_STORED_ENTRIES`, or :data:`MAX_SYMBOLIC_ENTRIES` for a symbolic
    kernel) and the (output, tap) pairs the index arithmetic walks
    (:data:`MAX_INDEX_PAIRS`; more than the stored taps when taps fall on
    padding). Each message gives the options, how big it would be and the limit.
    """
    given = _layer_text(layer)
    hint = "(use `cnncalc shape` for the sizes alone)"
    n_out = _prod(int(dim.output) for dim in layer.dims)
    n_in = _prod(int(dim.W) for dim in layer.dims)
    out_side, in_side = ("columns", "rows") if transpose else ("rows", "columns")
    for side, count, what in ((out_side, n_out, "output position"), (in_side, n_in, "input value")):
        if count > MAX_SIDE:
            name = "Mᵀ" if transpose else "M"
            raise DomainError(
                f"{given}: {name} would have {count:,} {side}, one per {what}; "
                f"toeplitz is limited to {MAX_SIDE:,} rows and {MAX_SIDE:,} columns {hint}"
            )
    stored = count_taps(layer)
    limit = MAX_SYMBOLIC_ENTRIES if kind == "symbolic" else MAX_STORED_ENTRIES
    if stored > limit:
        rows, cols = (n_in, n_out) if transpose else (n_out, n_in)
        which = "symbolic matrices are" if kind == "symbolic" else "a matrix is"
        raise DomainError(
            f"{given}: the {rows:,} × {cols:,} matrix would store {stored:,} kernel taps; "
            f"{which} limited to {limit:,} stored taps {hint}"
        )
    pairs = n_out * _prod(int(dim.K) for dim in layer.dims)
    if pairs > MAX_INDEX_PAIRS:
        raise DomainError(
            f"{given}: placing the taps would walk {pairs:,} (output position, kernel tap) pairs "
            f"({n_out:,} outputs × {pairs // n_out:,} taps); the limit is {MAX_INDEX_PAIRS:,} {hint}"
        )
    return stored


def _taps_per_dim(W: int, K: int, out: int, lo: int, s: int, d: int) -> int:
    """How many (output, tap) pairs of one dimension land on real input, counted per tap in O(K)."""
    total = 0
    for t in range(K):
        shift = t * d - lo  # q = o·s + shift must satisfy 0 ≤ q ≤ W − 1
        first = max(0, -(shift // s))
        last = min(out - 1, (W - 1 - shift) // s)
        total += max(0, last - first + 1)
    return total


def count_taps(layer: sizes.ShapeResult) -> int:
    """Number of stored entries of M, computed from the sizes alone (nothing allocated)."""
    n = 1
    for dim in layer.dims:
        n *= _taps_per_dim(int(dim.W), int(dim.K), int(dim.output), int(dim.pad_lo), int(dim.s), int(dim.d))
    return n


def _coordinates(layer: sizes.ShapeResult) -> tuple[Any, Any, Any]:
    """(out_index, in_index, tap) of every stored entry, by broadcasting per-dimension index grids.

    Axis layout of the broadcast grid: the n output axes, then the n kernel
    axes, so the C-order ravel is sorted by output position, then tap.
    """
    import numpy as np

    dims = layer.dims
    n = len(dims)
    out_shape = tuple(int(dim.output) for dim in dims)
    kernel_shape = tuple(int(dim.K) for dim in dims)
    grid_shape = out_shape + kernel_shape
    in_index = np.zeros((1,) * (2 * n), dtype=np.int64)
    valid = np.ones((1,) * (2 * n), dtype=bool)
    in_stride = 1
    for a in reversed(range(n)):
        dim = dims[a]
        o = np.arange(int(dim.output), dtype=np.int64)[:, None]
        t = np.arange(int(dim.K), dtype=np.int64)[None, :]
        q = o * int(dim.s) + t * int(dim.d) - int(dim.pad_lo)  # input position read by (o, t)
        view = [1] * (2 * n)
        view[a], view[n + a] = int(dim.output), int(dim.K)
        in_index = in_index + (q * in_stride).reshape(view)
        valid = valid & ((q >= 0) & (q < int(dim.W))).reshape(view)
        in_stride *= int(dim.W)
    n_out, n_taps = _prod(out_shape), _prod(kernel_shape)
    out_index = np.broadcast_to(np.arange(n_out, dtype=np.int64)[:, None], (n_out, n_taps)).reshape(-1)
    taps = np.broadcast_to(np.arange(n_taps, dtype=np.int64)[None, :], (n_out, n_taps)).reshape(-1)
    in_index = np.broadcast_to(in_index, grid_shape).reshape(-1)
    valid = np.broadcast_to(valid, grid_shape).reshape(-1)
    if valid.all():
        return out_index, np.ascontiguousarray(in_index), taps
    return out_index[valid], in_index[valid], taps[valid]


def transpose_sizes(layer: sizes.ShapeResult) -> TransposeSizes:
    """Mᵀ's column count through PyTorch's ``ConvTranspose`` rule (:func:`sizes.transposed_size`).

    The output padding needed is the forward remainder: the trailing positions
    of the padded input that no window reached (always smaller than the stride).
    """
    without, needed = [], []
    for dim in layer.dims:
        without.append(int(sizes.transposed_size(dim.output, dim.K, dim.pad_lo, dim.pad_hi, dim.s, dim.d)))
        needed.append(int(dim.remainder))
    asymmetric = [i for i, dim in enumerate(layer.dims) if dim.pad_lo != dim.pad_hi]
    if asymmetric:
        dim = layer.dims[asymmetric[0]]
        reason = (
            f"padding {dim.pad_lo}:{dim.pad_hi} is asymmetric; PyTorch's ConvTranspose only takes the same padding "
            "on both sides, so no ConvTranspose layer has exactly this shape"
        )
        return TransposeSizes(None, tuple(without), tuple(needed), reason)
    spec = sizes.make_spec(
        W=[dim.output for dim in layer.dims],
        K=[dim.K for dim in layer.dims],
        pad=[sizes.PadSpec(lo=dim.pad_lo, hi=dim.pad_hi) for dim in layer.dims],
        s=[dim.s for dim in layer.dims],
        d=[dim.d for dim in layer.dims],
        kind="transposed",
        output_padding=needed,
    )
    return TransposeSizes(sizes.layer_shape(spec), tuple(without), tuple(needed))


def _require_numbers(layer_input: dict[str, Sequence[Any]]) -> None:
    for option, values in layer_input.items():
        for value in values:
            names = [value.lo, value.hi] if isinstance(value, sizes.PadSpec) else [value]
            for v in names:
                if isinstance(v, str):
                    raise InputError(
                        f"{option} {v}: a matrix needs numeric sizes; use `cnncalc shape` for symbolic sizes"
                    )


def conv_matrix(
    kernel: Any,
    W: Sequence[int],
    pad: Sequence[sizes.PadSpec] = (sizes.PadSpec(),),
    s: Sequence[int] = (1,),
    d: Sequence[int] = (1,),
    *,
    kind: str | None = None,
    transpose: bool = False,
    layout: str = "auto",
    same_mode: str = "torch",
) -> ConvMatrix:
    """Build the convolution matrix M (x' = M·x on the row-major flattened input), or Mᵀ.

    ``kernel`` is a numpy array (float64, or object holding int/Fraction/sympy
    values) or anything with a ``.data`` array (e.g. ``literals.ArrayValue``);
    its number of axes is the number of spatial dimensions. ``W``, ``pad``,
    ``s`` and ``d`` hold one value per dimension or a single value for all.
    Sizes and padding are resolved and validated by :func:`sizes.layer_shape`
    (``same_mode`` picks PyTorch's or TensorFlow's rule for ``same`` padding).

    ``layout`` is ``"auto"`` (dense up to :data:`AUTO_DENSE_MAX_ENTRIES`),
    ``"dense"`` (refused with DomainError above :data:`DENSE_MAX_ENTRIES`,
    before anything is allocated) or ``"sparse"``.
    """
    if layout not in LAYOUTS:
        raise InputError(f"layout {layout!r} is not one of {', '.join(LAYOUTS)}")
    data = _array_of(kernel)
    if kind is None:
        kind = getattr(kernel, "kind", None) or kernel_kind(data)
    if kind not in _KINDS:
        raise InputError(f"kernel kind {kind!r} is not one of {', '.join(_KINDS)}")
    ndim = data.ndim
    if not 1 <= ndim <= MAX_DIMS:
        raise InputError(f"--k has {ndim} axes; a kernel has 1 to {MAX_DIMS} spatial dimensions")
    per_dim = {"--W": W, "--p": pad, "--s": s, "--d": d}
    for option, values in per_dim.items():
        if len(values) not in (1, ndim):
            kernel_text = " × ".join(str(n) for n in data.shape)
            allowed = "one value" if ndim == 1 else f"one value or {ndim} comma-separated values"
            raise InputError(
                f"{option} has {len(values)} entries but --k is {ndim}-D (shape {kernel_text}); give {allowed}"
            )
    _require_numbers(per_dim)
    spec = sizes.make_spec(W=list(W), K=list(data.shape), pad=list(pad), s=list(s), d=list(d), same_mode=same_mode)
    layer = sizes.layer_shape(spec, kernel="--k size", size="--W")

    n_out, n_in = _prod(int(dim.output) for dim in layer.dims), _prod(int(dim.W) for dim in layer.dims)
    shape = (n_in, n_out) if transpose else (n_out, n_in)
    check_matrix_size(layer, kind, transpose)
    if layout == "dense":
        check_dense_size(shape, kind)
    elif layout == "auto":
        layout = "dense" if shape[0] * shape[1] <= AUTO_DENSE_MAX_ENTRIES else "sparse"
    out_index, in_index, taps = _coordinates(layer)
    return ConvMatrix(
        kernel=data,
        kind=kind,
        layer=layer,
        transposed=transpose,
        layout=layout,
        out_index=out_index,
        in_index=in_index,
        taps=taps,
        transpose_sizes=transpose_sizes(layer),
    )


# ---------------------------------------------------------------------------
# Checking M·x against the convolution itself.


@dataclass(frozen=True, eq=False)
class ProductCheck:
    """M·x next to the answer computed another way, and whether they agree.

    For M the other way is the convolution (``cnncalc.conv``); for Mᵀ it is a
    direct scatter of each upstream value through the kernel (the input
    gradient of the convolution). Both arrays are flat.
    """

    vector: Any
    product: Any
    reference: Any
    reference_name: str
    equal: bool
    max_abs_diff: float | None = None


def scatter_input_gradient(kernel: Any, upstream: Any, layer: sizes.ShapeResult) -> Any:
    """The gradient of the convolution w.r.t. its input: each upstream value, times each tap, added where that tap read.

    One vectorised scatter per kernel tap (not through the matrix), so it is an
    independent check of Mᵀ·g. Returns an array of the input's spatial shape.
    """
    import numpy as np

    dims = layer.dims
    g = np.asarray(upstream).reshape(tuple(int(dim.output) for dim in dims))
    exact = kernel.dtype == object or g.dtype == object
    if exact:
        g = g.astype(object)
    grad = np.zeros(tuple(int(dim.W) for dim in dims), dtype=object if exact else np.float64)
    for tap in np.ndindex(*kernel.shape):
        # For each dim: which outputs o have q = o·s + t·d − p inside [0, W)?
        source, target = [], []
        for a, dim in enumerate(dims):
            s, W, out = int(dim.s), int(dim.W), int(dim.output)
            shift = tap[a] * int(dim.d) - int(dim.pad_lo)
            o = np.arange(out)
            q = o * s + shift
            keep = (q >= 0) & (q < W)
            source.append(o[keep])
            target.append(q[keep])
        if any(len(idx) == 0 for idx in source):
            continue
        grad[np.ix_(*target)] += g[np.ix_(*source)] * kernel[tap]
    return grad


def _agree(product: Any, reference: Any) -> tuple[bool, float | None]:
    """Whether two flat results are the same: sympy-equal, exactly equal, or float-close (with the largest gap)."""
    import numpy as np

    a, b = np.asarray(product).reshape(-1), np.asarray(reference).reshape(-1)
    if a.shape != b.shape:
        return False, None
    values = a.tolist() + b.tolist()
    if any(type(v).__module__.startswith("sympy") for v in values):
        import sympy

        return all(sympy.expand(x - y) == 0 for x, y in zip(a.tolist(), b.tolist())), None
    if a.dtype == object and b.dtype == object and not any(isinstance(v, float) for v in values):
        return all(x == y for x, y in zip(a.tolist(), b.tolist())), None
    a, b = a.astype(np.float64), b.astype(np.float64)
    diff = float(np.max(np.abs(a - b))) if a.size else 0.0
    scale = max(1.0, float(np.max(np.abs(b))) if b.size else 1.0)
    return diff <= 1e-9 * scale, diff


def check_product_size(matrix: ConvMatrix, vector: Any) -> None:
    """Refuse (DomainError) a product M·x too big to compute and check quickly, before computing it.

    Every product has at most :data:`MAX_PRODUCT_ROWS` values; one computed with
    exact arithmetic (an object kernel or vector) at most
    :data:`MAX_EXACT_PRODUCT_TERMS` stored entries + rows + columns (each is
    arithmetic or a value written out), and with sympy
    arithmetic at most :data:`MAX_SYMBOLIC_PRODUCT_TERMS`.
    """
    name = "Mᵀ·g" if matrix.transposed else "M·x"
    rows = matrix.shape[0]
    if rows > MAX_PRODUCT_ROWS:
        raise DomainError(
            f"--x: {name} would have {rows:,} values; products are limited to {MAX_PRODUCT_ROWS:,} values "
            "(drop --x for the matrix alone)"
        )
    v = _array_of(vector)
    if matrix.kernel.dtype != object and getattr(v, "dtype", None) != object:
        return
    cols = matrix.shape[1]
    terms = matrix.nnz + rows + cols
    symbolic = matrix.kind == "symbolic" or kernel_kind(v) == "symbolic"
    limit = MAX_SYMBOLIC_PRODUCT_TERMS if symbolic else MAX_EXACT_PRODUCT_TERMS
    if terms > limit:
        arithmetic = "symbolic" if symbolic else "exact"
        raise DomainError(
            f"--x: {name} would take {matrix.nnz:,} {arithmetic} products over {rows:,} rows and {cols:,} columns "
            f"({terms:,} in all); {arithmetic} products are limited to {limit:,} products + rows + columns "
            "(use a smaller --W, or drop --x)"
        )


def check_product(matrix: ConvMatrix, vector: Any, conv_reference: Any = None) -> ProductCheck:
    """Multiply ``matrix`` by ``vector`` and compare with the answer computed without the matrix.

    ``vector`` has the shape of the matrix's input side (or its flat length).
    For M the reference is ``conv_reference`` if given (the convolution's
    output), otherwise computed with :mod:`cnncalc.conv`; for Mᵀ it is
    :func:`scatter_input_gradient`.
    """
    import numpy as np

    v = np.asarray(_array_of(vector))
    expected_shape = matrix.out_shape if matrix.transposed else matrix.in_shape
    option = "--x"
    if v.size != _prod(expected_shape):
        want = " × ".join(str(n) for n in expected_shape)
        side = "the output (an upstream gradient)" if matrix.transposed else "the input"
        got = " × ".join(str(n) for n in v.shape)
        raise InputError(f"{option} has shape {got} but must match {side}: {want} ({_prod(expected_shape)} entries)")
    if v.ndim > 1 and tuple(v.shape) != tuple(expected_shape):
        want = " × ".join(str(n) for n in expected_shape)
        got = " × ".join(str(n) for n in v.shape)
        raise InputError(f"{option} has shape {got}; expected {want} or a flat list of {_prod(expected_shape)}")
    product = matrix.matvec(v)
    if matrix.transposed:
        reference = scatter_input_gradient(matrix.kernel, v, matrix.layer)
        name = "input gradient (direct scatter)"
    else:
        if conv_reference is None:
            conv_reference = convolve_with_conv_core(matrix, v.reshape(expected_shape))
        reference = conv_reference
        name = "conv"
    equal, diff = _agree(product, reference)
    return ProductCheck(v.reshape(-1), product, np.asarray(reference).reshape(-1), name, equal, diff)


def convolve_with_conv_core(matrix: ConvMatrix, x: Any) -> Any:
    """The convolution of ``x`` (input-shaped) by ``matrix``'s kernel and layer, computed by :mod:`cnncalc.conv`.

    Padding is passed already resolved (lo:hi per dimension), so both paths
    use exactly the same layer.
    """
    import numpy as np

    from cnncalc import conv
    from cnncalc.literals import ArrayValue

    data = np.asarray(_array_of(x)).reshape(matrix.in_shape)
    dims = matrix.layer.dims
    result = conv.convolve(
        ArrayValue(data, kernel_kind(data), tuple(data.shape)),
        ArrayValue(matrix.kernel, matrix.kind, matrix.kernel_shape),
        pad=[sizes.PadSpec(lo=int(dim.pad_lo), hi=int(dim.pad_hi)) for dim in dims],
        stride=[int(dim.s) for dim in dims],
        dilation=[int(dim.d) for dim in dims],
    )
    return result.output


# ---------------------------------------------------------------------------
# Reading --k and --x: literals only (toeplitz does not read files).

#: How the kernel/vector may be written, for messages.
ARRAY_FORMS = "[1,2,3], [[1,2],[3,4]], 1/4*[[1,1],[1,1]] or a range like k1:3 or K:3x3"
_FILE_SUFFIXES = (".npy", ".csv", ".txt")
#: Offers of file input in :func:`cnncalc.literals.parse_array`'s messages, and what toeplitz says instead.
_FILE_OFFERS = (
    (", a range like x1:9 or X:3x3, or a .npy/.csv/.txt file", " or a range like x1:9 or X:3x3"),
    (", a range like x1:9, or a file name", " or a range like x1:9"),
    (" (use a .npy/.csv file for large numeric data)", ""),
)


def _without_file_offers(message: str) -> str:
    import re

    for offer, instead in _FILE_OFFERS:
        message = message.replace(offer, instead)
    # Any other wording that still offers a file (the parser's messages may change): drop that clause.
    return re.sub(r"(,? or| \(use)? an? [^,;()]*\bfile\b[^,;()]*\)?", "", message)


def parse_array(text: str, option: str) -> Any:
    """``--k``/``--x`` for toeplitz: :func:`cnncalc.literals.parse_array`, with messages that offer only literals.

    The shared parser's messages also offer ``.npy/.csv/.txt`` files, which other
    commands read but toeplitz does not; a file name gets its own message.
    """
    from cnncalc import literals

    stripped = (text or "").strip()
    if stripped.lower().endswith(_FILE_SUFFIXES) and not stripped.startswith("["):
        shown = stripped if len(stripped) <= 40 else stripped[:39] + "…"
        raise InputError(
            f"{option} {shown!r}: toeplitz does not read files; write the values inline: {ARRAY_FORMS}"
        )
    try:
        return literals.parse_array(text, option)
    except InputError as exc:
        message = str(exc)
        reworded = _without_file_offers(message)
        if reworded == message:
            raise
        raise type(exc)(reworded) from None


# ---------------------------------------------------------------------------
# What the ``toeplitz`` command computes.


@dataclass(frozen=True, eq=False)
class ToeplitzResult:
    """The matrix, what was asked for, and (with a vector) the product checked against the convolution."""

    matrix: ConvMatrix
    requested_layout: str
    check: ProductCheck | None = None


def toeplitz(
    kernel: Any,
    W: Sequence[int | str] | None,
    pad: Sequence[sizes.PadSpec] = (sizes.PadSpec(),),
    s: Sequence[int | str] = (1,),
    d: Sequence[int | str] = (1,),
    *,
    transpose: bool = False,
    layout: str = "auto",
    vector: Any = None,
    same_mode: str = "torch",
) -> ToeplitzResult:
    """The ``toeplitz`` command's core: build M (or Mᵀ) and, given a vector, check M·v another way.

    Without ``W`` the input size is taken from ``vector`` (only for M: for Mᵀ
    the vector is output-sized, which does not determine the input size).
    """
    vector_data = None if vector is None else _array_of(vector)
    if W is None:
        if vector_data is None or transpose:
            need = "with --transpose, --x is output-sized, so --W is needed" if transpose else "or give --x"
            raise InputError(f"--W is missing: give the input size, e.g. --W 9 or --W 4,4 ({need})")
        W = [int(n) for n in vector_data.shape]
    matrix = conv_matrix(kernel, W, pad, s, d, transpose=transpose, layout=layout, same_mode=same_mode)
    if vector_data is not None:
        check_product_size(matrix, vector_data)
    check = check_product(matrix, vector_data) if vector_data is not None else None
    return ToeplitzResult(matrix, layout, check)
