"""What botocore's model says of ``CreatePaymentSession``: route, status, shapes, errors (read once per process)."""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import botocore.session
from botocore.model import OperationModel, StructureShape

SERVICE_NAME: Final = "bedrock-agentcore"
OPERATION_NAME: Final = "CreatePaymentSession"
CONTROL_PREFIX: Final = "/_sandbox/"

THROTTLING: Final = "ThrottlingException"
INTERNAL_ERROR: Final = "InternalServerException"
VALIDATION: Final = "ValidationException"
MISSING_AUTH: Final = "MissingAuthenticationTokenException"
UNKNOWN_OPERATION: Final = "UnknownOperationException"

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

    def error(self, code: str, message: str, members: Mapping[str, Any] | None = None) -> ErrorAnswer:
        """An error the model declares for the operation, with its modelled HTTP status."""
        return ErrorAnswer(code, self.error_statuses[code], message, dict(members or {}))


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
