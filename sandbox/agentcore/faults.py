"""Faults of the fake API: random ones (latency, throttling, 5xx, seeded) and scripted ones (an operation's next calls).

:class:`FaultSchedule` decides the fate of each call; the state (:mod:`sandbox.agentcore.state`) holds the
lock and counts what was injected.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sandbox.agentcore.operation import INTERNAL_ERROR, THROTTLING, ErrorAnswer, OperationSpec
from sandbox.agentcore.shapes import validate_value


def _is_rate(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0.0 <= value <= 1.0


@dataclass(frozen=True)
class FaultSettings:
    """Random faults applied to every call of every operation the fake serves.

    ``latency_ms`` is waited before every answer; ``throttle_rate`` and ``error_rate`` are the probabilities
    of a 429 ``ThrottlingException`` and a 500 ``InternalServerException``; ``seed`` makes them repeatable.
    """

    latency_ms: float = 0
    throttle_rate: float = 0.0
    error_rate: float = 0.0
    seed: int | None = None
    # How long the fake remembers a clientToken after its session was created (the service's token window);
    # null: for ever. A token sent again later creates a new session, as a service past its window would.
    token_window_ms: float | None = None

    def __post_init__(self) -> None:
        latency = self.latency_ms
        if isinstance(latency, bool) or not isinstance(latency, int | float) or not 0 <= latency < math.inf:
            raise ValueError(f"latency_ms must be a non-negative number, not {latency!r}")
        for name in ("throttle_rate", "error_rate"):
            if not _is_rate(getattr(self, name)):
                raise ValueError(f"{name} must be a number between 0 and 1, not {getattr(self, name)!r}")
        if self.throttle_rate + self.error_rate > 1.0 + 1e-9:
            raise ValueError("throttle_rate + error_rate must not exceed 1")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)):
            raise ValueError(f"seed must be an integer or null, not {self.seed!r}")
        window = self.token_window_ms
        if window is not None and (isinstance(window, bool) or not isinstance(window, int | float) or window < 0):
            raise ValueError(f"token_window_ms must be a non-negative number or null, not {window!r}")

    def as_dict(self) -> dict[str, Any]:
        """The settings as a JSON-ready dict."""
        return dataclasses.asdict(self)


@dataclass
class ScriptEntry:
    remaining: int
    delay_ms: float
    error: ErrorAnswer | None
    commit_first: bool = False  # the late-commit fault: the session is created, then the answer is delayed


def scripted_error(
    spec: OperationSpec, code: str, status: int | None, message: str | None, members: Mapping[str, Any] | None
) -> ErrorAnswer:
    """The error of :meth:`SandboxState.fail_next` for an operation, checked against its model (or ``ValueError``)."""
    extra = dict(members or {})
    text = message if message is not None else f"{code} injected by the payments sandbox"
    shape = spec.error_shapes.get(code)
    if shape is None:
        if status is None:
            raise ValueError(f"{code} is not an error of {spec.name}: give its HTTP status")
    else:
        unknown = set(extra) - set(shape.members)
        broken = validate_value(shape, {"message": text, **extra})
        if unknown or broken:
            problems = [f"unknown member {n}" for n in sorted(unknown)]
            problems += [f"{v.name}: {v.message}" for v in broken]
            raise ValueError(f"{code} does not fit the model: {'; '.join(problems)}")
    resolved = status if status is not None else spec.error_statuses[code]
    if not 300 <= resolved <= 599:
        raise ValueError(f"status must be an HTTP error status, not {resolved}")
    return ErrorAnswer(code, resolved, text, extra)


def script_entry(error: ErrorAnswer | None, times: int, delay_ms: float, commit_first: bool = False) -> ScriptEntry:
    """A scripted fault for the next ``times`` calls; ``ValueError`` for a count or a delay out of range."""
    if isinstance(times, bool) or not isinstance(times, int) or times < 1:
        raise ValueError(f"times must be a positive integer, not {times!r}")
    if isinstance(delay_ms, bool) or not isinstance(delay_ms, int | float) or not 0 <= delay_ms < math.inf:
        raise ValueError(f"delay_ms must be a non-negative number, not {delay_ms!r}")
    if not isinstance(commit_first, bool) or (commit_first and error is not None):
        raise ValueError("commit_first is a boolean, for a delay without an error")
    return ScriptEntry(times, delay_ms, error, commit_first)


@dataclass(frozen=True)
class Fate:
    """What the schedule decided for one call: a delay, an error (or none), whether a script delayed it."""

    delay_ms: float
    error: ErrorAnswer | None
    scripted_delay: bool
    commit_first: bool = False


class FaultSchedule:
    """Fault settings, their seeded random sequence and the scripts; not thread-safe (the state locks it).

    Scripts are queued per operation (and, within one, per client token or for any call of it).
    """

    def __init__(self, settings: FaultSettings) -> None:
        self.settings = settings
        self._rng = random.Random(settings.seed)
        self._queues: dict[tuple[str, str | None], deque[ScriptEntry]] = {}

    def change(self, **changes: Any) -> FaultSettings:
        """New settings; giving ``seed`` (even unchanged) restarts the random sequence."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(FaultSettings)}
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        self.settings = dataclasses.replace(self.settings, **changes)
        if "seed" in changes:
            self._rng = random.Random(self.settings.seed)
        return self.settings

    def add(self, entry: ScriptEntry, operation: str, client_token: str | None) -> None:
        """Script ``entry`` for the calls of ``operation`` with ``client_token``, or for any call of it."""
        self._queues.setdefault((operation, client_token), deque()).append(entry)

    def pending(self, operation: str | None = None) -> int:
        """Scripted uses left (for one operation, or for all)."""
        return sum(
            entry.remaining
            for (name, _), queue in self._queues.items()
            if operation is None or name == operation
            for entry in queue
        )

    def next_fate(self, spec: OperationSpec, client_token: str | None) -> Fate:
        """The fate of a call of ``spec``'s operation: its script's (the token's first), else one random draw per call.

        A scripted call gets what its script says and no random fault on top: a delay alone is an answer.
        """
        draw = self._rng.random()
        settings = self.settings
        delay_ms = settings.latency_ms
        error: ErrorAnswer | None = None
        scripted = self._pop(spec.name, client_token)
        if scripted is not None:
            delay_ms += scripted.delay_ms
            error = scripted.error
        if scripted is None and draw < settings.throttle_rate:
            error = spec.error(THROTTLING, "Rate exceeded")
        elif scripted is None and draw < settings.throttle_rate + settings.error_rate:
            error = spec.error(INTERNAL_ERROR, "An internal error occurred")
        commit_first = scripted is not None and scripted.commit_first and error is None
        return Fate(delay_ms, error, scripted is not None and bool(scripted.delay_ms), commit_first)

    def _pop(self, operation: str, client_token: str | None) -> ScriptEntry | None:
        keys: list[tuple[str, str | None]] = [(operation, client_token)] if client_token is not None else []
        keys.append((operation, None))
        for key in keys:
            queue = self._queues.get(key)
            if queue:
                entry = queue[0]
                entry.remaining -= 1
                if entry.remaining == 0:
                    queue.popleft()
                return entry
        return None
