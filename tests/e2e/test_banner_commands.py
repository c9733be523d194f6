"""The commands ``python -m sandbox up`` prints run as printed with the installed aws CLI (v1 or v2)."""

from __future__ import annotations

import io
import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest

from sandbox.aws.server import MotoServer
from sandbox.aws.stack import ROOT, StackSpec
from sandbox.local_cloud import Sandbox, SandboxConfig
from sandbox.up import print_banner
from tests.support import poll

pytestmark = pytest.mark.e2e

AWS = shutil.which("aws")


@pytest.fixture(scope="module")
def banner(moto_server: MotoServer) -> Iterator[tuple[Sandbox, list[str]]]:
    """A running sandbox (its own stack in the shared moto) and the lines of its banner."""
    config = SandboxConfig(
        stack=StackSpec(name="e2e-banner"), aws_endpoint=moto_server.endpoint_url, function_output=io.StringIO()
    )
    with Sandbox(config) as sandbox:
        out = io.StringIO()
        print_banner(sandbox, "this terminal", out)
        yield sandbox, out.getvalue().splitlines()


def exported(lines: list[str]) -> dict[str, str]:
    """The variables the banner tells the user to export (and nothing of this process's AWS settings)."""
    variables = dict(line.removeprefix("export ").split("=", 1) for line in lines if line.startswith("export "))
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return {**inherited, **variables}


def run_printed(lines: list[str], command: str) -> subprocess.CompletedProcess[str]:
    """Run the banner's one line of ``command`` as printed, in the banner's exports: ``aws`` is the installed
    aws CLI, a command naming this interpreter by its path runs it, from the repository's root."""
    (line,) = [line for line in lines if command in line and not line.startswith("export ")]
    program, *arguments = shlex.split(line)
    executable = {"aws": AWS, "env": shutil.which("env")}[program]
    assert executable is not None
    if program == "env":
        assert sys.executable in arguments
    return subprocess.run(
        [executable, *arguments],
        cwd=ROOT,
        env=exported(lines),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_printed_aws_command_names_moto_with_endpoint_url(banner):
    # Given the banner of a running sandbox
    sandbox, lines = banner

    # Then each aws command passes --endpoint-url (the CLI v1 ignores AWS_ENDPOINT_URL for SQS)
    commands = [line for line in lines if line.startswith("aws ")]
    assert commands
    for line in commands:
        assert shlex.split(line)[1:3] == ["--endpoint-url", sandbox.aws_endpoint], line


@pytest.mark.skipif(AWS is None, reason="no aws CLI on PATH")
def test_the_printed_send_message_line_reaches_the_worker(banner):
    # Given the banner of a running sandbox
    sandbox, lines = banner

    # When its send-message line runs as printed, in its exports, with the installed aws CLI
    result = run_printed(lines, "sqs send-message")

    # Then the message is on the request queue and the worker receives it
    assert result.returncode == 0, result.stderr
    message_id = json.loads(result.stdout)["MessageId"]
    received = poll(
        lambda: [m for i in sandbox.event_source.invocations for m in i.message_ids],
        lambda ids: message_id in ids,
        timeout=30.0,
    )
    assert message_id in received


@pytest.mark.skipif(AWS is None, reason="no aws CLI on PATH")
def test_the_printed_receive_message_line_reads_the_dead_letter_queue(banner):
    # When the banner's receive-message line (the DLQ) runs as printed
    result = run_printed(banner[1], "sqs receive-message")

    # Then moto answers it: the DLQ is empty
    assert result.returncode == 0, result.stderr
    assert "Messages" not in result.stdout


def test_the_printed_send_line_enqueues_the_sample_batch_on_this_sandbox(banner):
    # When the banner's `python -m sandbox send` line (the sample batch) runs as printed
    result = run_printed(banner[1], "-m sandbox send " + str(ROOT / "events" / "sqs-mixed-batch.json"))

    # Then it found this sandbox's stack and sent every record of the sample
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sent 5 to" in result.stdout
