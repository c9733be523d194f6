"""Fixtures of the fake AgentCore API's tests: one server per module, reset before each test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.agentcore import PaymentsApiServer
from tests.sandbox.agentcore_support import make_client


@pytest.fixture(scope="module")
def api() -> Iterator[PaymentsApiServer]:
    with PaymentsApiServer() as server:
        yield server


@pytest.fixture(scope="module")
def client(api: PaymentsApiServer) -> Any:
    return make_client(api.endpoint_url)


@pytest.fixture(autouse=True)
def _fresh_sandbox(api: PaymentsApiServer) -> None:
    api.reset()
