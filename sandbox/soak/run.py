"""One soak run: a :class:`~sandbox.local_cloud.Sandbox` with the worker on the soak's faulty ports, the
requests fed under faults, the DLQ redriven by the operator's command, then the report."""

from __future__ import annotations

import dataclasses
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import IO, Any

from sandbox.aws.sqs import OutgoingMessage, drain, queue_depth
from sandbox.lambda_.event_source import Invocation, SqsEventSource
from sandbox.local_cloud import Sandbox, SandboxConfig
from sandbox.soak.injection import FaultyPorts, InvocationFaults
from sandbox.soak.operator import CommandFailed, Operator, delete_poison, redrive_round
from sandbox.soak.report import SoakReport, account_requests, tenant_drain_times
from sandbox.soak.scenarios import SoakOptions
from sandbox.soak.workload import Request, script_fates
from sandbox.worker_code import real_handler


@contextmanager
def _function_output(path: str | None) -> Iterator[IO[str]]:
    with open(path or os.devnull, "a", encoding="utf-8") as sink:
        yield sink


class _Watch:
    """Progress and the tap, while waiting: the tap is read as the run goes (moto's receives slow down as a
    queue grows, so no queue is left to fill up), each event stamped with the time it was read, and a line
    of progress is printed every 10 s."""

    def __init__(self, sandbox: Sandbox, out: IO[str]) -> None:
        self.source: SqsEventSource = sandbox.event_source
        self.tap = sandbox.tap
        self.out = out
        self.events: list[tuple[float, dict[str, Any]]] = []  # (epoch seconds read at, event)
        self._last_print = time.monotonic()

    def read(self) -> None:
        new = self.tap.read()
        now = time.time()
        self.events += [(now, event) for event in new]

    def tick(self, label: str) -> None:
        self.read()
        if time.monotonic() - self._last_print >= 10.0:
            self._last_print = time.monotonic()
            depth = self.source.queue_depth()
            self.out.write(
                f"  {label}: {len(self.source.invocations)} invocations, {len(self.events)} events, "
                f"queue {depth['visible']} visible {depth['in_flight']} in flight\n"
            )
            self.out.flush()

    def drain(self, timeout: float, label: str) -> bool:
        """Wait until the request queue is drained and no invocation runs; whether it was, within ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.source.wait_until_drained(timeout=min(2.0, max(0.0, deadline - time.monotonic()))):
                self.read()
                return True
            self.tick(label)
        return False


def _message(request: Request, seed: int, *, fifo: bool) -> OutgoingMessage:
    if request.group is None:
        return OutgoingMessage(request.body, request.attributes)
    if not fifo:  # a fair queue's tenant: a group, and never a deduplication ID (SQS refuses it)
        return OutgoingMessage(request.body, request.attributes, group_id=request.group)
    deduplication = f"soak-{seed}-{request.index:06d}"  # one per request: two equal bodies stay two requests
    return OutgoingMessage(request.body, request.attributes, group_id=request.group, deduplication_id=deduplication)


@dataclasses.dataclass
class _Run:
    """What one soak has set up and seen so far, phase by phase."""

    options: SoakOptions
    out: IO[str]
    started: float
    sandbox: Sandbox
    ports: FaultyPorts
    faults: InvocationFaults
    requests: list[Request]
    watch: _Watch
    worker_receives: int
    queue_receives: int
    notes: list[str] = dataclasses.field(default_factory=list)
    drained: bool = False
    drain_seconds: float | None = None
    fed_at_epoch: float = 0.0
    first_phase_events: list[tuple[float, dict[str, Any]]] = dataclasses.field(default_factory=list)
    redriven: int = 0
    derived: int = 0
    rounds: int = 0
    redriven_tokens: set[str] = dataclasses.field(default_factory=set)
    poison_letters: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def say(self, line: str) -> None:
        self.out.write(f"  {line}\n")

    def elapsed(self) -> float:
        return time.monotonic() - self.started


def run_soak(options: SoakOptions, out: IO[str] | None = None, *, aws_endpoint: str | None = None) -> SoakReport:
    """Run one soak; ``aws_endpoint`` reuses a running moto (a stack of its own is deployed into it)."""
    started = time.monotonic()
    ports = FaultyPorts(payments_client=options.payments_client, seed=options.seed)
    ports.publisher_injector.faults = options.publisher_faults
    ports.dead_letter_injector.faults = options.dead_letter_faults
    faults = InvocationFaults(
        real_handler,
        short_deadline=options.short_deadline_rate,
        lost=options.lost_invocation_rate,
        rng=random.Random(random.Random(options.seed).random()),
    )
    with _function_output(options.function_log) as sink:
        config = soak_sandbox(options, aws_endpoint=aws_endpoint, output=sink, handler=faults, ports=ports)
        with Sandbox(config) as sandbox:
            run = _begin(options, out or sys.stdout, started, sandbox, ports, faults)
            _send_requests(run)
            _redrive_until_done(run)
            if not run.drained:
                run.notes.append(f"the request queue did not drain within {options.phase_timeout:.0f} s")
            leftovers = run.poison_letters + drain(sandbox.sqs, sandbox.stack.dead_letter_queue.url)  # stay there
            queue_left = sandbox.event_source.queue_depth()
            queue_left["invocations running"] = sandbox.event_source.in_flight
            run.watch.read()
            snapshot = sandbox.payments_api.snapshot()
            invocations: list[Invocation] = sandbox.event_source.invocations
    return _report(run, leftovers, queue_left, snapshot, invocations)


def soak_sandbox(
    options: SoakOptions, *, aws_endpoint: str | None, output: IO[str], handler: InvocationFaults, ports: FaultyPorts
) -> SandboxConfig:
    """The sandbox of a soak: the scenario's stack and pollers, the fake API's faults seeded with the soak's
    seed, the handler under ``handler``'s faults, the worker on ``ports``; moto at ``aws_endpoint`` if given."""
    return SandboxConfig(
        stack=options.stack,
        aws_endpoint=aws_endpoint,
        pollers=options.pollers,
        api_faults=dataclasses.replace(options.api_faults, seed=options.seed),
        function_output=output,
        handler=handler,
        worker_ports=ports,
    )


def _begin(
    options: SoakOptions, out: IO[str], started: float, sandbox: Sandbox, ports: FaultyPorts, faults: InvocationFaults
) -> _Run:
    """The run on a sandbox that is up: its requests drawn, its receive limits read from the deployed stack."""
    deployed = sandbox.stack
    worker_receives = int(deployed.function.environment.get("MAX_RECEIVE_COUNT", "5"))
    policy = deployed.request_queue.redrive_policy
    queue_receives = policy.max_receive_count if policy else worker_receives
    requests = options.build_requests(own_source=deployed.event_source_name)
    watch = _Watch(sandbox, out)
    run = _Run(options, out, started, sandbox, ports, faults, requests, watch, worker_receives, queue_receives)
    out.write(f"soak: {options.command()}; sandbox up at {run.elapsed():.0f} s\n")
    run.say(f"MAX_RECEIVE_COUNT {worker_receives}, the request queue's redrive maxReceiveCount {queue_receives}")
    for note in deployed.notes:
        run.say(f"stack: {note}")
    return run


def _script(run: _Run, chunk: Sequence[Request]) -> None:
    """Each request's fate, at the fake API and at the worker's ports."""
    script_fates(
        run.sandbox.payments_api,
        run.ports,
        chunk,
        worker_receives=run.worker_receives,
        queue_receives=run.queue_receives,
        attempts_per_receive=run.options.payments_client.total_max_attempts,
        slow_ms=run.options.slow_answer_ms,
    )


def feed(run: _Run) -> bool:
    """Send the requests by tens, in order, while the queue's backlog is under ``max_backlog``, scripting their fates.

    A fate keyed by a body token is scripted before its request is sent; one keyed by a derived token only
    after (the token needs the message ID), so a poller may rarely receive the request first. Returns
    whether every request was sent; ``False`` when the backlog stayed full for ``phase_timeout`` seconds.
    """
    options, watch = run.options, run.watch
    for start in range(0, len(run.requests), 10):
        stuck_until = time.monotonic() + options.phase_timeout
        while watch.source.queue_depth()["visible"] >= options.max_backlog:
            if time.monotonic() > stuck_until:
                return False
            watch.tick("sending")
            time.sleep(0.2)
        chunk = run.requests[start : start + 10]
        _script(run, [r for r in chunk if r.body_token])
        ids = run.sandbox.send([_message(r, options.seed, fifo=options.fifo) for r in chunk])
        for request, message_id in zip(chunk, ids, strict=True):
            request.message_id = message_id
        _script(run, [r for r in chunk if not r.body_token])
        watch.tick("sending")
    return True


def _send_requests(run: _Run) -> None:
    """The first phase: every request sent (each one's fate scripted first), then the queue drained."""
    options = run.options
    fed_at, run.fed_at_epoch = time.monotonic(), time.time()
    sent = feed(run)
    if not sent:
        run.notes.append(f"the workers took no request for {options.phase_timeout:.0f} s: sending stopped")
    run.drained = sent and run.watch.drain(options.phase_timeout, "requests")
    run.drain_seconds = time.monotonic() - fed_at if run.drained else None
    run.first_phase_events = list(run.watch.events)
    run.say(f"requests sent, queue {'drained' if run.drained else 'NOT drained'} at {run.elapsed():.0f} s")


def _fix(run: _Run) -> None:
    """The operator found and fixed the cause: no more random, injected or scripted faults of the ports."""
    run.sandbox.payments_api.set_faults(throttle_rate=0.0, error_rate=0.0)
    run.ports.fix()
    run.faults.off()


def _redrive_until_done(run: _Run) -> None:
    """The operator's rounds: fix the faults, redrive with the command, delete the poison, until nothing moves."""
    options, sandbox = run.options, run.sandbox
    operator = Operator(sandbox.aws_endpoint, sandbox.stack.name, sandbox.stack.region)
    dlq_url = sandbox.stack.dead_letter_queue.url
    for round_number in range(1, options.max_redrive_rounds + 1):
        if not run.drained:
            break
        if round_number == (1 if options.fixed_before_redrive else 2):
            _fix(run)
        try:
            moved = redrive_round(operator)
        except CommandFailed as error:
            run.notes.append(f"payment-session-worker failed: {error}")
            break
        if not moved.moved:
            # Nothing more to move: the operator deletes the poison, which may uncover more (FIFO).
            deleted = delete_poison(sandbox.sqs, dlq_url)
            run.poison_letters += deleted
            run.say(f"poison deleted from the DLQ: {len(deleted)}")
            if deleted and queue_depth(sandbox.sqs, dlq_url)["visible"]:
                continue
            break
        run.rounds += 1
        run.redriven += moved.moved
        run.redriven_tokens |= moved.tokens
        run.derived += moved.derived
        run.say(f"redrive {round_number}: {moved.line()}")
        run.drained = run.watch.drain(options.phase_timeout, f"redrive {round_number}")
        run.say(f"redrive {round_number} drained at {run.elapsed():.0f} s")


def _report(
    run: _Run,
    leftovers: list[dict[str, Any]],
    queue_left: dict[str, int],
    snapshot: dict[str, Any],
    invocations: list[Invocation],
) -> SoakReport:
    options, requests, watch, ports = run.options, run.requests, run.watch, run.ports
    return SoakReport(
        scenario=options.scenario,
        command=options.command(),
        requests=len(requests),
        poison=sum(r.poison for r in requests),
        pollers=options.pollers,
        seed=options.seed,
        fates=Counter(r.fate for r in requests),
        accounting=account_requests(
            requests,
            sessions=snapshot["sessions"],
            calls_by_token=snapshot["calls_by_client_token"],
            events=watch.events,
            dead_letters=leftovers,
            redriven_tokens=run.redriven_tokens,
            fifo=options.fifo,
        ),
        queue_left=queue_left,
        api_calls=snapshot["calls"],
        api_faults=snapshot["faults"],
        scripted_delays=snapshot["scripted_delays"],
        sessions=snapshot["sessions_created"],
        idempotent_replays=snapshot["idempotent_replays"],
        deliveries=sum(len(i.message_ids) for i in invocations),
        handed_back=sum(len(i.handed_back) for i in invocations),
        whole_batches_handed_back=sum(1 for i in invocations if i.error is not None),
        invocations=len(invocations),
        events=len(watch.events),
        redriven=run.redriven,
        derived_tokens=run.derived,
        redrive_rounds=run.rounds,
        publisher=ports.publisher.injector.counts,
        dead_letter_sends=ports.dead_letters.injector.counts,
        refused_events=ports.publisher.refusals.refused,
        refused_letters=ports.dead_letters.refusals.refused,
        invocation_faults=run.faults.counts,
        duration=run.elapsed(),
        fifo=options.fifo,
        drain_seconds=run.drain_seconds,
        tenant_drain=(
            tenant_drain_times(requests, run.first_phase_events, since=run.fed_at_epoch) if options.tenants else {}
        ),
        notes=run.notes,
    )
