"""Hypothesis profiles of the fuzz tests, and one moto + payments-fake environment per module.

``bounded`` (default) keeps ``make test`` fast; ``fuzz`` (``make fuzz``: ``HYPOTHESIS_PROFILE=fuzz``) runs
many more examples. The profiles are applied per test (``FUZZ_SETTINGS``) rather than loaded globally, so
the other hypothesis tests of the suite keep their own settings.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import pytest
from hypothesis import HealthCheck, settings
from moto import mock_aws

from adapters.clients import ClientSettings
from handlers import dependencies
from handlers.settings import Settings
from sandbox.agentcore import PaymentsApiServer
from sandbox.aws.sqs import drain
from sandbox.soak import NO_FAULTS, FaultyPorts
from tests.support import AWS_ENDPOINT_VARIABLES, EVENT_SOURCE, MANAGER_ARN, OTHER_MANAGER_ARN, worker_resources

MAX_RECEIVE_COUNT: Final = 5

_COMMON: Final[dict[str, Any]] = {
    "deadline": None,  # every example does real I/O (HTTP to the fake, moto)
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    "print_blob": True,
}
settings.register_profile("bounded", max_examples=60, **_COMMON)
settings.register_profile("fuzz", max_examples=2_000, **_COMMON)

PROFILE: Final = os.environ.get("HYPOTHESIS_PROFILE", "bounded")
FUZZ_SETTINGS: Final = settings.get_profile(PROFILE if PROFILE in ("bounded", "fuzz") else "bounded")
# The parser alone is cheap: many more examples in the same time.
PARSER_SETTINGS: Final = settings(FUZZ_SETTINGS, max_examples=FUZZ_SETTINGS.max_examples * 5)

# No retries inside the SDK: each example is one receive, and SQS redelivery is what is under test.
FUZZ_PAYMENTS_CLIENT: Final = ClientSettings(connect_timeout=1.0, read_timeout=5.0, total_max_attempts=1)


@dataclass
class FuzzEnvironment:
    """moto's SQS and EventBridge (a DLQ, a bus, a subscriber's capture queue), the fake API, the wiring."""

    sqs: Any
    dead_letter_queue_url: str
    capture_queue_url: str
    api: PaymentsApiServer
    wiring: FaultyPorts

    def _drain(self, queue_url: str) -> list[dict[str, Any]]:
        return drain(self.sqs, queue_url)

    def dead_letters(self) -> list[dict[str, Any]]:
        """Everything in the DLQ, removed from it."""
        return self._drain(self.dead_letter_queue_url)

    def published(self) -> list[dict[str, Any]]:
        """Every event subscribers received since the last call (moto delivers them synchronously)."""
        return [json.loads(message["Body"]) for message in self._drain(self.capture_queue_url)]

    def fresh(self) -> None:
        """Before an example: no sessions, no faults, empty queues."""
        self.api.reset()
        self.wiring.publisher_injector.faults = NO_FAULTS
        self.wiring.dead_letter_injector.faults = NO_FAULTS
        self.dead_letters()
        self.published()


@pytest.fixture(scope="module")
def fuzz_environment(payments_server: PaymentsApiServer) -> Iterator[FuzzEnvironment]:
    """Module-scoped, so that hypothesis runs every example against one environment."""
    with pytest.MonkeyPatch.context() as patch, mock_aws():
        for name in AWS_ENDPOINT_VARIABLES:
            patch.delenv(name, raising=False)
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE": payments_server.endpoint_url,
            "OTEL_TRACES_EXPORTER": "none",
        }.items():
            patch.setenv(name, value)
        made = worker_resources("fuzz-requests")
        sqs, dlq_url, capture_url, bus = made.sqs, made.dead_letter_queue_url, made.capture_queue_url, made.bus_name
        worker_settings = Settings(
            payment_manager_arn=MANAGER_ARN,
            allowed_payment_manager_arns=frozenset({OTHER_MANAGER_ARN}),
            dead_letter_queue_url=dlq_url,
            event_bus_name=bus,
            event_source=EVENT_SOURCE,
            max_receive_count=MAX_RECEIVE_COUNT,
            max_concurrency=10,
        )
        wiring = FaultyPorts(payments_client=FUZZ_PAYMENTS_CLIENT, seed=0)
        dependencies.override(dependencies.build(worker_settings, wiring(worker_settings)))
        try:
            yield FuzzEnvironment(sqs, dlq_url, capture_url, payments_server, wiring)
        finally:
            dependencies.reset()
