"""Array literals and symbol ranges: what parse_array builds, and everything it refuses."""

from __future__ import annotations

import time
from fractions import Fraction

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from cnncalc.errors import InputError
from conftest import HANG_GUARD
from cnncalc.literals import MAX_ARRAY_ENTRIES, MAX_RANGE_SYMBOLS, ArrayValue, parse_array


def values(text: str) -> list:
    return parse_array(text, "--x").data.tolist()


# --- what literals build --------------------------------------------------


def test_integers_stay_python_ints():
    a = parse_array("[1, 2, -3]", "--x")
    assert a.kind == "exact" and a.shape == (3,) and a.data.dtype == object
    assert a.data.tolist() == [1, 2, -3]
    assert all(type(v) is int for v in a.data.tolist())


def test_nested_2d_rows_and_columns():
    a = parse_array("[[1,2,3],[4,5,6]]", "--x")
    assert a.shape == (2, 3) and a.ndim == 2 and a.size == 6
    assert a.data[1, 0] == 4


def test_decimals_and_fractions_are_exact():
    assert values("[0.25, 1/3, 1e-2, -2/4]") == [Fraction(1, 4), Fraction(1, 3), Fraction(1, 100), Fraction(-1, 2)]


def test_fraction_equal_to_an_integer_becomes_int():
    got = values("[4/2, 3.0]")
    assert got == [2, 3] and all(type(v) is int for v in got)


def test_scalar_factor_multiplies_every_entry_as_the_worksheet_writes_it():
    a = parse_array("1/4*[[1,1],[1,1]]", "--k")
    assert a.kind == "exact" and a.shape == (2, 2)
    assert a.data.tolist() == [[Fraction(1, 4)] * 2] * 2


def test_factor_that_makes_integers():
    assert values("2 * [1/2, 3]") == [1, 6]


def test_symbol_names_become_sympy_symbols():
    a = parse_array("[k1, k2, -w]", "--k")
    k1, k2, w = sympy.symbols("k1 k2 w")
    assert a.kind == "symbolic"
    assert a.data.tolist() == [k1, k2, -w]


def test_symbolic_factor():
    a = parse_array("a*[1, 1/2]", "--k")
    x = sympy.Symbol("a")
    assert a.kind == "symbolic" and a.data.tolist() == [x, x / 2]


def test_whitespace_is_free():
    assert values("  [ [ 1 ,2 ] ,\n [3,  4] ]  ") == [[1, 2], [3, 4]]


def test_range_1d():
    a = parse_array("x1:9", "--x")
    assert a.shape == (9,) and a.kind == "symbolic"
    assert [str(s) for s in a.data.tolist()] == [f"x{i}" for i in range(1, 10)]


def test_range_with_other_start():
    assert [str(s) for s in values("w3:5")] == ["w3", "w4", "w5"]


def test_range_2d_names_row_then_column():
    a = parse_array("X:3x3", "--x")
    assert a.shape == (3, 3)
    assert str(a.data[0, 0]) == "x11" and str(a.data[1, 2]) == "x23" and str(a.data[2, 2]) == "x33"


def test_range_2d_beyond_nine_uses_underscores():
    a = parse_array("X:10x2", "--x")
    assert str(a.data[9, 1]) == "x10_2" and str(a.data[0, 0]) == "x1_1"


def test_range_nd_single_extent_and_3d():
    assert [str(s) for s in values("K:3")] == ["k1", "k2", "k3"]
    a = parse_array("K:2x2x2", "--k")
    assert a.shape == (2, 2, 2) and str(a.data[1, 0, 1]) == "k212"


def test_array_value_is_frozen():
    a = parse_array("[1]", "--x")
    with pytest.raises(Exception):
        a.kind = "float"  # type: ignore[misc]


# --- what literals refuse -------------------------------------------------

REJECTED = [
    ("", "empty"),
    ("   ", "empty"),
    ("[]", "empty array"),
    ("[[]]", "empty array"),
    ("[[1,2],[3]]", "ragged"),
    ("[[1,2],[3,4,5]]", "ragged"),
    ("[1,[2]]", "ragged"),
    ("[[1],2]", "ragged"),
    ("[1,2", "not closed"),
    ("[1,2]]", "after the closing"),
    ("]", "not an array"),
    ("[1,,2]", "unexpected ','"),
    ("[,1]", "unexpected ','"),
    ("[1,2,]", "missing entry"),
    ("[1 2]", "missing ','"),
    ("[1][2]", "after the closing"),
    ("[nan]", "not allowed"),
    ("[NaN, 1]", "not allowed"),
    ("[inf]", "not allowed"),
    ("[-Infinity]", "not allowed"),
    ("[1/0]", "divides by zero"),
    ("[1e999]", "exponent"),
    ("[1,$]", "'$' at character 4"),
    ("[1+2]", "'1+2'"),
    ("[x**2]", "'x**2'"),
    ("[__import__('os')]", "not"),
    ("5", "not an array"),
    ("1,2,3", "not an array"),
    ("[[[[[1]]]]]", "deeper than 4"),
    ("x9:1", "count up"),
    ("X:0x3", "at least 1"),
    ("x1:100000000", "limited to"),
    ("X:100000x100000", "limited to"),
    ("2*", "not an array"),
]


@pytest.mark.parametrize("text, fragment", REJECTED)
def test_rejections_are_one_line_and_name_the_option(text, fragment):
    with pytest.raises(InputError) as info:
        parse_array(text, "--x")
    message = str(info.value)
    assert message.startswith("--x")
    assert "\n" not in message
    assert fragment in message


def test_error_points_at_the_character():
    with pytest.raises(InputError, match=r"character 10"):
        parse_array("[[1,2],[3]]", "--k")


def test_huge_range_is_refused_quickly_without_allocating():
    start = time.perf_counter()
    with pytest.raises(InputError, match=str(MAX_RANGE_SYMBOLS)):
        parse_array("x1:100000000", "--x")
    assert time.perf_counter() - start < HANG_GUARD


def test_largest_range_is_allowed_and_one_more_is_not():
    assert parse_array(f"x1:{MAX_RANGE_SYMBOLS}", "--x").shape == (MAX_RANGE_SYMBOLS,)
    with pytest.raises(InputError, match="limited to"):
        parse_array(f"x0:{MAX_RANGE_SYMBOLS}", "--x")


def test_literal_entry_limit():
    text = "[" + ",".join(["0"] * (MAX_ARRAY_ENTRIES + 1)) + "]"
    with pytest.raises(InputError, match=str(MAX_ARRAY_ENTRIES)):
        parse_array(text, "--x")


def test_long_value_is_shortened_in_the_message():
    text = "[" + ",".join(["1"] * 500) + ",]"
    with pytest.raises(InputError) as info:
        parse_array(text, "--x")
    assert len(str(info.value)) < 200


def test_deeply_nested_input_does_not_recurse():
    text = "[" * 100000 + "1" + "]" * 100000
    with pytest.raises(InputError, match="deeper"):
        parse_array(text, "--x")


# --- round trips ----------------------------------------------------------

entries = st.one_of(
    st.integers(-10**6, 10**6),
    st.fractions(max_denominator=50).filter(lambda f: f.denominator != 1),
    st.from_regex(r"[a-z][a-z0-9]{0,3}", fullmatch=True).filter(lambda s: s not in ("nan", "inf")),
)


def _literal(entry) -> str:
    if isinstance(entry, Fraction):
        return f"{entry.numerator}/{entry.denominator}"
    return str(entry)


def _expected(entry):
    return sympy.Symbol(entry) if isinstance(entry, str) else entry


@st.composite
def arrays(draw):
    ndim = draw(st.integers(1, 3))
    shape = draw(st.lists(st.integers(1, 4), min_size=ndim, max_size=ndim))
    count = 1
    for n in shape:
        count *= n
    flat = draw(st.lists(entries, min_size=count, max_size=count))
    return shape, flat


def _nest(flat: list, shape: list[int]) -> list:
    for extent in reversed(shape[1:]):
        flat = [flat[i : i + extent] for i in range(0, len(flat), extent)]
    return flat


def _render(nested, spaces: str) -> str:
    if isinstance(nested, list):
        return "[" + f",{spaces}".join(_render(item, spaces) for item in nested) + "]"
    return _literal(nested)


@settings(max_examples=150, deadline=None)
@given(arrays(), st.sampled_from(["", " ", "  "]))
def test_round_trip_any_rectangular_array(array, spaces):
    shape, flat = array
    parsed = parse_array(_render(_nest(flat, shape), spaces), "--x")
    assert parsed.shape == tuple(shape)
    assert parsed.data.reshape(-1).tolist() == [_expected(e) for e in flat]
    symbolic = any(isinstance(e, str) for e in flat)
    assert parsed.kind == ("symbolic" if symbolic else "exact")


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 50), st.integers(0, 50), st.from_regex(r"[a-z]{1,3}", fullmatch=True))
def test_range_round_trip(first, length, prefix):
    last = first + length
    parsed = parse_array(f"{prefix}{first}:{last}", "--x")
    assert [str(s) for s in parsed.data.tolist()] == [f"{prefix}{i}" for i in range(first, last + 1)]


@settings(max_examples=100, deadline=None)
@given(arrays())
def test_dropping_a_bracket_is_always_refused(array):
    shape, flat = array
    text = _render(_nest(flat, shape), "")
    with pytest.raises(InputError):
        parse_array(text[:-1], "--x")


def test_array_value_kinds_match_the_contract():
    assert isinstance(parse_array("[1]", "--x"), ArrayValue)
    assert parse_array("[1]", "--x").kind in ("float", "exact", "symbolic")


# --- option values: sizes, padding, numbers, name=value ---------------------------------

from cnncalc.literals import parse_assignments, parse_number, parse_padding, parse_size_list  # noqa: E402
from cnncalc.sizes import PadSpec  # noqa: E402


@pytest.mark.parametrize(
    "text,expected",
    [("9", [9]), ("3,5", [3, 5]), (" 2 , 4 ,6", [2, 4, 6]), ("W", ["W"]), ("W,3", ["W", 3]), ("-1", [-1])],
)
def test_size_lists(text, expected):
    assert parse_size_list(text, "--W") == expected


@pytest.mark.parametrize("text", ["", "3,", ",3", "3.5", "1e3", "x-1", "3;4", "__import__('os')", "٣"])
def test_size_lists_refused(text):
    with pytest.raises(InputError, match="^--W"):
        parse_size_list(text, "--W")


def test_sizes_without_names():
    with pytest.raises(InputError, match="not a whole number"):
        parse_size_list("W", "--s", allow_names=False)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("1", [PadSpec(lo=1, hi=1)]),
        ("same", [PadSpec(word="same")]),
        ("VALID", [PadSpec(word="valid")]),
        ("1:2", [PadSpec(lo=1, hi=2)]),
        ("0:1,same", [PadSpec(lo=0, hi=1), PadSpec(word="same")]),
        ("p", [PadSpec(lo="p", hi="p")]),
    ],
)
def test_padding(text, expected):
    assert parse_padding(text) == expected


@pytest.mark.parametrize("text", ["1:", ":1", "1:2:3", "1,", "same:1", "1:valid", "1.5"])
def test_padding_refused(text):
    with pytest.raises(InputError, match="^--p"):
        parse_padding(text)


@pytest.mark.parametrize(
    "text,expected",
    [("3", 3), ("-2", -2), ("0.25", Fraction(1, 4)), ("1/4", Fraction(1, 4)), ("-3/6", Fraction(-1, 2)),
     ("1e-3", Fraction(1, 1000)), ("2.0", 2), (".5", Fraction(1, 2))],
)
def test_numbers_are_exact(text, expected):
    value = parse_number(text, "--at")
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize("text", ["", "abc", "1/0", "nan", "inf", "1e999", "1_000", "0x10", "1j", "1//2"])
def test_numbers_refused(text):
    with pytest.raises(InputError):
        parse_number(text, "--at")


def test_assignments():
    assert parse_assignments(["x=-2,y=5", "z=1/4"], "--at") == {"x": -2, "y": 5, "z": Fraction(1, 4)}


@pytest.mark.parametrize("texts,match", [(["x"], "not name=value"), (["x=1,x=2"], "twice"), (["1x=2"], "not name=value"),
                                          (["x="], "not name=value"), (["x=y"], "not a number")])
def test_assignments_refused(texts, match):
    with pytest.raises(InputError, match=match):
        parse_assignments(texts, "--at")
