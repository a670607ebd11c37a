"""The output-size rules of sliding-window layers, as PyTorch defines them.

Every command that needs a size (``shape``, ``conv``, ``toeplitz``, the network
calculator) calls :func:`window_count` or :func:`transposed_size` here; nothing
else in cnncalc re-derives them.

Values are plain ``int`` or sympy expressions (for symbolic sizes such as
``W``); the integer path never imports sympy.

Rules (PyTorch ``Conv*d``, ``ConvTranspose*d``, ``MaxPool*d``/``AvgPool*d``;
ATen ``pooling_output_shape_pad_lr``)::

    conv / pool (floor)   out = ⌊(W + p_lo + p_hi − d(K−1) − 1) / s⌋ + 1
    pool (ceil_mode)      out = ⌈(W + p_lo + p_hi − d(K−1) − 1) / s⌉ + 1,
                          minus one if the last window would start in the right padding
    transposed            out = (W−1)s − p_lo − p_hi + d(K−1) + output_padding + 1
    TF "SAME"             out = ⌈W / s⌉
"""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

from cnncalc.errors import InputError

MAX_DIMS = 3

#: The kinds of layer the size rule knows.
KINDS = ("conv", "transposed", "pool")
#: Padding words accepted besides integers and ``lo:hi`` pairs.
PAD_WORDS = ("valid", "same", "full")

Size = Any  # int, or a sympy expression when symbolic


def _is_int(v: Size) -> bool:
    return isinstance(v, int)


def _floordiv(a: Size, b: Size) -> Size:
    if _is_int(a) and _is_int(b):
        return a // b
    if b == 1:
        return a  # sizes are integers, so ⌊a/1⌋ = a; sympy would spend milliseconds proving it
    import sympy

    return sympy.floor(a / b)


def _ceildiv(a: Size, b: Size) -> Size:
    if _is_int(a) and _is_int(b):
        return -((-a) // b)
    import sympy

    return sympy.ceiling(a / b)


def dilated_kernel(K: Size, d: Size = 1) -> Size:
    """Span of a kernel of K taps with dilation d: d(K−1) + 1."""
    return d * (K - 1) + 1


def window_count(
    W: Size, K: Size, p_lo: Size = 0, p_hi: Size = 0, s: Size = 1, d: Size = 1, ceil_mode: bool = False
) -> Size:
    """How many windows fit: THE output-size rule of convolution and pooling.

    Floor mode is ``Conv*d`` (and pooling by default). ``ceil_mode`` rounds up
    but, as ATen does, drops a last window that would start inside the right
    padding. Requires integers for ``ceil_mode``.
    """
    span = W + p_lo + p_hi - dilated_kernel(K, d)
    if not ceil_mode:
        return _floordiv(span, s) + 1
    out = _ceildiv(span, s) + 1
    if (out - 1) * s >= W + p_lo:
        out -= 1
    return out


def transposed_size(
    W: Size, K: Size, p_lo: Size = 0, p_hi: Size = 0, s: Size = 1, d: Size = 1, output_padding: Size = 0
) -> Size:
    """Output length of ``ConvTranspose*d``: (W−1)s − p_lo − p_hi + d(K−1) + output_padding + 1."""
    return (W - 1) * s - p_lo - p_hi + d * (K - 1) + output_padding + 1


def same_padding(K: Size, d: Size = 1) -> tuple[Size, Size]:
    """PyTorch ``padding='same'`` (stride 1): total d(K−1), the odd one on the right."""
    total = d * (K - 1)
    lo = _floordiv(total, 2)
    return lo, total - lo


def tf_same_padding(W: Size, K: Size, s: Size = 1, d: Size = 1) -> tuple[Size, Size]:
    """TensorFlow ``SAME``: out = ⌈W/s⌉, total pad max((out−1)s + d(K−1) + 1 − W, 0), extra on the right."""
    out = _ceildiv(W, s)
    need = (out - 1) * s + dilated_kernel(K, d) - W
    if _is_int(need):
        total = max(need, 0)
    else:
        import sympy

        total = sympy.Max(need, 0)
    lo = _floordiv(total, 2)
    return lo, total - lo


def full_padding(K: Size, d: Size = 1) -> tuple[Size, Size]:
    """``full`` padding: every partial overlap counts, d(K−1) on each side."""
    total = d * (K - 1)
    return total, total


# ---------------------------------------------------------------------------
# A whole layer, per spatial dimension, with PyTorch's validation.
#
# Records are NamedTuples rather than dataclasses: `cnncalc shape` and TAB
# completion import this module, and each dataclass costs about 1 ms to create.


class PadSpec(NamedTuple):
    """Padding as the user wrote it for one dimension: a word, or lo/hi amounts."""

    word: str | None = None  # "valid" | "same" | "full" | None
    lo: Size = 0
    hi: Size = 0

    def __str__(self) -> str:
        if self.word:
            return self.word
        return str(self.lo) if self.lo == self.hi else f"{self.lo}:{self.hi}"


class LayerSpec(NamedTuple):
    """One sliding-window layer: per-dimension sizes plus the kind of layer."""

    W: tuple[Size, ...]
    K: tuple[Size, ...]
    pad: tuple[PadSpec, ...]
    s: tuple[Size, ...]
    d: tuple[Size, ...]
    kind: str = "conv"  # one of KINDS
    pool: str | None = None  # "max" | "avg" when kind == "pool"
    ceil_mode: bool = False
    same_mode: str = "torch"  # "torch" | "tf"
    output_padding: tuple[Size, ...] = ()


class DimResult(NamedTuple):
    """The size arithmetic of one spatial dimension."""

    W: Size
    K: Size
    s: Size
    d: Size
    pad_lo: Size
    pad_hi: Size
    output: Size
    #: trailing positions of the padded input that no window reaches
    remainder: Size
    #: how many of those are real input (not padding)
    unused_input: Size
    output_padding: Size = 0


class ShapeResult(NamedTuple):
    """Per-dimension results of :func:`layer_shape` plus what was asked."""

    spec: LayerSpec
    dims: tuple[DimResult, ...]
    symbolic: bool = False

    @property
    def output(self) -> tuple[Size, ...]:
        return tuple(dim.output for dim in self.dims)


def broadcast(option_values: dict[str, Sequence[Any]]) -> int:
    """Number of spatial dimensions implied by per-option lists; scalars broadcast.

    Raises InputError when two lists of length > 1 disagree or there are more
    than 3 dimensions.
    """
    ndim = 1
    first = None
    for option, values in option_values.items():
        n = len(values)
        if n == 0:
            raise InputError(f"{option} is empty; give a value or one per dimension")
        if n > MAX_DIMS:
            raise InputError(f"{option} has {n} entries; at most {MAX_DIMS} spatial dimensions are supported")
        if n > 1:
            if first is not None and n != ndim:
                raise InputError(
                    f"{option} has {n} entries but {first} has {ndim}; give one entry per dimension or a single value"
                )
            first, ndim = option, n
    return ndim


def _expand(values: Sequence[Any], ndim: int) -> tuple[Any, ...]:
    return tuple(values) * ndim if len(values) == 1 else tuple(values)


def make_spec(
    W: Sequence[Size],
    K: Sequence[Size],
    pad: Sequence[PadSpec] = (PadSpec(),),
    s: Sequence[Size] | None = None,
    d: Sequence[Size] = (1,),
    *,
    kind: str = "conv",
    pool: str | None = None,
    ceil_mode: bool = False,
    same_mode: str = "torch",
    output_padding: Sequence[Size] = (0,),
) -> LayerSpec:
    """Broadcast per-option lists to one value per dimension; stride defaults to K for pools."""
    if s is None:
        s = K if kind == "pool" else (1,)
    lists = {"--W": W, "--K": K, "--p": pad, "--s": s, "--d": d, "--output-padding": output_padding}
    ndim = broadcast(lists)
    return LayerSpec(
        W=_expand(W, ndim),
        K=_expand(K, ndim),
        pad=_expand(pad, ndim),
        s=_expand(s, ndim),
        d=_expand(d, ndim),
        kind=kind,
        pool=pool,
        ceil_mode=ceil_mode,
        same_mode=same_mode,
        output_padding=_expand(output_padding, ndim),
    )


def _check_int(option: str, value: Size, minimum: int, rule: str) -> None:
    if _is_int(value) and value < minimum:
        raise InputError(f"{option} {value} is not allowed: {rule}")


def _validate_scalars(spec: LayerSpec) -> None:
    for i in range(len(spec.W)):
        _check_int("--W", spec.W[i], 1, "the input size must be at least 1")
        _check_int("--K", spec.K[i], 1, "the kernel size must be at least 1")
        _check_int("--s", spec.s[i], 1, "the stride must be at least 1")
        _check_int("--d", spec.d[i], 1, "the dilation must be at least 1")
        pad = spec.pad[i]
        _check_int("--p", pad.lo, 0, "padding cannot be negative")
        _check_int("--p", pad.hi, 0, "padding cannot be negative")
        _check_int("--output-padding", spec.output_padding[i], 0, "output padding cannot be negative")
    if spec.kind not in KINDS:
        raise InputError(f"unknown layer kind {spec.kind!r}; expected one of {', '.join(KINDS)}")
    if spec.kind == "pool" and spec.pool not in ("max", "avg"):
        raise InputError(f"--pool {spec.pool} is not a pooling kind; use max or avg")
    if spec.kind == "pool" and spec.pool == "avg" and any(d != 1 for d in spec.d):
        raise InputError("--d is not allowed with --pool avg: average pooling has no dilation in PyTorch")
    if spec.kind != "transposed" and any(op != 0 for op in spec.output_padding):
        raise InputError("--output-padding only applies to --transposed convolutions")
    if spec.ceil_mode and spec.kind != "pool":
        raise InputError("--ceil-mode only applies to pooling (--pool max|avg)")
    if spec.same_mode not in ("torch", "tf"):
        raise InputError(f"--same-mode {spec.same_mode} is not a mode; use torch or tf")


def _resolve_pad(spec: LayerSpec, i: int) -> tuple[Size, Size]:
    """Turn a padding word into (lo, hi) for dimension i, enforcing PyTorch's restrictions."""
    pad, W, K, s, d = spec.pad[i], spec.W[i], spec.K[i], spec.s[i], spec.d[i]
    if pad.word is None:
        return pad.lo, pad.hi
    if pad.word == "valid":
        return 0, 0
    if spec.kind != "conv":
        layer = "transposed convolution" if spec.kind == "transposed" else "pooling"
        raise InputError(f"--p {pad.word} is not defined for {layer}; give an integer or lo:hi padding")
    if pad.word == "full":
        return full_padding(K, d)
    # same
    if spec.same_mode == "tf":
        return tf_same_padding(W, K, s, d)
    if not (_is_int(s) and s == 1):
        raise InputError(
            f"--p same with --s {s}: PyTorch only supports padding='same' for stride 1; "
            "use --same-mode tf for TensorFlow's SAME rule"
        )
    return same_padding(K, d)


def _validate_dim(spec: LayerSpec, i: int, lo: Size, hi: Size, kernel: str = "--K") -> None:
    """PyTorch's per-dimension checks, for integer values only."""
    W, K, s, d = spec.W[i], spec.K[i], spec.s[i], spec.d[i]
    if not all(_is_int(v) for v in (W, K, s, d, lo, hi)):
        return
    span = dilated_kernel(K, d)
    if spec.kind == "pool":
        if 2 * lo > K or 2 * hi > K:
            raise InputError(
                f"--p {spec.pad[i]} is too large for {kernel} {K}: pooling padding must be at most half the kernel ({K // 2})"
            )
    # Pools are only bound by their output size (ceil mode lets a window overhang).
    if spec.kind == "conv" and span > W + lo + hi:
        what = f"{kernel} {K}" if d == 1 else f"{kernel} {K} with --d {d} spans {span}, which"
        raise InputError(f"{what} is larger than the padded input {W} + {lo} + {hi} = {W + lo + hi}")
    if spec.kind == "transposed":
        op = spec.output_padding[i]
        if _is_int(op) and op >= s and op >= d:
            raise InputError(
                f"--output-padding {op} is too large: it must be smaller than the stride ({s}) or the dilation ({d})"
            )


def _dim_result(spec: LayerSpec, i: int, kernel: str = "--K", size: str = "--W") -> DimResult:
    W, K, s, d = spec.W[i], spec.K[i], spec.s[i], spec.d[i]
    lo, hi = _resolve_pad(spec, i)
    _validate_dim(spec, i, lo, hi, kernel)
    if spec.kind == "transposed":
        op = spec.output_padding[i]
        out = transposed_size(W, K, lo, hi, s, d, op)
        # The matching forward convolution maps `out` back to W and leaves
        # `op` trailing positions unreached.
        remainder, unused = op, op
    else:
        out = window_count(W, K, lo, hi, s, d, spec.ceil_mode)
        reach = (out - 1) * s + dilated_kernel(K, d)
        remainder = W + lo + hi - reach
        if _is_int(remainder):
            remainder = max(remainder, 0)
            unused = max(remainder - hi, 0)
        else:
            import sympy

            unused = sympy.Max(remainder - hi, 0, evaluate=False)  # evaluating it compares nested floors: slow
    if _is_int(out) and out < 1:
        where = f" in dimension {i + 1}" if len(spec.W) > 1 else ""
        raise InputError(
            f"{size} {W} with {kernel} {K}, --p {spec.pad[i]}, --s {s}, --d {d} gives an output size of {out}{where}; "
            "it must be at least 1"
        )
    return DimResult(W, K, s, d, lo, hi, out, remainder, unused, spec.output_padding[i])


def _symbolize(spec: LayerSpec) -> LayerSpec:
    """Replace names (str) by sympy Symbols with the assumptions sizes carry."""
    import sympy

    def sym(v: Any, **assumptions: bool) -> Any:
        return sympy.Symbol(v, integer=True, **assumptions) if isinstance(v, str) else v

    def pad(p: PadSpec) -> PadSpec:
        return PadSpec(p.word, sym(p.lo, nonnegative=True), sym(p.hi, nonnegative=True))

    return spec._replace(
        W=tuple(sym(v, positive=True) for v in spec.W),
        K=tuple(sym(v, positive=True) for v in spec.K),
        pad=tuple(pad(p) for p in spec.pad),
        s=tuple(sym(v, positive=True) for v in spec.s),
        d=tuple(sym(v, positive=True) for v in spec.d),
        output_padding=tuple(sym(v, nonnegative=True) for v in spec.output_padding),
    )


def _has_names(spec: LayerSpec) -> bool:
    """True when any value is a name (str) or already a sympy expression."""
    values = [*spec.W, *spec.K, *spec.s, *spec.d, *spec.output_padding]
    values += [v for p in spec.pad for v in (p.lo, p.hi)]
    return any(not _is_int(v) for v in values)


def layer_shape(spec: LayerSpec, kernel: str = "--K", size: str = "--W") -> ShapeResult:
    """Output size, padding and leftover positions of a layer, per dimension.

    Names in the spec (strings) become integer sympy Symbols and the result is
    symbolic; otherwise everything stays ``int`` and sympy is never imported.
    Raises InputError for anything PyTorch would refuse; `kernel` and `size` are the
    option names messages use for K and W (conv and toeplitz call them differently).
    """
    symbolic = _has_names(spec)
    if symbolic:
        if spec.ceil_mode:
            raise InputError("--ceil-mode needs numeric sizes: the last-window rule compares actual positions")
        spec = _symbolize(spec)
    _validate_scalars(spec)
    dims = tuple(_dim_result(spec, i, kernel, size) for i in range(len(spec.W)))
    return ShapeResult(spec=spec, dims=dims, symbolic=symbolic)
