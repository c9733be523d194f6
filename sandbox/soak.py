"""Soak: thousands of requests through the sandbox, faults at every boundary, then the invariants.

``python -m sandbox.soak`` (``make soak``): ``--requests N`` (default 2000), ``--pollers K`` (default 4,
concurrent "Lambda instances"), ``--seed S``, ``--short`` (150 requests: the version ``make test`` runs).

The sandbox is the real one: moto in server mode, ``template.yaml`` deployed into it (with a 3 s visibility
timeout and a 10 s function timeout, so that retries take seconds), the local SQS event source running the
real handler, the fake payments API over HTTP, and an EventBridge tap. Faults, and how they are injected:

* payments API: random throttling (429) and 5xx (the fake's seeded ``throttle_rate``/``error_rate``); per
  request, scripted by client token: answers slower than the client's read timeout (``delay_next``, some on
  every attempt, so the session is created while the worker has given up), final errors, and throttling or
  5xx on every attempt of every receive until the worker dead-letters it;
* the worker's own ports, by composition (:func:`wire`): ``PutEvents`` failing as a whole call, per entry,
  or with its answer lost after the events went out; the DLQ send failing the same three ways;
* invocations, by wrapping the handler (:class:`InvocationFaults`): a short deadline in the context for
  some (records are cut off mid-batch), and some lost after the handler returned (Lambda hands the whole
  batch back, as when an invocation dies after its work);
* duplicate deliveries: the visibility timeout (3 s) is shorter than the slowest invocations;
* a DLQ redrive back to the request queue (:func:`redrive`): new message IDs, attributes kept; a message the
  queue's own redrive policy moved (no ``ClientToken`` attribute) gets the token the worker derived from its
  message ID, which SQS keeps when it moves a message. One round runs under faults, then the cause is
  "fixed" (faults off) and the DLQ is redriven until only poison is left;
* poison bodies mixed in (malformed JSON, unknown fields, wrong types, a foreign payment manager, the
  worker's own events, broken envelopes).

The worker runs on :func:`wire` (``dependencies.build`` with the faulty ports), with a payments client
whose read timeout is 1 s (production: 10 s), so that "slower than the client timeout" costs 1.5 s.

Invariants checked at the end (exit status 1 when one fails): every request accounted for (created, failed
or dead-lettered; the request queue drained, nothing in flight); one session per request and per client
token at the API; no poison at the API (every call carries a valid request's token, no session carries a
poison body's data); every created session announced at least once.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import IO, Any, Final, TypeVar

from adapters.clients import ClientSettings
from domain.dead_letter import DeadLetter, LetterAttribute
from domain.errors import PoisonCode
from domain.events import EventEntry
from domain.ports import DeadLetterSender, EventPublisher
from domain.tokens import derive_token
from handlers import dependencies
from handlers.dependencies import Dependencies
from handlers.settings import Settings, load_settings
from sandbox.aws import MotoServer, client
from sandbox.demo import OutgoingMessage, send_messages
from sandbox.event_source import Handler, Invocation, SqsEventSource
from sandbox.payments_api import PaymentsApiServer
from sandbox.stack import Tuning, deploy_stack
from sandbox.tap import EventTap

INJECTED: Final = "injected by the soak"
POISON_CODES: Final = frozenset(code.value for code in PoisonCode)
SHORT_REQUESTS: Final = 150
MAX_ATTRIBUTES: Final = 10

T = TypeVar("T")


# ---------------------------------------------------------------------------------------------------------
# Faults at the worker's own boundaries (the ports), by composition
# ---------------------------------------------------------------------------------------------------------


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
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {value!r}")
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


class FaultyPublisher:
    """An ``EventPublisher`` around the real one: ``PutEvents`` failing as a whole, per entry, or its answer lost."""

    def __init__(self, inner: EventPublisher, injector: FaultInjector) -> None:
        self.inner = inner
        self.injector = injector

    def publish(self, entries: Sequence[EventEntry], *, deadline: float) -> list[str | None]:
        return self.injector.run(entries, lambda kept: self.inner.publish(kept, deadline=deadline), "PutEvents failed")


class FaultyDeadLetters:
    """A ``DeadLetterSender`` around the real one: the send to the DLQ failing as a whole, per message, or lost."""

    def __init__(self, inner: DeadLetterSender, injector: FaultInjector) -> None:
        self.inner = inner
        self.injector = injector

    def send(self, letters: Sequence[DeadLetter], *, deadline: float) -> list[str | None]:
        return self.injector.run(
            letters, lambda kept: self.inner.send(kept, deadline=deadline), "send to the DLQ failed"
        )


@dataclass(frozen=True, slots=True)
class Wiring:
    """The worker's dependencies as the soak (or the fuzz tests) build them, with the faulty ports."""

    dependencies: Dependencies
    publisher: FaultyPublisher
    dead_letters: FaultyDeadLetters


def wire(
    settings: Settings,
    *,
    payments_client: ClientSettings,
    seed: int | None = None,
) -> Wiring:
    """``handlers.dependencies.build`` with a chosen payments client and faulty publisher and DLQ sender.

    Faults start off: set ``publisher.injector.faults`` and ``dead_letters.injector.faults``. The pools are
    ``MAX_CONCURRENCY`` large, as in ``build``: the sandbox's event source already multiplies that variable by
    its pollers, which all share this one wiring.
    """
    rng = random.Random(seed)
    injectors = (FaultInjector(rng=random.Random(rng.random())), FaultInjector(rng=random.Random(rng.random())))
    wrapped: dict[str, Any] = {}

    def faulty_publisher(publisher: EventPublisher) -> EventPublisher:
        wrapped["publisher"] = FaultyPublisher(publisher, injectors[0])
        return wrapped["publisher"]  # type: ignore[no-any-return]

    def faulty_dead_letters(sender: DeadLetterSender) -> DeadLetterSender:
        wrapped["dead_letters"] = FaultyDeadLetters(sender, injectors[1])
        return wrapped["dead_letters"]  # type: ignore[no-any-return]

    wiring = dependencies.build(
        settings,
        payments_client=payments_client,
        wrap_publisher=faulty_publisher,
        wrap_dead_letters=faulty_dead_letters,
    )
    return Wiring(wiring, wrapped["publisher"], wrapped["dead_letters"])


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
    """A handler around the real one: a short deadline for some invocations, some lost after their work.

    Invocations wait for :meth:`open` first, so none runs before the soak's own wiring is in place.
    """

    def __init__(
        self, handler: Callable[[], Handler], *, short_deadline: float, lost: float, rng: random.Random
    ) -> None:
        self._handler = handler
        self.short_deadline = short_deadline
        self.lost = lost
        self.counts = InvocationFaultCounts()
        self._rng = rng
        self._lock = threading.Lock()
        self._open = threading.Event()

    def open(self) -> None:
        self._open.set()

    def off(self) -> None:
        """The cause is fixed: no more injected faults."""
        with self._lock:
            self.short_deadline = self.lost = 0.0

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        if not self._open.wait(timeout=120):
            raise RuntimeError("the soak's wiring was never put in place")
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


# ---------------------------------------------------------------------------------------------------------
# Requests
# ---------------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Request:
    """One request of the soak and what the soak arranged for it."""

    index: int
    poison: bool
    body: str
    fate: str  # plain | slow | slow-every-attempt | final:<code> | exhausted:<code> | poison:<kind>
    body_token: str | None = None
    user_id: str = ""
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)
    message_id: str = ""  # the first message ID (a redrive gives new ones)

    @property
    def token(self) -> str:
        """The client token every API call of this request carries (CONTRACT section 2)."""
        return self.body_token or derive_token(self.message_id)


def _body_token(seed: int, index: int, rng: random.Random) -> str:
    return f"soak-{seed}-{index:06d}-{rng.getrandbits(96):024x}"


def _poison(index: int, seed: int, rng: random.Random, foreign_manager: str, own_source: str) -> Request:
    marker = f"poison-{index:06d}-{rng.getrandbits(32):08x}"
    token = _body_token(seed, index, rng)
    base: dict[str, Any] = {"expiryTimeInMinutes": 60, "userId": marker, "clientToken": token}
    kind = rng.choice(
        ["malformed", "unknown-field", "wrong-type", "bad-amount", "foreign-manager", "event-loop", "control", "sns"]
    )
    if kind == "malformed":
        body = json.dumps(base)[:-7]
    elif kind == "unknown-field":
        body = json.dumps({**base, "limit": {"maxSpendAmount": {"value": "25", "currency": "USD"}}})
    elif kind == "wrong-type":
        body = json.dumps({**base, "expiryTimeInMinutes": "60"})
    elif kind == "bad-amount":
        body = json.dumps({**base, "limits": {"maxSpendAmount": {"value": "1e3", "currency": "USD"}}})
    elif kind == "foreign-manager":
        body = json.dumps({**base, "paymentManagerArn": foreign_manager})
    elif kind == "event-loop":
        body = json.dumps(
            {"version": "0", "source": own_source, "detail-type": "PaymentSessionCreated", "detail": base}
        )
    elif kind == "control":
        body = json.dumps({**base, "userId": marker + "\u0007"})
    else:
        body = json.dumps({"Type": "Notification", "Message": "{" + json.dumps(base)})
    return Request(index, True, body, f"poison:{kind}", token, marker)


def _valid(index: int, seed: int, rng: random.Random) -> Request:
    user_id = f"soak-user-{index:06d}"
    request: dict[str, Any] = {
        "expiryTimeInMinutes": rng.randint(15, 480),
        "userId": user_id,
        "correlationId": f"soak-{index:06d}",
    }
    if rng.random() < 0.5:
        request["agentName"] = rng.choice(["checkout-agent", "travel-agent", "groceries-agent"])
    if rng.random() < 0.6:
        request["limits"] = {
            "maxSpendAmount": {"value": f"{rng.randint(1, 500)}.{rng.randint(0, 99):02d}", "currency": "USD"}
        }
    roll = rng.random()
    if roll < 0.03:
        fate = "final:" + rng.choice(["ValidationException", "ConflictException", "ServiceQuotaExceededException"])
    elif roll < 0.07:
        fate = "exhausted:" + rng.choice(["ThrottlingException", "InternalServerException"])
    elif roll < 0.12:
        fate = "slow"
    elif roll < 0.14:
        fate = "slow-every-attempt"
    else:
        fate = "plain"
    # A final error is scripted by a body token, before the request is sent, so that it always applies.
    token = _body_token(seed, index, rng) if fate.startswith("final:") or rng.random() < 0.4 else None
    if token is not None:
        request["clientToken"] = token
    body = json.dumps(request)
    wrap = rng.random()
    if wrap < 0.05:
        body = json.dumps(
            {"Type": "Notification", "MessageId": str(uuid.UUID(int=rng.getrandbits(128))), "Message": body}
        )
    elif wrap < 0.10:
        body = json.dumps(
            {"version": "0", "source": "orders.checkout", "detail-type": "PaymentSessionRequested", "detail": request}
        )
    attributes: dict[str, dict[str, Any]] = {}
    if rng.random() < 0.2:
        attributes["Producer"] = {"DataType": "String", "StringValue": "soak"}
    return Request(index, False, body, fate, token, user_id, attributes)


def build_requests(
    count: int, seed: int, *, poison_share: float, foreign_manager: str, own_source: str
) -> list[Request]:
    """``count`` requests, about ``poison_share`` of them poison; the rest valid with their scripted fates."""
    rng = random.Random(seed)
    return [
        _poison(n, seed, rng, foreign_manager, own_source) if rng.random() < poison_share else _valid(n, seed, rng)
        for n in range(count)
    ]


_VALIDATION_MEMBERS: Final = {"reason": "FieldValidationFailed", "fieldList": [{"name": "userId", "message": "soak"}]}


def script_fates(
    api: PaymentsApiServer, requests: Sequence[Request], *, max_receive_count: int, slow_ms: float
) -> None:
    """Script each request's fate at the fake API, by its client token."""
    attempts_per_receive = 3
    for request in requests:
        kind, _, code = request.fate.partition(":")
        if kind == "final":
            members = _VALIDATION_MEMBERS if code == "ValidationException" else None
            api.fail_next(code, times=1_000, client_token=request.token, members=members)
        elif kind == "exhausted":
            api.fail_next(code, times=attempts_per_receive * max_receive_count, client_token=request.token)
        elif kind == "slow":
            api.delay_next(slow_ms, times=1 + request.index % 2, client_token=request.token)
        elif kind == "slow-every-attempt":
            api.delay_next(slow_ms, times=attempts_per_receive, client_token=request.token)


# ---------------------------------------------------------------------------------------------------------
# Redrive
# ---------------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class RedriveRound:
    """One redrive: messages moved back to the request queue, tokens stamped, poison left out."""

    moved: int = 0
    stamped: int = 0
    poison: list[dict[str, Any]] = field(default_factory=list)


def _send_form(attributes: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        name: {k: v for k, v in value.items() if k in ("DataType", "StringValue", "BinaryValue")}
        for name, value in attributes.items()
    }


def redrive(sqs: Any, *, dead_letter_queue_url: str, queue_url: str, keep_poison: bool = True) -> RedriveRound:
    """Move every DLQ message back to ``queue_url`` with its attributes (new message IDs), as a redrive does.

    Poison (``ErrorCode`` of a poison kind) stays out when ``keep_poison``: it needs its producer fixed. A
    message without a ``ClientToken`` attribute was moved by the queue's redrive policy, which keeps the
    message ID: it gets ``ClientToken`` = the token the worker derived from that ID (a body token, when
    there is one, still comes first). Each message is sent before it is deleted, so a crash in between only
    duplicates it, under the same token.
    """
    round_ = RedriveRound()
    while True:
        received = sqs.receive_message(
            QueueUrl=dead_letter_queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            VisibilityTimeout=120,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not received:
            return round_
        moving: list[OutgoingMessage] = []
        for message in received:
            attributes = _send_form(message.get("MessageAttributes") or {})
            code = (attributes.get("ErrorCode") or {}).get("StringValue")
            if keep_poison and code in POISON_CODES:
                round_.poison.append(message)
                continue
            if LetterAttribute.CLIENT_TOKEN not in attributes:
                if len(attributes) >= MAX_ATTRIBUTES:
                    attributes.pop(next(reversed(attributes)))
                attributes[LetterAttribute.CLIENT_TOKEN] = {
                    "DataType": "String",
                    "StringValue": derive_token(message["MessageId"]),
                }
                round_.stamped += 1
            moving.append(OutgoingMessage(message["Body"], attributes))
        send_messages(sqs, queue_url, moving)
        round_.moved += len(moving)
        sqs.delete_message_batch(
            QueueUrl=dead_letter_queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)],
        )


def read_queue(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Every message of ``queue_url``, deleted as read."""
    read: list[dict[str, Any]] = []
    while True:
        received = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, MessageAttributeNames=["All"]
        ).get("Messages", [])
        if not received:
            return read
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)],
        )
        read += received


# ---------------------------------------------------------------------------------------------------------
# Accounting
# ---------------------------------------------------------------------------------------------------------


@dataclass
class SoakReport:
    """The figures of a soak and its invariants."""

    command: str
    requests: int
    poison: int
    pollers: int
    seed: int
    fates: Counter[str]  # what the soak arranged, by kind (plain, slow, final, exhausted, poison, ...)
    outcomes: Counter[str]
    lost: list[int]
    double_sessions: int
    poison_at_api: int
    unannounced: int
    queue_left: dict[str, int]
    api_calls: int
    api_faults: dict[str, int]
    scripted_delays: int
    sessions: int
    idempotent_replays: int
    deliveries: int
    handed_back: int
    whole_batches_handed_back: int
    invocations: int
    events: int
    duplicate_announcements: int
    redriven: int
    stamped: int
    redrive_rounds: int
    publisher: FaultCounts
    dead_letter_sends: FaultCounts
    invocation_faults: InvocationFaultCounts
    duration: float
    notes: list[str] = field(default_factory=list)  # phases that did not finish in time

    @property
    def failures(self) -> list[str]:
        """Each broken invariant, in words."""
        broken = list(self.notes)  # a phase that did not finish in time
        if self.lost:
            broken.append(f"{len(self.lost)} requests lost (e.g. #{', #'.join(map(str, self.lost[:5]))})")
        if any(self.queue_left.values()):
            broken.append(f"the request queue is not drained: {self.queue_left}")
        if self.double_sessions:
            broken.append(f"{self.double_sessions} double sessions")
        if self.poison_at_api:
            broken.append(f"{self.poison_at_api} API calls or sessions carry poison or an unknown token")
        if self.unannounced:
            broken.append(f"{self.unannounced} created sessions never announced")
        return broken

    @property
    def ok(self) -> bool:
        return not self.failures

    def table(self) -> str:
        faults = self.api_faults
        rows = [
            ("requests", f"{self.requests} ({self.requests - self.poison} valid, {self.poison} poison)"),
            ("pollers (Lambda instances)", str(self.pollers)),
            ("API calls", f"{self.api_calls} ({self.idempotent_replays} idempotent replays)"),
            ("retries (records handed back to SQS)", str(self.handed_back)),
            ("deliveries (receives of a record)", f"{self.deliveries} in {self.invocations} invocations"),
            (
                "redriven from the DLQ",
                f"{self.redriven} in {self.redrive_rounds} rounds ({self.stamped} token-stamped)",
            ),
            ("created", str(self.outcomes["created"])),
            ("failed", str(self.outcomes["failed"])),
            ("dead-lettered", str(self.outcomes["dead-lettered"])),
            ("lost (must be 0)", str(len(self.lost))),
            ("double sessions (must be 0)", str(self.double_sessions)),
            ("poison or unknown tokens at the API (must be 0)", str(self.poison_at_api)),
            ("created sessions never announced (must be 0)", str(self.unannounced)),
            ("events published (duplicate announcements)", f"{self.events} ({self.duplicate_announcements})"),
            (
                "faults: API",
                f"{faults.get('ThrottlingException', 0)} throttled, {faults.get('InternalServerException', 0)} 5xx, "
                f"{sum(v for k, v in faults.items() if k not in ('ThrottlingException', 'InternalServerException'))} "
                f"final, {self.scripted_delays} slower than the client timeout",
            ),
            (
                "faults: PutEvents",
                f"{self.publisher.failed_calls} whole calls, {self.publisher.failed_entries} entries, "
                f"{self.publisher.lost_answers} answers lost (of {self.publisher.calls} calls)",
            ),
            (
                "faults: DLQ send",
                f"{self.dead_letter_sends.failed_calls} whole calls, {self.dead_letter_sends.failed_entries} "
                f"messages, {self.dead_letter_sends.lost_answers} answers lost "
                f"(of {self.dead_letter_sends.calls} calls)",
            ),
            (
                "faults: invocations",
                f"{self.invocation_faults.short_deadlines} short deadlines, "
                f"{self.invocation_faults.lost_after_work} lost after their work, "
                f"{self.whole_batches_handed_back} whole batches handed back",
            ),
            ("duration", f"{self.duration:.0f} s"),
        ]
        width = max(len(name) for name, _ in rows)
        lines = [f"| {'figure'.ljust(width)} | value |", f"|{'-' * (width + 2)}|-------|"]
        lines += [f"| {name.ljust(width)} | {value} |" for name, value in rows]
        return "\n".join(lines)


def account_requests(
    requests: Sequence[Request],
    *,
    sessions: Sequence[Mapping[str, Any]],
    calls_by_token: Mapping[str, int],
    events: Sequence[Mapping[str, Any]],
    dead_letters: Sequence[Mapping[str, Any]],
) -> tuple[Counter[str], list[int], int, int, int, int]:
    """(outcomes, lost request indexes, double sessions, poison at the API, unannounced, duplicate announcements)."""
    valid_tokens = {r.token for r in requests if not r.poison}
    sessions_by_token: dict[str, list[Mapping[str, Any]]] = {}
    sessions_by_user: Counter[str] = Counter()
    for session in sessions:
        sessions_by_token.setdefault(str(session["client_token"]), []).append(session)
        sessions_by_user[str(session["request"].get("userId", ""))] += 1
    created_ids: Counter[str] = Counter()
    final_failures: set[str] = set()
    announced_tokens: Counter[str] = Counter()
    for event in events:
        detail = event["detail"]
        if event["detail-type"] == "PaymentSessionCreated":
            created_ids[detail["paymentSession"]["paymentSessionId"]] += 1
            announced_tokens[detail["clientToken"]] += 1
        elif detail["error"]["retryable"] is False:
            final_failures.add(detail["clientToken"])
    dead_bodies = {str(m["Body"]) for m in dead_letters}

    outcomes: Counter[str] = Counter()
    lost: list[int] = []
    for request in requests:
        if request.token in sessions_by_token:
            outcomes["created"] += 1
        elif request.token in final_failures:
            outcomes["failed"] += 1
        elif request.body in dead_bodies:
            outcomes["dead-lettered"] += 1
        else:
            lost.append(request.index)

    double = sum(n - 1 for n in sessions_by_user.values() if n > 1)
    double += sum(len(found) - 1 for found in sessions_by_token.values() if len(found) > 1)
    poison_at_api = sum(1 for token in calls_by_token if token not in valid_tokens)
    poison_at_api += sum(1 for s in sessions if str(s["request"].get("userId", "")).startswith("poison-"))
    unannounced = sum(1 for s in sessions if created_ids[s["payment_session_id"]] == 0)
    duplicates = sum(n - 1 for n in announced_tokens.values() if n > 1)
    return outcomes, lost, double, poison_at_api, unannounced, duplicates


# ---------------------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------------------


# A 1 s read timeout (production: 10 s), so an answer slower than the client timeout costs 1.5 s, not 15.
SOAK_PAYMENTS_CLIENT: Final = ClientSettings(connect_timeout=1.0, read_timeout=1.0, total_max_attempts=3)
PUBLISHER_FAULTS: Final = CallFaults(fail_call=0.03, fail_entry=0.03, lose_answer=0.02)
DEAD_LETTER_FAULTS: Final = CallFaults(fail_call=0.1, fail_entry=0.05, lose_answer=0.03)


@dataclass(frozen=True)
class SoakOptions:
    """Knobs of :func:`run_soak`. The defaults are ``make soak``; :meth:`short` is the ``make test`` one."""

    requests: int = 2_000
    pollers: int = 4
    seed: int = 20261126
    poison_share: float = 0.05
    visibility_timeout: int = 3
    function_timeout: int = 10
    payments_client: ClientSettings = SOAK_PAYMENTS_CLIENT
    slow_answer_ms: float = 1_500
    throttle_rate: float = 0.05
    error_rate: float = 0.05
    publisher_faults: CallFaults = PUBLISHER_FAULTS
    dead_letter_faults: CallFaults = DEAD_LETTER_FAULTS
    short_deadline_rate: float = 0.08
    lost_invocation_rate: float = 0.02
    max_redrive_rounds: int = 6
    max_backlog: int = 100
    phase_timeout: float = 480.0
    stack_name: str = "payment-session-worker-soak"
    function_log: str | None = None

    @classmethod
    def short(cls, seed: int = 20261126, **changes: Any) -> SoakOptions:
        """The version in ``make test``: 150 requests, denser faults (so each kind fires), a 2 s visibility timeout."""
        dense = {
            "requests": SHORT_REQUESTS,
            "seed": seed,
            "visibility_timeout": 2,
            "poison_share": 0.08,
            "publisher_faults": CallFaults(fail_call=0.05, fail_entry=0.05, lose_answer=0.05),
            "dead_letter_faults": CallFaults(fail_call=0.15, fail_entry=0.1, lose_answer=0.1),
            "lost_invocation_rate": 0.08,
            "phase_timeout": 90.0,
        }
        return cls(**{**dense, **changes})

    def command(self) -> str:
        if self.requests == SHORT_REQUESTS and self.visibility_timeout == 2:
            return f"python -m sandbox.soak --short --pollers {self.pollers} --seed {self.seed}"
        return f"python -m sandbox.soak --requests {self.requests} --pollers {self.pollers} --seed {self.seed}"


FOREIGN_MANAGER: Final = "arn:aws:bedrock-agentcore:us-east-1:123456789012:payment-manager/foreign-manager-z0y9x8w7v6"


@contextmanager
def _function_output(path: str | None) -> Iterator[IO[str]]:
    with open(path or os.devnull, "a", encoding="utf-8") as sink:
        yield sink


class _Watch:
    """Progress and the tap, while waiting: the tap is read as the run goes (moto's receives slow down as a
    queue grows, so no queue is left to fill up), and a line of progress is printed every 10 s."""

    def __init__(self, source: SqsEventSource, tap: EventTap, out: IO[str]) -> None:
        self.source = source
        self.tap = tap
        self.out = out
        self._last_print = time.monotonic()

    def tick(self, label: str) -> None:
        self.tap.read()
        if time.monotonic() - self._last_print >= 10.0:
            self._last_print = time.monotonic()
            depth = self.source.queue_depth()
            self.out.write(
                f"  {label}: {len(self.source.invocations)} invocations, {len(self.tap.events)} events, "
                f"queue {depth['visible']} visible {depth['in_flight']} in flight\n"
            )
            self.out.flush()

    def drain(self, timeout: float, label: str) -> bool:
        """Wait until the request queue is drained and no invocation runs; whether it was, within ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.source.wait_until_drained(timeout=min(2.0, max(0.0, deadline - time.monotonic()))):
                self.tap.read()
                return True
            self.tick(label)
        return False


def feed(
    watch: _Watch,
    sqs: Any,
    queue_url: str,
    api: PaymentsApiServer,
    requests: Sequence[Request],
    *,
    max_backlog: int,
    max_receive_count: int,
    slow_ms: float,
    timeout: float,
) -> bool:
    """Send the requests by tens while the queue's backlog is under ``max_backlog``, scripting their fates.

    A fate keyed by a body token is scripted before its request is sent; one keyed by a derived token only
    after (the token needs the message ID), so a poller may rarely receive the request first. Returns
    whether every request was sent; ``False`` when the backlog stayed full for ``timeout`` seconds.
    """
    for start in range(0, len(requests), 10):
        stuck_until = time.monotonic() + timeout
        while watch.source.queue_depth()["visible"] >= max_backlog:
            if time.monotonic() > stuck_until:
                return False
            watch.tick("sending")
            time.sleep(0.2)
        chunk = requests[start : start + 10]
        script_fates(api, [r for r in chunk if r.body_token], max_receive_count=max_receive_count, slow_ms=slow_ms)
        ids = send_messages(sqs, queue_url, [OutgoingMessage(r.body, r.attributes) for r in chunk])
        for request, message_id in zip(chunk, ids, strict=True):
            request.message_id = message_id
        script_fates(api, [r for r in chunk if not r.body_token], max_receive_count=max_receive_count, slow_ms=slow_ms)
        watch.tick("sending")
    return True


def run_soak(options: SoakOptions, out: IO[str] | None = None, *, aws_endpoint: str | None = None) -> SoakReport:
    """Run the soak; ``aws_endpoint`` reuses a running moto (a stack of its own is deployed into it)."""
    out = out or sys.stdout
    started = time.monotonic()
    rng = random.Random(options.seed)
    notes: list[str] = []
    with ExitStack() as stack:
        endpoint = aws_endpoint or stack.enter_context(MotoServer()).endpoint_url
        api = stack.enter_context(
            PaymentsApiServer(throttle_rate=options.throttle_rate, error_rate=options.error_rate, seed=options.seed)
        )
        deployed = deploy_stack(
            endpoint,
            stack_name=options.stack_name,
            tuning=Tuning(function_timeout=options.function_timeout, visibility_timeout=options.visibility_timeout),
        )
        redrive_policy = deployed.request_queue.redrive_policy
        max_receive = redrive_policy.max_receive_count if redrive_policy else 5
        out.write(f"soak: {options.command()}; stack deployed at {time.monotonic() - started:.0f} s\n")
        for note in deployed.notes:
            out.write(f"  stack: {note}\n")
        tap = stack.enter_context(EventTap(deployed))
        sqs = client("sqs", endpoint, deployed.region)
        requests = build_requests(
            options.requests,
            options.seed,
            poison_share=options.poison_share,
            foreign_manager=FOREIGN_MANAGER,
            own_source=deployed.event_source_name,
        )

        # The event source, then the soak's wiring (the function's environment is in place once it started).
        faults = InvocationFaults(
            _real_handler,
            short_deadline=options.short_deadline_rate,
            lost=options.lost_invocation_rate,
            rng=random.Random(rng.random()),
        )
        sink = stack.enter_context(_function_output(options.function_log))
        source = SqsEventSource(
            deployed, payments_endpoint=api.endpoint_url, pollers=options.pollers, handler=faults, output=sink
        )
        source.start()
        stack.callback(source.stop)
        wiring = wire(load_settings(), payments_client=options.payments_client, seed=options.seed)
        wiring.publisher.injector.faults = options.publisher_faults
        wiring.dead_letters.injector.faults = options.dead_letter_faults
        dependencies.override(wiring.dependencies)
        faults.open()

        watch = _Watch(source, tap, out)
        sent = feed(
            watch,
            sqs,
            deployed.request_queue.url,
            api,
            requests,
            max_backlog=options.max_backlog,
            max_receive_count=max_receive,
            slow_ms=options.slow_answer_ms,
            timeout=options.phase_timeout,
        )
        if not sent:
            notes.append(f"the workers took no request for {options.phase_timeout:.0f} s: sending stopped")
        drained = sent and watch.drain(options.phase_timeout, "requests")
        out.write(
            f"  requests sent, queue {'drained' if drained else 'NOT drained'} at {time.monotonic() - started:.0f} s\n"
        )
        redriven = stamped = rounds = 0
        poison_letters: list[dict[str, Any]] = []
        for round_number in range(1, options.max_redrive_rounds + 1):
            if not drained:
                break
            if round_number == 2:
                # The operator found and fixed the cause: no more random or injected faults.
                api.set_faults(throttle_rate=0.0, error_rate=0.0)
                wiring.publisher.injector.faults = NO_FAULTS
                wiring.dead_letters.injector.faults = NO_FAULTS
                faults.off()
            moved = redrive(
                sqs,
                dead_letter_queue_url=deployed.dead_letter_queue.url,
                queue_url=deployed.request_queue.url,
            )
            poison_letters += moved.poison
            if not moved.moved:
                break
            rounds += 1
            redriven += moved.moved
            stamped += moved.stamped
            out.write(f"  redrive {round_number}: {moved.moved} messages back ({moved.stamped} token-stamped)\n")
            drained = watch.drain(options.phase_timeout, f"redrive {round_number}")
            out.write(f"  redrive {round_number} drained at {time.monotonic() - started:.0f} s\n")
        if not drained:
            notes.append(f"the request queue did not drain within {options.phase_timeout:.0f} s")
        leftovers = read_queue(sqs, deployed.dead_letter_queue.url)  # rounds exhausted: these stay dead-lettered
        queue_left = source.queue_depth()
        queue_left["invocations running"] = source.in_flight
        events = tap.wait_for(0, timeout=0)
        snapshot = api.snapshot()
        invocations: list[Invocation] = source.invocations

    outcomes, lost, double, poison_at_api, unannounced, duplicates = account_requests(
        requests,
        sessions=snapshot["sessions"],
        calls_by_token=snapshot["calls_by_client_token"],
        events=events,
        dead_letters=poison_letters + leftovers,
    )
    return SoakReport(
        command=options.command(),
        requests=len(requests),
        poison=sum(r.poison for r in requests),
        pollers=options.pollers,
        seed=options.seed,
        fates=Counter(r.fate.partition(":")[0] for r in requests),
        outcomes=outcomes,
        lost=lost,
        double_sessions=double,
        poison_at_api=poison_at_api,
        unannounced=unannounced,
        queue_left=queue_left,
        api_calls=snapshot["calls"],
        api_faults=snapshot["faults"],
        scripted_delays=snapshot["scripted_delays"],
        sessions=snapshot["sessions_created"],
        idempotent_replays=snapshot["idempotent_replays"],
        deliveries=sum(len(i.message_ids) for i in invocations),
        handed_back=sum(len(i.handed_back) for i in invocations),
        whole_batches_handed_back=sum(1 for i in invocations if i.error is not None),
        invocations=len(invocations),
        events=len(events),
        duplicate_announcements=duplicates,
        redriven=redriven,
        stamped=stamped,
        redrive_rounds=rounds,
        publisher=wiring.publisher.injector.counts,
        dead_letter_sends=wiring.dead_letters.injector.counts,
        invocation_faults=faults.counts,
        duration=time.monotonic() - started,
        notes=notes,
    )


def _real_handler() -> Handler:
    from handlers.create_payment_session import lambda_handler

    handler: Handler = lambda_handler
    return handler


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2_000, help="requests to send (default 2000)")
    parser.add_argument("--pollers", type=int, default=4, help="concurrent pollers (default 4)")
    parser.add_argument("--seed", type=int, default=20261126, help="seed of the requests' fates and faults")
    parser.add_argument("--short", action="store_true", help=f"{SHORT_REQUESTS} requests (the make test version)")
    parser.add_argument("--function-log", help="append the worker's JSON logs and metrics here (default: discard)")
    args = parser.parse_args(argv)
    if args.short:
        options = SoakOptions.short(seed=args.seed, pollers=args.pollers, function_log=args.function_log)
    else:
        options = SoakOptions(
            requests=args.requests, pollers=args.pollers, seed=args.seed, function_log=args.function_log
        )
    report = run_soak(options)
    print(report.table())
    if report.ok:
        print("invariants: all hold")
        return 0
    for failure in report.failures:
        print(f"INVARIANT BROKEN: {failure}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
