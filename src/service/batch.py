"""One SQS batch through the stages of ``domain.outcomes``: the orchestration, apart from the rules.

Standard queues: every record is admitted, then the stages run over the whole batch, each stage's calls
concurrently (API calls one per record; events and dead letters in tens). FIFO queues (CONTRACT section 9):
message groups run concurrently, the records of one group one at a time, each through every stage before the
next starts; once a record of a group is retried, the group's later records are handed back untouched.

The stages are data (``service/stages.py``), in their fixed order: look up a claimed session, claim the token
(with the idempotency record), call the API, settle the token, publish, dead-letter, announce; then, over the
whole batch, hide the retried records for their retry delay. Every call starts only with time to finish; what
cannot is handed back to SQS, which is always safe because a redelivery repeats the same call with the same
client token.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Final

from domain.errors import ApiError, Reach, WorkerErrorCode
from domain.outcomes import SESSION_UNKNOWN_ERRORS, ApiObservation, Created, LookupObservation, Outcome, SessionUnknown
from domain.ports import DeadLetterSender, EventPublisher, PaymentsApi, VisibilityChange, VisibilitySetter
from domain.record_state import AdmissionRules, RecordState, admit
from domain.records import InboundRecord
from domain.report import BatchReport
from domain.time_policy import Budget, RetryDelay, retry_delays
from service.calls import LATE_REASONS, Ran, Runner
from service.idempotency import TokenRecords
from service.stages import Stage, each, in_tens, per_record

# What a payments API call that did not run to its end amounts to (``Ran.late``).
_API_LATE: Final[Mapping[Reach, str]] = {
    Reach.NOT_SENT: "no time left in the invocation to call the API",
    Reach.IN_FLIGHT: "the API call did not finish within the invocation",
}


def api_observation(ran: Ran[Mapping[str, Any]]) -> ApiObservation:
    """What one ``create_payment_session`` call amounted to."""
    if ran.late is not None:
        return ApiError(WorkerErrorCode.TIMEOUT, _API_LATE[ran.late], reach=ran.late)
    if isinstance(ran.error, ApiError):
        return ran.error
    if ran.error is not None:
        return ApiError(
            WorkerErrorCode.INTERNAL_ERROR, f"unexpected {type(ran.error).__name__}", reach=Reach.UNANSWERED
        )
    if ran.value is None:
        return ApiError(WorkerErrorCode.INTERNAL_ERROR, "the API call gave no session", reach=Reach.UNANSWERED)
    return Created(ran.value)


def lookup_observation(state: RecordState, ran: Ran[Mapping[str, Any]]) -> LookupObservation:
    """What one ``get_payment_session`` of a claimed session amounted to: confirmed, unknown, or unsettled."""
    observed = api_observation(ran)
    if isinstance(observed, ApiError) and observed.reach is Reach.ANSWERED and observed.code in SESSION_UNKNOWN_ERRORS:
        return SessionUnknown(f"GetPaymentSession answered {observed.code}")
    if isinstance(observed, Created) and state.request is not None:
        why = state.request.mismatch(observed.session)
        if why is not None:
            return SessionUnknown(why)
    return observed


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
        records: TokenRecords | None = None,  # the idempotency record (IDEMPOTENCY_TABLE_NAME); None: off
    ) -> None:
        self._config = config
        self._publisher = publisher  # the port as wired (a test makes it fail)
        self._wall_clock = wall_clock
        self._draw = draw
        min_start = config.budget.min_start
        self._concurrent = Runner(clock, min_start, executor)
        self._inline = Runner(clock, min_start)
        self._stages = _stages(config.budget, clock, api, publisher, dead_letters, records)
        self._hide: Stage[VisibilityChange, str | None] | None = (
            Stage(self._retry_delays, in_tens(lambda part, by: visibility.hide(part, deadline=by)), _hidden)
            if visibility is not None
            else None
        )

    def process(self, records: Sequence[InboundRecord], deadline: float) -> BatchReport:
        """Process one batch; ``deadline`` is the ``clock()`` value at which the invocation must be done."""
        now = int(self._wall_clock() * 1000)
        states = [admit(record, self._config.rules, now) for record in records]
        states = self._by_queue_kind(states, deadline)
        if self._hide is not None:
            states = self._hide.run(states, self._concurrent, deadline)
        return BatchReport(tuple(states))

    def _retry_delays(self, states: Sequence[RecordState]) -> list[tuple[int, VisibilityChange]]:
        """Each retried record with a receipt handle, and its retry delay (``domain.time_policy``; none when off)."""
        config = self._config
        if not config.retry_delay.enabled:
            return []
        retried = [
            index
            for index, state in enumerate(states)
            if state.decision.outcome is Outcome.RETRIED and state.record.receipt_handle
        ]
        now = int(self._wall_clock() * 1000)
        changes = retry_delays(
            [(states[i].record, states[i].first_enqueued) for i in retried],
            config.retry_delay,
            config.rules.age_limit,
            now=now,
            draw=self._draw,
        )
        return list(zip(retried, changes, strict=True))

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
            done = self._run_stages([states[i] for i in standard], self._concurrent, deadline)
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
            why = LATE_REASONS[result.late] if result.late is not None else "the group did not finish"
            finished = result.value or [states[i].held(why) for i in indexes]
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
            done = self._run_stages([state], self._inline, deadline)[0]
            if done.decision.outcome is Outcome.RETRIED:
                blocked = f"an earlier record of its message group ({done.record.message_id}) was retried"
            out.append(done)
        return out

    # -- the stages -----------------------------------------------------------------------------------------------
    def _run_stages(self, states: list[RecordState], runner: Runner, deadline: float) -> list[RecordState]:
        for stage in self._stages:
            states = stage.run(states, runner, deadline)
        return states


def _hidden(state: RecordState, change: VisibilityChange, why: str | None) -> RecordState:
    return state.delayed(change.seconds) if why is None else state


def _stages(
    budget: Budget,
    clock: Callable[[], float],
    api: PaymentsApi,
    publisher: EventPublisher,
    dead_letters: DeadLetterSender,
    records: TokenRecords | None,
) -> tuple[Stage[Any, Any], ...]:
    """The stages of every record, in their order (CONTRACT section 3, ``domain.outcomes``)."""

    def publish(part: Sequence[Any], by: float) -> list[str | None]:
        return publisher.publish(part, deadline=by)

    # A record that claims a session is looked up before anything would create one (CONTRACT section 3).
    lookup = Stage(
        each(lambda state: state if state.seen.needs_lookup else None),
        per_record(lambda state, by: api.get_payment_session(state.lookup_params(), deadline=by), clock, budget),
        lambda state, _, ran: state.looked_up(lookup_observation(state, ran)),
    )
    create = Stage(
        each(lambda state: state if state.seen.needs_api else None),
        per_record(lambda state, by: api.create_payment_session(state.create_params(), deadline=by), clock, budget),
        lambda state, _, ran: state.answered(api_observation(ran)),
    )
    outcome_event = Stage(
        each(RecordState.event),
        in_tens(publish),
        lambda state, _, why: state if why is None else state.failed_to_publish(why),
    )
    dead_letter = Stage(
        each(lambda state: state.letter() if state.decision.dead_letter else None),
        in_tens(lambda part, by: dead_letters.send(part, deadline=by)),
        lambda state, _, why: state if why is None else state.failed_to_dead_letter(why),
    )
    # Best effort: the records are already safe in the DLQ, so a failure here changes no outcome.
    announce = Stage(each(RecordState.announcement), in_tens(publish), lambda state, _, why: state)
    if records is None:
        return (lookup, create, outcome_event, dead_letter, announce)
    return (lookup, records.claim, create, records.settle, outcome_event, dead_letter, announce)
