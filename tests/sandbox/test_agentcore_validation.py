"""The fake refuses what botocore's model refuses, and only that, over real HTTP to a real boto3 client."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from botocore.model import Shape, StringShape, StructureShape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.agentcore import PaymentsApiServer
from tests.sandbox.agentcore_support import (
    CONSTRAINT_CASES,
    INPUT_SHAPE,
    MEMBERS,
    OMIT,
    SAMPLES,
    TOP_LEVEL_LOCATION,
    Case,
    Member,
    body_replaced,
    full_request,
    rejected_field_list,
    rejected_fields,
    send,
    with_value,
)

# ---------------------------------------------------------------------------------------------------------
# Fidelity to the model
# ---------------------------------------------------------------------------------------------------------


def test_the_walk_finds_the_constraints_the_model_is_known_to_have() -> None:
    # Given the model walked by these tests
    required = {m.path for m in MEMBERS if m.required}
    patterned = {m.path for m in MEMBERS if "pattern" in m.shape.metadata}
    headers = {m.path for m in MEMBERS if m.location == "header"}
    # Then the known constraints are among what the parametrized tests exercise
    assert {"paymentManagerArn", "expiryTimeInMinutes", "limits.maxSpendAmount.currency"} <= required
    assert {"paymentManagerArn", "clientToken"} <= patterned
    assert {"userId", "agentName"} <= headers
    assert len(CONSTRAINT_CASES) >= 40


@pytest.mark.parametrize("case", CONSTRAINT_CASES)
def test_constraint_of_the_model_is_enforced_over_http(client: Any, api: PaymentsApiServer, case: Case) -> None:
    # Given a valid request with one member just inside or just outside one of its constraints
    request = case.request()
    if case.accepted:
        # When it is sent, Then a session is created
        response = send(client, request, raw=case.raw)
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 201
        assert api.snapshot()["sessions_created"] == 1
    else:
        # When it is sent, Then it is rejected naming that member, and only it
        fields = rejected_field_list(client, request, raw=case.raw)
        assert {field["name"] for field in fields} == {case.path}
        if case.constraint.startswith("type-"):
            # (and for its type, not because a bool or float also happens to be out of range)
            assert all("type" in field["message"] for field in fields)
        assert api.snapshot()["sessions_created"] == 0


def test_every_violation_of_a_request_is_listed(client: Any) -> None:
    # Given a request breaking three constraints at once
    request = with_value(full_request(), "expiryTimeInMinutes", 14)
    request = with_value(request, "limits.maxSpendAmount.currency", "EUR")
    request = with_value(request, "paymentManagerArn", OMIT)
    # When it is sent, Then all three are named
    assert rejected_fields(client, request) == {
        "expiryTimeInMinutes",
        "limits.maxSpendAmount.currency",
        "paymentManagerArn",
    }


def test_unknown_members_are_ignored_like_aws_does(client: Any, api: PaymentsApiServer) -> None:
    # Given a valid request with a misspelt extra member at the top and inside limits
    request = full_request()
    request["limit"] = {"maxSpendAmount": {"value": "1", "currency": "USD"}}
    request["limits"]["extra"] = True
    body = json.dumps({k: v for k, v in request.items() if TOP_LEVEL_LOCATION.get(k) is None}).encode()
    # When it is sent
    with body_replaced(client, body):
        response = client.create_payment_session(paymentManagerArn="ignored", expiryTimeInMinutes=15)
    # Then the session is created and the unknown members appear nowhere
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 201
    stored = api.snapshot()["sessions"][0]["request"]
    assert "limit" not in stored
    assert "extra" not in stored["limits"]
    assert "extra" not in response["paymentSession"]["limits"]


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[1, 2]", b'"text"', b'{"expiryTimeInMinutes": NaN}', b'{"userId": "\xff"}'],
    ids=["malformed", "array", "string", "nan", "invalid-utf8"],
)
def test_a_body_that_is_not_a_json_object_cannot_be_parsed(client: Any, api: PaymentsApiServer, body: bytes) -> None:
    # Given a body that is not a UTF-8 JSON object
    with body_replaced(client, body), pytest.raises(client.exceptions.ValidationException) as info:
        # When it is sent
        client.create_payment_session(paymentManagerArn=SAMPLES["paymentManagerArn"], expiryTimeInMinutes=60)
    # Then the answer is ValidationException with reason CannotParse, and nothing is created
    assert info.value.response["reason"] == "CannotParse"
    assert api.snapshot()["sessions_created"] == 0


def test_header_members_travel_as_utf8(client: Any, api: PaymentsApiServer) -> None:
    # Given a user ID and agent name outside ASCII
    request = full_request() | {"userId": "usér-日本", "agentName": "agent ✓"}
    # When the session is created
    session = send(client, request)["paymentSession"]
    # Then they are decoded as sent
    assert session["userId"] == "usér-日本"
    assert api.snapshot()["sessions"][0]["request"]["agentName"] == "agent ✓"


# ---------------------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------------------

HEADER_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=40).filter(
    lambda s: s == s.strip(" \t")
)


def strategy_for(shape: Shape, location: str | None = None) -> st.SearchStrategy[Any]:
    """Values valid for ``shape``, generated from the model's constraints."""
    meta = shape.metadata
    if isinstance(shape, StructureShape):
        fields = {n: strategy_for(m, m.serialization.get("location")) for n, m in shape.members.items()}
        required = {n: s for n, s in fields.items() if n in shape.required_members}
        optional = {n: s for n, s in fields.items() if n not in shape.required_members}
        return st.fixed_dictionaries(required, optional=optional)
    if isinstance(shape, StringShape) and shape.enum:
        return st.sampled_from(shape.enum)
    if shape.type_name == "string":
        low, high = meta.get("min", 0), meta.get("max", 300)
        if "pattern" in meta:
            return st.from_regex(meta["pattern"], fullmatch=True).filter(lambda s: low <= len(s) <= high)
        if location == "header":
            return HEADER_TEXT.filter(lambda s: low <= len(s) <= high)
        return st.text(min_size=low, max_size=min(high, 300))
    if shape.type_name == "integer":
        return st.integers(min_value=meta.get("min", -(2**31)), max_value=meta.get("max", 2**31 - 1))
    raise AssertionError(f"no strategy for {shape.type_name}")


FUNCTION_FIXTURES_RESET_INSIDE = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


@settings(max_examples=40, deadline=None, suppress_health_check=FUNCTION_FIXTURES_RESET_INSIDE)
@given(request=strategy_for(INPUT_SHAPE))
def test_any_request_valid_per_the_model_is_accepted(
    client: Any, api: PaymentsApiServer, request: dict[str, Any]
) -> None:
    # Given any request the model allows, and a sandbox that has seen nothing
    api.reset()
    # When it is sent
    response = send(client, request)
    # Then a session is created that echoes it
    session = response["paymentSession"]
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert session["paymentManagerArn"] == request["paymentManagerArn"]
    assert session["expiryTimeInMinutes"] == request["expiryTimeInMinutes"]
    assert session["userId"] == request.get("userId", "")
    assert session.get("limits") == request.get("limits")


PATTERNED = [m for m in MEMBERS if "pattern" in m.shape.metadata]


def any_string_for(member: Member) -> st.SearchStrategy[str]:
    pattern = member.shape.metadata["pattern"]
    near_valid = st.from_regex(pattern, fullmatch=True)
    mutated = st.tuples(near_valid, st.text(max_size=3), st.integers(min_value=0)).map(
        lambda t: t[0][: t[2] % (len(t[0]) + 1)] + t[1] + t[0][t[2] % (len(t[0]) + 1) :]
    )
    strategy = st.one_of(near_valid, mutated, st.text(max_size=300))
    if member.location == "header":
        return strategy.filter(lambda s: s == s.strip(" \t") and s.isprintable())
    return strategy


@pytest.mark.parametrize("member", PATTERNED, ids=[m.path for m in PATTERNED])
def test_a_patterned_member_accepts_exactly_the_strings_the_model_allows(
    client: Any, api: PaymentsApiServer, member: Member
) -> None:
    meta = member.shape.metadata

    @settings(max_examples=50, deadline=None, suppress_health_check=FUNCTION_FIXTURES_RESET_INSIDE)
    @given(value=any_string_for(member))
    def check(value: str) -> None:
        # Given a valid request with an arbitrary string for the patterned member
        api.reset()
        request = with_value(full_request(), member.path, value)
        allowed = bool(re.fullmatch(meta["pattern"], value)) and meta.get("min", 0) <= len(value) <= meta.get(
            "max", len(value)
        )
        # When it is sent, Then it is accepted exactly when the model allows the string
        if allowed:
            assert send(client, request)["ResponseMetadata"]["HTTPStatusCode"] == 201
        else:
            assert rejected_fields(client, request) == {member.path}

    check()
