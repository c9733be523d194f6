"""What the function's process sees in the sandbox: its environment, and a stdout of its own.

The environment is the deployed function's variables, Lambda's own ``AWS_LAMBDA_*`` ones, dummy credentials
and the SDK endpoints at moto and the fake payments API. The function's stdout (its JSON logs and EMF
metrics) can go to a sink of its own while the sandbox prints to the terminal.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from typing import IO, Any, Final

from sandbox.aws.deployed import DeployedStack
from sandbox.aws.server import DUMMY_CREDENTIALS


def endpoint_environment(aws_endpoint: str, payments_endpoint: str) -> dict[str, str]:
    """The SDK endpoint variables that point the worker at the sandbox (moto and the fake payments API)."""
    return {
        "AWS_ENDPOINT_URL_SQS": aws_endpoint,
        "AWS_ENDPOINT_URL_EVENTBRIDGE": aws_endpoint,
        "AWS_ENDPOINT_URL_DYNAMODB": aws_endpoint,  # the idempotency record's table (template.yaml)
        "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE": payments_endpoint,
    }


def function_environment(
    stack: DeployedStack,
    *,
    payments_endpoint: str,
    aws_endpoint: str | None = None,
    overrides: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Everything the handler's process sees: the template's variables, Lambda's own, the sandbox's endpoints.

    ``overrides`` come last (e.g. an endpoint of a fault-injecting proxy).
    """
    function = stack.function
    environment = dict(function.environment)
    environment.update(
        {
            "AWS_REGION": stack.region,
            "AWS_DEFAULT_REGION": stack.region,
            **DUMMY_CREDENTIALS,
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "sandbox",
            # No X-Ray daemon in the sandbox: tracing off whatever the template asks (handlers.tracing).
            "OTEL_TRACES_EXPORTER": "none",
        }
    )
    environment.update(endpoint_environment(aws_endpoint or stack.endpoint_url, payments_endpoint))
    environment.update(overrides or {})
    return environment


# Local invokes feed the worker events written once (events/*.json) or by `sam local generate-event` (whose
# SentTimestamp is in 2018): with the age check on, every one of them would be RequestExpired. The sandbox's own
# stack, fed by real sends, keeps the template's limit.
LOCAL_INVOKE_OVERRIDES: Final = {"MAX_REQUEST_AGE_MINUTES": "0"}


def sam_local_environment(stack: DeployedStack, *, aws_endpoint: str, payments_endpoint: str) -> dict[str, Any]:
    """An ``--env-vars`` file for ``sam local invoke``: the deployed function's variables plus the endpoints.

    ``sam local`` only overrides variables the template declares, so the endpoint variables take effect
    once the function's ``Environment`` declares them. The request-age check is off
    (``LOCAL_INVOKE_OVERRIDES``): sample events carry the timestamps of the day they were written.
    """
    variables = dict(stack.function.environment)
    variables.update(endpoint_environment(aws_endpoint, payments_endpoint))
    variables.update(LOCAL_INVOKE_OVERRIDES)
    return {stack.function.logical_id: dict(sorted(variables.items()))}


@contextlib.contextmanager
def applied_environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set ``values`` in ``os.environ`` for the duration, then put back what was there."""
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# ---------------------------------------------------------------------------------------------------------
# The function's output
# ---------------------------------------------------------------------------------------------------------


class ThreadRoutedStream:
    """A stand-in for ``sys.stdout`` that sends the writes of pollers' threads to their own sink."""

    def __init__(self, default: IO[str]) -> None:
        self.default = default
        self._local = threading.local()

    def route(self, sink: IO[str] | None) -> None:
        self._local.sink = sink

    def _target(self) -> IO[str]:
        sink: IO[str] | None = getattr(self._local, "sink", None)
        return sink if sink is not None else self.default

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        self._target().flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.default, name)


@contextlib.contextmanager
def routed_stdout(sink: IO[str] | None) -> Iterator[ThreadRoutedStream | None]:
    """Install the routing stream on ``sys.stdout`` and on logging handlers bound to it, then undo it."""
    if sink is None:
        yield None
        return
    original = sys.stdout
    router = ThreadRoutedStream(original)
    sys.stdout = router
    try:
        yield router
    finally:
        sys.stdout = original
        for handler in _stream_handlers():
            if handler.stream is router:
                handler.setStream(original)


def _stream_handlers() -> Iterator[logging.StreamHandler[Any]]:
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        if isinstance(logger, logging.Logger):
            for handler in logger.handlers:
                if isinstance(handler, logging.StreamHandler):
                    yield handler


def bind_handlers_to(router: ThreadRoutedStream) -> None:
    """Point logging handlers that write to the real stdout (Powertools' logger) at the router."""
    for handler in _stream_handlers():
        if handler.stream is router.default:
            handler.setStream(router)
