"""How single values look in text and LaTeX: 3 not 3.0, 1/4 not 0.25, k1*x1 as written."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

#: Significant digits shown for floats in text.
FLOAT_DIGITS = 6


def show(value: Any) -> str:
    """A value for text output: integers plainly, floats trimmed, symbols via sympy's str()."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Fraction):
        return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
    if isinstance(value, float) or type(value).__module__ == "numpy":
        x = float(value)
        if math.isfinite(x) and x == int(x) and abs(x) < 1e15:
            return str(int(x))
        return f"{x:.{FLOAT_DIGITS}g}"
    return str(value)


def sizes_text(values: Any, sep: str = " × ") -> str:
    """A shape or per-dimension sizes for text: ``26 × 100``."""
    return sep.join(str(v) for v in values)


def show_tex(value: Any) -> str:
    """A value as LaTeX (sympy.latex for expressions, \\frac for fractions)."""
    if isinstance(value, Fraction) and value.denominator != 1:
        sign = "-" if value < 0 else ""
        return rf"{sign}\frac{{{abs(value.numerator)}}}{{{value.denominator}}}"
    if type(value).__module__.startswith("sympy"):
        import sympy

        return sympy.latex(value)
    return show(value)
