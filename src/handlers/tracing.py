"""Whether the worker traces, read from OpenTelemetry's own variable; nothing of OpenTelemetry is imported here.

``OTEL_TRACES_EXPORTER`` unset or ``none``: no tracing, and no tracing library is ever imported (the cold start
pays nothing for it). ``xray``: a span per payments API call, ``PutEvents`` and dead-letter send, sent to the
X-Ray daemon Lambda runs with ``Tracing: Active`` (``handlers.port_spans``, ``adapters.xray_daemon``; the choice
and its cost are in docs/PERFORMANCE.md). Any other value is a broken deployment, named at the cold start.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

from handlers.settings import ConfigurationError

if TYPE_CHECKING:
    from handlers.port_spans import PortSpans

EXPORTER_VARIABLE: Final = "OTEL_TRACES_EXPORTER"
OFF: Final = "none"
XRAY: Final = "xray"


def exporter_named(environ: Mapping[str, str]) -> str:
    """``none`` or ``xray``; ``ConfigurationError`` for anything else."""
    value = environ.get(EXPORTER_VARIABLE, "").strip().lower() or OFF
    if value not in (OFF, XRAY):
        raise ConfigurationError(f"invalid configuration: {EXPORTER_VARIABLE}: not one of {OFF}, {XRAY}")
    return value


def from_environment(environ: Mapping[str, str]) -> PortSpans | None:
    """The spans around the ports that ``environ`` asks for, or ``None`` (and no import) when tracing is off."""
    if exporter_named(environ) == OFF:
        return None
    from adapters.xray_daemon import XRayDaemonExporter, daemon_address
    from handlers.port_spans import PortSpans

    return PortSpans.exporting_to(XRayDaemonExporter(daemon_address(environ)))
