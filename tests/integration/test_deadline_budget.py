"""The finish reserve scales with the time an invocation has (issue 9): a short timeout still creates what it can."""

from __future__ import annotations

import pytest

from domain.time_policy import Budget
from sandbox.lambda_.context import LambdaContext
from tests.support import sqs_event, sqs_record, valid_request


def token(index: int) -> str:
    return f"budget-token-{index:02d}-".ljust(40, "a")


def test_a_short_invocation_creates_its_first_wave_and_hands_the_rest_back(aws, payments_api, monkeypatch):
    # Given 6 records whose API calls take 1 s each, MAX_CONCURRENCY=2, and an invocation with 2.5 s left
    from handlers import dependencies
    from handlers.create_payment_session import lambda_handler

    monkeypatch.setenv("MAX_CONCURRENCY", "2")
    dependencies.reset()
    payments_api.delay_next(1000, times=6)
    records = [sqs_record(valid_request(clientToken=token(i)), message_id=f"m-{i}") for i in range(6)]
    context = LambdaContext(timeout_seconds=2.5)

    # When the worker processes the batch
    try:
        result = lambda_handler(sqs_event(*records), context)
    finally:
        dependencies.reset()

    # Then it returned inside the invocation, with its own return reserve still unspent
    assert context.get_remaining_time_in_millis() > 0
    # And the first wave (two calls) was created and announced; every other record was handed back
    handed_back = {item["itemIdentifier"] for item in result["batchItemFailures"]}
    created = [f"m-{i}" for i in range(6) if f"m-{i}" not in handed_back]
    assert created == ["m-0", "m-1"]
    published = aws.published(2)
    assert sorted(event["detail"]["messageId"] for event in published) == ["m-0", "m-1"]
    # And the third wave never reached the API: the calls that started were the first two waves at most
    assert payments_api.snapshot()["calls"] <= 4


@pytest.mark.parametrize(("seconds_left", "reserve"), [(30.0, 4.0), (10.0, 3.0), (2.5, 0.75), (0.5, 0.15)])
def test_the_finish_reserve_is_a_share_of_the_time_left_capped_at_four_seconds(seconds_left, reserve):
    # Given the worker's budget
    budget = Budget()
    # Then the API stage ends that reserve before the deadline
    assert budget.api_deadline(100.0, 100.0 + seconds_left) == pytest.approx(100.0 + seconds_left - reserve)
