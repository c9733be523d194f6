"""Idempotency (CONTRACT section 2): which ``clientToken`` a record's API call carries.

In this order: the body's ``clientToken``; the ``ClientToken`` message attribute; for an SNS or EventBridge
envelope, a token derived from the envelope's own ID (a notification delivered twice gets one token); else a
token derived from the SQS message ID. The derivations live here alone: the worker and the redrive command
(``operations.copies``) both call them.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from domain.dead_letter import LetterAttribute
from domain.errors import FieldProblem, PoisonCode, PoisonMessage
from domain.parsing import EnvelopeId, strict_json_loads, unwrap_envelopes
from domain.request import is_valid_client_token

DERIVED_TOKEN_PREFIX: Final = "sqs-"
# What an SQS message attribute may hold (#x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF).
_NOT_SQS_TEXT: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class TokenSource(StrEnum):
    BODY = "body"
    ATTRIBUTE = "attribute"
    ENVELOPE = "envelope"
    MESSAGE_ID = "messageId"


@dataclass(frozen=True, slots=True)
class ClientToken:
    value: str
    source: TokenSource


def _digest(*parts: str) -> str:
    # A JSON array keeps the parts apart: ("a", "b/c") and ("a/b", "c") never collide.
    text = parts[0] if len(parts) == 1 else json.dumps(parts, ensure_ascii=True)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def derive_token(message_id: str) -> str:
    """A token from the SQS message ID alone: deterministic, 68 characters, within the model's pattern."""
    return DERIVED_TOKEN_PREFIX + _digest(message_id)


def envelope_token(envelope: EnvelopeId) -> str:
    """A token from an envelope's own ID (``sns-`` or ``eb-`` and 64 hex digits), within the model's pattern."""
    return f"{envelope.kind}-{_digest(envelope.scope, envelope.id)}"


def derived_token(envelope: EnvelopeId | None, message_id: str) -> ClientToken:
    """The token of a record that brings none: from its envelope's ID, else from its message ID."""
    if envelope is not None:
        return ClientToken(envelope_token(envelope), TokenSource.ENVELOPE)
    return ClientToken(derive_token(message_id), TokenSource.MESSAGE_ID)


def attribute_token(attribute: str | None) -> str | None:
    """The ``ClientToken`` message attribute when present; a malformed one is poison, never replaced."""
    if attribute is None:
        return None
    if not is_valid_client_token(attribute):
        raise PoisonMessage(
            PoisonCode.INVALID_REQUEST,
            (FieldProblem(f"messageAttributes.{LetterAttribute.CLIENT_TOKEN}", "not a valid client token"),),
        )
    return attribute


def choose_token(
    body_token: str | None, attribute: str | None, message_id: str, envelope: EnvelopeId | None = None
) -> ClientToken:
    """The body's token, then the ``ClientToken`` attribute, then one derived from the envelope or ``messageId``."""
    if body_token is not None:
        return ClientToken(body_token, TokenSource.BODY)
    from_attribute = attribute_token(attribute)
    if from_attribute is not None:
        return ClientToken(from_attribute, TokenSource.ATTRIBUTE)
    return derived_token(envelope, message_id)


def _unwrapped(body: str) -> tuple[Any, EnvelopeId | None]:
    """The request document and envelope as a delivery reads them, or ``(None, None)`` when it cannot."""
    try:
        return unwrap_envelopes(strict_json_loads(body), None)
    except PoisonMessage:
        return None, None


def first_delivery_token(body: str, message_id: str) -> ClientToken:
    """The token a delivery derived for ``body`` when it brought none (the redrive command's derivation).

    A dead letter that SQS's redrive policy moved keeps the message ID of its first delivery, so this is the
    token that delivery sent.
    """
    _, envelope = _unwrapped(body)
    return derived_token(envelope, message_id)


def _sqs_text(value: Any) -> str | None:
    if isinstance(value, str) and value and _NOT_SQS_TEXT.search(value) is None:
        return value
    return None


def poison_token(body: str, attribute: str | None, message_id: str) -> str | None:
    """The ``ClientToken`` a poison record's dead letter carries: the producer's, as written, never replaced.

    The body's ``clientToken`` when it has one; else (or when SQS could not carry the body's as an attribute, such
    as a number) the ``ClientToken`` attribute as it came; else, without either, the token a delivery derives.
    """
    document, envelope = _unwrapped(body)
    written = document.get("clientToken") if isinstance(document, dict) else None
    carried = _sqs_text(written)
    if carried is not None or attribute is not None:
        return carried or attribute
    return None if written is not None else derived_token(envelope, message_id).value
