"""From an SQS body to the effective request (CONTRACT section 1): strict JSON, envelopes, the model, the manager.

Anything that cannot become a request raises ``PoisonMessage`` naming the field paths and error kinds, never
the input's values.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
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


def _unique_keys(where: str) -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    """The parser's object hook: an object that names one key twice is poison (``MalformedJson`` at ``where``)."""

    def build(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise PoisonMessage(PoisonCode.MALFORMED_JSON, (FieldProblem(where, "duplicate key"),))
            out[key] = value
        return out

    return build


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
            object_pairs_hook=_unique_keys(where),
            parse_constant=_reject_constant,
            parse_float=Decimal,
        )
    except RecursionError:
        kind = "nesting too deep"
    except json.JSONDecodeError as exc:
        kind = f"not JSON ({exc.msg})"
    except ValueError:  # NaN/Infinity, integers beyond the digit limit
        kind = "not JSON (invalid number or constant)"
    raise PoisonMessage(PoisonCode.MALFORMED_JSON, (FieldProblem(where, kind),))


# The keys each service writes into its envelope (CONTRACT section 1): anything else beside them is invalid, so a
# request field put next to the envelope (``limits`` beside ``detail``) can never be silently ignored.
SNS_KEYS: Final = frozenset(
    {
        "Type",
        "MessageId",
        "TopicArn",
        "Subject",
        "Message",
        "Timestamp",
        "SignatureVersion",
        "Signature",
        "SigningCertURL",
        "UnsubscribeURL",
        "MessageAttributes",
        "SequenceNumber",
    }
)
EVENTBRIDGE_KEYS: Final = frozenset(
    {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail", "replay-name"}
)


class EnvelopeKind(StrEnum):
    """The services whose envelopes the worker unwraps; the value prefixes the tokens derived from their IDs."""

    SNS = "sns"
    EVENTBRIDGE = "eb"


@dataclass(frozen=True, slots=True)
class EnvelopeId:
    """What identifies one notification however often its service delivers it (CONTRACT section 2, step 3).

    SNS: ``TopicArn`` and ``MessageId``; EventBridge: ``source`` and ``id``.
    """

    kind: EnvelopeKind
    scope: str
    id: str


def _is_sns_notification(doc: dict[str, Any]) -> bool:
    return doc.get("Type") == "Notification" and "Message" in doc


def _is_eventbridge_event(doc: dict[str, Any]) -> bool:
    return "detail-type" in doc and "detail" in doc


def _only_keys(document: dict[str, Any], allowed: frozenset[str], service: str) -> None:
    extra = sorted(key for key in document if key not in allowed)
    if extra:
        problems = tuple(FieldProblem(key, f"not a key of an {service} envelope") for key in extra)
        raise PoisonMessage(PoisonCode.INVALID_REQUEST, problems)


def _envelope_id(kind: EnvelopeKind, scope: Any, identifier: Any) -> EnvelopeId | None:
    if isinstance(scope, str) and isinstance(identifier, str) and scope and identifier:
        return EnvelopeId(kind, scope, identifier)
    return None


def unwrap_envelopes(document: Any, own_event_source: str | None) -> tuple[Any, EnvelopeId | None]:
    """Strip SNS and EventBridge envelopes, detected by shape; an event of our own source is poison.

    ``own_event_source=None`` skips the loop guard (reading a dead letter's envelope, never to act on it).
    Returns the request document and the ID of the innermost envelope that had one: the notification a
    duplicate delivery repeats, at whatever layer (EventBridge -> SNS -> SQS) it was duplicated.
    """
    envelope: EnvelopeId | None = None
    for _ in range(MAX_ENVELOPES):
        if not isinstance(document, dict):
            return document, envelope
        if _is_sns_notification(document):
            _only_keys(document, SNS_KEYS, "SNS")
            message = document["Message"]
            if not isinstance(message, str):
                raise PoisonMessage(
                    PoisonCode.INVALID_REQUEST, (FieldProblem("Message", "SNS Message is not a string"),)
                )
            envelope = _envelope_id(EnvelopeKind.SNS, document.get("TopicArn"), document.get("MessageId")) or envelope
            document = strict_json_loads(message, where="Message")
        elif _is_eventbridge_event(document):
            if own_event_source is not None and document.get("source") == own_event_source:
                raise PoisonMessage(PoisonCode.EVENT_LOOP, (FieldProblem("source", "event published by this worker"),))
            _only_keys(document, EVENTBRIDGE_KEYS, "EventBridge")
            detail = document["detail"]
            if not isinstance(detail, dict):
                raise PoisonMessage(
                    PoisonCode.INVALID_REQUEST,
                    (FieldProblem("detail", "EventBridge detail is not an object"),),
                )
            envelope = _envelope_id(EnvelopeKind.EVENTBRIDGE, document.get("source"), document.get("id")) or envelope
            document = detail
        else:
            return document, envelope
    if isinstance(document, dict) and (_is_sns_notification(document) or _is_eventbridge_event(document)):
        raise PoisonMessage(PoisonCode.INVALID_REQUEST, (FieldProblem("", "too many nested envelopes"),))
    return document, envelope


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


def parse_message(
    body: str, *, own_event_source: str, managers: ManagerPolicy
) -> tuple[EffectiveRequest, EnvelopeId | None]:
    """From an SQS body to the effective request and the innermost envelope it came in (if any), in one pass, or
    ``PoisonMessage``."""
    document, envelope = unwrap_envelopes(strict_json_loads(body), own_event_source)
    message = validate_message(document)
    return message.resolved(managers.resolve(message.paymentManagerArn)), envelope


def parse_request(body: str, *, own_event_source: str, managers: ManagerPolicy) -> EffectiveRequest:
    """From an SQS body to the effective request, or ``PoisonMessage`` naming what is wrong."""
    return parse_message(body, own_event_source=own_event_source, managers=managers)[0]
