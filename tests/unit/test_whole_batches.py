"""A batch as a whole: calls in chunks of ten, at most MAX_CONCURRENCY API calls in flight, one result per
record in order, and every record the outcome of CONTRACT section 3's table. In-memory fakes of the ports."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.constraints import MAX_BATCH_ENTRIES
from domain.errors import ApiError, Reach, WorkerErrorCode
from domain.outcomes import Outcome
from tests.fakes.harness import MAX_RECEIVE, Harness, record, token_of
from tests.fakes.ports import FakePaymentsApi


def test_events_are_published_in_chunks_of_at_most_ten(harness: Harness) -> None:
    records = [record(f"n{index:02d}") for index in range(25)]
    report = harness.run(*records)
    assert {r.outcome for r in report.results} == {Outcome.CREATED}
    assert sorted(len(call) for call in harness.publisher.calls) == [5, 10, 10]
    assert max(len(call) for call in harness.publisher.calls) <= MAX_BATCH_ENTRIES
    published = sorted(entry.detail["messageId"] for entry in harness.publisher.received)
    assert published == sorted(r.message_id for r in records)


def test_dead_letters_are_sent_in_chunks_of_at_most_ten(harness: Harness) -> None:
    records = [record(f"p{index:02d}", body="{") for index in range(21)]
    report = harness.run(*records)
    assert {r.outcome for r in report.results} == {Outcome.DEAD_LETTERED}
    assert sorted(len(call) for call in harness.dead_letters.calls) == [1, 10, 10]
    dead_lettered = sorted(letter.message_id for letter in harness.dead_letters.received)
    assert dead_lettered == sorted(r.message_id for r in records)


@pytest.mark.parametrize("limit", [1, 3, 10])
def test_at_most_max_concurrency_api_calls_are_in_flight_and_that_many_are(limit: int) -> None:
    # Given an executor of `limit` workers and an API that holds each call until `limit` are in flight
    # (or every call has started), so calls made one after the other would never get through
    total = 12

    def hold(api: FakePaymentsApi) -> None:
        with api.condition:
            assert api.condition.wait_for(lambda: api.in_flight >= limit or len(api.calls) == total, timeout=5)

    with ThreadPoolExecutor(max_workers=limit) as executor:
        harness = Harness(executor)
        harness.api.gate = hold
        # When a batch of 12 is processed
        report = harness.run(*[record(f"c{index:02d}") for index in range(total)])
    # Then every call went through, with exactly `limit` in flight at the peak
    assert {r.outcome for r in report.results} == {Outcome.CREATED}
    assert harness.api.peak_in_flight == limit


# -- robustness -------------------------------------------------------------------------------------------------------


def test_a_mixed_batch_gives_every_record_exactly_one_result_in_order(harness: Harness) -> None:
    harness.api.answer(token_of("failed"), ApiError("ValidationException", "bad", 400))
    harness.api.answer(token_of("retried"), ApiError("ThrottlingException", "slow", 429))
    harness.api.answer(token_of("last"), ApiError(WorkerErrorCode.TIMEOUT, "read", reach=Reach.UNANSWERED))
    harness.api.answer(token_of("boom"), ZeroDivisionError())
    records = [
        record("created"),
        record("failed"),
        record("retried"),
        record("last", receive_count=MAX_RECEIVE),
        record("poison", body="null"),
        record("boom"),
    ]
    report = harness.run(*records)
    assert [r.outcome for r in report.results] == [
        Outcome.CREATED,
        Outcome.FAILED,
        Outcome.RETRIED,
        Outcome.DEAD_LETTERED,
        Outcome.DEAD_LETTERED,
        Outcome.RETRIED,
    ]
    assert report.batch_item_failures == [{"itemIdentifier": "msg-retried"}, {"itemIdentifier": "msg-boom"}]
    assert sorted(harness.api.called_tokens) == sorted(
        token_of(n) for n in ("created", "failed", "retried", "last", "boom")
    )


def test_an_empty_batch_does_nothing(harness: Harness) -> None:
    assert harness.run().response() == {"batchItemFailures": []}
    assert (harness.api.calls, harness.publisher.calls, harness.dead_letters.calls) == ([], [], [])


def test_every_port_failing_at_once_never_raises_out_of_process(harness: Harness) -> None:
    harness.api.default = RuntimeError("API adapter bug")
    harness.publisher.whole_call_failure = RuntimeError("publisher bug")
    harness.dead_letters.whole_call_failure = RuntimeError("DLQ adapter bug")
    records = [record("a"), record("b", receive_count=MAX_RECEIVE), record("c", body="\ufeff{}")]
    report = harness.run(*records)
    assert {r.outcome for r in report.results} == {Outcome.RETRIED}
    assert len(report.batch_item_failures) == 3


# -- property ---------------------------------------------------------------------------------------------------------

KINDS = ["created", "failed", "retried", "transient", "unexpected", "poison"]


@dataclass(frozen=True)
class Spec:
    kind: str
    receive_count: int
    publish_fails: bool
    dlq_fails: bool


def expected_outcome(spec: Spec) -> Outcome:
    """CONTRACT section 3, as a table."""
    if spec.kind == "poison":
        return Outcome.RETRIED if spec.dlq_fails else Outcome.DEAD_LETTERED
    outcome = {"created": Outcome.CREATED, "failed": Outcome.FAILED}.get(spec.kind, Outcome.RETRIED)
    if outcome is not Outcome.RETRIED and spec.publish_fails:
        outcome = Outcome.RETRIED
    if outcome is Outcome.RETRIED and spec.receive_count >= MAX_RECEIVE:
        outcome = Outcome.RETRIED if spec.dlq_fails else Outcome.DEAD_LETTERED
    return outcome


specs = st.lists(
    st.builds(
        Spec,
        st.sampled_from(KINDS),
        st.integers(1, MAX_RECEIVE + 1),
        st.booleans(),
        st.booleans(),
    ),
    max_size=25,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs, st.sampled_from([1, 4, 10]))
def test_every_record_gets_exactly_the_outcome_of_the_contracts_table(batch: list[Spec], workers: int) -> None:
    with ThreadPoolExecutor(max_workers=workers) as executor:
        harness = Harness(executor)
        records = []
        for index, spec in enumerate(batch):
            name = f"{spec.kind}-{index}"
            answers: dict[str, Any] = {
                "failed": ApiError("ConflictException", "conflict", 409),
                "retried": ApiError("ThrottlingException", "slow", 429),
                "transient": ApiError(WorkerErrorCode.NETWORK_ERROR, "reset", reach=Reach.UNANSWERED),
                "unexpected": ValueError("surprise"),
            }
            if spec.kind in answers:
                harness.api.answer(token_of(name), answers[spec.kind])
            if spec.publish_fails:
                harness.publisher.failing[token_of(name)] = "InternalFailure"
            if spec.dlq_fails:
                harness.dead_letters.failing[f"msg-{name}"] = "InternalError"
            body = '{"expiryTimeInMinutes": 60, "limit": 1}' if spec.kind == "poison" else None
            records.append(record(name, receive_count=spec.receive_count, body=body))
        report = harness.run(*records)

    # Every record has exactly one result, the one the table gives
    assert [r.outcome for r in report.results] == [expected_outcome(spec) for spec in batch]
    # Poison never reaches the API; every other record reaches it exactly once
    called = harness.api.called_tokens
    assert sorted(called) == sorted(token_of(f"{s.kind}-{i}") for i, s in enumerate(batch) if s.kind != "poison")
    # batchItemFailures are exactly the retried ones, in batch order
    assert report.batch_item_failures == [
        {"itemIdentifier": r.message_id} for r in report.results if r.outcome is Outcome.RETRIED
    ]
    # Nothing is lost: a dead-lettered record is in the DLQ, a deleted one was announced
    delivered = {letter.message_id for letter in harness.dead_letters.succeeded()}
    announced = {e.detail["messageId"] for e in harness.publisher.succeeded()}
    for result in report.results:
        if result.outcome is Outcome.DEAD_LETTERED:
            assert result.message_id in delivered
        if result.outcome in (Outcome.CREATED, Outcome.FAILED):
            assert result.message_id in announced
