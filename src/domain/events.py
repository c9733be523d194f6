"""Published events (CONTRACT section 4): the detail models, and the builders of the details they describe.

The models are the source of ``events/schemas/`` and of the stack's schema registry (``scripts/schemas.py``);
their ``request`` is the effective request model itself. The builders give the plain dicts ``PutEvents`` sends,
and a test proves every built detail validates against its model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict

from domain.errors import ApiError
from domain.request import EffectiveRequest, PaymentSession

SCHEMA_VERSION: Final = "1.0"


class DetailType(StrEnum):
    CREATED = "PaymentSessionCreated"
    FAILED = "PaymentSessionCreationFailed"


class _Model(BaseModel):
    # defer_build: the worker builds plain dicts and never validates a detail, so its cold start does not pay
    # for these validators; the schemas, the registry and the tests build them on first use.
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)


class FieldModel(_Model):
    """One entry of the API's ``fieldList``."""

    model_config = ConfigDict(extra="allow", strict=True, defer_build=True)

    name: str
    message: str


class ErrorModel(_Model):
    code: str
    message: str
    retryable: bool
    reason: str | None = None
    fieldList: list[FieldModel] | None = None


class _DetailModel(_Model):
    schemaVersion: Literal["1.0"]
    clientToken: str
    messageId: str
    correlationId: str | None
    request: EffectiveRequest


class PaymentSessionCreatedDetail(_DetailModel):
    """Detail of ``PaymentSessionCreated``."""

    paymentSession: PaymentSession


class PaymentSessionCreationFailedDetail(_DetailModel):
    """Detail of ``PaymentSessionCreationFailed``."""

    error: ErrorModel


DETAIL_MODELS: Final[Mapping[DetailType, type[_DetailModel]]] = {
    DetailType.CREATED: PaymentSessionCreatedDetail,
    DetailType.FAILED: PaymentSessionCreationFailedDetail,
}


@dataclass(frozen=True, slots=True)
class EventEntry:
    """One ``PutEvents`` entry before serialisation."""

    detail_type: DetailType
    detail: dict[str, Any]
    resources: tuple[str, ...]
    trace_header: str | None = None


def _iso(value: Any) -> Any:
    if isinstance(value, datetime):
        # botocore gives a naive datetime when the service sends no offset; AWS timestamps are UTC.
        return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, dict):
        return {key: _iso(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_iso(item) for item in value]
    return value


# The key of each event's own part of its detail.
PART_KEYS: Final[Mapping[DetailType, str]] = {DetailType.CREATED: "paymentSession", DetailType.FAILED: "error"}


def session_json(payment_session: Mapping[str, Any]) -> dict[str, Any]:
    """A session the API returned as its event carries it: timestamps as ISO 8601 text, JSON-ready."""
    return _iso(dict(payment_session))  # type: ignore[no-any-return]


def error_detail(error: ApiError, *, retryable: bool) -> dict[str, Any]:
    """The ``error`` object: code, message, retryable, and ``reason``/``fieldList`` when the API gave them."""
    out: dict[str, Any] = {"code": str(error.code), "message": error.message, "retryable": retryable}
    if error.reason is not None:
        out["reason"] = error.reason
    if error.field_list is not None:
        out["fieldList"] = [dict(item) for item in error.field_list]
    return out


def event_entry(
    detail_type: DetailType,
    part: dict[str, Any],
    *,
    client_token: str,
    message_id: str,
    request: EffectiveRequest,
    trace_header: str | None = None,
) -> EventEntry:
    """The entry of ``detail_type`` about one request, the token its call carried and the SQS record it came in:
    the details every event has, and ``part``, the event's own (``session_json`` or ``error_detail``)."""
    detail: dict[str, Any] = {
        "schemaVersion": SCHEMA_VERSION,
        "clientToken": client_token,
        "messageId": message_id,
        "correlationId": request.correlationId,
        "request": request.terms(),
        PART_KEYS[detail_type]: part,
    }
    return EventEntry(detail_type, detail, (request.paymentManagerArn,), trace_header)
