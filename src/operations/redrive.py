"""``dlq redrive``: dead letters back to the request queue, each deleted only once its copy is sent.

A crash between the send and the delete leaves the letter in the DLQ with its copy in the request queue;
the next run sends it again with the same ``ClientToken`` (kept, or derived from the same message ID), so
the worker makes the same call and gets the same session: a repeat, never a loss.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from domain.errors import WorkerErrorCode
from operations.aws import error_code, is_denied
from operations.copies import CannotCopy, Copy, Source, copy_of
from operations.letters import DEFAULT_VISIBILITY_SECONDS, Letter, Scan, StillHidden
from operations.queues import QueuePair, QueueProblem
from operations.selection import Place, Selection
from operations.token_items import AttemptedItems

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


# Errors that no other message would escape: the run stops (exit 2) instead of failing every message in turn.
QUEUE_ERRORS = frozenset(
    {
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
        "InvalidAddress",
        "InvalidClientTokenId",
        "InvalidSecurity",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "KmsAccessDenied",
        "KmsDisabled",
        "KmsNotFound",
    }
)


class Outcome(StrEnum):
    MOVED = "moved"
    WOULD_MOVE = "would move"  # --dry-run
    FAILED = "failed"  # still in the DLQ (a copy may be in the request queue: see reason)


@dataclass(frozen=True, slots=True)
class Move:
    """What happened to one selected dead letter."""

    message_id: str
    error_code: str
    outcome: Outcome
    client_token: str | None = None
    token_source: Source | None = None
    reason: str | None = None


@dataclass(slots=True)
class Redrive:
    pair: QueuePair
    dry_run: bool
    moves: list[Move] = field(default_factory=list)
    met: Counter[tuple[str, Place]] = field(default_factory=Counter)  # every letter met, by (ErrorCode, place)
    elsewhere: Counter[str | None] = field(default_factory=Counter)  # letters left for other queues, by source
    stopped: QueueProblem | None = None  # the error that ended the run early (exit 2)
    still_hidden: StillHidden | None = None  # letters not moved that the scan could not make visible again

    @property
    def failed(self) -> list[Move]:
        return [move for move in self.moves if move.outcome is Outcome.FAILED]

    @property
    def left_elsewhere(self) -> int:
        """Letters of other queues, or of no known queue, that stay in the DLQ."""
        return sum(self.elsewhere.values())

    def count(self, place: Place) -> int:
        return sum(n for (_, where), n in self.met.items() if where is place)


class Pacer:
    """At most ``rate`` sends per second (``None``: no limit)."""

    def __init__(
        self,
        rate: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._interval = 1.0 / rate if rate else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0

    def wait(self) -> None:
        now = self._clock()
        if now < self._next:
            self._sleep(self._next - now)
            now = self._next
        self._next = now + self._interval


def _ends_the_run(error: ClientError | BotoCoreError) -> bool:
    """AWS unreachable, the caller refused, or the queue itself wrong: no other message would fare better.

    A request the SDK refuses to send (``ParamValidationError``: this letter's values) is this letter's only.
    """
    if isinstance(error, BotoCoreError):
        return not isinstance(error, ParamValidationError)
    return is_denied(error) or error_code(error) in QUEUE_ERRORS


class Redriver:
    """Moves the selected letters of ``pair.dead_letters`` to ``pair.requests`` (see :mod:`operations.selection`).

    A dry run reads the whole DLQ (over ``--limit`` too, counted); a run stops reading once ``limit`` letters
    were selected.
    """

    def __init__(
        self,
        sqs: SQSClient,
        pair: QueuePair,
        *,
        error_codes: Collection[str] = (),
        limit: int | None = None,
        dry_run: bool = False,
        pacer: Pacer | None = None,
        visibility_timeout: int = DEFAULT_VISIBILITY_SECONDS,
        on_read: Callable[[int], None] = lambda count: None,
        outcome_unknown: AttemptedItems | None = None,
    ) -> None:
        self._sqs = sqs
        self._pair = pair
        self._selection = Selection.of(pair, error_codes, limit, allow_outcome_unknown=outcome_unknown is not None)
        self._dry_run = dry_run
        self._pacer = pacer or Pacer(None)
        self._visibility = visibility_timeout
        self._on_read = on_read
        # OutcomeUnknown letters move only when asked for (their attempted items cleared first): a second
        # session may follow, since the first call's outcome is unknown and the service may have forgotten it.
        self._outcome_unknown = outcome_unknown

    def run(self) -> Redrive:
        """Every selected letter once; the others stay in the DLQ, untouched but for a receive, visible at the end."""
        result = Redrive(pair=self._pair, dry_run=self._dry_run)
        dlq = self._pair.dead_letters
        scan = Scan(self._sqs, dlq.url, visibility_timeout=self._visibility, expected=dlq.visible)
        try:
            self._go_through(scan, result)
        except (ClientError, BotoCoreError) as error:  # a receive failed
            result.stopped = QueueProblem(f"queue {self._pair.dead_letters.url}", error_code(error))
        finally:
            result.still_hidden = scan.release()
        return result

    def _go_through(self, scan: Scan, result: Redrive) -> None:
        selected = 0
        limit = self._selection.limit
        for batch in scan.batches():
            self._on_read(len(batch))
            for letter in batch:
                place = self._selection.place(letter, selected)
                result.met[(letter.code, place)] += 1
                if place.elsewhere:
                    result.elsewhere[letter.source_queue_arn] += 1
                if place is not Place.SELECTED:
                    continue
                selected += 1
                move, problem = self._move(letter, scan)
                if move is not None:
                    result.moves.append(move)
                if problem is not None:
                    result.stopped = problem
                    return
                if not self._dry_run and limit is not None and selected >= limit:
                    return  # the rest is not even received

    def _move(self, letter: Letter, scan: Scan) -> tuple[Move | None, QueueProblem | None]:
        """One letter: its copy sent, then the letter deleted. A problem of a queue as a whole ends the run."""
        try:
            copy = copy_of(letter, queue_url=self._pair.requests.url, fifo=self._pair.requests.fifo)
        except CannotCopy as error:
            return Move(letter.message_id, letter.code, Outcome.FAILED, reason=str(error)), None
        if self._dry_run:
            return self._done(letter, copy, Outcome.WOULD_MOVE), None
        clears = self._outcome_unknown is not None and letter.code == WorkerErrorCode.OUTCOME_UNKNOWN
        if clears and self._outcome_unknown is not None and copy.client_token is not None:
            why = self._outcome_unknown.clear(copy.client_token)
            if why is not None:
                return self._done(letter, copy, Outcome.FAILED, why), None
        self._pacer.wait()
        try:
            self._sqs.send_message(**copy.request)
        except (ClientError, BotoCoreError) as error:
            if _ends_the_run(error):
                return None, QueueProblem(f"queue {self._pair.requests.url}", error_code(error))
            return self._done(letter, copy, Outcome.FAILED, f"send failed: {error_code(error)}"), None
        try:
            self._sqs.delete_message(QueueUrl=self._pair.dead_letters.url, ReceiptHandle=letter.receipt_handle)
        except (ClientError, BotoCoreError) as error:
            failed = self._done(letter, copy, Outcome.FAILED, f"copied, not deleted: {error_code(error)}; run again")
            problem = QueueProblem(f"queue {self._pair.dead_letters.url}", error_code(error))
            return failed, problem if _ends_the_run(error) else None
        scan.forget(letter.message_id)
        return self._done(letter, copy, Outcome.MOVED), None

    @staticmethod
    def _done(letter: Letter, copy: Copy, outcome: Outcome, reason: str | None = None) -> Move:
        return Move(letter.message_id, letter.code, outcome, copy.client_token, copy.token_source, reason)
