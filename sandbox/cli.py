"""``python -m sandbox up | demo | send | env-json``: the embedded sandbox from the command line."""

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
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import IO, Final

from sandbox.agentcore import FaultSettings
from sandbox.aws.deployed import describe_stack
from sandbox.aws.server import DEFAULT_REGION, MotoServer, client, describe_environment, port_is_free, sdk_environment
from sandbox.aws.sqs import parse_messages, send_messages
from sandbox.aws.stack import (
    DEFAULT_STACK_NAME,
    DEFAULT_TEMPLATE,
    ROOT,
    DeployedStack,
    StackError,
    StackSpec,
    Tuning,
    deploy_stack,
    max_receive_count_parameters,
)
from sandbox.demo.fifo import run_fifo_demo
from sandbox.demo.run import DemoOptions, run_demo
from sandbox.lambda_.environment import sam_local_environment
from sandbox.lambda_.invoke import add_parser as add_invoke_parser
from sandbox.lambda_.invoke import cmd_invoke
from sandbox.local_cloud import Sandbox, SandboxConfig

DEFAULT_AWS_PORT: Final = int(os.environ.get("SANDBOX_AWS_PORT", "4566"))
DEFAULT_PAYMENTS_PORT: Final = int(os.environ.get("SANDBOX_PAYMENTS_PORT", "4599"))
ENV_JSON: Final = ROOT / "events" / "env.json"
LOG_DIR: Final = Path(tempfile.gettempdir()) / "payment-session-worker-sandbox"


def _parameter(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def _stack_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE, help="SAM template (default template.yaml)")
    parser.add_argument("--stack-name", default=DEFAULT_STACK_NAME, help=f"default {DEFAULT_STACK_NAME}")
    parser.add_argument(
        "--parameter",
        type=_parameter,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a template parameter (repeatable), e.g. MaxReceiveCount=3",
    )


def _local_url(host: str, port: int) -> str:
    return f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m sandbox",
        description="payment-session-worker on an embedded local AWS (moto) and a fake payments API; no Docker.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="run the whole sandbox until Ctrl-C; prints endpoints and an env snippet")
    _stack_options(up)
    up.add_argument("--host", default="127.0.0.1", help="address to bind (0.0.0.0 to reach it from containers)")
    up.add_argument("--aws-port", type=int, default=DEFAULT_AWS_PORT, help="moto's port (default 4566)")
    up.add_argument("--payments-port", type=int, default=DEFAULT_PAYMENTS_PORT, help="fake API's port (default 4599)")
    up.add_argument("--pollers", type=int, default=None, help="concurrent invocations (default: MaximumConcurrency)")
    up.add_argument("--function-timeout", type=int, default=None, help="seconds (default: the template's)")
    up.add_argument(
        "--visibility-timeout", type=int, default=None, help="request queue's, seconds (default: template's)"
    )
    up.add_argument("--latency-ms", type=float, default=0, help="fake API latency")
    up.add_argument("--throttle-rate", type=float, default=0.0, help="share of API calls answered 429")
    up.add_argument("--error-rate", type=float, default=0.0, help="share of API calls answered 500")
    up.add_argument("--seed", type=int, default=None, help="seed of the API's random faults")
    up.add_argument(
        "--function-log", default=str(LOG_DIR / "function.log"), help="file for the function's logs, or - for here"
    )

    demo = commands.add_parser("demo", help="up, send the samples and a load under faults, report every outcome")
    defaults = DemoOptions()
    faults, tuning = defaults.sandbox.api_faults, defaults.sandbox.stack.tuning
    demo.add_argument("--requests", type=int, default=defaults.requests, help="generated requests (default 300)")
    demo.add_argument("--seed", type=int, default=defaults.seed, help="seed of the load and of the API's faults")
    demo.add_argument("--throttle-rate", type=float, default=faults.throttle_rate, help="default 0.2")
    demo.add_argument("--error-rate", type=float, default=faults.error_rate, help="default 0.1")
    demo.add_argument("--latency-ms", type=float, default=faults.latency_ms, help="default 20")
    demo.add_argument("--function-timeout", type=int, default=tuning.function_timeout, help="seconds (default 10)")
    demo.add_argument("--visibility-timeout", type=int, default=tuning.visibility_timeout, help="seconds (default 10)")
    demo.add_argument("--max-receive-count", type=int, default=None, help="default: the template's")
    demo.add_argument("--pollers", type=int, default=None, help="default: the template's MaximumConcurrency")
    demo.add_argument("--timeout", type=float, default=defaults.timeout, help="give up after this many seconds")
    demo.add_argument("--function-log", type=Path, default=LOG_DIR / "demo-function.log", help="function's logs")
    demo.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE, help="SAM template (default template.yaml)")
    demo.add_argument(
        "--fifo",
        action="store_true",
        help="deploy the FIFO stack instead: message groups kept in order through a throttled record"
        " (scripted faults only: --requests, --throttle-rate and --error-rate do not apply)",
    )

    send = commands.add_parser("send", help="enqueue requests into a running sandbox")
    send.add_argument("file", help="JSON lines, a JSON request or array, or a Lambda SQS event file; - for stdin")
    send.add_argument("--endpoint-url", default=None, help=f"moto (default http://127.0.0.1:{DEFAULT_AWS_PORT})")
    send.add_argument("--stack-name", default=DEFAULT_STACK_NAME)
    send.add_argument("--region", default=DEFAULT_REGION)

    env_json = commands.add_parser("env-json", help="the --env-vars file of sam local invoke for `up`'s endpoints")
    _stack_options(env_json)
    env_json.add_argument("--aws-endpoint", default=f"http://127.0.0.1:{DEFAULT_AWS_PORT}")
    env_json.add_argument("--payments-endpoint", default=f"http://127.0.0.1:{DEFAULT_PAYMENTS_PORT}")
    env_json.add_argument(
        "--write", action="store_true", help=f"write {ENV_JSON.relative_to(ROOT)} instead of printing"
    )
    add_invoke_parser(commands)
    return parser


# ---------------------------------------------------------------------------------------------------------
# up
# ---------------------------------------------------------------------------------------------------------


def aws_cli_hints(aws_endpoint: str, *, request_queue_url: str, dead_letter_queue_url: str) -> list[str]:
    """The aws CLI lines of ``up``'s banner: send a request, read the DLQ (``--endpoint-url``: CLI v1 and v2).

    The queue URLs are the ones moto answers ``GetQueueUrl`` with.
    """
    body = shlex.quote(json.dumps({"expiryTimeInMinutes": 60}))
    return [
        f"aws --endpoint-url {aws_endpoint} sqs send-message --queue-url {request_queue_url} --message-body {body}",
        f"aws --endpoint-url {aws_endpoint} sqs receive-message --queue-url {dead_letter_queue_url}"
        " --message-attribute-names All",
    ]


def print_banner(sandbox: Sandbox, log: str, out: IO[str]) -> None:
    stack = sandbox.stack
    source = sandbox.event_source
    request_queue = stack.request_queue
    redrive = request_queue.redrive_policy
    aws = sandbox.aws_endpoint
    payments = sandbox.payments_api.endpoint_url
    out.write("payment-session-worker sandbox is up (Ctrl-C to stop)\n\n")
    rows = [
        ("AWS (moto)", f"{aws}  (SQS, EventBridge, CloudFormation, Lambda, S3, ...)"),
        ("payments API", f"{payments}  (GET /_sandbox/stats, POST /_sandbox/faults, POST /_sandbox/script)"),
        ("stack", f"{stack.name} from {sandbox.config.stack.template_path.name}"),
        ("request queue", request_queue.url),
        ("dead-letter queue", stack.dead_letter_queue.url),
        ("event bus", f"{stack.bus_name}  (tap: rule {sandbox.tap.rule_name} -> {sandbox.tap.queue_url})"),
        (
            "function",
            f"{stack.function.handler}: Timeout {source.timeout:g}s, BatchSize {source.batch_size}, window"
            f" {source.batching_window:g}s, {source.pollers} pollers",
        ),
        (
            "queue",
            f"VisibilityTimeout {request_queue.visibility_timeout}s, maxReceiveCount"
            f" {redrive.max_receive_count if redrive else '-'}",
        ),
        ("function logs", log),
    ]
    for name, value in rows:
        out.write(f"  {name:<18} {value}\n")
    for note in stack.notes:
        out.write(f"  note               {note}\n")
    environment = sdk_environment(aws, stack.region)
    out.write("\nboto3 and the aws CLI v2 read AWS_ENDPOINT_URL; the aws CLI v1 ignores it for SQS, so the commands\n")
    out.write("below pass --endpoint-url (they run as printed with v1 and v2):\n")
    out.write(describe_environment(environment) + "\n")
    out.write(f"export AWS_ENDPOINT_URL_BEDROCK_AGENTCORE={payments}\n")
    sqs = client("sqs", aws, stack.region)
    for line in aws_cli_hints(
        aws,
        request_queue_url=sqs.get_queue_url(QueueName=request_queue.name)["QueueUrl"],
        dead_letter_queue_url=sqs.get_queue_url(QueueName=stack.dead_letter_queue.name)["QueueUrl"],
    ):
        out.write(line + "\n")
    stack_option = "" if stack.name == DEFAULT_STACK_NAME else f" --stack-name {stack.name}"
    env_vars = ENV_JSON.relative_to(ROOT)
    if (aws, payments) != (_local_url("", DEFAULT_AWS_PORT), _local_url("", DEFAULT_PAYMENTS_PORT)) or stack_option:
        env_vars = LOG_DIR / "env.json"  # events/env.json is for the default ports and stack
        out.write(
            f"python -m sandbox env-json --aws-endpoint {aws} --payments-endpoint {payments}{stack_option}"
            f" > {env_vars}\n"
        )
    out.write(
        f"python -m sandbox send events/sqs-mixed-batch.json --endpoint-url {aws}{stack_option}\n"
        f'boto3.client("sqs", endpoint_url="{aws}", region_name="{stack.region}",'
        ' aws_access_key_id="testing", aws_secret_access_key="testing")\n'
        f"sam local invoke {stack.function.logical_id} -e events/sqs-valid.json --env-vars {env_vars}"
        " --docker-network host\n\n"
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
            detail = event.get("detail") or {}
            error = detail.get("error") or {}
            what = (
                (detail.get("paymentSession") or {}).get("paymentSessionId")
                if not error
                else f"{error.get('code')} retryable={str(error.get('retryable')).lower()}"
            )
            out.write(
                f"{time.strftime('%H:%M:%S')} event   {event.get('detail-type')}  correlationId="
                f"{detail.get('correlationId')}  {what}\n"
            )
        attributes = sqs.get_queue_attributes(
            QueueUrl=sandbox.stack.dead_letter_queue.url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        depth = int(attributes.get("ApproximateNumberOfMessages", 0))
        if depth != dlq_depth:
            out.write(f"{time.strftime('%H:%M:%S')} DLQ     {depth} messages\n")
            dlq_depth = depth
        out.flush()


def sandbox_config(args: argparse.Namespace, *, stack_name: str, parameters: Mapping[str, str]) -> SandboxConfig:
    """The sandbox as the flags ``up`` and ``demo`` share say: the template and its tuning, the pollers, the fake
    API's random faults. ``stack_name`` and ``parameters`` complete the stack (``up`` has flags for them)."""
    tuning = Tuning(function_timeout=args.function_timeout, visibility_timeout=args.visibility_timeout)
    return SandboxConfig(
        stack=StackSpec(template_path=args.template, name=stack_name, parameters=parameters, tuning=tuning),
        pollers=args.pollers,
        api_faults=FaultSettings(args.latency_ms, args.throttle_rate, args.error_rate, args.seed),
    )


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


# ---------------------------------------------------------------------------------------------------------
# demo, send, env-json
# ---------------------------------------------------------------------------------------------------------


def demo_options(args: argparse.Namespace) -> DemoOptions:
    """The demo as ``demo``'s flags say (``--seed`` seeds the load and the API's random faults alike)."""
    parameters = max_receive_count_parameters(args.max_receive_count)
    return DemoOptions(
        requests=args.requests,
        seed=args.seed,
        timeout=args.timeout,
        function_log=args.function_log,
        sandbox=sandbox_config(args, stack_name=DEFAULT_STACK_NAME, parameters=parameters),
    )


def cmd_demo(args: argparse.Namespace, out: IO[str]) -> int:
    """``demo``: see :func:`sandbox.demo.run.run_demo`."""
    options = demo_options(args)
    if args.fifo:
        return run_fifo_demo(options, out).exit_code
    return run_demo(options, out).exit_code


def cmd_send(args: argparse.Namespace, out: IO[str]) -> int:
    """``send``: enqueue the requests of a file (or stdin) on a running sandbox's request queue."""
    endpoint = args.endpoint_url or os.environ.get("SANDBOX_AWS_ENDPOINT") or f"http://127.0.0.1:{DEFAULT_AWS_PORT}"
    text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    messages = parse_messages(text)
    if not messages:
        out.write("nothing to send\n")
        return 1
    try:
        stack = describe_stack(endpoint, args.stack_name, args.region)
    except Exception as error:  # noqa: BLE001 - any failure here means no sandbox to talk to
        out.write(
            f"no sandbox stack {args.stack_name} at {endpoint} ({type(error).__name__}); run `python -m sandbox up`\n"
        )
        return 2
    ids = send_messages(client("sqs", endpoint, args.region), stack.request_queue.url, messages)
    for message_id, message in zip(ids, messages, strict=True):
        body = message.body if len(message.body) <= 80 else message.body[:79] + "…"
        out.write(f"{message_id}  {body}\n")
    out.write(f"sent {len(ids)} to {stack.request_queue.url}\n")
    return 0


def sandbox_env_json(
    spec: StackSpec | None = None,
    *,
    aws_endpoint: str = f"http://127.0.0.1:{DEFAULT_AWS_PORT}",
    payments_endpoint: str = f"http://127.0.0.1:{DEFAULT_PAYMENTS_PORT}",
    moto: MotoServer | None = None,
) -> str:
    """``events/env.json`` for ``up``'s stack: deploys a throwaway copy into moto and reads its environment."""
    own = moto is None
    server = moto or MotoServer(port=0, mode="thread")
    if own:
        server.start()
    try:
        stack: DeployedStack = deploy_stack(server.endpoint_url, spec)
    finally:
        if own:
            server.stop()
    document = sam_local_environment(stack, aws_endpoint=aws_endpoint, payments_endpoint=payments_endpoint)
    return json.dumps(document, indent=2) + "\n"


def cmd_env_json(args: argparse.Namespace, out: IO[str]) -> int:
    """``env-json``: print or write ``events/env.json``."""
    text = sandbox_env_json(
        StackSpec(template_path=args.template, name=args.stack_name, parameters=dict(args.parameter)),
        aws_endpoint=args.aws_endpoint,
        payments_endpoint=args.payments_endpoint,
    )
    if args.write:
        ENV_JSON.write_text(text, encoding="utf-8")
        out.write(f"wrote {ENV_JSON.relative_to(ROOT)}\n")
    else:
        out.write(text)
    return 0


COMMANDS: Final = {"up": cmd_up, "demo": cmd_demo, "send": cmd_send, "env-json": cmd_env_json, "invoke": cmd_invoke}


def main(argv: Sequence[str] | None = None, out: IO[str] | None = None) -> int:
    """Run a command; returns the exit status."""
    args = build_parser().parse_args(argv)
    stream: IO[str] = out or sys.stdout
    try:
        return COMMANDS[args.command](args, stream)
    except StackError as error:
        stream.write(f"error: {error}\n")
        return 2
