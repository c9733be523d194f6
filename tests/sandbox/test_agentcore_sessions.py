"""The sessions the fake creates: the output shape on the wire, and idempotency by client token."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import pytest

from sandbox.agentcore import PaymentsApiServer
from tests.sandbox.agentcore_support import (
    AUTH_HEADERS,
    OPERATION,
    OUTPUT_SHAPE,
    SAMPLES,
    TOP_LEVEL_LOCATION,
    body_replaced,
    check_against_shape,
    full_request,
    raw_http,
    send,
    wire_bodies,
    with_value,
)

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
