"""The fake's token window and late-commit fault (issue 25): what a service past its window would do."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ReadTimeoutError

from sandbox.agentcore import PaymentsApiServer
from tests.sandbox.agentcore_support import full_request, raw_http
from tests.support import poll


def session_id(client: Any, request: dict[str, Any]) -> str:
    return str(client.create_payment_session(**request)["paymentSession"]["paymentSessionId"])


def test_within_the_token_window_a_token_sent_again_gets_its_session(client: Any, api: PaymentsApiServer) -> None:
    api.set_faults(token_window_ms=60_000)
    request = full_request()
    assert session_id(client, request) == session_id(client, request)
    stats = api.snapshot()
    assert (stats["sessions_created"], stats["idempotent_replays"], stats["second_sessions"]) == (1, 1, 0)


def test_past_the_token_window_a_token_sent_again_creates_a_second_session(client: Any, api: PaymentsApiServer) -> None:
    # Given a window of 0.3 s and a created session
    api.set_faults(token_window_ms=300)
    request = full_request()
    first = session_id(client, request)

    # When the same request is sent again until the fake has forgotten its token (replays until then)
    second = poll(lambda: session_id(client, request), lambda got: got != first, timeout=5.0)

    # Then a second session exists for the one token
    stats = api.snapshot()
    assert second != first
    assert (stats["sessions_created"], stats["second_sessions"]) == (2, 1)


def test_without_a_window_a_token_is_never_forgotten(client: Any, api: PaymentsApiServer) -> None:
    assert api.snapshot()["fault_settings"]["token_window_ms"] is None


def test_the_late_commit_fault_creates_the_session_and_answers_after_the_caller_gave_up(api: PaymentsApiServer) -> None:
    # Given a client that waits 0.2 s for an answer, and a commit answered 1 s later
    impatient = boto3.client(
        "bedrock-agentcore",
        endpoint_url=api.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(read_timeout=0.2, retries={"mode": "standard", "total_max_attempts": 1}),
    )
    request = full_request()
    api.delay_next(1000, client_token=request["clientToken"], commit_first=True)

    # When it calls, Then it times out, and yet the session exists
    with pytest.raises(ReadTimeoutError):
        impatient.create_payment_session(**request)
    assert api.snapshot()["sessions_created"] == 1


def test_the_window_and_the_late_commit_are_set_over_http(api: PaymentsApiServer) -> None:
    def post(action: str, body: dict[str, Any]) -> tuple[int, Any]:
        status, _, payload = raw_http(api, "POST", f"/_sandbox/{action}", json.dumps(body).encode())
        return status, payload

    status, settings = post("faults", {"token_window_ms": 300})
    assert (status, settings["token_window_ms"]) == (200, 300)
    assert post("faults", {"token_window_ms": -1})[0] == 400
    assert post("script", {"delay_ms": 100, "commit_first": True})[0] == 200
    assert post("script", {"code": "ThrottlingException", "commit_first": True})[0] == 400
