"""Safe parsers for what users type into options: numbers, names, per-dimension lists.

User text is data, never code: nothing here calls eval, exec, sympify or
parse_expr. Numbers become ``int``/``fractions.Fraction``; names stay ``str``
until a symbolic code path turns them into ``sympy.Symbol`` objects.
"""

from __future__ import annotations

import re
from fractions import Fraction

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
            if not lo_text.strip() or not hi_text.strip() or ":" in hi_text:
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
    if "/" in t:
        num, _, den = t.partition("/")
        n, d = parse_number(num, option), parse_number(den, option)
        if d == 0:
            raise InputError(f"{option} {text!r} divides by zero")
        value = Fraction(n) / Fraction(d)
        return int(value) if value.denominator == 1 else value
    if _INT.match(t) and len(t) <= MAX_DIGITS:
        return int(t)
    match = _DECIMAL.match(t)
    if not match or len(t) > MAX_DIGITS:
        raise InputError(f"{option} {text!r} is not a number")
    exponent = match.group(2)
    if exponent and abs(int(exponent[1:])) > MAX_EXPONENT:
        raise InputError(f"{option} {text!r} has an exponent beyond ±{MAX_EXPONENT}")
    value = Fraction(t)
    return int(value) if value.denominator == 1 else value
