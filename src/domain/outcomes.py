"""The outcome table of CONTRACT section 3, in one pure function.

Each stage of a batch observes something of a record (``Seen``); ``decide`` turns everything observed so far,
and whether this is the record's last receive, into a ``Decision``: the outcome, the error code and message,
the event the outcome publishes, whether the record is copied to the DLQ, and whether its failure is announced.
The stages run in a fixed order and each acts on its part of the decision once:

    admit (parse, token, age) -> look up a claimed session -> API -> publish ``Decision.publish``
    -> dead-letter ``Decision.dead_letter`` -> announce ``Decision.announce``

A record that carries ``PaymentSessionId`` (a redriven dead letter whose session was created) is first looked
up with ``GetPaymentSession``: a confirmed session is announced as created whatever the request's age and is
never created again; a session the API does not know proves nothing, and the record goes on as any other.

With the worker's idempotency record on (``IDEMPOTENCY_TABLE_NAME``), a record stage between the lookup and the
API observes the token's item (``Seen.record``, ``domain/token_record.py``): only a delivery that holds the
item calls the API; a created item is announced again, an attempted one past the token window is
dead-lettered ``OutcomeUnknown``, another request's is failed ``ClientTokenReused``.

after which ``decide`` gives the final outcome. Nothing else in the worker chooses an outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Final

from domain.errors import ApiError, PoisonMessage, Reach, WorkerErrorCode
from domain.events import DetailType
from domain.token_record import Holding, InProgress, OutcomeUnknown, RecordObservation, Refused, Replay, Reused


class Outcome(StrEnum):
    CREATED = "created"
    FAILED = "failed"
    RETRIED = "retried"
    DEAD_LETTERED = "dead-lettered"


# CONTRACT section 3: these API errors are final for the request; every other answer is retried (so are
# ThrottlingException, InternalServerException, AccessDeniedException and SubscriptionRequiredException, which
# the contract names, any 5xx whatever its code, and codes this worker has never heard of).
FINAL_API_ERRORS: Final = frozenset({"ValidationException", "ConflictException", "ServiceQuotaExceededException"})
# GetPaymentSession's answers that say the claimed session is not this request's to announce: the record goes
# on as any other. Every other answer (throttling, 5xx, access denied) leaves the claim open: retried.
SESSION_UNKNOWN_ERRORS: Final = frozenset({"ResourceNotFoundException", "ValidationException"})


def is_final(error: ApiError) -> bool:
    """Whether an API error ends the request (failed) rather than asking for another try (retried).

    A call without an answer carries a worker's code (``Timeout``, ...), never one of ``FINAL_API_ERRORS``.
    """
    server_error = error.http_status is not None and error.http_status >= 500
    return not server_error and error.code in FINAL_API_ERRORS


# -- what the stages observe ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Created:
    """The API returned a session."""

    session: Mapping[str, Any]

    @property
    def session_id(self) -> str | None:
        value = self.session.get("paymentSessionId")
        return value if isinstance(value, str) else None


# What one payments API call amounted to: a session, or the error it answered or ended in (``ApiError.reach``).
ApiObservation = Created | ApiError


@dataclass(frozen=True, slots=True)
class SessionUnknown:
    """``GetPaymentSession`` did not confirm the record's ``PaymentSessionId`` as its own session."""

    why: str


# What the lookup of a claimed session amounted to: confirmed (``Created``), unknown, or no answer to rely on.
LookupObservation = Created | SessionUnknown | ApiError


@dataclass(frozen=True, slots=True)
class Seen:
    """Everything the stages observed of one record; each stage adds its part with ``dataclasses.replace``."""

    poison: PoisonMessage | None = None  # admit: the body (or an attribute) can never become a request
    expired: bool = False  # admit: older than MAX_REQUEST_AGE_MINUTES
    claimed: bool = False  # admit: the record carries a well-formed PaymentSessionId (CONTRACT section 3)
    held: str | None = None  # FIFO: handed back untouched (why)
    lookup: LookupObservation | None = None  # lookup stage: GetPaymentSession of the claimed session
    record: RecordObservation | None = None  # record stage (IDEMPOTENCY_TABLE_NAME): the token's item
    record_settle_failure: str | None = None  # record stage, after the API: why the item was not updated
    api: ApiObservation | None = None  # API stage
    publish_failure: str | None = None  # publish stage: why the outcome's event was not published
    letter_failure: str | None = None  # dead-letter stage: why the copy to the DLQ failed
    retry_delay_seconds: int | None = None  # retry delay stage: a retried record hidden this long by the worker

    @property
    def needs_lookup(self) -> bool:
        return self.poison is None and self.held is None and self.claimed and self.lookup is None

    @property
    def claim_open(self) -> bool:
        """A claimed session not yet known to be someone else's: the record must not be created."""
        return self.claimed and not isinstance(self.lookup, SessionUnknown)

    @property
    def needs_api(self) -> bool:
        return (
            self.poison is None
            and not self.expired
            and self.held is None
            and self.api is None
            and not self.claim_open
            and self.record_allows_call
        )

    @property
    def record_failure(self) -> str | None:
        """Why the idempotency record was refused, before the call or after it (metric IdempotencyRecordFailures)."""
        if isinstance(self.record, Refused):
            return self.record.report.message
        return self.record_settle_failure

    @property
    def record_allows_call(self) -> bool:
        """No idempotency record (off), or this delivery holds the token's attempted item."""
        return self.record is None or isinstance(self.record, Holding)

    @property
    def created(self) -> Created | None:
        """The session this record has: the one the API created, or the claimed one the lookup confirmed."""
        if isinstance(self.lookup, Created):
            return self.lookup
        if isinstance(self.record, Replay):
            return Created(self.record.session)
        return self.api if isinstance(self.api, Created) else None

    @property
    def session_id(self) -> str | None:
        created = self.created
        return created.session_id if created is not None else None

    @property
    def api_called(self) -> bool:
        return isinstance(self.api, Created) or (
            isinstance(self.api, ApiError) and self.api.reach is not Reach.NOT_SENT
        )


# -- what follows from it ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    error: ApiError | None = None
    publish: DetailType | None = None  # the event the outcome publishes (the publish stage)
    dead_letter: bool = False  # the record is copied to the DLQ (the dead-letter stage)
    announce: bool = False  # PaymentSessionCreationFailed, retryable, best effort (the announce stage)


_NOT_CALLED: Final = ApiError(WorkerErrorCode.INTERNAL_ERROR, "the API stage did not run for this record")
_NOT_LOOKED_UP: Final = ApiError(WorkerErrorCode.INTERNAL_ERROR, "the claimed session was not looked up")
_EXPIRED: Final = ApiError(WorkerErrorCode.REQUEST_EXPIRED, "older than MAX_REQUEST_AGE_MINUTES")


def decide(seen: Seen, *, last_receive: bool) -> Decision:
    """The outcome table (CONTRACT section 3). ``last_receive``: ``ApproximateReceiveCount >= MAX_RECEIVE_COUNT``."""
    if seen.held is not None:
        # Handed back untouched (FIFO, behind a retried record of its group), poison too: it was never sent.
        return Decision(Outcome.RETRIED, ApiError(WorkerErrorCode.HELD_BACK, seen.held))
    if seen.poison is not None:
        # Poison never becomes valid: dead-lettered on any receive, never announced.
        return _to_dead_letter_queue(seen, ApiError(seen.poison.code, str(seen.poison)), announce=False)
    if isinstance(seen.record, OutcomeUnknown):
        # Attempted before the token window with an unknown outcome: never sent again, never failed.
        return _to_dead_letter_queue(seen, seen.record.report, announce=False)
    cause = _retried_cause(seen)
    if cause is None:
        return _final(seen)
    if not last_receive:
        return Decision(Outcome.RETRIED, cause)
    # A created session is never announced as failed: its dead letter carries PaymentSessionId instead. Nor is a
    # claimed one the lookup could not settle: it may exist.
    may_exist = seen.claim_open or isinstance(seen.record, InProgress)
    return _to_dead_letter_queue(seen, cause, announce=seen.session_id is None and not may_exist)


def _retried_cause(seen: Seen) -> ApiError | None:
    if seen.publish_failure is not None:
        return ApiError(WorkerErrorCode.EVENT_PUBLISH_FAILED, f"event not published: {seen.publish_failure}")
    if seen.created is not None:
        return None
    if seen.claim_open:
        # The claimed session may exist: never fail it as expired, never create it again, until the API says.
        # Any answer but "unknown" (throttling, access denied, a 5xx) leaves the claim open: retried.
        if isinstance(seen.lookup, ApiError):
            return seen.lookup
        return _NOT_LOOKED_UP
    if isinstance(seen.record, InProgress | Refused):
        return seen.record.report
    if isinstance(seen.record, Reused):
        return None
    if seen.expired:
        return None
    if seen.api is None:
        return _NOT_CALLED
    return seen.api if isinstance(seen.api, ApiError) and not is_final(seen.api) else None


def _final(seen: Seen) -> Decision:
    """Created or failed: the record is deleted once the outcome's event is out."""
    if seen.created is not None:
        return Decision(Outcome.CREATED, publish=DetailType.CREATED)
    if isinstance(seen.record, Reused):
        return Decision(Outcome.FAILED, seen.record.report, publish=DetailType.FAILED)
    if seen.expired:
        return Decision(Outcome.FAILED, _EXPIRED, publish=DetailType.FAILED)
    if isinstance(seen.api, ApiError):
        return Decision(Outcome.FAILED, seen.api, publish=DetailType.FAILED)
    return Decision(Outcome.CREATED, publish=DetailType.CREATED)


def _to_dead_letter_queue(seen: Seen, cause: ApiError, *, announce: bool) -> Decision:
    if seen.letter_failure is not None:
        # Handed back instead: the queue's redrive policy is the backstop that still moves it. Keep the cause.
        message = f"{cause.message}; dead-letter send failed: {seen.letter_failure}"
        return Decision(Outcome.RETRIED, replace(cause, message=message))
    return Decision(Outcome.DEAD_LETTERED, cause, dead_letter=True, announce=announce)
