"""`cnncalc backprop` as a user runs it: the worksheet's trace, formats, and errors."""

from __future__ import annotations

import pytest


WORKSHEET = ("backprop", "g = x + y; f = g * z", "--at", "x=-2,y=5,z=-4")


def test_worksheet_9_1_values_and_gradients(cli):
    r = cli(*WORKSHEET, "--json")
    assert r.code == 0, r.err
    result = r.json["result"]
    assert result["value"] == -12
    assert result["gradients"] == {"x": -4, "y": -4, "z": 3}
    by_name = {n["name"]: n for n in result["nodes"]}
    assert by_name["g"]["value"] == 3 and by_name["g"]["grad"] == -4  # ∂f/∂g = z = −4
    assert by_name["f"]["local_grads"] == [-4, 3]  # ∂f/∂g = z, ∂f/∂z = g
    assert set(by_name["x"]) >= {"id", "name", "op", "inputs", "value", "grad", "local_grads"}


def test_worksheet_text_has_tables_gradients_and_graph(cli):
    r = cli(*WORKSHEET)
    assert r.code == 0
    assert r.out.startswith("f = -12")
    assert "Forward pass" in r.out and "Backward pass" in r.out
    assert "Gradients: ∂f/∂x = -4, ∂f/∂y = -4, ∂f/∂z = 3" in r.out
    assert "├── g = x + y   value 3   grad -4" in r.out


def test_symbolic_gradients_without_at(cli):
    r = cli("backprop", "(x+y)*z", "--json")
    assert r.json["result"]["gradients"] == {"x": "z", "y": "z", "z": "x + y"}
    assert r.json["result"]["symbolic"] is True


def test_fan_out_shows_each_contribution_and_their_sum(cli):
    r = cli("backprop", "x*x", "--at", "x=3")
    assert "(sum of 2)" in r.out
    assert "∂f/∂x = 6" in r.out or "= 6" in r.out.split("Gradients:")[1]


def test_tie_is_flagged(cli):
    r = cli("backprop", "max(a, b)", "--at", "a=1,b=1", "--json")
    assert r.json["result"]["gradients"] == {"a": 0.5, "b": 0.5}
    assert cli("backprop", "max(a, b)", "--at", "a=1,b=1").out.count("tie") >= 1


def test_check(cli):
    r = cli("backprop", "tanh(w*x + b)", "--at", "w=0.5,x=2,b=-0.25", "--check", "--json")
    check = r.json["result"]["check"]
    assert check["max_abs_error"] < 1e-7
    assert {row["input"] for row in check["rows"]} == {"w", "x", "b"}


def test_graph_sources(cli):
    dot = cli(*WORKSHEET, "--graph", "dot").out
    assert dot.startswith("digraph") and "value -12" in dot and "grad -4" in dot and "->" in dot
    mermaid = cli(*WORKSHEET, "--graph", "mermaid").out
    assert mermaid.startswith("flowchart LR") and "-->" in mermaid and "value 3" in mermaid


def test_latex(cli):
    out = cli(*WORKSHEET, "--latex").out
    assert out.startswith("\\begin{align*}") and "\\frac{\\partial f}{\\partial g}" in out


def test_program_from_file_and_stdin(cli, tmp_path):
    path = tmp_path / "prog.txt"
    path.write_text("g = x + y\nf = g * z\n")
    assert cli("backprop", "--file", str(path), "--at", "x=-2,y=5,z=-4", "--json").json["result"]["value"] == -12
    r = cli("backprop", "--file", "-", "--at", "x=-2,y=5,z=-4", "--json", stdin="g = x + y; f = g * z")
    assert r.json["result"]["value"] == -12


def test_repeatable_at_and_fractions(cli):
    r = cli("backprop", "x*y", "--at", "x=1/4", "--at", "y=0.5", "--json")
    assert r.json["result"]["value"] == 0.125


@pytest.mark.parametrize(
    "args,code,fragment",
    [
        (["log(x)", "--at", "x=-1"], 1, "log of a non-positive number"),
        (["x/y", "--at", "x=1,y=0"], 1, "stage"),
        (["exp(x)", "--at", "x=1000"], 1, "overflow"),
        (["x.__class__"], 2, "attribute access is not allowed"),
        (["__import__('os').system('true')"], 2, "program"),
        (["(x+y)*z", "--at", "x=1"], 2, "--at: missing values for inputs: y, z"),
        (["x", "--at", "x=1,q=2"], 2, "not inputs: q"),
        (["x", "--at", "x"], 2, "--at 'x' is not name=value"),
        (["x", "--at", "x=abc"], 2, "is not a number"),
        (["x", "--check"], 2, "--check needs --at"),
        (["x", "--graph", "png", "--at", "x=1"], 2, "--graph png"),
        ([], 2, "either as an argument or with --file"),
        (["x", "--file", "/nonexistent/prog.txt"], 2, "not both"),
        (["--file", "/nonexistent/prog.txt"], 2, "cannot read"),
    ],
)
def test_errors_are_one_line(cli, args, code, fragment):
    r = cli("backprop", *args)
    assert r.code == code, r.err
    assert r.out == ""
    assert fragment in r.err and r.err.count("\n") == 1


def test_injection_payload_does_nothing(cli, tmp_path):
    canary = tmp_path / "CANARY"
    r = cli("backprop", f"__import__('os').system('touch {canary}')")
    assert r.code == 2
    assert not canary.exists()


def test_a_program_without_inputs_has_no_gradients(cli):
    r = cli("backprop", "2+3")
    assert r.code == 0 and "f = 5" in r.out and "nothing to differentiate" in r.out
    assert cli("backprop", "2+3", "--json").json["result"]["gradients"] == {}


def test_long_program_files_are_refused_not_cut_short(cli, tmp_path, monkeypatch):
    import cnncalc.io

    monkeypatch.setattr(cnncalc.io, "MAX_TEXT_CHARS", 100)
    path = tmp_path / "long.txt"
    path.write_text("\n".join(f"t{i} = x * {i}" for i in range(1, 40)))
    r = cli("backprop", "--file", str(path), "--at", "x=1")
    assert r.code == 2 and "longer than 100 characters" in r.err


def test_a_large_program_prints_a_summary_not_a_flood(cli, tmp_path):
    path = tmp_path / "chain.txt"
    path.write_text("t1 = x*2\n" + "\n".join(f"t{i} = sin(t{i - 1}) + t{i - 1}" for i in range(2, 3001)))
    r = cli("backprop", "--file", str(path), "--at", "x=0.1")
    assert r.code == 0, r.err
    assert len(r.out.splitlines()) < 200
    assert "more rows" in r.out and "too many to draw" in r.out
    full = cli("backprop", "--file", str(path), "--at", "x=0.1", "--json").json["result"]
    # x, the constant 2, t1, then a sin node and an add node for each of the 2,999 later stages
    assert len(full["nodes"]) == 3 + 2 * 2999


def test_json_keeps_whole_numbers_integers(cli):
    result = cli(*WORKSHEET, "--json").json["result"]
    assert type(result["value"]) is int and all(type(g) is int for g in result["gradients"].values())
    assert type(cli("backprop", "x/3", "--at", "x=1", "--json").json["result"]["value"]) is float


@pytest.mark.parametrize("value", ["1e400", "-1e400", "1/3/4", "1" * 401])
def test_unusable_at_values_are_input_errors(cli, value):
    r = cli("backprop", "x", "--at", f"x={value}")
    assert r.code == 2 and r.err.startswith("Error: --at") and r.err.count("\n") == 1


def test_graph_source_cannot_be_mixed_with_json(cli):
    r = cli(*WORKSHEET, "--graph", "dot", "--json")
    assert r.code == 2 and "cannot be combined" in r.err and r.out == ""


def test_a_program_starting_with_minus_goes_after_double_dash(cli):
    r = cli("backprop", "--at", "x=3", "--json", "--", "-x*2")
    assert r.code == 0 and r.json["result"]["value"] == -6
