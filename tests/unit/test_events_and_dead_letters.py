"""Event details (CONTRACT section 4) and dead-letter messages (section 5), as the domain builds them."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from domain.dead_letter import MAX_MESSAGE_ATTRIBUTES, dead_letter
from domain.errors import ApiError
from domain.events import (
    DETAIL_MODELS,
    SCHEMA_VERSION,
    DetailType,
    PaymentSessionCreatedDetail,
    PaymentSessionCreationFailedDetail,
    error_detail,
    event_entry,
    session_json,
)
from domain.request import EffectiveRequest, PaymentSessionRequest
from tests.support import MANAGER_ARN, OTHER_MANAGER_ARN, REQUEST_QUEUE_ARN

TOKEN = "sqs-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
MESSAGE_ID = "059f36b4-87a3-44ab-83d2-661975830a7d"
TRACE = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
BASE_KEYS = {"schemaVersion", "clientToken", "messageId", "correlationId", "request"}

FULL_REQUEST = PaymentSessionRequest.model_validate(
    {
        "expiryTimeInMinutes": 60,
        "userId": "user-1234",
        "agentName": "checkout-agent",
        "limits": {"maxSpendAmount": {"value": "25.50", "currency": "USD"}},
        "correlationId": "order-1001",
    }
).resolved(OTHER_MANAGER_ARN)
MINIMAL_REQUEST = PaymentSessionRequest.model_validate({"expiryTimeInMinutes": 15}).resolved(MANAGER_ARN)

CREATED_AT = datetime(2026, 11, 26, 12, 0, 0, 123000, tzinfo=UTC)
UPDATED_AT = datetime(2026, 11, 26, 13, 30, 0, tzinfo=timezone(timedelta(hours=2)))


def api_session(**overrides: Any) -> dict[str, Any]:
    """A ``paymentSession`` as botocore returns it: timestamps are datetimes."""
    session: dict[str, Any] = {
        "paymentSessionId": "payment-session-0123456789abcde",
        "paymentManagerArn": OTHER_MANAGER_ARN,
        "userId": "user-1234",
        "expiryTimeInMinutes": 60,
        "createdAt": CREATED_AT,
        "updatedAt": UPDATED_AT,
        "limits": {"maxSpendAmount": {"value": "25.50", "currency": "USD"}},
        "availableLimits": {"availableSpendAmount": {"value": "25.50", "currency": "USD"}, "updatedAt": CREATED_AT},
    }
    session.update(overrides)
    return {key: value for key, value in session.items() if value is not ...}


def over_the_wire(detail: dict[str, Any]) -> dict[str, Any]:
    """The detail as a subscriber receives it: JSON text, parsed back."""
    parsed: dict[str, Any] = json.loads(json.dumps(detail))
    return parsed


def has_utc_offset(timestamp: str) -> bool:
    return datetime.fromisoformat(timestamp).utcoffset() is not None


# -- PaymentSessionCreated ------------------------------------------------------------------------------------


def created(request: EffectiveRequest = FULL_REQUEST, **session: Any) -> Any:
    return event_entry(
        DetailType.CREATED,
        session_json(api_session(**session)),
        client_token=TOKEN,
        message_id=MESSAGE_ID,
        request=request,
        trace_header=TRACE,
    )


def test_a_created_detail_validates_against_its_model() -> None:
    entry = created()
    assert entry.detail_type is DetailType.CREATED
    model = PaymentSessionCreatedDetail.model_validate(over_the_wire(entry.detail))
    assert DETAIL_MODELS[DetailType.CREATED] is PaymentSessionCreatedDetail
    assert model.paymentSession.paymentSessionId == "payment-session-0123456789abcde"


def test_a_created_detail_has_exactly_the_contracts_keys() -> None:
    detail = created().detail
    assert set(detail) == BASE_KEYS | {"paymentSession"}
    assert detail["schemaVersion"] == SCHEMA_VERSION == "1.0"
    assert (detail["clientToken"], detail["messageId"], detail["correlationId"]) == (TOKEN, MESSAGE_ID, "order-1001")


def test_the_request_holds_every_given_field() -> None:
    assert created().detail["request"] == {
        "paymentManagerArn": OTHER_MANAGER_ARN,
        "expiryTimeInMinutes": 60,
        "userId": "user-1234",
        "agentName": "checkout-agent",
        "limits": {"maxSpendAmount": {"value": "25.50", "currency": "USD"}},
    }


def test_the_request_holds_only_the_given_fields_and_correlation_id_is_null_when_absent() -> None:
    detail = created(MINIMAL_REQUEST, userId="", limits=..., availableLimits=...).detail
    assert detail["request"] == {"paymentManagerArn": MANAGER_ARN, "expiryTimeInMinutes": 15}
    assert "correlationId" in detail and detail["correlationId"] is None
    PaymentSessionCreatedDetail.model_validate(over_the_wire(detail))


def test_session_timestamps_become_iso_8601_strings_with_their_utc_offset() -> None:
    session = created().detail["paymentSession"]
    assert session["createdAt"] == "2026-11-26T12:00:00.123000+00:00"
    assert session["updatedAt"] == "2026-11-26T13:30:00+02:00"
    assert session["availableLimits"]["updatedAt"] == "2026-11-26T12:00:00.123000+00:00"
    assert all(has_utc_offset(session[key]) for key in ("createdAt", "updatedAt"))


def test_a_naive_timestamp_is_published_as_utc() -> None:
    # Given botocore parsed a timestamp the service sent without an offset (dateutil gives a naive datetime)
    session = created(createdAt=datetime(2026, 11, 26, 12, 0, 0)).detail["paymentSession"]
    # Then subscribers still get an offset, UTC as AWS timestamps are
    assert session["createdAt"] == "2026-11-26T12:00:00+00:00"


def test_session_fields_beyond_the_model_are_kept() -> None:
    detail = created(status="ACTIVE").detail
    assert detail["paymentSession"]["status"] == "ACTIVE"
    PaymentSessionCreatedDetail.model_validate(over_the_wire(detail))


def test_resources_are_the_payment_manager_and_the_trace_header_is_passed_through() -> None:
    entry = created()
    assert entry.resources == (OTHER_MANAGER_ARN,)
    assert entry.trace_header == TRACE
    no_trace = event_entry(
        DetailType.CREATED,
        session_json(api_session()),
        client_token=TOKEN,
        message_id=MESSAGE_ID,
        request=MINIMAL_REQUEST,
    )
    assert no_trace.resources == (MANAGER_ARN,)
    assert no_trace.trace_header is None


# -- PaymentSessionCreationFailed ----------------------------------------------------------------------------------


def failed(
    error: ApiError, retryable: bool = False, request: EffectiveRequest = FULL_REQUEST, trace: str | None = TRACE
) -> Any:
    return event_entry(
        DetailType.FAILED,
        error_detail(error, retryable=retryable),
        client_token=TOKEN,
        message_id=MESSAGE_ID,
        request=request,
        trace_header=trace,
    )


def test_a_failed_detail_validates_against_its_model_with_exactly_the_contracts_keys() -> None:
    entry = failed(ApiError("ConflictException", "token reused"), False)
    assert entry.detail_type is DetailType.FAILED
    assert set(entry.detail) == BASE_KEYS | {"error"}
    assert entry.detail["error"] == {"code": "ConflictException", "message": "token reused", "retryable": False}
    PaymentSessionCreationFailedDetail.model_validate(over_the_wire(entry.detail))
    assert DETAIL_MODELS[DetailType.FAILED] is PaymentSessionCreationFailedDetail


def test_reason_and_field_list_appear_only_when_the_api_gave_them() -> None:
    # Given a ValidationException with reason and fieldList
    error = ApiError(
        "ValidationException",
        "bad input",
        400,
        reason="FieldValidationFailed",
        field_list=({"name": "userId", "message": "too long"},),
    )
    detail = failed(error, False).detail
    # Then both are in the error object, and the detail still validates
    assert detail["error"] == {
        "code": "ValidationException",
        "message": "bad input",
        "retryable": False,
        "reason": "FieldValidationFailed",
        "fieldList": [{"name": "userId", "message": "too long"}],
    }
    PaymentSessionCreationFailedDetail.model_validate(over_the_wire(detail))
    # And without them, neither key exists
    bare = error_detail(ApiError("ConflictException", "conflict", 409), retryable=False)
    assert set(bare) == {"code", "message", "retryable"}


def test_a_retried_cause_is_announced_as_retryable() -> None:
    detail = failed(ApiError("ThrottlingException", "slow down"), True, MINIMAL_REQUEST, None).detail
    assert detail["error"]["retryable"] is True
    assert detail["correlationId"] is None
    PaymentSessionCreationFailedDetail.model_validate(over_the_wire(detail))


def test_a_failed_event_targets_the_payment_manager_and_passes_the_trace_header() -> None:
    entry = failed(ApiError("ValidationException", "bad"), False)
    assert (entry.resources, entry.trace_header) == ((OTHER_MANAGER_ARN,), TRACE)


# -- dead letters ----------------------------------------------------------------------------------------------------

BODY = '{"expiryTimeInMinutes": 60,  "userId": "é\\u00e9"}\n'


def string(value: str) -> dict[str, Any]:
    """A message attribute as the Lambda event carries it."""
    return {"stringValue": value, "stringListValues": [], "binaryListValues": [], "dataType": "String"}


def binary(value: bytes, data_type: str = "Binary") -> dict[str, Any]:
    return {
        "binaryValue": base64.b64encode(value).decode(),
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": data_type,
    }


def letter(
    record_attributes: dict[str, dict[str, Any]] | None = None,
    *,
    client_token: str | None = TOKEN,
    error_message: str = "userId: control_character",
    body: str = BODY,
    error_code: str = "InvalidRequest",
    **extra: Any,
) -> Any:
    return dead_letter(
        message_id=MESSAGE_ID,
        body=body,
        error_code=error_code,
        error_message=error_message,
        source_queue_arn=REQUEST_QUEUE_ARN,
        client_token=client_token,
        record_attributes=record_attributes or {},
        **extra,
    )


@pytest.mark.parametrize("body", [BODY, "", "not json at all", "\ufeff{}", "[" * 1000, "a\r\nb\tc"])
def test_the_dead_letter_body_is_the_original_byte_for_byte(body: str) -> None:
    assert letter(body=body).body == body


def test_the_worker_stamps_its_own_string_attributes() -> None:
    dl = letter()
    assert dl.message_id == MESSAGE_ID
    assert dl.attributes == {
        "ErrorCode": {"DataType": "String", "StringValue": "InvalidRequest"},
        "ErrorMessage": {"DataType": "String", "StringValue": "userId: control_character"},
        "SourceMessageId": {"DataType": "String", "StringValue": MESSAGE_ID},
        "SourceQueueArn": {"DataType": "String", "StringValue": REQUEST_QUEUE_ARN},
        "ClientToken": {"DataType": "String", "StringValue": TOKEN},
    }


def test_client_token_is_stamped_only_when_a_token_was_determined() -> None:
    assert "ClientToken" not in letter(client_token=None).attributes


def test_the_error_message_is_cut_to_1024_characters() -> None:
    assert len(letter(error_message="x" * 5000).attributes["ErrorMessage"]["StringValue"]) == 1024


def test_an_empty_error_message_falls_back_to_the_code() -> None:
    # SQS refuses an empty attribute value
    assert letter(error_message="").attributes["ErrorMessage"]["StringValue"] == "InvalidRequest"


def test_the_records_own_attributes_follow_the_workers_string_number_and_binary() -> None:
    # Given a record with String, Number, custom-typed and Binary attributes (binaryValue base64 in the event)
    raw = bytes(range(256))
    dl = letter(
        {
            "tenant": string("acme"),
            "priority": {"stringValue": "7", "dataType": "Number"},
            "blob": binary(raw),
            "image": binary(b"\x89PNG", "Binary.png"),
        }
    )
    # Then they come after the worker's, in order, in SendMessage form, the binary one as bytes
    assert list(dl.attributes) == [
        "ErrorCode",
        "ErrorMessage",
        "SourceMessageId",
        "SourceQueueArn",
        "ClientToken",
        "tenant",
        "priority",
        "blob",
        "image",
    ]
    assert dl.attributes["tenant"] == {"DataType": "String", "StringValue": "acme"}
    assert dl.attributes["priority"] == {"DataType": "Number", "StringValue": "7"}
    assert dl.attributes["blob"] == {"DataType": "Binary", "BinaryValue": raw}
    assert dl.attributes["image"] == {"DataType": "Binary.png", "BinaryValue": b"\x89PNG"}


def test_at_most_ten_attributes_in_total_the_workers_first() -> None:
    # Given a record with eight attributes of its own
    own = {f"attr{index}": string(f"v{index}") for index in range(8)}
    dl = letter(own)
    # Then the worker's five come first and only five of the record's follow, in the record's order
    assert len(dl.attributes) == MAX_MESSAGE_ATTRIBUTES == 10
    assert list(dl.attributes)[5:] == ["attr0", "attr1", "attr2", "attr3", "attr4"]


def test_without_a_token_one_more_record_attribute_fits() -> None:
    dl = letter({f"attr{index}": string("v") for index in range(8)}, client_token=None)
    assert len(dl.attributes) == 10
    assert list(dl.attributes)[4:] == [f"attr{index}" for index in range(6)]


def test_the_workers_own_attributes_win_on_a_name_clash() -> None:
    # Given a redriven record that already carries the worker's attributes from an earlier dead-lettering
    dl = letter(
        {
            "ErrorCode": string("ThrottlingException"),
            "ClientToken": string("an-older-token-0123456789abcdef0123456789"),
            "SourceMessageId": string("an-older-message-id"),
            "tenant": string("acme"),
        }
    )
    # Then this dead-lettering's values are kept, and the clashing names take no extra slot
    assert dl.attributes["ErrorCode"]["StringValue"] == "InvalidRequest"
    assert dl.attributes["ClientToken"]["StringValue"] == TOKEN
    assert dl.attributes["SourceMessageId"]["StringValue"] == MESSAGE_ID
    assert list(dl.attributes)[5:] == ["tenant"]


@pytest.mark.parametrize(
    "attribute",
    [
        {"binaryValue": "not base64!", "dataType": "Binary"},
        {"stringValue": "", "dataType": "String"},
        {"stringValue": "v"},
        {"stringValue": "v", "dataType": ""},
        {"stringListValues": ["a"], "dataType": "String"},
        {},
    ],
    ids=["bad-base64", "empty-string", "no-type", "empty-type", "list-only", "empty"],
)
def test_an_attribute_that_cannot_be_carried_is_skipped_without_taking_a_slot(attribute: dict[str, Any]) -> None:
    dl = letter({"broken": attribute, "tenant": string("acme")})
    assert "broken" not in dl.attributes
    assert list(dl.attributes)[5:] == ["tenant"]


def test_a_dead_letter_carries_the_session_id_and_the_first_enqueue_when_known() -> None:
    # Given a created session whose event failed, first enqueued at a known time
    dl = letter(
        {"tenant": string("acme")},
        error_code="EventPublishFailed",
        error_message="event not published: ThrottlingException",
        payment_session_id="payment-session-0123456789abcde",
        original_sent_timestamp=1795000000000,
    )
    # Then both are String attributes after the token, before the record's own
    assert dl.attributes["PaymentSessionId"] == {"DataType": "String", "StringValue": "payment-session-0123456789abcde"}
    assert dl.attributes["OriginalSentTimestamp"] == {"DataType": "String", "StringValue": "1795000000000"}
    assert list(dl.attributes)[5:] == ["PaymentSessionId", "OriginalSentTimestamp", "tenant"]
    assert dl.group_id is None


def test_a_dead_letter_of_a_fifo_record_keeps_its_message_group() -> None:
    dl = letter(group_id="user-1234")
    assert dl.group_id == "user-1234"


def test_the_event_request_and_the_api_arguments_come_from_the_one_request_model() -> None:
    # Given the request's model, with the worker's own fields (token, correlation) marked as not part of the terms
    terms = FULL_REQUEST.terms()
    declared = set(PaymentSessionRequest.model_fields)
    worker_own = {name for name, info in PaymentSessionRequest.model_fields.items() if info.exclude}
    # Then the event's request is every declared term, and the API's arguments add only the chosen token
    assert worker_own == {"clientToken", "correlationId"}
    assert set(terms) == declared - worker_own
    assert FULL_REQUEST.api_params(TOKEN) == {**terms, "clientToken": TOKEN}
