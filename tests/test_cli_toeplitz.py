"""`cnncalc toeplitz` as a user runs it: the worksheet matrix, JSON forms, LaTeX, errors."""

from __future__ import annotations

import io
import json
import time

import pytest

from cnncalc.cli import run
from cnncalc.env import Environment
from conftest import HANG_GUARD


def call(capsys, *argv: str) -> tuple[int, str, str]:
    code = run(["toeplitz", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def result_of(capsys, *argv: str) -> dict:
    code, out, err = call(capsys, *argv, "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["command"] == "toeplitz" and doc["schema_version"] == 1
    return doc["result"]


def band(rows: int, cols: int, taps: list, stride: int = 1, pad: int = 0) -> list[list]:
    """The banded matrix written out by hand: row i has taps[j] at column i·stride + j − pad."""
    matrix = [[0] * cols for _ in range(rows)]
    for i in range(rows):
        for j, tap in enumerate(taps):
            c = i * stride + j - pad
            if 0 <= c < cols:
                matrix[i][c] = tap
    return matrix


def dense_from_sparse(sparse: dict) -> list[list]:
    rows, cols = sparse["shape"]
    matrix = [[0] * cols for _ in range(rows)]
    for r, c, v in zip(sparse["rows"], sparse["cols"], sparse["values"]):
        matrix[r][c] = v
    return matrix


# --- the worksheet ---------------------------------------------------------


def test_worksheet_9_2_c_text(capsys):
    code, out, err = call(capsys, "--W", "9", "--k", "k1:3")
    assert code == 0 and err == ""
    assert "ℝ^(7 × 9)" in out
    assert "9 − 3 + 1 = 7 rows, one per window" in out
    expected = band(7, 9, ["k1", "k2", "k3"])
    table_rows = [line.split() for line in out.splitlines() if line.startswith("x'")]
    assert len(table_rows) == 7
    for i, cells in enumerate(table_rows):
        assert cells[0] == f"x'{i + 1}"
        assert cells[1:] == [str(v) for v in expected[i]]


def test_worksheet_9_2_c_json(capsys):
    result = result_of(capsys, "--W", "9", "--k", "k1:3")
    assert result["shape"] == [7, 9]
    assert result["layout"] == "dense"
    assert result["matrix"] == band(7, 9, ["k1", "k2", "k3"])


def test_worksheet_9_2_b_padded_stride_two(capsys):
    result = result_of(capsys, "--W", "9", "--k", "k1:3", "--p", "1", "--s", "2")
    assert result["shape"] == [5, 9]
    assert result["matrix"] == band(5, 9, ["k1", "k2", "k3"], stride=2, pad=1)
    assert result["matrix"][0][:3] == ["k2", "k3", 0]


def test_worksheet_9_2_d_product_equals_conv(capsys):
    argv = ["--W", "3,3", "--k", "1/4*[[1,1],[1,1]]", "--x", "[[1,2,3],[4,5,6],[7,8,9]]"]
    result = result_of(capsys, *argv)
    assert result["shape"] == [4, 9]
    assert result["check"]["product"] == [3, 4, 6, 7]
    assert result["check"]["equal"] is True
    code, out, _ = call(capsys, *argv)
    assert code == 0
    assert "[[3, 4], [6, 7]]" in out
    assert "equals conv's answer" in out


def test_input_size_defaults_to_the_shape_of_x(capsys):
    result = result_of(capsys, "--k", "[1,-1]", "--x", "[1,4,9,16]")
    assert result["shape"] == [3, 4]
    assert result["check"]["product"] == [-3, -5, -7]


def test_symbolic_product_and_transpose_check(capsys):
    result = result_of(capsys, "--W", "5", "--k", "k1:2", "--transpose", "--x", "g1:4")
    assert result["shape"] == [5, 4]
    check = result["check"]
    assert check["equal"] is True
    assert check["product"][0] == "g1*k1" and check["product"][-1] == "g4*k2"


# --- JSON forms ------------------------------------------------------------


def test_sparse_and_dense_json_agree(capsys):
    argv = ["--W", "5,6", "--k", "[[1,2,0],[3,0,4]]", "--p", "1", "--s", "2,1", "--d", "1,2"]
    dense = result_of(capsys, *argv, "--dense")
    sparse = result_of(capsys, *argv, "--sparse")
    assert dense["layout"] == "dense" and sparse["layout"] == "sparse"
    assert sparse["sparse"]["format"] == "coo" and sparse["sparse"]["shape"] == dense["shape"]
    assert dense_from_sparse(sparse["sparse"]) == dense["matrix"]
    assert sparse["nnz"] == len(sparse["sparse"]["values"])


def test_auto_layout_is_dense_when_small_and_sparse_when_large(capsys):
    small = result_of(capsys, "--W", "60", "--k", "[1,2,3]")
    large = result_of(capsys, "--W", "200", "--k", "[1,2,3]")
    assert "matrix" in small and "sparse" not in small
    assert "sparse" in large and "matrix" not in large
    assert large["shape"] == [198, 200]


def test_transpose_json_reports_the_output_padding(capsys):
    result = result_of(capsys, "--W", "10", "--k", "[1,2,3]", "--s", "2", "--transpose")
    assert result["shape"] == [10, 4]
    size = result["transposed_size"]
    assert size["without_output_padding"] == [9] and size["output_padding"] == [1]
    assert size["output"] == [10]
    code, out, _ = call(capsys, "--W", "10", "--k", "[1,2,3]", "--s", "2", "--transpose")
    assert "output_padding=1" in out
    assert "transposed convolution" in out and "gradient" in out


def test_transposed_shape_matches_shape_transposed(capsys):
    result = result_of(capsys, "--W", "11", "--k", "[1,2,3]", "--p", "1", "--s", "3", "--transpose")
    rows = result["shape"][0]
    op = result["transposed_size"]["output_padding"][0]
    assert run(["shape", "--W", "4", "--K", "3", "--p", "1", "--s", "3", "--transposed",
                "--output-padding", str(op), "--json"]) == 0
    shape = json.loads(capsys.readouterr().out)["result"]["output"]
    assert shape == [rows]


def test_large_sparse_json_is_complete(capsys):
    result = result_of(capsys, "--W", "40,40", "--k", "[[1,2,1],[2,4,2],[1,2,1]]")
    assert result["shape"] == [38 * 38, 1600]
    assert result["nnz"] == 38 * 38 * 9 == len(result["sparse"]["rows"])
    # Output (i, j) is row 38·i + j and reads input (i + a, j + b), column 40·(i + a) + j + b:
    # the offset 2·i + 40·a + b is largest for the last output row and the last tap.
    assert result["bandwidth"] == {"lower": 0, "upper": 2 * 37 + 40 * 2 + 2}


# --- text and LaTeX ----------------------------------------------------------


def test_large_matrix_text_is_a_summary_not_a_flood(capsys):
    code, out, _ = call(capsys, "--W", "256,256", "--k", "[[1,2,1],[2,4,2],[1,2,1]]")
    assert code == 0
    assert "64516 × 65536" in out
    assert "580644 stored entries" in out
    assert "corner preview" in out
    assert len(out.splitlines()) < 40
    assert max(len(line) for line in out.splitlines() if "⋯" in line) < 120


def test_terminal_dims_zeros_and_highlights_taps():
    out = io.StringIO()
    environment = Environment(stdout=out, stderr=io.StringIO(), stdout_isatty=True, no_color=False, width=100)
    assert run(["toeplitz", "--W", "5", "--k", "k1:2"], environment) == 0
    text = out.getvalue()
    assert "\x1b[1;36mk1\x1b[0m" in text  # kernel taps: bold cyan
    assert "\x1b[2m 0\x1b[0m" in text or "\x1b[2m0\x1b[0m" in text  # zeros: dim


def test_latex_is_a_bmatrix_with_its_dimension(capsys):
    code, out, _ = call(capsys, "--W", "9", "--k", "k1:3", "--latex")
    assert code == 0
    assert out.startswith(r"\mathbf{M} = \begin{bmatrix}")
    assert r"k_{1} & k_{2} & k_{3} & 0 & 0 & 0 & 0 & 0 & 0 \\" in out
    assert r"\mathbb{R}^{7 \times 9}" in out
    assert out.count(r"\\") == 6


def test_latex_elides_large_matrices(capsys):
    code, out, _ = call(capsys, "--W", "1000", "--k", "k1:5", "--latex")
    assert code == 0
    assert r"\cdots" in out and r"\vdots" in out and r"\ddots" in out
    assert r"\mathbb{R}^{996 \times 1000}" in out
    assert len(out) < 2000


# --- errors --------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, code, words",
    [
        (["--W", "9", "--k", "[1,2"], 2, ["--k"]),
        (["--W", "0", "--k", "k1:3"], 2, ["--W", "0"]),
        (["--W", "W", "--k", "k1:3"], 2, ["--W", "numeric"]),
        (["--W", "9", "--k", "k1:3", "--dense", "--sparse"], 2, ["--dense", "--sparse"]),
        (["--W", "4,4", "--k", "k1:3"], 2, ["--W", "--k"]),
        (["--W", "9", "--k", "k1:3", "--x", "[1,2]"], 2, ["--x"]),
        (["--W", "2", "--k", "k1:3"], 2, ["--k size 3", "padded input"]),
        (["--k", "k1:3"], 2, ["--W"]),
        (["--W", "9", "--k", "k1:3", "--s", "0"], 2, ["--s"]),
        (["--W", "9", "--k", "k1:3", "--json", "--latex"], 2, ["--json", "--latex"]),
        (["--W", "256,256", "--k", "[[1]]", "--dense"], 1, ["65536 × 65536", "4,294,967,296"]),
    ],
)
def test_bad_input_is_one_line_on_stderr(capsys, argv, code, words):
    got, out, err = call(capsys, *argv)
    assert got == code
    assert out == ""
    assert err.startswith("Error: ") and err.count("\n") == 1
    for word in words:
        assert word in err


def test_absurd_dense_request_is_refused_quickly(capsys):
    start = time.perf_counter()
    code, out, err = call(capsys, "--W", "256,256", "--k", "[[1]]", "--dense", "--json")
    assert time.perf_counter() - start < HANG_GUARD
    assert code == 1 and out == "" and "limited to" in err


def test_help_has_examples(capsys):
    assert run(["toeplitz", "--help"]) == 0
    out = capsys.readouterr().out
    assert "cnncalc toeplitz --W 9 --k k1:3" in out
    for option in ("--transpose", "--dense", "--sparse", "--x", "--latex"):
        assert option in out


# --- size limits (QA) ----------------------------------------------------------


@pytest.mark.parametrize(
    "argv, words",
    [
        # rows from huge padding: refused before allocating (was a MemoryError / 4.9 s)
        (["--W", "9", "--k", "[1,2,1]", "--p", "1000000000000"], ["--p 1000000000000", "2,000,000,000,007 rows", "10,000,000"]),
        (["--W", "9", "--k", "[1,2,1]", "--p", "10000000"], ["--p 10000000", "20,000,007 rows", "10,000,000"]),
        # the index work of mostly-padding rows
        (["--W", "9", "--k", "[1,2,1]", "--p", "4000000"], ["--p 4000000", "24,000,021", "pairs", "10,000,000"]),
        # columns
        (["--W", "20000000", "--k", "[1]", "--s", "10000000"], ["--W 20000000", "20,000,000 columns", "10,000,000"]),
        # stored entries (were 5–6 s of JSON)
        (["--W", "1000,1000", "--k", "[[1,2,1],[2,4,2],[1,2,1]]", "--json"], ["--W 1000,1000", "8,964,036", "2,000,000"]),
        (["--W", "3000000", "--k", "[1,2,1]", "--json"], ["--W 3000000", "8,999,994", "2,000,000"]),
        # symbolic entries (was 7 s)
        (["--W", "100000", "--k", "k1:100", "--json"], ["--W 100000", "9,990,100", "symbolic", "1,000,000"]),
        (["--W", "400000", "--k", "k1:3", "--json"], ["1,199,994", "symbolic", "1,000,000"]),
        # symbolic products
        (["--W", "3000", "--k", "k1:5", "--x", "x1:3000"], ["--x", "symbolic", "7,000"]),
    ],
)
def test_too_big_is_refused_at_once_saying_how_big(capsys, argv, words):
    start = time.perf_counter()
    code, out, err = call(capsys, *argv)
    assert time.perf_counter() - start < HANG_GUARD
    assert code == 1 and out == ""
    assert err.startswith("Error: ") and err.count("\n") == 1
    assert "internal error" not in err
    for word in words:
        assert word in err


def test_just_under_the_numeric_limit_is_accepted_quickly(capsys):
    start = time.perf_counter()
    result = result_of(capsys, "--W", "2000000", "--k", "[1/3]")
    assert time.perf_counter() - start < HANG_GUARD
    assert result["nnz"] == 2_000_000


def test_the_256_image_still_works_as_json(capsys):
    start = time.perf_counter()
    result = result_of(capsys, "--W", "256,256", "--k", "[[1,2,1],[2,4,2],[1,2,1]]")
    assert time.perf_counter() - start < HANG_GUARD
    assert result["nnz"] == 580644 and len(result["sparse"]["rows"]) == 580644


def test_symbolic_d1000_k5_with_a_vector_is_accepted(capsys):
    start = time.perf_counter()
    result = result_of(capsys, "--W", "1000", "--k", "k1:5", "--x", "x1:1000")
    assert time.perf_counter() - start < HANG_GUARD
    assert result["check"]["equal"] is True


def test_kernel_size_error_names_toeplitz_options(capsys):
    code, out, err = call(capsys, "--W", "3", "--k", "[1,2,3,4]")
    assert code == 2 and out == ""
    assert err == "Error: --k size 4 is larger than the padded input 3 + 0 + 0 = 3\n"
    assert "--K" not in err


@pytest.mark.parametrize("option", ["--k", "--x"])
def test_file_names_are_not_offered(capsys, option):
    argv = ["--W", "3", "--k", "some.npy"] if option == "--k" else ["--W", "3", "--k", "[1]", "--x", "some.npy"]
    code, out, err = call(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith(f"Error: {option} 'some.npy'") and err.count("\n") == 1
    assert "does not read files" in err
    assert ".npy/" not in err and ".csv" not in err
