"""``python -m sandbox up | demo | send | env-json | invoke``: the embedded sandbox from the command line (``up`` in
:mod:`sandbox.up`, ``invoke`` in :mod:`sandbox.lambda_.invoke`)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, Final

from sandbox.agentcore import FaultSettings
from sandbox.aws.deployed import describe_stack
from sandbox.aws.server import (
    DEFAULT_REGION,
    MotoServer,
    client,
)
from sandbox.aws.sqs import parse_messages, send_messages
from sandbox.aws.stack import (
    DEFAULT_STACK_NAME,
    DEFAULT_TEMPLATE,
    QUICK_RETRIES,
    ROOT,
    DeployedStack,
    StackError,
    StackSpec,
    deploy_stack,
    max_receive_count_parameters,
)
from sandbox.demo.fifo import run_fifo_demo
from sandbox.demo.run import DemoOptions, run_demo
from sandbox.lambda_.environment import sam_local_environment
from sandbox.lambda_.invoke import add_parser as add_invoke_parser
from sandbox.lambda_.invoke import cmd_invoke
from sandbox.up import (
    DEFAULT_AWS_ENDPOINT,
    DEFAULT_AWS_PORT,
    DEFAULT_PAYMENTS_ENDPOINT,
    DEFAULT_PAYMENTS_PORT,
    ENV_JSON,
    LOG_DIR,
    cmd_up,
    sandbox_command,
    sandbox_config,
)


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


def _timeout_options(parser: argparse.ArgumentParser) -> None:
    """The function's and the queue's timeouts: the sandbox's short ones unless given, or the template's."""
    quick = QUICK_RETRIES
    for flag, what in (
        ("--function-timeout", quick.function_timeout),
        ("--visibility-timeout", quick.visibility_timeout),
    ):
        parser.add_argument(flag, type=int, default=None, help=f"seconds (default {what})")
    parser.add_argument(
        "--template-timeouts",
        "--template-visibility",
        action="store_true",
        help="keep template.yaml's function Timeout and queue VisibilityTimeout (a retry every 200 s)",
    )


def _fault_options(parser: argparse.ArgumentParser, faults: FaultSettings) -> None:
    """The fake payments API's random faults, ``faults`` by default."""
    for flag, default, what in (
        ("--latency-ms", faults.latency_ms, "delay of every API call"),
        ("--throttle-rate", faults.throttle_rate, "share of API calls answered 429"),
        ("--error-rate", faults.error_rate, "share of API calls answered 500"),
    ):
        parser.add_argument(flag, type=float, default=default, help=f"{what} (default {default:g})")


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
    send.add_argument("--endpoint-url", default=None, help=f"moto (default {DEFAULT_AWS_ENDPOINT})")
    send.add_argument("--stack-name", default=DEFAULT_STACK_NAME)
    send.add_argument("--region", default=DEFAULT_REGION)


def _add_env_json(commands: Any) -> None:
    env_json = commands.add_parser("env-json", help="the --env-vars file of sam local invoke for `up`'s endpoints")
    _stack_options(env_json)
    env_json.add_argument("--aws-endpoint", default=DEFAULT_AWS_ENDPOINT)
    env_json.add_argument("--payments-endpoint", default=DEFAULT_PAYMENTS_ENDPOINT)
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
    endpoint = args.endpoint_url or os.environ.get("SANDBOX_AWS_ENDPOINT") or DEFAULT_AWS_ENDPOINT
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
    aws_endpoint: str = DEFAULT_AWS_ENDPOINT,
    payments_endpoint: str = DEFAULT_PAYMENTS_ENDPOINT,
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
    """Run a command; returns the exit status (130 after Ctrl-C, the sandbox stopped, as a shell counts it)."""
    args = build_parser().parse_args(argv)
    stream: IO[str] = out or sys.stdout
    try:
        return COMMANDS[args.command](args, stream)
    except StackError as error:
        stream.write(f"error: {error}\n")
        return 2
    except KeyboardInterrupt:
        stream.write(f"\ninterrupted: {args.command} stopped (its sandbox with it)\n")
        return 130
