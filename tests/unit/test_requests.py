"""The request message (CONTRACT section 1) and every bad-input class of issue 2, through ``parse_request``."""

from __future__ import annotations

import json
from typing import Any

import pytest

from domain.errors import MAX_ERROR_MESSAGE_CHARS, PoisonCode
from domain.parsing import ManagerPolicy
from tests.support import FOREIGN_MANAGER_ARN, MANAGER_ARN, OTHER_MANAGER_ARN, eventbridge, sns, valid_request
from tests.unit.request_checks import INVALID, MALFORMED, SECRET, VALID_TOKEN, assert_problem, parse, poison, problems

# -- a valid message -------------------------------------------------------------------------------------


def test_a_valid_message_becomes_the_effective_request_with_the_default_manager() -> None:
    request = parse(valid_request(clientToken=VALID_TOKEN))
    assert request.paymentManagerArn == MANAGER_ARN
    assert request.expiryTimeInMinutes == 60
    assert (request.userId, request.agentName, request.correlationId) == (
        "user-1234",
        "checkout-agent",
        "order-1001",
    )
    assert request.limits is not None
    assert (request.limits.maxSpendAmount.value, request.limits.maxSpendAmount.currency) == ("25.50", "USD")
    assert request.clientToken == VALID_TOKEN


def test_only_expiry_is_required_and_absent_fields_stay_absent() -> None:
    request = parse({"expiryTimeInMinutes": 15})
    assert request.terms() == {"paymentManagerArn": MANAGER_ARN, "expiryTimeInMinutes": 15}
    assert (request.clientToken, request.correlationId, request.limits) == (None, None, None)


def test_api_params_carry_every_given_field_and_the_token() -> None:
    request = parse(valid_request())
    assert request.api_params(VALID_TOKEN) == {
        "paymentManagerArn": MANAGER_ARN,
        "expiryTimeInMinutes": 60,
        "userId": "user-1234",
        "agentName": "checkout-agent",
        "limits": {"maxSpendAmount": {"value": "25.50", "currency": "USD"}},
        "clientToken": VALID_TOKEN,
    }


# -- not JSON, not an object ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    ["", " ", "{", "}", '{"expiryTimeInMinutes": }', "{'expiryTimeInMinutes': 60}", "not json", '{"a": 1} x', "\x00"],
)
def test_malformed_json_is_malformed(body: str) -> None:
    assert_problem(body, MALFORMED, "body")


@pytest.mark.parametrize("body", ["[]", json.dumps([valid_request()]), '"a string"', "60", "6.5", "null", "true"])
def test_a_body_that_is_not_an_object_is_invalid(body: str) -> None:
    assert_problem(body, INVALID, "", "body is not a JSON object")


def test_a_byte_order_mark_is_malformed() -> None:
    assert_problem("\ufeff" + json.dumps(valid_request()), MALFORMED, "body")


@pytest.mark.parametrize(
    "body",
    [
        '{"expiryTimeInMinutes": 60, "expiryTimeInMinutes": 61}',
        '{"expiryTimeInMinutes": 60, "limits": {"maxSpendAmount": {"value": "1", "value": "2", "currency": "USD"}}}',
    ],
)
def test_duplicate_keys_at_any_level_are_malformed(body: str) -> None:
    assert_problem(body, MALFORMED, "body", "duplicate key")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_malformed_wherever_they_appear(constant: str) -> None:
    assert_problem(f'{{"expiryTimeInMinutes": {constant}}}', MALFORMED, "body")
    assert_problem(
        f'{{"expiryTimeInMinutes": 60, "limits": {{"maxSpendAmount": {{"value": {constant}, "currency": "USD"}}}}}}',
        MALFORMED,
        "body",
    )


@pytest.mark.parametrize(
    "body",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"expiryTimeInMinutes": 60, "x": ' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"a": ' * 50_000 + "1" + "}" * 50_000,
    ],
    ids=["array", "inside-a-field", "objects"],
)
def test_nesting_deeper_than_the_recursion_limit_is_malformed_not_a_crash(body: str) -> None:
    assert_problem(body, MALFORMED, "body", "nesting too deep")


def test_integers_beyond_pythons_digit_limit_are_malformed() -> None:
    assert_problem('{"expiryTimeInMinutes": 1' + "0" * 5000 + "}", MALFORMED, "body")


@pytest.mark.parametrize(
    ("number", "kind"), [("1" + "0" * 4000, "less_than_equal"), ("-1" + "0" * 4000, "greater_than_equal")]
)
def test_large_but_parseable_integers_break_the_range(number: str, kind: str) -> None:
    assert_problem(f'{{"expiryTimeInMinutes": {number}}}', INVALID, "expiryTimeInMinutes", kind)


# -- expiryTimeInMinutes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [True, False, "60", "15", [60], {"minutes": 60}], ids=repr)
def test_expiry_of_another_json_type_is_invalid(value: Any) -> None:
    assert_problem(valid_request(expiryTimeInMinutes=value), INVALID, "expiryTimeInMinutes")


@pytest.mark.parametrize("number", ["15.0", "60.0", "60.5", "6e1", "1E2"])
def test_expiry_as_a_json_fraction_or_exponent_is_invalid_even_when_integral(number: str) -> None:
    assert_problem(f'{{"expiryTimeInMinutes": {number}}}', INVALID, "expiryTimeInMinutes", "int_type")


def test_expiry_is_required() -> None:
    assert_problem(valid_request(expiryTimeInMinutes=...), INVALID, "expiryTimeInMinutes", "missing")


@pytest.mark.parametrize(
    ("value", "accepted"), [(14, False), (15, True), (480, True), (481, False), (0, False), (-15, False)]
)
def test_expiry_range_is_15_to_480(value: int, accepted: bool) -> None:
    if accepted:
        assert parse(valid_request(expiryTimeInMinutes=value)).expiryTimeInMinutes == value
    else:
        assert_problem(valid_request(expiryTimeInMinutes=value), INVALID, "expiryTimeInMinutes")


# -- userId, agentName: header values ---------------------------------------------------------------------

CONTROL_CHARACTERS = ["\x00", "\t", "\n", "\r", "\r\n", "\x1b", "\x1f", "\x7f", "\x80", "\x85", "\x9f"]


@pytest.mark.parametrize("field", ["userId", "agentName"])
@pytest.mark.parametrize("character", CONTROL_CHARACTERS, ids=repr)
def test_control_characters_in_header_fields_are_invalid(field: str, character: str) -> None:
    assert_problem(valid_request(**{field: f"user{character}x"}), INVALID, field, "control_character")


@pytest.mark.parametrize("field", ["userId", "agentName"])
@pytest.mark.parametrize("value", ["", "José Müller", "ユーザー", "a b-c_d.e@f", "\U0001f600"])
def test_printable_text_in_header_fields_is_accepted(field: str, value: str) -> None:
    request = parse(valid_request(**{field: value}))
    assert (request.userId if field == "userId" else request.agentName) == value


@pytest.mark.parametrize("field", ["userId", "agentName"])
@pytest.mark.parametrize("value", ["  alice  ", "   ", " agent", "agent ", "\u00a0agent", "agent\u2003"], ids=repr)
def test_header_fields_with_leading_or_trailing_space_are_invalid(field: str, value: str) -> None:
    # Given a header field HTTP would trim (the API would see another value than the event shows)
    # Then the message is invalid, naming the field
    assert_problem(valid_request(**{field: value}), INVALID, field, "edge_whitespace")


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("1000000000000000000", "pattern_mismatch"),  # 19 integer digits: beyond the model's AmountValue
        ("9" * 41, "string_too_long"),
        ("9" * 5001, "string_too_long"),
    ],
)
def test_amounts_beyond_the_models_bounds_are_invalid(value: str, kind: str) -> None:
    assert_problem(limits(value), INVALID, "limits.maxSpendAmount.value", kind)


def test_the_largest_amount_the_model_allows_with_two_fraction_digits_is_accepted() -> None:
    request = parse(limits("999999999999999999.99"))
    assert request.limits is not None and request.limits.maxSpendAmount.value == "999999999999999999.99"


@pytest.mark.parametrize(("field", "maximum"), [("userId", 120), ("agentName", 256)])
def test_header_fields_have_a_maximum_length(field: str, maximum: int) -> None:
    parse(valid_request(**{field: "u" * maximum}))
    assert_problem(valid_request(**{field: "u" * (maximum + 1)}), INVALID, field, "string_too_long")


@pytest.mark.parametrize("field", ["userId", "agentName", "correlationId", "clientToken", "paymentManagerArn"])
@pytest.mark.parametrize("value", [123, True, ["a"], {"a": "b"}], ids=repr)
def test_string_fields_of_another_json_type_are_invalid(field: str, value: Any) -> None:
    assert_problem(valid_request(**{field: value}), INVALID, field)


# -- lone surrogates ----------------------------------------------------------------------------------------

STRING_FIELDS: dict[str, Any] = {
    "userId": lambda s: {"userId": s},
    "agentName": lambda s: {"agentName": s},
    "correlationId": lambda s: {"correlationId": s},
    "clientToken": lambda s: {"clientToken": "a" * 40 + s},
    "paymentManagerArn": lambda s: {"paymentManagerArn": MANAGER_ARN + s},
    "limits.maxSpendAmount.value": lambda s: {"limits": {"maxSpendAmount": {"value": "1" + s, "currency": "USD"}}},
    "limits.maxSpendAmount.currency": lambda s: {"limits": {"maxSpendAmount": {"value": "1", "currency": "USD" + s}}},
}


@pytest.mark.parametrize("path", list(STRING_FIELDS))
@pytest.mark.parametrize("surrogate", [chr(0xD800), chr(0xDFFF), chr(0xDC00) + chr(0xD800)], ids=repr)
def test_a_lone_surrogate_in_any_string_field_is_invalid(path: str, surrogate: str) -> None:
    # Given a body whose JSON escapes a lone surrogate (json.dumps writes "\ud800")
    body = json.dumps(valid_request(**STRING_FIELDS[path](surrogate)))
    assert "\\ud" in body or "\\udc" in body
    # Then the field is invalid: it could never be sent as UTF-8
    error = assert_problem(body, INVALID, path)
    assert {kind for p, kind in problems(error) if p == path} <= {"string_unicode", "invalid_unicode"}


def test_a_surrogate_pair_is_one_character_and_accepted() -> None:
    assert parse('{"expiryTimeInMinutes": 60, "userId": "\\ud83d\\ude00"}').userId == "\U0001f600"


# -- limits.maxSpendAmount ----------------------------------------------------------------------------------


def limits(value: Any = "25.50", currency: Any = "USD", **extra: Any) -> dict[str, Any]:
    amount = {"value": value, "currency": currency, **extra}
    return valid_request(limits={"maxSpendAmount": {k: v for k, v in amount.items() if v is not ...}})


@pytest.mark.parametrize("value", ["25", "25.5", "25.50", "0.01", "0.1", "1000000", "10.00"])
def test_positive_decimals_with_at_most_two_fraction_digits_are_accepted(value: str) -> None:
    given = parse(limits(value)).limits
    assert given is not None and given.maxSpendAmount.value == value


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("25.505", "amount_format"),
        ("1e3", "amount_format"),
        ("1E3", "amount_format"),
        ("-1", "amount_format"),
        ("+1", "amount_format"),
        (" 1", "amount_format"),
        ("1 ", "amount_format"),
        ("NaN", "amount_format"),
        ("Infinity", "amount_format"),
        ("01", "amount_format"),
        (".5", "amount_format"),
        ("5.", "amount_format"),
        ("1,000", "amount_format"),
        ("١٢", "amount_format"),
        ("", "string_too_short"),
        ("0", "amount_not_positive"),
        ("0.00", "amount_not_positive"),
        ("0.0", "amount_not_positive"),
    ],
)
def test_amounts_that_are_not_positive_plain_decimals_are_invalid(value: str, kind: str) -> None:
    assert_problem(limits(value), INVALID, "limits.maxSpendAmount.value", kind)


@pytest.mark.parametrize("number", ["25", "25.5", "0"])
def test_an_amount_given_as_a_json_number_is_invalid(number: str) -> None:
    body = f'{{"expiryTimeInMinutes": 60, "limits": {{"maxSpendAmount": {{"value": {number}, "currency": "USD"}}}}}}'
    assert_problem(body, INVALID, "limits.maxSpendAmount.value", "string_type")


@pytest.mark.parametrize("currency", ["EUR", "usd", "", "US"])
def test_a_currency_outside_the_enum_is_invalid(currency: str) -> None:
    assert_problem(limits(currency=currency), INVALID, "limits.maxSpendAmount.currency", "literal_error")


def test_limits_without_max_spend_amount_are_invalid() -> None:
    assert_problem(valid_request(limits={}), INVALID, "limits.maxSpendAmount", "missing")


@pytest.mark.parametrize("missing", ["value", "currency"])
def test_max_spend_amount_needs_value_and_currency(missing: str) -> None:
    assert_problem(limits(**{missing: ...}), INVALID, f"limits.maxSpendAmount.{missing}", "missing")


@pytest.mark.parametrize("shape", [[], "25", 25, True], ids=repr)
def test_limits_and_max_spend_amount_must_be_objects(shape: Any) -> None:
    assert_problem(valid_request(limits=shape), INVALID, "limits")
    assert_problem(valid_request(limits={"maxSpendAmount": shape}), INVALID, "limits.maxSpendAmount")


# -- unknown fields, null -------------------------------------------------------------------------------------


def test_the_limit_typo_never_creates_an_unlimited_session() -> None:
    # Given a producer who meant limits but wrote limit
    body = valid_request(limits=..., limit={"maxSpendAmount": {"value": "25", "currency": "USD"}})
    # Then the message is invalid rather than a session without limits
    assert_problem(body, INVALID, "limit", "extra_forbidden")


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (valid_request(expiry=60), "expiry"),
        (valid_request(ClientToken=VALID_TOKEN), "ClientToken"),
        (valid_request(limits={"maxSpendAmount": {"value": "1", "currency": "USD"}, "limit": 1}), "limits.limit"),
        (limits(limit="1"), "limits.maxSpendAmount.limit"),
        (limits(amount="1"), "limits.maxSpendAmount.amount"),
    ],
)
def test_unknown_fields_at_every_level_are_invalid(body: dict[str, Any], path: str) -> None:
    assert_problem(body, INVALID, path, "extra_forbidden")


@pytest.mark.parametrize(
    "field", ["paymentManagerArn", "userId", "agentName", "limits", "clientToken", "correlationId"]
)
def test_null_for_an_optional_field_is_invalid(field: str) -> None:
    assert_problem(valid_request(**{field: None}), INVALID, field, "null_not_allowed")


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (valid_request(expiryTimeInMinutes=None), "expiryTimeInMinutes"),
        (valid_request(limits={"maxSpendAmount": None}), "limits.maxSpendAmount"),
        (limits(value=None), "limits.maxSpendAmount.value"),
        (limits(currency=None), "limits.maxSpendAmount.currency"),
    ],
)
def test_null_for_a_required_field_is_invalid(body: dict[str, Any], path: str) -> None:
    assert_problem(body, INVALID, path, "null_not_allowed")


# -- clientToken, correlationId ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "kind"),
    [
        ("a" * 32, "string_too_short"),
        ("a" * 257, "string_too_long"),
        ("-" + "a" * 40, "pattern_mismatch"),
        ("a" * 40 + "-", "pattern_mismatch"),
        ("a" * 20 + "_" + "a" * 20, "pattern_mismatch"),
        ("a" * 20 + " " + "a" * 20, "pattern_mismatch"),
        ("a" * 20 + "\n" + "a" * 20, "pattern_mismatch"),
        ("a" * 20 + "é" + "a" * 20, "pattern_mismatch"),
    ],
)
def test_a_client_token_breaking_length_or_pattern_is_invalid(token: str, kind: str) -> None:
    assert_problem(valid_request(clientToken=token), INVALID, "clientToken", kind)


@pytest.mark.parametrize("token", ["a" * 33, "Z" * 256, "a--b" + "9" * 30, "0" * 33])
def test_a_client_token_within_length_and_pattern_is_used_verbatim(token: str) -> None:
    assert parse(valid_request(clientToken=token)).clientToken == token


@pytest.mark.parametrize(("length", "accepted"), [(0, False), (1, True), (128, True), (129, False)])
def test_correlation_id_is_1_to_128_characters(length: int, accepted: bool) -> None:
    body = valid_request(correlationId="c" * length)
    if accepted:
        assert parse(body).correlationId == "c" * length
    else:
        assert_problem(body, INVALID, "correlationId")


# -- the payment manager allow-list -------------------------------------------------------------------------------


def test_the_default_manager_named_explicitly_is_accepted() -> None:
    assert parse(valid_request(paymentManagerArn=MANAGER_ARN)).paymentManagerArn == MANAGER_ARN


def test_an_allowed_manager_is_used() -> None:
    assert parse(valid_request(paymentManagerArn=OTHER_MANAGER_ARN)).paymentManagerArn == OTHER_MANAGER_ARN


def test_a_valid_manager_not_allowed_is_payment_manager_not_allowed() -> None:
    error = poison(valid_request(paymentManagerArn=FOREIGN_MANAGER_ARN))
    assert error.code is PoisonCode.PAYMENT_MANAGER_NOT_ALLOWED
    assert [problem.path for problem in error.problems] == ["paymentManagerArn"]


def test_without_allowed_managers_only_the_default_is_accepted() -> None:
    only_default = ManagerPolicy(MANAGER_ARN)
    assert parse(valid_request(), only_default).paymentManagerArn == MANAGER_ARN
    error = poison(valid_request(paymentManagerArn=OTHER_MANAGER_ARN), only_default)
    assert error.code is PoisonCode.PAYMENT_MANAGER_NOT_ALLOWED


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:bedrock-agentcore:us-east-1:123456789012:payment-manager/Demo-Manager-a1b2c3d4e5",
        "arn:aws:bedrock-agentcore:us-east-1:12345678901:payment-manager/demo-manager-a1b2c3d4e5",
        "arn:aws:bedrock:us-east-1:123456789012:payment-manager/demo-manager-a1b2c3d4e5",
        "arn:aws:bedrock-agentcore:us-east-1:123456789012:payment-manager/demo-manager-a1b2c3d4e",
        MANAGER_ARN + " ",
        " " + MANAGER_ARN,
        "not-an-arn",
    ],
)
def test_a_malformed_manager_arn_is_invalid_even_when_listed(arn: str) -> None:
    # Given the malformed value is even listed as allowed: the model's pattern comes first
    managers = ManagerPolicy(MANAGER_ARN, frozenset({arn}))
    error = poison(valid_request(paymentManagerArn=arn), managers)
    assert error.code is INVALID
    assert [problem.path for problem in error.problems] == ["paymentManagerArn"]


# -- error messages --------------------------------------------------------------------------------------------------

SECRET_BODIES: list[str | dict[str, Any]] = [
    valid_request(userId=SECRET + "\n"),
    valid_request(agentName=SECRET * 30),
    valid_request(correlationId=SECRET * 20),
    valid_request(clientToken=SECRET + "_" + SECRET * 3),
    valid_request(paymentManagerArn="arn:" + SECRET),
    valid_request(
        paymentManagerArn=f"arn:aws:bedrock-agentcore:us-east-1:123456789012:payment-manager/{SECRET}-a1b2c3d4e5"
    ),
    limits(value=SECRET),
    limits(currency=SECRET),
    valid_request(expiryTimeInMinutes=SECRET),
    valid_request(limit=SECRET),
    valid_request(limits=SECRET),
    sns("{" + SECRET),
    sns({"secret": SECRET}),
    eventbridge(SECRET),
    SECRET,
    '{"userId": "' + SECRET + '"',
    '{"expiryTimeInMinutes": 60, "userId": "' + SECRET + '", "userId": "x"}',
]


@pytest.mark.parametrize("body", SECRET_BODIES)
def test_an_error_message_never_contains_the_input_value(body: str | dict[str, Any]) -> None:
    error = poison(body)
    assert SECRET not in str(error)
    assert all(SECRET not in problem.kind for problem in error.problems)


def test_an_error_message_stays_within_1024_characters_with_hundreds_of_unknown_fields() -> None:
    # Given 500 unknown fields
    error = poison(valid_request(**{f"unknownField{index:04d}": index for index in range(500)}))
    # Then every one is reported, but the message is cut at 1024 characters
    assert len(error.problems) == 500
    assert len(str(error)) <= MAX_ERROR_MESSAGE_CHARS
    assert str(error).startswith("unknownField0000: extra_forbidden")


@pytest.mark.parametrize("name", ["a\x00b", "a\nb", "a\x1bb", "a\x85b", "a\ufffeb", "\x7f"], ids=repr)
def test_an_error_message_is_printable_even_when_an_unknown_field_name_is_not(name: str) -> None:
    # Given an unknown field whose name holds a control character (SQS refuses those in attribute values)
    error = poison(valid_request(**{name: 1}))
    # Then the message still names it, escaped, with printable ASCII only
    text = str(error)
    assert "extra_forbidden" in text
    assert text.isascii() and text.isprintable()
