"""What botocore's model says of the operations the fake serves: routes, statuses, shapes, errors (read once)."""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import botocore.session
from botocore.model import OperationModel, ServiceModel, StructureShape

from sandbox.worker_code import CREATE_PAYMENT_SESSION as CREATE_PAYMENT_SESSION
from sandbox.worker_code import GET_PAYMENT_SESSION as GET_PAYMENT_SESSION
from sandbox.worker_code import PAYMENTS_SERVICE

OPERATION_NAMES: Final = (CREATE_PAYMENT_SESSION, GET_PAYMENT_SESSION)  # the operations the fake serves
CONTROL_PREFIX: Final = "/_sandbox/"

THROTTLING: Final = "ThrottlingException"
INTERNAL_ERROR: Final = "InternalServerException"
VALIDATION: Final = "ValidationException"
RESOURCE_NOT_FOUND: Final = "ResourceNotFoundException"
MISSING_AUTH: Final = "MissingAuthenticationTokenException"
UNKNOWN_OPERATION: Final = "UnknownOperationException"

# The errors the fake answers itself, which the model must therefore declare (faults, validation, lookups).
_ERRORS_THE_FAKE_ANSWERS: Final[Mapping[str, tuple[str, ...]]] = {
    CREATE_PAYMENT_SESSION: (THROTTLING, INTERNAL_ERROR, VALIDATION),
    GET_PAYMENT_SESSION: (THROTTLING, INTERNAL_ERROR, VALIDATION, RESOURCE_NOT_FOUND),
}

_LABEL = re.compile(r"\{([^}+]+)(\+?)\}")


@dataclass(frozen=True)
class ErrorAnswer:
    """An error answer: rest-json sends ``code`` in ``x-amzn-ErrorType`` and ``message`` plus ``members``."""

    code: str
    status: int
    message: str
    members: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        """The JSON body of the error response."""
        return {"message": self.message, **self.members}


@dataclass(frozen=True)
class OperationSpec:
    """Everything the fake needs from botocore's model of one operation."""

    operation: OperationModel
    method: str
    route: re.Pattern[str]
    uri_labels: tuple[str, ...]
    success_status: int
    error_shapes: Mapping[str, StructureShape]
    error_statuses: Mapping[str, int]

    @property
    def name(self) -> str:
        """The operation's name in the model (``CreatePaymentSession``)."""
        return str(self.operation.name)

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

    def error(self, code: str, message: str, members: Mapping[str, Any] | None = None) -> ErrorAnswer:
        """An error the model declares for the operation, with its modelled HTTP status."""
        return ErrorAnswer(code, self.error_statuses[code], message, dict(members or {}))

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The URI labels of a request to this operation's route (still percent-encoded), or ``None``."""
        found = self.route.fullmatch(path) if method == self.method else None
        if found is None:
            return None
        return {self.uri_labels[int(key[len("label") :])]: value for key, value in found.groupdict().items()}


class ApiSpec:
    """The operations the fake serves, by name, and the route table built from their ``requestUri``/``method``."""

    def __init__(self, specs: Iterable[OperationSpec]) -> None:
        self.operations: Mapping[str, OperationSpec] = {spec.name: spec for spec in specs}

    def route(self, method: str, path: str) -> tuple[OperationSpec, dict[str, str]] | None:
        """The operation a request is for, with its URI labels; ``None`` when the fake serves none there."""
        for spec in self.operations.values():
            labels = spec.match(method, path)
            if labels is not None:
                return spec, labels
        return None

    def operation(self, name: str) -> OperationSpec:
        """The spec of a served operation; ``ValueError`` (for scripts and settings) if it is not served."""
        spec = self.operations.get(name)
        if spec is None:
            raise ValueError(f"operation must be one of {', '.join(self.operations)}, not {name!r}")
        return spec


def load_api_spec(names: Iterable[str] = OPERATION_NAMES) -> ApiSpec:
    """The served operations, each loaded by :func:`load_operation_spec` (so botocore is read once per process)."""
    return ApiSpec(load_operation_spec(name) for name in names)


@functools.cache
def _service_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model(PAYMENTS_SERVICE)


@functools.cache
def load_operation_spec(name: str = CREATE_PAYMENT_SESSION) -> OperationSpec:
    """Load one operation from botocore's model (once per process and operation)."""
    operation = _service_model().operation_model(name)
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
    for code in _ERRORS_THE_FAKE_ANSWERS.get(name, (THROTTLING, INTERNAL_ERROR, VALIDATION)):
        if code not in error_statuses:
            raise RuntimeError(f"{name} no longer declares {code}; the sandbox needs updating")
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
