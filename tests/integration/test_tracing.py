"""Tracing on OpenTelemetry: a span per port call under the Lambda's trace, and nothing imported when it is off.

The spans are read with the SDK's in-memory exporter while the real handler runs against moto and the
payments API fake over HTTP.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from handlers import dependencies
from handlers.port_spans import (
    API_ERROR,
    CLIENT_TOKEN,
    CLIENT_TOKENS,
    CREATED,
    ERROR_CODE,
    ERROR_CODES,
    MESSAGE_ID,
    MESSAGE_IDS,
    OUTCOME,
    SENT,
    PortSpans,
)
from handlers.settings import ConfigurationError, get_settings
from handlers.tracing import from_environment
from tests.support import MANAGER_ARN, only, sqs_event, sqs_record, valid_request

ROOT = Path(__file__).resolve().parents[2]
# The invocation's trace as Lambda sets it (Tracing: Active, sampled), and a producer's trace on a record.
LAMBDA_ROOT = "1-6744f0a0-0123456789abcdef01234567"
LAMBDA_PARENT = "53995c3f42cd8ad8"
LAMBDA_TRACE = f"Root={LAMBDA_ROOT};Parent={LAMBDA_PARENT};Sampled=1"
PRODUCER_ROOT = "1-6744f000-fedcba9876543210fedcba98"
PRODUCER_TRACE = f"Root={PRODUCER_ROOT};Parent=1111222233334444;Sampled=1"
USER_ID = "user-secret-4242"
FAILED_TOKEN = "traced-failed-001-dddddddddddddddddddddddddddd"


def _hex_trace(root: str) -> int:
    return int(root.replace("1-", "", 1).replace("-", ""), 16)


@pytest.fixture
def spans(aws: Any, payments_api: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """The real wiring with tracing on, its spans kept in memory; the Lambda's trace in ``_X_AMZN_TRACE_ID``."""
    monkeypatch.setenv("_X_AMZN_TRACE_ID", LAMBDA_TRACE)
    exporter = InMemorySpanExporter()
    port_spans = PortSpans.exporting_to(exporter)
    settings = get_settings()
    dependencies.override(dependencies.build(settings, dependencies.aws_ports(settings), spans=port_spans))
    yield exporter
    dependencies.reset()
    port_spans.shutdown()


def _invoke(event: dict[str, Any]) -> dict[str, Any]:
    from handlers.create_payment_session import lambda_handler
    from sandbox.lambda_.context import LambdaContext

    result: dict[str, Any] = lambda_handler(event, LambdaContext(timeout_seconds=30))
    return result


def _named(finished: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [span for span in finished if span.name == name]


def test_one_batch_gives_a_span_per_api_call_publish_and_dead_letter_send_under_the_lambda_trace(spans, payments_api):
    # Given a created record (with a producer's trace), an API-refused one and a poison one
    payments_api.fail_next("ConflictException", client_token=FAILED_TOKEN)
    created = sqs_record(valid_request(userId=USER_ID), message_id="m-created", trace_header=PRODUCER_TRACE)
    refused = sqs_record(valid_request(userId=USER_ID, clientToken=FAILED_TOKEN), message_id="m-refused")
    poison = sqs_record(json.dumps({"userId": USER_ID}), message_id="m-poison")

    # When the handler runs the batch
    assert _invoke(sqs_event(created, refused, poison)) == {"batchItemFailures": []}

    # Then there is one span per API call, one PutEvents and one dead-letter send
    finished = spans.get_finished_spans()
    api = _named(finished, "BedrockAgentCore.CreatePaymentSession")
    publish = only(_named(finished, "EventBridge.PutEvents"))
    dead = only(_named(finished, "SQS.SendMessageBatch"))
    assert len(api) == 2
    assert len(finished) == 4
    # ... all children of the Lambda invocation's segment, in its trace
    for span in finished:
        assert span.context.trace_id == _hex_trace(LAMBDA_ROOT)
        assert span.parent is not None and span.parent.span_id == int(LAMBDA_PARENT, 16)
    # ... the API spans name their record, token, outcome and error code
    by_message = {span.attributes[MESSAGE_ID]: span for span in api}
    assert by_message["m-created"].attributes[OUTCOME] == CREATED
    assert by_message["m-refused"].attributes[OUTCOME] == API_ERROR
    assert by_message["m-refused"].attributes[ERROR_CODE] == "ConflictException"
    assert by_message["m-refused"].attributes[CLIENT_TOKEN] == FAILED_TOKEN
    # ... the created record's span links its producer's trace; the record without one links nothing
    assert [link.context.trace_id for link in by_message["m-created"].links] == [_hex_trace(PRODUCER_ROOT)]
    assert by_message["m-refused"].links == ()
    # ... the batch spans name their records and how they ended
    assert sorted(publish.attributes[MESSAGE_IDS]) == ["m-created", "m-refused"]
    assert FAILED_TOKEN in publish.attributes[CLIENT_TOKENS]
    assert publish.attributes[ERROR_CODES] == ("ConflictException",)
    assert publish.attributes[OUTCOME] == SENT
    assert dead.attributes[MESSAGE_IDS] == ("m-poison",)
    assert dead.attributes[ERROR_CODES] == ("InvalidRequest",)
    assert dead.attributes[OUTCOME] == SENT


def test_no_span_attribute_carries_a_body_or_a_user_id(spans, payments_api):
    # Given records whose bodies carry a userId, one of them poison
    bodies = [json.dumps(valid_request(userId=USER_ID)), json.dumps({"userId": USER_ID, "expiryTimeInMinutes": 1})]

    # When the batch runs traced
    _invoke(sqs_event(*(sqs_record(body) for body in bodies)))

    # Then no attribute of any span holds the userId or a body
    finished = spans.get_finished_spans()
    assert finished
    values = [str(value) for span in finished for value in (span.attributes or {}).values()]
    assert not [value for value in values if USER_ID in value or any(body in value for body in bodies)]


def test_a_failed_publish_marks_its_span_failed_with_the_reason(spans, aws, monkeypatch):
    # Given a bus that does not exist, so PutEvents fails every entry
    monkeypatch.setattr(dependencies.get_dependencies().worker._publisher._publisher, "_bus_name", "no-such-bus")

    # When a valid record is processed
    _invoke(sqs_event(sqs_record(valid_request(), message_id="m-unpublished")))

    # Then its PutEvents span says it failed and why
    publish = _named(spans.get_finished_spans(), "EventBridge.PutEvents")[0]
    assert publish.attributes[OUTCOME] == "failed"
    assert publish.status.status_code.name == "ERROR"
    assert publish.attributes["payment_worker.failure_reasons"]


def test_an_unknown_exporter_is_a_configuration_error_naming_the_variable():
    # Given an exporter the worker does not know; When the wiring reads it; Then the variable is named
    with pytest.raises(ConfigurationError, match="OTEL_TRACES_EXPORTER"):
        from_environment({"OTEL_TRACES_EXPORTER": "zipkin"})


@pytest.mark.parametrize("value", [None, "", "none", "NONE"])
def test_tracing_is_off_unless_asked_for(value):
    # Given no exporter or "none"; When the wiring reads it; Then there is no tracing
    environ = {} if value is None else {"OTEL_TRACES_EXPORTER": value}
    assert from_environment(environ) is None


_PROBE = """
import json, os, sys
from handlers.create_payment_session import lambda_handler
imported = sorted(m for m in sys.modules if m.split(".")[0] in ("aws_xray_sdk", "opentelemetry"))
from handlers import dependencies
from handlers.settings import get_settings
from handlers.tracing import from_environment
dependencies.build(get_settings(), dependencies.aws_ports(get_settings()), spans=from_environment(os.environ))
wired = sorted(m for m in sys.modules if m.split(".")[0] in ("aws_xray_sdk", "opentelemetry"))
print(json.dumps({"imported": imported, "wired": wired}))
"""


def _probe(**extra: str) -> dict[str, list[str]]:
    environ = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "PAYMENT_MANAGER_ARN": MANAGER_ARN,
        "DEAD_LETTER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/dlq",
        **extra,
    }
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], env=environ, capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, list[str]] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_with_only_the_required_variables_no_tracing_library_is_imported():
    # Given a fresh interpreter with only the required variables (and a region)
    # When it imports the handler and builds the wiring of a cold start
    seen = _probe()

    # Then neither the X-Ray SDK nor OpenTelemetry was imported
    assert seen == {"imported": [], "wired": []}


def test_with_the_xray_exporter_opentelemetry_loads_at_the_first_invocation_only():
    # Given OTEL_TRACES_EXPORTER=xray; When the handler is imported, then the wiring built
    seen = _probe(OTEL_TRACES_EXPORTER="xray")

    # Then the import loaded nothing of it; the wiring loaded OpenTelemetry, never the X-Ray SDK
    assert seen["imported"] == []
    assert "opentelemetry.sdk.trace" in seen["wired"]
    assert not [name for name in seen["wired"] if name.startswith("aws_xray_sdk")]
