"""The worker's own idempotency record of a ``clientToken`` (issue 25): its item, its table, what it tells a record.

The payments API deduplicates a ``clientToken`` for a while nobody documents (the service's token window).
The record, one item per token, is written before the API is called, so that what the worker knows of a
token outlives that window:

- *attempted* (first-attempt time, a hash of the effective request, the holder's deadline) before the call;
- *created* (the session, as ``PaymentSessionCreated`` needs it) after the API returned one;
- removed after an answer that proves nothing was created (a 4xx, throttling included, or no call at all);
- left *attempted* after an unknown outcome (timeout, 5xx, connection error).

The rules (what a delivery does with the item it finds, what the item becomes after the call) are in
``domain/idempotency.py``; the DynamoDB adapter in ``adapters/idempotency_table.py``; the stage in
``service/idempotency.py``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any, Final, Protocol

from domain.errors import ApiError, WorkerErrorCode
from domain.request import EffectiveRequest

ITEM_KEY: Final = "clientToken"  # the table's partition key
TTL_ATTRIBUTE: Final = "expiresAt"  # the table's TTL attribute (epoch seconds)


class ItemState(StrEnum):
    ATTEMPTED = "attempted"
    CREATED = "created"


@dataclass(frozen=True, slots=True)
class TokenItem:
    """One item of the table, as the adapter reads and writes it (times in epoch milliseconds)."""

    client_token: str
    state: ItemState
    request_hash: str
    first_attempt_at: int
    holder_deadline: int  # when the invocation that last sent (or is sending) the token is over
    expires_at: int  # epoch seconds: DynamoDB's TTL attribute
    session: Mapping[str, Any] | None = None  # created: the paymentSession, JSON-ready (what the event needs)


class TokenTable(Protocol):
    """The record's table: every state change is one conditional request. Raises ``ApiError``."""

    def attempt(self, item: TokenItem) -> TokenItem | None:
        """Write ``item`` (attempted) unless the token has an item: ``None`` when written, else the item found."""
        ...

    def take_over(self, found: TokenItem, holder_deadline: int) -> TokenItem | None:
        """Hold ``found`` (attempted, its holder gone) until ``holder_deadline``: ``None`` when taken, else the
        item as it is now."""
        ...

    def read(self, client_token: str) -> TokenItem | None:
        """The token's item, read consistently (for a request too old to be sent, which writes nothing)."""
        ...

    def created(self, item: TokenItem, session: Mapping[str, Any]) -> None:
        """Mark ``item``'s token created with ``session`` (unless the item now holds another request)."""
        ...

    def remove(self, item: TokenItem) -> None:
        """Remove the token's item while it is still ``item``'s attempt (same holder): a later delivery calls again."""
        ...


def request_hash(request: EffectiveRequest) -> str:
    """The effective request's fingerprint: every term the API is sent, the token apart."""
    canonical = json.dumps(request.terms(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# -- what the record stage observed of a record (``Seen.record``) -------------------------------------------------


@dataclass(frozen=True, slots=True)
class Holding:
    """This delivery holds the token's attempted item: it may call the API."""

    item: TokenItem


@dataclass(frozen=True, slots=True)
class Replay:
    """The token's item is created: no API call; its session is announced again, whatever the age."""

    session: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class InProgress:
    """Another invocation holds the token and is still running: handed back (retried), not sent."""

    holder_deadline: int

    @property
    def report(self) -> ApiError:
        return ApiError(WorkerErrorCode.TOKEN_IN_PROGRESS, "another delivery of this clientToken is being sent")


@dataclass(frozen=True, slots=True)
class OutcomeUnknown:
    """Attempted before the window (or by a request too old to send): not sent again; a session may exist."""

    first_attempt_at: int

    @property
    def report(self) -> ApiError:
        return ApiError(
            WorkerErrorCode.OUTCOME_UNKNOWN,
            "first attempted before CLIENT_TOKEN_WINDOW_MINUTES with an unknown outcome: not sent again",
        )


@dataclass(frozen=True, slots=True)
class Reused:
    """The token's item holds another effective request: failed, not sent."""

    @property
    def report(self) -> ApiError:
        return ApiError(
            WorkerErrorCode.CLIENT_TOKEN_REUSED, "the clientToken was first used for another effective request"
        )


@dataclass(frozen=True, slots=True)
class Refused:
    """DynamoDB refused the record's request or was unreachable: retried, the API not called."""

    error: ApiError

    @property
    def report(self) -> ApiError:
        return ApiError(WorkerErrorCode.IDEMPOTENCY_RECORD_FAILED, f"idempotency record: {self.error}")


class Absent(Enum):
    """A request too old to send has no item: it goes on as any other (failed ``RequestExpired``)."""

    ABSENT = "absent"


RecordObservation = Holding | Replay | InProgress | OutcomeUnknown | Reused | Refused | Absent
