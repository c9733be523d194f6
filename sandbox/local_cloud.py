"""The sandbox assembled: moto, the fake payments API, ``template.yaml`` deployed, the event source, a tap, the DLQ.

``python -m sandbox up`` runs one until Ctrl-C; the demo and the soak run their load through one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, Final, Self

from sandbox.agentcore import FaultSettings, PaymentsApiServer
from sandbox.aws.deployed import DeployedStack
from sandbox.aws.event_tap import EventTap
from sandbox.aws.server import MotoMode, MotoServer, client
from sandbox.aws.sqs import OutgoingMessage, QueueReader, send_messages
from sandbox.aws.stack import StackSpec, deploy_stack
from sandbox.lambda_.event_source import Handler, Invocation, SqsEventSource, import_handler
from sandbox.service import Service, started
from sandbox.worker_code import Ports, Settings, wire_worker

WIRING_TIMEOUT_SECONDS: Final = 120.0


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    """How to assemble a :class:`Sandbox`. Ports 0 mean free ports; ``aws_endpoint`` reuses a running moto.

    ``stack`` is deployed into moto, in its region (moto's and the clients' too). ``pollers``, ``handler``,
    ``environment``, ``invocation_timeout`` and ``receive_visibility_timeout`` go to the
    :class:`SqsEventSource` (``pollers``, ``handler``, ``environment``, ``timeout``, ``visibility_timeout``).
    ``worker_ports``: the ports the worker runs on, built from its settings once the function's environment is
    in place (e.g. the soak's faulty ones, :class:`sandbox.soak.FaultyPorts`); ``None``: the AWS ones its
    handler builds, as in Lambda.
    """

    stack: StackSpec = field(default_factory=StackSpec)
    host: str = "127.0.0.1"
    aws_port: int = 0
    payments_port: int = 0
    aws_endpoint: str | None = None
    moto_mode: MotoMode = "process"
    pollers: int | None = None
    poll_wait_seconds: int = 1
    api_faults: FaultSettings = field(default_factory=FaultSettings)  # the fake payments API's random faults
    function_output: IO[str] | None = None
    handler: Handler | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    invocation_timeout: float | None = None
    receive_visibility_timeout: int | None = None
    worker_ports: Callable[[Settings], Ports] | None = None


class _WhenWired:
    """The handler the event source calls when the worker runs on ``ports`` of the sandbox's user: an
    invocation waits until :meth:`wire` has wired the worker on them, so none runs on the AWS ports."""

    def __init__(self, ports: Callable[[Settings], Ports]) -> None:
        self._ports = ports
        self._handler: Handler | None = None
        self._wired = threading.Event()

    def wire(self, handler: Handler) -> None:
        """Wire the worker on the ports (the function's environment in place), then let ``handler`` run."""
        wire_worker(self._ports)
        self._handler = handler
        self._wired.set()

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        if not self._wired.wait(timeout=WIRING_TIMEOUT_SECONDS) or self._handler is None:
            raise RuntimeError("the worker was never wired on the sandbox's ports")
        return self._handler(event, context)


class Sandbox(Service):
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
            self.config.host, self.config.aws_port, mode=self.config.moto_mode, region=self.config.stack.region
        )
        self.payments_api = PaymentsApiServer(self.config.host, self.config.payments_port, self.config.api_faults)
        self._stack: DeployedStack | None = None
        self._event_source: SqsEventSource | None = None
        self._tap: EventTap | None = None
        self._dead_letters: QueueReader | None = None
        self._sqs: Any = None

    @property
    def aws_endpoint(self) -> str:
        """moto's endpoint URL."""
        return self.config.aws_endpoint or self.moto.endpoint_url

    @property
    def stack(self) -> DeployedStack:
        """The deployed stack."""
        return started(self._stack)

    @property
    def event_source(self) -> SqsEventSource:
        """The local SQS event source running the real handler."""
        return started(self._event_source)

    @property
    def tap(self) -> EventTap:
        """The worker's events as a subscriber receives them."""
        return started(self._tap)

    @property
    def dead_letters(self) -> QueueReader:
        """A reader of the dead-letter queue; what it reads stays there, hidden until ``release()``."""
        return started(self._dead_letters)

    @property
    def sqs(self) -> Any:
        """An SQS client of moto, in the stack's region."""
        return started(self._sqs)

    def start(self) -> Self:
        """Start moto and the payments API, deploy the stack, install the tap, start the event source."""
        try:
            if self._own_moto:
                self.moto.start()
            self.payments_api.start()
            endpoint = self.aws_endpoint
            self._stack = deploy_stack(endpoint, self.config.stack)
            self._sqs = client("sqs", endpoint, self._stack.region)
            self._tap = EventTap(self._stack).start()
            self._dead_letters = QueueReader(endpoint, self._stack.dead_letter_queue.url, self._stack.region, keep=True)
            self._start_event_source(self._stack)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_event_source(self, stack: DeployedStack) -> None:
        """The event source; with ``worker_ports``, the worker wired on them before any invocation runs."""
        config = self.config
        gate = None if config.worker_ports is None else _WhenWired(config.worker_ports)
        self._event_source = SqsEventSource(
            stack,
            payments_endpoint=self.payments_api.endpoint_url,
            pollers=config.pollers,
            output=config.function_output,
            on_invocation=self._on_invocation,
            poll_wait_seconds=config.poll_wait_seconds,
            handler=config.handler if gate is None else gate,
            environment=config.environment,
            timeout=config.invocation_timeout,
            visibility_timeout=config.receive_visibility_timeout,
        ).start()
        if gate is not None:  # the event source's start was a cold start: the ports go in now
            gate.wire(config.handler or import_handler(stack))

    def stop(self) -> None:
        """Stop the event source, the payments API and moto (idempotent); in a moto that outlives the sandbox
        (``aws_endpoint``), remove the tap."""
        if self._event_source is not None:
            self._event_source.stop()
            self._event_source = None
        if self._tap is not None and not self._own_moto:
            self._tap.stop()
        self.payments_api.stop()
        if self._own_moto:
            self.moto.stop()

    def send(self, messages: Sequence[OutgoingMessage]) -> list[str]:
        """Enqueue ``messages`` on the request queue; returns their message IDs."""
        return send_messages(self.sqs, self.stack.request_queue.url, messages)
