"""What the sandbox's command line builds from its flags: the demo's options and the sandbox of ``up`` and ``demo``."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.agentcore import FaultSettings
from sandbox.aws.stack import DEFAULT_STACK_NAME, DEFAULT_TEMPLATE, QUICK_RETRIES, StackSpec, Tuning
from sandbox.cli import build_parser, demo_options, sandbox_config
from sandbox.demo.fifo import fifo_sandbox
from sandbox.demo.run import DEMO_SANDBOX, DemoOptions
from sandbox.local_cloud import SandboxConfig


def test_the_demo_without_flags_runs_the_demos_own_defaults():
    # Given `demo` without a flag
    args = build_parser().parse_args(["demo"])

    # When its options are built
    options = demo_options(args)

    # Then they are DemoOptions' defaults (the function's log aside): 20 ms, 20 % throttling, 10 % 5xx, 10 s timeouts
    assert options == DemoOptions(function_log=args.function_log)
    assert options.sandbox == DEMO_SANDBOX
    assert options.sandbox.api_faults == FaultSettings(latency_ms=20, throttle_rate=0.2, error_rate=0.1, seed=7)
    assert options.sandbox.stack.tuning == Tuning(function_timeout=10, visibility_timeout=10)


def test_the_demos_flags_reach_the_load_the_stack_and_the_api(tmp_path: Path):
    # Given `demo` with every flag of its sandbox
    template = tmp_path / "template.yaml"
    argv = ["demo", "--requests", "12", "--seed", "11", "--throttle-rate", "0.3", "--error-rate", "0.05"]
    argv += ["--latency-ms", "5", "--function-timeout", "6", "--visibility-timeout", "4", "--max-receive-count", "3"]
    argv += ["--pollers", "2", "--timeout", "40", "--template", str(template)]

    # When its options are built
    options = demo_options(build_parser().parse_args(argv))

    # Then the seed seeds the load and the API's faults; --max-receive-count is the template's MaxReceiveCount
    assert (options.requests, options.seed, options.timeout) == (12, 11, 40.0)
    assert options.sandbox.api_faults == FaultSettings(latency_ms=5, throttle_rate=0.3, error_rate=0.05, seed=11)
    assert options.sandbox.stack == StackSpec(
        template_path=template,
        name=DEFAULT_STACK_NAME,
        parameters={"MaxReceiveCount": "3"},
        tuning=Tuning(function_timeout=6, visibility_timeout=4),
    )
    assert options.sandbox.stack.tuning.max_receive_count is None  # the template's parameter, not the tuning's
    assert options.sandbox.pollers == 2


def test_up_without_flags_builds_the_default_sandbox_with_the_sandboxs_short_timeouts():
    # Given `up` without a flag
    args = build_parser().parse_args(["up"])

    # When its sandbox is built
    config = sandbox_config(args, stack_name=args.stack_name, parameters=dict(args.parameter))

    # Then it is template.yaml with 10 s timeouts (a retry within seconds), no random faults of the API
    assert config == SandboxConfig(stack=StackSpec(tuning=QUICK_RETRIES))
    assert config.stack == StackSpec(template_path=DEFAULT_TEMPLATE, tuning=Tuning(10, 10))


@pytest.mark.parametrize("flag", ["--template-timeouts", "--template-visibility"])
def test_up_with_template_timeouts_keeps_template_yaml_as_written(flag: str):
    # Given `up` told to keep the template's timeouts
    args = build_parser().parse_args(["up", flag])

    # When its sandbox is built
    config = sandbox_config(args, stack_name=args.stack_name, parameters=dict(args.parameter))

    # Then it is template.yaml as written (its Timeout and VisibilityTimeout), no random faults of the API
    assert config == SandboxConfig()
    assert config.stack == StackSpec(template_path=DEFAULT_TEMPLATE)


def test_a_timeout_given_wins_over_template_timeouts_and_the_sandboxs_default():
    # Given `up` with one timeout given, once with --template-timeouts
    quick = build_parser().parse_args(["up", "--visibility-timeout", "30"])
    template = build_parser().parse_args(["up", "--visibility-timeout", "30", "--template-timeouts"])

    # When their sandboxes are built
    tunings = [sandbox_config(args, stack_name="s", parameters={}).stack.tuning for args in (quick, template)]

    # Then the given one is used, the other is the sandbox's, or the template's
    assert tunings == [Tuning(function_timeout=10, visibility_timeout=30), Tuning(visibility_timeout=30)]


def test_ups_flags_reach_the_stack_and_the_api():
    # Given `up` with a stack name, parameters, tuning and faults
    argv = ["up", "--stack-name", "mine", "--parameter", "MaxReceiveCount=4", "--parameter", "BatchSize=2"]
    argv += ["--function-timeout", "8", "--visibility-timeout", "9", "--throttle-rate", "0.1", "--seed", "3"]
    args = build_parser().parse_args(argv)

    # When its sandbox is built
    config = sandbox_config(args, stack_name=args.stack_name, parameters=dict(args.parameter))

    # Then each lands in the stack's spec or in the API's faults
    assert config.stack == StackSpec(
        name="mine",
        parameters={"MaxReceiveCount": "4", "BatchSize": "2"},
        tuning=Tuning(function_timeout=8, visibility_timeout=9),
    )
    assert config.api_faults == FaultSettings(throttle_rate=0.1, seed=3)


def test_the_fifo_demos_sandbox_is_fifo_with_scripted_faults_only():
    # Given the demo's sandbox
    # When the FIFO demo makes it its own
    config = fifo_sandbox(DEMO_SANDBOX)

    # Then both queues are FIFO and the API's random throttling and 5xx are off; the rest is kept
    assert config.stack.tuning == Tuning(function_timeout=10, visibility_timeout=10, fifo_queues=True)
    assert config.api_faults == FaultSettings(latency_ms=20, throttle_rate=0.0, error_rate=0.0, seed=7)
    assert (config.stack.name, config.stack.parameters, config.pollers) == (DEFAULT_STACK_NAME, {}, None)
