"""A tiny document model shared by every view: lines and tables with styles.

Views build these; :mod:`cnncalc.render.output` prints them either through rich
(on a terminal) or as aligned plain text (in a pipe), so no view knows which.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

#: Style names views may use; the rich backend maps them to colours, plain text ignores them.
STYLES = ("answer", "heading", "dim", "note", "warn", "code", "tap")

Cell = Union[str, tuple[str, str]]  # text, or (text, style)


@dataclass
class Line:
    """One line (or several, separated by newlines) of text with an optional style."""

    text: str = ""
    style: str | None = None


@dataclass
class Table:
    """Rows of cells under column headers."""

    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    title: str | None = None
    show_header: bool = True
    #: columns to right-align (numbers)
    right: tuple[int, ...] = ()


Block = Union[Line, Table]


def cell_text(cell: Cell) -> str:
    return cell if isinstance(cell, str) else cell[0]


def cell_style(cell: Cell) -> str | None:
    return None if isinstance(cell, str) else cell[1]
