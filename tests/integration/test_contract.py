"""CONTRACT sections 1, 2, 4, 5, 6 and 7 through the real handler."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from domain.tokens import derive_token
from tests.support import (
    FOREIGN_MANAGER_ARN,
    MANAGER_ARN,
    eventbridge,
    load_event,
    only,
    sns,
    sqs_event,
    sqs_record,
    string_attribute,
    valid_request,
)

TOKEN = "contract-token-0001-bbbbbbbbbbbbbbbbbbbbbbbbbbbb"
TRACE = "Root=1-6744f0a0-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1"

# Section 1: every bad-input class ends dead-lettered with its ErrorCode.
BAD_BODIES: list[tuple[str, str, str]] = [
    ("not JSON", "{expiryTimeInMinutes: 60}", "MalformedJson"),
    ("a BOM", "\ufeff" + json.dumps(valid_request()), "MalformedJson"),
    ("duplicate keys", '{"expiryTimeInMinutes": 60, "expiryTimeInMinutes": 61}', "MalformedJson"),
    ("NaN", '{"expiryTimeInMinutes": NaN}', "MalformedJson"),
    ("Infinity", '{"expiryTimeInMinutes": Infinity}', "MalformedJson"),
    ("deep nesting", '{"limits": ' + "[" * 100_000 + "]" * 100_000 + "}", "MalformedJson"),
    ("a huge integer", '{"expiryTimeInMinutes": ' + "9" * 5000 + "}", "MalformedJson"),
    ("an array", "[]", "InvalidRequest"),
    ("a string", '"hello"', "InvalidRequest"),
    ("null", "null", "InvalidRequest"),
    # (SQS refuses an empty body, MissingParameter, so none is ever delivered; parse_request's tests cover "")
    ("a blank body", " ", "MalformedJson"),
    ("a large integer", '{"expiryTimeInMinutes": ' + "9" * 400 + "}", "InvalidRequest"),
    ("a bool expiry", json.dumps(valid_request(expiryTimeInMinutes=True)), "InvalidRequest"),
    ("a float expiry", json.dumps(valid_request(expiryTimeInMinutes=60.0)), "InvalidRequest"),
    ("a string expiry", json.dumps(valid_request(expiryTimeInMinutes="60")), "InvalidRequest"),
    ("expiry below 15", json.dumps(valid_request(expiryTimeInMinutes=14)), "InvalidRequest"),
    ("expiry above 480", json.dumps(valid_request(expiryTimeInMinutes=481)), "InvalidRequest"),
    ("a missing expiry", json.dumps(valid_request(expiryTimeInMinutes=...)), "InvalidRequest"),
    ("an unknown field", json.dumps(valid_request(limit={"x": 1})), "InvalidRequest"),
    ("a CR/LF in userId", json.dumps(valid_request(userId="a\r\nX-Injected: 1")), "InvalidRequest"),
    ("a NUL in agentName", json.dumps(valid_request(agentName="agent\u0000")), "InvalidRequest"),
    ("a lone surrogate", '{"expiryTimeInMinutes": 60, "userId": "\\ud800"}', "InvalidRequest"),
    ("a too long userId", json.dumps(valid_request(userId="u" * 121)), "InvalidRequest"),
    ("a too long agentName", json.dumps(valid_request(agentName="a" * 257)), "InvalidRequest"),
    (
        "an amount with an exponent",
        json.dumps(valid_request(limits={"maxSpendAmount": {"value": "1e3", "currency": "USD"}})),
        "InvalidRequest",
    ),
    (
        "an amount with 3 fraction digits",
        json.dumps(valid_request(limits={"maxSpendAmount": {"value": "1.005", "currency": "USD"}})),
        "InvalidRequest",
    ),
    (
        "a currency outside the enum",
        json.dumps(valid_request(limits={"maxSpendAmount": {"value": "10", "currency": "EUR"}})),
        "InvalidRequest",
    ),
    ("limits without maxSpendAmount", json.dumps(valid_request(limits={})), "InvalidRequest"),
    ("a short clientToken", json.dumps(valid_request(clientToken="short")), "InvalidRequest"),
    ("an empty correlationId", json.dumps(valid_request(correlationId="")), "InvalidRequest"),
    ("a malformed manager ARN", json.dumps(valid_request(paymentManagerArn="arn:aws:nope")), "InvalidRequest"),
    (
        "a manager outside the allow-list",
        json.dumps(valid_request(paymentManagerArn=FOREIGN_MANAGER_ARN)),
        "PaymentManagerNotAllowed",
    ),
    ("an SNS Message that is not a string", json.dumps({"Type": "Notification", "Message": {}}), "InvalidRequest"),
    ("an SNS Message that is not JSON", json.dumps({"Type": "Notification", "Message": "{"}), "MalformedJson"),
    (
        "an EventBridge detail that is not an object",
        json.dumps({"version": "0", "source": "x", "detail-type": "y", "detail": "z"}),
        "InvalidRequest",
    ),
    (
        "an event of the worker's own source",
        json.dumps({"version": "0", "source": "payment-session-worker", "detail-type": "y", "detail": {}}),
        "EventLoop",
    ),
]


@pytest.mark.parametrize(("body", "code"), [(b, c) for _, b, c in BAD_BODIES], ids=[n for n, _, _ in BAD_BODIES])
def test_bad_input_is_dead_lettered_with_its_error_code_and_never_reaches_the_api(
    handler, aws, payments_api, body, code
):
    # Given a record whose body breaks a rule of CONTRACT section 1
    record = sqs_record(body, message_id="m-bad")

    # When the worker processes it
    result = handler(sqs_event(record))

    # Then it is dead-lettered byte for byte with the right ErrorCode, and the API never saw it
    assert result == {"batchItemFailures": []}
    letter = only(aws.dead_letters(1))
    assert letter["Body"] == body
    assert letter["MessageAttributes"]["ErrorCode"]["StringValue"] == code
    assert len(letter["MessageAttributes"]["ErrorMessage"]["StringValue"]) <= 1024
    assert payments_api.snapshot()["calls"] == 0


def test_one_bad_record_never_fails_its_batch(handler, aws, payments_api):
    # Given a batch of every bad-input class and one valid request
    records = [sqs_record(body) for _, body, _ in BAD_BODIES] + [sqs_record(valid_request(), message_id="m-good")]

    # When the worker processes it (two invocations: SQS batches hold at most 10, Lambda's up to 10,000)
    result = handler(sqs_event(*records))

    # Then nothing is handed back, every bad record is in the DLQ and the valid one is announced
    assert result == {"batchItemFailures": []}
    assert len(aws.dead_letters(len(BAD_BODIES), timeout=5)) == len(BAD_BODIES)
    assert only(aws.published(1))["detail"]["messageId"] == "m-good"


@pytest.mark.parametrize(
    "sample", ["sqs-valid.json", "sqs-sns-wrapped.json", "sqs-eventbridge-wrapped.json"], ids=lambda s: s
)
def test_each_request_sample_creates_a_session(handler, aws, payments_api, sample):
    # Given a sample event from events/ (raw, SNS-wrapped or EventBridge-wrapped)
    event = load_event(sample)

    # When the worker processes it
    result = handler(event)

    # Then one session is created and announced with the request's correlationId
    assert result == {"batchItemFailures": []}
    assert payments_api.snapshot()["sessions_created"] == 1
    event_out = only(aws.published(1))
    assert event_out["detail"]["correlationId"] in {"order-1001", "sns-wrapped", "eventbridge-wrapped"}


# Section 2: idempotency.


def test_the_body_client_token_is_used_verbatim(handler, aws, payments_api):
    handler(sqs_event(sqs_record(valid_request(clientToken=TOKEN))))
    assert list(payments_api.snapshot()["calls_by_client_token"]) == [TOKEN]


def test_the_client_token_attribute_is_used_when_the_body_has_none(handler, aws, payments_api):
    # Given a message redriven from the DLQ: a new message ID, the ClientToken attribute the worker stamped
    record = sqs_record(valid_request(), message_attributes={"ClientToken": string_attribute(TOKEN)})

    handler(sqs_event(record))

    assert list(payments_api.snapshot()["calls_by_client_token"]) == [TOKEN]


def test_the_body_token_wins_over_the_attribute(handler, aws, payments_api):
    other = "attribute-token-0001-cccccccccccccccccccccccccccc"
    record = sqs_record(valid_request(clientToken=TOKEN), message_attributes={"ClientToken": string_attribute(other)})

    handler(sqs_event(record))

    assert list(payments_api.snapshot()["calls_by_client_token"]) == [TOKEN]


@pytest.mark.without_record("a created token's redelivery makes no call (tests/integration/test_idempotency_record.py)")
def test_without_a_token_one_is_derived_from_the_message_id_and_redelivery_repeats_it(handler, aws, payments_api):
    # Given a request without a token, delivered twice (the first answer lost to a visibility timeout)
    record = sqs_record(valid_request(), message_id="m-redelivered")

    # When the worker processes both deliveries
    handler(sqs_event(record))
    handler(sqs_event({**record, "attributes": {**record["attributes"], "ApproximateReceiveCount": "2"}}))

    # Then both calls carried the token derived from the message ID, and one session exists
    stats = payments_api.snapshot()
    assert stats["calls_by_client_token"] == {derive_token("m-redelivered"): 2}
    assert stats["sessions_created"] == 1
    tokens = {event["detail"]["clientToken"] for event in aws.published(2)}
    assert tokens == {derive_token("m-redelivered")}


def test_a_redriven_message_keeps_its_token_and_gets_the_same_session(handler, aws, payments_api):
    # Given a request dead-lettered on its last receive after throttling
    payments_api.fail_next("ThrottlingException", times=3)
    first = sqs_record(valid_request(), message_id="m-original", receive_count=5)
    handler(sqs_event(first))
    letter = only(aws.dead_letters(1))

    # When an operator redrives it (new message ID, attributes kept) and the API has recovered
    redriven = sqs_record(
        letter["Body"],
        message_id="m-after-redrive",
        message_attributes={
            name: {"stringValue": value["StringValue"], "dataType": value["DataType"]}
            for name, value in letter["MessageAttributes"].items()
        },
    )
    handler(sqs_event(redriven))

    # Then the call carries the original token
    assert list(payments_api.snapshot()["calls_by_client_token"]) == [derive_token("m-original")]


@pytest.mark.without_record("a created token's redelivery makes no call (tests/integration/test_idempotency_record.py)")
def test_a_notification_delivered_twice_gets_one_token_and_one_session(handler, aws, payments_api):
    # Given one SNS notification and one EventBridge event, each delivered twice (new SQS message IDs each time)
    via_sns = json.dumps(sns(json.dumps(valid_request(correlationId="via-sns"))))
    via_events = json.dumps(eventbridge(valid_request(correlationId="via-events")))
    records = [
        sqs_record(via_sns, message_id="m-sns-1"),
        sqs_record(via_sns, message_id="m-sns-2"),
        sqs_record(via_events, message_id="m-events-1"),
        sqs_record(via_events, message_id="m-events-2"),
    ]

    # When the worker processes them in one batch
    response = handler(sqs_event(*records))

    # Then two sessions exist in all, one token per notification, each called or announced twice
    assert response["batchItemFailures"] == []
    stats = payments_api.snapshot()
    assert stats["sessions_created"] == 2
    assert sorted(stats["calls_by_client_token"].values()) == [2, 2]
    published = aws.published(4)
    by_correlation = {event["detail"]["correlationId"]: set() for event in published}
    for event in published:
        by_correlation[event["detail"]["correlationId"]].add(event["detail"]["paymentSession"]["paymentSessionId"])
    assert {name: len(ids) for name, ids in by_correlation.items()} == {"via-sns": 1, "via-events": 1}


@pytest.mark.parametrize(
    "envelope",
    [
        {**eventbridge({"expiryTimeInMinutes": 480}), "limits": {"maxSpendAmount": {"value": "5", "currency": "USD"}}},
        {
            **sns(json.dumps({"expiryTimeInMinutes": 480})),
            "limits": {"maxSpendAmount": {"value": "5", "currency": "USD"}},
        },
    ],
    ids=["eventbridge", "sns"],
)
def test_limits_beside_an_envelope_are_dead_lettered_never_an_unlimited_session(handler, aws, payments_api, envelope):
    # Given limits put beside the envelope instead of inside the request
    response = handler(sqs_event(sqs_record(json.dumps(envelope), message_id="m-stray")))

    # Then the record is dead-lettered InvalidRequest and the API never called
    assert response["batchItemFailures"] == []
    letter = only(aws.dead_letters(1))
    assert letter["MessageAttributes"]["ErrorCode"]["StringValue"] == "InvalidRequest"
    assert payments_api.snapshot()["sessions_created"] == 0


# Section 4: events.


def test_the_created_event_carries_the_contract_fields(handler, aws, payments_api):
    # Given a request with every optional field and a trace header
    request = valid_request(clientToken=TOKEN)
    record = sqs_record(request, message_id="m-fields", trace_header=TRACE)

    handler(sqs_event(record))

    detail = only(aws.published(1))["detail"]
    assert set(detail) == {"schemaVersion", "clientToken", "messageId", "correlationId", "request", "paymentSession"}
    assert detail["schemaVersion"] == "1.0"
    assert detail["correlationId"] == "order-1001"
    assert detail["request"] == {
        "paymentManagerArn": MANAGER_ARN,
        "expiryTimeInMinutes": 60,
        "userId": "user-1234",
        "agentName": "checkout-agent",
        "limits": {"maxSpendAmount": {"value": "25.50", "currency": "USD"}},
    }
    session = detail["paymentSession"]
    for stamp in ("createdAt", "updatedAt"):
        assert session[stamp].endswith("+00:00")


def test_the_event_request_holds_only_the_given_fields_and_a_null_correlation_id(handler, aws, payments_api):
    handler(sqs_event(sqs_record({"expiryTimeInMinutes": 15})))

    detail = only(aws.published(1))["detail"]
    assert detail["request"] == {"paymentManagerArn": MANAGER_ARN, "expiryTimeInMinutes": 15}
    assert detail["correlationId"] is None


def test_events_go_to_the_configured_bus_with_the_configured_source(handler, aws, payments_api, monkeypatch):
    # Given another source configured (the capture rule matches on the source, so expect nothing there)
    monkeypatch.setenv("EVENT_SOURCE", "com.example.other")
    from handlers import dependencies

    dependencies.reset()

    result = handler(sqs_event(sqs_record(valid_request())))

    assert result == {"batchItemFailures": []}
    assert aws.published() == []


# Section 5: dead-letter messages.


def test_the_dead_letter_carries_the_workers_attributes_first_then_the_records_own(handler, aws, payments_api):
    # Given a poison record with 9 attributes of its own, one of them binary
    own = {f"Custom{i}": string_attribute(f"v{i}") for i in range(8)}
    own["Blob"] = {"binaryValue": base64.b64encode(b"\x00\x01").decode(), "dataType": "Binary"}
    record = sqs_record("not json", message_id="m-attrs", message_attributes=own)

    handler(sqs_event(record))

    attributes: dict[str, Any] = only(aws.dead_letters(1))["MessageAttributes"]
    # Then the worker's six come first (OriginalSentTimestamp is the record's SentTimestamp) and SQS's limit of 10
    # keeps four of the record's own
    assert len(attributes) == 10
    assert attributes["OriginalSentTimestamp"]["StringValue"] == record["attributes"]["SentTimestamp"]
    assert {name: attributes[name]["StringValue"] for name in ("ErrorCode", "SourceMessageId", "SourceQueueArn")} == {
        "ErrorCode": "MalformedJson",
        "SourceMessageId": "m-attrs",
        "SourceQueueArn": record["eventSourceARN"],
    }
    assert attributes["ClientToken"]["StringValue"] == derive_token("m-attrs")
    assert {name for name in attributes if name.startswith("Custom")} == {f"Custom{i}" for i in range(4)}


def test_the_error_message_never_contains_the_input_values(handler, aws, payments_api):
    secret = "SECRET-VALUE-42"
    handler(sqs_event(sqs_record(json.dumps(valid_request(userId=secret + "\n", expiryTimeInMinutes=secret)))))

    message = only(aws.dead_letters(1))["MessageAttributes"]["ErrorMessage"]["StringValue"]
    assert secret not in message
    assert "userId" in message
    assert "expiryTimeInMinutes" in message


# Section 6: configuration.


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PAYMENT_MANAGER_ARN", None),
        ("DEAD_LETTER_QUEUE_URL", None),
        ("PAYMENT_MANAGER_ARN", "not-an-arn"),
        ("ALLOWED_PAYMENT_MANAGER_ARNS", "arn:aws:nope"),
        ("DEAD_LETTER_QUEUE_URL", "queue"),
        ("MAX_RECEIVE_COUNT", "zero"),
        ("MAX_CONCURRENCY", "0"),
        ("EVENT_SOURCE", "aws.lambda"),
    ],
)
def test_a_missing_or_invalid_variable_fails_the_cold_start_naming_it(handler, monkeypatch, variable, value):
    from handlers.settings import ConfigurationError

    if value is None:
        monkeypatch.delenv(variable)
    else:
        monkeypatch.setenv(variable, value)

    with pytest.raises(ConfigurationError, match=variable):
        handler(sqs_event(sqs_record(valid_request())))


def test_defaults_apply_when_optional_variables_are_absent(monkeypatch):
    from handlers.settings import load_settings

    monkeypatch.setenv("PAYMENT_MANAGER_ARN", MANAGER_ARN)
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/dlq")
    for name in (
        "ALLOWED_PAYMENT_MANAGER_ARNS",
        "EVENT_BUS_NAME",
        "EVENT_SOURCE",
        "MAX_RECEIVE_COUNT",
        "MAX_CONCURRENCY",
    ):
        monkeypatch.delenv(name, raising=False)

    settings = load_settings()

    assert (settings.event_bus_name, settings.event_source) == ("default", "payment-session-worker")
    assert (settings.max_receive_count, settings.max_concurrency) == (5, 10)
    assert settings.managers.allowed_arns == frozenset()


# Section 7: logs and metrics.


def test_one_log_line_per_record_with_ids_and_outcome_but_never_the_body_or_user_id(
    handler, aws, payments_api, log_lines
):
    user = "user-with-a-secret-name"
    record = sqs_record(valid_request(userId=user, clientToken=TOKEN), message_id="m-log")

    handler(sqs_event(record))

    lines = log_lines()
    entry = only(line for line in lines if line.get("messageId") == "m-log")
    assert entry["clientToken"] == TOKEN
    assert entry["correlationId"] == "order-1001"
    assert entry["outcome"] == "created"
    assert entry["userIdHash"] and entry["userIdHash"] != user
    everything = "\n".join(json.dumps(line) for line in lines)
    assert user not in everything
    assert "checkout-agent" not in everything  # nothing of the body


def _metric(lines: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [line for line in lines if name in line and "_aws" in line]


def test_metrics_count_outcomes_with_the_error_code_dimension(handler, aws, payments_api, log_lines):
    # Given a created, a failed, a retried and a poison record
    payments_api.fail_next("ConflictException", client_token="failed-token-0001-dddddddddddddddddddddddddddd")
    payments_api.fail_next(
        "ThrottlingException", client_token="retried-token-001-eeeeeeeeeeeeeeeeeeeeeeeeeeee", times=9
    )
    event = sqs_event(
        sqs_record(valid_request()),
        sqs_record(valid_request(clientToken="failed-token-0001-dddddddddddddddddddddddddddd")),
        sqs_record(valid_request(clientToken="retried-token-001-eeeeeeeeeeeeeeeeeeeeeeeeeeee")),
        sqs_record("[]"),
    )

    handler(event)

    lines = log_lines()
    assert only(_metric(lines, "SessionsCreated"))["SessionsCreated"] == [1.0]
    assert only(_metric(lines, "RecordsRetried"))["RecordsRetried"] == [1.0]
    failed = only(_metric(lines, "SessionsFailed"))
    assert failed["ErrorCode"] == "ConflictException"
    assert ["ErrorCode", "service"] in failed["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    dead = only(_metric(lines, "RecordsDeadLettered"))
    assert (dead["ErrorCode"], dead["RecordsDeadLettered"]) == ("InvalidRequest", [1.0])
