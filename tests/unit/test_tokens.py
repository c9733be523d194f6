"""Idempotency (CONTRACT section 2): which client token a record's API call carries."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import botocore.session
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import PoisonCode, PoisonMessage
from domain.tokens import ClientToken, TokenSource, attribute_token, choose_token, derive_token

BODY_TOKEN = "body-token-0123456789abcdef0123456789abcdef"
ATTRIBUTE_TOKEN = "attribute-token-0123456789abcdef0123456789"
MESSAGE_ID = "059f36b4-87a3-44ab-83d2-661975830a7d"


@cache
def model_token() -> dict[str, Any]:
    """The ``clientToken`` constraints of botocore's model: min, max, pattern."""
    operation = (
        botocore.session.get_session().get_service_model("bedrock-agentcore").operation_model("CreatePaymentSession")
    )
    metadata: dict[str, Any] = operation.input_shape.members["clientToken"].metadata
    return metadata


def model_accepts(token: str) -> bool:
    metadata = model_token()
    return metadata["min"] <= len(token) <= metadata["max"] and re.fullmatch(metadata["pattern"], token) is not None


# -- the order: body, attribute, derived ---------------------------------------------------------------


def test_the_body_token_comes_first() -> None:
    assert choose_token(BODY_TOKEN, ATTRIBUTE_TOKEN, MESSAGE_ID) == ClientToken(BODY_TOKEN, TokenSource.BODY)


def test_the_body_token_wins_even_over_a_malformed_attribute() -> None:
    assert choose_token(BODY_TOKEN, "not a token", MESSAGE_ID).value == BODY_TOKEN


def test_without_a_body_token_the_client_token_attribute_is_used() -> None:
    assert choose_token(None, ATTRIBUTE_TOKEN, MESSAGE_ID) == ClientToken(ATTRIBUTE_TOKEN, TokenSource.ATTRIBUTE)


def test_without_either_the_token_is_derived_from_the_message_id() -> None:
    assert choose_token(None, None, MESSAGE_ID) == ClientToken(derive_token(MESSAGE_ID), TokenSource.MESSAGE_ID)


def test_a_redrive_keeps_the_token_through_the_attribute() -> None:
    # Given a record dead-lettered with the token derived from its first message ID
    first = choose_token(None, None, MESSAGE_ID).value
    # When it is redriven with a new message ID and the ClientToken attribute the worker stamped
    redriven = choose_token(None, first, "a-new-message-id-after-redrive")
    # Then the API call repeats the same token
    assert redriven.value == first


@pytest.mark.parametrize(
    "attribute",
    ["", "short", "a" * 32, "a" * 257, "-" + "a" * 40, "a" * 40 + "-", "a" * 20 + "_" + "a" * 20, "a" * 20 + "\n"],
)
def test_an_invalid_client_token_attribute_is_poison_never_replaced(attribute: str) -> None:
    with pytest.raises(PoisonMessage) as caught:
        choose_token(None, attribute, MESSAGE_ID)
    assert caught.value.code is PoisonCode.INVALID_REQUEST
    assert [problem.path for problem in caught.value.problems] == ["messageAttributes.ClientToken"]


def test_a_valid_attribute_is_returned_as_is() -> None:
    assert attribute_token(ATTRIBUTE_TOKEN) == ATTRIBUTE_TOKEN
    assert attribute_token(None) is None


# -- the derived token ---------------------------------------------------------------------------------------


def test_the_derived_token_is_deterministic_and_within_the_model() -> None:
    token = derive_token(MESSAGE_ID)
    assert token == derive_token(MESSAGE_ID)
    assert 33 <= len(token) <= 256
    assert model_accepts(token)


def test_derived_tokens_differ_for_different_message_ids() -> None:
    ids = [MESSAGE_ID, MESSAGE_ID.upper(), MESSAGE_ID + " ", "", "a", "b"]
    assert len({derive_token(message_id) for message_id in ids}) == len(ids)


def test_the_derived_token_of_an_empty_message_id_is_still_valid() -> None:
    assert model_accepts(derive_token(""))


@settings(max_examples=80, deadline=None)
@given(st.text())
def test_any_message_id_gives_a_valid_deterministic_token(message_id: str) -> None:
    token = derive_token(message_id)
    assert model_accepts(token)
    assert derive_token(message_id) == token
    assert choose_token(None, None, message_id).value == token


any_text = st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF) | st.characters(), max_size=40)


@settings(max_examples=80, deadline=None)
@given(any_text)
def test_message_ids_with_lone_surrogates_give_valid_deterministic_tokens(message_id: str) -> None:
    token = derive_token(message_id)
    assert model_accepts(token)
    assert derive_token(message_id) == token


@settings(max_examples=80, deadline=None)
@given(st.lists(any_text, min_size=2, max_size=20, unique=True))
def test_distinct_message_ids_give_distinct_tokens(message_ids: list[str]) -> None:
    assert len({derive_token(message_id) for message_id in message_ids}) == len(message_ids)


def test_a_surrogate_pair_and_the_character_it_spells_are_different_message_ids() -> None:
    assert derive_token(chr(0xD83D) + chr(0xDE00)) != derive_token("\U0001f600")


@settings(max_examples=25, deadline=None)
@given(st.from_regex(r"[a-zA-Z0-9][a-zA-Z0-9-]{31,60}[a-zA-Z0-9]", fullmatch=True), st.text())
def test_any_valid_attribute_token_is_chosen_over_the_derived_one(attribute: str, message_id: str) -> None:
    assert choose_token(None, attribute, message_id) == ClientToken(attribute, TokenSource.ATTRIBUTE)
