"""The dead-letter queue: ``SendMessage`` for one, ``SendMessageBatch`` for several; failures mapped back.

A ``SendMessageBatch`` takes at most 1 MiB for all its messages together (bodies and attributes), so the
letters of one call are sent in as many consecutive groups as their sizes need.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from adapters.batch_call import Answers, BatchCall
from adapters.clients import ClientSettings, LazyClient, make_client
from adapters.deadline import DeadlineGuard
from domain.dead_letter import DeadLetter

MAX_ENTRIES: Final = 10
MAX_BATCH_BYTES: Final = 1_048_576  # SQS: the messages of one SendMessageBatch together, as for one message


def message_size(letter: DeadLetter) -> int:
    """The bytes SQS counts for a message: its body, and each attribute's name, data type and value."""
    size = len(letter.body.encode("utf-8", "surrogatepass"))
    for name, attribute in letter.attributes.items():
        value = attribute.get("StringValue", attribute.get("BinaryValue", b""))
        size += len(name.encode()) + len(str(attribute.get("DataType", "")).encode())
        size += len(value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value)
    return size


def size_groups(letters: Sequence[DeadLetter]) -> list[Sequence[DeadLetter]]:
    """Consecutive groups of ``letters``, each within ``MAX_BATCH_BYTES`` (a larger letter alone)."""
    groups: list[Sequence[DeadLetter]] = []
    start, total = 0, 0
    for index, letter in enumerate(letters):
        size = message_size(letter)
        if index > start and total + size > MAX_BATCH_BYTES:
            groups.append(letters[start:index])
            start, total = index, 0
        total += size
    groups.append(letters[start:])
    return groups


def _message(letter: DeadLetter) -> dict[str, Any]:
    """``SendMessage`` parameters; to a FIFO DLQ with the group kept and the source message ID as deduplication ID.

    The source message ID names one delivery of one request, so a dead letter sent twice (a send that failed
    after SQS took it, then the record's next receive) is taken once (CONTRACT section 9).
    """
    message: dict[str, Any] = {"MessageBody": letter.body, "MessageAttributes": letter.attributes}
    if letter.group_id is not None:
        message["MessageGroupId"] = letter.group_id
        message["MessageDeduplicationId"] = letter.message_id
    return message


class SqsDeadLetterSender:
    """Implements the domain's ``DeadLetterSender`` port."""

    def __init__(self, client: Any, guard: DeadlineGuard, *, queue_url: str) -> None:
        self._client = client
        self._call = BatchCall("SendMessageBatch", MAX_ENTRIES, failed="send to the DLQ failed", guard=guard)
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
        return self._call(letters, self._send_group, deadline=deadline, groups=size_groups)

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
            results[int(failed["Id"])] = f"{failed.get('Code', 'Unknown')}: {failed.get('Message', '')}"
        return results
