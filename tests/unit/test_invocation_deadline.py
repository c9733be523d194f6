"""The invocation's deadline (CONTRACT section 3): without time for a stage the record is handed back or
dead-lettered on its last receive, never waited for past the deadline. In-memory fakes of the ports."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from domain.outcomes import Outcome
from domain.time_policy import Budget
from tests.fakes.harness import BUDGET, MAX_RECEIVE, Harness, only_result, record, token_of
from tests.fakes.ports import session_for


def test_without_time_for_the_api_stage_records_are_handed_back_with_timeout(harness: Harness) -> None:
    # Given less time left than the finish reserve plus the minimum for a call
    seconds_left = 0.99 * BUDGET.min_start / (1 - BUDGET.finish_share)
    # When a batch arrives
    report = harness.run(record("a"), record("b"), seconds_left=seconds_left)
    # Then the API is never called and every record is retried with Timeout
    assert harness.api.calls == []
    assert [(r.outcome, r.error_code, r.api_called) for r in report.results] == [
        (Outcome.RETRIED, "Timeout", False)
    ] * 2
    assert len(report.batch_item_failures) == 2


def test_just_enough_time_for_the_api_stage_calls_the_api(harness: Harness) -> None:
    report = harness.run(record("a"), seconds_left=1.01 * BUDGET.min_start / (1 - BUDGET.finish_share))
    assert only_result(report).outcome is Outcome.CREATED


def test_without_time_for_the_api_stage_on_the_last_receive_the_record_is_dead_lettered(harness: Harness) -> None:
    report = harness.run(record("a", receive_count=MAX_RECEIVE), seconds_left=1.2 * BUDGET.min_start)
    result = only_result(report)
    assert (result.outcome, result.error_code) == (Outcome.DEAD_LETTERED, "Timeout")
    assert harness.api.calls == []


def test_without_time_for_the_dead_letter_queue_poison_is_handed_back(harness: Harness) -> None:
    report = harness.run(record("p", body="{"), seconds_left=BUDGET.min_start / 2)
    result = only_result(report)
    assert (result.outcome, result.error_code) == (Outcome.RETRIED, "MalformedJson")
    assert harness.dead_letters.calls == []


def test_when_the_api_stage_uses_up_the_time_the_created_record_is_handed_back(harness: Harness) -> None:
    # Given an API call that returns just as the invocation ends
    deadline = harness.clock.now + 30

    def slow(params: Any) -> Any:
        harness.clock.now = deadline
        return session_for(params)

    harness.api.answer(token_of("a"), slow)
    # Then there is no time to publish: the record is retried (the redelivery repeats the same call)
    result = only_result(harness.run(record("a"), seconds_left=30))
    assert (result.outcome, result.error_code) == (Outcome.RETRIED, "EventPublishFailed")
    assert harness.publisher.calls == []


@pytest.mark.without_record("no time for the record's own request: retried IdempotencyRecordFailed before any call")
def test_an_api_call_still_running_at_the_deadline_is_handed_back_with_timeout() -> None:
    # Given no reserve, so the worker waits for the API until the deadline, which is now
    release = threading.Event()
    with ThreadPoolExecutor(max_workers=2) as executor:
        harness = Harness(executor, budget=Budget(finish_share=0.0, min_start=0.0))
        harness.api.gate = lambda _api: release.wait(timeout=10)
        try:
            # When the API call is still in flight at the deadline
            report = harness.run(record("a"), seconds_left=0.0)
        finally:
            release.set()
    # Then the record is retried with Timeout rather than waited for
    result = only_result(report)
    assert (result.outcome, result.error_code, result.api_called) == (Outcome.RETRIED, "Timeout", True)
