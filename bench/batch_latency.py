"""2. Batch latency with the payments API at 100 ms, as deployed: the worker against a bare boto3 thread pool.

Figures: the wall time of a warm invocation of the real handler (``lambda_handler``: parse, concurrent
``CreatePaymentSession`` calls, ``PutEvents`` in tens, logs and metrics) for 10 records at the template's
``MAX_CONCURRENCY`` (10), and for 100 records at ``MAX_CONCURRENCY=50``, tracing off. Baseline: the bare
boto3 thread pool of the CPU benchmark doing the same calls for the same batch in the same run (what the SDK
alone costs at that size and CPU share), at most 1.05x for 10 records and 1.10x for 100. For context: one
warm ``create_payment_session`` call of a bare boto3 client (what the API's latency alone costs), and the
peer, Powertools' ``BatchProcessor`` with ``process_partial_response``, whose record handler makes the same
create and publish per record, one record after the other.

Each kind runs in its own child process (so nothing the worker loads touches the baseline), from the
read-only package copy, in a cgroup of its own at the CPU share of the template's MemorySize, with a cold
invocation and a warm-up first; the children run side by side in lockstep, one sample each in turn
(:class:`bench.common.Lockstep`), and the figures are medians.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

LATENCY_MS = 100
TARGETS = {10: 1.05, 100: 1.10}  # against the bare boto3 thread pool, per batch size
CONCURRENCY = {10: 10, 100: 50}
PEER_100_SAMPLES = 2


def _child(kind: str, size: int, concurrency: int) -> None:
    from bench.lambda_shim import BareWorker, bare_invoke, peer_invoke, serve_samples, sqs_event, worker_invoke

    invoke: Callable[[dict[str, Any]], None]
    if kind == "one-call":
        bare = BareWorker(concurrency=1)

        def one_call(event: dict[str, Any]) -> None:
            bare.create(event["Records"][0])

        invoke = one_call
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


def batch_samples(
    stack: Any, share: Any, kinds: dict[str, tuple[str, int, int]], repeats: int, *, skip: Any = None
) -> dict[str, list[float]]:
    """``repeats`` warm batches of each kind (name: (child kind, records, MAX_CONCURRENCY)) in lockstep.

    ``skip(name, index)`` leaves a sample out. Shared with ``bench.memory_size``.
    """
    from bench.common import Lockstep, lambda_environment

    samples: dict[str, list[float]] = {name: [] for name in kinds}
    with Lockstep(share) as children:
        for name, (kind, size, concurrency) in kinds.items():
            env = lambda_environment(
                stack, latency_ms=LATENCY_MS, memory_mb=share.memory_mb, max_concurrency=str(concurrency)
            )
            children.start(name, "bench.batch_latency", [kind, str(size), str(concurrency)], env)
        for index in range(repeats):
            for name in kinds:
                if skip is None or not skip(name, index):
                    samples[name].append(children.sample(name)["ms"])
    return samples


def run(stack: Any, repeats: int) -> list[Any]:
    from bench.common import Info, Result, median
    from bench.cpu_share import CpuShare

    kinds = {  # name: (child kind, records, MAX_CONCURRENCY)
        "one call": ("one-call", 1, 1),
        **{f"worker {size}": ("worker", size, concurrency) for size, concurrency in CONCURRENCY.items()},
        **{f"bare {size}": ("bare", size, concurrency) for size, concurrency in CONCURRENCY.items()},
        **{f"peer {size}": ("peer", size, 1) for size in CONCURRENCY},
    }
    memory_mb = stack.deployment.memory_mb
    with CpuShare(memory_mb) as share:
        # the peer's 100-record batch takes ~10 s a sample: a few show the order of magnitude
        samples = batch_samples(
            stack, share, kinds, repeats, skip=lambda name, index: name == "peer 100" and index >= PEER_100_SAMPLES
        )
        where = share.describe()
    one_call = median(samples["one call"])
    results: list[Any] = [Info(f"one bare boto3 create_payment_session call at {memory_mb} MB", one_call, "ms")]
    for size, concurrency in CONCURRENCY.items():
        result = Result.from_samples(
            f"batch of {size} at {memory_mb} MB, MAX_CONCURRENCY={concurrency}, API at {LATENCY_MS} ms",
            worker=samples[f"worker {size}"],
            baseline=samples[f"bare {size}"],
            unit="ms",
            target=TARGETS[size],
            baseline_name="bare boto3 thread pool",
            notes=[f"batch latency: CPU share {where}"] if size == 10 else [],
        )
        results.append(result)
        results.append(Info("  the same, against one bare boto3 call", result.figure, "ms", one_call))
        peer = median(samples[f"peer {size}"])
        results.append(Info(f"  peer: Powertools BatchProcessor (sequential), {size} records", peer, "ms", one_call))
    return results


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        _child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
