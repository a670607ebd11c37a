"""Reading arrays from .npy/.csv/.txt files and stdin, and writing results with --out."""

from __future__ import annotations

import io
import os
from fractions import Fraction

import numpy as np
import pytest

from cnncalc import io as cio
from cnncalc.errors import InputError


def one_line_error(call, *args, match: str) -> str:
    with pytest.raises(InputError) as info:
        call(*args)
    message = str(info.value)
    assert "\n" not in message
    assert match in message, message
    return message


# --- .npy -------------------------------------------------------------------


def test_npy_float_round_trip(tmp_path):
    data = np.arange(12, dtype=np.float64).reshape(3, 4) / 7
    path = tmp_path / "x.npy"
    np.save(path, data)
    got = cio.read_array(str(path), "--x")
    assert got.kind == "float" and got.shape == (3, 4) and got.data.dtype == np.float64
    assert np.array_equal(got.data, data)


def test_npy_integers_become_float64(tmp_path):
    path = tmp_path / "k.npy"
    np.save(path, np.array([[1, 2], [3, 4]], dtype=np.int32))
    got = cio.read_file(str(path), "--k")
    assert got.data.dtype == np.float64 and got.data.tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_npy_upper_case_extension(tmp_path):
    path = tmp_path / "X.NPY"
    with open(path, "wb") as handle:
        np.save(handle, np.ones(3))
    assert cio.read_array(str(path), "--x").shape == (3,)


def test_npy_with_nan_is_refused(tmp_path):
    path = tmp_path / "bad.npy"
    np.save(path, np.array([1.0, np.nan, 3.0]))
    message = one_line_error(cio.read_array, str(path), "--x", match="NaN or infinity")
    assert "--x" in message and "bad.npy" in message and "(1,)" in message


def test_npy_with_inf_is_refused(tmp_path):
    path = tmp_path / "bad.npy"
    np.save(path, np.array([[1.0, 2.0], [np.inf, 3.0]]))
    one_line_error(cio.read_array, str(path), "--k", match="NaN or infinity")


def test_npy_pickled_objects_are_refused(tmp_path):
    path = tmp_path / "obj.npy"
    np.save(path, np.array([1, "a"], dtype=object), allow_pickle=True)
    one_line_error(cio.read_array, str(path), "--x", match="Python objects")


def test_npy_strings_are_refused(tmp_path):
    path = tmp_path / "s.npy"
    np.save(path, np.array(["a", "b"]))
    one_line_error(cio.read_array, str(path), "--x", match="integers or floats")


def test_npy_corrupt_file(tmp_path):
    path = tmp_path / "broken.npy"
    path.write_bytes(b"this is not numpy")
    one_line_error(cio.read_array, str(path), "--x", match="not a valid .npy")


def test_npy_empty_and_scalar(tmp_path):
    empty, scalar = tmp_path / "e.npy", tmp_path / "s.npy"
    np.save(empty, np.zeros((0, 3)))
    np.save(scalar, np.float64(2.0))
    one_line_error(cio.read_array, str(empty), "--x", match="empty")
    one_line_error(cio.read_array, str(scalar), "--x", match="single number")


def test_missing_file(tmp_path):
    message = one_line_error(cio.read_array, str(tmp_path / "nope.npy"), "--x", match="cannot read")
    assert "no such file" in message


def test_unreadable_file(tmp_path):
    path = tmp_path / "locked.csv"
    path.write_text("1,2\n")
    os.chmod(path, 0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as a user who can read anything")
        one_line_error(cio.read_array, str(path), "--x", match="cannot read")
    finally:
        os.chmod(path, 0o644)


def test_directory_is_not_a_file(tmp_path):
    folder = tmp_path / "dir.csv"
    folder.mkdir()
    one_line_error(cio.read_array, str(folder), "--x", match="cannot read")


def test_wrong_extension_of_an_existing_file(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(b"\x00\x01")
    one_line_error(cio.read_array, str(path), "--x", match="unsupported file type .bin")


# --- .csv / .txt ------------------------------------------------------------


def test_csv_2d(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("1,2,3\n4,5,6\n")
    got = cio.read_array(str(path), "--x")
    assert got.kind == "float" and got.shape == (2, 3) and got.data[1, 2] == 6.0


def test_txt_whitespace_and_commas_comments_and_blank_lines(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("# an image\n1 2\t3\n\n4, 5 ,6\n")
    assert cio.read_array(str(path), "--x").data.tolist() == [[1, 2, 3], [4, 5, 6]]


def test_single_row_or_column_is_1d(tmp_path):
    row, column = tmp_path / "r.csv", tmp_path / "c.csv"
    row.write_text("1,2,3\n")
    column.write_text("1\n2\n3\n")
    assert cio.read_array(str(row), "--x").shape == (3,)
    assert cio.read_array(str(column), "--x").shape == (3,)


def test_csv_scientific_and_negative(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("-1.5e2, .5, +3\n")
    assert cio.read_array(str(path), "--x").data.tolist() == [-150.0, 0.5, 3.0]


def test_csv_non_numeric_names_the_line_and_token(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("1,2\n3,abc\n")
    message = one_line_error(cio.read_array, str(path), "--x", match="'abc'")
    assert "line 2" in message and "numbers only" in message


def test_csv_header_is_refused(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    one_line_error(cio.read_array, str(path), "--x", match="line 1")


def test_csv_ragged(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("1,2,3\n4,5\n")
    one_line_error(cio.read_array, str(path), "--x", match="ragged")


def test_csv_empty(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("\n# nothing\n")
    one_line_error(cio.read_array, str(path), "--x", match="empty")


def test_csv_nan_and_inf(tmp_path):
    for text in ("1,nan\n", "inf,2\n", "1,-Infinity\n"):
        path = tmp_path / "x.csv"
        path.write_text(text)
        one_line_error(cio.read_array, str(path), "--x", match="NaN or infinity")


def test_binary_csv(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b"\xff\xfe\x00\x01")
    one_line_error(cio.read_array, str(path), "--x", match="not a text file")


# --- stdin ------------------------------------------------------------------


def test_stdin_literal_stays_exact():
    got = cio.read_array("-", "--x", io.StringIO("[[1, 1/2], [3, 4]]\n"))
    assert got.kind == "exact" and got.data[0, 1] == Fraction(1, 2)


def test_stdin_json_array():
    got = cio.read_array("-", "--x", io.StringIO('{"a": 1}'.replace('{"a": 1}', "[1.5, 2, -3]")))
    assert got.data.tolist() == [Fraction(3, 2), 2, -3]


def test_stdin_json_with_strings_or_null_is_refused():
    one_line_error(cio.read_array, "-", "--x", io.StringIO('[1, "a"]'), match="only numbers")
    one_line_error(cio.read_array, "-", "--x", io.StringIO("[1, null]"), match="only numbers")
    one_line_error(cio.read_array, "-", "--x", io.StringIO("[true, 2]"), match="only numbers")


def test_stdin_csv_is_float():
    got = cio.read_array("-", "--x", io.StringIO("1,2\n3,4\n"))
    assert got.kind == "float" and got.shape == (2, 2)


def test_stdin_symbol_range():
    assert cio.read_array("-", "--x", io.StringIO("x1:4\n")).shape == (4,)


def test_stdin_empty():
    one_line_error(cio.read_array, "-", "--x", io.StringIO("  \n"), match="empty")


def test_literal_text_is_passed_to_the_literal_parser():
    assert cio.read_array("[1,2]", "--x").data.tolist() == [1, 2]
    one_line_error(cio.read_array, "[1,2", "--x", match="not closed")


# --- writing ----------------------------------------------------------------


def test_write_npy_and_csv(tmp_path):
    data = np.array([[1.0, 2.5], [-3.0, 1e-20]])
    npy, csv = tmp_path / "y.npy", tmp_path / "y.csv"
    cio.write_array(str(npy), data)
    cio.write_array(str(csv), data)
    assert np.array_equal(np.load(npy), data)
    assert np.array_equal(cio.read_array(str(csv), "--x").data, data)  # full precision


def test_write_exact_values_as_float(tmp_path):
    data = np.empty(2, dtype=object)
    data[:] = [3, Fraction(1, 4)]
    path = tmp_path / "y.npy"
    cio.write_array(str(path), data)
    assert np.load(path).tolist() == [3.0, 0.25]


def test_write_symbolic_is_refused(tmp_path):
    import sympy

    data = np.empty(1, dtype=object)
    data[:] = [sympy.Symbol("x")]
    one_line_error(cio.write_array, str(tmp_path / "y.npy"), data, match="symbolic")


def test_write_checks(tmp_path):
    one_line_error(cio.check_output_path, str(tmp_path / "y.txt"), match="use .npy or .csv")
    one_line_error(cio.check_output_path, str(tmp_path / "missing" / "y.npy"), match="does not exist")
    one_line_error(cio.write_array, str(tmp_path / "y.csv"), np.zeros((2, 2, 2)), match="at most 2 dimensions")


# --- QA fixes: deep JSON on stdin, non-decimal numbers in files ---------------------


def test_stdin_deeply_nested_json_is_an_input_error_not_a_recursion_error():
    deep = "[" * 100_000 + "1" + "]" * 100_000
    one_line_error(cio.read_array, "-", "--x", io.StringIO(deep), match="deeper than 4 levels")
    # unbalanced, too: never a RecursionError out of json.loads
    one_line_error(cio.read_array, "-", "--x", io.StringIO("[" * 100_000), match="deeper than 4 levels")
    one_line_error(cio.read_array, "-", "--x", io.StringIO("[[[[[1]]]]]"), match="deeper than 4 levels")


def test_stdin_json_up_to_four_levels_still_reads():
    got = cio.read_array("-", "--k", io.StringIO("[[[[1, 2]]]]"))
    assert got.shape == (1, 1, 1, 2)


@pytest.mark.parametrize("token", ["1_000", "1_0", "١٢", "１"])
def test_csv_refuses_what_float_accepts_but_a_decimal_is_not(tmp_path, token):
    path = tmp_path / "x.csv"
    path.write_text(f"1,2\n3,{token}\n", encoding="utf-8")
    message = one_line_error(cio.read_array, str(path), "--x", match="not a plain decimal number")
    assert "line 2" in message and repr(token) in message


def test_csv_hex_and_nan_keep_their_messages(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("0x1 2\n")
    one_line_error(cio.read_array, str(path), "--x", match="not a number")
    path.write_text("nan 2\n")
    one_line_error(cio.read_array, str(path), "--x", match="NaN or infinity")


def test_csv_plain_decimals_still_read(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("1e5, +.5, 1., -2.5E-3\n")
    assert cio.read_array(str(path), "--x").data.tolist() == [1e5, 0.5, 1.0, -2.5e-3]


def test_stdin_csv_refuses_underscores():
    one_line_error(cio.read_array, "-", "--x", io.StringIO("1_000, 2\n"), match="not a plain decimal number")
