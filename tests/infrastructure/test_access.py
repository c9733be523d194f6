"""Who may enqueue, read dead letters and publish under the worker's source (issue 26), and the stack's lifecycle."""

from __future__ import annotations

import json
from typing import Any

from sandbox.aws.template_values import NO_VALUE, Evaluator, parameter_values

MANAGER = "arn:aws:bedrock-agentcore:us-east-1:123456789012:payment-manager/checkout-manager-a1b2c3d4e5"
PRODUCER = "arn:aws:iam::123456789012:role/checkout-service"
OPERATOR = "arn:aws:iam::123456789012:role/payments-operator"
TOPIC = "arn:aws:sns:us-east-1:123456789012:checkout-requests"
RULE = "arn:aws:events:us-east-1:123456789012:rule/checkout-requests"


def evaluator(template: dict[str, Any], **parameters: str) -> Evaluator:
    return Evaluator(template, parameter_values(template, {"PaymentManagerArn": MANAGER, **parameters}))


def statements(resources: dict[str, Any], policy: str) -> list[Any]:
    return list(resources[policy]["Properties"]["PolicyDocument"]["Statement"])


def by_sid(found: list[Any], sid: str) -> dict[str, Any]:
    (statement,) = [s for s in found if isinstance(s, dict) and s.get("Sid") == sid]
    return statement


def named_principals(template: dict[str, Any], resources: dict[str, Any], **parameters: str) -> list[str]:
    """The principal ARNs the request queue's Deny spares, resolved (the worker's role as ``WorkerRoleArn``)."""
    deny = by_sid(statements(resources, "RequestQueuePolicy"), "DenySendExceptNamedProducers")
    split = deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]["Fn::Split"]
    text, names = split[1]["Fn::Sub"]
    values = evaluator(template, **parameters)
    resolved = text.replace("${WorkerRoleArn}", "WorkerRoleArn")
    for name in ("Producers", "Operator"):
        resolved = resolved.replace(f"${{{name}}}", values.value(names[name]))
    return resolved.split(",")


def test_the_request_queue_denies_sending_to_every_principal_not_named(template, resources):
    # Given the request queue's policy
    deny = by_sid(statements(resources, "RequestQueuePolicy"), "DenySendExceptNamedProducers")

    # Then SendMessage (SendMessageBatch included) is denied to all but the named principals and sources
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "sqs:SendMessage")
    assert deny["Resource"] == {"Fn::GetAtt": ["RequestQueue", "Arn"]}
    # With defaults only the worker's role (which has no grant to send there) is spared: nobody enqueues
    assert named_principals(template, resources) == ["WorkerRoleArn"]
    # The producers and the operator (who redrives) are spared once named
    assert named_principals(template, resources, ProducerPrincipalArns=PRODUCER, OperatorPrincipalArn=OPERATOR) == [
        "WorkerRoleArn",
        PRODUCER,
        OPERATOR,
    ]
    # And SNS or EventBridge deliveries are spared for the named topics and rules only
    sources = deny["Condition"]["ArnNotEquals"]["aws:SourceArn"]
    assert evaluator(template, ProducerSourceArns=f"{TOPIC},{RULE}").value(sources) == [TOPIC, RULE]


def test_named_topics_and_rules_are_allowed_to_deliver_and_nothing_else_is(template, resources):
    # Given the conditional Allow of the request queue's policy
    (conditional,) = [s for s in statements(resources, "RequestQueuePolicy") if "Fn::If" in s]
    condition, allow, otherwise = conditional["Fn::If"]

    # Then SNS and EventBridge may send only for ProducerSourceArns, and without them the statement is gone
    assert (condition, otherwise) == ("HasProducerSources", {"Ref": "AWS::NoValue"})
    assert allow["Principal"] == {"Service": ["sns.amazonaws.com", "events.amazonaws.com"]}
    assert allow["Condition"]["ArnEquals"]["aws:SourceArn"] == {"Fn::Split": [",", {"Ref": "ProducerSourceArns"}]}
    assert not evaluator(template).condition("HasProducerSources")


def test_dead_letters_are_read_deleted_and_purged_by_the_worker_and_the_operator_only(template, resources):
    # Given the DLQ's policy
    deny = by_sid(statements(resources, "DeadLetterQueuePolicy"), "DenyReadingDeadLettersExceptWorkerAndOperator")

    # Then receive, delete and purge are denied to everyone else
    assert deny["Effect"] == "Deny"
    assert set(deny["Action"]) == {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:PurgeQueue"}
    spared = deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
    assert spared == {
        "Fn::If": [
            "HasOperator",
            [{"Fn::GetAtt": ["WorkerRole", "Arn"]}, {"Ref": "OperatorPrincipalArn"}],
            [{"Fn::GetAtt": ["WorkerRole", "Arn"]}],
        ]
    }


def test_only_the_workers_role_publishes_under_the_workers_source(resources, environment):
    # Given the bus policy
    properties = resources["BusSourceBelongsToTheWorker"]["Properties"]
    statement = properties["Statement"]

    # Then PutEvents with the worker's source is denied to every principal but the worker's role
    assert (statement["Effect"], statement["Principal"], statement["Action"]) == ("Deny", "*", "events:PutEvents")
    assert statement["Condition"]["StringEquals"] == {"events:source": environment["EVENT_SOURCE"]}
    assert statement["Condition"]["ArnNotEquals"] == {"aws:PrincipalArn": {"Fn::GetAtt": ["WorkerRole", "Arn"]}}
    # And it is put on the bus the worker publishes to
    assert properties["EventBusName"] == environment["EVENT_BUS_NAME"]


def test_the_workers_events_are_archived_for_the_retention_a_parameter_sets(template, resources, environment):
    properties = resources["EventArchive"]["Properties"]
    assert properties["RetentionDays"] == {"Ref": "EventArchiveRetentionDays"}
    assert json.loads(properties["EventPattern"]) == {"source": [environment["EVENT_SOURCE"]]}
    assert template["Parameters"]["EventArchiveRetentionDays"]["Default"] > 0


def test_the_key_has_an_alias_and_nothing_retained_has_a_name_a_new_stack_would_reuse(template, resources):
    # Given the stack's resources
    assert resources["KeyAlias"]["Properties"]["TargetKeyId"] == {"Ref": "Key"}

    # Then what is retained after a delete has a generated name, or (FIFO queues, whose names must end in
    # .fifo) one that carries the stack's ID, which a new stack of the same name does not share
    retained = {name: r for name, r in resources.items() if r.get("DeletionPolicy") == "Retain"}
    assert "LogGroupName" not in retained["WorkerLogGroup"]["Properties"]
    for queue in ("RequestQueue", "RequestDeadLetterQueue"):
        name = retained[queue]["Properties"]["QueueName"]
        fifo = evaluator(template, FifoQueues="true").value(name)
        assert "51af3dc0" in fifo  # the start of the stack's ID (sam local's)
        assert evaluator(template).value(name) is NO_VALUE
