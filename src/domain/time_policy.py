"""The worker's time policy, rules and figures in one place: how long an invocation's work may take, how old a
request may be, how long a retried record stays hidden, how long the idempotency record keeps a token.

- **The invocation**: the handler's deadline is the time Lambda gives less a return reserve; the API calls end
  before a *finish reserve* that publishing, dead-lettering and announcing keep (``Budget``); no call starts
  with less than ``Budget.min_start`` left, and no SDK attempt with less than ``MIN_ATTEMPT_SECONDS`` (each
  attempt's read timeout is cut to the time left: ``attempt_timeout``).
- **The request's age** (CONTRACT sections 3 and 6): ``AgeLimit``, counted from the first enqueue.
- **The retry delay** (an extension of CONTRACT section 3, README "Retry delay"): without it a retried record
  comes back after the queue's visibility timeout every time, so its receives run out within minutes. With it
  the worker hides the record itself: the first delay after the first receive, doubled on each receive after,
  scaled by a jitter of +-10 % so that a batch that failed together does not come back together, at most the
  cap, and never past the moment the request reaches its age limit (it then comes back in time to be failed as
  ``RequestExpired``, never later). On a FIFO queue every handed-back record of a message group takes the delay
  of the group's first one: the group comes back together, in its order.
- **The idempotency record** (issue 25): ``RecordPolicy``, the token window and how long an item lives.

The adapters keep only the I/O that applies these rules (``adapters/deadline.py``, ``adapters/visibility.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from domain.ports import VisibilityChange
from domain.records import MILLIS_PER_MINUTE, InboundRecord

# -- the invocation -----------------------------------------------------------------------------------------------

# Kept back from the invocation's remaining time to log, flush metrics and return.
RETURN_RESERVE_SECONDS: Final = 0.3
# No SDK attempt starts with less than this left before its call's deadline.
MIN_ATTEMPT_SECONDS: Final = 0.05


def invocation_deadline(now: float, remaining_millis: int) -> float:
    """The ``clock()`` value (``now`` is its value at the start) by which a batch's work must be done."""
    return now + remaining_millis / 1000 - RETURN_RESERVE_SECONDS


def attempt_timeout(read_timeout: float, deadline: float, now: float) -> float | None:
    """The read timeout of one SDK attempt made at ``now`` for a call bounded by ``deadline``: the client's, cut to
    the time left; ``None`` when too little is left to make the attempt at all."""
    left = deadline - now
    if left < MIN_ATTEMPT_SECONDS:
        return None
    return min(read_timeout, left)


@dataclass(frozen=True, slots=True)
class Budget:
    """Shares of the time left, in seconds.

    After the API calls the worker still publishes events, dead-letters and announces, so it keeps back a
    *finish reserve* that scales with the time the invocation has: ``finish_share`` of it, never more than
    ``finish_max``. An invocation with 30 s left keeps 4 s; one with 2.5 s keeps 0.75 s, so that a short
    timeout still creates what it can instead of handing every record back.
    """

    finish_share: float = 0.3
    finish_max: float = 4.0
    min_start: float = 0.1  # a call does not start with less than this left before its deadline

    def api_deadline(self, now: float, deadline: float) -> float:
        """The ``clock()`` value by which the API calls of this batch (or FIFO record) must be done."""
        left = max(0.0, deadline - now)
        return deadline - min(self.finish_max, left * self.finish_share)

    def api_wait(self, api_deadline: float, deadline: float) -> float:
        """How long past ``api_deadline`` to wait for a call's answer: a call bounded by it ends a little after."""
        return api_deadline + (deadline - api_deadline) / 4


# -- the request's age --------------------------------------------------------------------------------------------

# SQS keeps a message 14 days at the most: no request (nor replay of a token) arrives later than that.
SQS_RETENTION_MAX_MINUTES: Final = 14 * 24 * 60


@dataclass(frozen=True, slots=True)
class AgeLimit:
    """``MAX_REQUEST_AGE_MINUTES`` (CONTRACT section 6): ``0`` turns the check off."""

    max_minutes: int

    def expired(self, first_enqueued: int | None, now: int) -> bool:
        """Whether a request first enqueued at ``first_enqueued`` is too old at ``now`` (epoch milliseconds)."""
        if self.max_minutes == 0 or first_enqueued is None:
            return False
        return now - first_enqueued > self.max_minutes * MILLIS_PER_MINUTE

    def remaining_ms(self, first_enqueued: int | None, now: int) -> int | None:
        """Milliseconds until the request reaches the limit (negative once past it); ``None`` without a limit."""
        if self.max_minutes == 0 or first_enqueued is None:
            return None
        return first_enqueued + self.max_minutes * MILLIS_PER_MINUTE - now


# -- the retry delay ----------------------------------------------------------------------------------------------

SQS_MAX_VISIBILITY_SECONDS: Final = 43_200  # ChangeMessageVisibility's maximum: 12 hours
JITTER: Final = 0.1  # each delay is its nominal value x a uniform draw in [0.9, 1.1]
_MAX_DOUBLINGS: Final = 30  # 2**30 x any first delay is past every cap: no larger powers are computed


@dataclass(frozen=True, slots=True)
class RetryDelay:
    """``first_seconds`` after the first receive, doubling; at most ``max_seconds``. ``first_seconds`` 0: off."""

    first_seconds: int = 0
    max_seconds: int = 0

    @property
    def enabled(self) -> bool:
        return self.first_seconds > 0

    def nominal(self, receive_count: int) -> int:
        """The delay after receive ``receive_count`` before jitter: ``first x 2^(n-1)``, at most the cap."""
        doublings = min(max(receive_count, 1) - 1, _MAX_DOUBLINGS)
        return min(self.first_seconds * (1 << doublings), self.cap)

    @property
    def cap(self) -> int:
        return min(self.max_seconds, SQS_MAX_VISIBILITY_SECONDS)

    def jittered(self, receive_count: int, draw: float) -> int:
        """The nominal delay scaled by ``0.9 + 0.2 x draw`` (``draw`` in [0, 1)), at most the cap."""
        return min(round(self.nominal(receive_count) * (1 - JITTER + 2 * JITTER * draw)), self.cap)


def retry_delays(
    retried: Sequence[tuple[InboundRecord, int | None]],
    delay: RetryDelay,
    age_limit: AgeLimit,
    *,
    now: int,
    draw: Callable[[], float],
) -> list[VisibilityChange]:
    """The visibility of each retried record (with its first enqueue, epoch ms), in batch order.

    A record without a receipt handle is left to the queue's visibility timeout. ``now`` is epoch milliseconds.
    """
    if not delay.enabled:
        return []
    group_delays: dict[str, int] = {}
    changes: list[VisibilityChange] = []
    for record, first_enqueued in retried:
        if not record.receipt_handle:
            continue
        if record.is_fifo:
            key = record.group_id or ""
            if key not in group_delays:
                group_delays[key] = delay.jittered(record.receive_count, draw())
            seconds = group_delays[key]
        else:
            seconds = delay.jittered(record.receive_count, draw())
        remaining = age_limit.remaining_ms(first_enqueued, now)
        if remaining is not None:
            seconds = min(seconds, max(remaining, 0) // 1000)
        changes.append(VisibilityChange(record.message_id, record.receipt_handle, record.source_queue_arn, seconds))
    return changes


# -- the idempotency record ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordPolicy:
    """``CLIENT_TOKEN_WINDOW_MINUTES``, and ``MAX_REQUEST_AGE_MINUTES`` for how long an item must live."""

    window_minutes: float = 60.0
    age_limit: AgeLimit = field(default_factory=lambda: AgeLimit(1440))

    @property
    def window_ms(self) -> int:
        return round(self.window_minutes * MILLIS_PER_MINUTE)

    @property
    def lifetime_minutes(self) -> int:
        """How long after its first attempt a token's replay can arrive: the age limit, else SQS's retention."""
        return self.age_limit.max_minutes or SQS_RETENTION_MAX_MINUTES

    def expires_at(self, first_attempt_at: int) -> int:
        """The item's TTL (epoch seconds): no replay of its token arrives later, and its window is over."""
        lifetime_ms = max(self.lifetime_minutes * MILLIS_PER_MINUTE, self.window_ms)
        return -(-(first_attempt_at + lifetime_ms) // 1000)
