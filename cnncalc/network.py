"""Whole-network arithmetic from a text spec: shapes, parameters, MACs, receptive fields.

A spec is a list of layers separated by ``;`` or newlines, each a name with
optional arguments in PyTorch's order and defaults::

    conv(64, 3, p=1); relu; maxpool(2); flatten; linear(1000)

Every spatial size comes from :mod:`cnncalc.sizes` (the same rule as
``cnncalc shape``). The input may be symbolic (``3xHxW``); sizes then flow
through the chain as sympy expressions.

Conventions:

- MACs are multiply-accumulates (one multiply and one add), not FLOPs. A
  convolution counts C_out·(C_in/groups)·∏k per output position; a transposed
  convolution counts C_in·(C_out/groups)·∏k per *input* position (each input
  value is scattered through the kernel); linear counts in·out. Bias additions,
  activations, pooling and batch norm count 0.
- Parameters are trainable weights: batchnorm has 2·C (scale and shift; its
  running statistics are buffers).
- Receptive fields follow Araujo et al., "Computing Receptive Fields of
  Convolutional Neural Networks" (Distill, 2019), per axis, with the dilated
  kernel d(k−1)+1 for k: r = r_prev + (k−1)·j_prev, j = j_prev·s,
  start = start_prev + ((k−1)/2 − p_lo)·j_prev, where start is the centre of the
  first output's field in input index coordinates (first input pixel = 0).
  After a transposed layer, an adaptive pool that does not divide its input
  evenly, or flatten/linear, the field is not a sliding window any more and is
  reported as ``None`` (every later layer too).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any, Sequence

from cnncalc import sizes
from cnncalc.errors import InputError
from cnncalc.sizes import PadSpec

#: Longest spec accepted, in characters, and most layers.
MAX_SPEC_CHARS = 100_000
MAX_LAYERS = 2_000
#: With a symbolic input every stride nests another floor(); past this many layers sympy slows to seconds.
MAX_SYMBOLIC_LAYERS = 60

Value = Any  # int, str (a name or word), bool, or a tuple of those


# --- parsing the spec ----------------------------------------------------

_TOKEN = re.compile(r"\s*(?:(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<int>-?[0-9]+)|(?P<punct>[(),=]))")


@dataclass(frozen=True)
class LayerCall:
    """A layer as written: its name, positional and keyword arguments, its position (1-based)."""

    kind: str
    args: tuple[Value, ...] = ()
    kwargs: tuple[tuple[str, Value], ...] = ()
    index: int = 0
    text: str = ""


def _tokens(text: str, where: str) -> list[tuple[str, str]]:
    out = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            bad = text[pos:].strip()[:1]
            raise InputError(f"{where}: unexpected {bad!r} in {text.strip()!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def _value(tokens: list[tuple[str, str]], i: int, where: str) -> tuple[Value, int]:
    """One argument value: an integer, a word, or a flat tuple ``(3,5)``."""
    kind, text = tokens[i] if i < len(tokens) else ("end", "")
    if kind == "int":
        return int(text), i + 1
    if kind == "name":
        lowered = text.lower()
        if lowered in ("true", "false"):
            return lowered == "true", i + 1
        return text, i + 1
    if text == "(":
        items: list[Value] = []
        i += 1
        while True:
            kind, text = tokens[i] if i < len(tokens) else ("end", "")
            if kind == "int":
                items.append(int(text))
            elif kind == "name":
                items.append(text)
            else:
                raise InputError(f"{where}: expected a number inside ( ), got {text or 'the end'!r}")
            kind, text = tokens[i + 1] if i + 1 < len(tokens) else ("end", "")
            i += 2
            if text == ")":
                return tuple(items), i
            if text != ",":
                raise InputError(f"{where}: expected ',' or ')' in a tuple, got {text or 'the end'!r}")
    raise InputError(f"{where}: expected a value, got {text or 'the end'!r}")


def parse_layer(text: str, index: int) -> LayerCall:
    """``conv(64, 3, s=2, p=(1,2))`` → LayerCall; errors name the layer and its position."""
    where = f"layer {index} ({text.strip()})"
    tokens = _tokens(text, where)
    if not tokens or tokens[0][0] != "name":
        raise InputError(f"{where}: a layer starts with its name, e.g. conv(64, 3)")
    kind = tokens[0][1].lower()
    if len(tokens) == 1:
        return LayerCall(kind, index=index, text=text.strip())
    if tokens[1][1] != "(" or tokens[-1][1] != ")":
        raise InputError(f"{where}: arguments go in parentheses, e.g. {kind}(...)")
    args: list[Value] = []
    kwargs: dict[str, Value] = {}
    i = 2
    while i < len(tokens) - 1:
        if tokens[i][0] == "name" and i + 1 < len(tokens) and tokens[i + 1][1] == "=":
            key = tokens[i][1].lower()
            if key in kwargs:
                raise InputError(f"{where}: {key} is given twice")
            kwargs[key], i = _value(tokens, i + 2, where)
        else:
            if kwargs:
                raise InputError(f"{where}: positional arguments must come before keyword ones")
            value, i = _value(tokens, i, where)
            args.append(value)
        if i < len(tokens) - 1:
            if tokens[i][1] != ",":
                raise InputError(f"{where}: expected ',' between arguments, got {tokens[i][1]!r}")
            i += 1
    return LayerCall(kind, tuple(args), tuple(kwargs.items()), index, text.strip())


def parse_spec(text: str) -> list[LayerCall]:
    """Split a spec on ``;`` and newlines (``#`` starts a comment) and parse each layer."""
    if len(text) > MAX_SPEC_CHARS:
        raise InputError(f"--layers is {len(text)} characters long; the limit is {MAX_SPEC_CHARS}")
    pieces = []
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        pieces.extend(p for p in line.split(";") if p.strip())
    if not pieces:
        raise InputError("--layers is empty; give layers like \"conv(64,3,p=1); relu; maxpool(2)\"")
    if len(pieces) > MAX_LAYERS:
        raise InputError(f"--layers has {len(pieces)} layers; the limit is {MAX_LAYERS}")
    return [parse_layer(p, i + 1) for i, p in enumerate(pieces)]


def parse_input_shape(text: str) -> tuple[Value, ...]:
    """``3x224x224`` or ``3xHxW`` (channels first, then 1 to 3 spatial sizes)."""
    parts = [p.strip() for p in text.lower().replace("×", "x").split("x")] if text.strip() else []
    if not 2 <= len(parts) <= 4:
        raise InputError(f"--input {text!r} should be channels then 1 to 3 sizes, like 3x224x224")
    from cnncalc.literals import parse_size

    shape = []
    for part in parts:
        if not part:
            raise InputError(f"--input {text!r} has an empty size")
        shape.append(parse_size(part, "--input"))
    # Names keep the user's case: re-read them from the original text.
    original = [p.strip() for p in text.replace("×", "x").replace("X", "x").split("x")]
    shape = [orig if isinstance(v, str) else v for v, orig in zip(shape, original)]
    for v in shape:
        if isinstance(v, int) and v < 1:
            raise InputError(f"--input {text!r}: every size must be at least 1")
    return tuple(shape)


# --- layer semantics -----------------------------------------------------

#: Each layer's parameters in PyTorch's positional order with defaults (None = required).
SIGNATURES: dict[str, tuple[tuple[str, Any], ...]] = {
    "conv": (("out", None), ("k", None), ("s", 1), ("p", 0), ("d", 1), ("groups", 1), ("bias", True)),
    "convt": (("out", None), ("k", None), ("s", 1), ("p", 0), ("op", 0), ("d", 1), ("groups", 1), ("bias", True)),
    "maxpool": (("k", None), ("s", None), ("p", 0), ("d", 1), ("ceil", False)),
    "avgpool": (("k", None), ("s", None), ("p", 0), ("ceil", False)),
    "adaptiveavgpool": (("out", None),),
    "relu": (),
    "dropout": (("p", 0.5),),
    "batchnorm": (),
    "flatten": (),
    "linear": (("out", None), ("bias", True)),
}
ALIASES = {"conv2d": "conv", "conv1d": "conv", "conv3d": "conv", "convtranspose": "convt", "deconv": "convt",
           "maxpool2d": "maxpool", "avgpool2d": "avgpool", "adaptiveavgpool2d": "adaptiveavgpool",
           "batchnorm2d": "batchnorm", "bn": "batchnorm", "fc": "linear", "dense": "linear"}


def bind(call: LayerCall) -> dict[str, Any]:
    """Match a call's arguments to its layer's signature, filling defaults."""
    kind = ALIASES.get(call.kind, call.kind)
    where = f"layer {call.index} ({call.text})"
    if kind not in SIGNATURES:
        raise InputError(f"{where}: unknown layer {call.kind!r}; known: {', '.join(SIGNATURES)}")
    signature = SIGNATURES[kind]
    names = [n for n, _ in signature]
    if kind == "dropout" and call.args:
        call = replace(call, args=())  # dropout's probability does not change any number here
    if len(call.args) > len(names):
        raise InputError(f"{where}: {kind} takes at most {len(names)} positional arguments")
    bound = dict(zip(names, call.args))
    for key, value in call.kwargs:
        key = {"stride": "s", "padding": "p", "dilation": "d", "kernel": "k", "kernel_size": "k",
               "output_padding": "op", "ceil_mode": "ceil"}.get(key, key)
        if key not in names:
            raise InputError(f"{where}: {kind} has no argument {key!r}; it takes {', '.join(names) or 'none'}")
        if key in bound:
            raise InputError(f"{where}: {key} is given twice")
        bound[key] = value
    for name, default in signature:
        if name not in bound:
            if default is None and not (kind in ("maxpool", "avgpool") and name == "s"):
                raise InputError(f"{where}: {kind} needs {name}")
            bound[name] = default
    bound["kind"] = kind
    return bound


# --- running the chain ---------------------------------------------------


@dataclass(frozen=True)
class Field:
    """Receptive field of one axis: size, jump (effective stride) and centre of the first field."""

    rf: Any
    jump: Any
    start: Any


@dataclass
class LayerRow:
    """One row of the network table."""

    index: int
    name: str
    text: str
    output: tuple[Any, ...]  # channels first; (features,) after flatten
    params: Any
    macs: Any
    fields: tuple[Field, ...] | None
    warnings: list[str] = field(default_factory=list)


@dataclass
class NetworkResult:
    input: tuple[Any, ...]
    layers: list[LayerRow]
    total_params: Any
    total_macs: Any
    symbolic: bool


def _per_axis(value: Value, ndim: int, where: str, what: str) -> tuple[Any, ...]:
    values = value if isinstance(value, tuple) else (value,)
    if len(values) == 1:
        values = values * ndim
    if len(values) != ndim:
        raise InputError(f"{where}: {what} has {len(values)} entries but the input has {ndim} spatial dimensions")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, str)):
            raise InputError(f"{where}: {what} {v!r} is not a size")
    return values


def _pads(value: Value, ndim: int, where: str) -> tuple[PadSpec, ...]:
    if isinstance(value, str) and value.lower() in sizes.PAD_WORDS:
        return (PadSpec(word=value.lower()),) * ndim
    return tuple(PadSpec(lo=p, hi=p) for p in _per_axis(value, ndim, where, "p"))


def _flag(value: Value, where: str, name: str) -> bool:
    if not isinstance(value, bool):
        raise InputError(f"{where}: {name} must be true or false, got {value!r}")
    return value


def _count(value: Value, where: str, name: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InputError(f"{where}: {name} {value!r} is not a whole number")
    if isinstance(value, int) and value < 1:
        raise InputError(f"{where}: {name} must be at least 1, got {value}")
    return value


def _product(values: Sequence[Any]) -> Any:
    out: Any = 1
    for v in values:
        out = out * v
    return out


def _sym(value: Any) -> Any:
    if isinstance(value, str):
        import sympy

        return sympy.Symbol(value, integer=True, positive=True)
    return value


def _divides(a: Any, b: Any) -> bool | None:
    """Whether b divides a, or None when symbolic."""
    if isinstance(a, int) and isinstance(b, int):
        return a % b == 0
    return None


def _window_layer(bound: dict, spatial: tuple, where: str) -> tuple[sizes.ShapeResult, tuple, tuple, tuple]:
    """Shape of a conv/convT/pool layer via sizes.layer_shape, with its per-axis k, s, d."""
    ndim = len(spatial)
    kind = bound["kind"]
    k = _per_axis(bound["k"], ndim, where, "k")
    s = _per_axis(bound["s"] if bound["s"] is not None else bound["k"], ndim, where, "s")
    d = _per_axis(bound.get("d", 1), ndim, where, "d")
    pads = _pads(bound["p"], ndim, where)
    spec = sizes.make_spec(
        W=list(spatial),
        K=list(k),
        pad=list(pads),
        s=list(s),
        d=list(d),
        kind={"conv": "conv", "convt": "transposed"}.get(kind, "pool"),
        pool={"maxpool": "max", "avgpool": "avg"}.get(kind),
        ceil_mode=_flag(bound.get("ceil", False), where, "ceil"),
        output_padding=list(_per_axis(bound.get("op", 0), ndim, where, "op")),
    )
    try:
        result = sizes.layer_shape(spec)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None
    return result, k, s, d


def _next_fields(fields: tuple[Field, ...] | None, result: sizes.ShapeResult) -> tuple[Field, ...] | None:
    """Araujo et al.'s recurrence, one axis at a time."""
    if fields is None:
        return None
    out = []
    for f, dim in zip(fields, result.dims):
        k_eff = sizes.dilated_kernel(dim.K, dim.d)
        half = Fraction(k_eff - 1, 2) if isinstance(k_eff, int) else (k_eff - 1) / 2
        out.append(Field(rf=f.rf + (k_eff - 1) * f.jump, jump=f.jump * dim.s, start=f.start + (half - dim.pad_lo) * f.jump))
    return tuple(out)


def _warnings(result: sizes.ShapeResult) -> list[str]:
    notes = []
    for i, dim in enumerate(result.dims):
        axis = f"axis {i + 1}"
        if isinstance(dim.unused_input, int) and dim.unused_input > 0 and result.spec.kind != "transposed":
            notes.append(f"{axis}: the stride leaves the last {dim.unused_input} input position(s) unused")
        if result.spec.ceil_mode and isinstance(dim.output, int):
            reach = (dim.output - 1) * dim.s + sizes.dilated_kernel(dim.K, dim.d)
            if reach > dim.W + dim.pad_lo + dim.pad_hi:
                notes.append(f"{axis}: the last window runs {reach - dim.W - dim.pad_lo - dim.pad_hi} past the padded input")
    return notes


def _div(a: Any, b: Any) -> Any:
    return a // b if isinstance(a, int) and isinstance(b, int) else a / b


def _apply(bound: dict, shape: tuple, fields: tuple[Field, ...] | None, where: str):
    """One layer: (output shape, params, macs, fields, warnings)."""
    kind = bound["kind"]
    if len(shape) == 1 and kind not in ("linear", "relu", "dropout", "flatten", "batchnorm"):
        raise InputError(f"{where}: {kind} needs a C×H×W input, but the input here is flat ({shape[0]} features)")
    channels, spatial = shape[0], shape[1:]
    if kind in ("conv", "convt"):
        out_channels = _sym(_count(bound["out"], where, "out"))
        groups = _count(bound["groups"], where, "groups")
        for name, value in (("input channels", channels), ("output channels", out_channels)):
            if _divides(value, groups) is False:
                raise InputError(f"{where}: groups={groups} must divide the {name} ({value})")
        result, k, _, _ = _window_layer(bound, spatial, where)
        taps = _product([_sym(v) for v in k])
        bias = out_channels if _flag(bound["bias"], where, "bias") else 0
        if kind == "conv":
            weights = out_channels * _div(channels, groups) * taps
            macs = weights * _product(result.output)
            new_fields = _next_fields(fields, result)
        else:
            weights = channels * _div(out_channels, groups) * taps
            macs = weights * _product(spatial)
            new_fields = None
        return (out_channels, *result.output), _int(weights + bias), _int(macs), new_fields, _warnings(result)
    if kind in ("maxpool", "avgpool"):
        result, _, _, _ = _window_layer(bound, spatial, where)
        return (channels, *result.output), 0, 0, _next_fields(fields, result), _warnings(result)
    if kind == "adaptiveavgpool":
        target = tuple(_sym(_count(t, where, "out")) for t in _per_axis(bound["out"], len(spatial), where, "out"))
        new_fields = None
        if fields is not None and all(_divides(w, t) for w, t in zip(spatial, target)):
            # an evenly dividing adaptive pool is a pool with k = s = input/output
            k = [w // t for w, t in zip(spatial, target)]
            spec = sizes.make_spec(W=list(spatial), K=k, s=k, kind="pool", pool="avg")
            new_fields = _next_fields(fields, sizes.layer_shape(spec))
        return (channels, *target), 0, 0, new_fields, []
    if kind in ("relu", "dropout"):
        return shape, 0, 0, fields, []
    if kind == "batchnorm":
        return shape, _int(2 * channels), 0, fields, []
    if kind == "flatten":
        return (_int(_product(shape)),), 0, 0, None, []
    if kind == "linear":
        if len(shape) != 1:
            raise InputError(f"{where}: linear needs a flat input; add flatten before it (the input here is {shape})")
        out_features = _sym(_count(bound["out"], where, "out"))
        bias = out_features if _flag(bound["bias"], where, "bias") else 0
        return (out_features,), _int(shape[0] * out_features + bias), _int(shape[0] * out_features), None, []
    raise InputError(f"{where}: unknown layer {kind!r}")  # pragma: no cover - bind() already checks


def _int(value: Any) -> Any:
    """sympy Integers back to int so numeric networks stay plain Python."""
    if getattr(value, "is_Integer", False):
        return int(value)
    return value


def network(input_shape: Sequence[Value], calls: Sequence[LayerCall]) -> NetworkResult:
    """Run a chain of layers over a C×(spatial) input: each layer's shape, params, MACs and field."""
    if any(isinstance(v, str) for v in input_shape) and len(calls) > MAX_SYMBOLIC_LAYERS:
        raise InputError(
            f"--layers has {len(calls)} layers; with a symbolic --input the limit is {MAX_SYMBOLIC_LAYERS} "
            "(give numbers for longer networks)"
        )
    shape = tuple(_sym(v) for v in input_shape)
    fields: tuple[Field, ...] | None = tuple(Field(1, 1, Fraction(0)) for _ in shape[1:])
    rows = []
    for call in calls:
        bound = bind(call)
        where = f"layer {call.index} ({call.text})"
        shape, params, macs, fields, warnings = _apply(bound, shape, fields, where)
        for v in shape:
            if isinstance(v, int) and v < 1:
                raise InputError(f"{where}: the output size would be {v}; it must be at least 1")
        rows.append(LayerRow(call.index, bound["kind"], call.text, shape, params, macs, fields, warnings))
    symbolic = any(isinstance(v, str) for v in input_shape)
    total_params = _total([row.params for row in rows])
    total_macs = _total([row.macs for row in rows])
    return NetworkResult(tuple(_sym(v) for v in input_shape), rows, total_params, total_macs, symbolic)


def _total(values: list[Any]) -> Any:
    """Sum in one go: adding symbolic terms one at a time re-sorts the growing sum every time."""
    if all(isinstance(v, int) for v in values):
        return sum(values)
    import sympy

    return _int(sympy.Add(*values))


# --- solving for padding ---------------------------------------------------


@dataclass(frozen=True)
class PadSolution:
    lo: Any
    hi: Any
    output: Any


@dataclass(frozen=True)
class Solved:
    """What was solved for, the layer it was solved on, and the solutions found.

    ``more`` counts further solutions not listed (a large stride admits a
    whole range of total paddings; only the first MAX_LISTED are listed).
    """

    unknown: str  # "p" or "output-padding"
    target: int
    spec: sizes.LayerSpec
    solutions: tuple[PadSolution, ...]
    more: int = 0


#: Most solutions --solve lists; the rest are counted.
MAX_LISTED = 10


def _fixed_spec(spec: sizes.LayerSpec, unknown: str) -> None:
    if len(spec.W) != 1:
        raise InputError(f"--solve {unknown} works on one dimension at a time; give single values for --W, --K, --s, --d")
    if any(not isinstance(v, int) for v in (spec.W[0], spec.K[0], spec.s[0], spec.d[0])):
        raise InputError(f"--solve {unknown} needs numeric --W, --K, --s and --d")


def _candidate_totals(spec: sizes.LayerSpec, target: int) -> range:
    """Total paddings (lo + hi) that can give ``target``, computed, not searched.

    A convolution's output is ⌊(W + P − span)/s⌋ + 1, which equals the target
    exactly for P in [base, base + s − 1], base = (target − 1)s + span − W. A
    pool's padding is at most half its kernel on each side, so its totals are
    few and are all tried (ceil mode has its own last-window rule).
    """
    W, K, s, d = spec.W[0], spec.K[0], spec.s[0], spec.d[0]
    if spec.kind == "pool":
        return range(0, 2 * (K // 2) + 1)
    base = (target - 1) * s + sizes.dilated_kernel(K, d) - W
    return range(max(base, 0), max(base + s, 0))


def solve_padding(spec: sizes.LayerSpec, target: int) -> Solved:
    """Paddings (symmetric first, then the lo:hi split of odd totals) that make ``spec`` output ``target``.

    Every candidate listed is checked through :func:`sizes.layer_shape`, so the
    solutions obey exactly the rule and restrictions that ``shape`` applies.
    """
    _fixed_spec(spec, "p")
    if spec.kind == "transposed":
        raise InputError("--solve p is for convolutions and pools; for --transposed solve output-padding")
    if target < 1:
        raise InputError(f"--target {target} must be at least 1")
    found = []
    totals = _candidate_totals(spec, target)
    for total in totals[: 4 * MAX_LISTED]:
        lo = total // 2
        try:
            out = sizes.layer_shape(spec._replace(pad=(PadSpec(lo=lo, hi=total - lo),))).output[0]
        except InputError:
            continue
        if out == target:
            found.append(PadSolution(lo, total - lo, out))
    count = totals.stop - totals.start  # not len(): a huge stride overflows it
    more = max(count - 4 * MAX_LISTED, 0) if spec.kind == "conv" else 0
    found.sort(key=lambda p: (p.lo != p.hi, p.lo + p.hi))
    more += max(len(found) - MAX_LISTED, 0)
    return Solved("p", target, spec, tuple(found[:MAX_LISTED]), more)


def solve_output_padding(spec: sizes.LayerSpec, target: int) -> Solved:
    """The output padding of a transposed convolution that reaches ``target`` (zero or one solution)."""
    _fixed_spec(spec, "output-padding")
    if spec.kind != "transposed":
        raise InputError("--solve output-padding needs --transposed")
    dim = sizes.layer_shape(spec._replace(output_padding=(0,))).dims[0]
    op = target - dim.output
    found = []
    if op >= 0:
        try:
            out = sizes.layer_shape(spec._replace(output_padding=(op,))).output[0]
            found.append(PadSolution(op, op, out))
        except InputError:
            pass
    return Solved("output-padding", target, spec, tuple(found))
