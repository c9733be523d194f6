"""Lambda's SQS event: a received message as one of its records, and a handler's answer as Lambda reads it.

The event source (:mod:`sandbox.lambda_.event_source`) builds its events and settles its batches with these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from sandbox.aws.sqs import to_lambda_form

RECORD_SYSTEM_ATTRIBUTES: Final = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "AWSTraceHeader",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "DeadLetterQueueSourceArn",
)


def to_lambda_record(message: Mapping[str, Any], *, queue_arn: str, region: str) -> dict[str, Any]:
    """An SQS ``ReceiveMessage`` message as a record of Lambda's SQS event."""
    attributes = message.get("Attributes") or {}
    message_attributes = {
        name: to_lambda_form(value) for name, value in (message.get("MessageAttributes") or {}).items()
    }
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": {k: attributes[k] for k in RECORD_SYSTEM_ATTRIBUTES if k in attributes},
        "messageAttributes": message_attributes,
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def settle_response(
    response: Any, message_ids: Sequence[str], *, reports_batch_item_failures: bool
) -> tuple[tuple[str, ...], str | None]:
    """(the failed message IDs, or an error that hands back the whole batch), as Lambda reads a response."""
    if not reports_batch_item_failures or response is None:
        return (), None
    if not isinstance(response, dict):
        return tuple(message_ids), "invalid partial batch response: not a JSON object"
    items = response.get("batchItemFailures")
    if items is None:
        return (), None
    if not isinstance(items, list):
        return tuple(message_ids), "invalid partial batch response: batchItemFailures is not a list"
    known = set(message_ids)
    failed: list[str] = []
    for item in items:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or not identifier or identifier not in known:
            return tuple(message_ids), f"invalid partial batch response: itemIdentifier {identifier!r}"
        failed.append(identifier)
    return tuple(failed), None
