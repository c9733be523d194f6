"""The worker hides a retried record for its retry delay (domain.time_policy): the real handler, moto's SQS.

The request queue's visibility timeout is 0, so without the worker's delay a handed-back record is visible
again at once: what hides it can only be the worker's ChangeMessageVisibility on the record's receipt handle.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from sandbox.aws.sqs import change_visibility, delete_messages, receive
from sandbox.lambda_.sqs_event import to_lambda_record
from tests.support import valid_request

TOKEN = "integration-backoff-0001-aaaaaaaaaaaaaaaaaaaaaa"
MAX_RECEIVE_COUNT = 5


@pytest.fixture
def request_queue(aws: Any) -> tuple[str, str]:
    """A request queue with visibility timeout 0 and the redrive backstop to the worker's DLQ (count + 3)."""
    sqs = aws.sqs
    dlq_arn = sqs.get_queue_attributes(QueueUrl=aws.dead_letter_queue_url, AttributeNames=["QueueArn"])["Attributes"]
    url = sqs.create_queue(
        QueueName="payment-session-requests-backoff",
        Attributes={
            "VisibilityTimeout": "0",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn["QueueArn"], "maxReceiveCount": MAX_RECEIVE_COUNT + 3}
            ),
        },
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def take(aws: Any, queue: tuple[str, str]) -> list[dict[str, Any]]:
    """What Lambda's event source would receive now, as records of its event."""
    url, arn = queue
    return [to_lambda_record(m, queue_arn=arn, region="us-east-1") for m in receive(aws.sqs, url)]


@pytest.fixture
def backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stack's defaults: 300 s after the first receive, doubling, at most an hour."""
    monkeypatch.setenv("RETRY_DELAY_SECONDS", "300")
    monkeypatch.setenv("RETRY_DELAY_MAX_SECONDS", "3600")


def test_without_the_worker_delay_a_retried_record_is_visible_again_at_once(handler, aws, payments_api, request_queue):
    # Given the retry delay unset (CONTRACT section 3 as written) and the API throttling
    payments_api.fail_next("ThrottlingException", client_token=TOKEN, times=100)
    aws.sqs.send_message(QueueUrl=request_queue[0], MessageBody=json.dumps(valid_request(clientToken=TOKEN)))
    (record,) = take(aws, request_queue)

    # When the worker hands it back
    result = handler({"Records": [record]})

    # Then the queue's visibility timeout (0) applies: the next receive gets it again
    assert result["batchItemFailures"] == [{"itemIdentifier": record["messageId"]}]
    assert [r["messageId"] for r in take(aws, request_queue)] == [record["messageId"]]


@pytest.mark.usefixtures("backoff")
def test_a_throttled_record_is_hidden_after_each_receive_and_dead_lettered_on_the_last(
    handler, aws, payments_api, request_queue, log_lines
):
    # Given a request the API keeps throttling, on a queue whose visibility timeout is 0
    payments_api.fail_next("ThrottlingException", client_token=TOKEN, times=100)
    aws.sqs.send_message(QueueUrl=request_queue[0], MessageBody=json.dumps(valid_request(clientToken=TOKEN)))

    for receive_count in range(1, MAX_RECEIVE_COUNT):
        # When the event source receives it and the worker hands it back
        (record,) = take(aws, request_queue)
        assert record["attributes"]["ApproximateReceiveCount"] == str(receive_count)
        result = handler({"Records": [record]})
        assert result["batchItemFailures"] == [{"itemIdentifier": record["messageId"]}]

        # Then it is not visible right after the invocation: the worker hid it for its retry delay
        assert take(aws, request_queue) == []
        nominal = 300 * 2 ** (receive_count - 1)
        (line,) = [line for line in log_lines() if line.get("messageId") == record["messageId"]][-1:]
        assert round(min(nominal, 3600) * 0.9) <= line["retryDelaySeconds"] <= min(round(nominal * 1.1), 3600)

        # And once that delay has passed (made to pass here by setting its visibility to 0) it comes back
        change_visibility(aws.sqs, request_queue[0], [(record["receiptHandle"], 0)])

    # When it is received for the MAX_RECEIVE_COUNT-th time and the API still throttles
    (record,) = take(aws, request_queue)
    assert record["attributes"]["ApproximateReceiveCount"] == str(MAX_RECEIVE_COUNT)
    result = handler({"Records": [record]})

    # Then it is dead-lettered as before the delay existed, and (deleted by the event source, as Lambda deletes
    # what the response does not hand back) the request queue is empty
    assert result["batchItemFailures"] == []
    delete_messages(
        aws.sqs, request_queue[0], [{"MessageId": record["messageId"], "ReceiptHandle": record["receiptHandle"]}]
    )
    (letter,) = aws.dead_letters(1)
    assert letter["MessageAttributes"]["ErrorCode"]["StringValue"] == "ThrottlingException"
    assert letter["MessageAttributes"]["ClientToken"]["StringValue"] == TOKEN
    assert take(aws, request_queue) == []


def test_the_adapter_answers_per_entry_and_never_raises_for_a_bad_handle_or_queue(aws, request_queue):
    # Given the SQS adapter and a received message, beside a stale receipt handle and a record of no SQS queue
    from adapters.clients import ClientSettings, make_client
    from adapters.deadline import DeadlineGuard
    from adapters.visibility import SqsVisibility
    from domain.ports import VisibilityChange

    url, arn = request_queue
    aws.sqs.send_message(QueueUrl=url, MessageBody="{}")
    (received,) = receive(aws.sqs, url)
    adapter = SqsVisibility(make_client("sqs", ClientSettings()), DeadlineGuard(3.0))
    good = VisibilityChange("m-good", received["ReceiptHandle"], arn, 60)
    stale = VisibilityChange("m-stale", "not-a-receipt-handle", arn, 60)
    elsewhere = VisibilityChange("m-elsewhere", "rh", "arn:aws:sns:us-east-1:123456789012:topic", 60)

    # When it hides them
    answers = adapter.hide([good, stale], deadline=time.monotonic() + 5)
    (other,) = adapter.hide([elsewhere], deadline=time.monotonic() + 5)

    # Then the received message is hidden, and each failure is an answer for its own entry
    assert answers[0] is None
    assert answers[1] is not None
    assert other is not None and "not an SQS queue ARN" in other
    assert receive(aws.sqs, url) == []
