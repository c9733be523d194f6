"""FIFO request queues (CONTRACT section 9): each message group in order, the rest of a group handed back."""

from __future__ import annotations

import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from domain.errors import ApiError
from domain.outcomes import Outcome
from domain.records import InboundRecord
from tests.fakes.harness import MAX_RECEIVE, Harness, attribute, record, token_of
from tests.fakes.ports import FakePaymentsApi, session_for
from tests.support import REQUEST_QUEUE_ARN

FIFO_QUEUE_ARN = REQUEST_QUEUE_ARN + ".fifo"


def fifo(name: str, group: str, **options: Any) -> InboundRecord:
    return record(name, group_id=group, source_queue_arn=FIFO_QUEUE_ARN, **options)


def outcomes(report: Any) -> dict[str, Outcome]:
    return {result.message_id.removeprefix("msg-"): result.outcome for result in report.results}


def test_fifo_is_known_from_the_queue_name_only() -> None:
    assert fifo("a", "g").is_fifo
    assert record("b", source_queue_arn=FIFO_QUEUE_ARN).is_fifo
    assert not record("c", group_id="g").is_fifo  # a fair queue's tenant on a standard queue
    assert not record("d").is_fifo


def test_interleaved_groups_each_reach_the_api_in_batch_order_one_call_at_a_time() -> None:
    # Given two groups interleaved in one batch, and an API that notes each group's calls in flight
    in_flight: dict[str, int] = defaultdict(int)
    overlapped: list[str] = []
    lock = threading.Lock()
    group_of = {token_of(f"{g}{i}"): g for g in "ab" for i in range(1, 4)}

    def answer(params: Any) -> Any:
        group = group_of[params["clientToken"]]
        with lock:
            in_flight[group] += 1
            if in_flight[group] > 1:
                overlapped.append(group)
        threading.Event().wait(0.01)  # hold the call open so that an overlap would be seen
        with lock:
            in_flight[group] -= 1
        return session_for(params)

    batch = [fifo("a1", "A"), fifo("b1", "B"), fifo("a2", "A"), fifo("b2", "B"), fifo("a3", "A"), fifo("b3", "B")]
    with ThreadPoolExecutor(max_workers=10) as executor:
        harness = Harness(executor, api=FakePaymentsApi(default=answer))
        report = harness.run(*batch)

    # Then every record was created, each group's calls came in batch order, and never two of a group at once
    assert set(outcomes(report).values()) == {Outcome.CREATED}
    calls = [token.split("-")[1] for token in harness.api.called_tokens]
    assert [c for c in calls if c.startswith("a")] == ["a1", "a2", "a3"]
    assert [c for c in calls if c.startswith("b")] == ["b1", "b2", "b3"]
    assert overlapped == []
    # And each record's event went out before the next record of its group was sent
    published = [entry.detail["messageId"] for entry in harness.publisher.received]
    assert [m for m in published if m.startswith("msg-a")] == ["msg-a1", "msg-a2", "msg-a3"]


def test_once_a_record_is_retried_the_rest_of_its_group_is_handed_back_untouched(harness: Harness) -> None:
    # Given a throttled record in the middle of group A, and group B beside it
    harness.api.answer(token_of("a2"), ApiError("ThrottlingException", "slow", 429))
    batch = [fifo("a1", "A"), fifo("a2", "A"), fifo("b1", "B"), fifo("a3", "A"), fifo("a4", "A"), fifo("b2", "B")]
    report = harness.run(*batch)
    # Then A's later records were never sent to the API and are handed back with the retried one, in batch order
    assert outcomes(report) == {
        "a1": Outcome.CREATED,
        "a2": Outcome.RETRIED,
        "b1": Outcome.CREATED,
        "a3": Outcome.RETRIED,
        "a4": Outcome.RETRIED,
        "b2": Outcome.CREATED,
    }
    assert report.batch_item_failures == [{"itemIdentifier": f"msg-{n}"} for n in ("a2", "a3", "a4")]
    assert token_of("a3") not in harness.api.called_tokens and token_of("a4") not in harness.api.called_tokens
    held = {r.message_id: (r.error_code, r.api_called) for r in report.results if r.message_id in ("msg-a3", "msg-a4")}
    assert held == {"msg-a3": ("HeldBack", False), "msg-a4": ("HeldBack", False)}
    assert harness.dead_letters.calls == []


def test_records_held_back_on_their_last_receive_are_handed_back_not_dead_lettered(harness: Harness) -> None:
    harness.api.answer(token_of("a1"), ApiError("ThrottlingException", "slow", 429))
    report = harness.run(fifo("a1", "A"), fifo("a2", "A", receive_count=MAX_RECEIVE))
    assert outcomes(report) == {"a1": Outcome.RETRIED, "a2": Outcome.RETRIED}
    assert harness.dead_letters.calls == []


def test_poison_is_dead_lettered_with_its_group_and_the_group_goes_on(harness: Harness) -> None:
    # Given poison at the head of group A
    report = harness.run(fifo("a1", "A", body="{not json"), fifo("a2", "A"), fifo("a3", "A"))
    # Then it is dead-lettered, keeping its group for the FIFO DLQ, and the group's later records are created
    assert outcomes(report) == {"a1": Outcome.DEAD_LETTERED, "a2": Outcome.CREATED, "a3": Outcome.CREATED}
    (letter,) = harness.dead_letters.received
    assert (letter.message_id, letter.group_id) == ("msg-a1", "A")
    assert attribute(letter, "ErrorCode") == "MalformedJson"


def test_poison_behind_a_retried_record_of_its_group_is_handed_back_not_deleted(harness: Harness) -> None:
    # Given a1 throttled, and poison after it in group A (the FIFO soak found such poison deleted unsent)
    harness.api.answer(token_of("a1"), ApiError("ThrottlingException", "slow", 429))
    # When the batch runs
    report = harness.run(fifo("a1", "A"), fifo("a2", "A", body="{not json"))
    # Then the poison is handed back with a1, untouched: no dead letter was sent, so it must not be deleted
    assert outcomes(report) == {"a1": Outcome.RETRIED, "a2": Outcome.RETRIED}
    assert harness.dead_letters.calls == []


def test_a_retried_cause_dead_lettered_on_its_last_receive_does_not_stop_its_group(harness: Harness) -> None:
    harness.api.answer(token_of("a1"), ApiError("ThrottlingException", "slow", 429))
    report = harness.run(fifo("a1", "A", receive_count=MAX_RECEIVE), fifo("a2", "A"))
    assert outcomes(report) == {"a1": Outcome.DEAD_LETTERED, "a2": Outcome.CREATED}


def test_poison_that_cannot_be_dead_lettered_is_retried_and_holds_its_group_back(harness: Harness) -> None:
    harness.dead_letters.failing["msg-a1"] = "KMS.AccessDenied"
    report = harness.run(fifo("a1", "A", body="[]"), fifo("a2", "A"))
    assert outcomes(report) == {"a1": Outcome.RETRIED, "a2": Outcome.RETRIED}
    assert harness.api.calls == []


def test_a_group_that_cannot_finish_before_the_deadline_hands_back_its_remaining_records(harness: Harness) -> None:
    # Given a group whose first call returns with 0.12 s of the invocation left (less than a call needs to start
    # once the finish reserve is kept), and a second group that is done by then
    seconds_left = 30.0
    deadline = harness.clock.now + seconds_left

    def slow(params: Any) -> Any:
        harness.clock.now = deadline - 0.12
        return session_for(params)

    harness.api.answer(token_of("a1"), slow)
    report = harness.run(fifo("a1", "A"), fifo("a2", "A"), fifo("a3", "A"), seconds_left=seconds_left)
    # Then the first record is created and announced, and the rest of the group is handed back, never sent
    assert outcomes(report) == {"a1": Outcome.CREATED, "a2": Outcome.RETRIED, "a3": Outcome.RETRIED}
    assert harness.api.called_tokens == [token_of("a1")]
    assert [entry.detail["messageId"] for entry in harness.publisher.received] == ["msg-a1"]
    codes = [r.error_code for r in report.results]
    assert codes == [None, "Timeout", "HeldBack"]


@pytest.mark.parametrize("limit", [1, 2, 4])
def test_groups_run_concurrently_within_max_concurrency(limit: int) -> None:
    # Given 6 groups of 2 records, and an API that holds each call until `limit` are in flight (or all started)
    total = 12
    batch = [fifo(f"g{g}r{r}", f"group-{g}") for r in range(2) for g in range(6)]
    with ThreadPoolExecutor(max_workers=limit) as executor:
        harness = Harness(executor)
        harness.api.hold_calls_until(lambda api: api.peak_in_flight >= limit or len(api.calls) == total)
        report = harness.run(*batch)
    # Then every record was created with exactly `limit` calls (one per group) in flight at the peak
    assert set(outcomes(report).values()) == {Outcome.CREATED}
    assert harness.api.peak_in_flight == limit


def test_a_standard_queue_batch_is_not_held_back_by_a_retried_record(harness: Harness) -> None:
    harness.api.answer(token_of("s1"), ApiError("ThrottlingException", "slow", 429))
    report = harness.run(record("s1"), record("s2"))
    assert outcomes(report) == {"s1": Outcome.RETRIED, "s2": Outcome.CREATED}
