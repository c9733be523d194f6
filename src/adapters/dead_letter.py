"""The dead-letter queue: ``SendMessage`` for one, ``SendMessageBatch`` for several; failures mapped back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from adapters.clients import ClientSettings, LazyClient, make_client
from adapters.deadline import DeadlineExceeded, DeadlineGuard
from domain.dead_letter import DeadLetter

MAX_ENTRIES: Final = 10


class SqsDeadLetterSender:
    """Implements the domain's ``DeadLetterSender`` port."""

    def __init__(self, client: Any, guard: DeadlineGuard, *, queue_url: str) -> None:
        self._client = client
        self._guard = guard
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
        if not letters:
            return []
        if len(letters) > MAX_ENTRIES:
            raise ValueError(f"SendMessageBatch takes at most {MAX_ENTRIES} entries, got {len(letters)}")
        with self._guard.bounded_by(deadline):
            try:
                if len(letters) == 1:
                    return self._send_one(letters[0])
                return self._send_batch(letters)
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "Unknown")
                return [f"send to the DLQ failed: {code}"] * len(letters)
            except (BotoCoreError, DeadlineExceeded) as error:
                return [f"send to the DLQ failed: {type(error).__name__}"] * len(letters)

    def _send_one(self, letter: DeadLetter) -> list[str | None]:
        self._client.send_message(
            QueueUrl=self._queue_url, MessageBody=letter.body, MessageAttributes=letter.attributes
        )
        return [None]

    def _send_batch(self, letters: Sequence[DeadLetter]) -> list[str | None]:
        entries: list[dict[str, Any]] = [
            {"Id": str(index), "MessageBody": letter.body, "MessageAttributes": letter.attributes}
            for index, letter in enumerate(letters)
        ]
        response = self._client.send_message_batch(QueueUrl=self._queue_url, Entries=entries)
        results: list[str | None] = ["no answer for this entry"] * len(letters)
        for ok in response.get("Successful", []):
            results[int(ok["Id"])] = None
        for failed in response.get("Failed", []):
            results[int(failed["Id"])] = f"{failed.get('Code', 'Unknown')}: {failed.get('Message', '')}"
        return results
