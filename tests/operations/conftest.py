"""The operator's command against moto's server over HTTP: real SQS and CloudFormation wire protocols.

One moto server for the package, emptied before each test. The command reads the standard SDK variables
(``AWS_ENDPOINT_URL``, region, credentials), pointed at that server here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from operations.cli import main
from sandbox.aws.server import MotoServer
from tests.operations.moto_queues import Queues


@pytest.fixture(scope="package")
def moto_server() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.fixture
def moto(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch, _aws_environment: None) -> MotoServer:
    """The server, empty, with the SDK variables pointing at it."""
    moto_server.reset()
    for name, value in moto_server.environment().items():
        monkeypatch.setenv(name, value)
    return moto_server


@dataclass(frozen=True)
class Ran:
    """One run of the command: its exit status and what it printed."""

    status: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Any:
    """``run("dlq", "report", ...)``: the command in process, as its console script calls it."""

    def run(*argv: str) -> Ran:
        capsys.readouterr()
        try:
            status = main(list(argv))
        except SystemExit as exit_:  # argparse's usage errors
            status = int(exit_.code or 0)
        captured = capsys.readouterr()
        return Ran(status, captured.out, captured.err)

    return run


@pytest.fixture
def queues(moto: MotoServer) -> Queues:
    return Queues(moto)


@pytest.fixture
def fifo_queues(moto: MotoServer) -> Queues:
    return Queues(moto, fifo=True)
