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

from domain.errors import ErrorReport
from domain.request import EffectiveRequest, PaymentSession

SCHEMA_VERSION: Final = "1.0"


class DetailType(StrEnum):
    CREATED = "PaymentSessionCreated"
    FAILED = "PaymentSessionCreationFailed"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class FieldModel(_Model):
    """One entry of the API's ``fieldList``."""

    model_config = ConfigDict(extra="allow", strict=True)

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


def _entry(
    detail_type: DetailType, *, client_token: str, message_id: str, request: EffectiveRequest, trace_header: str | None
) -> EventEntry:
    detail: dict[str, Any] = {
        "schemaVersion": SCHEMA_VERSION,
        "clientToken": client_token,
        "messageId": message_id,
        "correlationId": request.correlationId,
        "request": request.terms(),
    }
    return EventEntry(detail_type, detail, (request.paymentManagerArn,), trace_header)


def created_event(
    *,
    client_token: str,
    message_id: str,
    request: EffectiveRequest,
    payment_session: Mapping[str, Any],
    trace_header: str | None,
) -> EventEntry:
    """``PaymentSessionCreated`` for a session the API returned."""
    entry = _entry(
        DetailType.CREATED,
        client_token=client_token,
        message_id=message_id,
        request=request,
        trace_header=trace_header,
    )
    entry.detail["paymentSession"] = _iso(dict(payment_session))
    return entry


def error_detail(error: ErrorReport, *, retryable: bool) -> dict[str, Any]:
    """The ``error`` object: code, message, retryable, and ``reason``/``fieldList`` when the API gave them."""
    out: dict[str, Any] = {"code": str(error.code), "message": error.message, "retryable": retryable}
    if error.reason is not None:
        out["reason"] = error.reason
    if error.field_list is not None:
        out["fieldList"] = [dict(item) for item in error.field_list]
    return out


def failed_event(
    *,
    client_token: str,
    message_id: str,
    request: EffectiveRequest,
    error: dict[str, Any],
    trace_header: str | None,
) -> EventEntry:
    """``PaymentSessionCreationFailed``: a final error, or a retried cause that was dead-lettered."""
    entry = _entry(
        DetailType.FAILED,
        client_token=client_token,
        message_id=message_id,
        request=request,
        trace_header=trace_header,
    )
    entry.detail["error"] = error
    return entry
