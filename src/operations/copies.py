"""What a redrive sends back to the request queue for one dead letter (CONTRACT sections 2, 3, 8 and 9).

The body byte for byte; the letter's own message attributes without the worker's diagnostic ones;
``PaymentSessionId`` kept, so the worker announces a created session instead of creating or failing it;
``ClientToken`` kept or derived as the first delivery derived it: from the envelope's ID, else from the dead
letter's own message ID (SQS keeps the ID when its redrive policy moves a message, so it is the ID of the
request's first delivery); ``OriginalSentTimestamp`` kept or taken from the letter's ``SentTimestamp``; on FIFO
the ``MessageGroupId`` kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from domain.dead_letter import DIAGNOSTIC_ATTRIBUTES, MAX_MESSAGE_ATTRIBUTES, LetterAttribute
from domain.tokens import first_delivery_token
from operations.letters import Letter

# The FIFO deduplication ID of a move: one per dead letter, from its own message ID. A dead letter is a new
# message each time a request enters the DLQ (the worker sends a new one; SQS's redrive policy moves the copy
# a redrive made, whose ID is new), so every move of a request has a new deduplication ID. A re-run after a
# crash between the send and the delete sends the same letter with the same ID: within SQS's 5-minute
# deduplication window SQS accepts the send and drops the duplicate; after it, the duplicate is enqueued but
# carries the same ClientToken, so the API returns the same session. Either way nothing is lost or doubled.
DEDUPLICATION_PREFIX: Final = "redrive-"


class Source(StrEnum):
    """Where a value of the copy came from."""

    KEPT = "kept"
    DERIVED = "derived"  # ClientToken from the envelope or message ID; OriginalSentTimestamp from SentTimestamp
    MISSING = "missing"  # no SentTimestamp to take OriginalSentTimestamp from: the worker counts from the copy's


@dataclass(frozen=True, slots=True)
class Copy:
    """The ``SendMessage`` request of one move, and how its token and timestamp were found."""

    request: dict[str, Any]  # SendMessage's keyword arguments, QueueUrl included
    client_token: str
    token_source: Source
    timestamp_source: Source


class CannotCopy(Exception):
    """The letter cannot be sent back as the contract says; it stays in the DLQ."""


def _string(value: str) -> dict[str, Any]:
    return {"DataType": "String", "StringValue": value}


def _as_sent(attribute: Mapping[str, Any]) -> dict[str, Any]:
    """A received message attribute in ``SendMessage`` form (the value kept as SQS returned it)."""
    return {key: attribute[key] for key in ("DataType", "StringValue", "BinaryValue") if key in attribute}


def copy_of(letter: Letter, *, queue_url: str, fifo: bool) -> Copy:
    """The request queue's copy of ``letter``; :class:`CannotCopy` when SQS's limits make that impossible."""
    attributes = {
        name: _as_sent(attribute) for name, attribute in letter.attributes.items() if name not in DIAGNOSTIC_ATTRIBUTES
    }
    token = letter.client_token
    token_source = Source.KEPT
    if token is None:
        token, token_source = first_delivery_token(letter.body, letter.message_id).value, Source.DERIVED
        attributes[LetterAttribute.CLIENT_TOKEN] = _string(token)
    timestamp_source = Source.KEPT
    if LetterAttribute.ORIGINAL_SENT_TIMESTAMP not in attributes:
        if letter.sent_timestamp is None:
            timestamp_source = Source.MISSING
        else:
            timestamp_source = Source.DERIVED
            attributes[LetterAttribute.ORIGINAL_SENT_TIMESTAMP] = _string(str(letter.sent_timestamp))
    if len(attributes) > MAX_MESSAGE_ATTRIBUTES:
        # The producer's attributes are the request's: dropping one to make room is the operator's decision.
        raise CannotCopy(f"needs {len(attributes)} message attributes, SQS takes {MAX_MESSAGE_ATTRIBUTES}")
    request: dict[str, Any] = {"QueueUrl": queue_url, "MessageBody": letter.body}
    if attributes:
        request["MessageAttributes"] = attributes
    if letter.trace_header:
        request["MessageSystemAttributes"] = {"AWSTraceHeader": _string(letter.trace_header)}
    if fifo:
        if letter.group_id is None:
            raise CannotCopy("a FIFO dead letter without MessageGroupId")
        request["MessageGroupId"] = letter.group_id
        request["MessageDeduplicationId"] = DEDUPLICATION_PREFIX + letter.message_id
    elif letter.group_id is not None:
        # A fair queue's letter (CONTRACT section 9): the tenant kept, never a deduplication ID.
        request["MessageGroupId"] = letter.group_id
    return Copy(request=request, client_token=token, token_source=token_source, timestamp_source=timestamp_source)
