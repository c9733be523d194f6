"""The request message (CONTRACT section 1): strict JSON, envelopes, validation, the effective request."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from domain import constraints as c
from domain.errors import FieldProblem, PoisonCode, PoisonMessage

Currency = Literal["USD"]

# Envelopes may be stacked (EventBridge -> SNS -> SQS); deeper than this is not a real topology.
MAX_ENVELOPES: Final = 3

_AMOUNT_RE: Final = re.compile(r"(?:0|[1-9][0-9]*)(?:\.[0-9]{1,2})?")
_CONTROL_RE: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")


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
        if _AMOUNT_RE.fullmatch(value) is None:
            raise PydanticCustomError("amount_format", "a plain decimal with at most 2 fraction digits")
        if Decimal(value) <= 0:
            raise PydanticCustomError("amount_not_positive", "the amount must be greater than zero")
        return value


class SessionLimits(_Strict):
    """``limits``: when given, ``maxSpendAmount`` is required."""

    maxSpendAmount: Amount


def _no_control_characters(value: str) -> str:
    if _CONTROL_RE.search(value) is not None:
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


@dataclass(frozen=True, slots=True)
class Money:
    value: str
    currency: str

    def as_dict(self) -> dict[str, str]:
        return {"value": self.value, "currency": self.currency}


@dataclass(frozen=True, slots=True)
class EffectiveRequest:
    """The request the worker sends: the payment manager resolved, every field validated."""

    payment_manager_arn: str
    expiry_time_in_minutes: int
    user_id: str | None = None
    agent_name: str | None = None
    max_spend: Money | None = None
    client_token: str | None = None  # the body's token, when it gave one
    correlation_id: str | None = None

    def as_event_request(self) -> dict[str, Any]:
        """The ``request`` object of published events (CONTRACT section 4)."""
        out: dict[str, Any] = {
            "paymentManagerArn": self.payment_manager_arn,
            "expiryTimeInMinutes": self.expiry_time_in_minutes,
        }
        if self.user_id is not None:
            out["userId"] = self.user_id
        if self.agent_name is not None:
            out["agentName"] = self.agent_name
        if self.max_spend is not None:
            out["limits"] = {"maxSpendAmount": self.max_spend.as_dict()}
        return out

    def api_params(self, client_token: str) -> dict[str, Any]:
        """Keyword arguments of ``create_payment_session``; the token is always passed explicitly."""
        params = self.as_event_request()
        params["clientToken"] = client_token
        return params


@dataclass(frozen=True, slots=True)
class ManagerPolicy:
    """Which payment managers a message may name (CONTRACT section 6)."""

    default_arn: str
    allowed_arns: frozenset[str] = frozenset()

    def resolve(self, requested: str | None) -> str:
        if requested is None or requested == self.default_arn:
            return self.default_arn
        if requested in self.allowed_arns:
            return requested
        raise PoisonMessage(
            PoisonCode.PAYMENT_MANAGER_NOT_ALLOWED,
            (FieldProblem("paymentManagerArn", "not the default nor in ALLOWED_PAYMENT_MANAGER_ARNS"),),
        )


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError("duplicate key")
        out[key] = value
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError("NaN and Infinity are not JSON")


def strict_json_loads(text: str, where: str = "body") -> Any:
    """Parse RFC 8259 JSON strictly: no BOM, no duplicate keys, no NaN/Infinity, bounded nesting.

    Fractions are parsed as ``Decimal`` so that no number becomes ``inf``; integers beyond Python's
    digit limit, and nesting deeper than the recursion limit, are malformed rather than a crash.
    """
    try:
        return json.loads(
            text,
            object_pairs_hook=_reject_duplicate_keys,
            parse_constant=_reject_constant,
            parse_float=Decimal,
        )
    except RecursionError:
        kind = "nesting too deep"
    except json.JSONDecodeError as exc:
        kind = f"not JSON ({exc.msg})"
    except ValueError as exc:  # duplicate keys, NaN/Infinity, integers beyond the digit limit
        kind = "duplicate key" if str(exc) == "duplicate key" else "not JSON (invalid number or constant)"
    raise PoisonMessage(PoisonCode.MALFORMED_JSON, (FieldProblem(where, kind),))


def _is_sns_notification(doc: dict[str, Any]) -> bool:
    return doc.get("Type") == "Notification" and "Message" in doc


def _is_eventbridge_event(doc: dict[str, Any]) -> bool:
    return "detail-type" in doc and "detail" in doc


def unwrap_envelopes(document: Any, own_event_source: str) -> Any:
    """Strip SNS and EventBridge envelopes, detected by shape; an event of our own source is poison."""
    for _ in range(MAX_ENVELOPES):
        if not isinstance(document, dict):
            return document
        if _is_sns_notification(document):
            message = document["Message"]
            if not isinstance(message, str):
                raise PoisonMessage(
                    PoisonCode.INVALID_REQUEST, (FieldProblem("Message", "SNS Message is not a string"),)
                )
            document = strict_json_loads(message, where="Message")
        elif _is_eventbridge_event(document):
            if document.get("source") == own_event_source:
                raise PoisonMessage(PoisonCode.EVENT_LOOP, (FieldProblem("source", "event published by this worker"),))
            detail = document["detail"]
            if not isinstance(detail, dict):
                raise PoisonMessage(
                    PoisonCode.INVALID_REQUEST,
                    (FieldProblem("detail", "EventBridge detail is not an object"),),
                )
            document = detail
        else:
            return document
    if isinstance(document, dict) and (_is_sns_notification(document) or _is_eventbridge_event(document)):
        raise PoisonMessage(PoisonCode.INVALID_REQUEST, (FieldProblem("", "too many nested envelopes"),))
    return document


def _problems(error: ValidationError) -> tuple[FieldProblem, ...]:
    return tuple(
        FieldProblem(".".join(str(part) for part in item["loc"]), item["type"])
        for item in error.errors(include_url=False, include_input=False, include_context=False)
    )


def validate_message(document: Any) -> RequestMessage:
    """Validate an unwrapped document as a request message; any broken rule is ``InvalidRequest``."""
    if not isinstance(document, dict):
        raise PoisonMessage(PoisonCode.INVALID_REQUEST, (FieldProblem("", "body is not a JSON object"),))
    try:
        return RequestMessage.model_validate(document)
    except ValidationError as exc:
        raise PoisonMessage(PoisonCode.INVALID_REQUEST, _problems(exc)) from None


def parse_request(body: str, *, own_event_source: str, managers: ManagerPolicy) -> EffectiveRequest:
    """From an SQS body to the effective request, or ``PoisonMessage`` naming what is wrong."""
    message = validate_message(unwrap_envelopes(strict_json_loads(body), own_event_source))
    limits = message.limits
    return EffectiveRequest(
        payment_manager_arn=managers.resolve(message.paymentManagerArn),
        expiry_time_in_minutes=message.expiryTimeInMinutes,
        user_id=message.userId,
        agent_name=message.agentName,
        max_spend=(Money(limits.maxSpendAmount.value, limits.maxSpendAmount.currency) if limits is not None else None),
        client_token=message.clientToken,
        correlation_id=message.correlationId,
    )
