"""The JSON writer: exact numbers stay exact, symbols become strings, NaN never escapes."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import pytest

from cnncalc.render.jsonout import NonFiniteError, document, jsonable


@pytest.mark.parametrize(
    "value,expected",
    [
        (3, 3),
        (Fraction(6, 2), 3),
        (Fraction(7, 2), 3.5),
        (Fraction(1, 3), "1/3"),
        (Fraction(-1, 4), -0.25),
        (2.5, 2.5),
        ((1, [2, Fraction(1, 2)]), [1, [2, 0.5]]),
    ],
)
def test_numbers(value, expected):
    out = jsonable(value)
    assert out == expected and type(out) is type(expected)


def test_sympy_values():
    import sympy

    k1, x1 = sympy.symbols("k1 x1")
    assert jsonable(k1 * x1 + 1) == "k1*x1 + 1"
    assert jsonable(sympy.Integer(4)) == 4 and type(jsonable(sympy.Integer(4))) is int
    assert jsonable(sympy.Rational(1, 3)) == "1/3"


def test_numpy_values():
    import numpy as np

    assert jsonable(np.array([[1.5, 2.0]])) == [[1.5, 2.0]]
    assert jsonable(np.int64(3)) == 3
    assert jsonable(np.array([1, 2], dtype=object)) == [1, 2]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_is_refused(bad):
    with pytest.raises(NonFiniteError):
        jsonable([1.0, bad])


def test_non_finite_numpy_is_refused():
    import numpy as np

    with pytest.raises(NonFiniteError):
        jsonable(np.array([1.0, np.nan]))


def test_document_shape():
    doc = json.loads(document("shape", {"W": [9]}, {"output": [7]}))
    assert doc == {"schema_version": 1, "command": "shape", "input": {"W": [9]}, "result": {"output": [7]}}
