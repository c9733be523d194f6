"""The child process of ``sandbox invoke``: one invocation of a handler, as Lambda's Python runtime makes it.

    python -m sandbox.lambda_.invoke_child HANDLER TIMEOUT MEMORY FUNCTION_NAME REQUEST_ID  < event.json

Run with the function's code directory as the working directory (Lambda's ``/var/task``) and the function's
environment. The event comes on stdin. Everything the function writes (Powertools' JSON logs, EMF metrics,
prints) goes to stderr; stdout receives one line only: the handler's response as JSON, or Lambda's error
document when it raised or timed out. Exit status: 0 returned, 1 raised or timed out.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import threading
import traceback
from typing import Any

from sandbox.lambda_.context import LambdaContext


def _error_document(error: BaseException, request_id: str) -> dict[str, Any]:
    """What Lambda answers for a function error (``errorMessage``, ``errorType``, ``stackTrace``)."""
    return {
        "errorMessage": str(error),
        "errorType": type(error).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_tb(error.__traceback__),
    }


def main(argv: list[str]) -> int:
    handler_name, timeout, memory, function_name, request_id = argv
    # The response is written on the original stdout; the function's own output goes to stderr, also at
    # the level of file descriptors (a library writing to fd 1 directly).
    response = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def answer(document: Any) -> None:
        response.write(json.dumps(document) + "\n")
        response.flush()

    event = json.loads(sys.stdin.read())
    try:
        module_name, _, attribute = handler_name.rpartition(".")
        # Lambda's Python runtime accepts dir/module.function: the path's separators become dots.
        handler = getattr(importlib.import_module(module_name.replace("/", ".")), attribute)
    except Exception as error:  # noqa: BLE001 - an init failure is the function's error, reported as Lambda does
        traceback.print_exc()
        answer(_error_document(error, request_id))
        return 1

    def timed_out() -> None:
        message = f"Task timed out after {float(timeout):.2f} seconds"
        sys.stderr.write(f"{message}\n")
        sys.stderr.flush()
        answer({"errorMessage": message, "errorType": "Sandbox.Timedout", "requestId": request_id})
        os._exit(1)

    context = LambdaContext(
        timeout_seconds=float(timeout),
        function_name=function_name,
        memory_limit_in_mb=int(memory),
        aws_request_id=request_id,
        region=os.environ.get("AWS_REGION", "us-east-1"),
        log_stream_name=os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "$LATEST"),
    )
    timer = threading.Timer(float(timeout), timed_out)
    timer.daemon = True
    timer.start()
    try:
        result = handler(event, context)
    except Exception as error:  # noqa: BLE001 - the handler raised: Lambda's error document, exit 1
        timer.cancel()
        traceback.print_exc()
        answer(_error_document(error, request_id))
        return 1
    timer.cancel()
    answer(result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
