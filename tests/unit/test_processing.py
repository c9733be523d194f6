"""One SQS batch through the four outcomes of CONTRACT section 3, with in-memory fakes of the ports."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.constraints import MAX_BATCH_ENTRIES
from domain.errors import ApiError, Reach, WorkerErrorCode
from domain.events import DetailType
from domain.outcomes import Outcome
from domain.record_state import RecordState
from domain.records import InboundRecord
from domain.report import BatchReport
from domain.time_policy import Budget
from domain.tokens import derive_token
from tests.fakes.harness import BUDGET, MAX_RECEIVE, TRACE, Harness, attribute, record, token_of
from tests.fakes.ports import FakeEventPublisher, FakePaymentsApi, session_for
from tests.support import (
    EVENT_SOURCE,
    FOREIGN_MANAGER_ARN,
    MANAGER_ARN,
    REQUEST_QUEUE_ARN,
    string_attribute,
    valid_request,
)

RETRIED_CAUSES: list[tuple[BaseException, str]] = [
    (ApiError("ThrottlingException", "Rate exceeded", 429), "ThrottlingException"),
    (ApiError("InternalServerException", "oops", 500), "InternalServerException"),
    (ApiError("AccessDeniedException", "denied", 403), "AccessDeniedException"),
    (ApiError("SubscriptionRequiredException", "subscribe", 403), "SubscriptionRequiredException"),
    (ApiError("ValidationException", "gateway said no", 503), "ValidationException"),
    (ApiError("BrandNewException", "unknown to us", 400), "BrandNewException"),
    (ApiError(WorkerErrorCode.TIMEOUT, "ReadTimeoutError", reach=Reach.UNANSWERED), "Timeout"),
    (ApiError(WorkerErrorCode.NETWORK_ERROR, "EndpointConnectionError", reach=Reach.UNANSWERED), "NetworkError"),
    (RuntimeError("a bug in an adapter"), "InternalError"),
    (KeyError("paymentSession"), "InternalError"),
]
RETRIED_IDS = [
    "throttling",
    "internal",
    "access",
    "subscription",
    "5xx",
    "unknown-4xx",
    "timeout",
    "network",
    "runtime",
    "keyerror",
]
FAILED_CODES = [("ValidationException", 400), ("ConflictException", 409), ("ServiceQuotaExceededException", 402)]

POISON: list[tuple[str, str]] = [
    ("{not json", "MalformedJson"),
    ("[]", "InvalidRequest"),
    (json.dumps(valid_request(limit={"maxSpendAmount": {"value": "1", "currency": "USD"}})), "InvalidRequest"),
    (json.dumps(valid_request(paymentManagerArn=FOREIGN_MANAGER_ARN)), "PaymentManagerNotAllowed"),
    (
        json.dumps({"version": "0", "source": EVENT_SOURCE, "detail-type": "PaymentSessionCreated", "detail": {}}),
        "EventLoop",
    ),
]
POISON_IDS = ["malformed", "not-object", "unknown-field", "manager", "loop"]


def only_result(report: BatchReport) -> RecordState:
    (result,) = report.results
    return result


# -- created -------------------------------------------------------------------------------------------------


def test_a_created_session_is_announced_and_the_record_deleted(harness: Harness) -> None:
    # Given a valid request with a trace header
    report = harness.run(record("a", trace_header=TRACE))
    # Then the API was called once with the body's token, and the session announced
    result = only_result(report)
    assert result.outcome is Outcome.CREATED
    assert result.api_called and result.client_token == token_of("a")
    assert result.payment_session_id is not None and result.payment_session_id.startswith("payment-session-")
    assert harness.api.calls == [
        {
            "paymentManagerArn": MANAGER_ARN,
            "expiryTimeInMinutes": 60,
            "userId": "user-1234",
            "agentName": "checkout-agent",
            "limits": {"maxSpendAmount": {"value": "25.50", "currency": "USD"}},
            "clientToken": token_of("a"),
        }
    ]
    (event,) = harness.events()
    assert event.detail_type is DetailType.CREATED
    assert (event.detail["clientToken"], event.detail["messageId"]) == (token_of("a"), "msg-a")
    assert event.detail["paymentSession"]["paymentSessionId"] == result.payment_session_id
    assert (event.resources, event.trace_header) == ((MANAGER_ARN,), TRACE)
    # And the record is deleted: not in batchItemFailures, not dead-lettered
    assert report.response() == {"batchItemFailures": []}
    assert harness.dead_letters.calls == []


def test_the_api_call_carries_the_attribute_token_then_the_derived_one(harness: Harness) -> None:
    attribute_token = "redriven-token-0123456789abcdef0123456789"
    with_attribute = record(
        "b", body=json.dumps(valid_request()), attributes={"ClientToken": string_attribute(attribute_token)}
    )
    derived = record("c", body=json.dumps(valid_request()))
    harness.run(with_attribute, derived)
    assert sorted(harness.api.called_tokens) == sorted([attribute_token, derive_token("msg-c")])


@pytest.mark.without_record("a created token's redelivery makes no call (tests/integration/test_idempotency_record.py)")
def test_a_redelivery_repeats_the_same_call_with_the_same_token(harness: Harness) -> None:
    first = record("d", body=json.dumps(valid_request()))
    harness.run(first)
    harness.run(InboundRecord(first.message_id, first.body, receive_count=2))
    assert harness.api.calls[0] == harness.api.calls[1]
    assert harness.api.called_tokens == [derive_token("msg-d")] * 2


def test_the_api_is_given_the_deadline_less_the_finish_reserve(harness: Harness) -> None:
    harness.run(record("a"), seconds_left=30)
    assert harness.api.deadlines == [harness.clock.now + 30 - BUDGET.finish_max]


# -- failed --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "status"), FAILED_CODES)
def test_a_final_api_error_is_announced_as_not_retryable_and_the_record_deleted(
    harness: Harness, code: str, status: int
) -> None:
    # Given the API answers with a final error, with reason and fieldList
    fields = ({"name": "userId", "message": "invalid"},)
    harness.api.answer(token_of("f"), ApiError(code, "no", status, reason="FieldValidationFailed", field_list=fields))
    # When the record is processed on its first receive
    report = harness.run(record("f", trace_header=TRACE))
    # Then it failed, announced with retryable false, and is deleted
    result = only_result(report)
    assert (result.outcome, result.error_code) == (Outcome.FAILED, code)
    (event,) = harness.events()
    assert event.detail_type is DetailType.FAILED
    assert event.detail["error"] == {
        "code": code,
        "message": "no",
        "retryable": False,
        "reason": "FieldValidationFailed",
        "fieldList": [{"name": "userId", "message": "invalid"}],
    }
    assert event.trace_header == TRACE
    assert report.batch_item_failures == []
    assert harness.dead_letters.calls == []


@pytest.mark.parametrize(("code", "status"), FAILED_CODES)
def test_a_final_api_error_on_the_last_receive_is_still_failed_not_dead_lettered(
    harness: Harness, code: str, status: int
) -> None:
    harness.api.answer(token_of("f"), ApiError(code, "no", status))
    assert only_result(harness.run(record("f", receive_count=MAX_RECEIVE))).outcome is Outcome.FAILED
    assert harness.dead_letters.calls == []


# -- retried ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("cause", "error_code"), RETRIED_CAUSES, ids=RETRIED_IDS)
def test_a_retried_cause_hands_the_record_back_without_an_event(
    harness: Harness, cause: BaseException, error_code: str
) -> None:
    harness.api.answer(token_of("r"), cause)
    report = harness.run(record("r", receive_count=MAX_RECEIVE - 1))
    result = only_result(report)
    assert (result.outcome, result.error_code) == (Outcome.RETRIED, error_code)
    assert report.response() == {"batchItemFailures": [{"itemIdentifier": "msg-r"}]}
    assert harness.publisher.calls == []
    assert harness.dead_letters.calls == []


@pytest.mark.parametrize("receive_count", [MAX_RECEIVE, MAX_RECEIVE + 3])
@pytest.mark.parametrize(("cause", "error_code"), RETRIED_CAUSES, ids=RETRIED_IDS)
def test_a_retried_cause_on_the_last_receive_is_dead_lettered_and_announced_as_retryable(
    harness: Harness, cause: BaseException, error_code: str, receive_count: int
) -> None:
    # Given a retried cause on the receive the redrive policy would be the last
    harness.api.answer(token_of("r"), cause)
    source = record("r", receive_count=receive_count, trace_header=TRACE)
    report = harness.run(source)
    # Then the record is copied to the DLQ with the cause's code and its token, and deleted
    result = only_result(report)
    assert (result.outcome, result.error_code) == (Outcome.DEAD_LETTERED, error_code)
    assert report.batch_item_failures == []
    (letter,) = harness.dead_letters.received
    assert letter.body == source.body
    assert attribute(letter, "ErrorCode") == error_code
    assert attribute(letter, "ClientToken") == token_of("r")
    assert attribute(letter, "SourceMessageId") == "msg-r"
    assert attribute(letter, "SourceQueueArn") == REQUEST_QUEUE_ARN
    # And announced, best effort, as a retryable failure
    (event,) = harness.events()
    assert event.detail_type is DetailType.FAILED
    assert (event.detail["error"]["code"], event.detail["error"]["retryable"]) == (error_code, True)
    assert event.trace_header == TRACE


def test_a_failed_announcement_of_a_dead_lettered_record_changes_nothing(harness: Harness) -> None:
    harness.api.answer(token_of("r"), ApiError("ThrottlingException", "slow", 429))
    harness.publisher.whole_call_failure = RuntimeError("EventBridge down")
    report = harness.run(record("r", receive_count=MAX_RECEIVE))
    assert only_result(report).outcome is Outcome.DEAD_LETTERED
    assert len(harness.publisher.calls) == 1
    assert len(harness.dead_letters.succeeded()) == 1


# -- poison ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "error_code"), POISON, ids=POISON_IDS)
def test_poison_is_dead_lettered_on_the_first_receive_without_calling_the_api(
    harness: Harness, body: str, error_code: str
) -> None:
    # Given a record that can never become a valid request, carrying attributes of its own
    source = record("p", body=body, attributes={"tenant": string_attribute("acme")})
    report = harness.run(source)
    # Then it is dead-lettered at once, the API untouched and no event published
    result = only_result(report)
    assert (result.outcome, result.error_code, result.api_called) == (Outcome.DEAD_LETTERED, error_code, False)
    assert harness.api.calls == []
    assert harness.publisher.calls == []
    (letter,) = harness.dead_letters.received
    assert letter.body == body
    assert attribute(letter, "ErrorCode") == error_code
    assert attribute(letter, "ErrorMessage") == result.error_message
    assert attribute(letter, "ClientToken") == derive_token("msg-p")
    assert attribute(letter, "tenant") == "acme"
    assert report.batch_item_failures == []


@pytest.mark.parametrize("written", ["not a token", "too-short"])
def test_an_invalid_client_token_attribute_is_poison_and_its_dead_letter_keeps_it_as_written(
    harness: Harness, written: str
) -> None:
    # Given a valid body whose ClientToken attribute breaks the model's constraints
    source = record("p", body=json.dumps(valid_request()), attributes={"ClientToken": string_attribute(written)})
    # When it is processed
    result = only_result(harness.run(source))
    # Then it is poison, the API untouched, and the dead letter carries the producer's token, never a derived one
    assert (result.outcome, result.error_code) == (Outcome.DEAD_LETTERED, "InvalidRequest")
    assert harness.api.calls == []
    (letter,) = harness.dead_letters.received
    assert attribute(letter, "ClientToken") == written


@pytest.mark.parametrize(
    ("token", "carried"),
    [("too-short", "too-short"), ("with space " + "a" * 40, "with space " + "a" * 40), (12345, None)],
)
def test_an_invalid_body_token_is_poison_and_its_dead_letter_keeps_it_as_written(
    harness: Harness, token: object, carried: str | None
) -> None:
    # Given a body whose clientToken breaks the model's constraints (a number cannot be an attribute's text)
    source = record("p", body=json.dumps(valid_request(clientToken=token)))
    # When it is processed
    result = only_result(harness.run(source))
    # Then it is poison and its dead letter carries the producer's token as written, or none, never a derived one
    assert (result.outcome, result.error_code, result.api_called) == (Outcome.DEAD_LETTERED, "InvalidRequest", False)
    (letter,) = harness.dead_letters.received
    assert letter.attributes.get("ClientToken", {}).get("StringValue") == carried


def test_poison_keeps_a_valid_client_token_attribute_for_the_redrive(harness: Harness) -> None:
    token = "redriven-token-0123456789abcdef0123456789"
    harness.run(record("p", body="{", attributes={"ClientToken": string_attribute(token)}))
    (letter,) = harness.dead_letters.received
    assert attribute(letter, "ClientToken") == token


def test_a_poison_error_message_never_holds_the_input(harness: Harness) -> None:
    secret = "zq7secret7qz"
    result = only_result(harness.run(record("p", userId=secret + "\n")))
    (letter,) = harness.dead_letters.received
    assert result.error_message is not None and secret not in result.error_message
    assert secret not in attribute(letter, "ErrorMessage")
    assert result.user_id is None


# -- a failed publish ----------------------------------------------------------------------------------------------


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


# -- the deadline ----------------------------------------------------------------------------------------------------


def test_without_time_for_the_api_stage_records_are_handed_back_with_timeout(harness: Harness) -> None:
    # Given less time left than the finish reserve plus the minimum for a call
    seconds_left = 0.99 * BUDGET.min_start / (1 - BUDGET.finish_share)
    # When a batch arrives
    report = harness.run(record("a"), record("b"), seconds_left=seconds_left)
    # Then the API is never called and every record is retried with Timeout
    assert harness.api.calls == []
    assert [(r.outcome, r.error_code, r.api_called) for r in report.results] == [
        (Outcome.RETRIED, "Timeout", False)
    ] * 2
    assert len(report.batch_item_failures) == 2


def test_just_enough_time_for_the_api_stage_calls_the_api(harness: Harness) -> None:
    report = harness.run(record("a"), seconds_left=1.01 * BUDGET.min_start / (1 - BUDGET.finish_share))
    assert only_result(report).outcome is Outcome.CREATED


def test_without_time_for_the_api_stage_on_the_last_receive_the_record_is_dead_lettered(harness: Harness) -> None:
    report = harness.run(record("a", receive_count=MAX_RECEIVE), seconds_left=1.2 * BUDGET.min_start)
    result = only_result(report)
    assert (result.outcome, result.error_code) == (Outcome.DEAD_LETTERED, "Timeout")
    assert harness.api.calls == []


def test_without_time_for_the_dead_letter_queue_poison_is_handed_back(harness: Harness) -> None:
    report = harness.run(record("p", body="{"), seconds_left=BUDGET.min_start / 2)
    result = only_result(report)
    assert (result.outcome, result.error_code) == (Outcome.RETRIED, "MalformedJson")
    assert harness.dead_letters.calls == []


def test_when_the_api_stage_uses_up_the_time_the_created_record_is_handed_back(harness: Harness) -> None:
    # Given an API call that returns just as the invocation ends
    deadline = harness.clock.now + 30

    def slow(params: Any) -> Any:
        harness.clock.now = deadline
        return session_for(params)

    harness.api.answer(token_of("a"), slow)
    # Then there is no time to publish: the record is retried (the redelivery repeats the same call)
    result = only_result(harness.run(record("a"), seconds_left=30))
    assert (result.outcome, result.error_code) == (Outcome.RETRIED, "EventPublishFailed")
    assert harness.publisher.calls == []


@pytest.mark.without_record("no time for the record's own request: retried IdempotencyRecordFailed before any call")
def test_an_api_call_still_running_at_the_deadline_is_handed_back_with_timeout() -> None:
    # Given no reserve, so the worker waits for the API until the deadline, which is now
    release = threading.Event()
    with ThreadPoolExecutor(max_workers=2) as executor:
        harness = Harness(executor, budget=Budget(finish_share=0.0, min_start=0.0))
        harness.api.gate = lambda _api: release.wait(timeout=10)
        try:
            # When the API call is still in flight at the deadline
            report = harness.run(record("a"), seconds_left=0.0)
        finally:
            release.set()
    # Then the record is retried with Timeout rather than waited for
    result = only_result(report)
    assert (result.outcome, result.error_code, result.api_called) == (Outcome.RETRIED, "Timeout", True)


# -- chunks and concurrency ----------------------------------------------------------------------------------------


def test_events_are_published_in_chunks_of_at_most_ten(harness: Harness) -> None:
    records = [record(f"n{index:02d}") for index in range(25)]
    report = harness.run(*records)
    assert {r.outcome for r in report.results} == {Outcome.CREATED}
    assert sorted(len(call) for call in harness.publisher.calls) == [5, 10, 10]
    assert max(len(call) for call in harness.publisher.calls) <= MAX_BATCH_ENTRIES
    published = sorted(entry.detail["messageId"] for entry in harness.publisher.received)
    assert published == sorted(r.message_id for r in records)


def test_dead_letters_are_sent_in_chunks_of_at_most_ten(harness: Harness) -> None:
    records = [record(f"p{index:02d}", body="{") for index in range(21)]
    report = harness.run(*records)
    assert {r.outcome for r in report.results} == {Outcome.DEAD_LETTERED}
    assert sorted(len(call) for call in harness.dead_letters.calls) == [1, 10, 10]
    dead_lettered = sorted(letter.message_id for letter in harness.dead_letters.received)
    assert dead_lettered == sorted(r.message_id for r in records)


@pytest.mark.parametrize("limit", [1, 3, 10])
def test_at_most_max_concurrency_api_calls_are_in_flight_and_that_many_are(limit: int) -> None:
    # Given an executor of `limit` workers and an API that holds each call until `limit` are in flight
    # (or every call has started), so calls made one after the other would never get through
    total = 12

    def hold(api: FakePaymentsApi) -> None:
        with api.condition:
            assert api.condition.wait_for(lambda: api.in_flight >= limit or len(api.calls) == total, timeout=5)

    with ThreadPoolExecutor(max_workers=limit) as executor:
        harness = Harness(executor)
        harness.api.gate = hold
        # When a batch of 12 is processed
        report = harness.run(*[record(f"c{index:02d}") for index in range(total)])
    # Then every call went through, with exactly `limit` in flight at the peak
    assert {r.outcome for r in report.results} == {Outcome.CREATED}
    assert harness.api.peak_in_flight == limit


# -- robustness -------------------------------------------------------------------------------------------------------


def test_a_mixed_batch_gives_every_record_exactly_one_result_in_order(harness: Harness) -> None:
    harness.api.answer(token_of("failed"), ApiError("ValidationException", "bad", 400))
    harness.api.answer(token_of("retried"), ApiError("ThrottlingException", "slow", 429))
    harness.api.answer(token_of("last"), ApiError(WorkerErrorCode.TIMEOUT, "read", reach=Reach.UNANSWERED))
    harness.api.answer(token_of("boom"), ZeroDivisionError())
    records = [
        record("created"),
        record("failed"),
        record("retried"),
        record("last", receive_count=MAX_RECEIVE),
        record("poison", body="null"),
        record("boom"),
    ]
    report = harness.run(*records)
    assert [r.outcome for r in report.results] == [
        Outcome.CREATED,
        Outcome.FAILED,
        Outcome.RETRIED,
        Outcome.DEAD_LETTERED,
        Outcome.DEAD_LETTERED,
        Outcome.RETRIED,
    ]
    assert report.batch_item_failures == [{"itemIdentifier": "msg-retried"}, {"itemIdentifier": "msg-boom"}]
    assert sorted(harness.api.called_tokens) == sorted(
        token_of(n) for n in ("created", "failed", "retried", "last", "boom")
    )


def test_an_empty_batch_does_nothing(harness: Harness) -> None:
    assert harness.run().response() == {"batchItemFailures": []}
    assert (harness.api.calls, harness.publisher.calls, harness.dead_letters.calls) == ([], [], [])


def test_every_port_failing_at_once_never_raises_out_of_process(harness: Harness) -> None:
    harness.api.default = RuntimeError("API adapter bug")
    harness.publisher.whole_call_failure = RuntimeError("publisher bug")
    harness.dead_letters.whole_call_failure = RuntimeError("DLQ adapter bug")
    records = [record("a"), record("b", receive_count=MAX_RECEIVE), record("c", body="\ufeff{}")]
    report = harness.run(*records)
    assert {r.outcome for r in report.results} == {Outcome.RETRIED}
    assert len(report.batch_item_failures) == 3


# -- property ---------------------------------------------------------------------------------------------------------

KINDS = ["created", "failed", "retried", "transient", "unexpected", "poison"]


@dataclass(frozen=True)
class Spec:
    kind: str
    receive_count: int
    publish_fails: bool
    dlq_fails: bool


def expected_outcome(spec: Spec) -> Outcome:
    """CONTRACT section 3, as a table."""
    if spec.kind == "poison":
        return Outcome.RETRIED if spec.dlq_fails else Outcome.DEAD_LETTERED
    outcome = {"created": Outcome.CREATED, "failed": Outcome.FAILED}.get(spec.kind, Outcome.RETRIED)
    if outcome is not Outcome.RETRIED and spec.publish_fails:
        outcome = Outcome.RETRIED
    if outcome is Outcome.RETRIED and spec.receive_count >= MAX_RECEIVE:
        outcome = Outcome.RETRIED if spec.dlq_fails else Outcome.DEAD_LETTERED
    return outcome


specs = st.lists(
    st.builds(
        Spec,
        st.sampled_from(KINDS),
        st.integers(1, MAX_RECEIVE + 1),
        st.booleans(),
        st.booleans(),
    ),
    max_size=25,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs, st.sampled_from([1, 4, 10]))
def test_every_record_gets_exactly_the_outcome_of_the_contracts_table(batch: list[Spec], workers: int) -> None:
    with ThreadPoolExecutor(max_workers=workers) as executor:
        harness = Harness(executor)
        records = []
        for index, spec in enumerate(batch):
            name = f"{spec.kind}-{index}"
            answers: dict[str, Any] = {
                "failed": ApiError("ConflictException", "conflict", 409),
                "retried": ApiError("ThrottlingException", "slow", 429),
                "transient": ApiError(WorkerErrorCode.NETWORK_ERROR, "reset", reach=Reach.UNANSWERED),
                "unexpected": ValueError("surprise"),
            }
            if spec.kind in answers:
                harness.api.answer(token_of(name), answers[spec.kind])
            if spec.publish_fails:
                harness.publisher.failing[token_of(name)] = "InternalFailure"
            if spec.dlq_fails:
                harness.dead_letters.failing[f"msg-{name}"] = "InternalError"
            body = '{"expiryTimeInMinutes": 60, "limit": 1}' if spec.kind == "poison" else None
            records.append(record(name, receive_count=spec.receive_count, body=body))
        report = harness.run(*records)

    # Every record has exactly one result, the one the table gives
    assert [r.outcome for r in report.results] == [expected_outcome(spec) for spec in batch]
    # Poison never reaches the API; every other record reaches it exactly once
    called = harness.api.called_tokens
    assert sorted(called) == sorted(token_of(f"{s.kind}-{i}") for i, s in enumerate(batch) if s.kind != "poison")
    # batchItemFailures are exactly the retried ones, in batch order
    assert report.batch_item_failures == [
        {"itemIdentifier": r.message_id} for r in report.results if r.outcome is Outcome.RETRIED
    ]
    # Nothing is lost: a dead-lettered record is in the DLQ, a deleted one was announced
    delivered = {letter.message_id for letter in harness.dead_letters.succeeded()}
    announced = {e.detail["messageId"] for e in harness.publisher.succeeded()}
    for result in report.results:
        if result.outcome is Outcome.DEAD_LETTERED:
            assert result.message_id in delivered
        if result.outcome in (Outcome.CREATED, Outcome.FAILED):
            assert result.message_id in announced
