"""The scan that reads a DLQ without consuming it, on a DLQ that takes longer to read than a visibility timeout."""

from __future__ import annotations

from operations.letters import Scan

BODY = "{}"


class Clock:
    """A clock that moves ``step`` seconds each time it is read."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def timeouts_of(sqs):
    """The VisibilityTimeout of each ReceiveMessage ``sqs`` makes, as sent."""
    sent = []
    sqs.meta.events.register(
        "provide-client-params.sqs.ReceiveMessage", lambda params, **_: sent.append(params["VisibilityTimeout"])
    )
    return sent


def test_a_slow_scan_hides_each_receive_for_the_rest_of_the_scan_as_well(queues):
    # Given 40 letters, and a scan whose every step takes 10 s (five receives in all: 4 x 10 and one empty)
    letters = {queues.dead_letter(BODY, ErrorCode="Timeout") for _ in range(40)}
    sent = timeouts_of(queues.sqs)
    scan = Scan(queues.sqs, queues.dlq_url, visibility_timeout=30, expected=40, clock=Clock(10))

    # When it reads the DLQ
    seen = {letter.message_id for batch in scan.batches() for letter in batch}

    # Then the first receive hides for the 30 s asked for, each later one also for twice the time the letters not
    # yet seen should take at the pace so far, and the last ones (nothing left to see) for 30 s again
    assert seen == letters
    assert sent[0] == 30
    assert max(sent) > 30
    assert sent[-1] == 30
    scan.release()


def test_letters_that_come_back_during_the_scan_are_hidden_again_and_the_scan_goes_on(queues, moto):
    # Given 25 letters, and a first receive whose letters come back at once (their timeout ran out)
    letters = {queues.dead_letter(BODY, ErrorCode="Timeout") for _ in range(25)}
    other = moto.client("sqs")
    receives = []

    def time_out_the_first(parsed, **_):
        receives.append([message["MessageId"] for message in parsed.get("Messages", [])])
        if len(receives) == 1:
            for message in parsed["Messages"]:
                other.change_message_visibility(
                    QueueUrl=queues.dlq_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )

    queues.sqs.meta.events.register("after-call.sqs.ReceiveMessage", time_out_the_first)
    scan = Scan(queues.sqs, queues.dlq_url, expected=25)

    # When the DLQ is read
    batches = list(scan.batches())

    # Then a receive brought back letters already seen (they were not yielded twice), and the scan went on to
    # every letter: each once
    assert any(set(ids) <= set(receives[0]) and ids for ids in receives[1:])
    seen = [letter.message_id for batch in batches for letter in batch]
    assert sorted(seen) == sorted(letters)
    # And they are all visible again once released
    assert scan.release() is None
    assert queues.ids(queues.dlq_url) == letters
