"""The model in force decides (CONTRACT section 1): our request model is at least as strict as botocore's.

These tests walk every member of ``CreatePaymentSessionRequest`` in the botocore the package ships, read each
constraint (length, pattern, enum, range) from the model, and hold our parsing against it: whatever value we
would send, the model accepts. A botocore that tightens a constraint fails here, never a request at the API;
the last test proves it by tightening a copy of the model.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from functools import cache
from typing import Any

import botocore.session
import pytest
from botocore.model import ServiceModel, Shape, StringShape, StructureShape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.errors import PoisonMessage
from domain.parsing import ManagerPolicy, parse_request
from sandbox.agentcore.shapes import validate_value
from tests.support import EVENT_SOURCE, MANAGER_ARN, valid_request

SERVICE = "bedrock-agentcore"
OPERATION = "CreatePaymentSession"
# Every constraint kind this walker understands; a model that adds another kind fails until the walker learns it.
KNOWN_METADATA = frozenset({"min", "max", "pattern", "enum", "idempotencyToken", "required", "document"})
FALLBACK_TOKEN = "walker-token-0123456789abcdef0123456789abcdef"


@cache
def shipped_model() -> dict[str, Any]:
    """The service model of the botocore in this environment (the one the package ships: one lock)."""
    loader = botocore.session.get_session().get_component("data_loader")
    model: dict[str, Any] = loader.load_service_model(SERVICE, "service-2")
    return model


def input_shape(model: dict[str, Any]) -> StructureShape:
    shape = ServiceModel(model, SERVICE).operation_model(OPERATION).input_shape
    assert isinstance(shape, StructureShape)
    return shape


def leaves(shape: StructureShape, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Shape]]:
    """Every scalar member of the request, with its path."""
    for name, member in shape.members.items():
        if isinstance(member, StructureShape):
            yield from leaves(member, (*path, name))
        else:
            yield (*path, name), member


def with_value(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A valid request with every optional member present, and ``value`` at ``path``."""
    document: dict[str, Any] = valid_request(clientToken=FALLBACK_TOKEN, paymentManagerArn=MANAGER_ARN)
    target = document
    for name in path[:-1]:
        target = target[name]
    target[path[-1]] = value
    return document


def sent_params(document: dict[str, Any]) -> dict[str, Any] | None:
    """What the worker would send for ``document`` (``None``: it would send nothing, the message is poison)."""
    arn = document.get("paymentManagerArn")
    managers = ManagerPolicy(MANAGER_ARN, frozenset({arn}) if isinstance(arn, str) else frozenset())
    try:
        request = parse_request(json.dumps(document), own_event_source=EVENT_SOURCE, managers=managers)
    except PoisonMessage:
        return None
    return request.api_params(request.clientToken or FALLBACK_TOKEN)


def model_refuses(shape: StructureShape, params: dict[str, Any]) -> list[str]:
    return [f"{violation.name}: {violation.message}" for violation in validate_value(shape, params)]


def probes(shape: Shape) -> list[Any]:
    """Values just outside each constraint the model states for ``shape``."""
    meta = shape.metadata
    if shape.type_name == "string":
        values: list[Any] = []
        if "max" in meta:
            values += ["a" * (meta["max"] + 1), "1" * (meta["max"] + 1)]
        if meta.get("min", 0) > 0:
            values += ["a" * (meta["min"] - 1), "1" * (meta["min"] - 1)]
        enum = shape.enum if isinstance(shape, StringShape) else []
        if enum:
            values += ["X" + enum[0], enum[0].lower() + "x", ""]
        return values
    if shape.type_name == "integer":
        return [meta[key] + step for key, step in (("min", -1), ("max", 1)) if key in meta]
    return []


def disagreements(shape: StructureShape) -> list[str]:
    """Each probe our parsing would send although the model refuses it."""
    found = []
    for path, leaf in leaves(shape):
        unknown = set(leaf.metadata) - KNOWN_METADATA
        if unknown:
            found.append(f"{'.'.join(path)}: constraint kinds the walker does not know: {sorted(unknown)}")
        for value in probes(leaf):
            params = sent_params(with_value(path, value))
            if params is not None and model_refuses(shape, params):
                found.append(f"{'.'.join(path)} = {value!r:.40}: sent, but {model_refuses(shape, params)}")
    return found


def test_every_constraint_of_the_shipped_model_is_held_by_our_parsing() -> None:
    # Given every member of CreatePaymentSessionRequest and each constraint the model states for it
    shape = input_shape(shipped_model())
    walked = {".".join(path): sorted(set(leaf.metadata) - {"idempotencyToken"}) for path, leaf in leaves(shape)}
    # Then the walk covers lengths, patterns, enums and ranges, amounts included
    assert walked["limits.maxSpendAmount.value"] == ["max", "min", "pattern"]
    assert walked["limits.maxSpendAmount.currency"] == ["enum"]
    assert walked["expiryTimeInMinutes"] == ["max", "min"]
    # And no value just outside a constraint would be sent
    assert disagreements(shape) == []


@pytest.mark.parametrize(
    ("shape_name", "change"),
    [
        ("UserId", {"max": 100}),
        ("PaymentAgentName", {"max": 200}),
        ("AmountValue", {"max": 12}),
        ("AmountValue", {"pattern": "(0|[1-9][0-9]{0,5})(\\.[0-9]{1,2})?"}),
        ("Currency", {"enum": ["EUR"]}),
        ("CreatePaymentSessionRequestExpiryTimeInMinutesInteger", {"max": 240}),
        ("ClientToken", {"min": 40}),
    ],
    ids=repr,
)
def test_a_model_that_tightens_a_constraint_is_caught(shape_name: str, change: dict[str, Any]) -> None:
    # Given a copy of the model with one constraint tightened beyond what our parsing enforces
    model = copy.deepcopy(shipped_model())
    model["shapes"][shape_name].update(change)
    # Then the walk (its probes, or the drawn values below) finds a value we would send and the model refuses
    shape = input_shape(model)
    found = disagreements(shape) or _drawn_disagreements(shape)
    assert found, f"tightening {shape_name} with {change} went unnoticed"


def _drawn_disagreements(shape: StructureShape) -> list[str]:
    """Values drawn from the shipped model's constraints that we would send although ``shape`` refuses them."""
    found = []
    for path, leaf in leaves(input_shape(shipped_model())):
        for value in _examples(leaf):
            params = sent_params(with_value(path, value))
            if params is not None and model_refuses(shape, params):
                found.append(f"{'.'.join(path)} = {value!r:.40}")
    return found


def _examples(leaf: Shape) -> list[Any]:
    """Deterministic values at the edges of what the shipped model allows (the largest, the smallest)."""
    meta = leaf.metadata
    if leaf.type_name == "integer":
        return [meta.get("min"), meta.get("max")]
    if isinstance(leaf, StringShape) and leaf.enum:
        return list(leaf.enum)
    if leaf.name == "AmountValue":
        return ["999999999999999999.99", "1"]
    if leaf.name == "ClientToken":
        return ["a" * meta["min"], "a" * meta["max"]]
    if "pattern" not in meta:
        return ["a" * meta.get("max", 1)]
    return []


# -- values drawn from the model's own constraints --------------------------------------------------------------


def strategy(leaf: Shape) -> st.SearchStrategy[Any]:
    """Values in and around what the model allows for ``leaf``, drawn from its own constraints."""
    meta = leaf.metadata
    if leaf.type_name == "integer":
        return st.integers(meta.get("min", -100) - 5, meta.get("max", 100) + 5)
    if isinstance(leaf, StringShape) and leaf.enum:
        return st.sampled_from([*leaf.enum, *(value.lower() for value in leaf.enum), ""])
    high = meta.get("max", 64)
    near = st.text(st.characters(codec="utf-8"), max_size=min(high + 2, 300))
    if "pattern" not in meta:
        return near | st.text(min_size=high - 1, max_size=high + 1)
    matching = st.from_regex(meta["pattern"], fullmatch=True)
    mutated = st.tuples(matching, st.sampled_from(["", " ", "-", "0", ".5", "x"])).map("".join)
    return matching | mutated | near


@pytest.mark.parametrize("path", [".".join(path) for path, _ in leaves(input_shape(shipped_model()))])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_whatever_we_would_send_the_model_accepts(path: str, data: st.DataObject) -> None:
    # Given a value drawn from the model's constraints for one member, in an otherwise valid request
    shape = input_shape(shipped_model())
    leaf = {".".join(p): s for p, s in leaves(shape)}[path]
    value = data.draw(strategy(leaf))
    params = sent_params(with_value(tuple(path.split(".")), value))
    # Then either we refuse the message, or the model accepts every member of what we would send
    if params is not None:
        assert model_refuses(shape, params) == []
