"""The request rules agree with botocore's service model of ``CreatePaymentSession`` (CONTRACT section 1).

Every figure is read from the model, never retyped here: a change of the model (a new bound, a new
currency, a new error) fails one of these tests until ``domain/constraints.py`` follows it.
"""

from __future__ import annotations

import json
import re
import typing
from functools import cache
from typing import Any

import botocore.session
import pytest
from botocore.model import OperationModel, Shape, StructureShape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain import constraints as c
from domain.constraints import Currency
from domain.errors import ApiError, PoisonCode, PoisonMessage
from domain.outcomes import FINAL_API_ERRORS, is_final
from domain.parsing import ManagerPolicy, parse_request
from domain.request import Amount, PaymentSessionRequest, SessionLimits
from tests.support import EVENT_SOURCE, MANAGER_ARN, valid_request

# The contract names these as retried (section 3); every other code is retried too.
RETRIED_API_ERRORS = frozenset(
    {"ThrottlingException", "InternalServerException", "AccessDeniedException", "SubscriptionRequiredException"}
)
# Our own members, not the API's: correlationId only travels in events and logs (CONTRACT section 1).
OWN_MEMBERS = {"correlationId"}


@cache
def operation() -> OperationModel:
    return botocore.session.get_session().get_service_model("bedrock-agentcore").operation_model("CreatePaymentSession")


def input_shape() -> StructureShape:
    shape = operation().input_shape
    assert isinstance(shape, StructureShape)
    return shape


def member(name: str) -> Shape:
    return input_shape().members[name]


def amount_shape() -> StructureShape:
    limits = member("limits")
    assert isinstance(limits, StructureShape)
    amount = limits.members["maxSpendAmount"]
    assert isinstance(amount, StructureShape)
    return amount


def string_bounds(model: type[PaymentSessionRequest], field: str) -> dict[str, Any]:
    """The string schema pydantic enforces for ``field`` (the non-null branch of an optional)."""
    prop = model.model_json_schema()["properties"][field]
    (string_schema,) = [s for s in prop.get("anyOf", [prop]) if s.get("type") == "string"]
    return string_schema


def parse(document: dict[str, Any], managers: ManagerPolicy | None = None) -> Any:
    return parse_request(
        json.dumps(document), own_event_source=EVENT_SOURCE, managers=managers or ManagerPolicy(MANAGER_ARN)
    )


def assert_invalid(document: dict[str, Any], path: str, managers: ManagerPolicy | None = None) -> None:
    with pytest.raises(PoisonMessage) as caught:
        parse(document, managers)
    assert caught.value.code is PoisonCode.INVALID_REQUEST
    assert path in {problem.path for problem in caught.value.problems}


def arn_of_length(length: int) -> str:
    """An ARN matching the model's pattern, padded to ``length`` through the (unbounded) region."""
    head, tail = "arn:aws:bedrock-agentcore:", ":123456789012:payment-manager/demo-manager-a1b2c3d4e5"
    region = "us-east-1"
    padding = length - len(head) - len(region) - len(tail)
    assert padding >= 0
    arn = head + region + "x" * padding + tail
    assert len(arn) == length and re.fullmatch(member("paymentManagerArn").metadata["pattern"], arn)
    return arn


# -- members, required, locations -----------------------------------------------------------------------


def test_message_fields_are_the_models_members_plus_our_own_correlation_id() -> None:
    # Given the model's input members and ours, at every level
    # Then they are the same names (so an unknown field is unknown to both)
    assert set(PaymentSessionRequest.model_fields) == set(input_shape().members) | OWN_MEMBERS
    limits = member("limits")
    assert isinstance(limits, StructureShape)
    assert set(SessionLimits.model_fields) == set(limits.members)
    assert set(Amount.model_fields) == set(amount_shape().members)


def test_required_members_agree_except_the_payment_manager_which_defaults_from_configuration() -> None:
    # Given the model requires paymentManagerArn and expiryTimeInMinutes
    model_required = set(input_shape().required_members)
    ours = {name for name, field in PaymentSessionRequest.model_fields.items() if field.is_required()}
    # Then ours requires the same, except paymentManagerArn, deliberately optional in the message
    assert model_required == {"paymentManagerArn", "expiryTimeInMinutes"}
    assert ours == model_required - {"paymentManagerArn"}
    assert PaymentSessionRequest.model_fields["paymentManagerArn"].default is None
    # And the API call always carries it: the configured default fills it in
    request = parse(valid_request())
    assert request.api_params("t" * 40)["paymentManagerArn"] == MANAGER_ARN


def test_nested_required_members_agree() -> None:
    limits = member("limits")
    assert isinstance(limits, StructureShape)
    assert {n for n, f in SessionLimits.model_fields.items() if f.is_required()} == set(limits.required_members)
    assert {n for n, f in Amount.model_fields.items() if f.is_required()} == set(amount_shape().required_members)


def test_header_bound_members_are_user_id_and_agent_name() -> None:
    # Given the model's members that travel as HTTP headers
    headers = {name for name, shape in input_shape().members.items() if shape.serialization.get("location") == "header"}
    # Then they are exactly the two fields on which we forbid control characters
    assert headers == {"userId", "agentName"}


@pytest.mark.parametrize("character", ["\n", "\r", "\x00", "\x7f", "\x85"])
def test_every_header_bound_member_rejects_control_characters(character: str) -> None:
    for name, shape in input_shape().members.items():
        if shape.serialization.get("location") == "header":
            assert_invalid(valid_request(**{name: f"a{character}b"}), name)


def test_the_idempotency_token_member_is_client_token() -> None:
    tokens = [name for name, shape in input_shape().members.items() if shape.metadata.get("idempotencyToken")]
    assert tokens == ["clientToken"]


# -- bounds, patterns, enum -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "minimum", "maximum"),
    [
        ("paymentManagerArn", c.PAYMENT_MANAGER_ARN_MIN, c.PAYMENT_MANAGER_ARN_MAX),
        ("userId", c.USER_ID_MIN, c.USER_ID_MAX),
        ("agentName", c.AGENT_NAME_MIN, c.AGENT_NAME_MAX),
        ("clientToken", c.CLIENT_TOKEN_MIN, c.CLIENT_TOKEN_MAX),
    ],
)
def test_string_length_bounds_agree_with_the_model(field: str, minimum: int, maximum: int) -> None:
    metadata = member(field).metadata
    assert (minimum, maximum) == (metadata["min"], metadata["max"])
    bounds = string_bounds(PaymentSessionRequest, field)
    assert (bounds["minLength"], bounds["maxLength"]) == (metadata["min"], metadata["max"])


def test_expiry_range_agrees_with_the_model() -> None:
    metadata = member("expiryTimeInMinutes").metadata
    assert member("expiryTimeInMinutes").type_name == "integer"
    assert (metadata["min"], metadata["max"]) == (c.EXPIRY_MIN, c.EXPIRY_MAX)
    schema = PaymentSessionRequest.model_json_schema()["properties"]["expiryTimeInMinutes"]
    assert (schema["type"], schema["minimum"], schema["maximum"]) == ("integer", metadata["min"], metadata["max"])


@pytest.mark.parametrize(
    ("field", "pattern"),
    [("paymentManagerArn", c.PAYMENT_MANAGER_ARN_PATTERN), ("clientToken", c.CLIENT_TOKEN_PATTERN)],
)
def test_patterns_agree_with_the_model(field: str, pattern: str) -> None:
    assert member(field).metadata["pattern"] == pattern


def test_patterns_of_the_other_members_are_absent_in_the_model_too() -> None:
    # Given only two members carry a pattern in the model, no other field needs one from us
    patterned = {name for name, shape in input_shape().members.items() if "pattern" in shape.metadata}
    assert patterned == {"paymentManagerArn", "clientToken"}


def test_currency_enum_agrees_with_the_model() -> None:
    enum = amount_shape().members["currency"].enum
    assert list(typing.get_args(Currency)) == enum
    assert list(c.CURRENCIES) == enum


@pytest.mark.parametrize("currency", ["usd", "EUR", "", "USD "])
def test_a_currency_outside_the_models_enum_is_invalid(currency: str) -> None:
    assert currency not in amount_shape().members["currency"].enum
    assert_invalid(
        valid_request(limits={"maxSpendAmount": {"value": "1", "currency": currency}}),
        "limits.maxSpendAmount.currency",
    )


def test_every_currency_of_the_models_enum_is_accepted() -> None:
    for currency in amount_shape().members["currency"].enum:
        request = parse(valid_request(limits={"maxSpendAmount": {"value": "1", "currency": currency}}))
        assert request.limits is not None and request.limits.maxSpendAmount.currency == currency


# -- errors -----------------------------------------------------------------------------------------------


def test_classified_errors_are_exactly_the_models_errors_of_the_operation() -> None:
    modeled = {shape.name for shape in operation().error_shapes}
    assert not FINAL_API_ERRORS & RETRIED_API_ERRORS
    assert modeled == FINAL_API_ERRORS | RETRIED_API_ERRORS


def test_each_modeled_error_with_its_modeled_status_gets_the_contracts_disposition() -> None:
    expected = {
        "ValidationException": True,
        "ConflictException": True,
        "ServiceQuotaExceededException": True,
        "ThrottlingException": False,
        "InternalServerException": False,
        "AccessDeniedException": False,
        "SubscriptionRequiredException": False,
    }
    for shape in operation().error_shapes:
        status = shape.metadata["error"]["httpStatusCode"]
        assert is_final(ApiError(shape.name, "message", status)) is expected[shape.name], shape.name


# -- boundaries, derived from the model --------------------------------------------------------------------


@pytest.mark.parametrize("field", ["userId", "agentName"])
def test_header_strings_at_their_model_bounds_are_accepted_and_one_over_is_invalid(field: str) -> None:
    metadata = member(field).metadata
    parse(valid_request(**{field: "a" * metadata["min"]}))
    parse(valid_request(**{field: "a" * metadata["max"]}))
    assert_invalid(valid_request(**{field: "a" * (metadata["max"] + 1)}), field)


def test_client_token_at_its_model_bounds_is_accepted_and_one_outside_is_invalid() -> None:
    metadata = member("clientToken").metadata
    for length in (metadata["min"], metadata["max"]):
        assert parse(valid_request(clientToken="a" * length)).clientToken == "a" * length
    for length in (metadata["min"] - 1, metadata["max"] + 1):
        assert_invalid(valid_request(clientToken="a" * length), "clientToken")


def test_expiry_at_its_model_bounds_is_accepted_and_one_outside_is_invalid() -> None:
    metadata = member("expiryTimeInMinutes").metadata
    for value in (metadata["min"], metadata["max"]):
        assert parse(valid_request(expiryTimeInMinutes=value)).expiryTimeInMinutes == value
    for value in (metadata["min"] - 1, metadata["max"] + 1):
        assert_invalid(valid_request(expiryTimeInMinutes=value), "expiryTimeInMinutes")


def test_payment_manager_arn_at_the_model_maximum_is_accepted_and_one_over_is_invalid() -> None:
    # Given two pattern-valid ARNs of the model's maximum length and one more, both allowed by configuration
    maximum = member("paymentManagerArn").metadata["max"]
    longest, too_long = arn_of_length(maximum), arn_of_length(maximum + 1)
    managers = ManagerPolicy(MANAGER_ARN, frozenset({longest, too_long}))
    # Then the longest is used and the other is invalid (the length bound, not the allow-list)
    assert parse(valid_request(paymentManagerArn=longest), managers).paymentManagerArn == longest
    assert_invalid(valid_request(paymentManagerArn=too_long), "paymentManagerArn", managers)


def test_payment_manager_arn_minimum_is_below_the_shortest_pattern_match() -> None:
    # Given the model's minimum length, the pattern alone already needs more: the shortest matching ARN
    shortest = "arn:aws:bedrock-agentcore:a:123456789012:payment-manager/a-bcdefghijk"
    pattern = member("paymentManagerArn").metadata["pattern"]
    assert re.fullmatch(pattern, shortest) and len(shortest) >= member("paymentManagerArn").metadata["min"]
    # Then it is accepted, and anything shorter cannot match the pattern
    managers = ManagerPolicy(MANAGER_ARN, frozenset({shortest}))
    assert parse(valid_request(paymentManagerArn=shortest), managers).paymentManagerArn == shortest
    assert_invalid(valid_request(paymentManagerArn=shortest[:-1]), "paymentManagerArn", managers)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.from_regex(c.CLIENT_TOKEN_PATTERN, fullmatch=True), st.text(alphabet="aZ9-_ .", max_size=300)))
def test_client_token_is_accepted_exactly_when_the_model_accepts_it(token: str) -> None:
    metadata = member("clientToken").metadata
    model_accepts = metadata["min"] <= len(token) <= metadata["max"] and re.fullmatch(metadata["pattern"], token)
    document = valid_request(clientToken=token)
    if model_accepts:
        assert parse(document).clientToken == token
    else:
        assert_invalid(document, "clientToken")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.from_regex(c.PAYMENT_MANAGER_ARN_PATTERN, fullmatch=True), st.sampled_from(["", "X", " ", "/", "\n"]))
def test_payment_manager_arn_is_accepted_exactly_when_the_model_accepts_it(arn: str, suffix: str) -> None:
    # Given an ARN generated from the model's pattern, possibly broken by a suffix, allowed by configuration
    metadata = member("paymentManagerArn").metadata
    candidate = arn + suffix
    model_accepts = metadata["min"] <= len(candidate) <= metadata["max"] and re.fullmatch(
        metadata["pattern"], candidate
    )
    managers = ManagerPolicy(MANAGER_ARN, frozenset({candidate}))
    document = valid_request(paymentManagerArn=candidate)
    # Then the message is valid exactly when the model would accept the value
    if model_accepts:
        assert parse(document, managers).paymentManagerArn == candidate
    else:
        assert_invalid(document, "paymentManagerArn", managers)


# -- the batch calls' limit -------------------------------------------------------------------------------------


def test_the_batch_limit_is_the_entries_eventbridge_put_events_takes() -> None:
    # Given EventBridge's model of PutEvents (SQS documents the same 10 for its batch calls, without a model figure)
    entries = botocore.session.get_session().get_service_model("events").operation_model("PutEvents").input_shape
    assert isinstance(entries, StructureShape)

    # Then the one batch limit every adapter and the batch service cut to is the model's maximum
    assert entries.members["Entries"].metadata["max"] == c.MAX_BATCH_ENTRIES
