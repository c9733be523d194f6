"""SQS as the sandbox, the demo, the soak, the tap and the tests use it: send, drain, and message attributes
converted between their two forms.

A message attribute has a Lambda-event form (``{"dataType", "stringValue" | "binaryValue" (base64), ...}``,
what a record of Lambda's SQS event carries) and a ``SendMessage`` form (``{"DataType", "StringValue" |
"BinaryValue" (bytes)}``, what boto3 sends and what ``ReceiveMessage`` answers, plus checksums there).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sandbox.aws.server import client

MAX_BATCH: Final = 10  # SQS's limit per ReceiveMessage, SendMessageBatch and DeleteMessageBatch
SEND_FORM_KEYS: Final = ("DataType", "StringValue", "BinaryValue")

Attributes = dict[str, dict[str, Any]]


# ---------------------------------------------------------------------------------------------------------
# Message attributes, both ways
# ---------------------------------------------------------------------------------------------------------


def to_send_form(attribute: Mapping[str, Any]) -> dict[str, Any] | None:
    """A Lambda-event message attribute in ``SendMessage`` form; ``None`` when it has no usable value."""
    data_type = attribute.get("dataType")
    if not isinstance(data_type, str):
        return None
    if isinstance(attribute.get("stringValue"), str):
        return {"DataType": data_type, "StringValue": attribute["stringValue"]}
    if isinstance(attribute.get("binaryValue"), str):
        try:
            return {"DataType": data_type, "BinaryValue": base64.b64decode(attribute["binaryValue"])}
        except (binascii.Error, ValueError):
            return None
    return None


def to_lambda_form(attribute: Mapping[str, Any]) -> dict[str, Any]:
    """A ``ReceiveMessage`` (or ``SendMessage``) message attribute as a record of Lambda's SQS event has it."""
    converted: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": attribute["DataType"]}
    if "StringValue" in attribute:
        converted["stringValue"] = attribute["StringValue"]
    if "BinaryValue" in attribute:
        converted["binaryValue"] = base64.b64encode(attribute["BinaryValue"]).decode("ascii")
    return converted


def sendable(attributes: Mapping[str, Mapping[str, Any]]) -> Attributes:
    """Received message attributes, ready to send again (the checksums and list fields left out)."""
    return {name: {k: v for k, v in value.items() if k in SEND_FORM_KEYS} for name, value in attributes.items()}


def string_values(attributes: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """The String(-typed) values of received message attributes, by name."""
    return {name: value["StringValue"] for name, value in attributes.items() if "StringValue" in value}


# ---------------------------------------------------------------------------------------------------------
# Sending
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """A request to enqueue: the body verbatim, message attributes in ``SendMessage`` form, a trace header;
    for a FIFO queue its ``MessageGroupId`` and ``MessageDeduplicationId``."""

    body: str
    message_attributes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    trace_header: str | None = None
    group_id: str | None = None
    deduplication_id: str | None = None


def messages_from_event(event: Mapping[str, Any]) -> list[OutgoingMessage]:
    """The records of a Lambda SQS event as messages to send again (body, attributes, trace header)."""
    messages: list[OutgoingMessage] = []
    for record in event.get("Records", []):
        attributes = {
            name: converted
            for name, value in (record.get("messageAttributes") or {}).items()
            if (converted := to_send_form(value)) is not None
        }
        trace = (record.get("attributes") or {}).get("AWSTraceHeader")
        messages.append(OutgoingMessage(str(record.get("body", "")), attributes, trace))
    return messages


def parse_messages(text: str) -> list[OutgoingMessage]:
    """Requests from a file: a Lambda SQS event (``{"Records": [...]}``), a JSON array, one JSON object, or
    JSON lines (one body per non-empty line, sent verbatim, so malformed lines are sent as they are)."""
    stripped = text.strip()
    if not stripped:
        return []
    try:
        document = json.loads(stripped)
    except json.JSONDecodeError:
        document = None
    if isinstance(document, dict) and isinstance(document.get("Records"), list):
        return messages_from_event(document)
    if isinstance(document, dict):
        return [OutgoingMessage(stripped)]
    if isinstance(document, list):
        return [OutgoingMessage(item if isinstance(item, str) else json.dumps(item)) for item in document]
    return [OutgoingMessage(line.strip()) for line in text.splitlines() if line.strip()]


def send_messages(sqs: Any, queue_url: str, messages: Sequence[OutgoingMessage]) -> list[str]:
    """``SendMessageBatch`` by tens; returns the message IDs in order. Raises if SQS refuses one."""
    ids: list[str] = []
    for start in range(0, len(messages), MAX_BATCH):
        chunk = messages[start : start + MAX_BATCH]
        entries: list[dict[str, Any]] = []
        for index, message in enumerate(chunk):
            entry: dict[str, Any] = {"Id": str(index), "MessageBody": message.body}
            if message.message_attributes:
                entry["MessageAttributes"] = dict(message.message_attributes)
            if message.trace_header:
                entry["MessageSystemAttributes"] = {
                    "AWSTraceHeader": {"DataType": "String", "StringValue": message.trace_header}
                }
            if message.group_id is not None:
                entry["MessageGroupId"] = message.group_id
            if message.deduplication_id is not None:
                entry["MessageDeduplicationId"] = message.deduplication_id
            entries.append(entry)
        response = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        if response.get("Failed"):
            raise RuntimeError(f"SQS refused messages: {response['Failed']}")
        by_index = {int(ok["Id"]): ok["MessageId"] for ok in response.get("Successful", [])}
        ids.extend(by_index[i] for i in range(len(chunk)))
    return ids


# ---------------------------------------------------------------------------------------------------------
# Receiving, deleting, draining
# ---------------------------------------------------------------------------------------------------------


def receive(
    sqs: Any,
    queue_url: str,
    *,
    wait: int = 0,
    visibility_timeout: int | None = None,
    max_messages: int = MAX_BATCH,
) -> list[dict[str, Any]]:
    """One ``ReceiveMessage`` of up to ``max_messages`` (at most ten), with every system and message attribute."""
    params: dict[str, Any] = {
        "QueueUrl": queue_url,
        "MaxNumberOfMessages": max(1, min(MAX_BATCH, max_messages)),
        "WaitTimeSeconds": wait,
        "MessageSystemAttributeNames": ["All"],
        "MessageAttributeNames": ["All"],
    }
    if visibility_timeout is not None:
        params["VisibilityTimeout"] = visibility_timeout
    messages: list[dict[str, Any]] = sqs.receive_message(**params).get("Messages", [])
    return messages


def delete_messages(sqs: Any, queue_url: str, messages: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    """``DeleteMessageBatch`` by tens; returns the IDs deleted (a stale receipt leaves its message in)."""
    deleted: list[str] = []
    for start in range(0, len(messages), MAX_BATCH):
        chunk = messages[start : start + MAX_BATCH]
        response = sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
        )
        deleted.extend(chunk[int(ok["Id"])]["MessageId"] for ok in response.get("Successful", []))
    return tuple(deleted)


def change_visibility(sqs: Any, queue_url: str, timeouts: Sequence[tuple[str, int]]) -> int:
    """Set received messages' visibility timeouts (``(receipt handle, seconds from now)``, by tens with
    ``ChangeMessageVisibilityBatch``); returns how many were changed."""
    changed = 0
    for start in range(0, len(timeouts), MAX_BATCH):
        chunk = timeouts[start : start + MAX_BATCH]
        response = sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": seconds}
                for i, (handle, seconds) in enumerate(chunk)
            ],
        )
        changed += len(response.get("Successful", []))
    return changed


def release_messages(sqs: Any, queue_url: str, receipt_handles: Sequence[str]) -> int:
    """Make received messages visible again now (visibility timeout 0); returns how many."""
    return change_visibility(sqs, queue_url, [(handle, 0) for handle in receipt_handles])


def drain(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Every message of ``queue_url`` now, deleted as read (receives until the queue answers empty)."""
    read: list[dict[str, Any]] = []
    while received := receive(sqs, queue_url):
        delete_messages(sqs, queue_url, received)
        read += received
    return read


def queue_depth(sqs: Any, queue_url: str) -> dict[str, int]:
    """A queue's approximate counts: ``visible``, ``in_flight`` (received, not yet visible), ``delayed``."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return {
        "visible": int(attributes.get("ApproximateNumberOfMessages", 0)),
        "in_flight": int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
        "delayed": int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
    }


@dataclass(frozen=True, slots=True)
class QueueMessage:
    """A message read from a queue: its ID, body, system attributes and String message attributes."""

    message_id: str
    body: str
    attributes: Mapping[str, str]
    message_attributes: Mapping[str, str]

    @classmethod
    def received(cls, message: Mapping[str, Any]) -> QueueMessage:
        """From a message of a ``ReceiveMessage`` answer."""
        return cls(
            message_id=message["MessageId"],
            body=message.get("Body", ""),
            attributes=dict(message.get("Attributes") or {}),
            message_attributes=string_values(message.get("MessageAttributes") or {}),
        )

    @property
    def error_code(self) -> str | None:
        """``ErrorCode`` of a dead-letter message written by the worker (CONTRACT section 5)."""
        return self.message_attributes.get("ErrorCode")

    @property
    def source_message_id(self) -> str:
        """The request's message ID: ``SourceMessageId`` when the worker wrote it, else its own (redrive policy)."""
        return self.message_attributes.get("SourceMessageId", self.message_id)


class QueueReader:
    """Reads ``queue_url`` on each :meth:`read`, keeping what it read in order (the DLQ, a capture queue).

    By default it drains the queue (deletes what it read). With ``keep=True`` it leaves the messages in the
    queue, hidden for ``hold_seconds`` so that a read does not see them twice, until :meth:`release` makes
    them visible again (the demo reads the DLQ so, then the operator's command redrives it).
    """

    def __init__(
        self, endpoint_url: str, queue_url: str, region: str, *, keep: bool = False, hold_seconds: int = 900
    ) -> None:
        self.queue_url = queue_url
        self.keep = keep
        self.hold_seconds = hold_seconds
        self._sqs = client("sqs", endpoint_url, region)
        self._messages: list[QueueMessage] = []
        self._held: dict[str, str] = {}  # message ID -> receipt handle, while kept hidden

    @property
    def messages(self) -> list[QueueMessage]:
        """Everything read so far."""
        return list(self._messages)

    def read(self) -> list[QueueMessage]:
        """Receive until the queue answers empty; returns what was new."""
        if not self.keep:
            new = [QueueMessage.received(m) for m in drain(self._sqs, self.queue_url)]
        else:
            known = {m.message_id for m in self._messages}
            new = []
            while received := receive(self._sqs, self.queue_url, visibility_timeout=self.hold_seconds):
                for message in received:
                    self._held[message["MessageId"]] = message["ReceiptHandle"]
                    if message["MessageId"] not in known:
                        known.add(message["MessageId"])
                        new.append(QueueMessage.received(message))
        self._messages.extend(new)
        return new

    def release(self) -> int:
        """``keep``: make the messages read and still hidden visible again now; returns how many."""
        handles = list(self._held.values())
        self._held.clear()
        return release_messages(self._sqs, self.queue_url, handles)

    def wait_for(self, count: int, timeout: float, interval: float = 0.1) -> list[QueueMessage]:
        """Read until at least ``count`` messages were read in all, or ``timeout`` passes; returns all read."""
        deadline = time.monotonic() + timeout
        self.read()
        while len(self._messages) < count and time.monotonic() < deadline:
            time.sleep(interval)
            self.read()
        return self.messages
