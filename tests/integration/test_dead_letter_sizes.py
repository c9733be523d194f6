"""Dead-lettering large records: SQS caps a SendMessageBatch at 1 MiB for all its messages together.

Found by the fuzz tests (issue 5): two poison records of 600 kB in one batch were sent to the DLQ in one
SendMessageBatch, which SQS refuses as a whole (BatchRequestTooLong), so neither was ever dead-lettered
by the worker; both were handed back until the queue's redrive policy moved them, without their
ErrorCode or ClientToken.
"""

from __future__ import annotations

import json

from tests.support import sqs_event, sqs_record

LARGE: int = 600_000  # each body within SQS's 1 MiB message limit, two of them over its 1 MiB batch limit


def large_poison(n: int) -> str:
    return json.dumps({"expiryTimeInMinutes": 60, "notes": f"{n}" + "x" * LARGE})


def test_large_poison_records_of_one_batch_are_all_dead_lettered_on_their_first_receive(handler, aws, payments_api):
    # Given a batch of three poison records whose bodies together exceed what one SendMessageBatch takes
    records = [sqs_record(large_poison(n), message_id=f"m-large-{n}") for n in range(3)]

    # When the worker processes it
    result = handler(sqs_event(*records))

    # Then none is handed back: each is in the DLQ, byte for byte, with its ErrorCode
    assert result == {"batchItemFailures": []}
    letters = aws.dead_letters(3)
    assert sorted(m["MessageAttributes"]["SourceMessageId"]["StringValue"] for m in letters) == [
        "m-large-0",
        "m-large-1",
        "m-large-2",
    ]
    assert {m["Body"] for m in letters} == {r["body"] for r in records}
    assert {m["MessageAttributes"]["ErrorCode"]["StringValue"] for m in letters} == {"InvalidRequest"}
    assert payments_api.snapshot()["calls"] == 0


def test_small_poison_records_of_one_batch_still_go_to_the_dead_letter_queue_together(handler, aws, payments_api):
    # Given a batch of ten small poison records
    records = [sqs_record('{"expiryTimeInMinutes": 5}', message_id=f"m-small-{n}") for n in range(10)]

    # When the worker processes it
    result = handler(sqs_event(*records))

    # Then all ten are dead-lettered
    assert result == {"batchItemFailures": []}
    assert len(aws.dead_letters(10)) == 10
