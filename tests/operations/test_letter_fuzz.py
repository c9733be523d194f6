"""Fuzzing the command with what producers may write into a dead letter's attributes (issue 19).

Any unicode, control and escape sequences, rich markup, 1,024-character strings and numbers far out of range,
as ErrorCode, OriginalSentTimestamp, ClientToken, PaymentSessionId, SourceQueueArn and a producer's own
attribute, through ``dlq report`` and ``dlq redrive`` against moto's server. The properties: the command
always ends with a documented exit status (an exception would fail the example), nothing it prints holds a
character a terminal acts on, and the letters in the DLQ plus the request queue stay as many as were sent.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.dead_letter import LetterAttribute
from operations import letters
from operations.status import ExitStatus
from tests.fuzz.conftest import FUZZ_SETTINGS
from tests.operations.moto_queues import Queues

BODY = '{"expiryTimeInMinutes": 60}'
HOSTILE = (
    "[/]",
    "[bold red]x[/]",
    "[link=http://x]y[/link]",
    ":warning:",
    "\x1b[31mx\x1b[0m",
    "\x1b]0;title\x07",
    "\x1b[2J\x1b[H",
    "\r\x08\x7f",
    "\u202eevil",
    "\u2028\x85",
    "\\x1b",
    "%s{}",
)
values = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40),
    st.sampled_from(HOSTILE),
    st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=3).map(lambda seed: (seed * 1024)[:1024]),
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
)
NAMES = (
    LetterAttribute.ERROR_CODE,
    LetterAttribute.ORIGINAL_SENT_TIMESTAMP,
    LetterAttribute.CLIENT_TOKEN,
    LetterAttribute.PAYMENT_SESSION_ID,
    LetterAttribute.SOURCE_QUEUE_ARN,
    "Tenant",
)
OWN_QUEUE = "<own queue>"  # a SourceQueueArn drawn as the request queue's own ARN
attributes = st.dictionaries(st.sampled_from(NAMES), st.one_of(values, st.just(OWN_QUEUE)), max_size=len(NAMES))
# The exit statuses a redrive of such letters may end with: never 2 (bad input) with queues that belong together,
# never 1 (every copy fits SQS's limits here).
REDRIVE_STATUSES = {ExitStatus.OK, ExitStatus.NO_MATCH, ExitStatus.OTHER_QUEUES}


def only_printable(text):
    """Printable ASCII, newlines, rich's box drawing, the cut marker: nothing a terminal acts on."""
    return all(c == "\n" or " " <= c <= "~" or "\u2500" <= c <= "\u257f" or c == "\u2026" for c in text)


def counted(queues):
    """Messages in the DLQ and the request queue, visible or not (a receive would hide them)."""
    total = 0
    for url in (queues.dlq_url, queues.queue_url):
        figures = queues.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        total += int(figures["ApproximateNumberOfMessages"]) + int(figures["ApproximateNumberOfMessagesNotVisible"])
    return total


@pytest.fixture
def short_polls(monkeypatch):
    """moto answers from one store, so an empty short poll means an empty queue: no 1 s wait per scan."""
    monkeypatch.setattr(letters, "RECEIVE_WAIT_SECONDS", 0)


# The handler fuzz's profile: 60 examples (2,000 under make fuzz), each running the command three times (~0.4 s).
@settings(
    FUZZ_SETTINGS, suppress_health_check=[*FUZZ_SETTINGS.suppress_health_check, HealthCheck.function_scoped_fixture]
)
@given(
    drawn=st.lists(attributes, min_size=1, max_size=4),
    select=st.one_of(st.none(), values, st.integers(min_value=0, max_value=3)),
    dry_run=st.booleans(),
)
def test_whatever_a_letter_holds_the_command_ends_as_documented_prints_it_escaped_and_keeps_every_letter(
    moto, run, short_polls, drawn, select, dry_run
):
    # Given a fresh request queue and DLQ holding letters with the drawn attributes
    queues = Queues(moto)
    for letter in drawn:
        sent = {name: queues.queue_arn if value == OWN_QUEUE else value for name, value in letter.items()}
        queues.dead_letter(BODY, **sent)
    # (--error-code: none, a drawn value, or the ErrorCode of one of the letters)
    codes = []
    if isinstance(select, str):
        codes = [select]
    elif isinstance(select, int) and select < len(drawn) and LetterAttribute.ERROR_CODE in drawn[select]:
        codes = [drawn[select][LetterAttribute.ERROR_CODE]]

    # When the report runs, as a table and as JSON, and then the redrive
    report = run("dlq", "report", "--dlq-url", queues.dlq_url)
    as_json = run("dlq", "report", "--dlq-url", queues.dlq_url, "--json")
    options = [*(part for code in codes for part in ("--error-code", code)), *(["--dry-run"] if dry_run else [])]
    redrive = run("dlq", "redrive", *queues.urls(), *options)

    # Then each ended with a documented status
    assert report.status == ExitStatus.OK, report.err
    assert as_json.status == ExitStatus.OK, as_json.err
    assert as_json.json()["seen"] == len(drawn)
    assert redrive.status in REDRIVE_STATUSES, redrive.err
    # And nothing printed holds a character a terminal acts on (JSON: ASCII only)
    for ran in (report, redrive):
        assert only_printable(ran.out + ran.err)
    assert as_json.out.isascii()
    # And no letter was lost or doubled
    assert counted(queues) == len(drawn)
