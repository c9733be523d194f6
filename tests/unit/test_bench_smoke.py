"""The benchmarks (``make bench``) import cheaply and hold issue 6's targets; nothing here is timed."""

from __future__ import annotations

import importlib

from bench import batch_latency, cold_start, cpu_per_record, peak_rss
from bench.__main__ import BENCHMARKS
from bench.common import Result


def test_every_benchmark_module_imports_without_the_worker_or_the_sdk_and_has_a_run():
    # Given the benchmark modules, whose top level also runs in every cold-start child
    for name in BENCHMARKS:
        module = importlib.import_module(f"bench.{name}")

        # Then each has its parent-side entry point
        assert callable(module.run), name


def test_the_targets_are_the_issues():
    assert cold_start.TARGET == 1.10
    assert batch_latency.TARGETS == {10: 1.3, 100: 3.0}
    assert batch_latency.CONCURRENCY == {10: 10, 100: 50}
    assert cpu_per_record.TARGET == 1.25
    assert peak_rss.TARGET_MIB == 100.0


def test_a_figure_passes_on_its_ratio_or_on_its_absolute_target():
    # Given figures just under, at and over their targets
    assert Result("r", figure=109.0, baseline=100.0, unit="ms", target=1.10).passed
    assert not Result("r", figure=111.0, baseline=100.0, unit="ms", target=1.10).passed
    assert Result("m", figure=100.0, baseline=300.0, unit="MiB", target=100.0, absolute=True).passed
    assert not Result("m", figure=100.5, baseline=10.0, unit="MiB", target=100.0, absolute=True).passed
    # And a missing baseline never passes a ratio target
    assert not Result("r", figure=1.0, baseline=None, unit="ms", target=1.10).passed
