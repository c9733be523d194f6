"""Records SQS itself would never deliver get a clear answer (CONTRACT sections 2 and 9), never a shared token."""

from __future__ import annotations

import dataclasses

from domain.errors import ApiError
from domain.outcomes import Outcome
from tests.fakes.harness import Harness, record, token_of


def test_records_without_a_message_id_are_poison_without_a_shared_token(harness: Harness) -> None:
    # Given two valid requests whose records have no messageId (not SQS's: it always names its messages)
    first = dataclasses.replace(record("a", body='{"expiryTimeInMinutes": 60}'), message_id="")
    second = dataclasses.replace(record("b", body='{"expiryTimeInMinutes": 61}'), message_id="")
    # When they are processed
    report = harness.run(first, second)
    # Then each is dead-lettered InvalidRequest naming messageId, the API is never called (no empty-ID token)
    assert [(r.outcome, r.error_code, r.client_token) for r in report.results] == [
        (Outcome.DEAD_LETTERED, "InvalidRequest", None)
    ] * 2
    assert all(r.error_message == "messageId: missing" for r in report.results)
    assert harness.api.calls == []
    # And their dead letters carry the body and the diagnosis, no empty attribute SQS would refuse
    letters = harness.dead_letters.received
    assert [letter.body for letter in letters] == [first.body, second.body]
    assert all("SourceMessageId" not in letter.attributes for letter in letters)
    assert all("ClientToken" not in letter.attributes for letter in letters)
    assert report.response() == {"batchItemFailures": []}


FIFO_ARN = "arn:aws:sqs:us-east-1:123456789012:payment-session-requests.fifo"
OTHER_FIFO_ARN = "arn:aws:sqs:us-east-1:123456789012:other-requests.fifo"


def test_an_event_mixing_a_fifo_queues_records_with_a_standard_queues_keeps_each_queues_rules(
    harness: Harness,
) -> None:
    # Given one event holding a FIFO group whose first record is throttled, and standard records (one of them a
    # fair queue's tenant with the same group ID)
    harness.api.answer(token_of("f1"), ApiError("ThrottlingException", "slow down", 429))
    records = [
        record("f1", group_id="g", source_queue_arn=FIFO_ARN),
        record("s1"),
        record("f2", group_id="g", source_queue_arn=FIFO_ARN),
        record("s2", group_id="g"),
        record("o1", group_id="g", source_queue_arn=OTHER_FIFO_ARN),
    ]
    # When the batch is processed
    report = harness.run(*records)
    outcomes = {result.message_id: (result.outcome, result.error_code) for result in report.results}
    # Then the FIFO group keeps its order (f2 held behind f1), another FIFO queue's group "g" is its own group,
    # and the standard records are created as standard records, whatever their MessageGroupId
    assert outcomes == {
        "msg-f1": (Outcome.RETRIED, "ThrottlingException"),
        "msg-f2": (Outcome.RETRIED, "HeldBack"),
        "msg-s1": (Outcome.CREATED, None),
        "msg-s2": (Outcome.CREATED, None),
        "msg-o1": (Outcome.CREATED, None),
    }
