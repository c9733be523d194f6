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


@dataclass(frozen=True, slots=True)
class Subject:
    """What an event is about: one request, the token its call carried, the SQS record it came in."""

    client_token: str
    message_id: str
    request: EffectiveRequest
    trace_header: str | None = None

    def entry(self, detail_type: DetailType, key: str, value: Any) -> EventEntry:
        """The entry of ``detail_type``: the details every event has, plus ``key`` (its own part)."""
        detail: dict[str, Any] = {
            "schemaVersion": SCHEMA_VERSION,
            "clientToken": self.client_token,
            "messageId": self.message_id,
            "correlationId": self.request.correlationId,
            "request": self.request.terms(),
            key: value,
        }
        return EventEntry(detail_type, detail, (self.request.paymentManagerArn,), self.trace_header)


def session_json(payment_session: Mapping[str, Any]) -> dict[str, Any]:
    """A session the API returned as its event carries it: timestamps as ISO 8601 text, JSON-ready."""
    return _iso(dict(payment_session))  # type: ignore[no-any-return]


def created_event(subject: Subject, payment_session: Mapping[str, Any]) -> EventEntry:
    """``PaymentSessionCreated`` for a session the API returned."""
    return subject.entry(DetailType.CREATED, "paymentSession", session_json(payment_session))


def error_detail(error: ErrorReport, *, retryable: bool) -> dict[str, Any]:
    """The ``error`` object: code, message, retryable, and ``reason``/``fieldList`` when the API gave them."""
    out: dict[str, Any] = {"code": str(error.code), "message": error.message, "retryable": retryable}
    if error.reason is not None:
        out["reason"] = error.reason
    if error.field_list is not None:
        out["fieldList"] = [dict(item) for item in error.field_list]
    return out


def failed_event(subject: Subject, error: ErrorReport, *, retryable: bool) -> EventEntry:
    """``PaymentSessionCreationFailed``: a final error, or a retried cause that was dead-lettered."""
    return subject.entry(DetailType.FAILED, "error", error_detail(error, retryable=retryable))
