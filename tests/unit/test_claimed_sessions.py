"""Late redrives of created sessions (CONTRACT section 3): a record that carries ``PaymentSessionId`` is looked up.

A confirmed session is announced as ``PaymentSessionCreated``, whatever the request's age, and never created
again; a session the API does not know (or that is not this request's) proves nothing: the record goes on as
any other; an unsettled lookup (throttled, 5xx) is retried, never created and never announced as failed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from domain.errors import ApiError, Reach, WorkerErrorCode
from domain.events import DetailType
from domain.outcomes import Outcome
from domain.parsing import ManagerPolicy, parse_request
from domain.records import MILLIS_PER_MINUTE
from tests.fakes.harness import MAX_AGE_MINUTES, MAX_RECEIVE, NOW_MS, Harness, attribute, record, token_of
from tests.fakes.ports import session_for
from tests.support import MANAGER_ARN, string_attribute, valid_request

SESSION_ID = "payment-session-0123456789abcde"
LONG_AGO = NOW_MS - 2 * MAX_AGE_MINUTES * MILLIS_PER_MINUTE  # twice the age limit: expired


def existing_session(name: str, **overrides: Any) -> dict[str, Any]:
    """The session the API created for record ``name`` on its first delivery."""
    params = {**valid_request(clientToken=token_of(name)), "paymentManagerArn": MANAGER_ARN}
    return {**session_for(params), "paymentSessionId": SESSION_ID, **overrides}


def redriven(name: str, *, session_id: str = SESSION_ID, first_enqueued: int = LONG_AGO, receive_count: int = 1):
    """Record ``name`` as the redrive command sends it back: PaymentSessionId and OriginalSentTimestamp kept."""
    attributes = {
        "PaymentSessionId": string_attribute(session_id),
        "OriginalSentTimestamp": string_attribute(str(first_enqueued)),
    }
    return record(name, attributes=attributes, receive_count=receive_count)


def only_result(harness: Harness, *records: Any):
    (result,) = harness.run(*records).results
    return result


def test_a_confirmed_session_is_announced_as_created_past_the_age_limit_without_creating_again(
    harness: Harness,
) -> None:
    # Given a session the API holds, and its request redriven long after MAX_REQUEST_AGE_MINUTES
    harness.api.sessions[SESSION_ID] = existing_session("late")
    # When the record is processed
    result = only_result(harness, redriven("late"))
    # Then it is created with the existing session: no CreatePaymentSession, no failure announced
    assert (result.outcome, result.payment_session_id) == (Outcome.CREATED, SESSION_ID)
    assert harness.api.calls == []
    assert harness.api.lookups == [
        {
            "paymentManagerArn": MANAGER_ARN,
            "paymentSessionId": SESSION_ID,
            "userId": "user-1234",
            "agentName": "checkout-agent",
        }
    ]
    (event,) = harness.events()
    assert event.detail_type is DetailType.CREATED
    assert event.detail["paymentSession"]["paymentSessionId"] == SESSION_ID
    assert event.detail["clientToken"] == token_of("late")


@pytest.mark.parametrize(
    ("first_enqueued", "outcome", "creates"),
    [(NOW_MS, Outcome.CREATED, 1), (LONG_AGO, Outcome.FAILED, 0)],
    ids=["young: created as any other", "expired: failed as any other"],
)
def test_a_session_the_api_does_not_know_proves_nothing(
    harness: Harness, first_enqueued: int, outcome: Outcome, creates: int
) -> None:
    # Given a PaymentSessionId the API does not know (a producer wrote it, or it is gone)
    result = only_result(harness, redriven("forged", first_enqueued=first_enqueued))
    # Then the record is handled as any other: created when young, failed RequestExpired when old
    assert result.outcome is outcome
    assert len(harness.api.calls) == creates
    assert len(harness.api.lookups) == 1


@pytest.mark.parametrize(
    "difference",
    [
        {"paymentManagerArn": MANAGER_ARN.replace("demo", "other")},
        {"userId": "someone-else"},
        {"expiryTimeInMinutes": 480},
        {"limits": {"maxSpendAmount": {"value": "9999", "currency": "USD"}}},
    ],
    ids=["manager", "user", "expiry", "limit"],
)
def test_a_session_of_other_terms_is_not_this_requests_and_proves_nothing(
    harness: Harness, difference: Mapping[str, Any]
) -> None:
    # Given the claimed session exists but was not made of this request's terms
    harness.api.sessions[SESSION_ID] = existing_session("other", **difference)
    result = only_result(harness, redriven("other", first_enqueued=NOW_MS))
    # Then it is not announced; the record is created as any other, with its own token
    assert result.outcome is Outcome.CREATED
    assert harness.api.called_tokens == [token_of("other")]


def test_an_amount_written_another_way_is_the_same_limit(harness: Harness) -> None:
    # Given the API answers the limit as "25.5" for a request of "25.50"
    harness.api.sessions[SESSION_ID] = existing_session(
        "amount", limits={"maxSpendAmount": {"value": "25.5", "currency": "USD"}}
    )
    result = only_result(harness, redriven("amount"))
    assert (result.outcome, harness.api.calls) == (Outcome.CREATED, [])


@pytest.mark.parametrize(
    "failure",
    [
        ApiError("ThrottlingException", "slow down", 429),
        ApiError("AccessDeniedException", "no GetPaymentSession", 403),
        ApiError("InternalServerException", "oops", 500),
        ApiError(WorkerErrorCode.TIMEOUT, "ReadTimeoutError", reach=Reach.UNANSWERED),
    ],
    ids=["throttled", "denied", "5xx", "timeout"],
)
def test_an_unsettled_lookup_is_retried_never_created_never_failed_as_expired(
    harness: Harness, failure: Exception
) -> None:
    # Given the lookup of an expired request's claimed session fails
    harness.api.lookup_answers[SESSION_ID] = failure
    report = harness.run(redriven("unsettled"))
    # Then the record is handed back: no CreatePaymentSession, no event
    (result,) = report.results
    assert result.outcome is Outcome.RETRIED
    assert report.response()["batchItemFailures"] == [{"itemIdentifier": "msg-unsettled"}]
    assert harness.api.calls == []
    assert harness.publisher.calls == []


def test_an_unsettled_lookup_on_the_last_receive_is_dead_lettered_with_the_session_and_not_announced(
    harness: Harness,
) -> None:
    # Given the lookup keeps failing until the last receive
    harness.api.lookup_answers[SESSION_ID] = ApiError("ThrottlingException", "slow down", 429)
    result = only_result(harness, redriven("last", receive_count=MAX_RECEIVE))
    # Then it is dead-lettered, still claiming its session, and no failure is announced (the session may exist)
    assert (result.outcome, result.error_code) == (Outcome.DEAD_LETTERED, "ThrottlingException")
    (letter,) = harness.dead_letters.received
    assert attribute(letter, "PaymentSessionId") == SESSION_ID
    assert harness.publisher.calls == []


def test_a_confirmed_session_whose_event_fails_on_the_last_receive_is_dead_lettered_again_with_it(
    harness: Harness,
) -> None:
    # Given a confirmed session whose event cannot be published on the last receive
    harness.api.sessions[SESSION_ID] = existing_session("again")
    harness.publisher.whole_call_failure = "EventBridge down"
    result = only_result(harness, redriven("again", receive_count=MAX_RECEIVE))
    # Then it is dead-lettered with its PaymentSessionId, never announced as failed
    assert (result.outcome, result.error_code) == (Outcome.DEAD_LETTERED, "EventPublishFailed")
    (letter,) = harness.dead_letters.received
    assert attribute(letter, "PaymentSessionId") == SESSION_ID
    assert harness.api.calls == []


@pytest.mark.parametrize("written", ["ps-123", "payment-session-short", "", "payment-session-0123456789abcd!"])
def test_a_malformed_payment_session_id_is_not_looked_up(harness: Harness, written: str) -> None:
    # Given a PaymentSessionId the API could not know (not its pattern)
    result = only_result(harness, redriven("odd", session_id=written, first_enqueued=NOW_MS))
    # Then no lookup; the record is created as any other
    assert result.outcome is Outcome.CREATED
    assert harness.api.lookups == []
    assert harness.api.called_tokens == [token_of("odd")]


def test_the_first_delivery_of_a_request_is_never_looked_up(harness: Harness) -> None:
    result = only_result(harness, record("plain", body=json.dumps(valid_request(clientToken=token_of("plain")))))
    assert result.outcome is Outcome.CREATED
    assert harness.api.lookups == []


def test_a_session_answered_for_another_manager_is_not_this_requests() -> None:
    # Given an answer whose manager differs from the one asked for (the terms check, not the API's scoping)
    request = parse_request(json.dumps(valid_request()), own_event_source="w", managers=ManagerPolicy(MANAGER_ARN))
    session = existing_session("x", paymentManagerArn=MANAGER_ARN[:-1] + "z")
    # Then it is a mismatch, and the same session with the request's manager is not
    assert request.mismatch(session) == "the session belongs to another payment manager"
    assert request.mismatch(existing_session("x")) is None
