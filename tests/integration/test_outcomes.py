"""CONTRACT section 3 end to end: the real handler, moto's SQS and EventBridge, the payments API over HTTP."""

from __future__ import annotations

import json

import pytest

from tests.support import MANAGER_ARN, OTHER_MANAGER_ARN, load_event, only, sqs_event, sqs_record, valid_request

TOKEN = "integration-token-0001-aaaaaaaaaaaaaaaaaaaaaaaa"


def failures(result: dict[str, list[dict[str, str]]]) -> list[str]:
    return [item["itemIdentifier"] for item in result["batchItemFailures"]]


def test_a_valid_request_creates_a_session_and_announces_it(handler, aws, payments_api):
    # Given a valid request
    record = sqs_record(valid_request(clientToken=TOKEN), message_id="m-created")

    # When the worker processes it
    result = handler(sqs_event(record))

    # Then the record is deleted, one session exists, and subscribers receive PaymentSessionCreated
    assert failures(result) == []
    stats = payments_api.snapshot()
    assert stats["sessions_created"] == 1
    event = only(aws.published(1))
    assert event["detail-type"] == "PaymentSessionCreated"
    assert event["source"] == "payment-session-worker"
    assert event["resources"] == [MANAGER_ARN]
    detail = event["detail"]
    assert detail["clientToken"] == TOKEN
    assert detail["messageId"] == "m-created"
    assert detail["paymentSession"]["paymentSessionId"] == stats["sessions"][0]["payment_session_id"]
    assert aws.dead_letters() == []


@pytest.mark.parametrize("code", ["ValidationException", "ConflictException", "ServiceQuotaExceededException"])
def test_a_final_api_error_fails_the_request_and_deletes_the_record(handler, aws, payments_api, code):
    # Given the API answers the request with a final error
    members = {"reason": "FieldValidationFailed", "fieldList": [{"name": "userId", "message": "bad"}]}
    payments_api.fail_next(code, client_token=TOKEN, members=members if code == "ValidationException" else None)

    # When the worker processes it
    result = handler(sqs_event(sqs_record(valid_request(clientToken=TOKEN))))

    # Then the record is deleted and PaymentSessionCreationFailed says it is not retryable
    assert failures(result) == []
    event = only(aws.published(1))
    assert event["detail-type"] == "PaymentSessionCreationFailed"
    error = event["detail"]["error"]
    assert error["code"] == code
    assert error["retryable"] is False
    if code == "ValidationException":
        assert error["reason"] == "FieldValidationFailed"
        assert error["fieldList"] == [{"name": "userId", "message": "bad"}]
    else:
        assert "reason" not in error
        assert "fieldList" not in error
    assert aws.dead_letters() == []


RETRIED_ANSWERS = [
    ("ThrottlingException", None),
    ("InternalServerException", None),
    ("AccessDeniedException", None),
    ("SubscriptionRequiredException", None),
    ("ServiceUnavailableException", 503),  # any 5xx, whatever its code
    ("UnrecognizedClientException", 403),  # an error code the model does not declare
]


@pytest.mark.parametrize(("code", "status"), RETRIED_ANSWERS)
def test_a_transient_api_error_hands_the_record_back_without_an_event(handler, aws, payments_api, code, status):
    # Given the API keeps answering with a retried cause (more often than the SDK retries)
    payments_api.fail_next(code, client_token=TOKEN, status=status, times=10)
    record = sqs_record(valid_request(clientToken=TOKEN), message_id="m-retried", receive_count=1)

    # When the worker processes it on a receive that is not the last
    result = handler(sqs_event(record))

    # Then the record is handed back to SQS, nothing is published and nothing is dead-lettered
    assert failures(result) == ["m-retried"]
    assert aws.published() == []
    assert aws.dead_letters() == []


@pytest.mark.parametrize(("code", "status"), RETRIED_ANSWERS[:2])
def test_a_transient_api_error_on_the_last_receive_is_dead_lettered_and_announced(
    handler, aws, payments_api, code, status
):
    # Given the API keeps answering with a retried cause and the record is on its last receive
    payments_api.fail_next(code, client_token=TOKEN, status=status, times=10)
    record = sqs_record(valid_request(clientToken=TOKEN), message_id="m-last", receive_count=5)

    # When the worker processes it
    result = handler(sqs_event(record))

    # Then it is copied to the DLQ with the API's error code, deleted, and announced as retryable
    assert failures(result) == []
    letter = only(aws.dead_letters(1))
    assert letter["Body"] == record["body"]
    attributes = {name: value["StringValue"] for name, value in letter["MessageAttributes"].items()}
    assert attributes["ErrorCode"] == code
    assert attributes["ClientToken"] == TOKEN
    assert attributes["SourceMessageId"] == "m-last"
    event = only(aws.published(1))
    assert event["detail-type"] == "PaymentSessionCreationFailed"
    assert event["detail"]["error"]["code"] == code
    assert event["detail"]["error"]["retryable"] is True


def test_a_throttle_that_clears_within_the_sdk_retries_still_creates_the_session(handler, aws, payments_api):
    # Given the API throttles once, then answers
    payments_api.fail_next("ThrottlingException", client_token=TOKEN, times=1)

    # When the worker processes the request
    result = handler(sqs_event(sqs_record(valid_request(clientToken=TOKEN))))

    # Then the SDK's own retry succeeds: one session, two calls
    assert failures(result) == []
    assert payments_api.snapshot()["calls"] == 2
    assert only(aws.published(1))["detail-type"] == "PaymentSessionCreated"


def test_a_slow_api_answer_past_the_deadline_is_retried_as_a_timeout(handler, aws, payments_api):
    # Given the API answers after 5 s while the invocation has 6 s left (so about 4 s for the API stage)
    payments_api.delay_next(5000, client_token=TOKEN, times=5)
    record = sqs_record(valid_request(clientToken=TOKEN), message_id="m-slow", receive_count=5)

    # When the worker processes it on its last receive
    result = handler(sqs_event(record), remaining_ms=6000)

    # Then the call is cut at the deadline, the record is dead-lettered with ErrorCode Timeout
    assert failures(result) == []
    letter = only(aws.dead_letters(1))
    assert letter["MessageAttributes"]["ErrorCode"]["StringValue"] == "Timeout"


def test_a_record_that_cannot_start_in_time_is_handed_back_without_calling_the_api(handler, aws, payments_api):
    # Given an invocation with less time left than a call needs to start, once the worker has kept its reserve
    record = sqs_record(valid_request(clientToken=TOKEN), message_id="m-late")

    # When the worker processes the batch
    result = handler(sqs_event(record), remaining_ms=400)

    # Then the record is handed back and the API never saw it
    assert failures(result) == ["m-late"]
    assert payments_api.snapshot()["calls"] == 0


@pytest.mark.without_record("a created token's redelivery makes no call (tests/integration/test_idempotency_record.py)")
def test_a_failed_publish_hands_the_record_back_and_the_redelivery_reuses_the_session(
    handler, aws, payments_api, monkeypatch
):
    # Given the event bus does not exist, so PutEvents fails
    monkeypatch.setenv("EVENT_BUS_NAME", "no-such-bus")
    record = sqs_record(valid_request(), message_id="m-publish")

    # When the worker processes the record
    result = handler(sqs_event(record))

    # Then the record is retried although the session exists
    assert failures(result) == ["m-publish"]
    assert payments_api.snapshot()["sessions_created"] == 1

    # And when SQS redelivers it with the bus back, the same session is announced (same token, no double)
    monkeypatch.setenv("EVENT_BUS_NAME", aws.bus_name)
    from handlers import dependencies

    dependencies.reset()
    again = handler(sqs_event({**record, "attributes": {**record["attributes"], "ApproximateReceiveCount": "2"}}))
    assert failures(again) == []
    stats = payments_api.snapshot()
    assert stats["sessions_created"] == 1
    assert stats["idempotent_replays"] == 1
    assert (
        only(aws.published(1))["detail"]["paymentSession"]["paymentSessionId"]
        == stats["sessions"][0]["payment_session_id"]
    )


def test_a_failed_publish_on_the_last_receive_is_dead_lettered_as_event_publish_failed(
    handler, aws, payments_api, monkeypatch
):
    # Given PutEvents fails and the record is on its last receive
    monkeypatch.setenv("EVENT_BUS_NAME", "no-such-bus")
    record = sqs_record(valid_request(), message_id="m-publish-last", receive_count=5)

    # When the worker processes it
    result = handler(sqs_event(record))

    # Then it is dead-lettered with ErrorCode EventPublishFailed and the token that created the session
    assert failures(result) == []
    letter = only(aws.dead_letters(1))
    assert letter["MessageAttributes"]["ErrorCode"]["StringValue"] == "EventPublishFailed"
    assert (
        letter["MessageAttributes"]["ClientToken"]["StringValue"]
        == payments_api.snapshot()["sessions"][0]["client_token"]
    )


def test_a_dead_letter_queue_outage_hands_poison_back_instead_of_losing_it(handler, aws, payments_api, monkeypatch):
    # Given the DLQ cannot be written to
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", aws.dead_letter_queue_url.rsplit("/", 1)[0] + "/no-such-queue")
    poison = sqs_record("not json", message_id="m-poison")

    # When the worker processes a poison record
    result = handler(sqs_event(poison))

    # Then the record is handed back so that the queue's redrive policy can still move it
    assert failures(result) == ["m-poison"]
    assert payments_api.snapshot()["calls"] == 0


def test_poison_is_dead_lettered_on_the_first_receive_and_never_reaches_the_api(handler, aws, payments_api):
    # Given a request with the typo "limit" (which must never create an unlimited session)
    body = json.dumps({"expiryTimeInMinutes": 60, "limit": {"maxSpendAmount": {"value": "25", "currency": "USD"}}})
    record = sqs_record(body, message_id="m-typo", receive_count=1)

    # When the worker processes it
    result = handler(sqs_event(record))

    # Then it is dead-lettered at once, byte for byte, and the API is never called
    assert failures(result) == []
    letter = only(aws.dead_letters(1))
    assert letter["Body"] == body
    assert letter["MessageAttributes"]["ErrorCode"]["StringValue"] == "InvalidRequest"
    assert "limit" in letter["MessageAttributes"]["ErrorMessage"]["StringValue"]
    assert payments_api.snapshot()["calls"] == 0
    assert aws.published() == []


def test_a_mixed_batch_reports_only_the_retried_records(handler, aws, payments_api):
    # Given the mixed sample: created, failed (conflict), retried (throttled), a typo and a non-JSON body
    event = load_event("sqs-mixed-batch.json")
    tokens = [json.loads(r["body"]).get("clientToken") if r["body"].startswith("{") else None for r in event["Records"]]
    payments_api.fail_next("ConflictException", client_token=tokens[1])
    payments_api.fail_next("ThrottlingException", client_token=tokens[2], times=10)

    # When the worker processes the batch
    result = handler(event)

    # Then only the throttled record is handed back; the others ended
    assert failures(result) == [event["Records"][2]["messageId"]]
    kinds = sorted(e["detail-type"] for e in aws.published(2))
    assert kinds == ["PaymentSessionCreated", "PaymentSessionCreationFailed"]
    codes = sorted(m["MessageAttributes"]["ErrorCode"]["StringValue"] for m in aws.dead_letters(2))
    assert codes == ["InvalidRequest", "MalformedJson"]


def test_an_allowed_payment_manager_is_used_and_announced(handler, aws, payments_api):
    # Given a request naming a manager of ALLOWED_PAYMENT_MANAGER_ARNS
    result = handler(sqs_event(sqs_record(valid_request(paymentManagerArn=OTHER_MANAGER_ARN))))

    # Then the session is created under that manager and the event names it
    assert failures(result) == []
    assert payments_api.snapshot()["sessions"][0]["request"]["paymentManagerArn"] == OTHER_MANAGER_ARN
    assert only(aws.published(1))["resources"] == [OTHER_MANAGER_ARN]
