"""What the sandbox prints for a person: no ``None`` where a value is absent, and no value broken mid-word on a
narrow terminal (URLs, ARNs and tokens stay whole, so they can be copied)."""

from __future__ import annotations

import io
import re

import pytest

from sandbox.demo.tables import print_table
from sandbox.up import describe_event

URL = "http://127.0.0.1:4566/123456789012/payment-session-worker-RequestDeadLetterQueue"
ARN = "arn:aws:bedrock-agentcore:us-east-1:123456789012:payment-manager/sandbox-manager-a1b2c3d4e5"
TOKEN = "demo-load-0007-000042-0123456789abcdef-with-a-long-tail"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


class Terminal(io.StringIO):
    """A terminal's output as rich sees one (``isatty``)."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("width", ["20", "40", "80"])
def test_a_table_on_a_narrow_terminal_keeps_every_long_value_whole(monkeypatch, width):
    # Given a terminal narrower than the values
    monkeypatch.setenv("COLUMNS", width)
    monkeypatch.delenv("NO_COLOR", raising=False)
    out = Terminal()

    # When a table of a URL, an ARN and a token is printed on it
    print_table(out, ["what", "value"], [["dead-letter queue", URL], ["payment manager", ARN], ["token", TOKEN]])

    # Then each value is on one line, whole
    lines = ANSI.sub("", out.getvalue()).splitlines()
    for value in (URL, ARN, TOKEN):
        assert any(value in line for line in lines), value


def test_a_table_in_a_pipe_keeps_a_value_longer_than_any_fixed_width_whole():
    # Given a value of 400 characters, and output that is not a terminal
    value = "x" * 400
    out = io.StringIO()

    # When it is printed in a table
    print_table(out, ["value"], [[value]])

    # Then it is on one line, whole
    assert any(value in line for line in out.getvalue().splitlines())


def test_an_event_without_a_correlation_id_or_a_session_id_prints_dashes_never_none():
    # Given a published event without a correlationId, and one without a session ID or an error code
    created = {"detail-type": "PaymentSessionCreated", "detail": {"paymentSession": {}}}
    failed = {"detail-type": "PaymentSessionCreationFailed", "detail": {"error": {"retryable": False}}}

    # When each is described for the watch lines of `up`
    lines = [describe_event(created), describe_event(failed), describe_event({})]

    # Then an absent value is a dash, and None is never printed
    assert lines[0] == "PaymentSessionCreated  correlationId=-  -"
    assert lines[1] == "PaymentSessionCreationFailed  correlationId=-  - retryable=false"
    assert lines[2] == "-  correlationId=-  -"
    assert not any("None" in line for line in lines)
