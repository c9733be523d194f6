"""The fake CreatePaymentSession API, spoken to over real HTTP by a real boto3 client.

The client runs with parameter validation off, so what is rejected is rejected by the fake. The constraints
exercised are enumerated from botocore's model, not copied from it: the fake must reject what the model
rejects, and only that.
"""

from __future__ import annotations

import http.client
import json
import re
import selectors
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.model import Shape, StringShape, StructureShape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.agentcore import PaymentsApiServer

REPO_ROOT = Path(__file__).resolve().parents[2]
OPERATION = (
    botocore.session.get_session().get_service_model("bedrock-agentcore").operation_model("CreatePaymentSession")
)
INPUT_SHAPE = OPERATION.input_shape
OUTPUT_SHAPE = OPERATION.output_shape
EVENT_SUFFIX = "bedrock-agentcore.CreatePaymentSession"
SIGV4_AUTHORIZATION = "AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/bedrock-agentcore/aws4_request"
AUTH_HEADERS = {"Authorization": SIGV4_AUTHORIZATION, "Content-Type": "application/json"}
OMIT = object()  # a member left out of a request

# Values the model cannot provide: one valid example per patterned string, and realistic free-text values.
SAMPLES: dict[str, Any] = {
    "paymentManagerArn": "arn:aws:bedrock-agentcore:us-east-1:123456789012:payment-manager/checkout-a1b2c3d4e5",
    "clientToken": "c" * 40,
    "userId": "user-1",
    "agentName": "checkout-agent",
    "limits.maxSpendAmount.value": "25.50",
}


# ---------------------------------------------------------------------------------------------------------
# The model, walked
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """One member of the input shape, at any depth."""

    path: str
    shape: Shape
    location: str | None  # "header", ... for top-level members bound outside the JSON body
    required: bool

    @property
    def in_body(self) -> bool:
        return self.location is None


def walk(shape: StructureShape, prefix: str = "") -> list[Member]:
    members: list[Member] = []
    for name, member in shape.members.items():
        path = f"{prefix}.{name}" if prefix else name
        location = None if prefix else member.serialization.get("location")
        members.append(Member(path, member, location, name in shape.required_members))
        if isinstance(member, StructureShape):
            members.extend(walk(member, path))
    return members


MEMBERS = walk(INPUT_SHAPE)
BY_PATH = {m.path: m for m in MEMBERS}
TOP_LEVEL_LOCATION = {name: m.serialization.get("location") for name, m in INPUT_SHAPE.members.items()}


def sample_of(member_path: str, shape: Shape) -> Any:
    if member_path in SAMPLES:
        return SAMPLES[member_path]
    meta = shape.metadata
    if isinstance(shape, StructureShape):
        return {name: sample_of(f"{member_path}.{name}", m) for name, m in shape.members.items()}
    if isinstance(shape, StringShape) and shape.enum:
        return shape.enum[0]
    if shape.type_name == "string":
        assert "pattern" not in meta, f"add a sample for {member_path} to SAMPLES"
        return "x" * max(meta.get("min", 1), 1)
    if shape.type_name == "integer":
        return (meta.get("min", 1) + meta.get("max", meta.get("min", 1))) // 2
    raise AssertionError(f"the tests do not know how to build a {shape.type_name} ({member_path})")


def full_request() -> dict[str, Any]:
    """A valid request with every member of the model set, and a fresh client token."""
    request = {name: sample_of(name, m) for name, m in INPUT_SHAPE.members.items()}
    request["clientToken"] = new_token()
    return request


def new_token() -> str:
    return "tok" + uuid.uuid4().hex


def with_value(request: Mapping[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``request`` with ``path`` set to ``value`` (or removed, for ``OMIT``)."""
    copied: dict[str, Any] = json.loads(json.dumps(request))
    *parents, leaf = path.split(".")
    node = copied
    for name in parents:
        node = node[name]
    if value is OMIT:
        node.pop(leaf, None)
    else:
        node[leaf] = value
    return copied


ALPHABET_FOR_STRETCHING = "a0A-"


def string_of_length(member: Member, length: int) -> tuple[str, bool]:
    """A string of ``length`` characters, satisfying the member's pattern when one exists; and whether it does."""
    pattern = member.shape.metadata.get("pattern")
    if pattern is None:
        return "a" * length, True
    sample = SAMPLES[member.path]
    grow = length - len(sample)
    candidates: Iterator[str]
    if grow >= 0:
        candidates = (
            sample[:i] + c * grow + sample[i:] for i in range(len(sample) + 1) for c in ALPHABET_FOR_STRETCHING
        )
    else:
        candidates = (sample[:i] + sample[i - grow :] for i in range(len(sample) + grow + 1))
    for candidate in candidates:
        if re.fullmatch(pattern, candidate):
            return candidate, True
    return "a" * length, False


def pattern_breaker(member: Member) -> str:
    pattern = member.shape.metadata["pattern"]
    sample = SAMPLES[member.path]
    for bad in ("!", " ", "\u00e9", "#"):
        for candidate in (bad + sample[1:], sample[:-1] + bad):
            if not re.fullmatch(pattern, candidate):
                return candidate
    raise AssertionError(f"no value of {member.path} breaks its pattern")


@dataclass(frozen=True)
class Case:
    path: str
    value: Any
    accepted: bool
    raw: bool = False  # the value cannot go through boto3's serializer: send it as the JSON body
    constraint: str = ""

    def request(self) -> dict[str, Any]:
        request = with_value(full_request(), self.path, self.value)
        if self.path != "clientToken":
            request["clientToken"] = new_token()
        return request


WRONG_TYPES: dict[str, list[Any]] = {
    "string": [123, True],
    "integer": ["60", 60.0, 60.5, True],
    "structure": ["x", ["x"]],
}


def constraint_cases() -> list[Any]:
    """Every constraint of the model, as values just outside (rejected) and just inside (accepted) it."""
    cases: list[Any] = []

    def add(case: Case, kind: str) -> None:
        verdict = "accepts" if case.accepted else "rejects"
        cases.append(pytest.param(replace(case, constraint=kind), id=f"{case.path}-{kind}-{verdict}"))

    for member in MEMBERS:
        meta, kind = member.shape.metadata, member.shape.type_name
        if member.required:
            add(Case(member.path, OMIT, accepted=False), "required")
        if kind == "string":
            low, high = meta.get("min"), meta.get("max")
            if low:
                add(Case(member.path, string_of_length(member, low - 1)[0], accepted=False), f"min{low}")
                value, fits_pattern = string_of_length(member, low)
                if fits_pattern:
                    add(Case(member.path, value, accepted=True), f"min{low}")
            if high is not None:
                add(Case(member.path, string_of_length(member, high + 1)[0], accepted=False), f"max{high}")
                value, fits_pattern = string_of_length(member, high)
                if fits_pattern:
                    add(Case(member.path, value, accepted=True), f"max{high}")
            if "pattern" in meta:
                add(Case(member.path, pattern_breaker(member), accepted=False), "pattern")
                add(Case(member.path, SAMPLES[member.path], accepted=True), "pattern")
            enum = member.shape.enum if isinstance(member.shape, StringShape) else []
            if enum:
                outsider = enum[0].lower() if enum[0].lower() not in enum else enum[0] + "X"
                add(Case(member.path, outsider, accepted=False), "enum")
                for value in enum:
                    add(Case(member.path, value, accepted=True), f"enum-{value}")
        if kind == "integer":
            if "min" in meta:
                add(Case(member.path, meta["min"] - 1, accepted=False), f"min{meta['min']}")
                add(Case(member.path, meta["min"], accepted=True), f"min{meta['min']}")
            if "max" in meta:
                add(Case(member.path, meta["max"] + 1, accepted=False), f"max{meta['max']}")
                add(Case(member.path, meta["max"], accepted=True), f"max{meta['max']}")
        if member.in_body:
            for wrong in WRONG_TYPES[kind]:
                add(Case(member.path, wrong, accepted=False, raw=True), f"type-{json.dumps(wrong)}")
    return cases


CONSTRAINT_CASES = constraint_cases()


# ---------------------------------------------------------------------------------------------------------
# Fixtures and helpers
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api() -> Iterator[PaymentsApiServer]:
    with PaymentsApiServer() as server:
        yield server


def make_client(endpoint_url: str) -> Any:
    return boto3.client(
        "bedrock-agentcore",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(parameter_validation=False, retries={"mode": "standard", "total_max_attempts": 1}),
    )


@pytest.fixture(scope="module")
def client(api: PaymentsApiServer) -> Any:
    return make_client(api.endpoint_url)


@pytest.fixture(autouse=True)
def _fresh_sandbox(api: PaymentsApiServer) -> None:
    api.reset()


@contextmanager
def body_replaced(client: Any, body: bytes) -> Iterator[None]:
    """Send ``body`` instead of what boto3 serialized (for what its serializer cannot express)."""

    def replace(request: Any, **_: Any) -> None:
        request.data = body

    unique_id = f"replace-body-{uuid.uuid4()}"
    client.meta.events.register_first(f"before-sign.{EVENT_SUFFIX}", replace, unique_id=unique_id)
    try:
        yield
    finally:
        client.meta.events.unregister(f"before-sign.{EVENT_SUFFIX}", unique_id=unique_id)


@contextmanager
def wire_bodies(client: Any) -> Iterator[list[bytes]]:
    """Collect the raw response bodies boto3 receives."""
    bodies: list[bytes] = []

    def capture(http_response: Any, **_: Any) -> None:
        bodies.append(http_response.content)

    unique_id = f"capture-{uuid.uuid4()}"
    client.meta.events.register(f"after-call.{EVENT_SUFFIX}", capture, unique_id=unique_id)
    try:
        yield bodies
    finally:
        client.meta.events.unregister(f"after-call.{EVENT_SUFFIX}", unique_id=unique_id)


def send(client: Any, request: Mapping[str, Any], *, raw: bool = False) -> dict[str, Any]:
    if not raw:
        return dict(client.create_payment_session(**request))
    headers = {k: v for k, v in request.items() if TOP_LEVEL_LOCATION[k] is not None}
    body = json.dumps({k: v for k, v in request.items() if TOP_LEVEL_LOCATION[k] is None}).encode()
    with body_replaced(client, body):
        return dict(client.create_payment_session(**headers))


def rejected_field_list(client: Any, request: Mapping[str, Any], *, raw: bool = False) -> list[dict[str, str]]:
    """The ``fieldList`` of the FieldValidationFailed answer to ``request``."""
    with pytest.raises(client.exceptions.ValidationException) as info:
        send(client, request, raw=raw)
    assert info.value.response["reason"] == "FieldValidationFailed"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return list(info.value.response["fieldList"])


def rejected_fields(client: Any, request: Mapping[str, Any], *, raw: bool = False) -> set[str]:
    return {field["name"] for field in rejected_field_list(client, request, raw=raw)}


def raw_http(
    api: PaymentsApiServer, method: str, path: str, body: bytes = b"", headers: Mapping[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=dict(headers or {}))
        response = connection.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, json.loads(data)
    finally:
        connection.close()


def check_against_shape(shape: Shape, value: Any, path: str = "") -> list[str]:
    """What breaks the model in a wire (JSON) value: an independent check of the fake's output."""
    meta, kind, problems = shape.metadata, shape.type_name, []
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            return [f"{path}: not an object"]
        problems += [f"{path}.{n}: missing" for n in shape.required_members if n not in value]
        problems += [f"{path}.{n}: not in the model" for n in value if n not in shape.members]
        for name, member in shape.members.items():
            if name in value:
                problems += check_against_shape(member, value[name], f"{path}.{name}")
    elif kind == "string":
        if not isinstance(value, str):
            return [f"{path}: not a string"]
        if not meta.get("min", 0) <= len(value) <= meta.get("max", len(value)):
            problems.append(f"{path}: length {len(value)}")
        if "pattern" in meta and not re.fullmatch(meta["pattern"], value):
            problems.append(f"{path}: breaks {meta['pattern']}")
        if isinstance(shape, StringShape) and shape.enum and value not in shape.enum:
            problems.append(f"{path}: not in {shape.enum}")
    elif kind == "integer":
        if type(value) is not int:
            problems.append(f"{path}: not an integer")
    elif kind == "timestamp":
        assert shape.serialization.get("timestampFormat", "iso8601") == "iso8601"
        if not isinstance(value, str) or datetime.fromisoformat(value).utcoffset() is None:
            problems.append(f"{path}: not an ISO-8601 timestamp with an offset")
    else:
        problems.append(f"{path}: the tests do not check {kind}")
    return problems


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
# The created session
# ---------------------------------------------------------------------------------------------------------


def test_created_session_satisfies_the_output_shape_on_the_wire(client: Any) -> None:
    # Given a valid request with limits
    request = full_request()
    # When it is sent
    with wire_bodies(client) as bodies:
        response = send(client, request)
    # Then the answer is the modelled success status and its JSON body satisfies the output shape
    assert response["ResponseMetadata"]["HTTPStatusCode"] == OPERATION.http["responseCode"]
    assert check_against_shape(OUTPUT_SHAPE, json.loads(bodies[0])) == []
    session = response["paymentSession"]
    assert session["paymentManagerArn"] == request["paymentManagerArn"]
    assert session["expiryTimeInMinutes"] == request["expiryTimeInMinutes"]
    assert session["userId"] == request["userId"]
    assert session["limits"] == request["limits"]
    assert session["createdAt"] == session["updatedAt"]


def test_available_limits_equal_the_limits_at_creation(client: Any) -> None:
    # Given limits of 12.34 USD
    request = with_value(full_request(), "limits.maxSpendAmount.value", "12.34")
    # When the session is created
    session = send(client, request)["paymentSession"]
    # Then all of it is available
    assert session["availableLimits"]["availableSpendAmount"] == {"value": "12.34", "currency": "USD"}
    assert session["availableLimits"]["updatedAt"] == session["createdAt"]


def test_session_without_user_or_limits_has_empty_user_id_and_no_limits(client: Any) -> None:
    # Given a request with only the required members
    request = {"paymentManagerArn": SAMPLES["paymentManagerArn"], "expiryTimeInMinutes": 15}
    # When it is sent
    with wire_bodies(client) as bodies:
        session = send(client, request)["paymentSession"]
    # Then userId (required in the output) is empty and neither limits nor availableLimits appear
    assert session["userId"] == ""
    assert "limits" not in session
    assert "availableLimits" not in session
    assert check_against_shape(OUTPUT_SHAPE, json.loads(bodies[0])) == []


def test_session_ids_match_the_model_pattern_and_are_unique(client: Any) -> None:
    # Given the pattern the model gives session IDs
    id_shape = OUTPUT_SHAPE.members["paymentSession"].members["paymentSessionId"]
    # When fifty sessions are created
    ids = [send(client, full_request())["paymentSession"]["paymentSessionId"] for _ in range(50)]
    # Then every ID satisfies the pattern and length, and none repeats
    assert all(re.fullmatch(id_shape.metadata["pattern"], i) for i in ids)
    assert {len(i) for i in ids} <= set(range(id_shape.metadata["min"], id_shape.metadata["max"] + 1))
    assert len(set(ids)) == 50


# ---------------------------------------------------------------------------------------------------------
# Idempotency
# ---------------------------------------------------------------------------------------------------------


def test_same_token_and_parameters_return_the_same_session(client: Any, api: PaymentsApiServer) -> None:
    # Given a session created with a client token
    request = full_request()
    first = send(client, request)
    # When the same request is sent again
    second = send(client, request)
    # Then the same session comes back with 201, and only one exists
    assert second["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert second["paymentSession"] == first["paymentSession"]
    stats = api.snapshot()
    assert (stats["sessions_created"], stats["idempotent_replays"]) == (1, 1)
    assert stats["calls_by_client_token"] == {request["clientToken"]: 2}


@pytest.mark.parametrize(
    ("path", "other_value"),
    [("expiryTimeInMinutes", 16), ("userId", "someone-else"), ("limits.maxSpendAmount.value", "99")],
)
def test_same_token_with_other_parameters_is_a_mismatch(
    client: Any, api: PaymentsApiServer, path: str, other_value: Any
) -> None:
    # Given a session created with a client token
    request = full_request()
    send(client, request)
    # When the token is reused with one parameter changed (in the body or in a header)
    with pytest.raises(client.exceptions.ValidationException) as info:
        send(client, with_value(request, path, other_value))
    # Then the answer is IdempotentParameterMismatchException and nothing more is created
    assert info.value.response["reason"] == "IdempotentParameterMismatchException"
    assert api.snapshot()["sessions_created"] == 1


def test_requests_without_a_token_each_create_a_session(client: Any, api: PaymentsApiServer) -> None:
    # Given a body with no clientToken (boto3 would fill one in)
    request = full_request()
    del request["clientToken"]
    body = json.dumps({k: v for k, v in request.items() if TOP_LEVEL_LOCATION[k] is None}).encode()
    # When it is sent twice
    with body_replaced(client, body):
        first = client.create_payment_session(userId=request["userId"])
        second = client.create_payment_session(userId=request["userId"])
    # Then two different sessions exist
    assert first["paymentSession"]["paymentSessionId"] != second["paymentSession"]["paymentSessionId"]
    assert api.snapshot()["sessions_created"] == 2


def test_concurrent_requests_with_one_token_create_one_session(api: PaymentsApiServer) -> None:
    # Given twenty clients sending the same request with the same token at once
    body = json.dumps({k: v for k, v in full_request().items() if TOP_LEVEL_LOCATION[k] is None}).encode()
    statuses: list[int] = []
    ids: list[str] = []
    lock = threading.Lock()

    def call() -> None:
        status, _, payload = raw_http(api, "POST", OPERATION.http["requestUri"], body, AUTH_HEADERS)
        with lock:
            statuses.append(status)
            ids.append(payload["paymentSession"]["paymentSessionId"])

    threads = [threading.Thread(target=call) for _ in range(20)]
    # When they all complete
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    # Then all got the same session and only one was created
    assert statuses == [201] * 20
    assert len(set(ids)) == 1
    assert api.snapshot()["sessions_created"] == 1


# ---------------------------------------------------------------------------------------------------------
# Authentication and routing
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("authorization", [None, "Basic dGVzdGluZzp0ZXN0aW5n"], ids=["missing", "not-sigv4"])
def test_a_request_without_sigv4_authorization_is_refused(api: PaymentsApiServer, authorization: str | None) -> None:
    # Given a valid body sent without a SigV4 Authorization header
    headers = {"Content-Type": "application/json"} | ({"Authorization": authorization} if authorization else {})
    body = json.dumps({k: v for k, v in full_request().items() if TOP_LEVEL_LOCATION[k] is None}).encode()
    # When it is sent
    status, response_headers, payload = raw_http(api, "POST", OPERATION.http["requestUri"], body, headers)
    # Then it is refused like AWS refuses unsigned requests, and nothing is created
    assert status == 403
    assert response_headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
    assert payload["message"]
    assert api.snapshot()["sessions_created"] == 0


def test_an_unknown_route_is_an_unknown_operation(api: PaymentsApiServer) -> None:
    # When a path the model does not define is called
    status, headers, _ = raw_http(api, "POST", "/payments/nothingHere", b"{}", AUTH_HEADERS)
    # Then the answer is 404 UnknownOperationException
    assert (status, headers["x-amzn-errortype"]) == (404, "UnknownOperationException")


# ---------------------------------------------------------------------------------------------------------
# Faults
# ---------------------------------------------------------------------------------------------------------


def outcome_of(client: Any) -> str:
    try:
        send(client, full_request())
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    return "created"


def test_seeded_random_faults_are_repeatable_and_parsed_by_boto3(client: Any, api: PaymentsApiServer) -> None:
    # Given throttling and errors at seeded rates
    api.set_faults(throttle_rate=0.3, error_rate=0.2, seed=7)
    # When forty calls are made, then forty more after re-seeding with the same seed
    first = [outcome_of(client) for _ in range(40)]
    api.set_faults(seed=7)
    second = [outcome_of(client) for _ in range(40)]
    # Then both runs have the same fates, made of boto3's modelled exception codes
    assert first == second
    assert set(first) == {"created", "ThrottlingException", "InternalServerException"}
    # And the counters agree with what the client saw; faulted calls created nothing
    stats = api.snapshot()
    assert stats["faults"] == {
        "ThrottlingException": 2 * first.count("ThrottlingException"),
        "InternalServerException": 2 * first.count("InternalServerException"),
    }
    assert stats["sessions_created"] == 2 * first.count("created")
    assert stats["calls"] == 80


@pytest.mark.parametrize(
    ("setting", "exception_name", "status"),
    [("throttle_rate", "ThrottlingException", 429), ("error_rate", "InternalServerException", 500)],
)
def test_a_rate_of_one_faults_every_call_with_the_modelled_status(
    client: Any, api: PaymentsApiServer, setting: str, exception_name: str, status: int
) -> None:
    # Given a fault rate of 1
    api.set_faults(**{setting: 1.0})
    # When a call is made, Then boto3 raises the modelled exception with its status
    with pytest.raises(getattr(client.exceptions, exception_name)) as info:
        send(client, full_request())
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert api.snapshot()["sessions_created"] == 0


def test_latency_delays_every_answer(client: Any, api: PaymentsApiServer) -> None:
    # Given a latency of 100 ms
    api.set_faults(latency_ms=100)
    # When a call is made
    started = time.monotonic()
    response = send(client, full_request())
    # Then it took at least that long and still succeeded
    assert time.monotonic() - started >= 0.1
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 201


def modelled_errors() -> list[str]:
    return sorted(shape.name for shape in OPERATION.error_shapes)


def members_required_by(code: str) -> dict[str, Any]:
    shape = next(s for s in OPERATION.error_shapes if s.name == code)
    members: dict[str, Any] = {}
    for name in shape.required_members:
        member = shape.members[name]
        if name != "message":
            members[name] = member.enum[0] if isinstance(member, StringShape) and member.enum else "x"
    return members


@pytest.mark.parametrize("code", modelled_errors())
def test_each_modelled_error_can_be_scripted_for_the_next_call(client: Any, api: PaymentsApiServer, code: str) -> None:
    # Given the next call scripted to fail with an error of the model
    api.fail_next(code, members=members_required_by(code))
    request = full_request()
    # When it is made, Then boto3 raises that error with the modelled HTTP status
    with pytest.raises(getattr(client.exceptions, code)) as info:
        send(client, request)
    expected_status = next(s for s in OPERATION.error_shapes if s.name == code).metadata["error"]["httpStatusCode"]
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == expected_status
    assert info.value.response["Error"]["Message"]
    # And nothing was created, and the retry with the same token succeeds
    assert api.snapshot()["sessions_created"] == 0
    assert send(client, request)["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert api.snapshot()["faults"] == {code: 1}


def test_a_scripted_validation_exception_carries_reason_and_field_list(client: Any, api: PaymentsApiServer) -> None:
    # Given a scripted ValidationException with a field list
    fields = [{"name": "limits.maxSpendAmount.value", "message": "Amount too large"}]
    api.fail_next("ValidationException", members={"reason": "FieldValidationFailed", "fieldList": fields})
    # When the call is made
    with pytest.raises(client.exceptions.ValidationException) as info:
        send(client, full_request())
    # Then boto3 exposes reason and fieldList
    assert info.value.response["reason"] == "FieldValidationFailed"
    assert info.value.response["fieldList"] == fields


def test_a_non_model_5xx_can_be_scripted(client: Any, api: PaymentsApiServer) -> None:
    # Given the next call scripted to answer 503 with a code the model does not define
    api.fail_next("ServiceUnavailableException", status=503, message="Try later")
    # When it is made, Then boto3 raises a generic ClientError with that code and status
    with pytest.raises(ClientError) as info:
        send(client, full_request())
    assert info.value.response["Error"] == {"Code": "ServiceUnavailableException", "Message": "Try later"}
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503


def test_a_script_applies_to_its_count_of_calls_then_stops(client: Any, api: PaymentsApiServer) -> None:
    # Given the next two calls scripted to be throttled
    api.fail_next("ThrottlingException", times=2)
    # When three calls are made, Then the first two are throttled and the third succeeds
    assert [outcome_of(client) for _ in range(3)] == ["ThrottlingException", "ThrottlingException", "created"]


def test_a_script_for_a_token_applies_only_to_that_token(client: Any, api: PaymentsApiServer) -> None:
    # Given a conflict scripted for one client token
    targeted = full_request()
    api.fail_next("ConflictException", client_token=targeted["clientToken"])
    # When another request is made first, Then it is untouched
    assert send(client, full_request())["ResponseMetadata"]["HTTPStatusCode"] == 201
    # And the request with that token gets the conflict
    with pytest.raises(client.exceptions.ConflictException):
        send(client, targeted)


def test_a_scripted_delay_holds_only_its_call(client: Any, api: PaymentsApiServer) -> None:
    # Given a 200 ms delay scripted for one client token
    delayed = full_request()
    api.delay_next(200, client_token=delayed["clientToken"])
    # When another call and then the delayed one are made
    send(client, full_request())
    started = time.monotonic()
    response = send(client, delayed)
    # Then the delayed one took at least 200 ms and succeeded, and it alone was delayed
    assert time.monotonic() - started >= 0.2
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert api.snapshot()["scripted_delays"] == 1


@pytest.mark.parametrize(
    ("code", "options"),
    [
        ("ServiceUnavailableException", {}),
        ("AccessDeniedException", {"members": {"notInTheModel": 1}}),
        ("ValidationException", {}),
        ("ThrottlingException", {"times": 0}),
    ],
    ids=["non-model-without-status", "unknown-member", "missing-required-reason", "zero-times"],
)
def test_a_script_that_does_not_fit_the_model_is_refused(
    api: PaymentsApiServer, code: str, options: dict[str, Any]
) -> None:
    # When a script that could not come from the real service is given, Then it is refused up front
    with pytest.raises(ValueError, match=r"."):
        api.fail_next(code, **options)
    assert api.snapshot()["scripted_pending"] == 0


# ---------------------------------------------------------------------------------------------------------
# Control endpoints, observability, concurrency, logging
# ---------------------------------------------------------------------------------------------------------


def test_stats_endpoint_returns_the_snapshot(client: Any, api: PaymentsApiServer) -> None:
    # Given one created session
    request = full_request()
    session = send(client, request)["paymentSession"]
    # When the stats are read over HTTP
    status, _, stats = raw_http(api, "GET", "/_sandbox/stats")
    # Then they describe that session and its request
    assert status == 200
    assert stats == api.snapshot()
    assert stats["calls"] == 1
    assert stats["sessions"][0]["payment_session_id"] == session["paymentSessionId"]
    assert stats["sessions"][0]["client_token"] == request["clientToken"]
    assert stats["sessions"][0]["request"] == request
    assert stats["responses_by_status"] == {"201": 1}
    # And the sessions can be left out of it
    _, _, counters_only = raw_http(api, "GET", "/_sandbox/stats?sessions=false")
    assert (counters_only["sessions"], counters_only["sessions_created"]) == ([], 1)


def test_faults_endpoint_changes_the_settings_at_runtime(client: Any, api: PaymentsApiServer) -> None:
    # When throttling is switched on over HTTP
    status, _, settings_now = raw_http(api, "POST", "/_sandbox/faults", json.dumps({"throttle_rate": 1}).encode())
    # Then the next call is throttled
    assert (status, settings_now["throttle_rate"]) == (200, 1)
    assert outcome_of(client) == "ThrottlingException"


@pytest.mark.parametrize(
    "body", [{"throttle_rate": 1.5}, {"error_rate": "high"}, {"throttle_rate": 0.6, "error_rate": 0.6}, {"x": 1}]
)
def test_faults_endpoint_refuses_invalid_settings(api: PaymentsApiServer, body: dict[str, Any]) -> None:
    # When invalid settings are posted, Then they are refused and the settings are unchanged
    status, _, payload = raw_http(api, "POST", "/_sandbox/faults", json.dumps(body).encode())
    assert status == 400
    assert payload["message"]
    assert api.state.faults.throttle_rate == 0.0


def test_script_endpoint_scripts_a_failure(client: Any, api: PaymentsApiServer) -> None:
    # When a failure is scripted over HTTP
    script = {"code": "AccessDeniedException", "times": 1}
    status, _, _ = raw_http(api, "POST", "/_sandbox/script", json.dumps(script).encode())
    # Then the next call fails with it
    assert status == 200
    assert outcome_of(client) == "AccessDeniedException"


def test_reset_endpoint_forgets_sessions_and_tokens(client: Any, api: PaymentsApiServer) -> None:
    # Given a session created with a token
    request = full_request()
    send(client, request)
    # When the sandbox is reset over HTTP
    status, _, stats = raw_http(api, "POST", "/_sandbox/reset")
    # Then it is empty, and the token can be used with other parameters
    assert (status, stats["sessions_created"], stats["calls"]) == (200, 0, 0)
    assert send(client, with_value(request, "expiryTimeInMinutes", 20))["ResponseMetadata"]["HTTPStatusCode"] == 201


def poll(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


def test_reset_abandons_a_call_held_by_a_delay(api: PaymentsApiServer) -> None:
    # Given a call held by a long scripted delay
    api.delay_next(60_000)
    body = json.dumps({k: v for k, v in full_request().items() if TOP_LEVEL_LOCATION[k] is None}).encode()
    outcome: list[BaseException | int] = []

    def call() -> None:
        try:
            outcome.append(raw_http(api, "POST", OPERATION.http["requestUri"], body, AUTH_HEADERS)[0])
        except (ConnectionError, http.client.HTTPException) as error:
            outcome.append(error)

    caller = threading.Thread(target=call)
    caller.start()
    poll(lambda: api.snapshot()["scripted_delays"] == 1)
    # When the sandbox is reset
    api.reset()
    # Then the call ends at once without an answer, and created nothing in the fresh state
    caller.join(timeout=5)
    assert not caller.is_alive()
    assert isinstance(outcome[0], ConnectionError | http.client.HTTPException)
    assert api.snapshot()["sessions_created"] == 0


def test_serves_a_hundred_concurrent_keep_alive_connections(api: PaymentsApiServer) -> None:
    # Given a hundred connections, each sending a request, all held open together, then sending another
    connections_count, results = 100, []
    barrier = threading.Barrier(connections_count)
    lock = threading.Lock()
    path = OPERATION.http["requestUri"]

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=10)
        try:
            for round_number in range(2):
                body = json.dumps({k: v for k, v in full_request().items() if TOP_LEVEL_LOCATION[k] is None}).encode()
                connection.request("POST", path, body=body, headers=AUTH_HEADERS)
                response = connection.getresponse()
                response.read()
                with lock:
                    results.append(response.status)
                if round_number == 0:
                    barrier.wait(timeout=10)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(connections_count)]
    # When they run
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    # Then every request succeeded, over exactly one connection per client
    assert results == [201] * 2 * connections_count
    stats = api.snapshot()
    assert stats["connections_opened"] == connections_count
    assert stats["sessions_created"] == 2 * connections_count


def test_requests_are_not_logged_unless_verbose(capfd: pytest.CaptureFixture[str]) -> None:
    # Given a quiet and a verbose server, each answering a success and an error
    for verbose in (False, True):
        with PaymentsApiServer(verbose=verbose) as server:
            body = json.dumps({k: v for k, v in full_request().items() if TOP_LEVEL_LOCATION[k] is None}).encode()
            raw_http(server, "POST", OPERATION.http["requestUri"], body, AUTH_HEADERS)
            raw_http(server, "POST", OPERATION.http["requestUri"], b"{", AUTH_HEADERS)
        # Then only the verbose one wrote to stderr
        written = capfd.readouterr().err
        assert (written != "") is verbose


def test_stop_closes_the_port_and_open_connections() -> None:
    # Given a running server with an open keep-alive connection
    server = PaymentsApiServer().start()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("GET", "/_sandbox/stats")
    connection.getresponse().read()
    port = server.port
    # When it stops
    server.stop()
    # Then the open connection is closed and new ones are refused
    connection.request("GET", "/_sandbox/stats")
    with pytest.raises((ConnectionError, http.client.HTTPException)):
        connection.getresponse()
    with pytest.raises(ConnectionRefusedError):
        http.client.HTTPConnection("127.0.0.1", port, timeout=10).connect()


# ---------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------


def read_line(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise AssertionError(f"no output within {timeout} s")
    return process.stdout.readline().strip()


def test_cli_prints_its_url_serves_with_its_fault_flags_and_stops_on_sigterm() -> None:
    # Given the CLI started on a free port with every call throttled
    command = [sys.executable, "-m", "sandbox.agentcore", "--port", "0", "--throttle-rate", "1", "--seed", "3"]
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # When it has printed its URL
        url = read_line(process, timeout=20)
        assert re.fullmatch(r"http://127\.0\.0\.1:[1-9][0-9]*", url)
        # Then a boto3 client at that URL gets throttled
        cli_client = make_client(url)
        with pytest.raises(cli_client.exceptions.ThrottlingException):
            cli_client.create_payment_session(**full_request())
        # And SIGTERM stops it cleanly and quietly
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert process.stderr is not None
        assert process.stderr.read() == ""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


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


def test_startup_takes_less_than_100_ms_once_the_model_is_loaded() -> None:
    # Given the model already loaded (the module-level server did it)
    timings: list[float] = []
    # When a server is started and stopped a few times
    for _ in range(3):
        started = time.perf_counter()
        server = PaymentsApiServer().start()
        timings.append(time.perf_counter() - started)
        server.stop()
    # Then the fastest start is well under 100 ms
    assert min(timings) < 0.1


def test_cli_refuses_an_impossible_fault_rate() -> None:
    # When the CLI is given a throttle rate above 1
    command = [sys.executable, "-m", "sandbox.agentcore", "--throttle-rate", "2"]
    finished = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=30, check=False)
    # Then it exits with a usage error naming the setting, without serving
    assert finished.returncode == 2
    assert "throttle_rate" in finished.stderr
    assert finished.stdout == ""
