"""A new user's first hour with ``python -m sandbox up``: the banner's commands run as printed from any shell and
directory, Ctrl-C then a restart at once on the same ports works, and a dead-letter round trip by hand with the
banner's commands ends with the session created."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from sandbox.aws.server import free_port
from sandbox.aws.stack import ROOT
from tests.e2e.sandbox_up import Up, block, clean_environment, run_in_shell
from tests.support import poll

pytestmark = pytest.mark.e2e

ROUND_TRIP_BOUND_SECONDS = 120.0  # the bound on a manual round trip: a behaviour bound, not a benchmark
SHELL = "In any shell"
ROUND_TRIP = "A dead-letter round trip by hand"


def fixed_ports() -> tuple[int, int]:
    """Two ports, fixed for the test's whole length (as 4566 and 4599 are for a user)."""
    return free_port(), free_port()


def test_up_starts_again_at_once_after_ctrl_c_on_the_same_ports(tmp_path: Path):
    # Given `python -m sandbox up` on fixed ports, used: the banner's send line run, the worker calling the API
    aws_port, payments_port = fixed_ports()
    first = Up(aws_port, payments_port, tmp_path / "first.log").start()
    assert first.wait_until_up(), first.output()
    banner = first.banner()
    shell = block(banner, SHELL)
    exports = [line for line in shell if line.startswith("export ")]
    (send,) = [line for line in shell if " send " in line]
    assert run_in_shell(exports, send, tmp_path).returncode == 0
    assert poll(lambda: api_calls(payments_port), lambda calls: calls >= 1, timeout=60.0, interval=0.2) >= 1

    # When Ctrl-C stops it and the same command starts again at once
    assert first.interrupt() == 0, first.output()
    stopped = time.monotonic()
    with Up(aws_port, payments_port, tmp_path / "second.log") as second:
        up = second.wait_until_up()
        print(f"restart: the second sandbox was up {time.monotonic() - stopped:.1f}s after the first stopped")

        # Then the second starts on the same ports (the first's connections in TIME_WAIT do not count)
        assert up, second.output()
        assert "in use" not in second.output()
        assert f"http://127.0.0.1:{aws_port}" in second.output()


def api_calls(port: int) -> int:
    """The calls the fake payments API on ``port`` has answered."""
    url = f"http://127.0.0.1:{port}/_sandbox/stats?sessions=false"
    with urllib.request.urlopen(url, timeout=5.0) as response:
        return int(json.load(response)["calls"])


@pytest.fixture
def up(tmp_path: Path):
    aws_port, payments_port = fixed_ports()
    with Up(aws_port, payments_port, tmp_path / "up.log") as running:
        assert running.wait_until_up(), running.output()
        yield running


def test_every_shell_line_of_the_banner_runs_as_printed_outside_the_venv_and_the_repository(up, tmp_path: Path):
    # Given the banner's shell lines, and a shell whose PATH has no .venv, in a directory of its own
    banner = up.banner()
    lines = block(banner, SHELL)
    exports = [line for line in lines if line.startswith("export ")]
    commands = [line for line in lines if not line.startswith("export ")]
    if shutil.which("aws", path=clean_environment()["PATH"]) is None:
        commands = [line for line in commands if not line.startswith("aws ")]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert len(commands) >= 2

    # When each runs as printed after the exports
    for line in commands:
        result = run_in_shell(exports, line, elsewhere)

        # Then each succeeds
        assert result.returncode == 0, f"{line}\n{result.stdout}{result.stderr}"


def test_the_banners_queue_urls_are_the_ones_its_commands_use(up):
    # Given the banner
    banner = up.banner()
    shown = {line.split()[-1] for line in banner if line.strip().startswith(("request queue", "dead-letter queue"))}
    commands = " ".join(block(banner, SHELL))

    # Then each queue URL it shows is the one its commands name, and no command names another
    assert len(shown) == 2
    for url in shown:
        assert url in commands
    named = {word for word in commands.split() if "/123456789012/" in word}
    assert named <= shown


def test_a_dead_letter_round_trip_by_hand_with_the_banners_commands_creates_the_session(up, tmp_path: Path):
    # Given the banner's round trip: throttle the API, send, report, stop throttling, redrive, the API's counters
    banner = up.banner()
    exports = [line for line in block(banner, SHELL) if line.startswith("export ")]
    throttle, send, report, unthrottle, redrive, stats = block(banner, ROUND_TRIP)
    started = time.monotonic()

    def run(line: str) -> str:
        result = run_in_shell(exports, line, tmp_path)
        assert result.returncode == 0, f"{line}\n{result.stdout}{result.stderr}"
        return result.stdout

    # When the request is sent while the API throttles every call
    run(throttle)
    run(send)

    # Then the operator's report shows its ThrottlingException letter within the bound
    reported = poll(
        lambda: run(report), lambda text: "ThrottlingException" in text, timeout=ROUND_TRIP_BOUND_SECONDS, interval=2
    )
    assert "ThrottlingException" in reported
    dead_lettered = time.monotonic()

    # And once the throttling stops, the redrive brings it back and the API creates its session
    run(unthrottle)
    run(redrive)
    counters = poll(
        lambda: json.loads(run(stats)),
        lambda document: document["sessions_created"] >= 1,
        timeout=ROUND_TRIP_BOUND_SECONDS,
        interval=1,
    )
    assert counters["sessions_created"] == 1
    print(
        f"manual round trip: dead-lettered {dead_lettered - started:.1f}s after the send,"
        f" session created {time.monotonic() - started:.1f}s after it"
    )


def test_make_demo_ctrl_c_then_make_demo_again_at_once_starts(tmp_path: Path):
    # Given `make demo` running, its requests sent
    def make_demo(name: str) -> tuple[subprocess.Popen[str], Path]:
        log = tmp_path / f"{name}.log"
        with open(log, "w", encoding="utf-8") as output:
            process = subprocess.Popen(
                ["make", "demo", "ARGS=--requests 10"],
                cwd=ROOT,
                env={**clean_environment(), "PYTHONUNBUFFERED": "1"},
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
        return process, log

    def sent(process: subprocess.Popen[str], log: Path) -> bool:
        poll(log.read_text, lambda text: "\nSent " in text or process.poll() is not None, timeout=120.0, interval=0.2)
        return "\nSent " in log.read_text()

    first, first_log = make_demo("first")
    assert sent(first, first_log), first_log.read_text()

    # When Ctrl-C stops it, and `make demo` starts again at once
    os.killpg(first.pid, signal.SIGINT)
    first.wait(timeout=60)
    second, second_log = make_demo("second")
    try:
        # Then the first said it was interrupted, without a traceback, and the second got as far
        assert "interrupted: demo stopped" in first_log.read_text()
        assert "Traceback" not in first_log.read_text()
        assert sent(second, second_log), second_log.read_text()
    finally:
        if second.poll() is None:
            os.killpg(second.pid, signal.SIGINT)
        second.wait(timeout=60)
