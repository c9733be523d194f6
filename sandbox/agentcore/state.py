"""The fake's state: sessions (idempotent by client token), counters, and the faults in force; thread-safe."""

from __future__ import annotations

import copy
import json
import secrets
import string
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sandbox.agentcore.faults import FaultSchedule, FaultSettings, script_entry, scripted_error
from sandbox.agentcore.operation import INTERNAL_ERROR, VALIDATION, ErrorAnswer, OperationSpec
from sandbox.agentcore.shapes import validate_value
from sandbox.agentcore.wire import Rejected, timestamp

SESSION_ID_PREFIX: Final = "payment-session-"
SESSION_ID_ALPHABET: Final = string.ascii_letters + string.digits
SESSION_ID_RANDOM_CHARS: Final = 15


@dataclass(frozen=True)
class CallPlan:
    """How the server is to answer one call: after a delay, with an error or not, unless abandoned first."""

    delay_seconds: float
    error: ErrorAnswer | None
    generation: int
    abandoned: threading.Event  # set when a reset or a stop abandons the calls in flight
    commit_first: bool = False  # create the session before the delay (the late-commit fault)


class Abandoned(Exception):
    """Raised for a call that began before a reset or stop: it gets no answer and creates nothing."""


@dataclass(frozen=True)
class _Session:
    session_id: str
    client_token: str | None
    request: dict[str, Any]
    fingerprint: str
    response: dict[str, Any]
    created_at: str
    created_monotonic: float = 0.0  # for the token window


class SandboxState:
    """Sessions, fault settings, scripted faults and counters of one fake; every method is thread-safe."""

    def __init__(self, spec: OperationSpec, faults: FaultSettings | None = None) -> None:
        self._spec = spec
        self._initial_faults = faults or FaultSettings()
        self._lock = threading.Lock()
        self._generation = 0
        self._abandon = threading.Event()
        self._reset_locked()

    def _abandon_in_flight_locked(self) -> None:
        self._abandon.set()
        self._abandon = threading.Event()
        self._generation += 1

    def abandon_in_flight(self) -> None:
        with self._lock:
            self._abandon_in_flight_locked()

    def _reset_locked(self) -> None:
        self._abandon_in_flight_locked()
        self._schedule = FaultSchedule(self._spec, self._initial_faults)
        self._sessions: list[_Session] = []
        self._by_token: dict[str, _Session] = {}
        self._session_ids: set[str] = set()
        self._calls = 0
        self._calls_by_token: Counter[str] = Counter()
        self._replays = 0
        self._faults_by_code: Counter[str] = Counter()
        self._scripted_delays = 0
        self._responses: Counter[int] = Counter()
        self._connections = 0

    # -- configuration -----------------------------------------------------------------------------------

    @property
    def faults(self) -> FaultSettings:
        """The fault settings in force."""
        with self._lock:
            return self._schedule.settings

    def set_faults(self, **changes: Any) -> FaultSettings:
        """Change some fault settings (``latency_ms``, ``throttle_rate``, ``error_rate``, ``seed``).

        Giving ``seed`` (even unchanged) restarts the random sequence. Returns the new settings; raises
        ``ValueError`` for unknown names or invalid values.
        """
        with self._lock:
            return self._schedule.change(**changes)

    def fail_next(
        self,
        code: str,
        *,
        times: int = 1,
        client_token: str | None = None,
        status: int | None = None,
        message: str | None = None,
        members: Mapping[str, Any] | None = None,
        delay_ms: float = 0,
    ) -> None:
        """Answer the next ``times`` calls (only those with ``client_token``, when given) with an error.

        For an error the model declares (``AccessDeniedException``, ``ValidationException``, ...) the status
        defaults to the modelled one and ``members`` (e.g. ``{"reason": "FieldValidationFailed"}``) are
        checked against the error's shape. Any other code (e.g. ``ServiceUnavailableException``) needs an
        explicit ``status``. ``delay_ms`` delays the error answer. Scripted faults are consumed before the
        random ones, token-specific ones before the others; a faulted call creates nothing.
        """
        entry = script_entry(scripted_error(self._spec, code, status, message, members), times, delay_ms)
        with self._lock:
            self._schedule.add(entry, client_token)

    def delay_next(
        self, delay_ms: float, *, times: int = 1, client_token: str | None = None, commit_first: bool = False
    ) -> None:
        """Delay the next ``times`` calls (only those with ``client_token``, when given), then answer them.

        ``commit_first``: the session is created before the delay (a caller that gave up has a session).
        """
        entry = script_entry(None, times, delay_ms, commit_first)
        with self._lock:
            self._schedule.add(entry, client_token)

    def reset(self) -> None:
        """Back to the just-started state: no sessions or scripts, zero counters, the initial fault settings.

        Calls still in flight (e.g. held by a delay) are abandoned: their connection is closed without an
        answer and they create nothing, so nothing from before the reset leaks into what follows it.
        """
        with self._lock:
            self._reset_locked()

    # -- observation -------------------------------------------------------------------------------------

    def snapshot(self, *, include_sessions: bool = True) -> dict[str, Any]:
        """A JSON-ready copy of the counters and records.

        Keys: ``calls`` (``CreatePaymentSession`` requests that passed authentication),
        ``calls_by_client_token``, ``sessions_created``, ``idempotent_replays``, ``second_sessions`` (sessions of
        a token beyond its first: its token window had passed), ``sessions`` (each with
        ``payment_session_id``, ``client_token``, ``request`` and ``created_at``; an empty list unless
        ``include_sessions``), ``faults`` (injected errors, random or scripted, by code), ``scripted_delays``,
        ``scripted_pending`` (scripted uses left), ``responses_by_status`` (every answer on the API's routes,
        refused ones included), ``connections_opened`` and ``fault_settings``.
        """
        with self._lock:
            pending = self._schedule.pending
            return {
                "calls": self._calls,
                "calls_by_client_token": dict(self._calls_by_token),
                "sessions_created": len(self._sessions),
                "idempotent_replays": self._replays,
                "second_sessions": sum(
                    n - 1 for n in Counter(s.client_token for s in self._sessions if s.client_token).values()
                ),
                "sessions": [
                    {
                        "payment_session_id": s.session_id,
                        "client_token": s.client_token,
                        "request": copy.deepcopy(s.request),
                        "created_at": s.created_at,
                    }
                    for s in (self._sessions if include_sessions else [])
                ],
                "faults": dict(self._faults_by_code),
                "scripted_delays": self._scripted_delays,
                "scripted_pending": pending,
                "responses_by_status": {str(k): v for k, v in sorted(self._responses.items())},
                "connections_opened": self._connections,
                "fault_settings": self._schedule.settings.as_dict(),
            }

    # -- used by the request handler -----------------------------------------------------------------------

    def record_response(self, status: int) -> None:
        with self._lock:
            self._responses[status] += 1

    def record_connection(self) -> None:
        with self._lock:
            self._connections += 1

    def begin_call(self, client_token: str | None) -> CallPlan:
        with self._lock:
            self._calls += 1
            if client_token is not None:
                self._calls_by_token[client_token] += 1
            fate = self._schedule.next_fate(client_token)
            self._scripted_delays += fate.scripted_delay
            if fate.error is not None:
                self._faults_by_code[fate.error.code] += 1
            return CallPlan(fate.delay_ms / 1000.0, fate.error, self._generation, self._abandon, fate.commit_first)

    def create_session(self, params: dict[str, Any], generation: int) -> dict[str, Any]:
        spec = self._spec
        token_member = spec.token_member
        token = params.get(token_member) if token_member else None
        fingerprint = json.dumps(
            {k: v for k, v in params.items() if k != token_member}, sort_keys=True, ensure_ascii=False
        )
        with self._lock:
            if generation != self._generation:
                raise Abandoned
            if token is not None and token in self._by_token and self._forgotten(self._by_token[token]):
                del self._by_token[token]  # past the token window: forgotten, as the service would
            if token is not None and token in self._by_token:
                earlier = self._by_token[token]
                if earlier.fingerprint != fingerprint:
                    raise Rejected(
                        spec.error(
                            VALIDATION,
                            f"The parameters differ from those of an earlier request with the same {token_member}",
                            {"reason": "IdempotentParameterMismatchException"},
                        )
                    )
                self._replays += 1
                return earlier.response
            session_id = self._new_session_id()
            created_at = timestamp(datetime.now(UTC))
            response = self._session_response(session_id, params, created_at)
            session = _Session(
                session_id, token, copy.deepcopy(params), fingerprint, response, created_at, time.monotonic()
            )
            self._sessions.append(session)
            self._session_ids.add(session_id)
            if token is not None:
                self._by_token[token] = session
            return response

    def _forgotten(self, session: _Session) -> bool:
        """Whether ``session``'s token is past the token window (``token_window_ms``); never without one."""
        window = self._schedule.settings.token_window_ms
        return window is not None and (time.monotonic() - session.created_monotonic) * 1000 > window

    def _new_session_id(self) -> str:
        while True:
            suffix = "".join(secrets.choice(SESSION_ID_ALPHABET) for _ in range(SESSION_ID_RANDOM_CHARS))
            session_id = SESSION_ID_PREFIX + suffix
            if session_id not in self._session_ids:
                return session_id

    def _session_response(self, session_id: str, params: Mapping[str, Any], created_at: str) -> dict[str, Any]:
        session: dict[str, Any] = {
            "paymentSessionId": session_id,
            "paymentManagerArn": params["paymentManagerArn"],
            "userId": params.get("userId", ""),
            "expiryTimeInMinutes": params["expiryTimeInMinutes"],
            "createdAt": created_at,
            "updatedAt": created_at,
        }
        if "limits" in params:
            session["limits"] = copy.deepcopy(params["limits"])
            session["availableLimits"] = {
                "availableSpendAmount": copy.deepcopy(params["limits"]["maxSpendAmount"]),
                "updatedAt": created_at,
            }
        response = {"paymentSession": session}
        broken = validate_value(self._spec.output_shape, response)
        if broken:
            details = "; ".join(f"{v.name}: {v.message}" for v in broken)
            raise Rejected(self._spec.error(INTERNAL_ERROR, f"Sandbox response breaks the model: {details}"))
        return response
