"""1. Cold start as deployed: from process spawn to the first 1-record batch answered, at the template's CPU share.

Each sample is a fresh interpreter (``python -S -m bench.cold_start child worker|bare``) started by the parent
in the read-only package copy (:mod:`bench.deployed`), in a cgroup of its own at the CPU share of the
template's MemorySize (:mod:`bench.cpu_share`). The parent hands it the monotonic clock reading taken just
before the spawn (``CLOCK_MONOTONIC`` is system-wide on Linux); the child reports when the batch was answered,
so its exit is not counted. Both children first build the Lambda context (the runtime's part). The worker
child then imports the handler module (Lambda's init phase: imports, Powertools objects) and invokes it once
(settings, clients, one ``CreatePaymentSession``, one ``PutEvents``); the bare child imports boto3, makes
the two clients from one session and the same two calls. Three kinds: the worker from the copy with its
bytecode (the figure), the worker from the copy without bytecode (what shipping bytecode saves), and bare
boto3 from the copy with bytecode (the runtime's boto3 is precompiled). Samples rotate through the kinds,
after one discarded warm-up of each (page cache), and the medians are compared.

This module's top level imports only what both children need, so neither pays for the parent's code.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

TARGET = 1.35


def _child(kind: str) -> None:
    started = time.monotonic()
    spawned = float(os.environ["BENCH_SPAWNED_AT"])
    from bench.lambda_shim import context, emit, sqs_event

    event, lambda_context = sqs_event(1), context()
    ready = time.monotonic()
    if kind == "worker":
        from bench.lambda_shim import check_answer
        from handlers.create_payment_session import lambda_handler

        imported = time.monotonic()
        answer = lambda_handler(event, lambda_context)
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
        "runtime_ms": (ready - started) * 1000,
        "import_ms": (imported - ready) * 1000,
        "first_batch_ms": (done - imported) * 1000,
        "modules": len(sys.modules),
    }
    emit(result)


def sample_kinds(stack: Any, share: Any, kinds: dict[str, tuple[str, Any]], repeats: int) -> dict[str, list[Any]]:
    """``repeats`` cold starts of each kind (label: (child kind, package)), rotating, after a discarded warm-up.

    Shared with ``bench.memory_size``, which runs the same children at other shares.
    """
    from bench.common import lambda_environment, run_child

    envs = {
        label: lambda_environment(stack, latency_ms=0, package=package, memory_mb=share.memory_mb)
        for label, (_, package) in kinds.items()
    }
    samples: dict[str, list[Any]] = {label: [] for label in kinds}
    labels = list(kinds)
    for label in labels:  # warm-up, discarded
        run_child("bench.cold_start", ["child", kinds[label][0]], envs[label], share=share)
    for index in range(repeats):
        rotated = labels[index % len(labels) :] + labels[: index % len(labels)]
        for label in rotated:
            samples[label].append(run_child("bench.cold_start", ["child", kinds[label][0]], envs[label], share=share))
    return samples


def run(stack: Any, repeats: int) -> list[Any]:
    """Parent side: the three kinds at the template's share, medians, results with a breakdown."""
    from bench.common import Info, Result, median
    from bench.cpu_share import CpuShare

    deployment = stack.deployment
    kinds = {
        "worker": ("worker", deployment.with_bytecode),
        "no bytecode": ("worker", deployment.without_bytecode),
        "bare": ("bare", deployment.with_bytecode),
    }
    with CpuShare(deployment.memory_mb) as share:
        samples = sample_kinds(stack, share, kinds, repeats)
        where = share.describe()

    def column(label: str, key: str) -> list[float]:
        return [s[key] for s in samples[label]]

    def med(label: str, key: str) -> float:
        return median(column(label, key))

    cpu_bare = med("bare", "cpu_ms")
    result = Result.from_samples(
        f"cold start as deployed, {deployment.memory_mb} MB, 1-record batch",
        worker=column("worker", "total_ms"),
        baseline=column("bare", "total_ms"),
        unit="ms",
        target=TARGET,
        notes=[f"cold start: CPU share {where}; package copies: {deployment.read_only}"],
    )
    return [
        result,
        Info("  worker: init (import of the handler module)", med("worker", "import_ms"), "ms"),
        Info("  worker: first invocation (settings, clients, calls)", med("worker", "first_batch_ms"), "ms"),
        Info("  bare: import boto3, clients, calls", med("bare", "first_batch_ms"), "ms"),
        Info(
            "  interpreter start and Lambda context (bare; the same code in both)",
            med("bare", "interpreter_ms") + med("bare", "runtime_ms"),
            "ms",
        ),
        Info("  CPU time (user + sys), worker", med("worker", "cpu_ms"), "ms", cpu_bare),
        Info("  CPU time (user + sys), bare", cpu_bare, "ms"),
        Info("  modules loaded, worker", med("worker", "modules"), "", med("bare", "modules")),
        Info("  worker without bytecode in the package", med("no bytecode", "total_ms"), "ms", result.baseline),
        Info("    its init (import of the handler module)", med("no bytecode", "import_ms"), "ms"),
        Info("    its CPU time (user + sys)", med("no bytecode", "cpu_ms"), "ms", cpu_bare),
    ]


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        _child(sys.argv[2])
