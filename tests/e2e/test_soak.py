"""The short soak (``python -m sandbox.soak --short``) in-process, and the soak's own checks of its invariants."""

from __future__ import annotations

import io
import json

import pytest

from domain.tokens import derive_token
from sandbox.aws import MotoServer, client
from sandbox.soak import SHORT_REQUESTS, Request, SoakOptions, SoakReport, account_requests, redrive, run_soak

pytestmark = pytest.mark.e2e

SEED = 20261126


@pytest.fixture(scope="module")
def soak(moto_server: MotoServer) -> tuple[SoakReport, str]:
    """The short soak against the session's moto server: 150 requests, 4 pollers, every fault."""
    out = io.StringIO()
    report = run_soak(SoakOptions.short(seed=SEED, stack_name="e2e-soak"), out, aws_endpoint=moto_server.endpoint_url)
    return report, out.getvalue()


def test_the_short_soak_accounts_for_every_request_and_drains_the_queue(soak):
    # Given the short soak has run under faults at every boundary
    report, output = soak

    # Then every request ended created, failed or dead-lettered, and nothing is left in the queue or in flight
    assert report.lost == [], output
    assert sum(report.outcomes.values()) == report.requests == SHORT_REQUESTS
    assert not any(report.queue_left.values())
    assert report.ok, report.failures


def test_the_short_soak_ends_each_request_as_its_fate_says(soak):
    # Given the requests' fates are drawn from the seed alone
    report, _ = soak
    final, poison = report.fates["final"], report.fates["poison"]

    # Then final API errors fail, poison is dead-lettered, and every other request, redriven if need be, is created
    assert report.outcomes["failed"] == final
    assert report.outcomes["dead-lettered"] == poison
    assert report.outcomes["created"] == report.requests - final - poison


def test_the_short_soak_creates_no_double_session_and_lets_no_poison_reach_the_api(soak):
    report, _ = soak

    assert report.double_sessions == 0
    assert report.poison_at_api == 0
    assert report.sessions == report.outcomes["created"]


def test_every_session_created_in_the_short_soak_is_announced(soak):
    report, _ = soak

    assert report.unannounced == 0
    assert report.events >= report.outcomes["created"] + report.outcomes["failed"]


def test_the_short_soak_went_through_retries_duplicates_and_a_redrive(soak):
    # Given exhausted requests are scripted to outlast every receive, and slow answers outlast the client timeout
    report, output = soak

    # Then records were handed back, delivered again, dead-lettered and redriven with their tokens
    assert report.handed_back > 0
    assert report.deliveries > report.requests
    assert report.redriven > 0
    assert report.idempotent_replays > 0
    assert report.scripted_delays > 0
    assert "redrive 1" in output
    assert "lost (must be 0)" in report.table()


# -- the soak's own checks, on made-up observations -------------------------------------------------------


def _request(index: int, *, poison: bool = False, token: str | None = None) -> Request:
    request = Request(index, poison, json.dumps({"i": index}), "plain", token, f"soak-user-{index:06d}")
    request.message_id = f"message-{index}"
    return request


def _session(request: Request, session_id: str, *, user_id: str | None = None) -> dict[str, object]:
    return {
        "payment_session_id": session_id,
        "client_token": request.token,
        "request": {"userId": user_id or request.user_id},
    }


def _created(request: Request, session_id: str) -> dict[str, object]:
    return {
        "detail-type": "PaymentSessionCreated",
        "detail": {"clientToken": request.token, "paymentSession": {"paymentSessionId": session_id}},
    }


def test_the_soak_accounting_finds_a_lost_request_a_double_session_and_an_unannounced_one():
    # Given three requests: one created and announced, one with a second session under another token, one gone
    done, doubled, gone = _request(0), _request(1), _request(2)
    stray = _request(1, token="another-token-for-the-same-request-000000000")
    sessions = [_session(done, "s-0"), _session(doubled, "s-1"), _session(stray, "s-2", user_id=doubled.user_id)]

    # When the soak accounts for them
    outcomes, lost, double, poison_at_api, unannounced, _ = account_requests(
        [done, doubled, gone],
        sessions=sessions,
        calls_by_token={done.token: 1, doubled.token: 1, stray.token: 1},
        events=[_created(done, "s-0"), _created(doubled, "s-1")],
        dead_letters=[],
    )

    # Then the lost request, the double session, the unknown token and the unannounced session are all reported
    assert lost == [2]
    assert double == 1
    assert poison_at_api == 1
    assert unannounced == 1
    assert outcomes["created"] == 2


def test_the_soak_accounting_reports_poison_that_reached_the_api():
    # Given a poison request whose token the API saw
    poison = _request(0, poison=True, token="poison-token-0000000000000000000000000")

    # When the soak accounts for it
    _, _, _, poison_at_api, _, _ = account_requests(
        [poison], sessions=[], calls_by_token={poison.token: 1}, events=[], dead_letters=[{"Body": poison.body}]
    )

    # Then it is reported
    assert poison_at_api == 1


def test_a_redrive_gives_a_message_the_redrive_policy_moved_the_token_derived_from_its_id(moto_server):
    # Given a DLQ holding a message the queue's redrive policy moved (no ClientToken, no body token) and one
    # the worker dead-lettered with its ClientToken
    sqs = client("sqs", moto_server.endpoint_url)
    dlq = sqs.create_queue(QueueName="soak-redrive-test-dlq")["QueueUrl"]
    queue = sqs.create_queue(QueueName="soak-redrive-test")["QueueUrl"]
    moved_id = sqs.send_message(QueueUrl=dlq, MessageBody='{"expiryTimeInMinutes": 60}')["MessageId"]
    stamped = "worker-stamped-token-0000000000000000000"
    sqs.send_message(
        QueueUrl=dlq,
        MessageBody='{"expiryTimeInMinutes": 61}',
        MessageAttributes={
            "ClientToken": {"DataType": "String", "StringValue": stamped},
            "ErrorCode": {"DataType": "String", "StringValue": "ThrottlingException"},
        },
    )

    # When the soak redrives the DLQ
    result = redrive(sqs, dead_letter_queue_url=dlq, queue_url=queue)

    # Then both are back in the queue under new IDs, each with the token its first attempt used
    assert (result.moved, result.stamped) == (2, 1)
    back = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, MessageAttributeNames=["All"])["Messages"]
    tokens = {m["Body"]: m["MessageAttributes"]["ClientToken"]["StringValue"] for m in back}
    assert tokens == {'{"expiryTimeInMinutes": 60}': derive_token(moved_id), '{"expiryTimeInMinutes": 61}': stamped}
    assert moved_id not in {m["MessageId"] for m in back}
    assert "Messages" not in sqs.receive_message(QueueUrl=dlq)
