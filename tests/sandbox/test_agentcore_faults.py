"""The fake's faults: seeded random throttling and 5xx, latency, and scripted errors and delays."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.model import StringShape

from sandbox.agentcore import PaymentsApiServer
from tests.sandbox.agentcore_support import (
    OPERATION,
    full_request,
    outcome_of,
    send,
)

# ---------------------------------------------------------------------------------------------------------
# Faults
# ---------------------------------------------------------------------------------------------------------


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
