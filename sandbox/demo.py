"""The sandbox assembled (:class:`Sandbox`) and the demo that runs the worker's real job on it.

:class:`Sandbox` is moto + the fake payments API + ``template.yaml`` deployed + the local event source +
an EventBridge tap + a reader of the dead-letter queue. ``python -m sandbox up`` runs one until Ctrl-C;
:func:`run_demo` (``python -m sandbox demo``) sends every request sample under ``events/`` plus a
generated load through one, under injected faults, and prints what became of each request.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final, Self

from sandbox.aws import DEFAULT_REGION, MotoMode, MotoServer, client
from sandbox.event_source import Handler, Invocation, SqsEventSource
from sandbox.payments_api import PaymentsApiServer
from sandbox.stack import DEFAULT_STACK_NAME, DEFAULT_TEMPLATE, ROOT, DeployedStack, Tuning, deploy_stack
from sandbox.tap import EventTap, QueueMessage, QueueReader

EVENTS_DIR: Final = ROOT / "events"
NOT_SAMPLES: Final = frozenset({"env.json"})
FAILED_PREFIX: Final = "mixed-failed-"
RETRIED_PREFIX: Final = "mixed-retried-"
MAX_BATCH: Final = 10


# ---------------------------------------------------------------------------------------------------------
# Messages to send
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """A request to enqueue: the body verbatim, message attributes in ``SendMessage`` form, a trace header."""

    body: str
    message_attributes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    trace_header: str | None = None


def _send_form(attribute: Mapping[str, Any]) -> dict[str, Any] | None:
    """A Lambda-event message attribute (``stringValue``/``binaryValue``) in ``SendMessage`` form."""
    data_type = attribute.get("dataType")
    if not isinstance(data_type, str):
        return None
    if isinstance(attribute.get("stringValue"), str):
        return {"DataType": data_type, "StringValue": attribute["stringValue"]}
    if isinstance(attribute.get("binaryValue"), str):
        try:
            return {"DataType": data_type, "BinaryValue": base64.b64decode(attribute["binaryValue"])}
        except (binascii.Error, ValueError):
            return None
    return None


def messages_from_event(event: Mapping[str, Any]) -> list[OutgoingMessage]:
    """The records of a Lambda SQS event as messages to send again (body, attributes, trace header)."""
    messages: list[OutgoingMessage] = []
    for record in event.get("Records", []):
        attributes = {
            name: converted
            for name, value in (record.get("messageAttributes") or {}).items()
            if (converted := _send_form(value)) is not None
        }
        trace = (record.get("attributes") or {}).get("AWSTraceHeader")
        messages.append(OutgoingMessage(str(record.get("body", "")), attributes, trace))
    return messages


def parse_messages(text: str) -> list[OutgoingMessage]:
    """Requests from a file: a Lambda SQS event (``{"Records": [...]}``), a JSON array, one JSON object, or
    JSON lines (one body per non-empty line, sent verbatim, so malformed lines are sent as they are)."""
    stripped = text.strip()
    if not stripped:
        return []
    try:
        document = json.loads(stripped)
    except json.JSONDecodeError:
        document = None
    if isinstance(document, dict) and isinstance(document.get("Records"), list):
        return messages_from_event(document)
    if isinstance(document, dict):
        return [OutgoingMessage(stripped)]
    if isinstance(document, list):
        return [OutgoingMessage(item if isinstance(item, str) else json.dumps(item)) for item in document]
    return [OutgoingMessage(line.strip()) for line in text.splitlines() if line.strip()]


def send_messages(sqs: Any, queue_url: str, messages: Sequence[OutgoingMessage]) -> list[str]:
    """``SendMessageBatch`` by tens; returns the message IDs in order. Raises if SQS refuses one."""
    ids: list[str] = []
    for start in range(0, len(messages), MAX_BATCH):
        chunk = messages[start : start + MAX_BATCH]
        entries: list[dict[str, Any]] = []
        for index, message in enumerate(chunk):
            entry: dict[str, Any] = {"Id": str(index), "MessageBody": message.body}
            if message.message_attributes:
                entry["MessageAttributes"] = dict(message.message_attributes)
            if message.trace_header:
                entry["MessageSystemAttributes"] = {
                    "AWSTraceHeader": {"DataType": "String", "StringValue": message.trace_header}
                }
            entries.append(entry)
        response = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        if response.get("Failed"):
            raise RuntimeError(f"SQS refused messages: {response['Failed']}")
        by_index = {int(ok["Id"]): ok["MessageId"] for ok in response.get("Successful", [])}
        ids.extend(by_index[i] for i in range(len(chunk)))
    return ids


# ---------------------------------------------------------------------------------------------------------
# The sandbox
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    """How to assemble a :class:`Sandbox`. Ports 0 mean free ports; ``aws_endpoint`` reuses a running moto.

    ``handler``, ``environment``, ``invocation_timeout`` and ``receive_visibility_timeout`` go to the
    :class:`SqsEventSource` (``handler``, ``environment``, ``timeout``, ``visibility_timeout``).
    """

    template_path: Path = DEFAULT_TEMPLATE
    stack_name: str = DEFAULT_STACK_NAME
    parameters: Mapping[str, str] = field(default_factory=dict)
    tuning: Tuning = field(default_factory=Tuning)
    host: str = "127.0.0.1"
    aws_port: int = 0
    payments_port: int = 0
    aws_endpoint: str | None = None
    moto_mode: MotoMode = "process"
    region: str = DEFAULT_REGION
    pollers: int | None = None
    poll_wait_seconds: int = 1
    latency_ms: float = 0
    throttle_rate: float = 0.0
    error_rate: float = 0.0
    seed: int | None = None
    function_output: IO[str] | None = None
    handler: Handler | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    invocation_timeout: float | None = None
    receive_visibility_timeout: int | None = None


class Sandbox:
    """Everything on one machine: moto, the fake payments API, the stack, the event source, a tap, the DLQ.

    ``with Sandbox(SandboxConfig(...)) as sandbox:`` starts it all; ``sandbox.send(...)`` enqueues requests.
    Invocations are reported to ``on_invocation`` (from the pollers' threads) as well as kept.
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        on_invocation: Callable[[Invocation], None] | None = None,
        moto: MotoServer | None = None,
    ) -> None:
        self.config = config or SandboxConfig()
        self._on_invocation = on_invocation
        self._own_moto = moto is None and self.config.aws_endpoint is None
        self.moto = moto or MotoServer(
            self.config.host, self.config.aws_port, mode=self.config.moto_mode, region=self.config.region
        )
        self.payments_api = PaymentsApiServer(
            self.config.host,
            self.config.payments_port,
            latency_ms=self.config.latency_ms,
            throttle_rate=self.config.throttle_rate,
            error_rate=self.config.error_rate,
            seed=self.config.seed,
        )
        self._stack: DeployedStack | None = None
        self._event_source: SqsEventSource | None = None
        self._tap: EventTap | None = None
        self._dead_letters: QueueReader | None = None

    @property
    def aws_endpoint(self) -> str:
        """moto's endpoint URL."""
        return self.config.aws_endpoint or self.moto.endpoint_url

    @property
    def stack(self) -> DeployedStack:
        """The deployed stack."""
        if self._stack is None:
            raise RuntimeError("the sandbox is not started")
        return self._stack

    @property
    def event_source(self) -> SqsEventSource:
        """The local SQS event source running the real handler."""
        if self._event_source is None:
            raise RuntimeError("the sandbox is not started")
        return self._event_source

    @property
    def tap(self) -> EventTap:
        """The worker's events as a subscriber receives them."""
        if self._tap is None:
            raise RuntimeError("the sandbox is not started")
        return self._tap

    @property
    def dead_letters(self) -> QueueReader:
        """A reader of the dead-letter queue (it deletes what it reads)."""
        if self._dead_letters is None:
            raise RuntimeError("the sandbox is not started")
        return self._dead_letters

    def start(self) -> Self:
        """Start moto and the payments API, deploy the stack, install the tap, start the event source."""
        try:
            if self._own_moto:
                self.moto.start()
            self.payments_api.start()
            endpoint = self.aws_endpoint
            self._stack = deploy_stack(
                endpoint,
                template_path=self.config.template_path,
                stack_name=self.config.stack_name,
                parameters=self.config.parameters,
                tuning=self.config.tuning,
                region=self.config.region,
            )
            self._tap = EventTap(self._stack).install()
            self._dead_letters = QueueReader(endpoint, self._stack.dead_letter_queue.url, self.config.region)
            self._event_source = SqsEventSource(
                self._stack,
                payments_endpoint=self.payments_api.endpoint_url,
                pollers=self.config.pollers,
                output=self.config.function_output,
                on_invocation=self._on_invocation,
                poll_wait_seconds=self.config.poll_wait_seconds,
                handler=self.config.handler,
                environment=self.config.environment,
                timeout=self.config.invocation_timeout,
                visibility_timeout=self.config.receive_visibility_timeout,
            ).start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the event source, the payments API and moto (idempotent)."""
        if self._event_source is not None:
            self._event_source.stop()
            self._event_source = None
        self.payments_api.stop()
        if self._own_moto:
            self.moto.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def send(self, messages: Sequence[OutgoingMessage]) -> list[str]:
        """Enqueue ``messages`` on the request queue; returns their message IDs."""
        sqs = client("sqs", self.aws_endpoint, self.config.region)
        return send_messages(sqs, self.stack.request_queue.url, messages)


# ---------------------------------------------------------------------------------------------------------
# Samples, load and accounting
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sample:
    """One record of a sample event under ``events/``."""

    file: str
    index: int
    message: OutgoingMessage
    label: str
    client_token: str | None

    @property
    def name(self) -> str:
        return f"{self.file} #{self.index + 1}"


def _request_of(body: str) -> Any:
    """The request inside a body, through the SNS and EventBridge envelopes; None when not JSON."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    if (
        isinstance(document, dict)
        and document.get("Type") == "Notification"
        and isinstance(document.get("Message"), str)
    ):
        return _request_of(document["Message"])
    if isinstance(document, dict) and "detail" in document and "detail-type" in document:
        return document["detail"]
    return document


def _label(body: str) -> tuple[str, str | None]:
    request = _request_of(body)
    if request is None:
        return "body is not JSON", None
    if not isinstance(request, dict):
        return "body is not an object", None
    token = request.get("clientToken") if isinstance(request.get("clientToken"), str) else None
    unknown = sorted(
        set(request)
        - {"expiryTimeInMinutes", "paymentManagerArn", "userId", "agentName", "limits", "clientToken", "correlationId"}
    )
    if unknown:
        return f"unknown field {', '.join(unknown)}", token
    correlation = request.get("correlationId")
    return (f"correlationId {correlation}" if correlation else "no correlationId"), token


def load_samples(events_dir: Path = EVENTS_DIR) -> list[Sample]:
    """Every record of every Lambda SQS event under ``events_dir`` (``env.json`` is not one)."""
    samples: list[Sample] = []
    for path in sorted(events_dir.glob("*.json")):
        if path.name in NOT_SAMPLES:
            continue
        document = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(document, dict) or not isinstance(document.get("Records"), list):
            continue
        for index, message in enumerate(messages_from_event(document)):
            label, token = _label(message.body)
            samples.append(Sample(path.name, index, message, label, token))
    return samples


def generate_requests(count: int, seed: int) -> list[tuple[str, OutgoingMessage]]:
    """A mixed load: mostly valid requests (half with a ``clientToken``), some sent twice, some poison."""
    rng = random.Random(seed)
    load: list[tuple[str, OutgoingMessage]] = []
    tokened: list[str] = []
    poison = [
        '{"expiryTimeInMinutes": 5}',
        '{"expiryTimeInMinutes": "60"}',
        '{"expiryTimeInMinutes": 60, "limit": {"maxSpendAmount": {"value": "25", "currency": "USD"}}}',
        '{"expiryTimeInMinutes": 60, "limits": {"maxSpendAmount": {"value": "1e3", "currency": "USD"}}}',
        '{"expiryTimeInMinutes": 60, "limits": {"maxSpendAmount": {"value": "10", "currency": "EUR"}}}',
        "expiryTimeInMinutes=60",
        "[]",
    ]
    for n in range(count):
        roll = rng.random()
        if roll < 0.08:
            load.append(("poison", OutgoingMessage(rng.choice(poison))))
            continue
        if roll < 0.14 and tokened:
            load.append(("duplicate", OutgoingMessage(rng.choice(tokened))))
            continue
        request: dict[str, Any] = {"expiryTimeInMinutes": rng.randint(15, 480), "correlationId": f"load-{n:04d}"}
        if rng.random() < 0.7:
            request["userId"] = f"user-{rng.randint(1, 999):03d}"
        if rng.random() < 0.5:
            request["agentName"] = rng.choice(["checkout-agent", "travel-agent", "groceries-agent"])
        if rng.random() < 0.6:
            amount = f"{rng.randint(1, 500)}.{rng.randint(0, 99):02d}"
            request["limits"] = {"maxSpendAmount": {"value": amount, "currency": "USD"}}
        if rng.random() < 0.5:
            request["clientToken"] = f"demo-load-{seed:04d}-{n:06d}-{rng.getrandbits(64):016x}"
        body = json.dumps(request)
        if "clientToken" in request:
            tokened.append(body)
        load.append(("valid", OutgoingMessage(body)))
    return load


@dataclass(slots=True)
class Fate:
    """What became of one request, from what subscribers, the DLQ and the event source saw."""

    message_id: str
    receives: int = 0
    handed_back: int = 0
    outcome: str | None = None  # created | failed | dead-lettered
    error_code: str | None = None
    session_id: str | None = None
    retryable_failure_announced: bool = False

    @property
    def path(self) -> str:
        """``created``, ``retried x2 -> created``, ``dead-lettered``, or ``in flight``."""
        final = self.outcome or "in flight"
        return f"retried x{self.handed_back} -> {final}" if self.handed_back else final


def account(
    message_ids: Iterable[str],
    invocations: Iterable[Invocation],
    events: Iterable[Mapping[str, Any]],
    dead_letters: Iterable[QueueMessage],
) -> dict[str, Fate]:
    """Each request's fate: receives and hand-backs from the event source, outcome from events and the DLQ."""
    fates = {message_id: Fate(message_id) for message_id in message_ids}
    for invocation in invocations:
        handed_back = set(invocation.handed_back)
        for message_id, count in zip(invocation.message_ids, invocation.receive_counts, strict=True):
            fate = fates.get(message_id)
            if fate is None:
                continue
            fate.receives = max(fate.receives, count)
            fate.handed_back += message_id in handed_back
    for event in events:
        detail = event.get("detail") or {}
        fate = fates.get(str(detail.get("messageId")))
        if fate is None:
            continue
        if event.get("detail-type") == "PaymentSessionCreated":
            fate.outcome, fate.error_code = "created", None
            fate.session_id = (detail.get("paymentSession") or {}).get("paymentSessionId")
        elif (detail.get("error") or {}).get("retryable"):
            fate.retryable_failure_announced = True
        elif fate.outcome is None:
            fate.outcome, fate.error_code = "failed", (detail.get("error") or {}).get("code")
    for letter in dead_letters:
        fate = fates.get(letter.source_message_id)
        if fate is not None:
            fate.outcome = "dead-lettered"
            fate.error_code = letter.error_code or "(moved by the redrive policy)"
    return fates


# ---------------------------------------------------------------------------------------------------------
# The demo
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """Knobs of :func:`run_demo`; defaults finish in about a minute on two cores."""

    requests: int = 300
    seed: int = 7
    throttle_rate: float = 0.2
    error_rate: float = 0.1
    latency_ms: float = 20
    function_timeout: int = 10
    visibility_timeout: int = 10
    max_receive_count: int | None = None
    pollers: int | None = None
    timeout: float = 300.0
    template_path: Path = DEFAULT_TEMPLATE
    stack_name: str = DEFAULT_STACK_NAME
    aws_endpoint: str | None = None
    moto_mode: MotoMode = "process"
    function_log: Path | None = None


def _short(text: str | None, width: int) -> str:
    text = "" if text is None else " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(rows: Sequence[Sequence[str]], out: IO[str], indent: str = "  ") -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for number, row in enumerate(rows):
        out.write(indent + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() + "\n")
        if number == 0:
            out.write(indent + "  ".join("-" * w for w in widths) + "\n")


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
    from handlers.dependencies import PAYMENTS_CLIENT

    attempts = PAYMENTS_CLIENT.total_max_attempts
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

    @property
    def unfinished(self) -> list[Fate]:
        """Requests without a final outcome when the demo stopped waiting (0 when all went well)."""
        return [fate for fate in self.fates.values() if fate.outcome is None]

    @property
    def exit_code(self) -> int:
        """0 when every request ended created, failed or dead-lettered."""
        return 1 if self.unfinished else 0


def run_demo(options: DemoOptions | None = None, out: IO[str] | None = None) -> DemoResult:
    """Run the demo, printing as it goes; ``exit_code`` of the result is 0 when no request was left over."""
    options = options or DemoOptions()
    out = out or sys.stdout
    started = time.monotonic()
    samples = load_samples()
    load = generate_requests(options.requests, options.seed)
    log_path = options.function_log or Path(_temp_dir()) / "demo-function.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    parameters = {} if options.max_receive_count is None else {"MaxReceiveCount": str(options.max_receive_count)}
    tuning = Tuning(function_timeout=options.function_timeout, visibility_timeout=options.visibility_timeout)
    out.write("payment-session-worker: the sandbox demo (moto + fake payments API + template.yaml, no AWS)\n\n")
    with open(log_path, "w", encoding="utf-8") as function_log:
        config = SandboxConfig(
            template_path=options.template_path,
            stack_name=options.stack_name,
            parameters=parameters,
            tuning=tuning,
            aws_endpoint=options.aws_endpoint,
            moto_mode=options.moto_mode,
            pollers=options.pollers,
            latency_ms=options.latency_ms,
            throttle_rate=options.throttle_rate,
            error_rate=options.error_rate,
            seed=options.seed,
            function_output=function_log,
        )
        with Sandbox(config) as sandbox:
            result = _demo(sandbox, options, samples, load, started, out)
    out.write(f"\nDone in {time.monotonic() - started:.1f}s. Function logs and metrics: {log_path}\n")
    return result


def _temp_dir() -> str:
    import tempfile

    return str(Path(tempfile.gettempdir()) / "payment-session-worker-sandbox")


def _describe_setup(sandbox: Sandbox, options: DemoOptions, out: IO[str]) -> None:
    stack = sandbox.stack
    source = sandbox.event_source
    request_queue = stack.request_queue
    redrive = request_queue.redrive_policy
    out.write(f"Stack {stack.name} from {options.template_path.name}, deployed in moto at {stack.endpoint_url}\n")
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
    out.write("Shortened for the demo, so that retries take seconds (production values are in template.yaml):\n")
    for note in stack.notes:
        if "=" in note:
            out.write(f"  {note}\n")
    workarounds = [n for n in stack.notes if "=" not in n]
    out.write(f"moto workarounds applied: {len(workarounds)} (docs/SANDBOX.md)\n")
    for note in workarounds:
        out.write(f"  {note}\n")
    out.write(
        f"Fake payments API at {sandbox.payments_api.endpoint_url}: latency {options.latency_ms:g} ms, throttling"
        f" {options.throttle_rate:.0%}, 5xx {options.error_rate:.0%} of calls (seed {options.seed})\n"
    )


def _demo(
    sandbox: Sandbox,
    options: DemoOptions,
    samples: Sequence[Sample],
    load: Sequence[tuple[str, OutgoingMessage]],
    started: float,
    out: IO[str],
) -> DemoResult:
    _describe_setup(sandbox, options, out)
    redrive = sandbox.stack.request_queue.redrive_policy
    receives = redrive.max_receive_count if redrive else int(sandbox.stack.function.environment["MAX_RECEIVE_COUNT"])
    out.write("\nScripted faults for the mixed-batch samples:\n")
    _script_sample_faults(samples, sandbox.payments_api, receives, out)

    sample_ids = sandbox.send([s.message for s in samples])
    load_ids = sandbox.send([m for _kind, m in load])
    kinds = Counter(kind for kind, _m in load)
    out.write(
        f"\nSent {len(samples)} sample requests from events/ and {len(load)} generated ones"
        f" ({kinds['valid']} valid, {kinds['duplicate']} resent with the same clientToken, {kinds['poison']} poison)\n"
    )
    all_ids = [*sample_ids, *load_ids]
    interactive = out.isatty()
    deadline = started + options.timeout
    last_line = 0.0
    fates = account(all_ids, [], [], [])
    while True:
        sandbox.tap.read()
        sandbox.dead_letters.read()
        fates = account(all_ids, sandbox.event_source.invocations, sandbox.tap.events, sandbox.dead_letters.messages)
        finished = all(f.outcome is not None for f in fates.values())
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
    _report(sandbox, samples, sample_ids, load_ids, fates, out)
    result = DemoResult(
        samples=tuple((sample, fates[message_id]) for sample, message_id in zip(samples, sample_ids, strict=True)),
        fates=fates,
        events=tuple(sandbox.tap.events),
        dead_letters=tuple(sandbox.dead_letters.messages),
        api_stats=sandbox.payments_api.snapshot(),
        invocations=tuple(sandbox.event_source.invocations),
    )
    if result.unfinished:
        out.write(f"\n{len(result.unfinished)} requests did not finish within {options.timeout:.0f}s.\n")
    return result


def _report(
    sandbox: Sandbox,
    samples: Sequence[Sample],
    sample_ids: Sequence[str],
    load_ids: Sequence[str],
    fates: Mapping[str, Fate],
    out: IO[str],
) -> None:
    names = {message_id: sample.name for message_id, sample in zip(sample_ids, samples, strict=True)}
    names.update({message_id: f"load #{n + 1}" for n, message_id in enumerate(load_ids)})

    out.write("\nSample requests (events/*.json)\n")
    rows = [["sample", "request", "receives", "outcome", "detail"]]
    for message_id, sample in zip(sample_ids, samples, strict=True):
        fate = fates[message_id]
        what = fate.session_id if fate.outcome == "created" else fate.error_code
        rows.append([sample.name, _short(sample.label, 34), str(fate.receives), fate.path, what or ""])
    _table(rows, out)

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
    _table(rows, out)
    faults = ", ".join(f"{code} {n}" for code, n in sorted(stats["faults"].items())) or "none"
    out.write(
        f"  payments API: {stats['calls']} calls, {stats['sessions_created']} sessions created,"
        f" {stats['idempotent_replays']} idempotent replays (same clientToken), faults injected: {faults}\n"
    )
    invocations = sandbox.event_source.invocations
    whole = sum(1 for i in invocations if i.error)
    out.write(f"  event source: {len(invocations)} invocations, {whole} handed back whole\n")

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
                    str(event.get("detail-type")),
                    _short(detail.get("clientToken"), 30),
                    str(detail.get("correlationId")),
                    f"{error['code']} retryable={str(error['retryable']).lower()}" if error else "",
                ]
            )
    if len(rows) > 1:
        out.write("  events of the samples:\n")
        _table(rows, out, indent="    ")

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
        _table(rows, out)
