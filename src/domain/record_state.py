"""One record on its way through a batch: admitted once, then observed by each stage, never mutated.

``admit`` reads what the record says (request, token, first enqueue); every later stage returns a new
``RecordState`` with one more observation, and ``decision`` is always the outcome table's verdict on what has
been observed so far (``domain.outcomes.decide``). The builders give what the stages send: the outcome's
event, the dead letter and the announcement.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from domain.dead_letter import DeadLetter, LetterAttribute, dead_letter
from domain.errors import ApiError, FieldProblem, PoisonCode, PoisonMessage
from domain.events import DetailType, EventEntry, error_detail, event_entry, session_json
from domain.outcomes import ApiObservation, Decision, LookupObservation, Outcome, Seen, decide
from domain.parsing import ManagerPolicy, parse_message
from domain.records import InboundRecord
from domain.request import EffectiveRequest, is_valid_payment_session_id
from domain.time_policy import AgeLimit
from domain.token_record import OutcomeUnknown, RecordObservation
from domain.tokens import choose_token, poison_token


@dataclass(frozen=True, slots=True)
class AdmissionRules:
    """What the worker's configuration says about a record before any call (CONTRACT sections 1, 3 and 6)."""

    event_source: str
    managers: ManagerPolicy
    max_receive_count: int
    age_limit: AgeLimit


@dataclass(frozen=True, slots=True)
class RecordState:
    record: InboundRecord
    token: str | None  # the clientToken of the API call, or the one a poison record's dead letter carries
    request: EffectiveRequest | None  # None for poison
    first_enqueued: int | None  # epoch milliseconds
    last_receive: bool
    seen: Seen = field(default_factory=Seen)
    claimed_session_id: str | None = None  # a well-formed PaymentSessionId the record carries (looked up first)

    @property
    def decision(self) -> Decision:
        return decide(self.seen, last_receive=self.last_receive)

    # -- observations -------------------------------------------------------------------------------------------
    def answered(self, api: ApiObservation) -> RecordState:
        return replace(self, seen=replace(self.seen, api=api))

    def looked_up(self, lookup: LookupObservation) -> RecordState:
        return replace(self, seen=replace(self.seen, lookup=lookup))

    def recorded(self, record: RecordObservation) -> RecordState:
        return replace(self, seen=replace(self.seen, record=record))

    def record_settle_failed(self, why: str) -> RecordState:
        return replace(self, seen=replace(self.seen, record_settle_failure=why))

    def held(self, why: str) -> RecordState:
        return replace(self, seen=replace(self.seen, held=why))

    def failed_to_publish(self, why: str) -> RecordState:
        return replace(self, seen=replace(self.seen, publish_failure=why))

    def failed_to_dead_letter(self, why: str) -> RecordState:
        return replace(self, seen=replace(self.seen, letter_failure=why))

    def delayed(self, seconds: int) -> RecordState:
        return replace(self, seen=replace(self.seen, retry_delay_seconds=seconds))

    # -- what the stages send -----------------------------------------------------------------------------------
    def create_params(self) -> dict[str, Any]:
        """``create_payment_session``'s keyword arguments; only a request with a token is ever sent."""
        if self.request is None or self.token is None:
            raise TypeError("a record without a request reached the API stage")
        return self.request.api_params(self.token)

    def lookup_params(self) -> dict[str, Any]:
        """``get_payment_session``'s keyword arguments for the session this record claims."""
        if self.request is None or self.claimed_session_id is None:
            raise TypeError("a record without a request or a claimed session reached the lookup stage")
        return self.request.lookup_params(self.claimed_session_id)

    def _entry(self, detail_type: DetailType, part: dict[str, Any]) -> EventEntry | None:
        """An event about this record's request; ``None`` for poison, which has no request to announce."""
        if self.request is None or self.token is None:
            return None
        return event_entry(
            detail_type,
            part,
            client_token=self.token,
            message_id=self.record.message_id,
            request=self.request,
            trace_header=self.record.trace_header,
        )

    def event(self) -> EventEntry | None:
        """The event the outcome publishes, if it publishes one."""
        decision, created = self.decision, self.seen.created
        if decision.publish is DetailType.CREATED and created is not None:
            return self._entry(DetailType.CREATED, session_json(created.session))
        if decision.publish is None or decision.error is None:
            return None
        return self._entry(DetailType.FAILED, error_detail(decision.error, retryable=False))

    def letter(self) -> DeadLetter:
        """The record's dead letter (CONTRACT section 5)."""
        error = self.decision.error
        return dead_letter(
            message_id=self.record.message_id,
            body=self.record.body,
            error_code=error.code if error else "",
            error_message=error.message if error else "",
            source_queue_arn=self.record.source_queue_arn,
            client_token=self.token,
            record_attributes=self.record.message_attributes,
            payment_session_id=self.seen.session_id or (self.claimed_session_id if self.seen.claim_open else None),
            original_sent_timestamp=self.first_enqueued,
            first_attempt_at=self.seen.record.first_attempt_at
            if isinstance(self.seen.record, OutcomeUnknown)
            else None,
            group_id=self.record.group_id,
            fifo=self.record.is_fifo,
        )

    def announcement(self) -> EventEntry | None:
        """``PaymentSessionCreationFailed`` with ``retryable: true`` for a dead-lettered retried cause."""
        decision = self.decision
        if not decision.announce or decision.outcome is not Outcome.DEAD_LETTERED or decision.error is None:
            return None
        return self._entry(DetailType.FAILED, error_detail(decision.error, retryable=True))

    # -- how it ended: what the handler logs and counts (never the body; ``userId`` only hashed) -------------------
    @property
    def message_id(self) -> str:
        return self.record.message_id

    @property
    def receive_count(self) -> int:
        return self.record.receive_count

    @property
    def client_token(self) -> str | None:
        return self.token

    @property
    def correlation_id(self) -> str | None:
        return self.request.correlationId if self.request is not None else None

    @property
    def user_id(self) -> str | None:
        return self.request.userId if self.request is not None else None

    @property
    def outcome(self) -> Outcome:
        return self.decision.outcome

    @property
    def error(self) -> ApiError | None:
        """The outcome's error (every outcome but created)."""
        return self.decision.error

    @property
    def error_code(self) -> str | None:
        return self.error.code if self.error is not None else None

    @property
    def error_message(self) -> str | None:
        return self.error.message if self.error is not None else None

    @property
    def payment_session_id(self) -> str | None:
        return self.seen.session_id

    @property
    def api_called(self) -> bool:
        return self.seen.api_called

    @property
    def letter_failed(self) -> bool:
        """Its copy to the DLQ failed (or could not be made) in this invocation."""
        return self.seen.letter_failure is not None

    @property
    def publish_failed(self) -> bool:
        """Its outcome's event failed to publish in this invocation."""
        return self.seen.publish_failure is not None

    @property
    def retry_delay_seconds(self) -> int | None:
        """A retried record hidden this long by the worker (``domain.time_policy``)."""
        return self.seen.retry_delay_seconds

    @property
    def record_failure(self) -> str | None:
        """Why the idempotency record's request was refused (DynamoDB's error code)."""
        return self.seen.record_failure


def admit(record: InboundRecord, rules: AdmissionRules, now: int) -> RecordState:
    """Read a record before any call: its request, its token, its first enqueue, its age and its claimed session."""
    last_receive = record.receive_count >= rules.max_receive_count
    if not record.message_id:
        # Not an SQS record (SQS always names its messages): no token to derive, nothing to report back by.
        poison = PoisonMessage(PoisonCode.INVALID_REQUEST, (FieldProblem("messageId", "missing"),))
        return RecordState(record, None, None, record.sent_timestamp, last_receive, Seen(poison=poison))
    try:
        request, envelope = parse_message(record.body, own_event_source=rules.event_source, managers=rules.managers)
        attribute = record.string_attribute(LetterAttribute.CLIENT_TOKEN)
        token = choose_token(request.clientToken, attribute, record.message_id, envelope).value
        first_enqueued = record.first_enqueued()
    except PoisonMessage as poison:
        return RecordState(
            record, _poison_token(record), None, _fallback_first_enqueued(record), last_receive, Seen(poison=poison)
        )
    expired = rules.age_limit.expired(first_enqueued, now)
    claimed = _claimed_session_id(record)
    seen = Seen(expired=expired, claimed=claimed is not None)
    return RecordState(record, token, request, first_enqueued, last_receive, seen, claimed)


def _claimed_session_id(record: InboundRecord) -> str | None:
    """The ``PaymentSessionId`` a record carries, when it is one the API could know (anything else proves nothing)."""
    value = record.string_attribute(LetterAttribute.PAYMENT_SESSION_ID)
    return value if value is not None and is_valid_payment_session_id(value) else None


def _poison_token(record: InboundRecord) -> str | None:
    """The producer's token as written, else the derived one (CONTRACT section 2): never replaced."""
    return poison_token(record.body, record.string_attribute(LetterAttribute.CLIENT_TOKEN), record.message_id)


def _fallback_first_enqueued(record: InboundRecord) -> int | None:
    try:
        return record.first_enqueued()
    except PoisonMessage:
        return record.sent_timestamp
