"""The command line of ``payment-session-worker``: its options, its ``--help`` and its one-line usage errors."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, NoReturn

from operations.letters import DEFAULT_VISIBILITY_SECONDS, MAX_VISIBILITY_SECONDS, NO_ERROR_CODE
from operations.selection import POISON
from operations.status import REDRIVE_STATUSES, REPORT_STATUSES, ExitStatus, status_table

PROG: Final = "payment-session-worker"
DEFAULT_MAX_PER_SECOND: Final = 50.0

REPORT_DESCRIPTION: Final = """\
Count the dead letters of the DLQ by ErrorCode: how many, the oldest and newest request (by its first enqueue:
OriginalSentTimestamp, else SentTimestamp; a value that is not epoch milliseconds is shown as written, marked
invalid), how many carry ClientToken and PaymentSessionId, and which queues they came from. It reads the DLQ
the way a consumer does and makes every letter visible again at the end: nothing is consumed. Every value of a
letter is printed as text: escaped (anything but printable ASCII as \\xNN, \\uNNNN), cut with "\u2026[+N]" when
very long; --json gives the values whole. Bodies are never printed."""

REDRIVE_DESCRIPTION: Final = f"""\
Move dead letters back to the request queue, each deleted from the DLQ only once its copy is sent: the body
byte for byte, ClientToken kept (or derived as the first delivery derived it) and the first enqueue kept, so a
redriven request never makes a second session. Only the request queue's letters move: a letter's
SourceQueueArn, else SQS's DeadLetterQueueSourceArn, must be that queue's QueueArn (a letter naming no queue
moves when SQS lists the request queue as the DLQ's only source); other queues' letters stay, counted.

It reads the DLQ twice: first to check what it would move (the --dry-run), then, unless --dry-run, to move
it. Between the two it stops (exit 3) when an --error-code matches no letter of the request queue, and warns
when the selection holds poison, which the worker dead-letters again unless its cause was fixed (an allowed
payment manager added, say): {", ".join(sorted(POISON))}."""

REPORT_EXAMPLES: Final = f"""\
examples:
  {PROG} dlq report --stack payment-session-worker
  {PROG} dlq report --dlq-url "$DLQ_URL" --json | jq '.errorCodes[] | {{errorCode, count}}'"""

REDRIVE_EXAMPLES: Final = f"""\
examples:
  {PROG} dlq redrive --stack payment-session-worker --error-code ThrottlingException --dry-run
  {PROG} dlq redrive --stack payment-session-worker --error-code ThrottlingException --limit 10
  {PROG} dlq redrive --dlq-url "$DLQ_URL" --queue-url "$QUEUE_URL" \\
      --error-code EventPublishFailed --error-code '{NO_ERROR_CODE}' --max-per-second 20"""


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line (``PROG ...: problem (see --help)``), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(ExitStatus.BAD_INPUT, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _number(kind: type[int] | type[float], check: Callable[[float], bool], rule: str) -> Callable[[str], float]:
    """An argparse type: ``text`` as ``kind`` that passes ``check``, else a one-line error stating ``rule``."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{rule}, got {text!r}") from None
        if not check(value):
            raise argparse.ArgumentTypeError(f"{rule}, got {text!r}")
        return value

    return parse


_positive_int = _number(int, lambda value: value >= 1, "a whole number of at least 1")
_positive_float = _number(float, lambda value: value > 0, "a number above 0")
_visibility = _number(
    int, lambda value: 1 <= value <= MAX_VISIBILITY_SECONDS, f"whole seconds from 1 to {MAX_VISIBILITY_SECONDS}"
)


CANDIDATES_DESCRIPTION: Final = """\
For each OutcomeUnknown letter (a request whose first call had an unknown outcome and came back after the
token window), the payment sessions of its manager and user created near its first attempt
(ListPaymentSessions): the ones that may answer it, to look at before any redrive. Reads the DLQ, consumes
nothing; never prints a body or a userId."""

CANDIDATES_EXAMPLES: Final = f"""\
examples:
  {PROG} dlq candidates --stack payment-session-worker
  {PROG} dlq candidates --dlq-url URL --payment-manager-arn ARN --json"""


def _epilog(examples: str, statuses: tuple[ExitStatus, ...]) -> str:
    return f"{examples}\n\nexit status:\n{status_table(statuses)}"


@dataclass(frozen=True, slots=True)
class Command:
    """One ``dlq`` command as ``--help`` shows it: its one-line help, its description, examples and exit statuses."""

    name: str
    help: str
    description: str
    examples: str
    statuses: tuple[ExitStatus, ...]


COMMANDS: Final = (
    Command(
        "report",
        "the dead letters counted by ErrorCode; reads the DLQ, consumes nothing",
        REPORT_DESCRIPTION,
        REPORT_EXAMPLES,
        REPORT_STATUSES,
    ),
    Command(
        "candidates",
        "the payment sessions that may answer each OutcomeUnknown letter (ListPaymentSessions)",
        CANDIDATES_DESCRIPTION,
        CANDIDATES_EXAMPLES,
        REPORT_STATUSES,
    ),
    Command(
        "redrive",
        "move dead letters back to the request queue, token and age kept",
        REDRIVE_DESCRIPTION,
        REDRIVE_EXAMPLES,
        REDRIVE_STATUSES,
    ),
)


def parser() -> argparse.ArgumentParser:
    """``payment-session-worker dlq {report,candidates,redrive}``, each with its options."""
    root = Parser(
        prog=PROG,
        description="Operate the payment-session-worker's queues (CONTRACT section 8).",
        epilog=f"see '{PROG} dlq report --help', '{PROG} dlq redrive --help' and '{PROG} dlq candidates --help'",
    )
    groups = root.add_subparsers(dest="group", required=True, metavar="{dlq}")
    dlq = groups.add_parser("dlq", help="the dead-letter queue", description="Read or redrive the DLQ.")
    commands = dlq.add_subparsers(dest="command", required=True, metavar="{report,redrive,candidates}")
    common = _common_options()
    made = {
        command.name: commands.add_parser(
            command.name,
            parents=[common],
            help=command.help,
            description=command.description,
            epilog=_epilog(command.examples, command.statuses),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        for command in COMMANDS
    }
    _candidates_options(made["candidates"])
    _redrive_options(made["redrive"])
    return root


def _common_options() -> Parser:
    """What every command takes: where the DLQ is, how long a read letter stays hidden, JSON or tables."""
    common = Parser(add_help=False)
    common.add_argument("--stack", metavar="NAME", help="read the queue URLs from this stack's outputs")
    common.add_argument("--dlq-url", metavar="URL", help="the dead-letter queue")
    common.add_argument(
        "--visibility-timeout",
        type=_visibility,
        default=DEFAULT_VISIBILITY_SECONDS,
        metavar="SECONDS",
        help="how long a received letter stays hidden at least, should the command die before it gives the letters"
        f" back (default {DEFAULT_VISIBILITY_SECONDS}; a large DLQ adds twice the scan's expected remaining time)",
    )
    common.add_argument("--json", action="store_true", help="print JSON for scripts instead of tables")
    return common


def _candidates_options(candidates: argparse.ArgumentParser) -> None:
    candidates.add_argument("--payment-manager-arn", metavar="ARN", help="the default manager (or --stack)")
    candidates.add_argument(
        "--allowed-payment-manager-arn", action="append", default=[], metavar="ARN", help="repeatable (or --stack)"
    )
    candidates.add_argument(
        "--after-minutes",
        type=_positive_float,
        default=60.0,
        metavar="M",
        help="sessions created up to M minutes after the first attempt (default 60)",
    )


def _redrive_options(redrive: argparse.ArgumentParser) -> None:
    redrive.add_argument("--queue-url", metavar="URL", help="the request queue")
    redrive.add_argument(
        "--error-code",
        action="append",
        default=[],
        metavar="CODE",
        help=f"only letters with this ErrorCode, exactly (repeatable; '{NO_ERROR_CODE}' selects those the redrive"
        " policy moved)",
    )
    redrive.add_argument("--limit", type=_positive_int, metavar="N", help="move at most N letters")
    redrive.add_argument("--dry-run", action="store_true", help="change nothing; say what would move")
    redrive.add_argument(
        "--allow-outcome-unknown",
        action="store_true",
        help="also move OutcomeUnknown letters, clearing their attempted items first: A SECOND SESSION MAY FOLLOW",
    )
    redrive.add_argument(
        "--idempotency-table", metavar="NAME", help="the worker's idempotency table (default: the stack's output)"
    )
    redrive.add_argument(
        "--max-per-second",
        type=_positive_float,
        default=DEFAULT_MAX_PER_SECOND,
        metavar="R",
        help=f"at most R sends per second, a pace the payments API takes (default {DEFAULT_MAX_PER_SECOND:g})",
    )
