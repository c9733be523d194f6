"""A created session redriven late (CONTRACT sections 3 and 8): announced with the existing session, never failed.

Through the real handler, moto's SQS and EventBridge, the operator's `dlq redrive` and the payments fake over
HTTP: the session is created, its event is refused on the last receive, the request is dead-lettered with
`PaymentSessionId`, and it comes back after the request's age limit.
"""

from __future__ import annotations

import json
from typing import Any

from handlers import dependencies
from operations.cli import main
from sandbox.aws.sqs import receive
from tests.support import now_millis, only, sqs_event, sqs_record, valid_request

HALF_AN_HOUR_MS = 30 * 60_000


def queue_arn_of(aws: Any, queue_url: str) -> str:
    return str(aws.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def as_lambda_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """A message received from the request queue as the event source mapping hands it to the function."""
    record = sqs_record(message["Body"], message_id=message["MessageId"])
    record["eventSourceARN"] = queue_arn
    record["messageAttributes"] = {
        name: {"stringValue": value["StringValue"], "dataType": value["DataType"]}
        for name, value in message.get("MessageAttributes", {}).items()
        if "StringValue" in value
    }
    return record


def test_a_created_session_redriven_past_the_age_limit_is_announced_created_with_the_same_session(
    handler, aws, payments_api, monkeypatch
):
    # Given the request queue whose redrive policy names the DLQ, and a request first enqueued half an hour ago,
    # on its last receive
    dlq_arn = queue_arn_of(aws, aws.dead_letter_queue_url)
    redrive_policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 8})
    queue_url = aws.sqs.create_queue(
        QueueName="payment-session-requests", Attributes={"RedrivePolicy": redrive_policy}
    )["QueueUrl"]
    queue_arn = queue_arn_of(aws, queue_url)
    record = sqs_record(valid_request(), message_id="m-late-redrive", receive_count=5)
    record["eventSourceARN"] = queue_arn
    record["attributes"]["SentTimestamp"] = str(now_millis() - HALF_AN_HOUR_MS)

    # When the session is created but its event is refused (the bus is gone)
    monkeypatch.setenv("EVENT_BUS_NAME", "no-such-bus")
    assert handler(sqs_event(record)) == {"batchItemFailures": []}
    created = payments_api.snapshot()["sessions"]
    assert len(created) == 1
    session_id = created[0]["payment_session_id"]
    assert aws.published() == []

    # And the operator redrives the dead letter once the bus is back, after the request's age limit has passed
    monkeypatch.setenv("EVENT_BUS_NAME", aws.bus_name)
    monkeypatch.setenv("MAX_REQUEST_AGE_MINUTES", "10")
    dependencies.reset()
    assert main(["dlq", "redrive", "--dlq-url", aws.dead_letter_queue_url, "--queue-url", queue_url]) == 0
    copy = only(receive(aws.sqs, queue_url))
    assert copy["MessageAttributes"]["PaymentSessionId"]["StringValue"] == session_id
    result = handler(sqs_event(as_lambda_record(copy, queue_arn)))

    # Then the request is announced as created with the existing session: no failure, still one session
    assert result == {"batchItemFailures": []}
    event = only(aws.published(1))
    assert event["detail-type"] == "PaymentSessionCreated"
    assert event["detail"]["paymentSession"]["paymentSessionId"] == session_id
    stats = payments_api.snapshot()
    assert stats["sessions_created"] == 1
    assert stats["calls"] == 1  # CreatePaymentSession once, on the first delivery only
