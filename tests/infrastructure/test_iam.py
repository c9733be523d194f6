"""Least privilege: what the worker's role and the producer policy allow, read from the CloudFormation SAM deploys."""

from __future__ import annotations

from typing import Any

import pytest

# IAM defines no resource type for X-Ray's write actions: "*" is the only resource they accept.
RESOURCELESS_ACTIONS = frozenset({"xray:PutTraceSegments", "xray:PutTelemetryRecords"})
IAM_POLICY_TYPES = frozenset({"AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"})


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def documents(resource: dict[str, Any]) -> list[dict[str, Any]]:
    """The policy documents of an IAM role or policy, a key policy, or a queue policy."""
    properties = resource.get("Properties", {})
    if resource["Type"] == "AWS::IAM::Role":
        return [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
    if resource["Type"] in IAM_POLICY_TYPES | {"AWS::SQS::QueuePolicy"}:
        return [properties["PolicyDocument"]]
    if resource["Type"] == "AWS::KMS::Key":
        return [properties["KeyPolicy"]]
    return []


def unconditional(statements: Any) -> list[dict[str, Any]]:
    """A policy's statements, a conditional one (``Fn::If``) as the branch it has when its condition holds."""
    found = []
    for statement in as_list(statements):
        if set(statement) == {"Fn::If"}:
            _, given, _ = statement["Fn::If"]
            statement = given
        found.append(statement)
    return found


def statements_of(transformed: dict[str, Any], types: frozenset[str]) -> list[dict[str, Any]]:
    return [
        statement
        for resource in transformed["Resources"].values()
        if resource["Type"] in types
        for document in documents(resource)
        for statement in unconditional(document["Statement"])
    ]


def allow_statements(transformed: dict[str, Any]) -> list[dict[str, Any]]:
    """Every Allow statement of every IAM role and policy of the stack."""
    return [s for s in statements_of(transformed, IAM_POLICY_TYPES) if s["Effect"] == "Allow"]


def role_statements(transformed: dict[str, Any]) -> list[dict[str, Any]]:
    """The Allow statements of the worker's role."""
    role = transformed["Resources"]["WorkerRole"]
    return [s for document in documents(role) for s in as_list(document["Statement"]) if s["Effect"] == "Allow"]


def granting(transformed: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in role_statements(transformed) if action in as_list(s["Action"])]


@pytest.fixture(scope="module")
def role(transformed: dict[str, Any]) -> dict[str, Any]:
    return dict(transformed["Resources"]["WorkerRole"]["Properties"])


def test_the_only_other_role_is_the_one_sam_gives_codedeploy_for_the_guarded_rollout(transformed):
    # Given every role of the deployed stack
    roles = {k: r for k, r in transformed["Resources"].items() if r["Type"] == "AWS::IAM::Role"}

    # Then besides the worker's there is CodeDeploy's, which only CodeDeploy may assume
    assert set(roles) == {"WorkerRole", "CodeDeployServiceRole"}
    (other,) = [r for k, r in roles.items() if k != "WorkerRole"]
    (trust,) = other["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": ["codedeploy.amazonaws.com"]}


def test_the_function_runs_as_the_stacks_one_role_with_no_managed_policy(transformed, role):
    # Given the deployed function
    (function,) = [r for r in transformed["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]

    # Then it assumes the explicit role, which SAM did not widen with managed policies (whose resources are "*")
    assert function["Properties"]["Role"] == {"Fn::GetAtt": ["WorkerRole", "Arn"]}
    assert "ManagedPolicyArns" not in role
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]


def test_no_action_is_a_wildcard_except_in_a_deny(transformed):
    # Given every statement of the stack's IAM, key and queue policies
    every_type = IAM_POLICY_TYPES | {"AWS::KMS::Key", "AWS::SQS::QueuePolicy"}
    statements = statements_of(transformed, frozenset(every_type))
    assert {s["Effect"] for s in statements} == {"Allow", "Deny"}

    # Then what is allowed is named in full; only a Deny may cover every action
    for statement in statements:
        for action in as_list(statement["Action"]):
            assert statement["Effect"] == "Deny" or "*" not in action, statement.get("Sid")


def test_no_resource_is_a_wildcard_except_for_actions_iam_cannot_scope(transformed):
    # Given every Allow statement of the role and of the producer policy
    for statement in allow_statements(transformed):
        # Then "*" (or any wildcard ARN) appears only for actions that have no resource type
        if any(isinstance(r, str) and "*" in r for r in as_list(statement["Resource"])):
            assert set(as_list(statement["Action"])) <= RESOURCELESS_ACTIONS, statement.get("Sid")


def test_the_key_policy_trusts_only_this_account_and_service_principals_bound_to_it(resources):
    # Given the key policy
    account = {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
    for statement in unconditional(resources["Key"]["Properties"]["KeyPolicy"]["Statement"]):
        principal = statement["Principal"]
        # Then no statement opens the key to everyone; services act only for this account, log group or the
        # named producers' topics and rules
        assert principal != "*"
        if "Service" in principal:
            assert statement["Condition"]
        elif statement["Sid"] == "AccountAdministersTheKey":
            # administered by KeyAdminPrincipalArn when given, else by the account (IAM decides)
            assert principal == {"AWS": {"Fn::If": ["HasKeyAdmin", {"Ref": "KeyAdminPrincipalArn"}, account]}}
        else:
            assert principal == {"AWS": account}


def test_sns_and_eventbridge_may_use_the_key_for_the_named_topics_and_rules_only(resources):
    # Given the key policy's statement for envelope producers
    statements = resources["Key"]["Properties"]["KeyPolicy"]["Statement"]
    (conditional,) = [s for s in statements if set(s) == {"Fn::If"}]
    condition, given, otherwise = conditional["Fn::If"]

    # Then it exists only when ProducerSourceArns names some, and is bound to exactly those source ARNs
    assert (condition, otherwise) == ("HasProducerSources", {"Ref": "AWS::NoValue"})
    assert given["Principal"] == {"Service": ["sns.amazonaws.com", "events.amazonaws.com"]}
    assert given["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::Split": [",", {"Ref": "ProducerSourceArns"}]}}}


# The actions the role grants, each statement's with the resources it may act on.
SINGLE_ACTION_GRANTS = [
    pytest.param(
        ("bedrock-agentcore:CreatePaymentSession", "bedrock-agentcore:GetPaymentSession"),
        # the default manager plus the allowed list when there is one (see the moto test for the resolved ARNs)
        {
            "Fn::If": [
                "HasAllowedManagers",
                {"Fn::Split": [",", {"Fn::Sub": "${PaymentManagerArn},${AllowedPaymentManagerArns}"}]},
                [{"Ref": "PaymentManagerArn"}],
            ]
        },
        id="payment-sessions-on-the-default-and-allowed-managers-only",
    ),
    pytest.param(
        ("events:PutEvents",),
        # the stack's own bus when EventBusName is empty, else the existing bus it names
        {
            "Fn::If": [
                "CreateBus",
                {"Fn::GetAtt": ["Bus", "Arn"]},
                {"Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${EventBusName}"},
            ]
        },
        id="events-on-the-workers-bus-only",
    ),
    pytest.param(
        ("sqs:SendMessage",),
        {"Fn::GetAtt": ["RequestDeadLetterQueue", "Arn"]},
        id="messages-to-the-dead-letter-queue-only",
    ),
    pytest.param(
        # the idempotency record's item actions (src/adapters/idempotency_table.py): no scan, query or batch
        ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:GetItem"),
        {"Fn::GetAtt": ["IdempotencyTable", "Arn"]},
        id="token-items-on-the-idempotency-table-only",
    ),
]


@pytest.mark.parametrize(("actions", "resource"), SINGLE_ACTION_GRANTS)
def test_actions_are_granted_together_only_on_their_own_resources(transformed, actions, resource):
    # Given the statement granting the first action
    (statement,) = granting(transformed, actions[0])

    # Then it grants those actions alone, on exactly their resources, and no other statement grants them
    assert as_list(statement["Action"]) == list(actions)
    assert statement["Resource"] == resource
    assert all(granting(transformed, action) == [statement] for action in actions)


def test_the_request_queue_can_only_be_consumed(transformed):
    # Given what the role may do on the request queue (the event source polls with the function's role)
    statements = [s for s in role_statements(transformed) if s["Resource"] == {"Fn::GetAtt": ["RequestQueue", "Arn"]}]

    # Then it is what Lambda's SQS poller needs, and hiding a retried record for its retry delay, nothing more
    actions = {action for s in statements for action in as_list(s["Action"])}
    assert actions == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ChangeMessageVisibility",
    }
    # And the visibility action is granted on the request queue only (the DLQ's letters stay put)
    (hide,) = granting(transformed, "sqs:ChangeMessageVisibility")
    assert hide["Resource"] == {"Fn::GetAtt": ["RequestQueue", "Arn"]}


def test_kms_is_used_on_the_stacks_key_only_to_read_and_write_data(transformed):
    # Given the role's statements granting KMS actions
    statements = [s for s in role_statements(transformed) if any(a.startswith("kms:") for a in as_list(s["Action"]))]

    # Then only data-key generation and decryption, on the stack's key
    (statement,) = statements
    assert set(as_list(statement["Action"])) == {"kms:GenerateDataKey", "kms:Decrypt"}
    assert statement["Resource"] == {"Fn::GetAtt": ["Key", "Arn"]}


def test_logs_can_be_written_to_the_functions_own_log_group_only(transformed):
    (statement,) = granting(transformed, "logs:PutLogEvents")
    assert set(as_list(statement["Action"])) == {"logs:CreateLogStream", "logs:PutLogEvents"}
    assert statement["Resource"] == {"Fn::GetAtt": ["WorkerLogGroup", "Arn"]}
    assert not granting(transformed, "logs:CreateLogGroup")


def test_the_role_grants_nothing_beyond_the_listed_needs(transformed):
    # Given every action the worker's role allows
    actions = {action for s in role_statements(transformed) for action in as_list(s["Action"])}

    # Then it is exactly the worker's needs
    assert actions == {
        "bedrock-agentcore:CreatePaymentSession",
        "bedrock-agentcore:GetPaymentSession",
        "events:PutEvents",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ChangeMessageVisibility",
        "sqs:SendMessage",
        "kms:GenerateDataKey",
        "kms:Decrypt",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:GetItem",
        *RESOURCELESS_ACTIONS,
    }


# Both queues refuse plain HTTP


def queue_policy(transformed: dict[str, Any], queue: str) -> dict[str, dict[str, Any]]:
    """The statements, by Sid, of the one queue policy of ``queue`` (conditional ones as when they apply)."""
    (policy,) = [
        r["Properties"]
        for r in transformed["Resources"].values()
        if r["Type"] == "AWS::SQS::QueuePolicy" and r["Properties"]["Queues"] == [{"Ref": queue}]
    ]
    return {s["Sid"]: s for s in unconditional(policy["PolicyDocument"]["Statement"])}


@pytest.mark.parametrize("queue", ["RequestQueue", "RequestDeadLetterQueue"])
def test_both_queues_deny_every_action_over_plain_http_to_everyone(transformed, queue):
    # Given the queue's policy
    statement = queue_policy(transformed, queue)["DenyPlainHttp"]

    # Then it has AWS's recommended statement: any principal, any SQS action, no TLS
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == "*"
    assert statement["Action"] == "sqs:*"
    assert statement["Resource"] == {"Fn::GetAtt": [queue, "Arn"]}
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


# The producer policy


@pytest.fixture(scope="module")
def producer(transformed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The producer policy's statements by Sid."""
    (policy,) = [r for r in transformed["Resources"].values() if r["Type"] == "AWS::IAM::ManagedPolicy"]
    return {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}


def test_the_producer_policy_may_send_to_the_request_queue_only(producer):
    # Given the producer policy's statements
    # Then it allows SendMessage (SendMessageBatch included) on the request queue, nothing else on SQS
    assert producer["SendRequests"] == {
        "Sid": "SendRequests",
        "Effect": "Allow",
        "Action": "sqs:SendMessage",
        "Resource": {"Fn::GetAtt": ["RequestQueue", "Arn"]},
    }


def test_the_producer_policy_may_use_the_stacks_key_through_sqs_only(producer):
    # Given the statement a KMS-encrypted queue requires of its senders
    statement = producer["EncryptRequestsWithTheStackKey"]

    # Then it is data-key generation and decryption on the stack's key, only by way of SQS in this region
    assert statement["Effect"] == "Allow"
    assert set(as_list(statement["Action"])) == {"kms:GenerateDataKey", "kms:Decrypt"}
    assert statement["Resource"] == {"Fn::GetAtt": ["Key", "Arn"]}
    assert statement["Condition"] == {
        "StringEquals": {"kms:ViaService": {"Fn::Sub": "sqs.${AWS::Region}.amazonaws.com"}}
    }


def test_the_producer_policy_grants_nothing_else_and_is_an_output(producer, template):
    # Given every action of the producer policy
    actions = {action for s in producer.values() for action in as_list(s["Action"])}

    # Then it is the three a producer needs, and the stack's outputs name the policy for attaching it
    assert actions == {"sqs:SendMessage", "kms:GenerateDataKey", "kms:Decrypt"}
    assert template["Outputs"]["ProducerPolicyArn"]["Value"] == {"Ref": "ProducerPolicy"}
