"""The soak's requests and the fate it arranges for each: at the fake payments API (by client token) and at
the worker's own ports (events refused by ``userId``, dead letters refused by body).

A :class:`Mix` says which fates a scenario draws and how often; the standard one is :data:`STANDARD_MIX`.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sandbox.agentcore import PaymentsApiServer
from sandbox.load import FOREIGN_MANAGER, POISON_KINDS, poison_body, random_request
from sandbox.soak.injection import Wiring
from sandbox.worker import derive_token

SHORT_REQUESTS: Final = 100  # the standard soak in make test
FINAL_CODES: Final = ("ValidationException", "ConflictException", "ServiceQuotaExceededException")
TRANSIENT_CODES: Final = ("ThrottlingException", "InternalServerException")


@dataclass(slots=True)
class Request:
    """One request of the soak and what the soak arranged for it."""

    index: int
    poison: bool
    body: str
    # plain | slow | slow-every-attempt | final:<code> | exhausted:<code> | unpublished | poison:<kind>
    fate: str
    body_token: str | None = None
    user_id: str = ""
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)
    message_id: str = ""  # the first message ID (a redrive gives new ones)
    dead_letter_refusals: int | None = 0  # sends of its dead letter the DLQ refuses; None: every one (phase 1)
    group: str | None = None  # MessageGroupId, on a FIFO queue

    @property
    def token(self) -> str:
        """The client token every API call of this request carries (CONTRACT section 2)."""
        return self.body_token or derive_token(self.message_id)


@dataclass(frozen=True, slots=True)
class Mix:
    """The fates of a scenario's valid requests, as shares (the rest is ``plain``), and the DLQ's refusals.

    ``unpublished``: the session is created but every ``PutEvents`` of the request is refused until the
    cause is fixed. ``refuse_dead_letters``: the share of exhausted, unpublished and poison requests whose
    dead letter the DLQ refuses; of those, ``refuse_always`` on every send (until fixed: SQS's redrive
    policy moves them), the others on 1 to 3 sends (the worker's own send gets through on a backstop receive).
    """

    final: float = 0.0
    exhausted: float = 0.0
    slow: float = 0.0
    slow_every_attempt: float = 0.0
    unpublished: float = 0.0
    refuse_dead_letters: float = 0.0
    refuse_always: float = 1.0

    def fate(self, rng: random.Random) -> str:
        roll = rng.random()
        for share, kind, codes in (
            (self.final, "final", FINAL_CODES),
            (self.exhausted, "exhausted", TRANSIENT_CODES),
            (self.slow, "slow", ()),
            (self.slow_every_attempt, "slow-every-attempt", ()),
            (self.unpublished, "unpublished", ()),
        ):
            if roll < share:
                return f"{kind}:{rng.choice(codes)}" if codes else kind
            roll -= share
        return "plain"

    def refusals(self, rng: random.Random) -> int | None:
        if not self.refuse_dead_letters or rng.random() >= self.refuse_dead_letters:
            return 0
        return None if rng.random() < self.refuse_always else rng.randint(1, 3)


STANDARD_MIX: Final = Mix(final=0.03, exhausted=0.04, slow=0.05, slow_every_attempt=0.02)


def _body_token(seed: int, index: int, rng: random.Random) -> str:
    return f"soak-{seed}-{index:06d}-{rng.getrandbits(96):024x}"


def _poison(index: int, seed: int, rng: random.Random, foreign_manager: str, own_source: str) -> Request:
    marker = f"poison-{index:06d}-{rng.getrandbits(32):08x}"
    token = _body_token(seed, index, rng)
    base: dict[str, Any] = {"expiryTimeInMinutes": 60, "userId": marker, "clientToken": token}
    kind = rng.choice(POISON_KINDS)
    body = poison_body(kind, base, own_source=own_source, foreign_manager=foreign_manager)
    return Request(index, True, body, f"poison:{kind}", token, marker)


def _valid(index: int, seed: int, rng: random.Random, mix: Mix) -> Request:
    user_id = f"soak-user-{index:06d}"
    request = random_request(rng, correlation_id=f"soak-{index:06d}", user_id=user_id)
    fate = mix.fate(rng)
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
    count: int,
    seed: int,
    *,
    poison_share: float,
    own_source: str,
    mix: Mix = STANDARD_MIX,
    groups: int = 0,
    foreign_manager: str = FOREIGN_MANAGER,
) -> list[Request]:
    """``count`` requests, about ``poison_share`` of them poison; the rest valid with fates drawn from ``mix``.

    With ``groups``, each request belongs to one of that many message groups (FIFO), drawn at random so that
    the groups interleave in the queue and in each batch.
    """
    rng = random.Random(seed)
    requests = [
        _poison(n, seed, rng, foreign_manager, own_source) if rng.random() < poison_share else _valid(n, seed, rng, mix)
        for n in range(count)
    ]
    extra = random.Random(seed + 1)  # drawn apart, so that a mix without refusals or groups draws as before
    for request in requests:
        if request.poison or request.fate.partition(":")[0] in ("exhausted", "unpublished"):
            request.dead_letter_refusals = mix.refusals(extra)
        if groups:
            request.group = f"group-{extra.randrange(groups):03d}"
    return requests


_VALIDATION_MEMBERS: Final = {"reason": "FieldValidationFailed", "fieldList": [{"name": "userId", "message": "soak"}]}


def script_fates(
    api: PaymentsApiServer,
    wiring: Wiring,
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
        kind, _, code = request.fate.partition(":")
        refusals = request.dead_letter_refusals
        failing_receives = queue_receives if refusals is None else min(queue_receives, worker_receives + refusals)
        if kind == "final":
            members = _VALIDATION_MEMBERS if code == "ValidationException" else None
            api.fail_next(code, times=1_000, client_token=request.token, members=members)
        elif kind == "exhausted":
            api.fail_next(code, times=attempts_per_receive * failing_receives, client_token=request.token)
        elif kind == "slow":
            api.delay_next(slow_ms, times=1 + request.index % 2, client_token=request.token)
        elif kind == "slow-every-attempt":
            api.delay_next(slow_ms, times=attempts_per_receive, client_token=request.token)
        elif kind == "unpublished":
            wiring.publisher.refusals.script(request.user_id, None)
        if request.dead_letter_refusals != 0:
            wiring.dead_letters.refusals.script(request.body, request.dead_letter_refusals)
