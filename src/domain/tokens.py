"""Idempotency (CONTRACT section 2): which ``clientToken`` a record's API call carries."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from domain.dead_letter import LetterAttribute
from domain.errors import FieldProblem, PoisonCode, PoisonMessage
from domain.request import is_valid_client_token

DERIVED_TOKEN_PREFIX: Final = "sqs-"


class TokenSource(StrEnum):
    BODY = "body"
    ATTRIBUTE = "attribute"
    MESSAGE_ID = "messageId"


@dataclass(frozen=True, slots=True)
class ClientToken:
    value: str
    source: TokenSource


def derive_token(message_id: str) -> str:
    """A token from the SQS message ID alone: deterministic, 68 characters, within the model's pattern."""
    digest = hashlib.sha256(message_id.encode("utf-8", "surrogatepass")).hexdigest()
    return DERIVED_TOKEN_PREFIX + digest


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


def choose_token(body_token: str | None, attribute: str | None, message_id: str) -> ClientToken:
    """The body's token, then the ``ClientToken`` attribute, then one derived from ``messageId``."""
    if body_token is not None:
        return ClientToken(body_token, TokenSource.BODY)
    from_attribute = attribute_token(attribute)
    if from_attribute is not None:
        return ClientToken(from_attribute, TokenSource.ATTRIBUTE)
    return ClientToken(derive_token(message_id), TokenSource.MESSAGE_ID)
