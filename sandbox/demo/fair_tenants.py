"""The demo's fair-queue tenant mix (CONTRACT section 9): several tenants, one noisy, on the standard queue.

SQS's fair queues are standard queues whose producers set a ``MessageGroupId`` per tenant. The demo's generated
load is sent that way: ``NOISY`` sends about half of it, the other tenants share the rest. The worker treats
the records as standard ones (concurrently, nothing held back for a group); their dead letters keep the tenant's
group and carry no ``MessageDeduplicationId`` (which SQS refuses on a standard queue; the strict SQS layer in
front of moto enforces it). :func:`print_tenants` shows each tenant's requests and outcomes, and checks both.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import IO, Final

from sandbox.aws.sqs import QueueMessage
from sandbox.demo.fates import Fate
from sandbox.demo.tables import print_table

TENANTS: Final = ("tenant-a", "tenant-b", "tenant-c", "tenant-d", "tenant-e")
NOISY: Final = TENANTS[0]
NOISY_SHARE: Final = 0.5


def draw_tenant(rng: random.Random) -> str:
    """A request's tenant: the noisy one about half the time, else one of the quiet ones."""
    return NOISY if rng.random() < NOISY_SHARE else rng.choice(TENANTS[1:])


def _tenants_letters(tenant_of: Mapping[str, str], dead_letters: Sequence[QueueMessage]) -> list[QueueMessage]:
    return [letter for letter in dead_letters if letter.message_attributes.get("SourceMessageId") in tenant_of]


def letters_off_tenant(tenant_of: Mapping[str, str], dead_letters: Sequence[QueueMessage]) -> int:
    """Dead letters of the tenants' requests (by ``SourceMessageId``) without their tenant's group, or with a
    deduplication ID."""
    return sum(
        letter.attributes.get("MessageGroupId") != tenant_of[letter.message_attributes["SourceMessageId"]]
        or "MessageDeduplicationId" in letter.attributes
        for letter in _tenants_letters(tenant_of, dead_letters)
    )


def print_tenants(
    tenant_of: Mapping[str, str], fates: Mapping[str, Fate], dead_letters: Sequence[QueueMessage], out: IO[str]
) -> int:
    """Each tenant's requests and outcomes; returns the dead letters off their tenant (0 when all is well)."""
    outcomes: dict[str, Counter[str]] = {tenant: Counter() for tenant in TENANTS}
    for message_id, tenant in tenant_of.items():
        outcomes[tenant][fates[message_id].outcome or "in flight"] += 1
    rows = [
        [
            f"{tenant}{' (noisy)' if tenant == NOISY else ''}",
            str(sum(counts.values())),
            str(counts["created"]),
            str(counts["failed"]),
            str(counts["dead-lettered"]),
            str(counts["in flight"]),
        ]
        for tenant, counts in outcomes.items()
    ]
    out.write(
        "\nThe fair queue's tenants (CONTRACT section 9): the generated load carries each tenant's MessageGroupId\n"
    )
    print_table(out, ["tenant", "requests", "created", "failed", "dead-lettered", "in flight"], rows)
    off = letters_off_tenant(tenant_of, dead_letters)
    grouped = len(_tenants_letters(tenant_of, dead_letters))
    out.write(
        f"  {grouped - off} of {grouped} of their dead letters kept the tenant's MessageGroupId without a"
        " MessageDeduplicationId (SQS refuses one on a standard queue)\n"
    )
    return off
