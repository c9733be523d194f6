"""Fuzzing the worker's parser alone: any body is a request or poison, as the generator knows it, and a poison
description never echoes an input value (CONTRACT section 3)."""

from __future__ import annotations

import json
from typing import Any, Final

from hypothesis import given
from hypothesis import strategies as st

from domain.errors import MAX_ERROR_MESSAGE_CHARS, PoisonMessage
from domain.parsing import ManagerPolicy, parse_request
from domain.request import EffectiveRequest
from tests.fuzz.bodies import Kind, Payload, near_valid_payloads, payloads, valid_payloads
from tests.fuzz.conftest import PARSER_SETTINGS
from tests.support import EVENT_SOURCE, MANAGER_ARN, OTHER_MANAGER_ARN

MANAGERS: Final = ManagerPolicy(MANAGER_ARN, frozenset({OTHER_MANAGER_ARN}))


def parse(text: str) -> EffectiveRequest | PoisonMessage:
    """The worker's reading of a body: the request, or the poison it is."""
    try:
        return parse_request(text, own_event_source=EVENT_SOURCE, managers=MANAGERS)
    except PoisonMessage as poison:
        return poison


@PARSER_SETTINGS
@given(payload=payloads)
def test_parsing_any_body_yields_a_request_or_poison_and_agrees_with_the_generator(payload: Payload) -> None:
    # Given any body the generator can make
    # When the worker parses it (anything but a request or PoisonMessage escapes and fails the test)
    parsed = parse(payload.text)

    # Then poison is described in at most 1024 characters, and the generator's knowledge holds
    if isinstance(parsed, PoisonMessage):
        assert len(str(parsed)) <= MAX_ERROR_MESSAGE_CHARS
        assert payload.kind is not Kind.VALID, f"a valid body was rejected: {parsed}"
    else:
        assert payload.kind is not Kind.POISON, "a poison body was accepted"
        if payload.kind is Kind.VALID:
            assert parsed.clientToken == payload.body_token


_MARKER: Final = "Zq7xMARKERx7qZ"


def _marked(value: Any) -> Any:
    if isinstance(value, str):
        return _MARKER + value
    if isinstance(value, dict):
        return {key: _marked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_marked(item) for item in value]
    return value


@PARSER_SETTINGS
@given(payload=st.one_of(near_valid_payloads(), valid_payloads()))
def test_a_poison_description_never_echoes_an_input_value(payload: Payload) -> None:
    # Given a request, valid or not, whose every string value carries a marker
    text = json.dumps(_marked(payload.doc))

    # When the worker parses it
    parsed = parse(text)

    # Then a rejection names fields and error kinds, never a value
    if isinstance(parsed, PoisonMessage):
        assert _MARKER not in str(parsed)
