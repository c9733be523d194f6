"""Stale requests and what dead letters remember (CONTRACT sections 3 and 5, issue 10), through the batch service."""

from __future__ import annotations

import pytest

from domain.events import DetailType
from domain.outcomes import Outcome
from domain.time_policy import AgeLimit
from tests.fakes.harness import MAX_AGE_MINUTES, MAX_RECEIVE, NOW_MS, Harness, attribute, record, token_of
from tests.support import string_attribute

MINUTE = 60_000
TOO_OLD = NOW_MS - MAX_AGE_MINUTES * MINUTE - 1
JUST_IN_TIME = NOW_MS - MAX_AGE_MINUTES * MINUTE
FIFTEEN_MINUTES = 15 * MINUTE


def test_a_request_older_than_the_limit_is_failed_as_request_expired_and_never_sent(harness: Harness) -> None:
    # Given a request first enqueued one millisecond more than MAX_REQUEST_AGE_MINUTES ago
    report = harness.run(record("old", sent_timestamp=TOO_OLD))
    # Then it failed with RequestExpired, the API untouched, and the failure announced as not retryable
    (result,) = report.results
    assert (result.outcome, result.error_code, result.api_called) == (Outcome.FAILED, "RequestExpired", False)
    assert harness.api.calls == []
    (event,) = harness.events()
    assert event.detail_type is DetailType.FAILED
    assert (event.detail["error"]["code"], event.detail["error"]["retryable"]) == ("RequestExpired", False)
    assert event.detail["clientToken"] == token_of("old")
    # And the record is deleted
    assert report.batch_item_failures == []
    assert harness.dead_letters.calls == []


def test_a_request_exactly_at_the_limit_is_still_sent(harness: Harness) -> None:
    (result,) = harness.run(record("edge", sent_timestamp=JUST_IN_TIME)).results
    assert result.outcome is Outcome.CREATED


def test_the_original_sent_timestamp_attribute_wins_over_the_records_own(harness: Harness) -> None:
    # Given redriven records, sent again just now: one first enqueued long ago, one a minute ago
    stale = {"OriginalSentTimestamp": string_attribute(str(TOO_OLD))}
    fresh = {"OriginalSentTimestamp": string_attribute(str(NOW_MS - MINUTE))}
    report = harness.run(
        record("redriven-stale", attributes=stale, sent_timestamp=NOW_MS),
        record("redriven-fresh", attributes=fresh, sent_timestamp=NOW_MS),
    )
    # Then its age counts from the attribute
    assert [(r.outcome, r.error_code) for r in report.results] == [
        (Outcome.FAILED, "RequestExpired"),
        (Outcome.CREATED, None),
    ]


@pytest.mark.parametrize("value", ["", "soon", "-5", "1.5e12", "\uff11\uff12\uff13", "9" * 16, " 1795000000000"])
def test_a_malformed_original_sent_timestamp_is_poison(harness: Harness, value: str) -> None:
    # Given a record whose OriginalSentTimestamp is not epoch milliseconds
    source = record("tampered", attributes={"OriginalSentTimestamp": string_attribute(value)})
    (result,) = harness.run(source).results
    # Then it is dead-lettered as InvalidRequest naming the attribute, and the API is never called
    assert (result.outcome, result.error_code) == (Outcome.DEAD_LETTERED, "InvalidRequest")
    assert result.error_message == "messageAttributes.OriginalSentTimestamp: not epoch milliseconds"
    assert harness.api.calls == []
    (letter,) = harness.dead_letters.received
    # And its dead letter falls back to the record's own SentTimestamp for the first enqueue
    assert attribute(letter, "OriginalSentTimestamp") == str(source.sent_timestamp)


@pytest.mark.parametrize(
    ("sent", "first"),
    [
        (TOO_OLD, NOW_MS),  # an expired record claiming a fresh first enqueue
        (NOW_MS, 999_999_999_999_999),  # the largest value the digits allow: the age check switched off
        (NOW_MS, NOW_MS + FIFTEEN_MINUTES + 1),  # one millisecond past the clocks' tolerance
    ],
)
def test_a_first_enqueue_after_this_one_is_poison_and_never_sent(harness: Harness, sent: int, first: int) -> None:
    # Given a record whose OriginalSentTimestamp lies more than 15 minutes after its own SentTimestamp
    source = record("future", attributes={"OriginalSentTimestamp": string_attribute(str(first))}, sent_timestamp=sent)
    (result,) = harness.run(source).results
    # Then it is dead-lettered as InvalidRequest naming the attribute; the API is never called
    assert (result.outcome, result.error_code) == (Outcome.DEAD_LETTERED, "InvalidRequest")
    assert result.error_message == "messageAttributes.OriginalSentTimestamp: more than 15 minutes after SentTimestamp"
    assert harness.api.calls == []
    # And its dead letter's first enqueue is the record's own SentTimestamp, not the claimed one
    (letter,) = harness.dead_letters.received
    assert attribute(letter, "OriginalSentTimestamp") == str(sent)


def test_a_first_enqueue_exactly_15_minutes_after_this_one_is_accepted(harness: Harness) -> None:
    # Given clocks that disagree by exactly the tolerance
    attributes = {"OriginalSentTimestamp": string_attribute(str(NOW_MS + FIFTEEN_MINUTES))}
    (result,) = harness.run(record("skewed", attributes=attributes, sent_timestamp=NOW_MS)).results
    assert result.outcome is Outcome.CREATED


def test_an_age_limit_of_zero_turns_the_check_off(harness: Harness) -> None:
    harness.max_age_minutes = 0
    (result,) = harness.run(record("ancient", sent_timestamp=1)).results
    assert result.outcome is Outcome.CREATED


def test_a_record_without_a_sent_timestamp_is_not_judged_by_age() -> None:
    assert not AgeLimit(1).expired(None, NOW_MS)


def test_an_expired_request_whose_failure_could_not_be_announced_is_dead_lettered_on_its_last_receive(
    harness: Harness,
) -> None:
    # Given a stale request on its last receive, and EventBridge refusing its failure event
    harness.publisher.failing[token_of("old")] = "InternalFailure"
    report = harness.run(record("old", sent_timestamp=TOO_OLD, receive_count=MAX_RECEIVE))
    # Then it is dead-lettered as EventPublishFailed, its first enqueue kept
    (result,) = report.results
    assert (result.outcome, result.error_code) == (Outcome.DEAD_LETTERED, "EventPublishFailed")
    (letter,) = harness.dead_letters.received
    assert attribute(letter, "OriginalSentTimestamp") == str(TOO_OLD)
    assert harness.api.calls == []


def test_every_dead_letter_carries_the_first_enqueue(harness: Harness) -> None:
    first = NOW_MS - 90 * MINUTE
    harness.run(
        record("poison-redriven", body="{", attributes={"OriginalSentTimestamp": string_attribute(str(first))}),
        record("poison-new", body="{", sent_timestamp=NOW_MS - MINUTE),
    )
    stamps = {letter.message_id: attribute(letter, "OriginalSentTimestamp") for letter in harness.dead_letters.received}
    assert stamps == {"msg-poison-redriven": str(first), "msg-poison-new": str(NOW_MS - MINUTE)}


# -- a created session is never announced as failed ---------------------------------------------------------------


def test_a_created_session_whose_event_failed_on_the_last_receive_is_dead_lettered_with_its_session_id(
    harness: Harness,
) -> None:
    # Given the API creates the session but EventBridge refuses its event, on the last receive
    harness.publisher.failing[token_of("made")] = "InternalFailure"
    report = harness.run(record("made", receive_count=MAX_RECEIVE))
    (result,) = report.results
    # Then the record is dead-lettered with the session's ID, so a redrive publishes PaymentSessionCreated
    assert (result.outcome, result.error_code) == (Outcome.DEAD_LETTERED, "EventPublishFailed")
    (letter,) = harness.dead_letters.received
    assert attribute(letter, "PaymentSessionId") == result.payment_session_id
    assert attribute(letter, "ClientToken") == token_of("made")
    # And no subscriber is ever told it failed: the only event tried is the PaymentSessionCreated that was refused
    assert harness.events(DetailType.FAILED) == []
    assert [event.detail_type for event in harness.events()] == [DetailType.CREATED]


def test_a_retried_cause_without_a_session_still_announces_its_failure(harness: Harness) -> None:
    from domain.errors import ApiError

    harness.api.answer(token_of("throttled"), ApiError("ThrottlingException", "slow", 429))
    harness.run(record("throttled", receive_count=MAX_RECEIVE))
    (letter,) = harness.dead_letters.received
    assert "PaymentSessionId" not in letter.attributes
    (event,) = harness.events(DetailType.FAILED)
    assert event.detail["error"]["retryable"] is True
