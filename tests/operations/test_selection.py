"""Which letters a redrive moves (CONTRACT section 8): its own queue's only, codes matched exactly, poison named."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

import operations.cli
from domain.dead_letter import LetterAttribute

BODY = '{"expiryTimeInMinutes": 60}'


def letter(queues, code, source_arn=None):
    """A worker's dead letter of ``code`` from ``source_arn`` (``queues``' request queue by default)."""
    attributes = {LetterAttribute.ERROR_CODE: code, LetterAttribute.SOURCE_QUEUE_ARN: source_arn or queues.queue_arn}
    return queues.dead_letter(BODY, **attributes)


def second_queue(moto, queues):
    """Another request queue dead-lettering into ``queues``' DLQ: ``(url, arn)``."""
    sqs = moto.client("sqs")
    policy = json.dumps({"deadLetterTargetArn": queues.dlq_arn, "maxReceiveCount": 1})
    url = sqs.create_queue(QueueName="requests-b", Attributes={"RedrivePolicy": policy})["QueueUrl"]
    return url, queues.arn(url)


@pytest.fixture
def shared(moto, queues):
    """A DLQ shared by queues A (``queues``) and B: two letters of A, one of B, one naming no queue."""
    b_url, b_arn = second_queue(moto, queues)
    own = {letter(queues, "ThrottlingException") for _ in range(2)}
    of_b = letter(queues, "ThrottlingException", b_arn)
    nameless = queues.dead_letter(BODY, ErrorCode="ThrottlingException")
    return {"own": own, "of_b": of_b, "nameless": nameless, "b_url": b_url, "b_arn": b_arn}


def test_a_shared_dlq_redrives_only_the_letters_of_the_queue_named_and_says_how_many_stay(queues, shared, run):
    # Given a DLQ shared by A and B, with two letters of A, one of B, and one naming no queue
    # When A's letters are redriven, first as a dry run
    dry = run("dlq", "redrive", *queues.urls(), "--dry-run", "--json")
    ran = run("dlq", "redrive", *queues.urls(), "--json")

    # Then both say two letters stay for other queues (B's, and the one naming none), by source, exit 4
    for done in (dry, ran):
        assert done.status == 4, done.err
        assert done.json()["leftForOtherQueues"] == 2
        sources = {source["queueArn"]: source["count"] for source in done.json()["otherSourceQueues"]}
        assert sources == {shared["b_arn"]: 1, None: 1}
        assert done.err.splitlines()[-1] == (
            "payment-session-worker: 2 letter(s) of other queues, or of no known queue, stay in the DLQ"
            f" (not {queues.queue_arn}'s)"
        )
    # And only A's letters moved; the others are in the DLQ and visible at once
    assert {move["messageId"] for move in ran.json()["messages"]} == shared["own"]
    assert len(queues.receive(queues.queue_url)) == 2
    assert queues.receive(shared["b_url"]) == []
    assert queues.ids(queues.dlq_url) == {shared["of_b"], shared["nameless"]}


def test_the_summary_table_counts_the_letters_of_other_queues(queues, shared, run):
    # Given the shared DLQ
    # When A's letters are redriven as a dry run, as a table
    ran = run("dlq", "redrive", *queues.urls(), "--dry-run")

    # Then the ThrottlingException row counts 2 selected, 1 of another queue, 1 of no known queue (none held as
    # outcome unknown, none over the limit)
    assert ran.status == 4, ran.err
    row = next(line for line in ran.out.splitlines() if line.startswith("│ ThrottlingException"))
    assert [cell.strip() for cell in row.strip("│ ").split("│")][1:] == ["2", "2", "0", "0", "2", "1", "1", "0", "0"]
    assert shared["b_arn"] in ran.out


def test_a_letter_naming_no_queue_is_the_request_queues_when_it_is_the_dlqs_only_source(queues, run):
    # Given a DLQ with one source queue, and a letter naming no queue (moto does not stamp
    # DeadLetterQueueSourceArn on the messages its redrive policy moves)
    nameless = queues.moved_by_sqs(BODY)

    # When the DLQ is redriven
    ran = run("dlq", "redrive", *queues.urls(), "--json")

    # Then it moved
    assert ran.status == 0, ran.err
    assert [move["messageId"] for move in ran.json()["messages"]] == [nameless]


@pytest.mark.parametrize(
    ("codes", "line"),
    [
        (
            ["NoSuchCode"],
            "--error-code NoSuchCode matches no letter (present: InvalidRequest, ThrottlingException, Timeout)",
        ),
        (
            ["throttlingexception"],
            "--error-code throttlingexception matches no letter; codes are case-sensitive:"
            " did you mean ThrottlingException?",
        ),
        (["Timeout"], "--error-code Timeout: only letters of other queues have it (1)"),
        (
            ["ThrottlingException", "NoSuchCode"],
            "--error-code NoSuchCode matches no letter (present: InvalidRequest, ThrottlingException, Timeout)",
        ),
    ],
)
def test_an_error_code_that_matches_nothing_moves_nothing_and_says_why_in_one_line(moto, queues, run, codes, line):
    # Given A's throttled and poison letters, and B's timed-out one, in a shared DLQ
    _, b_arn = second_queue(moto, queues)
    letters = {
        letter(queues, "ThrottlingException"),
        letter(queues, "InvalidRequest"),
        letter(queues, "Timeout", b_arn),
    }

    # When A's DLQ is redriven with an --error-code that selects none of A's letters
    ran = run("dlq", "redrive", *queues.urls(), *[part for code in codes for part in ("--error-code", code)])

    # Then exit 3, one line naming the code (and what is there), nothing moved
    assert ran.status == 3
    assert ran.err == f"payment-session-worker: {line}; nothing moved\n"
    assert ran.out == ""
    assert queues.ids(queues.dlq_url) == letters
    assert queues.receive(queues.queue_url) == []


def test_a_redrive_that_selects_poison_warns_with_the_counts_before_moving_it(queues, run, monkeypatch):
    # Given poison of two codes and a throttled letter
    for code in ("InvalidRequest", "InvalidRequest", "MalformedJson", "ThrottlingException"):
        letter(queues, code)
    # (each stderr line is taken with the request queue's depth at that moment)
    said = []
    say = operations.cli.say

    def say_and_count(line):
        depth = queues.sqs.get_queue_attributes(
            QueueUrl=queues.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )
        said.append((line, depth["Attributes"]["ApproximateNumberOfMessages"]))
        say(line)

    monkeypatch.setattr(operations.cli, "say", say_and_count)

    # When the DLQ is redriven without a filter
    ran = run("dlq", "redrive", *queues.urls())

    # Then a warning named each poison code with its count while the request queue was still empty; all moved
    assert ran.status == 0, ran.err
    assert said == [
        (
            "warning: this redrive moves poison (InvalidRequest 2, MalformedJson 1): the worker dead-letters it"
            " again unless its cause is fixed",
            "0",
        )
    ]
    assert len(queues.receive(queues.queue_url)) == 4


def test_a_redrive_of_non_poison_codes_says_nothing_of_poison(queues, run):
    # Given poison and a throttled letter
    letter(queues, "InvalidRequest")
    letter(queues, "ThrottlingException")

    # When only the throttled letters are redriven
    ran = run("dlq", "redrive", *queues.urls(), "--error-code", "ThrottlingException")

    # Then no warning
    assert ran.status == 0, ran.err
    assert ran.err == ""


def test_a_dry_run_counts_the_letters_over_the_limit(queues, run):
    # Given five letters
    for _ in range(5):
        letter(queues, "ThrottlingException")

    # When at most two are redriven, as a dry run
    ran = run("dlq", "redrive", *queues.urls(), "--dry-run", "--limit", "2", "--json")

    # Then two would move and three are over the limit
    assert ran.status == 0, ran.err
    assert (ran.json()["selected"], ran.json()["overLimit"]) == (2, 3)


def test_a_dlq_whose_sources_cannot_be_listed_keeps_the_letters_naming_no_queue(moto, queues, run, monkeypatch):
    # Given a letter naming no queue and a letter of the request queue, and ListDeadLetterSourceQueues refused
    nameless = queues.dead_letter(BODY, ErrorCode="ThrottlingException")
    own = letter(queues, "ThrottlingException")

    def refuse(**_):
        raise ClientError({"Error": {"Code": "AccessDenied"}}, "ListDeadLetterSourceQueues")

    original = operations.cli.sqs_client

    def client():
        sqs = original()
        sqs.meta.events.register("before-call.sqs.ListDeadLetterSourceQueues", refuse)
        return sqs

    monkeypatch.setattr(operations.cli, "sqs_client", client)

    # When the DLQ is redriven
    ran = run("dlq", "redrive", *queues.urls(), "--json")

    # Then the request queue's letter moved, the other stays, counted as of no known queue (exit 4)
    assert ran.status == 4, ran.err
    assert [move["messageId"] for move in ran.json()["messages"]] == [own]
    assert queues.ids(queues.dlq_url) == {nameless}
