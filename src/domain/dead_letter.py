"""Dead-letter messages (CONTRACT section 5), within SQS's limits as SQS counts them (section 10)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from domain.errors import truncate

MAX_MESSAGE_ATTRIBUTES: Final = 10  # SQS's limit per message
MAX_MESSAGE_BYTES: Final = 1_048_576  # SQS's limit per message (and per SendMessageBatch): body and attributes

# One SendMessage attribute: {"DataType": ..., "StringValue": str} or {"DataType": ..., "BinaryValue": bytes}.
Attributes = Mapping[str, Mapping[str, Any]]


class LetterAttribute(StrEnum):
    """The worker's own message attributes on a dead letter (CONTRACT section 5)."""

    ERROR_CODE = "ErrorCode"
    ERROR_MESSAGE = "ErrorMessage"
    SOURCE_MESSAGE_ID = "SourceMessageId"
    SOURCE_QUEUE_ARN = "SourceQueueArn"
    CLIENT_TOKEN = "ClientToken"
    PAYMENT_SESSION_ID = "PaymentSessionId"
    ORIGINAL_SENT_TIMESTAMP = "OriginalSentTimestamp"  # epoch milliseconds of the first enqueue
    FIRST_ATTEMPT_AT = "FirstAttemptAt"  # OutcomeUnknown: epoch milliseconds of the token's first API call


# What a redrive drops (CONTRACT section 8): the diagnosis of one delivery, not part of the request.
# PaymentSessionId stays: the worker looks the session up and announces it rather than creating or failing it.
DIAGNOSTIC_ATTRIBUTES: Final = frozenset(
    {
        LetterAttribute.ERROR_CODE,
        LetterAttribute.ERROR_MESSAGE,
        LetterAttribute.SOURCE_MESSAGE_ID,
        LetterAttribute.SOURCE_QUEUE_ARN,
        LetterAttribute.FIRST_ATTEMPT_AT,
    }
)


# What a dead letter never drops to fit SQS's size (CONTRACT section 5): without them it is not sent at all.
KEPT_ATTRIBUTES: Final = (LetterAttribute.ERROR_CODE, LetterAttribute.SOURCE_MESSAGE_ID, LetterAttribute.CLIENT_TOKEN)
# The worker's own attributes a dead letter drops to fit, in this order, after the record's own (last first).
# SourceQueueArn, which the contract's order leaves out, goes last of them: without it a redrive cannot tell
# where the letter came from and leaves it in the DLQ, whereas the others only lose a diagnosis or a shortcut.
DROP_ORDER: Final = (
    LetterAttribute.ERROR_MESSAGE,
    LetterAttribute.ORIGINAL_SENT_TIMESTAMP,
    LetterAttribute.PAYMENT_SESSION_ID,
    LetterAttribute.SOURCE_QUEUE_ARN,
)


def _utf8_size(value: str | bytes) -> int:
    return len(value.encode("utf-8", "surrogatepass")) if isinstance(value, str) else len(value)


def message_size(body: str, attributes: Attributes) -> int:
    """The bytes SQS counts for a message: its body, and each attribute's name, data type and value."""
    size = _utf8_size(body)
    for name, attribute in attributes.items():
        value = attribute.get("StringValue", attribute.get("BinaryValue", b""))
        size += _utf8_size(name) + _utf8_size(str(attribute.get("DataType", ""))) + _utf8_size(value)
    return size


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One message for the dead-letter queue, in ``SendMessage`` terms."""

    message_id: str  # the source record's: the batch entry ID, and on a FIFO DLQ the deduplication ID
    body: str
    attributes: dict[str, dict[str, Any]]
    group_id: str | None = None  # MessageGroupId, kept from a FIFO or fair source queue (CONTRACT section 9)
    fifo: bool = False  # the source queue, hence the DLQ, is FIFO: the letter carries a deduplication ID

    @property
    def size(self) -> int:
        """Its size as SQS counts it."""
        return message_size(self.body, self.attributes)

    @property
    def too_large(self) -> str | None:
        """Why SQS would refuse it for its size, or ``None`` when it fits (only a body near 1 MiB does not)."""
        size = self.size
        if size <= MAX_MESSAGE_BYTES:
            return None
        kept = ", ".join(KEPT_ATTRIBUTES)
        return f"the dead letter is {size} bytes as SQS counts them with only {kept}; SQS takes {MAX_MESSAGE_BYTES}"


def _string(value: str) -> dict[str, Any]:
    return {"DataType": "String", "StringValue": value}


def _carried(attribute: Mapping[str, Any]) -> dict[str, Any] | None:
    """A Lambda-event message attribute in ``SendMessage`` form, or None when it cannot be carried."""
    data_type = attribute.get("dataType")
    if not isinstance(data_type, str) or not data_type:
        return None
    string_value = attribute.get("stringValue")
    if isinstance(string_value, str) and string_value:
        return {"DataType": data_type, "StringValue": string_value}
    binary_value = attribute.get("binaryValue")
    if isinstance(binary_value, str) and binary_value:
        try:
            return {"DataType": data_type, "BinaryValue": base64.b64decode(binary_value, validate=True)}
        except (binascii.Error, ValueError):
            return None
    return None


def dead_letter(
    *,
    message_id: str,
    body: str,
    error_code: str,
    error_message: str,
    source_queue_arn: str,
    client_token: str | None,
    record_attributes: Mapping[str, Mapping[str, Any]],
    payment_session_id: str | None = None,
    original_sent_timestamp: int | None = None,
    first_attempt_at: int | None = None,
    group_id: str | None = None,
    fifo: bool = False,
) -> DeadLetter:
    """The original body byte for byte, the worker's attributes first, then the record's own up to 10.

    Fitted to SQS's maximum size by ``fit``; a letter that still does not fit says so (``too_large``).
    """
    own: dict[str, dict[str, Any]] = {
        LetterAttribute.ERROR_CODE: _string(error_code),
        LetterAttribute.ERROR_MESSAGE: _string(truncate(error_message or error_code)),
    }
    if message_id:  # SQS refuses an empty attribute value; a record without an ID is not SQS's
        own[LetterAttribute.SOURCE_MESSAGE_ID] = _string(message_id)
    if source_queue_arn:
        own[LetterAttribute.SOURCE_QUEUE_ARN] = _string(source_queue_arn)
    if client_token is not None:
        own[LetterAttribute.CLIENT_TOKEN] = _string(client_token)
    if payment_session_id is not None:
        own[LetterAttribute.PAYMENT_SESSION_ID] = _string(payment_session_id)
    if original_sent_timestamp is not None:
        own[LetterAttribute.ORIGINAL_SENT_TIMESTAMP] = _string(str(original_sent_timestamp))
    if first_attempt_at is not None:
        own[LetterAttribute.FIRST_ATTEMPT_AT] = _string(str(first_attempt_at))
    for name, attribute in record_attributes.items():
        if len(own) >= MAX_MESSAGE_ATTRIBUTES:
            break
        if name in own:
            continue
        carried = _carried(attribute)
        if carried is not None:
            own[name] = carried
    return DeadLetter(message_id=message_id, body=body, attributes=fit(body, own), group_id=group_id, fifo=fifo)


def fit(body: str, attributes: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``attributes`` less what must go for ``body`` and them to fit ``MAX_MESSAGE_BYTES`` (CONTRACT section 5).

    Drops one at a time: the record's own attributes (the last carried first), then ``DROP_ORDER``; never
    ``KEPT_ATTRIBUTES``. What is left may still not fit, when the body alone nearly fills the limit.
    """
    kept = dict(attributes)
    for name in _droppable(kept):
        if message_size(body, kept) <= MAX_MESSAGE_BYTES:
            break
        del kept[name]
    return kept


def _droppable(attributes: Iterable[str]) -> list[str]:
    names = list(attributes)
    workers = set(LetterAttribute)
    records_own = [name for name in reversed(names) if name not in workers]
    return records_own + [name for name in DROP_ORDER if name in names]
