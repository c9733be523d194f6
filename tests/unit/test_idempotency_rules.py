"""The idempotency record's rules (issue 25) as pure functions: what a delivery does with the item it finds,
what the item becomes after the call, and what the outcome table makes of each."""

from __future__ import annotations

import pytest

from domain.errors import ApiError, Reach, WorkerErrorCode
from domain.events import DetailType
from domain.idempotency import Settlement, TakeOver, judge, settlement
from domain.outcomes import Created, Outcome, Seen, decide
from domain.time_policy import SQS_RETENTION_MAX_MINUTES, AgeLimit, RecordPolicy
from domain.token_record import (
    Absent,
    Holding,
    InProgress,
    ItemState,
    OutcomeUnknown,
    Refused,
    Replay,
    Reused,
    TokenItem,
)

HASH = "a" * 64
NOW = 1_795_000_000_000
MINUTE = 60_000
WINDOW = 60 * MINUTE
SESSION = {"paymentSessionId": "payment-session-1", "createdAt": "2026-11-26T12:00:00+00:00"}


def item(
    *, state: ItemState = ItemState.ATTEMPTED, first: int = NOW, holder: int = NOW, **changes: object
) -> TokenItem:
    values: dict[str, object] = {
        "client_token": "t" * 40,
        "state": state,
        "request_hash": HASH,
        "first_attempt_at": first,
        "holder_deadline": holder,
        "expires_at": NOW // 1000 + 86_400,
        "session": SESSION if state is ItemState.CREATED else None,
    }
    values.update(changes)
    return TokenItem(**values)  # type: ignore[arg-type]


CREATED = item(state=ItemState.CREATED, first=NOW - 30 * 24 * 60 * MINUTE, holder=NOW - 1)


# -- judge: one row per case of the issue ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("found", "sendable", "expected"),
    [
        # created: no call, the recorded session again, whatever the age (sendable or not)
        (CREATED, True, Replay(SESSION)),
        (CREATED, False, Replay(SESSION)),
        # attempted, its holder still running: handed back, not sent
        (item(first=NOW - 5 * MINUTE, holder=NOW + 1), True, InProgress(NOW + 1)),
        # attempted, holder gone, within the window: sent again with the same token
        (item(first=NOW - 59 * MINUTE, holder=NOW), True, TakeOver(item(first=NOW - 59 * MINUTE, holder=NOW))),
        # attempted, past the window: not sent, outcome unknown with the first attempt
        (item(first=NOW - WINDOW, holder=NOW - 1), True, OutcomeUnknown(NOW - WINDOW)),
        # attempted, within the window but the request is too old to send: never sent again, never failed
        (item(first=NOW - MINUTE, holder=NOW - 1), False, OutcomeUnknown(NOW - MINUTE)),
        # another effective request, whatever the state: reused
        (item(request_hash="b" * 64), True, Reused()),
        (item(state=ItemState.CREATED, request_hash="b" * 64), True, Reused()),
        (item(request_hash="b" * 64, holder=NOW + 10), False, Reused()),
    ],
)
def test_judge_says_what_a_delivery_does_with_the_item_it_finds(found, sendable, expected) -> None:
    # Given the token's item, When a delivery of the same token judges it at NOW with a 60-minute window
    verdict = judge(found, request_hash=HASH, now=NOW, window_ms=WINDOW, sendable=sendable)
    # Then it does what the table says
    assert verdict == expected


# -- settlement: what the item becomes after the call -------------------------------------------------------------
@pytest.mark.parametrize(
    ("api", "expected"),
    [
        (Created(SESSION), Settlement.CREATED),
        (ApiError("ValidationException", "bad", 400), Settlement.REMOVE),
        (ApiError("ThrottlingException", "slow down", 429), Settlement.REMOVE),
        (ApiError("AccessDeniedException", "no", 403), Settlement.REMOVE),
        (ApiError("InternalServerException", "oops", 500), Settlement.RELEASE),
        (ApiError("ValidationException", "from a 5xx", 503), Settlement.RELEASE),
        (ApiError("Unknown", "no status", None), Settlement.RELEASE),
        (ApiError(WorkerErrorCode.TIMEOUT, "ReadTimeoutError", reach=Reach.UNANSWERED), Settlement.RELEASE),
        (ApiError(WorkerErrorCode.NETWORK_ERROR, "ConnectionError", reach=Reach.UNANSWERED), Settlement.RELEASE),
        (ApiError(WorkerErrorCode.TIMEOUT, "did not finish", reach=Reach.IN_FLIGHT), Settlement.KEEP),
        (ApiError(WorkerErrorCode.TIMEOUT, "no time left", reach=Reach.NOT_SENT), Settlement.REMOVE),
    ],
)
def test_an_item_is_created_removed_only_when_nothing_was_created_and_kept_when_unknown(api, expected) -> None:
    # Unknown outcomes stay attempted: released when the call is over, held while it may still reach the API
    assert settlement(api) is expected


# -- the outcome table with the record's observations -------------------------------------------------------------
def test_a_replayed_session_is_created_and_publishes_the_recorded_session_without_a_call() -> None:
    seen = Seen(record=Replay(SESSION), expired=True)
    decision = decide(seen, last_receive=False)
    assert (decision.outcome, decision.publish) == (Outcome.CREATED, DetailType.CREATED)
    assert seen.session_id == "payment-session-1"
    assert not seen.needs_api


def test_an_unknown_outcome_is_dead_lettered_at_once_never_announced_never_sent() -> None:
    seen = Seen(record=OutcomeUnknown(NOW - WINDOW))
    decision = decide(seen, last_receive=False)
    assert decision.outcome is Outcome.DEAD_LETTERED
    assert decision.error is not None and decision.error.code == WorkerErrorCode.OUTCOME_UNKNOWN
    assert (decision.dead_letter, decision.announce, decision.publish) == (True, False, None)
    assert not seen.needs_api


def test_an_unknown_outcome_whose_letter_fails_is_retried_with_its_cause() -> None:
    decision = decide(Seen(record=OutcomeUnknown(NOW), letter_failure="AccessDenied"), last_receive=False)
    assert decision.outcome is Outcome.RETRIED
    assert decision.error is not None and decision.error.code == WorkerErrorCode.OUTCOME_UNKNOWN


def test_a_reused_token_fails_with_client_token_reused_not_retryable_and_is_not_sent() -> None:
    seen = Seen(record=Reused())
    decision = decide(seen, last_receive=False)
    assert (decision.outcome, decision.publish) == (Outcome.FAILED, DetailType.FAILED)
    assert decision.error is not None and decision.error.code == WorkerErrorCode.CLIENT_TOKEN_REUSED
    assert not seen.needs_api


@pytest.mark.parametrize("record", [InProgress(NOW + 1), Refused(ApiError("ResourceNotFoundException", "no table"))])
def test_a_token_in_progress_or_a_refused_record_is_retried_without_a_call(record) -> None:
    seen = Seen(record=record)
    decision = decide(seen, last_receive=False)
    assert decision.outcome is Outcome.RETRIED
    assert decision.error == record.report
    assert not seen.needs_api


def test_a_refused_record_names_the_aws_error_code() -> None:
    report = Refused(ApiError("ResourceNotFoundException", "Requested resource not found")).report
    assert report.code == WorkerErrorCode.IDEMPOTENCY_RECORD_FAILED
    assert "ResourceNotFoundException" in report.message
    assert Seen(record=Refused(ApiError("ResourceNotFoundException", ""))).record_failure == (
        "idempotency record: ResourceNotFoundException"
    )


def test_on_the_last_receive_a_token_in_progress_is_dead_lettered_without_an_announcement() -> None:
    decision = decide(Seen(record=InProgress(NOW + 1)), last_receive=True)
    assert (decision.outcome, decision.announce) == (Outcome.DEAD_LETTERED, False)


def test_an_expired_request_without_an_item_fails_as_expired() -> None:
    decision = decide(Seen(expired=True, record=Absent.ABSENT), last_receive=False)
    assert decision.outcome is Outcome.FAILED
    assert decision.error is not None and decision.error.code == WorkerErrorCode.REQUEST_EXPIRED


def test_only_a_held_item_lets_the_api_be_called() -> None:
    assert Seen().needs_api  # the record is off
    assert Seen(record=Holding(item())).needs_api
    for other in (
        Replay(SESSION),
        InProgress(NOW),
        OutcomeUnknown(NOW),
        Reused(),
        Refused(ApiError("X", "")),
        Absent.ABSENT,
    ):
        assert not Seen(record=other).needs_api


# -- the item's lifetime ------------------------------------------------------------------------------------------
def test_an_item_lives_as_long_as_the_request_age_limit_or_the_queues_retention_when_the_check_is_off() -> None:
    assert RecordPolicy(60, AgeLimit(1440)).expires_at(NOW) == (NOW + 1440 * MINUTE) // 1000
    assert RecordPolicy(60, AgeLimit(0)).expires_at(NOW) == (NOW + SQS_RETENTION_MAX_MINUTES * MINUTE) // 1000
    # a window longer than the age limit keeps the item for the window
    assert RecordPolicy(120, AgeLimit(30)).expires_at(NOW) == (NOW + 120 * MINUTE) // 1000


def test_the_window_takes_fractions_of_a_minute() -> None:
    assert RecordPolicy(0.005).window_ms == 300
