"""In-memory fakes of the domain's ports (``domain/ports.py``): programmable, thread-safe, observable.

Each fake records what it was asked and answers as the test scripted it, per client token (the API),
per client token of an event (the publisher) or per message ID (the dead-letter sender).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from domain.dead_letter import DeadLetter
from domain.errors import ApiError
from domain.events import EventEntry
from domain.ports import VisibilityChange

# What the fake API does for one call: return this session, raise this exception, or compute the answer.
Answer = Mapping[str, Any] | BaseException | Callable[[Mapping[str, Any]], Mapping[str, Any]]

CREATED_AT = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)


def session_for(params: Mapping[str, Any]) -> dict[str, Any]:
    """The ``paymentSession`` the real API would return for ``params``, timestamps as botocore parses them."""
    session: dict[str, Any] = {
        "paymentSessionId": "payment-session-" + params["clientToken"][-15:].rjust(15, "0"),
        "paymentManagerArn": params["paymentManagerArn"],
        "userId": params.get("userId", ""),
        "expiryTimeInMinutes": params["expiryTimeInMinutes"],
        "createdAt": CREATED_AT,
        "updatedAt": CREATED_AT,
    }
    if "limits" in params:
        session["limits"] = params["limits"]
    return session


class FakePaymentsApi:
    """``PaymentsApi``: answers per client token, counts calls and the peak number in flight.

    ``gate`` runs inside every call while it counts as in flight, so a test can hold calls open.
    """

    def __init__(self, default: Answer = session_for) -> None:
        self.default = default
        self.answers: dict[str, Answer] = {}
        self.calls: list[dict[str, Any]] = []
        self.deadlines: list[float] = []
        self.in_flight = 0
        self.peak_in_flight = 0
        self.gate: Callable[[FakePaymentsApi], None] | None = None
        self.condition = threading.Condition()
        self.sessions: dict[str, Mapping[str, Any]] = {}  # what create_payment_session returned, by session ID
        self.lookups: list[dict[str, Any]] = []
        self.lookup_answers: dict[str, BaseException] = {}  # a scripted failure of get_payment_session, by ID

    def answer(self, client_token: str, answer: Answer) -> None:
        self.answers[client_token] = answer

    def hold_calls_until(self, ready: Callable[[FakePaymentsApi], bool], timeout: float = 5) -> None:
        """Make every call wait, while it counts as in flight, until ``ready(self)`` holds (``timeout`` s at most)."""

        def hold(api: FakePaymentsApi) -> None:
            with api.condition:
                api.condition.wait_for(lambda: ready(api), timeout=timeout)

        self.gate = hold

    def get_payment_session(self, params: Mapping[str, Any], *, deadline: float) -> Mapping[str, Any]:
        """A session this fake created (or a test put in ``sessions``); unknown: ``ResourceNotFoundException``."""
        with self.condition:
            self.lookups.append(dict(params))
        session_id = params["paymentSessionId"]
        failure = self.lookup_answers.get(session_id)
        if failure is not None:
            raise failure
        session = self.sessions.get(session_id)
        if session is None or session["paymentManagerArn"] != params["paymentManagerArn"]:
            raise ApiError("ResourceNotFoundException", "no such payment session", 404)
        return session

    def create_payment_session(self, params: Mapping[str, Any], *, deadline: float) -> Mapping[str, Any]:
        with self.condition:
            self.calls.append(dict(params))
            self.deadlines.append(deadline)
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            self.condition.notify_all()
        try:
            if self.gate is not None:
                self.gate(self)
            answer = self.answers.get(params["clientToken"], self.default)
            if isinstance(answer, BaseException):
                raise answer
            session = answer(params) if callable(answer) else answer
            if isinstance(session.get("paymentSessionId"), str):
                self.sessions[session["paymentSessionId"]] = session
            return session
        finally:
            with self.condition:
                self.in_flight -= 1
                self.condition.notify_all()

    @property
    def called_tokens(self) -> list[str]:
        return [call["clientToken"] for call in self.calls]


T = TypeVar("T")


@dataclass
class _FakeBatchCall(Generic[T]):
    """A port's batch call: keeps every call's items; fails items by their key (``failing``) or the whole call.

    ``whole_call_failure`` is a reason given for every item, or an exception the call raises.
    """

    failing: dict[str, str] = field(default_factory=dict)  # key of an item -> why it failed
    whole_call_failure: str | Exception | None = None
    calls: list[list[T]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def key(self, item: T) -> str:
        raise NotImplementedError

    def _answer(self, items: Sequence[T]) -> list[str | None]:
        with self.lock:
            self.calls.append(list(items))
        if isinstance(self.whole_call_failure, Exception):
            raise self.whole_call_failure
        if self.whole_call_failure is not None:
            return [self.whole_call_failure] * len(items)
        return [self.failing.get(self.key(item)) for item in items]

    @property
    def received(self) -> list[T]:
        """Every item of every call, in order."""
        return [item for call in self.calls for item in call]

    def succeeded(self) -> list[T]:
        """Items the fake reported as done."""
        if self.whole_call_failure is not None:
            return []
        return [item for item in self.received if self.key(item) not in self.failing]


class FakeEventPublisher(_FakeBatchCall[EventEntry]):
    """``EventPublisher``: ``failing`` is keyed by the client token of an entry's detail."""

    def key(self, item: EventEntry) -> str:
        return str(item.detail["clientToken"])

    def publish(self, entries: Sequence[EventEntry], *, deadline: float) -> list[str | None]:
        return self._answer(entries)


class FakeDeadLetterSender(_FakeBatchCall[DeadLetter]):
    """``DeadLetterSender``: ``failing`` is keyed by a letter's source message ID."""

    def key(self, item: DeadLetter) -> str:
        return item.message_id

    def send(self, letters: Sequence[DeadLetter], *, deadline: float) -> list[str | None]:
        return self._answer(letters)


class FakeVisibilitySetter(_FakeBatchCall[VisibilityChange]):
    """``VisibilitySetter``: ``failing`` is keyed by a change's message ID."""

    def key(self, item: VisibilityChange) -> str:
        return item.message_id

    def hide(self, changes: Sequence[VisibilityChange], *, deadline: float) -> list[str | None]:
        return self._answer(changes)


@dataclass
class FakeClock:
    """An injectable ``time.monotonic``: stands still unless a test moves it."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now
