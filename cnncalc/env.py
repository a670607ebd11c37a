"""One object that says where output goes and what the terminal can do.

Like httpie's ``Environment``: the CLI asks this object (never ``sys`` directly)
whether stdout is a terminal and whether colour is wanted, so tests can build
an Environment with their own streams and flip any of these.
"""

from __future__ import annotations

import os
import sys
from typing import IO


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Environment:
    """Streams plus what we know about the terminal; None means "detect it"."""

    def __init__(
        self,
        stdin: IO[str] | None = None,
        stdout: IO[str] | None = None,
        stderr: IO[str] | None = None,
        stdout_isatty: bool | None = None,
        no_color: bool | None = None,
        width: int | None = None,
    ) -> None:
        self.stdin = stdin if stdin is not None else sys.stdin
        self.stdout = stdout if stdout is not None else sys.stdout
        self.stderr = stderr if stderr is not None else sys.stderr
        self.stdout_isatty = _isatty(self.stdout) if stdout_isatty is None else stdout_isatty
        #: NO_COLOR (https://no-color.org): any non-empty value turns colour off.
        if no_color is None:
            no_color = bool(os.environ.get("NO_COLOR")) or os.environ.get("TERM") == "dumb"
        self.no_color = no_color
        self.width = width

    @property
    def rich(self) -> bool:
        """Use rich formatting (tables, colour where allowed) only on a terminal."""
        return bool(self.stdout_isatty)


def current() -> Environment:
    """The environment of the running process (read at call time, so tests can patch sys)."""
    return Environment()
