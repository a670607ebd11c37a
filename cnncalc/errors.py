"""The two kinds of failure the CLI maps to exit codes.

Core functions raise these with a message that already names the option (or
stage, or layer), the offending value and the rule it breaks, so the CLI can
print it as one line on stderr without knowing which core function failed.
"""

from __future__ import annotations


class CnnCalcError(Exception):
    """Base class; ``exit_code`` is what the process exits with."""

    exit_code = 2


class InputError(CnnCalcError):
    """The user's input is invalid (usage error): exit status 2."""

    exit_code = 2


class DomainError(CnnCalcError):
    """The input is well-formed but the computation cannot be done: exit status 1."""

    exit_code = 1
