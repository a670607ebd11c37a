"""Turning results into what the user sees: rich on a terminal, plain text in a
pipe, one JSON document with ``--json``, LaTeX with ``--latex``.

Each command has a view module (``shape_view``, …) that turns its core result
into three things: text blocks (:mod:`cnncalc.render.blocks`), a JSON-ready
``(input, result)`` pair and, where it makes sense, LaTeX. :func:`emit` decides
which of them to print and how. Heavy libraries (rich) load only when used.
"""

from cnncalc.render.output import emit, Format

__all__ = ["emit", "Format"]
