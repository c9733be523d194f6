"""SNS and EventBridge envelopes (CONTRACT section 1): unwrapped by shape, holding only their service's keys."""

from __future__ import annotations

import json
from typing import Any

import pytest

from domain.errors import PoisonCode
from domain.parsing import EVENTBRIDGE_KEYS, MAX_ENVELOPES, SNS_KEYS
from tests.support import EVENT_SOURCE, eventbridge, sns, valid_request
from tests.unit.request_checks import INVALID, MALFORMED, assert_problem, parse, poison

# -- envelopes -------------------------------------------------------------------------------------------------------


def test_an_sns_notification_with_the_request_as_a_string_is_unwrapped() -> None:
    request = parse(sns(json.dumps(valid_request(correlationId="via-sns"))))
    assert request.correlationId == "via-sns"


@pytest.mark.parametrize("message", [valid_request(), 60, None, ["a"]], ids=repr)
def test_an_sns_message_that_is_not_a_string_is_invalid(message: Any) -> None:
    assert_problem(sns(message), INVALID, "Message")


@pytest.mark.parametrize("message", ["", "{", "not json", "\ufeff{}", '{"a": 1, "a": 2}'])
def test_a_malformed_sns_message_is_malformed(message: str) -> None:
    assert_problem(sns(message), MALFORMED, "Message")


def test_an_invalid_request_inside_sns_is_invalid() -> None:
    assert_problem(sns(json.dumps(valid_request(limit=1))), INVALID, "limit", "extra_forbidden")


def test_an_eventbridge_event_with_the_request_as_detail_is_unwrapped() -> None:
    assert parse(eventbridge(valid_request(correlationId="via-events"))).correlationId == "via-events"


@pytest.mark.parametrize("detail", [json.dumps(valid_request()), [valid_request()], None, 60], ids=repr)
def test_an_eventbridge_detail_that_is_not_an_object_is_invalid(detail: Any) -> None:
    assert_problem(eventbridge(detail), INVALID, "detail")


def test_an_event_of_the_workers_own_source_is_an_event_loop() -> None:
    error = poison(eventbridge(valid_request(), source=EVENT_SOURCE))
    assert error.code is PoisonCode.EVENT_LOOP
    assert [problem.path for problem in error.problems] == ["source"]


def test_an_eventbridge_event_inside_sns_is_unwrapped_and_loop_guarded() -> None:
    assert parse(sns(json.dumps(eventbridge(valid_request(correlationId="both"))))).correlationId == "both"
    assert poison(sns(json.dumps(eventbridge(valid_request(), source=EVENT_SOURCE)))).code is PoisonCode.EVENT_LOOP


def nested(depth: int) -> dict[str, Any]:
    document: dict[str, Any] = valid_request(correlationId=f"depth-{depth}")
    for level in range(depth):
        document = sns(json.dumps(document)) if level % 2 == 0 else eventbridge(document)
    return document


def test_envelopes_stack_up_to_the_maximum_and_no_deeper() -> None:
    for depth in range(MAX_ENVELOPES + 1):
        assert parse(nested(depth)).correlationId == f"depth-{depth}"
    assert_problem(nested(MAX_ENVELOPES + 1), INVALID, "", "too many nested envelopes")


def test_a_document_only_resembling_an_envelope_is_validated_as_a_request() -> None:
    # Given a body with Type=Notification but no Message: not SNS, so its fields are unknown request fields
    assert_problem(valid_request(Type="Notification"), INVALID, "Type", "extra_forbidden")


LIMITS = {"maxSpendAmount": {"value": "25.50", "currency": "USD"}}


@pytest.mark.parametrize(
    "envelope",
    [
        {**eventbridge({"expiryTimeInMinutes": 480}), "limits": LIMITS},
        {**sns(json.dumps({"expiryTimeInMinutes": 480})), "limits": LIMITS},
        {**sns(json.dumps(eventbridge({"expiryTimeInMinutes": 480}))), "limits": LIMITS},
        sns(json.dumps({**eventbridge({"expiryTimeInMinutes": 480}), "limits": LIMITS})),
    ],
    ids=["eventbridge", "sns", "sns-around-eventbridge", "eventbridge-inside-sns"],
)
def test_a_request_field_beside_an_envelope_is_invalid_never_ignored(envelope: dict[str, Any]) -> None:
    # Given limits put beside the envelope rather than inside it (the request itself has no limit)
    # Then the message is invalid, naming the stray key: never a session without its spending limit
    assert_problem(envelope, INVALID, "limits")


def test_every_key_sns_writes_is_accepted_in_its_envelope() -> None:
    # Given an SNS notification with every key SNS writes
    envelope = dict.fromkeys(SNS_KEYS, "x") | sns(json.dumps(valid_request(correlationId="all-keys")))
    envelope["MessageAttributes"] = {"tenant": {"Type": "String", "Value": "acme"}}
    # Then it is unwrapped
    assert parse(envelope).correlationId == "all-keys"


def test_every_key_eventbridge_writes_is_accepted_in_its_envelope() -> None:
    envelope = dict.fromkeys(EVENTBRIDGE_KEYS, "x") | eventbridge(valid_request(correlationId="all-keys"))
    assert parse(envelope).correlationId == "all-keys"
