"""Real terminals and pipes: rich on a pty, plain in a pipe, NO_COLOR, narrow widths, EPIPE."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

pexpect = pytest.importorskip("pexpect")

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
COMMAND = [sys.executable, "-m", "cnncalc", "shape", "--W", "50,100", "--K", "3,5", "--s", "2,1", "--p", "4,2", "--d", "3,1"]


def on_a_pty(args: list[str], columns: int = 100, **extra_env: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS", "TERM")}
    env.update(TERM="xterm-256color", COLUMNS=str(columns), **extra_env)
    child = pexpect.spawn(args[0], args[1:], env=env, encoding="utf-8", dimensions=(40, columns), timeout=60)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    return child.before


def test_terminal_gets_rich_colour():
    out = on_a_pty(COMMAND)
    assert re.search(r"\x1b\[[0-9;]*3[0-9]m", out), "expected colour codes on a terminal"
    assert "26 × 100" in ANSI.sub("", out)


def test_no_color_on_a_terminal():
    out = on_a_pty(COMMAND, NO_COLOR="1")
    assert not re.search(r"\x1b\[[0-9;]*3[0-9]m", out)
    assert "26 × 100" in ANSI.sub("", out)


def test_narrow_terminal_wraps_within_its_width():
    out = ANSI.sub("", on_a_pty(COMMAND, columns=50))
    lines = [line.rstrip() for line in out.replace("\r", "").splitlines()]
    assert max(len(line) for line in lines) <= 50
    assert any("26" in line for line in lines)


def test_pipe_gets_plain_text():
    proc = subprocess.run(COMMAND, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert "\x1b" not in proc.stdout
    assert "Output size: 26 × 100" in proc.stdout


def test_broken_pipe_exits_quietly(tmp_path):
    spec = tmp_path / "deep.txt"
    spec.write_text("relu\n" * 1500)
    script = f"{sys.executable} -m cnncalc shape --input 1x8 --layers @{spec} | head -n 1"
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.stderr == ""
    assert proc.returncode == 0


def test_demo_into_head_exits_quietly():
    script = f"{sys.executable} -m cnncalc demo | head -n 1"
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.stderr == ""
    assert proc.returncode == 0
