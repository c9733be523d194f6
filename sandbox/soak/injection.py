"""Faults the soak injects at the worker's own boundaries: its ports (by composition) and its invocations.

* :class:`FaultyPorts`: the worker's ports with a ``PutEvents`` publisher and a DLQ sender that fail as a
  whole call, per entry, or with their answer lost after the work was done (:class:`CallFaults`), and that
  refuse chosen entries, by request, a scripted number of times (:class:`sandbox.aws.refusals.Refusals`);
* :class:`InvocationFaults`: a handler around the real one that gives some invocations a short deadline and
  loses some after the handler returned (Lambda then hands the whole batch back).
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Final, TypeVar

from sandbox.aws.refusals import RefusingPort
from sandbox.lambda_.event_source import Handler
from sandbox.service import started
from sandbox.worker_code import (
    ClientSettings,
    DeadLetter,
    DeadLetterSender,
    EventEntry,
    EventPublisher,
    Ports,
    Settings,
    aws_ports,
)

INJECTED: Final = "injected by the soak"

T = TypeVar("T")  # an entry of a port's call
P = TypeVar("P")  # a port


def require_probability(name: str, value: float) -> None:
    """A ``ValueError`` naming ``name`` unless ``value`` is between 0 and 1."""
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, not {value!r}")


@dataclass(frozen=True, slots=True)
class CallFaults:
    """Probabilities of the faults injected into each call of a port (each call draws once).

    ``fail_call``: the call fails as a whole and nothing is done. ``fail_entry``: an entry fails on its
    own, the others are done. ``lose_answer``: everything is done but the answer is lost, so the caller
    sees every entry failed (an ambiguous failure: a timeout after the service acted).
    """

    fail_call: float = 0.0
    fail_entry: float = 0.0
    lose_answer: float = 0.0

    def __post_init__(self) -> None:
        for name in ("fail_call", "fail_entry", "lose_answer"):
            require_probability(name, getattr(self, name))
        if self.fail_call + self.lose_answer > 1.0:
            raise ValueError("fail_call + lose_answer must not exceed 1")


NO_FAULTS: Final = CallFaults()


@dataclass(slots=True)
class FaultCounts:
    """What a faulty port was asked, and the faults it injected by kind."""

    calls: int = 0
    entries: int = 0
    failed_calls: int = 0
    failed_entries: int = 0
    lost_answers: int = 0


class FaultInjector:
    """Draws the fate of each call from a seeded generator (thread-safe) and applies it around the real call."""

    def __init__(self, faults: CallFaults = NO_FAULTS, rng: random.Random | None = None) -> None:
        self.faults = faults
        self.counts = FaultCounts()
        self._rng = rng or random.Random()
        self._lock = threading.Lock()

    def _plan(self, size: int) -> tuple[str, list[bool]]:
        with self._lock:
            self.counts.calls += 1
            self.counts.entries += size
            faults = self.faults
            draw = self._rng.random()
            if draw < faults.fail_call:
                self.counts.failed_calls += 1
                return "fail", [True] * size
            if draw < faults.fail_call + faults.lose_answer:
                self.counts.lost_answers += 1
                return "lose", [False] * size
            failing = [self._rng.random() < faults.fail_entry for _ in range(size)]
            self.counts.failed_entries += sum(failing)
            return "pass", failing

    def run(self, items: Sequence[T], call: Callable[[Sequence[T]], list[str | None]], what: str) -> list[str | None]:
        """``call`` on the items that do not fail; per item ``None`` when done, else why not."""
        mode, failing = self._plan(len(items))
        if mode == "fail":
            return [f"{what} as a whole: {INJECTED}"] * len(items)
        kept = [item for item, fails in zip(items, failing, strict=True) if not fails]
        answers = iter(call(kept) if kept else [])
        results = [f"{what}: entry failed, {INJECTED}" if fails else next(answers) for fails in failing]
        if mode == "lose":
            return [f"{what}: answer lost, {INJECTED}"] * len(items)
        return results


class _FaultyPort(RefusingPort[P, T], ABC):
    """A port around the real one (``inner``): each call under ``injector``'s faults (:class:`CallFaults`), and
    the entries of chosen requests refused (``refusals``, keyed by :meth:`key`). ``what``: the call, as the
    answers of its failures name it."""

    what: ClassVar[str]

    def __init__(self, inner: P, injector: FaultInjector) -> None:
        super().__init__(inner, self.key, refusal=f"{self.what}: refused, {INJECTED}")
        self.injector = injector

    @abstractmethod
    def key(self, entry: T) -> str | None:
        """The request ``entry`` belongs to, as ``refusals`` are scripted (``None``: never refused)."""

    def _call(self, entries: Sequence[T], call: Callable[[Sequence[T]], list[str | None]]) -> list[str | None]:
        """``call`` (the inner port's), under ``injector``'s faults, on the entries ``refusals`` lets through."""
        return self.refuse_in_place(entries, lambda kept: self.injector.run(kept, call, self.what))


class FaultyPublisher(_FaultyPort[EventPublisher, EventEntry]):
    """An ``EventPublisher`` around the real one: ``PutEvents`` failing as a whole, per entry, or its answer
    lost; and the events of chosen requests refused (keyed by the request's ``userId``)."""

    what = "PutEvents failed"

    def key(self, entry: EventEntry) -> str | None:
        user = (entry.detail.get("request") or {}).get("userId")
        return user if isinstance(user, str) else None

    def publish(self, entries: Sequence[EventEntry], *, deadline: float) -> list[str | None]:
        return self._call(entries, lambda kept: self.inner.publish(kept, deadline=deadline))


class FaultyDeadLetters(_FaultyPort[DeadLetterSender, DeadLetter]):
    """A ``DeadLetterSender`` around the real one: the send to the DLQ failing as a whole, per message, or
    lost; and the letters of chosen requests refused (keyed by the body)."""

    what = "send to the DLQ failed"

    def key(self, entry: DeadLetter) -> str:
        return entry.body

    def send(self, letters: Sequence[DeadLetter], *, deadline: float) -> list[str | None]:
        return self._call(letters, lambda kept: self.inner.send(kept, deadline=deadline))


class FaultyPorts:
    """The ports the soak (or the fuzz tests) run the worker on: its AWS ports, the publisher and the DLQ sender
    in faulty ports around them (:class:`FaultyPublisher`, :class:`FaultyDeadLetters`).

    Call it with the worker's settings to build them (``SandboxConfig.worker_ports`` does, once the function's
    environment is in place); :attr:`publisher` and :attr:`dead_letters` are then the faulty ports. Their
    injectors exist from the start, seeded by ``seed``: set ``publisher_injector.faults`` and
    ``dead_letter_injector.faults`` at any time. The clients' pools are ``MAX_CONCURRENCY`` large, as Lambda's:
    the sandbox's event source already multiplies that variable by its pollers, which all share these ports.
    """

    def __init__(self, *, payments_client: ClientSettings, seed: int | None = None) -> None:
        rng = random.Random(seed)
        self.publisher_injector = FaultInjector(rng=random.Random(rng.random()))
        self.dead_letter_injector = FaultInjector(rng=random.Random(rng.random()))
        self.payments_client = payments_client
        self._publisher: FaultyPublisher | None = None
        self._dead_letters: FaultyDeadLetters | None = None

    def __call__(self, settings: Settings) -> Ports:
        aws = aws_ports(settings, payments_client=self.payments_client)
        self._publisher = FaultyPublisher(aws.publisher, self.publisher_injector)
        self._dead_letters = FaultyDeadLetters(aws.dead_letters, self.dead_letter_injector)
        return replace(aws, publisher=self._publisher, dead_letters=self._dead_letters)

    @property
    def publisher(self) -> FaultyPublisher:
        return started(self._publisher, "the soak's ports")

    @property
    def dead_letters(self) -> FaultyDeadLetters:
        return started(self._dead_letters, "the soak's ports")

    def fix(self) -> None:
        """The operator found and fixed the cause: no more injected faults or refusals."""
        self.publisher_injector.faults = self.dead_letter_injector.faults = NO_FAULTS
        self.publisher.refusals.lift()
        self.dead_letters.refusals.lift()


# ---------------------------------------------------------------------------------------------------------
# Faults of invocations, by wrapping the handler
# ---------------------------------------------------------------------------------------------------------


class InvocationLost(RuntimeError):
    """The invocation died after the handler returned (injected): Lambda hands the whole batch back."""


@dataclass(slots=True)
class InvocationFaultCounts:
    invocations: int = 0
    short_deadlines: int = 0
    lost_after_work: int = 0


class InvocationFaults:
    """A handler around the real one (``handler()``): a short deadline for some invocations, some lost after
    their work. (The sandbox holds invocations back until the worker runs on the soak's ports.)"""

    def __init__(
        self, handler: Callable[[], Handler], *, short_deadline: float, lost: float, rng: random.Random
    ) -> None:
        self._handler = handler
        self.short_deadline = short_deadline
        self.lost = lost
        self.counts = InvocationFaultCounts()
        self._rng = rng
        self._lock = threading.Lock()

    def off(self) -> None:
        """The cause is fixed: no more injected faults."""
        with self._lock:
            self.short_deadline = self.lost = 0.0

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        with self._lock:
            self.counts.invocations += 1
            cut = self._rng.random() < self.short_deadline
            left = self._rng.uniform(0.2, 6.0)
            lose = self._rng.random() < self.lost
            self.counts.short_deadlines += cut
            self.counts.lost_after_work += lose
        if cut:
            context = dataclasses.replace(context, deadline=min(context.deadline, time.monotonic() + left))
        response = self._handler()(event, context)
        if lose:
            raise InvocationLost(f"invocation lost after the handler returned ({INJECTED})")
        return response
