"""The Lambda response that follows from how each record of a batch ended (CONTRACT section 3)."""

from __future__ import annotations

from dataclasses import dataclass

from domain.outcomes import Outcome
from domain.record_state import RecordState


@dataclass(frozen=True, slots=True)
class BatchReport:
    """Each record as it ended, in batch order (``RecordState``: its outcome, error, and what the handler logs)."""

    results: tuple[RecordState, ...]

    @property
    def batch_item_failures(self) -> list[dict[str, str]]:
        """The ``batchItemFailures`` of the Lambda response: every retried record, in batch order."""
        return [{"itemIdentifier": r.message_id} for r in self.results if r.outcome is Outcome.RETRIED]

    def response(self) -> dict[str, list[dict[str, str]]]:
        return {"batchItemFailures": self.batch_item_failures}
