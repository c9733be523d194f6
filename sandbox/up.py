"""``python -m sandbox up``: the whole sandbox until Ctrl-C, its banner and a line for each thing it does.

The banner says what runs where, then prints commands that run as printed from any shell and directory (this
virtualenv's python and console script by their paths), a dead-letter round trip by hand, and lines for boto3
and ``sam local invoke``; the queue URLs it shows are the ones its commands use.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, Any, Final

from sandbox.agentcore import FaultSettings
from sandbox.agentcore.operation import CONTROL_PREFIX
from sandbox.agentcore.server import CONTROL_ROUTES
from sandbox.aws.server import (
    aws_cli_hints,
    client,
    describe_environment,
    port_is_free,
    sdk_environment,
)
from sandbox.aws.stack import (
    DEFAULT_STACK_NAME,
    QUICK_RETRIES,
    ROOT,
    DeployedStack,
    StackSpec,
    Tuning,
)
from sandbox.demo.tables import dash
from sandbox.local_cloud import Sandbox, SandboxConfig
from sandbox.operator_command import printed_command

DEFAULT_AWS_PORT: Final = int(os.environ.get("SANDBOX_AWS_PORT", "4566"))
DEFAULT_PAYMENTS_PORT: Final = int(os.environ.get("SANDBOX_PAYMENTS_PORT", "4599"))
DEFAULT_AWS_ENDPOINT: Final = f"http://127.0.0.1:{DEFAULT_AWS_PORT}"
DEFAULT_PAYMENTS_ENDPOINT: Final = f"http://127.0.0.1:{DEFAULT_PAYMENTS_PORT}"
ENV_JSON: Final = ROOT / "events" / "env.json"
LOG_DIR: Final = Path(tempfile.gettempdir()) / "payment-session-worker-sandbox"
# The banner's last line: what ``up`` prints from then on is the sandbox at work.
BANNER_END: Final = "Watching invocations, published events and the DLQ (Ctrl-C to stop):"


def sandbox_command(*arguments: str) -> str:
    """``python -m sandbox <arguments>`` as printed for a person, to run as printed from any shell and directory:
    this virtualenv's python by its path, the repository on its ``PYTHONPATH`` (the sandbox is never installed)."""
    return shlex.join(["env", f"PYTHONPATH={ROOT}", sys.executable, "-m", "sandbox", *arguments])


@dataclass(frozen=True, slots=True)
class BannerUrls:
    """The endpoints and queue URLs the banner prints, each once: its lines and its commands use the same.

    The queue URLs are the ones moto answers ``GetQueueUrl`` with at ``aws``."""

    aws: str
    payments: str
    request_queue: str
    dead_letter_queue: str

    @classmethod
    def of(cls, sandbox: Sandbox) -> BannerUrls:
        stack = sandbox.stack
        sqs = client("sqs", sandbox.aws_endpoint, stack.region)
        return cls(
            aws=sandbox.aws_endpoint,
            payments=sandbox.payments_api.endpoint_url,
            request_queue=sqs.get_queue_url(QueueName=stack.request_queue.name)["QueueUrl"],
            dead_letter_queue=sqs.get_queue_url(QueueName=stack.dead_letter_queue.name)["QueueUrl"],
        )


def round_trip_lines(urls: BannerUrls, stack: DeployedStack) -> list[str]:
    """The dead-letter round trip by hand: the API throttles every call, a request is sent and dead-lettered
    with ThrottlingException on its last receive, the operator's command reports it, the throttling stops, the
    command redrives it and the API's counters show the session."""
    faults = f"{urls.payments}{CONTROL_PREFIX}faults"
    stack_option = ["--stack", stack.name]
    return [
        shlex.join(["curl", "-sS", "-X", "POST", faults, "-d", json.dumps({"throttle_rate": 1})]),
        _send_line(urls, stack, ROOT / "events" / "sqs-valid.json"),
        printed_command(["dlq", "report", *stack_option]),
        shlex.join(["curl", "-sS", "-X", "POST", faults, "-d", json.dumps({"throttle_rate": 0})]),
        printed_command(["dlq", "redrive", *stack_option, "--error-code", "ThrottlingException"]),
        shlex.join(["curl", "-sS", f"{urls.payments}{CONTROL_PREFIX}stats?sessions=false"]),
    ]


def _stack_name_option(stack: DeployedStack) -> list[str]:
    return [] if stack.name == DEFAULT_STACK_NAME else ["--stack-name", stack.name]


def _send_line(urls: BannerUrls, stack: DeployedStack, file: Path) -> str:
    return sandbox_command("send", str(file), "--endpoint-url", urls.aws, *_stack_name_option(stack))


def _banner_rows(sandbox: Sandbox, urls: BannerUrls, log: str) -> list[tuple[str, str]]:
    stack = sandbox.stack
    source = sandbox.event_source
    redrive = stack.request_queue.redrive_policy
    controls = ", ".join(f"{method} {CONTROL_PREFIX}{action}" for method, action in CONTROL_ROUTES)
    return [
        ("AWS (moto)", f"{urls.aws}  (SQS, EventBridge, CloudFormation, Lambda, S3, ...)"),
        ("payments API", f"{urls.payments}  ({controls})"),
        ("stack", f"{stack.name} from {sandbox.config.stack.template_path.name}"),
        ("request queue", urls.request_queue),
        ("dead-letter queue", urls.dead_letter_queue),
        ("event bus", f"{stack.bus_name}  (tap: rule {sandbox.tap.rule_name} -> {sandbox.tap.queue_url})"),
        (
            "function",
            f"{stack.function.handler}: Timeout {source.timeout:g}s, BatchSize {source.batch_size}, window"
            f" {source.batching_window:g}s, {source.pollers} pollers",
        ),
        (
            "queue",
            f"VisibilityTimeout {stack.request_queue.visibility_timeout}s, maxReceiveCount"
            f" {redrive.max_receive_count if redrive else '-'}",
        ),
        ("function logs", log),
        *(("note", note) for note in stack.notes),
    ]


def _env_json_lines(urls: BannerUrls, stack: DeployedStack) -> tuple[Path, list[str]]:
    """The ``--env-vars`` file for ``sam local invoke``, and the line that writes it when events/env.json (for
    the default ports and stack) does not fit."""
    if (urls.aws, urls.payments, stack.name) == (DEFAULT_AWS_ENDPOINT, DEFAULT_PAYMENTS_ENDPOINT, DEFAULT_STACK_NAME):
        return ENV_JSON, []
    env_vars = LOG_DIR / "env.json"
    arguments = ["env-json", "--aws-endpoint", urls.aws, "--payments-endpoint", urls.payments]
    arguments += _stack_name_option(stack)
    return env_vars, [f"{sandbox_command(*arguments)} > {shlex.quote(str(env_vars))}"]


def print_banner(sandbox: Sandbox, log: str, out: IO[str]) -> None:
    """What runs where, then commands that run as printed from any shell (the aws lines need the aws CLI, the
    curl lines curl), a dead-letter round trip by hand, and the lines for boto3 and ``sam local invoke``."""
    stack = sandbox.stack
    urls = BannerUrls.of(sandbox)
    out.write("payment-session-worker sandbox is up (Ctrl-C to stop)\n\n")
    for name, value in _banner_rows(sandbox, urls, log):
        out.write(f"  {name:<18} {value}\n")
    env_vars, env_json = _env_json_lines(urls, stack)
    out.write(
        "\nIn any shell (boto3 and the aws CLI v2 read AWS_ENDPOINT_URL; the aws CLI v1 ignores it for SQS, so the"
        " aws lines pass --endpoint-url):\n"
    )
    out.write(describe_environment(sdk_environment(urls.aws, stack.region)) + "\n")
    out.write(f"export AWS_ENDPOINT_URL_BEDROCK_AGENTCORE={urls.payments}\n")
    for line in [
        _send_line(urls, stack, ROOT / "events" / "sqs-mixed-batch.json"),
        *aws_cli_hints(urls.aws, urls.request_queue, urls.dead_letter_queue),
        *env_json,
    ]:
        out.write(line + "\n")
    receives = stack.function.environment.get("MAX_RECEIVE_COUNT", "-")
    out.write(
        f"\nA dead-letter round trip by hand (the request is dead-lettered on receive {receives}, one"
        f" VisibilityTimeout of {stack.request_queue.visibility_timeout}s after another; then redriven):\n"
    )
    for line in round_trip_lines(urls, stack):
        out.write(line + "\n")
    out.write(
        "\nIn Python, and with Docker and the SAM CLI:\n"
        f'boto3.client("sqs", endpoint_url="{urls.aws}", region_name="{stack.region}",'
        ' aws_access_key_id="testing", aws_secret_access_key="testing")\n'
        f"sam local invoke {stack.function.logical_id} -e {ROOT / 'events' / 'sqs-valid.json'}"
        f" --env-vars {env_vars} --docker-network host\n\n"
        f"{BANNER_END}\n"
    )
    out.flush()


def _watch(sandbox: Sandbox, stop: threading.Event, out: IO[str]) -> None:
    """Print each invocation, published event and change of the DLQ's depth until ``stop`` is set."""
    seen = 0
    dlq_depth = 0
    sqs = client("sqs", sandbox.aws_endpoint, sandbox.stack.region)
    while not stop.wait(0.5):
        invocations = sandbox.event_source.invocations
        for invocation in invocations[seen:]:
            outcome = (
                invocation.error or f"deleted {len(invocation.deleted)}, handed back {len(invocation.handed_back)}"
            )
            out.write(
                f"{time.strftime('%H:%M:%S')} invoke  lambda-{invocation.poller}  {len(invocation.message_ids)} records"
                f"  {invocation.duration:.2f}s  {outcome}\n"
            )
        seen = len(invocations)
        for event in sandbox.tap.read():
            out.write(f"{time.strftime('%H:%M:%S')} event   {describe_event(event)}\n")
        attributes = sqs.get_queue_attributes(
            QueueUrl=sandbox.stack.dead_letter_queue.url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        depth = int(attributes.get("ApproximateNumberOfMessages", 0))
        if depth != dlq_depth:
            out.write(f"{time.strftime('%H:%M:%S')} DLQ     {depth} messages\n")
            dlq_depth = depth
        out.flush()


def describe_event(event: Mapping[str, Any]) -> str:
    """One published event in a line: its detail-type, correlationId, and its session or its error (``-`` for
    what it does not carry)."""
    detail = event.get("detail") or {}
    error = detail.get("error") or {}
    what = (
        dash((detail.get("paymentSession") or {}).get("paymentSessionId"))
        if not error
        else f"{dash(error.get('code'))} retryable={str(error.get('retryable')).lower()}"
    )
    return f"{dash(event.get('detail-type'))}  correlationId={dash(detail.get('correlationId'))}  {what}"


def sandbox_config(args: argparse.Namespace, *, stack_name: str, parameters: Mapping[str, str]) -> SandboxConfig:
    """The sandbox as the flags ``up`` and ``demo`` share say: the template and its tuning, the pollers, the fake
    API's random faults. ``stack_name`` and ``parameters`` complete the stack (``up`` has flags for them)."""
    return SandboxConfig(
        stack=StackSpec(template_path=args.template, name=stack_name, parameters=parameters, tuning=_tuning(args)),
        pollers=args.pollers,
        api_faults=FaultSettings(args.latency_ms, args.throttle_rate, args.error_rate, args.seed),
    )


def _tuning(args: argparse.Namespace) -> Tuning:
    """The timeouts given, else the sandbox's short ones (:data:`QUICK_RETRIES`), else with
    ``--template-timeouts`` the template's."""
    defaults = Tuning() if args.template_timeouts else QUICK_RETRIES
    function_timeout = defaults.function_timeout if args.function_timeout is None else args.function_timeout
    visibility_timeout = defaults.visibility_timeout if args.visibility_timeout is None else args.visibility_timeout
    return Tuning(function_timeout=function_timeout, visibility_timeout=visibility_timeout)


def cmd_up(args: argparse.Namespace, out: IO[str]) -> int:
    """``up``: run until SIGINT or SIGTERM."""
    for name, port in (("--aws-port", args.aws_port), ("--payments-port", args.payments_port)):
        if port and not port_is_free(args.host, port):
            out.write(f"port {port} is in use (a sandbox already running?); choose another with {name}\n")
            return 2
    log_target = args.function_log
    log_file: IO[str] | None = None
    if log_target != "-":
        Path(log_target).parent.mkdir(parents=True, exist_ok=True)
        log_file = open(log_target, "a", encoding="utf-8")  # noqa: SIM115 - closed in finally
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    config = dataclasses.replace(
        sandbox_config(args, stack_name=args.stack_name, parameters=dict(args.parameter)),
        host=args.host,
        aws_port=args.aws_port,
        payments_port=args.payments_port,
        function_output=log_file,
    )
    out.write("starting moto, the fake payments API and the stack...\n")
    out.flush()
    try:
        with Sandbox(config) as sandbox:
            print_banner(sandbox, log_target if log_file else "this terminal", out)
            _watch(sandbox, stop, out)
            out.write("stopping...\n")
    finally:
        if log_file is not None:
            log_file.close()
    return 0
