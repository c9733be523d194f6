"""``python -m sandbox.agentcore``: the fake on its own, from the command line."""

from __future__ import annotations

import re
import selectors
import signal
import subprocess
import sys

import pytest

from tests.sandbox.agentcore_support import (
    REPO_ROOT,
    full_request,
    make_client,
)

# ---------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------


def read_line(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise AssertionError(f"no output within {timeout} s")
    return process.stdout.readline().strip()


def test_cli_prints_its_url_serves_with_its_fault_flags_and_stops_on_sigterm() -> None:
    # Given the CLI started on a free port with every call throttled
    command = [sys.executable, "-m", "sandbox.agentcore", "--port", "0", "--throttle-rate", "1", "--seed", "3"]
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # When it has printed its URL
        url = read_line(process, timeout=20)
        assert re.fullmatch(r"http://127\.0\.0\.1:[1-9][0-9]*", url)
        # Then a boto3 client at that URL gets throttled
        cli_client = make_client(url)
        with pytest.raises(cli_client.exceptions.ThrottlingException):
            cli_client.create_payment_session(**full_request())
        # And SIGTERM stops it cleanly and quietly
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert process.stderr is not None
        assert process.stderr.read() == ""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_cli_refuses_an_impossible_fault_rate() -> None:
    # When the CLI is given a throttle rate above 1
    command = [sys.executable, "-m", "sandbox.agentcore", "--throttle-rate", "2"]
    finished = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=30, check=False)
    # Then it exits with a usage error naming the setting, without serving
    assert finished.returncode == 2
    assert "throttle_rate" in finished.stderr
    assert finished.stdout == ""
