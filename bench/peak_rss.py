"""4. Peak RSS of a 100-record batch: the worker's, absolute, with the bare boto3 baseline's beside it.

Each sample is a fresh process that makes the cold invocation (1 record) and then one 100-record batch at
``MAX_CONCURRENCY=50`` (the largest configuration benchmarked), and reports its ``VmHWM`` (``/proc/self/status``):
the peak resident set of the whole process, interpreter included, which is what Lambda's ``Max Memory Used``
reports. Not ``ru_maxrss``: that one starts from the spawning process's peak (the kernel carries it over at
exec, and a vfork child execs with its parent's memory), so a child of a large bench process would report
the bench's size. From the read-only package copy, at the template's CPU share. Medians over the samples.
"""

from __future__ import annotations

import sys
from typing import Any

TARGET_MIB = 100.0
BATCH = 100
CONCURRENCY = 50


def _peak_rss_kib() -> int:
    """This process's own peak resident set (``VmHWM``), in KiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        (line,) = [line for line in status if line.startswith("VmHWM:")]
    return int(line.split()[1])


def _child(kind: str, size: int, concurrency: int) -> None:
    from bench.lambda_shim import bare_invoke, emit, sqs_event, worker_invoke

    invoke = worker_invoke() if kind == "worker" else bare_invoke(concurrency)
    invoke(sqs_event(1))
    invoke(sqs_event(size))
    emit({"mib": _peak_rss_kib() / 1024})


def run(stack: Any, repeats: int) -> list[Any]:
    from bench.common import Result, lambda_environment, run_child
    from bench.cpu_share import CpuShare

    env = lambda_environment(stack, latency_ms=0, max_concurrency=str(CONCURRENCY))
    samples: dict[str, list[float]] = {"worker": [], "bare": []}
    with CpuShare(stack.deployment.memory_mb) as share:
        for _ in range(max(3, repeats // 2)):
            for kind in samples:
                args = ["child", kind, str(BATCH), str(CONCURRENCY)]
                samples[kind].append(run_child("bench.peak_rss", args, env, share=share)["mib"])
    return [
        Result.from_samples(
            f"peak RSS, {BATCH}-record batch, MAX_CONCURRENCY={CONCURRENCY}",
            worker=samples["worker"],
            baseline=samples["bare"],
            unit="MiB",
            target=TARGET_MIB,
            absolute=True,
        )
    ]


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        _child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
