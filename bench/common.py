"""Shared by the benchmarks (parent side): the children's environment, the AWS resources, results, statistics."""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.cpu_share import CpuShare
from bench.deployed import ROOT, Deployment, Package
from bench.services import Endpoints

RESULT_MARK = "BENCH-RESULT "  # printed by bench.lambda_shim.emit
MANAGER_ARN = "arn:aws:bedrock-agentcore:us-east-1:123456789012:payment-manager/demo-manager-a1b2c3d4e5"
EVENT_SOURCE = "payment-session-worker"
BUS_NAME = "payment-sessions-bench"
DLQ_NAME = "payment-session-requests-dlq"
# A trace header as Lambda sets it for a sampled invocation (Tracing: Active).
TRACE_ID = "Root=1-67891233-abcdef012345678912345678;Parent=53995c3f42cd8ad8;Sampled=1"


@dataclass(frozen=True)
class Stack:
    """The AWS side the children talk to."""

    endpoints: Endpoints
    dead_letter_queue_url: str
    bus_name: str
    deployment: Deployment


def provision(endpoints: Endpoints, deployment: Deployment) -> Stack:
    """The DLQ and the bus in moto's server (no rules: subscribers are not what is measured)."""
    import boto3

    options: dict[str, Any] = {
        "region_name": "us-east-1",
        "endpoint_url": endpoints.moto,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    sqs = boto3.client("sqs", **options)
    events = boto3.client("events", **options)
    queue_url = sqs.create_queue(QueueName=DLQ_NAME)["QueueUrl"]
    events.create_event_bus(Name=BUS_NAME)
    return Stack(endpoints=endpoints, dead_letter_queue_url=queue_url, bus_name=BUS_NAME, deployment=deployment)


def lambda_environment(
    stack: Stack,
    *,
    latency_ms: int,
    package: Package | None = None,
    memory_mb: int | None = None,
    tracing: str = "none",
    **worker: str,
) -> dict[str, str]:
    """The environment of a child: what Lambda sets for the function, the template's variables, the services.

    The child imports from ``package`` (by default the copy with bytecode), as Lambda's runtime imports from
    ``/var/task``; the bench's own child code comes after it on the path. Lambda's own variables are simulated
    (``LAMBDA_TASK_ROOT``, the memory size, ``_X_AMZN_TRACE_ID`` of a sampled trace). ``tracing`` names the
    worker's ``OTEL_TRACES_EXPORTER``: ``none`` (the figures against bare boto3, which traces nothing) or
    ``xray`` (as the template deploys it: a span per call, sent over UDP to the default daemon address, where
    nothing listens).
    """
    deployment = stack.deployment
    task_root = (package or deployment.with_bytecode).path
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env.update(
        {
            "PYTHONPATH": os.pathsep.join([str(task_root), str(ROOT)]),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_ENDPOINT_URL_SQS": stack.endpoints.moto,
            "AWS_ENDPOINT_URL_EVENTBRIDGE": stack.endpoints.moto,
            "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE": stack.endpoints.payments[latency_ms],
            "LAMBDA_TASK_ROOT": str(task_root),
            "AWS_LAMBDA_FUNCTION_NAME": "payment-session-worker",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb or deployment.memory_mb),
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
            "_X_AMZN_TRACE_ID": TRACE_ID,
            "PAYMENT_MANAGER_ARN": MANAGER_ARN,
            "DEAD_LETTER_QUEUE_URL": stack.dead_letter_queue_url,
            "EVENT_BUS_NAME": stack.bus_name,
            "EVENT_SOURCE": EVENT_SOURCE,
            "MAX_RECEIVE_COUNT": "5",
            "MAX_CONCURRENCY": "10",
            "POWERTOOLS_SERVICE_NAME": "payment-session-worker",
            "POWERTOOLS_METRICS_NAMESPACE": "PaymentSessionWorker",
            "POWERTOOLS_LOG_LEVEL": "INFO",
        }
    )
    env.update(deployment.environment())
    env["OTEL_TRACES_EXPORTER"] = tracing
    env.update({name.upper(): value for name, value in worker.items()})
    return env


def child_command(module: str, args: Sequence[str]) -> list[str]:
    """``python -S -m <module> <args>``: without site, so nothing of this machine's virtualenv can stand in for
    a module the package lacks (Lambda's runtime does not treat ``/var/task`` as a site directory either)."""
    return [sys.executable, "-S", "-m", module, *args]


def run_child(
    module: str,
    args: Sequence[str],
    env: dict[str, str],
    *,
    share: CpuShare | None = None,
    timeout: float = 300,
) -> dict[str, Any]:
    """Run ``python -m <module> <args>`` and return the JSON it printed after ``RESULT_MARK``.

    The child runs in the package's directory (as Lambda's in ``/var/task``), under ``share``'s CPU quota in a
    cgroup of its own when given. Its stdout also carries the worker's logs (as CloudWatch would); the pipe is
    drained whole.
    """
    command = child_command(module, args)
    with share.slot("child", command) if share else contextlib.nullcontext(command) as argv:
        env = {**env, "BENCH_SPAWNED_AT": repr(time.monotonic())}
        done = subprocess.run(
            argv,
            cwd=env["LAMBDA_TASK_ROOT"],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            if done.returncode != 0:
                break
            result: dict[str, Any] = json.loads(line[len(RESULT_MARK) :])
            return result
    raise RuntimeError(
        f"{module} {' '.join(args)} failed (exit {done.returncode}):\n{done.stderr[-3000:]}{done.stdout[-1500:]}"
    )


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


@dataclass
class Result:
    """One benchmark figure beside its baseline; ``lower is better`` for every figure here."""

    name: str
    figure: float
    baseline: float | None
    unit: str
    target: float  # the highest acceptable ratio, or the highest acceptable figure when ``absolute``
    absolute: bool = False
    baseline_name: str = "bare boto3"
    notes: list[str] = field(default_factory=list)
    samples: list[float] = field(default_factory=list)
    baseline_samples: list[float] = field(default_factory=list)

    @classmethod
    def from_samples(
        cls, name: str, *, worker: Sequence[float], baseline: Sequence[float], unit: str, target: float, **rest: Any
    ) -> Result:
        """A figure from paired samples: the median of the worker's against the median of its baseline's.

        Every sample is kept (``samples``, ``baseline_samples``: the JSON report has them, the table their
        spread). ``rest`` holds the other fields (``absolute``, ``baseline_name``, ``notes``).
        """
        return cls(
            name=name,
            figure=median(worker),
            baseline=median(baseline),
            unit=unit,
            target=target,
            samples=list(worker),
            baseline_samples=list(baseline),
            **rest,
        )

    @property
    def paired_ratios(self) -> list[float]:
        """Each worker sample over the baseline sample taken beside it (same index): the ratio's spread."""
        return [w / b for w, b in zip(self.samples, self.baseline_samples, strict=False) if b]

    def spread_text(self) -> str:
        """``min-max`` of the samples and of the paired ratios, or empty without samples."""
        if not self.samples:
            return ""
        text = f"{fmt(min(self.samples), self.unit)}-{fmt(max(self.samples), self.unit)}"
        ratios = self.paired_ratios
        if ratios:
            text += f"; paired ratios {min(ratios):.2f}x-{max(ratios):.2f}x"
        return text

    @property
    def ratio(self) -> float | None:
        return None if not self.baseline else self.figure / self.baseline

    @property
    def passed(self) -> bool:
        if self.absolute:
            return self.figure <= self.target
        ratio = self.ratio
        return ratio is not None and ratio <= self.target

    def target_text(self) -> str:
        return f"<= {self.target:g} {self.unit}" if self.absolute else f"<= {self.target:.2f}x"

    def as_dict(self) -> dict[str, Any]:
        """Every field, the target in words (which say whether it is ``absolute``), and the ratio, the verdict
        and the paired ratios they give."""
        fields = asdict(self)
        del fields["absolute"]
        derived = {"target": self.target_text(), "ratio": self.ratio, "passed": self.passed}
        return fields | derived | {"paired_ratios": self.paired_ratios}


@dataclass
class Info:
    """A figure shown for context (a peer, a breakdown); it has no target."""

    name: str
    figure: float
    unit: str
    relative_to: float | None = None
    samples: list[float] = field(default_factory=list)

    @classmethod
    def median_of(cls, name: str, samples: Sequence[float], unit: str, relative_to: float | None = None) -> Info:
        """The median of ``samples``, which are kept beside it."""
        return cls(name, median(samples), unit, relative_to, list(samples))

    def spread_text(self) -> str:
        return f"{fmt(min(self.samples), self.unit)}-{fmt(max(self.samples), self.unit)}" if self.samples else ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Section:
    """A block of its own, printed after the main table (a benchmark with a table of its own)."""

    title: str
    lines: list[str]
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.title, "lines": self.lines, **self.data}


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, a rule under the header."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    rule = "  ".join("-" * width for width in widths)
    return "\n".join(["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip(), rule, *lines])


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit == "µs":
        return f"{value:.0f} µs"
    if unit == "MiB":
        return f"{value:.1f} MiB"
    if not unit:
        return f"{value:.0f}"
    return f"{value:.3g} {unit}"


class Lockstep:
    """Children that each run one sample when told to, so that samples of different kinds alternate finely.

    Each child (``python -m <module> child <args>``) sets itself up (cold invocation, warm-up), then runs one
    sample per ``go`` line on its stdin and writes one JSON line per sample to the file descriptor named by
    ``BENCH_RESULT_FD``. Only one child runs at a time; the others wait on their stdin. The children's
    stdout (the worker's logs, as CloudWatch would get them) and stderr go to temporary files.
    """

    def __init__(self, share: CpuShare | None = None) -> None:
        self._children: dict[str, _Child] = {}
        self._share = share

    def start(self, name: str, module: str, args: Sequence[str], env: dict[str, str]) -> None:
        """Start child ``name`` (in a cgroup of its own under the CPU share, when there is one)."""
        read_fd, write_fd = os.pipe()
        logs, errors = tempfile.TemporaryFile(), tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        command = child_command(module, ["child", *args])
        process = subprocess.Popen(
            self._share.command(name, command) if self._share else command,
            cwd=env["LAMBDA_TASK_ROOT"],
            env={**env, "BENCH_RESULT_FD": str(write_fd)},
            stdin=subprocess.PIPE,
            stdout=logs,
            stderr=errors,
            pass_fds=(write_fd,),
            text=True,
        )
        os.close(write_fd)
        self._children[name] = _Child(process, os.fdopen(read_fd, "r"), logs, errors)
        self._read(name)  # the child says it is ready once set up

    def sample(self, name: str) -> dict[str, Any]:
        """Have child ``name`` run one sample; its answer."""
        stdin = self._children[name].process.stdin
        assert stdin is not None
        stdin.write("go\n")
        stdin.flush()
        return self._read(name)

    def _read(self, name: str) -> dict[str, Any]:
        child = self._children[name]
        line = child.results.readline()
        if not line:
            child.process.wait(timeout=30)
            child.errors.seek(0)
            tail = child.errors.read()[-3000:].decode("utf-8", "replace")
            raise RuntimeError(f"benchmark child {name} died (exit {child.process.returncode}):\n{tail}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> None:
        for child in self._children.values():
            if child.process.stdin is not None:
                child.process.stdin.close()
            try:
                child.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
            for stream in (child.results, child.logs, child.errors):
                stream.close()
        if self._share:
            for name in self._children:
                self._share.release(name)
        self._children.clear()

    def __enter__(self) -> Lockstep:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class _Child:
    process: subprocess.Popen[str]
    results: Any
    logs: Any
    errors: Any
