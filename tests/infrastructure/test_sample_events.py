"""The poison and last-receive samples in events/ (for sam local invoke and the sandbox) do what they say."""

from __future__ import annotations

import json

from tests.support import load_event, only

POISON_CODES = {
    "7a1c0d52-0b1e-4c5f-8e0a-000000000001": "MalformedJson",
    "7a1c0d52-0b1e-4c5f-8e0a-000000000002": "InvalidRequest",
    "7a1c0d52-0b1e-4c5f-8e0a-000000000003": "InvalidRequest",
    "7a1c0d52-0b1e-4c5f-8e0a-000000000004": "InvalidRequest",
    "7a1c0d52-0b1e-4c5f-8e0a-000000000005": "InvalidRequest",
    "7a1c0d52-0b1e-4c5f-8e0a-000000000006": "InvalidRequest",
    "7a1c0d52-0b1e-4c5f-8e0a-000000000007": "PaymentManagerNotAllowed",
    "7a1c0d52-0b1e-4c5f-8e0a-000000000008": "EventLoop",
}


def test_every_record_of_the_poison_sample_is_dead_lettered_with_its_error_code(handler, aws, payments_api):
    # Given the poison sample: broken JSON, a non-object, a typo'd field, out-of-range and mistyped values,
    # an exponent amount, a manager not allowed, and the worker's own event looping back
    event = load_event("sqs-poison.json")
    assert {r["messageId"] for r in event["Records"]} == set(POISON_CODES)

    # When the worker processes it
    result = handler(event)

    # Then no record is retried, none reaches the API, each goes to the DLQ byte for byte with its code
    assert result == {"batchItemFailures": []}
    assert payments_api.snapshot()["sessions_created"] == 0
    dead = aws.dead_letters(len(POISON_CODES))
    codes = {
        m["MessageAttributes"]["SourceMessageId"]["StringValue"]: m["MessageAttributes"]["ErrorCode"]["StringValue"]
        for m in dead
    }
    assert codes == POISON_CODES
    bodies = {r["messageId"]: r["body"] for r in event["Records"]}
    for message in dead:
        assert message["Body"] == bodies[message["MessageAttributes"]["SourceMessageId"]["StringValue"]]
    assert aws.published() == []


def test_the_last_receive_sample_is_a_redriven_request_on_the_default_max_receive_count(template):
    # Given the last-receive sample
    (record,) = load_event("sqs-last-receive-redelivery.json")["Records"]

    # Then it is on the stack's default last receive and carries the token a DLQ redrive keeps
    assert int(record["attributes"]["ApproximateReceiveCount"]) == template["Parameters"]["MaxReceiveCount"]["Default"]
    assert record["messageAttributes"]["ClientToken"]["dataType"] == "String"
    assert "clientToken" not in json.loads(record["body"])


def test_the_last_receive_sample_creates_its_session_with_the_redriven_token(handler, aws, payments_api):
    # Given the last-receive sample and a healthy payments API
    event = load_event("sqs-last-receive-redelivery.json")
    token = only(event["Records"])["messageAttributes"]["ClientToken"]["stringValue"]

    # When the worker processes it
    result = handler(event)

    # Then the session is created with the token from the attribute, as before the redrive
    assert result == {"batchItemFailures": []}
    assert only(aws.published(1))["detail"]["clientToken"] == token


def test_the_last_receive_sample_is_dead_lettered_not_retried_when_the_api_throttles(handler, aws, payments_api):
    # Given the last-receive sample and a payments API that throttles every attempt
    event = load_event("sqs-last-receive-redelivery.json")
    payments_api.fail_next("ThrottlingException", times=10)

    # When the worker processes it
    result = handler(event)

    # Then there is no receive left: it is dead-lettered with its token and announced as retryable
    assert result == {"batchItemFailures": []}
    dead = only(aws.dead_letters(1))
    assert dead["MessageAttributes"]["ErrorCode"]["StringValue"] == "ThrottlingException"
    token = only(event["Records"])["messageAttributes"]["ClientToken"]["stringValue"]
    assert dead["MessageAttributes"]["ClientToken"]["StringValue"] == token
    failed = only(aws.published(1))
    assert failed["detail-type"] == "PaymentSessionCreationFailed"
    assert failed["detail"]["error"]["retryable"] is True
