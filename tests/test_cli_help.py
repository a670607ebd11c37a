"""Every subcommand's --help works and shows runnable examples; the top-level help lists them all.

The command list comes from the Typer app itself, so commands added later are covered too.
"""

from __future__ import annotations

import re

import pytest
import typer

from cnncalc.cli import app, run

COMMANDS = sorted(typer.main.get_command(app).commands)


def help_text(capsys, monkeypatch, *argv: str) -> tuple[int, str]:
    """Run ``cnncalc *argv`` in-process; return the exit status and stdout with whitespace collapsed."""
    # A wide terminal keeps rich from wrapping; collapsing whitespace makes the checks independent of wrapping anyway.
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("TERMINAL_WIDTH", "200")
    code = run(list(argv))
    out = capsys.readouterr().out
    return code, " ".join(out.split())


def test_the_app_has_the_documented_commands():
    assert {"shape", "conv", "toeplitz"} <= set(COMMANDS)


def test_top_level_help_lists_every_command(capsys, monkeypatch):
    code, out = help_text(capsys, monkeypatch, "--help")
    assert code == 0
    for name in COMMANDS:
        assert re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", out), f"`cnncalc --help` does not list {name}"


@pytest.mark.parametrize("command", COMMANDS)
def test_command_help_has_examples(capsys, monkeypatch, command):
    code, out = help_text(capsys, monkeypatch, command, "--help")
    assert code == 0
    assert "Examples" in out, f"`cnncalc {command} --help` has no Examples section"
    examples = out[out.index("Examples") :]
    assert re.search(rf"cnncalc {re.escape(command)}(?![\w-])", examples), (
        f"`cnncalc {command} --help` shows no `cnncalc {command} ...` example"
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_short_help_option_works_too(capsys, monkeypatch, command):
    code, out = help_text(capsys, monkeypatch, command, "-h")
    assert code == 0
    assert f"Usage: cnncalc {command}" in out
