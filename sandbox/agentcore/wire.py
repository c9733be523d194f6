"""A request to one of the fake's operations off the wire: the JSON body, the members bound to headers, query, path."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from email.message import Message
from typing import Any
from urllib.parse import parse_qs

from sandbox.agentcore.operation import VALIDATION, ErrorAnswer, OperationSpec
from sandbox.agentcore.shapes import FieldViolation, known_members, scalar_from_text, validate_value


class Rejected(Exception):
    """Raised while handling a request to answer with an :class:`ErrorAnswer`."""

    def __init__(self, error: ErrorAnswer) -> None:
        super().__init__(error.message)
        self.error = error


def validation_error(spec: OperationSpec, violations: Sequence[FieldViolation]) -> ErrorAnswer:
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
        raise Rejected(spec.error(VALIDATION, f"Could not parse the request body: {exc}", _cannot_parse())) from exc
    if not isinstance(document, dict):
        raise Rejected(spec.error(VALIDATION, "The request body must be a JSON object", _cannot_parse()))
    return document


def _cannot_parse() -> dict[str, Any]:
    return {"reason": "CannotParse"}


def read_operation_input(
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
            params[name] = scalar_from_text(member, text.strip(" \t"))
        elif location == "querystring":
            if wire_name in query_values:
                params[name] = scalar_from_text(member, query_values[wire_name][0])
        elif location == "uri":
            if wire_name in labels:
                params[name] = scalar_from_text(member, labels[wire_name])
        elif location is None and payload is None:
            if document.get(name) is not None:
                params[name] = known_members(member, document[name])
        elif name == payload and document:
            params[name] = known_members(member, dict(document))
    violations.extend(validate_value(shape, params))
    if violations:
        raise Rejected(validation_error(spec, violations))
    return params


def timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
