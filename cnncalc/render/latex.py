"""LaTeX building blocks shared by the views: matrices with elision, align blocks."""

from __future__ import annotations

from typing import Sequence

#: Matrices larger than this (per side) are elided with \cdots / \vdots / \ddots.
MAX_SIDE = 8


def elide(n: int, keep: int) -> list[int | None]:
    """Indices to show out of n, with None where an ellipsis goes."""
    if n <= keep:
        return list(range(n))
    head = keep // 2
    tail = keep - head - 1
    return list(range(head)) + [None] + list(range(n - tail, n))


def bmatrix(rows: Sequence[Sequence[str]], max_side: int = MAX_SIDE) -> str:
    """A bmatrix of already-formatted entries; large ones keep the corners and elide the middle."""
    nrows = len(rows)
    ncols = len(rows[0]) if nrows else 0
    row_idx = elide(nrows, max_side)
    col_idx = elide(ncols, max_side)
    lines = []
    for r in row_idx:
        cells = []
        for c in col_idx:
            if r is None and c is None:
                cells.append(r"\ddots")
            elif r is None:
                cells.append(r"\vdots")
            elif c is None:
                cells.append(r"\cdots")
            else:
                cells.append(rows[r][c])
        lines.append(" & ".join(cells))
    body = " \\\\\n".join(lines)
    return "\\begin{bmatrix}\n" + body + "\n\\end{bmatrix}"


def align(lines: Sequence[str]) -> str:
    """An align* block, one equation per line (each should contain an & anchor)."""
    return "\\begin{align*}\n" + " \\\\\n".join(lines) + "\n\\end{align*}"
