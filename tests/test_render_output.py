"""The text backends: aligned plain text in pipes, rich on terminals."""

from __future__ import annotations

import io

from cnncalc.env import Environment
from cnncalc.render.blocks import Line, Table
from cnncalc.render.output import plain_text, write_blocks


def test_plain_table_aligns_columns_and_right_aligns_numbers():
    table = Table(["name", "value"], [["a", "1"], ["long", ("100", "answer")]], right=(1,))
    lines = plain_text([Line("title"), table]).splitlines()
    assert lines[0] == "title"
    assert lines[1] == "name  value"
    assert lines[3] == "a         1"
    assert lines[4] == "long    100"


def test_brackets_in_user_text_are_not_rich_markup():
    out = io.StringIO()
    env = Environment(stdout=out, stdout_isatty=True, no_color=True, width=80)
    write_blocks(env, [Line("[bold]x[/bold] [[1,2]]")])
    assert "[bold]x[/bold] [[1,2]]" in out.getvalue()


def test_no_color_removes_colour_but_keeps_layout():
    out = io.StringIO()
    env = Environment(stdout=out, stdout_isatty=True, no_color=True, width=80)
    write_blocks(env, [Line("answer", "answer"), Table(["a"], [["1"]])])
    text = out.getvalue()
    assert "answer" in text
    assert "\x1b[32" not in text  # green


def test_colour_on_a_terminal():
    out = io.StringIO()
    env = Environment(stdout=out, stdout_isatty=True, no_color=False, width=80)
    write_blocks(env, [Line("answer", "answer")])
    assert "\x1b[" in out.getvalue()


def test_environment_reads_no_color(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    assert Environment(stdout=io.StringIO()).no_color
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "xterm")
    assert not Environment(stdout=io.StringIO()).no_color
