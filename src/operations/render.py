"""What the command prints (rich): tables, a progress bar on a terminal, JSON for scripts. Never a body."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any, Final

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from operations.candidates import Unknown
from operations.copies import Source
from operations.redrive import Move, Outcome, Redrive
from operations.report import Report, iso

PLAIN_WIDTH: Final = 200  # not a terminal: wide enough that a message ID never wraps


def console(file: IO[str] | None = None) -> Console:
    """A console on ``file`` (stdout by default); a pipe or file gets plain, wide text."""
    probe = Console(file=file)
    return probe if probe.is_terminal else Console(file=file, width=PLAIN_WIDTH, no_color=True)


def print_json(out: IO[str], value: dict[str, Any]) -> None:
    out.write(json.dumps(value, indent=2) + "\n")


def _moment(epoch_ms: int | None) -> str:
    """``2026-12-01 09:15:24`` (UTC): a table cell; JSON has the full ISO-8601 form."""
    text = iso(epoch_ms)
    return text[:19].replace("T", " ") if text else "-"


def report_table(report: Report) -> Table:
    table = Table(
        title=f"Dead letters in {report.queue.url}",
        caption=(
            f"seen {report.seen}; before the scan SQS counted ~{report.queue.visible} visible"
            f" and ~{report.queue.in_flight} in flight. Oldest and newest: the request's first enqueue."
            " token / no token: with and without ClientToken; session: with PaymentSessionId."
            " first attempt (OutcomeUnknown): the token's first API call; a session may exist."
        ),
    )
    table.add_column("ErrorCode", overflow="fold")
    table.add_column("count", justify="right")
    table.add_column("oldest (UTC)", overflow="fold")
    table.add_column("newest (UTC)", overflow="fold")
    for name in ("token", "no token", "session"):
        table.add_column(name, justify="right")
    table.add_column("first attempt (UTC)", overflow="fold")
    for count in report.counts:
        table.add_row(
            count.error_code,
            str(count.count),
            _moment(count.oldest),
            _moment(count.newest),
            str(count.with_client_token),
            str(count.without_client_token),
            str(count.with_payment_session_id),
            _first_attempts(count.first_attempt_oldest, count.first_attempt_newest),
        )
    return table


def candidates_table(found: list[Unknown]) -> Table:
    """Each OutcomeUnknown letter with the sessions that may answer it (never a body or a userId)."""
    table = Table(
        title="OutcomeUnknown letters and the sessions that may answer them",
        caption="ListPaymentSessions for the request's manager and user, from a minute before the first attempt",
    )
    for name in ("message", "clientToken", "first attempt (UTC)", "candidate sessions"):
        table.add_column(name, overflow="fold")
    for unknown in found:
        sessions = ", ".join(f"{c.payment_session_id} ({c.created_at})" for c in unknown.candidates)
        table.add_row(
            unknown.message_id,
            unknown.client_token or "-",
            _moment(unknown.first_attempt_at),
            unknown.problem or sessions or "none",
        )
    return table


def _first_attempts(oldest: int | None, newest: int | None) -> str:
    if oldest is None:
        return ""
    return _moment(oldest) if oldest == newest else f"{_moment(oldest)} .. {_moment(newest)}"


@contextmanager
def progress_bar(out: Console, total: int | None, *, dry_run: bool) -> Iterator[Any]:
    """A callback for each :class:`Move`, drawing a bar on a terminal and nothing elsewhere."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=out, disable=not out.is_terminal, transient=True) as progress:
        task = progress.add_task("checking" if dry_run else "redriving", total=total)

        def advance(move: Move) -> None:
            progress.advance(task)

        yield advance


def redrive_tables(result: Redrive) -> list[Table]:
    """The summary by ``ErrorCode``, and the letters that could not be moved."""
    moved = Outcome.WOULD_MOVE if result.dry_run else Outcome.MOVED
    summary = Table(
        title=("Dry run: nothing changed. " if result.dry_run else "")
        + f"{result.pair.dead_letters.url} -> {result.pair.requests.url}"
    )
    summary.add_column("ErrorCode", overflow="fold")
    for name in ("selected", str(moved), "failed", "token kept", "token derived"):
        summary.add_column(name, justify="right")
    by_code: dict[str, Counter[str]] = {}
    for move in result.moves:
        counts = by_code.setdefault(move.error_code, Counter())
        counts["selected"] += 1
        counts[move.outcome] += 1
        if move.token_source is not None:
            counts[move.token_source] += 1
    for code, counts in sorted(by_code.items()):
        summary.add_row(
            code,
            *(str(counts[key]) for key in ("selected", moved, Outcome.FAILED, Source.KEPT, Source.DERIVED)),
        )
    tables = [summary]
    if result.failed:
        failures = Table(title="Not moved (still in the DLQ)")
        failures.add_column("MessageId", overflow="fold")
        failures.add_column("ErrorCode", overflow="fold")
        failures.add_column("reason")
        for move in result.failed:
            failures.add_row(move.message_id, move.error_code, move.reason or "")
        tables.append(failures)
    return tables


def redrive_json(result: Redrive) -> dict[str, Any]:
    return {
        "dlqUrl": result.pair.dead_letters.url,
        "queueUrl": result.pair.requests.url,
        "dryRun": result.dry_run,
        "selected": len(result.moves),
        "moved": sum(move.outcome is Outcome.MOVED for move in result.moves),
        "failed": len(result.failed),
        "stopped": result.stopped.line() if result.stopped else None,
        "stillHidden": result.still_hidden.as_json() if result.still_hidden else None,
        "messages": [
            {
                "messageId": move.message_id,
                "errorCode": move.error_code,
                "outcome": str(move.outcome),
                "clientToken": move.client_token,
                "tokenSource": str(move.token_source) if move.token_source else None,
                "reason": move.reason,
            }
            for move in result.moves
        ],
    }
