"""One object that says where output goes and what the terminal can do.

Like httpie's ``Environment``: the CLI asks this object (never ``sys`` directly)
whether stdout is a terminal and whether colour is wanted, so tests can build
an Environment with their own streams and flip any of these.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import IO


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


@dataclass
class Environment:
    stdin: IO[str] = field(default_factory=lambda: sys.stdin)
    stdout: IO[str] = field(default_factory=lambda: sys.stdout)
    stderr: IO[str] = field(default_factory=lambda: sys.stderr)
    stdout_isatty: bool | None = None
    #: NO_COLOR (https://no-color.org): any non-empty value turns colour off.
    no_color: bool | None = None
    width: int | None = None

    def __post_init__(self) -> None:
        if self.stdout_isatty is None:
            self.stdout_isatty = _isatty(self.stdout)
        if self.no_color is None:
            self.no_color = bool(os.environ.get("NO_COLOR")) or os.environ.get("TERM") == "dumb"

    @property
    def rich(self) -> bool:
        """Use rich formatting (tables, colour where allowed) only on a terminal."""
        return bool(self.stdout_isatty)


def current() -> Environment:
    """The environment of the running process (read at call time, so tests can patch sys)."""
    return Environment()
