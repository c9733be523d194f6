"""What the sandbox deployed, read back from moto: queues, the function, its event source mapping, the bus.

The sandbox runs from a :class:`DeployedStack`, never from guesses: change a property in ``template.yaml``
and what :func:`describe_stack` reads changes with it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from sandbox.aws.server import ACCOUNT_ID, DEFAULT_REGION, client
from scripts.transform import logical_id_of

DEFAULT_STACK_NAME: Final = "payment-session-worker"
TEMPLATE_ENABLED_KEY: Final = "SandboxTemplateEnabled"


class StackError(RuntimeError):
    """The template cannot be deployed into the sandbox, or the stack is not what the sandbox expects."""


@dataclass(frozen=True, slots=True)
class RedrivePolicy:
    """A queue's redrive policy: after ``max_receive_count`` receives SQS moves a message to the target."""

    dead_letter_target_arn: str
    max_receive_count: int


@dataclass(frozen=True, slots=True)
class QueueInfo:
    """An SQS queue of the stack, as moto has it."""

    logical_id: str
    name: str
    url: str
    arn: str
    visibility_timeout: int
    message_retention_period: int
    receive_wait_time: int
    delay_seconds: int
    fifo: bool
    redrive_policy: RedrivePolicy | None
    attributes: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class FunctionInfo:
    """The worker function as deployed: what the local event source needs to run it like Lambda would."""

    logical_id: str
    name: str
    arn: str
    handler: str
    runtime: str
    timeout: int
    memory_size: int
    environment: Mapping[str, str]
    code_dir: Path | None

    @property
    def module_and_attribute(self) -> tuple[str, str]:
        """``handlers/create_payment_session.lambda_handler`` -> (``handlers.create_payment_session``, ...)."""
        module, _, attribute = self.handler.rpartition(".")
        if not module or not attribute:
            raise StackError(f"function handler {self.handler!r} is not module.attribute")
        return module.replace("/", "."), attribute


@dataclass(frozen=True, slots=True)
class EventSourceMappingInfo:
    """The function's SQS event source mapping (deployed disabled in moto; the sandbox polls instead)."""

    logical_id: str
    uuid: str
    queue_arn: str
    batch_size: int
    maximum_batching_window: int
    function_response_types: tuple[str, ...]
    maximum_concurrency: int | None
    enabled_in_template: bool

    @property
    def reports_batch_item_failures(self) -> bool:
        """Whether the function's ``batchItemFailures`` are honoured (``ReportBatchItemFailures``)."""
        return "ReportBatchItemFailures" in self.function_response_types


@dataclass(frozen=True, slots=True)
class StackResource:
    logical_id: str
    resource_type: str
    physical_id: str


@dataclass(frozen=True, slots=True)
class DeployedStack:
    """The stack in moto, read back after deployment: the sandbox runs from this, never from guesses."""

    name: str
    region: str
    account_id: str
    endpoint_url: str
    parameters: Mapping[str, str]
    outputs: Mapping[str, str]
    resources: Mapping[str, StackResource]
    queues: Mapping[str, QueueInfo]
    function: FunctionInfo
    event_source: EventSourceMappingInfo
    bus_name: str
    bus_arn: str
    notes: tuple[str, ...] = ()

    @property
    def request_queue(self) -> QueueInfo:
        """The queue the function's event source mapping reads."""
        for queue in self.queues.values():
            if queue.arn == self.event_source.queue_arn:
                return queue
        raise StackError(f"no queue of the stack has the event source's ARN {self.event_source.queue_arn}")

    @property
    def dead_letter_queue(self) -> QueueInfo:
        """The request queue's redrive target (the worker's ``DEAD_LETTER_QUEUE_URL`` names the same queue)."""
        redrive = self.request_queue.redrive_policy
        if redrive is None:
            raise StackError("the request queue has no redrive policy")
        for queue in self.queues.values():
            if queue.arn == redrive.dead_letter_target_arn:
                return queue
        raise StackError(f"the redrive target {redrive.dead_letter_target_arn} is not a queue of the stack")

    @property
    def event_source_name(self) -> str:
        """``Source`` of the worker's events (``EVENT_SOURCE``, CONTRACT section 4)."""
        return self.function.environment.get("EVENT_SOURCE", "payment-session-worker")


def find_sqs_event_source(template: Mapping[str, Any]) -> tuple[str, str, str]:
    """(mapping, function, queue) logical IDs of the transformed template's SQS event source mapping."""
    resources: Mapping[str, Any] = template["Resources"]
    found: list[tuple[str, str, str]] = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Lambda::EventSourceMapping":
            continue
        properties = resource.get("Properties") or {}
        queue = logical_id_of(properties.get("EventSourceArn"))
        function = logical_id_of(properties.get("FunctionName"))
        if queue is not None and function and resources.get(queue, {}).get("Type") == "AWS::SQS::Queue":
            if resources.get(function, {}).get("Type") == "AWS::Lambda::Alias":
                function = logical_id_of(resources[function]["Properties"].get("FunctionName")) or function
            found.append((logical_id, function, queue))
    if len(found) != 1:
        raise StackError(f"expected one SQS event source mapping in the template, found {len(found)}")
    return found[0]


def _queue_info(sqs: Any, logical_id: str, url: str) -> QueueInfo:
    attributes: dict[str, str] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    redrive = None
    if "RedrivePolicy" in attributes:
        policy = json.loads(attributes["RedrivePolicy"])
        redrive = RedrivePolicy(str(policy["deadLetterTargetArn"]), int(policy["maxReceiveCount"]))
    return QueueInfo(
        logical_id=logical_id,
        name=attributes["QueueArn"].rsplit(":", 1)[-1],
        url=url,
        arn=attributes["QueueArn"],
        visibility_timeout=int(attributes.get("VisibilityTimeout", 30)),
        message_retention_period=int(attributes.get("MessageRetentionPeriod", 345600)),
        receive_wait_time=int(attributes.get("ReceiveMessageWaitTimeSeconds", 0)),
        delay_seconds=int(attributes.get("DelaySeconds", 0)),
        fifo=attributes.get("FifoQueue", "false") == "true",
        redrive_policy=redrive,
        attributes=attributes,
    )


def describe_stack(
    endpoint_url: str,
    stack_name: str = DEFAULT_STACK_NAME,
    region: str = DEFAULT_REGION,
    *,
    template: Mapping[str, Any] | None = None,
    code_dirs: Mapping[str, Path] | None = None,
    notes: tuple[str, ...] = (),
) -> DeployedStack:
    """Read a deployed stack back from moto (also used to attach to a running sandbox).

    ``template`` is the one deployed (else read back from moto); ``code_dirs`` the local code of each function.
    """
    cloudformation = client("cloudformation", endpoint_url, region)
    stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    if not stacks:
        raise StackError(f"no stack {stack_name} at {endpoint_url}")
    stack = stacks[0]
    if template is None:
        body = cloudformation.get_template(StackName=stack_name)["TemplateBody"]
        template = json.loads(body) if isinstance(body, str) else body
    assert template is not None
    resources = _stack_resources(cloudformation, stack_name)
    sqs = client("sqs", endpoint_url, region)
    queues = {
        r.logical_id: _queue_info(sqs, r.logical_id, r.physical_id)
        for r in resources.values()
        if r.resource_type == "AWS::SQS::Queue"
    }
    mapping_id, function_id, _queue_id = find_sqs_event_source(template)
    lambda_client = client("lambda", endpoint_url, region)
    function = _function_info(lambda_client, function_id, resources[function_id].physical_id, code_dirs)
    event_source = _event_source_info(lambda_client, mapping_id, resources[mapping_id].physical_id, template)
    bus_name = function.environment.get("EVENT_BUS_NAME", "default")
    bus = client("events", endpoint_url, region).describe_event_bus(Name=bus_name)
    return DeployedStack(
        name=stack_name,
        region=region,
        account_id=ACCOUNT_ID,
        endpoint_url=endpoint_url,
        parameters={p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])},
        outputs={o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
        resources=resources,
        queues=queues,
        function=function,
        event_source=event_source,
        bus_name=bus["Name"],
        bus_arn=bus["Arn"],
        notes=notes,
    )


def _stack_resources(cloudformation: Any, stack_name: str) -> dict[str, StackResource]:
    """Every resource of the stack, by logical ID."""
    summaries: list[dict[str, Any]] = []
    paginator = cloudformation.get_paginator("list_stack_resources")
    for page in paginator.paginate(StackName=stack_name):
        summaries.extend(page["StackResourceSummaries"])
    return {
        s["LogicalResourceId"]: StackResource(
            s["LogicalResourceId"], s["ResourceType"], s.get("PhysicalResourceId", "")
        )
        for s in summaries
    }


def _function_info(
    lambda_client: Any, logical_id: str, physical_id: str, code_dirs: Mapping[str, Path] | None
) -> FunctionInfo:
    """The function as Lambda (moto) has it configured, with its local code directory."""
    configuration = lambda_client.get_function_configuration(FunctionName=physical_id)
    return FunctionInfo(
        logical_id=logical_id,
        name=configuration["FunctionName"],
        arn=configuration["FunctionArn"],
        handler=configuration["Handler"],
        runtime=configuration.get("Runtime", ""),
        timeout=int(configuration.get("Timeout", 3)),
        memory_size=int(configuration.get("MemorySize", 128)),
        environment={k: str(v) for k, v in (configuration.get("Environment") or {}).get("Variables", {}).items()},
        code_dir=(code_dirs or {}).get(logical_id),
    )


def _event_source_info(
    lambda_client: Any, logical_id: str, uuid: str, template: Mapping[str, Any]
) -> EventSourceMappingInfo:
    """The SQS event source mapping as Lambda (moto) has it, and whether the template enables it."""
    mapping = lambda_client.get_event_source_mapping(UUID=uuid)
    metadata = template["Resources"][logical_id].get("Metadata") or {}
    return EventSourceMappingInfo(
        logical_id=logical_id,
        uuid=mapping["UUID"],
        queue_arn=mapping["EventSourceArn"],
        batch_size=int(mapping.get("BatchSize", 10)),
        maximum_batching_window=int(mapping.get("MaximumBatchingWindowInSeconds", 0)),
        function_response_types=tuple(mapping.get("FunctionResponseTypes") or ()),
        maximum_concurrency=(mapping.get("ScalingConfig") or {}).get("MaximumConcurrency"),
        enabled_in_template=str(metadata.get(TEMPLATE_ENABLED_KEY, True)).lower() != "false",
    )
