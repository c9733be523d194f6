"""The demo's tables, printed with rich: aligned columns on a terminal, plain wide text in a pipe or a file."""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO, Final

from rich import box
from rich.console import Console
from rich.table import Table

PLAIN_WIDTH: Final = 250  # not a terminal: wide enough that a token or a message ID never wraps


def print_table(
    out: IO[str], headers: Sequence[str], rows: Sequence[Sequence[str]], *, title: str | None = None, indent: int = 2
) -> None:
    """``rows`` under ``headers``, one line each (cells fold on a narrow terminal rather than being cut)."""
    probe = Console(file=out)
    console = probe if probe.is_terminal else Console(file=out, width=PLAIN_WIDTH, no_color=True)
    table = Table(*headers, title=title, title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1), show_edge=False)
    for column in table.columns:
        column.overflow = "fold"
    for row in rows:
        table.add_row(*row)
    with console.capture() as capture:
        console.print(table)
    for line in capture.get().splitlines():
        out.write((" " * indent + line).rstrip() + "\n")
