"""The idempotency record through the real handler (issue 25): settings, wiring, logs and metrics.

moto's SQS, EventBridge and DynamoDB, the payments API fake over HTTP.
"""

from __future__ import annotations

from typing import Any

from domain.request import EffectiveRequest
from domain.token_record import request_hash
from tests.support import MANAGER_ARN, only, sqs_event, sqs_record, valid_request
from tests.token_tables import create_token_table

TOKEN = "record-token-0001-aaaaaaaaaaaaaaaaaaaaaaaaaaaa"


def _metric(lines: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [line for line in lines if name in line and "_aws" in line]


def test_with_the_table_named_a_replay_of_a_created_token_is_announced_without_a_call(
    handler, aws, payments_api, monkeypatch
):
    # Given the record's table, named by IDEMPOTENCY_TABLE_NAME
    create_token_table("tokens")
    monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", "tokens")

    # When one request is delivered, then delivered again
    record = sqs_record(valid_request(clientToken=TOKEN), message_id="m-first")
    assert handler(sqs_event(record)) == {"batchItemFailures": []}
    again = sqs_record(valid_request(clientToken=TOKEN), message_id="m-again", receive_count=2)
    assert handler(sqs_event(again)) == {"batchItemFailures": []}

    # Then the API was called once and both deliveries announced the same session
    stats = payments_api.snapshot()
    assert stats["calls"] == 1
    events = aws.published(2)
    assert [e["detail-type"] for e in events] == ["PaymentSessionCreated"] * 2
    assert {e["detail"]["paymentSession"]["paymentSessionId"] for e in events} == {
        stats["sessions"][0]["payment_session_id"]
    }


def test_a_table_that_does_not_exist_retries_the_record_and_the_log_names_the_aws_error(
    handler, aws, payments_api, monkeypatch, log_lines
):
    # Given IDEMPOTENCY_TABLE_NAME naming a missing table
    monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", "no-such-table")

    # When a request is delivered
    result = handler(sqs_event(sqs_record(valid_request(clientToken=TOKEN), message_id="m-missing")))

    # Then it is retried, the API is not called, its log line names ResourceNotFoundException, and it is counted
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-missing"}]}
    assert payments_api.snapshot()["calls"] == 0
    lines = log_lines()
    entry = only(line for line in lines if line.get("messageId") == "m-missing")
    assert entry["errorCode"] == "IdempotencyRecordFailed"
    assert "ResourceNotFoundException" in entry["errorMessage"]
    assert only(_metric(lines, "IdempotencyRecordFailures"))["IdempotencyRecordFailures"] == [1.0]


def test_an_unknown_outcome_is_counted_as_outcomes_unknown(handler, aws, payments_api, monkeypatch, log_lines):
    # Given a token attempted long ago whose outcome is unknown (its item left attempted)
    dynamodb = create_token_table("tokens")
    monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", "tokens")
    monkeypatch.setenv("CLIENT_TOKEN_WINDOW_MINUTES", "0.005")
    request = EffectiveRequest.model_validate({**valid_request(clientToken=TOKEN), "paymentManagerArn": MANAGER_ARN})
    dynamodb.put_item(
        TableName="tokens",
        Item={
            "clientToken": {"S": TOKEN},
            "state": {"S": "attempted"},
            "requestHash": {"S": request_hash(request)},
            "firstAttemptAt": {"N": "1700000000000"},
            "holderDeadline": {"N": "1700000030000"},
            "expiresAt": {"N": "9999999999"},
        },
    )

    # When the request is delivered again
    result = handler(sqs_event(sqs_record(valid_request(clientToken=TOKEN), message_id="m-unknown")))

    # Then it is dead-lettered OutcomeUnknown with its first attempt, not sent, no failure event; and counted
    assert result == {"batchItemFailures": []}
    assert payments_api.snapshot()["calls"] == 0
    letter = only(aws.dead_letters(1))
    assert letter["MessageAttributes"]["ErrorCode"]["StringValue"] == "OutcomeUnknown"
    assert letter["MessageAttributes"]["FirstAttemptAt"]["StringValue"] == "1700000000000"
    assert aws.published() == []
    assert only(_metric(log_lines(), "OutcomesUnknown"))["OutcomesUnknown"] == [1.0]
