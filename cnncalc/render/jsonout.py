"""The ``--json`` document: ``{"schema_version": 1, "command", "input", "result"}``.

Converts core values to JSON types without importing numpy or sympy: integers
stay integers, exact rationals become numbers when a float represents them
exactly and ``"p/q"`` strings otherwise, symbolic values become their sympy
``str()``; NaN and infinities are refused rather than written.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction
from typing import Any

SCHEMA_VERSION = 1


class NonFiniteError(ValueError):
    """A NaN or infinity reached the JSON writer (always a bug upstream)."""


def _number(value: float) -> float | int:
    if not math.isfinite(value):
        raise NonFiniteError(f"non-finite value {value!r} cannot be written as JSON")
    return value


def _rational(value: Fraction) -> int | float | str:
    if value.denominator == 1:
        return int(value.numerator)
    as_float = float(value)
    if Fraction(as_float) == value:
        return as_float
    return f"{value.numerator}/{value.denominator}"


def _sympy(value: Any) -> Any:
    if getattr(value, "is_Integer", False):
        return int(value)
    if getattr(value, "is_Rational", False):
        return _rational(Fraction(int(value.p), int(value.q)))
    if getattr(value, "is_Float", False):
        return _number(float(value))
    if getattr(value, "is_Matrix", False):
        return [[jsonable(value[i, j]) for j in range(value.cols)] for i in range(value.rows)]
    return str(value)


def jsonable(value: Any) -> Any:
    """Recursively convert a core value to plain JSON types."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, Fraction):
        return _rational(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    module = type(value).__module__ or ""
    if module.startswith("sympy"):
        return _sympy(value)
    if module.startswith("numpy"):
        return _numpy(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _numpy(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.ndarray):
        if value.dtype.kind in "fc" and not np.isfinite(value).all():
            raise NonFiniteError("non-finite values cannot be written as JSON")
        if value.dtype.kind in "biuf":
            return value.tolist()
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return jsonable(value.item())
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _default(value: Any) -> Any:
    """json's hook for the types it does not know; plain types never come here."""
    if isinstance(value, Fraction) or (type(value).__module__ or "").startswith(("sympy", "numpy")):
        return jsonable(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def document(command: str, input: dict, result: dict) -> str:
    """The one JSON document a command prints with ``--json``.

    Plain Python values go straight to json's C encoder (fast for 10^5-node
    traces); only rationals, sympy and numpy values pass through
    :func:`jsonable`. NaN and infinities are refused either way.
    """
    doc = {"schema_version": SCHEMA_VERSION, "command": command, "input": input, "result": result}
    try:
        return json.dumps(doc, allow_nan=False, ensure_ascii=False, default=_default)
    except ValueError as exc:  # json's message for NaN/inf: "Out of range float values ..."
        raise NonFiniteError(f"non-finite value cannot be written as JSON ({exc})") from None
