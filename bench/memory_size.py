"""5. MemorySize: the worker at the CPU shares of 256 to 3,008 MB, the cost per million requests, a recommendation.

At each MemorySize, with the quota of :mod:`bench.cpu_share` (3,008 MB is 1.70 vCPU: a quota of 170 % of a
period, so a process may use both cores of this machine and gets 1.70 of one in all):

- the cold start as deployed (``bench.cold_start``'s children: the worker and bare boto3, from the read-only
  package copy with its bytecode);
- a warm 10-record batch at the template's ``MAX_CONCURRENCY`` (10), and a warm 100-record batch at
  ``MAX_CONCURRENCY=50``, with the payments API at 100 ms (``bench.batch_latency``'s children);
- the cost of a million requests, each a 10-record batch of that duration (the template's default
  BatchSize), at arm64's prices below; Lambda bills the INIT phase at the same rate since 2025-08-01, once per
  execution environment, so a cold start's cost is shown beside it.

The recommendation: among the sizes that keep a cold start under a quarter of Lambda's 10 s INIT limit (a
margin of 4 for what this machine does not show: a Graviton core slower than this one, what the worker's
imports will grow by, a busy host) and a 100-record batch under half the template's 30 s Timeout, start at
the smallest and take the next size up as long as it shortens the 10-record batch by a larger fraction than
it raises the cost per request. Below that point more memory buys speed at a discount; past it, speed costs
more than it saves.
"""

from __future__ import annotations

import math
from typing import Any

SIZES = (256, 512, 1024, 1769, 3008)
# AWS Lambda prices, US East (N. Virginia), arm64, first tier (the first 7.5 billion GB-seconds a month), from
# the AWS Lambda pricing page, https://aws.amazon.com/lambda/pricing/, as listed there since arm64's launch in
# 2021-09 and as quoted through 2024 and 2025. Not re-read on the day of this change (this machine reaches no
# web page): check them before a decision that turns on cents.
PRICES_AS_OF = "2025 (aws.amazon.com/lambda/pricing, us-east-1, arm64, first tier)"
PRICE_PER_GB_SECOND = 0.0000133334  # USD
PRICE_PER_REQUEST = 0.20 / 1_000_000  # USD
INIT_LIMIT_MS = 10_000  # Lambda's INIT phase limit for on-demand functions
COLD_START_BOUND_MS = INIT_LIMIT_MS / 4
TIMEOUT_MS = 30_000  # template.yaml's Timeout
BATCH_BOUND_MS = TIMEOUT_MS / 2
BATCHES = {"10": (10, 10), "100": (100, 50)}  # records, MAX_CONCURRENCY


def duration_cost(memory_mb: int, duration_ms: float) -> float:
    """USD for ``duration_ms`` (billed per started ms) at ``memory_mb``."""
    return PRICE_PER_GB_SECOND * memory_mb / 1024 * math.ceil(duration_ms) / 1000


def cost_per_million(memory_mb: int, duration_ms: float) -> float:
    """USD for a million invocations of ``duration_ms`` each at ``memory_mb``, request fee included."""
    return 1_000_000 * (PRICE_PER_REQUEST + duration_cost(memory_mb, duration_ms))


def recommend(rows: list[dict[str, Any]]) -> tuple[int, str]:
    """The recommended MemorySize among measured ``rows`` (ascending sizes), and why (see the module's doc)."""
    fit = [r for r in rows if r["cold_ms"] <= COLD_START_BOUND_MS and r["batch_100_ms"] <= BATCH_BOUND_MS]
    if not fit:
        return rows[-1]["memory_mb"], "no size keeps the cold start and the 100-record batch within their bounds"
    chosen = fit[0]
    smaller = [r for r in rows if r["memory_mb"] < chosen["memory_mb"]]
    why = (
        f"{smaller[-1]['memory_mb']} MB starts cold in {smaller[-1]['cold_ms'] / 1000:.2f} s, over "
        f"{COLD_START_BOUND_MS / 1000:.1f} s"
        if smaller
        else "the smallest size measured"
    )
    for larger in fit[1:]:
        faster = 1 - larger["batch_10_ms"] / chosen["batch_10_ms"]
        dearer = larger["cost"] / chosen["cost"] - 1
        if faster <= dearer:
            gain = f"cut the 10-record batch by {faster:.0%}" if faster > 0 else "not shorten the 10-record batch"
            why += f"; {larger['memory_mb']} MB would {gain} for {dearer:.0%} more cost per request"
            break
        chosen = larger
        why = "each step up to here cut the 10-record batch by more than it raised the cost"
    return chosen["memory_mb"], (
        f"{why}; cold start {chosen['cold_ms'] / 1000:.2f} s, 10-record batch {chosen['batch_10_ms']:.0f} ms, "
        f"${chosen['cost']:.2f} per million requests"
    )


def run(stack: Any, repeats: int) -> list[Any]:
    from bench.batch_latency import batch_samples
    from bench.cold_start import sample_kinds
    from bench.common import Section, median, text_table
    from bench.cpu_share import CpuShare, vcpus

    deployment = stack.deployment
    cold_kinds = {"worker": ("worker", deployment.with_bytecode), "bare": ("bare", deployment.with_bytecode)}
    batch_kinds = {name: ("worker", records, concurrency) for name, (records, concurrency) in BATCHES.items()}
    rows: list[dict[str, Any]] = []
    shares: list[str] = []
    for memory_mb in SIZES:
        with CpuShare(memory_mb) as share:
            cold = sample_kinds(stack, share, cold_kinds, max(5, repeats // 2))
            batches = batch_samples(stack, share, batch_kinds, repeats)
            shares.append(f"{memory_mb} MB = {share.describe()}")
        row: dict[str, Any] = {
            "memory_mb": memory_mb,
            "cold_ms": median([s["total_ms"] for s in cold["worker"]]),
            "bare_cold_ms": median([s["total_ms"] for s in cold["bare"]]),
            "batch_10_ms": median(batches["10"]),
            "batch_100_ms": median(batches["100"]),
        }
        row["cost"] = cost_per_million(memory_mb, row["batch_10_ms"])
        row["cold_cost"] = duration_cost(memory_mb, row["cold_ms"])
        rows.append(row)

    header = [
        "MemorySize",
        "vCPU",
        "cold start",
        "bare boto3",
        "ratio",
        "10 records",
        "100 records, 50 at once",
        "$ per 1M requests",
        "$ per cold start",
    ]
    table = [
        [
            f"{r['memory_mb']} MB",
            f"{vcpus(r['memory_mb']):.2f}",
            f"{r['cold_ms']:.0f} ms",
            f"{r['bare_cold_ms']:.0f} ms",
            f"{r['cold_ms'] / r['bare_cold_ms']:.2f}x",
            f"{r['batch_10_ms']:.0f} ms",
            f"{r['batch_100_ms']:.0f} ms",
            f"{r['cost']:.2f}",
            f"{r['cold_cost']:.7f}",
        ]
        for r in rows
    ]
    size, why = recommend(rows)
    lines = [
        text_table(header, table),
        "",
        "CPU shares: " + "; ".join(shares),
        f"prices: ${PRICE_PER_GB_SECOND} per GB-s, ${PRICE_PER_REQUEST * 1_000_000:.2f} per 1M requests, "
        f"as of {PRICES_AS_OF}; a request is one 10-record batch at the API's 100 ms",
        f"recommended MemorySize: {size} MB ({why})",
    ]
    return [Section(title="MemorySize: the worker at Lambda's CPU shares", lines=lines, data={"rows": rows})]


if __name__ == "__main__":
    raise SystemExit("run it through python -m bench --only memory_size")
