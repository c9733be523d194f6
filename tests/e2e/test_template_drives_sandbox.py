"""The sandbox is template.yaml itself: what is deployed in moto is what the template says, and follows it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sandbox.aws.server import MotoServer
from sandbox.aws.stack import DEFAULT_TEMPLATE, ROOT, StackSpec, deploy_stack
from sandbox.aws.template_values import Evaluator, parameter_values
from sandbox.cli import ENV_JSON, sandbox_env_json
from sandbox.lambda_.event_source import SqsEventSource
from scripts.transform import load

pytestmark = pytest.mark.e2e


def resolved(template: dict[str, Any], value: Any) -> Any:
    """A property's value with the parameters at their defaults (``Ref``, ``Fn::FindInMap``... evaluated)."""
    return Evaluator(template, parameter_values(template)).value(value)


def the(template: dict[str, Any], resource_type: str, having: str | None = None) -> dict[str, Any]:
    """The properties of the template's one resource of ``resource_type`` (with property ``having``)."""
    (found,) = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == resource_type and (having is None or having in r["Properties"])
    ]
    properties: dict[str, Any] = found
    return properties


def request_queue(template: dict[str, Any]) -> dict[str, Any]:
    return the(template, "AWS::SQS::Queue", having="RedrivePolicy")


def copy_of_template(tmp_path: Path, template: dict[str, Any]) -> Path:
    """``template`` written as JSON next to nothing: its CodeUri made absolute so it still packages src/."""
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = str(ROOT / resource["Properties"]["CodeUri"])
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template), encoding="utf-8")
    return path


def test_the_deployed_queues_function_and_event_source_are_those_of_template_yaml(moto_server: MotoServer):
    # Given template.yaml as written
    template = load(DEFAULT_TEMPLATE)
    queue = request_queue(template)
    function = the(template, "AWS::Serverless::Function")
    (event,) = function["Events"].values()

    # When the sandbox deploys it untouched
    stack = deploy_stack(moto_server.endpoint_url, StackSpec(name="e2e-as-written"))

    # Then the request queue, its redrive policy, the function and its event source are the template's
    deployed = stack.request_queue
    assert deployed.visibility_timeout == resolved(template, queue["VisibilityTimeout"])
    assert deployed.message_retention_period == resolved(template, queue["MessageRetentionPeriod"])
    assert deployed.receive_wait_time == resolved(template, queue.get("ReceiveMessageWaitTimeSeconds", 0))
    assert deployed.redrive_policy is not None
    max_receive_count = int(resolved(template, queue["RedrivePolicy"]["maxReceiveCount"]))
    assert deployed.redrive_policy.max_receive_count == max_receive_count
    assert stack.dead_letter_queue.url == stack.function.environment["DEAD_LETTER_QUEUE_URL"]
    assert stack.function.timeout == resolved(template, function["Timeout"])
    assert stack.function.handler == function["Handler"]
    assert stack.event_source.batch_size == int(resolved(template, event["Properties"]["BatchSize"]))
    assert stack.event_source.reports_batch_item_failures
    assert stack.bus_name == stack.function.environment["EVENT_BUS_NAME"]


def test_changing_a_queue_property_in_the_template_changes_the_sandbox(moto_server: MotoServer, tmp_path: Path):
    # Given a copy of template.yaml with another visibility timeout and another maxReceiveCount
    template = load(DEFAULT_TEMPLATE)
    queue = request_queue(template)
    visibility_timeout = int(resolved(template, queue["VisibilityTimeout"])) + 17
    queue["VisibilityTimeout"] = visibility_timeout
    # (the queue's count follows the MaxReceiveCount parameter: change the parameter's default)
    template["Parameters"]["MaxReceiveCount"]["Default"] = int(template["Parameters"]["MaxReceiveCount"]["Default"]) + 2
    max_receive_count = int(resolved(template, queue["RedrivePolicy"]["maxReceiveCount"]))
    function = the(template, "AWS::Serverless::Function")
    workers_max_receive_count = resolved(template, function["Environment"]["Variables"]["MAX_RECEIVE_COUNT"])
    path = copy_of_template(tmp_path, template)

    # When the sandbox deploys the copy and an event source is built on it
    stack = deploy_stack(moto_server.endpoint_url, StackSpec(template_path=path, name="e2e-changed-queue"))
    source = SqsEventSource(stack, payments_endpoint="http://127.0.0.1:9")

    # Then moto's queue has the new values, and the event source leaves the visibility timeout to the queue
    assert stack.request_queue.visibility_timeout == visibility_timeout
    assert stack.request_queue.redrive_policy is not None
    assert stack.request_queue.redrive_policy.max_receive_count == max_receive_count
    assert source.visibility_timeout is None
    # ... and, since the template ties the two together, the worker's MAX_RECEIVE_COUNT followed
    assert source.environment["MAX_RECEIVE_COUNT"] == str(workers_max_receive_count)


def test_events_env_json_points_sam_local_invoke_at_the_sandbox_that_up_deploys(moto_server: MotoServer):
    # Given the --env-vars file in the repository
    committed = ENV_JSON.read_text(encoding="utf-8")

    # When the sandbox regenerates it from template.yaml as `up` deploys it
    generated = sandbox_env_json(moto=moto_server)

    # Then they agree (if not: python -m sandbox env-json --write)
    assert json.loads(committed) == json.loads(generated)
    (variables,) = json.loads(committed).values()
    assert variables["AWS_ENDPOINT_URL_SQS"] == "http://127.0.0.1:4566"
    assert variables["AWS_ENDPOINT_URL_BEDROCK_AGENTCORE"] == "http://127.0.0.1:4599"
