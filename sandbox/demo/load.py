"""The requests the demo and the soak send: random valid ones, and poison of every kind the worker refuses.

One generator for both, drawn from a ``random.Random`` the caller seeds, so a given seed sends the same load.
"""

from __future__ import annotations

import json
import random
from typing import Any, Final

from sandbox.aws.sqs import OutgoingMessage
from sandbox.demo.fair_tenants import draw_tenant

AGENT_NAMES: Final = ("checkout-agent", "travel-agent", "groceries-agent")
FOREIGN_MANAGER: Final = "arn:aws:bedrock-agentcore:us-east-1:123456789012:payment-manager/foreign-manager-z0y9x8w7v6"
DEFAULT_EVENT_SOURCE: Final = "payment-session-worker"
POISON_KINDS: Final = (
    "malformed",
    "unknown-field",
    "wrong-type",
    "bad-amount",
    "foreign-manager",
    "event-loop",
    "control",
    "sns",
)


def random_request(rng: random.Random, *, correlation_id: str, user_id: str | None = None) -> dict[str, Any]:
    """A valid request: an expiry of 15 to 480 minutes, an agent name half the time, limits 60% of the time."""
    request: dict[str, Any] = {"expiryTimeInMinutes": rng.randint(15, 480), "correlationId": correlation_id}
    if user_id is not None:
        request["userId"] = user_id
    if rng.random() < 0.5:
        request["agentName"] = rng.choice(AGENT_NAMES)
    if rng.random() < 0.6:
        amount = f"{rng.randint(1, 500)}.{rng.randint(0, 99):02d}"
        request["limits"] = {"maxSpendAmount": {"value": amount, "currency": "USD"}}
    return request


def poison_body(
    kind: str,
    base: dict[str, Any],
    *,
    own_source: str = DEFAULT_EVENT_SOURCE,
    foreign_manager: str = FOREIGN_MANAGER,
) -> str:
    """A body the worker must dead-letter as poison, of ``kind`` (one of :data:`POISON_KINDS`), built on ``base``.

    ``own_source`` is the worker's ``EVENT_SOURCE``: an ``event-loop`` body is one of its own events.
    """
    if kind == "malformed":
        return json.dumps(base)[:-7]
    if kind == "unknown-field":
        return json.dumps({**base, "limit": {"maxSpendAmount": {"value": "25", "currency": "USD"}}})
    if kind == "wrong-type":
        return json.dumps({**base, "expiryTimeInMinutes": "60"})
    if kind == "bad-amount":
        return json.dumps({**base, "limits": {"maxSpendAmount": {"value": "1e3", "currency": "USD"}}})
    if kind == "foreign-manager":
        return json.dumps({**base, "paymentManagerArn": foreign_manager})
    if kind == "event-loop":
        return json.dumps(
            {"version": "0", "source": own_source, "detail-type": "PaymentSessionCreated", "detail": base}
        )
    if kind == "control":
        return json.dumps({**base, "userId": str(base.get("userId", "user")) + "\u0007"})
    if kind == "sns":
        return json.dumps({"Type": "Notification", "Message": "{" + json.dumps(base)})
    raise ValueError(f"no poison of kind {kind!r}")


def generate_requests(
    count: int, seed: int, *, own_source: str = DEFAULT_EVENT_SOURCE
) -> list[tuple[str, OutgoingMessage]]:
    """A mixed load: mostly valid requests (half with a ``clientToken``), some sent twice, some poison; each
    with its tenant's ``MessageGroupId`` (a fair queue, ``sandbox.demo.fair_tenants``)."""
    rng = random.Random(seed)
    tenants = random.Random(seed + 1)  # drawn apart: the requests are the same with or without tenants
    load: list[tuple[str, OutgoingMessage]] = []
    tokened: list[str] = []
    for n in range(count):
        roll = rng.random()
        if roll < 0.08:
            body = poison_body(rng.choice(POISON_KINDS), {"expiryTimeInMinutes": 60}, own_source=own_source)
            load.append(("poison", OutgoingMessage(body, group_id=draw_tenant(tenants))))
            continue
        if roll < 0.14 and tokened:
            load.append(("duplicate", OutgoingMessage(rng.choice(tokened), group_id=draw_tenant(tenants))))
            continue
        user_id = f"user-{rng.randint(1, 999):03d}" if rng.random() < 0.7 else None
        request = random_request(rng, correlation_id=f"load-{n:04d}", user_id=user_id)
        if rng.random() < 0.5:
            request["clientToken"] = f"demo-load-{seed:04d}-{n:06d}-{rng.getrandbits(64):016x}"
            tokened.append(json.dumps(request))
        load.append(("valid", OutgoingMessage(json.dumps(request), group_id=draw_tenant(tenants))))
    return load
