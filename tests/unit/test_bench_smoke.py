"""The benchmarks (``make bench``) import cheaply and hold issue 13's targets; nothing here is timed."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from bench import batch_latency, cold_start, cpu_per_record, memory_size, peak_rss
from bench.__main__ import BENCHMARKS
from bench.common import Result
from bench.cpu_share import CpuShare
from bench.deployed import template_memory_size


def test_every_benchmark_module_imports_without_the_worker_or_the_sdk_and_has_a_run():
    # Given the benchmark modules, whose top level also runs in every cold-start child
    for name in BENCHMARKS:
        module = importlib.import_module(f"bench.{name}")

        # Then each has its parent-side entry point
        assert callable(module.run), name


def test_the_targets_are_the_issues():
    assert cold_start.TARGET == 1.15
    assert cold_start.TEMPLATE_TARGET == 1.35
    assert cold_start.FULL_CORE_MB == 1769
    assert batch_latency.TARGETS == {10: 1.05, 100: 1.10}
    assert batch_latency.CONCURRENCY == {10: 10, 100: 50}
    assert cpu_per_record.TARGET == 1.10
    assert peak_rss.TARGET_MIB == 100.0
    assert memory_size.SIZES == (256, 512, 1024, 1769, 3008)


def test_a_figure_passes_on_its_ratio_or_on_its_absolute_target():
    # Given figures just under, at and over their targets
    assert Result("r", figure=109.0, baseline=100.0, unit="ms", target=1.10).passed
    assert not Result("r", figure=111.0, baseline=100.0, unit="ms", target=1.10).passed
    assert Result("m", figure=100.0, baseline=300.0, unit="MiB", target=100.0, absolute=True).passed
    assert not Result("m", figure=100.5, baseline=10.0, unit="MiB", target=100.0, absolute=True).passed
    # And a missing baseline never passes a ratio target
    assert not Result("r", figure=1.0, baseline=None, unit="ms", target=1.10).passed


def test_the_templates_memory_size_is_one_the_memory_size_table_measures():
    assert template_memory_size() in memory_size.SIZES


def test_a_million_requests_cost_the_request_fee_plus_gb_seconds_billed_per_started_millisecond():
    # Given a 1024 MB function whose invocation takes 100 ms, then 100.2 ms
    # Then a million cost $0.20 of requests plus 1 GB x 0.1 s x $0.0000133334 each, and 100.2 ms bills as 101
    assert memory_size.cost_per_million(1024, 100) == pytest.approx(0.20 + 1.33334)
    assert memory_size.cost_per_million(1024, 100.2) == memory_size.cost_per_million(1024, 101)
    assert memory_size.cost_per_million(512, 100) == pytest.approx(0.20 + 1.33334 / 2)


def _row(memory_mb: int, cold_ms: float, batch_10_ms: float, batch_100_ms: float = 1000.0) -> dict[str, float]:
    return {
        "memory_mb": memory_mb,
        "cold_ms": cold_ms,
        "batch_10_ms": batch_10_ms,
        "batch_100_ms": batch_100_ms,
        "cost": memory_size.cost_per_million(memory_mb, batch_10_ms),
    }


# Measured on one run (PERFORMANCE.md before issue 27): cold start, 10-record batch.
MEASURED = [(256, 4024, 275), (512, 1801, 154), (1024, 897, 130), (1769, 431, 128), (3008, 604, 126)]


def test_the_recommendation_is_the_cheapest_size_within_the_factors_of_the_fastest():
    # Given one run's sizes: 256 MB's batch is 2.2x the fastest, its cold start 9.3x
    rows = [_row(size, cold, batch) for size, cold, batch in MEASURED]

    # When the benchmark recommends a size
    size, why = memory_size.recommend(rows)

    # Then it is the cheapest of those within both factors, and it says which sizes fell out and why
    assert size == 512
    assert "1.22x and 4.2x" in why
    assert "out: 256 MB (2.18x batch, 9.3x cold)" in why


def test_the_recommendation_is_the_same_on_a_machine_twice_as_fast():
    # Given the same run on a machine that does everything in half the time
    rows = [_row(size, cold, batch) for size, cold, batch in MEASURED]
    faster = [_row(size, cold / 2, batch / 2) for size, cold, batch in MEASURED]

    # Then the rule picks the same size (it uses no absolute time)
    assert memory_size.recommend(faster)[0] == memory_size.recommend(rows)[0]


def test_a_cold_start_far_above_the_fastest_rules_a_size_out_even_when_its_batch_is_fast():
    # Given a cheap size whose batch is fine but whose cold start is 6x the fastest
    rows = [_row(256, cold_ms=3000, batch_10_ms=140), _row(512, cold_ms=1000, batch_10_ms=135)]
    rows.append(_row(1769, cold_ms=500, batch_10_ms=130))

    # Then the next cheapest within both factors is chosen
    assert memory_size.recommend(rows)[0] == 512


def test_the_templates_memory_size_is_the_benchs_last_recorded_choice():
    # Given the rows and choice the last MemorySize run recorded (bench/recorded/memory_size.json)
    last = memory_size.recorded()

    # Then the rule gives that choice from those rows, and template.yaml deploys it
    assert memory_size.recommend(last["rows"])[0] == last["choice_mb"]
    assert template_memory_size() == last["choice_mb"]


def test_a_cpu_share_is_its_fraction_of_a_vcpu_and_says_when_it_cannot_be_emulated(tmp_path: Path):
    # Given a machine whose mounts list no cgroup hierarchy with the cpu controller
    mounts = tmp_path / "mounts"
    mounts.write_text("proc /proc proc rw 0 0\n", encoding="utf-8")

    # When a share of 512 MB and one of 3008 MB (more than one vCPU) are asked for
    with CpuShare(512, mounts=mounts) as share, CpuShare(3008, mounts=mounts) as large:
        # Then their quotas are 512/1769 and 3008/1769 of a 20 ms period, and the figures say "not emulated"
        assert (share.quota_us, large.quota_us) == (5789, 34008)
        assert not share.emulated
        assert "not emulated" in share.describe()
        assert share.command("worker", ["true"]) == ["true"]


def test_a_process_started_in_a_cpu_share_runs_in_a_cgroup_of_its_own_with_the_quota_removed_afterwards():
    # Given a CPU share of 512 MB on this machine
    with CpuShare(512) as share:
        if not share.emulated:
            pytest.skip(f"no cgroup here: {share.why_not}")
        root = share.root
        assert root is not None

        # When a process starts in its slot
        shown = subprocess.run(
            share.command("probe", [sys.executable, "-c", "print(open('/proc/self/cgroup').read())"]),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        knobs = {"cpu.cfs_quota_us", "cpu.max"}
        quota = {p.name: p.read_text().strip() for p in (root / "probe").iterdir() if p.name in knobs}

        # Then it ran in that slot's cgroup, whose quota is the share
        assert f"{root.name}/probe" in shown
        assert quota in ({"cpu.cfs_quota_us": "5789"}, {"cpu.max": "5789 20000"})

    # And the cgroups are gone once the block ends
    assert not root.exists()
