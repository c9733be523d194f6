"""The batch-call rule both AWS adapters keep: one answer per entry, whatever the request does."""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest
from botocore.exceptions import ClientError

from adapters.aws_errors import deadline_exceeded
from adapters.batch_call import BatchCall
from adapters.deadline import DeadlineGuard


def batch_call() -> BatchCall:
    return BatchCall("SendMessageBatch", failed="send to the DLQ failed", guard=DeadlineGuard(5.0))


class Recorder:
    """A request that takes every entry and remembers each group it was asked."""

    def __init__(self) -> None:
        self.requests: list[Sequence[str]] = []

    def __call__(self, group: Sequence[str]) -> list[str | None]:
        self.requests.append(group)
        return [None] * len(group)


def pairs(entries: Sequence[str]) -> list[Sequence[str]]:
    return [entries[index : index + 2] for index in range(0, len(entries), 2)]


def test_no_entries_make_no_request():
    # Given a request that records being made
    request = Recorder()

    # When no entries are sent
    answers = batch_call()([], request, deadline=time.monotonic() + 5)

    # Then nothing is asked and nothing answered
    assert answers == []
    assert request.requests == []


def test_more_entries_than_the_api_takes_are_refused_before_any_request():
    # Given 11 entries for an operation that takes 10
    request = Recorder()

    # When they are sent, then they are refused with the operation and both numbers named
    with pytest.raises(ValueError, match=r"^SendMessageBatch takes at most 10 entries, got 11$"):
        batch_call()([str(n) for n in range(11)], request, deadline=time.monotonic() + 5)

    # And nothing was asked
    assert request.requests == []


def test_a_request_that_raises_fails_its_own_group_with_the_error_code_only():
    # Given entries sent in pairs, the second pair refused by the API, the third past the deadline
    def request(group: Sequence[str]) -> list[str | None]:
        if group[0] == "c":
            raise ClientError({"Error": {"Code": "KMS.AccessDenied"}}, "SendMessageBatch")
        if group[0] == "e":
            raise deadline_exceeded()
        return [None] * len(group)

    # When they are sent
    answers = batch_call()(list("abcdef"), request, deadline=time.monotonic() + 5, groups=pairs)

    # Then each entry has one answer, in order: the first pair taken, the others failed with their reason
    assert answers == [
        None,
        None,
        "send to the DLQ failed: KMS.AccessDenied",
        "send to the DLQ failed: KMS.AccessDenied",
        "send to the DLQ failed: DeadlineExceeded",
        "send to the DLQ failed: DeadlineExceeded",
    ]


def test_an_error_that_is_not_a_call_failure_is_raised():
    # Given a request with a bug of its own
    def request(group: Sequence[str]) -> list[str | None]:
        raise TypeError("not a call failure")

    # When entries are sent, then the bug is not reported as failed entries
    with pytest.raises(TypeError):
        batch_call()(["a"], request, deadline=time.monotonic() + 5)
