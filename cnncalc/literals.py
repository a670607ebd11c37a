"""Safe parsers for what users type into options: numbers, names, per-dimension lists.

User text is data, never code: nothing here calls eval, exec, sympify or
parse_expr. Numbers become ``int``/``fractions.Fraction``; names stay ``str``
until a symbolic code path turns them into ``sympy.Symbol`` objects.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from cnncalc.errors import InputError
from cnncalc.sizes import PAD_WORDS, PadSpec

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_INT = re.compile(r"[+-]?[0-9]+\Z")
_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\Z")
#: Decimal exponents beyond this are refused so a literal cannot build a giant Fraction.
MAX_EXPONENT = 400
#: Longest number literal accepted (digits), for the same reason.
MAX_DIGITS = 400


def is_name(text: str) -> bool:
    """True for a plain ASCII identifier such as ``W`` or ``k1``."""
    return bool(_NAME.match(text))


def parse_int(text: str, option: str) -> int:
    """Parse a whole number, naming the option on failure."""
    t = text.strip()
    if not _INT.match(t) or len(t) > MAX_DIGITS:
        raise InputError(f"{option} {text!r} is not a whole number")
    return int(t)


def parse_size(text: str, option: str, allow_names: bool = True) -> int | str:
    """A size entry: a whole number, or (when allowed) a symbol name such as ``W``."""
    t = text.strip()
    if allow_names and is_name(t):
        return t
    if _DECIMAL.match(t) and not _INT.match(t):
        raise InputError(f"{option} {text!r} is not a whole number; sizes must be integers")
    if not _INT.match(t):
        hint = " or a name" if allow_names else ""
        raise InputError(f"{option} {text!r} is not a whole number{hint}")
    return parse_int(t, option)


def parse_size_list(text: str, option: str, allow_names: bool = True) -> list[int | str]:
    """Comma-separated sizes, one per spatial dimension (``3`` or ``3,5``)."""
    parts = text.split(",")
    if any(not p.strip() for p in parts):
        raise InputError(f"{option} {text!r} has an empty entry; write one value or a comma-separated list like 3,5")
    return [parse_size(p, option, allow_names) for p in parts]


def parse_padding(text: str, option: str = "--p", allow_names: bool = True) -> list[PadSpec]:
    """Padding per dimension: an integer, a name, ``valid``/``same``/``full``, or ``lo:hi``."""
    parts = text.split(",")
    specs = []
    for part in parts:
        p = part.strip()
        if not p:
            raise InputError(f"{option} {text!r} has an empty entry; write e.g. 1, same, or 1:2")
        if p.lower() in PAD_WORDS:
            specs.append(PadSpec(word=p.lower()))
        elif ":" in p:
            lo_text, _, hi_text = p.partition(":")
            words = {lo_text.strip().lower(), hi_text.strip().lower()} & set(PAD_WORDS)
            if not lo_text.strip() or not hi_text.strip() or ":" in hi_text or words:
                raise InputError(f"{option} {p!r} is not a lo:hi pair like 1:2")
            lo = parse_size(lo_text, option, allow_names)
            hi = parse_size(hi_text, option, allow_names)
            specs.append(PadSpec(lo=lo, hi=hi))
        else:
            amount = parse_size(p, option, allow_names)
            specs.append(PadSpec(lo=amount, hi=amount))
    return specs


def parse_number(text: str, option: str) -> int | Fraction:
    """An exact number: integer, decimal (``0.25``, ``1e-3``) or fraction (``1/4``)."""
    t = text.strip()
    if t.count("/") > 1:
        raise InputError(f"{option} {text!r} is not a number: write a fraction as p/q with one '/'")
    if "/" in t:
        num, _, den = t.partition("/")
        n, d = parse_number(num, option), parse_number(den, option)
        if d == 0:
            raise InputError(f"{option} {text!r} divides by zero")
        value = Fraction(n) / Fraction(d)
        return int(value) if value.denominator == 1 else value
    if len(t) > MAX_DIGITS:
        raise InputError(f"{option} is a number of {len(t)} characters; the limit is {MAX_DIGITS}")
    if _INT.match(t):
        return int(t)
    match = _DECIMAL.match(t)
    if not match:
        raise InputError(f"{option} {text!r} is not a number")
    exponent = match.group(2)
    if exponent and abs(int(exponent[1:])) > MAX_EXPONENT:
        raise InputError(f"{option} {text!r} has an exponent beyond ±{MAX_EXPONENT}")
    value = Fraction(t)
    return int(value) if value.denominator == 1 else value


def parse_assignments(texts: list[str], option: str) -> dict[str, int | Fraction]:
    """``x=-2,y=5`` (repeatable) → {"x": -2, "y": 5}; values are exact numbers."""
    values: dict[str, int | Fraction] = {}
    for text in texts:
        for part in text.split(","):
            name, eq, value = part.partition("=")
            name = name.strip()
            if not eq or not is_name(name) or not value.strip():
                raise InputError(f"{option} {part.strip()!r} is not name=value, e.g. {option} x=-2,y=5")
            if name in values:
                raise InputError(f"{option} gives {name} twice")
            values[name] = parse_number(value, f"{option} {name}")
    return values


# ---------------------------------------------------------------------------
# Arrays: nested-bracket literals and symbol ranges.
#
# Accepted forms (``option`` is only used in error messages):
#
#   [1, 2, 3]                 1D; entries are integers, decimals (0.25, 1e-3),
#   [[1, 2], [3, 4]]          fractions (1/4), symbol names (k1, a, -w2);
#   1/4*[[1, 1], [1, 1]]      an optional scalar factor (number or name) in front;
#   x1:9                      symbol range  → [x1, x2, …, x9] (any start ≤ end);
#   X:3x3                     2D symbols    → [[x11, x12, x13], …, [x31, x32, x33]];
#   X:12                      1D symbols    → [x1, …, x12]; X:2x3x4 gives 3D.
#
# Range names use the prefix in lower case followed by the 1-based indices.
# When any extent of a 2D/3D range exceeds 9 the indices are joined with "_"
# (X:10x10 → x1_1 … x10_10) so names stay unambiguous.
#
# Literals are exact: numbers become ``int``/``fractions.Fraction`` (decimals
# included), names become ``sympy.Symbol``; NaN/Inf are refused. At most
# ``MAX_ARRAY_ENTRIES`` entries and ``MAX_ARRAY_DIMS`` levels of nesting; symbol
# ranges hold at most ``MAX_RANGE_SYMBOLS`` and are checked before anything is allocated.

#: Largest number of entries an exact or symbolic array may have.
MAX_ARRAY_ENTRIES = 10**6
#: Largest symbol range (x1:N, X:RxC); sympy needs ~3 µs per symbol, so this stays well under a second.
MAX_RANGE_SYMBOLS = 10**5
#: Deepest nesting of a literal (4 covers a (C_out, C_in, kH, kW) kernel).
MAX_ARRAY_DIMS = 4
#: Array kinds, from cheapest to most general.
ARRAY_KINDS = ("float", "exact", "symbolic")

_TOKEN = re.compile(r"\[|\]|,|[^\[\],\s]+")
_FACTOR = re.compile(r"\s*([^\[\]*]+?)\s*\*\s*(?=\[)")
_RANGE_1D = re.compile(r"([A-Za-z_][A-Za-z0-9_]*?)([0-9]{1,18}):([0-9]{1,18})\Z")
_RANGE_ND = re.compile(r"([A-Za-z_][A-Za-z0-9_]*):([0-9]{1,18}(?:[xX][0-9]{1,18}){0,2})\Z")
_NON_FINITE = {"nan", "inf", "infinity"}
#: How much of a long value an error message repeats.
_ECHO = 60


class ArrayValue:
    """An array the user gave: ``data`` (numpy), its ``kind`` and ``shape``.

    ``kind`` is ``"float"`` (``data`` is float64), ``"exact"`` (dtype object
    holding ``int``/``Fraction``) or ``"symbolic"`` (dtype object, some entries
    sympy expressions, the rest ``int``/``Fraction``). Read-only; a plain class,
    not a dataclass, since this module is on the import path of ``shape`` and TAB.
    """

    __slots__ = ("data", "kind", "shape")

    def __init__(self, data: Any, kind: str, shape: tuple[int, ...]) -> None:
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "shape", tuple(shape))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"ArrayValue is read-only; cannot set {name}")

    def __repr__(self) -> str:
        return f"ArrayValue(kind={self.kind!r}, shape={self.shape!r})"

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        n = 1
        for extent in self.shape:
            n *= extent
        return n


def _echo(text: str) -> str:
    t = text.strip()
    return repr(t if len(t) <= _ECHO else t[: _ECHO - 1] + "…")


def _object_array(flat: list[Any], shape: tuple[int, ...]) -> Any:
    import numpy as np

    data = np.empty(len(flat), dtype=object)
    data[:] = flat
    return data.reshape(shape)


def _too_many_symbols(option: str, text: str, count: int) -> InputError:
    return InputError(
        f"{option} {_echo(text)} would make {count} symbols; symbol ranges are limited to {MAX_RANGE_SYMBOLS}"
    )


def _too_many(option: str, text: str, count: int) -> InputError:
    return InputError(
        f"{option} {_echo(text)} has {count} entries; exact and symbolic arrays are limited to "
        f"{MAX_ARRAY_ENTRIES} (use a .npy/.csv file for large numeric data)"
    )


def _symbol_range(text: str, option: str) -> ArrayValue | None:
    """``x1:9`` or ``X:3x3`` as an array of sympy Symbols; None if the text is not a range."""
    t = text.strip()
    m = _RANGE_1D.match(t)
    if m:
        prefix, start, stop = m.group(1), int(m.group(2)), int(m.group(3))
        if start > stop:
            raise InputError(f"{option} {_echo(t)}: the range must count up, e.g. {prefix}1:9")
        count = stop - start + 1
        if count > MAX_RANGE_SYMBOLS:
            raise _too_many_symbols(option, t, count)
        import sympy

        names = [f"{prefix}{i}" for i in range(start, stop + 1)]
        return ArrayValue(_object_array([sympy.Symbol(name) for name in names], (count,)), "symbolic", (count,))
    m = _RANGE_ND.match(t)
    if not m:
        return None
    prefix = m.group(1).lower()
    shape = tuple(int(part) for part in re.split("[xX]", m.group(2)))
    if any(extent < 1 for extent in shape):
        raise InputError(f"{option} {_echo(t)}: every extent must be at least 1")
    count = 1
    for extent in shape:
        count *= extent
        if count > MAX_RANGE_SYMBOLS:
            raise _too_many_symbols(option, t, count)
    import itertools

    import sympy

    joiner = "_" if len(shape) > 1 and max(shape) > 9 else ""
    names = [
        prefix + joiner.join(str(i + 1) for i in index)
        for index in itertools.product(*(range(extent) for extent in shape))
    ]
    return ArrayValue(_object_array([sympy.Symbol(name) for name in names], shape), "symbolic", shape)


class _Atoms:
    """Turns entry tokens into values, remembering whether any symbol appeared."""

    def __init__(self, option: str, text: str) -> None:
        self.option = option
        self.text = text
        self.symbolic = False
        self._symbols: dict[str, Any] = {}

    def symbol(self, name: str) -> Any:
        sym = self._symbols.get(name)
        if sym is None:
            import sympy

            sym = self._symbols[name] = sympy.Symbol(name)
        self.symbolic = True
        return sym

    def value(self, token: str, position: int) -> Any:
        if _INT.match(token) and len(token) <= MAX_DIGITS:
            return int(token)
        sign, name = (token[0], token[1:]) if token[0] in "+-" else ("", token)
        if is_name(name):
            if name.lower() in _NON_FINITE:
                raise InputError(
                    f"{self.option} {_echo(self.text)}: {token!r} at character {position + 1} is not allowed; "
                    "entries must be finite numbers or symbol names"
                )
            sym = self.symbol(name)
            return -sym if sign == "-" else sym
        try:
            return parse_number(token, self.option)
        except InputError as exc:
            reason = str(exc).removeprefix(f"{self.option} {token!r} ")
            raise InputError(
                f"{self.option} {_echo(self.text)}: entry {token!r} at character {position + 1} {reason}; "
                "entries are integers, decimals, fractions like 1/4 or names like k1"
            ) from None


def _scaled(factor: Any, value: Any) -> Any:
    product = factor * value
    if isinstance(product, Fraction) and product.denominator == 1:
        return int(product)
    return product


def _sympy_number(value: Any) -> Any:
    if isinstance(value, Fraction):
        import sympy

        return sympy.Rational(value.numerator, value.denominator)
    return value


def parse_array(text: str, option: str) -> ArrayValue:
    """Parse an array literal or symbol range (see the forms above) into an :class:`ArrayValue`.

    Iterative, bounded and never evaluates user text. Raises :class:`InputError`
    (one line, naming ``option`` and where the problem is) for empty, ragged,
    unbalanced or oversized arrays, NaN/Inf and unknown tokens.
    """
    if not text or not text.strip():
        raise InputError(f"{option} is empty; write an array like [1,2,3], a range like x1:9, or a file name")
    ranged = _symbol_range(text, option)
    if ranged is not None:
        return ranged

    atoms = _Atoms(option, text)
    factor: Any = None
    body_start = 0
    match = _FACTOR.match(text)
    if match:
        factor_text = match.group(1)
        if "[" not in text[match.end():match.end() + 1]:
            raise InputError(f"{option} {_echo(text)}: a factor must be followed by a bracketed array")
        factor = atoms.value(factor_text, match.start(1))
        body_start = match.end()
    elif not text.lstrip().startswith("["):
        raise InputError(
            f"{option} {_echo(text)} is not an array: write [1,2,3], [[1,2],[3,4]], 1/4*[[1,1],[1,1]], "
            "a range like x1:9 or X:3x3, or a .npy/.csv/.txt file"
        )

    open_counts: list[int] = []  # entries so far in each open list
    lengths: dict[int, int] = {}  # list depth → length every list at that depth must have
    leaf_depth: int | None = None
    flat: list[Any] = []
    expecting = True  # a value (or, straight after '[', a ']') is expected next
    just_opened = False
    closed = False

    def fail(position: int, problem: str) -> InputError:
        return InputError(f"{option} {_echo(text)}: {problem} at character {position + 1}")

    for m in _TOKEN.finditer(text, body_start):
        token, pos = m.group(), m.start()
        if closed:
            raise fail(pos, f"unexpected {token!r} after the closing ']'")
        if token == "[":
            if not expecting:
                raise fail(pos, "missing ',' before '['")
            if leaf_depth is not None and len(open_counts) >= leaf_depth:
                raise fail(pos, "ragged array (a list where a number was expected)")
            if len(open_counts) >= MAX_ARRAY_DIMS:
                raise fail(pos, f"nesting deeper than {MAX_ARRAY_DIMS} levels")
            open_counts.append(0)
            expecting, just_opened = True, True
        elif token == "]":
            if not open_counts:
                raise fail(pos, "unmatched ']'")
            if expecting and not just_opened:
                raise fail(pos, "missing entry after ','")
            count = open_counts.pop()
            if count == 0:
                raise fail(pos, "empty array '[]'")
            depth = len(open_counts)
            expected = lengths.setdefault(depth, count)
            if expected != count:
                raise fail(pos, f"ragged array (this list has {count} entries, an earlier one at the same level has {expected})")
            if open_counts:
                open_counts[-1] += 1
            else:
                closed = True
            expecting, just_opened = False, False
        elif token == ",":
            if not open_counts or expecting:
                raise fail(pos, "unexpected ','")
            expecting, just_opened = True, False
        else:
            if not open_counts:
                raise fail(pos, f"{token!r} is outside the brackets")
            if not expecting:
                raise fail(pos, f"missing ',' before {token!r}")
            depth = len(open_counts)
            if leaf_depth is None:
                leaf_depth = depth
            elif depth != leaf_depth:
                raise fail(pos, "ragged array (a number where a list was expected)")
            if len(flat) >= MAX_ARRAY_ENTRIES:
                raise _too_many(option, text, len(flat) + 1)
            flat.append(atoms.value(token, pos))
            open_counts[-1] += 1
            expecting, just_opened = False, False
    if open_counts:
        raise InputError(f"{option} {_echo(text)}: {len(open_counts)} '[' not closed")
    if not closed or leaf_depth is None:
        raise InputError(f"{option} {_echo(text)}: empty array")

    if factor is not None:
        if atoms.symbolic:
            factor = _sympy_number(factor)
            flat = [_scaled(factor, _sympy_number(v)) for v in flat]
        else:
            flat = [_scaled(factor, v) for v in flat]
    shape = tuple(lengths[d] for d in range(leaf_depth))
    kind = "symbolic" if atoms.symbolic else "exact"
    return ArrayValue(_object_array(flat, shape), kind, shape)
