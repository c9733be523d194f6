"""The classification table of CONTRACT section 3 and the bounded error message of section 5."""

from __future__ import annotations

import pytest

from domain.errors import (
    MAX_ERROR_MESSAGE_CHARS,
    ApiError,
    Disposition,
    FieldProblem,
    PoisonCode,
    PoisonMessage,
    classify_api_error,
    describe,
    truncate,
)

FAILED_CODES = {"ValidationException": 400, "ConflictException": 409, "ServiceQuotaExceededException": 402}
RETRIED_CODES = {
    "ThrottlingException": 429,
    "InternalServerException": 500,
    "AccessDeniedException": 403,
    "SubscriptionRequiredException": 403,
}


@pytest.mark.parametrize(("code", "status"), FAILED_CODES.items())
def test_validation_conflict_and_quota_errors_fail_the_request(code: str, status: int) -> None:
    assert classify_api_error(code, status) is Disposition.FAILED
    assert classify_api_error(code, None) is Disposition.FAILED
    assert ApiError(code, "message", status).disposition is Disposition.FAILED


@pytest.mark.parametrize(("code", "status"), RETRIED_CODES.items())
def test_throttling_internal_access_and_subscription_errors_are_retried(code: str, status: int) -> None:
    assert classify_api_error(code, status) is Disposition.RETRIED
    assert classify_api_error(code, None) is Disposition.RETRIED
    assert ApiError(code, "message", status).disposition is Disposition.RETRIED


@pytest.mark.parametrize("code", [*FAILED_CODES, "UnknownError", "Unknown", ""])
@pytest.mark.parametrize("status", [500, 502, 503, 504, 599])
def test_any_5xx_is_retried_whatever_its_code(code: str, status: int) -> None:
    assert classify_api_error(code, status) is Disposition.RETRIED


@pytest.mark.parametrize("status", [400, 404, 418, 499, None])
def test_an_unknown_code_is_retried_so_that_sqs_decides(status: int | None) -> None:
    assert classify_api_error("SomethingNewException", status) is Disposition.RETRIED


def test_classification_reads_the_code_never_the_message() -> None:
    # Given a retried code whose message mentions a final one, and the reverse
    assert ApiError("ThrottlingException", "ValidationException: slow down", 429).disposition is Disposition.RETRIED
    assert ApiError("ValidationException", "ThrottlingException? no", 400).disposition is Disposition.FAILED


def test_codes_are_case_sensitive() -> None:
    assert classify_api_error("validationexception", 400) is Disposition.RETRIED


# -- the error message ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("length", "expected"), [(0, 0), (1023, 1023), (1024, 1024), (1025, 1024), (100_000, 1024)])
def test_truncate_cuts_at_1024_characters(length: int, expected: int) -> None:
    text = "x" * length
    cut = truncate(text)
    assert len(cut) == expected
    assert cut == text if length <= MAX_ERROR_MESSAGE_CHARS else cut.endswith("...")


def test_a_description_of_many_problems_is_cut_to_1024_characters() -> None:
    problems = tuple(FieldProblem(f"field{index}", "extra_forbidden") for index in range(1000))
    text = describe("InvalidRequest", problems)
    assert len(text) == MAX_ERROR_MESSAGE_CHARS
    assert text.startswith("field0: extra_forbidden; field1: extra_forbidden")


def test_a_description_names_paths_and_kinds() -> None:
    problems = (FieldProblem("userId", "control_character"), FieldProblem("", "body is not a JSON object"))
    assert describe("InvalidRequest", problems) == "userId: control_character; body is not a JSON object"
    assert describe("InvalidRequest", problems, "envelope") == (
        "envelope: userId: control_character; body is not a JSON object"
    )


def test_a_description_without_problems_falls_back_to_the_detail_then_the_code() -> None:
    assert describe("EventLoop", (), "published by this worker") == "published by this worker"
    assert describe("EventLoop") == "EventLoop"


def test_a_poison_message_reads_as_its_description() -> None:
    error = PoisonMessage(PoisonCode.INVALID_REQUEST, (FieldProblem("limit", "extra_forbidden"),))
    assert str(error) == "limit: extra_forbidden"
    assert str(PoisonMessage(PoisonCode.MALFORMED_JSON)) == "MalformedJson"
