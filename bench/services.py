"""The AWS side of the benchmarks, in a process of its own so its CPU and memory never count as the worker's.

``python -m bench.services`` starts moto's server (SQS and EventBridge) and two payments API fakes, one
answering at once and one after 100 ms, all on free ports of 127.0.0.1, prints their endpoints as one JSON
line and serves until its stdin closes. :class:`Services` runs it from the benchmark process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from types import TracebackType
from typing import Any

# Latencies of the payments fakes, in milliseconds: ~0 for CPU and cold start, 100 for batch latency.
LATENCIES_MS = (0, 100)


@dataclass(frozen=True)
class Endpoints:
    """Where the services listen."""

    moto: str
    payments: dict[int, str]  # latency in ms -> endpoint URL


def serve() -> None:
    """Run the services until stdin closes (the benchmark process exited or closed the pipe)."""
    import logging

    from moto.server import ThreadedMotoServer

    from sandbox.agentcore import FaultSettings, PaymentsApiServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    fakes = {latency: PaymentsApiServer(faults=FaultSettings(latency_ms=latency)).start() for latency in LATENCIES_MS}
    endpoints = {"moto": f"http://{host}:{port}", "payments": {str(k): v.endpoint_url for k, v in fakes.items()}}
    print(json.dumps(endpoints), flush=True)
    sys.stdin.read()  # returns at EOF
    for fake in fakes.values():
        fake.stop()
    moto.stop()


class Services:
    """``with Services() as endpoints:`` runs :func:`serve` in a child process for the block's duration."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> Endpoints:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bench.services"],
            cwd=root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": root},
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            self._stop()
            raise RuntimeError("the benchmark services did not start")
        raw: dict[str, Any] = json.loads(line)
        return Endpoints(moto=raw["moto"], payments={int(k): v for k, v in raw["payments"].items()})

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._stop()

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __repr__(self) -> str:
        return f"Services(pid={self._process.pid if self._process else None})"


if __name__ == "__main__":
    serve()
