"""The shipped completion scripts: current with the app, and working in real shells."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMPLETIONS = ROOT / "completions"
BIN = Path(sys.executable).parent
CNNCALC = BIN / "cnncalc"

needs_script = pytest.mark.skipif(not CNNCALC.exists(), reason="the cnncalc console script is not installed here")


def shell_env() -> dict:
    return {"PATH": f"{BIN}{os.pathsep}/usr/bin{os.pathsep}/bin", "HOME": os.environ.get("HOME", "/tmp"), "TERM": "xterm"}


@needs_script
def test_shipped_scripts_match_what_the_app_generates():
    proc = subprocess.run(
        [sys.executable, str(COMPLETIONS / "generate.py"), "--check"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr


def bash_complete(*words: str) -> list[str]:
    """Drive the shipped bash script the way bash's programmable completion does."""
    words_literal = " ".join(f"'{w}'" for w in words)
    script = (
        f"source {COMPLETIONS / 'cnncalc.bash'}\n"
        f"COMP_WORDS=({words_literal})\n"
        f"COMP_CWORD={len(words) - 1}\n"
        "_cnncalc_completion cnncalc\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    proc = subprocess.run(["bash", "--norc", "-c", script], capture_output=True, text=True, env=shell_env(), timeout=60)
    assert proc.returncode == 0, proc.stderr
    return [line for line in proc.stdout.splitlines() if line]


@needs_script
@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
class TestBash:
    def test_subcommands(self):
        offered = bash_complete("cnncalc", "")
        assert "shape" in offered

    def test_prefix_completes_shape(self):
        assert bash_complete("cnncalc", "sh") == ["shape"]

    def test_option_names(self):
        offered = bash_complete("cnncalc", "shape", "--")
        assert {"--W", "--K", "--p", "--s", "--d", "--json"} <= set(offered)

    def test_padding_values(self):
        assert bash_complete("cnncalc", "shape", "--p", "") == ["same", "valid", "full"]
        assert bash_complete("cnncalc", "shape", "--p", "v") == ["valid"]


@needs_script
@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish():
    script = f"source {COMPLETIONS / 'cnncalc.fish'}; complete -C 'cnncalc sh'; complete -C 'cnncalc shape --p '"
    proc = subprocess.run(["fish", "--no-config", "-c", script], capture_output=True, text=True, env=shell_env(), timeout=60)
    offered = [line.split("\t")[0] for line in proc.stdout.splitlines()]
    assert "shape" in offered
    assert {"same", "valid", "full"} <= set(offered)


class Tmux:
    """A zsh in a detached tmux session, typed into with send-keys and read with capture-pane."""

    def __init__(self) -> None:
        self.name = f"cnncalc-test-{uuid.uuid4().hex[:8]}"
        env = " ".join(f"{k}={v}" for k, v in shell_env().items())
        subprocess.run(
            ["tmux", "new-session", "-d", "-s", self.name, "-x", "150", "-y", "20", f"env -i {env} zsh -f"], check=True
        )

    def send(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def screen(self) -> str:
        return subprocess.run(["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True, text=True).stdout

    def wait_for(self, text: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        return self.screen()

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


ZSH_SETUPS = {
    "autoloaded from fpath": f"fpath=({COMPLETIONS} $fpath); autoload -U compinit; compinit -u",
    "sourced after compinit": f"autoload -U compinit; compinit -u; source {COMPLETIONS / '_cnncalc'}",
}


@needs_script
@pytest.mark.skipif(shutil.which("zsh") is None or shutil.which("tmux") is None, reason="zsh or tmux is not installed")
@pytest.mark.parametrize("setup", list(ZSH_SETUPS))
def test_zsh_first_tab_completes(setup):
    term = Tmux()
    try:
        term.send(ZSH_SETUPS[setup] + "; echo READY", "Enter")
        assert "READY" in term.wait_for("\nREADY")
        term.send("cnncalc sh")
        term.wait_for("cnncalc sh")
        term.send("Tab")
        assert "cnncalc shape" in term.wait_for("cnncalc shape")
        term.send("C-u")
        term.send("cnncalc shape --p v")
        term.wait_for("--p v")
        term.send("Tab")
        assert "--p valid" in term.wait_for("--p valid")
    finally:
        term.close()


COMPLETION_PROBE = """
import os, sys
os.environ.update(_CNNCALC_COMPLETE="complete_bash", COMP_WORDS="cnncalc shape --p s", COMP_CWORD="3")
from cnncalc.cli import run
try:
    run([])
except SystemExit:
    pass
heavy = sorted(m for m in ("numpy", "sympy", "pydantic", "rich") if m in sys.modules)
print("HEAVY=" + ",".join(heavy), file=sys.stderr)
"""


def test_tab_completion_imports_nothing_heavy():
    proc = subprocess.run([sys.executable, "-c", COMPLETION_PROBE], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "same"
    assert "HEAVY=\n" in proc.stderr, proc.stderr
