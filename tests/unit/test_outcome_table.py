"""The outcome table of CONTRACT section 3 as one pure function: every row, from what the stages observed."""

from __future__ import annotations

import pytest

from domain.errors import ApiError, FieldProblem, PoisonCode, PoisonMessage, Reach, WorkerErrorCode
from domain.events import DetailType
from domain.outcomes import Created, Decision, Outcome, Seen, SessionUnknown, decide, is_final

FAILED_CODES = {"ValidationException": 400, "ConflictException": 409, "ServiceQuotaExceededException": 402}
RETRIED_CODES = {
    "ThrottlingException": 429,
    "InternalServerException": 500,
    "AccessDeniedException": 403,
    "SubscriptionRequiredException": 403,
}
SESSION = {"paymentSessionId": "payment-session-1"}
POISON = PoisonMessage(PoisonCode.INVALID_REQUEST, (FieldProblem("limit", "extra_forbidden"),))
THROTTLED = ApiError("ThrottlingException", "Rate exceeded", 429)
REJECTED = ApiError("ValidationException", "bad", 400, reason="FieldValidationFailed")


# -- which API answers are final -------------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "status"), FAILED_CODES.items())
def test_validation_conflict_and_quota_errors_fail_the_request(code: str, status: int) -> None:
    assert is_final(ApiError(code, "message", status))
    assert is_final(ApiError(code, "message", None))


@pytest.mark.parametrize(("code", "status"), RETRIED_CODES.items())
def test_throttling_internal_access_and_subscription_errors_are_retried(code: str, status: int) -> None:
    assert not is_final(ApiError(code, "message", status))
    assert not is_final(ApiError(code, "message", None))


@pytest.mark.parametrize("code", [*FAILED_CODES, "UnknownError", "Unknown", ""])
@pytest.mark.parametrize("status", [500, 502, 503, 504, 599])
def test_any_5xx_is_retried_whatever_its_code(code: str, status: int) -> None:
    assert not is_final(ApiError(code, "message", status))


@pytest.mark.parametrize("status", [400, 404, 418, 499, None])
def test_an_unknown_code_is_retried_so_that_sqs_decides(status: int | None) -> None:
    assert not is_final(ApiError("SomethingNewException", "message", status))


def test_classification_reads_the_code_never_the_message() -> None:
    assert not is_final(ApiError("ThrottlingException", "ValidationException: slow down", 429))
    assert is_final(ApiError("ValidationException", "ThrottlingException? no", 400))


def test_codes_are_case_sensitive() -> None:
    assert not is_final(ApiError("validationexception", "message", 400))


# -- the table -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("last_receive", [False, True])
def test_a_created_session_is_created_and_publishes_its_event_on_any_receive(last_receive: bool) -> None:
    assert decide(Seen(api=Created(SESSION)), last_receive=last_receive) == Decision(
        Outcome.CREATED, publish=DetailType.CREATED
    )


@pytest.mark.parametrize("last_receive", [False, True])
def test_a_final_api_error_fails_the_request_with_the_apis_code_and_reason(last_receive: bool) -> None:
    decision = decide(Seen(api=REJECTED), last_receive=last_receive)
    assert decision.outcome is Outcome.FAILED
    assert decision.publish is DetailType.FAILED
    assert decision.error is not None
    assert (decision.error.code, decision.error.reason) == ("ValidationException", "FieldValidationFailed")
    assert not decision.dead_letter and not decision.announce


@pytest.mark.parametrize("last_receive", [False, True])
def test_an_expired_request_fails_with_request_expired_and_never_needs_the_api(last_receive: bool) -> None:
    seen = Seen(expired=True)
    decision = decide(seen, last_receive=last_receive)
    assert not seen.needs_api
    assert decision.outcome is Outcome.FAILED
    assert decision.publish is DetailType.FAILED
    assert decision.error is not None and decision.error.code == WorkerErrorCode.REQUEST_EXPIRED


@pytest.mark.parametrize("last_receive", [False, True])
def test_poison_is_dead_lettered_on_any_receive_and_never_announced(last_receive: bool) -> None:
    decision = decide(Seen(poison=POISON), last_receive=last_receive)
    assert decision.outcome is Outcome.DEAD_LETTERED
    assert decision.dead_letter and not decision.announce and decision.publish is None
    assert decision.error is not None
    assert (decision.error.code, decision.error.message) == ("InvalidRequest", "limit: extra_forbidden")


def test_poison_whose_copy_to_the_dlq_failed_is_retried_with_its_cause_kept() -> None:
    decision = decide(Seen(poison=POISON, letter_failure="KMS.AccessDenied"), last_receive=False)
    assert decision.outcome is Outcome.RETRIED
    assert decision.error is not None and decision.error.code == "InvalidRequest"
    assert decision.error.message.endswith("dead-letter send failed: KMS.AccessDenied")
    assert not decision.dead_letter


@pytest.mark.parametrize(
    "api",
    [
        THROTTLED,
        ApiError(WorkerErrorCode.TIMEOUT, "ReadTimeoutError", reach=Reach.UNANSWERED),
        ApiError("Timeout", "late", reach=Reach.NOT_SENT),
    ],
)
def test_a_retried_cause_before_the_last_receive_is_handed_back_with_nothing_sent(api: ApiError) -> None:
    decision = decide(Seen(api=api), last_receive=False)
    assert decision == Decision(Outcome.RETRIED, decision.error)
    assert decision.error is not None and decision.error.code in {"ThrottlingException", "Timeout"}


def test_a_retried_cause_on_the_last_receive_is_dead_lettered_and_announced() -> None:
    decision = decide(Seen(api=THROTTLED), last_receive=True)
    assert decision.outcome is Outcome.DEAD_LETTERED
    assert decision.dead_letter and decision.announce
    assert decision.error is not None and decision.error.code == "ThrottlingException"


def test_a_created_session_whose_event_failed_is_retried_before_the_last_receive() -> None:
    decision = decide(Seen(api=Created(SESSION), publish_failure="ThrottlingException"), last_receive=False)
    assert decision.outcome is Outcome.RETRIED
    assert decision.error is not None and decision.error.code == WorkerErrorCode.EVENT_PUBLISH_FAILED
    assert decision.publish is None


def test_a_created_session_whose_event_failed_on_the_last_receive_is_dead_lettered_but_never_announced_as_failed():
    seen = Seen(api=Created(SESSION), publish_failure="ThrottlingException")
    decision = decide(seen, last_receive=True)
    assert decision.outcome is Outcome.DEAD_LETTERED
    assert decision.dead_letter
    assert not decision.announce
    assert seen.session_id == "payment-session-1"


def test_an_expired_request_whose_failure_event_failed_is_retried_then_dead_lettered_and_announced() -> None:
    seen = Seen(expired=True, publish_failure="boom")
    assert decide(seen, last_receive=False).outcome is Outcome.RETRIED
    last = decide(seen, last_receive=True)
    assert (last.outcome, last.dead_letter, last.announce) == (Outcome.DEAD_LETTERED, True, True)


def test_a_failed_copy_to_the_dlq_on_the_last_receive_hands_the_record_back_instead() -> None:
    decision = decide(Seen(api=THROTTLED, letter_failure="AccessDenied"), last_receive=True)
    assert decision.outcome is Outcome.RETRIED
    assert not decision.dead_letter and not decision.announce
    assert decision.error is not None and decision.error.code == "ThrottlingException"
    assert "dead-letter send failed: AccessDenied" in decision.error.message


@pytest.mark.parametrize("last_receive", [False, True])
def test_a_record_held_back_behind_its_fifo_group_is_retried_untouched_even_on_the_last_receive(
    last_receive: bool,
) -> None:
    seen = Seen(held="an earlier record of its message group was retried")
    decision = decide(seen, last_receive=last_receive)
    assert decision.outcome is Outcome.RETRIED
    assert not decision.dead_letter and not decision.announce and decision.publish is None
    assert not seen.needs_api and not seen.api_called


def test_a_record_the_api_stage_never_saw_is_retried_rather_than_guessed() -> None:
    decision = decide(Seen(), last_receive=False)
    assert decision.outcome is Outcome.RETRIED
    assert decision.error is not None and decision.error.code == WorkerErrorCode.INTERNAL_ERROR


def test_a_call_that_never_started_does_not_count_as_an_api_call() -> None:
    assert not Seen(api=ApiError("Timeout", "no time left", reach=Reach.NOT_SENT)).api_called
    assert Seen(api=ApiError("Timeout", "ReadTimeoutError", reach=Reach.UNANSWERED)).api_called
    assert Seen(api=THROTTLED).api_called


# -- a claimed session (a redriven dead letter's PaymentSessionId) -----------------------------------------------


@pytest.mark.parametrize("last_receive", [False, True])
@pytest.mark.parametrize("expired", [False, True])
def test_a_confirmed_claim_is_created_whatever_the_age_and_never_needs_the_api(
    expired: bool, last_receive: bool
) -> None:
    seen = Seen(expired=expired, claimed=True, lookup=Created(SESSION))
    assert not seen.needs_api and not seen.needs_lookup
    assert decide(seen, last_receive=last_receive) == Decision(Outcome.CREATED, publish=DetailType.CREATED)


def test_a_claim_is_looked_up_before_anything_else_and_blocks_the_api_until_then() -> None:
    seen = Seen(expired=True, claimed=True)
    assert seen.needs_lookup and not seen.needs_api
    # Not looked up (no time left): retried, never failed as expired
    decision = decide(seen, last_receive=False)
    assert decision.outcome is Outcome.RETRIED


@pytest.mark.parametrize(("expired", "outcome"), [(False, Outcome.RETRIED), (True, Outcome.FAILED)])
def test_an_unknown_claim_leaves_the_record_as_any_other(expired: bool, outcome: Outcome) -> None:
    seen = Seen(expired=expired, claimed=True, lookup=SessionUnknown("ResourceNotFoundException"))
    assert seen.needs_api is not expired
    # before the API stage: a young record still needs its call (retried if it never ran); an old one expires
    assert decide(seen, last_receive=False).outcome is outcome


@pytest.mark.parametrize(
    "lookup", [THROTTLED, REJECTED, ApiError(WorkerErrorCode.TIMEOUT, "ReadTimeoutError", reach=Reach.UNANSWERED)]
)
def test_an_unsettled_claim_is_retried_then_dead_lettered_without_announcing_a_failure(lookup: object) -> None:
    seen = Seen(expired=True, claimed=True, lookup=lookup)  # type: ignore[arg-type]
    assert not seen.needs_api
    assert decide(seen, last_receive=False).outcome is Outcome.RETRIED
    last = decide(seen, last_receive=True)
    assert (last.outcome, last.dead_letter, last.announce) == (Outcome.DEAD_LETTERED, True, False)
