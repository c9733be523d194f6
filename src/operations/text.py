"""How the command shows a value a dead letter holds: as plain text, escaped, and cut when very long.

Attributes are written by producers too, so a value may hold anything: rich markup (``[/]``), ANSI escape
sequences, control or bidirectional characters, a 256 KiB string. :func:`shown` escapes every character but
printable ASCII (``domain.errors.printable``, the same rule as the worker's ``ErrorMessage``) and cuts the
result with a marker no value can forge (the marker is not ASCII; an escaped value is). :func:`cell` wraps it
in a rich ``Text``, which rich never reads as markup.
"""

from __future__ import annotations

from typing import Final

from rich.text import Text

from domain.errors import printable

MAX_SHOWN_CHARS: Final = 120  # a table cell or a line: an ARN, a message ID and a code fit whole
CUT_MARKER: Final = "\u2026"  # "…": never in an escaped value, which is printable ASCII only


def shown(value: str, limit: int = MAX_SHOWN_CHARS) -> str:
    """``value`` escaped; when longer than ``limit``, cut and marked ``…[+N]`` (N: the characters left out)."""
    text = printable(value)
    if len(text) <= limit:
        return text
    kept: list[str] = []
    size = 0
    for index, char in enumerate(value):
        piece = printable(char)
        if size + len(piece) > limit:
            return "".join(kept) + f"{CUT_MARKER}[+{len(value) - index}]"
        kept.append(piece)
        size += len(piece)
    return "".join(kept)


def cell(value: str | None, *, none: str = "-") -> Text:
    """A table cell holding ``value`` as :func:`shown` prints it (``none`` when absent)."""
    return Text(none if value is None else shown(value))
