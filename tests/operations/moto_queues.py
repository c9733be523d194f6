"""A request queue and its DLQ on moto's server, and what the tests do to them (not fixtures: helpers)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

import pytest

from operations.aws import sqs_client
from operations.queues import check_pair
from operations.redrive import Redriver
from sandbox.aws.server import MotoServer


class Queues:
    """A request queue and its DLQ on moto (both standard, or both FIFO), and helpers to fill and read them."""

    def __init__(self, moto: MotoServer, *, fifo: bool = False, max_receive_count: int = 1, **request_attributes: str):
        self.sqs = moto.client("sqs")
        self.fifo = fifo
        suffix = ".fifo" if fifo else ""
        fifo_attributes = {"FifoQueue": "true"} if fifo else {}
        name = uuid.uuid4().hex[:8]
        self.dlq_url = self.sqs.create_queue(QueueName=f"dlq-{name}{suffix}", Attributes=fifo_attributes)["QueueUrl"]
        self.dlq_arn = self.arn(self.dlq_url)
        policy = json.dumps({"deadLetterTargetArn": self.dlq_arn, "maxReceiveCount": max_receive_count})
        self.queue_url = self.sqs.create_queue(
            QueueName=f"requests-{name}{suffix}",
            Attributes={"RedrivePolicy": policy, **fifo_attributes, **request_attributes},
        )["QueueUrl"]
        self.queue_arn = self.arn(self.queue_url)

    def arn(self, url: str) -> str:
        return str(self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])

    def urls(self) -> tuple[str, ...]:
        return ("--dlq-url", self.dlq_url, "--queue-url", self.queue_url)

    def dead_letter(self, body: str, *, group: str = "g1", **attributes: str | bytes | Mapping[str, Any]) -> str:
        """A dead letter as the worker sends one (String attributes; bytes as Binary); returns its message ID."""
        message_attributes = {
            name: (
                value
                if isinstance(value, Mapping)
                else {"DataType": "Binary", "BinaryValue": value}
                if isinstance(value, bytes)
                else {"DataType": "String", "StringValue": value}
            )
            for name, value in attributes.items()
        }
        extra: dict[str, Any] = {}
        if self.fifo:
            extra = {"MessageGroupId": group, "MessageDeduplicationId": uuid.uuid4().hex}
        return str(
            self.sqs.send_message(
                QueueUrl=self.dlq_url, MessageBody=body, MessageAttributes=message_attributes, **extra
            )["MessageId"]
        )

    def moved_by_sqs(self, body: str) -> str:
        """A request that the queue's own redrive policy moved to the DLQ (no worker attribute); its ID."""
        message_id = str(self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=body)["MessageId"])
        assert self.receive(self.queue_url, visibility_timeout=0)  # the one receive maxReceiveCount allows
        assert not self.receive(self.queue_url)  # the next receive moves it
        assert message_id in {message["MessageId"] for message in self.peek(self.dlq_url)}
        return message_id

    def receive(self, url: str, *, visibility_timeout: int = 30) -> list[dict[str, Any]]:
        """Every visible message of ``url`` (hidden for ``visibility_timeout``), with all their attributes."""
        messages: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=visibility_timeout,
                MessageAttributeNames=["All"],
                MessageSystemAttributeNames=["All"],
            ).get("Messages", [])
            if not batch:
                return messages
            messages.extend(batch)

    def peek(self, url: str) -> list[dict[str, Any]]:
        """Every visible message of ``url``, made visible again afterwards."""
        messages = self.receive(url)
        for message in messages:
            self.sqs.change_message_visibility(
                QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
        return messages

    def ids(self, url: str) -> set[str]:
        return {message["MessageId"] for message in self.peek(url)}


class Crash(BaseException):
    """The process dies here (not an error the command handles)."""


def redrive_crashing_before_the_delete(queues: Queues) -> None:
    """A redrive that dies after sending the first copy and before deleting its letter."""
    sqs = sqs_client()

    def crash(**_: Any) -> None:
        raise Crash

    sqs.meta.events.register("before-call.sqs.DeleteMessage", crash)
    with pytest.raises(Crash):
        Redriver(sqs, check_pair(sqs, dlq_url=queues.dlq_url, queue_url=queues.queue_url)).run()
