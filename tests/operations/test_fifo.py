"""``dlq redrive`` from a FIFO DLQ to a FIFO request queue (CONTRACT section 9; issue 11 item 3)."""

from __future__ import annotations

from domain.dead_letter import LetterAttribute
from operations.copies import DEDUPLICATION_PREFIX
from tests.operations.moto_queues import redrive_crashing_before_the_delete

TOKEN = "tok-" + "c" * 40


def fifo_letter(queues, body, group):
    return queues.dead_letter(body, group=group, ErrorCode="ThrottlingException", ClientToken=TOKEN)


def test_fifo_letters_go_back_in_their_group_in_order_with_a_deduplication_id_per_move(fifo_queues, run):
    # Given FIFO dead letters of two groups, interleaved
    first = fifo_letter(fifo_queues, '{"n": 1}', "user-a")
    other = fifo_letter(fifo_queues, '{"n": 2}', "user-b")
    second = fifo_letter(fifo_queues, '{"n": 3}', "user-a")

    # When the DLQ is redriven
    ran = run("dlq", "redrive", *fifo_queues.urls())

    # Then each copy keeps its group, the group's order is kept, and its deduplication ID names the move
    assert ran.status == 0, ran.err
    copies = fifo_queues.receive(fifo_queues.queue_url)
    placed = [(copy["Attributes"]["MessageGroupId"], copy["Body"]) for copy in copies]
    assert [body for group, body in placed if group == "user-a"] == ['{"n": 1}', '{"n": 3}']
    assert [body for group, body in placed if group == "user-b"] == ['{"n": 2}']
    assert {copy["Attributes"]["MessageDeduplicationId"] for copy in copies} == {
        DEDUPLICATION_PREFIX + letter for letter in (first, other, second)
    }
    assert fifo_queues.ids(fifo_queues.dlq_url) == set()


def test_a_request_dead_lettered_again_is_redriven_again_within_the_deduplication_window(fifo_queues, run):
    # Given a FIFO request redriven once, then dead-lettered again (a new dead letter, same body and token)
    fifo_letter(fifo_queues, '{"n": 1}', "user-a")
    assert run("dlq", "redrive", *fifo_queues.urls()).status == 0
    (first,) = fifo_queues.receive(fifo_queues.queue_url)
    fifo_queues.sqs.delete_message(QueueUrl=fifo_queues.queue_url, ReceiptHandle=first["ReceiptHandle"])
    fifo_letter(fifo_queues, '{"n": 1}', "user-a")

    # When it is redriven again, well within SQS's five minutes
    assert run("dlq", "redrive", *fifo_queues.urls()).status == 0

    # Then SQS took the second move (a new deduplication ID), with the same token
    (again,) = fifo_queues.receive(fifo_queues.queue_url)
    assert again["Attributes"]["MessageDeduplicationId"] != first["Attributes"]["MessageDeduplicationId"]
    assert again["MessageAttributes"][LetterAttribute.CLIENT_TOKEN]["StringValue"] == TOKEN


def test_a_fifo_rerun_after_a_crash_between_send_and_delete_leaves_one_copy(fifo_queues, run):
    # Given a FIFO redrive that crashes after sending the copy, before deleting the letter
    letter = fifo_letter(fifo_queues, '{"n": 1}', "user-a")
    redrive_crashing_before_the_delete(fifo_queues)
    assert fifo_queues.ids(fifo_queues.dlq_url) == {letter}

    # When the command runs again within the deduplication window
    assert run("dlq", "redrive", *fifo_queues.urls()).status == 0

    # Then SQS dropped the repeated send: one copy in the request queue, none left in the DLQ
    (copy,) = fifo_queues.receive(fifo_queues.queue_url)
    assert copy["Attributes"]["MessageDeduplicationId"] == DEDUPLICATION_PREFIX + letter
    assert fifo_queues.ids(fifo_queues.dlq_url) == set()
