"""The command's exit statuses (CONTRACT section 8): one table, which ``--help`` prints and the code returns."""

from __future__ import annotations

import textwrap
from enum import IntEnum
from typing import Final


class ExitStatus(IntEnum):
    OK = 0
    NOT_MOVED = 1  # a selected letter could not be moved; named, still in the DLQ
    BAD_INPUT = 2  # usage, an unreachable endpoint, a missing queue or permission, queues that do not belong
    NO_MATCH = 3  # an --error-code matched no letter of the request queue: nothing moved
    OTHER_QUEUES = 4  # the selected letters moved; letters of other queues (or of no known queue) stay


MEANINGS: Final[dict[ExitStatus, str]] = {
    ExitStatus.OK: "done",
    ExitStatus.NOT_MOVED: "a selected letter could not be moved: named on stderr, still in the DLQ",
    ExitStatus.BAD_INPUT: (
        "bad input: usage, an unreachable endpoint, a missing queue, stack or permission (redrive: queues that"
        " do not belong together); one line on stderr; nothing moved (redrive, mid-run: nothing more)"
    ),
    ExitStatus.NO_MATCH: "an --error-code matches no letter of the request queue: one line on stderr; nothing moved",
    ExitStatus.OTHER_QUEUES: (
        "every selected letter moved; letters of other queues (a shared DLQ) or of no known queue stay in the DLQ,"
        " counted in the summary"
    ),
}

REPORT_STATUSES: Final = (ExitStatus.OK, ExitStatus.BAD_INPUT)
REDRIVE_STATUSES: Final = tuple(ExitStatus)


def status_table(statuses: tuple[ExitStatus, ...], width: int = 100) -> str:
    """The exit statuses of one command, one entry each, for its ``--help``."""
    return "\n".join(
        textwrap.fill(MEANINGS[status], width, initial_indent=f"  {int(status)}  ", subsequent_indent=" " * 5)
        for status in statuses
    )
