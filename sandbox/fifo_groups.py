"""SQS's FIFO rules, as the local event source keeps them on moto's SQS.

SQS: while a message of a group is in flight (received, neither deleted nor visible again), no receive returns
another message of that group; once its messages are visible again, the group goes on from its oldest one.
moto 5 keeps the first rule but not the second: when messages of a group become visible again because their
visibility timeout ran out, its ``ReceiveMessage`` can skip the oldest and return a later one (it still counts
a later, timed-out message as in flight while it looks at the older one; ``tests/e2e/test_event_source.py``
shows it). A message made visible by ``ChangeMessageVisibility`` is served in order. So, on a FIFO queue:

* the event source never lets moto time out a message it handed back: :meth:`FifoGroups.due` gives the
  messages whose visibility timeout is about to end, and the event source makes them visible itself
  (``ChangeMessageVisibility`` 0) a moment before SQS would have;
* should a receive ever return a message of a group that another invocation is still running (SQS never
  does; moto does not either, as far as the tests see), :meth:`FifoGroups.admit` holds it back: it is not
  given to the handler and comes back like a handed-back message, so a group never runs twice at once.

Lambda's FIFO limits of the mapping (a batch of at most 10, no batching window) are checked by
:func:`check_fifo_mapping`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sandbox.deployed import StackError

FIFO_MAX_BATCH_SIZE: Final = 10
RELEASE_MARGIN_SECONDS: Final = 0.5  # released this long before the visibility timeout ends (moto's clock)


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


@dataclass(frozen=True, slots=True)
class Waiting:
    """A message handed back (or held): invisible until ``visible_at`` (monotonic seconds)."""

    message_id: str
    receipt_handle: str
    visible_at: float


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
                group = group_of(message)
                if group is not None and group in busy:
                    held.append(message)
                    self._wait(message, received_at)
                    continue
                run.append(message)
                if group is not None:
                    self._running.setdefault(group, set()).add(message["MessageId"])
            return run, held

    def settle(self, ran: Iterable[Mapping[str, Any]], handed_back: Iterable[str], *, received_at: float) -> None:
        """An invocation ended: its groups are free, its ``handed_back`` messages wait for their visibility.

        Call it before deleting the others, so no receive finds a group free in moto but busy here.
        """
        back = set(handed_back)
        with self._lock:
            for message in ran:
                group = group_of(message)
                if group is not None:
                    ids = self._running.get(group, set())
                    ids.discard(message["MessageId"])
                    if not ids:
                        self._running.pop(group, None)
                if message["MessageId"] in back:
                    self._wait(message, received_at)

    def due(self, now: float, margin: float = RELEASE_MARGIN_SECONDS) -> list[Waiting]:
        """The waiting messages whose visibility ends within ``margin`` of ``now``; they stop waiting."""
        with self._lock:
            ready = [w for w in self._waiting.values() if w.visible_at - margin <= now]
            for waiting in ready:
                del self._waiting[waiting.message_id]
            return sorted(ready, key=lambda w: w.visible_at)

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

    def _wait(self, message: Mapping[str, Any], received_at: float) -> None:
        self._waiting[message["MessageId"]] = Waiting(
            message["MessageId"], message["ReceiptHandle"], received_at + self.visibility_timeout
        )
