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

The recommendation uses only ratios between the sizes of one run, so the same measurements on a machine
twice as fast give the same answer: the cheapest size per request whose warm 10-record batch is within
1.5x of the fastest size's (the API's 100 ms is most of a batch at every size; past 1.5x the worker's own CPU
dominates) and whose cold start is within 4.5x of the fastest size's (a cold start is CPU-bound and stretches
with the share, 6.9x at 256 MB against a full vCPU, 3.5x at 512 MB: it delays every record of a batch that
scales the function out). Each size is judged on its best sample, and its cold start on its CPU time over its share
(one core at most): on this shared 2-core machine the wall clock of the larger shares measures the other load
too, while a quota-bound process's CPU time does not. The run records its rows
and choice in ``bench/recorded/memory_size.json`` (committed), and a test holds ``template.yaml``'s
MemorySize to that choice.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any, Final

SIZES = (256, 512, 1024, 1769, 3008)
# AWS Lambda prices, US East (N. Virginia), arm64, first tier (the first 7.5 billion GB-seconds a month), from
# the AWS Lambda pricing page, https://aws.amazon.com/lambda/pricing/, as listed there since arm64's launch in
# 2021-09 and as quoted through 2024 and 2025. Not re-read on the day of this change (this machine reaches no
# web page): check them before a decision that turns on cents.
PRICES_AS_OF = "2025 (aws.amazon.com/lambda/pricing, us-east-1, arm64, first tier)"
PRICE_PER_GB_SECOND = 0.0000133334  # USD
PRICE_PER_REQUEST = 0.20 / 1_000_000  # USD
BATCH_FACTOR = 1.5  # a size's 10-record batch against the fastest size's
COLD_FACTOR = 4.5  # a size's cold start against the fastest size's
RECORDED = Path(__file__).resolve().parent / "recorded" / "memory_size.json"
BATCHES = {"10": (10, 10), "100": (100, 50)}  # records, MAX_CONCURRENCY


def duration_cost(memory_mb: int, duration_ms: float) -> float:
    """USD for ``duration_ms`` (billed per started ms) at ``memory_mb``."""
    return PRICE_PER_GB_SECOND * memory_mb / 1024 * math.ceil(duration_ms) / 1000


def cost_per_million(memory_mb: int, duration_ms: float) -> float:
    """USD for a million invocations of ``duration_ms`` each at ``memory_mb``, request fee included."""
    return 1_000_000 * (PRICE_PER_REQUEST + duration_cost(memory_mb, duration_ms))


def best(row: dict[str, Any], key: str) -> float:
    """A size's best sample of ``key`` (its median when no samples were kept): noise from elsewhere only adds."""
    samples = row.get("samples", {}).get(key)
    return float(min(samples)) if samples else float(row[key])


def cold_at_share(row: dict[str, Any]) -> float:
    """A size's cold start as its quota allows it: its best CPU time over its share of a core (one core at most,
    the cold start being one thread), when the row has CPU times; else its best wall time."""
    if "cold_cpu_ms" not in row:
        return best(row, "cold_ms")
    from bench.cpu_share import vcpus

    return best(row, "cold_cpu_ms") / min(1.0, vcpus(row["memory_mb"]))


def recommend(rows: list[dict[str, Any]]) -> tuple[int, str]:
    """The recommended MemorySize among measured ``rows``, and why: ratios between the rows only (module doc)."""
    fastest_batch = min(best(r, "batch_10_ms") for r in rows)
    fastest_cold = min(cold_at_share(r) for r in rows)

    def ratios(r: dict[str, Any]) -> tuple[float, float]:
        return best(r, "batch_10_ms") / fastest_batch, cold_at_share(r) / fastest_cold

    fit = [r for r in rows if ratios(r)[0] <= BATCH_FACTOR and ratios(r)[1] <= COLD_FACTOR]
    chosen = min(fit, key=lambda r: (r["cost"], r["memory_mb"]))
    out = [f"{r['memory_mb']} MB ({ratios(r)[0]:.2f}x batch, {ratios(r)[1]:.1f}x cold)" for r in rows if r not in fit]
    batch, cold = ratios(chosen)
    return chosen["memory_mb"], (
        f"the cheapest per request with a 10-record batch within {BATCH_FACTOR}x and a cold start within "
        f"{COLD_FACTOR:g}x of the fastest size's (best samples): {batch:.2f}x and {cold:.1f}x, "
        f"${chosen['cost']:.2f} per million requests" + (f"; out: {', '.join(out)}" if out else "")
    )


def record(rows: list[dict[str, Any]], size: int, path: Path = RECORDED) -> None:
    """Write the run's rows and choice where the template's test reads them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "rule": {"batch_factor": BATCH_FACTOR, "cold_factor": COLD_FACTOR},
        "rows": rows,
        "choice_mb": size,
    }
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def recorded(path: Path = RECORDED) -> dict[str, Any]:
    """The last recorded run (``record``)."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def run(stack: Any, repeats: int) -> list[Any]:
    """Every size of ``SIZES`` measured at its CPU share, the table, and the rule's choice (recorded)."""
    from bench.common import Section

    rows, shares = _measure(stack, repeats)
    size, why = recommend(rows)
    record(rows, size)
    lines = [
        _table(rows),
        "",
        "CPU shares: " + "; ".join(shares),
        f"prices: ${PRICE_PER_GB_SECOND} per GB-s, ${PRICE_PER_REQUEST * 1_000_000:.2f} per 1M requests, "
        f"as of {PRICES_AS_OF}; a request is one 10-record batch at the API's 100 ms",
        f"recommended MemorySize: {size} MB ({why})",
    ]
    return [Section(title="MemorySize: the worker at Lambda's CPU shares", lines=lines, data={"rows": rows})]


def _measure(stack: Any, repeats: int) -> tuple[list[dict[str, Any]], list[str]]:
    """One row a size (medians and every sample), and each size's CPU share as emulated."""
    from bench.batch_latency import batch_samples
    from bench.cold_start import sample_kinds
    from bench.cpu_share import CpuShare

    deployment = stack.deployment
    cold_kinds = {
        "worker": ("worker", deployment.with_bytecode, "none"),
        "bare": ("bare", deployment.with_bytecode, "none"),
    }
    batch_kinds = {name: ("worker", records, concurrency) for name, (records, concurrency) in BATCHES.items()}
    rows: list[dict[str, Any]] = []
    shares: list[str] = []
    for memory_mb in SIZES:
        with CpuShare(memory_mb) as share:
            cold = sample_kinds(stack, share, cold_kinds, max(5, repeats // 2))
            batches = batch_samples(stack, share, batch_kinds, repeats)
            shares.append(f"{memory_mb} MB = {share.describe()}")
        rows.append(_row(memory_mb, cold, batches))
    return rows, shares


def _row(memory_mb: int, cold: dict[str, Any], batches: dict[str, list[float]]) -> dict[str, Any]:
    """One size's figures: the medians, their samples, and what a million requests and a cold start cost."""
    from bench.common import median

    samples: dict[str, list[float]] = {
        "cold_ms": [s["total_ms"] for s in cold["worker"]],
        "cold_cpu_ms": [s["cpu_ms"] for s in cold["worker"]],
        "bare_cold_ms": [s["total_ms"] for s in cold["bare"]],
        "batch_10_ms": batches["10"],
        "batch_100_ms": batches["100"],
    }
    row: dict[str, Any] = {
        "memory_mb": memory_mb,
        "cold_ms": median(samples["cold_ms"]),
        "bare_cold_ms": median(samples["bare_cold_ms"]),
        "batch_10_ms": median(samples["batch_10_ms"]),
        "batch_100_ms": median(samples["batch_100_ms"]),
        "cold_cpu_ms": median(samples["cold_cpu_ms"]),
        "samples": samples,
    }
    row["cost"] = cost_per_million(memory_mb, row["batch_10_ms"])
    row["cold_cost"] = duration_cost(memory_mb, row["cold_ms"])
    return row


_HEADER: Final = [
    "MemorySize",
    "vCPU",
    "cold start (min-max)",
    "bare boto3",
    "ratio",
    "10 records (min-max)",
    "100 records, 50 at once",
    "$ per 1M requests",
    "$ per cold start",
]


def _spread(row: dict[str, Any], key: str) -> str:
    values = row["samples"][key]
    return f"{row[key]:.0f} ms ({min(values):.0f}-{max(values):.0f})"


def _table(rows: list[dict[str, Any]]) -> str:
    from bench.common import text_table
    from bench.cpu_share import vcpus

    return text_table(
        _HEADER,
        [
            [
                f"{r['memory_mb']} MB",
                f"{vcpus(r['memory_mb']):.2f}",
                _spread(r, "cold_ms"),
                f"{r['bare_cold_ms']:.0f} ms",
                f"{r['cold_ms'] / r['bare_cold_ms']:.2f}x",
                _spread(r, "batch_10_ms"),
                f"{r['batch_100_ms']:.0f} ms",
                f"{r['cost']:.2f}",
                f"{r['cold_cost']:.7f}",
            ]
            for r in rows
        ],
    )


if __name__ == "__main__":
    raise SystemExit("run it through python -m bench --only memory_size")
