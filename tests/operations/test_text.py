"""The command's pure parts for hostile values: escaping and cutting, timestamps, origins, help, progress."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from domain.dead_letter import LetterAttribute
from operations import render
from operations.letters import DLQ_SOURCE_ARN, letter_of
from operations.report import count_by_code
from operations.text import CUT_MARKER, MAX_SHOWN_CHARS, shown


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ThrottlingException", "ThrottlingException"),
        ("[bold red]x[/]", "[bold red]x[/]"),  # markup is text: rich never reads a Text as markup
        ("\x1b[31mx\x1b[0m", "\\x1b[31mx\\x1b[0m"),
        ("a\r\nb\tc\x00", "a\\r\\nb\\tc\\x00"),
        ("\u202eevil", "\\u202eevil"),  # a right-to-left override would reorder the line
        ("\x85\u2028", "\\x85\\u2028"),  # line breaks a terminal may honour
    ],
)
def test_a_value_is_shown_with_everything_but_printable_ascii_escaped(value, expected):
    assert shown(value) == expected


def test_a_long_value_is_cut_with_a_marker_saying_how_much_is_left_out():
    # Given a 1,024-character value
    value = "x" * 1024

    # Then it is cut to the limit and marked with the count of characters left out
    assert shown(value) == "x" * MAX_SHOWN_CHARS + f"{CUT_MARKER}[+{1024 - MAX_SHOWN_CHARS}]"


def test_a_cut_never_splits_an_escape():
    # Given control characters (four characters each, escaped) past the limit
    value = "\x1b" * 100

    # Then only whole escapes are kept
    text = shown(value)
    kept = text.split(CUT_MARKER)[0]
    assert kept == "\\x1b" * (MAX_SHOWN_CHARS // 4)
    assert text.endswith(f"[+{100 - MAX_SHOWN_CHARS // 4}]")


def message(**system):
    return {
        "MessageId": "m-1",
        "ReceiptHandle": "r-1",
        "Body": "{}",
        "MessageAttributes": {LetterAttribute.ERROR_CODE: {"DataType": "String", "StringValue": "Timeout"}},
        "Attributes": system,
    }


@pytest.mark.parametrize("sent", ["abc", "\u00b2", "99999999999999999999", "999999999999999", "-1"])
def test_a_sent_timestamp_that_is_not_a_date_is_counted_invalid_as_written(sent):
    # Given a received letter whose SentTimestamp is not epoch milliseconds of a date (SQS writes it; an
    # emulator or a proxy may not)
    letter = letter_of(message(SentTimestamp=sent))

    # Then the letter has no sent timestamp to copy, and the report counts the text as invalid
    assert letter.sent_timestamp is None
    (count,) = count_by_code([letter])
    assert (count.oldest, count.newest, dict(count.invalid)) == (None, None, {sent: 1})


def test_a_letter_sqs_moved_names_its_queue_by_dead_letter_queue_source_arn():
    # Given a letter SQS's redrive policy moved: no SourceQueueArn, SQS's DeadLetterQueueSourceArn
    letter = letter_of(message(**{DLQ_SOURCE_ARN: "arn:aws:sqs:eu-west-1:123456789012:requests"}))

    # Then that is its queue
    assert letter.source_queue_arn == "arn:aws:sqs:eu-west-1:123456789012:requests"


def test_the_workers_source_queue_arn_comes_before_sqss():
    # Given both
    received = message(**{DLQ_SOURCE_ARN: "arn:sqs"})
    received["MessageAttributes"][LetterAttribute.SOURCE_QUEUE_ARN] = {"DataType": "String", "StringValue": "arn:w"}

    # Then the worker's names the queue
    assert letter_of(received).source_queue_arn == "arn:w"


@pytest.mark.parametrize(
    ("command", "description", "statuses"),
    [
        ("report", "Count the dead letters of the DLQ by ErrorCode", (0, 2)),
        ("redrive", "Move dead letters back to the request queue", (0, 1, 2, 3, 4)),
    ],
)
def test_each_command_has_help_with_a_description_examples_and_its_exit_statuses(run, command, description, statuses):
    # When a command's help is asked for
    ran = run("dlq", command, "--help")

    # Then it exits 0 with a description, examples, and a line per exit status of that command
    assert ran.status == 0
    assert f"usage: payment-session-worker dlq {command}" in ran.out
    assert description in ran.out
    assert f"examples:\n  payment-session-worker dlq {command} " in ran.out
    table = ran.out.split("exit status:\n")[1]
    numbers = [int(line.split()[0]) for line in table.splitlines() if line.startswith("  ") and line[2].isdigit()]
    assert numbers == [int(status) for status in statuses]


def test_progress_draws_on_a_terminal_and_is_quiet_elsewhere():
    # Given a terminal and a pipe
    terminal, pipe = io.StringIO(), io.StringIO()

    # When each gets a progress bar advanced by 5 of 10
    for out, forced in ((terminal, True), (pipe, False)):
        with render.progress(Console(file=out, force_terminal=forced), 10, "reading") as advance:
            advance(5)

    # Then the terminal saw the bar, the pipe nothing
    assert "reading" in terminal.getvalue()
    assert pipe.getvalue() == ""
