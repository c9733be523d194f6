"""The bounded, value-free error message of CONTRACT section 5."""

from __future__ import annotations

import pytest

from domain.errors import MAX_ERROR_MESSAGE_CHARS, FieldProblem, PoisonCode, PoisonMessage, describe, truncate

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
