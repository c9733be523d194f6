"""The worker's idempotency items an ``OutcomeUnknown`` redrive clears (issue 25).

An ``OutcomeUnknown`` letter's token has an *attempted* item older than the token window: the worker will not
send it again while the item is there. Redriving it on purpose (``dlq redrive --allow-outcome-unknown``) first
removes that item, with one conditional delete that removes only an *attempted* one: a *created* item stays
(the redriven request is then announced with its session, never sent).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from domain.token_record import ITEM_KEY, ItemState
from operations.aws import CONFIG, error_code
from operations.queues import QueueProblem

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

TABLE_OUTPUT: Final = "IdempotencyTableName"
CONDITION_FAILED: Final = "ConditionalCheckFailedException"


def dynamodb_client() -> Any:
    """A DynamoDB client from the environment."""
    return boto3.session.Session().client("dynamodb", config=CONFIG)


def stack_table_name(cloudformation: CloudFormationClient, stack: str) -> str:
    """The idempotency table's name from the stack's outputs (``IdempotencyTableName``)."""
    try:
        stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except (ClientError, BotoCoreError) as error:
        raise QueueProblem(f"stack {stack}", error_code(error)) from error
    for output in stacks[0].get("Outputs", []):
        if output.get("OutputKey") == TABLE_OUTPUT and output.get("OutputValue"):
            return str(output["OutputValue"])
    raise QueueProblem(f"stack {stack}", "MissingOutput", f"no output {TABLE_OUTPUT}")


class AttemptedItems:
    """Clears the *attempted* item of a token in one table."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self._dynamodb = dynamodb
        self._table = table

    def clear(self, client_token: str) -> str | None:
        """Remove the token's item if it is *attempted*: ``None`` when done (or nothing to clear), else why not."""
        try:
            self._dynamodb.delete_item(
                TableName=self._table,
                Key={ITEM_KEY: {"S": client_token}},
                ConditionExpression="#state = :attempted",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":attempted": {"S": ItemState.ATTEMPTED.value}},
            )
        except ClientError as error:
            if error_code(error) == CONDITION_FAILED:
                return None  # created (the redrive is announced with its session) or gone already
            return f"attempted item not cleared: {error_code(error)}"
        except BotoCoreError as error:
            return f"attempted item not cleared: {error_code(error)}"
        return None
