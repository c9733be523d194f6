"""Shared helpers of the test suite: building SQS records and events, polling (the Lambda context is
``sandbox.lambda_.context.LambdaContext``)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"

MANAGER_ARN = "arn:aws:bedrock-agentcore:us-east-1:123456789012:payment-manager/demo-manager-a1b2c3d4e5"
OTHER_MANAGER_ARN = "arn:aws:bedrock-agentcore:us-east-1:123456789012:payment-manager/partner-manager-k9m8n7p6q5"
FOREIGN_MANAGER_ARN = "arn:aws:bedrock-agentcore:us-east-1:123456789012:payment-manager/foreign-manager-z0y9x8w7v6"
REQUEST_QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:payment-session-requests"
# The SDK variables that could point a test at a real endpoint: every test starts without them.
AWS_ENDPOINT_VARIABLES = (
    "AWS_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_SQS",
    "AWS_ENDPOINT_URL_EVENTBRIDGE",
    "AWS_ENDPOINT_URL_DYNAMODB",
)
EVENT_SOURCE = "payment-session-worker"
RECORD_TABLE = "payment-session-tokens"  # the idempotency record's table in moto (tests/token_tables.py)

T = TypeVar("T")


def valid_request(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "expiryTimeInMinutes": 60,
        "userId": "user-1234",
        "agentName": "checkout-agent",
        "limits": {"maxSpendAmount": {"value": "25.50", "currency": "USD"}},
        "correlationId": "order-1001",
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not ...}


def sqs_record(
    body: str | dict[str, Any],
    *,
    message_id: str | None = None,
    receive_count: int = 1,
    message_attributes: dict[str, dict[str, Any]] | None = None,
    trace_header: str | None = None,
) -> dict[str, Any]:
    sent = now_millis()
    attributes = {
        "ApproximateReceiveCount": str(receive_count),
        "SentTimestamp": str(sent),
        "SenderId": "AIDAEXAMPLE",
        "ApproximateFirstReceiveTimestamp": str(sent + 100),
    }
    if trace_header is not None:
        attributes["AWSTraceHeader"] = trace_header
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": "receipt-handle",
        "body": body if isinstance(body, str) else json.dumps(body),
        "attributes": attributes,
        "messageAttributes": message_attributes or {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": REQUEST_QUEUE_ARN,
        "awsRegion": "us-east-1",
    }


def sqs_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


def string_attribute(value: str) -> dict[str, Any]:
    return {"stringValue": value, "stringListValues": [], "binaryListValues": [], "dataType": "String"}


def now_millis() -> int:
    return int(time.time() * 1000)


def load_event(name: str) -> dict[str, Any]:
    """A sample event of ``events/``, its records sent just now (as SQS stamps them), not on the day it was written."""
    event: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    for record in event.get("Records", []):
        if "SentTimestamp" in record.get("attributes", {}):
            record["attributes"]["SentTimestamp"] = str(now_millis())
    return event


def poll(produce: Callable[[], T], done: Callable[[T], bool], *, timeout: float = 10.0, interval: float = 0.05) -> T:
    """Call ``produce`` until ``done`` holds of its value or ``timeout`` passes; return the last value."""
    deadline = time.monotonic() + timeout
    value = produce()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(interval)
        value = produce()
    return value


def only(items: Iterable[T]) -> T:
    (item,) = list(items)
    return item


def sns(message: Any, **extra: Any) -> dict[str, Any]:
    """An SNS notification (SNS -> SQS without raw delivery) around ``message``."""
    return {
        "Type": "Notification",
        "MessageId": "5f3c1a8e-0000-4000-8000-000000000001",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:payment-requests",
        "Message": message,
        "Timestamp": "2026-11-26T12:00:00.000Z",
        "SignatureVersion": "1",
        **extra,
    }


def eventbridge(
    detail: Any, source: str = "com.example.checkout", event_id: str = "7e1a0b2c-0000-4000-8000-000000000001"
) -> dict[str, Any]:
    """An EventBridge event (rule -> SQS target) around ``detail``."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "PaymentSessionRequested",
        "source": source,
        "account": "123456789012",
        "time": "2026-11-26T12:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


@dataclass(frozen=True)
class WorkerResources:
    """What the worker's stack gives it, in moto: the DLQ, the bus, and a subscriber's queue capturing every event."""

    sqs: Any
    dead_letter_queue_url: str
    capture_queue_url: str
    bus_name: str


def worker_resources(prefix: str) -> WorkerResources:
    """Create the DLQ, the bus and a capture queue ruled to receive the worker's events (inside ``mock_aws``)."""
    import boto3

    sqs = boto3.client("sqs", region_name="us-east-1")
    events = boto3.client("events", region_name="us-east-1")
    dlq_url = sqs.create_queue(QueueName=f"{prefix}-dlq")["QueueUrl"]
    capture_url = sqs.create_queue(QueueName=f"{prefix}-subscriber")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=capture_url, AttributeNames=["QueueArn"])["Attributes"]
    bus = events.create_event_bus(Name=f"{prefix}-events")["EventBusArn"].rsplit("/", 1)[-1]
    events.put_rule(Name="all", EventBusName=bus, EventPattern=json.dumps({"source": [EVENT_SOURCE]}))
    events.put_targets(Rule="all", EventBusName=bus, Targets=[{"Id": "capture", "Arn": attributes["QueueArn"]}])
    return WorkerResources(sqs, dlq_url, capture_url, bus)
