"""Fair queues (CONTRACT section 9): a standard queue whose producers set ``MessageGroupId`` per tenant.

Its records are standard records in every respect; only their dead letters keep the group, and never carry a
deduplication ID (which a standard DLQ refuses).
"""

from __future__ import annotations

from domain.errors import ApiError
from domain.outcomes import Outcome
from tests.fakes.harness import MAX_RECEIVE, Harness, attribute, record, token_of
from tests.unit.test_fifo_groups import fifo, outcomes


def test_a_throttled_tenant_record_holds_back_nothing_and_the_batch_runs_in_parallel(harness: Harness) -> None:
    # Given a fair queue's batch: tenant A's first record throttled, A's others and tenant B's beside them,
    # and an API that holds every call until all six are in flight at once (or five seconds pass)
    total = 6
    batch = [record(name, group_id=name[0].upper()) for name in ("a1", "a2", "b1", "a3", "b2", "b3")]
    harness.api.hold_calls_until(lambda api: api.in_flight >= total)
    harness.api.answer(token_of("a1"), ApiError("ThrottlingException", "slow", 429))
    report = harness.run(*batch)

    # Then only the throttled record is handed back; A's other records were created, all six calls at once
    assert outcomes(report) == {
        "a1": Outcome.RETRIED,
        "a2": Outcome.CREATED,
        "b1": Outcome.CREATED,
        "a3": Outcome.CREATED,
        "b2": Outcome.CREATED,
        "b3": Outcome.CREATED,
    }
    assert report.batch_item_failures == [{"itemIdentifier": "msg-a1"}]
    assert harness.api.peak_in_flight == total


def test_ungrouped_records_beside_a_grouped_one_are_not_made_one_serial_group(harness: Harness) -> None:
    # Given a standard queue's batch where one record carries a MessageGroupId and four do not,
    # and an API that holds every call until all five are in flight at once (or five seconds pass)
    total = 5
    batch = [record("t1", group_id="tenant"), *(record(f"u{i}") for i in range(4))]
    harness.api.hold_calls_until(lambda api: api.in_flight >= total)
    report = harness.run(*batch)
    # Then all five calls were in flight together
    assert set(outcomes(report).values()) == {Outcome.CREATED}
    assert harness.api.peak_in_flight == total


def test_a_fair_queue_dead_letter_keeps_its_group_and_is_not_fifo(harness: Harness) -> None:
    # Given poison, and a retried cause on its last receive, both of tenant A on a standard queue
    harness.api.answer(token_of("a2"), ApiError("ThrottlingException", "slow", 429))
    report = harness.run(
        record("a1", group_id="A", body="{not json"), record("a2", group_id="A", receive_count=MAX_RECEIVE)
    )
    # Then both are dead-lettered with the tenant's group, as standard letters (no deduplication ID)
    assert outcomes(report) == {"a1": Outcome.DEAD_LETTERED, "a2": Outcome.DEAD_LETTERED}
    letters = {letter.message_id: letter for letter in harness.dead_letters.received}
    assert {(m, letter.group_id, letter.fifo) for m, letter in letters.items()} == {
        ("msg-a1", "A", False),
        ("msg-a2", "A", False),
    }
    assert attribute(letters["msg-a1"], "ErrorCode") == "MalformedJson"


def test_a_fifo_dead_letter_is_fifo(harness: Harness) -> None:
    harness.run(fifo("a1", "A", body="{not json"))
    (letter,) = harness.dead_letters.received
    assert (letter.group_id, letter.fifo) == ("A", True)
