"""Bad input (CONTRACT section 8): one line naming the queue and the AWS error code, exit 2, nothing moved."""

from __future__ import annotations

import json
import urllib.request

import pytest

from sandbox.aws.server import free_port
from tests.operations.moto_queues import Queues
from tests.support import poll

BODY = '{"expiryTimeInMinutes": 60}'


def lines(ran):
    """The command's lines on stderr."""
    return [line for line in ran.err.splitlines() if line.startswith("payment-session-worker")]


def the_line(ran):
    """The command's one error line."""
    (line,) = lines(ran)
    return line


def nothing_moved(queues, letters):
    assert queues.ids(queues.dlq_url) == letters
    assert queues.receive(queues.queue_url) == []


def test_an_unreachable_endpoint_is_named_with_the_sdk_error_and_exits_2(queues, run, monkeypatch):
    # Given a dead letter, and the SDK pointed at a port where nothing listens
    letters = {queues.dead_letter(BODY, ErrorCode="ThrottlingException")}
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")

    # When the command runs
    report = run("dlq", "report", "--dlq-url", queues.dlq_url)
    redrive = run("dlq", "redrive", *queues.urls())

    # Then each says which queue it could not reach and why, in one line, and exits 2
    for ran in (report, redrive):
        assert ran.status == 2
        assert the_line(ran) == f"payment-session-worker: queue {queues.dlq_url}: EndpointConnectionError"
    monkeypatch.undo()
    nothing_moved(queues, letters)


@pytest.mark.parametrize("wrong", ["dlq", "queue"])
def test_a_queue_url_that_does_not_exist_is_named_with_the_aws_error_code(queues, run, wrong):
    # Given a dead letter, and one of the two URLs naming no queue
    letters = {queues.dead_letter(BODY, ErrorCode="ThrottlingException")}
    missing = queues.queue_url.rsplit("/", 1)[0] + "/no-such-queue"
    dlq_url, queue_url = (missing, queues.queue_url) if wrong == "dlq" else (queues.dlq_url, missing)

    # When the DLQ is redriven
    ran = run("dlq", "redrive", "--dlq-url", dlq_url, "--queue-url", queue_url)

    # Then the line names that queue and SQS's error code; exit 2; nothing moved
    assert ran.status == 2
    assert the_line(ran) == f"payment-session-worker: queue {missing}: AWS.SimpleQueueService.NonExistentQueue"
    nothing_moved(queues, letters)


def test_a_request_queue_whose_redrive_policy_names_another_dlq_is_refused(moto, queues, run):
    # Given a dead letter, and a second stack's request queue whose RedrivePolicy names its own DLQ
    letters = {queues.dead_letter(BODY, ErrorCode="ThrottlingException")}
    other = Queues(moto)

    # When the DLQ is redriven to the other stack's queue
    ran = run("dlq", "redrive", "--dlq-url", queues.dlq_url, "--queue-url", other.queue_url)

    # Then it is refused, naming the queue and what its policy names; nothing moved anywhere
    assert ran.status == 2
    assert the_line(ran) == (
        f"payment-session-worker: queue {other.queue_url}: NotThisDeadLetterQueue"
        f" (its RedrivePolicy names {other.dlq_arn}, not {queues.dlq_arn})"
    )
    nothing_moved(queues, letters)
    assert other.receive(other.queue_url) == []


def test_a_queue_without_redrive_policy_is_refused(queues, run):
    # Given a dead letter, and a queue with no redrive policy (the DLQ itself, say)
    letters = {queues.dead_letter(BODY, ErrorCode="ThrottlingException")}

    # When the DLQ is redriven into itself
    ran = run("dlq", "redrive", "--dlq-url", queues.dlq_url, "--queue-url", queues.dlq_url)

    # Then it is refused
    assert ran.status == 2
    assert "NotThisDeadLetterQueue (its RedrivePolicy names no DLQ" in the_line(ran)
    nothing_moved(queues, letters)


def test_a_fifo_dlq_to_a_standard_queue_and_the_reverse_are_refused(moto, fifo_queues, queues, run):
    # Given a FIFO DLQ with a letter, a standard queue whose redrive policy names that FIFO DLQ (SQS's own
    # check refuses it; moto's does not), and a standard DLQ with a letter
    fifo_letters = {fifo_queues.dead_letter(BODY, ErrorCode="ThrottlingException")}
    standard_letters = {queues.dead_letter(BODY, ErrorCode="ThrottlingException")}
    policy = json.dumps({"deadLetterTargetArn": fifo_queues.dlq_arn, "maxReceiveCount": 1})
    standard = moto.client("sqs").create_queue(QueueName="standard", Attributes={"RedrivePolicy": policy})["QueueUrl"]

    # When the FIFO DLQ is redriven to the standard queue, and the standard DLQ to the FIFO queue
    to_standard = run("dlq", "redrive", "--dlq-url", fifo_queues.dlq_url, "--queue-url", standard)
    to_fifo = run("dlq", "redrive", "--dlq-url", queues.dlq_url, "--queue-url", fifo_queues.queue_url)

    # Then both are refused, saying why; nothing moved
    assert (to_standard.status, to_fifo.status) == (2, 2)
    assert the_line(to_standard) == (
        f"payment-session-worker: queue {standard}: FifoMismatch (a FIFO DLQ cannot be redriven to a standard queue)"
    )
    assert the_line(to_fifo) == (
        f"payment-session-worker: queue {fifo_queues.queue_url}: FifoMismatch"
        " (a standard DLQ cannot be redriven to a FIFO queue)"
    )
    nothing_moved(fifo_queues, fifo_letters)
    nothing_moved(queues, standard_letters)


def _moto_auth(moto, count):
    """moto's IAM checks on (``0``: from the next call) or off (``inf``), through its own API."""
    request = urllib.request.Request(  # noqa: S310 (http:// by construction)
        f"{moto.endpoint_url}/moto-api/reset-auth",
        method="POST",
        data=count.encode(),
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310
        pass


def as_operator(moto, monkeypatch, allowed):
    """The SDK variables hold the keys of an IAM user who may do only ``allowed`` (checked once moto's IAM is on)."""
    iam = moto.client("iam")
    iam.create_user(UserName="operator")
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": allowed, "Resource": "*"}]}
    iam.put_user_policy(UserName="operator", PolicyName="operator", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="operator")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    monkeypatch.delenv("AWS_SESSION_TOKEN")


def checking_iam(moto, run, *argv):
    """``run(*argv)`` with moto checking IAM for its calls only."""
    _moto_auth(moto, "0")
    try:
        return run(*argv)
    finally:
        _moto_auth(moto, "inf")


# On AWS sqs:ChangeMessageVisibility covers the batch call; moto asks for the batch's own name.
RELEASE = ["sqs:ChangeMessageVisibility", "sqs:ChangeMessageVisibilityBatch"]
# What a redrive reads before it moves: the queues, and the DLQ's sources (a letter naming no queue moves
# only when the request queue is its DLQ's only source).
READ = ["sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sqs:ListDeadLetterSourceQueues"]


def test_a_missing_permission_stops_the_redrive_naming_the_queue_and_nothing_is_lost(moto, queues, run, monkeypatch):
    # Given an IAM user that may read and delete from SQS but not send, and moto checking IAM
    letters = {queues.dead_letter(BODY, ErrorCode="ThrottlingException") for _ in range(3)}
    as_operator(moto, monkeypatch, [*READ, *RELEASE, "sqs:DeleteMessage"])

    # When the DLQ is redriven with that user's keys
    ran = checking_iam(moto, run, "dlq", "redrive", *queues.urls())

    # Then the first send's refusal ends the run: one line naming the request queue and the HTTP 403 that
    # moto answers (its error body is XML, which botocore cannot read for SQS's JSON protocol; on AWS the line
    # names SQS's own code), exit 2, and every letter still in the DLQ
    assert ran.status == 2
    assert the_line(ran) == f"payment-session-worker: queue {queues.queue_url}: 403"
    nothing_moved(queues, letters)


def hidden_warning(queues, count, seconds):
    return (
        f"payment-session-worker: warning: {count} letter(s) of {queues.dlq_url} stay hidden for up to {seconds} s:"
        " making them visible again failed (403)"
    )


def test_a_report_that_cannot_release_its_letters_says_how_many_stay_hidden_and_for_how_long(
    moto, queues, run, monkeypatch
):
    # Given three dead letters, and an IAM user that may read the DLQ but not change a message's visibility
    letters = {queues.dead_letter(BODY, ErrorCode="ThrottlingException") for _ in range(3)}
    as_operator(moto, monkeypatch, ["sqs:GetQueueAttributes", "sqs:ReceiveMessage"])

    # When that user asks for the report, as JSON, with letters held for 3 s
    ran = checking_iam(moto, run, "dlq", "report", "--dlq-url", queues.dlq_url, "--visibility-timeout", "3", "--json")

    # Then the report is whole, exit 0, and one warning line says the three stay hidden for up to 3 s and why
    assert ran.status == 0, ran.err
    assert ran.json()["seen"] == 3
    assert ran.json()["stillHidden"] == {"count": 3, "seconds": 3, "reason": "403"}
    assert the_line(ran) == hidden_warning(queues, 3, 3)
    # And nothing is lost: hidden now (counted, not received: a receive would hide them again), all three are
    # back once their visibility timeout has run out
    counts = queues.sqs.get_queue_attributes(
        QueueUrl=queues.dlq_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert (counts["ApproximateNumberOfMessages"], counts["ApproximateNumberOfMessagesNotVisible"]) == ("0", "3")
    assert poll(lambda: queues.ids(queues.dlq_url), lambda ids: ids == letters, timeout=15) == letters


def test_a_redrive_that_cannot_release_the_letters_it_left_says_so_and_still_moves_the_selected(
    moto, queues, run, monkeypatch
):
    # Given a throttled letter and a poison one, and an IAM user that may move letters but not release one
    moved = queues.dead_letter(BODY, ErrorCode="ThrottlingException")
    left = queues.dead_letter(BODY, ErrorCode="InvalidRequest")
    allowed = [*READ, "sqs:SendMessage", "sqs:DeleteMessage"]
    as_operator(moto, monkeypatch, allowed)

    # When that user redrives the throttled letters only
    ran = checking_iam(
        moto, run, "dlq", "redrive", *queues.urls(), "--error-code", "ThrottlingException", "--visibility-timeout", "2"
    )

    # Then the selected letter moves (exit 0): the check before the move could not give either letter back, so
    # the command says so and waits the 2 s; then one warning says the letter left behind stays hidden for 2 s
    assert ran.status == 0, ran.err
    assert lines(ran) == [
        hidden_warning(queues, 2, 2),
        "payment-session-worker: waiting 2 s for them before moving",
        hidden_warning(queues, 1, 2),
    ]
    assert len(queues.receive(queues.queue_url)) == 1
    # And the poison letter is back in the DLQ once its visibility timeout has run out; the moved one is gone
    assert poll(lambda: queues.ids(queues.dlq_url), lambda ids: ids == {left}, timeout=15) == {left}
    assert moved not in queues.ids(queues.dlq_url)


REDRIVE = ["dlq", "redrive", "--dlq-url", "u", "--queue-url", "v"]


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["dlq", "redrive", "--dlq-url", "http://q/dlq"], ": give --stack NAME, or --dlq-url and --queue-url"),
        (
            ["dlq", "redrive", "--stack", "s", "--dlq-url", "http://q/dlq"],
            ": --stack replaces --dlq-url and --queue-url: give one or the other",
        ),
        (["dlq", "report"], ": give --stack NAME, or --dlq-url"),
        ([*REDRIVE, "--limit", "0"], " dlq redrive: argument --limit: a whole number of at least 1, got '0'"),
        ([*REDRIVE, "--limit", "abc"], " dlq redrive: argument --limit: a whole number of at least 1, got 'abc'"),
        ([*REDRIVE, "--max-per-second", "0"], " dlq redrive: argument --max-per-second: a number above 0, got '0'"),
        ([*REDRIVE, "--max-per-second", "x"], " dlq redrive: argument --max-per-second: a number above 0, got 'x'"),
        (
            ["dlq", "report", "--dlq-url", "u", "--visibility-timeout", "0"],
            " dlq report: argument --visibility-timeout: whole seconds from 1 to 43200, got '0'",
        ),
        (
            ["dlq", "purge"],
            " dlq: argument {report,redrive,candidates}: invalid choice: 'purge'"
            " (choose from 'report', 'candidates', 'redrive')",
        ),
        ([], ": the following arguments are required: {dlq}"),
    ],
)
def test_usage_errors_are_one_line_exit_2_before_any_aws_call(run, argv, line, monkeypatch):
    # Given the SDK pointed where nothing listens (a call would be an EndpointConnectionError, not a usage error)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")

    # When the command is called wrongly
    ran = run(*argv)

    # Then one line says what is wrong (no internal name, no usage block) and where help is, exit 2
    assert ran.status == 2
    prog = "payment-session-worker" + line.split(":")[0]
    assert ran.err == f"payment-session-worker{line} (see {prog} --help)\n"
    assert ran.out == ""


def test_no_region_is_one_line_naming_the_sdk_error(run, monkeypatch):
    # Given no region in the environment
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")

    # When the command runs
    ran = run("dlq", "report", "--dlq-url", "https://sqs.example/123456789012/dlq")

    # Then one line names the SDK's error, exit 2
    assert ran.status == 2
    assert the_line(ran).startswith("payment-session-worker: AWS SDK: NoRegionError")
