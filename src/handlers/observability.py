"""Logs and metrics (CONTRACT section 7): one structured line per record, EMF metrics per batch."""

from __future__ import annotations

import hashlib
import os
import warnings
from collections import Counter
from typing import Any, Final

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from domain.errors import WorkerErrorCode
from domain.outcomes import Outcome
from domain.record_state import RecordState
from domain.report import BatchReport

SERVICE: Final = "payment-session-worker"
NAMESPACE: Final = "PaymentSessionWorker"

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE))
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", NAMESPACE))

# Dimensioned metrics go out through single_metric, so a batch may leave the shared set empty: not news.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

_LOG: Final = {
    Outcome.CREATED: logger.info,
    Outcome.FAILED: logger.warning,
    Outcome.RETRIED: logger.warning,
    Outcome.DEAD_LETTERED: logger.error,
}


def user_hash(user_id: str | None) -> str | None:
    """A short, stable hash of ``userId``: enough to correlate log lines, never the value."""
    if user_id is None:
        return None
    return hashlib.sha256(user_id.encode("utf-8")).hexdigest()[:12]


def log_record(result: RecordState) -> None:
    """One line per record: IDs, token, outcome, error code and message; never the body or ``userId`` in clear.

    A record whose copy to the DLQ failed is an error whatever its outcome: it was poison or out of receives,
    and only the queue's redrive policy can still move it.
    """
    fields: dict[str, Any] = {
        "messageId": result.message_id,
        "clientToken": result.client_token,
        "correlationId": result.correlation_id,
        "outcome": result.outcome.value,
        "receiveCount": result.receive_count,
    }
    if result.user_id is not None:
        fields["userIdHash"] = user_hash(result.user_id)
    if result.payment_session_id is not None:
        fields["paymentSessionId"] = result.payment_session_id
    if result.error_code is not None:
        fields["errorCode"] = result.error_code
        fields["errorMessage"] = result.error_message or result.error_code
    if result.record_failure is not None:
        fields["idempotencyRecordError"] = result.record_failure
    if result.retry_delay_seconds is not None:
        fields["retryDelaySeconds"] = result.retry_delay_seconds
    log = logger.error if result.letter_failed else _LOG[result.outcome]
    log("record %s", result.outcome.value, extra=fields)


def record_metrics(report: BatchReport) -> None:
    """``SessionsCreated``, ``RecordsRetried``, ``DeadLetterSendFailures``, ``EventPublishFailures``;
    ``SessionsFailed`` and ``RecordsDeadLettered`` by ``ErrorCode``."""
    outcomes = Counter(result.outcome for result in report.results)
    counts = {
        "SessionsCreated": outcomes[Outcome.CREATED],
        "RecordsRetried": outcomes[Outcome.RETRIED],
        "DeadLetterSendFailures": sum(result.letter_failed for result in report.results),
        "EventPublishFailures": sum(result.publish_failed for result in report.results),
        # The idempotency record: requests not sent because their outcome is unknown, and its refusals.
        "OutcomesUnknown": sum(result.error_code == WorkerErrorCode.OUTCOME_UNKNOWN for result in report.results),
        "IdempotencyRecordFailures": sum(result.record_failure is not None for result in report.results),
    }
    for name, count in counts.items():
        if count:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=count)
    by_code = Counter(
        (result.outcome, result.error_code or "Unknown")
        for result in report.results
        if result.outcome in (Outcome.FAILED, Outcome.DEAD_LETTERED)
    )
    for (outcome, code), count in sorted(by_code.items()):
        name = "SessionsFailed" if outcome is Outcome.FAILED else "RecordsDeadLettered"
        with single_metric(
            name=name,
            unit=MetricUnit.Count,
            value=count,
            namespace=metrics.namespace,
            default_dimensions=metrics.default_dimensions,
        ) as metric:
            metric.add_dimension(name="ErrorCode", value=code)


def observe(report: BatchReport) -> None:
    for result in report.results:
        log_record(result)
    record_metrics(report)
