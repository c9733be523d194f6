"""Bound every attempt of a boto3 call by the caller's deadline (the rule: ``domain.time_policy.attempt_timeout``).

botocore fires ``before-send`` before each HTTP attempt (retries included) with the prepared request,
whose ``context["read_timeout"]`` overrides the client's read timeout for that attempt. The deadline is
per thread, since the batch runs its calls concurrently on one client.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from adapters.aws_errors import deadline_exceeded
from domain.time_policy import attempt_timeout


class DeadlineGuard:
    """Registered on a client, it caps each attempt's read timeout and refuses attempts past the deadline."""

    def __init__(self, read_timeout: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._read_timeout = read_timeout
        self._clock = clock
        self._local = threading.local()

    def install(self, client: Any) -> None:
        client.meta.events.register("before-send", self._before_send)

    @contextmanager
    def bounded_by(self, deadline: float) -> Iterator[None]:
        previous = getattr(self._local, "deadline", None)
        self._local.deadline = deadline
        try:
            yield
        finally:
            self._local.deadline = previous

    def _before_send(self, request: Any, **_: Any) -> None:
        deadline: float | None = getattr(self._local, "deadline", None)
        if deadline is None:
            return
        timeout = attempt_timeout(self._read_timeout, deadline, self._clock())
        if timeout is None:
            raise deadline_exceeded()
        context = getattr(request, "context", None)
        if isinstance(context, dict):
            context["read_timeout"] = timeout
