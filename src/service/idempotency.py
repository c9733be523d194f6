"""The idempotency record as two stages of a batch (issue 25): claim the token before the API, settle it after.

- **claim** (after the lookup, before the API stage): every record that would call the API writes its token's
  *attempted* item, or finds the item another delivery wrote and does what ``domain.idempotency.judge`` says;
  a request too old to send only reads the item (a created one is announced again, an attempted one is
  dead-lettered ``OutcomeUnknown``).
- **settle** (after the API stage): the item becomes *created*, is removed, stays *attempted* with its holder
  released (the call is over, its outcome unknown), or stays held (the call may still be in flight)
  (``domain.idempotency.settlement``).

A refusal of DynamoDB before the call is the record's ``Refused`` (retried, the API not called); after the call,
it changes no outcome and is reported (``IdempotencyRecordFailures``): the item stays *attempted*, the safe side.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Final

from domain.errors import ApiError
from domain.events import session_json
from domain.idempotency import Settlement, TakeOver, judge, settlement
from domain.outcomes import Created
from domain.record_state import RecordState
from domain.time_policy import RecordPolicy
from domain.token_record import (
    Absent,
    Holding,
    InProgress,
    ItemState,
    RecordObservation,
    Refused,
    TokenItem,
    TokenTable,
    request_hash,
)
from service.calls import LATE_REASONS, Ran, Runner
from service.stages import Stage, each

NO_TIME: Final = "NoTimeLeft"


def _refused(ran: Ran[Any]) -> Refused:
    if isinstance(ran.error, ApiError):
        return Refused(ran.error)
    if ran.error is not None:
        return Refused(ApiError(type(ran.error).__name__, "unexpected"))
    return Refused(
        ApiError(NO_TIME, LATE_REASONS[ran.late] if ran.late is not None else "the record's request did not finish")
    )


class TokenRecords:
    """The record's two stages over one ``TokenTable``: ``claim`` before the API stage, ``settle`` after it."""

    def __init__(
        self,
        table: TokenTable,
        policy: RecordPolicy,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._table = table
        self._policy = policy
        self._clock = clock
        self._wall_clock = wall_clock
        # Each record that would call the API (or is too old to) learns what its token's item says.
        self.claim: Final[Stage[RecordState, Ran[RecordObservation]]] = Stage(
            each(lambda state: state if _due(state) else None),
            self._claim_all,
            lambda state, _, ran: state.recorded(ran.value if ran.value is not None else _refused(ran)),
        )
        # Each held item becomes created, is removed, or stays attempted, as its API call ended.
        self.settle: Final[Stage[tuple[RecordState, Settlement], Ran[None]]] = Stage(
            each(_settling),
            lambda runner, due, deadline: runner.map(self._settle, due, deadline=deadline),
            _settled,
        )

    def _now(self) -> int:
        return int(self._wall_clock() * 1000)

    # -- before the API --------------------------------------------------------------------------------------------
    def _claim_all(
        self, runner: Runner, states: Sequence[RecordState], deadline: float
    ) -> list[Ran[RecordObservation]]:
        holder = self._now() + max(0, int((deadline - self._clock()) * 1000))
        return runner.map(lambda state: self._claim(state, holder), states, deadline=deadline)

    def _claim(self, state: RecordState, holder: int) -> RecordObservation:
        if state.request is None or state.token is None:
            raise TypeError("a record without a request reached the record stage")
        fingerprint, now, sendable = request_hash(state.request), self._now(), not state.seen.expired
        if sendable:
            attempt = TokenItem(
                state.token, ItemState.ATTEMPTED, fingerprint, now, holder, self._policy.expires_at(now)
            )
            found = self._table.attempt(attempt)
            if found is None:
                return Holding(attempt)
        else:
            found = self._table.read(state.token)
            if found is None:
                return Absent.ABSENT
        verdict = judge(found, request_hash=fingerprint, now=now, window_ms=self._policy.window_ms, sendable=sendable)
        if not isinstance(verdict, TakeOver):
            return verdict
        current = self._table.take_over(verdict.item, holder)
        if current is None:
            return Holding(replace(verdict.item, holder_deadline=holder))
        # Another delivery took it over first (or settled it) between the two requests: judge what it left.
        again = judge(current, request_hash=fingerprint, now=now, window_ms=self._policy.window_ms, sendable=True)
        return InProgress(current.holder_deadline) if isinstance(again, TakeOver) else again

    # -- after the API ---------------------------------------------------------------------------------------------
    def _settle(self, due: tuple[RecordState, Settlement]) -> None:
        state, what = due
        held, api = state.seen.record, state.seen.api
        if not isinstance(held, Holding):
            raise TypeError("a record without a held item reached the settle stage")
        item = held.item
        if what is Settlement.CREATED and isinstance(api, Created):
            self._table.created(item, session_json(api.session))
        elif what is Settlement.REMOVE:
            self._table.remove(item)
        elif what is Settlement.RELEASE:  # attempted still; one conditional write, only while this delivery holds it
            self._table.take_over(item, self._now())


def _settling(state: RecordState) -> tuple[RecordState, Settlement] | None:
    """A record that holds its token's item once its API call is over, and what the item becomes."""
    if not isinstance(state.seen.record, Holding) or state.seen.api is None:
        return None
    what = settlement(state.seen.api)
    return None if what is Settlement.KEEP else (state, what)


def _settled(state: RecordState, _: tuple[RecordState, Settlement], ran: Ran[None]) -> RecordState:
    if ran.error is None and ran.late is None:
        return state
    return state.record_settle_failed(_refused(ran).report.message)


def _due(state: RecordState) -> bool:
    """A record that would call the API, or one too old to that may have been sent before."""
    seen = state.seen
    if seen.record is not None:
        return False
    if seen.needs_api:
        return True
    return seen.expired and seen.poison is None and seen.held is None and not seen.claim_open and seen.created is None
