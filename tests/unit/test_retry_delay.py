"""The retry delay (domain.time_policy): exponential in the receive count, jittered, capped, within the age limit."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest

from domain.errors import ApiError
from domain.outcomes import Outcome
from domain.records import MILLIS_PER_MINUTE, InboundRecord
from domain.time_policy import SQS_MAX_VISIBILITY_SECONDS, AgeLimit, RetryDelay, retry_delays
from tests.fakes.harness import Harness, token_of
from tests.fakes.harness import record as harness_record
from tests.fakes.ports import FakePaymentsApi, FakeVisibilitySetter

# The stack's defaults (template.yaml): RetryDelaySeconds 300, RetryDelayMaxSeconds 3600, MaxReceiveCount 5,
# MaxRequestAgeMinutes 1440.
STACK = RetryDelay(300, 3600)
NOW = 1_800_000_000_000
STANDARD_ARN = "arn:aws:sqs:us-east-1:123456789012:requests"
FIFO_ARN = "arn:aws:sqs:us-east-1:123456789012:requests.fifo"


def record(message_id: str, receive_count: int, *, arn: str = STANDARD_ARN, group: str | None = None) -> InboundRecord:
    return InboundRecord(
        message_id, "{}", receive_count, source_queue_arn=arn, group_id=group, receipt_handle=f"rh-{message_id}"
    )


def test_the_nominal_delay_doubles_from_the_first_up_to_the_cap():
    # Given the stack's defaults
    # Then receive n is followed by 300 x 2^(n-1) seconds, never more than an hour
    assert [STACK.nominal(n) for n in range(1, 8)] == [300, 600, 1200, 2400, 3600, 3600, 3600]
    # And a huge receive count is the cap, not an overflow
    assert STACK.nominal(10_000) == 3600


@pytest.mark.parametrize("draw", [0.0, 0.25, 0.5, 0.999999])
def test_the_jitter_keeps_each_delay_within_ten_percent_of_nominal_and_under_the_cap(draw):
    for receive in range(1, 8):
        nominal = STACK.nominal(receive)
        delay = STACK.jittered(receive, draw)
        assert round(nominal * 0.9) <= delay <= min(round(nominal * 1.1), 3600)


def test_with_defaults_the_worst_jitter_still_spans_more_than_an_hour_before_the_last_receive():
    # Given MaxReceiveCount 5: the worker retries after receives 1..4 and dead-letters on receive 5
    shortest = sum(STACK.jittered(n, 0.0) for n in range(1, 5))
    longest = sum(STACK.jittered(n, 0.999999) for n in range(1, 5))

    # Then the fifth receive comes at least 67.5 minutes after the first (82.5 at most)
    assert shortest == 4050 > 3600
    assert longest == 4950


def test_the_cap_never_exceeds_what_sqs_accepts():
    assert RetryDelay(60, 10**9).nominal(40) == SQS_MAX_VISIBILITY_SECONDS


def test_a_delay_of_zero_turns_the_worker_delay_off():
    # Given the delay off (the default without configuration)
    # When retried records are planned
    changes = retry_delays([(record("a", 1), NOW)], RetryDelay(), AgeLimit(1440), now=NOW, draw=lambda: 0.5)

    # Then none is hidden: the queue's visibility timeout applies, as CONTRACT section 3 says
    assert changes == []


def test_a_record_is_never_hidden_past_its_age_limit():
    # Given a request first enqueued 1435 minutes ago under a limit of 1440 (five minutes left), on receive 4
    first = NOW - 1435 * MILLIS_PER_MINUTE
    (change,) = retry_delays([(record("a", 4), first)], STACK, AgeLimit(1440), now=NOW, draw=lambda: 0.5)

    # Then it comes back when the limit is reached (to be failed as RequestExpired), not 40 minutes later
    assert change.seconds == 300
    # And one already past its limit comes back at once
    (late,) = retry_delays(
        [(record("b", 2), NOW - 1441 * MILLIS_PER_MINUTE)], STACK, AgeLimit(1440), now=NOW, draw=lambda: 0.5
    )
    assert late.seconds == 0


def test_without_an_age_limit_or_a_first_enqueue_only_the_curve_applies():
    changes = retry_delays(
        [(record("a", 3), None), (record("b", 3), NOW - 10**9)], STACK, AgeLimit(0), now=NOW, draw=lambda: 0.5
    )
    assert [c.seconds for c in changes] == [1200, 1200]


def test_each_standard_record_draws_its_own_jitter_and_names_its_receipt_handle_and_queue():
    draws = itertools.cycle([0.0, 0.999999])
    changes = retry_delays(
        [(record("a", 1), NOW), (record("b", 1), NOW)], STACK, AgeLimit(1440), now=NOW, draw=lambda: next(draws)
    )
    assert [(c.message_id, c.receipt_handle, c.queue_arn, c.seconds) for c in changes] == [
        ("a", "rh-a", STANDARD_ARN, 270),
        ("b", "rh-b", STANDARD_ARN, 330),
    ]


def test_a_fifo_group_comes_back_together_with_the_delay_of_its_first_handed_back_record():
    # Given a FIFO batch: group g1's head retried on receive 3, its later record held (receive 1); group g2 alone
    draws = iter([0.5, 0.0])
    retried = [
        (record("g1-head", 3, arn=FIFO_ARN, group="g1"), NOW),
        (record("g1-next", 1, arn=FIFO_ARN, group="g1"), NOW),
        (record("g2-head", 1, arn=FIFO_ARN, group="g2"), NOW),
    ]

    # When their delays are planned
    changes = retry_delays(retried, STACK, AgeLimit(1440), now=NOW, draw=lambda: next(draws))

    # Then g1's records share the head's delay (one draw per group), so the group returns in its order
    assert [(c.message_id, c.seconds) for c in changes] == [("g1-head", 1200), ("g1-next", 1200), ("g2-head", 270)]


def test_a_record_without_a_receipt_handle_is_left_to_the_queue():
    bare = InboundRecord("a", "{}", 1, source_queue_arn=STANDARD_ARN)
    assert retry_delays([(bare, NOW)], STACK, AgeLimit(1440), now=NOW, draw=lambda: 0.5) == []


@pytest.mark.parametrize(
    ("arn", "url"),
    [
        (STANDARD_ARN, "https://sqs.us-east-1.amazonaws.com/123456789012/requests"),
        (FIFO_ARN, "https://sqs.us-east-1.amazonaws.com/123456789012/requests.fifo"),
        ("arn:aws:sns:us-east-1:123456789012:topic", None),
        ("requests", None),
    ],
)
def test_the_adapter_addresses_the_records_queue_at_the_clients_endpoint(arn, url):
    from adapters.visibility import queue_url

    assert queue_url("https://sqs.us-east-1.amazonaws.com/", arn) == url


# The worker's hook (service.batch): which records it hides, and what a failed call changes


def throttled(name: str) -> tuple[str, Any]:
    return token_of(name), ApiError("ThrottlingException", "slow down")


def harness(executor: ThreadPoolExecutor, api: FakePaymentsApi, **options: Any) -> Harness:
    return Harness(executor, api=api, visibility=FakeVisibilitySetter(**options), retry_delay=STACK)


def test_the_worker_hides_only_its_retried_records_for_their_delay(executor):
    # Given a batch: one created, one throttled on receive 2, one poison
    api = FakePaymentsApi()
    api.answer(*throttled("slow"))
    run = harness(executor, api)
    batch = [
        harness_record("ok"),
        replace(harness_record("slow", receive_count=2), receipt_handle="rh-slow"),
        replace(harness_record("bad", body="{"), receipt_handle="rh-bad"),
    ]

    # When the worker processes it
    report = run.run(*batch)

    # Then only the retried record is hidden, for receive 2's delay, and its result says so
    (change,) = run.visibility.received
    assert (change.message_id, change.receipt_handle, change.seconds) == ("msg-slow", "rh-slow", 600)
    delays = {r.message_id: r.retry_delay_seconds for r in report.results}
    assert delays == {"msg-ok": None, "msg-slow": 600, "msg-bad": None}


def test_a_failed_visibility_change_leaves_the_record_retried_by_the_queue(executor):
    # Given the visibility call fails for the throttled record
    api = FakePaymentsApi()
    api.answer(*throttled("slow"))
    run = harness(executor, api, failing={"msg-slow": "ReceiptHandleIsInvalid: expired"})

    # When the worker processes it
    (result,) = run.run(replace(harness_record("slow"), receipt_handle="rh-slow")).results

    # Then it is still handed back (the queue's visibility timeout brings it back) and no delay is reported
    assert result.outcome is Outcome.RETRIED
    assert result.retry_delay_seconds is None


def test_a_fifo_group_held_behind_a_retried_record_is_hidden_with_it(executor):
    # Given a FIFO group whose first record is throttled on receive 3 and whose second is held behind it
    api = FakePaymentsApi()
    api.answer(*throttled("a1"))
    run = harness(executor, api)
    batch = [
        replace(harness_record("a1", receive_count=3, group_id="A", source_queue_arn=FIFO_ARN), receipt_handle="h1"),
        replace(harness_record("a2", group_id="A", source_queue_arn=FIFO_ARN), receipt_handle="h2"),
    ]

    # When the worker processes it
    run.run(*batch)

    # Then both are hidden for the head's delay: the group comes back together, in its order
    assert [(c.message_id, c.seconds) for c in run.visibility.received] == [("msg-a1", 1200), ("msg-a2", 1200)]


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        yield pool
