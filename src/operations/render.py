"""What the command prints (rich): tables, a progress bar on a terminal, JSON for scripts. Never a body.

Every value a letter holds reaches a table as a :func:`operations.text.cell` (escaped, cut, never markup);
JSON carries the values whole, escaped by ``json.dumps`` (ASCII only).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any, Final

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from operations.candidates import Unknown
from operations.copies import Source
from operations.redrive import Outcome, Redrive
from operations.report import CodeCount, Report, iso
from operations.selection import Place
from operations.text import cell, shown

PLAIN_WIDTH: Final = 200  # not a terminal: wide enough that a message ID never wraps
MAX_ROWS: Final = 20  # rows of a list of values (sources, invalid timestamps): the rest are counted
MAX_INVALID: Final = 3  # distinct invalid first enqueues a report's cell shows
NO_SOURCE: Final = "(none named)"


def console(file: IO[str] | None = None) -> Console:
    """A console on ``file`` (stdout by default); a pipe or file gets plain, wide text."""
    probe = Console(file=file)
    return probe if probe.is_terminal else Console(file=file, width=PLAIN_WIDTH, no_color=True)


def print_json(out: IO[str], value: dict[str, Any]) -> None:
    out.write(json.dumps(value, indent=2) + "\n")


@contextmanager
def progress(out: Console, total: int | None, description: str) -> Iterator[Callable[[int], None]]:
    """A callback for each receive's count of letters, drawing a bar on a terminal and nothing elsewhere."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=out, disable=not out.is_terminal, transient=True) as bar:
        task = bar.add_task(description, total=total)

        def advance(count: int) -> None:
            bar.advance(task, count)

        yield advance


def _moment(epoch_ms: int | None) -> str:
    """``2026-12-01 09:15:24`` (UTC): a table cell; JSON has the full ISO-8601 form."""
    text = iso(epoch_ms)
    return text[:19].replace("T", " ") if text else "-"


def _counted(values: Counter[str | None], *, none: str) -> list[tuple[Text, int]]:
    """The most common values as cells with their counts; the rest as one ``(N more)`` row."""
    rows = [(cell(value, none=none), count) for value, count in values.most_common(MAX_ROWS)]
    rest = values.total() - sum(count for _, count in rows)
    if rest:
        rows.append((Text(f"({len(values) - MAX_ROWS} more)"), rest))
    return rows


def _invalid(count: CodeCount) -> Text:
    """A code's invalid first enqueues as written, one a line (with their count when more than one)."""
    lines = [shown(value) + (f" ({n})" if n > 1 else "") for value, n in count.invalid.most_common(MAX_INVALID)]
    rest = len(count.invalid) - MAX_INVALID
    return Text("\n".join(lines + ([f"({rest} more)"] if rest > 0 else [])) or "-")


def report_table(report: Report) -> Table:
    table = Table(
        title=Text(f"Dead letters in {report.queue.url}"),
        caption=Text(
            f"seen {report.seen}; before the scan SQS counted ~{report.queue.visible} visible"
            f" and ~{report.queue.in_flight} in flight. Oldest and newest: the request's first enqueue;"
            " invalid: a first enqueue that is not epoch milliseconds, as written."
            " token / no token: with and without ClientToken; session: with PaymentSessionId."
            " first attempt (OutcomeUnknown): the token's first API call; a session may exist."
        ),
    )
    table.add_column("ErrorCode", overflow="fold")
    table.add_column("count", justify="right")
    table.add_column("oldest (UTC)", overflow="fold")
    table.add_column("newest (UTC)", overflow="fold")
    table.add_column("invalid", overflow="fold")
    for name in ("token", "no token", "session"):
        table.add_column(name, justify="right")
    table.add_column("first attempt (UTC)", overflow="fold")
    for count in report.counts:
        table.add_row(
            cell(count.error_code),
            str(count.count),
            _moment(count.oldest),
            _moment(count.newest),
            _invalid(count),
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
            cell(unknown.message_id),
            cell(unknown.client_token),
            _moment(unknown.first_attempt_at),
            cell(unknown.problem or sessions or "none"),
        )
    return table


def _first_attempts(oldest: int | None, newest: int | None) -> str:
    if oldest is None:
        return ""
    return _moment(oldest) if oldest == newest else f"{_moment(oldest)} .. {_moment(newest)}"


def sources_table(sources: Counter[str | None], title: str) -> Table:
    """Letters by the queue they came from (``SourceQueueArn``, else ``DeadLetterQueueSourceArn``)."""
    table = Table(title=Text(title))
    table.add_column("source queue", overflow="fold")
    table.add_column("count", justify="right")
    for source, count in _counted(sources, none=NO_SOURCE):
        table.add_row(source, str(count))
    return table


_SUMMARY_PLACES: Final = (Place.OTHER_QUEUE, Place.NO_QUEUE, Place.OUTCOME_UNKNOWN, Place.OVER_LIMIT)


def redrive_tables(result: Redrive) -> list[Table]:
    """The summary by ``ErrorCode``, the letters that could not be moved, and the other queues' letters."""
    moved = Outcome.WOULD_MOVE if result.dry_run else Outcome.MOVED
    summary = Table(
        title=Text(
            ("Dry run: nothing changed. " if result.dry_run else "")
            + f"{result.pair.dead_letters.url} -> {result.pair.requests.url}"
        ),
        caption=Text(
            "other queue: a letter of another queue (its SourceQueueArn or DeadLetterQueueSourceArn);"
            " no known queue: it names none and the DLQ has other sources; both stay in the DLQ."
        ),
    )
    summary.add_column("ErrorCode", overflow="fold")
    for name in ("selected", str(moved), "failed", "token kept", "token derived", *map(str, _SUMMARY_PLACES)):
        summary.add_column(name, justify="right")
    by_code: dict[str, Counter[str]] = {}
    for move in result.moves:
        counts = by_code.setdefault(move.error_code, Counter())
        counts["selected"] += 1
        counts[move.outcome] += 1
        if move.token_source is not None:
            counts[move.token_source] += 1
    for (code, place), count in result.met.items():
        if place in _SUMMARY_PLACES:
            by_code.setdefault(code, Counter())[place] += count
    keys = ("selected", moved, Outcome.FAILED, Source.KEPT, Source.DERIVED, *_SUMMARY_PLACES)
    for code, counts in sorted(by_code.items()):
        summary.add_row(cell(code), *(str(counts[key]) for key in keys))
    tables = [summary]
    if result.failed:
        failures = Table(title="Not moved (still in the DLQ)")
        failures.add_column("MessageId", overflow="fold")
        failures.add_column("ErrorCode", overflow="fold")
        failures.add_column("reason", overflow="fold")
        for move in result.failed:
            failures.add_row(cell(move.message_id), cell(move.error_code), cell(move.reason or ""))
        tables.append(failures)
    if result.elsewhere:
        tables.append(sources_table(result.elsewhere, "Left in the DLQ: letters of other queues"))
    return tables


def _sources_json(sources: Counter[str | None]) -> list[dict[str, Any]]:
    return [{"queueArn": arn, "count": count} for arn, count in sources.most_common()]


def report_json(report: Report) -> dict[str, Any]:
    return {**report.as_json(), "sourceQueues": _sources_json(report.sources)}


def redrive_json(result: Redrive) -> dict[str, Any]:
    return {
        "dlqUrl": result.pair.dead_letters.url,
        "queueUrl": result.pair.requests.url,
        "dryRun": result.dry_run,
        "selected": len(result.moves),
        "moved": sum(move.outcome is Outcome.MOVED for move in result.moves),
        "failed": len(result.failed),
        "leftForOtherQueues": result.left_elsewhere,
        "overLimit": result.count(Place.OVER_LIMIT),
        "otherSourceQueues": _sources_json(result.elsewhere),
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
