"""``--stack NAME``: the queue URLs from the stack's outputs, through moto's CloudFormation over HTTP."""

from __future__ import annotations

import json

from operations.queues import DEAD_LETTER_QUEUE_OUTPUT, REQUEST_QUEUE_OUTPUT
from scripts.transform import load


def small_stack() -> dict[str, object]:
    """template.yaml's two queues (its logical IDs, a redrive policy between them), their outputs verbatim."""
    outputs = load()["Outputs"]
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "RequestDeadLetterQueue": {"Type": "AWS::SQS::Queue"},
            "RequestQueue": {
                "Type": "AWS::SQS::Queue",
                "Properties": {
                    "RedrivePolicy": {
                        "deadLetterTargetArn": {"Fn::GetAtt": ["RequestDeadLetterQueue", "Arn"]},
                        "maxReceiveCount": 8,
                    }
                },
            },
        },
        "Outputs": {key: {"Value": outputs[key]["Value"]} for key in (REQUEST_QUEUE_OUTPUT, DEAD_LETTER_QUEUE_OUTPUT)},
    }


def test_stack_gives_the_queues_for_report_and_redrive(moto, run):
    # Given a stack with template.yaml's two queues and their outputs, and a dead letter in its DLQ
    cloudformation = moto.client("cloudformation")
    cloudformation.create_stack(StackName="workers", TemplateBody=json.dumps(small_stack()))
    outputs = {
        output["OutputKey"]: output["OutputValue"]
        for output in cloudformation.describe_stacks(StackName="workers")["Stacks"][0]["Outputs"]
    }
    sqs = moto.client("sqs")
    letter = sqs.send_message(
        QueueUrl=outputs["DeadLetterQueueUrl"],
        MessageBody="{}",
        MessageAttributes={"ErrorCode": {"DataType": "String", "StringValue": "Timeout"}},
    )["MessageId"]

    # When the command is given the stack instead of the URLs
    report = run("dlq", "report", "--stack", "workers", "--json")
    redrive = run("dlq", "redrive", "--stack", "workers", "--json")

    # Then it worked on that stack's queues
    assert report.status == 0, report.err
    assert report.json()["queueUrl"] == outputs["DeadLetterQueueUrl"]
    assert report.json()["errorCodes"][0]["errorCode"] == "Timeout"
    assert redrive.status == 0, redrive.err
    assert redrive.json()["queueUrl"] == outputs["RequestQueueUrl"]
    assert [move["messageId"] for move in redrive.json()["messages"]] == [letter]
    copies = sqs.receive_message(QueueUrl=outputs["RequestQueueUrl"]).get("Messages", [])
    assert [copy["Body"] for copy in copies] == ["{}"]


def test_a_stack_that_does_not_exist_is_named_with_the_aws_error_code(moto, run):
    # Given no stack of that name
    # When the command is given it
    ran = run("dlq", "redrive", "--stack", "no-such-stack")

    # Then one line names the stack and CloudFormation's error code, exit 2
    assert ran.status == 2
    assert ran.err.strip() == "payment-session-worker: stack no-such-stack: ValidationError"


def test_a_stack_without_the_outputs_is_refused(moto, run):
    # Given a stack with a queue but none of the outputs
    template = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}}
    moto.client("cloudformation").create_stack(StackName="bare", TemplateBody=json.dumps(template))

    # When the command is given it
    ran = run("dlq", "report", "--stack", "bare")

    # Then it says which output is missing, exit 2
    assert ran.status == 2
    assert ran.err.strip() == "payment-session-worker: stack bare: MissingOutput (no output DeadLetterQueueUrl)"
