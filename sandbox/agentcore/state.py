"""The fake's state: sessions (idempotent by client token), counters, and the faults in force; thread-safe.

``GetPaymentSession`` finds a session the fake created (by ``CreatePaymentSession`` or :meth:`SandboxState.add_session`)
and returns it exactly as it was created. The model does not say how sessions are scoped; the fake's assumption is that
a session belongs to its payment manager and its user: the request's ``paymentManagerArn`` must be the session's, and
the request's ``userId`` header, when given, must equal the session's ``userId`` (``""`` for a session created
without one). Anything else, like an ID the fake never issued, is ``ResourceNotFoundException`` (404), with one
message for all cases so that the answer does not tell whether the ID exists elsewhere. ``agentName`` is not checked.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import secrets
import string
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sandbox.agentcore.faults import FaultSchedule, FaultSettings, ScriptEntry, script_entry, scripted_error
from sandbox.agentcore.operation import (
    CREATE_PAYMENT_SESSION,
    GET_PAYMENT_SESSION,
    INTERNAL_ERROR,
    RESOURCE_NOT_FOUND,
    VALIDATION,
    ApiSpec,
    ErrorAnswer,
    OperationSpec,
)
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


@dataclass
class _OperationCounters:
    """What one operation saw: calls that passed authentication, injected faults, scripted delays, answers."""

    calls: int = 0
    faults: Counter[str] = dataclasses.field(default_factory=Counter)
    scripted_delays: int = 0
    responses: Counter[int] = dataclasses.field(default_factory=Counter)


class SandboxState:
    """Sessions, fault settings, scripted faults and counters of one fake; every method is thread-safe."""

    def __init__(self, api: ApiSpec, faults: FaultSettings | None = None) -> None:
        self._api = api
        self._handlers: Mapping[str, Callable[[dict[str, Any], int], dict[str, Any]]] = {
            CREATE_PAYMENT_SESSION: self.create_session,
            GET_PAYMENT_SESSION: self.get_session,
        }
        unserved = set(api.operations) - set(self._handlers)
        if unserved:
            raise ValueError(f"the sandbox does not implement {', '.join(sorted(unserved))}")
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
        self._schedule = FaultSchedule(self._initial_faults)
        self._sessions: list[_Session] = []
        self._by_token: dict[str, _Session] = {}
        self._by_id: dict[str, _Session] = {}
        self._counters = {name: _OperationCounters() for name in self._api.operations}
        self._calls_by_token: Counter[str] = Counter()
        self._replays = 0
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
        operation: str = CREATE_PAYMENT_SESSION,
        times: int = 1,
        client_token: str | None = None,
        status: int | None = None,
        message: str | None = None,
        members: Mapping[str, Any] | None = None,
        delay_ms: float = 0,
    ) -> int:
        """Answer the next ``times`` calls of ``operation`` (only those with ``client_token``, if given) with an error.

        ``operation`` is ``CreatePaymentSession`` unless given (``GetPaymentSession``; it has no client token).
        For an error the model declares for the operation (``AccessDeniedException``, ``ValidationException``, ...)
        the status defaults to the modelled one and ``members`` (e.g. ``{"reason": "FieldValidationFailed"}``) are
        checked against the error's shape. Any other code (e.g. ``ServiceUnavailableException``) needs an
        explicit ``status``. ``delay_ms`` delays the error answer. Scripted faults are consumed before the
        random ones, token-specific ones before the others; a faulted call creates nothing. Returns the scripted
        uses now left for ``operation``.
        """
        spec = self._scripted_operation(operation, client_token)
        error = scripted_error(spec, code, status, message, members)
        return self._script(spec, script_entry(error, times, delay_ms), client_token)

    def delay_next(
        self,
        delay_ms: float,
        *,
        operation: str = CREATE_PAYMENT_SESSION,
        times: int = 1,
        client_token: str | None = None,
        commit_first: bool = False,
    ) -> int:
        """Delay the next ``times`` calls of ``operation`` (only those with ``client_token``, if given).

        ``commit_first``: the session is created before the delay (a caller that gave up has a session).
        Returns the scripted uses now left for ``operation``, as :meth:`fail_next` does.
        """
        spec = self._scripted_operation(operation, client_token)
        return self._script(spec, script_entry(None, times, delay_ms, commit_first), client_token)

    def _script(self, spec: OperationSpec, entry: ScriptEntry, client_token: str | None) -> int:
        with self._lock:
            self._schedule.add(entry, spec.name, client_token)
            return self._schedule.pending(spec.name)

    def _scripted_operation(self, operation: str, client_token: str | None) -> OperationSpec:
        spec = self._api.operation(operation)
        if client_token is not None and spec.token_member is None:
            raise ValueError(f"{spec.name} has no client token: a script for it cannot name one")
        return spec

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
        ``calls_by_client_token``, ``sessions_created`` (sessions that exist, :meth:`add_session`'s included),
        ``idempotent_replays``, ``second_sessions`` (sessions of a token beyond its first: its token window had
        passed), ``sessions`` (each with ``payment_session_id``, ``client_token``, ``request`` and
        ``created_at``; an empty list unless ``include_sessions``), ``faults`` (injected errors, random or
        scripted, by code), ``scripted_delays``, ``scripted_pending`` (scripted uses left): all of these count
        ``CreatePaymentSession`` only. ``operations`` has, for each operation served, its ``calls``, ``faults``,
        ``scripted_delays``, ``scripted_pending`` and ``responses_by_status``. ``responses_by_status`` (every
        answer on the API's routes, refused ones included), ``connections_opened`` and ``fault_settings`` are
        the server's.
        """
        with self._lock:
            create = self._counters[CREATE_PAYMENT_SESSION]
            return {
                "calls": create.calls,
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
                "faults": dict(create.faults),
                "scripted_delays": create.scripted_delays,
                "scripted_pending": self._schedule.pending(CREATE_PAYMENT_SESSION),
                "operations": {
                    name: {
                        "calls": counters.calls,
                        "faults": dict(counters.faults),
                        "scripted_delays": counters.scripted_delays,
                        "scripted_pending": self._schedule.pending(name),
                        "responses_by_status": _by_status(counters.responses),
                    }
                    for name, counters in self._counters.items()
                },
                "responses_by_status": _by_status(self._responses),
                "connections_opened": self._connections,
                "fault_settings": self._schedule.settings.as_dict(),
            }

    def add_session(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Create a session as a ``CreatePaymentSession`` call with ``request`` would, without a call.

        ``request`` holds the operation's input members (``paymentManagerArn``, ``expiryTimeInMinutes``,
        optionally ``userId``, ``limits``, ``clientToken``...) and must satisfy the model (else ``ValueError``).
        The session counts in ``sessions_created`` and ``sessions``, not in ``calls``. Returns the response body
        (``{"paymentSession": {...}}``) a call would have had.
        """
        spec = self._api.operations[CREATE_PAYMENT_SESSION]
        unknown = sorted(set(request) - set(spec.input_shape.members))
        problems = [f"{name}: not a member of the input" for name in unknown]
        problems += [f"{v.name}: {v.message}" for v in validate_value(spec.input_shape, dict(request))]
        if problems:
            raise ValueError("; ".join(problems))
        with self._lock:
            generation = self._generation
        try:
            return self.create_session(copy.deepcopy(dict(request)), generation)
        except Rejected as rejected:
            raise ValueError(rejected.error.message) from rejected

    # -- used by the request handler -----------------------------------------------------------------------

    def record_response(self, status: int, operation: str | None = None) -> None:
        with self._lock:
            self._responses[status] += 1
            if operation is not None:
                self._counters[operation].responses[status] += 1

    def record_connection(self) -> None:
        with self._lock:
            self._connections += 1

    def begin_call(self, spec: OperationSpec, client_token: str | None) -> CallPlan:
        with self._lock:
            counters = self._counters[spec.name]
            counters.calls += 1
            if client_token is not None:
                self._calls_by_token[client_token] += 1
            fate = self._schedule.next_fate(spec, client_token)
            counters.scripted_delays += fate.scripted_delay
            if fate.error is not None:
                counters.faults[fate.error.code] += 1
            return CallPlan(fate.delay_ms / 1000.0, fate.error, self._generation, self._abandon, fate.commit_first)

    def answer(self, spec: OperationSpec, params: dict[str, Any], generation: int) -> dict[str, Any]:
        """The response body of a valid call of ``spec``'s operation (or ``Rejected``, ``Abandoned``)."""
        return self._handlers[spec.name](params, generation)

    def create_session(self, params: dict[str, Any], generation: int) -> dict[str, Any]:
        spec = self._api.operations[CREATE_PAYMENT_SESSION]
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
            response = _checked(spec, self._session_response(session_id, params, created_at))
            session = _Session(
                session_id, token, copy.deepcopy(params), fingerprint, response, created_at, time.monotonic()
            )
            self._sessions.append(session)
            self._by_id[session_id] = session
            if token is not None:
                self._by_token[token] = session
            return response

    def get_session(self, params: dict[str, Any], generation: int) -> dict[str, Any]:
        spec = self._api.operations[GET_PAYMENT_SESSION]
        session_id = params["paymentSessionId"]
        with self._lock:
            if generation != self._generation:
                raise Abandoned
            session = self._by_id.get(session_id)
        found = session.response["paymentSession"] if session is not None else None
        if (
            found is None
            or found["paymentManagerArn"] != params["paymentManagerArn"]
            or params.get("userId", found["userId"]) != found["userId"]
        ):
            raise Rejected(
                spec.error(
                    RESOURCE_NOT_FOUND,
                    f"Payment session {session_id} was not found for this payment manager and user",
                )
            )
        return _checked(spec, {"paymentSession": copy.deepcopy(found)})

    def _forgotten(self, session: _Session) -> bool:
        """Whether ``session``'s token is past the token window (``token_window_ms``); never without one."""
        window = self._schedule.settings.token_window_ms
        return window is not None and (time.monotonic() - session.created_monotonic) * 1000 > window

    def _new_session_id(self) -> str:
        while True:
            suffix = "".join(secrets.choice(SESSION_ID_ALPHABET) for _ in range(SESSION_ID_RANDOM_CHARS))
            session_id = SESSION_ID_PREFIX + suffix
            if session_id not in self._by_id:
                return session_id

    @staticmethod
    def _session_response(session_id: str, params: Mapping[str, Any], created_at: str) -> dict[str, Any]:
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
        return {"paymentSession": session}


def _checked(spec: OperationSpec, response: dict[str, Any]) -> dict[str, Any]:
    """``response`` if it satisfies the operation's output shape; an ``InternalServerException`` otherwise."""
    broken = validate_value(spec.output_shape, response)
    if broken:
        details = "; ".join(f"{v.name}: {v.message}" for v in broken)
        raise Rejected(spec.error(INTERNAL_ERROR, f"Sandbox response breaks the model: {details}"))
    return response


def _by_status(responses: Counter[int]) -> dict[str, int]:
    return {str(k): v for k, v in sorted(responses.items())}
