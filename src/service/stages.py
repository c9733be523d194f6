"""A stage of a batch as data, and the one step that runs any of them.

Every stage is the same three parts: which records it acts on and what it sends for each (``due``), the calls
that send it (``send``: one answer per item, in order), and what an answer makes of its record (``observe``:
a new ``RecordState`` with one more observation). Two ways of sending serve every stage: ``per_record`` (one
payments API call per record, bounded by the API's share of the time) and ``in_tens`` (a port's batch call, at
most ``MAX_BATCH_ENTRIES`` items each).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from domain.constraints import MAX_BATCH_ENTRIES
from domain.record_state import RecordState
from domain.time_policy import Budget
from service.calls import LATE_REASONS, Ran, Runner
from service.record_scope import for_record

T = TypeVar("T")
A = TypeVar("A")
R = TypeVar("R")

# What a stage sends: for the records due, one answer per item, in order.
Send = Callable[[Runner, Sequence[T], float], list[A]]
# A port's batch call (``EventPublisher.publish``, ...) of at most ten items, bounded by a deadline: per item
# ``None`` or why not.
BatchSend = Callable[[Sequence[T], float], list[str | None]]


@dataclass(frozen=True, slots=True)
class Stage(Generic[T, A]):
    """One stage: the records due and their items, how the items are sent, what each answer makes of its record."""

    due: Callable[[Sequence[RecordState]], list[tuple[int, T]]]
    send: Send[T, A]
    observe: Callable[[RecordState, T, A], RecordState]

    def run(self, states: list[RecordState], runner: Runner, deadline: float) -> list[RecordState]:
        """The states after this stage: each due record observed its answer, the others unchanged."""
        due = self.due(states)
        if not due:
            return states
        answers = self.send(runner, [item for _, item in due], deadline)
        out = list(states)
        for (index, item), answer in zip(due, answers, strict=True):
            out[index] = self.observe(states[index], item, answer)
        return out


def each(pick: Callable[[RecordState], T | None]) -> Callable[[Sequence[RecordState]], list[tuple[int, T]]]:
    """``due`` of a stage that judges each record alone: the records ``pick`` gives an item for."""
    return lambda states: [(index, item) for index, state in enumerate(states) if (item := pick(state)) is not None]


def per_record(
    call: Callable[[RecordState, float], R], clock: Callable[[], float], budget: Budget
) -> Send[RecordState, Ran[R]]:
    """One call per record, concurrently with the concurrent runner, each bounded by the API's share of the time."""

    def send(runner: Runner, states: Sequence[RecordState], deadline: float) -> list[Ran[R]]:
        api_deadline = budget.api_deadline(clock(), deadline)

        def one(state: RecordState) -> R:
            with for_record(state.record):  # the call's record, for the tracing around the port
                return call(state, api_deadline)

        return runner.map(one, states, deadline=api_deadline, wait_until=budget.api_wait(api_deadline, deadline))

    return send


def chunks(items: Sequence[T], size: int = MAX_BATCH_ENTRIES) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def per_item(ran: Ran[list[str | None]], count: int) -> list[str | None]:
    """One ``None`` (accepted) or reason per item of a chunk sent in one call."""
    if ran.late is not None:
        return [LATE_REASONS[ran.late]] * count
    if ran.error is not None:
        return [f"unexpected {type(ran.error).__name__}"] * count
    if ran.value is None or len(ran.value) != count:
        return ["the adapter answered for a different number of entries"] * count
    return ran.value


def in_tens(call: BatchSend[T]) -> Send[T, str | None]:
    """``call`` over chunks of ten (concurrently with the concurrent runner): per item ``None`` or why not."""

    def send(runner: Runner, items: Sequence[T], deadline: float) -> list[str | None]:
        parts = list(chunks(items))
        ran = runner.map(lambda part: call(part, deadline), parts, deadline=deadline)
        return [why for part, result in zip(parts, ran, strict=True) for why in per_item(result, len(part))]

    return send
