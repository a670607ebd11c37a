"""A tiny document model shared by every view: lines and tables with styles.

Plain classes, not dataclasses, because every command (and TAB completion's
import path) loads this module and dataclass creation costs startup time.

Views build these; :mod:`cnncalc.render.output` prints them either through rich
(on a terminal) or as aligned plain text (in a pipe), so no view knows which.
"""

from __future__ import annotations

from typing import Union

#: Style names views may use; the rich backend maps them to colours, plain text ignores them.
STYLES = ("answer", "heading", "dim", "note", "warn", "code", "tap")

Cell = Union[str, tuple[str, str]]  # text, or (text, style)


class Line:
    """One line (or several, separated by newlines) of text with an optional style."""

    __slots__ = ("text", "style")

    def __init__(self, text: str = "", style: str | None = None) -> None:
        self.text = text
        self.style = style


class Table:
    """Rows of cells under column headers; ``right`` lists columns to right-align (numbers)."""

    __slots__ = ("columns", "rows", "title", "show_header", "right")

    def __init__(
        self,
        columns: list[str],
        rows: list[list[Cell]] | None = None,
        title: str | None = None,
        show_header: bool = True,
        right: tuple[int, ...] = (),
    ) -> None:
        self.columns = columns
        self.rows = rows if rows is not None else []
        self.title = title
        self.show_header = show_header
        self.right = right


Block = Union[Line, Table]


def cell_text(cell: Cell) -> str:
    return cell if isinstance(cell, str) else cell[0]


def cell_style(cell: Cell) -> str | None:
    return None if isinstance(cell, str) else cell[1]
