"""The demo: the worker's real job on the sandbox (:mod:`sandbox.local_cloud`).

:func:`run_demo` (``python -m sandbox demo``) sends every request sample under ``events/`` plus a generated
load (:mod:`sandbox.demo.load`) through a sandbox, under injected faults, and prints what became of each request;
then it lifts the faults and redrives the DLQ with the operator's command (:mod:`sandbox.demo.round_trip`).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

from sandbox.agentcore import FaultSettings, PaymentsApiServer
from sandbox.aws.refusals import RefusingPublisher
from sandbox.aws.sqs import OutgoingMessage, QueueMessage
from sandbox.aws.stack import QUICK_RETRIES, StackSpec
from sandbox.demo.fair_tenants import print_tenants
from sandbox.demo.fates import Fate, Sample, account, load_samples
from sandbox.demo.load import generate_requests
from sandbox.demo.round_trip import RoundTrip, redrive_round_trip, refuse_events_of
from sandbox.demo.tables import dash, print_table
from sandbox.lambda_.event_source import Invocation
from sandbox.local_cloud import Sandbox, SandboxConfig

FAILED_PREFIX: Final = "mixed-failed-"
RETRIED_PREFIX: Final = "mixed-retried-"
# One request of the demo's own: its session is created on its first receive, but its event is refused on
# every receive, so the last one dead-letters it with PaymentSessionId (and announces no failure).
EVENT_REFUSED_CORRELATION: Final = "demo-event-refused"
EVENT_REFUSED_REQUEST: Final = {
    "expiryTimeInMinutes": 60,
    "userId": "user-0042",
    "correlationId": EVENT_REFUSED_CORRELATION,
}
EVENT_REFUSED_NAME: Final = "scripted: event refused"
# The round trip redrives the letters of these codes: the throttled sample's, and the refused event's.
REDRIVE_CODES: Final = ("ThrottlingException", "EventPublishFailed")


# ---------------------------------------------------------------------------------------------------------
# The demo
# ---------------------------------------------------------------------------------------------------------


DEMO_SEED: Final = 7
# The sandbox of the demo: the API's random faults make it retry, short timeouts make retries take seconds.
DEMO_SANDBOX: Final = SandboxConfig(
    stack=StackSpec(tuning=QUICK_RETRIES),
    api_faults=FaultSettings(latency_ms=20, throttle_rate=0.2, error_rate=0.1, seed=DEMO_SEED),
)


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """Knobs of :func:`run_demo`; defaults finish in about a minute on two cores.

    ``seed`` seeds the generated load (the API's random faults have their own, ``sandbox.api_faults.seed``: the
    same by default and from the CLI); ``sandbox`` is what the demo runs on, its function's output going to
    ``function_log`` (instead of ``sandbox.function_output``).
    """

    requests: int = 300
    seed: int = DEMO_SEED
    timeout: float = 300.0
    function_log: Path | None = None
    sandbox: SandboxConfig = DEMO_SANDBOX


def _short(text: str | None, width: int) -> str:
    text = "" if text is None else " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _progress(
    started: float, fates: Mapping[str, Fate], sandbox: Sandbox, depth: Mapping[str, int], stats: Mapping[str, Any]
) -> str:
    outcomes = Counter(f.outcome for f in fates.values())
    return (
        f"[{time.monotonic() - started:5.1f}s] done {sum(outcomes[o] for o in ('created', 'failed', 'dead-lettered'))}"
        f"/{len(fates)}: created {outcomes['created']}, failed {outcomes['failed']}, "
        f"dead-lettered {outcomes['dead-lettered']} | queue {depth['visible']} waiting, {depth['in_flight']} in flight"
        f" | invocations {len(sandbox.event_source.invocations)}, API calls {stats['calls']}"
    )


def _script_sample_faults(samples: Sequence[Sample], api: PaymentsApiServer, receives: int, out: IO[str]) -> None:
    """ConflictException for ``mixed-failed-*``; ThrottlingException on every attempt for ``mixed-retried-*``."""
    from sandbox.worker_code import payments_attempts  # the worker's code, once its environment is in place

    attempts = payments_attempts()
    for sample in samples:
        token = sample.client_token
        if token is None:
            continue
        if token.startswith(FAILED_PREFIX):
            api.fail_next("ConflictException", client_token=token)
            out.write(f"  {sample.name}: the API answers ConflictException (a final error: failed)\n")
        elif token.startswith(RETRIED_PREFIX):
            api.fail_next("ThrottlingException", client_token=token, times=attempts * receives)
            out.write(
                f"  {sample.name}: the API throttles all {attempts} attempts of each of its {receives} receives:"
                f" retried on receives 1-{receives - 1}, dead-lettered by the worker on receive {receives}\n"
            )


@dataclass(frozen=True, slots=True)
class DemoResult:
    """What the demo saw: each sample's fate, every request's, the events, the DLQ, the API's counters."""

    samples: tuple[tuple[Sample, Fate], ...]
    fates: Mapping[str, Fate]
    events: tuple[Mapping[str, Any], ...]
    dead_letters: tuple[QueueMessage, ...]
    api_stats: Mapping[str, Any]
    invocations: tuple[Invocation, ...]
    refused_event: Fate | None = None  # the demo's own request whose event was refused (EVENT_REFUSED_REQUEST)
    round_trip: tuple[RoundTrip, ...] = ()
    api_after_round_trip: Mapping[str, Any] | None = None
    letters_off_tenant: int = 0  # the fair queue's dead letters without their tenant's group (must be 0)

    @property
    def unfinished(self) -> list[Fate]:
        """Requests without a final outcome when the demo stopped waiting (0 when all went well)."""
        return [fate for fate in self.fates.values() if fate.outcome is None]

    @property
    def exit_code(self) -> int:
        """0 when every request ended created, failed or dead-lettered, the round trip kept every redriven
        request's token and session, and every tenant's dead letter its group."""
        trips_ok = bool(self.round_trip) and all(t.ok for t in self.round_trip)
        return 1 if self.unfinished or not trips_ok or self.letters_off_tenant else 0


def run_demo(options: DemoOptions | None = None, out: IO[str] | None = None) -> DemoResult:
    """Run the demo, printing as it goes; ``exit_code`` of the result is 0 when no request was left over."""
    options = options or DemoOptions()
    out = out or sys.stdout
    samples = load_samples()
    load = generate_requests(options.requests, options.seed)
    title = "payment-session-worker: the sandbox demo (moto + fake payments API + template.yaml, no AWS)"
    with demo_sandbox(options, out, title=title, log_name="demo-function.log") as (sandbox, started):
        return _demo(sandbox, options, samples, load, started, out)


@contextmanager
def demo_sandbox(options: DemoOptions, out: IO[str], *, title: str, log_name: str) -> Iterator[tuple[Sandbox, float]]:
    """``options.sandbox``, its function's output in a log file; yields it and the monotonic time it was asked
    for, and says at the end how long it all took and where the log is."""
    started = time.monotonic()
    log_path = options.function_log or Path(_temp_dir()) / log_name
    log_path.parent.mkdir(parents=True, exist_ok=True)
    out.write(title + "\n\n")
    with open(log_path, "w", encoding="utf-8") as function_log:
        config = dataclasses.replace(options.sandbox, function_output=function_log)
        with Sandbox(config) as sandbox:
            yield sandbox, started
    out.write(f"\nDone in {time.monotonic() - started:.1f}s. Function logs and metrics: {log_path}\n")


def _temp_dir() -> str:
    import tempfile

    return str(Path(tempfile.gettempdir()) / "payment-session-worker-sandbox")


def describe_setup(sandbox: Sandbox, out: IO[str]) -> None:
    stack = sandbox.stack
    source = sandbox.event_source
    request_queue = stack.request_queue
    redrive = request_queue.redrive_policy
    template = sandbox.config.stack.template_path
    out.write(f"Stack {stack.name} from {template.name}, deployed in moto at {stack.endpoint_url}\n")
    out.write(f"  request queue  {request_queue.name}\n  DLQ            {stack.dead_letter_queue.name}\n")
    out.write(f"  event bus      {stack.bus_name} (tapped by rule {sandbox.tap.rule_name})\n")
    out.write(
        f"  function       {stack.function.handler}, Timeout {stack.function.timeout}s, BatchSize {source.batch_size},"
        f" batching window {source.batching_window:g}s, {source.pollers} pollers\n"
    )
    out.write(
        f"  queue          VisibilityTimeout {request_queue.visibility_timeout}s,"
        f" maxReceiveCount {redrive.max_receive_count if redrive else '-'}\n"
    )
    out.write("Set for the demo, so that retries take seconds (production values are in template.yaml):\n")
    for note in stack.notes:
        if "=" in note:
            out.write(f"  {note}\n")
    workarounds = [n for n in stack.notes if "=" not in n]
    out.write(f"moto workarounds applied: {len(workarounds)} (docs/SANDBOX.md)\n")
    for note in workarounds:
        out.write(f"  {note}\n")
    faults = sandbox.config.api_faults
    out.write(
        f"Fake payments API at {sandbox.payments_api.endpoint_url}: latency {faults.latency_ms:g} ms, throttling"
        f" {faults.throttle_rate:.0%}, 5xx {faults.error_rate:.0%} of calls (seed {dash(faults.seed)})\n"
    )


def _demo(
    sandbox: Sandbox,
    options: DemoOptions,
    samples: Sequence[Sample],
    load: Sequence[tuple[str, OutgoingMessage]],
    started: float,
    out: IO[str],
) -> DemoResult:
    describe_setup(sandbox, out)
    publisher = _script_faults(sandbox, samples, out)
    sent = _send_all(sandbox, samples, load, out)
    deadline = started + options.timeout
    fates = _await_fates(sandbox, sent.all_ids, started, deadline, out)
    names = sent.names(samples, load)
    _report(sandbox, samples, sent.sample_ids, names, fates, out, sent.refused_id)
    tenant_of = {message_id: str(m.group_id) for message_id, (_kind, m) in zip(sent.load_ids, load, strict=True)}
    off_tenant = print_tenants(tenant_of, fates, sandbox.dead_letters.messages, out)
    result = DemoResult(
        samples=tuple((sample, fates[message_id]) for sample, message_id in zip(samples, sent.sample_ids, strict=True)),
        fates=fates,
        events=tuple(sandbox.tap.events),
        dead_letters=tuple(sandbox.dead_letters.messages),
        api_stats=sandbox.payments_api.snapshot(),
        invocations=tuple(sandbox.event_source.invocations),
        refused_event=fates[sent.refused_id],
        letters_off_tenant=off_tenant,
    )
    if result.unfinished:
        out.write(f"\n{len(result.unfinished)} requests did not finish within {options.timeout:.0f}s.\n")
        return result
    trips = _round_trip(sandbox, publisher, names, max(30.0, deadline - time.monotonic()), out)
    return dataclasses.replace(result, round_trip=tuple(trips), api_after_round_trip=sandbox.payments_api.snapshot())


def _script_faults(sandbox: Sandbox, samples: Sequence[Sample], out: IO[str]) -> RefusingPublisher:
    """Script the API's faults for the samples and refuse the demo's own request's event; say so."""
    receives = int(sandbox.stack.function.environment["MAX_RECEIVE_COUNT"])  # the worker dead-letters on this one
    out.write("\nScripted faults for the mixed-batch samples:\n")
    _script_sample_faults(samples, sandbox.payments_api, receives, out)
    publisher = refuse_events_of({EVENT_REFUSED_CORRELATION})
    out.write(
        f"  {EVENT_REFUSED_NAME} (correlationId {EVENT_REFUSED_CORRELATION}): PutEvents refuses its event on every"
        f" receive: its session is created on receive 1, the same session comes back on receives 2-{receives},"
        f" and receive {receives} dead-letters it with PaymentSessionId\n"
    )
    return publisher


@dataclass(frozen=True, slots=True)
class _Sent:
    """The message IDs of what the demo sent: the samples, its own request whose event is refused, the load."""

    sample_ids: list[str]
    refused_id: str
    load_ids: list[str]

    @property
    def all_ids(self) -> list[str]:
        return [*self.sample_ids, self.refused_id, *self.load_ids]

    def names(self, samples: Sequence[Sample], load: Sequence[tuple[str, OutgoingMessage]]) -> dict[str, str]:
        """Each message ID's name in the report: its sample's, the refused request's, ``load #n``."""
        names = {message_id: sample.name for message_id, sample in zip(self.sample_ids, samples, strict=True)}
        names[self.refused_id] = EVENT_REFUSED_NAME
        names.update({message_id: f"load #{n + 1}" for n, message_id in enumerate(self.load_ids)})
        return names


def _event_refused_request(sandbox: Sandbox) -> OutgoingMessage:
    """The demo's own request whose event is refused, with a token of this run's; its API calls are scripted to
    answer (no random fault decides them), so its session is created on its first receive, as the demo says."""
    token = f"{EVENT_REFUSED_CORRELATION}-{uuid.uuid4().hex}"
    receives = int(sandbox.stack.function.environment["MAX_RECEIVE_COUNT"])
    sandbox.payments_api.delay_next(0, times=receives, client_token=token)
    return OutgoingMessage(json.dumps({**EVENT_REFUSED_REQUEST, "clientToken": token}))


def _send_all(
    sandbox: Sandbox, samples: Sequence[Sample], load: Sequence[tuple[str, OutgoingMessage]], out: IO[str]
) -> _Sent:
    sample_ids = sandbox.send([s.message for s in samples])
    (refused_id,) = sandbox.send([_event_refused_request(sandbox)])
    load_ids = sandbox.send([m for _kind, m in load])
    kinds = Counter(kind for kind, _m in load)
    out.write(
        f"\nSent {len(samples)} sample requests from events/ and {len(load)} generated ones"
        f" ({kinds['valid']} valid, {kinds['duplicate']} resent with the same clientToken, {kinds['poison']} poison)\n"
    )
    return _Sent(sample_ids, refused_id, load_ids)


def _await_fates(
    sandbox: Sandbox, all_ids: Sequence[str], started: float, deadline: float, out: IO[str]
) -> Mapping[str, Fate]:
    """Each request's fate once all have one (or at ``deadline``), with a progress line as it goes."""
    interactive = out.isatty()
    last_line = 0.0
    while True:
        # Read the event source's state first: an invocation that has returned has sent all it will send
        # (events after dead letters included), so what the tap and the DLQ hold afterwards is complete for it.
        in_flight = sandbox.event_source.in_flight
        sandbox.tap.read()
        sandbox.dead_letters.read()
        fates = account(all_ids, sandbox.event_source.invocations, sandbox.tap.events, sandbox.dead_letters.messages)
        finished = in_flight == 0 and all(f.outcome is not None for f in fates.values())
        now = time.monotonic()
        if finished or now >= deadline or now - last_line >= (0.5 if interactive else 3.0):
            depth = sandbox.event_source.queue_depth()
            line = _progress(started, fates, sandbox, depth, sandbox.payments_api.snapshot())
            out.write(("\r" + line + "   ") if interactive else line + "\n")
            out.flush()
            last_line = now
        if finished or now >= deadline:
            break
        time.sleep(0.2)
    if interactive:
        out.write("\n")
    return fates


def _round_trip(
    sandbox: Sandbox, publisher: RefusingPublisher, names: Mapping[str, str], timeout: float, out: IO[str]
) -> list[RoundTrip]:
    """Lift the faults, make the DLQ's letters visible, redrive them with the operator's command, compare."""
    api = sandbox.payments_api
    out.write("\nThe dead-letter round trip (CONTRACT sections 2, 3 and 8)\n")
    publisher.refusals.lift()
    api.set_faults(throttle_rate=0.0, error_rate=0.0)
    pending = api.snapshot()["scripted_pending"]
    out.write(
        f"  The causes are fixed: PutEvents publishes {EVENT_REFUSED_CORRELATION}'s event again, the API's random"
        f" throttling and 5xx are off, {pending} scripted API faults are left"
        f"{' (the scripted throttle was spent)' if pending == 0 else ''}.\n"
        f"  The operator redrives the {' and '.join(REDRIVE_CODES)} letters with the project's command:\n"
    )
    released = sandbox.dead_letters.release()
    out.write(f"  ({released} letters the demo had read are visible in the DLQ again)\n")
    trips = redrive_round_trip(sandbox, error_codes=REDRIVE_CODES, names=names, timeout=timeout, out=out)
    kept = sum(t.ok for t in trips)
    out.write(
        f"  {kept} of {len(trips)} redriven requests came back with the same clientToken and the same"
        " paymentSessionId, one session each in the API (a new messageId each: a redrive sends a new message).\n"
    )
    return trips


def _report(
    sandbox: Sandbox,
    samples: Sequence[Sample],
    sample_ids: Sequence[str],
    names: Mapping[str, str],
    fates: Mapping[str, Fate],
    out: IO[str],
    refused_id: str | None = None,
) -> None:
    _report_samples(samples, sample_ids, fates, out, refused_id)
    _report_totals(sandbox, fates, out)
    _report_events(sandbox, names, out)
    _report_dead_letters(sandbox, names, out)


def _report_samples(
    samples: Sequence[Sample],
    sample_ids: Sequence[str],
    fates: Mapping[str, Fate],
    out: IO[str],
    refused_id: str | None,
) -> None:
    """What became of each sample request of ``events/`` (and of the request whose event was refused)."""
    out.write("\nSample requests (events/*.json)\n")
    rows = [["sample", "request", "receives", "outcome", "detail"]]
    for message_id, sample in zip(sample_ids, samples, strict=True):
        fate = fates[message_id]
        what = fate.session_id if fate.outcome == "created" else fate.error_code
        rows.append([sample.name, _short(sample.label, 34), str(fate.receives), fate.path, what or ""])
    if refused_id is not None:
        fate = fates[refused_id]
        rows.append(
            [
                EVENT_REFUSED_NAME,
                f"correlationId {EVENT_REFUSED_CORRELATION}",
                str(fate.receives),
                fate.path,
                fate.error_code or "",
            ]
        )
    print_table(out, rows[0], rows[1:])


def _report_totals(sandbox: Sandbox, fates: Mapping[str, Fate], out: IO[str]) -> None:
    """Outcomes of everything sent, the payments API's counters and the event source's invocations."""
    everything = list(fates.values())
    outcomes = Counter(f.outcome or "in flight" for f in everything)
    retried = [f for f in everything if f.handed_back]
    stats = sandbox.payments_api.snapshot()
    out.write("\nTotals (samples and generated load)\n")
    rows = [["requests", "created", "failed", "dead-lettered", "retried (records / receives)", "lost"]]
    rows.append(
        [
            str(len(everything)),
            str(outcomes["created"]),
            str(outcomes["failed"]),
            str(outcomes["dead-lettered"]),
            f"{len(retried)} / {sum(f.handed_back for f in retried)}",
            str(outcomes["in flight"]),
        ]
    )
    print_table(out, rows[0], rows[1:])
    faults = ", ".join(f"{code} {n}" for code, n in sorted(stats["faults"].items())) or "none"
    out.write(
        f"  payments API: {stats['calls']} calls, {stats['sessions_created']} sessions created,"
        f" {stats['idempotent_replays']} idempotent replays (same clientToken), faults injected: {faults}\n"
    )
    invocations = sandbox.event_source.invocations
    whole = sum(1 for i in invocations if i.error)
    out.write(f"  event source: {len(invocations)} invocations, {whole} handed back whole\n")


def _report_events(sandbox: Sandbox, names: Mapping[str, str], out: IO[str]) -> None:
    """The events a subscriber received, by kind, and those of the samples."""
    events = sandbox.tap.events
    out.write(f"\nPublished events ({len(events)}, as a subscriber of {sandbox.stack.bus_name} receives them)\n")
    kinds = Counter(
        (
            e.get("detail-type"),
            (e.get("detail") or {}).get("error", {}).get("code"),
            (e.get("detail") or {}).get("error", {}).get("retryable"),
        )
        for e in events
    )
    for (detail_type, code, retryable), count in sorted(kinds.items(), key=lambda item: str(item[0])):
        suffix = f" {code} (retryable: {str(retryable).lower()})" if code else ""
        out.write(f"  {count:4d} {detail_type}{suffix}\n")
    rows = [["sample", "detail-type", "clientToken", "correlationId", "error"]]
    for event in events:
        detail = event.get("detail") or {}
        name = names.get(str(detail.get("messageId")), "")
        if not name.startswith("load"):
            error = detail.get("error") or {}
            rows.append(
                [
                    name,
                    dash(event.get("detail-type")),
                    _short(detail.get("clientToken"), 30),
                    dash(detail.get("correlationId")),
                    f"{error['code']} retryable={str(error['retryable']).lower()}" if error else "",
                ]
            )
    if len(rows) > 1:
        out.write("  events of the samples:\n")
        print_table(out, rows[0], rows[1:], indent=4)


def _report_dead_letters(sandbox: Sandbox, names: Mapping[str, str], out: IO[str]) -> None:
    """The DLQ by ErrorCode, and each letter (its body cut short)."""
    letters = sandbox.dead_letters.messages
    out.write(f"\nDead-letter queue ({len(letters)} messages)\n")
    by_code = Counter(letter.error_code or "(moved by the redrive policy)" for letter in letters)
    for code, count in sorted(by_code.items()):
        out.write(f"  {count:4d} {code}\n")
    rows = [["request", "ErrorCode", "ErrorMessage", "body"]]
    for letter in sorted(
        letters, key=lambda m: (not names.get(m.source_message_id, "").startswith("sqs"), m.error_code or "")
    ):
        rows.append(
            [
                names.get(letter.source_message_id, letter.source_message_id),
                letter.error_code or "(none: redrive policy)",
                _short(letter.message_attributes.get("ErrorMessage"), 48),
                _short(letter.body, 40),
            ]
        )
    if len(rows) > 1:
        print_table(out, rows[0], rows[1:])
