"""One record through the payments API's answers (CONTRACT section 3): created and announced, failed on a final
error, handed back on a retried cause or dead-lettered on its last receive. In-memory fakes of the ports."""

from __future__ import annotations

import json

import pytest

from domain.errors import ApiError, Reach, WorkerErrorCode
from domain.events import DetailType
from domain.outcomes import Outcome
from domain.records import InboundRecord
from domain.tokens import derive_token
from tests.fakes.harness import BUDGET, MAX_RECEIVE, TRACE, Harness, attribute, only_result, record, token_of
from tests.support import (
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
