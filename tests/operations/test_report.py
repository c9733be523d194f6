"""``dlq report`` (CONTRACT section 8): counts by ErrorCode, the DLQ left as it was, never a body or userId."""

from __future__ import annotations

import json

from domain.dead_letter import LetterAttribute

USER_ID = "user-secret-7f3a"
BODY = json.dumps({"expiryTimeInMinutes": 60, "userId": USER_ID, "agentName": "agent-secret-c0ffee"})
TOKEN = "tok-" + "b" * 40


def letter(queues, code, *, token=True, session=False, first_enqueue="1700000000000"):
    attributes = {LetterAttribute.ERROR_CODE: code, LetterAttribute.ORIGINAL_SENT_TIMESTAMP: first_enqueue}
    if token:
        attributes[LetterAttribute.CLIENT_TOKEN] = TOKEN
    if session:
        attributes[LetterAttribute.PAYMENT_SESSION_ID] = "ps-1"
    return queues.dead_letter(BODY, **attributes)


def test_report_json_counts_letters_by_error_code_with_oldest_newest_tokens_and_sessions(queues, run):
    # Given throttled letters enqueued first at two times, one without a token, an event-publish failure
    # whose session exists, and a letter the redrive policy moved
    letter(queues, "ThrottlingException", first_enqueue="1700000000000")
    letter(queues, "ThrottlingException", first_enqueue="1700003600000", token=False)
    letter(queues, "EventPublishFailed", session=True)
    queues.moved_by_sqs(BODY)

    # When the report is asked for as JSON
    ran = run("dlq", "report", "--dlq-url", queues.dlq_url, "--json")

    # Then each code is counted with its oldest and newest first enqueue, tokens and session IDs
    assert ran.status == 0, ran.err
    report = ran.json()
    assert report["queueUrl"] == queues.dlq_url
    assert report["seen"] == 4
    assert report["approximateNumberOfMessages"] == 4
    by_code = {entry["errorCode"]: entry for entry in report["errorCodes"]}
    assert by_code["ThrottlingException"] == {
        "errorCode": "ThrottlingException",
        "count": 2,
        "oldest": "2023-11-14T22:13:20+00:00",
        "newest": "2023-11-14T23:13:20+00:00",
        "withClientToken": 1,
        "withoutClientToken": 1,
        "withPaymentSessionId": 0,
        "invalidFirstEnqueue": [],
    }
    assert by_code["EventPublishFailed"]["withPaymentSessionId"] == 1
    assert by_code["(none)"]["count"] == 1
    assert by_code["(none)"]["withoutClientToken"] == 1
    assert report["errorCodes"][0]["errorCode"] == "ThrottlingException"  # most letters first


def test_report_consumes_nothing_every_letter_is_visible_again_at_once(queues, run):
    # Given three dead letters
    letters = {letter(queues, "ThrottlingException") for _ in range(3)}

    # When the report reads the DLQ
    assert run("dlq", "report", "--dlq-url", queues.dlq_url).status == 0

    # Then all three are still there and visible now (released, not left hidden for the visibility timeout)
    assert queues.ids(queues.dlq_url) == letters


def test_report_table_shows_each_code_and_the_counts(queues, run):
    # Given two poison letters
    letter(queues, "InvalidRequest")
    letter(queues, "InvalidRequest", token=False)

    # When the report is printed as a table
    ran = run("dlq", "report", "--dlq-url", queues.dlq_url)

    # Then the table names the queue, the code, and its figures
    assert ran.status == 0, ran.err
    assert queues.dlq_url in ran.out
    row = next(line for line in ran.out.splitlines() if "InvalidRequest" in line)
    assert [cell.strip() for cell in row.strip("│┃ ").split("│")][1:] == [
        "2",
        *["2023-11-14 22:13:20"] * 2,
        "-",
        "1",
        "1",
        "0",
    ]


def test_no_command_ever_prints_a_body_or_a_user_id(moto, queues, run):
    # Given letters whose bodies carry a userId, one that cannot be moved (too many attributes), one that can
    letter(queues, "ThrottlingException")
    queues.dead_letter(BODY, **{f"Producer{index}": str(index) for index in range(10)})
    queues.moved_by_sqs(BODY)

    # When every command runs, as tables and as JSON
    outputs = [
        run("dlq", "report", "--dlq-url", queues.dlq_url),
        run("dlq", "report", "--dlq-url", queues.dlq_url, "--json"),
        run("dlq", "redrive", *queues.urls(), "--dry-run"),
        run("dlq", "redrive", *queues.urls(), "--dry-run", "--json"),
        run("dlq", "redrive", *queues.urls(), "--limit", "1"),
        run("dlq", "redrive", *queues.urls(), "--json"),
    ]

    # Then none printed the body, the userId, or any other value of the body
    assert [ran.status for ran in outputs] == [0, 0, 1, 1, 0, 1]
    for ran in outputs:
        for secret in (USER_ID, "agent-secret-c0ffee", "expiryTimeInMinutes", BODY):
            assert secret not in ran.out
            assert secret not in ran.err
