"""The command's pure parts: the pace of sends, the copy of a letter, the console script itself."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from domain.dead_letter import LetterAttribute
from domain.tokens import derive_token
from operations.copies import CannotCopy, Source, copy_of
from operations.letters import Letter
from operations.redrive import Pacer
from tests.support import ROOT


class Clock:
    """A clock that moves only when the pacer sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_max_per_second_spaces_the_sends_evenly():
    # Given a pace of 4 sends per second on a clock that only sleeps move
    clock = Clock()
    pacer = Pacer(4, clock=clock, sleep=clock.sleep)

    # When five sends wait their turn
    for _ in range(5):
        pacer.wait()

    # Then the first goes at once and each next one a quarter of a second later
    assert clock.slept == [0.25] * 4
    assert clock.now == pytest.approx(101.0)


def test_a_pacer_without_rate_never_sleeps():
    clock = Clock()
    pacer = Pacer(None, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        pacer.wait()
    assert clock.slept == []


def letter(**overrides):
    values = {
        "message_id": "m-1",
        "receipt_handle": "r",
        "body": "{}",
        "attributes": {},
        "sent_timestamp": 1_700_000_000_000,
        "group_id": None,
        "trace_header": None,
    }
    return Letter(**{**values, **overrides})


def test_a_copy_keeps_the_trace_header_as_a_system_attribute():
    # Given a letter that carried X-Ray's trace header
    copy = copy_of(letter(trace_header="Root=1-abc"), queue_url="q", fifo=False)

    # Then the copy sends it back as AWSTraceHeader
    assert copy.request["MessageSystemAttributes"] == {
        "AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-abc"}
    }


def test_a_copy_of_a_letter_without_sent_timestamp_says_the_first_enqueue_is_missing():
    # Given a letter with neither OriginalSentTimestamp nor SentTimestamp
    copy = copy_of(letter(sent_timestamp=None), queue_url="q", fifo=False)

    # Then no timestamp is invented, and the token is derived from the message ID
    assert copy.timestamp_source is Source.MISSING
    assert LetterAttribute.ORIGINAL_SENT_TIMESTAMP not in copy.request["MessageAttributes"]
    assert copy.client_token == derive_token("m-1")


def test_a_fair_queues_letter_keeps_its_group_and_never_gets_a_deduplication_id():
    # Given a letter of a fair queue (a standard queue whose producer set a tenant's MessageGroupId)
    copy = copy_of(letter(group_id="tenant-a"), queue_url="q", fifo=False)

    # Then the copy keeps the tenant, and carries no MessageDeduplicationId (SQS refuses one on a standard queue)
    assert copy.request["MessageGroupId"] == "tenant-a"
    assert "MessageDeduplicationId" not in copy.request


def test_a_fifo_letter_without_group_cannot_be_copied_to_a_fifo_queue():
    with pytest.raises(CannotCopy, match="without MessageGroupId"):
        copy_of(letter(), queue_url="q.fifo", fifo=True)


def test_the_console_script_is_installed_and_answers_help():
    # Given the project installed in this interpreter's environment (make install)
    script = Path(sys.executable).with_name("payment-session-worker")

    # When its help is asked for
    done = subprocess.run([script, "dlq", "redrive", "--help"], capture_output=True, text=True, check=False, timeout=60)

    # Then it exits 0 and shows the options of CONTRACT section 8
    assert done.returncode == 0, done.stderr
    for option in ("--dlq-url", "--queue-url", "--error-code", "--limit", "--dry-run", "--max-per-second", "--stack"):
        assert option in done.stdout


def imported_roots(path: Path) -> set[str]:
    """The top-level packages a module imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_command_imports_the_domain_only_and_nothing_of_the_worker_imports_it():
    # Given the project's packages in src/
    src = ROOT / "src"

    # Then the command uses the domain, never the handlers or adapters
    for path in (src / "operations").rglob("*.py"):
        assert not imported_roots(path) & {"handlers", "adapters", "sandbox", "tests"}, path
    # And no package of the Lambda imports the command (nor rich, which the Lambda package does not have)
    for package in ("handlers", "domain", "adapters"):
        for path in (src / package).rglob("*.py"):
            assert not imported_roots(path) & {"operations", "rich"}, path
