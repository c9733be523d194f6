"""1. Cold start: from process spawn to the first 1-record batch answered, worker vs a bare boto3 script.

Each sample is a fresh interpreter (``python -m bench.cold_start child worker|bare``) started by the parent,
which hands it the monotonic clock reading taken just before the spawn (``CLOCK_MONOTONIC`` is system-wide
on Linux). The child reports when the batch was answered, so the child's exit is not counted. The worker
child imports the handler module (Lambda's init phase: imports, Powertools objects) and invokes it once
(settings, clients, one ``CreatePaymentSession``, one ``PutEvents``). The bare child imports boto3, makes
the two clients from one session and the same two calls. Samples alternate worker/bare, after one
discarded warm-up of each (bytecode caches, page cache), and the medians are compared.

This module's top level imports only what both children need, so neither pays for the parent's code.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

TARGET = 1.10


def _child(kind: str) -> None:
    started = time.monotonic()
    spawned = float(os.environ["BENCH_SPAWNED_AT"])
    from bench.lambda_shim import emit, sqs_event

    event = sqs_event(1)
    if kind == "worker":
        from bench.lambda_shim import LambdaContext, check_answer
        from handlers.create_payment_session import lambda_handler

        imported = time.monotonic()
        answer = lambda_handler(event, LambdaContext())
        done = time.monotonic()
        check_answer(answer)
    else:
        from bench.lambda_shim import BareWorker

        imported = time.monotonic()
        BareWorker(concurrency=1).process(event)
        done = time.monotonic()
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    result = {
        "total_ms": (done - spawned) * 1000,
        "cpu_ms": (usage.ru_utime + usage.ru_stime) * 1000,
        "interpreter_ms": (started - spawned) * 1000,
        "import_ms": (imported - started) * 1000,
        "first_batch_ms": (done - imported) * 1000,
        "modules": len(sys.modules),
    }
    emit(result)


def run(stack: Any, repeats: int) -> list[Any]:
    """Parent side: interleaved samples of both children, medians, one result with a breakdown."""
    from bench.common import Info, Result, lambda_environment, median, run_child

    env = lambda_environment(stack, latency_ms=0)
    samples: dict[str, list[dict[str, float]]] = {"worker": [], "bare": []}
    for kind in samples:  # warm-up, discarded
        run_child("bench.cold_start", ["child", kind], env)
    for index in range(repeats):
        order = ("worker", "bare") if index % 2 == 0 else ("bare", "worker")
        for kind in order:
            samples[kind].append(run_child("bench.cold_start", ["child", kind], env))

    def med(kind: str, key: str) -> float:
        return median([s[key] for s in samples[kind]])

    result = Result(
        name="cold start, 1-record batch",
        figure=med("worker", "total_ms"),
        baseline=med("bare", "total_ms"),
        unit="ms",
        target=TARGET,
    )
    cpu_bare = med("bare", "cpu_ms")
    info = [
        Info("  worker: init (import of the handler module)", med("worker", "import_ms"), "ms"),
        Info("  worker: first invocation (settings, clients, calls)", med("worker", "first_batch_ms"), "ms"),
        Info("  bare: import boto3, clients, calls", med("bare", "first_batch_ms"), "ms"),
        Info("  interpreter start, both", median([s["interpreter_ms"] for k in samples for s in samples[k]]), "ms"),
        Info("  CPU time (user + sys), worker", med("worker", "cpu_ms"), "ms", cpu_bare),
        Info("  CPU time (user + sys), bare", cpu_bare, "ms"),
        Info("  modules loaded, worker", med("worker", "modules"), "", med("bare", "modules")),
    ]
    return [result, *info]


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        _child(sys.argv[2])
