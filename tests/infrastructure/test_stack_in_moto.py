"""The transformed stack deploys into moto's CloudFormation and resolves to what the worker expects."""

from __future__ import annotations

import ast
import copy
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from handlers.settings import load_settings
from scripts.transform import drop_unsupported, map_keys_as_strings
from tests.support import MANAGER_ARN, OTHER_MANAGER_ARN

BUCKET, KEY = "payment-session-worker-artifacts", "worker.zip"
THIRD_MANAGER_ARN = "arn:aws:bedrock-agentcore:us-east-1:123456789012:payment-manager/third-manager-q1w2e3r4t5"
# What moto's CloudFormation cannot create today (docs/SANDBOX.md says so): none is needed to run the worker
# (the event source mapping of the dropped live alias names the function instead).
MOTO_GAPS = frozenset(
    {
        "AWS::EventSchemas::Registry",
        "AWS::EventSchemas::Schema",
        "AWS::CloudWatch::Alarm",
        "AWS::SQS::QueuePolicy",
        "AWS::SNS::Subscription",
        "AWS::Events::EventBusPolicy",
        "AWS::Lambda::Alias",
        "AWS::CodeDeploy::Application",
        "AWS::CodeDeploy::DeploymentGroup",
    }
)


def for_moto(transformed: dict[str, Any]) -> dict[str, Any]:
    kept = copy.deepcopy(transformed)
    drop_unsupported(kept)
    map_keys_as_strings(kept)
    return kept


def code_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handlers/create_payment_session.py", "def lambda_handler(event, context): ...\n")
    return buffer.getvalue()


class Stack:
    """A stack deployed in moto, with its outputs and the clients to look at what it made."""

    def __init__(self, outputs: dict[str, str], resources: dict[str, str]) -> None:
        self.outputs = outputs
        self.resources = resources
        self.sqs = boto3.client("sqs", region_name="us-east-1")
        self.awslambda = boto3.client("lambda", region_name="us-east-1")
        self.iam = boto3.client("iam", region_name="us-east-1")

    def queue(self, url_output: str) -> dict[str, str]:
        url = self.outputs[url_output]
        attributes: dict[str, str] = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        return attributes

    def environment(self) -> dict[str, str]:
        config = self.awslambda.get_function_configuration(FunctionName=self.outputs["FunctionName"])
        # CloudFormation passes Number parameters as strings to Lambda; moto keeps them as numbers.
        return {name: str(value) for name, value in config["Environment"]["Variables"].items()}

    def policy_statements(self) -> dict[str, dict[str, Any]]:
        role = self.resources["WorkerRole"]
        (name,) = self.iam.list_role_policies(RoleName=role)["PolicyNames"]
        document = self.iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        if isinstance(document, str):
            # moto stores a CloudFormation inline policy as the repr of its dict, not as JSON.
            document = ast.literal_eval(document)
        return {statement["Sid"]: statement for statement in document["Statement"]}


@pytest.fixture(scope="module")
def deploy(transformed: dict[str, Any]) -> Iterator[Callable[..., Stack]]:
    """Deploy the transformed template into moto with the given parameters (PaymentManagerArn preset).

    One moto for the module; a stack per distinct set of parameters, reused by the tests that read it.
    """
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key=KEY, Body=code_zip())
        cloudformation = boto3.client("cloudformation", region_name="us-east-1")
        body = json.dumps(for_moto(transformed))
        stacks: dict[tuple[tuple[str, str], ...], Stack] = {}

        def create(**parameters: str) -> Stack:
            values = {"PaymentManagerArn": MANAGER_ARN, **parameters}
            cache_key = tuple(sorted(values.items()))
            if cache_key in stacks:
                return stacks[cache_key]
            name = f"payment-session-worker-{len(stacks) + 1}"
            cloudformation.create_stack(
                StackName=name,
                TemplateBody=body,
                Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()],
                Capabilities=["CAPABILITY_IAM"],
            )
            (stack,) = cloudformation.describe_stacks(StackName=name)["Stacks"]
            assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
            summaries = cloudformation.list_stack_resources(StackName=name)["StackResourceSummaries"]
            stacks[cache_key] = Stack(
                {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]},
                {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in summaries},
            )
            return stacks[cache_key]

        yield create


def test_for_moto_only_what_it_cannot_create_is_left_out(transformed):
    # Given the transformed template less what moto's own registry says it cannot create
    kept = for_moto(transformed)

    # Then every queue, the bus, the key, the log group, the role, the function and its mapping remain
    # (when moto gains one of the gaps, this fails: say so in docs/SANDBOX.md and update MOTO_GAPS)
    dropped = set(transformed["Resources"]) - set(kept["Resources"])
    assert {transformed["Resources"][name]["Type"] for name in dropped} == MOTO_GAPS
    assert set(transformed["Outputs"]) - set(kept["Outputs"]) == {"SchemaRegistryName"}


def test_with_defaults_the_stack_deploys_and_wires_queues_key_bus_and_function(deploy):
    # Given the stack deployed with only the required parameter
    stack = deploy()

    # Then the request queue redrives to the DLQ after 5 + 3 receives, both encrypted with the stack's key
    requests = stack.queue("RequestQueueUrl")
    dead_letters = stack.queue("DeadLetterQueueUrl")
    key_id = stack.outputs["KeyArn"].rsplit("/", 1)[-1]
    assert json.loads(requests["RedrivePolicy"]) == {
        "deadLetterTargetArn": stack.outputs["DeadLetterQueueArn"],
        "maxReceiveCount": 8,
    }
    assert "FifoQueue" not in requests
    assert requests["VisibilityTimeout"] == "200"
    for queue in (requests, dead_letters):
        assert queue["MessageRetentionPeriod"] == "1209600"
        assert queue["KmsMasterKeyId"] == key_id

    # And the function's environment names the stack's own DLQ and bus, and passes the worker's cold start
    environment = stack.environment()
    assert environment["DEAD_LETTER_QUEUE_URL"] == stack.outputs["DeadLetterQueueUrl"]
    assert environment["EVENT_BUS_NAME"] == stack.outputs["EventBusName"]
    assert environment["MAX_RECEIVE_COUNT"] == "5"
    assert environment["MAX_REQUEST_AGE_MINUTES"] == "1440"
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        settings = load_settings()
    assert settings.payment_manager_arn == MANAGER_ARN
    assert settings.allowed_payment_manager_arns == frozenset()


def test_with_defaults_the_event_source_and_concurrency_match_the_parameters(deploy):
    # Given the stack deployed with defaults
    stack = deploy()
    function = stack.outputs["FunctionName"]

    # Then the mapping polls the request queue in batches of 10, reporting item failures, at most 5 at once
    (mapping,) = stack.awslambda.list_event_source_mappings(FunctionName=function)["EventSourceMappings"]
    assert mapping["EventSourceArn"] == stack.outputs["RequestQueueArn"]
    assert mapping["BatchSize"] == 10
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 5}
    # And the function reserves that concurrency
    assert stack.awslambda.get_function_concurrency(FunctionName=function)["ReservedConcurrentExecutions"] == 5


@pytest.mark.parametrize("max_receive_count", [1, 3, 100])
def test_one_max_receive_count_sets_the_worker_and_a_redrive_three_receives_later(deploy, max_receive_count):
    # Given the stack deployed with a MaxReceiveCount
    stack = deploy(MaxReceiveCount=str(max_receive_count))

    # Then the worker dead-letters on that receive, and SQS moves a message itself three receives later
    assert stack.environment()["MAX_RECEIVE_COUNT"] == str(max_receive_count)
    redrive = json.loads(stack.queue("RequestQueueUrl")["RedrivePolicy"])
    assert redrive["maxReceiveCount"] == max_receive_count + 3


def test_the_request_age_limit_reaches_the_worker(deploy):
    # Given the stack deployed with the age check off
    stack = deploy(MaxRequestAgeMinutes="0")

    # Then the worker's MAX_REQUEST_AGE_MINUTES is 0
    assert stack.environment()["MAX_REQUEST_AGE_MINUTES"] == "0"


def test_with_fifo_both_queues_are_fifo_named_so_and_deduplicated_by_the_producers_ids(deploy):
    # Given the stack deployed with FifoQueues
    stack = deploy(FifoQueues="true")

    # Then both queues are FIFO, their names end in .fifo, content-based deduplication is off
    for output, name in (("RequestQueueUrl", "requests.fifo"), ("DeadLetterQueueUrl", "dead-letters.fifo")):
        attributes = stack.queue(output)
        assert re.search(rf"-{name.removesuffix('.fifo')}-[0-9a-f]{{8}}\.fifo$", attributes["QueueArn"])
        assert attributes["FifoQueue"] == "true"
        assert attributes["ContentBasedDeduplication"] == "false"
    # And the request queue still redrives to the (FIFO) DLQ, three receives after the worker's last
    redrive = json.loads(stack.queue("RequestQueueUrl")["RedrivePolicy"])
    assert redrive == {"deadLetterTargetArn": stack.outputs["DeadLetterQueueArn"], "maxReceiveCount": 8}
    assert stack.environment()["DEAD_LETTER_QUEUE_URL"] == stack.outputs["DeadLetterQueueUrl"]


def test_with_fifo_the_event_source_has_no_batching_window_and_the_outputs_are_all_there(deploy):
    # Given the stack deployed with defaults and with FifoQueues
    standard, fifo = deploy(), deploy(FifoQueues="true")

    # Then the FIFO mapping reads the FIFO queue in batches of 10 with no batching window
    (mapping,) = fifo.awslambda.list_event_source_mappings(FunctionName=fifo.outputs["FunctionName"])[
        "EventSourceMappings"
    ]
    assert mapping["EventSourceArn"] == fifo.outputs["RequestQueueArn"]
    assert mapping["BatchSize"] == 10
    assert mapping.get("MaximumBatchingWindowInSeconds", 0) == 0
    # And every output of the standard stack is there, the producer policy's included
    assert set(fifo.outputs) == set(standard.outputs)
    assert "ProducerPolicyArn" in fifo.outputs


def test_the_producer_policy_is_created_and_names_the_stacks_queue_and_key(deploy):
    # Given the stack deployed with defaults
    stack = deploy()

    # When the producer policy of its outputs is read back from IAM
    arn = stack.outputs["ProducerPolicyArn"]
    version = stack.iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    document = stack.iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
    if isinstance(document, str):
        document = json.loads(document)

    # Then it allows sending to this stack's request queue and using this stack's key
    statements = {s["Sid"]: s for s in document["Statement"]}
    assert statements["SendRequests"]["Resource"] == stack.outputs["RequestQueueArn"]
    assert statements["EncryptRequestsWithTheStackKey"]["Resource"] == stack.outputs["KeyArn"]


def test_the_created_bus_is_the_only_one_the_role_may_publish_to(deploy):
    # Given the stack deployed creating its own bus
    stack = deploy()

    # Then the role may put events on that bus only
    assert stack.policy_statements()["PublishOnTheBus"]["Resource"] == stack.outputs["EventBusArn"]
    assert stack.outputs["EventBusArn"].endswith(f":event-bus/{stack.outputs['EventBusName']}")


def test_naming_an_existing_bus_creates_none_and_publishes_there(deploy):
    # Given the stack deployed on the account's default bus
    stack = deploy(EventBusName="default")

    # Then no bus is created, the worker publishes to the named bus, and the role may publish only there
    assert "Bus" not in stack.resources
    assert stack.environment()["EVENT_BUS_NAME"] == "default"
    assert stack.outputs["EventBusArn"] == "arn:aws:events:us-east-1:123456789012:event-bus/default"
    assert stack.policy_statements()["PublishOnTheBus"]["Resource"] == stack.outputs["EventBusArn"]


def test_the_role_may_create_sessions_on_the_default_manager_only_by_default(deploy):
    stack = deploy()
    assert stack.policy_statements()["CreatePaymentSessionsOnAllowedManagers"]["Resource"] == [MANAGER_ARN]


def test_the_role_may_create_sessions_on_the_default_and_each_allowed_manager(deploy):
    # Given the stack deployed with two extra allowed managers
    allowed = f"{OTHER_MANAGER_ARN},{THIRD_MANAGER_ARN}"
    stack = deploy(AllowedPaymentManagerArns=allowed)

    # Then the worker allows them and the role may call the API on exactly those and the default
    assert stack.environment()["ALLOWED_PAYMENT_MANAGER_ARNS"] == allowed
    resources = stack.policy_statements()["CreatePaymentSessionsOnAllowedManagers"]["Resource"]
    assert resources == [MANAGER_ARN, OTHER_MANAGER_ARN, THIRD_MANAGER_ARN]


def test_the_dead_letter_permission_names_the_stacks_dlq(deploy):
    stack = deploy()
    statement = stack.policy_statements()["DeadLetterToTheDeadLetterQueue"]
    assert statement["Resource"] == stack.outputs["DeadLetterQueueArn"]


@pytest.mark.parametrize(("enabled", "state"), [("true", "Enabled"), ("false", "Disabled")])
def test_processing_enabled_switches_the_event_source(deploy, enabled, state):
    # Given the stack deployed with ProcessingEnabled
    stack = deploy(ProcessingEnabled=enabled)

    # Then the event source mapping is on or off accordingly
    (mapping,) = stack.awslambda.list_event_source_mappings(FunctionName=stack.outputs["FunctionName"])[
        "EventSourceMappings"
    ]
    assert mapping["State"] == state


def test_the_worker_gets_the_retry_delay_and_the_stack_an_alarm_topic_and_an_archive(deploy):
    # Given the stack deployed with defaults
    stack = deploy()

    # Then the worker's retry delay is the template's, and the stack made the alarm topic and the event archive
    environment = stack.environment()
    assert (environment["RETRY_DELAY_SECONDS"], environment["RETRY_DELAY_MAX_SECONDS"]) == ("300", "3600")
    assert stack.outputs["AlarmTopicArn"].startswith("arn:aws:sns:us-east-1:123456789012:")
    events = boto3.client("events", region_name="us-east-1")
    (archive,) = events.list_archives(EventSourceArn=stack.outputs["EventBusArn"])["Archives"]
    assert archive["RetentionDays"] == 30
