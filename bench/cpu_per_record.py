"""3. CPU per record with the payments API at ~0 ms: the worker against a bare boto3 loop.

Figure: the CPU time (``time.process_time()``: user + system, every thread of the process) of a warm
invocation of the real handler, divided by its records. Baseline: :class:`bench.lambda_shim.BareWorker`
doing the same calls for the same records (a thread pool as large as ``MAX_CONCURRENCY``,
``create_payment_session`` per record, ``PutEvents`` in tens). Batches of 10 records at
``MAX_CONCURRENCY=10``, as the template deploys them, from the read-only package copy at the CPU share of
the template's MemorySize (a quota changes when the CPU is spent, not how much). moto and the payments fake
run in the services process, so only the caller's CPU is counted. The two children run side by side in
lockstep, one batch each in turn (:class:`bench.common.Lockstep`), so that load from elsewhere hits both alike; medians.
"""

from __future__ import annotations

import sys
import time
from typing import Any

TARGET = 1.10
BATCH = 10
CONCURRENCY = 10
SAMPLES_PER_REPEAT = 5  # a sample is one batch: cheap, and noisy alone


def _child(kind: str, size: int, concurrency: int) -> None:
    from bench.lambda_shim import bare_invoke, serve_samples, sqs_event, worker_invoke

    invoke = worker_invoke() if kind == "worker" else bare_invoke(concurrency)
    invoke(sqs_event(1))  # the cold invocation
    for _ in range(3):  # warm-up: connections for the whole pool, caches
        invoke(sqs_event(size))

    def sample() -> dict[str, float]:
        event = sqs_event(size)
        started = time.process_time()
        invoke(event)
        return {"us": (time.process_time() - started) * 1e6 / size}

    serve_samples(sample)


def run(stack: Any, repeats: int) -> list[Any]:
    """The worker (tracing off) against bare boto3; beside it, the worker on each tracing path, per batch."""
    from bench.common import Info, Lockstep, Result, lambda_environment
    from bench.cpu_share import CpuShare
    from bench.tracing_paths import PATHS, adot_site_packages, environment

    env = lambda_environment(stack, latency_ms=0, max_concurrency=str(CONCURRENCY))
    paths = [path for path in PATHS if path != "none" and (not path.startswith("adot") or adot_site_packages())]
    kinds = {"worker": ("worker", "none"), "bare": ("bare", "none")}
    kinds.update({f"worker {path}": ("worker", path) for path in paths})
    samples: dict[str, list[float]] = {name: [] for name in kinds}
    with CpuShare(stack.deployment.memory_mb) as share, Lockstep(share) as children:
        for name, (kind, path) in kinds.items():
            children.start(name, "bench.cpu_per_record", [kind, str(BATCH), str(CONCURRENCY)], environment(path, env))
        order = list(kinds)
        for index in range(SAMPLES_PER_REPEAT * repeats):
            for name in order if index % 2 == 0 else reversed(order):
                samples[name].append(children.sample(name)["us"])
    result = Result.from_samples(
        f"CPU per record, batches of {BATCH}, API at ~0 ms, tracing off",
        worker=samples["worker"],
        baseline=samples["bare"],
        unit="µs",
        target=TARGET,
    )
    return [
        result,
        *(
            Info.median_of(f"  tracing {path}: CPU per record", samples[f"worker {path}"], "µs", result.figure)
            for path in paths
        ),
    ]


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        _child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
