"""The dead-letter queue: ``SendMessage`` for one, ``SendMessageBatch`` for several; failures mapped back.

A ``SendMessageBatch`` takes at most 10 entries and 1 MiB for all its messages together (bodies and
attributes, as SQS counts them), so the letters of one call are sent in as many consecutive groups as their
sizes need. A letter SQS would refuse for its size is never sent: its answer says why (CONTRACT section 5).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from adapters.batch_call import Answers, BatchCall
from adapters.clients import ClientSettings, LazyClient, make_client
from adapters.deadline import DeadlineGuard
from domain.dead_letter import MAX_MESSAGE_BYTES, DeadLetter

MAX_BATCH_BYTES: Final = MAX_MESSAGE_BYTES  # SQS: the messages of one SendMessageBatch together, as for one


def size_groups(letters: Sequence[DeadLetter]) -> list[Sequence[DeadLetter]]:
    """Consecutive groups of ``letters``, each within ``MAX_BATCH_BYTES`` (a larger letter alone)."""
    groups: list[Sequence[DeadLetter]] = []
    start, total = 0, 0
    for index, letter in enumerate(letters):
        size = letter.size
        if index > start and total + size > MAX_BATCH_BYTES:
            groups.append(letters[start:index])
            start, total = index, 0
        total += size
    groups.append(letters[start:])
    return groups


def _message(letter: DeadLetter) -> dict[str, Any]:
    """``SendMessage`` parameters: the group kept from a FIFO or fair queue; a deduplication ID to a FIFO DLQ only.

    On a FIFO DLQ the source message ID is the deduplication ID: it names one delivery of one request, so a dead
    letter sent twice (a send that failed after SQS took it, then the record's next receive) is taken once
    (CONTRACT section 9). A standard queue refuses any deduplication ID (``InvalidParameterValue``).
    """
    message: dict[str, Any] = {"MessageBody": letter.body, "MessageAttributes": letter.attributes}
    if letter.group_id is not None:
        message["MessageGroupId"] = letter.group_id
    if letter.fifo:
        message["MessageDeduplicationId"] = letter.message_id
    return message


class SqsDeadLetterSender:
    """Implements the domain's ``DeadLetterSender`` port."""

    def __init__(self, client: Any, guard: DeadlineGuard, *, queue_url: str) -> None:
        self._client = client
        self._call = BatchCall("SendMessageBatch", failed="send to the DLQ failed", guard=guard)
        self._queue_url = queue_url

    @classmethod
    def create(cls, settings: ClientSettings, *, queue_url: str) -> SqsDeadLetterSender:
        """The SQS client is made on the first dead letter: most batches have none, so no cold start pays."""
        guard = DeadlineGuard(settings.read_timeout)

        def make() -> Any:
            client = make_client("sqs", settings)
            guard.install(client)
            return client

        return cls(LazyClient(make), guard, queue_url=queue_url)

    def send(self, letters: Sequence[DeadLetter], *, deadline: float) -> list[str | None]:
        answers: Answers = [letter.too_large for letter in letters]
        fitting = [letter for letter, why in zip(letters, answers, strict=True) if why is None]
        sent = iter(self._call(fitting, self._send_group, deadline=deadline, groups=size_groups))
        return [next(sent) if why is None else why for why in answers]

    def _send_group(self, letters: Sequence[DeadLetter]) -> Answers:
        if len(letters) == 1:
            return self._send_one(letters[0])
        return self._send_batch(letters)

    def _send_one(self, letter: DeadLetter) -> Answers:
        self._client.send_message(QueueUrl=self._queue_url, **_message(letter))
        return [None]

    def _send_batch(self, letters: Sequence[DeadLetter]) -> Answers:
        entries: list[dict[str, Any]] = [{"Id": str(index), **_message(letter)} for index, letter in enumerate(letters)]
        response = self._client.send_message_batch(QueueUrl=self._queue_url, Entries=entries)
        results: Answers = ["no answer for this entry"] * len(letters)
        for ok in response.get("Successful", []):
            results[int(ok["Id"])] = None
        for failed in response.get("Failed", []):
            results[int(failed["Id"])] = f"send to the DLQ failed: {failed.get('Code', 'Unknown')}"
        return results
