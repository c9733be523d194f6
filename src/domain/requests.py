"""The request message (CONTRACT section 1): strict JSON, envelopes, validation, the effective request."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, Literal, get_args

from domain import constraints as c
from domain.errors import FieldProblem, PoisonCode, PoisonMessage

if TYPE_CHECKING:
    from pydantic import ValidationError

    from domain.request_model import Amount as Amount
    from domain.request_model import RequestMessage as RequestMessage
    from domain.request_model import SessionLimits as SessionLimits

Currency = Literal["USD"]

# Envelopes may be stacked (EventBridge -> SNS -> SQS); deeper than this is not a real topology.
MAX_ENVELOPES: Final = 3

AMOUNT_RE: Final = re.compile(r"(?:0|[1-9][0-9]*)(?:\.[0-9]{1,2})?")
CONTROL_RE: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")

# The pydantic models live in domain.request_model, imported when first needed (see __getattr__).
_MODELS: Final = frozenset({"Amount", "RequestMessage", "SessionLimits"})


def __getattr__(name: str) -> Any:
    """``Amount``, ``RequestMessage`` and ``SessionLimits``, importing pydantic on first use only."""
    if name in _MODELS:
        from domain import request_model

        return getattr(request_model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    from pydantic import ValidationError

    from domain.request_model import RequestMessage

    try:
        return RequestMessage.model_validate(document)
    except ValidationError as exc:
        raise PoisonMessage(PoisonCode.INVALID_REQUEST, _problems(exc)) from None


# The request check: plain Python, for the cold start and the hot path. It accepts a document only when
# RequestMessage would accept it unchanged, and says "not sure" (False) otherwise, leaving the verdict and
# its explanation to the model; tests/unit/test_request_check.py proves both halves on generated documents.
_FIELDS: Final = frozenset(
    {"expiryTimeInMinutes", "paymentManagerArn", "userId", "agentName", "limits", "clientToken", "correlationId"}
)
_LIMITS_FIELDS: Final = frozenset({"maxSpendAmount"})
_AMOUNT_FIELDS: Final = frozenset({"value", "currency"})
_CURRENCIES: Final = frozenset(get_args(Currency))


def _text(value: Any, low: int, high: int) -> bool:
    """A JSON string of ``low``..``high`` characters that UTF-8 can encode (no lone surrogate)."""
    if type(value) is not str or not low <= len(value) <= high:
        return False
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _header(value: Any, low: int, high: int) -> bool:
    return _text(value, low, high) and CONTROL_RE.search(value) is None


def _amount(value: Any) -> bool:
    if type(value) is not dict or value.keys() != _AMOUNT_FIELDS:
        return False
    number, currency = value["value"], value["currency"]
    return (
        type(number) is str
        and AMOUNT_RE.fullmatch(number) is not None
        and Decimal(number) > 0
        and type(currency) is str
        and currency in _CURRENCIES
    )


def _manager_arn(value: Any) -> bool:
    return (
        _text(value, c.PAYMENT_MANAGER_ARN_MIN, c.PAYMENT_MANAGER_ARN_MAX)
        and c.PAYMENT_MANAGER_ARN_RE.fullmatch(value) is not None
    )


def _user_id(value: Any) -> bool:
    return _header(value, c.USER_ID_MIN, c.USER_ID_MAX)


def _agent_name(value: Any) -> bool:
    return _header(value, c.AGENT_NAME_MIN, c.AGENT_NAME_MAX)


def _limits(value: Any) -> bool:
    return type(value) is dict and value.keys() == _LIMITS_FIELDS and _amount(value["maxSpendAmount"])


def _client_token(value: Any) -> bool:
    return _text(value, c.CLIENT_TOKEN_MIN, c.CLIENT_TOKEN_MAX) and c.CLIENT_TOKEN_RE.fullmatch(value) is not None


def _correlation_id(value: Any) -> bool:
    return _text(value, c.CORRELATION_ID_MIN, c.CORRELATION_ID_MAX)


_CHECKS: Final[tuple[tuple[str, Callable[[Any], bool]], ...]] = (
    ("paymentManagerArn", _manager_arn),
    ("userId", _user_id),
    ("agentName", _agent_name),
    ("limits", _limits),
    ("clientToken", _client_token),
    ("correlationId", _correlation_id),
)


def is_certainly_valid(document: Any) -> bool:
    """Whether ``RequestMessage`` accepts ``document`` as it is; ``False`` also when the check is unsure."""
    if type(document) is not dict or not _FIELDS.issuperset(document):
        return False
    expiry = document.get("expiryTimeInMinutes")
    if type(expiry) is not int or not c.EXPIRY_MIN <= expiry <= c.EXPIRY_MAX:
        return False
    return all(check(document[name]) for name, check in _CHECKS if name in document)


def parse_request(body: str, *, own_event_source: str, managers: ManagerPolicy) -> EffectiveRequest:
    """From an SQS body to the effective request, or ``PoisonMessage`` naming what is wrong.

    A valid message passes the plain check; anything else goes to the pydantic model, which either
    accepts it or raises the ``InvalidRequest`` that names every broken rule.
    """
    document = unwrap_envelopes(strict_json_loads(body), own_event_source)
    fields: dict[str, Any] = (
        document if is_certainly_valid(document) else validate_message(document).model_dump(exclude_none=True)
    )
    limits = fields.get("limits")
    return EffectiveRequest(
        payment_manager_arn=managers.resolve(fields.get("paymentManagerArn")),
        expiry_time_in_minutes=fields["expiryTimeInMinutes"],
        user_id=fields.get("userId"),
        agent_name=fields.get("agentName"),
        max_spend=None if limits is None else Money(**limits["maxSpendAmount"]),
        client_token=fields.get("clientToken"),
        correlation_id=fields.get("correlationId"),
    )
