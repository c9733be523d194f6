"""Letters whose attributes hold markup, escape sequences and broken timestamps (CONTRACT section 8, issue 19).

Producers write attributes too: whatever a letter holds, both commands print it as text, escaped, once, and
run to their documented end.
"""

from __future__ import annotations

from domain.dead_letter import LetterAttribute
from operations.text import shown

BODY = '{"expiryTimeInMinutes": 60}'
TOKEN = "tok-" + "d" * 40
CLOSING_TAG = "[/]"  # rich's markup: crashed the report (MarkupError)
STYLED = "[bold red]x[/]"  # restyled the table
ANSI = "\x1b[31mx\x1b[0m"  # reached the terminal
NOT_DIGITS = "abc"
OUT_OF_RANGE = "99999999999999999999"
CODES = (CLOSING_TAG, STYLED, ANSI)


def hostile_letters(queues):
    """Three letters of the request queue: the codes above, two with broken first enqueues."""
    first_enqueues = (NOT_DIGITS, OUT_OF_RANGE, "1700000000000")
    return {
        queues.dead_letter(
            BODY,
            ErrorCode=code,
            SourceQueueArn=queues.queue_arn,
            ClientToken=TOKEN,
            OriginalSentTimestamp=first_enqueue,
        )
        for code, first_enqueue in zip(CODES, first_enqueues, strict=True)
    }


def cells(out, column):
    """The ``column``-th cell of each row of the first table printed (plain text, ``│`` between cells)."""
    first_table = out.split("└")[0]
    rows = [line.strip("│┃ ").split("│") for line in first_table.splitlines() if line.startswith("│")]
    return [row[column].strip() for row in rows if len(row) > column]


def only_printable(text):
    """Nothing a terminal would act on: printable ASCII, newlines, rich's box drawing, the cut marker."""
    return all(c == "\n" or " " <= c <= "~" or "\u2500" <= c <= "\u257f" or c == "\u2026" for c in text)


def test_report_prints_markup_escapes_and_broken_timestamps_literally_once(queues, run):
    # Given letters whose ErrorCode is rich markup or an ANSI sequence, and whose first enqueue is not digits,
    # or digits far beyond any date
    hostile_letters(queues)

    # When the report is printed as a table
    ran = run("dlq", "report", "--dlq-url", queues.dlq_url)

    # Then it exits 0, prints no escape sequence, and shows each code once, as written (ANSI escaped)
    assert ran.status == 0, ran.err
    assert ran.err == ""  # no progress bar off a terminal, no warning
    assert only_printable(ran.out)
    codes = cells(ran.out, 0)
    assert sorted(code for code in codes if code) == sorted([CLOSING_TAG, STYLED, "\\x1b[31mx\\x1b[0m"])
    # And the broken first enqueues are shown as written, once each, in the "invalid" column; the good one dated
    assert sorted(value for value in cells(ran.out, 4) if value != "-") == sorted([NOT_DIGITS, OUT_OF_RANGE])
    assert ran.out.count(OUT_OF_RANGE) == 1
    assert "2023-11-14 22:13:20" in ran.out


def test_report_json_gives_the_values_whole_and_marks_the_invalid_first_enqueues(queues, run):
    # Given the same letters
    hostile_letters(queues)

    # When the report is asked for as JSON
    ran = run("dlq", "report", "--dlq-url", queues.dlq_url, "--json")

    # Then the values are whole (JSON escapes them), and the broken first enqueues are listed as invalid
    assert ran.status == 0, ran.err
    assert ran.out.isascii()
    by_code = {entry["errorCode"]: entry for entry in ran.json()["errorCodes"]}
    assert set(by_code) == set(CODES)
    assert by_code[CLOSING_TAG]["invalidFirstEnqueue"] == [{"value": NOT_DIGITS, "count": 1}]
    assert by_code[STYLED]["invalidFirstEnqueue"] == [{"value": OUT_OF_RANGE, "count": 1}]
    assert by_code[CLOSING_TAG]["oldest"] is None
    assert by_code[ANSI]["oldest"] == "2023-11-14T22:13:20+00:00"


def test_redrive_moves_the_hostile_letters_and_prints_them_escaped(queues, run):
    # Given the same letters
    letters = hostile_letters(queues)

    # When the DLQ is redriven, first as a dry run, then for real
    dry = run("dlq", "redrive", *queues.urls(), "--dry-run")
    ran = run("dlq", "redrive", *queues.urls())

    # Then both exit 0 and print each code once, escaped
    for done in (dry, ran):
        assert done.status == 0, done.err
        assert only_printable(done.out + done.err)
        assert sorted(code for code in cells(done.out, 0) if code) == sorted(shown(code) for code in CODES)
    # And the three letters moved: out of the DLQ, in the request queue with their first enqueue as written
    assert queues.ids(queues.dlq_url) == set()
    copies = queues.receive(queues.queue_url)
    assert len(copies) == len(letters)
    first_enqueues = {
        copy["MessageAttributes"][LetterAttribute.ORIGINAL_SENT_TIMESTAMP]["StringValue"] for copy in copies
    }
    assert first_enqueues == {NOT_DIGITS, OUT_OF_RANGE, "1700000000000"}


def test_an_error_code_from_the_command_line_is_matched_exactly_and_named_escaped(queues, run):
    # Given the same letters
    hostile_letters(queues)

    # When the ANSI letter is selected by its exact code, and then a code that differs only in case
    ran = run("dlq", "redrive", *queues.urls(), "--error-code", ANSI, "--json")
    wrong_case = run("dlq", "redrive", *queues.urls(), "--error-code", "[BOLD RED]X[/]")

    # Then the first moved that letter only
    assert ran.status == 0, ran.err
    assert [move["errorCode"] for move in ran.json()["messages"]] == [ANSI]
    # And the second moved nothing and names the present code, escaped, on one line
    assert wrong_case.status == 3
    assert wrong_case.err == (
        "payment-session-worker: --error-code [BOLD RED]X[/] matches no letter; codes are case-sensitive:"
        f" did you mean {STYLED}?; nothing moved\n"
    )
    assert len(queues.ids(queues.dlq_url)) == 2
