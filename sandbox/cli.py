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
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, Any, Final

from sandbox.agentcore import FaultSettings
from sandbox.agentcore.operation import CONTROL_PREFIX
from sandbox.agentcore.server import CONTROL_ROUTES
from sandbox.aws.deployed import describe_stack
from sandbox.aws.server import DEFAULT_REGION, MotoServer, client, describe_environment, port_is_free, sdk_environment
from sandbox.aws.sqs import parse_messages, send_messages
from sandbox.aws.stack import (
    DEFAULT_STACK_NAME,
    DEFAULT_TEMPLATE,
    QUICK_RETRIES,
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
from sandbox.demo.tables import dash
from sandbox.lambda_.environment import sam_local_environment
from sandbox.lambda_.invoke import add_parser as add_invoke_parser
from sandbox.lambda_.invoke import cmd_invoke
from sandbox.local_cloud import Sandbox, SandboxConfig
from sandbox.operator_command import printed_command

DEFAULT_AWS_PORT: Final = int(os.environ.get("SANDBOX_AWS_PORT", "4566"))
DEFAULT_PAYMENTS_PORT: Final = int(os.environ.get("SANDBOX_PAYMENTS_PORT", "4599"))
ENV_JSON: Final = ROOT / "events" / "env.json"
LOG_DIR: Final = Path(tempfile.gettempdir()) / "payment-session-worker-sandbox"
# The banner's last line: what ``up`` prints from then on is the sandbox at work.
BANNER_END: Final = "Watching invocations, published events and the DLQ (Ctrl-C to stop):"


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


def _timeout_options(parser: argparse.ArgumentParser) -> None:
    """The function's and the queue's timeouts: the sandbox's short ones unless given, or the template's."""
    quick = QUICK_RETRIES
    parser.add_argument(
        "--function-timeout", type=int, default=None, help=f"seconds (default {quick.function_timeout})"
    )
    parser.add_argument(
        "--visibility-timeout",
        type=int,
        default=None,
        help=f"the request queue's, seconds (default {quick.visibility_timeout}: a retry within seconds)",
    )
    parser.add_argument(
        "--template-timeouts",
        "--template-visibility",
        action="store_true",
        help="keep template.yaml's function Timeout and queue VisibilityTimeout (a retry every 200 s)",
    )


def _fault_options(parser: argparse.ArgumentParser, faults: FaultSettings) -> None:
    """The fake payments API's random faults, ``faults`` by default."""
    parser.add_argument("--latency-ms", type=float, default=faults.latency_ms, help=f"default {faults.latency_ms:g}")
    parser.add_argument(
        "--throttle-rate",
        type=float,
        default=faults.throttle_rate,
        help=f"share of API calls answered 429 (default {faults.throttle_rate:g})",
    )
    parser.add_argument(
        "--error-rate",
        type=float,
        default=faults.error_rate,
        help=f"share of API calls answered 500 (default {faults.error_rate:g})",
    )


def _add_up(commands: Any) -> None:
    up = commands.add_parser("up", help="run the whole sandbox until Ctrl-C; prints endpoints and an env snippet")
    _stack_options(up)
    up.add_argument("--host", default="127.0.0.1", help="address to bind (0.0.0.0 to reach it from containers)")
    up.add_argument("--aws-port", type=int, default=DEFAULT_AWS_PORT, help="moto's port (default 4566)")
    up.add_argument("--payments-port", type=int, default=DEFAULT_PAYMENTS_PORT, help="fake API's port (default 4599)")
    up.add_argument("--pollers", type=int, default=None, help="concurrent invocations (default: MaximumConcurrency)")
    _timeout_options(up)
    _fault_options(up, FaultSettings())
    up.add_argument("--seed", type=int, default=None, help="seed of the API's random faults")
    up.add_argument(
        "--function-log", default=str(LOG_DIR / "function.log"), help="file for the function's logs, or - for here"
    )


def _add_demo(commands: Any) -> None:
    demo = commands.add_parser("demo", help="up, send the samples and a load under faults, report every outcome")
    defaults = DemoOptions()
    demo.add_argument("--requests", type=int, default=defaults.requests, help="generated requests (default 300)")
    demo.add_argument("--seed", type=int, default=defaults.seed, help="seed of the load and of the API's faults")
    _fault_options(demo, defaults.sandbox.api_faults)
    _timeout_options(demo)
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


def _add_send(commands: Any) -> None:
    send = commands.add_parser("send", help="enqueue requests into a running sandbox")
    send.add_argument("file", help="JSON lines, a JSON request or array, or a Lambda SQS event file; - for stdin")
    send.add_argument("--endpoint-url", default=None, help=f"moto (default http://127.0.0.1:{DEFAULT_AWS_PORT})")
    send.add_argument("--stack-name", default=DEFAULT_STACK_NAME)
    send.add_argument("--region", default=DEFAULT_REGION)


def _add_env_json(commands: Any) -> None:
    env_json = commands.add_parser("env-json", help="the --env-vars file of sam local invoke for `up`'s endpoints")
    _stack_options(env_json)
    env_json.add_argument("--aws-endpoint", default=f"http://127.0.0.1:{DEFAULT_AWS_PORT}")
    env_json.add_argument("--payments-endpoint", default=f"http://127.0.0.1:{DEFAULT_PAYMENTS_PORT}")
    env_json.add_argument(
        "--write", action="store_true", help=f"write {ENV_JSON.relative_to(ROOT)} instead of printing"
    )


def build_parser() -> argparse.ArgumentParser:
    """The command line: ``up``, ``demo``, ``send``, ``env-json`` and ``invoke``."""
    parser = argparse.ArgumentParser(
        prog="python -m sandbox",
        description="payment-session-worker on an embedded local AWS (moto) and a fake payments API; no Docker.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for add in (_add_up, _add_demo, _add_send, _add_env_json, add_invoke_parser):
        add(commands)
    return parser


# ---------------------------------------------------------------------------------------------------------
# up
# ---------------------------------------------------------------------------------------------------------


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


def aws_cli_hints(urls: BannerUrls) -> list[str]:
    """The aws CLI lines of ``up``'s banner: send a request, read the DLQ (``--endpoint-url``: CLI v1 and v2)."""
    body = shlex.quote(json.dumps({"expiryTimeInMinutes": 60}))
    return [
        f"aws --endpoint-url {urls.aws} sqs send-message --queue-url {urls.request_queue} --message-body {body}",
        f"aws --endpoint-url {urls.aws} sqs receive-message --queue-url {urls.dead_letter_queue}"
        " --message-attribute-names All",
    ]


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


def _send_line(urls: BannerUrls, stack: DeployedStack, file: Path) -> str:
    stack_option = [] if stack.name == DEFAULT_STACK_NAME else ["--stack-name", stack.name]
    return sandbox_command("send", str(file), "--endpoint-url", urls.aws, *stack_option)


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
    if (urls.aws, urls.payments) == (_local_url("", DEFAULT_AWS_PORT), _local_url("", DEFAULT_PAYMENTS_PORT)) and (
        stack.name == DEFAULT_STACK_NAME
    ):
        return ENV_JSON, []
    env_vars = LOG_DIR / "env.json"
    stack_option = [] if stack.name == DEFAULT_STACK_NAME else ["--stack-name", stack.name]
    arguments = ["env-json", "--aws-endpoint", urls.aws, "--payments-endpoint", urls.payments, *stack_option]
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
    for line in [_send_line(urls, stack, ROOT / "events" / "sqs-mixed-batch.json"), *aws_cli_hints(urls), *env_json]:
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
            f"no sandbox stack {args.stack_name} at {endpoint} ({type(error).__name__}); run"
            f" `{sandbox_command('up')}`\n"
        )
        return 2
    sqs = client("sqs", endpoint, args.region)
    queue_url = sqs.get_queue_url(QueueName=stack.request_queue.name)["QueueUrl"]  # the banner's URL
    ids = send_messages(sqs, queue_url, messages)
    for message_id, message in zip(ids, messages, strict=True):
        body = message.body if len(message.body) <= 80 else message.body[:79] + "…"
        out.write(f"{message_id}  {body}\n")
    out.write(f"sent {len(ids)} to {queue_url}\n")
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
