"""The rule of an adapter's batch call (``PutEvents``, ``SendMessage[Batch]``): one answer per entry.

No entries make no call; more than the API takes are a programming error; every request of the call is
bounded by the caller's deadline; a call that raises instead of answering fails each of its entries with
the same reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from adapters.aws_errors import CALL_FAILURES, api_error
from adapters.deadline import DeadlineGuard
from domain.constraints import MAX_BATCH_ENTRIES
from domain.errors import Reach

T = TypeVar("T")

# One answer per entry: None when it was taken, else why not.
Answers = list[str | None]


def failure_reason(error: Exception) -> str:
    """What the entries of a failed call are told: the AWS error code, else the kind of failure."""
    failure = api_error(error)
    return failure.code if failure.reach is Reach.ANSWERED else failure.message


def one_group(entries: Sequence[T]) -> list[Sequence[T]]:
    """All the entries in one request."""
    return [entries]


@dataclass(frozen=True, slots=True)
class BatchCall:
    """One batch operation of an AWS API, as an adapter makes it.

    ``operation`` is the API's name for it (it takes at most ``MAX_BATCH_ENTRIES``), ``failed`` what each entry of
    a request that raised is told, before the reason.
    """

    operation: str
    failed: str
    guard: DeadlineGuard

    def __call__(
        self,
        entries: Sequence[T],
        request: Callable[[Sequence[T]], Answers],
        *,
        deadline: float,
        groups: Callable[[Sequence[T]], list[Sequence[T]]] = one_group,
    ) -> Answers:
        """``request`` for each of ``groups(entries)`` in turn, within ``deadline``: the answers in entry order.

        A group whose request raises one of ``CALL_FAILURES`` fails its own entries only.
        """
        if not entries:
            return []
        if len(entries) > MAX_BATCH_ENTRIES:
            raise ValueError(f"{self.operation} takes at most {MAX_BATCH_ENTRIES} entries, got {len(entries)}")
        answers: Answers = []
        with self.guard.bounded_by(deadline):
            for group in groups(entries):
                try:
                    answers.extend(request(group))
                except CALL_FAILURES as error:
                    answers.extend([f"{self.failed}: {failure_reason(error)}"] * len(group))
        return answers


def answers_of(response: Mapping[str, Any], count: int) -> Answers:
    """SQS's per-entry answer of a ``...Batch`` call whose entries' ``Id`` is their index: ``None`` or why not."""
    answers: Answers = ["no answer for this entry"] * count
    for ok in response.get("Successful", []):
        answers[int(ok["Id"])] = None
    for failed in response.get("Failed", []):
        answers[int(failed["Id"])] = f"{failed.get('Code', 'Unknown')}: {failed.get('Message', '')}"
    return answers
