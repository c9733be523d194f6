"""EventBridge or the DLQ failing (CONTRACT section 3): the record is handed back or dead-lettered, never lost,
and one refused entry fails only its own record. In-memory fakes of the ports."""

from __future__ import annotations

from typing import Any

import pytest

from domain.errors import ApiError
from domain.events import DetailType
from domain.outcomes import Outcome
from tests.fakes.harness import MAX_RECEIVE, Harness, attribute, only_result, record, token_of
from tests.fakes.ports import FakeEventPublisher


def _fail_publish(harness: Harness, how: str, token: str) -> None:
    if how == "entry":
        harness.publisher.failing[token] = "InternalFailure"
    elif how == "call":
        harness.publisher.whole_call_failure = "AccessDeniedException"
    else:
        harness.publisher.whole_call_failure = ConnectionError("reset")


@pytest.mark.parametrize("how", ["entry", "call", "raises"])
@pytest.mark.parametrize("answer", ["created", "failed"])
def test_a_failed_publish_hands_the_record_back(harness: Harness, how: str, answer: str) -> None:
    if answer == "failed":
        harness.api.answer(token_of("e"), ApiError("ConflictException", "conflict", 409))
    _fail_publish(harness, how, token_of("e"))
    report = harness.run(record("e", receive_count=MAX_RECEIVE - 1))
    result = only_result(report)
    assert (result.outcome, result.error_code) == (Outcome.RETRIED, "EventPublishFailed")
    assert report.batch_item_failures == [{"itemIdentifier": "msg-e"}]
    assert harness.dead_letters.calls == []


@pytest.mark.parametrize("how", ["entry", "call", "raises"])
def test_a_failed_publish_on_the_last_receive_is_dead_lettered_as_event_publish_failed(
    harness: Harness, how: str
) -> None:
    _fail_publish(harness, how, token_of("e"))
    report = harness.run(record("e", receive_count=MAX_RECEIVE))
    result = only_result(report)
    assert (result.outcome, result.error_code) == (Outcome.DEAD_LETTERED, "EventPublishFailed")
    (letter,) = harness.dead_letters.received
    assert attribute(letter, "ErrorCode") == "EventPublishFailed"
    assert report.batch_item_failures == []


def test_one_failed_entry_fails_only_its_own_record(harness: Harness) -> None:
    harness.publisher.failing[token_of("b")] = "InternalFailure"
    report = harness.run(record("a"), record("b"), record("c"))
    assert [r.outcome for r in report.results] == [Outcome.CREATED, Outcome.RETRIED, Outcome.CREATED]
    assert report.batch_item_failures == [{"itemIdentifier": "msg-b"}]


class _WrongLengthPublisher(FakeEventPublisher):
    def publish(self, entries: Any, *, deadline: float) -> list[str | None]:
        super().publish(entries, deadline=deadline)
        return [None]


def test_an_adapter_answering_for_the_wrong_number_of_entries_fails_the_chunk(harness: Harness) -> None:
    harness.publisher = _WrongLengthPublisher()
    report = harness.run(record("a"), record("b"))
    assert {r.outcome for r in report.results} == {Outcome.RETRIED}


# -- the DLQ failing ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["entry", "call", "raises"])
@pytest.mark.parametrize("kind", ["poison", "last-receive"])
def test_a_failed_dead_letter_hands_the_record_back_never_loses_it(harness: Harness, how: str, kind: str) -> None:
    # Given the DLQ refuses the copy
    if how == "entry":
        harness.dead_letters.failing["msg-x"] = "KMS.AccessDenied"
    elif how == "call":
        harness.dead_letters.whole_call_failure = "send to the DLQ failed: AccessDenied"
    else:
        harness.dead_letters.whole_call_failure = TimeoutError("SQS unreachable")
    if kind == "poison":
        source, code = record("x", body="{"), "MalformedJson"
    else:
        harness.api.answer(token_of("x"), ApiError("ThrottlingException", "slow", 429))
        source, code = record("x", receive_count=MAX_RECEIVE), "ThrottlingException"
    # When the record is processed
    report = harness.run(source)
    # Then it is handed back to SQS (whose redrive policy is the backstop), the cause kept
    result = only_result(report)
    assert (result.outcome, result.error_code) == (Outcome.RETRIED, code)
    assert report.batch_item_failures == [{"itemIdentifier": "msg-x"}]
    # And it is not announced as dead-lettered
    assert harness.events(DetailType.FAILED) == []


def test_one_refused_dead_letter_does_not_affect_the_others(harness: Harness) -> None:
    harness.dead_letters.failing["msg-y"] = "InvalidParameterValue"
    report = harness.run(record("x", body="{"), record("y", body="{"), record("z", body="[]"))
    assert [r.outcome for r in report.results] == [Outcome.DEAD_LETTERED, Outcome.RETRIED, Outcome.DEAD_LETTERED]
