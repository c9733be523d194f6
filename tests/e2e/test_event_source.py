"""The local event source behaves like Lambda's SQS event source mapping, over moto's real SQS.

The handler here is a stand-in that records what it was given, so each test isolates one behaviour of the
mapping; the real handler runs in test_demo.py.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from handlers.tracing import EXPORTER_VARIABLE, OFF
from sandbox.aws.server import MotoServer, client
from sandbox.aws.sqs import OutgoingMessage, QueueReader, send_messages
from sandbox.aws.stack import DeployedStack, StackError, StackSpec, Tuning, deploy_stack
from sandbox.lambda_.event_source import Invocation, SqsEventSource
from sandbox.lambda_.sqs_event import settle_response
from tests.support import poll

pytestmark = pytest.mark.e2e

PAYMENTS = "http://127.0.0.1:9"  # never called by the stand-in handlers


@dataclass
class Recorder:
    """A handler that fails the records whose body says so, and remembers every call."""

    fail: Callable[[dict[str, Any]], bool] = lambda record: "fail" in record["body"]
    calls: list[tuple[dict[str, Any], Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        with self.lock:
            self.calls.append((event, context))
        failed = [r["messageId"] for r in event["Records"] if self.fail(r)]
        return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}


_stacks = itertools.count(1)


@pytest.fixture
def deploy(moto_server: MotoServer) -> Callable[..., DeployedStack]:
    """Deploy template.yaml afresh under a new stack name (tests never share queues)."""

    def deploy_one(parameters: dict[str, str], tuning: Tuning) -> DeployedStack:
        name = f"e2e-event-source-{next(_stacks)}"
        return deploy_stack(moto_server.endpoint_url, StackSpec(name=name, parameters=parameters, tuning=tuning))

    return deploy_one


@pytest.fixture
def stack(deploy: Callable[..., DeployedStack]) -> DeployedStack:
    """template.yaml with a 1 s visibility timeout and two receives before the redrive policy applies.

    The template's redrive count is MaxReceiveCount + 3 (its backstop), so two is set in the sandbox's copy.
    """
    return deploy({}, Tuning(function_timeout=6, visibility_timeout=1, max_receive_count=2))


def send(stack: DeployedStack, *bodies: str) -> list[str]:
    sqs = client("sqs", stack.endpoint_url, stack.region)
    return send_messages(sqs, stack.request_queue.url, [OutgoingMessage(body) for body in bodies])


def invocations_until(source: SqsEventSource, done: Callable[[list[Invocation]], bool]) -> list[Invocation]:
    """The invocations so far, once ``done`` holds of them (polled, at most 20 s)."""
    invocations = poll(lambda: source.invocations, done, timeout=20.0)
    assert done(invocations), f"not reached in 20 s: {invocations}"
    return invocations


def test_records_in_batch_item_failures_come_back_after_the_visibility_timeout_and_the_others_are_deleted(stack):
    # Given a handler that reports one of two records as failed on its first receive only
    handler = Recorder(fail=lambda r: "fail" in r["body"] and r["attributes"]["ApproximateReceiveCount"] == "1")
    ok_id, failing_id = send(stack, '{"n": "ok"}', '{"n": "fail once"}')

    # When the event source runs until the failed record has been received again
    with SqsEventSource(stack, payments_endpoint=PAYMENTS, handler=handler, pollers=1) as source:
        seen = invocations_until(source, lambda calls: sum(failing_id in i.message_ids for i in calls) >= 2)
        assert source.wait_until_drained(timeout=10.0)

    # Then the succeeded record was deleted at once and the failed one redelivered with a higher receive count
    receives = [
        (count, message_id in i.deleted)
        for i in seen
        for message_id, count in zip(i.message_ids, i.receive_counts, strict=True)
        if message_id == failing_id
    ]
    assert receives == [(1, False), (2, True)]
    assert sum(ok_id in i.deleted for i in seen) == 1


def test_a_record_handed_back_max_receive_count_times_is_moved_to_the_dlq_by_the_redrive_policy(stack):
    # Given a handler that always fails the record, and the queue's redrive policy of two receives
    (message_id,) = send(stack, '{"n": "fail always"}')
    dead_letters = QueueReader(stack.endpoint_url, stack.dead_letter_queue.url, stack.region)

    # When the event source runs until the record leaves the request queue
    with SqsEventSource(stack, payments_endpoint=PAYMENTS, handler=Recorder(), pollers=1) as source:
        moved = dead_letters.wait_for(1, timeout=20.0)
        receive_counts = [c for i in source.invocations for c in i.receive_counts]

    # Then SQS moved it to the DLQ after its second receive, unchanged (no worker attribute on it)
    assert receive_counts == [1, 2]
    assert [m.message_id for m in moved] == [message_id]
    assert moved[0].error_code is None


def test_a_handler_that_raises_or_answers_an_unknown_item_hands_the_whole_batch_back(stack):
    # Given a handler that raises on the first batch and names an unknown record on the second
    answers: list[Any] = [RuntimeError("broken deployment"), {"batchItemFailures": [{"itemIdentifier": "nope"}]}]

    def handler(event: dict[str, Any], context: Any) -> Any:
        answer = answers.pop(0) if answers else None
        if isinstance(answer, Exception):
            raise answer
        return answer

    ids = send(stack, '{"n": 1}', '{"n": 2}')
    dead_letters = QueueReader(stack.endpoint_url, stack.dead_letter_queue.url, stack.region)

    # When the event source runs until both records have left the request queue
    with SqsEventSource(stack, payments_endpoint=PAYMENTS, handler=handler, pollers=1) as source:
        moved = dead_letters.wait_for(2, timeout=20.0)
        seen = source.invocations

    # Then no invocation deleted anything, each said why, and the redrive policy took both records
    errors = [i.error for i in seen]
    assert errors[0] == "RuntimeError: broken deployment"
    assert errors[1] is not None and "itemIdentifier 'nope'" in errors[1]
    assert all(i.deleted == () for i in seen)
    assert sorted(m.message_id for m in moved) == sorted(ids)


def test_lambda_reads_a_partial_batch_response_as_documented():
    # Given the message IDs of a batch and the mapping's ReportBatchItemFailures
    ids = ["a", "b"]

    def read(response: Any, reports: bool = True) -> tuple[tuple[str, ...], str | None]:
        return settle_response(response, ids, reports_batch_item_failures=reports)

    # When responses of each kind are read / Then nothing reported means success ...
    assert read(None) == ((), None)
    assert read({}) == ((), None)
    assert read({"batchItemFailures": []}) == ((), None)
    # ... the records named fail alone ...
    assert read({"batchItemFailures": [{"itemIdentifier": "b"}]}) == (("b",), None)
    # ... anything malformed fails the whole batch ...
    for malformed in ("oops", {"batchItemFailures": [{"itemIdentifier": ""}]}, {"batchItemFailures": [{}]}):
        failed, error = read(malformed)
        assert failed == ("a", "b")
        assert error is not None
    # ... and without ReportBatchItemFailures the response is ignored
    assert read({"batchItemFailures": [{"itemIdentifier": "b"}]}, reports=False) == ((), None)


def test_the_handler_sees_the_deployed_environment_and_a_deadline_from_the_function_timeout(stack, moto_server):
    # Given a handler that notes its environment and remaining time
    seen: dict[str, Any] = {}

    def handler(event: dict[str, Any], context: Any) -> None:
        seen["remaining_ms"] = context.get_remaining_time_in_millis()
        seen["environment"] = dict(os.environ)
        seen["record"] = event["Records"][0]

    send(stack, '{"n": 1}')
    before = dict(os.environ)

    # When it is invoked once
    with SqsEventSource(stack, payments_endpoint="http://127.0.0.1:4599", handler=handler, pollers=1) as source:
        invocations_until(source, lambda calls: len(calls) >= 1)

    # Then it ran with the template's variables, the sandbox's endpoints and the function's timeout ...
    environment = seen["environment"]
    for name, value in stack.function.environment.items():
        # the endpoints are declared empty in the template and set by the sandbox, which also turns tracing off
        if not name.startswith("AWS_ENDPOINT_URL_") and name != EXPORTER_VARIABLE:
            assert environment[name] == value
    assert environment[EXPORTER_VARIABLE] == OFF
    assert environment["DEAD_LETTER_QUEUE_URL"] == stack.dead_letter_queue.url
    assert environment["AWS_ENDPOINT_URL_SQS"] == moto_server.endpoint_url
    assert environment["AWS_ENDPOINT_URL_EVENTBRIDGE"] == moto_server.endpoint_url
    assert environment["AWS_ENDPOINT_URL_BEDROCK_AGENTCORE"] == "http://127.0.0.1:4599"
    assert 5000 < seen["remaining_ms"] <= 6000
    # ... on a record shaped as Lambda shapes it
    record = seen["record"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == stack.request_queue.arn
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    # ... and the process's environment is back as it was
    assert dict(os.environ) == before


def test_pollers_invoke_concurrently_like_several_lambda_instances(deploy):
    # Given three pollers and a handler that waits until three invocations run at once
    stack = deploy({}, Tuning(function_timeout=20, visibility_timeout=30))
    barrier = threading.Barrier(3, timeout=15.0)

    def handler(event: dict[str, Any], context: Any) -> None:
        barrier.wait()

    # When three records arrive one after the other, each once the previous one is taken
    with SqsEventSource(stack, payments_endpoint=PAYMENTS, handler=handler, pollers=3) as source:
        for n in range(3):
            send(stack, f'{{"n": {n}}}')
            if n < 2:
                poll(source.queue_depth, lambda depth, n=n: depth["in_flight"] == n + 1, timeout=10.0)
        seen = invocations_until(source, lambda calls: len({m for i in calls for m in i.deleted}) >= 3)

    # Then the three met at the barrier: they ran concurrently, each on its own poller
    assert not barrier.broken
    assert len({i.poller for i in seen}) == 3


def test_a_batching_window_gathers_records_that_arrive_after_the_first_one(deploy):
    # Given a stack whose event source waits up to 5 s to fill batches of 4
    windowed = deploy(
        {"BatchSize": "4", "MaximumBatchingWindowInSeconds": "5"}, Tuning(function_timeout=6, visibility_timeout=30)
    )
    handler = Recorder()

    # When one record arrives, is received, and three more follow within the window
    with SqsEventSource(windowed, payments_endpoint=PAYMENTS, handler=handler, pollers=1) as source:
        send(windowed, '{"n": 0}')
        poll(source.queue_depth, lambda depth: depth["in_flight"] == 1, timeout=10.0)
        send(windowed, '{"n": 1}', '{"n": 2}', '{"n": 3}')
        seen = invocations_until(source, lambda calls: len(calls) >= 1)

    # Then one invocation received all four
    assert windowed.event_source.batch_size == 4
    assert len(seen[0].message_ids) == 4


# ---------------------------------------------------------------------------------------------------------
# FIFO request queues
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def fifo_stack(deploy: Callable[..., DeployedStack]) -> DeployedStack:
    """template.yaml with both queues FIFO, a 2 s visibility timeout, batches of up to 10."""
    return deploy({}, Tuning(function_timeout=2, visibility_timeout=2, max_receive_count=5, fifo_queues=True))


def send_fifo(stack: DeployedStack, *grouped: tuple[str, str]) -> list[str]:
    """Send ``(group, body)`` pairs in one batch, in this order; returns their message IDs."""
    messages = [OutgoingMessage(body, group_id=group, deduplication_id=body) for group, body in grouped]
    return send_messages(client("sqs", stack.endpoint_url, stack.region), stack.request_queue.url, messages)


def group_bodies(records: list[dict[str, Any]], group: str) -> list[str]:
    return [r["body"] for r in records if r["attributes"]["MessageGroupId"] == group]


def test_a_fifo_batch_keeps_the_queue_order_of_interleaved_groups_and_lambdas_fifo_attributes(fifo_stack):
    # Given three groups interleaved on a FIFO request queue
    grouped = [("g1", "g1-1"), ("g2", "g2-1"), ("g1", "g1-2"), ("g3", "g3-1"), ("g2", "g2-2"), ("g1", "g1-3")]
    ids = send_fifo(fifo_stack, *grouped)
    handler = Recorder()

    # When one poller receives them
    with SqsEventSource(fifo_stack, payments_endpoint=PAYMENTS, handler=handler, pollers=1) as source:
        invocations_until(source, lambda calls: len({m for i in calls for m in i.deleted}) >= len(ids))
        held = source.held

    # Then one batch held them in the order sent, each record with the FIFO attributes Lambda gives
    ((event, _context),) = handler.calls
    records = event["Records"]
    assert [r["body"] for r in records] == [body for _group, body in grouped]
    for record, (group, body) in zip(records, grouped, strict=True):
        attributes = record["attributes"]
        assert attributes["MessageGroupId"] == group
        assert attributes["MessageDeduplicationId"] == body
        assert attributes["SequenceNumber"].isdigit()
    assert record["eventSourceARN"].endswith(".fifo")
    assert held == []


def test_a_group_with_a_message_in_flight_gives_no_other_poller_its_next_message(deploy):
    # Given batches of one record, three pollers, and a handler that holds g1's first record until released
    stack = deploy({"BatchSize": "1"}, Tuning(function_timeout=20, visibility_timeout=30, fifo_queues=True))
    release = threading.Event()
    log: list[tuple[str, str]] = []

    def holding(event: dict[str, Any], context: Any) -> None:
        body = event["Records"][0]["body"]
        log.append(("start", body))
        if body == "g1-1":
            assert release.wait(timeout=20.0)
        log.append(("end", body))

    bodies = ["g1-1", "g1-2", "g2-1", "g2-2"]
    ids = dict(zip(bodies, send_fifo(stack, *[(b[:2], b) for b in bodies]), strict=True))

    with SqsEventSource(stack, payments_endpoint=PAYMENTS, handler=holding, pollers=3) as source:
        # When g1's first record is in flight and group g2 runs through meanwhile
        invocations_until(source, lambda calls: {ids["g2-1"], ids["g2-2"]} <= {m for i in calls for m in i.deleted})
        during = [m for i in source.invocations for m in i.message_ids]
        depth = source.queue_depth()
        release.set()
        invocations_until(source, lambda calls: len({m for i in calls for m in i.deleted}) == 4)
        held = source.held

    # Then no poller was given g1's next record until its first was done, and then it came
    assert ids["g1-2"] not in during
    assert depth == {"visible": 1, "in_flight": 1, "delayed": 0}
    assert [entry for entry in log if entry[1].startswith("g1")] == [
        ("start", "g1-1"),
        ("end", "g1-1"),
        ("start", "g1-2"),
        ("end", "g1-2"),
    ]
    assert held == []


def test_a_group_handed_back_in_its_middle_runs_again_from_its_oldest_record_in_order(fifo_stack):
    # Given two groups, and a handler that retries g1-2 on its first receive and hands back the rest of g1
    ids = send_fifo(
        fifo_stack, ("g1", "g1-1"), ("g2", "g2-1"), ("g1", "g1-2"), ("g1", "g1-3"), ("g2", "g2-2"), ("g1", "g1-4")
    )
    batches: list[list[dict[str, Any]]] = []

    def retrying(event: dict[str, Any], context: Any) -> dict[str, Any]:
        records = event["Records"]
        batches.append(records)
        failed: list[str] = []
        for record in records:
            group = record["attributes"]["MessageGroupId"]
            first_receive = record["attributes"]["ApproximateReceiveCount"] == "1"
            if (record["body"] == "g1-2" and first_receive) or (group == "g1" and failed):
                failed.append(record["messageId"])
        return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}

    # When the event source runs until every record is done
    with SqsEventSource(fifo_stack, payments_endpoint=PAYMENTS, handler=retrying, pollers=2) as source:
        invocations_until(source, lambda calls: len({m for i in calls for m in i.deleted}) == len(ids))
        held = source.held

    # Then g1 ran in order on each receive: its handed-back records came back oldest first, after the others
    received = [r for batch in batches for r in batch]
    assert group_bodies(received, "g1") == ["g1-1", "g1-2", "g1-3", "g1-4", "g1-2", "g1-3", "g1-4"]
    assert group_bodies(received, "g2") == ["g2-1", "g2-2"]
    assert held == []


def test_moto_gives_no_receive_a_group_with_a_message_in_flight(fifo_stack):
    # Given a FIFO queue with two groups, and g1's first message received (in flight)
    sqs = client("sqs", fifo_stack.endpoint_url, fifo_stack.region)
    url = fifo_stack.request_queue.url
    send_fifo(fifo_stack, ("g1", "g1-1"), ("g1", "g1-2"), ("g2", "g2-1"))
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]

    # When another receive asks for everything
    second = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])

    # Then moto, as SQS, answers only the other group
    assert [m["Body"] for m in first] == ["g1-1"]
    assert [m["Body"] for m in second] == ["g2-1"]


def test_moto_serves_a_group_out_of_order_when_its_messages_time_out_together(fifo_stack):
    # Given a group's three messages received together and left to time out (the event source never does)
    sqs = client("sqs", fifo_stack.endpoint_url, fifo_stack.region)
    url = fifo_stack.request_queue.url
    send_fifo(fifo_stack, ("g1", "g1-1"), ("g1", "g1-2"), ("g1", "g1-3"))
    assert len(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]) == 3

    # When they are received again once their 2 s visibility timeout is over
    again = poll(
        lambda: sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []), bool, timeout=10.0
    )

    # Then moto skips the oldest (SQS would answer g1-1, g1-2, g1-3): the gap sandbox.lambda_.fifo_groups works around
    assert [m["Body"] for m in again] == ["g1-3"]


def test_a_fifo_event_source_takes_lambdas_fifo_limits(fifo_stack):
    # Given the FIFO stack's mapping with a batch above 10, or with a batching window
    too_large = replace(fifo_stack, event_source=replace(fifo_stack.event_source, batch_size=11))
    windowed = replace(fifo_stack, event_source=replace(fifo_stack.event_source, maximum_batching_window=1))

    # When an event source is made for either / Then it is refused, naming the limit, as Lambda refuses it
    with pytest.raises(StackError, match="BatchSize of at most 10"):
        SqsEventSource(too_large, payments_endpoint=PAYMENTS)
    with pytest.raises(StackError, match="no batching window"):
        SqsEventSource(windowed, payments_endpoint=PAYMENTS)
    assert SqsEventSource(fifo_stack, payments_endpoint=PAYMENTS).fifo


@dataclass
class SlowReceives:
    """A latency fault on the pollers' ``ReceiveMessage``: once armed, the next ``count`` receives reach
    moto ``delay`` seconds late (a loaded SQS endpoint), the event source's own clients otherwise real."""

    delay: float
    count: int = 1
    armed: threading.Event = field(default_factory=threading.Event)
    slowed: int = 0

    def client(self, service: str, endpoint_url: str, region: str) -> Any:
        made = client(service, endpoint_url, region)
        made.meta.events.register("before-send.sqs.ReceiveMessage", self._late)
        return made

    def _late(self, **_: Any) -> None:
        if self.armed.is_set() and self.slowed < self.count:
            self.slowed += 1
            threading.Event().wait(self.delay)  # the request's latency, not a wait of the test


def test_a_handed_back_group_stays_in_order_when_a_slow_receive_outlasts_its_visibility_timeout(deploy, monkeypatch):
    # Given a FIFO queue with a 4 s visibility timeout, one group of three, and a handler that fails g1-1 on
    # its first receive and hands back the rest of g1 behind it (as the worker does)
    stack = deploy({}, Tuning(function_timeout=2, visibility_timeout=4, max_receive_count=5, fifo_queues=True))
    slow = SlowReceives(delay=6.0)
    monkeypatch.setattr("sandbox.lambda_.event_source.client", slow.client)
    ids = send_fifo(stack, ("g1", "g1-1"), ("g1", "g1-2"), ("g1", "g1-3"))
    batches: list[list[str]] = []

    def failing_first(event: dict[str, Any], context: Any) -> dict[str, Any]:
        records = event["Records"]
        batches.append([r["body"] for r in records])
        failed: list[str] = []
        for record in records:
            if (record["body"] == "g1-1" and record["attributes"]["ApproximateReceiveCount"] == "1") or failed:
                failed.append(record["messageId"])
        slow.armed.set()
        return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}

    # When the receive after the hand-back reaches SQS only after the records' visibility timeout ended
    with SqsEventSource(stack, payments_endpoint=PAYMENTS, handler=failing_first, pollers=1) as source:
        invocations_until(source, lambda calls: len({m for i in calls for m in i.deleted}) == len(ids))

    # Then the group came back from its oldest record, as SQS serves it: g1-3 never ran before g1-1
    assert slow.slowed == 1
    assert batches[0] == ["g1-1", "g1-2", "g1-3"]
    assert [body for batch in batches[1:] for body in batch] == ["g1-1", "g1-2", "g1-3"]
