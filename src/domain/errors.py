"""Error codes (CONTRACT sections 3 and 5), the poison a body can be, and the one form of every other error."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Final


class PoisonCode(StrEnum):
    """``ErrorCode`` of a record that can never succeed as it is (dead-lettered on any receive)."""

    MALFORMED_JSON = "MalformedJson"
    INVALID_REQUEST = "InvalidRequest"
    PAYMENT_MANAGER_NOT_ALLOWED = "PaymentManagerNotAllowed"
    EVENT_LOOP = "EventLoop"


class WorkerErrorCode(StrEnum):
    """``ErrorCode`` of an outcome that is not an error code of the payments API."""

    EVENT_PUBLISH_FAILED = "EventPublishFailed"
    TIMEOUT = "Timeout"
    NETWORK_ERROR = "NetworkError"
    INTERNAL_ERROR = "InternalError"
    REQUEST_EXPIRED = "RequestExpired"  # failed: older than MAX_REQUEST_AGE_MINUTES, never sent to the API
    HELD_BACK = "HeldBack"  # FIFO: handed back untouched behind a retried record of its group, or out of time
    # The idempotency record (IDEMPOTENCY_TABLE_NAME, issue 25):
    OUTCOME_UNKNOWN = "OutcomeUnknown"  # dead-lettered: attempted before the token window, outcome unknown
    CLIENT_TOKEN_REUSED = "ClientTokenReused"  # failed: the token was first used for another request
    TOKEN_IN_PROGRESS = "TokenInProgress"  # retried: another running invocation is sending the token
    IDEMPOTENCY_RECORD_FAILED = "IdempotencyRecordFailed"  # retried: DynamoDB refused or was unreachable


MAX_ERROR_MESSAGE_CHARS: Final = 1024
_UNPRINTABLE_RE: Final = re.compile(r"[^\x20-\x7e]")


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One broken rule of a request: where (a field path) and what kind, never the value."""

    path: str
    kind: str


@dataclass(eq=False)
class PoisonMessage(Exception):
    """The record's body can never become a valid request."""

    code: PoisonCode
    problems: tuple[FieldProblem, ...] = field(default_factory=tuple)
    detail: str = ""

    def __str__(self) -> str:
        return describe(self.code, self.problems, self.detail)


def describe(code: str, problems: tuple[FieldProblem, ...] = (), detail: str = "") -> str:
    """A one-line description: field paths and error kinds, at most 1024 characters, no input value."""
    parts = [f"{p.path}: {p.kind}" if p.path else p.kind for p in problems]
    text = "; ".join(parts) or detail or code
    if detail and parts:
        text = f"{detail}: {text}"
    return truncate(printable(text))


def printable(text: str) -> str:
    """Escape all but printable ASCII: a path names the input's own keys, which may hold any character.

    The description becomes an SQS message attribute (which refuses most control characters and cannot
    carry a lone surrogate) and a log line.
    """
    return _UNPRINTABLE_RE.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), text)


def truncate(text: str, limit: int = MAX_ERROR_MESSAGE_CHARS) -> str:
    """Cut ``text`` to ``limit`` characters, marking the cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Reach(Enum):
    """How far a call that gave no result got: what the API may have done with it."""

    ANSWERED = "answered"  # the API answered with this error: it did what its code says, nothing more
    UNANSWERED = "unanswered"  # sent, then no answer (a timeout, a network error, a surprise): it may have acted
    NOT_SENT = "not sent"  # no time was left to start it: the API never saw it
    IN_FLIGHT = "in flight"  # not back when the invocation stopped waiting: it may still reach the API


@dataclass  # compared by value, hence unhashable: never a key of a set or a dict
class ApiError(Exception):
    """An error as CONTRACT sections 4 and 5 state one: an error code, a message, and what the API added.

    The one form of an error the domain and the service speak: what an AWS API answered (the adapters translate
    botocore's errors into it, ``adapters/aws_errors.py``), what became of a call without an answer (``reach``,
    with the worker's codes ``Timeout``, ``NetworkError``, ``InternalError``), and the error an outcome reports
    (a poison code, ``RequestExpired``, ...). The message is cut to ``MAX_ERROR_MESSAGE_CHARS``.
    """

    code: str
    message: str
    http_status: int | None = None
    reason: str | None = None
    field_list: tuple[dict[str, str], ...] | None = None
    reach: Reach = Reach.ANSWERED

    def __post_init__(self) -> None:
        self.message = truncate(self.message)

    def __str__(self) -> str:
        """``Code: message`` as the API said it (the code alone without a message); a call without an answer by
        its message alone, the kind of failure (``ReadTimeoutError``)."""
        if self.reach is not Reach.ANSWERED:
            return self.message or self.code
        return f"{self.code}: {self.message}" if self.message else self.code
