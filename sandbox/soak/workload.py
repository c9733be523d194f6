"""The soak's requests and the fate it arranges for each at the fake payments API (by client token)."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sandbox.agentcore import PaymentsApiServer
from sandbox.load import FOREIGN_MANAGER, POISON_KINDS, poison_body, random_request
from sandbox.worker import derive_token

SHORT_REQUESTS: Final = 150  # the soak in make test


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
    kind = rng.choice(POISON_KINDS)
    body = poison_body(kind, base, own_source=own_source, foreign_manager=foreign_manager)
    return Request(index, True, body, f"poison:{kind}", token, marker)


def _valid(index: int, seed: int, rng: random.Random) -> Request:
    user_id = f"soak-user-{index:06d}"
    request = random_request(rng, correlation_id=f"soak-{index:06d}", user_id=user_id)
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
    count: int, seed: int, *, poison_share: float, own_source: str, foreign_manager: str = FOREIGN_MANAGER
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
