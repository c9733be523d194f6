"""The fake's HTTP server: authentication, routing, control endpoints, concurrency, logging, stop."""

from __future__ import annotations

import http.client
import json
import threading
import time
from typing import Any

import pytest

from sandbox.agentcore import PaymentsApiServer
from sandbox.agentcore.operation import load_operation_spec
from tests.sandbox.agentcore_support import (
    AUTH_HEADERS,
    OPERATION,
    TOP_LEVEL_LOCATION,
    full_request,
    outcome_of,
    raw_http,
    send,
    with_value,
)

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


def test_a_new_server_reuses_the_loaded_model_instead_of_reading_botocore_again() -> None:
    # Given the model already loaded (the module-level server did it)
    before = load_operation_spec.cache_info()
    # When servers are started and stopped a few times
    for _ in range(3):
        PaymentsApiServer().start().stop()
    # Then botocore's model was read no more: every start took the cached spec
    after = load_operation_spec.cache_info()
    assert after.misses == before.misses
    assert after.hits >= before.hits + 3
