"""The soak's faulty ports around the worker's real ones: refusals by request, then the injector's faults."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from sandbox.soak.injection import INJECTED, CallFaults, FaultInjector, FaultyDeadLetters, FaultyPublisher
from sandbox.worker_code import DeadLetter, EventEntry
from tests.fakes.ports import FakeDeadLetterSender, FakeEventPublisher


def _event(request: str) -> EventEntry:
    return EventEntry("PaymentSessionCreated", {"clientToken": f"t-{request}", "request": {"userId": request}}, ())


def _letter(request: str) -> DeadLetter:
    return DeadLetter(f"m-{request}", request, {})


@dataclass(frozen=True)
class Port:
    """One faulty port under test: how to build it around a fake, an entry of a request, and its call."""

    name: str
    build: Callable[[FaultInjector], tuple[Any, Any]]  # (faulty port, the fake inside it)
    entry: Callable[[str], Any]
    call: Callable[[Any, Sequence[Any]], list[str | None]]
    what: str


def _publisher(injector: FaultInjector) -> tuple[FaultyPublisher, FakeEventPublisher]:
    inner = FakeEventPublisher()
    return FaultyPublisher(inner, injector), inner


def _dead_letters(injector: FaultInjector) -> tuple[FaultyDeadLetters, FakeDeadLetterSender]:
    inner = FakeDeadLetterSender()
    return FaultyDeadLetters(inner, injector), inner


PORTS = [
    Port(
        "publisher", _publisher, _event, lambda port, entries: port.publish(entries, deadline=0.0), "PutEvents failed"
    ),
    Port(
        "dead letters",
        _dead_letters,
        _letter,
        lambda port, entries: port.send(entries, deadline=0.0),
        "send to the DLQ failed",
    ),
]


@pytest.fixture(params=PORTS, ids=[p.name for p in PORTS])
def port(request: pytest.FixtureRequest) -> Port:
    return request.param


def test_a_refused_entry_answers_in_its_place_and_the_others_reach_the_real_port(port: Port):
    # Given a faulty port without random faults, the entries of request "b" refused once
    faulty, inner = port.build(FaultInjector(rng=random.Random(0)))
    faulty.refusals.script("b", 1)
    entries = [port.entry(r) for r in ("a", "b", "c")]

    # When the worker calls it with entries of requests a, b, c, then b again
    answers = port.call(faulty, entries)
    again = port.call(faulty, [port.entry("b")])

    # Then b is refused in its place, a and c are done by the real port, and the refusal is used up
    assert answers == [None, f"{port.what}: refused, {INJECTED}", None]
    assert again == [None]
    assert inner.calls == [[entries[0], entries[2]], [port.entry("b")]]
    assert faulty.refusals.refused == 1
    assert (faulty.injector.counts.calls, faulty.injector.counts.entries) == (2, 3)


def test_a_call_failed_as_a_whole_reaches_nothing_and_is_counted(port: Port):
    # Given a faulty port whose every call fails as a whole
    faulty, inner = port.build(FaultInjector(CallFaults(fail_call=1.0), rng=random.Random(0)))

    # When the worker calls it with two entries
    answers = port.call(faulty, [port.entry("a"), port.entry("b")])

    # Then both answer the whole call's failure, the real port saw nothing, and the fault is counted
    assert answers == [f"{port.what} as a whole: {INJECTED}"] * 2
    assert inner.calls == []
    assert faulty.injector.counts.failed_calls == 1


def test_a_call_whose_entries_are_all_refused_draws_no_fault(port: Port):
    # Given a faulty port whose every call would fail, and request "a" refused until lifted
    faulty, inner = port.build(FaultInjector(CallFaults(fail_call=1.0), rng=random.Random(0)))
    faulty.refusals.script("a", None)

    # When the worker calls it with a's entry only
    answers = port.call(faulty, [port.entry("a")])

    # Then the entry is refused, and neither the injector nor the real port was called
    assert answers == [f"{port.what}: refused, {INJECTED}"]
    assert (inner.calls, faulty.injector.counts.calls) == ([], 0)
