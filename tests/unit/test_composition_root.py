"""The composition root: the worker runs on the ports it is given; Lambda's are the AWS ones its settings name."""

from __future__ import annotations

import time

import pytest

from adapters.idempotency_table import DynamoDbTokenTable
from domain.events import DetailType
from handlers.dependencies import Ports, aws_ports, build
from handlers.settings import Settings
from tests.fakes.harness import record, token_of
from tests.fakes.ports import FakeDeadLetterSender, FakeEventPublisher, FakePaymentsApi, FakeVisibilitySetter
from tests.support import EVENT_SOURCE, MANAGER_ARN

DLQ_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/requests-dlq"


def _settings(**changes: object) -> Settings:
    values: dict[str, object] = {
        "payment_manager_arn": MANAGER_ARN,
        "dead_letter_queue_url": DLQ_URL,
        "event_bus_name": "payments",
        "event_source": EVENT_SOURCE,
        "max_concurrency": 2,
    }
    return Settings.model_validate(values | changes)


def test_the_worker_calls_the_ports_it_is_given():
    # Given the worker built on fake ports
    api, publisher, dead_letters = FakePaymentsApi(), FakeEventPublisher(), FakeDeadLetterSender()
    wired = build(_settings(), Ports(api, publisher, dead_letters, FakeVisibilitySetter()))
    now_ms = int(time.time() * 1000)

    # When it processes a valid request and a body that is not JSON
    try:
        wired.worker.process(
            [record("valid", sent_timestamp=now_ms), record("poison", body="{", sent_timestamp=now_ms)],
            time.monotonic() + 30,
        )
    finally:
        wired.executor.shutdown(wait=True)

    # Then the fake API created the valid one's session, the fake publisher announced it, the fake DLQ got the poison
    assert api.called_tokens == [token_of("valid")]
    assert [entry.detail_type for entry in publisher.succeeded()] == [DetailType.CREATED]
    assert [letter.message_id for letter in dead_letters.succeeded()] == ["msg-poison"]


@pytest.fixture
def aws_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.mark.usefixtures("aws_region")
@pytest.mark.parametrize(("table", "expected"), [(None, type(None)), ("tokens", DynamoDbTokenTable)])
def test_the_aws_ports_hold_an_idempotency_table_only_when_the_settings_name_one(table, expected):
    # Given settings with or without IDEMPOTENCY_TABLE_NAME; When Lambda's ports are built from them
    ports = aws_ports(_settings(idempotency_table_name=table))

    # Then the record's table is there exactly when a table is named
    assert isinstance(ports.records, expected)
