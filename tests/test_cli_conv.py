"""`cnncalc conv` as a user runs it: worksheet answers, formats, files, stdin and every refusal."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cnncalc.cli import run
from cnncalc.conv import MAX_SYMBOLIC_TERMS
from conftest import HANG_GUARD

CNNCALC = str(Path(sys.executable).with_name("cnncalc"))


def call(capsys, *argv: str) -> tuple[int, str, str]:
    code = run(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def call_json(capsys, *argv: str) -> dict:
    code, out, err = call(capsys, *argv, "--json")
    assert code == 0, err
    assert out.count("\n") == 1
    doc = json.loads(out)
    assert doc["schema_version"] == 1 and doc["command"] == "conv"
    return doc


# --- worksheet 9.2 ----------------------------------------------------------------


def test_9_2_a_text(capsys):
    code, out, err = call(capsys, "conv", "--x", "x1:9", "--k", "k1:3")
    assert code == 0 and err == ""
    assert "Output size: 7" in out
    assert "y1 = k1·x1 + k2·x2 + k3·x3   window (x1, x2, x3)" in out
    assert "y7 = k1·x7 + k2·x8 + k3·x9   window (x7, x8, x9)" in out


def test_9_2_a_json(capsys):
    result = call_json(capsys, "conv", "--x", "x1:9", "--k", "k1:3")["result"]
    assert result["shape"] == [7]
    assert len(result["output"]) == 7
    assert result["output"][0] == "k1*x1 + k2*x2 + k3*x3"
    assert result["output"][-1] == "k1*x7 + k2*x8 + k3*x9"


def test_9_2_b_padding_and_stride(capsys):
    code, out, _ = call(capsys, "conv", "--x", "x1:9", "--k", "k1:3", "--p", "1", "--s", "2")
    assert code == 0
    assert "Output size: 5" in out
    assert "y1 = k1·0 + k2·x1 + k3·x2 = k2*x1 + k3*x2   window (pad, x1, x2)" in out
    result = call_json(capsys, "conv", "--x", "x1:9", "--k", "k1:3", "--p", "1", "--s", "2")["result"]
    assert result["shape"] == [5]
    assert result["output"][:2] == ["k2*x1 + k3*x2", "k1*x2 + k2*x3 + k3*x4"]
    assert result["padding"] == [[1, 1]]
    first = result["windows"][0]
    assert first["output_index"] == [0]
    assert [t["input_index"] for t in first["taps"]] == [None, [0], [1]]


def test_9_2_d_exact_average(capsys):
    argv = ("conv", "--x", "[[1,2,3],[4,5,6],[7,8,9]]", "--k", "1/4*[[1,1],[1,1]]")
    result = call_json(capsys, *argv)["result"]
    assert result["output"] == [[3, 4], [6, 7]]
    assert all(type(v) is int for row in result["output"] for v in row)
    code, out, _ = call(capsys, *argv)
    assert code == 0
    assert "y[1,1] = 1/4·1 + 1/4·2 + 1/4·4 + 1/4·5 = 3" in out
    assert "3.0" not in out and "0.25" not in out


def test_latex_bmatrix(capsys):
    code, out, _ = call(capsys, "conv", "--x", "[[1,2,3],[4,5,6],[7,8,9]]", "--k", "1/4*[[1,1],[1,1]]", "--latex")
    assert code == 0
    assert out.startswith("y = \\begin{bmatrix}")
    assert "3 & 4" in out and "6 & 7" in out


def test_flip(capsys):
    result = call_json(capsys, "conv", "--x", "[1,2,3,4]", "--k", "[1,2,3]", "--flip")["result"]
    assert result["output"] == [10, 16]  # 3·1 + 2·2 + 1·3, 3·2 + 2·3 + 1·4


def test_same_with_even_kernel_pads_right(capsys):
    result = call_json(capsys, "conv", "--x", "[1,2,3,4]", "--k", "[1,2]", "--p", "same")["result"]
    assert result["padding"] == [[0, 1]]
    assert result["output"] == [5, 8, 11, 4]


def test_dilation_and_asymmetric_padding(capsys):
    result = call_json(capsys, "conv", "--x", "[1,2,3,4,5,6]", "--k", "[1,-1]", "--d", "3", "--p", "1", "--s", "2")["result"]
    assert result["output"] == [-3, -3, 4]
    result = call_json(capsys, "conv", "--x", "[1,2,3]", "--k", "[1,10]", "--p", "2:0")["result"]
    assert result["output"] == [0, 10, 21, 32]


def test_help_has_examples(capsys):
    code, out, _ = call(capsys, "conv", "--help")
    assert code == 0
    assert "Examples" in out and "--flip" in out and "--out" in out


# --- files, stdin, --out -------------------------------------------------------------


def test_npy_in_npy_out(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x, k = rng.standard_normal((40, 50)), rng.standard_normal((3, 3))
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "k.npy", k)
    out_path = tmp_path / "y.npy"
    code, out, err = call(capsys, "conv", "--x", str(tmp_path / "x.npy"), "--k", str(tmp_path / "k.npy"), "--out", str(out_path))
    assert code == 0 and err == ""
    y = np.load(out_path)
    expected = sum(k[i, j] * x[i : i + 38, j : j + 48] for i in range(3) for j in range(3))
    assert y.shape == (38, 48) and np.allclose(y, expected)
    assert f"wrote {out_path}" in out


def test_large_output_is_summarized_not_flooded(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.arange(300 * 300, dtype=float).reshape(300, 300))
    code, out, _ = call(capsys, "conv", "--x", str(tmp_path / "x.npy"), "--k", "[[1,1],[1,1]]")
    assert code == 0
    assert "Output size: 299 × 299" in out
    assert "min" in out and "max" in out and "mean" in out
    assert len(out.splitlines()) < 30
    assert max(len(line) for line in out.splitlines()) < 200


def test_explain_is_capped(capsys):
    code, out, _ = call(capsys, "conv", "--x", "x1:1000", "--k", "k1:3", "--explain")
    assert code == 0
    assert out.count("window (") == 200
    assert "798 more outputs" in out


def test_csv_out_and_stdin(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("1,2,3,4\n"))
    out_path = tmp_path / "y.csv"
    code, out, err = call(capsys, "conv", "--x", "-", "--k", "[1,-1]", "--out", str(out_path))
    assert code == 0, err
    assert out_path.read_text().strip() == "-1,-1,-1"


def test_stdin_literal(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("[[1, 2], [3, 4]]"))
    assert call_json(capsys, "conv", "--x", "-", "--k", "[[1]]")["result"]["output"] == [[1, 2], [3, 4]]


def test_channels_from_files(tmp_path, capsys):
    x = np.stack([np.ones((4, 4)), 2 * np.ones((4, 4))])  # (C_in=2, 4, 4)
    k = np.ones((3, 2, 2, 2))  # (C_out=3, C_in=2, 2, 2)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "k.npy", k)
    result = call_json(capsys, "conv", "--x", str(tmp_path / "x.npy"), "--k", str(tmp_path / "k.npy"))["result"]
    assert result["shape"] == [3, 3, 3]
    assert result["channels"] == {"in": 2, "out": 3}
    assert result["output"][2][1][1] == 4 * 1 + 4 * 2


# --- refusals: exit 2, one line, nothing on stdout, no traceback, fast ------------------


def _write(tmp_path: Path, name: str, content) -> str:
    path = tmp_path / name
    if isinstance(content, np.ndarray):
        np.save(path, content)
    else:
        path.write_text(content)
    return str(path)


BAD = [
    (["--x", "[[1,2],[3]]", "--k", "[1]"], "ragged"),
    (["--x", "[]", "--k", "[1]"], "empty"),
    (["--x", "[1,2,3]", "--k", "[]"], "--k"),
    (["--x", "[1,nan,3]", "--k", "[1]"], "not allowed"),
    (["--x", "[1,2,3]", "--k", "[inf]"], "not allowed"),
    (["--x", "NPY_NAN", "--k", "[1]"], "NaN or infinity"),
    (["--x", "CSV_TEXT", "--k", "[1]"], "not a number"),
    (["--x", "MISSING.npy", "--k", "[1]"], "cannot read"),
    (["--x", "[[1,2],[3,4]]", "--k", "[1,2]"], "2D"),
    (["--x", "x1:100000000", "--k", "k1:3"], "limited to"),
    (["--x", "[1,2,3]", "--k", "[1,2,3,4]"], "larger than the padded input"),
    (["--x", "[1,2,3]", "--k", "[1]", "--p", "-1"], "--p"),
    (["--x", "[1,2,3]", "--k", "[1]", "--s", "0"], "stride"),
    (["--x", "[1,2,3]", "--k", "[1]", "--s", "1,2"], "--s has 2 entries"),
    (["--x", "[1,2,3,4]", "--k", "[1,1]", "--p", "same", "--s", "2"], "stride 1"),
    (["--x", "[1,2,3]", "--k", "[1]", "--json", "--latex"], "cannot be combined"),
    (["--x", "[1,2,3]", "--k", "[1]", "--out", "y.txt"], "use .npy or .csv"),
    (["--x", "-", "--k", "-"], "only one"),
    (["--x", "x1:3", "--k", "[1]", "--out", "OUT.npy"], "symbolic"),
    (["--x", "[1,2]", "--k", "k1+k2"], "not an array"),
    (["--x", "NPY_ONES", "--k", "[1e400]"], "too large for float64"),
]


@pytest.mark.parametrize("argv, fragment", BAD, ids=[b[1] + "-" + str(i) for i, b in enumerate(BAD)])
def test_bad_input_is_one_line_exit_2(argv, fragment, tmp_path, capsys):
    replacements = {
        "NPY_NAN": _write(tmp_path, "nan.npy", np.array([1.0, np.nan])),
        "CSV_TEXT": _write(tmp_path, "words.csv", "1,2\nthree,4\n"),
        "MISSING.npy": str(tmp_path / "missing.npy"),
        "OUT.npy": str(tmp_path / "out.npy"),
        "NPY_ONES": _write(tmp_path, "ones.npy", np.ones(3)),
    }
    argv = [replacements.get(a, a) for a in argv]
    start = time.perf_counter()
    code, out, err = call(capsys, "conv", *argv)
    assert time.perf_counter() - start < HANG_GUARD
    assert code == 2
    assert out == ""
    assert err.startswith("Error: ") and err.count("\n") == 1
    assert "Traceback" not in err
    assert fragment in err


def test_float_overflow_is_a_domain_error(tmp_path, capsys):
    path = _write(tmp_path, "big.npy", np.array([1e300, 1e300, 1e300]))
    code, out, err = call(capsys, "conv", "--x", path, "--k", "[1e300, 1]")
    assert code == 1 and out == "" and "overflows float64" in err and err.count("\n") == 1


def test_refusal_in_a_real_process_has_no_traceback():
    start = time.perf_counter()
    proc = subprocess.run([CNNCALC, "conv", "--x", "x1:100000000", "--k", "k1:3"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert time.perf_counter() - start < HANG_GUARD


# --- the processes users wait for ------------------------------------------------------


def test_symbolic_10000_whole_process():
    """Goal ≤ 1.5 s (see the README); the bound here is loose so a busy CI machine does not flake."""
    start = time.perf_counter()
    proc = subprocess.run([CNNCALC, "conv", "--x", "x1:10000", "--k", "k1:3", "--json"], capture_output=True, text=True, timeout=60)
    elapsed = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr
    output = json.loads(proc.stdout)["result"]["output"]
    assert len(output) == 9998 and output[-1] == "k1*x9998 + k2*x9999 + k3*x10000"
    assert elapsed < HANG_GUARD


def test_float_path_never_imports_sympy(tmp_path):
    np.save(tmp_path / "x.npy", np.ones((20, 20)))
    np.save(tmp_path / "k.npy", np.ones((3, 3)))
    script = (
        "import sys; from cnncalc.cli import run; "
        f"code = run(['conv', '--x', {str(tmp_path / 'x.npy')!r}, '--k', {str(tmp_path / 'k.npy')!r}, "
        f"'--out', {str(tmp_path / 'y.npy')!r}]); "
        "print(code, 'sympy' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert proc.stdout.strip().splitlines()[-1] == "0 False"


# --- QA fixes ------------------------------------------------------------------------


def _stdin_run(*argv: str, stdin: str) -> subprocess.CompletedProcess:
    return subprocess.run([CNNCALC, *argv], input=stdin, capture_output=True, text=True, timeout=60)


def test_deep_json_on_stdin_is_a_plain_error():
    done = _stdin_run("conv", "--x", "-", "--k", "[1]", stdin="[" * 100_000 + "1" + "]" * 100_000 + "\n")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("Error: --x -")
    assert "deeper than 4 levels" in done.stderr and "internal error" not in done.stderr


def test_size_error_names_conv_options(capsys):
    code, out, err = call(capsys, "conv", "--x", "[1,2,3]", "--k", "[1,2,3,4]")
    assert code == 2 and out == ""
    assert err == "Error: --k size 4 is larger than the padded input 3 + 0 + 0 = 3\n"


def test_csv_with_underscores_is_refused(capsys, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("1_000,2,3\n")
    code, out, err = call(capsys, "conv", "--x", str(path), "--k", "[1]")
    assert code == 2 and out == "" and "'1_000'" in err and "not a plain decimal number" in err


def test_window_labels_use_the_symbols_own_names(capsys):
    code, out, _ = call(capsys, "conv", "--x", "x0:8", "--k", "k1:3")
    assert code == 0
    assert "y1 = k1·x0 + k2·x1 + k3·x2   window (x0, x1, x2)" in out
    assert "y6 = k1·x5 + k2·x6 + k3·x7   window (x5, x6, x7)" in out
    code, out, _ = call(capsys, "conv", "--x", "x0:3", "--k", "k1:2", "--p", "1")
    assert "y1 = k1·0 + k2·x0 = k2*x0   window (pad, x0)" in out
    # numeric inputs keep position labels
    code, out, _ = call(capsys, "conv", "--x", "[5,6,7]", "--k", "k1:2")
    assert "window (x1, x2)" in out


def test_json_windows_are_bounded_by_total_taps(capsys):
    long_x = "[" + ",".join(["1"] * 10_999) + "]"
    long_k = "[" + ",".join(["2"] * 10_000) + "]"
    start = time.perf_counter()
    result = call_json(capsys, "conv", "--x", long_x, "--k", long_k)["result"]
    assert time.perf_counter() - start < HANG_GUARD
    assert result["shape"] == [1000] and result["output"][0] == 20_000
    assert result["windows"] is None and "10000 taps" in result["windows_omitted"]
    # small windows are still listed in full
    result = call_json(capsys, "conv", "--x", "x1:9", "--k", "k1:3")["result"]
    assert len(result["windows"]) == 7 and "windows_omitted" not in result
    # 100 outputs × 100 taps = 10^4 is listed; one more output is not
    listed = call_json(capsys, "conv", "--x", "[" + ",".join(["1"] * 199) + "]", "--k", "[" + ",".join(["1"] * 100) + "]")
    assert len(listed["result"]["windows"]) == 100
    omitted = call_json(capsys, "conv", "--x", "[" + ",".join(["1"] * 200) + "]", "--k", "[" + ",".join(["1"] * 100) + "]")
    assert omitted["result"]["windows"] is None


def test_float_files_with_a_long_kernel_are_fast(capsys, tmp_path):
    rng = np.random.default_rng(0)
    np.savetxt(tmp_path / "x.csv", rng.random((1, 11_000)), delimiter=",")
    np.savetxt(tmp_path / "k.csv", rng.random((1, 10_001)), delimiter=",")
    np.save(tmp_path / "x.npy", rng.random(4096))
    np.save(tmp_path / "k.npy", rng.random(1025))
    start = time.perf_counter()
    doc = call_json(capsys, "conv", "--x", str(tmp_path / "x.csv"), "--k", str(tmp_path / "k.csv"))
    assert doc["result"]["windows"] is None and len(doc["result"]["output"]) == 1000
    doc = call_json(capsys, "conv", "--x", str(tmp_path / "x.npy"), "--k", str(tmp_path / "k.npy"), "--d", "2", "--s", "3")
    assert doc["result"]["windows"] is None
    assert time.perf_counter() - start < HANG_GUARD


def test_explain_with_a_long_kernel_is_fast_and_counts_what_it_leaves_out(capsys):
    long_x = "[" + ",".join(["1"] * 10_999) + "]"
    long_k = "[" + ",".join(["2"] * 10_000) + "]"
    start = time.perf_counter()
    code, out, _ = call(capsys, "conv", "--x", long_x, "--k", long_k, "--explain")
    assert time.perf_counter() - start < HANG_GUARD
    assert code == 0 and "(10000 taps; window too large to write out)" in out
    assert "… 800 more outputs not written out" in out
    # 64-tap windows: at most 10^4 taps written out, and the note says so
    code, out, _ = call(capsys, "conv", "--x", "x1:400", "--k", "k1:64", "--explain")
    assert sum(line.startswith("y") for line in out.splitlines()) == 10_000 // 64
    assert f"… {337 - 10_000 // 64} more outputs not written out" in out and "64 taps each" in out


@pytest.mark.parametrize("extra", [[], ["--json"]])
def test_symbolic_d_10000_k_3_is_fast_and_larger_work_is_refused(extra):
    start = time.perf_counter()
    done = subprocess.run([CNNCALC, "conv", "--x", "x1:10000", "--k", "k1:3", *extra], capture_output=True, text=True)
    assert done.returncode == 0
    assert time.perf_counter() - start < HANG_GUARD
    start = time.perf_counter()
    done = subprocess.run([CNNCALC, "conv", "--x", "x1:100000", "--k", "k1:10", *extra], capture_output=True, text=True)
    assert done.returncode == 2 and done.stdout == "" and f"the symbolic limit is {MAX_SYMBOLIC_TERMS} terms" in done.stderr
    assert time.perf_counter() - start < HANG_GUARD
