"""1. Cold start as deployed: from process spawn to the first 1-record batch answered, at a full core (the
target) and at the template's CPU share.

Each sample is a fresh interpreter (``python -S -m bench.cold_start child worker|bare``) started by the parent
in the read-only package copy (:mod:`bench.deployed`), in a cgroup of its own at a CPU share
(:mod:`bench.cpu_share`). The parent hands it the monotonic clock reading taken just before the spawn
(``CLOCK_MONOTONIC`` is system-wide on Linux); the child reports when the batch was answered, so its exit is
not counted. Both children first build the Lambda context (the runtime's part). The worker child then starts
its tracing path (:mod:`bench.tracing_paths`: nothing when tracing is off), imports the handler module
(Lambda's init phase) and invokes it once (settings, clients, one ``CreatePaymentSession``, one
``PutEvents``); the bare child imports boto3, makes the two clients from one session and the same two calls.
At a full core: the worker with tracing off against bare boto3 (the figure and its target), and the worker
on each tracing path. At the template's share: the worker, the worker without bytecode (what shipping
bytecode saves) and bare boto3. Samples rotate through the kinds after one discarded warm-up of each (page
cache); every sample is kept, the medians are compared, and the i-th samples of two kinds make a pair.

This module's top level imports only what both children need, so neither pays for the parent's code.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.common import Info, Result

TARGET = 1.15  # the worker against bare boto3, at a full core, tracing off
TEMPLATE_TARGET = 1.35  # the same at the template's share: reported beside it, held to issue 13's bound
FULL_CORE_MB = 1769  # one vCPU (bench.cpu_share.MB_PER_VCPU)


def _child(kind: str) -> None:
    started = time.monotonic()
    spawned = float(os.environ["BENCH_SPAWNED_AT"])
    from bench.lambda_shim import context, emit, sqs_event

    event, lambda_context = sqs_event(1), context()
    ready = time.monotonic()
    if kind == "worker":
        from bench.lambda_shim import check_answer
        from bench.tracing_paths import after_invocation, start_in_child

        start_in_child()  # a tracing layer's start, when one is measured (bench.tracing_paths)
        from handlers.create_payment_session import lambda_handler

        imported = time.monotonic()
        answer = lambda_handler(event, lambda_context)
        after_invocation()
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


def sample_kinds(stack: Any, share: Any, kinds: dict[str, tuple[str, Any, str]], repeats: int) -> dict[str, list[Any]]:
    """``repeats`` cold starts of each kind (label: (child kind, package, tracing path)), rotating, after a
    discarded warm-up of each. Shared with ``bench.memory_size``, which runs the same children at other shares.
    """
    from bench.common import lambda_environment, run_child
    from bench.tracing_paths import environment

    envs = {
        label: environment(tracing, lambda_environment(stack, latency_ms=0, package=package, memory_mb=share.memory_mb))
        for label, (_, package, tracing) in kinds.items()
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


def _layer_available() -> bool:
    from bench.tracing_paths import adot_site_packages

    return adot_site_packages() is not None


def _tracing_paths() -> dict[str, str]:
    """The tracing paths measured at a full core, each with its row's title: the layer's only where it is."""
    paths = {"xray": "tracing: the SDK in the package, spans to the X-Ray daemon (xray)"}
    if _layer_available():
        paths["adot"] = "tracing: AWS's managed OpenTelemetry layer (emulated)"
        paths["adot-lite"] = "tracing: the same layer in its fast-start mode"
    return paths


def _sample_at(
    stack: Any, memory_mb: int, kinds: dict[str, tuple[str, Any, str]], repeats: int
) -> tuple[dict[str, list[Any]], str]:
    """:func:`sample_kinds` at the CPU share of ``memory_mb``, and that share in words."""
    from bench.cpu_share import CpuShare

    with CpuShare(memory_mb) as share:
        return sample_kinds(stack, share, kinds, repeats), share.describe()


def _column(samples: dict[str, list[Any]], label: str, key: str = "total_ms") -> list[float]:
    return [s[key] for s in samples[label]]


def _worker_against_bare(name: str, samples: dict[str, list[Any]], target: float, **rest: Any) -> Result:
    """The worker's cold start against bare boto3's, sampled at one share: a figure with its target."""
    from bench.common import Result

    return Result.from_samples(
        name, worker=_column(samples, "worker"), baseline=_column(samples, "bare"), unit="ms", target=target, **rest
    )


def _full_core_rows(at_full: Result, full: dict[str, list[Any]], paths: dict[str, str]) -> list[Result | Info]:
    """The figure at a full core, its breakdown, CPU times and modules, then each tracing path against it."""
    from bench.common import Info

    bare_cpu = Info.median_of("  CPU time (user + sys), bare", _column(full, "bare", "cpu_ms"), "ms")
    worker_cpu = Info.median_of(
        "  CPU time (user + sys), worker", _column(full, "worker", "cpu_ms"), "ms", bare_cpu.figure
    )
    rows: list[Result | Info] = [
        at_full,
        Info.median_of("  worker: init (import of the handler module)", _column(full, "worker", "import_ms"), "ms"),
        Info.median_of(
            "  worker: first invocation (settings, clients, calls)", _column(full, "worker", "first_batch_ms"), "ms"
        ),
        Info.median_of("  bare: import boto3, clients, calls", _column(full, "bare", "first_batch_ms"), "ms"),
        worker_cpu,
        bare_cpu,
        Info.median_of(
            "  modules loaded, worker",
            _column(full, "worker", "modules"),
            "",
            Info.median_of("", _column(full, "bare", "modules"), "").figure,
        ),
    ]
    for path, title in paths.items():
        rows.append(Info.median_of(f"  {title}", _column(full, f"worker {path}"), "ms", at_full.figure))
        rows.append(
            Info.median_of(
                "    its CPU time (user + sys)", _column(full, f"worker {path}", "cpu_ms"), "ms", worker_cpu.figure
            )
        )
    return rows


def _template_rows(at_template: Result, template: dict[str, list[Any]]) -> list[Result | Info]:
    """The figure at the template's share, then the worker without bytecode against it."""
    from bench.common import Info

    return [
        at_template,
        Info.median_of(
            "  worker without bytecode in the package", _column(template, "no bytecode"), "ms", at_template.baseline
        ),
        Info.median_of(
            "    its init (import of the handler module)", _column(template, "no bytecode", "import_ms"), "ms"
        ),
    ]


def run(stack: Any, repeats: int) -> list[Any]:
    """Parent side: at a full core the worker, bare boto3 and each tracing path; at the template's share the
    worker, bare boto3 and the worker without bytecode. Medians with every sample kept."""
    deployment = stack.deployment
    package = deployment.with_bytecode
    paths = _tracing_paths()
    full_kinds = {"worker": ("worker", package, "none"), "bare": ("bare", package, "none")}
    full_kinds.update({f"worker {path}": ("worker", package, path) for path in paths})
    full, full_where = _sample_at(stack, FULL_CORE_MB, full_kinds, repeats)
    template_kinds = {
        "worker": ("worker", package, "none"),
        "no bytecode": ("worker", deployment.without_bytecode, "none"),
        "bare": ("bare", package, "none"),
    }
    template, template_where = _sample_at(stack, deployment.memory_mb, template_kinds, repeats)
    at_full = _worker_against_bare(
        f"cold start at a full core ({FULL_CORE_MB} MB), 1-record batch, tracing off",
        full,
        TARGET,
        notes=[f"cold start: CPU share {full_where} and {template_where}; package copies: {deployment.read_only}"],
    )
    at_template = _worker_against_bare(
        f"cold start at the template's {deployment.memory_mb} MB, 1-record batch, tracing off",
        template,
        TEMPLATE_TARGET,
    )
    return _full_core_rows(at_full, full, paths) + _template_rows(at_template, template)


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        _child(sys.argv[2])
