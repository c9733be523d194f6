"""``python -m sandbox.agentcore``: the fake payments API on its own, until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from sandbox.agentcore.faults import FaultSettings
from sandbox.agentcore.operation import OPERATION_NAMES
from sandbox.agentcore.server import PaymentsApiServer


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the fake until SIGINT or SIGTERM; print the endpoint URL on one line first."""
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.agentcore",
        description=f"Fake Bedrock AgentCore payments API ({', '.join(OPERATION_NAMES)}).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind (default 0: any free port)")
    parser.add_argument("--latency-ms", type=float, default=0, help="delay before every answer")
    parser.add_argument("--throttle-rate", type=float, default=0.0, help="share of calls answered 429")
    parser.add_argument("--error-rate", type=float, default=0.0, help="share of calls answered 500")
    parser.add_argument("--seed", type=int, default=None, help="seed of the random faults")
    parser.add_argument(
        "--token-window-ms",
        type=float,
        default=None,
        help="forget a clientToken this long after its session was created (default: never)",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)
    try:
        faults = FaultSettings(
            args.latency_ms, args.throttle_rate, args.error_rate, args.seed, token_window_ms=args.token_window_ms
        )
        api = PaymentsApiServer(args.host, args.port, faults, verbose=args.verbose)
    except ValueError as exc:
        parser.error(str(exc))
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    with api:
        print(api.endpoint_url, flush=True)
        while not stop.wait(1.0):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
