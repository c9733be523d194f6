"""``python -m bench`` (``make bench``): every benchmark against its baseline, one table, exit 1 on a miss.

The worker runs as deployed: the package ``scripts/build.sh --native`` builds (for this machine's Python),
from read-only copies, at the CPU share of template.yaml's MemorySize (:mod:`bench.deployed`,
:mod:`bench.cpu_share`). Options: ``--only NAME`` (repeatable; cold_start, batch_latency, cpu_per_record,
peak_rss, memory_size), ``--repeats N`` (samples per figure, at least 7), ``--json PATH`` (default
``bench/results/last.json``). ``BENCH_SRC=/path/to/src`` measures another checkout's ``src/``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import Info, Result, Section, fmt, provision, text_table
from bench.deployed import ROOT, Deployment
from bench.services import Services

BENCHMARKS = ("cold_start", "batch_latency", "cpu_per_record", "peak_rss", "memory_size")


def _row(item: Result | Info) -> list[str]:
    if isinstance(item, Info):
        ratio = f"{item.figure / item.relative_to:.2f}x" if item.relative_to else ""
        return [item.name, fmt(item.figure, item.unit), item.spread_text(), "", ratio, "", ""]
    result_ratio = item.ratio
    return [
        item.name,
        fmt(item.figure, item.unit),
        item.spread_text(),
        f"{fmt(item.baseline, item.unit)} ({item.baseline_name})",
        f"{result_ratio:.2f}x" if result_ratio is not None else "-",
        item.target_text(),
        "PASS" if item.passed else "FAIL",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", action="append", choices=BENCHMARKS, help="run only this benchmark")
    parser.add_argument("--repeats", type=int, default=9, help="samples per figure (at least 7)")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "last.json")
    args = parser.parse_args(argv)
    selected = args.only or list(BENCHMARKS)
    repeats = max(7, args.repeats)

    started = time.monotonic()
    load_before = os.getloadavg()
    items: list[Result | Info | Section] = []
    with Deployment() as deployment, Services() as endpoints:
        print(
            f"[package built for CPython {platform.python_version()}: {time.monotonic() - started:.0f} s]",
            file=sys.stderr,
        )
        stack = provision(endpoints, deployment)
        for name in selected:
            module = importlib.import_module(f"bench.{name}")
            began = time.monotonic()
            produced = module.run(stack, repeats)
            items.extend(produced)
            print(f"[{name}: {time.monotonic() - began:.0f} s]", file=sys.stderr, flush=True)
    elapsed = time.monotonic() - started
    load_after = os.getloadavg()

    rows = [item for item in items if not isinstance(item, Section)]
    if rows:
        header = ["benchmark", "median", "min-max", "baseline (median)", "ratio", "target", ""]
        print(text_table(header, [_row(item) for item in rows]))
    results = [item for item in rows if isinstance(item, Result)]
    for note in (note for result in results for note in result.notes):
        print(f"  {note}")
    failed = [result.name for result in results if not result.passed]
    print(
        f"\n{len(results) - len(failed)}/{len(results)} targets met in {elapsed:.0f} s; "
        f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after; "
        f"{platform.python_implementation()} {platform.python_version()} on {os.cpu_count()} CPUs"
    )
    if failed:
        print("missed: " + "; ".join(failed), flush=True)
    for section in (item for item in items if isinstance(item, Section)):
        print(f"\n{section.title}\n" + "\n".join(section.lines))
    report: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seconds": elapsed,
        "load_average": {"before": load_before, "after": load_after},
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "repeats": repeats,
        "memory_mb": deployment.memory_mb,
        "package": deployment.read_only,
        "items": [item.as_dict() for item in items],
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
