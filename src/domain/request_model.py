"""The request message as a pydantic model (CONTRACT section 1): the authority on what is valid, and why not.

Imported on first use only, through ``domain.requests``: a valid message is accepted by that module's
plain-Python check, which accepts exactly what these models accept (``tests/unit/test_request_check.py``
proves it), so the cold start and the path of a valid record never import pydantic. An invalid message
is validated here, for the field paths and error kinds its dead letter carries.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from domain import constraints as c
from domain.requests import AMOUNT_RE, CONTROL_RE, Currency


class _Strict(BaseModel):
    """Strict JSON types, unknown fields rejected, ``null`` never accepted for an optional field."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_null(cls, value: Any) -> Any:
        if value is None:
            raise PydanticCustomError("null_not_allowed", "null is not allowed; omit the field")
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _valid_unicode(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise PydanticCustomError("invalid_unicode", "lone surrogate in string") from None
        return value


class Amount(_Strict):
    """``limits.maxSpendAmount``: a positive decimal string with at most 2 fraction digits."""

    value: str
    currency: Currency

    @field_validator("value")
    @classmethod
    def _positive_decimal(cls, value: str) -> str:
        if AMOUNT_RE.fullmatch(value) is None:
            raise PydanticCustomError("amount_format", "a plain decimal with at most 2 fraction digits")
        if Decimal(value) <= 0:
            raise PydanticCustomError("amount_not_positive", "the amount must be greater than zero")
        return value


class SessionLimits(_Strict):
    """``limits``: when given, ``maxSpendAmount`` is required."""

    maxSpendAmount: Amount


def _no_control_characters(value: str) -> str:
    if CONTROL_RE.search(value) is not None:
        raise PydanticCustomError("control_character", "control characters are not allowed in a header value")
    return value


class RequestMessage(_Strict):
    """The SQS message body, field for field (CONTRACT section 1)."""

    expiryTimeInMinutes: Annotated[int, Field(ge=c.EXPIRY_MIN, le=c.EXPIRY_MAX)]
    paymentManagerArn: (
        Annotated[str, Field(min_length=c.PAYMENT_MANAGER_ARN_MIN, max_length=c.PAYMENT_MANAGER_ARN_MAX)] | None
    ) = None
    userId: Annotated[str, Field(min_length=c.USER_ID_MIN, max_length=c.USER_ID_MAX)] | None = None
    agentName: Annotated[str, Field(min_length=c.AGENT_NAME_MIN, max_length=c.AGENT_NAME_MAX)] | None = None
    limits: SessionLimits | None = None
    clientToken: Annotated[str, Field(min_length=c.CLIENT_TOKEN_MIN, max_length=c.CLIENT_TOKEN_MAX)] | None = None
    correlationId: Annotated[str, Field(min_length=c.CORRELATION_ID_MIN, max_length=c.CORRELATION_ID_MAX)] | None = None

    @field_validator("paymentManagerArn")
    @classmethod
    def _arn_pattern(cls, value: str) -> str:
        if c.PAYMENT_MANAGER_ARN_RE.fullmatch(value) is None:
            raise PydanticCustomError("pattern_mismatch", "does not match the payment manager ARN pattern")
        return value

    @field_validator("clientToken")
    @classmethod
    def _token_pattern(cls, value: str) -> str:
        if c.CLIENT_TOKEN_RE.fullmatch(value) is None:
            raise PydanticCustomError("pattern_mismatch", "does not match the client token pattern")
        return value

    @field_validator("userId", "agentName")
    @classmethod
    def _header_safe(cls, value: str) -> str:
        return _no_control_characters(value)
