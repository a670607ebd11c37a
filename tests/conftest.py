"""Shared test helpers: run the real CLI in-process and capture what it prints."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from dataclasses import dataclass

import pytest

from cnncalc.cli import run
from cnncalc.env import Environment

#: Seconds after which a test calls a run hung. Speed itself is measured by the
#: benchmarks (benchmarks/), never asserted in tests, which must pass on a busy machine.
HANG_GUARD = 20.0


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def json(self) -> dict:
        return json.loads(self.out)


@pytest.fixture
def cli():
    """Call ``cli(*args, tty=False, no_color=False, stdin="")`` to run cnncalc in-process."""

    def invoke(*args: str, tty: bool = False, no_color: bool = False, stdin: str = "", width: int = 100) -> Result:
        out, err = io.StringIO(), io.StringIO()
        environment = Environment(
            stdin=io.StringIO(stdin), stdout=out, stderr=err, stdout_isatty=tty, no_color=no_color, width=width
        )
        code = run(list(args), environment)
        return Result(code, out.getvalue(), err.getvalue())

    return invoke


def run_process(*args: str, env: dict | None = None, input: str | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m cnncalc`` in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "cnncalc", *args], capture_output=True, text=True, env=env, input=input, timeout=60
    )
