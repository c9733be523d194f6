"""Dead letters as received from the DLQ, and the scan that reads a DLQ without consuming it.

SQS has no peek: a receive hides a message for its visibility timeout, and only a delete removes it. The scan
receives with a short visibility timeout, keeps each message it has seen hidden until the end (so the next
receive reaches new ones), and then releases them all (visibility 0): they are in the DLQ as before, one
``ApproximateReceiveCount`` higher. A large DLQ takes longer to read than a short timeout: each receive
hides its messages for the timeout plus twice the time the rest of the scan should take at its pace so far,
and a message that came back before that (one of the first receives) is hidden again by the receive that
meets it, so the scan still reaches every message. What it sees is what was visible: messages another
consumer holds at that moment, or (FIFO) those behind a held message of their group, are not seen;
``QueueInfo.visible`` says how many SQS counted, for comparison.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from domain.dead_letter import LetterAttribute
from domain.records import parse_millis
from operations.aws import error_code

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import ChangeMessageVisibilityBatchRequestEntryTypeDef

RECEIVE_WAIT_SECONDS: Final = 1  # long polling: an empty answer means no visible message on any server
DEFAULT_VISIBILITY_SECONDS: Final = 30
MAX_VISIBILITY_SECONDS: Final = 43_200  # SQS's longest visibility timeout: 12 hours
MAX_RECEIVE: Final = 10  # SQS's limit per ReceiveMessage and per batch call
NO_ERROR_CODE: Final = "(none)"  # moved by the queue's own redrive policy: the worker did not dead-letter it
SENT_TIMESTAMP: Final = "SentTimestamp"
DLQ_SOURCE_ARN: Final = "DeadLetterQueueSourceArn"  # SQS's system attribute on a message its redrive policy moved
_LAST_DATE_MILLIS: Final = int(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class StillHidden:
    """Held letters the scan could not make visible again: they reappear when their visibility timeout ends."""

    count: int
    seconds: int  # the longest visibility timeout the scan set: the longest they stay hidden
    reason: str  # AWS's error code of the refused ``ChangeMessageVisibilityBatch``

    def line(self, queue_url: str) -> str:
        """The warning the operator reads (the letters are still in the queue: nothing is lost)."""
        return (
            f"warning: {self.count} letter(s) of {queue_url} stay hidden for up to {self.seconds} s:"
            f" making them visible again failed ({self.reason})"
        )

    def as_json(self) -> dict[str, int | str]:
        return {"count": self.count, "seconds": self.seconds, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Stamp:
    """A timestamp a letter holds: its text as written, and its epoch milliseconds when it is a valid one."""

    text: str
    millis: int | None  # None: not epoch milliseconds of a date (shown as it is, marked invalid)


def stamp(text: str) -> Stamp:
    """``text`` read as epoch milliseconds (``domain.records.parse_millis``) up to the last date a date holds."""
    millis = parse_millis(text)
    return Stamp(text, millis if millis is not None and millis <= _LAST_DATE_MILLIS else None)


@dataclass(frozen=True, slots=True)
class Letter:
    """One received dead letter. ``body`` is held to be sent back, never printed."""

    message_id: str
    receipt_handle: str
    body: str
    attributes: Mapping[str, Mapping[str, Any]]  # its message attributes, as ReceiveMessage gives them
    sent_timestamp: int | None  # epoch ms the DLQ message was sent (SQS keeps it when its redrive policy moves one)
    group_id: str | None  # FIFO
    trace_header: str | None  # AWSTraceHeader
    system_attributes: Mapping[str, str] = field(default_factory=dict)  # as ReceiveMessage gives them

    def string(self, name: str) -> str | None:
        """A String (or String.*) message attribute's value."""
        value = self.attributes.get(name, {}).get("StringValue")
        return value if isinstance(value, str) else None

    @property
    def error_code(self) -> str | None:
        return self.string(LetterAttribute.ERROR_CODE)

    @property
    def code(self) -> str:
        """``ErrorCode``, or ``(none)`` for a message the queue's redrive policy moved."""
        return self.error_code or NO_ERROR_CODE

    @property
    def client_token(self) -> str | None:
        return self.string(LetterAttribute.CLIENT_TOKEN)

    @property
    def payment_session_id(self) -> str | None:
        return self.string(LetterAttribute.PAYMENT_SESSION_ID)

    @property
    def first_attempt_at(self) -> int | None:
        """``OutcomeUnknown``: epoch ms of the token's first API call (``FirstAttemptAt``); ``None`` if not a date."""
        text = self.string(LetterAttribute.FIRST_ATTEMPT_AT)
        return None if text is None else stamp(text).millis

    @property
    def source_queue_arn(self) -> str | None:
        """The queue the letter came from: ``SourceQueueArn`` (the worker's), else ``DeadLetterQueueSourceArn``."""
        return self.string(LetterAttribute.SOURCE_QUEUE_ARN) or self.system_attributes.get(DLQ_SOURCE_ARN) or None

    @property
    def first_enqueue(self) -> Stamp | None:
        """The request's first enqueue: ``OriginalSentTimestamp``, else ``SentTimestamp`` (CONTRACT 3), as written."""
        original = self.string(LetterAttribute.ORIGINAL_SENT_TIMESTAMP)
        text = original if original is not None else self.system_attributes.get(SENT_TIMESTAMP)
        return None if text is None else stamp(text)


def letter_of(message: Mapping[str, Any]) -> Letter:
    """A ``ReceiveMessage`` message (received with every attribute) as a :class:`Letter`."""
    system = {name: value for name, value in message.get("Attributes", {}).items() if isinstance(value, str)}
    sent = system.get(SENT_TIMESTAMP)
    return Letter(
        message_id=message["MessageId"],
        receipt_handle=message["ReceiptHandle"],
        body=message.get("Body", ""),
        attributes=dict(message.get("MessageAttributes", {})),
        sent_timestamp=None if sent is None else stamp(sent).millis,
        group_id=system.get("MessageGroupId"),
        trace_header=system.get("AWSTraceHeader"),
        system_attributes=system,
    )


class Scan:
    """Receives each visible message of ``queue_url`` once and holds it until :meth:`release` (or deletion).

    A message seen before that comes back (its visibility timeout ran out during the scan) is not yielded
    again, only hidden again; the scan ends at an empty receive, or when receives bring back only messages
    seen before for longer than it would take to meet each held message once more.
    ``expected``: how many messages SQS counted (``ApproximateNumberOfMessages``), to pace the timeouts.
    """

    def __init__(
        self,
        sqs: SQSClient,
        queue_url: str,
        *,
        visibility_timeout: int = DEFAULT_VISIBILITY_SECONDS,
        expected: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._sqs = sqs
        self._url = queue_url
        self._visibility = visibility_timeout
        self._expected = expected
        self._clock = clock
        self._longest = visibility_timeout  # the longest timeout a receive set: how long a held message may hide
        self._held: dict[str, str] = {}  # message ID -> latest receipt handle
        self._seen: set[str] = set()

    def _timeout(self, receives: int, started: float) -> int:
        """The base timeout plus twice the time the messages not yet seen should take, at the pace so far."""
        left = max(self._expected - len(self._seen), 0)
        if not receives or not left:
            return self._visibility
        rest = left / MAX_RECEIVE * (self._clock() - started) / receives
        return min(MAX_VISIBILITY_SECONDS, self._visibility + math.ceil(2 * rest))

    def batches(self) -> Iterator[list[Letter]]:
        """Batches of up to 10 new letters; raises ``ClientError``/``BotoCoreError`` when a receive fails."""
        started, receives, idle = self._clock(), 0, 0
        while True:
            timeout = self._timeout(receives, started)
            self._longest = max(self._longest, timeout)
            response = self._sqs.receive_message(
                QueueUrl=self._url,
                MaxNumberOfMessages=MAX_RECEIVE,
                VisibilityTimeout=timeout,
                WaitTimeSeconds=RECEIVE_WAIT_SECONDS,
                MessageAttributeNames=["All"],
                MessageSystemAttributeNames=["All"],
            )
            receives += 1
            letters = [letter_of(message) for message in response.get("Messages", [])]
            fresh = []
            for letter in letters:
                self._held[letter.message_id] = letter.receipt_handle
                if letter.message_id not in self._seen:
                    self._seen.add(letter.message_id)
                    fresh.append(letter)
            if not letters:
                return
            if fresh:
                idle = 0
                yield fresh
                continue
            idle += 1  # only messages seen before, back from a timeout that ran out: hidden again now
            if idle > len(self._held) // MAX_RECEIVE + 1:
                return

    def forget(self, message_id: str) -> None:
        """The message was deleted: nothing to release."""
        self._held.pop(message_id, None)

    def release(self) -> StillHidden | None:
        """Make every held message visible again now; what could not be, reappears on its timeout (reported).

        A batch entry SQS refuses (a stale receipt handle, a message no longer in flight) is not hidden by this
        scan any more, so only a refused call counts.
        """
        held = list(self._held.items())
        self._held.clear()
        hidden, reason = 0, ""
        for start in range(0, len(held), MAX_RECEIVE):
            entries: list[ChangeMessageVisibilityBatchRequestEntryTypeDef] = [
                {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                for index, (_, handle) in enumerate(held[start : start + MAX_RECEIVE])
            ]
            try:
                self._sqs.change_message_visibility_batch(QueueUrl=self._url, Entries=entries)
            except (ClientError, BotoCoreError) as error:
                hidden, reason = hidden + len(entries), reason or error_code(error)
        return StillHidden(hidden, self._longest, reason) if hidden else None
