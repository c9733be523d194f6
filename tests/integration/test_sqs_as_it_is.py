"""SQS as it is (CONTRACT sections 5, 7, 9 and 10), through the handler, moto and the strict SQS layer.

Every send below passes ``sandbox.aws.strict_sqs`` first: a dead letter that reaches moto's DLQ is one SQS itself
would have taken.
"""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.aws.strict_sqs import MAX_MESSAGE_BYTES, check_message, message_size
from tests.support import only, sqs_event, sqs_record, string_attribute, valid_request

TOKEN = "fair-queue-token-0001-aaaaaaaaaaaaaaaaaaaaaaaaaa"


def _grouped(record: dict[str, Any], group: str) -> dict[str, Any]:
    """``record`` as a fair queue delivers it: a standard queue's record with its tenant's ``MessageGroupId``."""
    record["attributes"]["MessageGroupId"] = group
    return record


def _strings(message: dict[str, Any]) -> dict[str, str]:
    return {name: value.get("StringValue", "") for name, value in (message.get("MessageAttributes") or {}).items()}


def _as_sent(message: dict[str, Any]) -> dict[str, Any]:
    """A received message as the ``SendMessage`` that would carry it (to weigh it as SQS does)."""
    return {"MessageBody": message["Body"], "MessageAttributes": message.get("MessageAttributes") or {}}


def test_a_fair_queues_poison_reaches_the_dlq_with_its_group_and_no_deduplication_id(handler, aws, payments_api):
    # Given poison from tenant A of a fair queue (a standard queue whose producers set MessageGroupId), redriven
    # once already: it carries its ClientToken attribute
    token = {"ClientToken": string_attribute(TOKEN)}
    record = _grouped(sqs_record(valid_request(limit={}), message_id="m-fair", message_attributes=token), "tenant-a")

    # When the worker processes it
    result = handler(sqs_event(record))

    # Then it is dead-lettered (the strict layer took the send), keeping the tenant's group as a standard letter
    assert result == {"batchItemFailures": []}
    letter = only(aws.dead_letters(1))
    assert letter["Attributes"]["MessageGroupId"] == "tenant-a"
    assert "MessageDeduplicationId" not in letter["Attributes"]
    attributes = _strings(letter)
    assert (attributes["ErrorCode"], attributes["SourceMessageId"], attributes["ClientToken"]) == (
        "InvalidRequest",
        "m-fair",
        TOKEN,
    )
    assert payments_api.snapshot()["calls"] == 0


def test_a_poison_body_near_one_mib_with_ten_attributes_reaches_the_dlq_within_sqs_size(handler, aws, payments_api):
    # Given a poison body of 1,048,000 bytes and ten attributes of its own: a message SQS itself accepted
    body = "[" + " " * (1_048_000 - 2) + "]"
    own = {f"Producer{index}": string_attribute("v" * 40) for index in range(10)}
    sent = {"MessageBody": body, "MessageAttributes": {n: {"DataType": "String", "StringValue": "v" * 40} for n in own}}
    check_message("https://sqs.us-east-1.amazonaws.com/123456789012/payment-session-requests", sent)
    record = sqs_record(body, message_id="m-large", message_attributes=own)

    # When the worker processes it
    result = handler(sqs_event(record))

    # Then it reaches the DLQ byte for byte with ErrorCode, SourceMessageId and ClientToken, within 1 MiB
    assert result == {"batchItemFailures": []}
    letter = only(aws.dead_letters(1, timeout=5))
    assert letter["Body"] == body
    attributes = _strings(letter)
    assert attributes["ErrorCode"] == "InvalidRequest"
    assert attributes["SourceMessageId"] == "m-large"
    assert attributes["ClientToken"]
    assert message_size(_as_sent(letter)) <= MAX_MESSAGE_BYTES
    # And the worker's own attributes came first: of the record's, as many as SQS's ten allow, in order
    assert [name for name in attributes if name.startswith("Producer")] == [f"Producer{index}" for index in range(4)]


def test_a_body_too_large_even_for_the_three_kept_attributes_is_retried_and_logged_as_an_error(
    handler, aws, payments_api, log_lines
):
    # Given a poison body that fills SQS's limit on its own
    body = "[" + " " * (MAX_MESSAGE_BYTES - 2) + "]"
    record = sqs_record(body, message_id="m-full")

    # When the worker processes it
    result = handler(sqs_event(record))

    # Then it is handed back (the queue's redrive policy moves it), with an error line that says why
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-full"}]}
    assert aws.dead_letters() == []
    line = only(line for line in log_lines() if line.get("messageId") == "m-full")
    assert line["level"] == "ERROR"
    assert line["errorCode"] == "InvalidRequest"
    assert "bytes as SQS counts them with only ErrorCode, SourceMessageId, ClientToken" in line["errorMessage"]


def test_a_refused_dead_letter_names_the_aws_error_code_and_is_counted(
    handler, aws, payments_api, log_lines, monkeypatch
):
    # Given a DLQ that refuses the letter: a FIFO queue behind a standard one (SQS: MissingParameter, no group)
    fifo_dlq = aws.sqs.create_queue(QueueName="misconfigured-dlq.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", fifo_dlq)

    # When poison is processed
    result = handler(sqs_event(sqs_record("[]", message_id="m-refused")))

    # Then the record is retried, its line an error naming SQS's error code, and DeadLetterSendFailures counts it
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-refused"}]}
    lines = log_lines()
    line = only(line for line in lines if line.get("messageId") == "m-refused")
    assert (line["level"], line["outcome"], line["errorCode"]) == ("ERROR", "retried", "InvalidRequest")
    assert "MissingParameter" in line["errorMessage"]
    metric = only(line for line in lines if "DeadLetterSendFailures" in line and "_aws" in line)
    assert metric["DeadLetterSendFailures"] == [1.0]


def test_a_failed_publish_names_the_aws_error_code_and_is_counted(handler, aws, payments_api, log_lines, monkeypatch):
    # Given a bus that does not exist (EventBridge answers ResourceNotFoundException)
    monkeypatch.setenv("EVENT_BUS_NAME", "no-such-bus")

    # When a valid request is processed
    result = handler(sqs_event(sqs_record(valid_request(), message_id="m-unpublished")))

    # Then it is retried, its line naming the error code, and EventPublishFailures counts it
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-unpublished"}]}
    lines = log_lines()
    line = only(line for line in lines if line.get("messageId") == "m-unpublished")
    assert (line["outcome"], line["errorCode"]) == ("retried", "EventPublishFailed")
    assert "ResourceNotFoundException" in line["errorMessage"]
    metric = only(line for line in lines if "EventPublishFailures" in line and "_aws" in line)
    assert metric["EventPublishFailures"] == [1.0]


@pytest.mark.parametrize("outcome_body", ["[]", "{"])
def test_every_line_but_created_carries_an_error_message(handler, aws, payments_api, log_lines, outcome_body):
    handler(sqs_event(sqs_record(outcome_body, message_id="m-poison")))
    line = only(line for line in log_lines() if line.get("messageId") == "m-poison")
    assert line["errorMessage"] and line["errorCode"] in ("InvalidRequest", "MalformedJson")
