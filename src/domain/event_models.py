"""The published events' details as pydantic models (CONTRACT section 4): the source of their JSON Schemas.

``events/schemas/`` and the stack's schema registry are generated from these (``scripts/schemas.py``), and
the tests validate every built detail against them. The worker itself builds plain dicts and never needs
them, so they are imported on first use only, through ``domain.events``, and the cold start skips pydantic.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict

from domain.events import DetailType
from domain.requests import Currency


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class AmountModel(_Model):
    value: str
    currency: Currency


class LimitsModel(_Model):
    maxSpendAmount: AmountModel


class AvailableLimitsModel(_Model):
    availableSpendAmount: AmountModel | None = None
    updatedAt: str | None = None


class RequestModel(_Model):
    paymentManagerArn: str
    expiryTimeInMinutes: int
    userId: str | None = None
    agentName: str | None = None
    limits: LimitsModel | None = None


class PaymentSessionModel(_Model):
    """The API's ``paymentSession``, timestamps as ISO-8601 strings with a UTC offset."""

    model_config = ConfigDict(extra="allow", strict=True)

    paymentSessionId: str
    paymentManagerArn: str
    userId: str
    expiryTimeInMinutes: int
    createdAt: str
    updatedAt: str
    limits: LimitsModel | None = None
    availableLimits: AvailableLimitsModel | None = None


class FieldModel(_Model):
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
    request: RequestModel


class PaymentSessionCreatedDetail(_DetailModel):
    """Detail of ``PaymentSessionCreated``."""

    paymentSession: PaymentSessionModel


class PaymentSessionCreationFailedDetail(_DetailModel):
    """Detail of ``PaymentSessionCreationFailed``."""

    error: ErrorModel


DETAIL_MODELS: Final[Mapping[DetailType, type[_DetailModel]]] = {
    DetailType.CREATED: PaymentSessionCreatedDetail,
    DetailType.FAILED: PaymentSessionCreationFailedDetail,
}
