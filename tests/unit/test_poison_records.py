"""Poison (CONTRACT section 3): dead-lettered on its first receive, the API untouched, the producer's token kept
as written and the input never echoed. In-memory fakes of the ports."""

from __future__ import annotations

import json

import pytest

from domain.outcomes import Outcome
from domain.tokens import derive_token
from tests.fakes.harness import Harness, attribute, only_result, record
from tests.support import (
    EVENT_SOURCE,
    FOREIGN_MANAGER_ARN,
    string_attribute,
    valid_request,
)

POISON: list[tuple[str, str]] = [
    ("{not json", "MalformedJson"),
    ("[]", "InvalidRequest"),
    (json.dumps(valid_request(limit={"maxSpendAmount": {"value": "1", "currency": "USD"}})), "InvalidRequest"),
    (json.dumps(valid_request(paymentManagerArn=FOREIGN_MANAGER_ARN)), "PaymentManagerNotAllowed"),
    (
        json.dumps({"version": "0", "source": EVENT_SOURCE, "detail-type": "PaymentSessionCreated", "detail": {}}),
        "EventLoop",
    ),
]
POISON_IDS = ["malformed", "not-object", "unknown-field", "manager", "loop"]


@pytest.mark.parametrize(("body", "error_code"), POISON, ids=POISON_IDS)
def test_poison_is_dead_lettered_on_the_first_receive_without_calling_the_api(
    harness: Harness, body: str, error_code: str
) -> None:
    # Given a record that can never become a valid request, carrying attributes of its own
    source = record("p", body=body, attributes={"tenant": string_attribute("acme")})
    report = harness.run(source)
    # Then it is dead-lettered at once, the API untouched and no event published
    result = only_result(report)
    assert (result.outcome, result.error_code, result.api_called) == (Outcome.DEAD_LETTERED, error_code, False)
    assert harness.api.calls == []
    assert harness.publisher.calls == []
    (letter,) = harness.dead_letters.received
    assert letter.body == body
    assert attribute(letter, "ErrorCode") == error_code
    assert attribute(letter, "ErrorMessage") == result.error_message
    assert attribute(letter, "ClientToken") == derive_token("msg-p")
    assert attribute(letter, "tenant") == "acme"
    assert report.batch_item_failures == []


@pytest.mark.parametrize("written", ["not a token", "too-short"])
def test_an_invalid_client_token_attribute_is_poison_and_its_dead_letter_keeps_it_as_written(
    harness: Harness, written: str
) -> None:
    # Given a valid body whose ClientToken attribute breaks the model's constraints
    source = record("p", body=json.dumps(valid_request()), attributes={"ClientToken": string_attribute(written)})
    # When it is processed
    result = only_result(harness.run(source))
    # Then it is poison, the API untouched, and the dead letter carries the producer's token, never a derived one
    assert (result.outcome, result.error_code) == (Outcome.DEAD_LETTERED, "InvalidRequest")
    assert harness.api.calls == []
    (letter,) = harness.dead_letters.received
    assert attribute(letter, "ClientToken") == written


@pytest.mark.parametrize(
    ("token", "carried"),
    [("too-short", "too-short"), ("with space " + "a" * 40, "with space " + "a" * 40), (12345, None)],
)
def test_an_invalid_body_token_is_poison_and_its_dead_letter_keeps_it_as_written(
    harness: Harness, token: object, carried: str | None
) -> None:
    # Given a body whose clientToken breaks the model's constraints (a number cannot be an attribute's text)
    source = record("p", body=json.dumps(valid_request(clientToken=token)))
    # When it is processed
    result = only_result(harness.run(source))
    # Then it is poison and its dead letter carries the producer's token as written, or none, never a derived one
    assert (result.outcome, result.error_code, result.api_called) == (Outcome.DEAD_LETTERED, "InvalidRequest", False)
    (letter,) = harness.dead_letters.received
    assert letter.attributes.get("ClientToken", {}).get("StringValue") == carried


def test_poison_keeps_a_valid_client_token_attribute_for_the_redrive(harness: Harness) -> None:
    token = "redriven-token-0123456789abcdef0123456789"
    harness.run(record("p", body="{", attributes={"ClientToken": string_attribute(token)}))
    (letter,) = harness.dead_letters.received
    assert attribute(letter, "ClientToken") == token


def test_a_poison_error_message_never_holds_the_input(harness: Harness) -> None:
    secret = "zq7secret7qz"
    result = only_result(harness.run(record("p", userId=secret + "\n")))
    (letter,) = harness.dead_letters.received
    assert result.error_message is not None and secret not in result.error_message
    assert secret not in attribute(letter, "ErrorMessage")
    assert result.user_id is None
