"""A ``BatchService`` over the fakes of ``tests/fakes/ports.py``, a real thread pool and clocks that stand still."""

from __future__ import annotations

import json
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from adapters.clients import ClientSettings
from adapters.idempotency_table import DynamoDbTokenTable
from domain.events import DetailType, EventEntry
from domain.parsing import ManagerPolicy
from domain.record_state import AdmissionRules, RecordState
from domain.records import InboundRecord
from domain.report import BatchReport
from domain.time_policy import AgeLimit, Budget, RecordPolicy, RetryDelay
from service.batch import BatchService, WorkerConfig
from service.idempotency import TokenRecords
from tests.fakes.ports import (
    FakeClock,
    FakeDeadLetterSender,
    FakeEventPublisher,
    FakePaymentsApi,
    FakeVisibilitySetter,
)
from tests.support import EVENT_SOURCE, MANAGER_ARN, OTHER_MANAGER_ARN, REQUEST_QUEUE_ARN, valid_request
from tests.token_tables import create_token_table

MAX_RECEIVE = 5
MAX_AGE_MINUTES = 1440
BUDGET = Budget()
MANAGERS = ManagerPolicy(MANAGER_ARN, frozenset({OTHER_MANAGER_ARN}))
TRACE = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"
NOW_MS = 1_795_000_000_000  # the harness's wall clock, epoch milliseconds


def token_of(name: str) -> str:
    return f"token-{name}-".ljust(48, "0")


def record(
    name: str,
    *,
    receive_count: int = 1,
    body: str | None = None,
    attributes: dict[str, dict[str, Any]] | None = None,
    trace_header: str | None = None,
    sent_timestamp: int | None = NOW_MS,
    group_id: str | None = None,
    source_queue_arn: str = REQUEST_QUEUE_ARN,
    **overrides: Any,
) -> InboundRecord:
    """A record named ``name``: message ID ``msg-<name>``, body token ``token-<name>-000...``, sent just now."""
    if body is None:
        body = json.dumps(valid_request(clientToken=token_of(name), correlationId=f"corr-{name}", **overrides))
    return InboundRecord(
        message_id=f"msg-{name}",
        body=body,
        receive_count=receive_count,
        message_attributes=attributes or {},
        source_queue_arn=source_queue_arn,
        trace_header=trace_header,
        sent_timestamp=sent_timestamp,
        group_id=group_id,
    )


def attribute(letter: Any, name: str) -> Any:
    value = letter.attributes[name]
    return value.get("StringValue", value.get("BinaryValue"))


@dataclass
class Harness:
    """A ``BatchService`` over the fakes, a real thread pool and a monotonic clock that stands still."""

    executor: ThreadPoolExecutor
    api: FakePaymentsApi = field(default_factory=FakePaymentsApi)
    publisher: FakeEventPublisher = field(default_factory=FakeEventPublisher)
    dead_letters: FakeDeadLetterSender = field(default_factory=FakeDeadLetterSender)
    clock: FakeClock = field(default_factory=FakeClock)
    budget: Budget = BUDGET
    max_age_minutes: int = MAX_AGE_MINUTES
    visibility: FakeVisibilitySetter | None = None  # with retry_delay: the worker hides retried records
    retry_delay: RetryDelay = field(default_factory=RetryDelay)

    record_table: str | None = None  # the idempotency record's table in moto (pytest --idempotency-record)

    def __post_init__(self) -> None:
        if os.environ.get("IDEMPOTENCY_TABLE_NAME"):
            # A table of its own: a harness is one test (or one example of a property), its tokens its own.
            self.record_table = f"harness-{uuid.uuid4().hex}"
            create_token_table(self.record_table)

    def service(self) -> BatchService:
        rules = AdmissionRules(EVENT_SOURCE, MANAGERS, MAX_RECEIVE, AgeLimit(self.max_age_minutes))
        table_name = self.record_table
        records = (
            TokenRecords(
                DynamoDbTokenTable.create(ClientSettings(), table_name),
                RecordPolicy(age_limit=AgeLimit(self.max_age_minutes)),
                clock=self.clock,
                wall_clock=lambda: NOW_MS / 1000,
            )
            if table_name
            else None
        )
        return BatchService(
            WorkerConfig(rules, self.budget, self.retry_delay),
            api=self.api,
            publisher=self.publisher,
            dead_letters=self.dead_letters,
            executor=self.executor,
            clock=self.clock,
            wall_clock=lambda: NOW_MS / 1000,
            visibility=self.visibility,
            draw=lambda: 0.5,  # no jitter: each delay its nominal value
            records=records,
        )

    def run(self, *records: InboundRecord, seconds_left: float = 30.0) -> BatchReport:
        report = self.service().process(list(records), self.clock.now + seconds_left)
        assert [result.message_id for result in report.results] == [r.message_id for r in records]
        return report

    def events(self, detail_type: DetailType | None = None) -> list[EventEntry]:
        return [e for e in self.publisher.received if detail_type is None or e.detail_type is detail_type]


def only_result(report: BatchReport) -> RecordState:
    """The result of a batch of one record."""
    (result,) = report.results
    return result
