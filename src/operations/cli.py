"""``payment-session-worker``: the operator's command (CONTRACT section 8); exit statuses in ``operations.status``.

What it prints on stderr is one line each, ``payment-session-worker: ...``; a value of a letter in it is escaped.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError

from domain.errors import WorkerErrorCode
from domain.parsing import ManagerPolicy
from operations import render
from operations.arguments import PROG, parser
from operations.aws import cloudformation_client, error_code, sqs_client
from operations.candidates import agentcore_client, candidates, stack_managers
from operations.letters import StillHidden
from operations.queues import QueuePair, QueueProblem, check_pair, stack_queue_urls
from operations.redrive import Pacer, Redrive, Redriver
from operations.report import report
from operations.selection import poison, unmatched
from operations.status import ExitStatus
from operations.text import shown
from operations.token_items import AttemptedItems, dynamodb_client, stack_table_name

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


def say(line: str) -> None:
    """One line on stderr (its letter values already escaped by the caller)."""
    print(f"{PROG}: {line}", file=sys.stderr)


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
    sqs = sqs_client()
    with render.progress(render.console(sys.stderr), None, "reading") as advance:
        result = report(sqs, dlq_url, visibility_timeout=arguments.visibility_timeout, on_read=advance)
    if arguments.json:
        render.print_json(sys.stdout, render.report_json(result))
    else:
        out = render.console()
        out.print(render.report_table(result))
        out.print(render.sources_table(result.sources, "By source queue"))
    _warn_still_hidden(result.still_hidden, dlq_url)
    return ExitStatus.OK


def _pass(
    sqs: SQSClient,
    arguments: argparse.Namespace,
    pair: QueuePair,
    *,
    dry_run: bool,
    outcome_unknown: AttemptedItems | None,
) -> Redrive:
    """One read of the DLQ: a dry run (the check before any move), or the moves."""
    total = pair.dead_letters.visible  # letters read, of those SQS counted
    with render.progress(render.console(sys.stderr), total, "checking" if dry_run else "redriving") as advance:
        return Redriver(
            sqs,
            pair,
            error_codes=arguments.error_code,
            limit=arguments.limit,
            dry_run=dry_run,
            pacer=Pacer(arguments.max_per_second),
            visibility_timeout=arguments.visibility_timeout,
            on_read=advance,
            outcome_unknown=outcome_unknown,
        ).run()


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
    outcome_unknown = _outcome_unknown(arguments)
    result = _pass(sqs, arguments, pair, dry_run=True, outcome_unknown=outcome_unknown)
    phrases = unmatched(arguments.error_code, result.met) if result.stopped is None else []
    if phrases:
        _warn_still_hidden(result.still_hidden, dlq_url)
        say("; ".join(phrases) + "; nothing moved")
        return ExitStatus.NO_MATCH
    selected_poison = poison(move.error_code for move in result.moves)
    if selected_poison:
        counts = ", ".join(f"{shown(code)} {count}" for code, count in sorted(selected_poison.items()))
        verb = "would move" if arguments.dry_run else "moves"
        say(
            f"warning: this redrive {verb} poison ({counts}): the worker dead-letters it again unless its cause"
            " is fixed"
        )
    if not arguments.dry_run and result.stopped is None:
        if result.still_hidden is not None:  # the check could not give them back: they return on their timeout
            _warn_still_hidden(result.still_hidden, dlq_url)
            say(f"waiting {result.still_hidden.seconds} s for them before moving")
            time.sleep(result.still_hidden.seconds)
        result = _pass(sqs, arguments, pair, dry_run=False, outcome_unknown=outcome_unknown)
    if arguments.json:
        render.print_json(sys.stdout, render.redrive_json(result))
    else:
        out = render.console()
        for table in render.redrive_tables(result):
            out.print(table)
    _warn_still_hidden(result.still_hidden, dlq_url)
    return _redrive_status(result)


def _redrive_status(result: Redrive) -> int:
    if result.stopped is not None:
        say(result.stopped.line())
        return ExitStatus.BAD_INPUT
    if result.failed:
        names = ", ".join(shown(move.message_id) for move in result.failed)
        say(f"{len(result.failed)} selected message(s) not moved: {names}")
        return ExitStatus.NOT_MOVED
    if result.left_elsewhere:
        say(
            f"{result.left_elsewhere} letter(s) of other queues, or of no known queue, stay in the DLQ"
            f" (not {result.pair.requests.arn}'s)"
        )
        return ExitStatus.OTHER_QUEUES
    return ExitStatus.OK


def _outcome_unknown(arguments: argparse.Namespace) -> AttemptedItems | None:
    """The attempted items to clear when OutcomeUnknown letters are to move (``--allow-outcome-unknown``)."""
    if not arguments.allow_outcome_unknown:
        if WorkerErrorCode.OUTCOME_UNKNOWN in arguments.error_code:
            raise QueueProblem("OutcomeUnknown letters", "NotAllowed", "they move only with --allow-outcome-unknown")
        return None
    table = arguments.idempotency_table or (
        stack_table_name(cloudformation_client(), arguments.stack) if arguments.stack else None
    )
    if table is None:
        raise QueueProblem("OutcomeUnknown letters", "NoTable", "give --idempotency-table NAME or --stack NAME")
    say(
        "warning: OutcomeUnknown letters are sent again: their first call's outcome is unknown and a"
        " second session may follow (list the candidate sessions first)"
    )
    return AttemptedItems(dynamodb_client(), table)


def _warn_still_hidden(still_hidden: StillHidden | None, dlq_url: str) -> None:
    if still_hidden is not None:
        say(still_hidden.line(dlq_url))


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
        say(problem.line())
    except BotoCoreError as error:  # no region or credentials: before any queue is named
        say(f"AWS SDK: {error_code(error)} ({error})")
    return ExitStatus.BAD_INPUT
