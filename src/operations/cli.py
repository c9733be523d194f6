"""``payment-session-worker``: the operator's command (CONTRACT section 8).

Exit status: 0 done; 1 a selected message could not be moved (named in the output); 2 bad input (usage, an
unreachable endpoint, a missing queue or permission, queues that do not belong together): nothing moved, or,
when it happens mid-run, nothing more.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Final

from botocore.exceptions import BotoCoreError

from domain.parsing import ManagerPolicy
from operations import render
from operations.aws import cloudformation_client, error_code, sqs_client
from operations.candidates import agentcore_client, candidates, stack_managers
from operations.letters import DEFAULT_VISIBILITY_SECONDS, StillHidden
from operations.queues import QueueProblem, check_pair, stack_queue_urls
from operations.redrive import OUTCOME_UNKNOWN, Pacer, Redriver
from operations.report import report
from operations.token_items import AttemptedItems, dynamodb_client, stack_table_name

PROG: Final = "payment-session-worker"
DEFAULT_MAX_PER_SECOND: Final = 50.0
EXIT_NOT_MOVED: Final = 1
EXIT_BAD_INPUT: Final = 2


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


def _visibility(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 43_200:
        raise argparse.ArgumentTypeError(f"must be 1..43200 seconds (SQS's range), got {value}")
    return value


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog=PROG, description="Operate the payment-session-worker's queues.")
    groups = root.add_subparsers(dest="group", required=True, metavar="{dlq}")
    dlq = groups.add_parser("dlq", help="the dead-letter queue").add_subparsers(
        dest="command", required=True, metavar="{report,redrive,candidates}"
    )

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--stack", metavar="NAME", help="read the queue URLs from this stack's outputs")
    common.add_argument("--dlq-url", metavar="URL", help="the dead-letter queue")
    common.add_argument(
        "--visibility-timeout",
        type=_visibility,
        default=DEFAULT_VISIBILITY_SECONDS,
        metavar="SECONDS",
        help=f"how long a received letter stays hidden before it is released (default {DEFAULT_VISIBILITY_SECONDS})",
    )
    common.add_argument("--json", action="store_true", help="print JSON for scripts instead of tables")

    dlq.add_parser(
        "report", parents=[common], help="the dead letters counted by ErrorCode; reads the DLQ, consumes nothing"
    )
    candidates_ = dlq.add_parser(
        "candidates",
        parents=[common],
        help="the payment sessions that may answer each OutcomeUnknown letter (ListPaymentSessions)",
    )
    candidates_.add_argument("--payment-manager-arn", metavar="ARN", help="the default manager (or --stack)")
    candidates_.add_argument(
        "--allowed-payment-manager-arn", action="append", default=[], metavar="ARN", help="repeatable (or --stack)"
    )
    candidates_.add_argument(
        "--after-minutes",
        type=_positive_float,
        default=60.0,
        metavar="M",
        help="sessions created up to M minutes after the first attempt (default 60)",
    )
    redrive = dlq.add_parser(
        "redrive", parents=[common], help="move dead letters back to the request queue, token and age kept"
    )
    redrive.add_argument("--queue-url", metavar="URL", help="the request queue")
    redrive.add_argument(
        "--error-code",
        action="append",
        default=[],
        metavar="CODE",
        help="only letters with this ErrorCode (repeatable; '(none)' selects those the redrive policy moved)",
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
    return root


def _urls(arguments: argparse.Namespace, usage: argparse.ArgumentParser) -> tuple[str, str | None]:
    """``(dlq_url, queue_url)`` from the URLs or the stack; a usage error when neither or both are given."""
    wants_queue = arguments.command == "redrive"
    given = [arguments.dlq_url, arguments.queue_url] if wants_queue else [arguments.dlq_url]
    if arguments.stack:
        if any(given):
            usage.error("--stack replaces --dlq-url and --queue-url: give one or the other")
        dlq_url, queue_url = stack_queue_urls(cloudformation_client(), arguments.stack)
        return dlq_url, queue_url if wants_queue else None
    if not all(given):
        usage.error("give --stack NAME, or " + ("--dlq-url and --queue-url" if wants_queue else "--dlq-url"))
    return arguments.dlq_url, arguments.queue_url if wants_queue else None


def _report(arguments: argparse.Namespace, dlq_url: str) -> int:
    result = report(sqs_client(), dlq_url, visibility_timeout=arguments.visibility_timeout)
    if arguments.json:
        render.print_json(sys.stdout, result.as_json())
    else:
        render.console().print(render.report_table(result))
    _warn_still_hidden(result.still_hidden, dlq_url)
    return 0


def _candidates(arguments: argparse.Namespace, dlq_url: str, usage: argparse.ArgumentParser) -> int:
    if arguments.stack:
        managers = stack_managers(cloudformation_client(), arguments.stack)
    elif arguments.payment_manager_arn:
        managers = ManagerPolicy(arguments.payment_manager_arn, frozenset(arguments.allowed_payment_manager_arn))
    else:
        usage.error("give --stack NAME or --payment-manager-arn ARN")
    found = candidates(
        sqs_client(),
        agentcore_client(),
        dlq_url,
        managers,
        after_minutes=arguments.after_minutes,
        visibility_timeout=arguments.visibility_timeout,
    )
    if arguments.json:
        render.print_json(sys.stdout, {"outcomeUnknown": [unknown.as_json() for unknown in found]})
    else:
        render.console().print(render.candidates_table(found))
    return 0


def _redrive(arguments: argparse.Namespace, dlq_url: str, queue_url: str) -> int:
    sqs = sqs_client()
    pair = check_pair(sqs, dlq_url=dlq_url, queue_url=queue_url)
    total = pair.dead_letters.visible if not arguments.error_code else None
    if total is not None and arguments.limit is not None:
        total = min(total, arguments.limit)
    outcome_unknown = _outcome_unknown(arguments)
    with render.progress_bar(render.console(sys.stderr), total, dry_run=arguments.dry_run) as advance:
        result = Redriver(
            sqs,
            pair,
            error_codes=arguments.error_code,
            limit=arguments.limit,
            dry_run=arguments.dry_run,
            pacer=Pacer(arguments.max_per_second),
            visibility_timeout=arguments.visibility_timeout,
            on_move=advance,
            outcome_unknown=outcome_unknown,
        ).run()
    if arguments.json:
        render.print_json(sys.stdout, render.redrive_json(result))
    else:
        out = render.console()
        for table in render.redrive_tables(result):
            out.print(table)
    _warn_still_hidden(result.still_hidden, dlq_url)
    if result.stopped is not None:
        print(f"{PROG}: {result.stopped.line()}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if result.failed:
        names = ", ".join(move.message_id for move in result.failed)
        print(f"{PROG}: {len(result.failed)} selected message(s) not moved: {names}", file=sys.stderr)
        return EXIT_NOT_MOVED
    return 0


def _outcome_unknown(arguments: argparse.Namespace) -> AttemptedItems | None:
    """The attempted items to clear when OutcomeUnknown letters are to move (``--allow-outcome-unknown``)."""
    if not arguments.allow_outcome_unknown:
        if OUTCOME_UNKNOWN in arguments.error_code:
            raise QueueProblem("OutcomeUnknown letters", "NotAllowed", "they move only with --allow-outcome-unknown")
        return None
    table = arguments.idempotency_table or (
        stack_table_name(cloudformation_client(), arguments.stack) if arguments.stack else None
    )
    if table is None:
        raise QueueProblem("OutcomeUnknown letters", "NoTable", "give --idempotency-table NAME or --stack NAME")
    print(
        f"{PROG}: warning: OutcomeUnknown letters are sent again: their first call's outcome is unknown and a"
        " second session may follow (list the candidate sessions first)",
        file=sys.stderr,
    )
    return AttemptedItems(dynamodb_client(), table)


def _warn_still_hidden(still_hidden: StillHidden | None, dlq_url: str) -> None:
    if still_hidden is not None:
        print(f"{PROG}: {still_hidden.line(dlq_url)}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """The console script's entry point; returns the exit status."""
    usage = parser()
    arguments = usage.parse_args(argv)
    try:
        dlq_url, queue_url = _urls(arguments, usage)
        if arguments.command == "candidates":
            return _candidates(arguments, dlq_url, usage)
        if queue_url is None:
            return _report(arguments, dlq_url)
        return _redrive(arguments, dlq_url, queue_url)
    except QueueProblem as problem:
        print(f"{PROG}: {problem.line()}", file=sys.stderr)
    except BotoCoreError as error:  # no region or credentials: before any queue is named
        print(f"{PROG}: AWS SDK: {error_code(error)} ({error})", file=sys.stderr)
    return EXIT_BAD_INPUT
