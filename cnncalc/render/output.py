"""Print a view's blocks, JSON or LaTeX to the environment's stdout.

The only place that decides between rich (a terminal), plain text (a pipe or a
file), ``--json`` and ``--latex``. rich is imported only on the rich path, so
piped and JSON output stay fast.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Callable, Iterable, Protocol

from cnncalc.env import Environment
from cnncalc.render.blocks import Block, Line, Table, cell_style, cell_text


class Format(str, Enum):
    TEXT = "text"
    JSON = "json"
    LATEX = "latex"
    CSV = "csv"


class View(Protocol):
    """What a command's view module provides."""

    text: Callable[[Any], list[Block]]
    json: Callable[[Any], tuple[dict, dict]]


#: rich styles for the style names views use.
RICH_STYLES = {
    "answer": "bold green",
    "heading": "bold",
    "dim": "dim",
    "note": "cyan",
    "warn": "yellow",
    "code": "magenta",
    "tap": "bold cyan",
}


class OutputClosed(Exception):
    """stdout's reader went away (``| head``). Not an OSError, so Typer lets it through to cli.run."""


def emit(env: Environment, command: str, view: Any, result: Any, fmt: Format = Format.TEXT) -> None:
    """Write ``result`` through ``view`` in the requested format."""
    try:
        _emit(env, command, view, result, fmt)
    except BrokenPipeError:
        raise OutputClosed() from None


def _emit(env: Environment, command: str, view: Any, result: Any, fmt: Format) -> None:
    if fmt is Format.JSON:
        from cnncalc.render.jsonout import document

        input_doc, result_doc = view.json(result)
        env.stdout.write(document(command, input_doc, result_doc) + "\n")
    elif fmt in (Format.LATEX, Format.CSV):
        writer = getattr(view, fmt.value, None)
        if writer is None:
            from cnncalc.errors import InputError

            raise InputError(f"--{fmt.value} is not available for this use of {command}")
        env.stdout.write(writer(result).rstrip("\n") + "\n")
    else:
        write_blocks(env, view.text(result))
    env.stdout.flush()


def write_blocks(env: Environment, blocks: Iterable[Block]) -> None:
    """Rich on a terminal, aligned plain text otherwise."""
    try:
        if env.rich:
            _write_rich(env, blocks)
        else:
            env.stdout.write(plain_text(blocks))
            env.stdout.flush()
    except BrokenPipeError:
        raise OutputClosed() from None


# --- plain text ----------------------------------------------------------


def plain_text(blocks: Iterable[Block]) -> str:
    """Blocks as plain text: no escape codes, columns aligned with spaces."""
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Line):
            out.append(block.text)
        else:
            out.extend(_plain_table(block))
    return "\n".join(out) + "\n"


def _plain_table(table: Table) -> list[str]:
    rows = [[cell_text(c) for c in row] for row in table.rows]
    header = list(table.columns) if table.show_header else None
    all_rows = ([header] if header else []) + rows
    ncols = max((len(r) for r in all_rows), default=0)
    widths = [max((len(r[i]) for r in all_rows if i < len(r)), default=0) for i in range(ncols)]

    def fmt(row: list[str]) -> str:
        cells = []
        for i, text in enumerate(row):
            cells.append(text.rjust(widths[i]) if i in table.right else text.ljust(widths[i]))
        return "  ".join(cells).rstrip()

    lines = [table.title] if table.title else []
    if header:
        lines.append(fmt(header))
        lines.append("  ".join("-" * w for w in widths))
    lines.extend(fmt(r) for r in rows)
    return lines


# --- rich ----------------------------------------------------------------


def _write_rich(env: Environment, blocks: Iterable[Block]) -> None:
    from rich.console import Console
    from rich.table import Table as RichTable
    from rich.text import Text

    console = Console(
        file=env.stdout,
        force_terminal=True,
        no_color=env.no_color,
        width=env.width,
        highlight=False,
    )

    def text(value: str, style: str | None) -> Text:
        return Text(value, style=RICH_STYLES.get(style or "", ""))

    for block in blocks:
        if isinstance(block, Line):
            console.print(text(block.text, block.style))
            continue
        table = RichTable(
            title=block.title,
            show_header=block.show_header,
            header_style="bold",
            box=None if not block.show_header else _box(),
            title_justify="left",
        )
        for i, column in enumerate(block.columns):
            table.add_column(column, justify="right" if i in block.right else "left", overflow="fold")
        for row in block.rows:
            table.add_row(*(text(cell_text(c), cell_style(c)) for c in row))
        console.print(table)


def _box() -> Any:
    from rich import box

    return box.SIMPLE_HEAD
