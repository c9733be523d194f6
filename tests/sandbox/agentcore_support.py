"""Helpers of the fake AgentCore API's tests: the model walked, requests built from it, a client, raw HTTP.

The client runs with parameter validation off, so what is rejected is rejected by the fake. The constraints
exercised are enumerated from botocore's model, not copied from it: the fake must reject what the model
rejects, and only that.
"""

from __future__ import annotations

import http.client
import json
import re
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

from sandbox.agentcore import PaymentsApiServer

REPO_ROOT = Path(__file__).resolve().parents[2]
OPERATION = (
    botocore.session.get_session().get_service_model("bedrock-agentcore").operation_model("CreatePaymentSession")
)
_INPUT_SHAPE = OPERATION.input_shape
assert _INPUT_SHAPE is not None, "CreatePaymentSession has an input shape"
INPUT_SHAPE: StructureShape = _INPUT_SHAPE
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
    sample: str = SAMPLES[member.path]
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


def make_client(endpoint_url: str) -> Any:
    return boto3.client(
        "bedrock-agentcore",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(parameter_validation=False, retries={"mode": "standard", "total_max_attempts": 1}),
    )


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


def outcome_of(client: Any) -> str:
    try:
        send(client, full_request())
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    return "created"
