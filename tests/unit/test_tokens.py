"""Idempotency (CONTRACT section 2): which client token a record's API call carries."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import botocore.session
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import PoisonCode, PoisonMessage
from domain.parsing import EnvelopeId, EnvelopeKind, ManagerPolicy, parse_message
from domain.tokens import (
    ClientToken,
    TokenSource,
    attribute_token,
    choose_token,
    derive_token,
    envelope_token,
    first_delivery_token,
    poison_token,
)
from tests.support import MANAGER_ARN, eventbridge, sns, valid_request

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


# -- tokens of notifications (section 2, step 3) -----------------------------------------------------------------


def sns_body(message_id: str = "5f3c1a8e-0000-4000-8000-000000000001", topic: str = "arn:aws:sns:eu-west-1:1:t") -> str:
    return json.dumps(sns(json.dumps(valid_request()), MessageId=message_id, TopicArn=topic))


def eventbridge_body(event_id: str = "7e1a0b2c-0000-4000-8000-000000000001", source: str = "com.example") -> str:
    return json.dumps(eventbridge(valid_request(), source=source, event_id=event_id))


def test_one_sns_notification_delivered_twice_derives_one_token_from_its_topic_and_message_id() -> None:
    # Given one notification arriving as two SQS messages
    first, second = (first_delivery_token(sns_body(), message_id) for message_id in ("sqs-1", "sqs-2"))
    # Then both derive the same token, from the envelope, valid for the model
    assert first == second
    assert first.source is TokenSource.ENVELOPE
    assert first.value.startswith("sns-") and model_accepts(first.value)


def test_one_eventbridge_event_delivered_twice_derives_one_token_from_its_source_and_id() -> None:
    first, second = (first_delivery_token(eventbridge_body(), message_id) for message_id in ("sqs-1", "sqs-2"))
    assert first == second
    assert first.value.startswith("eb-") and model_accepts(first.value)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (sns_body(message_id="a"), sns_body(message_id="b")),
        (sns_body(topic="arn:t1"), sns_body(topic="arn:t2")),
        (eventbridge_body(event_id="a"), eventbridge_body(event_id="b")),
        (eventbridge_body(source="s1"), eventbridge_body(source="s2")),
        (sns_body(message_id="x", topic="s"), eventbridge_body(event_id="x", source="s")),
    ],
)
def test_different_notifications_derive_different_tokens(one: str, other: str) -> None:
    assert first_delivery_token(one, "same-sqs-id") != first_delivery_token(other, "same-sqs-id")


def test_envelope_ids_are_kept_apart_not_concatenated() -> None:
    assert envelope_token(EnvelopeId(EnvelopeKind.SNS, "a", "b/c")) != envelope_token(
        EnvelopeId(EnvelopeKind.SNS, "a/b", "c")
    )


def test_stacked_envelopes_derive_from_the_innermost_so_a_duplicate_at_either_layer_gets_one_token() -> None:
    # Given one EventBridge event delivered to SNS twice: two SNS notifications around the same event
    inner = eventbridge(valid_request())
    first = json.dumps(sns(json.dumps(inner), MessageId="sns-a"))
    second = json.dumps(sns(json.dumps(inner), MessageId="sns-b"))
    # Then both derive the event's token
    assert first_delivery_token(first, "m1") == first_delivery_token(second, "m2")
    assert first_delivery_token(first, "m1").value.startswith("eb-")


@pytest.mark.parametrize("body", ["{", json.dumps(valid_request()), json.dumps(sns("not json"))])
def test_a_body_without_a_readable_envelope_derives_from_the_message_id(body: str) -> None:
    assert first_delivery_token(body, MESSAGE_ID) == ClientToken(derive_token(MESSAGE_ID), TokenSource.MESSAGE_ID)


def test_the_worker_and_the_redrive_command_derive_the_same_token_for_a_notification() -> None:
    # Given a valid SNS notification: the worker's choice (one parse) and the command's derivation (from the body)
    request, envelope = parse_message(
        sns_body(), own_event_source="payment-session-worker", managers=ManagerPolicy(MANAGER_ARN)
    )
    worker = choose_token(request.clientToken, None, "sqs-1", envelope)
    # Then they agree
    assert worker == first_delivery_token(sns_body(), "sqs-1")


def test_a_poison_records_token_is_the_producers_as_written_else_the_derived_one() -> None:
    bad_body = json.dumps(valid_request(clientToken="too-short", expiryTimeInMinutes=1))
    assert poison_token(bad_body, "attribute-too-short", MESSAGE_ID) == "too-short"
    assert poison_token(json.dumps(valid_request(expiryTimeInMinutes=1)), "too-short", MESSAGE_ID) == "too-short"
    assert poison_token("{", None, MESSAGE_ID) == derive_token(MESSAGE_ID)
    assert poison_token(json.dumps(valid_request(clientToken=5)), None, MESSAGE_ID) is None
    assert poison_token(json.dumps(valid_request(clientToken=5)), "attribute-as-written", MESSAGE_ID) == (
        "attribute-as-written"
    )
    assert poison_token(json.dumps(valid_request(clientToken="a\x00b")), None, MESSAGE_ID) is None
