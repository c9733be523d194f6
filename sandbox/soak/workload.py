"""The soak's requests and the fate it arranges for each: at the fake payments API (by client token) and at
the worker's own ports (events refused by ``userId``, dead letters refused by body).

The fates are :class:`Fate`'s members; a :class:`Mix` says which a scenario draws and how often; the standard
one is :data:`STANDARD_MIX`.
"""

from __future__ import annotations

import json
import math
import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Any, Final

from sandbox.agentcore import PaymentsApiServer
from sandbox.demo.fair_tenants import NOISY as NOISY_TENANT
from sandbox.demo.load import FOREIGN_MANAGER, POISON_KINDS, poison_body, random_request
from sandbox.soak.injection import FaultyPorts, require_probability
from sandbox.worker_code import first_delivery_token

SHORT_REQUESTS: Final = 100  # the standard soak in make test
FINAL_CODES: Final = ("ValidationException", "ConflictException", "ServiceQuotaExceededException")
TRANSIENT_CODES: Final = ("ThrottlingException", "InternalServerException")


class Fate(Enum):
    """What the soak arranges for a request. A request of a fate with ``codes`` draws one of them (the API's
    error code; a poison body's kind). ``dead_lettered``: the worker dead-letters the request, so the DLQ may
    refuse its letter (:attr:`Mix.refuse_dead_letters`).

    A :class:`Mix` draws the fates in :data:`DRAWN_FATES`, in this order; plain is the rest of its requests,
    and poison is drawn apart (``build_requests``' ``poison_share``).
    """

    PLAIN = "plain", (), False
    FINAL = "final", FINAL_CODES, False  # the API answers every call with a final error
    EXHAUSTED = "exhausted", TRANSIENT_CODES, True  # a retryable error on every attempt until dead-lettered
    SLOW = "slow", (), False  # answers slower than the client's timeout, on one or two calls
    SLOW_EVERY_ATTEMPT = "slow-every-attempt", (), False  # the same on every attempt of a receive
    UNPUBLISHED = "unpublished", (), True  # the session is created, every event refused until the cause is fixed
    POISON = "poison", POISON_KINDS, True

    def __init__(self, label: str, codes: tuple[str, ...], dead_lettered: bool) -> None:
        self.label = label
        self.codes = codes
        self.dead_lettered = dead_lettered


DRAWN_FATES: Final = tuple(fate for fate in Fate if fate not in (Fate.PLAIN, Fate.POISON))


@dataclass(slots=True)
class Request:
    """One request of the soak and what the soak arranged for it."""

    index: int
    body: str
    fate: Fate
    code: str = ""  # the one of the fate's codes it drew ("" for a fate without codes)
    body_token: str | None = None
    user_id: str = ""
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)
    message_id: str = ""  # the first message ID (a redrive gives new ones)
    dead_letter_refusals: int | None = 0  # sends of its dead letter the DLQ refuses; None: every one (phase 1)
    group: str | None = None  # MessageGroupId: a FIFO queue's group, or a fair queue's tenant

    @property
    def poison(self) -> bool:
        return self.fate is Fate.POISON

    @property
    def token(self) -> str:
        """The client token every API call of this request carries (CONTRACT section 2)."""
        return self.body_token or first_delivery_token(self.body, self.message_id).value


@dataclass(frozen=True, slots=True)
class Mix:
    """The fates of a scenario's valid requests, as shares by fate (the rest is plain), and the DLQ's refusals.

    ``shares``: each a fate of :data:`DRAWN_FATES`, between 0 and 1, adding up to at most 1.
    ``refuse_dead_letters``: the share of the requests of a ``dead_lettered`` fate whose letter the DLQ
    refuses; of those, ``refuse_always`` on every send (until fixed: SQS's redrive policy moves them), the
    others on 1 to 3 sends (the worker's own send gets through on a backstop receive).
    """

    shares: Mapping[Fate, float] = field(default_factory=dict)
    refuse_dead_letters: float = 0.0
    refuse_always: float = 1.0

    def __post_init__(self) -> None:
        for fate, share in self.shares.items():
            if fate not in DRAWN_FATES:
                what = fate.label if isinstance(fate, Fate) else repr(fate)
                raise ValueError(
                    f"a mix's shares are by fate, of {', '.join(f.label for f in DRAWN_FATES)}: not {what}"
                )
            require_probability(f"the share of {fate.label}", share)
        total = math.fsum(self.shares.values())
        if total > 1.0:
            raise ValueError(f"the shares of a mix must add up to at most 1, not {total!r}")
        require_probability("refuse_dead_letters", self.refuse_dead_letters)
        require_probability("refuse_always", self.refuse_always)
        object.__setattr__(self, "shares", MappingProxyType(dict(self.shares)))

    def fate(self, rng: random.Random) -> tuple[Fate, str]:
        """A valid request's fate and its code, drawn from ``rng``."""
        roll = rng.random()
        for fate in DRAWN_FATES:
            share = self.shares.get(fate, 0.0)
            if roll < share:
                return fate, rng.choice(fate.codes) if fate.codes else ""
            roll -= share
        return Fate.PLAIN, ""

    def refusals(self, rng: random.Random) -> int | None:
        if not self.refuse_dead_letters or rng.random() >= self.refuse_dead_letters:
            return 0
        return None if rng.random() < self.refuse_always else rng.randint(1, 3)


STANDARD_MIX: Final = Mix({Fate.FINAL: 0.03, Fate.EXHAUSTED: 0.04, Fate.SLOW: 0.05, Fate.SLOW_EVERY_ATTEMPT: 0.02})


def _body_token(seed: int, index: int, rng: random.Random) -> str:
    return f"soak-{seed}-{index:06d}-{rng.getrandbits(96):024x}"


def _poison(index: int, seed: int, rng: random.Random, foreign_manager: str, own_source: str) -> Request:
    marker = f"poison-{index:06d}-{rng.getrandbits(32):08x}"
    token = _body_token(seed, index, rng)
    base: dict[str, Any] = {"expiryTimeInMinutes": 60, "userId": marker, "clientToken": token}
    kind = rng.choice(Fate.POISON.codes)
    body = poison_body(kind, base, own_source=own_source, foreign_manager=foreign_manager)
    return Request(index, body, Fate.POISON, kind, token, marker)


def _valid(index: int, seed: int, rng: random.Random, mix: Mix) -> Request:
    user_id = f"soak-user-{index:06d}"
    request = random_request(rng, correlation_id=f"soak-{index:06d}", user_id=user_id)
    fate, code = mix.fate(rng)
    # A final error is scripted by a body token, before the request is sent, so that it always applies.
    token = _body_token(seed, index, rng) if fate is Fate.FINAL or rng.random() < 0.4 else None
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
    return Request(index, body, fate, code, token, user_id, attributes)


def build_requests(
    count: int,
    seed: int,
    *,
    poison_share: float,
    own_source: str,
    mix: Mix = STANDARD_MIX,
    groups: int = 0,
    tenants: int = 0,
    noisy_share: float = 0.0,
    foreign_manager: str = FOREIGN_MANAGER,
) -> list[Request]:
    """``count`` requests, about ``poison_share`` of them poison; the rest valid with fates drawn from ``mix``.

    With ``groups``, each request belongs to one of that many message groups (FIFO), drawn at random so that
    the groups interleave in the queue and in each batch. With ``tenants`` (a fair queue), each belongs to one
    of that many tenants: ``NOISY_TENANT`` sends about ``noisy_share`` of them, the others share the rest.
    """
    rng = random.Random(seed)
    requests = [
        _poison(n, seed, rng, foreign_manager, own_source) if rng.random() < poison_share else _valid(n, seed, rng, mix)
        for n in range(count)
    ]
    extra = random.Random(seed + 1)  # drawn apart, so that a mix without refusals or groups draws as before
    for request in requests:
        if request.fate.dead_lettered:
            request.dead_letter_refusals = mix.refusals(extra)
        if groups:
            request.group = f"group-{extra.randrange(groups):03d}"
        elif tenants:
            noisy = tenants == 1 or extra.random() < noisy_share
            request.group = NOISY_TENANT if noisy else f"tenant-{extra.randrange(1, tenants):02d}"  # quiet ones
    return requests


_VALIDATION_MEMBERS: Final = {"reason": "FieldValidationFailed", "fieldList": [{"name": "userId", "message": "soak"}]}


def script_fates(
    api: PaymentsApiServer,
    wiring: FaultyPorts,
    requests: Sequence[Request],
    *,
    worker_receives: int,
    queue_receives: int,
    attempts_per_receive: int,
    slow_ms: float,
) -> None:
    """Script each request's fate: at the fake API by its client token, at the worker's ports by request.

    An exhausted request fails every attempt until it is dead-lettered: by the worker on its receive
    ``worker_receives`` (``MAX_RECEIVE_COUNT``), or later when the DLQ refuses its letter (at most until SQS's
    redrive policy moves it after ``queue_receives``).
    """
    for request in requests:
        refusals = request.dead_letter_refusals
        failing_receives = queue_receives if refusals is None else min(queue_receives, worker_receives + refusals)
        match request.fate:
            case Fate.FINAL:
                members = _VALIDATION_MEMBERS if request.code == "ValidationException" else None
                api.fail_next(request.code, times=1_000, client_token=request.token, members=members)
            case Fate.EXHAUSTED:
                api.fail_next(request.code, times=attempts_per_receive * failing_receives, client_token=request.token)
            case Fate.SLOW:
                api.delay_next(slow_ms, times=1 + request.index % 2, client_token=request.token)
            case Fate.SLOW_EVERY_ATTEMPT:
                api.delay_next(slow_ms, times=attempts_per_receive, client_token=request.token)
            case Fate.UNPUBLISHED:
                wiring.publisher.refusals.script(request.user_id, None)
        if request.dead_letter_refusals != 0:
            wiring.dead_letters.refusals.script(request.body, request.dead_letter_refusals)
