"""Fixtures: the worker's environment, moto's SQS and EventBridge, and the payments API fake over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from moto import mock_aws

from sandbox.agentcore import PaymentsApiServer
from sandbox.aws import strict_sqs
from sandbox.aws.sqs import drain
from sandbox.lambda_.context import LambdaContext
from tests.support import (
    AWS_ENDPOINT_VARIABLES,
    EVENT_SOURCE,
    MANAGER_ARN,
    OTHER_MANAGER_ARN,
    RECORD_TABLE,
    WorkerResources,
    poll,
    worker_resources,
)

# Every SQS send of every test is held against SQS's own rules (importing the sandbox installs them; again
# here so that no test can run without them).
strict_sqs.install()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """How many SQS sends the run held against the strict layer, and what it refused (by SQS's error code)."""
    checked = strict_sqs.CHECKED
    refused = ", ".join(
        f"{name.removeprefix('refused ')} {count}"
        for name, count in sorted(checked.items())
        if name.startswith("refused")
    )
    terminalreporter.write_line(
        f"strict SQS layer: {checked['calls']} sends ({checked['messages']} messages) held against SQS's rules"
        f" in this process; refused: {refused or 'none'}"
    )


@pytest.fixture(autouse=True)
def _aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test ever reaches AWS: dummy credentials, one region, Powertools quiet and tracing off."""
    for name in AWS_ENDPOINT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "payment-session-worker")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "PaymentSessionWorker")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--idempotency-record",
        action="store_true",
        help="run with the worker's idempotency record on (IDEMPOTENCY_TABLE_NAME naming a table in moto)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "without_record(why): the test proves what the payments API itself does with a repeated token, which the "
        "idempotency record replaces; skipped with --idempotency-record (why names the record's own test)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("--idempotency-record"):
        return
    for item in items:
        marker = item.get_closest_marker("without_record")
        if marker is not None:
            item.add_marker(pytest.mark.skip(reason=f"with the idempotency record: {marker.args[0]}"))


@pytest.fixture(autouse=True)
def _idempotency_record(
    request: pytest.FixtureRequest, _aws_environment: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """With ``--idempotency-record``, every test runs with the record on: a table in moto for the whole test
    (moto's later ``mock_aws`` contexts nest inside this one and keep it), named by IDEMPOTENCY_TABLE_NAME."""
    if not request.config.getoption("--idempotency-record"):
        yield
        return
    from tests.token_tables import create_token_table

    with mock_aws():
        create_token_table(RECORD_TABLE)
        monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", RECORD_TABLE)
        yield


@pytest.fixture(scope="session")
def payments_server() -> Iterator[PaymentsApiServer]:
    with PaymentsApiServer() as server:
        yield server


@pytest.fixture
def payments_api(payments_server: PaymentsApiServer, monkeypatch: pytest.MonkeyPatch) -> PaymentsApiServer:
    """The fake payments API, reset, and the worker's client pointed at it."""
    payments_server.reset()
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_AGENTCORE", payments_server.endpoint_url)
    return payments_server


@dataclass(frozen=True)
class Aws(WorkerResources):
    """moto's SQS and EventBridge as the worker's stack has them, plus a subscriber's capture queue."""

    def _drain(self, queue_url: str, expected: int, timeout: float) -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []

        def receive() -> list[dict[str, Any]]:
            seen.extend(drain(self.sqs, queue_url))
            return seen

        return poll(receive, lambda got: len(got) >= expected, timeout=timeout)

    def published(self, expected: int = 0, timeout: float = 2.0) -> list[dict[str, Any]]:
        """The events subscribers received, as EventBridge delivers them (whole events)."""
        return [json.loads(m["Body"]) for m in self._drain(self.capture_queue_url, expected, timeout)]

    def dead_letters(self, expected: int = 0, timeout: float = 2.0) -> list[dict[str, Any]]:
        """Messages in the DLQ, with their attributes."""
        return self._drain(self.dead_letter_queue_url, expected, timeout)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    with mock_aws():
        made = worker_resources("payment-session-requests")
        monkeypatch.setenv("PAYMENT_MANAGER_ARN", MANAGER_ARN)
        monkeypatch.setenv("ALLOWED_PAYMENT_MANAGER_ARNS", OTHER_MANAGER_ARN)
        monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", made.dead_letter_queue_url)
        monkeypatch.setenv("EVENT_BUS_NAME", made.bus_name)
        monkeypatch.setenv("EVENT_SOURCE", EVENT_SOURCE)
        monkeypatch.setenv("MAX_RECEIVE_COUNT", "5")
        monkeypatch.setenv("MAX_CONCURRENCY", "10")
        yield Aws(made.sqs, made.dead_letter_queue_url, made.capture_queue_url, made.bus_name)


@pytest.fixture
def handler(aws: Aws, payments_api: PaymentsApiServer) -> Iterator[Any]:
    """Invoke the real Lambda handler as a cold start against moto and the payments fake."""
    from handlers import dependencies
    from handlers.create_payment_session import lambda_handler

    dependencies.reset()

    def invoke(event: dict[str, Any], *, remaining_ms: float = 30_000) -> dict[str, Any]:
        result: dict[str, Any] = lambda_handler(event, LambdaContext(timeout_seconds=remaining_ms / 1000))
        return result

    yield invoke
    dependencies.reset()


@pytest.fixture
def log_lines(capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    """Read what the worker wrote: the Logger's JSON lines and the EMF metric lines, parsed."""
    import io

    from handlers.observability import logger

    stream = io.StringIO()
    previous = logger.registered_handler.setStream(stream)  # type: ignore[attr-defined]

    def read() -> list[dict[str, Any]]:
        text = stream.getvalue() + capsys.readouterr().out
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

    yield read
    logger.registered_handler.setStream(previous)  # type: ignore[attr-defined]
