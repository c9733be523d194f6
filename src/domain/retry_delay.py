"""How long a retried record stays hidden before SQS hands it out again (an extension of CONTRACT section 3).

Without it a retried record comes back after the queue's visibility timeout every time, so its receives
run out within minutes. With it the worker sets the record's visibility itself: the first delay after the
first receive, doubled on each receive after, scaled by a jitter of +-10 % so that a batch that failed
together does not come back together, at most the cap, and never past the moment the request reaches its age
limit (it then comes back in time to be failed as ``RequestExpired``, never later). On a FIFO queue every
handed-back record of a message group takes the delay of the group's first one: the group comes back
together, in its order. The figures of the curve are in README and docs/DEPLOY.md ("Retry delay").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from domain.records import AgeLimit, InboundRecord

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


@dataclass(frozen=True, slots=True)
class VisibilityChange:
    """Hide one received message for ``seconds`` from now (``ChangeMessageVisibility`` on its receipt handle)."""

    message_id: str
    receipt_handle: str
    queue_arn: str
    seconds: int


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
