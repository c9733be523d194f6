"""``python -m bench.idempotency_record``: what the idempotency record (issue 25) costs a record.

The record's two stages (``service.idempotency.TokenRecords``: *attempted* before the call, *created* after
it) on batches of 10 over the worker's botocore client, beside the bare pool: the same two DynamoDB requests
(``PutItem``, ``UpdateItem``) made with a plain botocore client on a 10-thread pool. DynamoDB is moto in
server mode in a process of its own, so the CPU measured (``time.process_time``) is the caller's: botocore
serializing, signing, sending and parsing, plus the record's own code. Latency against moto is not
DynamoDB's; it is reported as the ratio of the two, both against the same server. Median of ``--repeats``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

from adapters.clients import ClientSettings, make_client
from adapters.idempotency_table import DynamoDbTokenTable, to_item
from domain.outcomes import Created
from domain.parsing import ManagerPolicy
from domain.record_state import AdmissionRules, admit
from domain.records import InboundRecord
from domain.time_policy import AgeLimit, RecordPolicy
from domain.token_record import ItemState, TokenItem
from sandbox.aws.server import MotoServer
from sandbox.lambda_.environment import applied_environment
from service.calls import Runner
from service.idempotency import TokenRecords

MANAGER: Final = "arn:aws:bedrock-agentcore:us-east-1:123456789012:payment-manager/bench-manager-a1b2c3d4e5"
RULES: Final = AdmissionRules("bench", ManagerPolicy(MANAGER, frozenset()), 5, AgeLimit(1440))
BATCH: Final = 10
SESSION: Final = {
    "paymentSessionId": "payment-session-0123456789abcde",
    "paymentManagerArn": MANAGER,
    "userId": "user-1",
    "expiryTimeInMinutes": 60,
    "limits": {"maxSpendAmount": {"value": "25.00", "currency": "USD"}},
    "createdAt": "2026-12-07T12:00:00+00:00",
    "updatedAt": "2026-12-07T12:00:00+00:00",
}


def _states(run: int, batch: int) -> list[Any]:
    now = int(time.time() * 1000)
    states = []
    for i in range(BATCH):
        body = json.dumps(
            {"clientToken": f"bench-{run}-{batch}-{i}-".ljust(40, "0"), "expiryTimeInMinutes": 60, "userId": "user-1"}
        )
        states.append(admit(InboundRecord(f"m-{run}-{batch}-{i}", body, 1, sent_timestamp=now), RULES, now))
    return states


def record_batches(table: str, run: int, batches: int, pool: ThreadPoolExecutor) -> tuple[float, float]:
    """The record's stages on ``batches`` batches: (CPU seconds, wall seconds)."""
    records = TokenRecords(DynamoDbTokenTable.create(ClientSettings(max_pool_connections=BATCH), table), RecordPolicy())
    runner = Runner(time.monotonic, 0.1, pool)
    cpu, wall = time.process_time(), time.perf_counter()
    for batch in range(batches):
        states = records.claim.run(_states(run, batch), runner, time.monotonic() + 30)
        states = [state.answered(Created(SESSION)) for state in states]
        records.settle.run(states, runner, time.monotonic() + 30)
    return time.process_time() - cpu, time.perf_counter() - wall


def bare_batches(table: str, run: int, batches: int, pool: ThreadPoolExecutor) -> tuple[float, float]:
    """The same two requests per record with a plain botocore client on the pool: (CPU seconds, wall seconds)."""
    client = make_client("dynamodb", ClientSettings(max_pool_connections=BATCH))

    def put(token: str) -> None:
        now = int(time.time() * 1000)
        item = TokenItem(token, ItemState.ATTEMPTED, "a" * 64, now, now + 30_000, now // 1000 + 86_400)
        client.put_item(TableName=table, Item=to_item(item))

    def update(token: str) -> None:
        client.update_item(
            TableName=table,
            Key={"clientToken": {"S": token}},
            UpdateExpression="SET #s = :c, #p = :p",
            ExpressionAttributeNames={"#s": "state", "#p": "session"},
            ExpressionAttributeValues={":c": {"S": "created"}, ":p": {"S": json.dumps(SESSION)}},
        )

    cpu, wall = time.process_time(), time.perf_counter()
    for batch in range(batches):
        tokens = [f"bare-{run}-{batch}-{i}-".ljust(40, "0") for i in range(BATCH)]
        list(pool.map(put, tokens))
        list(pool.map(update, tokens))
    return time.process_time() - cpu, time.perf_counter() - wall


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.idempotency_record")
    parser.add_argument("--batches", type=int, default=30, help="batches of 10 per sample")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with MotoServer(mode="process") as moto:
        dynamodb = moto.client("dynamodb")
        dynamodb.create_table(
            TableName="bench",
            KeySchema=[{"AttributeName": "clientToken", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "clientToken", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        samples: dict[str, list[tuple[float, float]]] = {"record": [], "bare": []}
        environment = {**moto.environment(), "AWS_ENDPOINT_URL_DYNAMODB": moto.endpoint_url}
        with applied_environment(environment), ThreadPoolExecutor(max_workers=BATCH) as pool:
            record_batches("bench", -1, 2, pool)  # warm both: clients made, connections open
            bare_batches("bench", -1, 2, pool)
            for run in range(args.repeats):  # interleaved, so both see the same machine
                samples["record"].append(record_batches("bench", run, args.batches, pool))
                samples["bare"].append(bare_batches("bench", run, args.batches, pool))
    records = args.batches * BATCH
    figures = {
        name: {
            "cpu_us_per_record": statistics.median(cpu for cpu, _ in runs) / records * 1e6,
            "wall_ms_per_batch": statistics.median(wall for _, wall in runs) / args.batches * 1e3,
        }
        for name, runs in samples.items()
    }
    figures["ratio"] = {
        key: figures["record"][key] / figures["bare"][key] for key in ("cpu_us_per_record", "wall_ms_per_batch")
    }
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
