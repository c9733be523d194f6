"""``python -m sandbox invoke``: the Docker-free twin of ``sam local invoke``.

    python -m sandbox invoke [LOGICAL_ID] -e FILE|- [--env-vars FILE] [--template FILE]

It reads the function from ``template.yaml`` as ``sam local invoke`` does: the only SQS-triggered function
when no logical ID is given; its ``Handler``, ``Timeout``, ``MemorySize``, ``CodeUri`` and environment with
the parameters' defaults (SAM's ``Globals`` included). Each variable the template declares takes, from
highest priority: the ``--env-vars`` file (SAM's format: ``{"LogicalId": {...}}``, or ``{"Parameters": {...}}``
for every function), the shell's environment, the template's value. As with SAM, a file cannot add a variable
the template does not declare, and a value only a deployment knows (a resource's ``Ref`` or ``GetAtt``)
is empty (SAM gives some of them the logical ID instead; ``events/env.json`` sets all of them).

The real handler runs in a fresh Python process (``sandbox.lambda_.invoke_child``) in its code directory, with
Lambda's variables and a Lambda-like context (remaining time from the timeout, memory size, request ID).
The handler's JSON response is the last line of stdout; the function's logs go to stderr, between
``START``/``END``/``REPORT`` lines. Exit status: 0 the handler returned, 1 it raised (or timed out), 2 bad input.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

from aws_lambda_powertools.utilities.parser.models import SqsModel
from pydantic import ValidationError

from sandbox.aws.stack import DEFAULT_TEMPLATE, ROOT, StackError
from sandbox.aws.template_values import NO_VALUE, Evaluator, Unresolved, parameter_values
from scripts.transform import load as load_template

SERVERLESS_FUNCTION: Final = "AWS::Serverless::Function"
# sam local's defaults for a function that does not set them.
DEFAULT_TIMEOUT: Final = 3
DEFAULT_MEMORY: Final = 128
# Lambda gives a function's init phase 10 s of its own before the handler's timeout starts counting.
INIT_SECONDS: Final = 10
# `sam local`'s stand-in credentials when none are configured (the SDK still signs its requests).
PLACEHOLDER_CREDENTIALS: Final = {"AWS_ACCESS_KEY_ID": "defaultkey", "AWS_SECRET_ACCESS_KEY": "defaultsecret"}


class InvokeError(ValueError):
    """Bad input: one clear line, exit status 2."""


@dataclass(frozen=True, slots=True)
class FunctionSettings:
    """A function of the template as ``sam local invoke`` runs it."""

    logical_id: str
    handler: str
    timeout: int
    memory_size: int
    code_dir: Path
    environment: Mapping[str, str]


# ---------------------------------------------------------------------------------------------------------
# Reading the inputs
# ---------------------------------------------------------------------------------------------------------


def _functions(template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in template["Resources"].items()
        if isinstance(resource, dict) and resource.get("Type") == SERVERLESS_FUNCTION
    }


def _sqs_triggered(resource: Mapping[str, Any]) -> bool:
    events = (resource.get("Properties") or {}).get("Events") or {}
    return any(isinstance(e, dict) and e.get("Type") == "SQS" for e in events.values())


def choose_function(template: Mapping[str, Any], logical_id: str | None) -> str:
    """``logical_id`` when the template has that function, else the only SQS-triggered one."""
    functions = _functions(template)
    if logical_id is not None:
        if logical_id not in functions:
            raise InvokeError(f"template has no function {logical_id} (its functions: {', '.join(functions) or '-'})")
        return logical_id
    triggered = [name for name, resource in functions.items() if _sqs_triggered(resource)]
    if len(triggered) != 1:
        raise InvokeError(
            f"give the function's logical ID: the template has {len(triggered)} SQS-triggered functions"
            f" ({', '.join(triggered) or '-'})"
        )
    return triggered[0]


def _properties(template: Mapping[str, Any], logical_id: str) -> dict[str, Any]:
    """The function's properties with SAM's ``Globals.Function`` under them (variables merged)."""
    defaults = copy.deepcopy(((template.get("Globals") or {}).get("Function")) or {})
    own = copy.deepcopy(template["Resources"][logical_id].get("Properties") or {})
    variables = {
        **((defaults.get("Environment") or {}).get("Variables") or {}),
        **((own.get("Environment") or {}).get("Variables") or {}),
    }
    properties = {**defaults, **own}
    properties["Environment"] = {"Variables": variables}
    return properties


def _text(value: Any) -> str:
    """A resolved value as a Lambda variable (``sam local``: booleans lowercase, a structure empty)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is NO_VALUE or isinstance(value, dict | list):
        return ""
    return str(value)


def _resolved(evaluator: Evaluator, value: Any) -> Any:
    try:
        return evaluator.value(value)
    except Unresolved:
        return NO_VALUE


def env_var_overrides(document: Any, logical_id: str) -> dict[str, str]:
    """The ``--env-vars`` values for ``logical_id``: ``Parameters`` (all functions), then its own section."""
    if not isinstance(document, dict) or not all(isinstance(v, dict) for v in document.values()):
        raise InvokeError('--env-vars: expected an object of objects, e.g. {"WorkerFunction": {"NAME": "value"}}')
    return {
        name: _text(value) for name, value in {**document.get("Parameters", {}), **document.get(logical_id, {})}.items()
    }


def read_function(
    template_path: Path,
    logical_id: str | None = None,
    *,
    env_vars: Any = None,
    shell: Mapping[str, str] | None = None,
) -> FunctionSettings:
    """The function's settings and environment, resolved as ``sam local invoke`` resolves them."""
    try:
        template = load_template(template_path)
    except (OSError, StackError, ValueError) as error:
        raise InvokeError(f"template {template_path}: {error}") from None
    chosen = choose_function(template, logical_id)
    properties = _properties(template, chosen)
    evaluator = Evaluator(template, parameter_values(template))
    overrides = env_var_overrides(env_vars if env_vars is not None else {}, chosen)
    shell = os.environ if shell is None else shell
    environment: dict[str, str] = {}
    for name, value in properties["Environment"]["Variables"].items():
        if name in overrides:
            environment[name] = overrides[name]
        elif name in shell:
            environment[name] = shell[name]
        else:
            environment[name] = _text(_resolved(evaluator, value))
    handler = _text(_resolved(evaluator, properties.get("Handler")))
    if not handler or "." not in handler:
        raise InvokeError(f"{chosen}: Handler {properties.get('Handler')!r} is not module.function")
    code_uri = _text(_resolved(evaluator, properties.get("CodeUri", ".")))
    code_dir = (template_path.parent / code_uri).resolve()
    if not code_dir.is_dir():
        raise InvokeError(f"{chosen}: CodeUri {code_uri!r} is not a directory next to the template")
    timeout = _resolved(evaluator, properties.get("Timeout", DEFAULT_TIMEOUT))
    memory = _resolved(evaluator, properties.get("MemorySize", DEFAULT_MEMORY))
    return FunctionSettings(
        logical_id=chosen,
        handler=handler,
        timeout=int(timeout) if timeout is not NO_VALUE else DEFAULT_TIMEOUT,
        memory_size=int(memory) if memory is not NO_VALUE else DEFAULT_MEMORY,
        code_dir=code_dir,
        environment=environment,
    )


def _read_json(source: str, what: str, stdin: IO[str]) -> Any:
    try:
        text = stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvokeError(f"{what} {source}: no such file") from None
    except OSError as error:
        raise InvokeError(f"{what} {source}: {error.strerror or error}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InvokeError(f"{what} {'(stdin)' if source == '-' else source} is not JSON: {error}") from None


def read_event(source: str, stdin: IO[str]) -> dict[str, Any]:
    """The SQS event of ``-e`` (``-`` reads stdin), as Lambda's SQS event source shapes it: Powertools'
    ``SqsModel`` (a ``Records`` list of SQS records, each with its message ID, body, attributes...)."""
    event = _read_json(source, "event", stdin)
    try:
        SqsModel.model_validate(event)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the event"
        more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
        raise InvokeError(
            f"event {'(stdin)' if source == '-' else source} is not an SQS event: {where}: {first['msg']}{more}"
        ) from None
    return dict(event)


# ---------------------------------------------------------------------------------------------------------
# Running it
# ---------------------------------------------------------------------------------------------------------


def lambda_environment(function: FunctionSettings, shell: Mapping[str, str]) -> dict[str, str]:
    """The child's environment: the shell's, Lambda's own variables (as ``sam local`` sets them), the function's."""
    region = shell.get("AWS_REGION") or shell.get("AWS_DEFAULT_REGION") or "us-east-1"
    environment = dict(shell)
    environment.update(
        {
            "AWS_SAM_LOCAL": "true",  # what sam local sets; Powertools then leaves tracing off
            "AWS_LAMBDA_FUNCTION_NAME": function.logical_id,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(function.timeout),
            "AWS_LAMBDA_FUNCTION_HANDLER": function.handler,
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.logical_id}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "$LATEST",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "PYTHONPATH": os.pathsep.join(p for p in (str(function.code_dir), str(ROOT), shell.get("PYTHONPATH")) if p),
        }
    )
    if not _has_credentials(shell):
        environment.update(PLACEHOLDER_CREDENTIALS)
    environment.update(function.environment)
    return environment


def _has_credentials(shell: Mapping[str, str]) -> bool:
    if shell.get("AWS_ACCESS_KEY_ID"):
        return True
    import boto3  # only when needed: the shell usually decides

    try:
        session = boto3.session.Session(profile_name=shell.get("AWS_PROFILE") or None)
        return session.get_credentials() is not None
    except Exception:  # noqa: BLE001 - a broken profile: the placeholders, as sam local falls back to
        return False


def run(function: FunctionSettings, event: Mapping[str, Any], out: IO[str], err: IO[str]) -> int:
    """Invoke ``function`` with ``event`` in a fresh process; the response on ``out``, logs on stderr."""
    request_id = str(uuid.uuid4())
    err.write(f"START RequestId: {request_id} Version: $LATEST\n")
    err.flush()
    started = time.monotonic()
    command = [
        sys.executable,
        "-m",
        "sandbox.lambda_.invoke_child",
        function.handler,
        str(function.timeout),
        str(function.memory_size),
        function.logical_id,
        request_id,
    ]
    try:
        child = subprocess.run(
            command,
            input=json.dumps(event),
            stdout=subprocess.PIPE,
            cwd=function.code_dir,
            env=lambda_environment(function, os.environ),
            text=True,
            timeout=INIT_SECONDS + function.timeout + 5,
            check=False,
        )
        status, response = child.returncode, child.stdout
    except subprocess.TimeoutExpired:
        status = 1
        message = f"Task timed out after {function.timeout:.2f} seconds (init included)"
        response = json.dumps({"errorMessage": message, "errorType": "Sandbox.Timedout", "requestId": request_id})
    duration_ms = (time.monotonic() - started) * 1000
    max_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    err.write(f"END RequestId: {request_id}\n")
    err.write(
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms (process start and init included)"
        f"\tMemory Size: {function.memory_size} MB\tMax Memory Used: {max_rss_mb:.0f} MB\n"
    )
    err.flush()
    out.write(response if response.endswith("\n") or not response else response + "\n")
    out.flush()
    return 0 if status == 0 else 1


# ---------------------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------------------


def add_parser(commands: Any) -> None:
    """Register ``invoke`` on the sandbox's subcommands."""
    parser = commands.add_parser(
        "invoke",
        help="the handler of template.yaml on one event in a fresh process, like sam local invoke (no Docker)",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    parser.add_argument("logical_id", nargs="?", default=None, help="the function (default: the SQS-triggered one)")
    parser.add_argument("-e", "--event", required=True, help="the SQS event, a JSON file; - reads stdin")
    parser.add_argument("-n", "--env-vars", default=None, help="variables in sam local's format (events/env.json)")
    parser.add_argument("-t", "--template", type=Path, default=DEFAULT_TEMPLATE, help="default template.yaml")


def cmd_invoke(args: argparse.Namespace, out: IO[str]) -> int:
    """``invoke``: exit 0 the handler returned, 1 it raised, 2 bad input (one line on stderr)."""
    try:
        event = read_event(args.event, sys.stdin)
        env_vars = _read_json(args.env_vars, "--env-vars", sys.stdin) if args.env_vars else None
        function = read_function(args.template, args.logical_id, env_vars=env_vars)
    except InvokeError as error:
        sys.stderr.write(f"sandbox invoke: {error}\n")
        return 2
    return run(function, event, out, sys.stderr)
