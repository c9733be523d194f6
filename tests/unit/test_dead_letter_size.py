"""A dead letter within SQS's limits as SQS counts them (CONTRACT sections 5 and 10).

The letter drops what it must in the contract's order; the sender never sends what SQS would refuse, and
sends the rest in batches of at most ten entries and 1 MiB, each held against the strict SQS layer (moto alone
counts only bodies).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from adapters.dead_letter import SqsDeadLetterSender
from adapters.deadline import DeadlineGuard
from domain.dead_letter import KEPT_ATTRIBUTES, MAX_MESSAGE_BYTES, DeadLetter, dead_letter, message_size
from sandbox.aws.sqs import drain
from sandbox.aws.strict_sqs import CHECKED
from tests.support import REQUEST_QUEUE_ARN, string_attribute

TOKEN = "sqs-" + "a" * 64
OWN = {f"Producer{index}": string_attribute("v" * 40) for index in range(3)}


def letter(body: str, **options: Any) -> DeadLetter:
    values: dict[str, Any] = {
        "message_id": "m-1",
        "body": body,
        "error_code": "InvalidRequest",
        "error_message": "body is not a JSON object",
        "source_queue_arn": REQUEST_QUEUE_ARN,
        "client_token": TOKEN,
        "record_attributes": OWN,
        "payment_session_id": "payment-session-000000000000001",
        "original_sent_timestamp": 1_795_000_000_000,
    }
    values.update(options)
    return dead_letter(**values)


def _whole_size() -> int:
    """The size of the whole letter (every attribute) with an empty body."""
    return letter("").size


def body_for(size: int) -> str:
    """A body that makes the whole letter exactly ``size`` bytes as SQS counts them."""
    return "x" * (size - _whole_size())


def test_a_letter_exactly_at_the_limit_keeps_every_attribute() -> None:
    whole = letter(body_for(MAX_MESSAGE_BYTES))
    assert whole.size == MAX_MESSAGE_BYTES
    assert len(whole.attributes) == 7 + len(OWN)
    assert whole.too_large is None


def test_one_byte_over_drops_the_records_own_last_attribute_first() -> None:
    fitted = letter(body_for(MAX_MESSAGE_BYTES + 1))
    assert fitted.size <= MAX_MESSAGE_BYTES
    assert [name for name in fitted.attributes if name.startswith("Producer")] == ["Producer0", "Producer1"]


def _dropped(over: int) -> list[str]:
    """What a letter of the whole size plus ``over`` bytes dropped, in the order it dropped them."""
    whole = letter("").attributes
    kept = letter(body_for(MAX_MESSAGE_BYTES + over)).attributes
    return [name for name in reversed(whole) if name not in kept]


def test_the_drop_order_is_own_attributes_then_error_message_then_first_enqueue_and_session_id() -> None:
    # Given ever larger bodies, each needing one more attribute dropped
    sizes = {name: message_size("", {name: value}) for name, value in letter("").attributes.items()}
    order = ["Producer2", "Producer1", "Producer0", "ErrorMessage", "OriginalSentTimestamp", "PaymentSessionId"]
    over = 0
    for count, name in enumerate(order, start=1):
        over += sizes[name]
        # Then exactly the first `count` of the order are gone, and never a kept attribute
        assert set(_dropped(over)) == set(order[:count])
    assert not set(KEPT_ATTRIBUTES) & set(_dropped(over + sizes["SourceQueueArn"]))


def test_a_body_too_large_even_for_the_kept_attributes_says_why() -> None:
    # Given a body that leaves no room for ErrorCode, SourceMessageId and ClientToken
    kept_only = letter("", record_attributes={}, payment_session_id=None, original_sent_timestamp=None)
    kept_size = message_size("", {name: kept_only.attributes[name] for name in KEPT_ATTRIBUTES})
    at_limit = letter("x" * (MAX_MESSAGE_BYTES - kept_size))
    over = letter("x" * (MAX_MESSAGE_BYTES - kept_size + 1))
    # Then the one at the limit fits with only those three, and one byte more does not, saying why
    assert list(at_limit.attributes) == list(KEPT_ATTRIBUTES) and at_limit.too_large is None
    assert list(over.attributes) == list(KEPT_ATTRIBUTES)
    assert over.too_large == (
        f"the dead letter is {MAX_MESSAGE_BYTES + 1} bytes as SQS counts them with only ErrorCode, SourceMessageId,"
        f" ClientToken; SQS takes {MAX_MESSAGE_BYTES}"
    )


# -- the sender, through the strict SQS layer and moto --------------------------------------------------------------


@pytest.fixture
def sqs() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("sqs", region_name="us-east-1")


def _sender(sqs: Any, queue_url: str) -> SqsDeadLetterSender:
    return SqsDeadLetterSender(sqs, DeadlineGuard(5.0), queue_url=queue_url)


def test_ten_large_letters_go_in_batches_within_one_mib_and_all_arrive(sqs: Any) -> None:
    # Given ten letters of 300 KB each (3 MB in all, as SQS counts them)
    queue = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    letters = [letter("y" * 300_000, message_id=f"m-{index}") for index in range(10)]
    before = CHECKED["calls"]
    # When they are sent
    answers = _sender(sqs, queue).send(letters, deadline=time.monotonic() + 30)
    # Then every one was taken (the strict layer refused none), in calls of at most three
    assert answers == [None] * 10
    assert CHECKED["calls"] - before == 4  # 3 + 3 + 3 + 1
    assert sorted(m["MessageAttributes"]["SourceMessageId"]["StringValue"] for m in drain(sqs, queue)) == sorted(
        f"m-{index}" for index in range(10)
    )


def test_a_letter_too_large_is_answered_without_a_send_and_the_others_go(sqs: Any) -> None:
    queue = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    too_large = letter("z" * MAX_MESSAGE_BYTES, message_id="m-huge")
    answers = _sender(sqs, queue).send([letter("[]", message_id="m-small"), too_large], deadline=time.monotonic() + 30)
    assert answers == [None, too_large.too_large]
    assert [m["MessageAttributes"]["SourceMessageId"]["StringValue"] for m in drain(sqs, queue)] == ["m-small"]


def test_a_fair_letter_keeps_its_group_and_a_fifo_letter_is_deduplicated(sqs: Any) -> None:
    # Given a standard DLQ for a fair queue's letter, and a FIFO DLQ for a FIFO queue's letter
    standard = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    fifo = sqs.create_queue(QueueName="dlq.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    deadline = time.monotonic() + 30
    # When each is sent (the strict layer refuses a deduplication ID on a standard queue)
    assert _sender(sqs, standard).send([letter("[]", group_id="tenant-a")], deadline=deadline) == [None]
    assert _sender(sqs, fifo).send([letter("[]", group_id="g", fifo=True)], deadline=deadline) == [None]
    # Then both kept their group; only the FIFO one has a deduplication ID, the source message ID
    (fair,) = drain(sqs, standard)
    (ordered,) = drain(sqs, fifo)
    assert fair["Attributes"]["MessageGroupId"] == "tenant-a" and "MessageDeduplicationId" not in fair["Attributes"]
    assert (ordered["Attributes"]["MessageGroupId"], ordered["Attributes"]["MessageDeduplicationId"]) == ("g", "m-1")


def test_a_letter_of_exactly_one_mib_as_sqs_counts_is_taken(sqs: Any) -> None:
    # Given a dead letter of exactly 1,048,576 bytes, body and attributes as SQS counts them
    queue = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    whole = letter(body_for(MAX_MESSAGE_BYTES))
    assert whole.size == MAX_MESSAGE_BYTES
    # When it is sent through the strict SQS layer, then SQS's rules take it, every attribute kept
    assert _sender(sqs, queue).send([whole], deadline=time.monotonic() + 30) == [None]
    (received,) = drain(sqs, queue)
    assert set(received["MessageAttributes"]) == set(whole.attributes)
