"""SQS's FIFO rules, as the local event source keeps them on moto's SQS.

SQS: while a message of a group is in flight (received, neither deleted nor visible again), no receive returns
another message of that group; once its messages are visible again, the group goes on from its oldest one.
moto 5 keeps the first rule but not the second: when messages of a group become visible again because their
visibility timeout ran out, its ``ReceiveMessage`` can skip the oldest and return a later one (it still counts
a later, timed-out message as in flight while it looks at the older one; ``tests/e2e/test_event_source.py``
shows it). A message made visible by ``ChangeMessageVisibility`` is served in order. So, on a FIFO queue, the
event source keeps the visibility timers of the messages it hands back itself, and moto never times one out:

* when an invocation hands messages back (or a receive's are held), :meth:`FifoGroups.settle` (or
  :meth:`FifoGroups.admit`) notes when SQS would make them visible again, and the event source hides them in
  moto for :data:`HIDE_CUSHION` seconds longer (:func:`hide_waiting`);
* before each receive (receives are serialized), :meth:`FifoGroups.due` gives the messages whose visibility
  timeout ends before that receive's long poll could, and the event source makes them visible itself
  (``ChangeMessageVisibility`` 0), up to the long poll plus a second before SQS would have;
* when it stops, the messages still waiting get their timers back: visible when SQS would make them so.

Releasing them only before a receive left a gap: a receive that reached moto late (a loaded endpoint), after
their timeout but before the next release, was served the group's later messages first
(``test_a_handed_back_group_stays_in_order_when_a_slow_receive_outlasts_its_visibility_timeout``); the cushion
closes it. Should a receive ever return a message of a group that another invocation is still running (SQS
never does; moto only when a running invocation outlives its records' visibility timeout),
:meth:`FifoGroups.admit` holds it back: it is not given to the handler and comes back like a handed-back
message, so a group never runs twice at once.

Lambda's FIFO limits of the mapping (a batch of at most 10, no batching window) are checked by
:func:`check_fifo_mapping`.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sandbox.aws.deployed import StackError
from sandbox.aws.sqs import change_visibility

LOG: Final = logging.getLogger("sandbox.lambda_.event_source")
FIFO_MAX_BATCH_SIZE: Final = 10
# Seconds a handed-back message stays hidden in moto after SQS would have made it visible: the event source
# releases it first, so a receive would have to reach moto this late to find it timed out.
HIDE_CUSHION: Final = 30


def check_fifo_mapping(batch_size: int, batching_window: float) -> None:
    """Lambda's limits for an SQS FIFO event source; :class:`StackError` names the one broken."""
    if batch_size > FIFO_MAX_BATCH_SIZE:
        raise StackError(f"a FIFO event source takes a BatchSize of at most {FIFO_MAX_BATCH_SIZE}, not {batch_size}")
    if batching_window > 0:
        raise StackError(
            f"a FIFO event source takes no batching window (MaximumBatchingWindowInSeconds {batching_window:g})"
        )


def group_of(message: Mapping[str, Any]) -> str | None:
    """A received message's ``MessageGroupId`` (``None`` on a standard queue)."""
    group = (message.get("Attributes") or {}).get("MessageGroupId")
    return group if isinstance(group, str) else None


def hide_waiting(sqs: Any, queue_url: str, waiting: Sequence[Waiting], *, cushion: float = HIDE_CUSHION) -> None:
    """Hide waiting messages in the queue until ``cushion`` seconds after SQS would make them visible (0: when
    SQS would); a failure is logged, and they come back by the visibility timeout they had."""
    if not waiting:
        return
    now = time.monotonic()
    try:
        change_visibility(sqs, queue_url, [(w.receipt_handle, w.hide_seconds(now, cushion)) for w in waiting])
    except Exception:
        LOG.exception("ChangeMessageVisibilityBatch failed")


@dataclass(frozen=True, slots=True)
class Waiting:
    """A message handed back (or held): invisible until ``visible_at`` (monotonic seconds)."""

    message_id: str
    receipt_handle: str
    visible_at: float

    def hide_seconds(self, now: float, cushion: float = HIDE_CUSHION) -> int:
        """Its visibility timeout, from ``now``, that outlasts the release by ``cushion`` seconds."""
        return math.ceil(max(0.0, self.visible_at - now) + cushion)


class FifoGroups:
    """The groups in flight on one FIFO queue, and the handed-back messages waiting to be visible again.

    ``visibility_timeout``: seconds a received message stays invisible (the receive's, else the queue's).
    Thread-safe: the pollers and the releaser share one.
    """

    def __init__(self, visibility_timeout: float) -> None:
        self.visibility_timeout = visibility_timeout
        self._lock = threading.Lock()
        self._running: dict[str, set[str]] = {}  # group -> message IDs given to a running invocation
        self._waiting: dict[str, Waiting] = {}
        # Waiting, but not hidden in moto yet: never released before that, or the hide (after) would undo it.
        self._unhidden: set[str] = set()

    def admit(
        self, messages: Sequence[Mapping[str, Any]], *, received_at: float
    ) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
        """(the messages to invoke, in the order received; those held back: their group runs elsewhere).

        ``received_at``: monotonic time just before the receive (so ``visible_at`` is never late).
        """
        with self._lock:
            busy = {group for group, ids in self._running.items() if ids}
            run: list[Mapping[str, Any]] = []
            held: list[Mapping[str, Any]] = []
            for message in messages:
                self._waiting.pop(message["MessageId"], None)  # received again: no longer waiting
                self._unhidden.discard(message["MessageId"])
                group = group_of(message)
                if group is not None and group in busy:
                    held.append(message)
                    self._wait(message, received_at)
                    continue
                run.append(message)
                if group is not None:
                    self._running.setdefault(group, set()).add(message["MessageId"])
            return run, held

    def settle(
        self, ran: Iterable[Mapping[str, Any]], handed_back: Iterable[str], *, received_at: float
    ) -> list[Waiting]:
        """An invocation ended: its groups are free, its ``handed_back`` messages wait for their visibility
        (returned, to hide them in moto until they are released).

        Call it before deleting the others, so no receive finds a group free in moto but busy here.
        """
        back = set(handed_back)
        waiting: list[Waiting] = []
        with self._lock:
            for message in ran:
                group = group_of(message)
                if group is not None:
                    ids = self._running.get(group, set())
                    ids.discard(message["MessageId"])
                    if not ids:
                        self._running.pop(group, None)
                if message["MessageId"] in back:
                    waiting.append(self._wait(message, received_at))
        return waiting

    def hidden(self, waiting: Iterable[Waiting]) -> None:
        """These waiting messages are hidden in moto (:func:`hide_waiting` is done): they may be released now."""
        with self._lock:
            self._unhidden.difference_update(w.message_id for w in waiting)

    def due(self, now: float, margin: float) -> list[Waiting]:
        """The hidden waiting messages whose visibility ends within ``margin`` of ``now``; they stop waiting."""
        with self._lock:
            ready = [
                w for w in self._waiting.values() if w.visible_at - margin <= now and w.message_id not in self._unhidden
            ]
            for waiting in ready:
                del self._waiting[waiting.message_id]
            return sorted(ready, key=lambda w: w.visible_at)

    def waiting_of(self, message_ids: Iterable[str]) -> list[Waiting]:
        """The waiting entries of these messages (e.g. those :meth:`admit` held)."""
        with self._lock:
            return [self._waiting[m] for m in message_ids if m in self._waiting]

    def take_waiting(self) -> list[Waiting]:
        """Every waiting message; they stop waiting (the event source stops)."""
        with self._lock:
            waiting = sorted(self._waiting.values(), key=lambda w: w.visible_at)
            self._waiting.clear()
            self._unhidden.clear()
            return waiting

    @property
    def running_groups(self) -> frozenset[str]:
        """Groups with a message in a running invocation."""
        with self._lock:
            return frozenset(group for group, ids in self._running.items() if ids)

    @property
    def waiting(self) -> int:
        """Messages handed back and not yet visible again."""
        with self._lock:
            return len(self._waiting)

    def _wait(self, message: Mapping[str, Any], received_at: float) -> Waiting:
        waiting = Waiting(message["MessageId"], message["ReceiptHandle"], received_at + self.visibility_timeout)
        self._waiting[message["MessageId"]] = waiting
        self._unhidden.add(waiting.message_id)
        return waiting
