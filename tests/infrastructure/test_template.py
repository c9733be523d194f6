"""template.yaml has each property the issues ask of the production stack (IAM: test_iam.py).

Where a property depends on a parameter (FIFO or not, MaxReceiveCount), it is read for each setting with
sandbox.template_values, the intrinsic functions evaluated as CloudFormation would.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from domain.constraints import PAYMENT_MANAGER_ARN_PATTERN
from domain.time_policy import Budget
from handlers.dependencies import PAYMENTS_CLIENT
from handlers.settings import COUNT_MAX, COUNT_MIN, DEFAULT_EVENT_SOURCE, EXTENSION_VARIABLES, VARIABLES
from handlers.tracing import EXPORTER_VARIABLE, XRAY
from sandbox.aws.template_values import NO_VALUE, Evaluator, parameter_values
from tests.support import ROOT

FOURTEEN_DAYS = 14 * 24 * 60 * 60
MANAGER = "arn:aws:bedrock-agentcore:us-east-1:123456789012:payment-manager/checkout-manager-a1b2c3d4e5"
PARTNER = "arn:aws:bedrock-agentcore:eu-west-1:210987654321:payment-manager/partner-k9m8n7p6q5"


def ref(name: str) -> dict[str, str]:
    return {"Ref": name}


def of_type(resources: dict[str, Any], resource_type: str) -> dict[str, Any]:
    return {name: r for name, r in resources.items() if r["Type"] == resource_type}


def evaluator(template: dict[str, Any], **parameters: str) -> Evaluator:
    """Intrinsic functions of ``template`` evaluated with ``parameters`` (defaults for the others)."""
    return Evaluator(template, parameter_values(template, {"PaymentManagerArn": MANAGER, **parameters}))


SETTINGS = pytest.mark.parametrize("fifo", ["false", "true"], ids=["standard", "fifo"])


def contract_variables() -> set[str]:
    """The variables of CONTRACT section 6's table."""
    contract = (ROOT / "docs" / "CONTRACT.md").read_text(encoding="utf-8")
    section = contract.split("## 6.", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([A-Z_]+)` \|", section, re.MULTILINE))


def allowed(parameter: dict[str, Any], value: str) -> bool:
    """Whether CloudFormation accepts ``value`` for a String parameter (AllowedPattern is a whole match)."""
    pattern = parameter.get("AllowedPattern")
    return pattern is None or re.fullmatch(pattern, value) is not None


# Parameters


def test_the_parameters_issue_4_lists_exist_and_only_the_payment_manager_is_required(template):
    # Given the template's parameters
    parameters = template["Parameters"]

    # Then each listed knob is there, and every one but the default payment manager has a default
    assert set(parameters) == {
        "PaymentManagerArn",
        "AllowedPaymentManagerArns",
        "EventBusName",
        "MaxReceiveCount",
        "MaxRequestAgeMinutes",
        "FifoQueues",
        "MaxConcurrency",
        "MaximumConcurrency",
        "BatchSize",
        "MaximumBatchingWindowInSeconds",
        "LogLevel",
        "AlarmTopicArn",
        # issue 26: the stack for the person on call
        "AlarmEmail",
        "ProcessingEnabled",
        "ProducerPrincipalArns",
        "ProducerSourceArns",
        "OperatorPrincipalArn",
        "KeyAdminPrincipalArn",
        "EventArchiveRetentionDays",
        "RetryDelaySeconds",
        "RetryDelayMaxSeconds",
        "ClientTokenWindowMinutes",
    }
    assert [name for name, p in parameters.items() if "Default" not in p] == ["PaymentManagerArn"]
    assert parameters["MaxReceiveCount"]["Default"] == 5
    assert parameters["MaxRequestAgeMinutes"]["Default"] == 1440
    assert parameters["MaxRequestAgeMinutes"]["MinValue"] == 0  # 0 turns the age check off
    assert parameters["FifoQueues"] == {
        **parameters["FifoQueues"],
        "Default": "false",
        "AllowedValues": ["false", "true"],
    }
    assert parameters["LogLevel"]["AllowedValues"] == ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


def test_the_payment_manager_parameter_takes_exactly_the_arns_the_api_model_accepts(template):
    # Given the PaymentManagerArn parameter
    parameter = template["Parameters"]["PaymentManagerArn"]

    # Then its pattern is the model's (domain.constraints proves that one against botocore)
    assert parameter["AllowedPattern"] == PAYMENT_MANAGER_ARN_PATTERN
    assert allowed(parameter, MANAGER)
    assert not allowed(parameter, "arn:aws:bedrock-agentcore:us-east-1:123456789012:payment-manager/*")


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("", True),
        (PARTNER, True),
        (f"{PARTNER},{MANAGER}", True),
        (f"{PARTNER}, {MANAGER}", False),
        (f"{PARTNER},", False),
        ("*", False),
        ("arn:aws:bedrock-agentcore:us-east-1:123456789012:payment-manager/*", False),
    ],
)
def test_the_allowed_managers_parameter_takes_an_empty_or_comma_separated_list_of_arns(template, value, accepted):
    # Given the AllowedPaymentManagerArns parameter, which also scopes the IAM policy
    parameter = template["Parameters"]["AllowedPaymentManagerArns"]

    # Then only a plain comma-separated list of manager ARNs passes (never a wildcard)
    assert allowed(parameter, value) is accepted


def test_the_numeric_parameters_stay_within_what_the_worker_settings_accept(template):
    # Given the parameters that become the worker's MAX_RECEIVE_COUNT and MAX_CONCURRENCY
    parameters = template["Parameters"]

    # Then their ranges are inside the settings' own bounds, so a deploy never fails the cold start
    for parameter, field in (("MaxReceiveCount", "max_receive_count"), ("MaxConcurrency", "max_concurrency")):
        assert parameters[parameter]["MinValue"] >= COUNT_MIN, field
        assert parameters[parameter]["MaxValue"] <= COUNT_MAX, field


def test_a_batch_above_ten_records_requires_a_batching_window(template):
    # Given the template's rule for large batches
    rule = template["Rules"]["BatchingWindowForLargeBatches"]

    # Then BatchSize 11..100 asserts a non-zero MaximumBatchingWindowInSeconds, as Lambda requires
    assert rule["RuleCondition"] == {"Fn::Not": [{"Fn::Contains": [[str(n) for n in range(1, 11)], ref("BatchSize")]}]}
    assert rule["Assertions"][0]["Assert"] == {
        "Fn::Not": [{"Fn::Equals": [ref("MaximumBatchingWindowInSeconds"), "0"]}]
    }


@pytest.mark.parametrize(
    ("parameters", "refusals"),
    [
        ({}, 0),
        ({"BatchSize": "100", "MaximumBatchingWindowInSeconds": "5"}, 0),
        ({"BatchSize": "11"}, 1),
        ({"FifoQueues": "true"}, 0),
        ({"FifoQueues": "true", "BatchSize": "1"}, 0),
        ({"FifoQueues": "true", "BatchSize": "11", "MaximumBatchingWindowInSeconds": "1"}, 2),
        ({"FifoQueues": "true", "MaximumBatchingWindowInSeconds": "1"}, 1),
        ({"FifoQueues": "true", "BatchSize": "20"}, 2),  # over FIFO's 10, and over 10 without a window
    ],
)
def test_the_rules_refuse_a_deploy_outside_lambdas_sqs_and_fifo_limits(template, parameters, refusals):
    # Given a set of parameters
    # When CloudFormation checks the template's Rules before creating anything
    failures = evaluator(template, **parameters).rule_failures()

    # Then it refuses exactly the combinations Lambda's SQS event source would reject, and says why
    assert len(failures) == refusals, failures
    if parameters.get("FifoQueues") == "true" and refusals:
        assert any("FIFO" in failure for failure in failures)


# Queues and encryption


@pytest.mark.parametrize("queue", ["RequestQueue", "RequestDeadLetterQueue"])
def test_both_queues_keep_messages_14_days_encrypted_with_the_stacks_key(resources, queue):
    # Given a queue of the stack
    properties = resources[queue]["Properties"]

    # Then it keeps messages 14 days and encrypts them with the stack's customer managed key
    assert properties["MessageRetentionPeriod"] == FOURTEEN_DAYS
    assert properties["KmsMasterKeyId"] == ref("Key")
    assert "SqsManagedSseEnabled" not in properties


def test_the_stacks_key_rotates(resources):
    # Given the stack's KMS key
    (key,) = of_type(resources, "AWS::KMS::Key").values()

    # Then its rotation is on
    assert key["Properties"]["EnableKeyRotation"] is True


@pytest.mark.parametrize("resource", ["RequestQueue", "RequestDeadLetterQueue", "WorkerLogGroup", "Key"])
def test_data_outlives_the_stack_and_its_replacement(resources, resource):
    # Given a resource holding requests, logs, or the key to read them
    # Then deleting or replacing it through CloudFormation keeps it
    assert resources[resource]["DeletionPolicy"] == "Retain"
    assert resources[resource]["UpdateReplacePolicy"] == "Retain"


def test_the_redrive_count_and_the_workers_max_receive_count_come_from_one_parameter(resources, environment):
    # Given the request queue's redrive policy and the worker's environment
    redrive = resources["RequestQueue"]["Properties"]["RedrivePolicy"]

    # Then both follow MaxReceiveCount (the queue's through the table), and the redrive target is the queue
    # the worker dead-letters to
    assert redrive["maxReceiveCount"] == {"Fn::FindInMap": ["RedriveReceiveCount", ref("MaxReceiveCount"), "Queue"]}
    assert environment["MAX_RECEIVE_COUNT"] == ref("MaxReceiveCount")
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["RequestDeadLetterQueue", "Arn"]}
    assert environment["DEAD_LETTER_QUEUE_URL"] == ref("RequestDeadLetterQueue")


def test_the_redrive_table_covers_every_allowed_max_receive_count_and_nothing_else(template):
    # Given the values CloudFormation accepts for MaxReceiveCount, and the table of redrive counts
    parameter = template["Parameters"]["MaxReceiveCount"]
    allowed_values = {str(n) for n in range(parameter["MinValue"], parameter["MaxValue"] + 1)}

    # Then each one has its row, so no accepted value fails the deploy, and SQS's limit (1000) holds
    table = template["Mappings"]["RedriveReceiveCount"]
    assert set(table) == allowed_values
    assert parameter["MaxValue"] + 3 <= 1000


def test_the_workers_max_receive_count_is_three_below_the_queues_for_every_allowed_value(
    template, resources, environment
):
    # Given every value MaxReceiveCount may take
    parameter = template["Parameters"]["MaxReceiveCount"]
    redrive = resources["RequestQueue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"]
    for value in range(parameter["MinValue"], parameter["MaxValue"] + 1):
        # When the queue's count and the worker's are resolved for it
        values = evaluator(template, MaxReceiveCount=str(value))
        queue, worker = int(values.value(redrive)), int(values.value(environment["MAX_RECEIVE_COUNT"]))

        # Then the worker dead-letters three receives before SQS would move the message itself
        assert (worker, queue) == (value, value + 3)


def test_the_request_age_limit_is_passed_to_the_worker(template, environment):
    # Given the worker's MAX_REQUEST_AGE_MINUTES
    # Then it is the parameter, whose range is 0 (off) to the queues' retention
    assert environment["MAX_REQUEST_AGE_MINUTES"] == ref("MaxRequestAgeMinutes")
    assert template["Parameters"]["MaxRequestAgeMinutes"]["MaxValue"] * 60 == FOURTEEN_DAYS


@SETTINGS
@pytest.mark.parametrize(
    ("queue", "suffix"), [("RequestQueue", "-requests.fifo"), ("RequestDeadLetterQueue", "-dead-letters.fifo")]
)
def test_one_parameter_makes_both_queues_fifo_or_standard(template, resources, fifo, queue, suffix):
    # Given a queue's type and name in one setting of FifoQueues
    values = evaluator(template, FifoQueues=fifo)
    properties = resources[queue]["Properties"]
    name, is_fifo, dedup = (
        values.value(properties[k]) for k in ("QueueName", "FifoQueue", "ContentBasedDeduplication")
    )

    if fifo == "true":
        # Then with FIFO the queue is FIFO, named <stack><suffix>, without content-based deduplication
        assert (is_fifo, dedup) == (True, False)
        # AWS::StackName and the start of AWS::StackId as sam local has them: unique per stack, so the kept
        # queues of a deleted stack never block a new one of the same name
        assert name == f"local{suffix.removesuffix('.fifo')}-51af3dc0.fifo"
    else:
        # Then without it the queue is standard and keeps CloudFormation's generated name
        assert name is is_fifo is dedup is NO_VALUE


@SETTINGS
def test_the_event_source_has_a_batching_window_on_a_standard_queue_only(template, sqs_event_source, fifo):
    # Given the event source's batching window in one setting of FifoQueues
    window = evaluator(template, FifoQueues=fifo, MaximumBatchingWindowInSeconds="0").value(
        sqs_event_source["MaximumBatchingWindowInSeconds"]
    )

    # Then a FIFO source gets none (Lambda takes none), a standard one the parameter's
    assert window == (NO_VALUE if fifo == "true" else "0")


def test_the_visibility_timeout_covers_six_function_timeouts_and_the_largest_batching_window(
    template, resources, function
):
    # Given the request queue's visibility timeout
    visibility = resources["RequestQueue"]["Properties"]["VisibilityTimeout"]
    window = template["Parameters"]["MaximumBatchingWindowInSeconds"]["MaxValue"]

    # Then a batch in flight is never redelivered while Lambda may still be retrying it
    assert visibility >= 6 * function["Timeout"] + window


# The function


def test_the_function_is_python_3_13_on_arm64_with_active_tracing(function):
    assert function["Runtime"] == "python3.13"
    assert function["Architectures"] == ["arm64"]
    assert function["Tracing"] == "Active"


def test_the_handler_names_the_workers_entry_point(function):
    # Given the handler setting, relative to CodeUri
    module, name = function["Handler"].rsplit(".", 1)
    assert function["CodeUri"] == "src/"

    # When it is resolved the way the Lambda runtime does
    import importlib

    handler = getattr(importlib.import_module(module.replace("/", ".")), name)

    # Then it is the worker's lambda_handler
    assert handler.__module__ == "handlers.create_payment_session"
    assert callable(handler)


def test_the_timeout_leaves_a_payments_call_its_room_before_the_workers_finish_reserve(function):
    # Given the function's timeout and the worker's own budget
    one_call = PAYMENTS_CLIENT.connect_timeout + PAYMENTS_CLIENT.read_timeout

    # Then after the finish reserve there is time for at least one slow payments call
    assert function["Timeout"] >= Budget().finish_max + one_call
    assert function["MemorySize"] >= 256


def test_reserved_concurrency_covers_the_event_sources_maximum_concurrency(template, function, sqs_event_source):
    # Given the function's reserved concurrency and the event source's scaling
    maximum = sqs_event_source["ScalingConfig"]["MaximumConcurrency"]

    # Then both follow one parameter, so the event source is never throttled, and its floor is Lambda's (2)
    assert maximum == ref("MaximumConcurrency")
    assert function["ReservedConcurrentExecutions"] == ref("MaximumConcurrency")
    assert template["Parameters"]["MaximumConcurrency"]["MinValue"] >= 2


def test_the_environment_is_encrypted_with_the_stacks_key(function):
    assert function["KmsKeyArn"] == {"Fn::GetAtt": ["Key", "Arn"]}


def test_the_function_logs_to_its_own_log_group_with_retention_encrypted_with_the_stacks_key(resources, function):
    # Given the function's logging configuration
    log_group = resources[function["LoggingConfig"]["LogGroup"]["Ref"]]

    # Then its log group keeps logs a bounded time, encrypted
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] >= 30
    assert log_group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": ["Key", "Arn"]}


def test_the_key_lets_cloudwatch_logs_use_it_for_that_log_group_only(resources):
    # Given the key policy statement for CloudWatch Logs
    statements = resources["Key"]["Properties"]["KeyPolicy"]["Statement"]
    (logs,) = [s for s in statements if s.get("Sid") == "LogsEncryptTheLogGroup"]

    # Then it is bound by encryption context to the worker's log group, whose name CloudFormation generates
    # (<stack>-<LogicalId>-<suffix>), so that a retained group never blocks a redeploy
    assert "LogGroupName" not in resources["WorkerLogGroup"]["Properties"]
    context = logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]["Fn::Sub"]
    assert context.endswith(":log-group:${AWS::StackName}-WorkerLogGroup-*")


def test_the_environment_is_the_contracts_plus_powertools(environment):
    # Given the variables the template sets, and those of CONTRACT section 6 (the worker's settings among them)
    contract = contract_variables()
    assert set(VARIABLES) <= contract

    # Then every variable of CONTRACT section 6 is set, plus the documented extensions (the retry delay, the
    # idempotency record), plus Powertools' own, plus the endpoint variables (empty: the SDK's defaults) that
    # `sam local invoke --env-vars` may override, plus OpenTelemetry's exporter (the X-Ray daemon), and nothing else
    endpoints = {
        "AWS_ENDPOINT_URL_SQS",
        "AWS_ENDPOINT_URL_EVENTBRIDGE",
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE",
    }
    assert not set(EXTENSION_VARIABLES) & contract
    assert set(environment) == contract | set(EXTENSION_VARIABLES) | endpoints | {
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_NAMESPACE",
        "POWERTOOLS_LOG_LEVEL",
        EXPORTER_VARIABLE,
    }
    assert environment[EXPORTER_VARIABLE] == XRAY
    assert all(environment[name] == "" for name in endpoints)
    assert environment["PAYMENT_MANAGER_ARN"] == ref("PaymentManagerArn")
    assert environment["ALLOWED_PAYMENT_MANAGER_ARNS"] == ref("AllowedPaymentManagerArns")
    assert environment["MAX_CONCURRENCY"] == ref("MaxConcurrency")
    assert environment["EVENT_SOURCE"] == DEFAULT_EVENT_SOURCE
    assert environment["POWERTOOLS_SERVICE_NAME"] == "payment-session-worker"
    assert environment["POWERTOOLS_METRICS_NAMESPACE"] == "PaymentSessionWorker"
    assert environment["POWERTOOLS_LOG_LEVEL"] == ref("LogLevel")


def test_the_bus_is_created_unless_an_existing_one_is_named(template, resources, environment):
    # Given the EventBusName parameter and the bus resource
    assert template["Parameters"]["EventBusName"]["Default"] == ""
    assert template["Conditions"]["CreateBus"] == {"Fn::Equals": [ref("EventBusName"), ""]}
    assert resources["Bus"]["Condition"] == "CreateBus"

    # Then the worker publishes to the created bus by its name attribute (not !Ref, which moto breaks on),
    # or to the named one
    assert environment["EVENT_BUS_NAME"] == {
        "Fn::If": ["CreateBus", {"Fn::GetAtt": ["Bus", "Name"]}, ref("EventBusName")]
    }


def test_the_sqs_event_source_reports_partial_batch_failures_and_takes_its_sizing_from_parameters(
    sqs_event_source,
):
    assert sqs_event_source["Queue"] == {"Fn::GetAtt": ["RequestQueue", "Arn"]}
    assert sqs_event_source["Enabled"] == {"Fn::If": ["ProcessingOn", True, False]}
    assert sqs_event_source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert sqs_event_source["BatchSize"] == ref("BatchSize")
    assert sqs_event_source["MaximumBatchingWindowInSeconds"] == {
        "Fn::If": ["Fifo", ref("AWS::NoValue"), ref("MaximumBatchingWindowInSeconds")]
    }


def test_sam_turns_the_event_source_into_a_mapping_with_the_same_settings(transformed):
    # Given the CloudFormation SAM produces
    (mapping,) = [r for r in transformed["Resources"].values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]

    # Then the mapping keeps every setting
    properties = mapping["Properties"]
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert properties["ScalingConfig"] == {"MaximumConcurrency": ref("MaximumConcurrency")}
    assert properties["BatchSize"] == ref("BatchSize")
    assert properties["MaximumBatchingWindowInSeconds"] == {
        "Fn::If": ["Fifo", ref("AWS::NoValue"), ref("MaximumBatchingWindowInSeconds")]
    }


# Outputs


def test_the_outputs_name_what_producers_subscribers_and_operators_need(template):
    outputs = template["Outputs"]
    assert {
        "RequestQueueUrl",
        "RequestQueueArn",
        "DeadLetterQueueUrl",
        "DeadLetterQueueArn",
        "EventBusName",
        "EventBusArn",
        "FunctionName",
        "KeyArn",
        "ProducerPolicyArn",
    } <= set(outputs)
    assert outputs["RequestQueueUrl"]["Value"] == ref("RequestQueue")
    assert outputs["DeadLetterQueueArn"]["Value"] == {"Fn::GetAtt": ["RequestDeadLetterQueue", "Arn"]}
    assert outputs["FunctionName"]["Value"] == ref("WorkerFunction")


# checkov


def test_every_checkov_skip_is_justified_in_the_resources_metadata(resources):
    # Given every checkov skip of the template
    skips = [
        (name, skip)
        for name, resource in resources.items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]

    # Then each names a check and says why it does not apply
    assert skips
    for name, skip in skips:
        assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), name
        assert len(skip.get("comment", "").split()) >= 10, f"{name}: {skip['id']} needs a justification"
