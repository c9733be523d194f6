"""The request (CONTRACT section 1) and the session the API makes of it: one pydantic definition each.

``PaymentSessionRequest`` is the authority on the message body: names, JSON types, strictness, and the bounds
and patterns of ``domain.constraints`` (the figures botocore's model states). Everything else derives from it:
``EffectiveRequest`` (the payment manager resolved) gives the ``request`` object of events and the API's keyword
arguments, and the event-detail models of ``domain.events`` embed it. A new optional field is one line here.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any, Final

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from domain import constraints as c

# Our own rule within the model's AmountValue (CONTRACT section 1): a positive decimal with at most 2 fraction
# digits; no exponent, sign, NaN or spaces. The model's own bounds (18 integer digits, 40 characters) apply too.
AMOUNT_PATTERN: Final = re.compile(r"(?:0|[1-9][0-9]*)(?:\.[0-9]{1,2})?")
# C0 and C1 control characters: never in a value that travels as an HTTP header.
CONTROL_PATTERN: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _matching(pattern: re.Pattern[str], kind: str) -> AfterValidator:
    def check(value: str) -> str:
        if pattern.fullmatch(value) is None:
            raise PydanticCustomError("pattern_mismatch", "does not match the {kind} pattern", {"kind": kind})
        return value

    return AfterValidator(check)


def _model_text(minimum: int, maximum: int, pattern: re.Pattern[str], kind: str) -> tuple[Any, ...]:
    """A string as botocore's model bounds it, as ``Annotated`` metadata: ``minimum`` to ``maximum`` characters,
    then the whole value matching ``pattern`` (a ``pattern_mismatch`` that names ``kind``)."""
    return Field(min_length=minimum, max_length=maximum), _matching(pattern, kind)


def _header_safe(value: str) -> str:
    """A value that travels as an HTTP header arrives as sent: no control character, nothing HTTP would trim."""
    if CONTROL_PATTERN.search(value) is not None:
        raise PydanticCustomError("control_character", "control characters are not allowed in a header value")
    if value != value.strip():
        raise PydanticCustomError("edge_whitespace", "leading or trailing space is trimmed from a header value")
    return value


def _positive_amount(value: str) -> str:
    if AMOUNT_PATTERN.fullmatch(value) is None:
        raise PydanticCustomError("amount_format", "a plain decimal with at most 2 fraction digits")
    if Decimal(value) <= 0:
        raise PydanticCustomError("amount_not_positive", "the amount must be greater than zero")
    return value


ManagerArn = Annotated[
    str,
    *_model_text(c.PAYMENT_MANAGER_ARN_MIN, c.PAYMENT_MANAGER_ARN_MAX, c.PAYMENT_MANAGER_ARN_RE, "payment manager ARN"),
]
AmountValue = Annotated[
    str,
    Field(min_length=c.AMOUNT_VALUE_MIN, max_length=c.AMOUNT_VALUE_MAX),
    AfterValidator(_positive_amount),
    _matching(c.AMOUNT_VALUE_RE, "model's amount"),  # 18 integer digits at most
]
PaymentSessionId = Annotated[
    str, *_model_text(c.PAYMENT_SESSION_ID_MIN, c.PAYMENT_SESSION_ID_MAX, c.PAYMENT_SESSION_ID_RE, "payment session ID")
]
ClientTokenText = Annotated[
    str, *_model_text(c.CLIENT_TOKEN_MIN, c.CLIENT_TOKEN_MAX, c.CLIENT_TOKEN_RE, "client token")
]


@functools.cache
def _adapter(kind: Any) -> TypeAdapter[str]:
    """A validator of one field type, built on first use (each costs the cold start a schema build)."""
    return TypeAdapter(kind)


def _is_valid(kind: Any, value: str) -> bool:
    try:
        _adapter(kind).validate_python(value)
    except ValidationError:
        return False
    return True


def is_valid_payment_manager_arn(value: str) -> bool:
    """Whether ``value`` is an ARN the API accepts as ``paymentManagerArn`` (the request's own rule)."""
    return _is_valid(ManagerArn, value)


def is_valid_client_token(value: str) -> bool:
    """Whether ``value`` is a ``clientToken`` the API accepts (the request's own rule)."""
    return _is_valid(ClientTokenText, value)


def is_valid_payment_session_id(value: str) -> bool:
    """Whether ``value`` is a ``paymentSessionId`` the API accepts (``GetPaymentSession``'s rule)."""
    return _is_valid(PaymentSessionId, value)


UserId = Annotated[str, Field(min_length=c.USER_ID_MIN, max_length=c.USER_ID_MAX), AfterValidator(_header_safe)]
AgentName = Annotated[
    str, Field(min_length=c.AGENT_NAME_MIN, max_length=c.AGENT_NAME_MAX), AfterValidator(_header_safe)
]
CorrelationId = Annotated[str, Field(min_length=c.CORRELATION_ID_MIN, max_length=c.CORRELATION_ID_MAX)]


class Strict(BaseModel):
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


class Amount(Strict):
    """``limits.maxSpendAmount``: a positive decimal string with at most 18 integer and 2 fraction digits."""

    value: AmountValue
    currency: c.Currency


class SessionLimits(Strict):
    """``limits``: when given, ``maxSpendAmount`` is required."""

    maxSpendAmount: Amount


class PaymentSessionRequest(Strict):
    """The SQS message body, field for field (CONTRACT section 1).

    Fields marked ``exclude=True`` are the worker's own (idempotency and tracing): they are read from the
    message but are not part of the session's terms, so neither the event's ``request`` nor the API's keyword
    arguments carry them (the chosen token is passed on its own).
    """

    expiryTimeInMinutes: Annotated[int, Field(ge=c.EXPIRY_MIN, le=c.EXPIRY_MAX)]
    paymentManagerArn: ManagerArn | None = None
    userId: UserId | None = None
    agentName: AgentName | None = None
    limits: SessionLimits | None = None
    clientToken: ClientTokenText | None = Field(default=None, exclude=True)
    correlationId: CorrelationId | None = Field(default=None, exclude=True)

    def resolved(self, payment_manager_arn: str) -> EffectiveRequest:
        """This request with its payment manager resolved (by ``domain.parsing.ManagerPolicy``)."""
        values = dict(self)
        values["paymentManagerArn"] = payment_manager_arn
        return EffectiveRequest.model_construct(self.model_fields_set | {"paymentManagerArn"}, **values)


class EffectiveRequest(PaymentSessionRequest):
    """The request the worker sends: every field validated, the payment manager resolved (required)."""

    paymentManagerArn: ManagerArn

    def terms(self) -> dict[str, Any]:
        """The ``request`` object of published events (CONTRACT section 4): the given fields, no worker field."""
        return self.model_dump(exclude_none=True)

    def api_params(self, client_token: str) -> dict[str, Any]:
        """Keyword arguments of ``create_payment_session``; the token is always passed (botocore would invent one)."""
        return {**self.terms(), "clientToken": client_token}

    def lookup_params(self, payment_session_id: str) -> dict[str, Any]:
        """Keyword arguments of ``get_payment_session`` for a session of this request (its manager and headers)."""
        terms = self.terms()
        headers: dict[str, Any] = {name: terms[name] for name in ("userId", "agentName") if name in terms}
        return {"paymentManagerArn": self.paymentManagerArn, "paymentSessionId": payment_session_id, **headers}

    def mismatch(self, session: Mapping[str, Any]) -> str | None:
        """Why ``session`` was not made of this request's terms (manager, user, expiry, limit), or ``None``."""
        if session.get("paymentManagerArn") != self.paymentManagerArn:
            return "the session belongs to another payment manager"
        if self.userId is not None and session.get("userId") != self.userId:
            return "the session belongs to another user"
        if session.get("expiryTimeInMinutes") != self.expiryTimeInMinutes:
            return "the session has another expiryTimeInMinutes"
        if _spend_limit(session.get("limits")) != _spend_limit(self.terms().get("limits")):
            return "the session has another spending limit"
        return None


def _spend_limit(limits: Any) -> tuple[Decimal, str] | None:
    """``limits.maxSpendAmount`` as a comparable value (``"25"`` and ``"25.00"`` are one limit)."""
    amount = limits.get("maxSpendAmount") if isinstance(limits, Mapping) else None
    if not isinstance(amount, Mapping):
        return None
    try:
        return Decimal(str(amount.get("value"))), str(amount.get("currency"))
    except ArithmeticError:
        return None


class Money(BaseModel):
    """An amount as the API answers it (an available amount may be zero)."""

    # The answer's models describe events (schemas, tests); the worker never validates them: built on first use.
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)

    value: str
    currency: c.Currency


class SessionLimitsAnswered(BaseModel):
    """``paymentSession.limits`` as the API answers it."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)

    maxSpendAmount: Money


class AvailableLimits(BaseModel):
    """``paymentSession.availableLimits`` as the API answers it."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)

    availableSpendAmount: Money | None = None
    updatedAt: str | None = None


class PaymentSession(BaseModel):
    """The API's ``paymentSession`` as events carry it: timestamps as ISO-8601 strings with a UTC offset.

    Open to new keys (``extra="allow"``): a field the API adds reaches subscribers without a release.
    """

    model_config = ConfigDict(extra="allow", strict=True, defer_build=True)

    paymentSessionId: str
    paymentManagerArn: str
    userId: str
    expiryTimeInMinutes: int
    createdAt: str
    updatedAt: str
    limits: SessionLimitsAnswered | None = None
    availableLimits: AvailableLimits | None = None
