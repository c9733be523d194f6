"""Entries of chosen requests refused in place, by a port around the worker's real one.

The demo's round trip (:mod:`sandbox.demo.round_trip`) refuses one request's events until the cause is fixed; the
soak (:mod:`sandbox.soak.injection`) refuses chosen requests' events and dead letters, each a scripted number
of times. Both wrap a port in a :class:`RefusingPort`: a refused entry answers why in its place, the others
reach the real port.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from sandbox.worker_code import EventEntry, EventPublisher

T = TypeVar("T")  # an entry of a port's call
P = TypeVar("P")  # a port


class Refusals:
    """Entries refused by the request they belong to, whatever the random faults: each key a scripted number
    of times, or every time until :meth:`lift` (the operator fixed the cause). Thread-safe.

    ``key`` names an entry's request (``None``: never refused), e.g. a dead letter by its body.
    """

    def __init__(self, key: Callable[[Any], str | None]) -> None:
        self._key = key
        self._left: dict[str, int | None] = {}
        self._lock = threading.Lock()
        self.refused = 0

    def script(self, key: str, times: int | None) -> None:
        """Refuse ``key``'s next ``times`` entries (``None``: every one until :meth:`lift`)."""
        with self._lock:
            self._left[key] = times

    def lift(self) -> None:
        with self._lock:
            self._left.clear()

    def take(self, entry: Any) -> bool:
        """Whether ``entry`` is refused now (a scripted refusal is used up)."""
        key = self._key(entry)
        with self._lock:
            if key is None or key not in self._left:
                return False
            left = self._left[key]
            if left is not None:
                if left <= 1:
                    del self._left[key]
                else:
                    self._left[key] = left - 1
            self.refused += 1
            return True


class RefusingPort(Generic[P, T]):
    """A port around the real one (``inner``) that refuses the entries of chosen requests (``refusals``, keyed
    by ``key``); each refused entry answers ``refusal`` in its place."""

    def __init__(self, inner: P, key: Callable[[T], str | None], *, refusal: str) -> None:
        self.inner = inner
        self.refusals = Refusals(key)
        self.refusal = refusal

    def refuse_in_place(
        self, entries: Sequence[T], call: Callable[[Sequence[T]], list[str | None]]
    ) -> list[str | None]:
        """``call`` on the entries ``refusals`` lets through (not at all when it lets none); per entry ``None``
        when done, else why not."""
        refused = [self.refusals.take(entry) for entry in entries]
        kept = [entry for entry, no in zip(entries, refused, strict=True) if not no]
        answers = iter(call(kept) if kept else [])
        return [self.refusal if no else next(answers) for no in refused]


class RefusingPublisher(RefusingPort[EventPublisher, EventEntry]):
    """An ``EventPublisher`` around the real one, refusing the events of chosen requests."""

    def publish(self, entries: Sequence[EventEntry], *, deadline: float) -> list[str | None]:
        return self.refuse_in_place(entries, lambda kept: self.inner.publish(kept, deadline=deadline))
