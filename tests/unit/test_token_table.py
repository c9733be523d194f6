"""The idempotency record's DynamoDB adapter against moto (in process): one conditional request per change."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from moto import mock_aws

from adapters.clients import ClientSettings
from adapters.idempotency_table import DynamoDbTokenTable
from domain.errors import ApiError
from domain.token_record import ItemState, TokenItem
from tests.token_tables import create_token_table

NOW = 1_795_000_000_000
TABLE = "tokens-under-test"
ATTEMPT = TokenItem("t" * 40, ItemState.ATTEMPTED, "a" * 64, NOW, NOW + 30_000, NOW // 1000 + 86_400)
SESSION = {"paymentSessionId": "payment-session-1", "createdAt": "2026-11-26T12:00:00+00:00", "limits": {"x": 1}}


class CountingClient:
    """The botocore client, counting the requests made through it (to prove one request per change)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.requests: list[str] = []

    def __getattr__(self, name: str) -> Any:
        self.requests.append(name)
        return getattr(self.client, name)


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        yield create_token_table(TABLE)


@pytest.fixture
def counted(dynamodb: Any) -> CountingClient:
    return CountingClient(DynamoDbTokenTable.create(ClientSettings(), TABLE)._client)


@pytest.fixture
def table(counted: CountingClient) -> DynamoDbTokenTable:
    return DynamoDbTokenTable(counted, TABLE)


def test_attempt_writes_the_item_when_the_token_has_none_in_one_request(table, counted) -> None:
    assert table.attempt(ATTEMPT) is None
    assert counted.requests == ["put_item"]
    assert table.read(ATTEMPT.client_token) == ATTEMPT


def test_a_second_attempt_gets_the_first_item_back_from_the_same_request(table, counted) -> None:
    # Given a token attempted by one delivery
    table.attempt(ATTEMPT)
    counted.requests.clear()
    # When another delivery attempts it with its own deadline
    found = table.attempt(replace(ATTEMPT, holder_deadline=NOW + 99, first_attempt_at=NOW + 5))
    # Then it is refused and learns the first item, without a read
    assert found == ATTEMPT
    assert counted.requests == ["put_item"]


def test_take_over_succeeds_once_then_returns_the_taker_s_item(table) -> None:
    table.attempt(ATTEMPT)
    assert table.take_over(ATTEMPT, NOW + 60_000) is None
    # a second taker that judged the old item loses: it gets the item as it is now
    again = table.take_over(ATTEMPT, NOW + 70_000)
    assert again is not None and again.holder_deadline == NOW + 60_000
    assert again.first_attempt_at == NOW  # the first attempt is never moved


def test_created_keeps_the_session_as_the_event_needs_it(table) -> None:
    table.attempt(ATTEMPT)
    table.created(ATTEMPT, SESSION)
    stored = table.read(ATTEMPT.client_token)
    assert stored is not None
    assert (stored.state, stored.session) == (ItemState.CREATED, SESSION)


def test_remove_deletes_only_the_holder_s_own_attempt(table) -> None:
    # Given a token taken over by another delivery
    table.attempt(ATTEMPT)
    table.take_over(ATTEMPT, NOW + 60_000)
    # When the first holder removes its attempt, the taker's item stays
    table.remove(ATTEMPT)
    assert table.read(ATTEMPT.client_token) is not None
    # And when the taker removes its own, it is gone
    table.remove(replace(ATTEMPT, holder_deadline=NOW + 60_000))
    assert table.read(ATTEMPT.client_token) is None


def test_remove_never_deletes_a_created_item(table) -> None:
    table.attempt(ATTEMPT)
    table.created(ATTEMPT, SESSION)
    table.remove(ATTEMPT)
    stored = table.read(ATTEMPT.client_token)
    assert stored is not None and stored.state is ItemState.CREATED


def test_the_item_carries_its_ttl(dynamodb, table) -> None:
    table.attempt(ATTEMPT)
    raw = dynamodb.get_item(TableName=TABLE, Key={"clientToken": {"S": ATTEMPT.client_token}})["Item"]
    assert raw["expiresAt"] == {"N": str(ATTEMPT.expires_at)}
    ttl = dynamodb.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expiresAt"


@pytest.mark.parametrize("operation", ["attempt", "read", "created", "remove"])
def test_a_missing_table_is_a_refusal_naming_resource_not_found(dynamodb, operation) -> None:
    missing = DynamoDbTokenTable.create(ClientSettings(), "no-such-table")
    call = {
        "attempt": lambda: missing.attempt(ATTEMPT),
        "read": lambda: missing.read(ATTEMPT.client_token),
        "created": lambda: missing.created(ATTEMPT, SESSION),
        "remove": lambda: missing.remove(ATTEMPT),
    }[operation]
    with pytest.raises(ApiError) as raised:
        call()
    assert raised.value.code == "ResourceNotFoundException"


def test_an_item_the_worker_did_not_write_is_a_refusal_not_a_guess(dynamodb, table) -> None:
    dynamodb.put_item(TableName=TABLE, Item={"clientToken": {"S": ATTEMPT.client_token}, "state": {"S": "odd"}})
    with pytest.raises(ApiError) as raised:
        table.attempt(ATTEMPT)
    assert raised.value.code == "MalformedItem"
