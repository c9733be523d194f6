"""One soak run: the sandbox up, the requests fed under faults, the DLQ redriven by the operator's command,
then the report."""

from __future__ import annotations

import dataclasses
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import IO, Any

from sandbox.agentcore import PaymentsApiServer
from sandbox.aws import MotoServer, client
from sandbox.event_source import Invocation, SqsEventSource
from sandbox.soak.injection import NO_FAULTS, InvocationFaults, Wiring, wire
from sandbox.soak.operator import CommandFailed, Operator, delete_poison, redrive_round
from sandbox.soak.report import SoakReport, account_requests, tenant_drain_times
from sandbox.soak.scenarios import SoakOptions
from sandbox.soak.workload import Request, build_requests, script_fates
from sandbox.sqs import OutgoingMessage, drain, queue_depth, send_messages
from sandbox.stack import deploy_stack
from sandbox.tap import EventTap
from sandbox.worker import load_settings, real_handler, use_dependencies


@contextmanager
def _function_output(path: str | None) -> Iterator[IO[str]]:
    with open(path or os.devnull, "a", encoding="utf-8") as sink:
        yield sink


class _Watch:
    """Progress and the tap, while waiting: the tap is read as the run goes (moto's receives slow down as a
    queue grows, so no queue is left to fill up), each event stamped with the time it was read, and a line
    of progress is printed every 10 s."""

    def __init__(self, source: SqsEventSource, tap: EventTap, out: IO[str]) -> None:
        self.source = source
        self.tap = tap
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


def feed(
    watch: _Watch,
    sqs: Any,
    queue_url: str,
    requests: Sequence[Request],
    *,
    script: Any,
    seed: int,
    fifo: bool,
    max_backlog: int,
    timeout: float,
) -> bool:
    """Send the requests by tens, in order, while the queue's backlog is under ``max_backlog``, scripting their fates.

    A fate keyed by a body token is scripted before its request is sent; one keyed by a derived token only
    after (the token needs the message ID), so a poller may rarely receive the request first. Returns
    whether every request was sent; ``False`` when the backlog stayed full for ``timeout`` seconds.
    """
    for start in range(0, len(requests), 10):
        stuck_until = time.monotonic() + timeout
        while watch.source.queue_depth()["visible"] >= max_backlog:
            if time.monotonic() > stuck_until:
                return False
            watch.tick("sending")
            time.sleep(0.2)
        chunk = requests[start : start + 10]
        script([r for r in chunk if r.body_token])
        ids = send_messages(sqs, queue_url, [_message(r, seed, fifo=fifo) for r in chunk])
        for request, message_id in zip(chunk, ids, strict=True):
            request.message_id = message_id
        script([r for r in chunk if not r.body_token])
        watch.tick("sending")
    return True


def _fix(api: PaymentsApiServer, wiring: Wiring, faults: InvocationFaults) -> None:
    """The operator found and fixed the cause: no more random, injected or scripted faults of the ports."""
    api.set_faults(throttle_rate=0.0, error_rate=0.0)
    wiring.publisher.injector.faults = NO_FAULTS
    wiring.dead_letters.injector.faults = NO_FAULTS
    wiring.publisher.refusals.lift()
    wiring.dead_letters.refusals.lift()
    faults.off()


def run_soak(options: SoakOptions, out: IO[str] | None = None, *, aws_endpoint: str | None = None) -> SoakReport:
    """Run one soak; ``aws_endpoint`` reuses a running moto (a stack of its own is deployed into it)."""
    out = out or sys.stdout
    started = time.monotonic()
    rng = random.Random(options.seed)
    notes: list[str] = []
    with ExitStack() as stack:
        endpoint = aws_endpoint or stack.enter_context(MotoServer()).endpoint_url
        api_faults = dataclasses.replace(options.api_faults, seed=options.seed)
        api = stack.enter_context(PaymentsApiServer(faults=api_faults))
        deployed = deploy_stack(endpoint, options.stack)
        worker_receives = int(deployed.function.environment.get("MAX_RECEIVE_COUNT", "5"))
        policy = deployed.request_queue.redrive_policy
        queue_receives = policy.max_receive_count if policy else worker_receives
        out.write(f"soak: {options.command()}; stack deployed at {time.monotonic() - started:.0f} s\n")
        out.write(
            f"  MAX_RECEIVE_COUNT {worker_receives}, the request queue's redrive maxReceiveCount {queue_receives}\n"
        )
        for note in deployed.notes:
            out.write(f"  stack: {note}\n")
        tap = stack.enter_context(EventTap(deployed))
        sqs = client("sqs", endpoint, deployed.region)
        requests = build_requests(
            options.requests,
            options.seed,
            poison_share=options.poison_share,
            own_source=deployed.event_source_name,
            mix=options.mix,
            groups=options.groups,
            tenants=options.tenants,
            noisy_share=options.noisy_share,
        )

        # The event source, then the soak's wiring (the function's environment is in place once it started).
        faults = InvocationFaults(
            real_handler,
            short_deadline=options.short_deadline_rate,
            lost=options.lost_invocation_rate,
            rng=random.Random(rng.random()),
        )
        sink = stack.enter_context(_function_output(options.function_log))
        source = SqsEventSource(
            deployed, payments_endpoint=api.endpoint_url, pollers=options.pollers, handler=faults, output=sink
        )
        source.start()
        stack.callback(source.stop)
        wiring = wire(load_settings(), payments_client=options.payments_client, seed=options.seed)
        wiring.publisher.injector.faults = options.publisher_faults
        wiring.dead_letters.injector.faults = options.dead_letter_faults
        use_dependencies(wiring.dependencies)
        faults.open()

        def script(chunk: Sequence[Request]) -> None:
            script_fates(
                api,
                wiring,
                chunk,
                worker_receives=worker_receives,
                queue_receives=queue_receives,
                attempts_per_receive=options.payments_client.total_max_attempts,
                slow_ms=options.slow_answer_ms,
            )

        watch = _Watch(source, tap, out)
        fed_at, fed_at_epoch = time.monotonic(), time.time()
        sent = feed(
            watch,
            sqs,
            deployed.request_queue.url,
            requests,
            script=script,
            seed=options.seed,
            fifo=options.fifo,
            max_backlog=options.max_backlog,
            timeout=options.phase_timeout,
        )
        if not sent:
            notes.append(f"the workers took no request for {options.phase_timeout:.0f} s: sending stopped")
        drained = sent and watch.drain(options.phase_timeout, "requests")
        drain_seconds = time.monotonic() - fed_at if drained else None
        first_phase_events = list(watch.events)
        out.write(
            f"  requests sent, queue {'drained' if drained else 'NOT drained'} at {time.monotonic() - started:.0f} s\n"
        )
        operator = Operator(endpoint, deployed.name, deployed.region)
        redriven = derived = rounds = 0
        redriven_tokens: set[str] = set()
        poison_letters: list[dict[str, Any]] = []
        for round_number in range(1, options.max_redrive_rounds + 1):
            if not drained:
                break
            if round_number == (1 if options.fixed_before_redrive else 2):
                _fix(api, wiring, faults)
            try:
                moved = redrive_round(operator)
            except CommandFailed as error:
                notes.append(f"payment-session-worker failed: {error}")
                break
            if not moved.moved:
                # Nothing more to move: the operator deletes the poison, which may uncover more (FIFO).
                deleted = delete_poison(sqs, deployed.dead_letter_queue.url)
                poison_letters += deleted
                out.write(f"  poison deleted from the DLQ: {len(deleted)}\n")
                if deleted and queue_depth(sqs, deployed.dead_letter_queue.url)["visible"]:
                    continue
                break
            rounds += 1
            redriven += moved.moved
            redriven_tokens |= moved.tokens
            derived += moved.derived
            out.write(f"  redrive {round_number}: {moved.line()}\n")
            drained = watch.drain(options.phase_timeout, f"redrive {round_number}")
            out.write(f"  redrive {round_number} drained at {time.monotonic() - started:.0f} s\n")
        if not drained:
            notes.append(f"the request queue did not drain within {options.phase_timeout:.0f} s")
        leftovers = poison_letters + drain(sqs, deployed.dead_letter_queue.url)  # these stay dead-lettered
        queue_left = source.queue_depth()
        queue_left["invocations running"] = source.in_flight
        watch.read()
        snapshot = api.snapshot()
        invocations: list[Invocation] = source.invocations

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
            redriven_tokens=redriven_tokens,
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
        redriven=redriven,
        derived_tokens=derived,
        redrive_rounds=rounds,
        publisher=wiring.publisher.injector.counts,
        dead_letter_sends=wiring.dead_letters.injector.counts,
        refused_events=wiring.publisher.refusals.refused,
        refused_letters=wiring.dead_letters.refusals.refused,
        invocation_faults=faults.counts,
        duration=time.monotonic() - started,
        fifo=options.fifo,
        drain_seconds=drain_seconds,
        tenant_drain=tenant_drain_times(requests, first_phase_events, since=fed_at_epoch) if options.tenants else {},
        notes=notes,
    )
