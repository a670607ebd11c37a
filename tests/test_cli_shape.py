"""`cnncalc shape` as a user runs it: answers, worked arithmetic, JSON, errors, startup."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import run_process


def test_worksheet_9_2_a(cli):
    r = cli("shape", "--W", "9", "--K", "3", "--json")
    assert r.code == 0 and r.err == ""
    assert r.json["result"]["output"] == [7]


def test_worksheet_9_2_b_shows_the_worked_arithmetic(cli):
    r = cli("shape", "--W", "9", "--K", "3", "--p", "1", "--s", "2")
    assert r.code == 0
    assert "Output size: 5" in r.out
    assert "⌊(9 + 2·1 − 3)/2⌋ + 1 = ⌊8/2⌋ + 1 = 5" in r.out


def test_worksheet_9_2_e_general_formula(cli):
    r = cli("shape", "--W", "W", "--K", "K", "--p", "p", "--s", "s", "--json")
    assert r.code == 0
    assert r.json["result"]["output"] == ["floor((-K + W + 2*p)/s) + 1"]
    r = cli("shape", "--W", "W", "--K", "K")
    assert "Output size: -K + W + 1" in r.out


def test_json_document_contract(cli):
    r = cli("shape", "--W", "50,100", "--K", "3,5", "--s", "2,1", "--p", "4,2", "--d", "3,1", "--json")
    doc = r.json
    assert set(doc) == {"schema_version", "command", "input", "result"}
    assert doc["schema_version"] == 1 and doc["command"] == "shape"
    assert doc["result"]["output"] == [26, 100]
    assert doc["result"]["padding"] == [[4, 4], [2, 2]]
    assert doc["result"]["remainder"] == [1, 0]
    assert doc["input"]["W"] == [50, 100] and doc["input"]["d"] == [3, 1]
    assert r.out.count("\n") == 1  # exactly one document


def test_uneven_stride_notes_the_unused_input(cli):
    r = cli("shape", "--W", "10", "--K", "3", "--s", "2")
    assert "1 of them real input" in r.out
    assert cli("shape", "--W", "10", "--K", "3", "--s", "2", "--json").json["result"]["unused_input"] == [1]


def test_asymmetric_padding(cli):
    r = cli("shape", "--W", "8", "--K", "3", "--p", "0:2", "--s", "3", "--json")
    assert r.json["result"]["padding"] == [[0, 2]]
    assert r.json["result"]["output"] == [3]


def test_tf_same_reports_its_pads(cli):
    r = cli("shape", "--W", "10", "--K", "3", "--s", "2", "--p", "same", "--same-mode", "tf", "--json")
    assert r.json["result"]["output"] == [5]
    assert r.json["result"]["padding"] == [[0, 1]]


def test_ceil_mode_pool_whose_last_window_starts_in_padding(cli):
    r = cli("shape", "--W", "5", "--K", "2", "--s", "2", "--p", "1", "--pool", "max", "--ceil-mode")
    assert "Output size: 3" in r.out
    assert "inside the right padding" in r.out


def test_transposed_with_output_padding(cli):
    r = cli("shape", "--W", "3", "--K", "3", "--s", "2", "--p", "1", "--transposed", "--output-padding", "1", "--json")
    assert r.json["result"]["output"] == [6]


def test_latex(cli):
    assert cli("shape", "--W", "9", "--K", "3", "--latex").out.strip() == "W' = 7"
    assert "\\left\\lfloor" in cli("shape", "--W", "W", "--K", "K", "--s", "s", "--latex").out


@pytest.mark.parametrize(
    "args,fragment",
    [
        (["--W", "2", "--K", "5"], "--K 5 is larger than the padded input 2 + 0 + 0 = 2"),
        (["--W", "9", "--K", "3", "--s", "0"], "--s 0"),
        (["--W", "9", "--K", "3", "--s", "-1"], "--s -1"),
        (["--W", "9", "--K", "3", "--p", "-1"], "negative"),
        (["--W", "9", "--K", "3", "--d", "0"], "--d 0"),
        (["--W", "9", "--K", "0"], "--K 0"),
        (["--W", "9.5", "--K", "3"], "--W '9.5' is not a whole number"),
        (["--W", "9", "--K", "3", "--p", "same", "--s", "2"], "--same-mode tf"),
        (["--W", "9,9", "--K", "3,3,3"], "--K has 3 entries but --W has 2"),
        (["--W", "9,9,9,9", "--K", "3"], "at most 3"),
        (["--W", "3", "--K", "3", "--s", "2", "--transposed", "--output-padding", "2"], "--output-padding 2"),
        (["--W", "9", "--K", "3", "--pool", "sum"], "--pool sum"),
        (["--W", "9", "--K", "3", "--p", "1:"], "lo:hi"),
        (["--W", "9", "--K", "3", "--p", "1,"], "empty entry"),
        (["--W", "9", "--K", "3", "--same-mode", "keras"], "--same-mode keras"),
        (["--W", "9", "--K", "3", "--json", "--latex"], "cannot be combined"),
        (["--W", "9"], "missing option --K"),
        (["--W", "9", "--K", "3", "--bogus"], "No such option: --bogus"),
        (["--W", "__import__('os')", "--K", "3"], "not a whole number"),
    ],
)
def test_bad_input_is_one_line_on_stderr_exit_2(cli, args, fragment):
    r = cli("shape", *args)
    assert r.code == 2
    assert r.out == ""
    assert fragment in r.err
    assert r.err.startswith("Error: ") and r.err.count("\n") == 1


def test_bad_input_in_a_real_process_has_no_traceback():
    proc = run_process("shape", "--W", "2", "--K", "5")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1


def test_piped_output_has_no_escape_codes():
    proc = run_process("shape", "--W", "9", "--K", "3", "--p", "1", "--s", "2")
    assert proc.returncode == 0
    assert "\x1b[" not in proc.stdout
    assert "Output size: 5" in proc.stdout


def test_terminal_output_is_rich_and_no_color_is_honoured(cli):
    tty = cli("shape", "--W", "9", "--K", "3", tty=True)
    assert "\x1b[" in tty.out and "Output size: 7" in tty.out
    plain = cli("shape", "--W", "9", "--K", "3", tty=True, no_color=True)
    assert "Output size: 7" in plain.out
    assert "\x1b[3" not in plain.out  # no colour codes


STARTUP_PROBE = """
import sys
sys.argv = ["cnncalc"] + {args!r}
from cnncalc.cli import run
code = run(sys.argv[1:])
heavy = sorted(m for m in ("numpy", "sympy", "pydantic", "rich") if m in sys.modules)
print("HEAVY=" + ",".join(heavy), file=sys.stderr)
"""


@pytest.mark.parametrize("args", [["shape", "--W", "9", "--K", "3", "--p", "1", "--s", "2", "--json"],
                                  ["shape", "--W", "32,32", "--K", "3", "--pool", "max"]])
def test_shape_imports_neither_numpy_nor_sympy(args):
    proc = subprocess.run(
        [sys.executable, "-c", STARTUP_PROBE.format(args=args)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY=\n" in proc.stderr, proc.stderr


def test_version(cli):
    from cnncalc import __version__

    r = cli("--version")
    assert r.code == 0 and r.out.strip() == f"cnncalc {__version__}"


# --- networks and solving (shape --input/--layers, --solve) ----------------------


def test_network_json_contract(cli):
    r = cli("shape", "--input", "3x224x224", "--layers", "conv(64,7,s=2,p=3); relu; maxpool(3,s=2,p=1)", "--json")
    assert r.code == 0, r.err
    result = r.json["result"]
    assert result["output"] == [64, 56, 56]
    last = result["layers"][-1]
    assert set(last) >= {"name", "output", "params", "macs", "rf", "jump", "start"}
    assert (last["rf"], last["jump"], last["start"]) == ([11, 11], [4, 4], [0, 0])
    assert result["total_params"] == 64 * 3 * 49 + 64


def test_network_from_a_file_and_csv(cli, tmp_path):
    spec = tmp_path / "net.txt"
    spec.write_text("conv(8,3)  # a comment\nrelu\nmaxpool(2)\n")
    r = cli("shape", "--input", "1x10x10", "--layers", f"@{spec}", "--csv")
    assert r.code == 0, r.err
    import csv
    import io

    rows = list(csv.reader(io.StringIO(r.out)))
    assert rows[0] == ["index", "layer", "output", "params", "macs", "rf", "jump", "start"]
    assert rows[1] == ["1", "conv(8,3)", "8x8x8", "80", str(8 * 9 * 64), "3x3", "1x1", "1x1"]
    assert rows[3][:3] == ["3", "maxpool(2)", "8x4x4"]
    assert rows[-1][1:4] == ["total", "", "80"]


def test_network_text_shows_totals(cli):
    r = cli("shape", "--input", "3x32x32", "--layers", "conv(16,3,p=1); flatten; linear(10)")
    assert "parameters: 164,298" in r.out  # 16·3·9+16 + 16384·10+10


@pytest.mark.parametrize(
    "args,fragment",
    [
        (["--input", "3x8x8"], "--input and --layers go together"),
        (["--input", "3x8x8", "--layers", "conv(8,3); nope"], "layer 2 (nope): unknown layer"),
        (["--input", "3x8x8", "--layers", "@/nonexistent/spec.txt"], "cannot read"),
        (["--input", "3x8x8", "--layers", "conv(8,3)", "--csv", "--json"], "cannot be combined"),
        (["--W", "32", "--K", "3", "--solve", "q", "--target", "4"], "--solve q"),
        (["--W", "32", "--K", "3", "--solve", "p"], "--target"),
        (["--K", "3"], "missing option --W"),
        (["--W", "32", "--K", "3", "--solve", "p", "--target", "16", "--p", "1"], "leave --p out"),
    ],
)
def test_network_and_solve_errors(cli, args, fragment):
    r = cli("shape", *args)
    assert r.code == 2 and r.out == ""
    assert fragment in r.err and r.err.count("\n") == 1


def test_solve_padding(cli):
    r = cli("shape", "--W", "32", "--K", "3", "--s", "2", "--solve", "p", "--target", "16", "--json")
    assert r.json["result"]["solutions"] == [{"padding": [1, 1], "output": 16}, {"padding": [0, 1], "output": 16}]
    r = cli("shape", "--W", "32", "--K", "3", "--s", "2", "--solve", "p", "--target", "16")
    assert "--p 1" in r.out and "--p 0:1" in r.out


def test_solve_reports_when_nothing_works(cli):
    r = cli("shape", "--W", "8", "--K", "2", "--pool", "max", "--solve", "p", "--target", "10")
    assert r.code == 0 and "No p gives an output of 10" in r.out


def test_solve_output_padding(cli):
    r = cli("shape", "--W", "8", "--K", "3", "--s", "2", "--p", "1", "--transposed",
            "--solve", "output-padding", "--target", "16", "--json")
    assert r.json["result"]["solutions"] == [{"output_padding": 1, "output": 16}]
