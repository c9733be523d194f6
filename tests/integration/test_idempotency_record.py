"""The worker's own idempotency record (issue 25), acceptance by acceptance.

The batch service over moto's DynamoDB (in process), the payments port's fake, and clocks the test moves:
the token's item, not the payments API's memory, decides whether a token is sent again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from moto import mock_aws

from adapters.clients import ClientSettings
from adapters.idempotency_table import DynamoDbTokenTable
from domain.errors import ApiError, Reach, WorkerErrorCode
from domain.events import DetailType
from domain.outcomes import Outcome
from domain.parsing import parse_request
from domain.record_state import AdmissionRules
from domain.records import InboundRecord
from domain.report import BatchReport
from domain.time_policy import AgeLimit, RecordPolicy
from domain.token_record import ItemState, TokenItem, request_hash
from service.batch import BatchService, WorkerConfig
from service.idempotency import TokenRecords
from tests.fakes.harness import BUDGET, MANAGERS, MAX_AGE_MINUTES, MAX_RECEIVE, NOW_MS, attribute, record, token_of
from tests.fakes.ports import FakeClock, FakeDeadLetterSender, FakeEventPublisher, FakePaymentsApi, session_for
from tests.support import EVENT_SOURCE, valid_request
from tests.token_tables import create_token_table

TABLE = "tokens-under-test"
INVOCATION_SECONDS = 30.0


@dataclass
class WallClock:
    """An injectable ``time.time``: stands still unless a test moves it."""

    now: float = NOW_MS / 1000

    def __call__(self) -> float:
        return self.now


@dataclass
class Worker:
    """A ``BatchService`` with the record on, over moto's table and the fakes; every run is one invocation."""

    executor: ThreadPoolExecutor
    dynamodb: Any
    window_minutes: float = 60.0
    api: FakePaymentsApi = field(default_factory=FakePaymentsApi)
    publisher: FakeEventPublisher = field(default_factory=FakeEventPublisher)
    dead_letters: FakeDeadLetterSender = field(default_factory=FakeDeadLetterSender)
    clock: FakeClock = field(default_factory=FakeClock)
    wall: WallClock = field(default_factory=WallClock)
    table_name: str = TABLE

    def run(self, *records: InboundRecord) -> BatchReport:
        rules = AdmissionRules(EVENT_SOURCE, MANAGERS, MAX_RECEIVE, AgeLimit(MAX_AGE_MINUTES))
        table = DynamoDbTokenTable.create(ClientSettings(), self.table_name)
        policy = RecordPolicy(self.window_minutes, AgeLimit(MAX_AGE_MINUTES))
        service = BatchService(
            WorkerConfig(rules, BUDGET),
            api=self.api,
            publisher=self.publisher,
            dead_letters=self.dead_letters,
            executor=self.executor,
            clock=self.clock,
            wall_clock=self.wall,
            records=TokenRecords(table, policy, clock=self.clock, wall_clock=self.wall),
        )
        return service.process(list(records), self.clock.now + INVOCATION_SECONDS)

    def later(self, seconds: float) -> None:
        """Time passes between two invocations (both clocks)."""
        self.clock.now += seconds
        self.wall.now += seconds

    def events(self, detail_type: DetailType) -> list[Any]:
        return [e for e in self.publisher.received if e.detail_type is detail_type]

    def item(self, token: str) -> dict[str, Any] | None:
        answer = self.dynamodb.get_item(TableName=self.table_name, Key={"clientToken": {"S": token}})
        item: dict[str, Any] | None = answer.get("Item")
        return item


@pytest.fixture
def worker(executor: ThreadPoolExecutor) -> Iterator[Worker]:
    with mock_aws():
        yield Worker(executor, create_token_table(TABLE))


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=10) as pool:
        yield pool


def only_result(report: BatchReport) -> Any:
    (result,) = report.results
    return result


def outcomes(report: BatchReport) -> list[Outcome]:
    return [result.outcome for result in report.results]


def test_a_created_token_sent_again_a_second_later_makes_no_call_and_announces_the_same_session(worker) -> None:
    # Given a token whose session was created, with a token window of 0.3 s
    worker.window_minutes = 0.005
    assert outcomes(worker.run(record("a"))) == [Outcome.CREATED]
    first = worker.events(DetailType.CREATED)[0].detail["paymentSession"]

    # When the same request is delivered again a second later, past the window
    worker.later(1.0)
    report = worker.run(record("a", receive_count=2))

    # Then no API call is made and PaymentSessionCreated carries the same session again
    assert outcomes(report) == [Outcome.CREATED]
    assert len(worker.api.calls) == 1
    second = worker.events(DetailType.CREATED)[1].detail["paymentSession"]
    assert second == first
    assert only_result(report).payment_session_id == first["paymentSessionId"]
    assert not only_result(report).api_called


def test_a_created_token_is_announced_again_whatever_the_request_s_age(worker) -> None:
    # Given a created token, When its request comes back older than MAX_REQUEST_AGE_MINUTES
    worker.run(record("old"))
    worker.later(MAX_AGE_MINUTES * 60 + 60)
    report = worker.run(record("old", receive_count=2, sent_timestamp=NOW_MS))

    # Then it is announced as created with the recorded session, never failed as expired, never sent again
    assert outcomes(report) == [Outcome.CREATED]
    assert len(worker.api.calls) == 1
    assert worker.events(DetailType.FAILED) == []


def commits_then_times_out(api: FakePaymentsApi, token: str) -> None:
    """The call outlives its invocation: the service commits the session, the worker sees a timeout."""

    def late(params: Any) -> Any:
        api.sessions[session_for(params)["paymentSessionId"]] = session_for(params)
        raise ApiError(WorkerErrorCode.TIMEOUT, "ReadTimeoutError", reach=Reach.UNANSWERED)

    api.answer(token, late)


def test_an_unknown_outcome_delivered_again_after_both_windows_is_dead_lettered_not_sent(worker) -> None:
    # Given a call that outlived its invocation (the session was committed after the worker gave up)
    worker.window_minutes = 0.005
    commits_then_times_out(worker.api, token_of("lost"))
    assert outcomes(worker.run(record("lost"))) == [Outcome.RETRIED]
    assert len(worker.api.calls) == 1

    # When it is delivered again after the invocation and the token window are over
    worker.later(INVOCATION_SECONDS + 1)
    report = worker.run(record("lost", receive_count=2))

    # Then no second call; dead-lettered OutcomeUnknown with its token and first attempt; no failure event
    assert len(worker.api.calls) == 1
    assert outcomes(report) == [Outcome.DEAD_LETTERED]
    assert only_result(report).error_code == WorkerErrorCode.OUTCOME_UNKNOWN
    (letter,) = worker.dead_letters.received
    assert attribute(letter, "ErrorCode") == "OutcomeUnknown"
    assert attribute(letter, "ClientToken") == token_of("lost")
    assert attribute(letter, "FirstAttemptAt") == str(NOW_MS)
    assert worker.publisher.received == []


def test_an_unknown_outcome_delivered_again_within_the_window_is_sent_again_with_its_token(worker) -> None:
    # Given a call that outlived its invocation, with the default 60-minute window
    commits_then_times_out(worker.api, token_of("again"))
    worker.run(record("again"))
    worker.api.answers.clear()  # the service answers the replay with the session it committed

    # When it is delivered again after its invocation is over, within the window
    worker.later(INVOCATION_SECONDS + 1)
    report = worker.run(record("again", receive_count=2))

    # Then it is sent again with the same token and announced: one session
    assert outcomes(report) == [Outcome.CREATED]
    assert worker.api.called_tokens == [token_of("again")] * 2
    assert len(worker.api.sessions) == 1
    item = worker.item(token_of("again"))
    assert item is not None and item["state"]["S"] == ItemState.CREATED
    assert item["firstAttemptAt"]["N"] == str(NOW_MS)  # the window still counts from the first attempt


def test_a_delivery_while_another_invocation_holds_its_token_is_retried_not_sent(worker) -> None:
    # Given another invocation (another Lambda instance) holding the token's attempted item, its call in flight
    first = record("busy")
    request = parse_request(first.body, own_event_source=EVENT_SOURCE, managers=MANAGERS)
    holder = TokenItem(
        token_of("busy"), ItemState.ATTEMPTED, request_hash(request), NOW_MS, NOW_MS + 29_000, NOW_MS // 1000 + 86_400
    )
    assert DynamoDbTokenTable.create(ClientSettings(), worker.table_name).attempt(holder) is None

    # When SQS delivers the same request again a second later, while that invocation still runs
    worker.later(1.0)
    report = worker.run(record("busy", receive_count=2))

    # Then it is handed back, not sent
    assert outcomes(report) == [Outcome.RETRIED]
    assert only_result(report).error_code == WorkerErrorCode.TOKEN_IN_PROGRESS
    assert worker.api.calls == []


def test_two_deliveries_of_one_token_in_one_batch_make_one_call_and_neither_is_dead_lettered(worker) -> None:
    # Given the same request delivered twice in one batch (two SQS messages)
    twin = record("twin")
    other = replace(twin, message_id="msg-twin-copy")

    # When the batch is processed
    report = worker.run(twin, other)

    # Then one API call; one created, the other handed back; nothing dead-lettered
    assert len(worker.api.calls) == 1
    assert sorted(outcomes(report)) == sorted([Outcome.CREATED, Outcome.RETRIED])
    assert worker.dead_letters.received == []

    # And its redelivery announces the recorded session without a call
    worker.later(INVOCATION_SECONDS + 1)
    assert outcomes(worker.run(other)) == [Outcome.CREATED]
    assert len(worker.api.calls) == 1


def test_a_token_reused_with_another_expiry_fails_client_token_reused_with_one_call_in_all(worker) -> None:
    # Given a created token
    worker.run(record("reused", expiryTimeInMinutes=60))

    # When a producer reuses the token for a request with another expiryTimeInMinutes
    worker.later(5.0)
    body = json.dumps(valid_request(clientToken=token_of("reused"), expiryTimeInMinutes=30))
    report = worker.run(record("reused2", body=body))

    # Then it fails ClientTokenReused (not retryable), and the API was called once in all
    assert outcomes(report) == [Outcome.FAILED]
    assert only_result(report).error_code == WorkerErrorCode.CLIENT_TOKEN_REUSED
    (failed,) = worker.events(DetailType.FAILED)
    assert failed.detail["error"]["code"] == "ClientTokenReused"
    assert failed.detail["error"]["retryable"] is False
    assert len(worker.api.calls) == 1


def test_a_missing_table_retries_the_record_without_calling_the_api(worker) -> None:
    worker.table_name = "no-such-table"
    report = worker.run(record("nowhere"))
    result = only_result(report)
    assert result.outcome is Outcome.RETRIED
    assert result.error_code == WorkerErrorCode.IDEMPOTENCY_RECORD_FAILED
    assert "ResourceNotFoundException" in (result.error_message or "")
    assert result.record_failure is not None
    assert worker.api.calls == []


@pytest.mark.parametrize(
    ("answer", "kept"),
    [
        (ApiError("ValidationException", "bad", 400), False),
        (ApiError("ThrottlingException", "slow down", 429), False),
        (ApiError("InternalServerException", "oops", 500), True),
        (ApiError(WorkerErrorCode.NETWORK_ERROR, "ConnectionClosedError", reach=Reach.UNANSWERED), True),
    ],
)
def test_an_answer_proving_nothing_was_created_removes_the_item_an_unknown_one_keeps_it(worker, answer, kept) -> None:
    # Given an API answer, When the record is processed
    worker.api.answer(token_of("settle"), answer)
    worker.run(record("settle"))
    # Then the token's item is removed (a later delivery calls again as today) or stays attempted
    item = worker.item(token_of("settle"))
    assert (item is not None) is kept
    if item is not None:
        assert item["state"]["S"] == ItemState.ATTEMPTED


def test_the_created_item_holds_the_session_as_the_event_carries_it(worker) -> None:
    worker.run(record("kept"))
    item = worker.item(token_of("kept"))
    assert item is not None
    (event,) = worker.events(DetailType.CREATED)
    assert json.loads(item["session"]["S"]) == event.detail["paymentSession"]


def test_a_5xx_releases_its_token_so_a_redelivery_within_the_window_is_sent_again_at_once(worker) -> None:
    # Given a first call answered with a 5xx (the outcome unknown, the call over)
    worker.api.answer(token_of("5xx"), ApiError("InternalServerException", "oops", 500))
    assert outcomes(worker.run(record("5xx"))) == [Outcome.RETRIED]
    # When SQS redelivers it a second later, long before the first invocation's deadline, the API recovered
    del worker.api.answers[token_of("5xx")]
    worker.later(1.0)
    report = worker.run(record("5xx", receive_count=2))
    # Then it is sent again with the same token (the window lets the service deduplicate) and created
    assert outcomes(report) == [Outcome.CREATED]
    assert worker.api.called_tokens == [token_of("5xx")] * 2
