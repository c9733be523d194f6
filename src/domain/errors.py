"""Error codes and the classification table of CONTRACT section 3."""

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
    """``ErrorCode`` of a retried cause that is not an error code of the payments API."""

    EVENT_PUBLISH_FAILED = "EventPublishFailed"
    TIMEOUT = "Timeout"
    NETWORK_ERROR = "NetworkError"
    INTERNAL_ERROR = "InternalError"


class Disposition(StrEnum):
    """What an API error means for the record."""

    FAILED = "failed"  # final: announce PaymentSessionCreationFailed, delete the record
    RETRIED = "retried"  # transient: hand back to SQS (or dead-letter on the last receive)


# CONTRACT section 3: these API errors are final for the request.
FINAL_API_ERRORS: Final = frozenset({"ValidationException", "ConflictException", "ServiceQuotaExceededException"})

# CONTRACT section 3: these are retried; so is every other code, any 5xx and anything unexpected.
RETRIED_API_ERRORS: Final = frozenset(
    {
        "ThrottlingException",
        "InternalServerException",
        "AccessDeniedException",
        "SubscriptionRequiredException",
    }
)

MAX_ERROR_MESSAGE_CHARS: Final = 1024
_UNPRINTABLE_RE: Final = re.compile(r"[^\x20-\x7e]")


def classify_api_error(code: str, http_status: int | None) -> Disposition:
    """Classify an error answered by the payments API by its error code (never by its message).

    A 5xx is retried whatever its code; the three final codes fail the request; everything else,
    known or not, is retried so that SQS and the redrive policy decide, and nothing is lost.
    """
    if http_status is not None and http_status >= 500:
        return Disposition.RETRIED
    if code in FINAL_API_ERRORS:
        return Disposition.FAILED
    return Disposition.RETRIED


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

    @property
    def disposition(self) -> Disposition:
        return classify_api_error(self.code, self.http_status)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass(eq=False)
class TransientError(Exception):
    """A failure without an API answer: timeout, network error, or a failed dependency call."""

    code: WorkerErrorCode
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"
