"""Request age through the real handler (CONTRACT sections 3 and 6): the record's SentTimestamp and the variable."""

from __future__ import annotations

from tests.support import now_millis, only, sqs_event, sqs_record, string_attribute, valid_request

DAY_MS = 24 * 60 * 60 * 1000


def stale_record(message_id: str, **options):
    record = sqs_record(valid_request(), message_id=message_id, **options)
    record["attributes"]["SentTimestamp"] = str(now_millis() - DAY_MS - 60_000)
    return record


def test_a_record_sent_more_than_a_day_ago_is_failed_as_expired_without_calling_the_api(handler, aws, payments_api):
    # Given a record whose SentTimestamp is a day and a minute old, and the default MAX_REQUEST_AGE_MINUTES
    # When the worker processes it
    result = handler(sqs_event(stale_record("m-stale")))

    # Then it is deleted, announced as failed with RequestExpired (not retryable), and the API never saw it
    assert result == {"batchItemFailures": []}
    event = only(aws.published(1))
    assert event["detail-type"] == "PaymentSessionCreationFailed"
    assert event["detail"]["error"]["code"] == "RequestExpired"
    assert event["detail"]["error"]["retryable"] is False
    assert payments_api.snapshot()["calls"] == 0


def test_an_original_sent_timestamp_attribute_is_the_age_of_a_redriven_record(handler, aws, payments_api):
    # Given a record sent just now, but first enqueued a day and a minute ago (as the redrive command stamps it)
    old = str(now_millis() - DAY_MS - 60_000)
    record = sqs_record(
        valid_request(), message_id="m-redriven", message_attributes={"OriginalSentTimestamp": string_attribute(old)}
    )

    handler(sqs_event(record))

    # Then its age counts from the attribute
    assert only(aws.published(1))["detail"]["error"]["code"] == "RequestExpired"
    assert payments_api.snapshot()["calls"] == 0


def test_an_age_limit_of_zero_sends_even_an_old_request(handler, aws, payments_api, monkeypatch):
    # Given MAX_REQUEST_AGE_MINUTES=0
    monkeypatch.setenv("MAX_REQUEST_AGE_MINUTES", "0")

    handler(sqs_event(stale_record("m-old-but-allowed")))

    # Then the session is created
    assert only(aws.published(1))["detail-type"] == "PaymentSessionCreated"
    assert payments_api.snapshot()["calls"] == 1
