"""A local fake of Amazon Bedrock AgentCore's ``CreatePaymentSession`` API.

The fake speaks the real wire protocol (rest-json over HTTP/1.1), so an unmodified boto3 client pointed at
it with ``endpoint_url`` works against it. What it knows about the API (route, success status, input members
and their constraints, error codes and their HTTP statuses, the output shape) is read at runtime from
botocore's service model for ``bedrock-agentcore``, so it follows the model when botocore is upgraded.

Behaviour, and the decisions taken where the model says nothing:

* Authentication: the SigV4 signature is not verified, but the request must carry an ``Authorization``
  header using the ``AWS4-HMAC-SHA256`` scheme. Without one the answer is 403
  ``MissingAuthenticationTokenException``, as AWS answers an unsigned request. A method and path the model
  does not define answer 404 ``UnknownOperationException``.
* Validation: every constraint of the input shape is enforced (required, length, range, pattern, enum and
  the JSON type of each member). Violations answer 400 ``ValidationException`` with reason
  ``FieldValidationFailed`` and a ``fieldList`` naming every offending member by its dotted path
  (``limits.maxSpendAmount.currency``). A body that is not a JSON object answers reason ``CannotParse``.
  Unknown members are ignored, as AWS rest-json services do, and JSON ``null`` counts as absent.
  Header-bound members are decoded as UTF-8, without the surrounding whitespace HTTP allows.
* Idempotency: the same ``clientToken`` with the same parameters returns the session it created first
  (same body, 201); with different parameters it answers ``ValidationException`` with reason
  ``IdempotentParameterMismatchException``. A request without a token always creates a new session.
* Output: ``userId`` is required in the output shape; when the request had none it is ``""``. ``limits``
  and ``availableLimits`` (equal to the limits at creation) are present only when the request gave limits.
  Every response is checked against the output shape before it is sent.
* Faults: a fixed latency, seeded random throttling (429) and internal errors (500), and scripted faults
  (:meth:`SandboxState.fail_next`, :meth:`SandboxState.delay_next`). Faults are decided before the request
  is validated and before any session is created, so a faulted call creates nothing. The random draw is one
  number per call, so for a given seed the n-th call always has the same fate.
* Control endpoints (not part of the AWS API, no authentication), JSON in and out:
  ``GET /_sandbox/stats[?sessions=false]`` (:meth:`SandboxState.snapshot`), ``POST /_sandbox/faults``
  (any of ``latency_ms``, ``throttle_rate``, ``error_rate``, ``seed``), ``POST /_sandbox/script``
  (``code`` and the keyword arguments of :meth:`SandboxState.fail_next`; without ``code``, a delay as
  :meth:`SandboxState.delay_next`) and ``POST /_sandbox/reset``. Invalid settings answer 400.

Run it on its own with ``python -m sandbox.payments_api --port 4566``; it prints its endpoint URL.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import copy
import dataclasses
import functools
import json
import math
import random
import re
import secrets
import signal
import socket
import string
import sys
import threading
import uuid
from collections import Counter, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType, TracebackType
from typing import Any, Final, Self
from urllib.parse import parse_qs, unquote, urlsplit

import botocore.session
from botocore.model import ListShape, MapShape, OperationModel, Shape, StringShape, StructureShape

SERVICE_NAME: Final = "bedrock-agentcore"
OPERATION_NAME: Final = "CreatePaymentSession"
CONTROL_PREFIX: Final = "/_sandbox/"

THROTTLING: Final = "ThrottlingException"
INTERNAL_ERROR: Final = "InternalServerException"
VALIDATION: Final = "ValidationException"
MISSING_AUTH: Final = "MissingAuthenticationTokenException"
UNKNOWN_OPERATION: Final = "UnknownOperationException"

_SIGV4_SCHEME: Final = "AWS4-HMAC-SHA256"
_SESSION_ID_PREFIX: Final = "payment-session-"
_SESSION_ID_ALPHABET: Final = string.ascii_letters + string.digits
_SESSION_ID_RANDOM_CHARS: Final = 15
_MAX_BODY_BYTES: Final = 1024 * 1024
_INTEGER_BITS: Final = {"byte": 8, "short": 16, "integer": 32, "long": 64}
_FLOAT_TYPES: Final = frozenset({"float", "double"})
_LABEL = re.compile(r"\{([^}+]+)(\+?)\}")


# ---------------------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OperationSpec:
    """Everything the fake needs from botocore's model of ``CreatePaymentSession``."""

    operation: OperationModel
    method: str
    route: re.Pattern[str]
    uri_labels: tuple[str, ...]
    success_status: int
    error_shapes: Mapping[str, StructureShape]
    error_statuses: Mapping[str, int]

    @property
    def input_shape(self) -> StructureShape:
        """The operation's input structure."""
        shape = self.operation.input_shape
        assert isinstance(shape, StructureShape)
        return shape

    @property
    def output_shape(self) -> StructureShape:
        """The operation's output structure."""
        shape = self.operation.output_shape
        assert isinstance(shape, StructureShape)
        return shape

    @property
    def token_member(self) -> str | None:
        """The input member the model marks as the idempotency token, if any."""
        members = self.operation.idempotent_members
        return members[0] if members else None

    def error(self, code: str, message: str, members: Mapping[str, Any] | None = None) -> ApiError:
        """An error the model declares for the operation, with its modelled HTTP status."""
        return ApiError(code, self.error_statuses[code], message, dict(members or {}))


@functools.cache
def load_operation_spec() -> OperationSpec:
    """Load ``CreatePaymentSession`` from botocore's model (once per process)."""
    model = botocore.session.get_session().get_service_model(SERVICE_NAME)
    operation = model.operation_model(OPERATION_NAME)
    http = operation.http
    route, labels = _route_pattern(str(http["requestUri"]))
    error_shapes: dict[str, StructureShape] = {}
    error_statuses: dict[str, int] = {}
    for shape in operation.error_shapes:
        assert isinstance(shape, StructureShape)
        error_shapes[shape.name] = shape
        error_statuses[shape.name] = int(shape.metadata["error"]["httpStatusCode"])
    spec = OperationSpec(
        operation=operation,
        method=str(http["method"]).upper(),
        route=route,
        uri_labels=labels,
        success_status=int(http.get("responseCode", 200)),
        error_shapes=error_shapes,
        error_statuses=error_statuses,
    )
    for code in (THROTTLING, INTERNAL_ERROR, VALIDATION):
        if code not in error_statuses:
            raise RuntimeError(f"{OPERATION_NAME} no longer declares {code}; the sandbox needs updating")
    return spec


def _route_pattern(request_uri: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    """A regular expression for the path part of a model ``requestUri`` (``{label}`` and ``{label+}``)."""
    path = request_uri.split("?", 1)[0]
    parts: list[str] = []
    labels: list[str] = []
    position = 0
    for match in _LABEL.finditer(path):
        parts.append(re.escape(path[position : match.start()]))
        parts.append(f"(?P<label{len(labels)}>{'.+' if match.group(2) else '[^/]+'})")
        labels.append(match.group(1))
        position = match.end()
    parts.append(re.escape(path[position:]))
    return re.compile("".join(parts)), tuple(labels)


# ---------------------------------------------------------------------------------------------------------
# Validation against a shape
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldViolation:
    """One broken constraint: the member's dotted path and what it failed to satisfy."""

    name: str
    message: str


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def pattern_matches(pattern: str, value: str) -> bool:
    """Whether ``value`` satisfies a model pattern (AWS model patterns must match the whole value)."""
    return _compiled(pattern).fullmatch(value) is not None


def validate_value(shape: Shape, value: Any, path: str = "") -> list[FieldViolation]:
    """Every constraint of ``shape`` (recursively) that the decoded JSON ``value`` breaks."""
    violations: list[FieldViolation] = []
    _check(shape, value, path, violations)
    return violations


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _check(shape: Shape, value: Any, path: str, out: list[FieldViolation]) -> None:
    kind = shape.type_name
    meta = shape.metadata
    name = path or shape.name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        if not isinstance(value, dict):
            out.append(FieldViolation(name, "Member must be of type structure"))
            return
        for member in shape.required_members:
            if value.get(member) is None:
                out.append(FieldViolation(_join(path, member), "Member must not be null"))
        for member, member_shape in shape.members.items():
            if value.get(member) is not None:
                _check(member_shape, value[member], _join(path, member), out)
    elif kind == "list":
        assert isinstance(shape, ListShape)
        if not isinstance(value, list):
            out.append(FieldViolation(name, "Member must be of type list"))
            return
        _check_bounds(meta, len(value), name, "length", out)
        for index, item in enumerate(value):
            if item is None:
                out.append(FieldViolation(f"{name}[{index}]", "Member must not be null"))
            else:
                _check(shape.member, item, f"{name}[{index}]", out)
    elif kind == "map":
        assert isinstance(shape, MapShape)
        if not isinstance(value, dict):
            out.append(FieldViolation(name, "Member must be of type map"))
            return
        _check_bounds(meta, len(value), name, "length", out)
        for key, item in value.items():
            _check(shape.key, key, f"{name}[{key}]", out)
            if item is None:
                out.append(FieldViolation(f"{name}[{key}]", "Member must not be null"))
            else:
                _check(shape.value, item, f"{name}[{key}]", out)
    elif kind == "string":
        if not isinstance(value, str):
            out.append(FieldViolation(name, "Member must be of type string"))
            return
        _check_bounds(meta, len(value), name, "length", out)
        pattern = meta.get("pattern")
        if pattern is not None and not pattern_matches(pattern, value):
            out.append(FieldViolation(name, f"Member must satisfy regular expression pattern: {pattern}"))
        enum = shape.enum if isinstance(shape, StringShape) else []
        if enum and value not in enum:
            out.append(FieldViolation(name, f"Member must satisfy enum value set: [{', '.join(enum)}]"))
    elif kind in _INTEGER_BITS:
        bits = _INTEGER_BITS[kind]
        if not isinstance(value, int) or isinstance(value, bool) or not -(2 ** (bits - 1)) <= value < 2 ** (bits - 1):
            out.append(FieldViolation(name, f"Member must be of type {kind}"))
            return
        _check_bounds(meta, value, name, "value", out)
    elif kind in _FLOAT_TYPES:
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            out.append(FieldViolation(name, f"Member must be of type {kind}"))
            return
        _check_bounds(meta, value, name, "value", out)
    elif kind == "boolean":
        if not isinstance(value, bool):
            out.append(FieldViolation(name, "Member must be of type boolean"))
    elif kind == "timestamp":
        if not _is_timestamp(value):
            out.append(FieldViolation(name, "Member must be of type timestamp"))
    elif kind == "blob" and not _is_base64(value):
        out.append(FieldViolation(name, "Member must be of type blob (base64)"))
    # "document" and any type the model adds later: accepted as given.


def _check_bounds(meta: Mapping[str, Any], size: float, name: str, what: str, out: list[FieldViolation]) -> None:
    low, high = meta.get("min"), meta.get("max")
    if low is not None and size < low:
        out.append(FieldViolation(name, f"Member must have {what} greater than or equal to {low}"))
    if high is not None and size > high:
        out.append(FieldViolation(name, f"Member must have {what} less than or equal to {high}"))


def _is_timestamp(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return math.isfinite(value)
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value)
        except ValueError:
            return False
        return True
    return False


def _is_base64(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


# ---------------------------------------------------------------------------------------------------------
# Errors and request parsing
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiError:
    """An error answer: rest-json sends ``code`` in ``x-amzn-ErrorType`` and ``message`` plus ``members``."""

    code: str
    status: int
    message: str
    members: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        """The JSON body of the error response."""
        return {"message": self.message, **self.members}


class _Rejected(Exception):
    """Raised while handling a request to answer with an :class:`ApiError`."""

    def __init__(self, error: ApiError) -> None:
        super().__init__(error.message)
        self.error = error


def _validation_error(spec: OperationSpec, violations: Sequence[FieldViolation]) -> ApiError:
    count = len(violations)
    details = "; ".join(f"Value at '{v.name}' failed to satisfy constraint: {v.message}" for v in violations)
    message = f"{count} validation error{'s' if count > 1 else ''} detected: {details}"
    field_list = [{"name": v.name, "message": v.message} for v in violations]
    return spec.error(VALIDATION, message, {"reason": "FieldValidationFailed", "fieldList": field_list})


def _reject_constant(token: str) -> Any:
    raise ValueError(f"{token} is not valid JSON")


def decode_json_object(spec: OperationSpec, body: bytes) -> dict[str, Any]:
    """The request body as a JSON object (an empty body is ``{}``); otherwise a ``CannotParse`` rejection."""
    if not body.strip():
        return {}
    try:
        document = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _Rejected(spec.error(VALIDATION, f"Could not parse the request body: {exc}", _cannot_parse())) from exc
    if not isinstance(document, dict):
        raise _Rejected(spec.error(VALIDATION, "The request body must be a JSON object", _cannot_parse()))
    return document


def _cannot_parse() -> dict[str, Any]:
    return {"reason": "CannotParse"}


def known_members(shape: Shape, value: Any) -> Any:
    """``value`` without the members ``shape`` does not define, nor ``null`` members, at any depth."""
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        return {
            name: known_members(shape.members[name], item)
            for name, item in value.items()
            if name in shape.members and item is not None
        }
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [known_members(shape.member, item) for item in value]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {key: known_members(shape.value, item) for key, item in value.items()}
    return value


def _scalar_from_text(shape: Shape, text: str) -> Any:
    """Convert a header, query or path value to the member's type (left as text when it does not convert)."""
    kind = shape.type_name
    if kind in _INTEGER_BITS and re.fullmatch(r"-?[0-9]+", text):
        return int(text)
    if kind in _FLOAT_TYPES:
        try:
            return float(text)
        except ValueError:
            return text
    if kind == "boolean" and text in ("true", "false"):
        return text == "true"
    return text


def parse_request(
    spec: OperationSpec,
    headers: Message,
    query: str,
    labels: Mapping[str, str],
    document: Mapping[str, Any],
) -> dict[str, Any]:
    """The operation's input (known members only) from the HTTP request, or a ``ValidationException``."""
    shape = spec.input_shape
    params: dict[str, Any] = {}
    violations: list[FieldViolation] = []
    query_values = parse_qs(query, keep_blank_values=True)
    payload = shape.serialization.get("payload")
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        if location == "header":
            raw = headers.get(wire_name)
            if raw is None:
                continue
            try:
                text = raw.encode("latin-1").decode("utf-8")
            except UnicodeError:
                violations.append(FieldViolation(name, "Member must be valid UTF-8"))
                continue
            params[name] = _scalar_from_text(member, text.strip(" \t"))
        elif location == "querystring":
            if wire_name in query_values:
                params[name] = _scalar_from_text(member, query_values[wire_name][0])
        elif location == "uri":
            if wire_name in labels:
                params[name] = _scalar_from_text(member, labels[wire_name])
        elif location is None and payload is None:
            if document.get(name) is not None:
                params[name] = known_members(member, document[name])
        elif name == payload and document:
            params[name] = known_members(member, dict(document))
    violations.extend(validate_value(shape, params))
    if violations:
        raise _Rejected(_validation_error(spec, violations))
    return params


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# ---------------------------------------------------------------------------------------------------------
# State: sessions, faults, counters
# ---------------------------------------------------------------------------------------------------------


def _is_rate(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0.0 <= value <= 1.0


@dataclass(frozen=True)
class FaultSettings:
    """Random faults applied to every ``CreatePaymentSession`` call.

    ``latency_ms`` is waited before every answer; ``throttle_rate`` and ``error_rate`` are the probabilities
    of a 429 ``ThrottlingException`` and a 500 ``InternalServerException``; ``seed`` makes them repeatable.
    """

    latency_ms: float = 0
    throttle_rate: float = 0.0
    error_rate: float = 0.0
    seed: int | None = None

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

    def as_dict(self) -> dict[str, Any]:
        """The settings as a JSON-ready dict."""
        return dataclasses.asdict(self)


@dataclass
class _ScriptEntry:
    remaining: int
    delay_ms: float
    error: ApiError | None


@dataclass(frozen=True)
class _CallPlan:
    delay_seconds: float
    error: ApiError | None
    generation: int
    abandoned: threading.Event  # set when a reset or a stop abandons the calls in flight


class _Abandoned(Exception):
    """Raised for a call that began before a reset or stop: it gets no answer and creates nothing."""


@dataclass(frozen=True)
class _Session:
    session_id: str
    client_token: str | None
    request: dict[str, Any]
    fingerprint: str
    response: dict[str, Any]
    created_at: str


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

    def _abandon_in_flight(self) -> None:
        with self._lock:
            self._abandon_in_flight_locked()

    def _reset_locked(self) -> None:
        self._abandon_in_flight_locked()
        self._faults = self._initial_faults
        self._rng = random.Random(self._faults.seed)
        self._script_any: deque[_ScriptEntry] = deque()
        self._script_by_token: dict[str, deque[_ScriptEntry]] = {}
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
            return self._faults

    def set_faults(self, **changes: Any) -> FaultSettings:
        """Change some fault settings (``latency_ms``, ``throttle_rate``, ``error_rate``, ``seed``).

        Giving ``seed`` (even unchanged) restarts the random sequence. Returns the new settings; raises
        ``ValueError`` for unknown names or invalid values.
        """
        unknown = set(changes) - {f.name for f in dataclasses.fields(FaultSettings)}
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        with self._lock:
            self._faults = dataclasses.replace(self._faults, **changes)
            if "seed" in changes:
                self._rng = random.Random(self._faults.seed)
            return self._faults

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
        self._script(self._scripted_error(code, status, message, members), times, client_token, delay_ms)

    def delay_next(self, delay_ms: float, *, times: int = 1, client_token: str | None = None) -> None:
        """Delay the next ``times`` calls (only those with ``client_token``, when given), then answer them."""
        self._script(None, times, client_token, delay_ms)

    def _scripted_error(
        self, code: str, status: int | None, message: str | None, members: Mapping[str, Any] | None
    ) -> ApiError:
        extra = dict(members or {})
        text = message if message is not None else f"{code} injected by the payments sandbox"
        shape = self._spec.error_shapes.get(code)
        if shape is None:
            if status is None:
                raise ValueError(f"{code} is not an error of {OPERATION_NAME}: give its HTTP status")
        else:
            unknown = set(extra) - set(shape.members)
            broken = validate_value(shape, {"message": text, **extra})
            if unknown or broken:
                problems = [f"unknown member {n}" for n in sorted(unknown)]
                problems += [f"{v.name}: {v.message}" for v in broken]
                raise ValueError(f"{code} does not fit the model: {'; '.join(problems)}")
        resolved = status if status is not None else self._spec.error_statuses[code]
        if not 300 <= resolved <= 599:
            raise ValueError(f"status must be an HTTP error status, not {resolved}")
        return ApiError(code, resolved, text, extra)

    def _script(self, error: ApiError | None, times: int, client_token: str | None, delay_ms: float) -> None:
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise ValueError(f"times must be a positive integer, not {times!r}")
        if isinstance(delay_ms, bool) or not isinstance(delay_ms, int | float) or not 0 <= delay_ms < math.inf:
            raise ValueError(f"delay_ms must be a non-negative number, not {delay_ms!r}")
        entry = _ScriptEntry(times, delay_ms, error)
        with self._lock:
            if client_token is None:
                self._script_any.append(entry)
            else:
                self._script_by_token.setdefault(client_token, deque()).append(entry)

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
        ``calls_by_client_token``, ``sessions_created``, ``idempotent_replays``, ``sessions`` (each with
        ``payment_session_id``, ``client_token``, ``request`` and ``created_at``; an empty list unless
        ``include_sessions``), ``faults`` (injected errors, random or scripted, by code), ``scripted_delays``,
        ``scripted_pending`` (scripted uses left), ``responses_by_status`` (every answer on the API's routes,
        refused ones included), ``connections_opened`` and ``fault_settings``.
        """
        with self._lock:
            pending = sum(e.remaining for e in self._script_any)
            pending += sum(e.remaining for q in self._script_by_token.values() for e in q)
            return {
                "calls": self._calls,
                "calls_by_client_token": dict(self._calls_by_token),
                "sessions_created": len(self._sessions),
                "idempotent_replays": self._replays,
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
                "fault_settings": self._faults.as_dict(),
            }

    # -- used by the request handler -----------------------------------------------------------------------

    def _record_response(self, status: int) -> None:
        with self._lock:
            self._responses[status] += 1

    def _record_connection(self) -> None:
        with self._lock:
            self._connections += 1

    def _begin_call(self, client_token: str | None) -> _CallPlan:
        with self._lock:
            self._calls += 1
            if client_token is not None:
                self._calls_by_token[client_token] += 1
            draw = self._rng.random()
            faults = self._faults
            delay_ms = faults.latency_ms
            error: ApiError | None = None
            scripted = self._pop_script(client_token)
            if scripted is not None:
                delay_ms += scripted.delay_ms
                if scripted.delay_ms:
                    self._scripted_delays += 1
                error = scripted.error
            if error is None and draw < faults.throttle_rate:
                error = self._spec.error(THROTTLING, "Rate exceeded")
            elif error is None and draw < faults.throttle_rate + faults.error_rate:
                error = self._spec.error(INTERNAL_ERROR, "An internal error occurred")
            if error is not None:
                self._faults_by_code[error.code] += 1
            return _CallPlan(delay_ms / 1000.0, error, self._generation, self._abandon)

    def _pop_script(self, client_token: str | None) -> _ScriptEntry | None:
        queues = [self._script_by_token.get(client_token)] if client_token is not None else []
        queues.append(self._script_any)
        for queue in queues:
            if queue:
                entry = queue[0]
                entry.remaining -= 1
                if entry.remaining == 0:
                    queue.popleft()
                return entry
        return None

    def _create_session(self, params: dict[str, Any], generation: int) -> dict[str, Any]:
        spec = self._spec
        token_member = spec.token_member
        token = params.get(token_member) if token_member else None
        fingerprint = json.dumps(
            {k: v for k, v in params.items() if k != token_member}, sort_keys=True, ensure_ascii=False
        )
        with self._lock:
            if generation != self._generation:
                raise _Abandoned
            if token is not None and token in self._by_token:
                earlier = self._by_token[token]
                if earlier.fingerprint != fingerprint:
                    raise _Rejected(
                        spec.error(
                            VALIDATION,
                            f"The parameters differ from those of an earlier request with the same {token_member}",
                            {"reason": "IdempotentParameterMismatchException"},
                        )
                    )
                self._replays += 1
                return earlier.response
            session_id = self._new_session_id()
            created_at = _timestamp(datetime.now(UTC))
            response = self._session_response(session_id, params, created_at)
            session = _Session(session_id, token, copy.deepcopy(params), fingerprint, response, created_at)
            self._sessions.append(session)
            self._session_ids.add(session_id)
            if token is not None:
                self._by_token[token] = session
            return response

    def _new_session_id(self) -> str:
        while True:
            suffix = "".join(secrets.choice(_SESSION_ID_ALPHABET) for _ in range(_SESSION_ID_RANDOM_CHARS))
            session_id = _SESSION_ID_PREFIX + suffix
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
            raise _Rejected(self._spec.error(INTERNAL_ERROR, f"Sandbox response breaks the model: {details}"))
        return response


# ---------------------------------------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------------------------------------


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512

    def __init__(self, address: tuple[str, int], state: SandboxState, spec: OperationSpec, verbose: bool) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.state = state
        self.spec = spec
        self.verbose = verbose
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if self.verbose:
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 300  # idle keep-alive connections are closed after this many seconds

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)
        self.server.state._record_connection()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def version_string(self) -> str:
        return "payments-sandbox"

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    # -- plumbing ------------------------------------------------------------------------------------------

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._send_plain(411, {"message": "Content-Length is required"}, close=True)
            return None
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            return b""
        if not length_text.isdigit():
            self._send_plain(400, {"message": "Invalid Content-Length"}, close=True)
            return None
        length = int(length_text)
        if length > _MAX_BODY_BYTES:
            self._send_plain(413, {"message": "Request body too large"}, close=True)
            return None
        body = self.rfile.read(length)
        if len(body) < length:
            self.close_connection = True
            return None
        return body

    def _send(self, status: int, payload: Any, headers: Iterable[tuple[str, str]] = (), close: bool = False) -> None:
        data = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        if close:
            self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for name, value in headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _send_plain(self, status: int, payload: Any, close: bool = False) -> None:
        self._send(status, payload, close=close)

    def _send_api(self, status: int, payload: Any, headers: Iterable[tuple[str, str]] = ()) -> None:
        self._send(status, payload, headers)
        self.server.state._record_response(status)

    def _send_error_answer(self, error: ApiError) -> None:
        self._send_api(error.status, error.body(), [("x-amzn-ErrorType", error.code)])

    # -- routing -------------------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        body = self._read_body()
        if body is None:
            return
        url = urlsplit(self.path)
        if url.path.startswith(CONTROL_PREFIX):
            self._control(url.path[len(CONTROL_PREFIX) :], url.query, body)
            return
        spec = self.server.spec
        match = spec.route.fullmatch(url.path) if self.command == spec.method else None
        if match is None:
            self._send_error_answer(ApiError(UNKNOWN_OPERATION, 404, f"No operation at {self.command} {url.path}"))
            return
        if not self.headers.get("Authorization", "").startswith(_SIGV4_SCHEME):
            self._send_error_answer(ApiError(MISSING_AUTH, 403, "Missing Authentication Token"))
            return
        labels = {spec.uri_labels[int(k[len("label") :])]: unquote(v) for k, v in match.groupdict().items()}
        self._create_payment_session(url.query, labels, body)

    def _create_payment_session(self, query: str, labels: Mapping[str, str], body: bytes) -> None:
        server = self.server
        spec = server.spec
        document: dict[str, Any] | None = None
        parse_error: ApiError | None = None
        try:
            document = decode_json_object(spec, body)
        except _Rejected as rejected:
            parse_error = rejected.error
        plan = server.state._begin_call(self._peek_token(document))
        if plan.delay_seconds > 0 and plan.abandoned.wait(plan.delay_seconds):
            self.close_connection = True
            return
        error = plan.error or parse_error
        if error is None and document is not None:
            try:
                params = parse_request(spec, self.headers, query, labels, document)
                response = server.state._create_session(params, plan.generation)
            except _Rejected as rejected:
                error = rejected.error
            except _Abandoned:
                self.close_connection = True
                return
            else:
                self._send_api(spec.success_status, response)
                return
        assert error is not None
        self._send_error_answer(error)

    def _peek_token(self, document: Mapping[str, Any] | None) -> str | None:
        """The idempotency token of a request, before validation (for scripts and counters)."""
        spec = self.server.spec
        name = spec.token_member
        if name is None:
            return None
        member = spec.input_shape.members[name]
        if member.serialization.get("location") == "header":
            value: Any = self.headers.get(member.serialization.get("name", name))
        else:
            value = document.get(name) if document is not None else None
        return value if isinstance(value, str) else None

    def _control(self, action: str, query: str, body: bytes) -> None:
        state = self.server.state
        try:
            if (self.command, action) == ("GET", "stats"):
                include = parse_qs(query).get("sessions", ["true"])[0] != "false"
                self._send_plain(200, state.snapshot(include_sessions=include))
            elif (self.command, action) == ("POST", "faults"):
                settings = state.set_faults(**self._control_object(body))
                self._send_plain(200, settings.as_dict())
            elif (self.command, action) == ("POST", "script"):
                options = self._control_object(body)
                code = options.pop("code", None)
                if code is None:
                    if "delay_ms" not in options:
                        raise ValueError("a script needs a code, a delay_ms, or both")
                    state.delay_next(options.pop("delay_ms"), **options)
                else:
                    state.fail_next(str(code), **options)
                self._send_plain(200, {"scripted_pending": state.snapshot()["scripted_pending"]})
            elif (self.command, action) == ("POST", "reset"):
                state.reset()
                self._send_plain(200, state.snapshot())
            else:
                self._send_plain(404, {"message": f"No sandbox endpoint at {self.command} {CONTROL_PREFIX}{action}"})
        except (TypeError, ValueError) as exc:
            self._send_plain(400, {"message": str(exc)})

    @staticmethod
    def _control_object(body: bytes) -> dict[str, Any]:
        document = json.loads(body.decode("utf-8")) if body.strip() else {}
        if not isinstance(document, dict):
            raise ValueError("the body must be a JSON object")
        return document


# ---------------------------------------------------------------------------------------------------------
# Public server
# ---------------------------------------------------------------------------------------------------------


class PaymentsApiServer:
    """The fake ``CreatePaymentSession`` API on a local HTTP port.

    ``with PaymentsApiServer() as api:`` starts it on a free port of 127.0.0.1; point boto3 at
    ``api.endpoint_url``. ``api.state`` (a :class:`SandboxState`) holds sessions, counters and faults; the
    most used of its methods are also available on the server itself.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_ms: float = 0,
        throttle_rate: float = 0.0,
        error_rate: float = 0.0,
        seed: int | None = None,
        *,
        verbose: bool = False,
    ) -> None:
        self.spec = load_operation_spec()
        self.state = SandboxState(self.spec, FaultSettings(latency_ms, throttle_rate, error_rate, seed))
        self._address = (host, port)
        self._verbose = verbose
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        """Bind the port and serve in a background thread; returns ``self``."""
        if self._httpd is not None:
            raise RuntimeError("the server is already running")
        httpd = _HttpServer(self._address, self.state, self.spec, self._verbose)
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="payments-sandbox", daemon=True
        )
        self._httpd = httpd
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection (idempotent)."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self.state._abandon_in_flight()
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()
        if thread is not None:
            thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (useful with ``port=0``)."""
        if self._httpd is None:
            raise RuntimeError("the server is not running")
        return int(self._httpd.server_address[1])

    @property
    def endpoint_url(self) -> str:
        """``http://host:port`` for boto3's ``endpoint_url``."""
        host = self._address[0]
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    def snapshot(self, *, include_sessions: bool = True) -> dict[str, Any]:
        """See :meth:`SandboxState.snapshot`."""
        return self.state.snapshot(include_sessions=include_sessions)

    def reset(self) -> None:
        """See :meth:`SandboxState.reset`."""
        self.state.reset()

    def set_faults(self, **changes: Any) -> FaultSettings:
        """See :meth:`SandboxState.set_faults`."""
        return self.state.set_faults(**changes)

    def fail_next(self, code: str, **options: Any) -> None:
        """See :meth:`SandboxState.fail_next`."""
        self.state.fail_next(code, **options)

    def delay_next(self, delay_ms: float, **options: Any) -> None:
        """See :meth:`SandboxState.delay_next`."""
        self.state.delay_next(delay_ms, **options)


# ---------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the fake until SIGINT or SIGTERM; print the endpoint URL on one line first."""
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.payments_api", description="Fake Bedrock AgentCore CreatePaymentSession API."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind (default 0: any free port)")
    parser.add_argument("--latency-ms", type=float, default=0, help="delay before every answer")
    parser.add_argument("--throttle-rate", type=float, default=0.0, help="share of calls answered 429")
    parser.add_argument("--error-rate", type=float, default=0.0, help="share of calls answered 500")
    parser.add_argument("--seed", type=int, default=None, help="seed of the random faults")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)
    try:
        api = PaymentsApiServer(
            args.host, args.port, args.latency_ms, args.throttle_rate, args.error_rate, args.seed, verbose=args.verbose
        )
    except ValueError as exc:
        parser.error(str(exc))
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    with api:
        print(api.endpoint_url, flush=True)
        while not stop.wait(1.0):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
