"""The demo path end to end: samples and a load through the real handler, on moto and the fake payments API."""

from __future__ import annotations

import dataclasses
import io
import json
import re
import shlex
from pathlib import Path

import pytest

from sandbox.agentcore import FaultSettings
from sandbox.aws.server import MotoServer, client
from sandbox.aws.sqs import QueueReader, parse_messages
from sandbox.aws.stack import StackSpec, Tuning, deploy_stack
from sandbox.cli import main
from sandbox.demo.fifo import FifoDemoResult, run_fifo_demo
from sandbox.demo.run import DEMO_SANDBOX, DEMO_SEED, DemoOptions, DemoResult, run_demo
from sandbox.local_cloud import SandboxConfig

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo(moto_server: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoResult, str]:
    """A short demo: 40 generated requests, two receives per request, 10 s timeouts, light API faults, and the
    round trip at the end.

    10 s, not less: the worker keeps 4 s of the invocation for publishing and dead-lettering, and the throttled
    sample's three attempts back off for up to 3 s in all; with less, its last receive may end as Timeout.
    """
    out = io.StringIO()
    options = DemoOptions(
        requests=40,
        timeout=50.0,
        function_log=tmp_path_factory.mktemp("demo") / "function.log",
        sandbox=SandboxConfig(
            stack=StackSpec(
                name="e2e-demo",
                parameters={"MaxReceiveCount": "2"},
                tuning=Tuning(function_timeout=10, visibility_timeout=10),
            ),
            aws_endpoint=moto_server.endpoint_url,
            api_faults=FaultSettings(latency_ms=20, throttle_rate=0.05, error_rate=0.05, seed=DEMO_SEED),
        ),
    )
    result = run_demo(options, out)
    return result, out.getvalue()


def fate_of(result: DemoResult, file: str, number: int):
    (fate,) = [fate for sample, fate in result.samples if (sample.file, sample.index + 1) == (file, number)]
    return fate


def test_the_demo_accounts_for_every_request_and_exits_zero(demo):
    # Given the demo has run
    result, output = demo

    # Then every request, sample or generated, ended created, failed or dead-lettered
    assert result.exit_code == 0
    assert result.unfinished == []
    assert {fate.outcome for fate in result.fates.values()} <= {"created", "failed", "dead-lettered"}
    assert "lost" in output


def test_the_generated_load_is_a_fair_queues_tenant_mix_whose_dead_letters_keep_their_tenant(demo):
    # Given the demo's generated load, sent with five tenants' MessageGroupIds, one noisy, on the standard queue
    result, output = demo

    # Then its table shows each tenant, and every dead letter of theirs kept its group without a deduplication ID
    assert "The fair queue's tenants" in output and "tenant-a (noisy)" in output
    assert result.letters_off_tenant == 0
    grouped = [
        letter for letter in result.dead_letters if letter.attributes.get("MessageGroupId", "").startswith("tenant-")
    ]
    assert grouped and all("MessageDeduplicationId" not in letter.attributes for letter in grouped)
    assert f"{len(grouped)} of {len(grouped)} of their dead letters kept the tenant's MessageGroupId" in output


def test_the_mixed_batch_samples_end_as_scripted(demo):
    # Given the demo scripted a ConflictException for mixed-failed-* and throttling for mixed-retried-*
    result, _ = demo

    # Then the created, failed, retried-then-dead-lettered and poison samples end each their own way
    assert fate_of(result, "sqs-mixed-batch.json", 1).outcome == "created"
    failed = fate_of(result, "sqs-mixed-batch.json", 2)
    assert (failed.outcome, failed.error_code) == ("failed", "ConflictException")
    retried = fate_of(result, "sqs-mixed-batch.json", 3)
    assert (retried.path, retried.error_code, retried.receives) == (
        "retried x1 -> dead-lettered",
        "ThrottlingException",
        2,
    )
    assert retried.retryable_failure_announced
    assert fate_of(result, "sqs-mixed-batch.json", 4).error_code == "InvalidRequest"
    assert fate_of(result, "sqs-mixed-batch.json", 5).error_code == "MalformedJson"


def test_the_report_shows_each_sample_the_events_and_the_dlq_with_its_error_codes(demo):
    # Given the demo's printed report
    result, output = demo

    # Then each sample has a row with its outcome, and the events and DLQ sections list what was seen
    for sample, fate in result.samples:
        assert any(sample.name in line and fate.path in line for line in output.splitlines()), sample.name
    assert f"Published events ({len(result.events)}" in output
    assert f"Dead-letter queue ({len(result.dead_letters)} messages)" in output
    for letter in result.dead_letters:
        assert letter.error_code is not None
        assert letter.error_code in output
    created = [e for e in result.events if e["detail-type"] == "PaymentSessionCreated"]
    assert len({e["detail"]["messageId"] for e in created}) == sum(
        1 for fate in result.fates.values() if fate.outcome == "created"
    )


def test_the_demo_prints_a_dash_for_an_absent_value_never_none(demo):
    # Given the demo's output (samples without a correlationId among them)
    _result, output = demo

    # Then no value is printed as None
    assert re.search(r"\bNone\b", output) is None, [line for line in output.splitlines() if "None" in line]


def test_the_demos_redrive_line_runs_as_printed_from_any_shell(demo):
    # Given the operator's command as the demo prints it
    _result, output = demo
    (line,) = [line.removeprefix("$ ") for line in output.splitlines() if line.startswith("$ ")]

    # Then it names the console script by its path, with the sandbox's variables in front
    words = shlex.split(line)
    assert words[0] == "env"
    script = next(word for word in words if not word.startswith("env") and "=" not in word)
    assert Path(script).is_absolute() and Path(script).name == "payment-session-worker"
    assert {"AWS_ENDPOINT_URL", "AWS_REGION", "AWS_ACCESS_KEY_ID"} <= {w.split("=")[0] for w in words if "=" in w}


def test_no_poison_sample_reaches_the_payments_api(demo):
    # Given the demo's samples and the fake API's record of the tokens it saw
    result, _ = demo
    called = set(result.api_stats["calls_by_client_token"])

    # Then no sample the worker dead-lettered as poison was ever sent to the API
    poison_codes = {"InvalidRequest", "MalformedJson", "PaymentManagerNotAllowed", "EventLoop"}
    for sample, fate in result.samples:
        if fate.error_code in poison_codes:
            assert sample.client_token is None or sample.client_token not in called, sample.name


def test_a_session_whose_event_was_refused_is_dead_lettered_with_its_id_and_never_announced_as_failed(demo):
    # Given the demo's request whose PutEvents was refused on every receive
    result, _ = demo
    fate = result.refused_event
    (letter,) = [d for d in result.dead_letters if d.source_message_id == fate.message_id]
    token = letter.message_attributes["ClientToken"]

    # Then its last receive dead-lettered it with the session the API created on its first, and announced nothing
    assert (fate.outcome, fate.error_code, fate.receives) == ("dead-lettered", "EventPublishFailed", 2)
    assert not fate.retryable_failure_announced
    sessions = [s for s in result.api_stats["sessions"] if s["client_token"] == token]
    assert [s["payment_session_id"] for s in sessions] == [letter.message_attributes["PaymentSessionId"]]
    # the idempotency record (the template's table): the later receive replayed the recorded session, no call
    assert result.api_stats["calls_by_client_token"][token] == 1


def test_the_round_trip_redrives_with_the_command_and_keeps_each_requests_token_and_session(demo):
    # Given the demo's round trip: faults lifted, the command redrove the ThrottlingException and
    # EventPublishFailed letters
    result, output = demo
    trips = {trip.error_code: trip for trip in result.round_trip}
    after = result.api_after_round_trip
    assert "payment-session-worker dlq redrive --dlq-url" in output
    assert "--error-code ThrottlingException --error-code EventPublishFailed" in output

    # Then each redriven request came back under a new message ID with its token, as one session in the API
    assert set(trips) == {"ThrottlingException", "EventPublishFailed"}
    for trip in trips.values():
        assert trip.message_id_after not in (None, trip.message_id_before)
        assert trip.token_after == trip.token_before
        assert trip.session_after is not None
        sessions = [s["payment_session_id"] for s in after["sessions"] if s["client_token"] == trip.token_before]
        assert sessions == [trip.session_after]
        assert trip.session_after in output
    # ... the throttled one created its first session now, the refused one got back the session of its first receive
    assert trips["ThrottlingException"].session_before is None
    assert trips["ThrottlingException"].token_before.startswith("mixed-retried-")
    refused = trips["EventPublishFailed"]
    assert refused.session_before == refused.session_after
    assert result.exit_code == 0


@pytest.fixture(scope="module")
def fifo_demo(moto_server: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[FifoDemoResult, str]:
    """The FIFO demo: four groups of five requests, user-002 #3 throttled on its first two receives."""
    out = io.StringIO()
    stack = dataclasses.replace(DEMO_SANDBOX.stack, name="e2e-demo-fifo")
    options = DemoOptions(
        timeout=60.0,
        function_log=tmp_path_factory.mktemp("fifo-demo") / "function.log",
        sandbox=dataclasses.replace(DEMO_SANDBOX, stack=stack, aws_endpoint=moto_server.endpoint_url),
    )
    return run_fifo_demo(options, out), out.getvalue()


def test_the_fifo_demo_deploys_fifo_queues_and_the_api_sees_each_group_in_the_order_sent(fifo_demo):
    # Given the FIFO demo has run
    result, output = fifo_demo
    sessions = result.api_stats["sessions"]

    # Then every request was created once, and the API's calls and sessions kept each group's order
    assert re.search(r"request queue +\S+\.fifo\n", output)
    assert {fate.outcome for fate in result.fates.values()} == {"created"}
    assert len(sessions) == len(result.requests) == 20
    assert result.double_sessions == 0
    for group in result.groups:
        assert group.sent == group.first_calls == group.sessions == (1, 2, 3, 4, 5), group
    # ... from the API's own record: within each user's sessions, the correlation IDs come in order
    for user in {s["request"]["userId"] for s in sessions}:
        numbers = [int(s["request"]["clientToken"].split("-")[-2]) for s in sessions if s["request"]["userId"] == user]
        assert numbers == sorted(numbers), user
    assert result.held == ()
    assert "order violations 0, lost 0, double sessions 0" in output
    assert result.exit_code == 0


def test_the_fifo_demos_later_records_of_the_throttled_group_wait_for_it(fifo_demo):
    # Given the FIFO demo's throttled record, in the middle of its group
    result, output = fifo_demo
    throttled = result.fate_of(result.throttled)
    after = [r for r in result.requests if r.group == result.throttled.group and r.number > result.throttled.number]
    calls = result.api_stats["calls_by_client_token"]

    # Then it was retried on two receives and created on the third, and the records after it were handed back
    # untouched meanwhile: one API call each, after it
    assert (throttled.receives, throttled.handed_back, throttled.outcome) == (3, 2, "created")
    for request in after:
        fate = result.fate_of(request)
        assert (fate.handed_back >= 1, fate.outcome, calls[request.client_token]) == (True, "created", 1), request
    assert result.later_waited
    assert "waited for it" in output


def test_send_enqueues_lambda_event_files_and_json_lines_verbatim(moto_server: MotoServer, tmp_path: Path):
    # Given a running stack and a file of JSON lines, one of them malformed
    stack = deploy_stack(moto_server.endpoint_url, StackSpec(name="e2e-send"))
    lines = tmp_path / "requests.jsonl"
    lines.write_text('{"expiryTimeInMinutes": 30}\nnot json\n\n', encoding="utf-8")
    event = Path(__file__).resolve().parents[2] / "events" / "sqs-mixed-batch.json"
    out = io.StringIO()

    # When both are sent with the CLI
    codes = [
        main(["send", str(path), "--endpoint-url", moto_server.endpoint_url, "--stack-name", "e2e-send"], out=out)
        for path in (lines, event)
    ]

    # Then every body is on the request queue, byte for byte
    assert codes == [0, 0]
    queue = QueueReader(moto_server.endpoint_url, stack.request_queue.url, stack.region)
    bodies = sorted(m.body for m in queue.wait_for(7, timeout=10.0))
    expected = ['{"expiryTimeInMinutes": 30}', "not json"]
    expected += [record["body"] for record in json.loads(event.read_text(encoding="utf-8"))["Records"]]
    assert bodies == sorted(expected)
    assert [m.body for m in parse_messages(lines.read_text(encoding="utf-8"))] == expected[:2]
    assert (
        client("sqs", moto_server.endpoint_url).get_queue_attributes(
            QueueUrl=stack.request_queue.url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
        == "0"
    )
