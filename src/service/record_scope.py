"""Which record a port call is made for, for whoever wraps the ports (the handlers' tracing).

The batch runs each record's payments call on the executor's threads; ``for_record`` marks the call with its
record in the calling thread's context only, so concurrent calls never see each other's record.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from domain.records import InboundRecord

_current: ContextVar[InboundRecord | None] = ContextVar("record", default=None)


@contextmanager
def for_record(record: InboundRecord) -> Iterator[None]:
    """Inside the block, ``current_record()`` is ``record``."""
    token = _current.set(record)
    try:
        yield
    finally:
        _current.reset(token)


def current_record() -> InboundRecord | None:
    """The record of the port call being made, or ``None`` outside ``for_record``."""
    return _current.get()
