"""The request queue's ``ChangeMessageVisibilityBatch``: hides retried records for their retry delay.

The records' queue is named by ARN (the event's ``eventSourceARN``); its URL is the SQS client's endpoint,
the account and the name, so the sandbox's endpoint serves as AWS's does, without a ``GetQueueUrl`` call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapters.batch_call import Answers, BatchCall, answers_of
from adapters.clients import ClientSettings, LazyClient, make_client
from adapters.deadline import DeadlineGuard
from domain.ports import VisibilityChange


def queue_url(endpoint_url: str, queue_arn: str) -> str | None:
    """``https://sqs.<region>.amazonaws.com/<account>/<name>`` for an SQS queue ARN; ``None`` for anything else."""
    parts = queue_arn.split(":")
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sqs" or not parts[4] or not parts[5]:
        return None
    return f"{endpoint_url.rstrip('/')}/{parts[4]}/{parts[5]}"


class SqsVisibility:
    """Implements the domain's ``VisibilitySetter`` port."""

    def __init__(self, client: Any, guard: DeadlineGuard) -> None:
        self._client = client
        self._call = BatchCall("ChangeMessageVisibilityBatch", failed="visibility not set", guard=guard)

    @classmethod
    def create(cls, settings: ClientSettings) -> SqsVisibility:
        """The SQS client is made on the first retried record: most batches have none."""
        guard = DeadlineGuard(settings.read_timeout)

        def make() -> Any:
            client = make_client("sqs", settings)
            guard.install(client)
            return client

        return cls(LazyClient(make), guard)

    def hide(self, changes: Sequence[VisibilityChange], *, deadline: float) -> list[str | None]:
        return self._call(changes, self._change, deadline=deadline, groups=_by_queue)

    def _change(self, changes: Sequence[VisibilityChange]) -> Answers:
        url = queue_url(self._client.meta.endpoint_url, changes[0].queue_arn)
        if url is None:
            return [f"not an SQS queue ARN: {changes[0].queue_arn!r}"] * len(changes)
        entries = [
            {"Id": str(index), "ReceiptHandle": change.receipt_handle, "VisibilityTimeout": change.seconds}
            for index, change in enumerate(changes)
        ]
        return answers_of(self._client.change_message_visibility_batch(QueueUrl=url, Entries=entries), len(changes))


def _by_queue(changes: Sequence[VisibilityChange]) -> list[Sequence[VisibilityChange]]:
    """Consecutive runs of one queue (a Lambda batch comes from one queue: one run)."""
    runs: list[list[VisibilityChange]] = []
    for change in changes:
        if runs and runs[-1][0].queue_arn == change.queue_arn:
            runs[-1].append(change)
        else:
            runs.append([change])
    return list(runs)
