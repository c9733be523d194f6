"""What the worker's events look like from outside: an EventBridge tap.

:class:`EventTap` adds a rule to the stack's bus that sends the worker's events to a capture queue, the way
a subscriber would receive them (whole EventBridge events, at least once), read with
:class:`sandbox.aws.sqs.QueueReader`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final, Self

from sandbox.aws.deployed import DeployedStack
from sandbox.aws.server import client
from sandbox.aws.sqs import QueueReader
from sandbox.service import Service

TAP_RULE: Final = "sandbox-tap"


class EventTap(Service):
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

    def start(self) -> Self:
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

    def stop(self) -> None:
        """Delete the rule, its target and the capture queue (idempotent)."""
        if self.queue_url is None:
            return
        self._events.remove_targets(Rule=self.rule_name, EventBusName=self.stack.bus_name, Ids=["capture"])
        self._events.delete_rule(Name=self.rule_name, EventBusName=self.stack.bus_name)
        self._sqs.delete_queue(QueueUrl=self.queue_url)
        self.queue_url = None
        self._reader = None

    def _require_reader(self) -> QueueReader:
        if self._reader is None:
            raise RuntimeError("start() the tap first")
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
