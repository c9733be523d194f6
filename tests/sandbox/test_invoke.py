"""``python -m sandbox invoke``: ``sam local invoke`` without Docker, run as people run it (a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from sandbox.agentcore import PaymentsApiServer
from sandbox.aws.server import MotoServer
from sandbox.aws.stack import StackSpec, deploy_stack
from sandbox.lambda_.environment import sam_local_environment
from sandbox.lambda_.invoke import InvokeError, env_var_overrides, read_function
from tests.support import EVENTS, ROOT, sqs_event, sqs_record, valid_request

SAM = ROOT / ".venv-tools" / "sam" / "bin" / "sam"
TEMPLATE = ROOT / "template.yaml"
ENV_JSON = EVENTS / "env.json"
CLOSED_PORT = "http://127.0.0.1:9"  # nothing listens: the SDK's calls fail at once

# A function of our own making, to see exactly what the handler is given.
PROBE_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Greeting:
    Type: String
    Default: hello
  Mode:
    Type: String
    Default: calm
Conditions:
  Loud: !Equals [!Ref Mode, loud]
Globals:
  Function:
    Timeout: 7
    Environment:
      Variables:
        FROM_GLOBALS: global
Resources:
  Table:
    Type: AWS::SQS::Queue
  Probe:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: code/
      Handler: probe/app.handler
      Runtime: python3.13
      MemorySize: 256
      Environment:
        Variables:
          GREETING: !If [Loud, !Sub "${Greeting}!", !Ref Greeting]
          QUEUE_URL: !Ref Table
          FROM_FILE: template
          FROM_SHELL: template
      Events:
        Requests:
          Type: SQS
          Properties:
            Queue: !GetAtt Table.Arn
  Other:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: code/
      Handler: probe/app.handler
      Runtime: python3.13
"""

PROBE_CODE = """\
import os
import sys


def handler(event, context):
    print("a log line from the handler")
    if event["Records"] and event["Records"][0].get("body") == "raise":
        raise RuntimeError("the handler raised")
    return {
        "remaining_ms": context.get_remaining_time_in_millis(),
        "memory": context.memory_limit_in_mb,
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "cwd": os.getcwd(),
        "records": len(event["Records"]),
        "environment": {name: os.environ.get(name) for name in (
            "GREETING", "QUEUE_URL", "FROM_FILE", "FROM_SHELL", "FROM_GLOBALS", "NOT_DECLARED",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_TIMEOUT", "AWS_SAM_LOCAL",
        )},
    }
"""


def invoke(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m sandbox invoke ARGS`` from the repository root, as a user types it."""
    return subprocess.run(
        [sys.executable, "-m", "sandbox", "invoke", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )


def last_line(text: str) -> Any:
    return json.loads(text.strip().splitlines()[-1])


@pytest.fixture
def probe(tmp_path: Path) -> Path:
    """The probe function's template (code next to it)."""
    (tmp_path / "code" / "probe").mkdir(parents=True)
    (tmp_path / "code" / "probe" / "app.py").write_text(PROBE_CODE, encoding="utf-8")
    template = tmp_path / "template.yaml"
    template.write_text(PROBE_TEMPLATE, encoding="utf-8")
    return template


@pytest.fixture
def event_file(tmp_path: Path) -> Path:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(sqs_event(sqs_record("hi"), sqs_record("there"))), encoding="utf-8")
    return path


@pytest.fixture
def offline_env_vars(tmp_path: Path) -> Path:
    """events/env.json with every endpoint on a closed port: the worker runs, its calls fail at once."""
    document = json.loads(ENV_JSON.read_text(encoding="utf-8"))
    (variables,) = document.values()
    variables.update({name: CLOSED_PORT for name in variables if name.startswith("AWS_ENDPOINT_URL_")})
    path = tmp_path / "env.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


# What the function is given


def test_the_handler_gets_a_lambda_context_from_the_templates_timeout_memory_and_a_request_id(probe, event_file):
    # Given the probe function (Timeout 7 from Globals, MemorySize 256)
    # When it is invoked without a logical ID (it is the only SQS-triggered function)
    result = invoke("-e", str(event_file), "--template", str(probe))

    # Then it ran in its code directory with a context counting down from 7 s, 256 MB and the request ID
    assert result.returncode == 0, result.stderr
    response = last_line(result.stdout)
    assert 6000 < response["remaining_ms"] <= 7000
    assert response["memory"] == 256
    assert response["function_name"] == "Probe"
    assert response["records"] == 2
    assert Path(response["cwd"]) == probe.parent / "code"
    assert f"START RequestId: {response['request_id']}" in result.stderr
    assert f"REPORT RequestId: {response['request_id']}" in result.stderr
    assert response["environment"]["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert response["environment"]["AWS_LAMBDA_FUNCTION_TIMEOUT"] == "7"
    assert response["environment"]["AWS_SAM_LOCAL"] == "true"


def test_the_response_is_the_only_line_of_stdout_and_the_functions_output_goes_to_stderr(probe, event_file):
    # When the probe, which prints a line, is invoked
    result = invoke("-e", str(event_file), "--template", str(probe))

    # Then stdout holds the JSON response alone; the print is on stderr
    assert result.returncode == 0
    assert len(result.stdout.strip().splitlines()) == 1
    assert "a log line from the handler" in result.stderr
    assert "a log line from the handler" not in result.stdout


def test_the_environment_takes_the_parameters_defaults_and_leaves_what_only_a_deployment_knows_empty(probe):
    # When the probe's environment is resolved with no --env-vars and an empty shell
    function = read_function(probe, shell={})

    # Then conditions and parameters take their defaults, Globals are merged, a resource's Ref is empty
    assert function.environment == {
        "FROM_GLOBALS": "global",
        "GREETING": "hello",
        "QUEUE_URL": "",
        "FROM_FILE": "template",
        "FROM_SHELL": "template",
    }
    assert (function.handler, function.timeout, function.memory_size) == ("probe/app.handler", 7, 256)


def test_env_vars_override_by_logical_id_over_parameters_over_the_shell_and_never_add_a_variable(probe):
    # Given an env-vars file with a section for every function and one for the probe, and a shell variable
    env_vars = {
        "Parameters": {"FROM_FILE": "for every function", "GREETING": "hi"},
        "Probe": {"FROM_FILE": "for the probe", "NOT_DECLARED": "x"},
    }
    shell = {"FROM_SHELL": "shell", "FROM_FILE": "shell"}

    # When the environment is resolved
    environment = read_function(probe, env_vars=env_vars, shell=shell).environment

    # Then the probe's own section wins over Parameters, which wins over the shell, which wins over the
    # template; an undeclared variable is not added (as with sam local invoke)
    assert environment["FROM_FILE"] == "for the probe"
    assert environment["GREETING"] == "hi"
    assert environment["FROM_SHELL"] == "shell"
    assert "NOT_DECLARED" not in environment


def test_the_env_vars_file_reaches_the_handler(probe, event_file, tmp_path):
    # Given an env-vars file for the probe
    env_vars = tmp_path / "vars.json"
    env_vars.write_text(json.dumps({"Probe": {"QUEUE_URL": "http://queue", "NOT_DECLARED": "x"}}), encoding="utf-8")

    # When the probe is invoked with it
    result = invoke("-e", str(event_file), "--env-vars", str(env_vars), "--template", str(probe))

    # Then the handler's process has the file's value, and not the undeclared variable
    environment = last_line(result.stdout)["environment"]
    assert environment["QUEUE_URL"] == "http://queue"
    assert environment["NOT_DECLARED"] is None


def test_a_logical_id_picks_that_function(probe, event_file):
    # When the probe's other function is named
    result = invoke("Other", "-e", str(event_file), "--template", str(probe))

    # Then it runs with its own settings (sam local's default timeout and memory)
    assert result.returncode == 0, result.stderr
    response = last_line(result.stdout)
    assert (response["function_name"], response["memory"]) == ("Other", 128)
    assert response["remaining_ms"] <= 7000


def test_a_handler_that_raises_exits_1_with_lambdas_error_document(probe, tmp_path):
    # Given an event the probe raises on
    event = tmp_path / "raise.json"
    event.write_text(json.dumps(sqs_event(sqs_record("raise"))), encoding="utf-8")

    # When it is invoked
    result = invoke("-e", str(event), "--template", str(probe))

    # Then the exit status is 1, stdout's last line is the error as Lambda reports it, the traceback on stderr
    assert result.returncode == 1
    error = last_line(result.stdout)
    assert (error["errorType"], error["errorMessage"]) == ("RuntimeError", "the handler raised")
    assert "Traceback" in result.stderr


# The worker itself


def test_the_worker_returns_its_batch_response_and_logs_on_stderr(offline_env_vars):
    # Given a valid request and no reachable service
    # When the worker of template.yaml is invoked on it
    result = invoke("-e", str(EVENTS / "sqs-valid.json"), "--env-vars", str(offline_env_vars))

    # Then it returned (exit 0), the record handed back for a retry, its JSON logs on stderr
    assert result.returncode == 0, result.stderr
    (record,) = json.loads((EVENTS / "sqs-valid.json").read_text(encoding="utf-8"))["Records"]
    assert last_line(result.stdout) == {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}
    logs = [json.loads(line) for line in result.stderr.splitlines() if line.startswith('{"level"')]
    assert logs and all(log["function_name"] == "WorkerFunction" for log in logs)
    assert {log["function_memory_size"] for log in logs} == {512}


def test_the_worker_raises_at_cold_start_without_its_required_configuration(tmp_path):
    # Given no --env-vars: the payment manager has no default and the queue URL is a deployment's
    # When the worker is invoked
    result = invoke("-e", str(EVENTS / "sqs-valid.json"))

    # Then its cold start fails naming the variables, and the exit status is 1
    assert result.returncode == 1
    error = last_line(result.stdout)
    assert error["errorType"] == "ConfigurationError"
    assert "PAYMENT_MANAGER_ARN" in error["errorMessage"]


@pytest.mark.skipif(not SAM.exists(), reason="no SAM CLI in .venv-tools (make infra-check installs it)")
def test_sam_local_generate_event_piped_into_invoke_works(offline_env_vars):
    # Given the SAM CLI's own SQS event for a valid request body (SAM pastes --body into its JSON unescaped,
    # so a JSON body is given with its quotes escaped, as a shell user types it: '{\"expiryTimeInMinutes\": 60}')
    body = json.dumps(json.dumps(valid_request()))[1:-1]
    generated = subprocess.run(
        [str(SAM), "local", "generate-event", "sqs", "receive-message", "--body", body],
        capture_output=True,
        text=True,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
        timeout=120,
        check=True,
    ).stdout

    # When it is piped into sandbox invoke with -e -
    result = invoke("-e", "-", "--env-vars", str(offline_env_vars), stdin=generated)

    # Then the worker ran on it: the record, unreachable services, is handed back for a retry
    assert result.returncode == 0, result.stderr
    (record,) = json.loads(generated)["Records"]
    assert json.loads(record["body"]) == valid_request()
    assert last_line(result.stdout) == {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}


# Bad input: one line on stderr, exit 2, nothing run


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("no such event file", "no such file"),
        ("event not JSON", "is not JSON"),
        ("event without Records", "not an SQS event: Records: Field required"),
        ("event with a record that is not one", "not an SQS event: Records.0: Input should be a valid dictionary"),
        ("event an empty object", "not an SQS event: Records: Field required"),
        ("event a list", "not an SQS event"),
        ("event with a record without its fields", "not an SQS event: Records.0.messageId: Field required (and "),
        ("event from stdin not an SQS event", "(stdin) is not an SQS event"),
        ("event from stdin not JSON", "(stdin) is not JSON"),
        ("unknown logical ID", "no function NoSuchFunction"),
        ("env-vars not an object of objects", "expected an object of objects"),
        ("env-vars a list", "expected an object of objects"),
        ("no such env-vars file", "no such file"),
        ("env-vars not JSON", "is not JSON"),
    ],
)
def test_bad_input_gets_one_clear_line_and_exit_2(tmp_path, case, expected):
    # Given a bad input of each kind
    def file(text: str) -> str:
        path = tmp_path / f"{uuid.uuid4()}.json"
        path.write_text(text, encoding="utf-8")
        return str(path)

    good = str(EVENTS / "sqs-valid.json")
    args, stdin = {
        "no such event file": (["-e", str(tmp_path / "missing.json")], None),
        "event not JSON": (["-e", file("{not json")], None),
        "event without Records": (["-e", file('{"records": []}')], None),
        "event with a record that is not one": (["-e", file('{"Records": [1]}')], None),
        "event an empty object": (["-e", file("{}")], None),
        "event a list": (["-e", file("[]")], None),
        "event with a record without its fields": (["-e", file('{"Records": [{"body": "{}"}]}')], None),
        "event from stdin not an SQS event": (["-e", "-"], '{"Records": [1]}'),
        "event from stdin not JSON": (["-e", "-"], "nope"),
        "unknown logical ID": (["NoSuchFunction", "-e", good], None),
        "env-vars not an object of objects": (["-e", good, "--env-vars", file('{"WorkerFunction": "x"}')], None),
        "env-vars a list": (["-e", good, "--env-vars", file("[]")], None),
        "no such env-vars file": (["-e", good, "--env-vars", str(tmp_path / "missing.json")], None),
        "env-vars not JSON": (["-e", good, "--env-vars", file("{")], None),
    }[case]

    # When sandbox invoke is given it
    result = invoke(*args, stdin=stdin)

    # Then it says what is wrong in one line on stderr, prints nothing on stdout, exits 2, runs nothing
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("sandbox invoke: ") and expected in line
    assert "START" not in result.stderr


def test_env_vars_with_a_value_that_is_not_an_object_are_refused():
    with pytest.raises(InvokeError):
        env_var_overrides({"Parameters": {"A": "b"}, "WorkerFunction": ["x"]}, "WorkerFunction")


# Against the sandbox: moto's server and the fake payments API


@pytest.mark.e2e
def test_invoked_against_the_sandbox_the_worker_creates_a_session(tmp_path):
    # Given template.yaml deployed into moto's server, the fake payments API, and the env-vars file for both
    with MotoServer(mode="process") as moto, PaymentsApiServer() as api:
        stack = deploy_stack(moto.endpoint_url, StackSpec(name="invoke-e2e"))
        env_vars = tmp_path / "env.json"
        document = sam_local_environment(stack, aws_endpoint=moto.endpoint_url, payments_endpoint=api.endpoint_url)
        env_vars.write_text(json.dumps(document), encoding="utf-8")
        record = sqs_record(valid_request(correlationId="invoke-e2e"))
        record["attributes"]["SentTimestamp"] = str(int(time.time() * 1000))  # a fresh request
        event = tmp_path / "event.json"
        event.write_text(json.dumps(sqs_event(record)), encoding="utf-8")

        # When the worker is invoked on a valid request
        result = invoke("-e", str(event), "--env-vars", str(env_vars))

        # Then it created one session and left nothing to retry
        assert result.returncode == 0, result.stderr
        assert last_line(result.stdout) == {"batchItemFailures": []}
        snapshot = api.snapshot()
        assert snapshot["sessions_created"] == 1
        assert '"outcome":"created"' in result.stderr
