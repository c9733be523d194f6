"""Fixtures of the end-to-end tests: one moto server (a child process) shared by the whole session.

Each test deploys its own stack into it under its own name, so tests do not see each other's queues.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.aws.server import MotoServer


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """moto in server mode on a free port of 127.0.0.1."""
    with MotoServer(mode="process") as server:
        yield server
