"""FIFO request queues end to end through the handler, moto's FIFO DLQ and the payments fake (CONTRACT section 9)."""

from __future__ import annotations

import dataclasses

import pytest

from tests.support import REQUEST_QUEUE_ARN, only, sqs_event, sqs_record, valid_request

FIFO_ARN = REQUEST_QUEUE_ARN + ".fifo"


def fifo_record(body, *, message_id: str, group: str, **options):
    record = sqs_record(body, message_id=message_id, **options)
    record["eventSourceARN"] = FIFO_ARN
    record["attributes"].update(
        {"MessageGroupId": group, "MessageDeduplicationId": f"dedup-{message_id}", "SequenceNumber": "1"}
    )
    return record


@pytest.fixture
def fifo_dlq(aws, monkeypatch):
    url = aws.sqs.create_queue(QueueName="payment-session-requests-dlq.fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", url)
    return dataclasses.replace(aws, dead_letter_queue_url=url)


def test_a_fifo_dead_letter_keeps_its_group_and_is_deduplicated_on_its_source_message_id(handler, fifo_dlq):
    # Given poison at the head of a message group, then a valid request of the same group
    poison = fifo_record("{not json", message_id="m-poison", group="user-7")
    valid = fifo_record(valid_request(), message_id="m-valid", group="user-7")

    # When the worker processes the batch
    result = handler(sqs_event(poison, valid))

    # Then the poison is in the FIFO DLQ with its group and its source message ID as deduplication ID
    assert result == {"batchItemFailures": []}
    response = fifo_dlq.sqs.receive_message(
        QueueUrl=fifo_dlq.dead_letter_queue_url,
        MessageAttributeNames=["All"],
        MessageSystemAttributeNames=["MessageGroupId", "MessageDeduplicationId"],
    )
    letter = only(response["Messages"])
    assert letter["Attributes"]["MessageGroupId"] == "user-7"
    assert letter["Attributes"]["MessageDeduplicationId"] == "m-poison"
    assert letter["MessageAttributes"]["ErrorCode"]["StringValue"] == "MalformedJson"


def test_a_throttled_record_hands_back_the_rest_of_its_group_and_not_the_other_group(handler, aws, payments_api):
    # Given group A's first request is throttled, and group B's is not
    payments_api.fail_next("ThrottlingException", client_token="fifo-token-a1-".ljust(40, "a"), times=3)
    records = [
        fifo_record(valid_request(clientToken="fifo-token-a1-".ljust(40, "a")), message_id="a1", group="A"),
        fifo_record(valid_request(clientToken="fifo-token-b1-".ljust(40, "b")), message_id="b1", group="B"),
        fifo_record(valid_request(clientToken="fifo-token-a2-".ljust(40, "a")), message_id="a2", group="A"),
    ]

    # When the worker processes the batch
    result = handler(sqs_event(*records))

    # Then A's throttled record and everything after it in A are handed back; B's is created
    assert result == {"batchItemFailures": [{"itemIdentifier": "a1"}, {"itemIdentifier": "a2"}]}
    assert [event["detail"]["messageId"] for event in aws.published(1)] == ["b1"]
    assert set(payments_api.snapshot()["calls_by_client_token"]) == {
        "fifo-token-a1-".ljust(40, "a"),
        "fifo-token-b1-".ljust(40, "b"),
    }
