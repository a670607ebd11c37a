"""Arrays from files and stdin, results to files: the only module besides the CLI that touches files.

What ``--x``/``--k`` accept (:func:`read_array`):

* ``-``: stdin, holding an array literal (a JSON array of numbers is one), or CSV text;
* a path ending in ``.npy`` (read with ``allow_pickle=False``), ``.csv`` or ``.txt``
  (plain decimal numbers such as ``-2.5e3`` — no ``_``, hex, ``nan``/``inf`` or
  non-ASCII digits — separated by commas and/or whitespace, one row per line;
  blank lines and lines starting with ``#`` are skipped);
* anything else: an array literal or symbol range (:func:`cnncalc.literals.parse_array`).

Files hold numbers only and always give float64 data (kind ``"float"``). A CSV/TXT
file with one row, or one column, is a 1D array; otherwise it is 2D (rows × columns).
Stdin literals keep the literal rules (exact numbers, symbols). Every problem is an
:class:`~cnncalc.errors.InputError` with a one-line message naming the option and file.
"""

from __future__ import annotations

import os
import re
from typing import IO, Any

from cnncalc.errors import InputError
from cnncalc.literals import MAX_ARRAY_DIMS, ArrayValue, parse_array

#: File types ``--x``/``--k`` read, and ``--out`` writes (no .txt output).
READ_SUFFIXES = (".npy", ".csv", ".txt")
WRITE_SUFFIXES = (".npy", ".csv")
#: Largest float array a file may hold (2^28 entries = 2 GiB of float64).
MAX_FILE_ENTRIES = 1 << 28
#: Largest text (CSV/TXT/stdin) read, in bytes.
MAX_TEXT_BYTES = 1 << 30

_FLOAT_TOKEN = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\Z")
_SEPARATORS = re.compile(r"[,\s]+")
#: A character no plain decimal number (or separator) contains: float() accepts '1_000', 'nan', '١٢', …; files do not.
_NON_DECIMAL = re.compile(r"[^0-9eE+\-.,\s]")
_NOT_BRACKET = re.compile(r"[^\[\]]+")
_LITERAL_START = re.compile(r"\s*(\[|[^\[\]*]+\*\s*\[|[A-Za-z_][A-Za-z0-9_]*:)")


def suffix(path: str) -> str:
    """The lower-case file extension (``.npy``), or ``""``."""
    return os.path.splitext(path)[1].lower()


def read_array(text: str, option: str, stdin: IO[str] | None = None) -> ArrayValue:
    """An array from ``-`` (stdin), a ``.npy``/``.csv``/``.txt`` file, or a literal/range."""
    t = text.strip()
    if t == "-":
        if stdin is None:
            raise InputError(f"{option} -: no standard input is available")
        return read_stdin(stdin, option)
    if suffix(t) in READ_SUFFIXES:
        return read_file(t, option)
    if t and not _LITERAL_START.match(t) and os.path.isfile(t):
        raise InputError(
            f"{option} {t!r}: unsupported file type {suffix(t) or '(no extension)'}; use .npy, .csv or .txt"
        )
    return parse_array(text, option)


def read_file(path: str, option: str) -> ArrayValue:
    """A float64 array from a ``.npy``, ``.csv`` or ``.txt`` file."""
    kind = suffix(path)
    if kind not in READ_SUFFIXES:
        raise InputError(f"{option} {path!r}: unsupported file type {kind or '(no extension)'}; use .npy, .csv or .txt")
    if kind == ".npy":
        return _read_npy(path, option)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_TEXT_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{option} {path!r}: cannot read the file ({_reason(exc)})") from None
    if len(raw) > MAX_TEXT_BYTES:
        raise InputError(f"{option} {path!r} is larger than {MAX_TEXT_BYTES} bytes; use a .npy file")
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{option} {path!r} is not a text file (not UTF-8); {kind} files hold numbers as text") from None
    return parse_table(content, f"{option} {path!r}")


def read_stdin(stream: IO[str], option: str) -> ArrayValue:
    """Stdin holding an array literal, a JSON array of numbers, or CSV text."""
    try:
        content = stream.read(MAX_TEXT_BYTES + 1)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{option} -: cannot read standard input ({exc})") from None
    if len(content) > MAX_TEXT_BYTES:
        raise InputError(f"{option} -: standard input is larger than {MAX_TEXT_BYTES} bytes; use a .npy file")
    if not content.strip():
        raise InputError(f"{option} -: standard input is empty; expected an array literal, a JSON array or CSV")
    if _LITERAL_START.match(content):
        _refuse_json_non_numbers(content, option)
        return parse_array(content.strip(), f"{option} -")
    return parse_table(content, f"{option} -")


def _refuse_json_non_numbers(content: str, option: str) -> None:
    """JSON arrays are literals; strings, booleans and null in them are refused, not read as names.

    Nesting deeper than the literal rules allow (``MAX_ARRAY_DIMS``) is refused
    before ``json.loads`` runs, so a deep document cannot exhaust the recursion limit.
    """
    import json

    if _nesting_exceeds(content, MAX_ARRAY_DIMS):
        raise InputError(
            f"{option} -: the array nests deeper than {MAX_ARRAY_DIMS} levels; "
            f"arrays have at most {MAX_ARRAY_DIMS} dimensions"
        )
    try:
        document = json.loads(content)
    except (ValueError, RecursionError):
        return  # not JSON (or unbalanced): the literal parser explains what is wrong
    stack = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, bool) or not isinstance(item, (int, float)):
            raise InputError(f"{option} -: the JSON array holds {json.dumps(item)}; only numbers are allowed")


def _nesting_exceeds(content: str, limit: int) -> bool:
    """True when some '[' … ']' pair sits inside ``limit`` others, counted without recursion.

    Each pass deletes every innermost ``[]`` of the brackets-only text, which
    lowers the depth of every remaining pair by one; a pair left after ``limit``
    passes was nested more than ``limit`` deep.
    """
    if content.count("[") <= limit:
        return False
    brackets = _NOT_BRACKET.sub("", content)
    for _ in range(limit):
        brackets = brackets.replace("[]", "")
    return "[]" in brackets


def parse_table(content: str, where: str) -> ArrayValue:
    """Numbers separated by commas/whitespace, one row per line, as float64 (1D for one row or column)."""
    import numpy as np

    rows: list[list[str]] = []
    line_numbers: list[int] = []
    width = None
    suspect = False  # a line holds a character no plain decimal number has
    for number, line in enumerate(content.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not suspect and _NON_DECIMAL.search(stripped):
            suspect = True
        tokens = [t for t in _SEPARATORS.split(stripped) if t]
        if width is None:
            width = len(tokens)
        elif len(tokens) != width:
            raise InputError(f"{where}: line {number} has {len(tokens)} numbers but earlier lines have {width} (ragged)")
        rows.append(tokens)
        line_numbers.append(number)
    if not rows or not width:
        raise InputError(f"{where} holds no numbers (empty array)")
    if len(rows) * width > MAX_FILE_ENTRIES:
        raise InputError(f"{where} holds {len(rows) * width} numbers; the limit is {MAX_FILE_ENTRIES}")
    flat = [t for row in rows for t in row]
    try:
        data = np.array(flat, dtype=np.float64)
    except ValueError:
        data = None
    bad = _first_bad(rows, line_numbers) if data is None else None
    if bad is not None:
        number, token = bad
        raise InputError(f"{where}: line {number} has {token!r}, which is not a number; files hold numbers only")
    assert data is not None
    _require_finite(data, where)
    if suspect:  # float() also reads '1_000', '١٢' and the like; plain decimals only here
        bad = _first_bad(rows, line_numbers)
        if bad is not None:
            number, token = bad
            raise InputError(
                f"{where}: line {number} has {token!r}, which is not a plain decimal number "
                "(digits with optional sign, '.' and exponent, like -2.5e3; no '_', hex or other scripts' digits)"
            )
    shape = (len(rows), width)
    if len(rows) == 1 or width == 1:
        shape = (len(rows) * width,)
    data = data.reshape(shape)
    return ArrayValue(data, "float", shape)


def _first_bad(rows: list[list[str]], line_numbers: list[int]) -> tuple[int, str] | None:
    for row, number in zip(rows, line_numbers):
        for token in row:
            if not _FLOAT_TOKEN.match(token):
                return number, token
    return (line_numbers[0], rows[0][0]) if rows else None


def _read_npy(path: str, option: str) -> ArrayValue:
    import numpy as np

    try:
        with open(path, "rb") as handle:
            magic = handle.read(6)
        if magic != b"\x93NUMPY":
            raise InputError(f"{option} {path!r} cannot be loaded: it is not a valid .npy file (no NumPy header)")
        data = np.load(path, allow_pickle=False)
    except OSError as exc:
        raise InputError(f"{option} {path!r}: cannot read the file ({_reason(exc)})") from None
    except ValueError as exc:
        detail = "it holds Python objects" if "pickle" in str(exc) else "it is not a valid .npy file"
        raise InputError(f"{option} {path!r} cannot be loaded: {detail}; save numbers with numpy.save") from None
    except InputError:
        raise
    except Exception:  # numpy raises several kinds for corrupt headers
        raise InputError(f"{option} {path!r} cannot be loaded: it is not a valid .npy file") from None
    where = f"{option} {path!r}"
    if data.dtype.kind not in "iuf":
        raise InputError(f"{where} holds {data.dtype} values; files must hold integers or floats")
    if data.ndim == 0:
        raise InputError(f"{where} holds a single number; expected an array")
    if data.size == 0:
        raise InputError(f"{where} is an empty array (shape {data.shape})")
    if data.size > MAX_FILE_ENTRIES:
        raise InputError(f"{where} holds {data.size} numbers; the limit is {MAX_FILE_ENTRIES}")
    data = np.ascontiguousarray(data, dtype=np.float64)
    _require_finite(data, where)
    return ArrayValue(data, "float", tuple(data.shape))


def _require_finite(data: Any, where: str) -> None:
    import numpy as np

    finite = np.isfinite(data)
    if not finite.all():
        position = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise InputError(f"{where} contains NaN or infinity (first at index {position}); only finite numbers are allowed")


def _reason(exc: OSError) -> str:
    return (exc.strerror or type(exc).__name__).lower()


#: Longest program or layer spec read from a file or stdin (the parsers apply their own limits).
MAX_TEXT_CHARS = 10_000_000


def read_text(text: str, option: str, stdin: IO[str]) -> str:
    """``@FILE`` reads the text from a file, ``@-`` from stdin; anything else is the text itself.

    Reads at most MAX_TEXT_CHARS and refuses anything longer rather than cutting it short.
    """
    if not text.startswith("@"):
        return text
    path = text[1:]
    try:
        if path == "-":
            content = stdin.read(MAX_TEXT_CHARS + 1)
        else:
            with open(path, encoding="utf-8") as handle:
                content = handle.read(MAX_TEXT_CHARS + 1)
    except OSError as exc:
        raise InputError(f"{option} {text}: cannot read {path!r} ({_reason(exc)})") from None
    except UnicodeDecodeError:
        raise InputError(f"{option} {text}: cannot read {path!r} (not UTF-8 text)") from None
    if len(content) > MAX_TEXT_CHARS:
        raise InputError(f"{option} {text}: longer than {MAX_TEXT_CHARS:,} characters")
    return content


# ---------------------------------------------------------------------------
# Writing


def check_output_path(path: str, option: str = "--out") -> None:
    """Refuse an unsupported extension or a missing directory before any work is done."""
    kind = suffix(path)
    if kind not in WRITE_SUFFIXES:
        raise InputError(f"{option} {path!r}: unsupported file type {kind or '(no extension)'}; use .npy or .csv")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InputError(f"{option} {path!r}: the directory {folder!r} does not exist")
    if os.path.isdir(path):
        raise InputError(f"{option} {path!r} is a directory")


def write_array(path: str, data: Any, option: str = "--out") -> None:
    """Write a numeric result as ``.npy`` (float64 for exact data) or ``.csv`` (at most 2D, full precision)."""
    import numpy as np

    check_output_path(path, option)
    if data.dtype == object:
        try:
            data = np.array([float(v) for v in data.reshape(-1).tolist()], dtype=np.float64).reshape(data.shape)
        except (TypeError, ValueError, OverflowError):
            raise InputError(
                f"{option} {path!r}: symbolic results cannot be written to a numeric file; use --json"
            ) from None
    try:
        if suffix(path) == ".npy":
            with open(path, "wb") as handle:
                np.save(handle, data, allow_pickle=False)
        else:
            if data.ndim > 2:
                raise InputError(f"{option} {path!r}: CSV holds at most 2 dimensions, the result is {data.ndim}D; use .npy")
            np.savetxt(path, data.reshape(1, -1) if data.ndim == 1 else data, delimiter=",", fmt="%.17g")
    except OSError as exc:
        raise InputError(f"{option} {path!r}: cannot write the file ({_reason(exc)})") from None
