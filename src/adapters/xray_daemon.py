"""Spans to the X-Ray daemon Lambda runs beside the function: OTLP over UDP, the framing AWS's own exporter uses.

Lambda (``Tracing: Active``) runs an X-Ray daemon at ``AWS_XRAY_DAEMON_ADDRESS`` that takes, besides X-Ray
segment documents, OpenTelemetry spans: one datagram of the daemon's protocol header, then ``T1S`` (sampled) or
``T1U`` (not sampled) and the base64 of an OTLP ``ExportTraceServiceRequest``; it forwards them to X-Ray. This is
the framing of the AWS Distro for OpenTelemetry's ``OTLPUdpSpanExporter``; the OTLP encoding is OpenTelemetry's
own (``opentelemetry-exporter-otlp-proto-common``). UDP never blocks the batch: a lost datagram is a lost span.
"""

from __future__ import annotations

import base64
import os
import socket
from collections.abc import Mapping, Sequence
from typing import Final

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

DAEMON_ADDRESS_VARIABLE: Final = "AWS_XRAY_DAEMON_ADDRESS"
DEFAULT_DAEMON_ADDRESS: Final = "127.0.0.1:2000"
PROTOCOL_HEADER: Final = '{"format":"json","version":1}\n'
SAMPLED_PREFIX: Final = "T1S"
UNSAMPLED_PREFIX: Final = "T1U"


def daemon_address(environ: Mapping[str, str]) -> tuple[str, int]:
    """The daemon's UDP address: ``host:port``, or the ``udp:host:port tcp:host:port`` form; else the default."""
    value = environ.get(DAEMON_ADDRESS_VARIABLE, "").strip() or DEFAULT_DAEMON_ADDRESS
    for part in value.split():
        if part.startswith("udp:"):
            value = part[len("udp:") :]
            break
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"{DAEMON_ADDRESS_VARIABLE} is not host:port: {value!r}")
    return host, int(port)


def datagram(spans: Sequence[ReadableSpan]) -> bytes:
    """One datagram for the daemon: the header, the sampling prefix and the spans, OTLP-encoded, in base64."""
    sampled = any(span.context is not None and span.context.trace_flags.sampled for span in spans)
    payload = base64.b64encode(encode_spans(spans).SerializeToString()).decode("ascii")
    return (PROTOCOL_HEADER + (SAMPLED_PREFIX if sampled else UNSAMPLED_PREFIX) + payload).encode("ascii")


class XRayDaemonExporter(SpanExporter):
    """Sends each export as one UDP datagram to the daemon; never raises into the worker."""

    def __init__(self, address: tuple[str, int] | None = None) -> None:
        self._address = address or daemon_address(os.environ)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.setblocking(False)

    @property
    def address(self) -> tuple[str, int]:
        return self._address

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            self._socket.sendto(datagram(spans), self._address)
        except OSError:
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self._socket.close()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True
