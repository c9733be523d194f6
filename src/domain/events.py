"""Published events (CONTRACT section 4): the builders of their details, and (lazily) the detail models.

The models (``domain.event_models``) are the source of ``events/schemas/`` and of the stack's schema
registry; the builders produce plain dicts on the hot path, and a test proves every built detail
validates against its model. The models are imported on first use, so the cold start skips pydantic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from domain.errors import ApiError
from domain.requests import EffectiveRequest

if TYPE_CHECKING:
    from domain.event_models import DETAIL_MODELS as DETAIL_MODELS
    from domain.event_models import PaymentSessionCreatedDetail as PaymentSessionCreatedDetail
    from domain.event_models import PaymentSessionCreationFailedDetail as PaymentSessionCreationFailedDetail

SCHEMA_VERSION: Final = "1.0"


class DetailType(StrEnum):
    CREATED = "PaymentSessionCreated"
    FAILED = "PaymentSessionCreationFailed"


# The detail models live in domain.event_models, imported when first needed (see __getattr__).
_MODELS: Final = frozenset(
    {
        "DETAIL_MODELS",
        "PaymentSessionCreatedDetail",
        "PaymentSessionCreationFailedDetail",
        "AmountModel",
        "LimitsModel",
        "AvailableLimitsModel",
        "RequestModel",
        "PaymentSessionModel",
        "FieldModel",
        "ErrorModel",
    }
)


def __getattr__(name: str) -> Any:
    """The detail models (``DETAIL_MODELS``, ``PaymentSessionCreatedDetail``...), importing pydantic on first use."""
    if name in _MODELS:
        from domain import event_models

        return getattr(event_models, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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


def _base(client_token: str, message_id: str, correlation_id: str | None, request: EffectiveRequest) -> dict[str, Any]:
    return {
        "schemaVersion": SCHEMA_VERSION,
        "clientToken": client_token,
        "messageId": message_id,
        "correlationId": correlation_id,
        "request": request.as_event_request(),
    }


def created_event(
    *,
    client_token: str,
    message_id: str,
    request: EffectiveRequest,
    payment_session: Mapping[str, Any],
    trace_header: str | None,
) -> EventEntry:
    """``PaymentSessionCreated`` for a session the API returned."""
    detail = _base(client_token, message_id, request.correlation_id, request)
    detail["paymentSession"] = _iso(dict(payment_session))
    return EventEntry(DetailType.CREATED, detail, (request.payment_manager_arn,), trace_header)


def error_detail(
    code: str,
    message: str,
    *,
    retryable: bool,
    reason: str | None = None,
    field_list: tuple[dict[str, str], ...] | None = None,
) -> dict[str, Any]:
    """The ``error`` object: code, message, retryable, and ``reason``/``fieldList`` when the API gave them."""
    out: dict[str, Any] = {"code": code, "message": message, "retryable": retryable}
    if reason is not None:
        out["reason"] = reason
    if field_list is not None:
        out["fieldList"] = [dict(item) for item in field_list]
    return out


def failed_event(
    *,
    client_token: str,
    message_id: str,
    request: EffectiveRequest,
    error: dict[str, Any],
    trace_header: str | None,
) -> EventEntry:
    """``PaymentSessionCreationFailed``: a final API error, or a retried cause on the last receive."""
    detail = _base(client_token, message_id, request.correlation_id, request)
    detail["error"] = error
    return EventEntry(DetailType.FAILED, detail, (request.payment_manager_arn,), trace_header)


def api_error_detail(error: ApiError, *, retryable: bool) -> dict[str, Any]:
    return error_detail(
        error.code, error.message, retryable=retryable, reason=error.reason, field_list=error.field_list
    )
