"""The short soaks (``python -m sandbox.soak --short``) in-process, and the soak's own checks of its invariants.

Each scenario's figures are asserted as invariants that hold or break, never as timings.
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Mapping
from typing import Any

import pytest

from sandbox.aws.server import MotoServer
from sandbox.demo.fair_tenants import NOISY
from sandbox.operator_command import operator_environment
from sandbox.soak import SHORT_REQUESTS, Fate, Request, SoakReport, account_requests, run_soak, scenario
from sandbox.soak.scenarios import BACKSTOP_MIX

pytestmark = pytest.mark.e2e

SEED = 20261126


def _short_soak(name: str, what: str) -> Any:
    """A module-scoped fixture named ``name``: that short scenario's soak against the session's moto server
    (``what`` it runs), its report and its output."""

    def run(moto_server: MotoServer) -> tuple[SoakReport, str]:
        out = io.StringIO()
        options = scenario(name, short=True, seed=SEED)
        options = dataclasses.replace(options, stack=dataclasses.replace(options.stack, name=f"e2e-soak-{name}"))
        return run_soak(options, out, aws_endpoint=moto_server.endpoint_url), out.getvalue()

    run.__doc__ = f"The short {name} soak: {what}."
    return pytest.fixture(scope="module", name=name)(run)


standard = _short_soak("standard", "100 requests, 4 pollers, every fault")
backstop = _short_soak("backstop", "the worker's DLQ sends refused until SQS's redrive policy moves the messages")
fifo = _short_soak("fifo", "FIFO queues, six interleaved message groups, faults at every boundary")
fair = _short_soak("fair", "standard queues, four tenants' MessageGroupIds, one noisy, every fault")


# -- the standard scenario --------------------------------------------------------------------------------


def test_the_short_soak_accounts_for_every_request_and_drains_the_queue(standard):
    # Given the short soak has run under faults at every boundary
    report, output = standard

    # Then every request ended created, failed or dead-lettered, once, and nothing is left in the queue or in flight
    assert report.lost == [], output
    assert sum(report.outcomes.values()) == report.requests == SHORT_REQUESTS
    assert report.accounting.ended_twice == 0
    assert not any(report.queue_left.values())
    assert report.ok, report.failures


def test_the_short_soak_ends_each_request_as_its_fate_says(standard):
    # Given the requests' fates are drawn from the seed alone
    report, _ = standard
    final, poison = report.fates[Fate.FINAL], report.fates[Fate.POISON]

    # Then final API errors fail, poison is dead-lettered, and every other request, redriven if need be, is created
    assert report.outcomes["failed"] == final
    assert report.outcomes["dead-lettered"] == poison
    assert report.outcomes["created"] == report.requests - final - poison


def test_the_short_soak_creates_no_double_session_and_lets_no_poison_reach_the_api(standard):
    report, _ = standard

    assert report.accounting.double_sessions == 0
    assert report.accounting.poison_at_api == 0
    assert report.sessions == report.outcomes["created"]


def test_every_session_created_in_the_short_soak_is_announced_and_none_as_failed(standard):
    report, _ = standard

    assert report.accounting.unannounced == 0
    assert report.accounting.announced_as_failed == 0
    assert report.events >= report.outcomes["created"] + report.outcomes["failed"]


def test_the_short_soak_went_through_retries_duplicates_and_a_redrive_by_the_command(standard):
    # Given exhausted requests are scripted to outlast every receive, and slow answers outlast the client timeout
    report, output = standard

    # Then records were handed back, delivered again, dead-lettered and redriven by payment-session-worker
    assert report.handed_back > 0
    assert report.deliveries > report.requests
    assert report.redriven > 0
    assert report.idempotent_replays > 0
    assert report.scripted_delays > 0
    assert "redrive 1: " in output and "moved back by the command" in output
    assert "lost (must be 0)" in report.table()


# -- the backstop scenario --------------------------------------------------------------------------------


def test_what_sqss_redrive_policy_moved_comes_back_through_the_command_with_its_first_token(backstop):
    # Given the DLQ refused the worker's letters on several receives in a row, and half of the requests
    # concerned had their session created and every event refused
    report, output = backstop
    assert report.refused_letters > 0 and report.refused_events > 0

    # Then SQS's redrive policy moved messages (no ClientToken), the command derived their tokens and brought
    # them back, and each request got one session, was announced created, and never announced as failed
    assert report.derived_tokens > 0, output
    assert report.lost == []
    assert report.accounting.double_sessions == 0
    assert report.accounting.announced_as_failed == 0
    assert report.accounting.ended_twice == 0
    assert report.accounting.unannounced == 0
    assert report.outcomes["created"] == report.requests - report.poison
    assert report.outcomes["dead-lettered"] == report.poison
    assert report.ok, report.failures


# -- the FIFO scenario ------------------------------------------------------------------------------------


def test_the_fifo_soak_keeps_each_groups_order_at_the_api_and_ends_every_request_once(fifo):
    # Given FIFO queues and six message groups interleaved in the queue, under faults at every boundary
    report, output = fifo

    # Then the API saw each group's requests in the order they were sent, and each request ended exactly once
    assert report.fifo and report.accounting.groups == 6
    assert report.accounting.order_violations == 0, output
    assert report.lost == []
    assert report.accounting.ended_twice == 0
    assert report.accounting.double_sessions == 0
    assert report.handed_back > 0
    assert report.ok, report.failures


# -- the soak's own checks, on made-up observations -------------------------------------------------------


def _request(index: int, *, poison: bool = False, token: str | None = None, group: str | None = None) -> Request:
    fate = Fate.POISON if poison else Fate.PLAIN
    request = Request(index, json.dumps({"i": index}), fate, body_token=token, user_id=f"soak-user-{index:06d}")
    request.message_id = f"message-{index}"
    request.group = group
    return request


def _session(request: Request, session_id: str, *, user_id: str | None = None, at: str = "2026-12-01T10:00:00.000Z"):
    return {
        "payment_session_id": session_id,
        "client_token": request.token,
        "request": {"userId": user_id or request.user_id},
        "created_at": at,
    }


def _created(request: Request, session_id: str, read_at: float = 0.0) -> tuple[float, dict[str, Any]]:
    detail = {"clientToken": request.token, "paymentSession": {"paymentSessionId": session_id}}
    return read_at, {"detail-type": "PaymentSessionCreated", "detail": detail}


def _failed(request: Request, code: str, *, retryable: bool, read_at: float) -> tuple[float, dict[str, Any]]:
    detail = {"clientToken": request.token, "error": {"code": code, "retryable": retryable}}
    return read_at, {"detail-type": "PaymentSessionCreationFailed", "detail": detail}


def _account(requests: list[Request], **observed: Any):
    observed.setdefault("sessions", [])
    observed.setdefault("calls_by_token", {r.token: 1 for r in requests})
    observed.setdefault("events", [])
    observed.setdefault("dead_letters", [])
    return account_requests(requests, **observed)


def test_the_soak_accounting_finds_a_lost_request_a_double_session_and_an_unannounced_one():
    # Given three requests: one created and announced, one with a second session under another token, one gone
    done, doubled, gone = _request(0), _request(1), _request(2)
    stray = _request(1, token="another-token-for-the-same-request-000000000")
    sessions = [_session(done, "s-0"), _session(doubled, "s-1"), _session(stray, "s-2", user_id=doubled.user_id)]

    # When the soak accounts for them
    account = _account(
        [done, doubled, gone],
        sessions=sessions,
        calls_by_token={done.token: 1, doubled.token: 1, stray.token: 1},
        events=[_created(done, "s-0"), _created(doubled, "s-1")],
    )

    # Then the lost request, the double session, the unknown token and the unannounced session are all reported
    assert account.lost == [2]
    assert account.double_sessions == 1
    assert account.poison_at_api == 1
    assert account.unannounced == 1
    assert account.outcomes["created"] == 2


def test_the_soak_accounting_reports_poison_that_reached_the_api():
    # Given a poison request whose token the API saw
    poison = _request(0, poison=True, token="poison-token-0000000000000000000000000")

    # When the soak accounts for it
    account = _account([poison], dead_letters=[{"Body": poison.body}])

    # Then it is reported
    assert account.poison_at_api == 1


def test_a_failure_announced_after_the_session_was_created_counts_when_the_worker_had_the_session():
    # Given three requests whose sessions were created at 10:00:00 UTC, each then announced as failed: one because
    # its event could not be published (the worker had the session), one because the API throttled that receive,
    # one because the call's answer was lost (a timeout: the worker could not know)
    created_at = "2026-12-01T10:00:00.000Z"
    after = 1_796_119_201.0  # 10:00:01 UTC
    unpublished, throttled, timed_out = _request(0), _request(1), _request(2)
    requests = [unpublished, throttled, timed_out]
    sessions = [_session(r, f"s-{r.index}", at=created_at) for r in requests]
    events = [
        _failed(unpublished, "EventPublishFailed", retryable=True, read_at=after),
        _failed(throttled, "ThrottlingException", retryable=True, read_at=after),
        _failed(timed_out, "Timeout", retryable=True, read_at=after),
        *(_created(r, f"s-{r.index}") for r in requests),
    ]

    # When the soak accounts for them
    account = _account(requests, sessions=sessions, events=events)

    # Then only the first is a created session announced as failed; the lost answer is counted on its own
    assert account.announced_as_failed == 1
    assert account.failed_on_lost_answer == 1


def test_a_failure_announced_before_the_session_existed_is_not_counted():
    # Given a request announced failed (retryable) at 09:59, then redriven and created at 10:00
    request = _request(0)
    events = [_failed(request, "EventPublishFailed", retryable=True, read_at=1_796_119_140.0), _created(request, "s")]

    account = _account([request], sessions=[_session(request, "s")], events=events)

    assert account.announced_as_failed == 0


def test_a_request_with_a_session_and_a_final_failure_ended_twice():
    request = _request(0)
    events = [_created(request, "s"), _failed(request, "ValidationException", retryable=False, read_at=0.0)]

    account = _account([request], sessions=[_session(request, "s")], events=events)

    assert account.ended_twice == 1


def test_a_request_the_api_saw_before_an_earlier_one_of_its_group_is_an_order_violation():
    # Given group A sent as a0, a1, a2 and group B as b3, b4; the API first saw a0, a2, b3, a1, b4
    a0, a1, a2 = (_request(i, group="A") for i in range(3))
    b3, b4 = (_request(i, group="B") for i in (3, 4))
    calls = {a0.token: 1, a2.token: 1, b3.token: 2, a1.token: 1, b4.token: 1}

    account = _account([a0, a1, a2, b3, b4], calls_by_token=calls)

    # Then a1 (seen after a2, sent after it) is the one violation, in two groups
    assert (account.groups, account.order_violations) == (2, 1)


def test_the_backstop_mix_has_every_concerned_letter_refused():
    assert BACKSTOP_MIX.refuse_dead_letters == 1.0
    assert 0 < BACKSTOP_MIX.refuse_always < 1


def test_the_command_runs_with_the_sandboxs_endpoint_not_the_functions_variables(monkeypatch):
    # Given the function's environment applied to this process, as while the event source runs
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_AGENTCORE", "http://127.0.0.1:1")
    monkeypatch.setenv("AWS_PROFILE", "someone")

    environment: Mapping[str, str] = operator_environment("http://127.0.0.1:4566")

    # Then the command sees what an operator exports for the sandbox, and nothing else of AWS
    assert {k for k in environment if k.startswith("AWS_")} == {
        "AWS_ENDPOINT_URL",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    }
    assert environment["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"


# -- the fair-queue scenario ------------------------------------------------------------------------------


def test_the_fair_soak_ends_every_tenants_request_once_and_its_letters_keep_their_tenant(fair):
    # Given a fair queue: standard queues, four tenants, the noisy one sending about half, faults at every boundary
    report, output = fair
    tenants = report.accounting.tenant_requests
    assert len(tenants) == 4
    assert tenants[NOISY] > max(count for tenant, count in tenants.items() if tenant != NOISY)

    # Then every request ended once, none twice and no session twice, every send passing SQS's own rules
    assert report.lost == [], output
    assert report.accounting.ended_twice == 0
    assert report.accounting.double_sessions == 0
    assert report.outcomes["dead-lettered"] == report.poison
    # And every dead letter kept its tenant's MessageGroupId without a deduplication ID
    assert report.poison > 0 and report.accounting.letters_off_group == 0
    assert report.ok, report.failures
    assert "fair queue tenants" in report.table() and "time to drain the requests" in report.table()
