"""events/env.json and ``sandbox invoke`` checked against the SAM CLI's own code.

The SAM CLI of .venv-tools resolves the function of template.yaml (its parameters' defaults, intrinsic
functions) and applies ``--env-vars`` documents exactly as ``sam local invoke`` does before it starts a
container: its ``LocalLambdaRunner.get_invoke_config``, run in the SAM CLI's own Python (a subprocess).
"""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import pytest

from sandbox.lambda_.invoke import read_function
from tests.support import EVENTS, ROOT

SAM_PYTHON = ROOT / ".venv-tools" / "sam" / "bin" / "python"
TEMPLATE = ROOT / "template.yaml"
ENV_JSON = json.loads((EVENTS / "env.json").read_text(encoding="utf-8"))
FUNCTION = "WorkerFunction"

# Run by the SAM CLI's Python: for each env-vars document on stdin, the function's invoke configuration.
SAM_RESOLVE = """
import json, sys
from samcli.commands.local.lib.local_lambda import LocalLambdaRunner
from samcli.lib.providers.sam_function_provider import SamFunctionProvider
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

template, function = sys.argv[1], sys.argv[2]
stacks, _ = SamLocalStackProvider.get_stacks(template, parameter_overrides={})
provider = SamFunctionProvider(stacks)
results = []
for env_vars in json.load(sys.stdin):
    runner = LocalLambdaRunner(
        local_runtime=None, function_provider=provider, cwd=".", real_path=".", env_vars_values=env_vars
    )
    config = runner.get_invoke_config(runner.get_function(function))
    results.append(
        {"handler": config.handler, "timeout": config.timeout, "memory": config.memory,
         "environment": config.env_vars.resolve(), "declared": sorted(config.env_vars.variables)}
    )
json.dump(results, sys.stdout)
"""

SANDBOX_VARIABLES = ENV_JSON[FUNCTION]
DOCUMENTS = {
    "none": {},
    "env.json": ENV_JSON,
    # For every function: env.json's values, another log level, a variable the template does not declare.
    "Parameters only": {"Parameters": {**SANDBOX_VARIABLES, "POWERTOOLS_LOG_LEVEL": "DEBUG", "NOT_DECLARED": "x"}},
    # The function's own section wins over Parameters.
    "both": {"Parameters": {**SANDBOX_VARIABLES, "MAX_CONCURRENCY": "3"}, FUNCTION: {"MAX_CONCURRENCY": "4"}},
}


@pytest.fixture(scope="module")
def sam() -> dict[str, dict[str, Any]]:
    """What `sam local invoke` resolves for each of DOCUMENTS (an empty shell environment)."""
    if not SAM_PYTHON.exists():
        pytest.skip("no SAM CLI in .venv-tools (make infra-check installs it)")
    completed = subprocess.run(
        [str(SAM_PYTHON), "-c", SAM_RESOLVE, str(TEMPLATE), FUNCTION],
        input=json.dumps(list(DOCUMENTS.values())),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", ""), "SAM_CLI_TELEMETRY": "0", "HOME": os.environ.get("HOME", "/")},
        timeout=300,
        check=True,
    )
    return dict(zip(DOCUMENTS, json.loads(completed.stdout), strict=True))


def declared(result: dict[str, Any]) -> dict[str, str]:
    """The function's own variables of a SAM result (without the AWS_LAMBDA_* ones SAM adds)."""
    return {name: result["environment"][name] for name in result["declared"]}


def test_every_variable_of_env_json_is_one_the_template_declares(sam):
    # Given the variables of events/env.json and those the template declares (sam local applies no others)
    (variables,) = ENV_JSON.values()

    # Then each variable of the file takes effect, and the file sets every declared one
    assert list(ENV_JSON) == [FUNCTION]
    assert set(variables) == set(sam["env.json"]["declared"])


def test_sam_local_invoke_gives_the_function_env_jsons_values_pointing_at_the_sandbox(sam):
    # Given what sam local invoke --env-vars events/env.json sets in the function's container
    environment = sam["env.json"]["environment"]
    (variables,) = ENV_JSON.values()

    # Then it is the file's value for every variable: the sandbox's endpoints, queue and bus
    assert {name: environment[name] for name in variables} == variables
    assert environment["AWS_ENDPOINT_URL_SQS"] == environment["AWS_ENDPOINT_URL_EVENTBRIDGE"] == "http://127.0.0.1:4566"
    assert environment["AWS_ENDPOINT_URL_BEDROCK_AGENTCORE"] == "http://127.0.0.1:4599"
    assert environment["MAX_RECEIVE_COUNT"] == "5"
    # and the age check off, since sample and generated events carry fixed SentTimestamps
    assert environment["MAX_REQUEST_AGE_MINUTES"] == "0"


@pytest.mark.parametrize("document", ["env.json", "Parameters only", "both"])
def test_sandbox_invoke_resolves_the_function_as_sam_local_invoke_does(sam, document):
    # Given what the SAM CLI resolves for an env-vars document
    expected = sam[document]

    # When sandbox invoke resolves the same template and document (an empty shell too)
    function = read_function(TEMPLATE, env_vars=DOCUMENTS[document], shell={})

    # Then handler, timeout, memory and every variable agree
    assert (function.handler, function.timeout, function.memory_size) == (
        expected["handler"],
        expected["timeout"],
        expected["memory"],
    )
    assert dict(function.environment) == declared(expected)


def test_without_env_vars_the_two_agree_except_where_only_a_deployment_knows_the_value(sam):
    # Given the function resolved by both with no --env-vars
    ours = dict(read_function(TEMPLATE, env_vars={}, shell={}).environment)
    theirs = declared(sam["none"])

    # Then every variable the parameters' defaults decide is the same; a value that needs the deployed
    # stack (a resource, the required PaymentManagerArn) is empty for sandbox invoke, while SAM gives
    # some of them the logical ID
    differing = {name for name in ours if ours[name] != theirs[name]}
    assert all(ours[name] == "" for name in differing)
    assert differing <= {"PAYMENT_MANAGER_ARN", "DEAD_LETTER_QUEUE_URL", "EVENT_BUS_NAME", "IDEMPOTENCY_TABLE_NAME"}
    assert ours["MAX_RECEIVE_COUNT"] == theirs["MAX_RECEIVE_COUNT"] == "5"
    assert ours["MAX_REQUEST_AGE_MINUTES"] == theirs["MAX_REQUEST_AGE_MINUTES"] == "1440"
