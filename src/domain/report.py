"""How each record of a batch ended, and the Lambda response that follows (CONTRACT section 3)."""

from __future__ import annotations

from dataclasses import dataclass

from domain.errors import ApiError
from domain.outcomes import Outcome


@dataclass(frozen=True, slots=True)
class RecordResult:
    """How one record ended; everything the handler logs and counts, and nothing it must not log."""

    message_id: str
    outcome: Outcome
    receive_count: int
    client_token: str | None = None
    correlation_id: str | None = None
    user_id: str | None = None
    error: ApiError | None = None  # the outcome's error (every outcome but created)
    payment_session_id: str | None = None
    api_called: bool = False
    letter_failed: bool = False  # its copy to the DLQ failed (or could not be made) in this invocation
    publish_failed: bool = False  # its outcome's event failed to publish in this invocation
    retry_delay_seconds: int | None = None  # a retried record hidden this long by the worker (domain.time_policy)
    record_failure: str | None = None  # the idempotency record's request was refused (DynamoDB's error code)

    @property
    def error_code(self) -> str | None:
        return self.error.code if self.error is not None else None

    @property
    def error_message(self) -> str | None:
        return self.error.message if self.error is not None else None


@dataclass(frozen=True, slots=True)
class BatchReport:
    results: tuple[RecordResult, ...]

    @property
    def batch_item_failures(self) -> list[dict[str, str]]:
        """The ``batchItemFailures`` of the Lambda response: every retried record, in batch order."""
        return [{"itemIdentifier": r.message_id} for r in self.results if r.outcome is Outcome.RETRIED]

    def response(self) -> dict[str, list[dict[str, str]]]:
        return {"batchItemFailures": self.batch_item_failures}
