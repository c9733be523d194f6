"""A redrive of the DLQ back to the request queue, as ``StartMessageMoveTask`` or the console does it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from sandbox.sqs import OutgoingMessage, delete_messages, receive, send_messages, sendable
from sandbox.worker import CLIENT_TOKEN_ATTRIBUTE, POISON_CODES, derive_token

MAX_ATTRIBUTES: Final = 10  # SQS's limit of message attributes per message


@dataclass(slots=True)
class RedriveRound:
    """One redrive: messages moved back to the request queue, tokens stamped, poison left out."""

    moved: int = 0
    stamped: int = 0
    poison: list[dict[str, Any]] = field(default_factory=list)


def redrive(sqs: Any, *, dead_letter_queue_url: str, queue_url: str, keep_poison: bool = True) -> RedriveRound:
    """Move every DLQ message back to ``queue_url`` with its attributes (new message IDs), as a redrive does.

    Poison (``ErrorCode`` of a poison kind) stays out when ``keep_poison``: it needs its producer fixed. A
    message without a ``ClientToken`` attribute was moved by the queue's redrive policy, which keeps the
    message ID: it gets ``ClientToken`` = the token the worker derived from that ID (a body token, when
    there is one, still comes first). Each message is sent before it is deleted, so a crash in between only
    duplicates it, under the same token.
    """
    round_ = RedriveRound()
    while True:
        received = receive(sqs, dead_letter_queue_url, visibility_timeout=120)
        if not received:
            return round_
        moving: list[OutgoingMessage] = []
        for message in received:
            attributes = sendable(message.get("MessageAttributes") or {})
            code = (attributes.get("ErrorCode") or {}).get("StringValue")
            if keep_poison and code in POISON_CODES:
                round_.poison.append(message)
                continue
            if CLIENT_TOKEN_ATTRIBUTE not in attributes:
                if len(attributes) >= MAX_ATTRIBUTES:
                    attributes.pop(next(reversed(attributes)))
                attributes[CLIENT_TOKEN_ATTRIBUTE] = {
                    "DataType": "String",
                    "StringValue": derive_token(message["MessageId"]),
                }
                round_.stamped += 1
            moving.append(OutgoingMessage(message["Body"], attributes))
        send_messages(sqs, queue_url, moving)
        round_.moved += len(moving)
        delete_messages(sqs, dead_letter_queue_url, received)
