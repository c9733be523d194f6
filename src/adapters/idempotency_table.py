"""The idempotency record's DynamoDB table (issue 25): one conditional request per state change.

Implements ``domain.token_record.TokenTable`` over a botocore ``dynamodb`` client. The key is ``clientToken``;
``expiresAt`` is the table's TTL attribute. Writing *attempted* is one ``PutItem`` that fails when the token
has an item and returns that item in the same answer (``ReturnValuesOnConditionCheckFailure``): there is no
read before the write, so two deliveries of one token cannot both believe they hold it.

Powertools' idempotency utility is not used: it deletes its record when the function raises and lets an
in-progress record expire with the invocation, so a call with an unknown outcome would be sent again past the
service's token window. Its persistence layer would also read back what this module already gets from the one
conditional write.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from adapters.aws_errors import api_error
from adapters.clients import ClientSettings, make_client
from domain.errors import ApiError
from domain.token_record import ITEM_KEY, TTL_ATTRIBUTE, ItemState, TokenItem

CONDITION_FAILED: Final = "ConditionalCheckFailedException"


def to_item(item: TokenItem) -> dict[str, dict[str, str]]:
    """``item`` in DynamoDB's attribute-value form."""
    out = {
        ITEM_KEY: {"S": item.client_token},
        "state": {"S": item.state.value},
        "requestHash": {"S": item.request_hash},
        "firstAttemptAt": {"N": str(item.first_attempt_at)},
        "holderDeadline": {"N": str(item.holder_deadline)},
        TTL_ATTRIBUTE: {"N": str(item.expires_at)},
    }
    if item.session is not None:
        out["session"] = {"S": json.dumps(item.session, separators=(",", ":"), ensure_ascii=False)}
    return out


def from_item(raw: Mapping[str, Mapping[str, str]]) -> TokenItem:
    """An item DynamoDB returned; one this module did not write is an ``ApiError``, never a guess."""
    try:
        session = raw.get("session")
        return TokenItem(
            client_token=raw[ITEM_KEY]["S"],
            state=ItemState(raw["state"]["S"]),
            request_hash=raw["requestHash"]["S"],
            first_attempt_at=int(raw["firstAttemptAt"]["N"]),
            holder_deadline=int(raw["holderDeadline"]["N"]),
            expires_at=int(raw[TTL_ATTRIBUTE]["N"]),
            session=json.loads(session["S"]) if session is not None else None,
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ApiError("MalformedItem", f"the token's item cannot be read ({type(error).__name__})") from None


class DynamoDbTokenTable:
    """``TokenTable`` on one DynamoDB table."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    @classmethod
    def create(cls, settings: ClientSettings, table_name: str) -> DynamoDbTokenTable:
        return cls(make_client("dynamodb", settings), table_name)

    def attempt(self, item: TokenItem) -> TokenItem | None:
        return self._conditional(
            "put_item",
            Item=to_item(item),
            ConditionExpression="attribute_not_exists(#key)",
            ExpressionAttributeNames={"#key": ITEM_KEY},
        )

    def take_over(self, found: TokenItem, holder_deadline: int) -> TokenItem | None:
        return self._conditional(
            "update_item",
            Key={ITEM_KEY: {"S": found.client_token}},
            UpdateExpression="SET holderDeadline = :mine",
            ConditionExpression="#state = :attempted AND holderDeadline = :theirs AND requestHash = :hash",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={
                ":mine": {"N": str(holder_deadline)},
                ":theirs": {"N": str(found.holder_deadline)},
                ":attempted": {"S": ItemState.ATTEMPTED.value},
                ":hash": {"S": found.request_hash},
            },
        )

    def read(self, client_token: str) -> TokenItem | None:
        try:
            answer = self._client.get_item(
                TableName=self._table, Key={ITEM_KEY: {"S": client_token}}, ConsistentRead=True
            )
        except (ClientError, BotoCoreError) as error:
            raise api_error(error) from error
        raw = answer.get("Item")
        return from_item(raw) if raw else None

    def created(self, item: TokenItem, session: Mapping[str, Any]) -> None:
        self._conditional(
            "update_item",
            Key={ITEM_KEY: {"S": item.client_token}},
            UpdateExpression="SET #state = :created, #session = :session",
            ConditionExpression="requestHash = :hash",
            ExpressionAttributeNames={"#state": "state", "#session": "session"},
            ExpressionAttributeValues={
                ":created": {"S": ItemState.CREATED.value},
                ":session": {"S": json.dumps(dict(session), separators=(",", ":"), ensure_ascii=False)},
                ":hash": {"S": item.request_hash},
            },
        )

    def remove(self, item: TokenItem) -> None:
        self._conditional(
            "delete_item",
            Key={ITEM_KEY: {"S": item.client_token}},
            ConditionExpression="#state = :attempted AND holderDeadline = :mine",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={
                ":attempted": {"S": ItemState.ATTEMPTED.value},
                ":mine": {"N": str(item.holder_deadline)},
            },
        )

    def _conditional(self, operation: str, **params: Any) -> TokenItem | None:
        """One conditional request: ``None`` when it applied, else the item as it is (``None`` if gone too)."""
        try:
            getattr(self._client, operation)(
                TableName=self._table, ReturnValuesOnConditionCheckFailure="ALL_OLD", **params
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != CONDITION_FAILED:
                raise api_error(error) from error
            raw: Any = error.response.get("Item")
            if not raw:
                raise ApiError(CONDITION_FAILED, "the token's item is gone") from error
            return from_item(raw)
        except BotoCoreError as error:
            raise api_error(error) from error
        return None
