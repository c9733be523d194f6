"""Running a stage's calls: concurrently on the batch's executor, or one after another in the caller's thread.

A runner gives one ``Ran`` per item, in order, and never starts a call with less than ``min_start`` seconds left
before its deadline; on an executor it stops waiting at ``wait_until`` and reports the rest as late.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, Future, wait
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from domain.errors import Reach

T = TypeVar("T")
R = TypeVar("R")

# A call that did not run to its end within the invocation (``Ran.late``), and the reason its item is given.
LATE_REASONS: Final[Mapping[Reach, str]] = {
    Reach.NOT_SENT: "no time left in the invocation",
    Reach.IN_FLIGHT: "the call did not finish within the invocation",
}


@dataclass(frozen=True, slots=True)
class Ran(Generic[R]):
    """What became of one call: its value, the exception it raised, or how far it got when it did not run to the
    end (``Reach.NOT_SENT``: never started; ``Reach.IN_FLIGHT``: not back when the invocation stopped waiting)."""

    value: R | None = None
    error: Exception | None = None
    late: Reach | None = None


def _run(call: Callable[[T], R], item: T, deadline: float, clock: Callable[[], float], min_start: float) -> Ran[R]:
    if clock() + min_start > deadline:
        return Ran(late=Reach.NOT_SENT)
    try:
        return Ran(value=call(item))
    except Exception as error:  # noqa: BLE001 - one call's surprise is that item's result, never the batch's
        return Ran(error=error)


@dataclass(frozen=True, slots=True)
class Runner:
    """Runs calls: every one submitted at once to ``executor`` (whose size bounds how many run together), or,
    without one, one after another in the calling thread (the records of a FIFO message group)."""

    clock: Callable[[], float]
    min_start: float
    executor: Executor | None = None

    def map(
        self, call: Callable[[T], R], items: Sequence[T], *, deadline: float, wait_until: float | None = None
    ) -> list[Ran[R]]:
        """Run ``call`` on each item; no call starts with less than ``min_start`` left before ``deadline``."""
        if self.executor is None:
            return [_run(call, item, deadline, self.clock, self.min_start) for item in items]
        if not items:
            return []
        futures: list[Future[Ran[R]]] = [
            self.executor.submit(_run, call, item, deadline, self.clock, self.min_start) for item in items
        ]
        _, not_done = wait(futures, timeout=max(0.0, (wait_until or deadline) - self.clock()))
        results: list[Ran[R]] = []
        for future in futures:
            if future in not_done:
                future.cancel()  # a call still queued never starts; one in flight is bounded by its deadline
                results.append(Ran(late=Reach.IN_FLIGHT))
            else:
                results.append(future.result())
        return results
