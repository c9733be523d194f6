"""Error codes (CONTRACT sections 3 and 5) and the errors the domain raises or is given."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
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


@dataclass(eq=False)
class ApiError(Exception):
    """An error answered by the payments API, as its error code and fields (adapters build it)."""

    code: str
    message: str
    http_status: int | None = None
    reason: str | None = None
    field_list: tuple[dict[str, str], ...] | None = None

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass(frozen=True, slots=True)
class ErrorReport:
    """The error of an outcome: its ``ErrorCode`` and message, and what the API added (CONTRACT section 4)."""

    code: str
    message: str
    reason: str | None = None
    field_list: tuple[dict[str, str], ...] | None = None

    @classmethod
    def of(cls, error: ApiError) -> ErrorReport:
        return cls(error.code, truncate(error.message), error.reason, error.field_list)


@dataclass(eq=False)
class TransientError(Exception):
    """A failure without an API answer: timeout, network error, or a failed dependency call."""

    code: WorkerErrorCode
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"
