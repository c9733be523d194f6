"""An SQS record as the domain sees it, and what its attributes say: token, first enqueue, FIFO or fair group."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from domain.dead_letter import LetterAttribute
from domain.errors import FieldProblem, PoisonCode, PoisonMessage

FIFO_SUFFIX: Final = ".fifo"
MILLIS_PER_MINUTE: Final = 60_000
# A first enqueue cannot follow this one: an OriginalSentTimestamp later than SentTimestamp by more than this
# (SQS's clocks and the redrive command's may disagree a little) is poison (CONTRACT section 3).
MAX_FIRST_ENQUEUE_LEAD_MILLIS: Final = 15 * MILLIS_PER_MINUTE
# Epoch milliseconds as SQS writes them: digits only, at most 15 (year 33658), so no value overflows a float.
_MAX_MILLIS_DIGITS: Final = 15


@dataclass(frozen=True, slots=True)
class InboundRecord:
    """An SQS record of the Lambda event, as the domain needs it."""

    message_id: str
    body: str
    receive_count: int
    message_attributes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    source_queue_arn: str = ""
    trace_header: str | None = None
    sent_timestamp: int | None = None  # the record's SentTimestamp, epoch milliseconds
    group_id: str | None = None  # MessageGroupId: on a FIFO queue, or a fair queue's tenant on a standard one
    receipt_handle: str = ""  # what ChangeMessageVisibility needs (the retry delay)

    def string_attribute(self, name: str) -> str | None:
        value = self.message_attributes.get(name, {}).get("stringValue")
        return value if isinstance(value, str) else None

    @property
    def is_fifo(self) -> bool:
        """FIFO only when the source queue's name ends in ``.fifo`` (CONTRACT section 9).

        A ``MessageGroupId`` alone says nothing: on a standard queue it is a fair queue's tenant, and the record
        is a standard record in every respect.
        """
        return self.source_queue_arn.endswith(FIFO_SUFFIX)

    def first_enqueued(self) -> int | None:
        """Epoch milliseconds of the request's first enqueue: ``OriginalSentTimestamp``, else ``SentTimestamp``.

        A malformed ``OriginalSentTimestamp`` is poison, never replaced (CONTRACT section 3): it was stamped by
        this worker or its redrive command, so a wrong one means the message was tampered with. So is one more
        than 15 minutes after the record's ``SentTimestamp``: a far-future value would switch the age check off.
        """
        attribute = self.string_attribute(LetterAttribute.ORIGINAL_SENT_TIMESTAMP)
        if attribute is None:
            return self.sent_timestamp
        value = parse_millis(attribute)
        if value is None:
            raise _bad_first_enqueue("not epoch milliseconds")
        if self.sent_timestamp is not None and value - self.sent_timestamp > MAX_FIRST_ENQUEUE_LEAD_MILLIS:
            raise _bad_first_enqueue("more than 15 minutes after SentTimestamp")
        return value


def _bad_first_enqueue(kind: str) -> PoisonMessage:
    path = f"messageAttributes.{LetterAttribute.ORIGINAL_SENT_TIMESTAMP}"
    return PoisonMessage(PoisonCode.INVALID_REQUEST, (FieldProblem(path, kind),))


def parse_millis(value: Any) -> int | None:
    """An SQS timestamp attribute (epoch milliseconds as a string), or ``None`` when absent or not one."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= _MAX_MILLIS_DIGITS:
        return int(value)
    return None
