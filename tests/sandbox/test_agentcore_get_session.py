"""GetPaymentSession on the fake: the session as created, scoped to its manager and user, validated, faulted."""

from __future__ import annotations

import json
from typing import Any

import botocore.session
import pytest

from sandbox.agentcore import PaymentsApiServer
from tests.sandbox.agentcore_support import (
    AUTH_HEADERS,
    SAMPLES,
    check_against_shape,
    full_request,
    raw_http,
    send,
    wire_bodies,
)

GET = "GetPaymentSession"
GET_OPERATION = botocore.session.get_session().get_service_model("bedrock-agentcore").operation_model(GET)
OTHER_MANAGER = SAMPLES["paymentManagerArn"].replace("checkout", "partner1")
UNKNOWN_ID = "payment-session-" + "0" * 15


def get(client: Any, session: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """``GetPaymentSession`` for ``session`` (a created ``paymentSession``), with some parameters overridden."""
    params = {"paymentManagerArn": session["paymentManagerArn"], "paymentSessionId": session["paymentSessionId"]}
    params.update(overrides)
    return dict(client.get_payment_session(**params))


def raw_get(api: PaymentsApiServer, session: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    """``GetPaymentSession`` for ``session`` as raw HTTP: the status and the JSON body as sent."""
    body = json.dumps({k: session[k] for k in ("paymentManagerArn", "paymentSessionId")}).encode()
    status, _, payload = raw_http(api, "POST", GET_OPERATION.http["requestUri"], body, AUTH_HEADERS | (headers or {}))
    return status, payload


def get_outcome(client: Any, session: dict[str, Any], **overrides: Any) -> str:
    try:
        get(client, session, **overrides)
    except client.exceptions.ClientError as error:
        return str(error.response["Error"]["Code"])
    return "found"


# ---------------------------------------------------------------------------------------------------------
# The session as created
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("with_limits", [True, False], ids=["limits", "no-limits"])
def test_get_after_create_returns_the_session_as_created(client: Any, with_limits: bool) -> None:
    # Given a session created with (or without) limits
    request = full_request()
    if not with_limits:
        del request["limits"]
    created = send(client, request)["paymentSession"]
    # When it is read back over HTTP, with and without its user
    by_manager = get(client, created)
    by_user = get(client, created, userId=request["userId"])
    # Then both answers are the modelled success status and the very session CreatePaymentSession returned
    assert by_manager["ResponseMetadata"]["HTTPStatusCode"] == GET_OPERATION.http["responseCode"]
    assert by_manager["paymentSession"] == created
    assert by_user["paymentSession"] == created
    assert ("limits" in by_manager["paymentSession"]) is with_limits


def test_the_answer_on_the_wire_is_the_created_session_and_fits_the_output_shape(
    client: Any, api: PaymentsApiServer
) -> None:
    # Given a session created with every member, its JSON as CreatePaymentSession sent it
    with wire_bodies(client) as bodies:
        send(client, full_request())
    created = json.loads(bodies[0])["paymentSession"]
    # When it is read back as raw HTTP
    status, payload = raw_get(api, created)
    # Then the JSON body satisfies GetPaymentSession's output shape and holds the same JSON, timestamps included
    assert status == 200
    assert check_against_shape(GET_OPERATION.output_shape, payload) == []
    assert payload["paymentSession"] == created


def test_a_session_added_directly_is_found_as_if_created(client: Any, api: PaymentsApiServer) -> None:
    # Given a session put straight into the fake's state, without a call
    request = {k: v for k, v in full_request().items() if k != "agentName"}
    created = api.add_session(request)["paymentSession"]
    # When it is read back over HTTP
    status, payload = raw_get(api, created, {"X-Amzn-Bedrock-AgentCore-Payments-User-Id": request["userId"]})
    # Then it is that session; it counts as a session, not as a CreatePaymentSession call
    assert (status, payload) == (200, {"paymentSession": created})
    assert get(client, created)["paymentSession"]["paymentSessionId"] == created["paymentSessionId"]
    stats = api.snapshot()
    assert (stats["sessions_created"], stats["calls"]) == (1, 0)
    assert stats["sessions"][0]["request"] == request


@pytest.mark.parametrize(
    "request_change",
    [{"expiryTimeInMinutes": 5}, {"paymentManagerArn": "not-an-arn"}, {"notAMember": 1}],
    ids=["below-min", "pattern", "unknown-member"],
)
def test_adding_a_session_the_model_would_refuse_is_refused(api: PaymentsApiServer, request_change: Any) -> None:
    # When a session is added with a request the model does not allow, Then it is refused and nothing exists
    with pytest.raises(ValueError, match=r"."):
        api.add_session(full_request() | request_change)
    assert api.snapshot()["sessions_created"] == 0


# ---------------------------------------------------------------------------------------------------------
# Not found: unknown IDs, another manager, another user
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"paymentSessionId": UNKNOWN_ID},
        {"paymentManagerArn": OTHER_MANAGER},
        {"userId": "someone-else"},
        {"userId": ""},
    ],
    ids=["unknown-id", "other-manager", "other-user", "empty-user"],
)
def test_a_session_out_of_scope_is_not_found(client: Any, overrides: dict[str, str]) -> None:
    # Given a session created for a manager and a user
    created = send(client, full_request())["paymentSession"]
    # When it is asked for with an unknown ID, another manager or another user
    with pytest.raises(client.exceptions.ResourceNotFoundException) as info:
        get(client, created, **overrides)
    # Then the answer is 404 ResourceNotFoundException with a message
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert info.value.response["Error"]["Message"]


def test_a_session_without_a_user_is_found_without_a_user_only(client: Any) -> None:
    # Given a session created without a userId
    request = {k: v for k, v in full_request().items() if k != "userId"}
    created = send(client, request)["paymentSession"]
    # When it is asked for without a user, with an empty user, and with a user
    # Then it is found for the first two (its userId is ""), and not for a user it does not belong to
    assert [get_outcome(client, created, **o) for o in ({}, {"userId": ""}, {"userId": "user-1"})] == [
        "found",
        "found",
        "ResourceNotFoundException",
    ]


def test_a_reset_forgets_the_sessions(client: Any, api: PaymentsApiServer) -> None:
    # Given a created session
    created = send(client, full_request())["paymentSession"]
    # When the fake is reset, Then the session is no longer found
    api.reset()
    assert get_outcome(client, created) == "ResourceNotFoundException"


# ---------------------------------------------------------------------------------------------------------
# Validation from the model
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"paymentSessionId": "payment-session-!!!!!!!!!!!!!!!"}, "paymentSessionId"),
        ({"paymentSessionId": "payment-session-0"}, "paymentSessionId"),
        ({"paymentManagerArn": "arn:aws:s3:::bucket"}, "paymentManagerArn"),
        ({"userId": "u" * 121}, "userId"),
    ],
    ids=["id-pattern", "id-length", "manager-pattern", "user-length"],
)
def test_an_input_the_model_refuses_is_a_validation_exception(
    client: Any, overrides: dict[str, str], field: str
) -> None:
    # Given a created session
    created = send(client, full_request())["paymentSession"]
    # When it is asked for with a member the model refuses
    with pytest.raises(client.exceptions.ValidationException) as info:
        get(client, created, **overrides)
    # Then the answer is 400 FieldValidationFailed naming that member
    response = info.value.response
    assert (response["ResponseMetadata"]["HTTPStatusCode"], response["reason"]) == (400, "FieldValidationFailed")
    assert {entry["name"] for entry in response["fieldList"]} == {field}


def test_missing_required_members_are_listed(api: PaymentsApiServer) -> None:
    # When an empty body is sent to the route
    status, response_headers, payload = raw_http(api, "POST", GET_OPERATION.http["requestUri"], b"{}", AUTH_HEADERS)
    # Then every required member of the model is named
    assert (status, response_headers["x-amzn-errortype"]) == (400, "ValidationException")
    assert {entry["name"] for entry in payload["fieldList"]} == set(GET_OPERATION.input_shape.required_members)


# ---------------------------------------------------------------------------------------------------------
# Faults and counters
# ---------------------------------------------------------------------------------------------------------


def test_a_scripted_throttle_on_get_affects_get_and_not_create(client: Any, api: PaymentsApiServer) -> None:
    # Given a throttle scripted for the next GetPaymentSession call
    api.fail_next("ThrottlingException", operation=GET)
    # When a session is created, then read twice
    created = send(client, full_request())["paymentSession"]
    outcomes = [get_outcome(client, created) for _ in range(2)]
    # Then the create was untouched, the first read throttled (429) and the second found it
    assert outcomes == ["ThrottlingException", "found"]
    stats = api.snapshot()
    assert stats["faults"] == {}
    assert stats["operations"][GET]["faults"] == {"ThrottlingException": 1}
    assert stats["operations"][GET]["responses_by_status"] == {"200": 1, "429": 1}


def test_a_script_without_an_operation_affects_create_and_not_get(client: Any, api: PaymentsApiServer) -> None:
    # Given a session, then a throttle scripted over HTTP without naming an operation
    created = send(client, full_request())["paymentSession"]
    raw_http(api, "POST", "/_sandbox/script", json.dumps({"code": "ThrottlingException"}).encode())
    # When it is read, then another session is created
    found = get_outcome(client, created)
    # Then the read is untouched and the create is throttled
    assert found == "found"
    with pytest.raises(client.exceptions.ThrottlingException):
        send(client, full_request())


def test_the_script_endpoint_targets_an_operation(client: Any, api: PaymentsApiServer) -> None:
    # When an error of GetPaymentSession's model is scripted over HTTP for that operation
    script = {"code": "ResourceNotFoundException", "operation": GET, "message": "gone"}
    status, _, payload = raw_http(api, "POST", "/_sandbox/script", json.dumps(script).encode())
    # Then the endpoint reports it pending for that operation, and the next read of an existing session gets it
    assert (status, payload) == (200, {"scripted_pending": 1})
    assert api.snapshot()["operations"][GET]["scripted_pending"] == 1
    created = send(client, full_request())["paymentSession"]
    assert get_outcome(client, created) == "ResourceNotFoundException"
    assert api.snapshot()["operations"][GET]["scripted_pending"] == 0


@pytest.mark.parametrize(
    "script",
    [
        {"code": "ThrottlingException", "operation": "DeletePaymentSession"},
        {"code": "ThrottlingException", "operation": GET, "client_token": "c" * 40},
        {"code": "ConflictException", "operation": GET},
        {"delay_ms": 10, "operation": "NoSuchOperation"},
    ],
    ids=["not-served", "token-on-get", "error-not-of-get", "delay-not-served"],
)
def test_a_script_for_no_operation_or_an_impossible_call_is_refused(api: PaymentsApiServer, script: Any) -> None:
    # When a script names an operation the fake does not serve, a token Get does not have, or an error Get cannot
    # answer without a status, Then it is refused with 400 and nothing is pending
    status, _, payload = raw_http(api, "POST", "/_sandbox/script", json.dumps(script).encode())
    assert (status, bool(payload["message"])) == (400, True)
    assert all(block["scripted_pending"] == 0 for block in api.snapshot()["operations"].values())


@pytest.mark.parametrize("error", sorted(shape.name for shape in GET_OPERATION.error_shapes))
def test_each_error_of_get_can_be_scripted(client: Any, api: PaymentsApiServer, error: str) -> None:
    # Given a session, and the next read scripted to fail with an error of GetPaymentSession's model
    created = send(client, full_request())["paymentSession"]
    members = {"reason": "FieldValidationFailed"} if error == "ValidationException" else None
    api.fail_next(error, operation=GET, members=members)
    # When it is read, Then boto3 raises that error with its modelled status
    with pytest.raises(getattr(client.exceptions, error)) as info:
        get(client, created)
    status = next(s for s in GET_OPERATION.error_shapes if s.name == error).metadata["error"]["httpStatusCode"]
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


def test_random_faults_apply_to_get_and_are_counted_under_it(client: Any, api: PaymentsApiServer) -> None:
    # Given a session, then every call throttled at random
    created = send(client, full_request())["paymentSession"]
    api.set_faults(throttle_rate=1.0)
    # When it is read, Then it is throttled, counted under GetPaymentSession and not in the create's faults
    assert get_outcome(client, created) == "ThrottlingException"
    stats = api.snapshot()
    assert (stats["faults"], stats["operations"][GET]["faults"]) == ({}, {"ThrottlingException": 1})


def test_stats_count_get_calls_apart_from_create_calls(client: Any, api: PaymentsApiServer) -> None:
    # Given one session created, read twice, and one unknown ID asked for
    request = full_request()
    created = send(client, request)["paymentSession"]
    get(client, created)
    get(client, created)
    get_outcome(client, created, paymentSessionId=UNKNOWN_ID)
    # When the stats are read over HTTP
    _, _, stats = raw_http(api, "GET", "/_sandbox/stats?sessions=false")
    # Then the create's counters are as before the reads, and the reads are counted under GetPaymentSession
    assert (stats["calls"], stats["sessions_created"], stats["idempotent_replays"]) == (1, 1, 0)
    assert stats["calls_by_client_token"] == {request["clientToken"]: 1}
    assert stats["operations"]["CreatePaymentSession"]["calls"] == 1
    assert stats["operations"]["CreatePaymentSession"]["responses_by_status"] == {"201": 1}
    assert stats["operations"][GET]["calls"] == 3
    assert stats["operations"][GET]["responses_by_status"] == {"200": 2, "404": 1}
    # And the server-wide answers count both operations
    assert stats["responses_by_status"] == {"200": 2, "201": 1, "404": 1}


def test_a_scripted_delay_on_get_is_counted_under_get(client: Any, api: PaymentsApiServer) -> None:
    # Given a session, and a short delay scripted for the next read
    created = send(client, full_request())["paymentSession"]
    api.delay_next(10, operation=GET)
    # When it is read, Then it is found after the delay, which counts under GetPaymentSession only
    assert get_outcome(client, created) == "found"
    stats = api.snapshot()
    assert (stats["scripted_delays"], stats["operations"][GET]["scripted_delays"]) == (0, 1)
