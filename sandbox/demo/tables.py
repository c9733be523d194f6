"""The demo's tables, printed with rich: aligned columns, no cell ever broken (a URL, an ARN, a token stays whole
and can be copied), plain text in a pipe or a file."""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO, Any, Final

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

UNBOUNDED: Final = 100_000  # the width a table is measured in: its natural width, every cell on one line


def dash(value: Any) -> str:
    """A value as printed: ``-`` for a value that is absent (``None`` or empty), never ``None``."""
    return "-" if value is None or value == "" else str(value)


def print_table(
    out: IO[str], headers: Sequence[str], rows: Sequence[Sequence[str]], *, title: str | None = None, indent: int = 2
) -> None:
    """``rows`` under ``headers``, one line each, as wide as the widest row needs: on a narrow terminal a line
    runs past its edge (the terminal wraps it, as it does a long URL) rather than a cell breaking mid-word."""
    probe = Console(file=out)
    table = Table(*headers, title=title, title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1), show_edge=False)
    for column in table.columns:
        column.no_wrap = True
    for row in rows:
        table.add_row(*row)
    width = Measurement.get(probe, probe.options.update(width=UNBOUNDED), table).maximum
    console = Console(file=out, width=width, no_color=not probe.is_terminal)
    with console.capture() as capture:
        console.print(table)
    for line in capture.get().splitlines():
        out.write((" " * indent + line).rstrip() + "\n")
