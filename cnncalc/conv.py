"""Convolution as deep learning defines it (cross-correlation), on exact, symbolic and float arrays.

Per spatial axis, with kernel taps j, stride s, dilation d and left padding p_lo::

    y[o] = Σ_j k[j] · x[o·s − p_lo + j·d]        (x is 0 outside 0 … W−1)

``flip=True`` reverses the kernel along every spatial axis first, which gives
the signal-processing convolution. The output size always comes from
:func:`cnncalc.sizes.layer_shape`; this module never re-derives it.

Layouts: ``x`` and ``k`` with the same number of dimensions (1–3) are a plain
spatial convolution. With channels (PyTorch layout) ``x`` is (C_in, *spatial)
and ``k`` is (C_out, C_in, *kernel); the output is (C_out, *out) and sums over
the input channels.

Three engines, chosen by the kind of data:

* exact (``int``/``Fraction`` entries): each array is scaled to Python ints by
  the least common multiple of its denominators, convolved on numpy object
  arrays (one strided slice per kernel tap), and each output divided back once,
  so 1/4·(1+2+4+5) is exactly 3 and comes back as ``int``, and no Fraction
  arithmetic (a gcd per operation) runs inside the sums;
* symbolic (sympy entries): each output is built directly as a sympy sum;
  taps that meet padding are skipped, so padded zeros never appear;
* float (float64), per case by a small cost model: "direct" — numpy.correlate
  over runs of flattened rows when the last axis has stride 1 and dilation 1,
  otherwise k[tap]·(strided slice of x) added tap by tap; both work through
  cache-sized blocks of output spread over a few threads — or "fft"
  (``numpy.fft.rfftn``) for large kernels. Nothing copies windows: peak memory
  is a small multiple of input + output.

Limits (InputError beyond them, checked before any work):

* exact: ``MAX_EXACT_TERMS`` small-integer operations. A multiply-add (outputs ×
  taps × input channels) on scaled entries of up to ~128 bits counts 1; wider
  entries count ⌈bits_x/64⌉·⌈bits_k/64⌉/6; when there are denominators, each
  output's final reduction (a gcd) counts 64 + w²/2 for a w-word result. So 10⁴-tap integer kernels over 10³
  outputs (10⁷) pass, while 10⁷ multiply-adds of fractions do not.
* symbolic: ``MAX_SYMBOLIC_TERMS`` terms, i.e. multiply-adds plus one per output
  (each output is a sympy object of its own).

Both keep a whole ``cnncalc conv`` run (parsing, convolution, printing, JSON)
under about 1.5 s.

Pure: no printing, no files. numpy is imported when a convolution runs, sympy
only on the symbolic path.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Sequence

from cnncalc import sizes
from cnncalc.errors import DomainError, InputError
from cnncalc.literals import ArrayValue
from cnncalc.sizes import PadSpec, ShapeResult

#: Most small-integer operations (weighted multiply-adds, see above) the exact path does: 10⁷ ≈ 0.5 s.
MAX_EXACT_TERMS = 10**7
#: Most symbolic terms (multiply-adds + outputs) the symbolic path builds: ≤ ~1.3 s whole-process with --json.
MAX_SYMBOLIC_TERMS = 80_000
#: Denominators whose least common multiple is wider than this many bits make exact work refused.
MAX_EXACT_BITS = 1 << 16
#: Output elements per block of the slice-by-slice float engine (256 KiB of float64 + scratch: fits in L2).
BLOCK_ELEMS = 1 << 15
#: Elements per block of rows for the numpy.correlate engine (1 MiB of float64, measured best here).
ROW_BLOCK_ELEMS = 1 << 17
#: Outputs per chunk of a 1D numpy.correlate (4 MiB: large enough to amortize, small enough to share out).
CHUNK_1D = 1 << 19


@dataclass(frozen=True)
class Tap:
    """One kernel tap of one output: which kernel entry meets which input entry.

    Indices are in the user's layout (channels included); ``input_index`` is
    None when the tap falls on padding.
    """

    kernel_index: tuple[int, ...]
    input_index: tuple[int, ...] | None


@dataclass(frozen=True, eq=False)
class ConvResult:
    """A finished convolution: the output array plus everything needed to explain it."""

    #: float64 array, or dtype object with int / Fraction / sympy entries
    output: Any
    #: "float" | "exact" | "symbolic"
    kind: str
    x: ArrayValue
    k: ArrayValue
    #: the size arithmetic per spatial axis (from sizes.layer_shape)
    layer: ShapeResult
    flip: bool
    #: (C_in, C_out) when the arrays carry channels, else None
    channels: tuple[int, int] | None
    #: "direct" | "fft" | "exact" | "symbolic"
    method: str

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.output.shape)

    @property
    def spatial_ndim(self) -> int:
        return len(self.layer.dims)


# ---------------------------------------------------------------------------
# Shapes and layout


def _dims_text(shape: Sequence[int]) -> str:
    return f"{len(shape)}D ({' × '.join(str(n) for n in shape)})"


def split_layout(x_shape: tuple[int, ...], k_shape: tuple[int, ...]) -> tuple[int, tuple[int, int] | None]:
    """Number of spatial dimensions and, with channels, (C_in, C_out); InputError if x and k do not fit."""
    if len(x_shape) == len(k_shape):
        n = len(x_shape)
        if n > sizes.MAX_DIMS:
            raise InputError(
                f"--x and --k are {n}D; at most {sizes.MAX_DIMS} spatial dimensions are supported "
                "(for channels give x as (C_in, H, W) and k as (C_out, C_in, kH, kW))"
            )
        return n, None
    if len(k_shape) == len(x_shape) + 1 and len(x_shape) >= 2:
        n = len(x_shape) - 1
        if n > sizes.MAX_DIMS:
            raise InputError(f"--x has {n} spatial dimensions; at most {sizes.MAX_DIMS} are supported")
        c_in, c_out = x_shape[0], k_shape[0]
        if k_shape[1] != c_in:
            raise InputError(
                f"--k has {k_shape[1]} input channels (shape {k_shape}) but --x has {c_in} (shape {x_shape}); "
                "channels use PyTorch layout: x (C_in, …), k (C_out, C_in, …)"
            )
        return n, (c_in, c_out)
    raise InputError(
        f"--x is {_dims_text(x_shape)} but --k is {_dims_text(k_shape)}; give them the same number of "
        "dimensions, or x as (C_in, H, W) with k as (C_out, C_in, kH, kW)"
    )


def _check_per_dim(option: str, values: Sequence[Any], n: int) -> None:
    if len(values) not in (1, n):
        raise InputError(
            f"{option} has {len(values)} entries but the arrays have {n} spatial dimension(s); "
            "give one value or one per dimension"
        )


def layer_for(
    x_shape: tuple[int, ...],
    k_shape: tuple[int, ...],
    pad: Sequence[PadSpec] = (PadSpec(),),
    stride: Sequence[int] = (1,),
    dilation: Sequence[int] = (1,),
    same_mode: str = "torch",
) -> tuple[ShapeResult, tuple[int, int] | None]:
    """The size arithmetic (from :mod:`cnncalc.sizes`) of convolving arrays of these shapes."""
    n, channels = split_layout(x_shape, k_shape)
    _check_per_dim("--p", pad, n)
    _check_per_dim("--s", stride, n)
    _check_per_dim("--d", dilation, n)
    spec = sizes.make_spec(
        W=x_shape[-n:], K=k_shape[-n:], pad=pad, s=stride, d=dilation, kind="conv", same_mode=same_mode
    )
    return sizes.layer_shape(spec, kernel="--k size", size="--x size"), channels


# ---------------------------------------------------------------------------
# The tap geometry shared by every engine


@dataclass(frozen=True)
class _AxisTap:
    """For one kernel tap on one axis: outputs o_start … o_stop−1 read inputs i_start, i_start+s, …"""

    o_start: int
    o_stop: int
    i_start: int


def _axis_taps(W: int, K: int, lo: int, s: int, d: int, out: int) -> list[_AxisTap | None]:
    """Per tap j, the contiguous run of outputs whose input index o·s − lo + j·d lies inside 0 … W−1."""
    taps: list[_AxisTap | None] = []
    for j in range(K):
        taps.append(_run(j * d - lo, s, W, out))
    return taps


def _run(offset: int, s: int, length: int, out: int) -> _AxisTap | None:
    """Outputs o in 0 … out−1 with 0 ≤ o·s + offset < length, as one run (None if there are none)."""
    first = 0 if offset >= 0 else (-offset + s - 1) // s
    stop = min(out, (length - 1 - offset) // s + 1)
    if first >= stop:
        return None
    return _AxisTap(first, stop, first * s + offset)


def _geometry(layer: ShapeResult) -> list[list[_AxisTap | None]]:
    return [_axis_taps(dim.W, dim.K, dim.pad_lo, dim.s, dim.d, dim.output) for dim in layer.dims]


def _slices(axis_taps: Sequence[_AxisTap], strides: Sequence[int]) -> tuple[tuple[slice, ...], tuple[slice, ...]]:
    out_sl = tuple(slice(t.o_start, t.o_stop) for t in axis_taps)
    in_sl = tuple(
        slice(t.i_start, t.i_start + (t.o_stop - t.o_start - 1) * s + 1, s) for t, s in zip(axis_taps, strides)
    )
    return out_sl, in_sl


def _channel_layout(x: Any, kernel: Any, channels: tuple[int, int] | None) -> tuple[Any, Any]:
    """Views with explicit channel axes: x (C_in, *S), kernel (C_out, C_in, *K)."""
    if channels is None:
        return x.reshape((1,) + x.shape), kernel.reshape((1, 1) + kernel.shape)
    return x, kernel


def _flipped(kernel: Any, n: int) -> Any:
    return kernel[(Ellipsis,) + (slice(None, None, -1),) * n]


# ---------------------------------------------------------------------------
# Public entry points


def convolve(
    x: ArrayValue,
    k: ArrayValue,
    pad: Sequence[PadSpec] = (PadSpec(),),
    stride: Sequence[int] = (1,),
    dilation: Sequence[int] = (1,),
    flip: bool = False,
    method: str = "auto",
    same_mode: str = "torch",
) -> ConvResult:
    """Cross-correlate ``x`` with ``k`` (convolve if ``flip``), exactly, symbolically or in float64.

    ``pad``/``stride``/``dilation`` hold one value, or one per spatial axis.
    ``method`` ("auto" | "direct" | "fft") only affects float data; ``same_mode``
    ("torch" | "tf") is the rule for ``same`` padding, as in :func:`cnncalc.sizes.make_spec`.
    Raises InputError for shapes that do not fit or work beyond the documented limits.
    """
    layer, channels = layer_for(x.shape, k.shape, pad, stride, dilation, same_mode)
    n = len(layer.dims)
    kinds = {x.kind, k.kind}
    kind = "symbolic" if "symbolic" in kinds else "float" if "float" in kinds else "exact"
    out_spatial = tuple(int(v) for v in layer.output)
    c_in, c_out = channels if channels else (1, 1)
    taps_per_output = c_in
    for extent in k.shape[-n:]:
        taps_per_output *= extent
    out_count = c_out
    for extent in out_spatial:
        out_count *= extent
    work = out_count * taps_per_output
    what = f"--x {_dims_text(x.shape)} with --k {_dims_text(k.shape)}"
    advice = "use .npy/.csv files of floats for large numeric work"
    x_data, k_data, scale = x.data, k.data, 1
    if kind == "symbolic" and work + out_count > MAX_SYMBOLIC_TERMS:
        raise InputError(
            f"{what} needs {work} symbolic multiply-adds over {out_count} outputs ({work + out_count} terms); "
            f"the symbolic limit is {MAX_SYMBOLIC_TERMS} terms, multiply-adds plus outputs ({advice})"
        )
    if kind == "exact":
        x_data, k_data, scale = _exact_plan(x.data, k.data, work, out_count, taps_per_output, what, advice)
    xs, ks = _channel_layout(x_data, k_data, channels)
    if flip:
        ks = _flipped(ks, n)
    geometry = _geometry(layer)
    strides = tuple(dim.s for dim in layer.dims)
    if kind == "float":
        out, used = _float_conv(xs, ks, layer, geometry, method)
    elif kind == "exact":
        out, used = _exact_conv(xs, ks, out_spatial, geometry, strides, scale), "exact"
    else:
        out, used = _symbolic_conv(xs, ks, out_spatial, geometry, strides), "symbolic"
    if channels is None:
        out = out.reshape(out_spatial)
    return ConvResult(out, kind, x, k, layer, flip, channels, used)


def window(result: ConvResult, out_index: Sequence[int]) -> list[Tap]:
    """Every tap of one output (index in the output's own layout): kernel entry and input entry or padding.

    Taps are listed input channel first, then kernel positions in row-major
    order of the kernel as applied (so with ``flip`` the kernel indices run backwards).
    """
    n = result.spatial_ndim
    out_index = tuple(int(i) for i in out_index)
    if len(out_index) != len(result.shape):
        raise InputError(f"output index {out_index} does not match the output shape {result.shape}")
    spatial = out_index[-n:]
    lead_k: tuple[int, ...] = ()
    c_in_count = 1
    if result.channels:
        c_in_count = result.channels[0]
        lead_k = (out_index[0],)
    import itertools

    kernel_shape = result.k.shape[-n:]
    taps: list[Tap] = []
    for ci in range(c_in_count):
        lead_x = (ci,) if result.channels else ()
        for j in itertools.product(*(range(K) for K in kernel_shape)):
            position = []
            for axis, dim in enumerate(result.layer.dims):
                i = spatial[axis] * dim.s - dim.pad_lo + j[axis] * dim.d
                position.append(i if 0 <= i < dim.W else None)
            k_index = tuple(K - 1 - jj for K, jj in zip(kernel_shape, j)) if result.flip else tuple(j)
            inside = None if any(p is None for p in position) else lead_x + tuple(position)  # type: ignore[operator]
            taps.append(Tap(lead_k + ((ci,) if result.channels else ()) + k_index, inside))
    return taps


# ---------------------------------------------------------------------------
# Exact engine


def _scaled_ints(data: Any) -> tuple[Any, int, int] | None:
    """(the entries times L as Python ints, L, widest scaled entry in bits); L = lcm of the denominators.

    None when L is wider than ``MAX_EXACT_BITS``.
    """
    import math

    import numpy as np

    values = data.reshape(-1).tolist()
    scale = 1
    for denominator in {v.denominator for v in values if type(v) is not int}:
        scale = scale * denominator // math.gcd(scale, denominator)
        if scale.bit_length() > MAX_EXACT_BITS:
            return None
    if scale == 1:
        ints = [int(v) for v in values]
    else:
        ints = [v.numerator * (scale // v.denominator) for v in values]
    bits = max(1, max(abs(v) for v in ints).bit_length())
    out = np.empty(len(ints), dtype=object)
    out[:] = ints
    return out.reshape(data.shape), scale, bits


def _width_weight(bits_a: int, bits_b: int) -> int:
    """Cost of multiplying numbers this wide, in units of a small-int multiply-add (measured: 1330-bit ≈ 70)."""
    return max(1, (-(-bits_a // 64)) * (-(-bits_b // 64)) // 6)


def _exact_plan(
    x: Any, k: Any, work: int, out_count: int, taps: int, what: str, advice: str
) -> tuple[Any, Any, int]:
    """Scaled integer arrays and the common denominator, or InputError when the weighted cost is over the limit."""
    scaled_x, scaled_k = _scaled_ints(x), _scaled_ints(k)
    if scaled_x is None or scaled_k is None:
        raise InputError(
            f"{what}: the entries' denominators have a least common multiple wider than {MAX_EXACT_BITS} bits, "
            f"too large for exact arithmetic ({advice})"
        )
    (xi, x_scale, x_bits), (ki, k_scale, k_bits) = scaled_x, scaled_k
    wide = _width_weight(x_bits, k_bits)
    cost = work * wide
    scale = x_scale * k_scale
    if scale != 1:
        out_words = -(-(x_bits + k_bits + taps.bit_length()) // 64)
        cost += out_count * (64 + out_words * out_words // 2)  # Fraction(v, scale): a gcd (measured)
    if cost > MAX_EXACT_TERMS:
        detail = f"{work} exact multiply-adds"
        if wide > 1:
            detail += f" on numbers of up to {x_bits} and {k_bits} bits"
        if scale != 1:
            detail += f" and {out_count} fraction reductions"
        raise InputError(
            f"{what} needs {detail}, about {cost} small-integer operations; "
            f"the exact limit is {MAX_EXACT_TERMS} ({advice})"
        )
    return xi, ki, scale


def _exact_conv(
    x: Any, kernel: Any, out_spatial: tuple[int, ...], geometry: Any, strides: tuple[int, ...], scale: int = 1
) -> Any:
    """Integer arithmetic on object arrays (one strided multiply-add per tap), divided by ``scale`` at the end.

    ``x`` and ``kernel`` hold Python ints (int/Fraction entries also work, slowly).
    """
    import itertools

    import numpy as np

    c_out, c_in = kernel.shape[0], kernel.shape[1]
    out = np.empty((c_out,) + out_spatial, dtype=object)
    out.fill(0)
    for co in range(c_out):
        target = out[co]
        for ci in range(c_in):
            for j in itertools.product(*(range(K) for K in kernel.shape[2:])):
                value = kernel[(co, ci) + j]
                if value == 0:
                    continue
                axis_taps = [geometry[a][j[a]] for a in range(len(j))]
                if any(t is None for t in axis_taps):
                    continue
                out_sl, in_sl = _slices(axis_taps, strides)  # type: ignore[arg-type]
                target[out_sl] += x[ci][in_sl] * value
    flat = out.reshape(-1)
    values = flat.tolist()
    if scale != 1:
        values = [Fraction(v, scale) for v in values]
    if scale != 1 or any(type(v) is not int for v in values):
        flat[:] = [int(v) if isinstance(v, Fraction) and v.denominator == 1 else v for v in values]
    return out


# ---------------------------------------------------------------------------
# Symbolic engine


def _symbolic_conv(x: Any, kernel: Any, out_spatial: tuple[int, ...], geometry: Any, strides: tuple[int, ...]) -> Any:
    """Each output as a sympy sum over the taps that meet real input (padding contributes nothing)."""
    import itertools

    import numpy as np

    c_out, c_in = kernel.shape[0], kernel.shape[1]
    spatial_count = 1
    for extent in out_spatial:
        spatial_count *= extent
    out_positions = np.arange(spatial_count).reshape(out_spatial)
    x_flat_positions = np.arange(x.size).reshape(x.shape)
    # terms[o] = [(kernel flat index, x flat index), ...] for output o
    terms: list[list[tuple[int, int]]] = [[] for _ in range(c_out * spatial_count)]
    k_flat = kernel.reshape(-1) if kernel.flags.c_contiguous else np.ascontiguousarray(kernel).reshape(-1)
    k_positions = np.arange(kernel.size).reshape(kernel.shape)
    for co in range(c_out):
        base = co * spatial_count
        for ci in range(c_in):
            for j in itertools.product(*(range(K) for K in kernel.shape[2:])):
                k_pos = int(k_positions[(co, ci) + j])
                value = k_flat[k_pos]
                if _is_zero(value):
                    continue
                axis_taps = [geometry[a][j[a]] for a in range(len(j))]
                if any(t is None for t in axis_taps):
                    continue
                out_sl, in_sl = _slices(axis_taps, strides)  # type: ignore[arg-type]
                outs = out_positions[out_sl].reshape(-1).tolist()
                ins = x_flat_positions[ci][in_sl].reshape(-1).tolist()
                for o, i in zip(outs, ins):
                    terms[base + o].append((k_pos, i))
    x_values = x.reshape(-1).tolist()
    k_values = k_flat.tolist()
    builder = _SumBuilder(k_values, x_values)
    out = np.empty(c_out * spatial_count, dtype=object)
    out[:] = [builder.build(pairs) for pairs in terms]
    return out.reshape((c_out,) + out_spatial)


def _is_zero(value: Any) -> bool:
    if isinstance(value, (int, Fraction, float)):
        return value == 0
    return bool(getattr(value, "is_zero", False))


class _SumBuilder:
    """Builds Σ k·x as a sympy expression, directly in canonical form when entries are simple.

    "Simple" entries are numbers (int/Fraction) and plain symbols, optionally
    scaled by a rational (``-k2``, ``x/4``). For those, like terms are combined
    in a dict and the Add/Mul objects are assembled in sympy's canonical
    argument order without going through sympy's general flattening, which is
    what makes 10^4 outputs take a fraction of a second. Anything else (floats,
    squares, other expressions) goes through ``sympy.Add``/``sympy.Mul``.
    The result is identical (``==``) either way; tests compare the two.
    """

    def __init__(self, k_values: list[Any], x_values: list[Any]) -> None:
        import sympy

        self.sympy = sympy
        try:
            from sympy.core.basic import _args_sortkey  # canonical argument order of Add/Mul
        except ImportError:  # pragma: no cover - a sympy without it uses the general path
            _args_sortkey = None
        self.sort_key = _args_sortkey
        self.k_values, self.x_values = k_values, x_values
        self.k_parts = [self._decompose(v) for v in k_values]
        self.x_parts = [self._decompose(v) for v in x_values]
        self.rationals: dict[Any, Any] = {}

    def _decompose(self, value: Any) -> tuple[Any, Any] | None:
        """(rational coefficient, plain Symbol or None), or None when the value is not simple."""
        if self.sort_key is None:
            return None
        if isinstance(value, (int, Fraction)) and not isinstance(value, bool):
            return value, None
        sympy = self.sympy
        if type(value) is sympy.Symbol and value.assumptions0 == {"commutative": True}:
            return 1, value
        if isinstance(value, sympy.Rational):
            return Fraction(int(value.p), int(value.q)), None
        if isinstance(value, sympy.Mul) and len(value.args) == 2:
            c, s = value.args
            if isinstance(c, sympy.Rational) and type(s) is sympy.Symbol and s.assumptions0 == {"commutative": True}:
                return Fraction(int(c.p), int(c.q)), s
        return None

    def _number(self, value: Any) -> Any:
        cached = self.rationals.get(value)
        if cached is None:
            if isinstance(value, Fraction):
                cached = self.sympy.Rational(value.numerator, value.denominator)
            else:
                cached = self.sympy.Integer(value)
            self.rationals[value] = cached
        return cached

    def _to_sympy(self, value: Any) -> Any:
        if isinstance(value, (int, Fraction)) and not isinstance(value, bool):
            return self._number(value)
        if isinstance(value, float):
            return self.sympy.Float(value)
        return value

    def generic(self, pairs: list[tuple[int, int]]) -> Any:
        """The reference construction through sympy's own Add/Mul."""
        sympy = self.sympy
        return sympy.Add(
            *[sympy.Mul(self._to_sympy(self.k_values[kp]), self._to_sympy(self.x_values[xp])) for kp, xp in pairs]
        )

    def build(self, pairs: list[tuple[int, int]]) -> Any:
        """Σ k·x over ``pairs`` of (kernel index, input index)."""
        sympy = self.sympy
        coefficients: dict[tuple[Any, ...], Any] = {}
        for kp, xp in pairs:
            kpart, xpart = self.k_parts[kp], self.x_parts[xp]
            if kpart is None or xpart is None:
                return self.generic(pairs)
            coefficient = kpart[0] * xpart[0]
            if coefficient == 0:
                continue
            ks, xs = kpart[1], xpart[1]
            if ks is None:
                monomial: tuple[Any, ...] = () if xs is None else (xs,)
            elif xs is None:
                monomial = (ks,)
            elif ks is xs or ks.name == xs.name:
                return self.generic(pairs)  # a square: let sympy make the Pow
            else:
                monomial = (ks, xs) if ks.name < xs.name else (xs, ks)
            coefficients[monomial] = coefficients.get(monomial, 0) + coefficient
        constant: Any = 0
        terms = []
        names: list[tuple[str, str]] = []
        plain_pairs = True  # every term is (symbol)·(symbol) with coefficient 1
        for monomial, coefficient in coefficients.items():
            if coefficient == 0:
                continue
            if not monomial:
                constant = coefficient
            elif coefficient == 1 and len(monomial) == 1:
                terms.append(monomial[0])
                plain_pairs = False
            elif coefficient == 1:
                terms.append(sympy.Mul._from_args(monomial, True))
                names.append((monomial[0].name, monomial[1].name))
            else:
                terms.append(sympy.Mul._from_args((self._number(_normal(coefficient)),) + monomial, True))
                plain_pairs = False
        if not terms:
            return self._number(_normal(constant))
        if len(terms) == 1 and constant == 0:
            return terms[0]
        if plain_pairs:
            # products of two plain symbols compare by their names, exactly as Basic.compare does
            order = sorted(range(len(terms)), key=names.__getitem__)
            terms = [terms[i] for i in order]
        else:
            terms.sort(key=self.sort_key)
        if constant != 0:
            terms.insert(0, self._number(_normal(constant)))
        return sympy.Add._from_args(terms, True)


def _normal(value: Any) -> Any:
    if isinstance(value, Fraction) and value.denominator == 1:
        return int(value)
    return value


# ---------------------------------------------------------------------------
# Float engine
#
# "direct" has two forms. When the last axis has stride 1 and dilation 1 (the
# common case) it uses numpy.correlate — a compiled dot-product loop — on runs
# of the flattened input: for a block of consecutive output rows and one
# kernel row, correlating the flattened input rows with that kernel row gives
# every output of the block (positions that straddle two rows are discarded).
# Otherwise it adds k[tap]·(strided slice of x) into the output, tap by tap.
# Both work through cache-sized blocks of the output and spread the blocks
# over a few threads (numpy releases the GIL inside these loops). "fft"
# multiplies spectra from numpy.fft.rfftn, with transform sizes just large
# enough that circular wrap-around never reaches a sampled output.

#: Rough cost, in ns, of one output·tap of the numpy.correlate form, of the slice form,
#: of one FFT element·log2(size) and of one spectrum multiply-add.
COST_CORRELATE_NS = 0.25
COST_SLICES_NS = 1.2
COST_FFT_NS = 0.45
COST_SPECTRUM_NS = 1.5
#: Below this many output·taps everything runs on one thread.
PARALLEL_MIN_WORK = 1 << 21


def _float_conv(x: Any, kernel: Any, layer: ShapeResult, geometry: Any, method: str) -> tuple[Any, str]:
    """float64 correlation by direct accumulation or FFT, whichever the cost model says is cheaper."""
    import numpy as np

    x = _as_float(x, "--x")
    kernel = _as_float(kernel, "--k")
    if method == "auto":
        method = choose_method(layer, kernel.shape[0], x.shape[0])
    if method == "fft":
        out = _fft_conv(x, kernel, layer)
    elif method != "direct":
        raise InputError(f"unknown method {method!r}; use auto, direct or fft")
    elif _correlate_form(layer):
        out = _rows_conv(x, kernel, layer)
    else:
        out = _slices_conv(x, kernel, layer, geometry)
    if not np.isfinite(out).all():
        raise DomainError("the result overflows float64 (some outputs are infinite); scale the input or kernel down")
    return out, method


def _as_float(data: Any, option: str) -> Any:
    """float64 and C-contiguous; exact entries too large for float64 are refused, not turned into inf."""
    import numpy as np

    if data.dtype != object:
        return np.ascontiguousarray(data, dtype=np.float64)
    try:
        converted = np.ascontiguousarray(data, dtype=np.float64)
    except OverflowError:
        converted = None
    if converted is None or not np.isfinite(converted).all():
        raise InputError(f"{option} has entries too large for float64, which the other array's data needs")
    return converted


def _correlate_form(layer: ShapeResult) -> bool:
    """numpy.correlate applies when the last axis has unit stride and dilation and ≤ 2 spatial axes."""
    last = layer.dims[-1]
    return len(layer.dims) <= 2 and last.s == 1 and last.d == 1


def next_fast_size(n: int) -> int:
    """Smallest 2^a·3^b·5^c·7^d ≥ n: sizes pocketfft transforms quickly."""
    best = 1 << max(0, (n - 1).bit_length())
    p7 = 1
    while p7 < best:
        p5 = p7
        while p5 < best:
            p3 = p5
            while p3 < best:
                size = p3
                while size < n:
                    size *= 2
                best = min(best, size)
                p3 *= 3
            p5 *= 5
        p7 *= 7
    return best


def _fft_plan(layer: ShapeResult) -> list[tuple[int, _AxisTap | None]]:
    """Per axis: transform size and which full-convolution samples the outputs read.

    Output o reads full-convolution index t = o·s − p_lo + span − 1. A circular
    transform of size N equals the linear one at every sampled t as long as
    N > t_max and N ≥ W + span − 1 − t_min, so valid convolutions need only N ≥ W.
    """
    plan = []
    for dim in layer.dims:
        span = sizes.dilated_kernel(dim.K, dim.d)
        run = _run(span - 1 - dim.pad_lo, dim.s, dim.W + span - 1, dim.output)
        if run is None:
            plan.append((1, None))
            continue
        t_min = run.i_start
        t_max = run.i_start + (run.o_stop - run.o_start - 1) * dim.s
        need = max(t_max + 1, dim.W + span - 1 - t_min, span)
        plan.append((next_fast_size(need), run))
    return plan


def _workers(work: int) -> int:
    import os

    if work < PARALLEL_MIN_WORK:
        return 1
    return max(1, min(4, os.cpu_count() or 1))


def choose_method(layer: ShapeResult, c_out: int = 1, c_in: int = 1) -> str:
    """"direct" or "fft" for float data, from a cost model (multiply-adds vs n·log n)."""
    import math

    taps = 1
    outputs = 1
    for dim in layer.dims:
        taps *= dim.K
        outputs *= dim.output
    work = outputs * taps * c_in * c_out
    per_tap = COST_CORRELATE_NS if _correlate_form(layer) else COST_SLICES_NS
    direct = per_tap * work / _workers(work)
    size = 1
    for extent, _ in _fft_plan(layer):
        size *= extent
    transforms = c_in + c_out + c_in * c_out  # input spectra, inverse transforms, kernel spectra
    fft = COST_FFT_NS * size * max(1.0, math.log2(size)) * transforms + COST_SPECTRUM_NS * size * c_in * c_out / 2
    return "fft" if fft < direct else "direct"


def _run_parallel(jobs: list[Any], workers: int) -> None:
    """Run callables, spread over ``workers`` threads (numpy releases the GIL inside its loops)."""
    if workers <= 1 or len(jobs) < 2:
        for job in jobs:
            job()
        return
    import threading

    errors: list[BaseException] = []

    def worker(part: list[Any]) -> None:
        try:
            for job in part:
                job()
        except BaseException as exc:  # re-raised in the calling thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(jobs[i::workers],)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def _rows_conv(x: Any, kernel: Any, layer: ShapeResult) -> Any:
    """Direct correlation through numpy.correlate (last axis: stride 1, dilation 1)."""
    import numpy as np

    c_out = kernel.shape[0]
    last = layer.dims[-1]
    out_spatial = tuple(dim.output for dim in layer.dims)
    out = np.empty((c_out,) + out_spatial)  # every block below writes all of its outputs
    # Pad the last axis with a copy only when needed, so every window is a plain 'valid' one.
    if last.pad_lo or last.pad_hi:
        widths = [(0, 0)] * (x.ndim - 1) + [(last.pad_lo, last.pad_hi)]
        x = np.pad(x, widths)
    width = x.shape[-1]
    kw = last.K
    work = out.size * kernel.size // max(1, c_out)
    workers = _workers(work)
    jobs: list[Any] = []
    if len(layer.dims) == 1:
        # chunks of outputs; output o reads x[o : o + kw]
        chunk = CHUNK_1D
        for co in range(c_out):
            for c0 in range(0, last.output, chunk):
                jobs.append(_Chunk1D(x, kernel[co], out[co], c0, min(last.output, c0 + chunk)))
    else:
        rows = layer.dims[0]
        block = max(1, ROW_BLOCK_ELEMS // max(1, width)) if rows.s == 1 else 1
        for co in range(c_out):
            for b0 in range(0, rows.output, block):
                jobs.append(_RowBlock(x, kernel[co], out[co], rows, b0, min(rows.output, b0 + block), width, kw))
    _run_parallel(jobs, workers)
    return out


class _Chunk1D:
    """out[c0:c1] = Σ_ci correlate(x[ci][c0 : c1 + kw − 1], k[ci])."""

    def __init__(self, x: Any, kernel: Any, out: Any, c0: int, c1: int) -> None:
        self.x, self.kernel, self.out, self.c0, self.c1 = x, kernel, out, c0, c1

    def __call__(self) -> None:
        import numpy as np

        kw = self.kernel.shape[-1]
        dest = self.out[self.c0 : self.c1]
        for ci in range(self.kernel.shape[0]):
            part = np.correlate(self.x[ci][self.c0 : self.c1 + kw - 1], self.kernel[ci], "valid")
            if ci == 0:
                dest[...] = part
            else:
                dest += part


class _RowBlock:
    """Output rows b0 … b1−1 of a 2D correlation, one numpy.correlate per kernel row and input channel.

    Consecutive output rows (stride 1 on axis 0) read consecutive input rows,
    so correlating the flattened rows with one kernel row yields the whole
    block at once: flat position r·width + c holds output column c of row r.
    """

    def __init__(self, x: Any, kernel: Any, out: Any, rows: Any, b0: int, b1: int, width: int, kw: int) -> None:
        self.x, self.kernel, self.out, self.rows = x, kernel, out, rows
        self.b0, self.b1, self.width, self.kw = b0, b1, width, kw

    def __call__(self) -> None:
        import numpy as np

        rows, width = self.rows, self.width
        out_cols = self.out.shape[-1]
        n = self.b1 - self.b0
        acc = np.zeros(n * width)
        for ci in range(self.kernel.shape[0]):
            flat = self.x[ci].reshape(-1)
            for jh in range(self.kernel.shape[1]):
                k_row = self.kernel[ci, jh]
                if not k_row.any():
                    continue
                offset = jh * rows.d - rows.pad_lo  # input row of output row 0
                run = _run(offset, rows.s, rows.W, rows.output)
                if run is None:
                    continue
                o0, o1 = max(run.o_start, self.b0), min(run.o_stop, self.b1)
                if o0 >= o1:
                    continue
                first_row = o0 * rows.s + offset
                if rows.s == 1:
                    segment = flat[first_row * width : (first_row + o1 - o0 - 1) * width + width]
                    part = np.correlate(segment, k_row, "valid")
                    target = acc[(o0 - self.b0) * width : (o0 - self.b0) * width + part.size]
                    target += part
                else:  # one output row per block
                    part = np.correlate(flat[first_row * width : first_row * width + width], k_row, "valid")
                    acc[: part.size] += part
        self.out[self.b0 : self.b1] = acc.reshape(n, width)[:, :out_cols]


def _slices_conv(x: Any, kernel: Any, layer: ShapeResult, geometry: Any) -> Any:
    """Σ over taps of k[tap]·(strided slice of x), accumulated block by block of output rows."""
    import itertools

    import numpy as np

    c_out = kernel.shape[0]
    out_spatial = tuple(dim.output for dim in layer.dims)
    strides = tuple(dim.s for dim in layer.dims)
    out = np.zeros((c_out,) + out_spatial)
    rows = out_spatial[0]
    row_size = out.size // max(1, c_out * rows)
    block_rows = max(1, BLOCK_ELEMS // max(1, row_size))
    # Per tap: the run of outputs on axis 0 and the fixed slices of the other axes.
    plan = []
    for j in itertools.product(*(range(K) for K in kernel.shape[2:])):
        axis_taps = [geometry[a][j[a]] for a in range(len(j))]
        if any(t is None for t in axis_taps):
            continue
        out_rest, in_rest = _slices(axis_taps[1:], strides[1:])  # type: ignore[arg-type]
        plan.append((j, axis_taps[0], out_rest, in_rest))
    jobs = [
        _SliceBlock(x, kernel[co], out[co], plan, strides[0], b0, min(rows, b0 + block_rows))
        for co in range(c_out)
        for b0 in range(0, rows, block_rows)
    ]
    _run_parallel(jobs, _workers(out.size * kernel.size // max(1, c_out)))
    return out


class _SliceBlock:
    """Output rows b0 … b1−1: for each tap, multiply a strided slice of x by the tap and add it in."""

    def __init__(self, x: Any, kernel: Any, out: Any, plan: list[Any], s0: int, b0: int, b1: int) -> None:
        self.x, self.kernel, self.out, self.plan, self.s0, self.b0, self.b1 = x, kernel, out, plan, s0, b0, b1

    def __call__(self) -> None:
        import numpy as np

        scratch = np.empty(self.out[self.b0 : self.b1].size)
        s0 = self.s0
        for ci in range(self.kernel.shape[0]):
            source = self.x[ci]
            for j, first, out_rest, in_rest in self.plan:
                value = self.kernel[(ci,) + j]
                if value == 0.0:
                    continue
                o0, o1 = max(first.o_start, self.b0), min(first.o_stop, self.b1)
                if o0 >= o1:
                    continue
                i0 = first.i_start + (o0 - first.o_start) * s0
                dest = self.out[(slice(o0, o1),) + out_rest]
                src = source[(slice(i0, i0 + (o1 - o0 - 1) * s0 + 1, s0),) + in_rest]
                tmp = scratch[: dest.size].reshape(dest.shape)
                np.multiply(src, value, out=tmp)
                np.add(dest, tmp, out=dest)


def _fft_conv(x: Any, kernel: Any, layer: ShapeResult) -> Any:
    """Full linear convolution with the flipped, dilated kernel via rfftn, sampled at o·s − p_lo + span − 1."""
    import numpy as np

    n = len(layer.dims)
    c_out, c_in = kernel.shape[0], kernel.shape[1]
    out_spatial = tuple(dim.output for dim in layer.dims)
    out = np.zeros((c_out,) + out_spatial)
    plan = _fft_plan(layer)
    if any(run is None for _, run in plan):
        return out  # every output lies in padding
    fshape = tuple(size for size, _ in plan)
    axes = tuple(range(1, n + 1))
    spans = tuple(sizes.dilated_kernel(dim.K, dim.d) for dim in layer.dims)
    # the kernel with dilation zeros, reversed: kr[u] = kd[span − 1 − u]
    dilated = np.zeros((c_out, c_in) + spans)
    dilated[(slice(None), slice(None)) + tuple(slice(None, None, dim.d) for dim in layer.dims)] = kernel
    reversed_kernel = dilated[(slice(None), slice(None)) + (slice(None, None, -1),) * n]
    out_sl = tuple(slice(run.o_start, run.o_stop) for _, run in plan)  # type: ignore[union-attr]
    full_sl = tuple(
        slice(run.i_start, run.i_start + (run.o_stop - run.o_start - 1) * dim.s + 1, dim.s)  # type: ignore[union-attr]
        for (_, run), dim in zip(plan, layer.dims)
    )
    x_spec = np.fft.rfftn(x, s=fshape, axes=axes)
    for co in range(c_out):
        k_spec = np.fft.rfftn(reversed_kernel[co], s=fshape, axes=axes)
        if c_in == 1:
            product = x_spec[0] * k_spec[0]
        else:
            product = np.einsum("c...,c...->...", x_spec, k_spec)
        full = np.fft.irfftn(product, s=fshape, axes=tuple(range(n)))
        out[co][out_sl] = full[full_sl]
    return out
