"""``make demo`` and ``make sandbox`` pass ``ARGS=...`` through to ``python -m sandbox demo`` and ``up``."""

from __future__ import annotations

import shlex
import shutil
import subprocess

import pytest

from sandbox.aws.stack import ROOT
from sandbox.cli import build_parser

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="no make on PATH")


def sandbox_command_of(target: str, args: str) -> list[str]:
    """What ``make -n TARGET ARGS=...`` would run for the sandbox: the arguments after ``-m sandbox``."""
    result = subprocess.run(
        ["make", "-n", "-s", target, f"ARGS={args}"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    (line,) = [line for line in result.stdout.splitlines() if " -m sandbox " in line]
    words = shlex.split(line)
    return words[words.index("sandbox") + 1 :]


@pytest.mark.parametrize(
    ("target", "command", "args"),
    [("demo", "demo", "--requests 12 --seed 3 --template-timeouts"), ("sandbox", "up", "--aws-port 4577 --seed 3")],
)
def test_make_passes_args_through_to_the_sandbox_command(target: str, command: str, args: str):
    # Given make's target with ARGS
    # When make says what it would run
    arguments = sandbox_command_of(target, args)

    # Then it is the sandbox's command with exactly those options, which its parser accepts
    assert arguments == [command, *shlex.split(args)]
    parsed = build_parser().parse_args(arguments)
    assert parsed.seed == 3
