"""Lambda entry point: SQS batch in, ``batchItemFailures`` out (CONTRACT section 3)."""

from __future__ import annotations

from handlers.cold_start import collector_paused

with collector_paused(freeze=True):  # the imports below are most of the cold start (handlers.cold_start)
    import time
    from collections.abc import Mapping
    from typing import TYPE_CHECKING, Any

    from domain.records import InboundRecord, parse_millis
    from domain.report import BatchReport
    from domain.time_policy import invocation_deadline
    from handlers.dependencies import get_dependencies
    from handlers.observability import logger, metrics, observe

if TYPE_CHECKING:  # an annotation only: the runtime hands the handler its own context object
    from aws_lambda_powertools.utilities.typing import LambdaContext


def to_inbound(record: Mapping[str, Any]) -> InboundRecord:
    """An SQS record of the Lambda event as the domain sees it; a missing field is never a crash."""
    attributes = record.get("attributes") or {}
    try:
        receive_count = int(attributes.get("ApproximateReceiveCount", 1))
    except (TypeError, ValueError):
        receive_count = 1
    body = record.get("body")
    message_attributes = record.get("messageAttributes")
    group_id = attributes.get("MessageGroupId")
    receipt_handle = record.get("receiptHandle")
    return InboundRecord(
        message_id=str(record.get("messageId", "")),
        body=body if isinstance(body, str) else "",
        receive_count=receive_count,
        message_attributes=message_attributes if isinstance(message_attributes, dict) else {},
        source_queue_arn=str(record.get("eventSourceARN", "")),
        trace_header=attributes.get("AWSTraceHeader"),
        sent_timestamp=parse_millis(attributes.get("SentTimestamp")),
        group_id=group_id if isinstance(group_id, str) else None,
        receipt_handle=receipt_handle if isinstance(receipt_handle, str) else "",
    )


def process_event(event: Mapping[str, Any], context: LambdaContext) -> BatchReport:
    """Process an SQS event within the invocation's remaining time, less its return reserve."""
    deps = get_dependencies()
    deadline = invocation_deadline(time.monotonic(), context.get_remaining_time_in_millis())
    records = [to_inbound(record) for record in event.get("Records", [])]
    report = deps.worker.process(records, deadline)
    observe(report)
    return report


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, list[dict[str, str]]]:
    """Handler named by ``template.yaml``; raises only when the deployment itself is misconfigured."""
    return process_event(event, context).response()
