"""The X-Ray daemon exporter: what reaches the daemon's UDP port, and where it is sent."""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export import SpanExportResult

from adapters.xray_daemon import PROTOCOL_HEADER, SAMPLED_PREFIX, XRayDaemonExporter, daemon_address
from handlers.port_spans import PortSpans


@pytest.fixture
def daemon() -> Iterator[socket.socket]:
    """A UDP socket standing where Lambda's X-Ray daemon listens."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(5)
    yield listener
    listener.close()


def test_a_span_reaches_the_daemon_as_one_otlp_datagram_with_the_sampled_prefix(daemon, monkeypatch):
    # Given spans exported to the daemon, under a sampled Lambda trace
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-6744f0a0-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1")
    spans = PortSpans.exporting_to(XRayDaemonExporter(daemon.getsockname()))

    # When one span ends
    with spans.span("EventBridge.PutEvents", {"messaging.batch.message_count": 1}):
        pass

    # Then the daemon receives the protocol header, T1S and the OTLP request in base64
    data = daemon.recv(65_535).decode("ascii")
    header, _, rest = data.partition("\n")
    assert header + "\n" == PROTOCOL_HEADER
    assert rest.startswith(SAMPLED_PREFIX)
    request = ExportTraceServiceRequest.FromString(base64.b64decode(rest[len(SAMPLED_PREFIX) :]))
    (span,) = request.resource_spans[0].scope_spans[0].spans
    assert span.name == "EventBridge.PutEvents"
    assert span.trace_id.hex() == "6744f0a00123456789abcdef01234567"
    spans.shutdown()


def test_a_send_that_fails_is_a_failed_export_never_an_exception():
    # Given an exporter whose socket is closed; When it exports; Then it reports failure and raises nothing
    exporter = XRayDaemonExporter(("127.0.0.1", 9))
    exporter.shutdown()
    assert exporter.export([]) is SpanExportResult.FAILURE


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ("127.0.0.1", 2000)),
        ("169.254.79.129:2000", ("169.254.79.129", 2000)),
        ("tcp:127.0.0.1:2001 udp:127.0.0.2:2002", ("127.0.0.2", 2002)),
    ],
)
def test_the_daemon_address_comes_from_aws_xray_daemon_address(value, expected):
    # Given AWS_XRAY_DAEMON_ADDRESS as Lambda or a user sets it; Then the UDP address is read from it
    environ = {} if value is None else {"AWS_XRAY_DAEMON_ADDRESS": value}
    assert daemon_address(environ) == expected


def test_a_malformed_daemon_address_is_named():
    with pytest.raises(ValueError, match="AWS_XRAY_DAEMON_ADDRESS"):
        daemon_address({"AWS_XRAY_DAEMON_ADDRESS": "localhost"})
