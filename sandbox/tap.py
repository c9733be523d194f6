"""What the worker's outputs look like from outside: an EventBridge tap and queue readers.

:class:`EventTap` adds a rule to the stack's bus that sends the worker's events to a capture queue, the way
a subscriber would receive them (whole EventBridge events, at least once). :class:`QueueReader` reads a
queue to the end, deleting what it reads and keeping it (the DLQ, the capture queue).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Self

from sandbox.aws import client
from sandbox.stack import DeployedStack

TAP_RULE: Final = "sandbox-tap"
MAX_MESSAGES: Final = 10


@dataclass(frozen=True, slots=True)
class QueueMessage:
    """A message read from a queue: its ID, body, system attributes and String message attributes."""

    message_id: str
    body: str
    attributes: Mapping[str, str]
    message_attributes: Mapping[str, str]

    @property
    def error_code(self) -> str | None:
        """``ErrorCode`` of a dead-letter message written by the worker (CONTRACT section 5)."""
        return self.message_attributes.get("ErrorCode")

    @property
    def source_message_id(self) -> str:
        """The request's message ID: ``SourceMessageId`` when the worker wrote it, else its own (redrive policy)."""
        return self.message_attributes.get("SourceMessageId", self.message_id)


class QueueReader:
    """Reads ``queue_url`` to the end on each :meth:`read`, deleting what it reads and keeping it in order."""

    def __init__(self, endpoint_url: str, queue_url: str, region: str) -> None:
        self.queue_url = queue_url
        self._sqs = client("sqs", endpoint_url, region)
        self._messages: list[QueueMessage] = []

    @property
    def messages(self) -> list[QueueMessage]:
        """Everything read so far."""
        return list(self._messages)

    def read(self) -> list[QueueMessage]:
        """Receive until the queue answers empty; returns what was new."""
        new: list[QueueMessage] = []
        while True:
            response = self._sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=MAX_MESSAGES,
                WaitTimeSeconds=0,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            received = response.get("Messages", [])
            if not received:
                break
            self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)],
            )
            new.extend(
                QueueMessage(
                    message_id=m["MessageId"],
                    body=m.get("Body", ""),
                    attributes=dict(m.get("Attributes") or {}),
                    message_attributes={
                        name: value["StringValue"]
                        for name, value in (m.get("MessageAttributes") or {}).items()
                        if "StringValue" in value
                    },
                )
                for m in received
            )
        self._messages.extend(new)
        return new

    def wait_for(self, count: int, timeout: float, interval: float = 0.1) -> list[QueueMessage]:
        """Read until at least ``count`` messages were read in all, or ``timeout`` passes; returns all read."""
        deadline = time.monotonic() + timeout
        self.read()
        while len(self._messages) < count and time.monotonic() < deadline:
            time.sleep(interval)
            self.read()
        return self.messages


class EventTap:
    """A rule on the stack's bus to a capture queue: the worker's events as a subscriber receives them.

    ``pattern`` defaults to every event whose ``source`` is the worker's ``EVENT_SOURCE``.
    """

    def __init__(
        self,
        stack: DeployedStack,
        *,
        rule_name: str = TAP_RULE,
        queue_name: str | None = None,
        pattern: Mapping[str, Any] | None = None,
    ) -> None:
        self.stack = stack
        self.rule_name = rule_name
        self.queue_name = queue_name or f"{stack.name}-tap"
        self.pattern = dict(pattern or {"source": [stack.event_source_name]})
        self._events = client("events", stack.endpoint_url, stack.region)
        self._sqs = client("sqs", stack.endpoint_url, stack.region)
        self._reader: QueueReader | None = None
        self.queue_url: str | None = None

    def install(self) -> Self:
        """Create the capture queue, the rule and its target; returns ``self``."""
        self.queue_url = self._sqs.create_queue(QueueName=self.queue_name)["QueueUrl"]
        queue_arn = self._sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        self._events.put_rule(
            Name=self.rule_name, EventBusName=self.stack.bus_name, EventPattern=json.dumps(self.pattern)
        )
        self._events.put_targets(
            Rule=self.rule_name, EventBusName=self.stack.bus_name, Targets=[{"Id": "capture", "Arn": queue_arn}]
        )
        self._reader = QueueReader(self.stack.endpoint_url, self.queue_url, self.stack.region)
        return self

    def remove(self) -> None:
        """Delete the rule, its target and the capture queue (idempotent)."""
        if self.queue_url is None:
            return
        self._events.remove_targets(Rule=self.rule_name, EventBusName=self.stack.bus_name, Ids=["capture"])
        self._events.delete_rule(Name=self.rule_name, EventBusName=self.stack.bus_name)
        self._sqs.delete_queue(QueueUrl=self.queue_url)
        self.queue_url = None
        self._reader = None

    def __enter__(self) -> Self:
        return self.install()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.remove()

    def _require_reader(self) -> QueueReader:
        if self._reader is None:
            raise RuntimeError("install() the tap first")
        return self._reader

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every event received so far (whole EventBridge events: ``detail-type``, ``source``, ``detail``...)."""
        return [json.loads(m.body) for m in self._require_reader().messages]

    def read(self) -> list[dict[str, Any]]:
        """Read the capture queue to the end; returns the new events."""
        return [json.loads(m.body) for m in self._require_reader().read()]

    def wait_for(self, count: int, timeout: float) -> list[dict[str, Any]]:
        """Read until ``count`` events were received in all or ``timeout`` passes; returns all events."""
        self._require_reader().wait_for(count, timeout)
        return self.events
