"""The soak's run: the sandbox up, the requests fed under faults, redrives, then the report."""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import IO, Any, Final

from sandbox.agentcore import PaymentsApiServer
from sandbox.aws import MotoServer, client
from sandbox.event_source import Invocation, SqsEventSource
from sandbox.soak.injection import NO_FAULTS, CallFaults, InvocationFaults, wire
from sandbox.soak.redrive import redrive
from sandbox.soak.report import SoakReport, account_requests
from sandbox.soak.workload import SHORT_REQUESTS, Request, build_requests, script_fates
from sandbox.sqs import OutgoingMessage, drain, send_messages
from sandbox.stack import Tuning, deploy_stack
from sandbox.tap import EventTap
from sandbox.worker import ClientSettings, load_settings, real_handler, use_dependencies

DESCRIPTION: Final = "Soak: thousands of requests through the sandbox, faults at every boundary, then the invariants."
# A 1 s read timeout (production: 10 s), so an answer slower than the client timeout costs 1.5 s, not 15.
SOAK_PAYMENTS_CLIENT: Final = ClientSettings(connect_timeout=1.0, read_timeout=1.0, total_max_attempts=3)
PUBLISHER_FAULTS: Final = CallFaults(fail_call=0.03, fail_entry=0.03, lose_answer=0.02)
DEAD_LETTER_FAULTS: Final = CallFaults(fail_call=0.1, fail_entry=0.05, lose_answer=0.03)


@dataclass(frozen=True)
class SoakOptions:
    """Knobs of :func:`run_soak`. The defaults are ``make soak``; :meth:`short` is the ``make test`` one."""

    requests: int = 2_000
    pollers: int = 4
    seed: int = 20261126
    poison_share: float = 0.05
    visibility_timeout: int = 3
    function_timeout: int = 10
    payments_client: ClientSettings = SOAK_PAYMENTS_CLIENT
    slow_answer_ms: float = 1_500
    throttle_rate: float = 0.05
    error_rate: float = 0.05
    publisher_faults: CallFaults = PUBLISHER_FAULTS
    dead_letter_faults: CallFaults = DEAD_LETTER_FAULTS
    short_deadline_rate: float = 0.08
    lost_invocation_rate: float = 0.02
    max_redrive_rounds: int = 6
    max_backlog: int = 100
    phase_timeout: float = 480.0
    stack_name: str = "payment-session-worker-soak"
    function_log: str | None = None

    @classmethod
    def short(cls, seed: int = 20261126, **changes: Any) -> SoakOptions:
        """The version in ``make test``: 150 requests, denser faults (so each kind fires), a 2 s visibility timeout."""
        dense = {
            "requests": SHORT_REQUESTS,
            "seed": seed,
            "visibility_timeout": 2,
            "poison_share": 0.08,
            "publisher_faults": CallFaults(fail_call=0.05, fail_entry=0.05, lose_answer=0.05),
            "dead_letter_faults": CallFaults(fail_call=0.15, fail_entry=0.1, lose_answer=0.1),
            "lost_invocation_rate": 0.08,
            "phase_timeout": 90.0,
        }
        return cls(**{**dense, **changes})

    def command(self) -> str:
        if self.requests == SHORT_REQUESTS and self.visibility_timeout == 2:
            return f"python -m sandbox.soak --short --pollers {self.pollers} --seed {self.seed}"
        return f"python -m sandbox.soak --requests {self.requests} --pollers {self.pollers} --seed {self.seed}"


@contextmanager
def _function_output(path: str | None) -> Iterator[IO[str]]:
    with open(path or os.devnull, "a", encoding="utf-8") as sink:
        yield sink


class _Watch:
    """Progress and the tap, while waiting: the tap is read as the run goes (moto's receives slow down as a
    queue grows, so no queue is left to fill up), and a line of progress is printed every 10 s."""

    def __init__(self, source: SqsEventSource, tap: EventTap, out: IO[str]) -> None:
        self.source = source
        self.tap = tap
        self.out = out
        self._last_print = time.monotonic()

    def tick(self, label: str) -> None:
        self.tap.read()
        if time.monotonic() - self._last_print >= 10.0:
            self._last_print = time.monotonic()
            depth = self.source.queue_depth()
            self.out.write(
                f"  {label}: {len(self.source.invocations)} invocations, {len(self.tap.events)} events, "
                f"queue {depth['visible']} visible {depth['in_flight']} in flight\n"
            )
            self.out.flush()

    def drain(self, timeout: float, label: str) -> bool:
        """Wait until the request queue is drained and no invocation runs; whether it was, within ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.source.wait_until_drained(timeout=min(2.0, max(0.0, deadline - time.monotonic()))):
                self.tap.read()
                return True
            self.tick(label)
        return False


def feed(
    watch: _Watch,
    sqs: Any,
    queue_url: str,
    api: PaymentsApiServer,
    requests: Sequence[Request],
    *,
    max_backlog: int,
    max_receive_count: int,
    slow_ms: float,
    timeout: float,
) -> bool:
    """Send the requests by tens while the queue's backlog is under ``max_backlog``, scripting their fates.

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
        script_fates(api, [r for r in chunk if r.body_token], max_receive_count=max_receive_count, slow_ms=slow_ms)
        ids = send_messages(sqs, queue_url, [OutgoingMessage(r.body, r.attributes) for r in chunk])
        for request, message_id in zip(chunk, ids, strict=True):
            request.message_id = message_id
        script_fates(api, [r for r in chunk if not r.body_token], max_receive_count=max_receive_count, slow_ms=slow_ms)
        watch.tick("sending")
    return True


def run_soak(options: SoakOptions, out: IO[str] | None = None, *, aws_endpoint: str | None = None) -> SoakReport:
    """Run the soak; ``aws_endpoint`` reuses a running moto (a stack of its own is deployed into it)."""
    out = out or sys.stdout
    started = time.monotonic()
    rng = random.Random(options.seed)
    notes: list[str] = []
    with ExitStack() as stack:
        endpoint = aws_endpoint or stack.enter_context(MotoServer()).endpoint_url
        api = stack.enter_context(
            PaymentsApiServer(throttle_rate=options.throttle_rate, error_rate=options.error_rate, seed=options.seed)
        )
        deployed = deploy_stack(
            endpoint,
            stack_name=options.stack_name,
            tuning=Tuning(function_timeout=options.function_timeout, visibility_timeout=options.visibility_timeout),
        )
        redrive_policy = deployed.request_queue.redrive_policy
        max_receive = redrive_policy.max_receive_count if redrive_policy else 5
        out.write(f"soak: {options.command()}; stack deployed at {time.monotonic() - started:.0f} s\n")
        for note in deployed.notes:
            out.write(f"  stack: {note}\n")
        tap = stack.enter_context(EventTap(deployed))
        sqs = client("sqs", endpoint, deployed.region)
        requests = build_requests(
            options.requests,
            options.seed,
            poison_share=options.poison_share,
            own_source=deployed.event_source_name,
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

        watch = _Watch(source, tap, out)
        sent = feed(
            watch,
            sqs,
            deployed.request_queue.url,
            api,
            requests,
            max_backlog=options.max_backlog,
            max_receive_count=max_receive,
            slow_ms=options.slow_answer_ms,
            timeout=options.phase_timeout,
        )
        if not sent:
            notes.append(f"the workers took no request for {options.phase_timeout:.0f} s: sending stopped")
        drained = sent and watch.drain(options.phase_timeout, "requests")
        out.write(
            f"  requests sent, queue {'drained' if drained else 'NOT drained'} at {time.monotonic() - started:.0f} s\n"
        )
        redriven = stamped = rounds = 0
        poison_letters: list[dict[str, Any]] = []
        for round_number in range(1, options.max_redrive_rounds + 1):
            if not drained:
                break
            if round_number == 2:
                # The operator found and fixed the cause: no more random or injected faults.
                api.set_faults(throttle_rate=0.0, error_rate=0.0)
                wiring.publisher.injector.faults = NO_FAULTS
                wiring.dead_letters.injector.faults = NO_FAULTS
                faults.off()
            moved = redrive(
                sqs,
                dead_letter_queue_url=deployed.dead_letter_queue.url,
                queue_url=deployed.request_queue.url,
            )
            poison_letters += moved.poison
            if not moved.moved:
                break
            rounds += 1
            redriven += moved.moved
            stamped += moved.stamped
            out.write(f"  redrive {round_number}: {moved.moved} messages back ({moved.stamped} token-stamped)\n")
            drained = watch.drain(options.phase_timeout, f"redrive {round_number}")
            out.write(f"  redrive {round_number} drained at {time.monotonic() - started:.0f} s\n")
        if not drained:
            notes.append(f"the request queue did not drain within {options.phase_timeout:.0f} s")
        leftovers = drain(sqs, deployed.dead_letter_queue.url)  # rounds exhausted: these stay dead-lettered
        queue_left = source.queue_depth()
        queue_left["invocations running"] = source.in_flight
        events = tap.wait_for(0, timeout=0)
        snapshot = api.snapshot()
        invocations: list[Invocation] = source.invocations

    outcomes, lost, double, poison_at_api, unannounced, duplicates = account_requests(
        requests,
        sessions=snapshot["sessions"],
        calls_by_token=snapshot["calls_by_client_token"],
        events=events,
        dead_letters=poison_letters + leftovers,
    )
    return SoakReport(
        command=options.command(),
        requests=len(requests),
        poison=sum(r.poison for r in requests),
        pollers=options.pollers,
        seed=options.seed,
        fates=Counter(r.fate.partition(":")[0] for r in requests),
        outcomes=outcomes,
        lost=lost,
        double_sessions=double,
        poison_at_api=poison_at_api,
        unannounced=unannounced,
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
        events=len(events),
        duplicate_announcements=duplicates,
        redriven=redriven,
        stamped=stamped,
        redrive_rounds=rounds,
        publisher=wiring.publisher.injector.counts,
        dead_letter_sends=wiring.dead_letters.injector.counts,
        invocation_faults=faults.counts,
        duration=time.monotonic() - started,
        notes=notes,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.soak", description=DESCRIPTION)
    parser.add_argument("--requests", type=int, default=2_000, help="requests to send (default 2000)")
    parser.add_argument("--pollers", type=int, default=4, help="concurrent pollers (default 4)")
    parser.add_argument("--seed", type=int, default=20261126, help="seed of the requests' fates and faults")
    parser.add_argument("--short", action="store_true", help=f"{SHORT_REQUESTS} requests (the make test version)")
    parser.add_argument("--function-log", help="append the worker's JSON logs and metrics here (default: discard)")
    args = parser.parse_args(argv)
    if args.short:
        options = SoakOptions.short(seed=args.seed, pollers=args.pollers, function_log=args.function_log)
    else:
        options = SoakOptions(
            requests=args.requests, pollers=args.pollers, seed=args.seed, function_log=args.function_log
        )
    report = run_soak(options)
    print(report.table())
    if report.ok:
        print("invariants: all hold")
        return 0
    for failure in report.failures:
        print(f"INVARIANT BROKEN: {failure}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
