"""From an SQS body to the effective request (CONTRACT section 1): strict JSON, envelopes, the model, the manager.

Anything that cannot become a request raises ``PoisonMessage`` naming the field paths and error kinds, never
the input's values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from pydantic import ValidationError

from domain.errors import FieldProblem, PoisonCode, PoisonMessage
from domain.request import EffectiveRequest, PaymentSessionRequest

# Envelopes may be stacked (EventBridge -> SNS -> SQS); deeper than this is not a real topology.
MAX_ENVELOPES: Final = 3


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


def validate_message(document: Any) -> PaymentSessionRequest:
    """Validate an unwrapped document as a request message; any broken rule is ``InvalidRequest``."""
    if not isinstance(document, dict):
        raise PoisonMessage(PoisonCode.INVALID_REQUEST, (FieldProblem("", "body is not a JSON object"),))
    try:
        return PaymentSessionRequest.model_validate(document)
    except ValidationError as exc:
        raise PoisonMessage(PoisonCode.INVALID_REQUEST, _problems(exc)) from None


def parse_request(body: str, *, own_event_source: str, managers: ManagerPolicy) -> EffectiveRequest:
    """From an SQS body to the effective request, or ``PoisonMessage`` naming what is wrong."""
    message = validate_message(unwrap_envelopes(strict_json_loads(body), own_event_source))
    return message.resolved(managers.resolve(message.paymentManagerArn))
