"""``dlq report``: the dead letters counted by ``ErrorCode`` (CONTRACT section 8). Counts only, never a body."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from operations.aws import error_code
from operations.letters import DEFAULT_VISIBILITY_SECONDS, Letter, Scan, StillHidden
from operations.queues import QueueInfo, QueueProblem, describe_queue

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


@dataclass(slots=True)
class CodeCount:
    """The dead letters of one ``ErrorCode``; oldest and newest by the request's first enqueue (epoch ms).

    A first enqueue that is not epoch milliseconds of a date is counted in ``invalid`` as it is written.
    """

    error_code: str
    count: int = 0
    oldest: int | None = None
    newest: int | None = None
    with_client_token: int = 0
    with_payment_session_id: int = 0
    first_attempt_oldest: int | None = None  # OutcomeUnknown: the earliest and latest FirstAttemptAt (epoch ms)
    first_attempt_newest: int | None = None
    invalid: Counter[str] = field(default_factory=Counter)  # first enqueue as written -> letters

    @property
    def without_client_token(self) -> int:
        return self.count - self.with_client_token

    def as_json(self) -> dict[str, Any]:
        """The figures for scripts; ``firstAttempt*`` only for letters that carry ``FirstAttemptAt``."""
        out: dict[str, Any] = {
            "errorCode": self.error_code,
            "count": self.count,
            "oldest": iso(self.oldest),
            "newest": iso(self.newest),
            "withClientToken": self.with_client_token,
            "withoutClientToken": self.without_client_token,
            "withPaymentSessionId": self.with_payment_session_id,
            "invalidFirstEnqueue": [{"value": text, "count": n} for text, n in self.invalid.most_common()],
        }
        if self.first_attempt_oldest is not None:
            out["firstAttemptOldest"] = iso(self.first_attempt_oldest)
            out["firstAttemptNewest"] = iso(self.first_attempt_newest)
        return out

    def add(self, letter: Letter) -> None:
        self.count += 1
        self.with_client_token += letter.client_token is not None
        self.with_payment_session_id += letter.payment_session_id is not None
        attempted = letter.first_attempt_at
        if attempted is not None:
            self.first_attempt_oldest = min(attempted, self.first_attempt_oldest or attempted)
            self.first_attempt_newest = max(attempted, self.first_attempt_newest or attempted)
        enqueued = letter.first_enqueue
        if enqueued is None:
            return
        if enqueued.millis is None:
            self.invalid[enqueued.text] += 1
            return
        self.oldest = enqueued.millis if self.oldest is None else min(self.oldest, enqueued.millis)
        self.newest = enqueued.millis if self.newest is None else max(self.newest, enqueued.millis)


@dataclass(frozen=True, slots=True)
class Report:
    queue: QueueInfo  # as SQS counted it before the scan
    counts: list[CodeCount]  # by ErrorCode, most letters first
    sources: Counter[str | None]  # letters by the queue they came from (None: no queue named)
    still_hidden: StillHidden | None = None  # letters the scan could not make visible again

    @property
    def seen(self) -> int:
        return sum(count.count for count in self.counts)

    def as_json(self) -> dict[str, Any]:
        """The report for scripts: the same figures, timestamps as ISO-8601 UTC."""
        return {
            "queueUrl": self.queue.url,
            "approximateNumberOfMessages": self.queue.visible,
            "approximateNumberOfMessagesNotVisible": self.queue.in_flight,
            "seen": self.seen,
            "errorCodes": [count.as_json() for count in self.counts],
            "stillHidden": self.still_hidden.as_json() if self.still_hidden else None,
        }


def iso(epoch_ms: int | None) -> str | None:
    """Epoch milliseconds as ISO-8601 with a UTC offset."""
    if epoch_ms is None:
        return None
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).isoformat(timespec="seconds")


def count_by_code(letters: Iterable[Letter]) -> list[CodeCount]:
    """The letters counted by ``ErrorCode``, most letters first (then by code)."""
    counts: dict[str, CodeCount] = {}
    for letter in letters:
        counts.setdefault(letter.code, CodeCount(letter.code)).add(letter)
    return sorted(counts.values(), key=lambda count: (-count.count, count.error_code))


def report(
    sqs: SQSClient,
    dlq_url: str,
    *,
    visibility_timeout: int = DEFAULT_VISIBILITY_SECONDS,
    on_read: Callable[[int], None] = lambda count: None,
) -> Report:
    """Read the whole DLQ without consuming it (see :class:`operations.letters.Scan`) and count it.

    ``on_read`` is told how many letters each receive brought (the progress bar).
    """
    queue = describe_queue(sqs, dlq_url)
    scan = Scan(sqs, dlq_url, visibility_timeout=visibility_timeout, expected=queue.visible)
    sources: Counter[str | None] = Counter()

    def read() -> Iterator[Letter]:  # one letter at a time: the bodies are never all in memory
        for batch in scan.batches():
            on_read(len(batch))
            for letter in batch:
                sources[letter.source_queue_arn] += 1
                yield letter

    try:
        counts = count_by_code(read())
    except (ClientError, BotoCoreError) as error:
        raise QueueProblem(f"queue {dlq_url}", error_code(error)) from error
    finally:
        still_hidden = scan.release()  # on a failed receive, the problem is the line the operator reads
    return Report(queue=queue, counts=counts, sources=sources, still_hidden=still_hidden)
