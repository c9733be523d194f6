"""One SQS batch through the four outcomes (CONTRACT section 3), in four stages.

1. parse every record (poison is found before any call) and call the API concurrently;
2. publish the created/failed events, up to 10 entries per call, chunks concurrently;
3. dead-letter poison and retried causes on their last receive, up to 10 per call;
4. announce, best effort, the retried causes that were dead-lettered.

Every stage starts only with time to finish: what cannot start in time is handed back to SQS, which is
always safe because a redelivery repeats the same call with the same client token.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, wait
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from domain.dead_letter import DeadLetter, dead_letter
from domain.errors import ApiError, Disposition, PoisonMessage, TransientError, WorkerErrorCode, truncate
from domain.events import EventEntry, api_error_detail, created_event, error_detail, failed_event
from domain.outcomes import BatchReport, Outcome, RecordResult
from domain.ports import DeadLetterSender, EventPublisher, PaymentsApi
from domain.requests import EffectiveRequest, ManagerPolicy, parse_request
from domain.tokens import CLIENT_TOKEN_ATTRIBUTE, choose_token, derive_token

MAX_ENTRIES_PER_CALL: Final = 10  # PutEvents and SendMessageBatch both take at most 10

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class InboundRecord:
    """An SQS record as the domain sees it."""

    message_id: str
    body: str
    receive_count: int
    message_attributes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    source_queue_arn: str = ""
    trace_header: str | None = None

    def string_attribute(self, name: str) -> str | None:
        value = self.message_attributes.get(name, {}).get("stringValue")
        return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class Timing:
    """How the invocation's time is shared between the stages, in seconds."""

    finish_reserve: float = 4.0  # kept after the API stage for publishing and dead-lettering
    min_stage: float = 0.5  # a call does not start with less than this left

    def api_deadline(self, deadline: float) -> float:
        return deadline - self.finish_reserve


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    event_source: str
    managers: ManagerPolicy
    max_receive_count: int
    timing: Timing = Timing()


@dataclass(slots=True)
class _State:
    record: InboundRecord
    request: EffectiveRequest | None = None
    token: str | None = None
    outcome: Outcome | None = None
    error_code: str | None = None
    error_message: str | None = None
    poison: bool = False
    session_id: str | None = None
    event: EventEntry | None = None
    api_called: bool = False

    def retry(self, code: str, message: str) -> None:
        self.outcome, self.error_code, self.error_message = Outcome.RETRIED, code, truncate(message)
        self.event = None

    def result(self) -> RecordResult:
        assert self.outcome is not None
        request = self.request
        return RecordResult(
            message_id=self.record.message_id,
            outcome=self.outcome,
            receive_count=self.record.receive_count,
            client_token=self.token,
            correlation_id=request.correlation_id if request else None,
            user_id=request.user_id if request else None,
            error_code=self.error_code,
            error_message=self.error_message,
            payment_session_id=self.session_id,
            api_called=self.api_called,
        )


def _chunks(items: Sequence[T], size: int = MAX_ENTRIES_PER_CALL) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class BatchWorker:
    """Processes batches; owns no threads of its own (the executor bounds the concurrency)."""

    def __init__(
        self,
        config: WorkerConfig,
        *,
        api: PaymentsApi,
        publisher: EventPublisher,
        dead_letters: DeadLetterSender,
        executor: Executor,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._api = api
        self._publisher = publisher
        self._dead_letters = dead_letters
        self._executor = executor
        self._clock = clock

    def process(self, records: Sequence[InboundRecord], deadline: float) -> BatchReport:
        """Process one batch; ``deadline`` is the ``clock()`` value at which the invocation ends."""
        states = [self._prepare(record) for record in records]
        self._call_api([s for s in states if s.outcome is None], deadline)
        self._publish([s for s in states if s.event is not None], deadline)
        self._dead_letter([s for s in states if self._due_for_dead_letter(s)], deadline)
        return BatchReport(tuple(state.result() for state in states))

    # -- stage 0: parse ---------------------------------------------------------------------------
    def _prepare(self, record: InboundRecord) -> _State:
        state = _State(record)
        try:
            state.request = parse_request(
                record.body, own_event_source=self._config.event_source, managers=self._config.managers
            )
            state.token = choose_token(
                state.request.client_token, record.string_attribute(CLIENT_TOKEN_ATTRIBUTE), record.message_id
            ).value
        except PoisonMessage as poison:
            state.request = None
            state.poison = True
            state.outcome = Outcome.DEAD_LETTERED
            state.error_code, state.error_message = poison.code.value, str(poison)
            state.token = self._fallback_token(record)
        return state

    @staticmethod
    def _fallback_token(record: InboundRecord) -> str:
        """The token a poison record would have carried without a body token: kept across a fix and redrive."""
        try:
            return choose_token(None, record.string_attribute(CLIENT_TOKEN_ATTRIBUTE), record.message_id).value
        except PoisonMessage:
            return derive_token(record.message_id)

    # -- stage 1: the payments API ----------------------------------------------------------------
    def _call_api(self, states: list[_State], deadline: float) -> None:
        api_deadline = self._config.timing.api_deadline(deadline)
        pending: dict[Future[Mapping[str, Any]], _State] = {}
        for state in states:
            if self._clock() + self._config.timing.min_stage > api_deadline:
                state.retry(WorkerErrorCode.TIMEOUT, "no time left in the invocation to call the API")
                continue
            assert state.request is not None and state.token is not None
            state.api_called = True
            future = self._executor.submit(
                self._api.create_payment_session, state.request.api_params(state.token), deadline=api_deadline
            )
            pending[future] = state
        if not pending:
            return
        done, not_done = wait(pending, timeout=max(0.0, deadline - self._clock()))
        for future in not_done:
            pending[future].retry(WorkerErrorCode.TIMEOUT, "the API call did not finish within the invocation")
        for future in done:
            self._settle_api_call(pending[future], future)

    def _settle_api_call(self, state: _State, future: Future[Mapping[str, Any]]) -> None:
        assert state.request is not None and state.token is not None
        record = state.record
        try:
            session = future.result()
        except ApiError as error:
            if error.disposition is Disposition.FAILED:
                state.error_code, state.error_message = error.code, truncate(error.message)
                state.outcome = Outcome.FAILED
                state.event = failed_event(
                    client_token=state.token,
                    message_id=record.message_id,
                    request=state.request,
                    error=api_error_detail(error, retryable=False),
                    trace_header=record.trace_header,
                )
            else:
                state.retry(error.code, error.message)
            return
        except TransientError as error:
            state.retry(error.code, error.message)
            return
        except Exception as error:  # noqa: BLE001 - one record's surprise never fails the batch
            state.retry(WorkerErrorCode.INTERNAL_ERROR, f"unexpected {type(error).__name__}")
            return
        state.outcome = Outcome.CREATED
        session_id = session.get("paymentSessionId")
        state.session_id = session_id if isinstance(session_id, str) else None
        state.event = created_event(
            client_token=state.token,
            message_id=record.message_id,
            request=state.request,
            payment_session=session,
            trace_header=record.trace_header,
        )

    # -- stage 2: events --------------------------------------------------------------------------
    def _publish(self, states: list[_State], deadline: float) -> None:
        def on_failure(state: _State, why: str) -> None:
            state.retry(WorkerErrorCode.EVENT_PUBLISH_FAILED, f"event not published: {why}")

        self._in_chunks(states, deadline, self._publisher.publish, lambda s: s.event, on_failure)

    # -- stage 3: dead-letter queue ---------------------------------------------------------------
    def _due_for_dead_letter(self, state: _State) -> bool:
        if state.poison:
            return True
        return state.outcome is Outcome.RETRIED and state.record.receive_count >= self._config.max_receive_count

    def _dead_letter(self, states: list[_State], deadline: float) -> None:
        if not states:
            return
        letters: dict[int, DeadLetter] = {}
        for state in states:
            record = state.record
            letters[id(state)] = dead_letter(
                message_id=record.message_id,
                body=record.body,
                error_code=state.error_code or WorkerErrorCode.INTERNAL_ERROR,
                error_message=state.error_message or "",
                source_queue_arn=record.source_queue_arn,
                client_token=state.token,
                record_attributes=record.message_attributes,
            )
            state.outcome = Outcome.DEAD_LETTERED

        def on_failure(state: _State, why: str) -> None:
            # Handed back: the queue's redrive policy still moves it to the DLQ. Keep the cause.
            state.outcome = Outcome.RETRIED
            state.error_message = truncate(f"{state.error_message}; dead-letter send failed: {why}")

        self._in_chunks(states, deadline, self._dead_letters.send, lambda s: letters[id(s)], on_failure)
        self._announce_dead_lettered(
            [s for s in states if s.outcome is Outcome.DEAD_LETTERED and not s.poison], deadline
        )

    # -- stage 4: best-effort announcement of dead-lettered retried causes ------------------------
    def _announce_dead_lettered(self, states: list[_State], deadline: float) -> None:
        entries: list[EventEntry] = []
        for state in states:
            if state.request is None or state.token is None:
                continue
            entries.append(
                failed_event(
                    client_token=state.token,
                    message_id=state.record.message_id,
                    request=state.request,
                    error=error_detail(
                        state.error_code or WorkerErrorCode.INTERNAL_ERROR,
                        state.error_message or "",
                        retryable=True,
                    ),
                    trace_header=state.record.trace_header,
                )
            )
        # Best effort: the record is already safe in the DLQ, so a failure here changes no outcome.
        self._in_chunks(entries, deadline, self._publisher.publish, lambda e: e, lambda _e, _why: None)

    # -- shared ------------------------------------------------------------------------------------
    def _in_chunks(
        self,
        items: Sequence[T],
        deadline: float,
        call: Callable[..., list[str | None]],
        payload: Callable[[T], Any],
        on_failure: Callable[[T, str], None],
    ) -> None:
        """Run ``call`` over chunks of 10 concurrently; map each per-item failure back to its item."""
        pending: dict[Future[list[str | None]], Sequence[T]] = {}
        for chunk in _chunks(items):
            if self._clock() + self._config.timing.min_stage > deadline:
                for item in chunk:
                    on_failure(item, "no time left in the invocation")
                continue
            pending[self._executor.submit(call, [payload(item) for item in chunk], deadline=deadline)] = chunk
        if not pending:
            return
        done, not_done = wait(pending, timeout=max(0.0, deadline - self._clock()))
        for future in not_done:
            for item in pending[future]:
                on_failure(item, "the call did not finish within the invocation")
        for future in done:
            chunk = pending[future]
            try:
                errors = future.result()
            except Exception as error:  # noqa: BLE001 - an adapter bug fails its chunk, not the batch
                errors = [f"unexpected {type(error).__name__}"] * len(chunk)
            if len(errors) != len(chunk):
                errors = ["the adapter answered for a different number of entries"] * len(chunk)
            for item, why in zip(chunk, errors, strict=True):
                if why is not None:
                    on_failure(item, why)
