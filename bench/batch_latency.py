"""2. Batch latency with the payments API at 100 ms: a warm batch against one call, and the sequential peer.

Figures: the wall time of a warm invocation of the real handler (``lambda_handler``: parse, concurrent
``CreatePaymentSession`` calls, ``PutEvents`` in tens, logs and metrics) for 10 records at the template's
``MAX_CONCURRENCY`` (10), and for 100 records at ``MAX_CONCURRENCY=50``. Baseline: the wall time of one
warm ``create_payment_session`` call from a bare boto3 client. Peer, for context: Powertools'
``BatchProcessor`` with ``process_partial_response``, whose record handler makes the same create and
publish per record, one record after the other; and the bare boto3 thread pool of the CPU benchmark doing
the same batch, which shows what the SDK alone costs at that size on this machine.

Each kind runs in its own child process (so the worker's X-Ray patching of botocore never touches the
baseline), with a cold invocation and a warm-up first; the children run side by side in lockstep, one
sample each in turn (:class:`bench.common.Lockstep`), and the figures are medians.
"""

from __future__ import annotations

import sys
import time
from typing import Any

LATENCY_MS = 100
TARGETS = {10: 1.3, 100: 3.0}
CONCURRENCY = {10: 10, 100: 50}
PEER_100_SAMPLES = 2


def _child(kind: str, size: int, concurrency: int) -> None:
    from bench.lambda_shim import BareWorker, bare_invoke, peer_invoke, serve_samples, sqs_event, worker_invoke

    if kind == "one-call":
        bare = BareWorker(concurrency=1)

        def invoke(event: dict[str, Any]) -> None:
            bare.create(event["Records"][0])
    elif kind == "bare":
        invoke = bare_invoke(concurrency)
    else:
        invoke = worker_invoke() if kind == "worker" else peer_invoke()
    invoke(sqs_event(1))  # the cold invocation
    invoke(sqs_event(size))  # warm-up: connections for the whole pool

    def sample() -> dict[str, float]:
        event = sqs_event(size)
        started = time.perf_counter()
        invoke(event)
        return {"ms": (time.perf_counter() - started) * 1000}

    serve_samples(sample)


def run(stack: Any, repeats: int) -> list[Any]:
    from bench.common import Info, Lockstep, Result, lambda_environment, median

    kinds = {  # name: (child kind, records, MAX_CONCURRENCY)
        "one call": ("one-call", 1, 1),
        **{f"worker {size}": ("worker", size, concurrency) for size, concurrency in CONCURRENCY.items()},
        **{f"bare {size}": ("bare", size, concurrency) for size, concurrency in CONCURRENCY.items()},
        **{f"peer {size}": ("peer", size, 1) for size in CONCURRENCY},
    }
    samples: dict[str, list[float]] = {name: [] for name in kinds}
    with Lockstep() as children:
        for name, (kind, size, concurrency) in kinds.items():
            env = lambda_environment(stack, latency_ms=LATENCY_MS, max_concurrency=str(concurrency))
            children.start(name, "bench.batch_latency", [kind, str(size), str(concurrency)], env)
        for index in range(repeats):
            for name in kinds:
                if name == "peer 100" and index >= PEER_100_SAMPLES:
                    continue  # ~10 s a sample: a few show the order of magnitude
                samples[name].append(children.sample(name)["ms"])

    one_call = median(samples["one call"])
    results: list[Any] = []
    for size, concurrency in CONCURRENCY.items():
        results.append(
            Result(
                name=f"batch of {size}, MAX_CONCURRENCY={concurrency}, API at {LATENCY_MS} ms",
                figure=median(samples[f"worker {size}"]),
                baseline=one_call,
                unit="ms",
                target=TARGETS[size],
                baseline_name="one bare boto3 call",
            )
        )
        bare = median(samples[f"bare {size}"])
        results.append(Info(f"  bare boto3 thread pool, same calls, {size} records", bare, "ms", one_call))
        peer = median(samples[f"peer {size}"])
        results.append(Info(f"  peer: Powertools BatchProcessor (sequential), {size} records", peer, "ms", one_call))
    return results


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        _child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
