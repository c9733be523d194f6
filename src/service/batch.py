"""One SQS batch through the stages of ``domain.outcomes``: the orchestration, apart from the rules.

Standard queues: every record is admitted, then the stages run over the whole batch, each stage's calls
concurrently (API calls one per record; events and dead letters in tens). FIFO queues (CONTRACT section 9):
message groups run concurrently, the records of one group one at a time, each through every stage before the
next starts; once a record of a group is retried, the group's later records are handed back untouched.

Every call starts only with time to finish; what cannot is handed back to SQS, which is always safe because a
redelivery repeats the same call with the same client token.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from typing import Any, Final, Protocol, TypeVar

from domain.errors import ApiError, TransientError, WorkerErrorCode
from domain.outcomes import (
    SESSION_UNKNOWN_ERRORS,
    Answered,
    ApiObservation,
    Created,
    LookupObservation,
    Outcome,
    SessionUnknown,
    Unavailable,
)
from domain.ports import DeadLetterSender, EventPublisher, PaymentsApi, VisibilitySetter
from domain.record_state import AdmissionRules, RecordState, admit
from domain.records import InboundRecord
from domain.report import BatchReport
from domain.retry_delay import RetryDelay, retry_delays
from service.budget import Budget
from service.calls import NOT_STARTED, ConcurrentRunner, InlineRunner, Ran, Runner
from service.idempotency import TokenRecords
from service.record_scope import for_record

MAX_ENTRIES_PER_CALL: Final = 10  # PutEvents and SendMessageBatch both take at most 10

T = TypeVar("T")
T_contra = TypeVar("T_contra", contravariant=True)


class ChunkSender(Protocol[T_contra]):
    """A port's batch call (``EventPublisher.publish``, ``DeadLetterSender.send``): per item ``None`` or why not."""

    def __call__(self, items: Sequence[T_contra], /, *, deadline: float) -> list[str | None]: ...


def chunks(items: Sequence[T], size: int = MAX_ENTRIES_PER_CALL) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def api_observation(ran: Ran[Mapping[str, Any]]) -> ApiObservation:
    """What one ``create_payment_session`` call amounted to."""
    if ran.late == NOT_STARTED:
        return Unavailable(WorkerErrorCode.TIMEOUT, "no time left in the invocation to call the API", called=False)
    if ran.late is not None:
        return Unavailable(WorkerErrorCode.TIMEOUT, "the API call did not finish within the invocation", in_flight=True)
    if isinstance(ran.error, ApiError):
        return Answered(ran.error)
    if isinstance(ran.error, TransientError):
        return Unavailable(ran.error.code, ran.error.message)
    if ran.error is not None:
        return Unavailable(WorkerErrorCode.INTERNAL_ERROR, f"unexpected {type(ran.error).__name__}")
    if ran.value is None:
        return Unavailable(WorkerErrorCode.INTERNAL_ERROR, "the API call gave no session")
    return Created(ran.value)


def lookup_observation(state: RecordState, ran: Ran[Mapping[str, Any]]) -> LookupObservation:
    """What one ``get_payment_session`` of a claimed session amounted to: confirmed, unknown, or unsettled."""
    observed = api_observation(ran)
    if isinstance(observed, Answered) and observed.error.code in SESSION_UNKNOWN_ERRORS:
        return SessionUnknown(f"GetPaymentSession answered {observed.error.code}")
    if isinstance(observed, Created) and state.request is not None:
        why = state.request.mismatch(observed.session)
        if why is not None:
            return SessionUnknown(why)
    return observed


def per_item(ran: Ran[list[str | None]], count: int) -> list[str | None]:
    """One ``None`` (accepted) or reason per item of a chunk sent in one call."""
    if ran.late is not None:
        return [ran.late] * count
    if ran.error is not None:
        return [f"unexpected {type(ran.error).__name__}"] * count
    if ran.value is None or len(ran.value) != count:
        return ["the adapter answered for a different number of entries"] * count
    return ran.value


@dataclass(frozen=True, slots=True)
class ApiStep:
    """One payments API stage: which records it calls for, the call, and what the answer makes of the record."""

    due: Callable[[RecordState], bool]
    call: Callable[[PaymentsApi, RecordState, float], Mapping[str, Any]]
    observe: Callable[[RecordState, Ran[Mapping[str, Any]]], RecordState]


# A record that claims a session is looked up before anything would create one (CONTRACT section 3).
LOOKUP: Final = ApiStep(
    due=lambda state: state.seen.needs_lookup,
    call=lambda api, state, by: api.get_payment_session(state.lookup_params(), deadline=by),
    observe=lambda state, ran: state.looked_up(lookup_observation(state, ran)),
)
CREATE: Final = ApiStep(
    due=lambda state: state.seen.needs_api,
    call=lambda api, state, by: api.create_payment_session(state.create_params(), deadline=by),
    observe=lambda state, ran: state.answered(api_observation(ran)),
)


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    rules: AdmissionRules
    budget: Budget = field(default_factory=Budget)
    retry_delay: RetryDelay = field(default_factory=RetryDelay)  # off unless configured


class BatchService:
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
        wall_clock: Callable[[], float] = time.time,
        visibility: VisibilitySetter | None = None,
        draw: Callable[[], float] = random.random,
        records: TokenRecords | None = None,
    ) -> None:
        self._config = config
        self._records = records  # the idempotency record (IDEMPOTENCY_TABLE_NAME); None: off
        self._api = api
        self._publisher = publisher
        self._dead_letters = dead_letters
        self._clock = clock
        self._wall_clock = wall_clock
        self._visibility = visibility
        self._draw = draw
        min_start = config.budget.min_start
        self._concurrent = ConcurrentRunner(executor, clock, min_start)
        self._inline = InlineRunner(clock, min_start)

    def process(self, records: Sequence[InboundRecord], deadline: float) -> BatchReport:
        """Process one batch; ``deadline`` is the ``clock()`` value at which the invocation must be done."""
        now = int(self._wall_clock() * 1000)
        states = [admit(record, self._config.rules, now) for record in records]
        states = self._by_queue_kind(states, deadline)
        delays = self._hide_retried(states, deadline)
        return BatchReport(
            tuple(replace(s.result(), retry_delay_seconds=delays.get(s.record.message_id)) for s in states)
        )

    def _hide_retried(self, states: list[RecordState], deadline: float) -> dict[str, int]:
        """Hide each retried record for its retry delay (``domain.retry_delay``); returns the delays that were set."""
        if self._visibility is None:
            return {}
        retried = [(s.record, s.first_enqueued) for s in states if s.decision.outcome is Outcome.RETRIED]
        now = int(self._wall_clock() * 1000)
        rules = self._config.rules
        changes = retry_delays(retried, self._config.retry_delay, rules.age_limit, now=now, draw=self._draw)
        failures = self._send_in_chunks(self._concurrent, self._visibility.hide, changes, deadline)
        return {change.message_id: change.seconds for change, why in zip(changes, failures, strict=True) if why is None}

    # -- FIFO: groups concurrently, each group's records one at a time --------------------------------------------
    def _by_queue_kind(self, states: list[RecordState], deadline: float) -> list[RecordState]:
        """Standard records through the stages together; a FIFO queue's records by message group (CONTRACT 9).

        An event carries one queue's records; should it mix a FIFO queue's with a standard queue's, each record
        still gets its own queue's rules: the standard ones are never made serial by the FIFO ones.
        """
        fifo = [index for index, state in enumerate(states) if state.record.is_fifo]
        standard = [index for index, state in enumerate(states) if not state.record.is_fifo]
        out = list(states)
        if standard:
            done = self._stages([states[i] for i in standard], self._concurrent, deadline)
            for index, state in zip(standard, done, strict=True):
                out[index] = state
        if fifo:
            out = self._by_group(out, fifo, deadline)
        return out

    def _by_group(self, states: list[RecordState], fifo: list[int], deadline: float) -> list[RecordState]:
        """The records at ``fifo``: groups (a queue's ``MessageGroupId``) concurrently, each group's in order."""
        groups: dict[tuple[str, str | None], list[int]] = {}
        for index in fifo:
            record = states[index].record
            groups.setdefault((record.source_queue_arn, record.group_id), []).append(index)
        members = list(groups.values())
        ran = self._concurrent.map(
            lambda indexes: self._group([states[i] for i in indexes], deadline), members, deadline=deadline
        )
        out = list(states)
        for indexes, result in zip(members, ran, strict=True):
            finished = result.value or [states[i].held(result.late or "the group did not finish") for i in indexes]
            for index, state in zip(indexes, finished, strict=True):
                out[index] = state
        return out

    def _group(self, states: list[RecordState], deadline: float) -> list[RecordState]:
        out: list[RecordState] = []
        blocked: str | None = None
        for state in states:
            if blocked is not None:
                out.append(state.held(blocked))
                continue
            done = self._stages([state], self._inline, deadline)[0]
            if done.decision.outcome is Outcome.RETRIED:
                blocked = f"an earlier record of its message group ({done.record.message_id}) was retried"
            out.append(done)
        return out

    # -- the stages -----------------------------------------------------------------------------------------------
    def _stages(self, states: list[RecordState], runner: Runner, deadline: float) -> list[RecordState]:
        states = self._api_stage(states, runner, deadline, LOOKUP)
        if self._records is not None:
            states = self._records.claim(states, runner, deadline)
        states = self._api_stage(states, runner, deadline, CREATE)
        if self._records is not None:
            states = self._records.settle(states, runner, deadline)
        states = self._publish(states, runner, deadline)
        states = self._dead_letter(states, runner, deadline)
        self._announce(states, runner, deadline)
        return states

    def _api_stage(
        self,
        states: list[RecordState],
        runner: Runner,
        deadline: float,
        step: ApiStep,
    ) -> list[RecordState]:
        """One payments API call per due record, concurrently, each bounded by the API's share of the time."""
        indexes = [index for index, state in enumerate(states) if step.due(state)]
        if not indexes:
            return states
        budget = self._config.budget
        api_deadline = budget.api_deadline(self._clock(), deadline)

        def call(state: RecordState) -> Mapping[str, Any]:
            with for_record(state.record):  # the call's record, for the tracing around the port
                return step.call(self._api, state, api_deadline)

        ran = runner.map(
            call,
            [states[i] for i in indexes],
            deadline=api_deadline,
            wait_until=budget.api_wait(api_deadline, deadline),
        )
        out = list(states)
        for index, result in zip(indexes, ran, strict=True):
            out[index] = step.observe(states[index], result)
        return out

    def _publish(self, states: list[RecordState], runner: Runner, deadline: float) -> list[RecordState]:
        due = [(index, event) for index, state in enumerate(states) if (event := state.event()) is not None]
        failures = self._send_in_chunks(runner, self._publisher.publish, [event for _, event in due], deadline)
        out = list(states)
        for (index, _), why in zip(due, failures, strict=True):
            if why is not None:
                out[index] = states[index].publish_failed(why)
        return out

    def _dead_letter(self, states: list[RecordState], runner: Runner, deadline: float) -> list[RecordState]:
        due = [index for index, state in enumerate(states) if state.decision.dead_letter]
        letters = [states[index].letter() for index in due]
        failures = self._send_in_chunks(runner, self._dead_letters.send, letters, deadline)
        out = list(states)
        for index, why in zip(due, failures, strict=True):
            if why is not None:
                out[index] = states[index].letter_failed(why)
        return out

    def _announce(self, states: list[RecordState], runner: Runner, deadline: float) -> None:
        # Best effort: the records are already safe in the DLQ, so a failure here changes no outcome.
        entries = [event for state in states if (event := state.announcement()) is not None]
        self._send_in_chunks(runner, self._publisher.publish, entries, deadline)

    def _send_in_chunks(
        self,
        runner: Runner,
        send: ChunkSender[T],
        items: Sequence[T],
        deadline: float,
    ) -> list[str | None]:
        """``send`` over chunks of 10 (concurrently with the concurrent runner): per item ``None`` or why not."""
        parts = list(chunks(items))
        ran = runner.map(lambda part: send(part, deadline=deadline), parts, deadline=deadline)
        return [why for part, result in zip(parts, ran, strict=True) for why in per_item(result, len(part))]
