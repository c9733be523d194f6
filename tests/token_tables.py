"""The idempotency record's table in moto (inside ``mock_aws``), keyed and expiring as the worker expects."""

from __future__ import annotations

from typing import Any

from domain.token_record import ITEM_KEY, TTL_ATTRIBUTE
from tests.support import RECORD_TABLE


def create_token_table(name: str = RECORD_TABLE) -> Any:
    """Create the table (on-demand, key ``clientToken``, TTL on ``expiresAt``); return a DynamoDB client."""
    import boto3

    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    if name in dynamodb.list_tables()["TableNames"]:
        return dynamodb  # an enclosing mock_aws (a module-scoped fixture) made it for an earlier test
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": ITEM_KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": ITEM_KEY, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
    )
    return dynamodb
