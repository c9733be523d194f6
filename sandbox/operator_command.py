"""The operator's command, ``payment-session-worker``, run as an operator runs it: in its own process, with the
standard AWS SDK variables pointing at the sandbox (the demo's round trip and the soak's redrive rounds)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from sandbox.aws.server import DEFAULT_REGION, sdk_environment
from sandbox.aws.strict_sqs import child_environment

COMMAND: Final = "payment-session-worker"


def command_line() -> list[str]:
    """The console script installed beside this Python (``make install``), else ``python -m operations``."""
    script = Path(sys.executable).with_name(COMMAND)
    return [str(script)] if script.is_file() else [sys.executable, "-m", "operations"]


def printed_command(arguments: Sequence[str], *, endpoint_url: str | None = None, region: str = DEFAULT_REGION) -> str:
    """The command as printed for a person, to run as printed from any shell and directory: the console script
    by its path; with ``endpoint_url``, ``env`` and the sandbox's SDK variables in front."""
    variables = sdk_environment(endpoint_url, region) if endpoint_url else {}
    prefix = ["env", *(f"{name}={value}" for name, value in variables.items())] if variables else []
    return shlex.join([*prefix, *command_line(), *arguments])


def operator_environment(endpoint_url: str, region: str = DEFAULT_REGION) -> dict[str, str]:
    """This process's environment without its AWS and Powertools variables (the function's, while the event
    source runs), then the sandbox's endpoint, region and dummy credentials: what an operator exports. And
    SQS's own send rules (``sandbox.aws.strict_sqs``), which the command's process loads at start-up."""
    kept = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "POWERTOOLS_"))}
    return child_environment({**kept, **sdk_environment(endpoint_url, region)})


def run_command(
    arguments: Sequence[str], *, endpoint_url: str, region: str = DEFAULT_REGION, timeout: float = 300.0
) -> subprocess.CompletedProcess[str]:
    """``payment-session-worker <arguments>`` against the sandbox; its exit status is the caller's to judge."""
    return subprocess.run(
        [*command_line(), *arguments],
        env=operator_environment(endpoint_url, region),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
