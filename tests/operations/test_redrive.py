"""``dlq redrive`` (CONTRACT section 8) against moto's SQS over HTTP."""

from __future__ import annotations

import json

from domain.dead_letter import DIAGNOSTIC_ATTRIBUTES, LetterAttribute
from domain.tokens import derive_token
from tests.operations.moto_queues import Queues, redrive_crashing_before_the_delete

BODY = '{"expiryTimeInMinutes": 60,  "userId": "user-\u00e9t\u00e9-42",\n "agentName": "checkout"}'
TOKEN = "tok-" + "a" * 40


def worker_letter(queues, body=BODY, code="ThrottlingException", **extra):
    """A dead letter with every attribute the worker stamps (CONTRACT section 5)."""
    attributes = {
        LetterAttribute.ERROR_CODE: code,
        LetterAttribute.ERROR_MESSAGE: "throttled",
        LetterAttribute.SOURCE_MESSAGE_ID: "source-1",
        LetterAttribute.SOURCE_QUEUE_ARN: queues.queue_arn,
        LetterAttribute.CLIENT_TOKEN: TOKEN,
        LetterAttribute.ORIGINAL_SENT_TIMESTAMP: "1700000000000",
        **extra,
    }
    return queues.dead_letter(body, **attributes)


def attribute(message, name):
    value = message.get("MessageAttributes", {}).get(name, {})
    return value.get("StringValue", value.get("BinaryValue"))


def test_a_redriven_letter_keeps_body_session_and_own_attributes_and_drops_the_diagnostic_ones(queues, run):
    # Given a dead letter of the worker with a session ID and two of the producer's attributes
    session_id = "payment-session-0123456789abcde"
    worker_letter(
        queues,
        **{LetterAttribute.PAYMENT_SESSION_ID: session_id, "Tenant": "acme", "Signature": b"\x00\xff\x10"},
    )

    # When it is redriven
    ran = run("dlq", "redrive", *queues.urls())

    # Then the copy has the body byte for byte, the token, the first enqueue and the producer's attributes
    assert ran.status == 0, ran.err
    (copy,) = queues.receive(queues.queue_url)
    assert copy["Body"] == BODY
    assert set(copy["MessageAttributes"]) == {
        LetterAttribute.CLIENT_TOKEN,
        LetterAttribute.ORIGINAL_SENT_TIMESTAMP,
        LetterAttribute.PAYMENT_SESSION_ID,
        "Tenant",
        "Signature",
    }
    assert attribute(copy, LetterAttribute.CLIENT_TOKEN) == TOKEN
    # And the session ID stays, so the worker announces the session instead of creating or failing it
    assert attribute(copy, LetterAttribute.PAYMENT_SESSION_ID) == session_id
    assert attribute(copy, LetterAttribute.ORIGINAL_SENT_TIMESTAMP) == "1700000000000"
    assert attribute(copy, "Tenant") == "acme"
    assert copy["MessageAttributes"]["Signature"] == {"DataType": "Binary", "BinaryValue": b"\x00\xff\x10"}
    assert not DIAGNOSTIC_ATTRIBUTES & set(copy["MessageAttributes"])
    # And the letter has left the DLQ
    assert queues.ids(queues.dlq_url) == set()


def test_a_letter_the_redrive_policy_moved_gets_the_token_of_its_first_delivery_and_its_first_enqueue(queues, run):
    # Given a request that SQS's own redrive policy moved to the DLQ (no worker attribute; ID and SentTimestamp kept)
    message_id = queues.moved_by_sqs(BODY)
    (letter,) = queues.peek(queues.dlq_url)

    # When it is redriven
    ran = run("dlq", "redrive", *queues.urls(), "--json")

    # Then the copy carries the token derived from that message ID, the one its first delivery used
    assert ran.status == 0, ran.err
    (copy,) = queues.receive(queues.queue_url)
    assert attribute(copy, LetterAttribute.CLIENT_TOKEN) == derive_token(message_id)
    # And its OriginalSentTimestamp is the letter's SentTimestamp, the request's first enqueue
    assert attribute(copy, LetterAttribute.ORIGINAL_SENT_TIMESTAMP) == letter["Attributes"]["SentTimestamp"]
    assert copy["Body"] == BODY
    (move,) = ran.json()["messages"]
    assert move == {
        "messageId": message_id,
        "errorCode": "(none)",
        "outcome": "moved",
        "clientToken": derive_token(message_id),
        "tokenSource": "derived",
        "reason": None,
    }


def test_a_worker_letter_without_client_token_gets_one_derived_from_its_own_message_id(queues, run):
    # Given a worker's dead letter that carries no ClientToken
    letter_id = queues.dead_letter(BODY, ErrorCode="MalformedJson", SourceMessageId="source-9")

    # When it is redriven
    assert run("dlq", "redrive", *queues.urls()).status == 0

    # Then the token is derived from the dead letter's own message ID (CONTRACT 8), not the source's
    (copy,) = queues.receive(queues.queue_url)
    assert attribute(copy, LetterAttribute.CLIENT_TOKEN) == derive_token(letter_id)


def test_only_the_selected_error_codes_move_and_the_rest_stay_visible_in_the_dlq(queues, run):
    # Given throttled letters, poison, and a letter the redrive policy moved
    throttled = {worker_letter(queues, code="ThrottlingException") for _ in range(2)}
    poison = worker_letter(queues, code="InvalidRequest")
    moved = queues.moved_by_sqs(BODY)

    # When the throttled ones and those without ErrorCode are redriven
    ran = run(
        "dlq", "redrive", *queues.urls(), "--error-code", "ThrottlingException", "--error-code", "(none)", "--json"
    )

    # Then exactly those moved, and the poison is still in the DLQ, visible at once
    assert ran.status == 0, ran.err
    assert {move["messageId"] for move in ran.json()["messages"]} == throttled | {moved}
    assert len(queues.receive(queues.queue_url)) == 3
    assert queues.ids(queues.dlq_url) == {poison}


def test_limit_moves_at_most_that_many_and_leaves_the_others(queues, run):
    # Given five dead letters
    letters = {worker_letter(queues) for _ in range(5)}

    # When at most two are redriven
    ran = run("dlq", "redrive", *queues.urls(), "--limit", "2", "--json")

    # Then two moved and three are still in the DLQ
    assert ran.status == 0, ran.err
    assert ran.json()["moved"] == 2
    assert len(queues.receive(queues.queue_url)) == 2
    remaining = queues.ids(queues.dlq_url)
    assert len(remaining) == 3
    assert remaining < letters


def test_dry_run_moves_nothing_and_says_what_would_move(queues, run):
    # Given two dead letters of different codes
    worker_letter(queues, code="ThrottlingException")
    poison = worker_letter(queues, code="InvalidRequest")

    # When the throttled one is redriven as a dry run
    ran = run("dlq", "redrive", *queues.urls(), "--dry-run", "--error-code", "ThrottlingException")
    as_json = run("dlq", "redrive", *queues.urls(), "--dry-run", "--json")

    # Then nothing changed: both still in the DLQ and visible, the request queue empty
    assert ran.status == 0, ran.err
    assert len(queues.ids(queues.dlq_url)) == 2
    assert queues.receive(queues.queue_url) == []
    # And the output says what would move
    assert "Dry run: nothing changed" in ran.out
    assert "ThrottlingException" in ran.out
    assert "would move" in ran.out
    assert "InvalidRequest" not in ran.out
    assert {move["outcome"] for move in as_json.json()["messages"]} == {"would move"}
    assert poison in {move["messageId"] for move in as_json.json()["messages"]}


def test_a_rerun_after_a_crash_between_send_and_delete_repeats_the_send_with_the_same_token(queues, run):
    # Given a letter the redrive policy moved, and a redrive that crashes after sending its copy, before the delete
    message_id = queues.moved_by_sqs(BODY)
    redrive_crashing_before_the_delete(queues)
    assert queues.ids(queues.dlq_url) == {message_id}  # not lost: still in the DLQ (its copy sent)

    # When the command runs again
    ran = run("dlq", "redrive", *queues.urls())

    # Then the DLQ is empty and the request queue has the copy twice, with the same body and token
    assert ran.status == 0, ran.err
    assert queues.ids(queues.dlq_url) == set()
    copies = queues.receive(queues.queue_url)
    assert len(copies) == 2
    assert {attribute(copy, LetterAttribute.CLIENT_TOKEN) for copy in copies} == {derive_token(message_id)}
    assert {copy["Body"] for copy in copies} == {BODY}


def test_a_letter_whose_send_fails_stays_in_the_dlq_and_the_exit_status_names_it(moto, run):
    # Given a request queue that takes at most 1 KiB, a small letter, and one too large for it
    queues = Queues(moto, MaximumMessageSize="1024")
    small = worker_letter(queues)
    large = worker_letter(queues, body=json.dumps({"expiryTimeInMinutes": 60, "agentName": "x" * 2000}))

    # When the DLQ is redriven
    ran = run("dlq", "redrive", *queues.urls())

    # Then the small one moved, the large one is still in the DLQ, and the command says which, exiting 1
    assert ran.status == 1
    assert large in ran.err
    assert small not in ran.err
    assert large in ran.out
    assert "InvalidParameterValue" in ran.out
    assert queues.ids(queues.dlq_url) == {large}
    assert len(queues.receive(queues.queue_url)) == 1


def test_a_letter_that_would_need_more_than_ten_attributes_is_not_moved_and_named(queues, run):
    # Given a letter the redrive policy could have moved with ten of the producer's attributes and no token
    letter = queues.dead_letter(BODY, **{f"Producer{index}": str(index) for index in range(10)})

    # When the DLQ is redriven
    ran = run("dlq", "redrive", *queues.urls(), "--json")

    # Then it stays in the DLQ (no producer attribute is dropped silently) and the command names it
    assert ran.status == 1
    (move,) = ran.json()["messages"]
    assert move["messageId"] == letter
    assert move["outcome"] == "failed"
    assert "SQS takes 10" in move["reason"]
    assert letter in ran.err
    assert queues.ids(queues.dlq_url) == {letter}
    assert queues.receive(queues.queue_url) == []
