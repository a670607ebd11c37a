"""The safe program parser: the graph it builds, everything it refuses, and its limits."""

from __future__ import annotations

import builtins

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cnncalc import expr
from cnncalc.errors import InputError
from cnncalc.expr import FUNCTIONS, Graph, parse

SYMBOL = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}


def spelled(g: Graph, i: int | None = None) -> str:
    """The node's expression fully parenthesised, built bottom-up from the graph."""
    text: list[str] = []
    for k, op in enumerate(g.ops):
        a = [text[j] for j in g.args[k]]
        if op in ("input", "const"):
            text.append(g.names[k] if op == "input" else g.literals[k])
        elif op in SYMBOL:
            text.append(f"({a[0]} {SYMBOL[op]} {a[1]})")
        elif op == "neg":
            text.append(f"(-{a[0]})")
        elif op == "identity":
            text.append(a[0])
        else:
            text.append(f"{op}({', '.join(a)})")
    return text[g.output if i is None else i]


def rejection(text: str) -> str:
    with pytest.raises(InputError) as info:
        parse(text)
    return str(info.value)


# --- the graph ----------------------------------------------------------------


def test_worksheet_program_keeps_stage_names():
    g = parse("g = x + y; f = g * z")
    assert g.input_names() == ["x", "y", "z"]
    by_name = {g.names[i]: i for i in range(len(g))}
    assert g.ops[by_name["g"]] == "add" and g.args[by_name["g"]] == (by_name["x"], by_name["y"])
    assert g.ops[by_name["f"]] == "mul" and g.args[by_name["f"]] == (by_name["g"], by_name["z"])
    assert g.output == by_name["f"]
    assert g.stages == {by_name["g"], by_name["f"]}
    assert g.describe(by_name["g"]) == "g = x + y"


def test_bare_expression_names_subexpressions_t1_and_the_output_f():
    g = parse("(x+y)*z")
    assert [g.describe(i) for i in range(len(g))] == ["x", "y", "t1 = x + y", "z", "f = t1 * z"]
    assert g.stages == set()


def test_automatic_names_avoid_every_name_the_user_wrote():
    g = parse("t1 = x * 2\nf2 = (t1 + t2) * 3\n(f + f2) * t3")
    names = g.names
    assert len(set(names) - {"2", "3"}) == len(names) - 2  # no duplicates besides literals
    assert names[g.output] not in ("f", "t1", "t2", "t3")
    assert "t4" in names


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-x**2", "(-(x ** 2))"),
        ("2**3**2", "(2 ** (3 ** 2))"),
        ("a - b - c", "((a - b) - c)"),
        ("a / b * c", "((a / b) * c)"),
        ("a + b * c", "(a + (b * c))"),
        ("2**-x", "(2 ** (-x))"),
        ("2**-x*3", "((2 ** (-x)) * 3)"),
        ("-2**2", "(-(2 ** 2))"),
        ("(-2)**2", "(-2 ** 2)"),
        ("+x - -y", "(x - (-y))"),
        ("--x", "(-(-x))"),
        ("-(-3)", "3"),
        ("max(a, -b) * exp(-c)", "(max(a, (-b)) * exp((-c)))"),
        ("sigmoid(relu(abs(x)))", "sigmoid(relu(abs(x)))"),
        ("a*(b+c)**2/d", "((a * ((b + c) ** 2)) / d)"),
    ],
)
def test_precedence_and_associativity_follow_python(text, expected):
    assert spelled(parse(text)) == expected


def test_negative_literal_is_one_constant_but_a_negated_stage_is_not():
    g = parse("a = -2.5; f = -a")
    a = g.names.index("a")
    assert g.ops[a] == "const" and g.constants[a] == -2.5 and g.literals[a] == "-2.5"
    assert g.ops[g.output] == "neg" and g.args[g.output] == (a,)


def test_repeated_names_share_one_node():
    g = parse("g = x + y; f = g * g + x")
    assert g.input_names() == ["x", "y"]
    mul = next(i for i, op in enumerate(g.ops) if op == "mul")
    assert g.args[mul][0] == g.args[mul][1] == g.names.index("g")
    assert g.names.count("x") == 1


def test_x_minus_x_keeps_both_uses():
    g = parse("x - x")
    assert g.ops == ["input", "sub"] and g.args[1] == (0, 0)


def test_inputs_in_order_of_first_appearance():
    assert parse("b*a + c - a*b").input_names() == ["b", "a", "c"]


def test_copying_a_node_under_a_stage_name():
    g = parse("g = x; f = g")
    assert [g.ops[i] for i in range(len(g))] == ["input", "identity", "identity"]
    assert g.names == ["x", "g", "f"]


def test_bare_name_as_last_statement_is_that_node():
    g = parse("g = x * 2\ng")
    assert g.names[g.output] == "g"


def test_separators_blank_lines_tabs_and_crlf():
    g = parse("\n\ng\t=\tx + 1;;\r\n\r\nh = g * 2;\n")
    assert spelled(g) == "((x + 1) * 2)" and g.names[g.output] == "h"


def test_newlines_inside_parentheses_continue_the_statement():
    g = parse("f = (x +\n y) * max(\n a,\n b)")
    assert spelled(g) == "((x + y) * max(a, b))"


@pytest.mark.parametrize(
    ("literal", "value"),
    [("3", 3.0), ("2.5", 2.5), (".5", 0.5), ("5.", 5.0), ("1e-3", 0.001), ("1E+2", 100.0), ("007", 7.0)],
)
def test_numeric_literals(literal, value):
    g = parse(f"x * {literal}")
    const = g.ops.index("const")
    assert g.constants[const] == value and g.literals[const] == literal


def test_every_function_with_its_arity():
    for name, arity in FUNCTIONS.items():
        g = parse(f"{name}({', '.join('xyz'[:arity])})")
        assert g.ops[g.output] == name and len(g.args[g.output]) == arity


def test_exponent_notation_with_signs_parses_the_same_in_big_programs():
    # pieces with "e-" take the exact tokenizer, the others the fast one
    lines = [f"a{i} = x * 1e-{i % 5 + 1}" if i % 3 else f"a{i} = x * {i}" for i in range(6000)]
    g = parse("\n".join(lines))
    assert len(g.stages) == 6000
    assert g.constants[g.args[g.names.index("a4")][1]] == 1e-5


# --- what is refused ------------------------------------------------------------


CANARY_PAYLOADS = [
    "__import__('os').system('touch {canary}')",
    "__import__(\"os\").system(\"touch {canary}\")",
    "exec(\"open('{canary}', 'w')\")",
    "eval(\"open('{canary}', 'w')\")",
    "open('{canary}', 'w')",
    "x = __builtins__",
    "().__class__.__bases__[0].__subclasses__()",
    "x.__class__",
    "lambda: open('{canary}', 'w')",
    "[open('{canary}', 'w') for x in y]",
    "f(x=1)",
    "f(*a)",
    "exp(*a)",
    "max(a=1, b=2)",
    "x[0]",
    "\"s\"",
    "'s'",
    "b\"s\"",
    "True",
    "None",
    "1j",
    "2 + 3J",
    "x if y else z",
    "x and y",
    "not x",
    "x == y",
    "x < y",
    "x % 2",
    "x // 2",
    "x @ y",
    "~x",
    "x := 3",
    "{x}",
    "x; import os",
    "ｅｘｐ(x)",
    "e\u0301xp(x)",
    "x\u00a0+ 1",
    "x + 1 # comment",
    "\x1b[31mx",
    "sin.__globals__",
    "getattr(x, 'y')",
    "sin",
    "exp = 3",
    "f = sin; f(x)",
    "0x1f",
    "1_000",
    "1e",
    "1.2.3",
    "2x",
]


@pytest.mark.parametrize("payload", CANARY_PAYLOADS)
def test_injection_payloads_are_rejected_and_do_nothing(payload, tmp_path, monkeypatch):
    canary = tmp_path / "CANARY"
    text = payload.replace("{canary}", str(canary))
    for name in ("eval", "exec", "compile", "__import__"):  # any call would now fail loudly
        monkeypatch.setattr(builtins, name, _forbidden(name))
    with pytest.raises(InputError) as info:
        parse(text)
    monkeypatch.undo()
    message = str(info.value)
    assert "\n" not in message and message.startswith("expression: ")
    assert "column" in message or "empty" in message
    assert not canary.exists()


def _forbidden(name):
    def refuse(*args, **kwargs):
        raise AssertionError(f"{name} was called")

    return refuse


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("x.__class__", ["unexpected '.' at column 2", 'in "x.__class__"', "attribute access is not allowed"]),
        ("ｅｘｐ(x)", ["U+FF45", "column 1", "ASCII"]),
        ("1j", ["complex numbers are not allowed", "column 2"]),
        ("x[0]", ["'['", "subscripts"]),
        ("'s'", ["strings are not allowed"]),
        ("True", ["booleans are not allowed"]),
        ("lambda: 1", ["lambda is not allowed"]),
        ("foo(x)", ["unknown function 'foo'", "allowed functions are exp"]),
        ("max(x)", ["max() takes exactly 2 arguments, got 1"]),
        ("max(x, y, z)", ["max() takes exactly 2 arguments, got 3"]),
        ("exp(x, y)", ["exp() takes exactly 1 argument, got 2"]),
        ("exp()", ["exp() takes exactly 1 argument, got 0"]),
        ("exp + 1", ["function 'exp' must be called"]),
        ("exp = 3", ["cannot assign to 'exp'", "function name"]),
        ("g = x; g = y", ["cannot assign to 'g'", "column 8", "cannot be reassigned"]),
        ("f = x * 2; x = 3", ["cannot assign to 'x'", "already used as an input"]),
        ("x = x + 1", ["cannot assign to 'x'"]),
        ("x + 1; y = 2", ["only the last statement may be a bare expression", "column 1"]),
        ("x +", ["unexpected end of input"]),
        ("(x + 1", ["unclosed '('", "column 1"]),
        ("x + 1)", ["unexpected ')'", "no matching '('"]),
        ("x y", ["unexpected 'y'", "expected an operator"]),
        ("2x", ["implicit multiplication"]),
        ("a, b", ["tuples are not allowed"]),
        ("max(a=1, b)", ["keyword arguments are not allowed"]),
        ("exp(*a)", ["starred arguments"]),
        ("x == 1", ["comparisons are not allowed"]),
        ("a = 1\nb = 2 +\nc = 3", ["line 2, column 8", "end of line"]),
        ("__a = 1", ["names may not start with '__'"]),
        ("x\x1b", ["control characters", "\\x1b"]),
    ],
)
def test_error_messages_point_at_the_token_and_say_why(text, fragments):
    message = rejection(text)
    assert "\n" not in message and "\x1b" not in message
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize("text", ["", "   ", ";", "\n\n;\n", "\t; ;"])
def test_empty_program(text):
    assert "empty" in rejection(text)


def test_label_prefixes_messages():
    with pytest.raises(InputError, match=r"^--file prog\.txt: unexpected"):
        parse("x $ y", label="--file prog.txt")


def test_long_lines_are_shortened_around_the_error():
    message = rejection("x + " * 200 + "$")
    assert "..." in message and len(message) < 250


# --- limits ---------------------------------------------------------------------


def test_numeric_literal_limits():
    assert "exponent" in rejection("1e401")
    assert "too large" in rejection("1e400")
    assert "longer than" in rejection("1" * 101)
    assert parse("1e308").constants[0] == 1e308
    assert parse("1e-400").constants[0] == 0.0


def test_source_length_limit(monkeypatch):
    monkeypatch.setattr(expr, "MAX_SOURCE_CHARS", 50)
    assert "limit" in rejection("x + " * 20)
    parse("x + 1")


def test_node_limit(monkeypatch):
    monkeypatch.setattr(expr, "MAX_NODES", 100)
    assert "more than 100 nodes" in rejection("x" + " + x" * 200)
    assert "more than 100 nodes" in rejection("\n".join(f"a{i} = {i}" for i in range(300)))
    parse("x" + " + x" * 50)


def test_name_length_limit():
    assert "longer than" in rejection("a" * 101 + " + 1")


def test_nine_hundred_nested_parentheses_parse():
    g = parse("(" * 900 + "x" + " + 1)" * 900)
    assert len(g) == 1 + 2 * 900 and g.ops[g.output] == "add"


def test_nested_calls_up_to_the_depth_limit():
    g = parse("sin(" * 900 + "x" + ")" * 900)
    assert len(g) == 901


def test_five_thousand_nested_parentheses_are_refused_cleanly():
    message = rejection("(" * 5000 + "x" + ")" * 5000)
    assert "nested too deeply" in message and str(expr.MAX_DEPTH) in message


def test_long_unary_and_power_chains_need_no_recursion():
    assert parse("-" * 100_000 + "x").ops.count("neg") == 100_000
    assert parse("**".join(["x"] * 50_000)).ops.count("pow") == 49_999


def test_hundred_thousand_stages():
    lines = [f"t{i} = sin(t{i - 1}) + t{i - 1}" if i % 2 else f"t{i} = t{i - 1} * 1.0001" for i in range(1, 100_001)]
    g = parse("t0 = x\n" + "\n".join(lines))
    assert len(g.stages) == 100_001
    assert g.names[g.output] == "t100000"
    assert g.ops.count("sin") == 50_000


# --- the fast tokenizer agrees with the exact one --------------------------------

_ALPHABET = st.sampled_from(
    ["x", "y", "g", "t1", "f", "2", "0.5", "1e-3", "2E+1", "1e", "+", "-", "*", "**", "/", "(", ")", ",", ";",
     "\n", "=", " ", "\t", "exp", "max", ".", "$", "2x", "__a", "=="]
)


def _exact(text: str) -> Graph | InputError:
    parser = expr._Parser(text, "expression")
    try:
        return parser.run(parser.exact_chunks())
    except InputError as err:
        return err


@settings(max_examples=400, deadline=None)
@given(st.lists(_ALPHABET, max_size=25), st.integers(1, 12))
@example(["x", "/", "/"], 1)  # a piece boundary once split "//" into "/" "/"
@example(["x", "-", ">", "y"], 1)
def test_fast_and_exact_passes_agree_for_any_chunking(pieces, chunk):
    text = "".join(pieces)
    reference = _exact(text)  # one piece: the text is shorter than _CHUNK
    saved, expr._CHUNK = expr._CHUNK, chunk  # now cut the text into many small pieces
    try:
        if isinstance(reference, InputError):
            with pytest.raises(InputError) as again:
                parse(text)
            assert str(again.value) == str(reference)
            assert str(_exact(text)) == str(reference)
            return
        graph = expr._Parser(text, "expression").run(expr._fast_chunks(text))  # must not fail
        again = _exact(text)
    finally:
        expr._CHUNK = saved
    for other in (graph, again):
        assert (other.ops, other.args, other.names, other.output) == (
            reference.ops, reference.args, reference.names, reference.output
        )
