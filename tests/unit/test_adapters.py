"""The adapters as the AWS APIs see them: what PutEvents is sent, and how an attempt past the deadline ends."""

from __future__ import annotations

import json
import time

import pytest
from botocore.stub import Stubber

from adapters.clients import ClientSettings
from adapters.event_publisher import EventBridgePublisher
from adapters.payments_api import PaymentsApiClient
from domain.errors import ApiError, Reach, WorkerErrorCode
from domain.events import DetailType, EventEntry
from tests.support import MANAGER_ARN, valid_request

TRACE = "Root=1-6744f0a0-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1"


def entry(trace_header: str | None) -> EventEntry:
    return EventEntry(DetailType.CREATED, {"clientToken": "t", "userId": "é"}, (MANAGER_ARN,), trace_header)


@pytest.fixture
def publisher() -> EventBridgePublisher:
    return EventBridgePublisher.create(ClientSettings(), bus_name="payment-sessions", source="payment-session-worker")


def test_put_events_carries_bus_source_detail_type_resources_and_the_trace_header(publisher):
    # Given one entry with the record's AWSTraceHeader and one without
    stub = Stubber(publisher._client)
    base = {
        "EventBusName": "payment-sessions",
        "Source": "payment-session-worker",
        "DetailType": "PaymentSessionCreated",
        "Detail": json.dumps({"clientToken": "t", "userId": "é"}, separators=(",", ":"), ensure_ascii=False),
        "Resources": [MANAGER_ARN],
    }
    stub.add_response(
        "put_events",
        {"FailedEntryCount": 0, "Entries": [{"EventId": "1"}, {"EventId": "2"}]},
        {"Entries": [{**base, "TraceHeader": TRACE}, base]},
    )

    # When both are published in one call
    with stub:
        errors = publisher.publish([entry(TRACE), entry(None)], deadline=time.monotonic() + 5)

    # Then the call matched CONTRACT section 4 field for field, and both were accepted
    stub.assert_no_pending_responses()
    assert errors == [None, None]


def test_a_failed_entry_is_mapped_back_to_its_own_record(publisher):
    stub = Stubber(publisher._client)
    stub.add_response(
        "put_events",
        {
            "FailedEntryCount": 1,
            "Entries": [{"EventId": "1"}, {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}],
        },
    )

    with stub:
        errors = publisher.publish([entry(None), entry(None)], deadline=time.monotonic() + 5)

    assert errors == [None, "InternalFailure: try again"]


def test_a_whole_call_failure_is_reported_on_every_entry(publisher):
    stub = Stubber(publisher._client)
    stub.add_client_error("put_events", service_error_code="AccessDeniedException", http_status_code=400)

    with stub:
        errors = publisher.publish([entry(None), entry(None)], deadline=time.monotonic() + 5)

    assert errors == ["PutEvents failed: AccessDeniedException"] * 2


def test_no_attempt_starts_past_the_deadline_and_the_call_ends_as_a_timeout(payments_api):
    # Given a payments client and a deadline already passed
    client = PaymentsApiClient.create(ClientSettings())
    params = {"paymentManagerArn": MANAGER_ARN, "expiryTimeInMinutes": valid_request()["expiryTimeInMinutes"]}

    # When a call is made
    with pytest.raises(ApiError) as raised:
        client.create_payment_session(
            {**params, "clientToken": "deadline-token-0001-ffffffffffffffffffffffffffff"},
            deadline=time.monotonic() - 0.01,
        )

    # Then it is a Timeout and the API never saw a request
    assert raised.value.code is WorkerErrorCode.TIMEOUT
    assert raised.value.reach is Reach.UNANSWERED
    assert payments_api.snapshot()["calls"] == 0
