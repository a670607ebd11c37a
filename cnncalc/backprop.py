"""Forward and reverse pass over a parsed program, with numbers or with sympy.

``evaluate`` runs the forward pass in Python floats and then reverse-mode
backprop with the output as L: every node gets its value, its local gradients
(one per input: d node / d input) and its accumulated gradient dL/dnode.
``evaluate_symbolic`` does the same with sympy expressions built stage by
stage from sympy constructors (sympy is imported only there).
``gradient_check`` compares the analytic gradients with central differences.

Semantics follow PyTorch: relu'(0) = 0, abs'(0) = 0, max/min split the
gradient 0.5/0.5 at a tie, and for x**y the derivative in y is 0 at x = 0
and the derivative in x is 0 when y = 0. Kinks (relu/abs at 0) and ties
(max/min with equal arguments) are flagged. A node that depends on no input
(a constant subexpression) gets no gradient (None), like a tensor without
requires_grad. Every value and gradient is finite: division by zero, log or
sqrt outside their domain, d/dy x**y with x < 0, overflow or any other
non-finite result raise a DomainError naming the stage. Forward order is the
node id order; the backward pass walks it in reverse, so there is no
recursion anywhere.

Symbolic mode writes relu as Max(0, x) with derivative Heaviside(x, 0), abs'
as sign(x), and max/min derivatives as Heaviside(a - b, 1/2), so substituting
numbers reproduces the conventions above (except d/dy x**y = x**y*log(x),
which is left in its textbook form and is undefined at x = 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from numbers import Real
from typing import Any, Mapping, NamedTuple

from cnncalc.errors import DomainError, InputError
from cnncalc.expr import Graph, parse

SYMBOLIC_MAX_NODES = 1_000
"""Largest program (in nodes) that symbolic mode accepts."""

SYMBOLIC_MAX_DEPTH = 100
"""Deepest sympy expression symbolic mode builds (sympy recurses when printing)."""

SYMBOLIC_MAX_DIGITS = 10_000
"""Largest exact number (in decimal digits) a constant power may produce symbolically."""

SYMBOLIC_MAX_SIZE = 20_000
"""Largest sympy expression (tree nodes, shared parts counted per use) symbolic mode builds."""

KINK, TIE = "kink", "tie"
"""Flags: relu/abs evaluated at 0; max/min with equal arguments."""

_INF = math.inf
_OVERFLOW = "result overflows a float"


# ---------------------------------------------------------------------------
# Public data structures


class Contribution(NamedTuple):
    """One use of a node: what flows back along one edge of the graph."""

    consumer: int  # id of the node that uses it
    slot: int  # which input of the consumer it is
    upstream: Any  # dL/dconsumer
    local: Any  # d consumer / d this input
    value: Any  # upstream * local


@dataclass(frozen=True)
class Node:
    """Everything known about one node after both passes (for renderers)."""

    id: int
    name: str
    op: str
    inputs: tuple[int, ...]
    value: Any  # float, or a sympy expression in symbolic mode
    grad: Any  # dL/dnode; None if the node depends on no input
    local_grads: tuple[Any, ...] | None  # per input; None if not on a backward path
    contributions: tuple[Contribution, ...]  # per use; their values sum to grad
    flags: tuple[str, ...]  # KINK and/or TIE
    stage: bool  # named by the user with "name = ..."
    literal: str | None  # text of a constant
    formula: str  # right-hand side, e.g. "x + y"


@dataclass
class Trace:
    """Result of a forward and a backward pass, as per-node lists (index = id).

    ``values[i]`` is the node's value, ``grads[i]`` its gradient dL/dnode with
    the output as L (the output's is 1; None when the node depends on no
    input; 0 for input-dependent nodes that do not lead to the output),
    ``local_grads[i]`` its local gradients per input (None for leaves and for
    nodes the backward pass does not visit; an entry is None for an input
    that depends on no input). ``flags`` maps node ids to KINK/TIE flags;
    ``reached[i]`` is 1 for the nodes the backward pass visits. Floats are
    raw (a -0.0 may occur); ``value``, ``gradients()`` and ``node()`` show
    -0.0 as 0.0.
    """

    graph: Graph
    values: list[Any]
    grads: list[Any]
    local_grads: list[tuple[Any, ...] | None]
    flags: dict[int, tuple[str, ...]]
    symbolic: bool = False
    reached: bytearray = field(default_factory=bytearray, repr=False)

    @property
    def output(self) -> int:
        """Id of the output node (L)."""
        return self.graph.output

    @property
    def value(self) -> Any:
        """Value of the output."""
        return _clean(self.values[self.graph.output])

    def gradients(self) -> dict[str, Any]:
        """dL/dinput for every input, in order of first appearance."""
        grads = self.grads
        return {name: _clean(grads[i]) for name, i in zip(self.graph.input_names(), self.graph.inputs)}

    def forward_order(self) -> list[int]:
        """Node ids in forward (topological) order."""
        return list(range(len(self.graph)))

    def backward_order(self) -> list[int]:
        """Ids of the nodes the backward pass visits, in reverse topological order."""
        reached = self.reached
        return [i for i in range(self.graph.output, -1, -1) if reached[i]]

    def edges(self) -> list[tuple[int, int, int]]:
        """(consumer, slot, input) for every edge a gradient flows back along, in backward order."""
        out = []
        args, local_grads = self.graph.args, self.local_grads
        for i in self.backward_order():
            local = local_grads[i]
            if local is None:
                continue
            out.extend((i, slot, j) for slot, j in enumerate(args[i]) if local[slot] is not None)
        return out

    def flow(self, consumer: int, slot: int) -> Contribution:
        """What flows back along one edge: upstream dL/dconsumer times the local gradient."""
        upstream, d = self.grads[consumer], self.local_grads[consumer][slot]
        return Contribution(consumer, slot, _clean(upstream), _clean(d), _clean(_product(upstream, d, self.symbolic)))

    @cached_property
    def _contributions(self) -> list[tuple[Contribution, ...]]:
        """Per node, its contributions, gathered in one walk in backward order."""
        per: list[list[Contribution]] = [[] for _ in range(len(self.graph))]
        for consumer, slot, j in self.edges():
            per[j].append(self.flow(consumer, slot))
        return [tuple(c) for c in per]

    def contributions(self, i: int) -> tuple[Contribution, ...]:
        """The gradient contributions node ``i`` receives, one per use.

        They are listed in the order the backward pass added them (consumers
        from last to first), so their values sum exactly to ``grads[i]``
        (except for the output, whose gradient is the seed 1).
        """
        return self._contributions[i]

    def node(self, i: int) -> Node:
        """A read-only view of node ``i``."""
        g = self.graph
        local = self.local_grads[i]
        return Node(
            id=i,
            name=g.names[i],
            op=g.ops[i],
            inputs=g.args[i],
            value=_clean(self.values[i]),
            grad=_clean(self.grads[i]),
            local_grads=None if local is None else tuple(_clean(d) for d in local),
            contributions=self.contributions(i),
            flags=self.flags.get(i, ()),
            stage=i in g.stages,
            literal=g.literals.get(i),
            formula=g.formula(i),
        )

    @property
    def nodes(self) -> list[Node]:
        """Views of all nodes in forward order."""
        return [self.node(i) for i in range(len(self.graph))]


def _clean(v: Any) -> Any:
    """Turn a float -0.0 into 0.0 for display; leave everything else alone."""
    if type(v) is float and v == 0.0:
        return 0.0
    return v


def _product(upstream: Any, local: Any, symbolic: bool) -> Any:
    """upstream * local, with sympy's constructor in symbolic mode."""
    if symbolic:
        import sympy  # already imported: the trace is symbolic

        return sympy.Mul(upstream, local)
    return upstream * local


# ---------------------------------------------------------------------------
# Errors


class _Undefined(Exception):
    """An op cannot be evaluated here; ``slots`` are the arguments to report."""

    def __init__(self, reason: str, slots: tuple[int, ...] | None = None) -> None:
        super().__init__(reason)
        self.reason, self.slots = reason, slots


def _fmt(v: Any) -> str:
    """A value for an error message: integers without '.0'."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e16:
        return str(int(v))
    return repr(v) if isinstance(v, float) else str(v)


def _stage_error(graph: Graph, i: int, values: list[Any], reason: str,
                 slots: tuple[int, ...] | None = None) -> DomainError:
    """DomainError ``stage <name = formula>: <reason> (<input> = <value>, ...)``."""
    args = graph.args[i]
    shown: list[str] = []
    for slot in range(len(args)) if slots is None else slots:
        j = args[slot]
        if values[j] is None or (graph.ops[j] == "const" and graph.names[j] == graph.literals[j]):
            continue  # unknown, or a plain literal that shows its value already
        item = f"{graph.names[j]} = {_fmt(values[j])}"
        if item not in shown:
            shown.append(item)
    detail = f" ({', '.join(shown)})" if shown else ""
    return DomainError(f"stage {graph.describe(i)}: {reason}{detail}")


# ---------------------------------------------------------------------------
# Numeric operations: forward functions and local derivatives


def _div(a: float, b: float) -> float:
    if b == 0.0:
        raise _Undefined("division by zero", (1,))
    return a / b


def _pow(a: float, b: float) -> float:
    if a == 0.0 and b < 0.0:
        raise _Undefined("zero raised to a negative power (division by zero)")
    if a < 0.0 and not b.is_integer():
        raise _Undefined("negative base raised to a non-integer power")
    try:
        return math.pow(a, b)
    except OverflowError:
        raise _Undefined(_OVERFLOW) from None


def _exp(a: float) -> float:
    try:
        return math.exp(a)
    except OverflowError:
        raise _Undefined(_OVERFLOW) from None


def _log(a: float) -> float:
    if a <= 0.0:
        raise _Undefined("log of a non-positive number")
    return math.log(a)


def _sqrt(a: float) -> float:
    if a < 0.0:
        raise _Undefined("square root of a negative number")
    return math.sqrt(a)


def _sigmoid(a: float) -> float:
    """1 / (1 + e^-a), computed without overflow for large |a|."""
    if a >= 0.0:
        return 1.0 / (1.0 + math.exp(-a))
    e = math.exp(a)
    return e / (1.0 + e)


_FORWARD = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": _div,
    "pow": _pow,
    "neg": lambda a: -a,
    "identity": lambda a: a,
    "exp": _exp,
    "log": _log,
    "sqrt": _sqrt,
    "sin": math.sin,
    "cos": math.cos,
    "tanh": math.tanh,
    "sigmoid": _sigmoid,
    "relu": lambda a: a if a > 0.0 else 0.0,
    "abs": math.fabs,
    "max": lambda a, b: a if a >= b else b,
    "min": lambda a, b: a if a <= b else b,
}
"""Forward function per op, on floats."""


def _dpow_base(out: float, a: float, b: float) -> float:
    """d/da a**b = b * a**(b-1); 0 when b = 0 (as torch)."""
    if b == 0.0:
        return 0.0
    if a == 0.0 and b < 1.0:
        raise _Undefined("the derivative with respect to the base is infinite at base 0 for exponents below 1")
    try:
        return b * math.pow(a, b - 1.0)
    except OverflowError:
        raise _Undefined("the local gradient overflows a float") from None


def _dpow_exponent(out: float, a: float, b: float) -> float:
    """d/db a**b = a**b * log(a); 0 at a = 0 (as torch); undefined for a < 0."""
    if a < 0.0:
        raise _Undefined("the derivative with respect to the exponent needs a base >= 0", (0, 1))
    if a == 0.0:
        return 0.0
    return out * math.log(a)


def _dsqrt(out: float, a: float) -> float:
    if out == 0.0:
        raise _Undefined("the derivative of sqrt is infinite at 0")
    return 0.5 / out


def _dabs(out: float, a: float) -> float:
    return 1.0 if a > 0.0 else (-1.0 if a < 0.0 else 0.0)


def _split_first(a: float, b: float) -> float:
    """Share of the gradient for the first argument of max (0.5 at a tie)."""
    return 1.0 if a > b else (0.5 if a == b else 0.0)


_PARTIALS = {
    "add": (lambda o, a, b: 1.0, lambda o, a, b: 1.0),
    "sub": (lambda o, a, b: 1.0, lambda o, a, b: -1.0),
    "mul": (lambda o, a, b: b, lambda o, a, b: a),
    "div": (lambda o, a, b: 1.0 / b, lambda o, a, b: -o / b),
    "pow": (_dpow_base, _dpow_exponent),
    "neg": (lambda o, a: -1.0,),
    "identity": (lambda o, a: 1.0,),
    "exp": (lambda o, a: o,),
    "log": (lambda o, a: 1.0 / a,),
    "sqrt": (_dsqrt,),
    "sin": (lambda o, a: math.cos(a),),
    "cos": (lambda o, a: -math.sin(a),),
    "tanh": (lambda o, a: 1.0 - o * o,),
    "sigmoid": (lambda o, a: o * (1.0 - o),),
    "relu": (lambda o, a: 1.0 if a > 0.0 else 0.0,),
    "abs": (_dabs,),
    "max": (lambda o, a, b: _split_first(a, b), lambda o, a, b: _split_first(b, a)),
    "min": (lambda o, a, b: _split_first(b, a), lambda o, a, b: _split_first(a, b)),
}
"""Local derivative per op and input slot, as f(output, *inputs) on floats."""

_KINKED = frozenset({"relu", "abs"})
_TIED = frozenset({"max", "min"})


def _flag(op: str, x: Any, y: Any = None) -> str | None:
    """KINK for relu/abs at 0, TIE for max/min with equal arguments."""
    if op in _KINKED:
        return KINK if x == 0 else None
    if op in _TIED:
        return TIE if x == y else None
    return None


# ---------------------------------------------------------------------------
# Numeric passes


def _as_graph(program: Graph | str) -> Graph:
    """Parse program text, or pass a Graph through."""
    return program if isinstance(program, Graph) else parse(program)


def _input_values(graph: Graph, at: Mapping[str, Any]) -> dict[int, float]:
    """Map input node ids to finite floats, checking names against the inputs."""
    names = graph.input_names()
    known = set(names)
    unknown = [name for name in at if name not in known]
    if unknown:
        listed = ", ".join(names) if names else "none"
        raise InputError(
            f"values given for names that are not inputs: {', '.join(map(str, unknown))} (inputs: {listed})"
        )
    missing = [name for name in names if name not in at]
    if missing:
        raise InputError(f"missing values for inputs: {', '.join(missing)}")
    point = {}
    for i, name in zip(graph.inputs, names):
        v = at[name]
        if isinstance(v, bool) or not isinstance(v, Real):
            raise InputError(f"value of {name} must be a real number, got {v!r}")
        try:
            v = float(v)
        except OverflowError:
            raise InputError(f"value of {name} is too large for a float (the limit is about 1.8e308)") from None
        if not -_INF < v < _INF:
            raise InputError(f"value of {name} must be finite, got {v}")
        point[i] = v
    return point


def _forward(graph: Graph, point: dict[int, float], flags: dict | None = None) -> list[float]:
    """Values of all nodes in id order; records KINK/TIE flags if ``flags`` is given."""
    ops, args, constants = graph.ops, graph.args, graph.constants
    forward, inf = _FORWARD, _INF
    flagged = _KINKED | _TIED
    values: list[float] = []
    push = values.append
    for i, op in enumerate(ops):
        if op == "const":
            push(constants[i])
            continue
        if op == "input":
            push(point[i])
            continue
        a = args[i]
        try:
            if len(a) == 2:
                x, y = values[a[0]], values[a[1]]
                v = forward[op](x, y)
            else:
                x, y = values[a[0]], None
                v = forward[op](x)
        except _Undefined as exc:
            raise _stage_error(graph, i, values, exc.reason, exc.slots) from None
        if not -inf < v < inf:
            raise _stage_error(graph, i, values, _OVERFLOW)
        if flags is not None and op in flagged:
            flag = _flag(op, x, y)
            if flag:
                flags[i] = (flag,)
        push(v)
    return values


def _depends(graph: Graph) -> bytearray:
    """1 for nodes that depend on at least one input (they need gradients)."""
    ops, args = graph.ops, graph.args
    dep = bytearray(len(ops))
    for i, a in enumerate(args):
        if a:
            dep[i] = dep[a[0]] or (len(a) > 1 and dep[a[1]])
        elif ops[i] == "input":
            dep[i] = 1
    return dep


def _backward(graph: Graph, values: list[float], dep: bytearray):
    """Reverse pass: (grads, local_grads, reached) with the output as L.

    Nodes are visited in decreasing id order (reverse topological), so every
    consumer of a node has added its contribution before the node passes its
    gradient on.
    """
    ops, args = graph.ops, graph.args
    n, out = len(ops), graph.output
    grads: list[Any] = [0.0 if d else None for d in dep]
    local: list[Any] = [None] * n
    reached = bytearray(n)
    grads[out] = 1.0
    if not dep[out]:
        return grads, local, reached
    reached[out] = 1
    partials, inf = _PARTIALS, _INF
    i = out
    try:
        for i in range(out, -1, -1):
            if not reached[i]:
                continue
            a = args[i]
            if not a:
                continue
            g, op = grads[i], ops[i]
            j = a[0]
            if len(a) == 1:
                d = partials[op][0](values[i], values[j])
                if not -inf < d < inf:
                    raise _Undefined("the local gradient overflows a float")
                total = grads[j] + g * d
                if not -inf < total < inf:
                    raise _Undefined("the gradient overflows a float")
                grads[j] = total
                reached[j] = 1
                local[i] = (d,)
                continue
            k = a[1]
            x, y = values[j], values[k]
            if op == "mul":  # the commonest gates inline; the rest by table
                d0, d1 = y, x
            elif op == "add":
                d0 = d1 = 1.0
            elif op == "sub":
                d0, d1 = 1.0, -1.0
            else:
                fs = partials[op]
                d0 = fs[0](values[i], x, y) if dep[j] else 0.0
                d1 = fs[1](values[i], x, y) if dep[k] else 0.0
                if not (-inf < d0 < inf and -inf < d1 < inf):
                    raise _Undefined("the local gradient overflows a float")
            if dep[j]:
                total = grads[j] + g * d0
                if not -inf < total < inf:
                    raise _Undefined("the gradient overflows a float")
                grads[j] = total
                reached[j] = 1
            else:
                d0 = None
            if dep[k]:
                total = grads[k] + g * d1
                if not -inf < total < inf:
                    raise _Undefined("the gradient overflows a float")
                grads[k] = total
                reached[k] = 1
            else:
                d1 = None
            local[i] = (d0, d1)
    except _Undefined as exc:
        raise _stage_error(graph, i, values, exc.reason, exc.slots) from None
    except (OverflowError, ZeroDivisionError):
        raise _stage_error(graph, i, values, "the local gradient is not finite") from None
    return grads, local, reached


def evaluate(program: Graph | str, at: Mapping[str, Any]) -> Trace:
    """Numeric forward and backward pass at the input values ``at``.

    ``at`` maps every input name to a real number (int, float, Fraction...).
    Raises InputError for missing or unknown names and DomainError (naming the
    stage) when a value or gradient is undefined or not finite.
    """
    graph = _as_graph(program)
    point = _input_values(graph, at)
    flags: dict[int, tuple[str, ...]] = {}
    values = _forward(graph, point, flags)
    dep = _depends(graph)
    grads, local, reached = _backward(graph, values, dep)
    return Trace(graph, values, grads, local, flags, symbolic=False, reached=reached)


# ---------------------------------------------------------------------------
# Symbolic passes (sympy is imported here only)
#
# Values are sympy expressions in the input symbols. A constant node also
# keeps a float "shadow" computed with the numeric functions above, so
# constants get the same domain and overflow errors as in numeric mode and
# sympy never builds a power whose exact value would be enormous. Functions
# whose sympy simplification inspects its arguments deeply (Max, Min, Abs,
# Heaviside, sign) are left unevaluated when an argument has symbols: their
# automatic simplification grows exponentially on chains like
# max(max(max(x, y), y), y). They still evaluate once numbers are substituted.


def _sympy_forward(sp: Any, lazy: Any) -> dict[str, Any]:
    """Forward constructors per op, on sympy expressions."""
    half = sp.Rational(1, 2)
    return {
        "add": lambda a, b: sp.Add(a, b),
        "sub": lambda a, b: sp.Add(a, sp.Mul(-1, b)),
        "mul": lambda a, b: sp.Mul(a, b),
        "div": lambda a, b: sp.Mul(a, sp.Pow(b, -1)),
        "pow": lambda a, b: sp.Pow(a, b),
        "neg": lambda a: sp.Mul(-1, a),
        "identity": lambda a: a,
        "exp": sp.exp,
        "log": sp.log,
        "sqrt": lambda a: sp.Pow(a, half),
        "sin": sp.sin,
        "cos": sp.cos,
        "tanh": sp.tanh,
        "sigmoid": lambda a: sp.Pow(sp.Add(1, sp.exp(sp.Mul(-1, a))), -1),
        "relu": lambda a: lazy(sp.Max, sp.Integer(0), a),
        "abs": lambda a: lazy(sp.Abs, a),
        "max": lambda a, b: lazy(sp.Max, a, b),
        "min": lambda a, b: lazy(sp.Min, a, b),
    }


def _sympy_partials(sp: Any, lazy: Any) -> dict[str, tuple[Any, ...]]:
    """Local derivative constructors per op and slot, as f(output, *inputs).

    relu' is Heaviside(x, 0) (0 at x = 0), abs' is sign(x) (0 at 0), and max/min
    use Heaviside(a - b, 1/2) so a tie splits the gradient 0.5/0.5. d/dy x**y
    is 0 at x = 0 and d/dx x**y is 0 for y = 0, as in numeric mode.
    """
    half = sp.Rational(1, 2)
    one, zero, minus_one = sp.Integer(1), sp.Integer(0), sp.Integer(-1)

    def minus(a, b):
        return sp.Add(a, sp.Mul(-1, b))

    def dpow_base(o, a, b):
        return zero if b == 0 else sp.Mul(b, sp.Pow(a, sp.Add(b, -1)))

    def dpow_exponent(o, a, b):
        return zero if a == 0 else sp.Mul(o, sp.log(a))

    return {
        "add": (lambda o, a, b: one, lambda o, a, b: one),
        "sub": (lambda o, a, b: one, lambda o, a, b: minus_one),
        "mul": (lambda o, a, b: b, lambda o, a, b: a),
        "div": (lambda o, a, b: sp.Pow(b, -1), lambda o, a, b: sp.Mul(-1, a, sp.Pow(b, -2))),
        "pow": (dpow_base, dpow_exponent),
        "neg": (lambda o, a: minus_one,),
        "identity": (lambda o, a: one,),
        "exp": (lambda o, a: o,),
        "log": (lambda o, a: sp.Pow(a, -1),),
        "sqrt": (lambda o, a: sp.Pow(sp.Mul(2, o), -1),),
        "sin": (lambda o, a: sp.cos(a),),
        "cos": (lambda o, a: sp.Mul(-1, sp.sin(a)),),
        "tanh": (lambda o, a: sp.Add(1, sp.Mul(-1, sp.Pow(o, 2))),),
        "sigmoid": (lambda o, a: sp.Mul(o, sp.Add(1, sp.Mul(-1, o))),),
        "relu": (lambda o, a: lazy(sp.Heaviside, a, zero),),
        "abs": (lambda o, a: lazy(sp.sign, a),),
        "max": (lambda o, a, b: lazy(sp.Heaviside, minus(a, b), half),
                lambda o, a, b: lazy(sp.Heaviside, minus(b, a), half)),
        "min": (lambda o, a, b: lazy(sp.Heaviside, minus(b, a), half),
                lambda o, a, b: lazy(sp.Heaviside, minus(a, b), half)),
    }


class _SympyChecker:
    """Measures sympy expressions iteratively: depth, tree size, and finiteness.

    Results are memoised by object identity (the objects are kept alive), so
    checking an expression built from checked parts only visits the new parts.
    The tree size counts shared subexpressions once per use, as printing and
    most of sympy do.
    """

    def __init__(self, sp: Any) -> None:
        self.bad = (sp.nan, sp.zoo, sp.oo, -sp.oo, sp.I)
        self.seen: dict[int, tuple[int, int]] = {}  # id -> (depth, tree size)
        self.keep: list[Any] = []

    def measure(self, expr: Any) -> tuple[int, int] | None:
        """(depth, tree size) of ``expr``; None if it has nan, zoo, an infinity or I."""
        seen, bad = self.seen, self.bad
        todo = [(expr, False)]
        while todo:
            e, expanded = todo.pop()
            key = id(e)
            if key in seen:
                continue
            if e in bad:
                return None
            if not e.args:
                seen[key] = (1, 1)
                self.keep.append(e)
            elif expanded:
                parts = [seen[id(arg)] for arg in e.args]
                seen[key] = (1 + max(d for d, _ in parts), 1 + sum(n for _, n in parts))
                self.keep.append(e)
            else:
                todo.append((e, True))
                todo.extend((arg, False) for arg in e.args if id(arg) not in seen)
        return seen[id(expr)]


class _Symbolic:
    """State of one symbolic evaluation: values, float shadows and checks."""

    def __init__(self, graph: Graph) -> None:
        import sympy

        self.sp = sympy
        self.graph = graph
        self.evaluate = True  # whether "lazy" functions simplify (no symbols involved)
        self.forward = _sympy_forward(sympy, self.lazy)
        self.partials = _sympy_partials(sympy, self.lazy)
        self.checker = _SympyChecker(sympy)
        self.values: list[Any] = []
        self.shadows: list[float | None] = []  # float value of constant nodes, else None
        self.flags: dict[int, tuple[str, ...]] = {}

    def lazy(self, fn: Any, *args: Any) -> Any:
        """``fn(*args)``, unevaluated unless the node's inputs or these arguments are numbers."""
        return fn(*args, evaluate=self.evaluate or all(arg.is_Number for arg in args))

    def error(self, i: int, reason: str, slots: tuple[int, ...] | None = None) -> DomainError:
        """DomainError for node ``i`` showing the arguments' values where they are numbers."""
        return _stage_error(self.graph, i, self.shadows, reason, slots)

    def check(self, i: int, expr: Any, what: str) -> Any:
        """Reject non-finite, too large or too deeply nested expressions; return ``expr``."""
        measured = self.checker.measure(expr)
        if measured is None:
            raise self.error(i, f"the {what} is undefined, infinite or not real")
        depth, size = measured
        if depth > SYMBOLIC_MAX_DEPTH or size > SYMBOLIC_MAX_SIZE:
            problem = (
                f"nests deeper than {SYMBOLIC_MAX_DEPTH} levels"
                if depth > SYMBOLIC_MAX_DEPTH
                else f"has more than {SYMBOLIC_MAX_SIZE:,} terms"
            )
            raise InputError(
                f"stage {self.graph.describe(i)}: the symbolic {what} {problem}; "
                "give values for the inputs to get numbers"
            )
        return expr

    def constant(self, i: int) -> Any:
        """Exact rational value of a literal."""
        from fractions import Fraction

        q = Fraction(self.graph.literals[i])
        return self.sp.Rational(q.numerator, q.denominator)

    def guard_power(self, i: int, base: Any, exponent: Any, known: list[float | None]) -> None:
        """Refuse a constant power whose exact value would be huge."""
        if known[0] is None or not exponent.is_Rational or known[0] in (0.0, 1.0, -1.0):
            return
        size = abs(float(exponent))
        if base.is_Rational:  # about log10 of the larger of numerator and denominator
            size *= max(abs(int(base.p)), int(base.q)).bit_length() * 0.302
        if size > SYMBOLIC_MAX_DIGITS:
            raise self.error(
                i,
                f"the exact value would have more than {SYMBOLIC_MAX_DIGITS:,} digits; "
                "give values for the inputs to get numbers",
            )

    def run_forward(self) -> None:
        """Values of all nodes as sympy expressions, with shadows and flags."""
        graph, sp, forward = self.graph, self.sp, self.forward
        values, shadows = self.values, self.shadows
        for i, op in enumerate(graph.ops):
            if op == "const":
                values.append(self.constant(i))
                shadows.append(graph.constants[i])
                continue
            if op == "input":
                values.append(sp.Symbol(graph.given_names[i], real=True))
                shadows.append(None)
                continue
            a = graph.args[i]
            xs = [values[j] for j in a]
            known = [shadows[j] for j in a]
            shadow = self.numeric_forward(i, op, known)
            if op == "pow":
                self.guard_power(i, *xs, known)
            if op == "div" and known[1] == 0.0:
                raise self.error(i, "division by zero", (1,))
            self.evaluate = None not in known
            v = self.check(i, forward[op](*xs), "value")
            if shadow is None and v.is_Number:  # symbols cancelled out, as in x - x
                shadow = self.shadow_of(i, v)
            values.append(v)
            shadows.append(shadow)

    def numeric_forward(self, i: int, op: str, known: list[float | None]) -> float | None:
        """Float value and flags of node ``i`` when all its inputs are constants."""
        if None in known:
            return None
        try:
            v = _FORWARD[op](*known)
        except _Undefined as exc:
            raise self.error(i, exc.reason, exc.slots) from None
        if not -_INF < v < _INF:
            raise self.error(i, _OVERFLOW)
        flag = _flag(op, *known)
        if flag:
            self.flags[i] = (flag,)
        return v

    def shadow_of(self, i: int, v: Any) -> float:
        """Float value of a sympy number."""
        try:
            f = float(v)
        except (OverflowError, TypeError, ValueError):
            raise self.error(i, "the value is undefined or not a finite real number") from None
        if not -_INF < f < _INF:
            raise self.error(i, _OVERFLOW)
        return f

    def run_backward(self, dep: bytearray):
        """Reverse pass with sympy: (grads, local_grads, reached)."""
        graph, sp = self.graph, self.sp
        ops, args, values, shadows = graph.ops, graph.args, self.values, self.shadows
        n, out = len(ops), graph.output
        grads: list[Any] = [sp.Integer(0) if d else None for d in dep]
        local: list[Any] = [None] * n
        reached = bytearray(n)
        parts: list[list[Any]] = [[] for _ in range(n)]
        grads[out] = sp.Integer(1)
        if not dep[out]:
            return grads, local, reached
        reached[out] = 1
        for i in range(out, -1, -1):
            if not reached[i]:
                continue
            if i != out and parts[i]:
                grads[i] = self.check(i, sp.Add(*parts[i]), "gradient")
            a = args[i]
            if not a:
                continue
            g, o = grads[i], values[i]
            xs = [values[j] for j in a]
            known = [shadows[j] for j in a]
            self.evaluate = None not in known
            ds = []
            for slot, j in enumerate(a):
                if not dep[j]:
                    ds.append(None)
                    continue
                self.numeric_partial(i, slot, [shadows[i]] + known)
                d = self.check(i, self.partials[ops[i]][slot](o, *xs), "local gradient")
                parts[j].append(self.check(i, sp.Mul(g, d), "gradient"))
                reached[j] = 1
                ds.append(d)
            local[i] = tuple(ds)
        return grads, local, reached

    def numeric_partial(self, i: int, slot: int, known: list[float | None]) -> None:
        """Raise the numeric mode's error if a local gradient at known values is undefined."""
        op = self.graph.ops[i]
        if op == "pow" and slot == 1 and known[1] is not None and known[1] < 0.0:
            raise self.error(i, "the derivative with respect to the exponent needs a base >= 0", (0, 1))
        if None in known:
            return
        try:
            d = _PARTIALS[op][slot](*known)
        except _Undefined as exc:
            raise self.error(i, exc.reason, exc.slots) from None
        except (OverflowError, ZeroDivisionError):
            raise self.error(i, "the local gradient is not finite") from None
        if not -_INF < d < _INF:
            raise self.error(i, "the local gradient overflows a float")


def evaluate_symbolic(program: Graph | str) -> Trace:
    """Forward and backward pass with sympy expressions in the input symbols.

    Input names become real sympy Symbols; literals become exact rationals.
    Every value, local gradient and gradient is built stage by stage with sympy
    constructors (never by parsing text). Programs beyond SYMBOLIC_MAX_NODES
    nodes, or expressions beyond SYMBOLIC_MAX_DEPTH levels or
    SYMBOLIC_MAX_SIZE terms, raise InputError (fan-out makes expressions in
    the inputs grow exponentially); domain problems raise DomainError as in
    numeric mode.
    """
    graph = _as_graph(program)
    if len(graph) > SYMBOLIC_MAX_NODES:
        raise InputError(
            f"symbolic mode handles up to {SYMBOLIC_MAX_NODES:,} nodes and this program has "
            f"{len(graph):,}; give values for the inputs to get numbers"
        )
    state = _Symbolic(graph)
    state.run_forward()
    grads, local, reached = state.run_backward(_depends(graph))
    return Trace(graph, state.values, grads, local, state.flags, symbolic=True, reached=reached)


# ---------------------------------------------------------------------------
# Gradient check


@dataclass(frozen=True)
class CheckRow:
    """Finite-difference check of one input's gradient."""

    name: str
    numeric: float  # (f(x + h) - f(x - h)) / 2h, or one-sided at a domain edge
    analytic: float  # from the backward pass
    abs_error: float
    rel_error: float  # abs_error / max(|numeric|, |analytic|), 0 if both are 0
    step: float = 0.0  # the h used for this input: h·max(1, |x|)
    method: str = "central"  # "central", or "forward"/"backward" when one side leaves the domain


@dataclass(frozen=True)
class GradientCheck:
    """Per-input rows and the largest errors."""

    h: float
    rows: tuple[CheckRow, ...]
    max_abs_error: float
    max_rel_error: float


def _output_at(graph: Graph, point: dict[int, float]) -> float | None:
    """Output value at ``point``, or None where the program is undefined there."""
    try:
        return _forward(graph, point)[graph.output]
    except DomainError:
        return None


def _difference(graph: Graph, point: dict[int, float], i: int, step: float, centre: float) -> tuple[float, str, float]:
    """(estimate, method, step used) along input ``i``: central, one-sided at a domain edge."""
    x = point[i]
    up = _output_at(graph, {**point, i: x + step})
    down = _output_at(graph, {**point, i: x - step})
    small = abs(x) * step  # step is h for |x| <= 1, so this is h·|x|
    if (up is None or down is None) and 0.0 < small < step:
        # near a domain edge (log, sqrt close to 0) a step relative to |x| may keep both sides
        up_small = _output_at(graph, {**point, i: x + small})
        down_small = _output_at(graph, {**point, i: x - small})
        if up_small is not None and down_small is not None:
            return (up_small - down_small) / (2.0 * small), "central", small
    if up is not None and down is not None:
        return (up - down) / (2.0 * step), "central", step
    if up is not None:
        return (up - centre) / step, "forward", step
    if down is not None:
        return (centre - down) / step, "backward", step
    name = graph.names[i]
    raise DomainError(f"gradient check: the program is undefined at {name} = {_fmt(x)} ± {step!r}")


def gradient_check(program: Graph | str, at: Mapping[str, Any], h: float = 1e-6) -> GradientCheck:
    """Compare each input's analytic gradient with a finite difference.

    The step for input x is h·max(1, |x|), so large values are not lost to
    rounding; where x ± step leaves the program's domain (log near 0) the
    difference is one-sided. At kinks and ties the two legitimately differ
    (the analytic side follows PyTorch's conventions); the trace flags them.
    """
    if isinstance(h, bool) or not isinstance(h, Real) or not 0.0 < float(h) < _INF:
        raise InputError(f"step h must be a positive finite number, got {h!r}")
    h = float(h)
    graph = _as_graph(program)
    trace = evaluate(graph, at)
    point = _input_values(graph, at)
    centre = trace.values[graph.output]
    rows = []
    for i in graph.inputs:
        step = h * max(1.0, abs(point[i]))
        numeric, method, step = _difference(graph, point, i, step, centre)
        analytic = trace.grads[i]
        error = abs(numeric - analytic)
        scale = max(abs(numeric), abs(analytic))
        rows.append(CheckRow(graph.names[i], _clean(numeric), _clean(analytic), error,
                             error / scale if scale else 0.0, step, method))
    return GradientCheck(
        h=h,
        rows=tuple(rows),
        max_abs_error=max((r.abs_error for r in rows), default=0.0),
        max_rel_error=max((r.rel_error for r in rows), default=0.0),
    )


# ---------------------------------------------------------------------------
# The whole job of `cnncalc backprop`


@dataclass(frozen=True)
class Result:
    """A trace plus what produced it: the program text, the point (None: symbolic), the check."""

    trace: Trace
    check: GradientCheck | None
    program: str
    at: Mapping[str, Any] | None


def run(program: str, at: Mapping[str, Any] | None = None, check: bool = False) -> Result:
    """Parse ``program`` and trace it numerically at ``at``, or symbolically when ``at`` is None.

    ``check`` adds a central-difference gradient check (numeric only). Errors
    about the values name the ``--at`` option they came from.
    """
    if check and at is None:
        raise InputError("--check needs --at values: the numerical check runs at a point")
    graph = parse(program, "program")
    if at is None:
        return Result(evaluate_symbolic(graph), None, program, None)
    try:
        trace = evaluate(graph, at)
    except InputError as exc:
        raise InputError(f"--at: {exc}") from None
    return Result(trace, gradient_check(graph, at) if check else None, program, at)
