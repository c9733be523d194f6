"""``OutcomeUnknown`` letters (issue 25): reported with their first attempt, redriven only when asked, their
attempted items cleared first. moto's SQS and DynamoDB over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from domain.dead_letter import LetterAttribute
from tests.operations.test_redrive import BODY, TOKEN, worker_letter

FIRST_ATTEMPT = "1700000000000"
TABLE = "tokens"


def unknown_letter(queues: Any) -> str:
    return worker_letter(queues, code="OutcomeUnknown", **{LetterAttribute.FIRST_ATTEMPT_AT: FIRST_ATTEMPT})


@pytest.fixture
def dynamodb(moto: Any) -> Any:
    client = moto.client("dynamodb")
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "clientToken", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "clientToken", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return client


def item(state: str) -> dict[str, Any]:
    return {"clientToken": {"S": TOKEN}, "state": {"S": state}, "firstAttemptAt": {"N": FIRST_ATTEMPT}}


def test_the_report_shows_outcome_unknown_letters_with_their_first_attempt(queues, run) -> None:
    unknown_letter(queues)
    worker_letter(queues)
    ran = run("dlq", "report", "--dlq-url", queues.dlq_url, "--json")
    assert ran.status == 0, ran.err
    codes = {entry["errorCode"]: entry for entry in ran.json()["errorCodes"]}
    assert codes["OutcomeUnknown"]["firstAttemptOldest"] == "2023-11-14T22:13:20+00:00"
    assert "firstAttemptOldest" not in codes["ThrottlingException"]
    table = run("dlq", "report", "--dlq-url", queues.dlq_url)
    assert "2023-11-14 22:13:20" in table.out


def test_a_redrive_leaves_outcome_unknown_letters_unless_asked(queues, run) -> None:
    # Given an OutcomeUnknown letter and another one
    unknown = unknown_letter(queues)
    worker_letter(queues)
    # When the DLQ is redriven without the flag
    ran = run("dlq", "redrive", *queues.urls())
    # Then only the other one moved
    assert ran.status == 0, ran.err
    assert queues.ids(queues.dlq_url) == {unknown}
    # And asking for the code alone is refused: nothing moves
    refused = run("dlq", "redrive", *queues.urls(), "--error-code", "OutcomeUnknown")
    assert refused.status == 2
    assert "--allow-outcome-unknown" in refused.err
    assert queues.ids(queues.dlq_url) == {unknown}


def test_an_outcome_unknown_redrive_warns_clears_the_attempted_item_then_moves_the_letter(
    queues, run, dynamodb
) -> None:
    # Given an OutcomeUnknown letter whose token's item is attempted
    unknown_letter(queues)
    dynamodb.put_item(TableName=TABLE, Item=item("attempted"))

    # When it is redriven with the flag
    ran = run("dlq", "redrive", *queues.urls(), "--allow-outcome-unknown", "--idempotency-table", TABLE)

    # Then the operator is told a second session may follow, the item is gone and the letter moved
    assert ran.status == 0, ran.err
    assert "second session may follow" in ran.err
    assert "Item" not in dynamodb.get_item(TableName=TABLE, Key={"clientToken": {"S": TOKEN}})
    (copy,) = queues.receive(queues.queue_url)
    assert copy["Body"] == BODY
    assert LetterAttribute.FIRST_ATTEMPT_AT not in copy.get("MessageAttributes", {})


def test_a_created_item_is_kept_and_the_letter_still_moves(queues, run, dynamodb) -> None:
    unknown_letter(queues)
    dynamodb.put_item(TableName=TABLE, Item=item("created"))
    ran = run("dlq", "redrive", *queues.urls(), "--allow-outcome-unknown", "--idempotency-table", TABLE)
    assert ran.status == 0, ran.err
    assert dynamodb.get_item(TableName=TABLE, Key={"clientToken": {"S": TOKEN}})["Item"]["state"]["S"] == "created"
    assert len(queues.receive(queues.queue_url)) == 1


def test_an_item_that_cannot_be_cleared_keeps_the_letter_in_the_dlq(queues, run) -> None:
    unknown = unknown_letter(queues)
    ran = run("dlq", "redrive", *queues.urls(), "--allow-outcome-unknown", "--idempotency-table", "no-such-table")
    assert ran.status == 1
    assert "ResourceNotFoundException" in ran.out + ran.err
    assert queues.ids(queues.dlq_url) == {unknown}
    assert queues.receive(queues.queue_url) == []


def test_the_flag_needs_the_table(queues, run) -> None:
    unknown_letter(queues)
    ran = run("dlq", "redrive", *queues.urls(), "--allow-outcome-unknown")
    assert ran.status == 2
    assert "--idempotency-table" in ran.err
