"""The README's examples run: every `cnncalc` line in a ```sh block must succeed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
BIN = Path(sys.executable).parent


def shell_examples() -> list[str]:
    """Lines of ```sh blocks that run cnncalc (comments after # dropped; set-up lines skipped)."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", README, flags=re.S):
        for line in block.splitlines():
            line = line.strip()
            if line.startswith("cnncalc "):
                commands.append(re.sub(r"\s+#\s.*$", "", line))
    return commands


EXAMPLES = shell_examples()


def test_the_readme_opens_with_the_two_setup_commands():
    first_block = re.search(r"```sh\n(.*?)```", README, flags=re.S).group(1).strip().splitlines()
    assert first_block[0].startswith("pip install . && cnncalc ")
    assert first_block[1] == "pip install '.[test]' && pytest"
    ci = (ROOT / ".ci" / "run").read_text()
    assert "\npip install '.[test]' && pytest\n" in ci


def test_there_are_examples():
    assert len(EXAMPLES) >= 10


@pytest.mark.skipif(not (BIN / "cnncalc").exists(), reason="the cnncalc console script is not installed here")
@pytest.mark.parametrize("command", EXAMPLES)
def test_example_runs(command):
    if "| jq" in command and shutil.which("jq") is None:
        pytest.skip("jq is not installed")
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True, env=env, timeout=120, cwd=ROOT
    )
    assert proc.returncode == 0, f"{command}\n{proc.stderr}"
    assert proc.stdout.strip(), command
    assert "Traceback" not in proc.stderr
