"""Safe parser for backprop programs: program text -> graph of stages.

User text is data, never code: nothing here calls eval, exec, compile or a
sympy parser. A tokenizer and an iterative shunting-yard parser (explicit
stacks, no recursion, so a 100,000-stage program or 1,000 nested parentheses
are fine) accept only:

* finite numeric literals (``3``, ``2.5``, ``.5``, ``1e-3``) and ASCII names;
* ``+ - * / **`` (``**`` is right-associative and binds tighter than unary
  minus, as in Python: ``-x**2 == -(x**2)``), unary minus/plus, parentheses;
* calls of a fixed set of functions with an exact number of arguments;
* statements ``name = expression`` separated by ``;`` or newlines, where the
  last statement may be a bare expression and is the output (a newline
  inside parentheses continues the statement).

Everything else is rejected with an ``InputError`` that points at the token,
as are inputs beyond the limits below (text length, nodes, nesting depth,
literal size).

Speed: a fast pass splits the text with ``str`` methods and keeps no token
positions. If it rejects the text, an exact pass (a regular-expression
tokenizer that counts tokens) parses it again to say where and why.

Graph model: every node has an integer id (its index; ids are a topological
order because operands are always created before the node that uses them), a
name, an op and a tuple of input ids. Names are the user's stage name
(``g = x + y`` names the ``add`` node ``g``), the input name, the literal text
of a constant, ``f`` for the output of a bare final expression, or an automatic
``t1``, ``t2``, ... for other subexpressions (automatic names skip every name
the user wrote). A free name is an input; repeated uses share one node.
"""

from __future__ import annotations

import itertools
import keyword
import math
import re
from collections.abc import Collection
from dataclasses import dataclass
from functools import cached_property

from cnncalc.errors import InputError

MAX_SOURCE_CHARS = 10_000_000
MAX_NODES = 1_000_000
MAX_DEPTH = 1_000
MAX_LITERAL_CHARS = 100
MAX_LITERAL_EXPONENT = 400
MAX_NAME_CHARS = 100

FUNCTIONS: dict[str, int] = {
    "exp": 1, "log": 1, "sqrt": 1, "sin": 1, "cos": 1, "tanh": 1,
    "sigmoid": 1, "relu": 1, "abs": 1, "max": 2, "min": 2,
}
"""Allowed functions and their exact number of arguments."""

INFIX: dict[str, str] = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}
"""Binary ops and the symbol used to write them."""

OUTPUT_NAME = "f"
"""Name given to the output of a bare final expression (if the user did not use it)."""

_BINARY = {"+": "add", "-": "sub", "*": "mul", "/": "div", "**": "pow"}
# Operator-stack precedence; "(" is a sentinel that no operator pops.
_PREC = {"add": 1, "sub": 1, "mul": 2, "div": 2, "neg": 3, "pow": 4, "(": -1}

_TOKEN = re.compile(
    r"[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?"  # 12  12.  12.5  1e-3
    r"|\.[0-9]+(?:[eE][+-]?[0-9]+)?"  # .5
    r"|[A-Za-z_][A-Za-z0-9_]*"  # names
    r"|\*\*|==|!=|<=|>=|//|:=|->|<<|>>"  # two-character operators
    r"|[^ \t\r\f\v]"  # any other single character, including "\n"
)
# Chunk boundaries for tokenizing: characters that never occur inside a token
# (a sign after e/E may belong to an exponent, a "*" next to "*" to "**", a "/"
# next to "/" to "//", a "-" before ">" to "->").
_BOUNDARY = re.compile(r"[;\n(), \t]|(?<!/)/(?!/)|(?<![eE])(?:\+|-(?!>))|(?<!\*)\*\*?(?!\*)")
_CHUNK = 1 << 16
# Pieces without these characters can be split with str methods.
_NOT_PLAIN = re.compile(r"[^A-Za-z0-9_.+\-*/(),;=\n \t\r]")
_NL = "$nl"  # newline token of the fast tokenizer (never an exact token)
_NUMBER = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")

_DIGITS = frozenset("0123456789")
_NAME_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_KEYWORDS = frozenset(keyword.kwlist)


@dataclass
class Graph:
    """A parsed program as parallel per-node lists (index = node id).

    ``ops[i]`` is one of ``input``, ``const``, ``add``, ``sub``, ``mul``,
    ``div``, ``pow``, ``neg``, ``identity`` (``f = x`` copies a node under a
    stage name) or a function name from ``FUNCTIONS``. ``args[i]`` holds the
    input node ids in argument order. ``literals`` and ``constants`` give the
    text and float value of ``const`` nodes; ``stages`` are the ids the user
    named with ``name = ...``; ``inputs`` are the input node ids in order of
    first appearance; ``output`` is the last statement's node. ``names[i]``
    is the node's name; automatic names are filled in on first use (a long
    program that is only evaluated never needs them).
    """

    ops: list[str]
    args: list[tuple[int, ...]]
    given_names: list[str | None]  # None where an automatic name is due
    literals: dict[int, str]
    constants: dict[int, float]
    stages: set[int]
    inputs: list[int]
    output: int
    taken: Collection[str] = ()  # names the user wrote, which automatic names avoid

    def __len__(self) -> int:
        return len(self.ops)

    @cached_property
    def names(self) -> list[str]:
        """Name of every node: the given one, else t1, t2, ... skipping taken names."""
        names = list(self.given_names)
        unnamed = [i for i, name in enumerate(names) if name is None]
        automatic = (f"t{n}" for n in itertools.count(1))
        fresh = (name for name in automatic if name not in self.taken)
        for i, name in zip(unnamed, fresh):
            names[i] = name
        return names

    def input_names(self) -> list[str]:
        """Names of the inputs, in order of first appearance."""
        return [self.given_names[i] for i in self.inputs]

    def formula(self, i: int) -> str:
        """Right-hand side of node ``i`` written with its inputs' names."""
        op, names = self.ops[i], self.names
        operands = [names[j] for j in self.args[i]]
        if op in INFIX or op == "neg":
            operands = [f"({n})" if n.startswith("-") else n for n in operands]
        if op == "input":
            return names[i]
        if op == "const":
            return self.literals[i]
        if op == "neg":
            return f"-{operands[0]}"
        if op == "identity":
            return operands[0]
        if op in INFIX:
            return f"{operands[0]} {INFIX[op]} {operands[1]}"
        return f"{op}({', '.join(operands)})"

    def describe(self, i: int) -> str:
        """``name = formula`` for a computed or named node, else just its name."""
        name = self.names[i]
        if self.ops[i] == "input" or name == self.literals.get(i):
            return name
        return f"{name} = {self.formula(i)}"


def parse(text: str, label: str = "expression") -> Graph:
    """Parse program text into a Graph; ``label`` prefixes error messages.

    Raises InputError (one line, pointing at the offending token) for anything
    outside the grammar and for inputs beyond the resource limits. A fast pass
    parses split-based tokens; if it rejects the text, a second pass over the
    exact tokenizer finds and explains the offending token.
    """
    if not isinstance(text, str):
        raise InputError(f"{label}: expected program text, got {type(text).__name__}")
    if len(text) > MAX_SOURCE_CHARS:
        raise InputError(
            f"{label}: program is {len(text):,} characters; the limit is {MAX_SOURCE_CHARS:,}"
        )
    try:
        return _Parser(text, label).run(_fast_chunks(text))
    except _Fail:
        pass
    parser = _Parser(text, label)
    return parser.run(parser.exact_chunks())


def tokens(text: str) -> list[str]:
    """The exact token list of ``text`` (whitespace other than newlines is skipped)."""
    return _TOKEN.findall(text)


def _pieces(text: str):
    """Yield ``text`` in pieces of about ``_CHUNK`` characters.

    Pieces end right after a character that cannot be inside a token, so the
    tokens of the pieces are those of the whole text; memory stays bounded.
    """
    start, size = 0, len(text)
    while start < size:
        match = _BOUNDARY.search(text, start + _CHUNK) if start + _CHUNK < size else None
        stop = match.end() if match else size
        yield text[start:stop]
        start = stop


def _fast_chunks(text: str):
    """Yield token lists for the pieces of ``text``, split with str methods when safe.

    A piece made only of the plain characters of the grammar (and without
    signed exponents such as ``1e-3``) is cut at operators with ``str.replace``
    and ``str.split``; newlines become ``_NL``. Other pieces use the exact
    tokenizer. Adjacent letters, digits and dots stay one token here (``2x``)
    where the exact tokenizer makes two; the parser rejects both forms.
    """
    for piece in _pieces(text):
        if _NOT_PLAIN.search(piece) or any(s in piece for s in ("e-", "e+", "E-", "E+")):
            yield [_NL if tok == "\n" else tok for tok in _TOKEN.findall(piece)]
            continue
        piece = piece.replace("**", "\0")
        for op in "+-*/(),;=":
            piece = piece.replace(op, f" {op} ")
        yield piece.replace("\0", " ** ").replace("\n", f" {_NL} ").split()


def _locate(text: str, k: int) -> tuple[int, int]:
    """(start, end) offsets of token number ``k``; end of text if past the last one."""
    for n, match in enumerate(_TOKEN.finditer(text)):
        if n == k:
            return match.start(), match.end()
    return len(text), len(text)


def _printable(s: str) -> str:
    """``s`` with control and other non-printable characters escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in s)


def _snippet(line: str, col: int, width: int = 60) -> str:
    """The line around 0-based ``col``, shortened to about ``width`` characters."""
    if len(line) <= width:
        return _printable(line)
    lo = max(0, min(col - width // 2, len(line) - width))
    hi = lo + width
    return ("..." if lo else "") + _printable(line[lo:hi]) + ("..." if hi < len(line) else "")


def _where(text: str, offset: int) -> str:
    """``at column C in "line"`` (with the line number for multi-line text)."""
    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", offset)
    line = text[line_start : line_end if line_end >= 0 else len(text)]
    col = offset - line_start
    if "\n" in text.strip("\n"):
        line_no = text.count("\n", 0, offset) + 1
        return f'at line {line_no}, column {col + 1} in "{_snippet(line, col)}"'
    return f'at column {col + 1} in "{_snippet(line, col)}"'


def _show(tok: str) -> str:
    """A token quoted for an error message."""
    if tok == _NL:
        return "end of line"
    return "'" + _printable(tok) + "'"


def _bad_char_reason(tok: str, prev: str | None) -> str:
    """Why a character outside the grammar is rejected."""
    if not tok.isascii():
        return f"non-ASCII character U+{ord(tok[0]):04X} is not allowed; names and operators must be ASCII"
    if not tok.isprintable():
        return "control characters are not allowed"
    if tok in "'\"":
        return "strings are not allowed"
    if tok == ".":
        after_value = prev is not None and (prev[0] in _NAME_START or prev == ")")
        return "attribute access is not allowed" if after_value else "a number needs a digit after '.'"
    if tok in "[]":
        return "subscripts and lists are not allowed"
    if tok in "{}":
        return "sets and dicts are not allowed"
    if tok in ("==", "!=", "<=", ">=", "<", ">"):
        return "comparisons are not allowed"
    if tok in (":", ":=", "->"):
        return "lambdas, slices, annotations and assignment expressions are not allowed"
    if tok == "#":
        return "comments are not supported"
    if tok == "\\":
        return "backslashes are not allowed; parentheses continue a line"
    return "supported operators are + - * / ** and parentheses"


def _keyword_reason(word: str) -> str:
    """Why a Python keyword is rejected."""
    if word in ("True", "False"):
        return "booleans are not allowed"
    if word in ("and", "or", "not", "is", "in"):
        return "boolean operators and comparisons are not allowed"
    if word == "lambda":
        return "lambda is not allowed"
    return "Python keywords are not allowed"


class _Fail(Exception):
    """A parse error before it is located in the text.

    ``k`` is the index of the token to point at, or None for the current one.
    """

    def __init__(self, head: str, reason: str = "", k: int | None = None) -> None:
        super().__init__(head)
        self.head, self.reason, self.k = head, reason, k


# Parser states: what the next token may be.
_OPERAND, _OPERATOR, _START, _PENDING, _CALL = range(5)


class _Parser:
    """Shunting-yard parser that builds the graph while it reduces operators.

    ``loop`` is the hot loop for the common tokens; the methods handle the
    rest. Errors are raised as ``_Fail``. Only the exact pass
    (``exact_chunks``) knows token positions, so only it turns them into
    InputErrors.
    """

    def __init__(self, text: str, label: str) -> None:
        self.text, self.label = text, label
        self.ops: list[str] = []
        self.args: list[tuple[int, ...]] = []
        self.names: list[str | None] = []
        self.literals: dict[int, str] = {}
        self.constants: dict[int, float] = {}
        self.stages: set[int] = set()
        self.inputs: list[int] = []
        self.scope: dict[str, int] = {}  # stage and input names -> node id
        self.operands: list[int] = []  # node ids
        self.stack: list[str] = []  # pending operators and "(" sentinels
        self.frames: list[list] = []  # per open "(": [function or None, commas, token index]
        self.k = -1  # index of the current token (exact pass only)
        self.prev: str | None = None  # the token before it (exact pass only)
        self.exact = False
        self.target: str | None = None  # stage name of the current statement
        self.statement_k = 0  # token index where the current statement starts
        self.first_node = 0  # first node id of the current statement
        self.bare: int | None = None  # token index of a finished bare statement
        self.output: int | None = None
        self.output_first_node = 0  # first node id of the output statement

    def exact_chunks(self):
        """Yield, per piece of the text, its exact tokens, recording positions.

        While a token is being parsed, ``k`` is its index in the whole text
        and ``prev`` the token before it; error messages need both.
        """
        self.exact = True
        for piece in _pieces(self.text):
            yield self.counted([_NL if tok == "\n" else tok for tok in _TOKEN.findall(piece)])
        self.k += 1

    def counted(self, toks: list[str]):
        """Yield ``toks``, keeping ``k`` and ``prev`` up to date."""
        for tok in toks:
            self.k += 1
            yield tok
            self.prev = tok

    # ------------------------------------------------------------ nodes
    def add_node(self, op: str, args: tuple[int, ...], name: str | None = None) -> int:
        """Append a node and return its id, enforcing the node limit."""
        i = len(self.ops)
        if i >= MAX_NODES:
            raise _Fail(f"the program has more than {MAX_NODES:,} nodes", "it is too large")
        self.ops.append(op)
        self.args.append(args)
        self.names.append(name)
        return i

    def constant(self, tok: str) -> int:
        """Node for a numeric literal, after checking that it is a finite decimal."""
        if not (tok.replace(".", "", 1).isdigit() or _NUMBER.fullmatch(tok)):
            raise _Fail(f"invalid number {_show(tok)}")
        if len(tok) > MAX_LITERAL_CHARS:
            raise _Fail(f"numeric literal longer than {MAX_LITERAL_CHARS} characters")
        if "e" in tok or "E" in tok:
            exponent = tok.lower().partition("e")[2]
            if abs(int(exponent)) > MAX_LITERAL_EXPONENT:
                raise _Fail(
                    f"exponent of {_show(tok)} is too large",
                    f"exponents are limited to +-{MAX_LITERAL_EXPONENT}",
                )
        value = float(tok)
        if value == math.inf:
            raise _Fail(f"number {_show(tok)} is too large", "it does not fit a 64-bit float")
        i = len(self.ops)
        self.ops.append("const")
        self.args.append(())
        self.names.append(tok)
        self.literals[i] = tok
        self.constants[i] = value
        return i

    def new_name(self, tok: str) -> None:
        """Check a name the program has not used yet and remember it."""
        if tok in _KEYWORDS:
            raise _Fail(f"unexpected {_show(tok)}", _keyword_reason(tok))
        if not (tok.isascii() and tok.isidentifier()):
            raise _Fail(f"invalid name {_show(tok)}")
        if tok.startswith("__"):
            raise _Fail(f"name {_show(tok)} is not allowed", "names may not start with '__'")
        if len(tok) > MAX_NAME_CHARS:
            raise _Fail(f"name longer than {MAX_NAME_CHARS} characters")

    def reference(self, tok: str) -> int:
        """Node for a name: the stage or input it denotes, else a new input."""
        node = self.scope.get(tok)
        if node is None:
            self.new_name(tok)
            node = self.add_node("input", (), tok)
            self.inputs.append(node)
            self.scope[tok] = node
        return node

    # ---------------------------------------------------------- reducing
    def negate(self) -> None:
        """Apply unary minus to the top operand (folding it into a fresh literal)."""
        a = self.operands[-1]
        if self.ops[a] == "const" and a == len(self.ops) - 1 and a not in self.stages:
            text = self.literals[a]
            text = text[1:] if text.startswith("-") else "-" + text
            self.literals[a] = self.names[a] = text
            self.constants[a] = -self.constants[a]
        else:
            self.operands[-1] = self.add_node("neg", (a,))

    def open_paren(self, fname: str | None) -> None:
        """Push a "(" of a call of ``fname`` or of a plain group."""
        self.frames.append([fname, 0, self.k])
        self.stack.append("(")
        if len(self.frames) > MAX_DEPTH:
            raise _Fail("parentheses nested too deeply", f"the limit is {MAX_DEPTH} levels")

    def reduce(self, p: int) -> None:
        """Apply stacked operators that bind at least as tightly as precedence ``p``.

        ``p`` is the precedence of the incoming operator; ``**`` (4) is
        right-associative so an equal ``**`` stays on the stack.
        """
        stack, operands, prec = self.stack, self.operands, _PREC
        ops, args, names = self.ops, self.args, self.names
        while stack:
            top = stack[-1]
            q = prec[top]
            if q < p or (q == p == 4):
                return
            stack.pop()
            if top == "neg":
                self.negate()
            else:
                b = operands.pop()
                a = operands[-1]
                operands[-1] = len(ops)
                ops.append(top)
                args.append((a, b))
                names.append(None)

    def close_paren(self) -> None:
        """Reduce back to the matching "(" and finish the group or call."""
        if not self.frames:
            raise _Fail("unexpected ')'", "there is no matching '('")
        self.reduce(0)
        self.stack.pop()
        fname, commas, k_name = self.frames.pop()
        if fname is not None:
            self.call(fname, commas + 1, k_name)

    def comma(self) -> None:
        """Reduce the current call argument and count it."""
        if not self.frames or self.frames[-1][0] is None:
            raise _Fail("unexpected ','", "tuples are not allowed")
        self.reduce(0)
        self.frames[-1][1] += 1

    def call(self, fname: str, argc: int, k_name: int) -> None:
        """Replace the last ``argc`` operands by a call of ``fname``."""
        arity = FUNCTIONS[fname]
        if argc != arity:
            plural = "s" if arity > 1 else ""
            raise _Fail(f"{fname}() takes exactly {arity} argument{plural}, got {argc}", k=k_name)
        operands = self.operands
        args = tuple(operands[-arity:])
        del operands[-arity:]
        operands.append(self.add_node(fname, args))

    # --------------------------------------------------------- statements
    def operand(self, tok: str) -> int:
        """Handle a token where a value is expected; return the next parser state."""
        c = tok[0]
        if c in _NAME_START:
            if tok in FUNCTIONS:
                self.open_paren(tok)
                return _CALL
            self.operands.append(self.reference(tok))
            return _OPERATOR
        if c in _DIGITS or (c == "." and len(tok) > 1):
            self.operands.append(self.constant(tok))
            return _OPERATOR
        if tok == "(":
            self.open_paren(None)
        elif tok == "-":
            self.stack.append("neg")
        elif tok == "+" or (tok == _NL and self.frames):
            pass
        else:
            raise self.operand_error(tok)
        return _OPERAND

    def end_statement(self) -> None:
        """Reduce what is left of a statement and bind its result."""
        self.reduce(0)
        if self.stack:
            raise _Fail("unclosed '('", "add the missing ')'", k=self.frames[-1][2])
        root = self.operands.pop()
        if self.target is not None:
            root = self.bind(root)
        else:
            self.bare = self.statement_k
        self.output, self.output_first_node = root, self.first_node
        self.first_node = len(self.ops)

    def bind(self, root: int) -> int:
        """Give the pending stage name to ``root`` (or to a copy of it)."""
        name = self.target
        self.target = None
        root = self.stage_node(name, root, self.first_node)
        self.names[root] = name
        self.stages.add(root)
        self.scope[name] = root
        return root

    def stage_node(self, name: str, root: int, first_node: int) -> int:
        """The node to call ``name``: ``root``, or a copy if ``root`` is older or an input.

        Raises if ``name`` is already a stage or an input.
        """
        if name in self.scope:
            if self.scope[name] in self.stages:
                reason = "stage names cannot be reassigned"
            else:
                reason = "it is already used as an input; define a stage before its first use"
            raise _Fail(f"cannot assign to {_show(name)}", reason, k=self.statement_k)
        if root < first_node or self.ops[root] == "input":
            root = self.add_node("identity", (root,))
        return root

    # ------------------------------------------------------ token errors
    def operand_error(self, tok: str) -> _Fail:
        """Error for a token where a value was expected."""
        frames = self.frames
        if tok == ")" and frames and frames[-1][0] is not None and self.prev == "(":
            fname = frames[-1][0]
            arity = FUNCTIONS[fname]
            plural = "s" if arity > 1 else ""
            return _Fail(f"{fname}() takes exactly {arity} argument{plural}, got 0", k=frames[-1][2])
        if tok in ("*", "**"):
            return _Fail(f"unexpected {_show(tok)}", "starred arguments are not allowed; expected a value")
        if tok in (_NL, ";", ")", ",", "=", "/"):
            return _Fail(f"unexpected {_show(tok)}", "expected a number, a name or '('")
        return _Fail(f"unexpected {_show(tok)}", _bad_char_reason(tok, self.prev))

    def operator_error(self, tok: str) -> _Fail:
        """Error for a token where an operator was expected."""
        c, prev = tok[0], self.prev
        if tok == "=":
            if self.frames:
                return _Fail("unexpected '='", "keyword arguments are not allowed")
            if self.k - 1 == self.statement_k and prev in self.scope:
                if self.scope[prev] in self.stages:
                    reason = "stage names cannot be reassigned"
                else:
                    reason = "it is already used as an input; define a stage before its first use"
                return _Fail(f"cannot assign to {_show(prev)}", reason, k=self.statement_k)
            return _Fail("unexpected '='", "a statement is 'name = expression' with one plain name on the left")
        if tok == "(":
            if prev is not None and prev[0] in _NAME_START:
                return _Fail(
                    f"unknown function {_show(prev)}",
                    "allowed functions are " + ", ".join(FUNCTIONS),
                    k=self.k - 1,
                )
            return _Fail("unexpected '('", "expected an operator before '('")
        if c in _NAME_START or c in _DIGITS or (c == "." and len(tok) > 1):
            if tok in _KEYWORDS:
                return _Fail(f"unexpected {_show(tok)}", _keyword_reason(tok))
            return _Fail(f"unexpected {_show(tok)}", self.adjacency_reason(tok))
        return _Fail(f"unexpected {_show(tok)}", _bad_char_reason(tok, prev))

    def uncalled(self, tok: str) -> _Fail:
        """Error for a function name that ``tok`` follows instead of "("."""
        fname, _, k_name = self.frames[-1]
        if tok == "=" and k_name == self.statement_k:
            return _Fail(f"cannot assign to {_show(fname)}", "it is a function name", k=k_name)
        return _Fail(f"function {_show(fname)} must be called", f"write {fname}(...)", k=k_name)

    def adjacency_reason(self, tok: str) -> str:
        """Explain a number or name that directly follows a value."""
        prev = self.prev
        if self.exact and prev is not None and self.k > 0:
            _, prev_end = _locate(self.text, self.k - 1)
            start, _ = _locate(self.text, self.k)
            if prev_end == start and (prev[0] in _DIGITS or prev[0] == "."):
                if tok[0] in "jJ":
                    return "complex numbers are not allowed"
                if tok[0] in "xXoObB" and prev == "0":
                    return "only decimal numbers are allowed"
                if tok[0] == "_":
                    return "underscores in numbers are not allowed"
                if tok[0] in "eE":
                    return "an exponent needs digits, as in 1e-3"
                return f"implicit multiplication is not allowed; write {prev}*{tok}"
        return "expected an operator between two values"

    def located(self, fail: _Fail) -> InputError:
        """Turn ``fail`` into an InputError pointing at its token."""
        start, _ = _locate(self.text, self.k if fail.k is None else fail.k)
        tail = f"; {fail.reason}" if fail.reason else ""
        return InputError(f"{self.label}: {fail.head} {_where(self.text, start)}{tail}")

    # ------------------------------------------------------------- result
    def graph(self) -> Graph:
        """Name the output of a bare final expression and package the Graph."""
        if self.output is None:
            raise InputError(f"{self.label}: the program is empty")
        output, names = self.output, self.names
        if self.bare is not None and output >= self.output_first_node and self.ops[output] != "input":
            names[output] = OUTPUT_NAME if OUTPUT_NAME not in self.scope else None
        return Graph(
            ops=self.ops, args=self.args, given_names=names, literals=self.literals,
            constants=self.constants, stages=self.stages, inputs=self.inputs, output=output,
            taken=self.scope.keys(),
        )

    # ---------------------------------------------------------- main loop
    def run(self, chunks) -> Graph:
        """Parse the token lists in ``chunks``; raise _Fail, or InputError if exact."""
        try:
            self.loop(chunks)
        except _Fail as fail:
            if self.exact:
                raise self.located(fail) from None
            raise
        return self.graph()

    def loop(self, chunks) -> None:
        """Feed every token through the state machine (the hot loop).

        The common cases (a known name, an operator, a stage name followed
        by "=", a function call, the end of a statement) are handled inline
        for speed; everything else goes through the methods above.
        """
        ops, names, operands, stack, frames = self.ops, self.names, self.operands, self.stack, self.frames
        args = self.args
        scope, stages = self.scope, self.stages
        binary, prec, functions, keywords, reduce = _BINARY, _PREC, FUNCTIONS, _KEYWORDS, self.reduce
        OPERAND, OPERATOR, START, PENDING, CALL = _OPERAND, _OPERATOR, _START, _PENDING, _CALL
        NL, max_name, digits = _NL, MAX_NAME_CHARS, _DIGITS
        unary = {name for name, arity in FUNCTIONS.items() if arity == 1}
        state, pending, target, first_node, bare = START, "", None, 0, None
        for toks in chunks:
            for tok in toks:
                if state == PENDING:  # a statement started with a new name
                    if tok == "=":
                        target = pending
                        state = OPERAND
                        continue
                    operands.append(self.reference(pending))
                    state = OPERATOR
                if state == OPERATOR:
                    op = binary.get(tok)
                    if op is not None:
                        p = prec[op]
                        if stack and prec[stack[-1]] >= p and p != 4:
                            reduce(p)
                        stack.append(op)
                        state = OPERAND
                    elif tok == ")":
                        frame = frames[-1] if frames else None
                        if frame and stack[-1] == "(" and frame[0] in unary and not frame[1]:
                            stack.pop()  # the common case "f(x)": no operator inside
                            frames.pop()
                            a = operands[-1]
                            operands[-1] = len(ops)
                            ops.append(frame[0])
                            args.append((a,))
                            names.append(None)
                        else:
                            self.close_paren()
                    elif tok == ";" or tok == NL:  # end of statement
                        if frames:
                            if tok == NL:
                                continue
                            raise _Fail("unclosed '('", "add the missing ')'", k=frames[-1][2])
                        reduce(0)  # no "(" is open, so this applies every stacked operator
                        root = operands.pop()
                        if target is not None:  # bind the stage name
                            if target in scope or root < first_node or ops[root] == "input":
                                root = self.stage_node(target, root, first_node)
                            names[root] = target
                            stages.add(root)
                            scope[target] = root
                            target = None
                        else:
                            bare = self.bare = self.statement_k
                        self.output, self.output_first_node = root, first_node
                        first_node = len(ops)
                        state = START
                    elif tok == ",":
                        self.comma()
                        state = OPERAND
                    else:
                        raise self.operator_error(tok)
                elif state == OPERAND:
                    node = scope.get(tok)
                    if node is not None:
                        operands.append(node)
                        state = OPERATOR
                    elif tok[0] in digits:
                        operands.append(self.constant(tok))
                        state = OPERATOR
                    elif tok in functions:
                        frames.append([tok, 0, self.k])
                        stack.append("(")
                        state = CALL
                        if len(frames) > MAX_DEPTH:
                            raise _Fail("parentheses nested too deeply", f"the limit is {MAX_DEPTH} levels")
                    else:
                        state = self.operand(tok)
                elif state == START:
                    if tok == ";" or tok == NL:
                        continue
                    if bare is not None:
                        raise _Fail(
                            "only the last statement may be a bare expression",
                            "give it a name, as in 'g = ...'",
                            k=bare,
                        )
                    self.statement_k = self.k
                    if (tok not in scope and tok not in functions and tok not in keywords
                            and tok.isidentifier() and tok.isascii() and len(tok) <= max_name
                            and (tok[0] != "_" or not tok.startswith("__"))):
                        pending = tok  # maybe a stage name: decided by the next token
                        state = PENDING
                    else:
                        state = self.operand(tok)
                elif tok == "(":  # CALL: the "(" after a function name
                    state = OPERAND
                else:
                    raise self.uncalled(tok)
            if len(ops) > MAX_NODES or len(stack) > MAX_NODES:
                raise _Fail(f"the program has more than {MAX_NODES:,} nodes", "it is too large")
        self.target = target
        self.first_node = first_node
        if state == PENDING:
            operands.append(self.reference(pending))
            state = OPERATOR
        if state == CALL:
            raise self.uncalled("")
        if state == OPERAND:
            raise _Fail("unexpected end of input", "expected a number, a name or '('")
        if state == OPERATOR:
            self.end_statement()
