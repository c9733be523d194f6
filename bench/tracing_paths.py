"""The export paths for the worker's traces, measured side by side (docs/PERFORMANCE.md, "Tracing").

- ``none``: ``OTEL_TRACES_EXPORTER=none``, no tracing library imported (the figures against bare boto3);
- ``xray``: the OpenTelemetry SDK in the package, a span per port call, OTLP over UDP to the X-Ray daemon
  (``handlers.port_spans``, ``adapters.xray_daemon``): what the template deploys;
- ``adot``: AWS's managed OpenTelemetry layer for Python (``AWSOpenTelemetryDistroPython``,
  ``AWS_LAMBDA_EXEC_WRAPPER=/opt/otel-instrument``), emulated with the layer's packages from PyPI
  (``aws-opentelemetry-distro``): the auto-instrumentation's ``initialize()`` with the distro and configurator
  the layer names, the Lambda instrumentor wrapping the handler (``ORIG_HANDLER``), botocore instrumented,
  spans over UDP to the daemon as the distro does in Lambda; the worker's own spans off;
- ``adot-lite``: the same layer in its fast-start mode (the distro's ``configure_lite_mode``: a small SDK of
  its own, botocore, requests and urllib3 instrumented, spans batched over UDP).

The layer's packages live in ``.venv-tools/adot`` (made on first use with ``pip``, as the build makes its
own tools), on the children's path after the package; the layer's own shell wrapper is not on PyPI, so
what it does before the runtime starts is done by :func:`start_in_child`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[1]
ADOT_DISTRO: Final = "aws-opentelemetry-distro==0.22.0"
ADOT_VENV: Final = ROOT / ".venv-tools" / "adot"
PATHS: Final = ("none", "xray", "adot", "adot-lite")
HANDLER: Final = "handlers/create_payment_session.lambda_handler"  # template.yaml's Handler
MODE_VARIABLE: Final = "BENCH_TRACING"

# What the layer's wrapper sets before the runtime starts (the distro and configurator it names, OTLP traces
# only; in Lambda the distro sends them over UDP to the X-Ray daemon).
LAYER_ENVIRONMENT: Final = {
    "OTEL_PYTHON_DISTRO": "aws_distro",
    "OTEL_PYTHON_CONFIGURATOR": "aws_configurator",
    "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
    "OTEL_METRICS_EXPORTER": "none",
    "OTEL_LOGS_EXPORTER": "none",
    "OTEL_AWS_APPLICATION_SIGNALS_ENABLED": "false",
    "OTEL_SERVICE_NAME": "payment-session-worker",
    "ORIG_HANDLER": HANDLER,
}


def adot_site_packages() -> Path | None:
    """The layer's packages (made on first use), or ``None`` with a reason on stderr when they cannot be had."""
    python = ADOT_VENV / "bin" / "python"
    if not python.exists():
        made = subprocess.run([sys.executable, "-m", "venv", str(ADOT_VENV)], check=False, capture_output=True)
        if made.returncode == 0:
            made = subprocess.run(
                [str(python), "-m", "pip", "install", "--quiet", ADOT_DISTRO], check=False, capture_output=True
            )
        if made.returncode != 0:
            print(f"[tracing paths: no {ADOT_DISTRO}: {made.stderr.decode()[-300:]}]", file=sys.stderr)
            return None
    found = sorted((ADOT_VENV / "lib").glob("python3*/site-packages"))
    return found[0] if found else None


def environment(path: str, env: dict[str, str]) -> dict[str, str]:
    """``env`` (a child's, from ``bench.common.lambda_environment``) for the tracing ``path``."""
    env = {**env, MODE_VARIABLE: path, "OTEL_TRACES_EXPORTER": "xray" if path == "xray" else "none"}
    if path.startswith("adot"):
        site = adot_site_packages()
        if site is None:
            raise RuntimeError("the layer's packages are not available")
        env.update(LAYER_ENVIRONMENT)
        env["PYTHONPATH"] = os.pathsep.join([env["PYTHONPATH"], str(site)])
    return env


def start_in_child() -> None:
    """Child side, before the handler is imported: what the layer does at the start of the runtime."""
    mode = os.environ.get(MODE_VARIABLE, "none")
    if mode == "adot":
        from opentelemetry.instrumentation.auto_instrumentation import initialize

        os.environ["OTEL_TRACES_EXPORTER"] = "otlp"  # the layer's exporter, for the distro's configurator
        initialize()
        os.environ["OTEL_TRACES_EXPORTER"] = "none"  # and the worker's own spans off
    elif mode == "adot-lite":
        from amazon.opentelemetry.distro.opentelemetry_lite_sdk import configure_lite_mode

        configure_lite_mode()


def after_invocation() -> None:
    """Child side, after each invocation: the fast-start mode's buffered spans leave, as its wrapper has them."""
    if os.environ.get(MODE_VARIABLE) == "adot-lite":
        from opentelemetry import trace

        provider = trace.get_tracer_provider()
        flush = getattr(provider, "force_flush", None)
        if flush is not None:
            flush()
