"""Late replays past the payments API's token window, with and without the worker's idempotency record (issue 25).

``python -m sandbox.demo.token_window [--requests N] [--window-seconds S] [--late-share F]``: the fake payments API
over HTTP forgets a ``clientToken`` ``S`` seconds after its session (its token window); moto (in process)
holds the worker's DLQ, bus and the idempotency table as ``template.yaml`` declares it. Each request is
delivered once (a share ``F`` meets the late-commit fault: the session is committed, the answer comes after
the worker gave up), then, once the window and every invocation are over, delivered again: the late replays
a DLQ redrive or a late duplicate makes. The run is made with the record and without it; the figure is the
fake's ``second_sessions``: two sessions for one request, each twice the spend limit.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from moto import mock_aws

from sandbox.agentcore import PaymentsApiServer
from sandbox.lambda_.environment import applied_environment
from sandbox.worker_code import ClientSettings, InboundRecord, aws_ports, build_dependencies, parse_settings
from scripts.transform import load

REGION: Final = "us-east-1"
MANAGER: Final = "arn:aws:bedrock-agentcore:us-east-1:123456789012:payment-manager/sandbox-manager-a1b2c3d4e5"
# One attempt of 0.3 s: a late commit answered after 0.9 s is a Timeout with a committed session.
PAYMENTS_CLIENT: Final = ClientSettings(connect_timeout=1.0, read_timeout=0.3, total_max_attempts=1)
LATE_ANSWER_MS: Final = 900
INVOCATION_SECONDS: Final = 2.0
BATCH: Final = 10


@dataclass(frozen=True)
class RunFigures:
    record: bool
    requests: int
    late_commits: int
    late_replays: int
    api_calls: int
    sessions: int
    second_sessions: int
    outcomes: dict[str, int]  # of the late replays, by outcome or error code


def create_table_from_template(dynamodb: Any, name: str) -> None:
    """The idempotency table as ``template.yaml`` declares it (key, billing, TTL); moto has no KMS for it here."""
    properties = load()["Resources"]["IdempotencyTable"]["Properties"]
    dynamodb.create_table(
        TableName=name,
        KeySchema=properties["KeySchema"],
        AttributeDefinitions=properties["AttributeDefinitions"],
        BillingMode=properties["BillingMode"],
    )
    dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=properties["TimeToLiveSpecification"])


def _request(index: int) -> InboundRecord:
    body = json.dumps(
        {"clientToken": f"window-{index:06d}-".ljust(40, "0"), "expiryTimeInMinutes": 60, "correlationId": str(index)}
    )
    return InboundRecord(f"m-{index}", body, 1, sent_timestamp=int(time.time() * 1000))


def _environment(window_seconds: float, *, dlq_url: str, bus: str, table: str | None, payments: str) -> dict[str, str]:
    return {
        "PAYMENT_MANAGER_ARN": MANAGER,
        "DEAD_LETTER_QUEUE_URL": dlq_url,
        "EVENT_BUS_NAME": bus,
        "MAX_CONCURRENCY": "10",
        "CLIENT_TOKEN_WINDOW_MINUTES": repr(window_seconds / 60),
        "IDEMPOTENCY_TABLE_NAME": table or "",
        "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE": payments,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }


def run_once(
    api: PaymentsApiServer, *, record: bool, requests: int, window_seconds: float, late_share: float
) -> RunFigures:
    """One run: first deliveries, the window and the invocations over, then every request delivered again."""
    import boto3

    api.reset()
    api.set_faults(token_window_ms=window_seconds * 1000)
    late = set(range(0, requests, max(1, round(1 / late_share)))) if late_share > 0 else set()
    with mock_aws():
        sqs, events = boto3.client("sqs", region_name=REGION), boto3.client("events", region_name=REGION)
        dlq_url = sqs.create_queue(QueueName="token-window-dlq")["QueueUrl"]
        bus = events.create_event_bus(Name="token-window-events")["EventBusArn"].rsplit("/", 1)[-1]
        table = "token-window-tokens" if record else None
        if table:
            create_table_from_template(boto3.client("dynamodb", region_name=REGION), table)
        environment = _environment(window_seconds, dlq_url=dlq_url, bus=bus, table=table, payments=api.endpoint_url)
        with applied_environment(environment):
            settings = parse_settings(environment)
            deps = build_dependencies(settings, aws_ports(settings, payments_client=PAYMENTS_CLIENT))
            try:
                firsts = [_request(i) for i in range(requests)]
                for i in late:
                    token = json.loads(firsts[i].body)["clientToken"]
                    api.delay_next(LATE_ANSWER_MS, client_token=token, commit_first=True)
                last_deadline = 0.0
                for start in range(0, requests, BATCH):
                    last_deadline = time.monotonic() + INVOCATION_SECONDS
                    deps.worker.process(firsts[start : start + BATCH], last_deadline)
                # The late replays come once the token window and every invocation are over.
                time.sleep(max(0.0, max(last_deadline, time.monotonic() + window_seconds) - time.monotonic()))
                replays = [replace(r, receive_count=2) for r in firsts]
                outcomes: Counter[str] = Counter()
                for start in range(0, requests, BATCH):
                    report = deps.worker.process(replays[start : start + BATCH], time.monotonic() + INVOCATION_SECONDS)
                    outcomes.update(r.error_code or r.outcome.value for r in report.results)
            finally:
                deps.executor.shutdown(wait=True)
    stats = api.snapshot(include_sessions=False)
    return RunFigures(
        record,
        requests,
        len(late),
        requests,
        stats["calls"],
        stats["sessions_created"],
        stats["second_sessions"],
        dict(sorted(outcomes.items())),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.demo.token_window", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--window-seconds", type=float, default=1.0, help="the fake's and the worker's window")
    parser.add_argument("--late-share", type=float, default=0.2, help="share of requests whose commit is late")
    args = parser.parse_args(argv)
    with PaymentsApiServer() as api:
        runs = [
            run_once(
                api, record=on, requests=args.requests, window_seconds=args.window_seconds, late_share=args.late_share
            )
            for on in (True, False)
        ]
    for figures in runs:
        print(json.dumps(figures.__dict__))
    return 0 if runs[0].second_sessions == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
