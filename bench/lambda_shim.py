"""What a benchmark child process needs to look like Lambda: SQS events, a context, a bare boto3 baseline.

Imported by the child processes, including the cold-start ones, so it imports only the standard library
at module level (``boto3`` is imported inside :class:`BareWorker`, where the baseline pays for it). Of the
worker it imports one name, the handler the template names: ``handlers.create_payment_session.lambda_handler``
(in :func:`worker_invoke`, and in ``bench.cold_start``), so that it keeps working whatever ``src/`` becomes.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

    from sandbox.lambda_.context import LambdaContext

REQUEST_QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:payment-session-requests"
DETAIL_CREATED = "PaymentSessionCreated"


def request_body(index: int) -> str:
    """A valid request message, as producers send it (CONTRACT section 1)."""
    return json.dumps(
        {
            "expiryTimeInMinutes": 60,
            "userId": f"user-{index:04d}",
            "agentName": "checkout-agent",
            "limits": {"maxSpendAmount": {"value": "25.50", "currency": "USD"}},
            "correlationId": f"bench-{index}",
        }
    )


def sqs_event(size: int) -> dict[str, Any]:
    """An SQS event of ``size`` fresh records: new message IDs, hence new client tokens and new sessions."""
    run = os.urandom(6).hex()
    now = str(int(time.time() * 1000))
    return {
        "Records": [
            {
                "messageId": f"{run}-{index:04d}-4000-8000-bench{os.urandom(4).hex()}",
                "receiptHandle": "receipt-handle",
                "body": request_body(index),
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": now,
                    "SenderId": "AIDAEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": now,
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": REQUEST_QUEUE_ARN,
                "awsRegion": "us-east-1",
            }
            for index in range(size)
        ]
    }


def context() -> LambdaContext:
    """Lambda's context object for one invocation: the project's one fake (``sandbox.lambda_.context``), with
    the memory size the child runs at and the template's 30 s timeout.

    The only import of the sandbox in a benchmark child, from the repository (after the package on the path):
    the sandbox is never in the package, and it stands for what Lambda's runtime hands the handler. The cold
    start builds one in the bare child too, so both pay for this import alike.
    """
    from sandbox.lambda_.context import LambdaContext

    return LambdaContext(memory_limit_in_mb=int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")))


def check_answer(answer: Mapping[str, Any]) -> None:
    """Every record must have been created: a benchmark of failures would measure the wrong thing."""
    failures = answer.get("batchItemFailures")
    if failures:
        raise SystemExit(f"the batch reported failures: {failures[:3]}")


class BareWorker:
    """The baseline: the same calls in plain boto3, no validation, logging, metrics or tracing.

    ``create_payment_session`` per record on a thread pool as large as the concurrency, then ``PutEvents``
    in tens, concurrently, on the same pool. Clients come from one session with boto3's default config
    (plus a connection pool as large as the thread pool).
    """

    def __init__(self, concurrency: int = 10) -> None:
        from concurrent.futures import ThreadPoolExecutor

        import boto3
        from botocore.config import Config

        session = boto3.session.Session()
        config = Config(max_pool_connections=max(10, concurrency))
        self.payments = session.client("bedrock-agentcore", config=config)
        self.events = session.client("events", config=config)
        self.manager_arn = os.environ["PAYMENT_MANAGER_ARN"]
        self.bus = os.environ["EVENT_BUS_NAME"]
        self.source = os.environ["EVENT_SOURCE"]
        self.pool = ThreadPoolExecutor(max_workers=concurrency) if concurrency > 1 else None

    def params(self, record: Mapping[str, Any]) -> dict[str, Any]:
        body = json.loads(record["body"])
        return {
            "paymentManagerArn": self.manager_arn,
            "expiryTimeInMinutes": body["expiryTimeInMinutes"],
            "userId": body["userId"],
            "agentName": body["agentName"],
            "limits": body["limits"],
            "clientToken": "bench-" + record["messageId"].replace("-", "").ljust(32, "0"),
        }

    def create(self, record: Mapping[str, Any]) -> tuple[dict[str, Any], Mapping[str, Any]]:
        params = self.params(record)
        session: Mapping[str, Any] = self.payments.create_payment_session(**params)["paymentSession"]
        return params, session

    def entry(self, record: Mapping[str, Any], params: Mapping[str, Any], session: Any) -> PutEventsRequestEntryTypeDef:
        detail = {"clientToken": params["clientToken"], "messageId": record["messageId"], "paymentSession": session}
        return {
            "EventBusName": self.bus,
            "Source": self.source,
            "DetailType": DETAIL_CREATED,
            "Detail": json.dumps(detail, default=str),
            "Resources": [self.manager_arn],
        }

    def publish(self, entries: Sequence[PutEventsRequestEntryTypeDef]) -> None:
        response = self.events.put_events(Entries=list(entries))
        if response.get("FailedEntryCount"):
            raise SystemExit(f"PutEvents failed: {response['Entries']}")

    def process(self, event: Mapping[str, Any]) -> None:
        records = event["Records"]
        run: Callable[..., Any] = self.pool.map if self.pool else map
        created = list(run(self.create, records))
        entries = [self.entry(r, p, s) for r, (p, s) in zip(records, created, strict=True)]
        list(run(self.publish, [entries[i : i + 10] for i in range(0, len(entries), 10)]))


def worker_invoke() -> Callable[[dict[str, Any]], None]:
    """The real handler, imported as Lambda does at init (after the tracing layer's start, when one is measured:
    ``bench.tracing_paths``); each call is one invocation with a fresh context."""
    from bench.tracing_paths import after_invocation, start_in_child

    start_in_child()
    from handlers.create_payment_session import lambda_handler

    def invoke(event: dict[str, Any]) -> None:
        os.environ["_X_AMZN_TRACE_ID"] = trace_header()  # a new trace per invocation, as the runtime sets it
        check_answer(lambda_handler(event, context()))
        after_invocation()

    return invoke


def trace_header() -> str:
    """An ``_X_AMZN_TRACE_ID`` of a sampled trace (``Tracing: Active``), new for each invocation."""
    return f"Root=1-{int(time.time()):08x}-{os.urandom(12).hex()};Parent={os.urandom(8).hex()};Sampled=1"


def bare_invoke(concurrency: int) -> Callable[[dict[str, Any]], None]:
    """The baseline as an invocation: the same batch through :class:`BareWorker`."""
    return BareWorker(concurrency).process


def peer_invoke() -> Callable[[dict[str, Any]], None]:
    """The peer: Powertools' sequential ``BatchProcessor``, its record handler making the bare calls."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    bare = BareWorker(concurrency=1)
    processor = BatchProcessor(event_type=EventType.SQS)

    def record_handler(record: Any) -> None:
        raw = record.raw_event
        params, session = bare.create(raw)
        bare.publish([bare.entry(raw, params, session)])

    def invoke(event: dict[str, Any]) -> None:
        check_answer(process_partial_response(event, record_handler, processor, context()))  # type: ignore[arg-type]

    return invoke


def emit(result: Mapping[str, Any]) -> None:
    """Print the result line the parent looks for (``bench.common.RESULT_MARK``)."""
    print("BENCH-RESULT " + json.dumps(result), flush=True)


def serve_samples(sample: Callable[[], Mapping[str, Any]]) -> None:
    """Child side of ``bench.common.Lockstep``: say ready, then one sample per ``go`` line until EOF."""
    import sys

    with os.fdopen(int(os.environ["BENCH_RESULT_FD"]), "w") as results:
        results.write('{"ready": true}\n')
        results.flush()
        for line in sys.stdin:
            if line.strip() != "go":
                break
            results.write(json.dumps(sample()) + "\n")
            results.flush()
